//! The update log: every accepted update is appended (durably, in one transaction per batch)
//! before it is relayed, so a crash loses nothing anyone has seen. Per page it keeps a
//! snapshot (the document's whole state) and the updates after it; compaction merges them into
//! the snapshot. A page is *unsettled* while it has edits not yet committed to its Markdown file;
//! the editors of those edits are kept for the commit's authorship.
//!
//! It lives in the wiki home (`HOME/live.sqlite`), never in a space, and is not a cache: it may
//! hold edits no commit has yet.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use cdo_core::Author;
use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("the live-edit log {path}: {source}")]
    Sqlite { path: String, source: rusqlite::Error },
}

/// One update to append.
#[derive(Clone, Debug)]
pub struct Append {
    pub space: String,
    pub page: String,
    pub update: Vec<u8>,
    /// Who made it (`None`: the server, merging a change from outside).
    pub author: Option<Author>,
}

/// What the log holds for a page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// The snapshot, if there is one.
    pub state: Option<Vec<u8>>,
    /// The Markdown body the document last agreed with the file on (`None`: never committed).
    pub base: Option<String>,
    pub updates: Vec<Vec<u8>>,
    /// People whose edits are not committed yet, in order of their first edit.
    pub editors: Vec<Author>,
}

impl Stored {
    /// Whether edits here are not committed yet.
    pub fn unsettled(&self) -> bool {
        !self.updates.is_empty() || !self.editors.is_empty()
    }
}

/// A change to the log; several are written in one transaction by [`Log::write`].
#[derive(Clone, Debug)]
pub enum Write {
    Append(Append),
    /// Replaces the page's updates with `state` (edits stay unsettled).
    Compact {
        page: String,
        state: Vec<u8>,
    },
    /// The page's document was committed as `base`: `state` becomes the snapshot, the updates
    /// and editors are dropped.
    Settle {
        space: String,
        page: String,
        state: Vec<u8>,
        base: String,
    },
}

/// The log's operations; [`SqliteLog`] is the real one, [`MemLog`] the in-memory one for tests.
pub trait Log: Send {
    /// Makes the writes, in order, in one durable transaction: all of them or none.
    fn write(&mut self, writes: &[Write]) -> Result<(), LogError>;
    fn load(&self, page: &str) -> Result<Stored, LogError>;
    /// Pages with edits not committed: (space, page).
    fn unsettled(&self) -> Result<Vec<(String, String)>, LogError>;
    /// Forgets a page (deleted).
    fn forget(&mut self, page: &str) -> Result<(), LogError>;

    /// Appends the batch in one durable transaction.
    fn append(&mut self, batch: &[Append]) -> Result<(), LogError> {
        self.write(&batch.iter().cloned().map(Write::Append).collect::<Vec<_>>())
    }
    fn compact(&mut self, page: &str, state: &[u8]) -> Result<(), LogError> {
        self.write(&[Write::Compact { page: page.to_owned(), state: state.to_vec() }])
    }
    fn settle(&mut self, space: &str, page: &str, state: &[u8], base: &str) -> Result<(), LogError> {
        self.write(&[Write::Settle {
            space: space.to_owned(),
            page: page.to_owned(),
            state: state.to_vec(),
            base: base.to_owned(),
        }])
    }
}

/// The log in SQLite (WAL, `synchronous = FULL`: a commit is on disk when it returns).
///
/// The updates table has no index on its page column: appends arrive for many pages at once,
/// and an index keyed by page made every transaction write one random B-tree leaf per page
/// (two `pwrite`s each on top of the table's own). Which rows belong to which page is kept in
/// memory instead, built by one scan when the log opens and rebuilt whenever another connection
/// (another process on the same home) has committed since this one last looked
/// (`PRAGMA data_version`).
pub struct SqliteLog {
    conn: Connection,
    path: String,
    index: Index,
}

