//! The full-text index: one tantivy index for every space of a wiki home, in its cache folder.
//!
//! It is derived state. A small rusqlite file beside it records, per space, which file stamp
//! (mtime, size) and content hash each page was indexed at and which commit the space was at,
//! so catching up after saves, outside edits or a `git pull` re-reads only the files that
//! changed. Deleting the folder loses nothing: the next catch-up rebuilds it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use cdo_core::Space;
use cdo_core::render;
use rusqlite::{Connection, OptionalExtension, params};
use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, PhrasePrefixQuery, PhraseQuery, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

use crate::SearchError;
use crate::analyzer;
use crate::embed::Embedder;
use crate::query::UserQuery;
use crate::semantic::{self, Passage, Semantic};
use crate::snippet::{self, Marks, Snippet, StoredSection};
use crate::words::WordsQuery;

/// Bumped when the schema or what is indexed changes; a mismatch rebuilds the index.
const SCHEMA_VERSION: u32 = 5;
/// How many times the title, the headings and the labels are written into the `words` field
/// beside the body once: their weight in a word's score (BM25F by repetition).
const TITLE_WEIGHT: usize = 3;
const HEADING_WEIGHT: usize = 2;
const LABEL_WEIGHT: usize = 2;
/// The analyzer of the unstemmed title-and-headings field that prefixes match against.
const PLAIN: &str = "cdo_plain";
/// The cosine similarity a passage needs to count as a semantic match (all-MiniLM-L6-v2 puts
/// unrelated text below about 0.2 and paraphrases above 0.3).
const MIN_SIMILARITY: f32 = 0.25;
/// Memory for the index writer.
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

/// The index's fields.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// `SPACE` + U+001F + file path: what a page's document is replaced and deleted by.
    pub key: Field,
    pub space: Field,
    pub id: Field,
    pub path: Field,
    pub title: Field,
    /// The title lower-cased, whole: `title = "x"` in CQL, and sorting by title.
    pub title_exact: Field,
    pub headings: Field,
    /// Title and headings, unstemmed: what a word being typed matches as a prefix.
    pub names: Field,
    pub body: Field,
    /// The sections (stored only), as anchor, heading, text triples: snippets and anchors.
    pub sections: Field,
    pub labels: Field,
    /// Title, headings, labels and body in one field, the first three repeated by their
    /// weight, with frequencies but no positions: a query word reads one posting list, which
    /// lets tantivy skip most of it (block-max WAND) even for a word every page has.
    pub words: Field,
    pub ancestors: Field,
    pub parent: Field,
    pub creator: Field,
    pub contributor: Field,
    pub created: Field,
    pub updated: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |tokenizer: &str, stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored { options.set_stored() } else { options }
    };
    let date = NumericOptions::default().set_indexed().set_fast().set_stored();
    let fields = Fields {
        key: b.add_text_field("key", STRING | STORED),
        space: b.add_text_field("space", STRING | STORED),
        id: b.add_text_field("id", STRING | STORED),
        path: b.add_text_field("path", STRING | STORED),
        title: b.add_text_field("title", text(analyzer::NAME, true)),
        title_exact: b.add_text_field("title_exact", STRING.set_fast(None)),
        headings: b.add_text_field("headings", text(analyzer::NAME, false)),
        names: b.add_text_field("names", text(PLAIN, false)),
        body: b.add_text_field("body", text(analyzer::NAME, false)),
        sections: b.add_text_field("sections", STORED),
        labels: b.add_text_field("labels", STRING | STORED),
        words: b.add_text_field(
            "words",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(analyzer::NAME)
                    .set_index_option(IndexRecordOption::WithFreqs),
            ),
        ),
        ancestors: b.add_text_field("ancestors", STRING),
        parent: b.add_text_field("parent", STRING),
        creator: b.add_text_field("creator", STRING | STORED),
        contributor: b.add_text_field("contributor", STRING),
        created: b.add_i64_field("created", date.clone()),
        updated: b.add_i64_field("updated", date),
    };
    (b.build(), fields)
}

/// One result.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Hit {
    pub space: String,
    pub id: String,
    pub title: String,
    pub path: String,
    pub labels: Vec<String>,
    /// Seconds since the epoch of the latest version.
    pub updated: i64,
    pub score: f32,
    /// The best matching section and an excerpt of it.
    pub snippet: Snippet,
}

/// How far a catch-up has got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub space: String,
    pub done: usize,
    pub total: usize,
}

/// What a catch-up did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub indexed: usize,
    pub removed: usize,
    pub unchanged: usize,
}

/// How results are ordered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sort {
    Relevance,
    Created(Order),
    Updated(Order),
    Title(Order),
}

/// The search index of a wiki home.
pub struct SearchIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    fields: Fields,
    state: Connection,
    semantic: Semantic,
}

/// How results are ranked: by the words, by meaning, or both fused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Keyword,
    Semantic,
    Hybrid,
}

/// Results, and what semantic search could contribute to them.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub hits: Vec<Hit>,
    pub semantic: SemanticStatus,
}

/// Whether meaning took part in a search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SemanticStatus {
    /// Keyword mode: not asked.
    NotUsed,
    /// Used; `pending` of `total` passages were not embedded yet.
    Used { pending: usize, total: usize },
    /// Asked for, but the model is not set up (the text says how to set it up).
    Unavailable(String),
}

