//! Keeping the cache and the catalog in step with the files: a full scan (stat every page,
//! re-read only those whose size or mtime changed since the cache saw them), targeted refreshes
//! of a few paths after a save or a change seen by the watcher, and catching up with commits
//! made by others by comparing their trees.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use git2::Oid;

use super::Space;
use crate::cache::FileRow;
use crate::catalog::Catalog;
use crate::error::SpaceError;
use crate::history::{effective_title, is_page_path};
use crate::page::{MAX_PAGE_BYTES, PageFile};

/// A file's mtime this close to now may still change within the clock's granularity without
/// its mtime changing, so it is not trusted by the next scan (git calls this "racy").
const RACY_NANOS: i64 = 100_000_000;

impl Space {
    /// Re-reads the space from disk: every page's stat, and the content of changed ones.
    ///
    /// The walk (a stat per file, the larger part) runs on its own thread while the cached rows
    /// are read and the tree is built from them, which is the answer whenever no file changed.
    /// When one did, the walk and the rows (both in path order) are matched in one pass.
    pub fn refresh(&mut self) -> Result<(), SpaceError> {
        let head = self.store.head_id()?;
        let root = self.store.root().to_path_buf();
        let cache = &self.cache;
        let (found, cached) = std::thread::scope(|scope| {
            let walker = scope.spawn(|| walk(&root));
            let cached = cache.query(|tx| tx.files()).map(|rows| {
                let stamps: Vec<(String, i64, i64)> = rows.iter().map(|r| (r.path.clone(), r.mtime, r.size)).collect();
                (stamps, Catalog::build(rows))
            });
            let found = walker.join().unwrap_or_else(|_| Err(SpaceError::Invalid("the folder walk failed".into())));
            (found, cached)
        });
        let (found, (stamps, catalog)) = (found?, cached?);
        let unchanged =
            found.len() == stamps.len() && found.iter().zip(&stamps).all(|(file, row)| file == row && file.1 >= 0);
        if unchanged {
            self.catalog = Some(catalog);
        } else {
            drop(catalog);
            self.catch_up(&root, found)?;
        }
        self.saw_head(head)
    }

    /// Matches a walk with the cached rows, re-reads the files whose size or mtime changed and
    /// builds the tree.
    fn catch_up(&mut self, root: &Path, found: Vec<(String, i64, i64)>) -> Result<(), SpaceError> {
        let mut cached = self.cache.query(|tx| tx.files())?.into_iter().peekable();
        let now = now_nanos();
        let mut rows = Vec::with_capacity(found.len());
        let mut changed = Vec::new();
        let mut gone = Vec::new();
        for (path, mtime, size) in found {
            while let Some(row) = cached.next_if(|row| row.path < path) {
                gone.push(row.path);
            }
            match cached.next_if(|row| row.path == path) {
                Some(row) if row.mtime == mtime && row.size == size && mtime >= 0 => rows.push(row),
                _ => {
                    let row = read_row(root, &path, mtime, size);
                    changed.push(cache_row(&row, now));
                    rows.push(row);
                }
            }
        }
        gone.extend(cached.map(|row| row.path));
        if !changed.is_empty() || !gone.is_empty() {
            self.cache.transaction(|tx| {
                for row in &changed {
                    tx.put_file(row)?;
                }
                for path in &gone {
                    tx.remove_file(path)?;
                }
                Ok(())
            })?;
        }
        self.catalog = Some(Catalog::build(rows));
        Ok(())
    }

    /// Records that the cached rows reflect every commit up to `head`, for this process and for
    /// the next ones (see [`Space::sync_with_head`]).
    pub(super) fn saw_head(&mut self, head: Option<Oid>) -> Result<(), SpaceError> {
        if self.seen_head != Some(head) {
            let text = head.map(|h| h.to_string()).unwrap_or_default();
            self.cache.transaction(|tx| tx.set_meta(FILES_HEAD, &text))?;
            self.seen_head = Some(head);
        }
        Ok(())
    }

