//! The per-page history index: which commits changed which page, following renames and moves by
//! page id (not by path), derived from git and kept in the cache.
//!
//! Version N of a page is the Nth commit that changed its content, as Confluence numbers them;
//! a move that leaves the content alone is not a version. The index catches up incrementally
//! from the commit it last saw; if history was rewritten it is rebuilt from scratch.

use std::collections::HashMap;

use git2::{Oid, Sort};

use crate::cache::{Cache, CommitRow, VersionRow};
use crate::catalog::{is_markdown, stem_of};
use crate::error::SpaceError;
use crate::model::PageId;
use crate::page::{PageFile, first_heading};
use crate::store::{Store, StoreError};

fn git(context: &str) -> impl FnOnce(git2::Error) -> SpaceError + '_ {
    move |source| SpaceError::Store(StoreError::Git { context: context.to_owned(), source })
}

/// Folders at the top of a space that do not hold pages.
pub const RESERVED_DIRS: &[&str] = &["_templates", "_comments", "_attachments"];

/// Whether a space-relative path is a page file (not a template, attachment or hidden file).
pub fn is_page_path(path: &str) -> bool {
    if !is_markdown(path) {
        return false;
    }
    let mut parts = path.split('/');
    if let Some(first) = parts.clone().next()
        && RESERVED_DIRS.contains(&first)
    {
        return false;
    }
    !parts.any(|p| p.starts_with('.') || p.ends_with(".attachments") || p == "node_modules")
}

/// The title a page shows: its `title:`, else its first `# heading`, else its file name.
pub fn effective_title(file: &PageFile, path: &str) -> String {
    file.meta
        .title
        .clone()
        .or_else(|| first_heading(file.body()))
        .unwrap_or_else(|| crate::catalog::last_component(stem_of(path)).to_owned())
}

/// A page file a commit changed: its space path, old blob and new blob.
type PageChange = (String, Option<Oid>, Option<Oid>);

/// The old and new blob of a changed path.
type BlobPair = (Option<Oid>, Option<Oid>);

/// Compares two trees entry by entry (both are sorted), descending only into sub-trees whose
/// ids differ: O(changed paths x entries per folder), whatever the size of the space.
fn diff_trees(
    repo: &git2::Repository,
    old: Option<&git2::Tree<'_>>,
    new: Option<&git2::Tree<'_>>,
    dir: &str,
    out: &mut HashMap<String, BlobPair>,
) -> Result<(), SpaceError> {
    use git2::ObjectType;
    type Entry = (String, Oid, Option<ObjectType>);
    let entries = |t: Option<&git2::Tree<'_>>| -> Vec<Entry> {
        t.map(|t| t.iter().filter_map(|e| Some((e.name().ok()?.to_owned(), e.id(), e.kind()))).collect())
            .unwrap_or_default()
    };
    let mut a: Vec<Entry> = entries(old);
    let mut b: Vec<Entry> = entries(new);
    // Git sorts tree entries with folders as if their names ended in '/'; plain name order is
    // what a merge-join needs.
    a.sort_by(|x, y| x.0.cmp(&y.0));
    b.sort_by(|x, y| x.0.cmp(&y.0));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let order = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.0.cmp(&y.0),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        let (left, right) = match order {
            std::cmp::Ordering::Less => (a.get(i).cloned(), None),
            std::cmp::Ordering::Greater => (None, b.get(j).cloned()),
            std::cmp::Ordering::Equal => (a.get(i).cloned(), b.get(j).cloned()),
        };
        if order != std::cmp::Ordering::Greater {
            i += 1;
        }
        if order != std::cmp::Ordering::Less {
            j += 1;
        }
        let name = left.as_ref().or(right.as_ref()).map(|e| e.0.clone()).unwrap_or_default();
        if left.as_ref().map(|e| e.1) == right.as_ref().map(|e| e.1) {
            continue;
        }
        let path = if dir.is_empty() { name } else { format!("{dir}/{name}") };
        let tree_of = |e: &Option<Entry>| -> Result<Option<git2::Tree<'_>>, SpaceError> {
            match e {
                Some((_, id, Some(ObjectType::Tree))) => repo.find_tree(*id).map(Some).map_err(git("read tree")),
                _ => Ok(None),
            }
        };
        let blob_of = |e: &Option<Entry>| match e {
            Some((_, id, Some(ObjectType::Blob))) => Some(*id),
            _ => None,
        };
        let (old_tree, new_tree) = (tree_of(&left)?, tree_of(&right)?);
        if old_tree.is_some() || new_tree.is_some() {
            diff_trees(repo, old_tree.as_ref(), new_tree.as_ref(), &path, out)?;
        }
        let (old_blob, new_blob) = (blob_of(&left), blob_of(&right));
        if (old_blob.is_some() || new_blob.is_some()) && is_page_path(&path) {
            out.insert(path, (old_blob, new_blob));
        }
    }
    Ok(())
}

/// The page files (space paths) that differ between two commits' trees, O(changes).
pub(crate) fn pages_changed_between(store: &Store, old: Oid, new: Oid) -> Result<Vec<String>, SpaceError> {
    let repo = store.repo();
    let commit = |oid| repo.find_commit(oid).map_err(git("read commit"));
    let (old, new) = (commit(old)?, commit(new)?);
    let mut out = HashMap::new();
    diff_trees(repo, store.space_tree(&old)?.as_ref(), store.space_tree(&new)?.as_ref(), "", &mut out)?;
    let mut paths: Vec<String> = out.into_keys().collect();
    paths.sort();
    Ok(paths)
}