impl SearchIndex {
    /// Opens the index in `dir` (created, or rebuilt when it is from another version or damaged).
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        let tantivy_dir = dir.join("tantivy");
        let version_file = dir.join("version");
        let current = std::fs::read_to_string(&version_file).ok().and_then(|v| v.trim().parse::<u32>().ok());
        if current != Some(SCHEMA_VERSION) && dir.exists() {
            // Derived state from another version: start again.
            let _ = std::fs::remove_dir_all(dir);
        }
        std::fs::create_dir_all(&tantivy_dir).map_err(SearchError::io(&tantivy_dir))?;
        let (schema, fields) = schema();
        let fresh = !tantivy_dir.join("meta.json").exists();
        let index = match open_index(&tantivy_dir, schema.clone()) {
            Ok(index) => index,
            Err(_) => {
                let _ = std::fs::remove_dir_all(dir);
                std::fs::create_dir_all(&tantivy_dir).map_err(SearchError::io(&tantivy_dir))?;
                open_index(&tantivy_dir, schema).map_err(SearchError::index(&tantivy_dir))?
            }
        };
        index.tokenizers().register(analyzer::NAME, analyzer::analyzer());
        index.tokenizers().register(PLAIN, plain_analyzer());
        std::fs::write(&version_file, SCHEMA_VERSION.to_string()).map_err(SearchError::io(&version_file))?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(SearchError::index(&tantivy_dir))?;
        let state_path = dir.join("state.sqlite");
        let state = open_state(&state_path)?;
        let mut semantic = Semantic::open(&dir.join("semantic.sqlite"))?;
        if fresh {
            // A new index knows no documents, whatever the state files say.
            let err = SearchError::state(&state_path);
            state.execute_batch("DELETE FROM docs; DELETE FROM spaces;").map_err(err)?;
            semantic.clear()?;
        }
        Ok(SearchIndex { dir: dir.to_path_buf(), index, reader, writer: None, fields, state, semantic })
    }

    /// The index's fields (for queries built elsewhere, such as CQL).
    pub fn fields(&self) -> Fields {
        self.fields
    }

    /// The keys of the spaces the index holds.
    pub fn indexed_spaces(&self) -> Result<Vec<String>, SearchError> {
        let err = SearchError::state(&self.dir);
        let mut stmt = self.state.prepare_cached("SELECT key FROM spaces ORDER BY key").map_err(&err)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// The commit each indexed space was at when it was last caught up.
    pub fn indexed_head(&self, space: &str) -> Option<String> {
        self.state.query_row("SELECT head FROM spaces WHERE key = ?1", [space], |r| r.get(0)).ok()
    }

    fn writer(&mut self) -> Result<&mut IndexWriter, SearchError> {
        if self.writer.is_none() {
            let writer: IndexWriter = self.index.writer(WRITER_MEMORY).map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => SearchError::Busy(self.dir.clone()),
                e => SearchError::index(&self.dir)(e),
            })?;
            // Merging is done here, between commits (see `compact`), never in the background.
            writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
            self.writer = Some(writer);
        }
        // Just set above.
        self.writer.as_mut().ok_or_else(|| SearchError::Busy(self.dir.clone()))
    }

    /// Brings the index up to date with a space: re-indexes the files whose stamp changed,
    /// removes the ones that are gone. `progress` hears about it every few hundred pages.
    pub fn sync_space(
        &mut self,
        space: &mut Space,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<SyncReport, SearchError> {
        let key = space.info().key.as_str().to_owned();
        let stamps = space.file_stamps()?;
        let known = self.known(&key)?;
        let present: HashSet<&str> = stamps.iter().map(|(p, _, _)| p.as_str()).collect();
        let changed: Vec<&(String, i64, i64)> = stamps
            .iter()
            .filter(|(path, mtime, size)| *mtime < 0 || known.get(path).is_none_or(|k| (k.0, k.1) != (*mtime, *size)))
            .collect();
        let removed: Vec<String> = known.keys().filter(|p| !present.contains(String::as_str(p))).cloned().collect();
        let head = space.store().head_id()?.map(|h| h.to_string());
        let mut report = SyncReport { unchanged: stamps.len() - changed.len(), ..SyncReport::default() };
        if changed.is_empty() && removed.is_empty() && self.indexed_head(&key) == head {
            return Ok(report);
        }
        let changed: Vec<(String, i64, i64)> = changed.into_iter().cloned().collect();
        self.apply(space, &key, changed, removed, &known, head, &mut report, progress)?;
        Ok(report)
    }

    /// Brings the index up to date for a few paths a save or the watcher reported, without
    /// looking at the rest of the space (cost independent of the space's size).
    pub fn sync_paths(&mut self, space: &mut Space, paths: &[String]) -> Result<SyncReport, SearchError> {
        let key = space.info().key.as_str().to_owned();
        let mut known = HashMap::new();
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        for path in paths {
            let row: Option<(i64, i64, String)> = self
                .state
                .query_row(
                    "SELECT mtime, size, hash FROM docs WHERE space = ?1 AND path = ?2",
                    params![key, path],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(SearchError::state(&self.dir))?;
            let meta = std::fs::metadata(space.root().join(path)).ok().filter(|m| m.is_file());
            match meta {
                Some(meta) if cdo_core::history::is_page_path(path) => {
                    let mtime = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(-1, |d| d.as_nanos() as i64);
                    changed.push((path.clone(), mtime, meta.len() as i64));
                }
                _ if row.is_some() => removed.push(path.clone()),
                _ => {}
            }
            if let Some(row) = row {
                known.insert(path.clone(), row);
            }
        }
        let head = space.store().head_id()?.map(|h| h.to_string());
        let mut report = SyncReport::default();
        self.apply(space, &key, changed, removed, &known, head, &mut report, &mut |_| {})?;
        Ok(report)
    }

    /// Re-indexes `changed` files (unless their content hash is the one indexed) and removes
    /// `removed` ones, in one commit.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        space: &mut Space,
        key: &str,
        changed: Vec<(String, i64, i64)>,
        removed: Vec<String>,
        known: &HashMap<String, (i64, i64, String)>,
        head: Option<String>,
        report: &mut SyncReport,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), SearchError> {
        let key = key.to_owned();
        let activity = activity_for(space, changed.len())?;
        let total = changed.len();
        let mut rows: Vec<(String, i64, i64, String)> = Vec::with_capacity(total);
        let mut docs = Vec::new();
        for (n, (path, mtime, size)) in changed.iter().enumerate() {
            let bytes = std::fs::read(space.root().join(path)).unwrap_or_default();
            let hash = format!("{:016x}", fnv(&bytes));
            rows.push((path.clone(), *mtime, *size, hash.clone()));
            if known.get(path).is_some_and(|k| k.2 == hash) {
                report.unchanged += 1;
            } else if let Some(doc) = self.document(space, &key, path, &bytes, &activity)? {
                docs.push((path.clone(), Some(doc)));
                report.indexed += 1;
            } else {
                docs.push((path.clone(), None));
            }
            if (n + 1) % 500 == 0 {
                progress(Progress { space: key.clone(), done: n + 1, total });
            }
        }
        let fields = self.fields;
        // A space the index holds nothing of (a first build, a rebuild) needs no deletes (each
        // queued delete is looked up in every segment at the next commit).
        let holds_space = self
            .reader
            .searcher()
            .search(term_query(fields.space, &key).as_ref(), &tantivy::collector::Count)
            .map_err(SearchError::index(&self.dir))?
            > 0;
        let writer = self.writer()?;
        let mut passages = Vec::with_capacity(docs.len());
        let docs_written = docs.len();
        for (path, doc) in docs {
            if holds_space {
                writer.delete_term(Term::from_field_text(fields.key, &doc_key(&key, &path)));
            }
            match doc {
                Some((doc, page_passages)) => {
                    writer.add_document(doc).map_err(SearchError::index(&PathBuf::from(&path)))?;
                    passages.push((path, page_passages));
                }
                None => passages.push((path, Vec::new())),
            }
        }
        for path in &removed {
            writer.delete_term(Term::from_field_text(fields.key, &doc_key(&key, path)));
            passages.push((path.clone(), Vec::new()));
        }
        report.removed = removed.len();
        self.commit()?;
        self.compact(docs_written > 1000)?;
        self.semantic.set_pages(&key, passages.iter().map(|(path, p)| (path.as_str(), p.as_slice())))?;
        self.record(&key, &rows, &removed, head.as_deref())?;
        progress(Progress { space: key, done: total, total });
        Ok(())
    }

    /// Forgets a space (unregistered or removed).
    pub fn remove_space(&mut self, key: &str) -> Result<(), SearchError> {
        let fields = self.fields;
        let known: Vec<String> = self.known(key)?.into_keys().collect();
        let writer = self.writer()?;
        for path in &known {
            writer.delete_term(Term::from_field_text(fields.key, &doc_key(key, path)));
        }
        self.commit()?;
        self.semantic.remove_space(key)?;
        let err = SearchError::state(&self.dir);
        self.state.execute("DELETE FROM docs WHERE space = ?1", [key]).map_err(&err)?;
        self.state.execute("DELETE FROM spaces WHERE key = ?1", [key]).map_err(&err)?;
        Ok(())
    }

    /// Keeps the segment count low (each segment costs every query a lookup per term): after a
    /// large catch-up (`all`, a rebuild) everything is merged into one segment; otherwise, once
    /// small commits have made more than eight, the small ones are merged together.
    fn compact(&mut self, all: bool) -> Result<(), SearchError> {
        let dir = self.dir.clone();
        // Only the ids are kept: while a `SegmentMeta` lives, tantivy deletes none of its segment's
        // files. Holding them through the merge left the pre-merge segments on disk, and the
        // first save after a rebuild paid for unlinking them (200 ms at 100k pages).
        let ids: Vec<tantivy::index::SegmentId> = {
            let mut metas = self.index.searchable_segment_metas().map_err(SearchError::index(&dir))?;
            if metas.len() <= 1 || (!all && metas.len() <= 8) {
                return Ok(());
            }
            metas.sort_by_key(|m| std::cmp::Reverse(m.num_docs()));
            metas.iter().skip(usize::from(!all)).map(|m| m.id()).collect()
        };
        if let Some(writer) = self.writer.as_mut() {
            let merge = writer.merge(&ids);
            if !all {
                // Small segments merge on tantivy's own threads, off the save's path; the merged
                // segment is published when done (a search sees the old ones until then).
                return Ok(());
            }
            merge.wait().map_err(SearchError::index(&dir))?;
            // Delete the merged-away files now, as part of the rebuild (the disk space of a
            // second copy of the index otherwise stays taken until the next commit).
            writer.garbage_collect_files().wait().map_err(SearchError::index(&dir))?;
        }
        self.reader.reload().map_err(SearchError::index(&dir))
    }

    fn commit(&mut self) -> Result<(), SearchError> {
        let dir = self.dir.clone();
        if let Some(writer) = self.writer.as_mut() {
            writer.commit().map_err(SearchError::index(&dir))?;
        }
        self.reader.reload().map_err(SearchError::index(&dir))
    }

    fn known(&self, space: &str) -> Result<HashMap<String, (i64, i64, String)>, SearchError> {
        let err = SearchError::state(&self.dir);
        let mut stmt =
            self.state.prepare_cached("SELECT path, mtime, size, hash FROM docs WHERE space = ?1").map_err(&err)?;
        let rows = stmt
            .query_map([space], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    fn record(
        &mut self,
        space: &str,
        rows: &[(String, i64, i64, String)],
        removed: &[String],
        head: Option<&str>,
    ) -> Result<(), SearchError> {
        let err = SearchError::state(&self.dir);
        let tx = self.state.transaction().map_err(&err)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO docs(space, path, mtime, size, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(&err)?;
            for (path, mtime, size, hash) in rows {
                put.execute(params![space, path, mtime, size, hash]).map_err(&err)?;
            }
            let mut del = tx.prepare_cached("DELETE FROM docs WHERE space = ?1 AND path = ?2").map_err(&err)?;
            for path in removed {
                del.execute(params![space, path]).map_err(&err)?;
            }
            tx.execute("INSERT OR REPLACE INTO spaces(key, head) VALUES (?1, ?2)", params![space, head])
                .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }

    /// The document of one page file, or `None` when the path is not a page the space shows.
    fn document(
        &self,
        space: &mut Space,
        key: &str,
        path: &str,
        bytes: &[u8],
        activity: &Activities,
    ) -> Result<Option<(TantivyDocument, Vec<Passage>)>, SearchError> {
        let f = self.fields;
        let Some(id) = space.catalog()?.by_stem(cdo_core::catalog::stem_of(path)).map(|n| n.id.clone()) else {
            return Ok(None);
        };
        let page_activity = activity.of(space, &id)?;
        let catalog = space.catalog()?;
        let Some(node) = catalog.get(&id) else {
            return Ok(None);
        };
        let file = cdo_core::page::PageFile::parse(bytes);
        let sections = render::sections(file.body());
        let page_passages = semantic::passages(&node.title, &sections);
        let ancestors: Vec<String> =
            catalog.breadcrumbs(&node.id).iter().filter(|n| n.id != node.id).map(|n| n.id.to_string()).collect();
        let mut doc = TantivyDocument::default();
        doc.add_text(f.key, doc_key(key, path));
        doc.add_text(f.space, key);
        doc.add_text(f.id, node.id.as_str());
        doc.add_text(f.path, path);
        doc.add_text(f.title, &node.title);
        doc.add_text(f.title_exact, node.title.to_lowercase());
        let headings: Vec<&str> = sections.iter().map(|s| s.heading.as_str()).filter(|h| !h.is_empty()).collect();
        let headings = headings.join("\n");
        let body: Vec<&str> = sections.iter().map(|s| s.text.as_str()).collect();
        let body = body.join("\n");
        doc.add_text(f.headings, &headings);
        doc.add_text(f.names, format!("{}\n{headings}", node.title));
        doc.add_text(f.body, &body);
        let weighted = [(node.title.as_str(), TITLE_WEIGHT), (&headings, HEADING_WEIGHT), (&body, 1)];
        let labels = node.labels.iter().map(|l| (l.as_str(), LABEL_WEIGHT));
        for (text, weight) in weighted.into_iter().chain(labels) {
            for _ in 0..weight {
                doc.add_text(f.words, text);
            }
        }
        // Stored as anchor, heading, text, anchor, ... (no JSON to parse for every result).
        for s in sections {
            doc.add_text(f.sections, s.anchor);
            doc.add_text(f.sections, s.heading);
            doc.add_text(f.sections, s.text);
        }
        for label in &node.labels {
            doc.add_text(f.labels, label);
        }
        for id in &ancestors {
            doc.add_text(f.ancestors, id);
        }
        doc.add_text(f.parent, ancestors.last().map_or("", String::as_str));
        let (created, updated) = match &page_activity {
            Some(a) => {
                doc.add_text(f.creator, a.creator.email.to_lowercase());
                doc.add_text(f.creator, a.creator.name.to_lowercase());
                for person in &a.contributors {
                    doc.add_text(f.contributor, person.email.to_lowercase());
                    doc.add_text(f.contributor, person.name.to_lowercase());
                }
                (a.created, a.updated)
            }
            None => {
                // Never committed (written by another tool and not yet saved here): the file's time.
                let modified = std::fs::metadata(space.root().join(path))
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs() as i64);
                (modified, modified)
            }
        };
        doc.add_i64(f.created, created);
        doc.add_i64(f.updated, updated);
        Ok(Some((doc, page_passages)))
    }

    /// Runs a search box query, optionally limited to some spaces.
    pub fn search(&self, query: &UserQuery, limit: usize) -> Result<Vec<Hit>, SearchError> {
        let (built, marks) = self.build(query);
        self.run(built.as_ref(), &box_order(query), &marks, limit)
    }

    /// Runs a CQL query.
    pub fn cql(&self, query: &str, cx: &crate::cql::Context, limit: usize) -> Result<Vec<Hit>, SearchError> {
        let parsed = crate::cql::parse(query)?;
        let (built, sort, marks) = crate::cql::compile(&parsed, self, cx, query)?;
        self.run(built.as_ref(), &sort, &marks, limit)
    }

    /// One page of a CQL query's results, `start` hits in, and how many there are in all;
    /// `spaces` limits results to those spaces (the ones the asker may read). Only the hits
    /// returned get a snippet.
    pub fn cql_page(
        &self,
        query: &str,
        cx: &crate::cql::Context,
        spaces: Option<&[String]>,
        start: usize,
        limit: usize,
    ) -> Result<(Vec<Hit>, usize), SearchError> {
        let parsed = crate::cql::parse(query)?;
        let (built, sort, marks) = crate::cql::compile(&parsed, self, cx, query)?;
        let built: Box<dyn Query> = match spaces {
            Some(keys) => {
                let f = self.fields;
                let allowed: Vec<(Occur, Box<dyn Query>)> =
                    keys.iter().map(|k| (Occur::Should, term_query(f.space, &k.to_uppercase()))).collect();
                Box::new(BooleanQuery::new(vec![
                    (Occur::Must, built),
                    (Occur::Must, Box::new(BooleanQuery::new(allowed))),
                ]))
            }
            None => built,
        };
        let total = self
            .reader
            .searcher()
            .search(built.as_ref(), &tantivy::collector::Count)
            .map_err(SearchError::index(&self.dir))?;
        let mut hits = self.run_from(built.as_ref(), &sort, &marks, start, limit)?;
        hits.truncate(limit);
        Ok((hits, total))
    }

    /// The addresses of the `limit` best documents for a query (ranking only, for benchmarks).
    pub fn top(&self, query: &dyn Query, limit: usize) -> Result<Vec<(f32, DocAddress)>, SearchError> {
        self.reader.searcher().search(query, &TopDocs::with_limit(limit)).map_err(SearchError::index(&self.dir))
    }

    /// Runs a query built elsewhere (CQL), ordered by `sort`, with `marks` highlighted.
    pub fn run(&self, query: &dyn Query, sort: &Sort, marks: &Marks, limit: usize) -> Result<Vec<Hit>, SearchError> {
        self.run_from(query, sort, marks, 0, limit)
    }

    /// [`SearchIndex::run`] from the `start`-th hit on.
    fn run_from(
        &self,
        query: &dyn Query,
        sort: &Sort,
        marks: &Marks,
        start: usize,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let searcher = self.reader.searcher();
        let ranked = self.ranked(&searcher, query, sort, start, limit)?;
        ranked.into_iter().map(|r| self.hit(&searcher, r.address, r.score, marks, r.anchor.as_deref())).collect()
    }

    /// The addresses of the best `limit` documents from the `start`-th on, in `sort` order
    /// (score 0 when not by relevance): ranking without reading any document.
    fn ranked(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        sort: &Sort,
        start: usize,
        limit: usize,
    ) -> Result<Vec<Ranked>, SearchError> {
        let err = SearchError::index(&self.dir);
        let limit = limit.max(1);
        // An offset of 0 would still change the collector (and lose block-max WAND pruning).
        let top = if start == 0 { TopDocs::with_limit(limit) } else { TopDocs::with_limit(limit).and_offset(start) };
        let addresses: Vec<(f32, DocAddress)> = match sort {
            Sort::Relevance => searcher.search(query, &top).map_err(&err)?,
            Sort::Created(order) | Sort::Updated(order) => {
                let field = if matches!(sort, Sort::Created(_)) { "created" } else { "updated" };
                let found: Vec<(i64, DocAddress)> =
                    searcher.search(query, &top.order_by_fast_field::<i64>(field, order.clone())).map_err(&err)?;
                found.into_iter().map(|(_, a)| (0.0, a)).collect()
            }
            Sort::Title(order) => {
                let found: Vec<(String, DocAddress)> = searcher
                    .search(query, &top.order_by_string_fast_field("title_exact", order.clone()))
                    .map_err(&err)?;
                found.into_iter().map(|(_, a)| (0.0, a)).collect()
            }
        };
        Ok(addresses.into_iter().map(|(score, address)| Ranked { address, score, anchor: None }).collect())
    }

    /// The result for one document; its snippet is from the section at `anchor` when given.
    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        address: DocAddress,
        score: f32,
        marks: &Marks,
        anchor: Option<&str>,
    ) -> Result<Hit, SearchError> {
        let f = self.fields;
        let doc: TantivyDocument = searcher.doc(address).map_err(SearchError::index(&self.dir))?;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let sections = stored_sections(&doc, f.sections);
        Ok(Hit {
            space: text(f.space),
            id: text(f.id),
            title: text(f.title),
            path: text(f.path),
            labels: doc.get_all(f.labels).filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            updated: doc.get_first(f.updated).and_then(|v| v.as_i64()).unwrap_or(0),
            score,
            snippet: snippet::at_or_best(&sections, marks, anchor),
        })
    }

    /// A search box query in a mode: keyword, semantic (needs `embedder`), or both fused by
    /// reciprocal rank. Semantic search uses the vectors there are; passages not embedded yet
    /// are reported in the outcome, never waited for.
    pub fn query(
        &mut self,
        q: &UserQuery,
        mode: Mode,
        embedder: Option<&mut dyn Embedder>,
        limit: usize,
    ) -> Result<Outcome, SearchError> {
        // Fusion needs deeper lists than it returns; only the hits returned are read from the
        // index and get a snippet.
        let depth = if mode == Mode::Keyword { limit } else { limit.max(50) };
        // Built once: the keyword results use the query, both lists the words to mark.
        let (built, marks) = self.build(q);
        // One snapshot for both lists, so their document addresses compare.
        let searcher = self.reader.searcher();
        let keyword = match mode {
            Mode::Semantic => Vec::new(),
            _ => self.ranked(&searcher, built.as_ref(), &box_order(q), 0, depth)?,
        };
        let text: Vec<&str> = q.words.iter().chain(&q.phrases).chain(&q.titles).map(String::as_str).collect();
        let text = text.join(" ");
        let (semantic, status) = match (mode, embedder) {
            (Mode::Keyword, _) => (Vec::new(), SemanticStatus::NotUsed),
            (_, None) => {
                (Vec::new(), SemanticStatus::Unavailable(crate::embed::setup_hint(&crate::embed::models_dir())))
            }
            (_, Some(_)) if text.trim().is_empty() => (Vec::new(), SemanticStatus::NotUsed),
            (_, Some(embedder)) => {
                let (pending, total) = self.semantic.coverage(embedder.model_id())?;
                let ranked = self.semantic_ranked(&searcher, q, &text, embedder, depth)?;
                (ranked, SemanticStatus::Used { pending, total })
            }
        };
        let mut ranked = match mode {
            Mode::Keyword => keyword,
            Mode::Semantic => semantic,
            Mode::Hybrid => fuse(keyword, semantic),
        };
        ranked.truncate(limit);
        let hits = ranked
            .into_iter()
            .map(|r| self.hit(&searcher, r.address, r.score, &marks, r.anchor.as_deref()))
            .collect::<Result<_, _>>()?;
        Ok(Outcome { hits, semantic: status })
    }

    /// Pages whose passages are nearest the query's meaning, best first, within the query's
    /// filters (spaces, labels, titles, exclusions).
    fn semantic_ranked(
        &mut self,
        searcher: &tantivy::Searcher,
        q: &UserQuery,
        text: &str,
        embedder: &mut dyn Embedder,
        pages: usize,
    ) -> Result<Vec<Ranked>, SearchError> {
        let model = embedder.model_id().to_owned();
        let Some(vector) = embedder.embed(&[text.to_owned()])?.pop() else { return Ok(Vec::new()) };
        let mut near = self.semantic.nearest(&model, &vector, pages * 8)?;
        // Below this, "nearest" is noise: a query about nothing in the wiki finds nothing.
        near.retain(|n| n.score >= MIN_SIMILARITY);
        self.pages_near(searcher, near, pages, self.filters(q), None)
    }

    /// The pages of passages found near a vector (best passage per page, in order), kept when
    /// they match `filters`, without `skip`.
    fn pages_near(
        &self,
        searcher: &tantivy::Searcher,
        near: Vec<semantic::Near>,
        pages: usize,
        filters: Vec<(Occur, Box<dyn Query>)>,
        skip: Option<&str>,
    ) -> Result<Vec<Ranked>, SearchError> {
        let mut seen = HashSet::new();
        let mut best: Vec<semantic::Near> = Vec::new();
        for n in near {
            let key = doc_key(&n.space, &n.path);
            if Some(key.as_str()) != skip && seen.insert(key) {
                best.push(n);
                if best.len() == pages {
                    break;
                }
            }
        }
        if best.is_empty() {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let mut found = Vec::with_capacity(best.len());
        let mut keys: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for n in best {
            let key = doc_key(&n.space, &n.path);
            if let Some(address) = self.address_of(searcher, &key)? {
                found.push(Ranked { address, score: n.score, anchor: Some(n.anchor) });
                keys.push((Occur::Should, term_query(f.key, &key)));
            }
        }
        if !filters.is_empty() && !found.is_empty() {
            let mut clauses = filters;
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(keys))));
            let kept = searcher
                .search(&BooleanQuery::new(clauses), &tantivy::collector::DocSetCollector)
                .map_err(SearchError::index(&self.dir))?;
            found.retain(|r| kept.contains(&r.address));
        }
        Ok(found)
    }

    /// Where the live document with `key` is, read from the key's postings (no document is
    /// loaded).
    fn address_of(&self, searcher: &tantivy::Searcher, key: &str) -> Result<Option<DocAddress>, SearchError> {
        use tantivy::{DocSet as _, TERMINATED};
        let term = Term::from_field_text(self.fields.key, key);
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let err = SearchError::index(&self.dir);
            let inverted = segment.inverted_index(self.fields.key).map_err(&err)?;
            let Some(mut postings) =
                inverted.read_postings(&term, IndexRecordOption::Basic).map_err(|e| err(e.into()))?
            else {
                continue;
            };
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if !segment.is_deleted(doc) {
                    return Ok(Some(DocAddress::new(ord as u32, doc)));
                }
                doc = postings.advance();
            }
        }
        Ok(None)
    }

    /// Pages related to one: nearest to the mean of its passages' vectors.
    pub fn related(
        &mut self,
        space: &str,
        path: &str,
        embedder: &dyn Embedder,
        dims: usize,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let model = embedder.model_id().to_owned();
        let Some(vector) = self.semantic.page_vector(&model, dims, space, path)? else {
            return Ok(Vec::new());
        };
        let near = self.semantic.nearest(&model, &vector, (limit + 1) * 8)?;
        let searcher = self.reader.searcher();
        let ranked = self.pages_near(&searcher, near, limit, Vec::new(), Some(&doc_key(space, path)))?;
        let marks = Marks::default();
        ranked.into_iter().map(|r| self.hit(&searcher, r.address, r.score, &marks, r.anchor.as_deref())).collect()
    }

    /// Pages related to one by their words (without a model): its title and headings as a query.
    pub fn related_by_words(&self, space: &str, path: &str, limit: usize) -> Result<Vec<Hit>, SearchError> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let key = doc_key(space, path);
        let found = searcher
            .search(term_query(f.key, &key).as_ref(), &TopDocs::with_limit(1))
            .map_err(SearchError::index(&self.dir))?;
        let Some((_, address)) = found.first() else { return Ok(Vec::new()) };
        let doc: TantivyDocument = searcher.doc(*address).map_err(SearchError::index(&self.dir))?;
        let sections = stored_sections(&doc, f.sections);
        let title = doc.get_first(f.title).and_then(|v| v.as_str()).unwrap_or_default();
        let mut words: Vec<String> = title.split_whitespace().map(str::to_owned).collect();
        words.extend(sections.iter().flat_map(|s| s.heading.split_whitespace().map(str::to_owned)));
        let query = UserQuery { words, ..UserQuery::default() };
        let mut hits = self.search(&query, limit + 1)?;
        hits.retain(|h| !(h.space == space && h.path == path));
        hits.truncate(limit);
        Ok(hits)
    }

    /// Embeds the passages that have no vector yet (see [`Semantic::embed_pending`]).
    /// Passages without a vector for `model`, after passage id `after` (see
    /// [`crate::semantic::Semantic::pending_after`]).
    pub fn pending_passages(
        &self,
        model: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String, String)>, SearchError> {
        self.semantic.pending_after(model, after, limit)
    }

    /// Stores vectors computed outside the index for (hash, text) passages.
    pub fn store_vectors(
        &mut self,
        model: &str,
        batch: &[(String, String)],
        vectors: Vec<Vec<f32>>,
    ) -> Result<(), SearchError> {
        self.semantic.store_vectors(model, batch, vectors)
    }

    pub fn embed_pending(
        &mut self,
        embedder: &mut dyn Embedder,
        progress: &mut dyn FnMut(usize, usize),
        keep_going: &dyn Fn() -> bool,
    ) -> Result<usize, SearchError> {
        self.semantic.embed_pending(embedder, progress, keep_going)
    }

    /// How many passages wait for a vector of `model`, of how many.
    pub fn coverage(&self, model: &str) -> Result<(usize, usize), SearchError> {
        self.semantic.coverage(model)
    }

    /// Turns a search box query into a tantivy query and the words to highlight.
    pub fn build(&self, q: &UserQuery) -> (Box<dyn Query>, Marks) {
        let f = self.fields;
        let mut marks = Marks::default();
        // A word that is one term is looked up in `words` (`single`); the other clauses (phrases
        // of a word that analyses to several terms, the prefix being typed) go beside them.
        let mut single: Vec<Term> = Vec::new();
        let mut union: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let meaningful: Vec<&String> = q.words.iter().filter(|w| !analyzer::is_filler(w)).collect();
        let words: Vec<&String> = if meaningful.is_empty() { q.words.iter().collect() } else { meaningful };
        let last = q.words.last();
        let searcher = self.reader.searcher();
        for word in &words {
            let terms = analyzer::terms(word);
            marks.terms.extend(terms.iter().cloned());
            match terms.as_slice() {
                [] => {}
                [term] => {
                    // Only terms the index has: a term that matches nothing costs pruning.
                    let term = Term::from_field_text(f.words, term);
                    if searcher.doc_freq(&term).is_ok_and(|n| n > 0) && !single.contains(&term) {
                        single.push(term);
                    }
                }
                several => {
                    if let Some(query) = self.text_query(several) {
                        union.push((Occur::Should, query));
                    }
                }
            }
            if q.prefix && Some(*word) == last {
                let plain = plain_terms(word);
                if let Some(prefix) = plain.last() {
                    marks.prefix = Some(prefix.clone());
                    let prefix_query = PhrasePrefixQuery::new(vec![Term::from_field_text(f.names, prefix)]);
                    union.push((Occur::Should, boosted(Box::new(prefix_query), 2.0)));
                }
            }
        }
        for title in &q.titles {
            marks.terms.extend(analyzer::terms(title));
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for phrase in &q.phrases {
            let terms = analyzer::terms(phrase);
            marks.terms.extend(terms.iter().cloned());
            if let Some(query) = self.text_query(&terms) {
                clauses.push((Occur::Must, query));
            }
        }
        clauses.extend(self.filters(q));
        // The words alone are ranked with pruning: one term by tantivy's term query, several by
        // `WordsQuery`; both skip most postings of words every page has (~10x at 100k pages).
        let lone = |t: Term| Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs)) as Box<dyn Query>;
        let union: Option<Box<dyn Query>> = if union.is_empty() {
            match single.len() {
                0 => None,
                1 => single.pop().map(lone),
                _ => Some(Box::new(WordsQuery::new(single))),
            }
        } else {
            union.extend(single.into_iter().map(|t| (Occur::Should, lone(t))));
            Some(Box::new(BooleanQuery::new(union)))
        };
        if clauses.is_empty()
            && let Some(union) = union
        {
            return (union, marks);
        }
        let requires = clauses.iter().any(|(occur, _)| *occur != Occur::MustNot);
        if let Some(union) = union {
            // Beside requirements (a label, a phrase) the words only rank; without any, a page
            // must have one of them.
            let occur = if requires { Occur::Should } else { Occur::Must };
            clauses.push((occur, union));
        } else if !words.is_empty() && !requires {
            // Words no page has, and nothing else: no results (not every page).
            return (Box::new(tantivy::query::EmptyQuery), marks);
        }
        if !clauses.iter().any(|(occur, _)| *occur != Occur::MustNot) {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        (Box::new(BooleanQuery::new(clauses)), marks)
    }

    /// The fields a phrase is looked for in, with their boosts.
    fn text_fields(&self) -> [(Field, f32); 3] {
        [(self.fields.title, 3.0), (self.fields.headings, 1.5), (self.fields.body, 1.0)]
    }

    /// What a query requires besides its words: titles, exclusions, labels, spaces.
    fn filters(&self, q: &UserQuery) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for title in &q.titles {
            if let Some(query) = field_phrase(f.title, &analyzer::terms(title)) {
                clauses.push((Occur::Must, query));
            }
        }
        for excluded in &q.excluded {
            if let Some(query) = self.text_query(&analyzer::terms(excluded)) {
                clauses.push((Occur::MustNot, query));
            }
            clauses.push((Occur::MustNot, term_query(f.labels, &excluded.to_lowercase())));
        }
        for label in &q.labels {
            clauses.push((Occur::Must, term_query(f.labels, &label.to_lowercase())));
        }
        if !q.spaces.is_empty() {
            let options = q.spaces.iter().map(|s| (Occur::Should, term_query(f.space, &s.to_uppercase()))).collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(options))));
        }
        clauses
    }

    /// A word's terms: one term is looked up in the weighted `words` field; several make a
    /// phrase in title (boosted), headings or body.
    pub fn text_query(&self, terms: &[String]) -> Option<Box<dyn Query>> {
        if let [term] = terms {
            return Some(term_query(self.fields.words, term));
        }
        let options: Vec<(Occur, Box<dyn Query>)> = self
            .text_fields()
            .into_iter()
            .filter_map(|(field, boost)| field_phrase(field, terms).map(|q| (Occur::Should, boosted(q, boost))))
            .collect();
        (!options.is_empty()).then(|| Box::new(BooleanQuery::new(options)) as Box<dyn Query>)
    }

    /// How many segments the index is split in (each one costs every query a little).
    pub fn segments(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// How many documents the index holds.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether the index holds no documents.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The sections stored with a document.
fn stored_sections(doc: &TantivyDocument, field: Field) -> Vec<StoredSection> {
    let values: Vec<&str> = doc.get_all(field).filter_map(|v| v.as_str()).collect();
    values
        .chunks_exact(3)
        .map(|c| StoredSection { anchor: c[0].to_owned(), heading: c[1].to_owned(), text: c[2].to_owned() })
        .collect()
}

/// Who made and changed pages: all of them in one query for a large catch-up; for a few pages,
/// their own histories (the bulk query costs O(history) however few pages changed).
fn activity_for(space: &mut Space, changed: usize) -> Result<Activities, SearchError> {
    if changed == 0 {
        return Ok(Activities::Known(HashMap::new()));
    }
    if changed > 64 {
        return Ok(Activities::Known(space.activity()?));
    }
    Ok(Activities::PerPage)
}

/// Page activity, found in bulk or per page when needed.
enum Activities {
    Known(HashMap<cdo_core::PageId, cdo_core::Activity>),
    PerPage,
}

impl Activities {
    fn of(&self, space: &mut Space, id: &cdo_core::PageId) -> Result<Option<cdo_core::Activity>, SearchError> {
        match self {
            Activities::Known(all) => Ok(all.get(id).cloned()),
            Activities::PerPage => {
                let versions = space.history(id)?;
                let Some(first) = versions.first() else { return Ok(None) };
                let mut contributors: Vec<cdo_core::Author> = Vec::new();
                for v in &versions {
                    if !contributors.contains(&v.author) {
                        contributors.push(v.author.clone());
                    }
                }
                let updated = versions.iter().map(|v| v.time).max().unwrap_or(first.time);
                Ok(Some(cdo_core::Activity {
                    creator: first.author.clone(),
                    contributors,
                    created: first.time,
                    updated,
                }))
            }
        }
    }
}

/// Reciprocal rank fusion: each list adds 1 / (60 + rank) to a page's score; the keyword
/// result's snippet is kept when a page is in both (it has the words marked).
/// The order of search box results: by relevance, or newest first when there are no words
/// (`label:adr` alone).
fn box_order(q: &UserQuery) -> Sort {
    if q.has_text() { Sort::Relevance } else { Sort::Updated(Order::Desc) }
}

fn fuse(keyword: Vec<Ranked>, semantic: Vec<Ranked>) -> Vec<Ranked> {
    const K: f32 = 60.0;
    let mut fused: Vec<Ranked> = Vec::with_capacity(keyword.len() + semantic.len());
    let mut at: HashMap<DocAddress, usize> = HashMap::new();
    for list in [keyword, semantic] {
        for (rank, mut hit) in list.into_iter().enumerate() {
            let score = 1.0 / (K + rank as f32 + 1.0);
            match at.get(&hit.address) {
                Some(&i) => fused[i].score += score,
                None => {
                    hit.score = score;
                    at.insert(hit.address, fused.len());
                    fused.push(hit);
                }
            }
        }
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused
}

/// A document found by a query, before it is read: its address, score, and the section a
/// semantic match points at.
struct Ranked {
    address: DocAddress,
    score: f32,
    anchor: Option<String>,
}

/// A term query, or a phrase of several terms, on one field.
pub fn field_phrase(field: Field, terms: &[String]) -> Option<Box<dyn Query>> {
    match terms {
        [] => None,
        [one] => Some(term_query(field, one)),
        many => Some(Box::new(PhraseQuery::new(many.iter().map(|t| Term::from_field_text(field, t)).collect()))),
    }
}

/// An exact term on a field (no analysis).
pub fn term_query(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::WithFreqs))
}

