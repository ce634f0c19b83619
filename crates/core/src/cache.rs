//! Derived state of one space in rusqlite: what each file says (so opening a space does not
//! re-read unchanged files), the link graph, and the per-page history index.
//!
//! It lives in the wiki home's cache folder, never in the space, and can be deleted at any time:
//! a missing, corrupt or older-schema database is rebuilt from the files and from git.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

/// Bumped whenever the schema or what it derives changes; a mismatch rebuilds the cache.
const SCHEMA_VERSION: i64 = 6;

/// What went wrong with the cache database.
#[derive(Debug, thiserror::Error)]
#[error("cache {path}: {source}")]
pub struct CacheError {
    pub path: PathBuf,
    pub source: rusqlite::Error,
}

/// The cache database of one space.
pub struct Cache {
    conn: Connection,
    path: PathBuf,
    /// File rows a save produced, written in one transaction with the next ones (before any
    /// read, at most [`PENDING_ROWS`] later, and on drop). Losing them to a crash costs nothing:
    /// the rows on disk then disagree with the files' mtimes, and the next scan re-reads them.
    pending: std::cell::RefCell<Vec<FileRow>>,
}

/// How many deferred file rows are written together at most.
const PENDING_ROWS: usize = 64;

/// A cached file row: what a page file said when it had this mtime and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRow {
    pub path: String,
    pub mtime: i64,
    pub size: i64,
    pub id: Option<String>,
    pub title: String,
    pub position: Option<i64>,
    pub labels: Vec<String>,
    pub diagnostics: bool,
    pub links_fresh: bool,
}

impl FileRow {
    /// The id of this file's page when no other file claims the same one: the id it states,
    /// else the one derived from its path (what the catalog gives it, see `Catalog::upsert`).
    pub fn node(&self) -> crate::model::PageId {
        use crate::model::PageId;
        self.id.as_deref().and_then(PageId::parse).unwrap_or_else(|| PageId::derived(&self.path))
    }
}

/// One commit in the history index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitRow {
    pub seq: i64,
    pub oid: String,
    pub name: String,
    pub email: String,
    pub time: i64,
    pub offset: i32,
    pub message: String,
}

/// One event in a page's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRow {
    pub id: String,
    pub seq: i64,
    pub path: String,
    pub blob: String,
    pub deleted: bool,
    pub title: String,
}