/// What the log keeps in memory about the tables.
#[derive(Default)]
struct Index {
    /// Each page's update rows, in append order.
    rows: HashMap<String, Vec<i64>>,
    /// Pages with a `docs` row.
    known: HashSet<String>,
    /// `PRAGMA data_version` when `rows` and `known` were last made true (`None`: never, or
    /// not since a transaction failed).
    version: Option<i64>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS docs (
    page TEXT PRIMARY KEY,
    space TEXT NOT NULL,
    state BLOB,
    base TEXT,
    editors TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS updates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    page TEXT NOT NULL,
    data BLOB NOT NULL,
    author_name TEXT,
    author_email TEXT
);
DROP INDEX IF EXISTS updates_page;
";

fn editors_json(editors: &[Author]) -> String {
    let list: Vec<[&str; 2]> = editors.iter().map(|a| [a.name.as_str(), a.email.as_str()]).collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

fn editors_of(json: &str) -> Vec<Author> {
    serde_json::from_str::<Vec<[String; 2]>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|[name, email]| Author { name, email })
        .collect()
}

fn add_editor(editors: &mut Vec<Author>, author: Author) {
    if !editors.iter().any(|e| e.email == author.email) {
        editors.push(author);
    }
}

impl SqliteLog {
    pub fn open(path: &Path) -> Result<SqliteLog, LogError> {
        let name = path.display().to_string();
        let err = |source| LogError::Sqlite { path: name.clone(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        // Snapshots of busy pages are read back at compaction; keep them in memory (16 MiB).
        conn.pragma_update(None, "cache_size", -16384).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let mut log = SqliteLog { conn, path: name, index: Index::default() };
        log.refresh()?;
        Ok(log)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> LogError + '_ {
        |source| LogError::Sqlite { path: self.path.clone(), source }
    }

    /// Rebuilds the page → rows map if another connection committed since it was made.
    fn refresh(&mut self) -> Result<(), LogError> {
        let err = |source| LogError::Sqlite { path: self.path.clone(), source };
        let version: i64 = self.conn.query_row("PRAGMA data_version", [], |r| r.get(0)).map_err(err)?;
        if Some(version) == self.index.version {
            return Ok(());
        }
        let mut rows: HashMap<String, Vec<i64>> = HashMap::new();
        let mut stmt = self.conn.prepare("SELECT seq, page FROM updates ORDER BY seq").map_err(err)?;
        let mut found = stmt.query([]).map_err(err)?;
        while let Some(row) = found.next().map_err(err)? {
            rows.entry(row.get(1).map_err(err)?).or_default().push(row.get(0).map_err(err)?);
        }
        let mut stmt = self.conn.prepare("SELECT page FROM docs").map_err(err)?;
        let known = stmt.query_map([], |r| r.get(0)).map_err(err)?.collect::<Result<_, _>>().map_err(err)?;
        self.index = Index { rows, known, version: Some(version) };
        Ok(())
    }
}

/// The page's stored state through `conn` (the connection, or a transaction on it).
fn load_from(
    conn: &Connection,
    index: &Index,
    err: &dyn Fn(rusqlite::Error) -> LogError,
    page: &str,
) -> Result<Stored, LogError> {
    // A stale map (another connection committed since it was made) is read around, by the
    // page column, rather than trusted.
    let version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0)).map_err(err)?;
    let doc: Option<(Option<Vec<u8>>, Option<String>, String)> = conn
        .query_row("SELECT state, base, editors FROM docs WHERE page = ?1", [page], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(err)?;
    let Some((state, base, editors)) = doc else { return Ok(Stored::default()) };
    let mut stored = Stored { state, base, updates: Vec::new(), editors: editors_of(&editors) };
    let mut take = |name: Option<String>, email: Option<String>, data: Vec<u8>| {
        if let (Some(name), Some(email)) = (name, email) {
            add_editor(&mut stored.editors, Author { name, email });
        }
        stored.updates.push(data);
    };
    type Row = (Vec<u8>, Option<String>, Option<String>);
    let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Row> { Ok((r.get(0)?, r.get(1)?, r.get(2)?)) };
    if Some(version) == index.version {
        let mut stmt =
            conn.prepare_cached("SELECT data, author_name, author_email FROM updates WHERE seq = ?1").map_err(err)?;
        for seq in index.rows.get(page).into_iter().flatten() {
            if let Some((data, name, email)) = stmt.query_row([seq], row).optional().map_err(err)? {
                take(name, email, data);
            }
        }
    } else {
        let mut stmt = conn
            .prepare_cached("SELECT data, author_name, author_email FROM updates WHERE page = ?1 ORDER BY seq")
            .map_err(err)?;
        for found in stmt.query_map([page], row).map_err(err)? {
            let (data, name, email) = found.map_err(err)?;
            take(name, email, data);
        }
    }
    Ok(stored)
}

/// Deletes rows of the updates table.
fn delete_rows(conn: &Connection, rows: Option<Vec<i64>>) -> rusqlite::Result<()> {
    let mut del = conn.prepare_cached("DELETE FROM updates WHERE seq = ?1")?;
    for seq in rows.into_iter().flatten() {
        del.execute([seq])?;
    }
    Ok(())
}

/// The writes through `conn` (inside a transaction), keeping `index` in step.
fn write_in(
    conn: &Connection,
    index: &mut Index,
    err: &dyn Fn(rusqlite::Error) -> LogError,
    writes: &[Write],
) -> Result<(), LogError> {
    // Prepared once for the whole batch (appends are most of what is written).
    let mut insert = conn
        .prepare_cached("INSERT INTO updates (page, data, author_name, author_email) VALUES (?1, ?2, ?3, ?4)")
        .map_err(err)?;
    for w in writes {
        match w {
            Write::Append(a) => {
                if !index.known.contains(&a.page) {
                    conn.prepare_cached("INSERT OR IGNORE INTO docs (page, space) VALUES (?1, ?2)")
                        .and_then(|mut s| s.execute(params![a.page, a.space]))
                        .map_err(err)?;
                    index.known.insert(a.page.clone());
                }
                insert
                    .execute(params![
                        a.page,
                        a.update,
                        a.author.as_ref().map(|x| &x.name),
                        a.author.as_ref().map(|x| &x.email)
                    ])
                    .map_err(err)?;
                let seq = conn.last_insert_rowid();
                match index.rows.get_mut(&a.page) {
                    Some(rows) => rows.push(seq),
                    None => {
                        index.rows.insert(a.page.clone(), vec![seq]);
                    }
                }
            }
            Write::Compact { page, state } => {
                let editors = load_from(conn, index, err, page)?.editors;
                conn.execute(
                    "UPDATE docs SET state = ?2, editors = ?3 WHERE page = ?1",
                    params![page, state, editors_json(&editors)],
                )
                .map_err(err)?;
                delete_rows(conn, index.rows.remove(page)).map_err(err)?;
            }
            Write::Settle { space, page, state, base } => {
                conn.execute(
                    "INSERT INTO docs (page, space, state, base, editors) VALUES (?1, ?2, ?3, ?4, '[]')
                     ON CONFLICT(page) DO UPDATE SET space = ?2, state = ?3, base = ?4, editors = '[]'",
                    params![page, space, state, base],
                )
                .map_err(err)?;
                delete_rows(conn, index.rows.remove(page)).map_err(err)?;
                index.known.insert(page.clone());
            }
        }
    }
    Ok(())
}

impl Log for SqliteLog {
    fn write(&mut self, writes: &[Write]) -> Result<(), LogError> {
        self.refresh()?;
        let path = self.path.clone();
        let err = move |source| LogError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(&err)?;
        let result = write_in(&tx, &mut self.index, &err, writes).and_then(|()| tx.commit().map_err(&err));
        if result.is_err() {
            // The map changed with the writes; rebuilt from the tables at the next use.
            self.index.version = None;
        }
        result
    }