    /// Re-reads a few paths (files or folders, relative to the space root) after they changed.
    pub fn refresh_paths(&mut self, paths: &[String]) -> Result<(), SpaceError> {
        self.refresh_paths_knowing(paths, &[])
    }

    /// [`Space::refresh_paths`], given the bytes just written to some of them so they need not
    /// be read back.
    pub(crate) fn refresh_paths_knowing(
        &mut self,
        paths: &[String],
        written: &[(String, Vec<u8>)],
    ) -> Result<(), SpaceError> {
        let root = self.store.root().to_path_buf();
        let mut upserts = Vec::new();
        let mut removed = Vec::new();
        for path in paths {
            let path = path.trim_matches('/');
            let full = root.join(path);
            // Pages that were below this path, when it is (or was) a folder: O(subtree).
            let under: Vec<String> =
                self.cache.query(|tx| tx.files_under(path))?.into_iter().map(|row| row.path).collect();
            let mut present = Vec::new();
            match std::fs::symlink_metadata(&full) {
                Ok(meta) if meta.is_dir() => {
                    for (p, mtime, size) in walk(&full)? {
                        let p = format!("{path}/{p}");
                        if is_page_path(&p) {
                            upserts.push(read_row(&root, &p, mtime, size));
                            present.push(p);
                        }
                    }
                }
                Ok(meta) if meta.is_file() && is_page_path(path) => {
                    let (mtime, size) = stat(&meta);
                    present.push(path.to_owned());
                    let known = written.iter().find(|(p, b)| p == path && b.len() as i64 == size);
                    upserts.push(match known {
                        Some((_, bytes)) => row_from_bytes(path, mtime, size, Some(bytes)),
                        None => read_row(&root, path, mtime, size),
                    });
                }
                _ => {}
            }
            // A path that is a page file now cannot have been removed; otherwise ask the cache.
            let cached: Vec<String> = if present.iter().any(|p| p == path) {
                Vec::new()
            } else {
                self.cache.query(|tx| tx.file(path))?.map(|row| row.path).into_iter().collect()
            };
            for old in cached.into_iter().chain(under) {
                if !present.contains(&old) {
                    removed.push(old);
                }
            }
        }
        let now = now_nanos();
        if removed.is_empty() {
            // A save: the rows are written with the next ones (saves come in bursts).
            self.cache.put_files_later(upserts.iter().map(|row| cache_row(row, now)))?;
        } else {
            self.cache.transaction(|tx| {
                for path in &removed {
                    tx.remove_file(path)?;
                }
                for row in &upserts {
                    tx.put_file(&cache_row(row, now))?;
                }
                Ok(())
            })?;
        }
        if let Some(catalog) = self.catalog.as_mut() {
            // Deepest first, so parents become folders only when their children remain.
            removed.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
            for path in &removed {
                catalog.remove_file(path);
            }
            upserts.sort_by(|a, b| a.path.cmp(&b.path));
            for row in &upserts {
                catalog.upsert(row);
            }
        }
        Ok(())
    }

    /// Catches up with commits made since the cache last saw HEAD (by git, another process,
    /// a pull): the page files that differ between the two trees are re-read, O(changes). When
    /// that commit is not known (a new cache) or no longer exists (history rewritten), the whole
    /// space is scanned. Edits on disk that are not committed are seen by the full scan, the
    /// watcher, and the stat of each row a point lookup uses.
    pub fn sync_with_head(&mut self) -> Result<(), SpaceError> {
        let head = self.store.head_id()?;
        if self.seen_head.is_none() {
            let known = self.cache.query(|tx| tx.meta(FILES_HEAD))?;
            self.seen_head = known.map(|text| Oid::from_str(&text).ok());
        }
        let Some(seen) = self.seen_head else {
            return self.refresh();
        };
        if seen == head {
            return Ok(());
        }
        let changed = match (seen, head) {
            (Some(old), Some(new)) => crate::history::pages_changed_between(&self.store, old, new).ok(),
            _ => None,
        };
        match changed {
            Some(paths) => {
                self.refresh_paths(&paths)?;
                self.saw_head(head)
            }
            None => self.refresh(),
        }
    }
}