impl Cache {
    /// Opens (or creates, or rebuilds) the cache at `path`.
    pub fn open(path: &Path) -> Result<Cache, CacheError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match Cache::try_open(path) {
            Ok(cache) => Ok(cache),
            Err(_) => {
                // Derived state: a damaged database is thrown away and rebuilt.
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                Cache::try_open(path)
            }
        }
    }

    /// An in-memory cache, for tests and one-shot tools.
    pub fn in_memory() -> Result<Cache, CacheError> {
        let conn = Connection::open_in_memory().map_err(|source| CacheError { path: ":memory:".into(), source })?;
        let cache = Cache { conn, path: ":memory:".into(), pending: Default::default() };
        cache.migrate()?;
        Ok(cache)
    }

    fn try_open(path: &Path) -> Result<Cache, CacheError> {
        let err = |source| CacheError { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
        let cache = Cache { conn, path: path.to_path_buf(), pending: Default::default() };
        cache.migrate()?;
        Ok(cache)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> CacheError + '_ {
        |source| CacheError { path: self.path.clone(), source }
    }

    fn migrate(&self) -> Result<(), CacheError> {
        let version: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(self.err())?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        self.conn
            .execute_batch(
                "DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS links;
                 DROP TABLE IF EXISTS commits; DROP TABLE IF EXISTS versions;
                 CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE files(path TEXT PRIMARY KEY, mtime INTEGER NOT NULL, size INTEGER NOT NULL,
                   id TEXT, title TEXT NOT NULL, position INTEGER, labels TEXT NOT NULL,
                   diagnostics INTEGER NOT NULL, links_fresh INTEGER NOT NULL, node TEXT NOT NULL,
                   title_key TEXT NOT NULL) WITHOUT ROWID;
                 CREATE INDEX files_id ON files(id);
                 CREATE INDEX files_node ON files(node);
                 CREATE INDEX files_title ON files(title_key);
                 CREATE INDEX files_stale ON files(path) WHERE links_fresh = 0;
                 CREATE TABLE links(src TEXT NOT NULL, target TEXT NOT NULL, line INTEGER NOT NULL, url TEXT NOT NULL);
                 CREATE INDEX links_target ON links(target);
                 CREATE INDEX links_src ON links(src);
                 CREATE TABLE commits(seq INTEGER PRIMARY KEY, oid TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
                   email TEXT NOT NULL, time INTEGER NOT NULL, offset INTEGER NOT NULL, message TEXT NOT NULL);
                 CREATE TABLE versions(id TEXT NOT NULL, seq INTEGER NOT NULL, path TEXT NOT NULL,
                   blob TEXT NOT NULL, deleted INTEGER NOT NULL, title TEXT NOT NULL);
                 CREATE INDEX versions_id ON versions(id, seq);",
            )
            .map_err(self.err())?;
        self.conn.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(self.err())
    }

    /// Records file rows to be written with the next transaction or read (see `pending`).
    pub fn put_files_later(&self, rows: impl IntoIterator<Item = FileRow>) -> Result<(), CacheError> {
        let full = {
            let mut pending = self.pending.borrow_mut();
            pending.extend(rows);
            pending.len() >= PENDING_ROWS
        };
        if full { self.flush() } else { Ok(()) }
    }

    /// Writes the deferred file rows.
    pub fn flush(&self) -> Result<(), CacheError> {
        let rows = std::mem::take(&mut *self.pending.borrow_mut());
        if rows.is_empty() {
            return Ok(());
        }
        let write = || -> Result<(), rusqlite::Error> {
            let tx = self.conn.unchecked_transaction()?;
            let statements = Tx { tx: &tx };
            for row in &rows {
                statements.put_file(row)?;
            }
            tx.commit()
        };
        write().map_err(self.err())
    }

    /// Runs `f` in one transaction.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T, rusqlite::Error>) -> Result<T, CacheError> {
        self.flush()?;
        let path = self.path.clone();
        let err = |source| CacheError { path: path.clone(), source };
        // Immediate: the write lock is taken (waiting up to the busy timeout) before anything is
        // read, so what the transaction reads is still true when it writes.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
        let out = f(&Tx { tx: &tx }).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(out)
    }

    /// Runs a read (after writing deferred rows, so it sees them) and maps its error.
    pub fn query<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, rusqlite::Error>) -> Result<T, CacheError> {
        self.flush()?;
        f(&Tx { tx: &self.conn }).map_err(self.err())
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        // Derived state: if this fails, the next scan notices and re-reads those files.
        let _ = self.flush();
    }
}

/// Statements over the cache, inside or outside a transaction.
pub struct Tx<'c> {
    tx: &'c Connection,
}