    fn load(&self, page: &str) -> Result<Stored, LogError> {
        load_from(&self.conn, &self.index, &self.err(), page)
    }

    fn unsettled(&self) -> Result<Vec<(String, String)>, LogError> {
        let err = self.err();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT space, page FROM docs WHERE editors != '[]' OR page IN (SELECT DISTINCT page FROM updates)
                 ORDER BY space, page",
            )
            .map_err(&err)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    fn forget(&mut self, page: &str) -> Result<(), LogError> {
        self.refresh()?;
        let path = self.path.clone();
        let err = |source| LogError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        delete_rows(&tx, self.index.rows.get(page).cloned()).map_err(err)?;
        tx.execute("DELETE FROM docs WHERE page = ?1", [page]).map_err(err)?;
        tx.commit().map_err(err)?;
        self.index.rows.remove(page);
        self.index.known.remove(page);
        Ok(())
    }
}

/// The log in memory, for tests.
#[derive(Default)]
pub struct MemLog {
    pages: std::collections::BTreeMap<String, (String, Stored)>,
}

impl Log for MemLog {
    fn write(&mut self, writes: &[Write]) -> Result<(), LogError> {
        for w in writes {
            match w {
                Write::Append(a) => {
                    let (_, stored) =
                        self.pages.entry(a.page.clone()).or_insert_with(|| (a.space.clone(), Stored::default()));
                    stored.updates.push(a.update.clone());
                    if let Some(author) = &a.author {
                        add_editor(&mut stored.editors, author.clone());
                    }
                }
                Write::Compact { page, state } => {
                    if let Some((_, s)) = self.pages.get_mut(page) {
                        s.state = Some(state.clone());
                        s.updates.clear();
                    }
                }
                Write::Settle { space, page, state, base } => {
                    let stored = Stored { state: Some(state.clone()), base: Some(base.clone()), ..Stored::default() };
                    self.pages.insert(page.clone(), (space.clone(), stored));
                }
            }
        }
        Ok(())
    }

