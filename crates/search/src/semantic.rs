//! Semantic search state: pages cut into passages (by heading section, at most ~256 tokens),
//! their vectors cached by content hash (an unchanged passage is never embedded twice), and
//! the vector store loaded from that cache.
//!
//! Passages are written while the full-text index catches up (cheap: text only). Embedding is
//! separate and slow (about 30 passages a second per core), so it runs when asked, in the
//! background or from `index`, and keyword search never waits for it.

use std::path::{Path, PathBuf};

use cdo_core::render::Section;
use rusqlite::{Connection, OptionalExtension, params};

use crate::SearchError;
use crate::embed::Embedder;
use crate::vectors::{BruteForce, VectorStore};

/// Words per passage: about 200 words stay under the model's 256 tokens with the title.
const WORDS_PER_PASSAGE: usize = 180;
/// Passages embedded per call to the model.
const BATCH: usize = 32;

/// A piece of a page that gets one vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passage {
    pub anchor: String,
    pub heading: String,
    pub text: String,
}

/// A passage found near a query.
#[derive(Clone, Debug, PartialEq)]
pub struct Near {
    pub space: String,
    pub path: String,
    pub anchor: String,
    pub heading: String,
    pub score: f32,
}

/// Cuts a page into passages: each heading section, split into runs of words when long, with
/// the page title (and the heading) in front so a passage says what it is about.
pub fn passages(title: &str, sections: &[Section]) -> Vec<Passage> {
    let mut out = Vec::new();
    for section in sections {
        let words: Vec<&str> = section.text.split_whitespace().collect();
        let lead =
            if section.heading.is_empty() { format!("{title}.") } else { format!("{title}. {}.", section.heading) };
        if words.is_empty() {
            if !section.heading.is_empty() {
                out.push(Passage { anchor: section.anchor.clone(), heading: section.heading.clone(), text: lead });
            }
            continue;
        }
        for chunk in words.chunks(WORDS_PER_PASSAGE) {
            out.push(Passage {
                anchor: section.anchor.clone(),
                heading: section.heading.clone(),
                text: format!("{lead} {}", chunk.join(" ")),
            });
        }
    }
    if out.is_empty() {
        out.push(Passage { anchor: String::new(), heading: String::new(), text: format!("{title}.") });
    }
    out
}

/// Passages, cached vectors and the loaded vector store.
pub struct Semantic {
    conn: Connection,
    path: PathBuf,
    /// The store for one model, loaded on first use.
    store: Option<(String, BruteForce)>,
    /// The last coverage counted (two scans of the passages): model, when, pending, total.
    /// Forgotten on every change this process makes (another process's embedding shows the
    /// next time this one changes something; the figure is informative only).
    counted: std::cell::RefCell<Option<(String, std::time::Instant, usize, usize)>>,
}

impl Semantic {
    pub fn open(path: &Path) -> Result<Semantic, SearchError> {
        let conn = crate::open_sqlite(
            path,
            "CREATE TABLE IF NOT EXISTS passages(id INTEGER PRIMARY KEY, space TEXT NOT NULL, path TEXT NOT NULL,
               anchor TEXT NOT NULL, heading TEXT NOT NULL, hash TEXT NOT NULL, text TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS passages_page ON passages(space, path);
             CREATE INDEX IF NOT EXISTS passages_hash ON passages(hash);
             CREATE TABLE IF NOT EXISTS vectors(id INTEGER PRIMARY KEY, model TEXT NOT NULL, hash TEXT NOT NULL,
               data BLOB NOT NULL, UNIQUE(model, hash));",
        )?;
        Ok(Semantic { conn, path: path.to_path_buf(), store: None, counted: std::cell::RefCell::new(None) })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> SearchError + '_ {
        SearchError::state(&self.path)
    }

    /// Forgets every passage (the full-text index was rebuilt); cached vectors stay.
    pub fn clear(&mut self) -> Result<(), SearchError> {
        self.counted.replace(None);
        self.conn.execute("DELETE FROM passages", []).map_err(self.err())?;
        self.store = None;
        Ok(())
    }

    /// Replaces the passages of one page (none: the page is gone).
    pub fn set_page(&mut self, space: &str, path: &str, passages: &[Passage]) -> Result<(), SearchError> {
        self.set_pages(space, std::iter::once((path, passages)))
    }