impl Tx<'_> {
    pub fn meta(&self, key: &str) -> Result<Option<String>, rusqlite::Error> {
        self.tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), rusqlite::Error> {
        self.tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", [key, value]).map(drop)
    }

    pub fn files(&self) -> Result<Vec<FileRow>, rusqlite::Error> {
        let mut stmt = self.tx.prepare_cached(FILE_COLUMNS)?;
        let rows = stmt.query_map([], file_row)?;
        rows.collect()
    }

    /// Files whose outgoing links are not computed yet.
    pub fn stale_link_paths(&self) -> Result<Vec<String>, rusqlite::Error> {
        let mut stmt = self.tx.prepare_cached("SELECT path FROM files WHERE links_fresh = 0")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect()
    }

    pub fn file(&self, path: &str) -> Result<Option<FileRow>, rusqlite::Error> {
        let mut stmt = self.tx.prepare_cached(&format!("{FILE_COLUMNS} WHERE path = ?1"))?;
        stmt.query_row([path], file_row).optional()
    }

    pub fn put_file(&self, row: &FileRow) -> Result<(), rusqlite::Error> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO files(path, mtime, size, id, title, position, labels, diagnostics, links_fresh, node, title_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT(path) DO UPDATE SET mtime = ?2, size = ?3, id = ?4, title = ?5, position = ?6,
               labels = ?7, diagnostics = ?8, links_fresh = ?9, node = ?10, title_key = ?11",
        )?;
        stmt.execute(params![
            row.path,
            row.mtime,
            row.size,
            row.id,
            row.title,
            row.position,
            row.labels.join("\n"),
            row.diagnostics,
            row.links_fresh,
            row.node().as_str(),
            row.title.to_lowercase(),
        ])
        .map(drop)
    }

    /// The rows whose page would have this id were it the only one claiming it: the file that
    /// says so, or whose path derives it. More than one means the tree must settle who has it.
    pub fn files_of_node(&self, id: &str) -> Result<Vec<FileRow>, rusqlite::Error> {
        self.rows_where("node = ?1", id)
    }

    /// The rows of pages with this title, ignoring case (as `Catalog::find_title` does).
    pub fn files_titled(&self, title: &str) -> Result<Vec<FileRow>, rusqlite::Error> {
        self.rows_where("title_key = ?1", &title.trim().to_lowercase())
    }

    /// The rows of page files at or below a path: `a` finds `a/b.md` and `a/c/d.md`.
    pub fn files_under(&self, path: &str) -> Result<Vec<FileRow>, rusqlite::Error> {
        let (lo, hi) = (format!("{path}/"), format!("{path}0")); // '0' sorts right after '/'
        let mut stmt = self.tx.prepare_cached(&format!("{FILE_COLUMNS} WHERE path >= ?1 AND path < ?2"))?;
        let rows = stmt.query_map([lo, hi], file_row)?;
        rows.collect()
    }

    fn rows_where(&self, condition: &str, value: &str) -> Result<Vec<FileRow>, rusqlite::Error> {
        let mut stmt = self.tx.prepare_cached(&format!("{FILE_COLUMNS} WHERE {condition} ORDER BY path"))?;
        let rows = stmt.query_map([value], file_row)?;
        rows.collect()
    }

    pub fn remove_file(&self, path: &str) -> Result<(), rusqlite::Error> {
        self.tx.prepare_cached("DELETE FROM files WHERE path = ?1")?.execute([path])?;
        self.tx.prepare_cached("DELETE FROM links WHERE src = ?1")?.execute([path]).map(drop)
    }

    /// Replaces the outgoing links of `src`: `(target, line, url)`.
    pub fn set_links(&self, src: &str, links: &[(String, usize, String)]) -> Result<(), rusqlite::Error> {
        self.tx.prepare_cached("DELETE FROM links WHERE src = ?1")?.execute([src])?;
        let mut insert = self.tx.prepare_cached("INSERT INTO links(src, target, line, url) VALUES (?1, ?2, ?3, ?4)")?;
        for (target, line, url) in links {
            insert.execute(params![src, target, *line as i64, url])?;
        }
        self.tx.prepare_cached("UPDATE files SET links_fresh = 1 WHERE path = ?1")?.execute([src]).map(drop)
    }

    /// Sources linking to any of `targets`, or to a path under `prefix/` when given.
    pub fn links_to(
        &self,
        targets: &[String],
        prefix: Option<&str>,
    ) -> Result<Vec<(String, String, usize)>, rusqlite::Error> {
        let mut out = Vec::new();
        let mut exact = self.tx.prepare_cached("SELECT src, target, line FROM links WHERE target = ?1")?;
        for t in targets {
            let rows = exact.query_map([t], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as usize)))?;
            for row in rows {
                out.push(row?);
            }
        }
        if let Some(prefix) = prefix {
            let lo = format!("{prefix}/");
            let hi = format!("{prefix}0"); // '0' sorts right after '/'
            let mut range =
                self.tx.prepare_cached("SELECT src, target, line FROM links WHERE target >= ?1 AND target < ?2")?;
            let rows = range.query_map([lo, hi], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as usize)))?;
            for row in rows {
                out.push(row?);
            }
        }
        Ok(out)
    }

    /// Every link: `(src, target, line, url)`.
    pub fn all_links(&self) -> Result<Vec<(String, String, usize, String)>, rusqlite::Error> {
        let mut stmt = self.tx.prepare_cached("SELECT src, target, line, url FROM links ORDER BY src, line")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as usize, r.get(3)?)))?;
        rows.collect()
    }

    pub fn clear_history(&self) -> Result<(), rusqlite::Error> {
        self.tx.execute_batch("DELETE FROM commits; DELETE FROM versions; DELETE FROM meta WHERE key = 'history_head';")
    }

    pub fn next_commit_seq(&self) -> Result<i64, rusqlite::Error> {
        self.tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM commits", [], |r| r.get(0))
    }

    pub fn put_commit(&self, c: &CommitRow) -> Result<(), rusqlite::Error> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO commits(seq, oid, name, email, time, offset, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        stmt.execute(params![c.seq, c.oid, c.name, c.email, c.time, c.offset, c.message]).map(drop)
    }

    pub fn put_version(&self, v: &VersionRow) -> Result<(), rusqlite::Error> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO versions(id, seq, path, blob, deleted, title) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        stmt.execute(params![v.id, v.seq, v.path, v.blob, v.deleted, v.title]).map(drop)
    }

    /// The latest event of a page, if any.
    pub fn last_version(&self, id: &str) -> Result<Option<VersionRow>, rusqlite::Error> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, seq, path, blob, deleted, title FROM versions WHERE id = ?1 ORDER BY seq DESC LIMIT 1",
        )?;
        stmt.query_row([id], version_row).optional()
    }

    /// A page's history, oldest first, with the commit of each event.
    pub fn history(&self, id: &str) -> Result<Vec<(VersionRow, CommitRow)>, rusqlite::Error> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT v.id, v.seq, v.path, v.blob, v.deleted, v.title,
                    c.seq, c.oid, c.name, c.email, c.time, c.offset, c.message
             FROM versions v JOIN commits c ON c.seq = v.seq WHERE v.id = ?1 ORDER BY v.seq",
        )?;
        let rows = stmt.query_map([id], version_with_commit)?;
        rows.collect()
    }

    /// Every (page id, author name, author email, time) of the versions of live pages, in
    /// history order: who made and changed each page and when, in one pass.
    pub fn activity(&self) -> Result<Vec<(String, String, String, i64)>, rusqlite::Error> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT v.id, c.name, c.email, c.time FROM versions v JOIN commits c ON c.seq = v.seq
             WHERE v.deleted = 0 ORDER BY v.seq",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect()
    }

    /// Pages whose latest event is a deletion, newest first.
    pub fn deleted(&self) -> Result<Vec<(VersionRow, CommitRow)>, rusqlite::Error> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT v.id, v.seq, v.path, v.blob, v.deleted, v.title,
                    c.seq, c.oid, c.name, c.email, c.time, c.offset, c.message
             FROM versions v JOIN commits c ON c.seq = v.seq
             WHERE v.deleted = 1 AND v.seq = (SELECT MAX(seq) FROM versions w WHERE w.id = v.id)
             ORDER BY v.seq DESC",
        )?;
        let rows = stmt.query_map([], version_with_commit)?;
        rows.collect()
    }
}