    fn load(&self, page: &str) -> Result<Stored, LogError> {
        Ok(self.pages.get(page).map(|(_, s)| s.clone()).unwrap_or_default())
    }

    fn unsettled(&self) -> Result<Vec<(String, String)>, LogError> {
        Ok(self.pages.iter().filter(|(_, (_, s))| s.unsettled()).map(|(p, (sp, _))| (sp.clone(), p.clone())).collect())
    }

    fn forget(&mut self, page: &str) -> Result<(), LogError> {
        self.pages.remove(page);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Author {
        Author { name: "Alice".into(), email: "alice@example.com".into() }
    }

    fn check(log: &mut dyn Log) {
        let a =
            |u: u8, author: Option<Author>| Append { space: "ENG".into(), page: "p1".into(), update: vec![u], author };
        log.append(&[a(1, Some(alice())), a(2, None)]).expect("append");
        let s = log.load("p1").expect("load");
        assert_eq!(s.updates, vec![vec![1], vec![2]]);
        assert_eq!(s.editors, vec![alice()]);
        assert_eq!(log.unsettled().expect("list"), vec![("ENG".to_owned(), "p1".to_owned())]);
        log.compact("p1", &[9]).expect("compact");
        let s = log.load("p1").expect("load");
        assert_eq!((s.state, s.updates.len(), s.editors), (Some(vec![9]), 0, vec![alice()]));
        assert_eq!(log.unsettled().expect("list").len(), 1, "compaction keeps edits unsettled");
        log.settle("ENG", "p1", &[7], "body\n").expect("settle");
        let s = log.load("p1").expect("load");
        assert!(!s.unsettled());
        assert_eq!((s.state, s.base.as_deref()), (Some(vec![7]), Some("body\n")));
        assert!(log.unsettled().expect("list").is_empty());
        log.forget("p1").expect("forget");
        assert_eq!(log.load("p1").expect("load"), Stored::default());
        // Several kinds of write in one transaction, in order.
        let b = |u: u8| Write::Append(Append { space: "ENG".into(), page: "p2".into(), update: vec![u], author: None });
        let settle = Write::Settle { space: "ENG".into(), page: "p2".into(), state: vec![5], base: "b\n".into() };
        let compact = Write::Compact { page: "p2".into(), state: vec![6] };
        log.write(&[b(1), settle, b(2), b(3), compact, b(4)]).expect("write");
        let s = log.load("p2").expect("load");
        assert_eq!((s.state, s.base.as_deref(), s.updates), (Some(vec![6]), Some("b\n"), vec![vec![4]]));
    }

    #[test]
    fn two_processes_on_one_log_see_each_others_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("live.sqlite");
        let mut a = SqliteLog::open(&path).expect("open a");
        let mut b = SqliteLog::open(&path).expect("open b");
        let up = |page: &str, u: u8| Append {
            space: "ENG".into(),
            page: page.into(),
            update: vec![u],
            author: Some(alice()),
        };
        a.append(&[up("p1", 1), up("p2", 2)]).expect("append a");
        b.append(&[up("p1", 3)]).expect("append b");
        // Each sees the other's rows, in append order.
        assert_eq!(b.load("p1").expect("load").updates, vec![vec![1], vec![3]]);
        assert_eq!(a.load("p1").expect("load").updates, vec![vec![1], vec![3]]);
        // A settles p1: its rows go, including the ones B wrote.
        a.settle("ENG", "p1", &[9], "body\n").expect("settle");
        assert!(b.load("p1").expect("load").updates.is_empty());
        b.append(&[up("p1", 4)]).expect("append b again");
        assert_eq!(a.load("p1").expect("load").updates, vec![vec![4]]);
        // B forgets p2, which only A wrote to.
        b.forget("p2").expect("forget");
        assert_eq!(a.load("p2").expect("load"), Stored::default());
        a.append(&[up("p2", 5)]).expect("append after forget");
        assert_eq!(
            b.unsettled().expect("list"),
            vec![("ENG".to_owned(), "p1".to_owned()), ("ENG".to_owned(), "p2".to_owned())]
        );
        // Reopened, the map is rebuilt from the table.
        drop(a);
        let c = SqliteLog::open(&path).expect("reopen");
        assert_eq!(c.load("p1").expect("load").updates, vec![vec![4]]);
        assert_eq!(c.load("p2").expect("load").updates, vec![vec![5]]);
    }

    #[test]
    fn sqlite_and_memory_logs_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        check(&mut SqliteLog::open(&dir.path().join("live.sqlite")).expect("open"));
        check(&mut MemLog::default());
    }
}