/// The cache's meta key for the commit its file rows have caught up with.
const FILES_HEAD: &str = "files_head";

/// What the cache keeps of a row: racy mtimes are stored as unknown so the next scan re-reads.
pub(super) fn cache_row(row: &FileRow, now: i64) -> FileRow {
    let mut row = row.clone();
    if now - row.mtime < RACY_NANOS {
        row.mtime = -1;
    }
    row
}

pub(super) fn now_nanos() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

pub(super) fn stat(meta: &std::fs::Metadata) -> (i64, i64) {
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i64);
    (mtime, meta.len() as i64)
}

/// Reads one page file into a cache row; never fails (problems become a diagnostic flag).
pub(crate) fn read_row(root: &Path, path: &str, mtime: i64, size: i64) -> FileRow {
    let bytes = if size as u64 > MAX_PAGE_BYTES { None } else { std::fs::read(root.join(path)).ok() };
    row_from_bytes(path, mtime, size, bytes.as_deref())
}

/// The cache row of a page file with these bytes (`None`: too large or unreadable).
fn row_from_bytes(path: &str, mtime: i64, size: i64, bytes: Option<&[u8]>) -> FileRow {
    let fallback_title = crate::catalog::last_component(crate::catalog::stem_of(path)).to_owned();
    let mut row = FileRow {
        path: path.to_owned(),
        mtime,
        size,
        id: None,
        title: fallback_title,
        position: None,
        labels: Vec::new(),
        diagnostics: true,
        links_fresh: false,
    };
    if size as u64 > MAX_PAGE_BYTES {
        row.links_fresh = true; // too large to open, so no links either
        return row;
    }
    let Some(bytes) = bytes else {
        return row;
    };
    let file = PageFile::parse(bytes);
    row.id = file.meta.id.as_ref().map(|id| id.to_string());
    row.title = effective_title(&file, path);
    row.position = file.meta.position;
    row.labels = file.meta.labels.clone();
    row.diagnostics = !file.diagnostics.is_empty();
    row
}

/// Every page file below `dir`, in path order (byte order, as the cache keeps its rows):
/// `(path relative to dir, mtime in ns, size)`. Symbolic links are not followed, so a space
/// never shows files from outside itself.
pub(crate) fn walk(dir: &Path) -> Result<Vec<(String, i64, i64)>, SpaceError> {
    let entries = std::fs::read_dir(dir).map_err(SpaceError::io(dir))?;
    let mut out = Vec::new();
    walk_entries(entries, "", &mut out);
    Ok(out)
}

fn walk_entries(entries: std::fs::ReadDir, rel: &str, out: &mut Vec<(String, i64, i64)>) {
    // Siblings sorted by name, a folder as `name/`: then a depth-first walk is in path order.
    let mut here: Vec<(String, std::fs::DirEntry, bool)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = if rel.is_empty() { name.to_owned() } else { format!("{rel}/{name}") };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if is_page_path(&format!("{path}/x.md")) {
                here.push((path + "/", entry, true));
            }
        } else if kind.is_file() && is_page_path(&path) {
            here.push((path, entry, false));
        }
    }
    here.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (mut path, entry, is_dir) in here {
        if is_dir {
            path.pop();
            // A folder removed while scanning, or unreadable: skipped.
            if let Ok(entries) = std::fs::read_dir(entry.path()) {
                walk_entries(entries, &path, out);
            }
        } else if let Ok(meta) = entry.metadata() {
            let (mtime, size) = stat(&meta);
            out.push((path, mtime, size));
        }
    }
}