/// The select of a [`FileRow`], for [`file_row`].
const FILE_COLUMNS: &str = "SELECT path, mtime, size, id, title, position, labels, diagnostics, links_fresh FROM files";

fn file_row(r: &rusqlite::Row<'_>) -> Result<FileRow, rusqlite::Error> {
    let labels: String = r.get(6)?;
    Ok(FileRow {
        path: r.get(0)?,
        mtime: r.get(1)?,
        size: r.get(2)?,
        id: r.get(3)?,
        title: r.get(4)?,
        position: r.get(5)?,
        labels: labels.split('\n').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        diagnostics: r.get(7)?,
        links_fresh: r.get(8)?,
    })
}

/// A `versions` row joined with its `commits` row (columns 0-5, then 6-12).
fn version_with_commit(r: &rusqlite::Row<'_>) -> Result<(VersionRow, CommitRow), rusqlite::Error> {
    let commit = CommitRow {
        seq: r.get(6)?,
        oid: r.get(7)?,
        name: r.get(8)?,
        email: r.get(9)?,
        time: r.get(10)?,
        offset: r.get(11)?,
        message: r.get(12)?,
    };
    Ok((version_row(r)?, commit))
}

fn version_row(r: &rusqlite::Row<'_>) -> Result<VersionRow, rusqlite::Error> {
    Ok(VersionRow {
        id: r.get(0)?,
        seq: r.get(1)?,
        path: r.get(2)?,
        blob: r.get(3)?,
        deleted: r.get(4)?,
        title: r.get(5)?,
    })
}