fn boosted(query: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(query, boost))
}

fn plain_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(48))
        .filter(LowerCaser)
        .filter(tantivy::tokenizer::AsciiFoldingFilter)
        .build()
}

fn plain_terms(text: &str) -> Vec<String> {
    use tantivy::tokenizer::TokenStream as _;
    let mut analyzer = plain_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

fn doc_key(space: &str, path: &str) -> String {
    format!("{space}\u{1f}{path}")
}

/// FNV-1a, 64 bits: enough to notice that a file's content changed.
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn open_index(dir: &Path, schema: Schema) -> tantivy::Result<Index> {
    let directory = tantivy::directory::MmapDirectory::open(dir)?;
    if Index::exists(&directory)? {
        return Index::open(directory);
    }
    // Results read ten stored pages per query: small uncompressed blocks make each a copy
    // instead of decompressing 16 KB (the stored text is a fraction of the index anyway).
    let settings = tantivy::IndexSettings {
        docstore_compression: tantivy::store::Compressor::None,
        docstore_blocksize: 4096,
        ..tantivy::IndexSettings::default()
    };
    Index::builder().schema(schema).settings(settings).create_in_dir(dir)
}

fn open_state(path: &Path) -> Result<Connection, SearchError> {
    crate::open_sqlite(
        path,
        "CREATE TABLE IF NOT EXISTS docs(space TEXT NOT NULL, path TEXT NOT NULL, mtime INTEGER NOT NULL,
           size INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY(space, path)) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS spaces(key TEXT PRIMARY KEY, head TEXT);",
    )
}