    /// [`Self::set_page`] for many pages in one transaction (a rebuild sets 100k pages: one
    /// transaction each took half of its time).
    pub fn set_pages<'a>(
        &mut self,
        space: &str,
        pages: impl IntoIterator<Item = (&'a str, &'a [Passage])>,
    ) -> Result<(), SearchError> {
        self.counted.replace(None);
        let err = SearchError::state(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        let mut old: Vec<i64> = Vec::new();
        let mut added = Vec::new();
        {
            let mut ids = tx.prepare_cached("SELECT id FROM passages WHERE space = ?1 AND path = ?2").map_err(&err)?;
            let mut del = tx.prepare_cached("DELETE FROM passages WHERE space = ?1 AND path = ?2").map_err(&err)?;
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO passages(space, path, anchor, heading, hash, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(&err)?;
            for (path, passages) in pages {
                let rows = ids.query_map(params![space, path], |r| r.get(0)).map_err(&err)?;
                for id in rows {
                    old.push(id.map_err(&err)?);
                }
                del.execute(params![space, path]).map_err(&err)?;
                for p in passages {
                    let hash = format!("{:016x}", crate::index::fnv(p.text.as_bytes()));
                    put.execute(params![space, path, p.anchor, p.heading, hash, p.text]).map_err(&err)?;
                    added.push((tx.last_insert_rowid(), hash));
                }
            }
        }
        tx.commit().map_err(&err)?;
        if let Some((model, store)) = self.store.as_mut() {
            for id in old {
                store.remove(id);
            }
            let mut get = self
                .conn
                .prepare_cached("SELECT data FROM vectors WHERE model = ?1 AND hash = ?2")
                .map_err(SearchError::state(&self.path))?;
            for (id, hash) in added {
                let data: Option<Vec<u8>> = get
                    .query_row(params![model.as_str(), hash], |r| r.get(0))
                    .optional()
                    .map_err(SearchError::state(&self.path))?;
                if let Some(data) = data {
                    store.insert(id, &decode(&data));
                }
            }
        }
        Ok(())
    }

    /// Forgets the passages of a space.
    pub fn remove_space(&mut self, space: &str) -> Result<(), SearchError> {
        self.counted.replace(None);
        self.conn.execute("DELETE FROM passages WHERE space = ?1", [space]).map_err(self.err())?;
        self.store = None;
        Ok(())
    }

    /// How many passages (distinct texts) have no vector of `model` yet, and how many there are.
    pub fn coverage(&self, model: &str) -> Result<(usize, usize), SearchError> {
        if let Some((m, _, pending, total)) = &*self.counted.borrow()
            && m == model
        {
            return Ok((*pending, *total));
        }
        let pending: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(DISTINCT hash) FROM passages p
                 WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.model = ?1 AND v.hash = p.hash)",
                [model],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        let total: i64 =
            self.conn.query_row("SELECT COUNT(DISTINCT hash) FROM passages", [], |r| r.get(0)).map_err(self.err())?;
        let counted = (model.to_owned(), std::time::Instant::now(), pending as usize, total as usize);
        self.counted.replace(Some(counted));
        Ok((pending as usize, total as usize))
    }

    /// Embeds every passage that has no vector yet, in batches, telling `progress` (done, total)
    /// after each; `keep_going` can stop it between batches. Returns how many were embedded.
    pub fn embed_pending(
        &mut self,
        embedder: &mut dyn Embedder,
        progress: &mut dyn FnMut(usize, usize),
        keep_going: &dyn Fn() -> bool,
    ) -> Result<usize, SearchError> {
        let model = embedder.model_id().to_owned();
        let (total, _) = self.coverage(&model)?;
        let mut done = 0;
        let mut after = 0i64;
        let mut queued: std::collections::HashSet<String> = std::collections::HashSet::new();
        'scan: while keep_going() {
            // One pass over the passages in id order: O(passages) however many are pending.
            let rows: Vec<(i64, String, String)> = {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT id, hash, text FROM passages WHERE id > ?1 ORDER BY id LIMIT 1024")
                    .map_err(SearchError::state(&self.path))?;
                let rows = stmt
                    .query_map([after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(SearchError::state(&self.path))?;
                rows.collect::<Result<_, _>>().map_err(SearchError::state(&self.path))?
            };
            let Some(last) = rows.last() else { break };
            after = last.0;
            let mut todo: Vec<(String, String)> = Vec::new();
            {
                let mut has = self
                    .conn
                    .prepare_cached("SELECT 1 FROM vectors WHERE model = ?1 AND hash = ?2")
                    .map_err(SearchError::state(&self.path))?;
                for (_, hash, text) in rows {
                    if queued.contains(&hash) {
                        continue;
                    }
                    let exists = has.exists(params![model, hash]).map_err(SearchError::state(&self.path))?;
                    if !exists {
                        queued.insert(hash.clone());
                        todo.push((hash, text));
                    }
                }
            }
            for batch in todo.chunks(BATCH) {
                if !keep_going() {
                    break 'scan;
                }
                self.embed_batch(embedder, &model, batch)?;
                done += batch.len();
                progress(done.min(total), total);
            }
        }
        Ok(done)
    }

    /// Up to `limit` passages after passage id `after` (in id order) that have no vector for
    /// `model` yet: (id, hash, text). For embedding outside any lock: read, embed, then
    /// [`Semantic::store_vectors`].
    pub fn pending_after(
        &self,
        model: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String, String)>, SearchError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, hash, text FROM passages p WHERE id > ?1
                 AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.model = ?2 AND v.hash = p.hash)
                 ORDER BY id LIMIT ?3",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![after, model, limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Stores vectors computed for (hash, text) passages, as [`Semantic::embed_pending`] would.
    pub fn store_vectors(
        &mut self,
        model: &str,
        batch: &[(String, String)],
        vectors: Vec<Vec<f32>>,
    ) -> Result<(), SearchError> {
        let mut given = Some(vectors);
        let mut replay = Replay(&mut given, model);
        self.embed_batch(&mut replay, model, batch)
    }

    /// Embeds and stores one batch of (hash, text), and adds the vectors to a loaded store.
    fn embed_batch(
        &mut self,
        embedder: &mut dyn Embedder,
        model: &str,
        batch: &[(String, String)],
    ) -> Result<(), SearchError> {
        self.counted.replace(None);
        let texts: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
        let vectors = embedder.embed(&texts)?;
        let err = SearchError::state(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut put = tx
                .prepare_cached("INSERT OR REPLACE INTO vectors(model, hash, data) VALUES (?1, ?2, ?3)")
                .map_err(&err)?;
            for ((hash, _), vector) in batch.iter().zip(&vectors) {
                put.execute(params![model, hash, encode(vector)]).map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)?;
        if let Some((loaded, store)) = self.store.as_mut()
            && loaded == model
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id FROM passages WHERE hash = ?1")
                .map_err(SearchError::state(&self.path))?;
            for ((hash, _), vector) in batch.iter().zip(&vectors) {
                let ids: Vec<i64> = stmt
                    .query_map([hash], |r| r.get(0))
                    .map_err(SearchError::state(&self.path))?
                    .collect::<Result<_, _>>()
                    .map_err(SearchError::state(&self.path))?;
                for id in ids {
                    store.insert(id, vector);
                }
            }
        }
        Ok(())
    }

    /// Loads the vector store for `model` if it is not loaded.
    fn load(&mut self, model: &str, dims: usize) -> Result<&BruteForce, SearchError> {
        if self.store.as_ref().is_none_or(|(m, _)| m != model) {
            // Two sequential scans (vectors by hash, then passages) instead of a join that
            // looks a vector up for every passage.
            let mut by_hash: std::collections::HashMap<String, Vec<f32>> = std::collections::HashMap::new();
            let mut stmt = self.conn.prepare("SELECT hash, data FROM vectors WHERE model = ?1").map_err(self.err())?;
            let rows = stmt
                .query_map([model], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))
                .map_err(self.err())?;
            for row in rows {
                let (hash, data) = row.map_err(self.err())?;
                by_hash.insert(hash, decode(&data));
            }
            drop(stmt);
            let mut store = BruteForce::new(dims);
            let mut stmt = self.conn.prepare("SELECT id, hash FROM passages").map_err(self.err())?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).map_err(self.err())?;
            for row in rows {
                let (id, hash) = row.map_err(self.err())?;
                if let Some(v) = by_hash.get(&hash) {
                    store.insert(id, v);
                }
            }
            drop(stmt);
            self.store = Some((model.to_owned(), store));
        }
        match &self.store {
            Some((_, store)) => Ok(store),
            None => Err(SearchError::Model("the vector store did not load".into())),
        }
    }

    /// The passages nearest a query vector (unit length), best first.
    pub fn nearest(&mut self, model: &str, query: &[f32], k: usize) -> Result<Vec<Near>, SearchError> {
        let found = self.load(model, query.len())?.nearest(query, k);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT space, path, anchor, heading FROM passages WHERE id = ?1")
            .map_err(self.err())?;
        let mut out = Vec::with_capacity(found.len());
        for (id, score) in found {
            let row = stmt
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()
                .map_err(SearchError::state(&self.path))?;
            if let Some((space, path, anchor, heading)) = row {
                out.push(Near { space, path, anchor, heading, score });
            }
        }
        Ok(out)
    }

    /// The mean vector of a page's passages (unit length), if any are embedded.
    pub fn page_vector(
        &mut self,
        model: &str,
        dims: usize,
        space: &str,
        path: &str,
    ) -> Result<Option<Vec<f32>>, SearchError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT v.data FROM passages p JOIN vectors v ON v.hash = p.hash AND v.model = ?1
                 WHERE p.space = ?2 AND p.path = ?3",
            )
            .map_err(self.err())?;
        let rows: Vec<Vec<u8>> = stmt
            .query_map(params![model, space, path], |r| r.get(0))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut mean = vec![0.0f32; dims];
        for data in rows {
            for (m, x) in mean.iter_mut().zip(decode(&data)) {
                *m += x;
            }
        }
        crate::embed::normalise(&mut mean);
        Ok(Some(mean))
    }
}