/// Brings the history index up to HEAD. Several processes may catch up at once (each save asks
/// for its version number): the rows are written only if no one else wrote since this one read
/// where the index was, else it looks again.
pub fn catch_up(store: &Store, cache: &mut Cache) -> Result<(), SpaceError> {
    for _ in 0..8 {
        if catch_up_once(store, cache)? {
            return Ok(());
        }
    }
    Err(SpaceError::Busy("the page history index kept changing under this process; try again".into()))
}

/// One attempt of [`catch_up`]; false when another process wrote the index meanwhile.
fn catch_up_once(store: &Store, cache: &mut Cache) -> Result<bool, SpaceError> {
    let Some(head) = store.head_id()? else {
        cache.transaction(|tx| tx.clear_history())?;
        return Ok(true);
    };
    let read = cache.query(|tx| tx.meta("history_head"))?;
    let known = read.as_deref().and_then(|s| Oid::from_str(s).ok());
    if known == Some(head) {
        return Ok(true);
    }
    let repo = store.repo();
    let mut walk = repo.revwalk().map_err(git("walk history"))?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE).map_err(git("walk history"))?;
    walk.push(head).map_err(git("walk history"))?;
    let mut rebuild = true;
    if let Some(old) = known
        && repo.graph_descendant_of(head, old).unwrap_or(false)
    {
        walk.hide(old).map_err(git("walk history"))?;
        rebuild = false;
    }
    // What the index must still say when the rows are written.
    let mut expected = read;
    if rebuild {
        cache.transaction(|tx| tx.clear_history())?;
        expected = None;
    }
    let first_seq = cache.query(|tx| tx.next_commit_seq())?;
    let mut last: HashMap<String, Option<(String, bool)>> = HashMap::new();
    let mut commits = Vec::new();
    let mut versions = Vec::new();
    for (seq, oid) in (first_seq..).zip(walk) {
        let oid = oid.map_err(git("walk history"))?;
        let commit = repo.find_commit(oid).map_err(git("read commit"))?;
        let deltas = changed_pages(store, &commit)?;
        let author = commit.author();
        commits.push(CommitRow {
            seq,
            oid: oid.to_string(),
            name: author.name().unwrap_or_default().to_owned(),
            email: author.email().unwrap_or_default().to_owned(),
            time: author.when().seconds(),
            offset: author.when().offset_minutes(),
            message: commit.message().unwrap_or_default().trim_end().to_owned(),
        });
        let mut present: HashMap<String, VersionRow> = HashMap::new();
        let mut gone: Vec<VersionRow> = Vec::new();
        for (path, old, new) in deltas {
            if let Some(new) = new {
                let file = PageFile::parse(&store.blob(new)?);
                let id = file.meta.id.clone().unwrap_or_else(|| PageId::derived(&path));
                let title = effective_title(&file, &path);
                let row = VersionRow { id: id.to_string(), seq, path, blob: new.to_string(), deleted: false, title };
                present.insert(row.id.clone(), row);
            } else if let Some(old) = old {
                let file = PageFile::parse(&store.blob(old)?);
                let id = file.meta.id.clone().unwrap_or_else(|| PageId::derived(&path));
                let title = effective_title(&file, &path);
                gone.push(VersionRow { id: id.to_string(), seq, path, blob: old.to_string(), deleted: true, title });
            }
        }
        for row in gone {
            if !present.contains_key(&row.id) {
                last.insert(row.id.clone(), Some((row.blob.clone(), true)));
                versions.push(row);
            }
        }
        let mut rows: Vec<VersionRow> = present.into_values().collect();
        rows.sort_by(|a, b| a.path.cmp(&b.path));
        for row in rows {
            let previous = match last.get(&row.id) {
                Some(p) => p.clone(),
                None => cache.query(|tx| tx.last_version(&row.id))?.map(|v| (v.blob, v.deleted)),
            };
            // A pure move (same content, new path) is not a new version.
            let is_version = match &previous {
                Some((blob, deleted)) => *deleted || *blob != row.blob,
                None => true,
            };
            last.insert(row.id.clone(), Some((row.blob.clone(), false)));
            if is_version {
                versions.push(row);
            }
        }
    }
    let head = head.to_string();
    let written = cache.transaction(|tx| {
        if tx.meta("history_head")? != expected {
            return Ok(false);
        }
        for c in &commits {
            tx.put_commit(c)?;
        }
        for v in &versions {
            tx.put_version(v)?;
        }
        tx.set_meta("history_head", &head)?;
        Ok(true)
    })?;
    Ok(written)
}

/// Page files a commit changed: `(space path, old blob, new blob)`. For a merge, only what
/// differs from every parent (what the merge itself decided).
fn changed_pages(store: &Store, commit: &git2::Commit<'_>) -> Result<Vec<PageChange>, SpaceError> {
    let repo = store.repo();
    let tree = store.space_tree(commit)?;
    let diff_with = |parent: Option<&git2::Commit<'_>>| -> Result<HashMap<String, BlobPair>, SpaceError> {
        let old = match parent {
            Some(p) => store.space_tree(p)?,
            None => None,
        };
        let mut out = HashMap::new();
        diff_trees(repo, old.as_ref(), tree.as_ref(), "", &mut out)?;
        Ok(out)
    };
    let parents: Vec<git2::Commit<'_>> = commit.parents().collect();
    let mut changes = diff_with(parents.first())?;
    for other in parents.iter().skip(1) {
        let theirs = diff_with(Some(other))?;
        changes.retain(|path, _| theirs.contains_key(path));
    }
    let mut out: Vec<_> = changes.into_iter().map(|(p, (o, n))| (p, o, n)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