fn encode(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn decode(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// An "embedder" that hands back vectors computed earlier (by a model used outside the lock).
struct Replay<'a>(&'a mut Option<Vec<Vec<f32>>>, &'a str);

impl crate::embed::Embedder for Replay<'_> {
    fn model_id(&self) -> &str {
        self.1
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, SearchError> {
        match self.0.take() {
            Some(v) if v.len() == texts.len() => Ok(v),
            _ => Err(SearchError::Model("stored vectors do not match their passages".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(anchor: &str, heading: &str, text: &str) -> Section {
        Section { anchor: anchor.into(), heading: heading.into(), level: 2, text: text.into() }
    }

    #[test]
    fn pages_become_titled_passages_of_bounded_length() {
        let long = "word ".repeat(400);
        let got = passages(
            "Deploy",
            &[section("", "", "Intro."), section("rollback", "Rollback", &long), section("empty", "Empty", "")],
        );
        assert_eq!(got[0].text, "Deploy. Intro.");
        assert_eq!(got[1].anchor, "rollback");
        assert!(got[1].text.starts_with("Deploy. Rollback. word"));
        assert_eq!(got.len(), 1 + 3 + 1, "400 words in three passages, the empty heading alone");
        assert!(got.iter().all(|p| p.text.split_whitespace().count() <= WORDS_PER_PASSAGE + 4));
        assert_eq!(passages("Blank", &[]), [Passage { anchor: "".into(), heading: "".into(), text: "Blank.".into() }]);
    }

    /// An embedder that counts letters: similar texts get similar vectors.
    struct Letters(usize);

    impl Embedder for Letters {
        fn model_id(&self) -> &str {
            "letters"
        }
        fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, SearchError> {
            self.0 += texts.len();
            Ok(texts.iter().map(|t| letters(t)).collect())
        }
    }

    fn letters(text: &str) -> Vec<f32> {
        let mut v = vec![0.0; 26];
        for c in text.to_lowercase().chars().filter(char::is_ascii_lowercase) {
            v[(c as u8 - b'a') as usize] += 1.0;
        }
        crate::embed::normalise(&mut v);
        v
    }

    #[test]
    fn unchanged_passages_are_never_embedded_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Semantic::open(&dir.path().join("semantic.sqlite")).expect("open");
        let one = vec![Passage { anchor: "".into(), heading: "".into(), text: "aaaa".into() }];
        let two = vec![
            Passage { anchor: "".into(), heading: "".into(), text: "aaaa".into() },
            Passage { anchor: "b".into(), heading: "B".into(), text: "bbbb".into() },
        ];
        s.set_page("ENG", "a.md", &one).expect("set");
        s.set_page("ENG", "b.md", &two).expect("set");
        assert_eq!(s.coverage("letters").expect("coverage"), (2, 2));
        let mut embedder = Letters(0);
        let mut seen = Vec::new();
        s.embed_pending(&mut embedder, &mut |d, t| seen.push((d, t)), &|| true).expect("embed");
        assert_eq!(embedder.0, 2, "the shared passage once");
        assert_eq!(seen.last(), Some(&(2, 2)));
        let near = s.nearest("letters", &letters("bbb"), 1).expect("nearest");
        assert_eq!((near[0].path.as_str(), near[0].anchor.as_str()), ("b.md", "b"));

        // A page saved again with the same text costs nothing; new text costs one.
        s.set_page("ENG", "a.md", &one).expect("set");
        let three = vec![Passage { anchor: "".into(), heading: "".into(), text: "cccc".into() }];
        s.set_page("ENG", "b.md", &three).expect("set");
        s.embed_pending(&mut embedder, &mut |_, _| {}, &|| true).expect("embed");
        assert_eq!(embedder.0, 3);
        let near = s.nearest("letters", &letters("ccc"), 3).expect("nearest");
        assert_eq!(near.iter().map(|n| n.path.as_str()).collect::<Vec<_>>(), ["b.md", "a.md"]);
        assert!(s.page_vector("letters", 26, "ENG", "a.md").expect("vector").is_some());
        s.set_page("ENG", "a.md", &[]).expect("remove");
        assert_eq!(s.nearest("letters", &letters("aaa"), 3).expect("nearest").len(), 1);
    }
}
