//! Builds a new tree from an old one plus a few edits, touching only the trees on the edited
//! paths: O(depth) per edit instead of O(files in the repository).

use std::collections::BTreeMap;
use std::sync::Arc;

use git2::{Oid, Repository, Tree};

use super::StoreError;
use super::objects::{Entry, ObjectWriter};

/// Mode of a regular file in a git tree.
pub const FILE_MODE: i32 = 0o100_644;
/// Mode of a sub-tree in a git tree.
pub const TREE_MODE: i32 = 0o040_000;

/// One change to a tree, by path from the repository root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Puts a blob or a tree at a path, creating folders on the way.
    Upsert { path: String, oid: Oid, mode: i32 },
    /// Removes whatever is at a path (a file or a whole folder); nothing if it is absent.
    Remove { path: String },
}

impl Edit {
    fn path(&self) -> &str {
        match self {
            Edit::Upsert { path, .. } | Edit::Remove { path } => path,
        }
    }
}

/// Applies edits in order to `base` (or an empty tree) and writes the new trees.
pub fn apply(repo: &Repository, writer: &ObjectWriter, base: Option<Oid>, edits: &[Edit]) -> Result<Oid, StoreError> {
    let items: Vec<(&str, &Edit)> = edits.iter().map(|e| (e.path().trim_matches('/'), e)).collect();
    match apply_level(repo, writer, base, &items)? {
        Some(oid) => Ok(oid),
        None => writer.tree(Vec::new()),
    }
}

/// The entries of a tree: remembered when this process wrote or read it, else read from the repository.
fn entries_of(repo: &Repository, writer: &ObjectWriter, oid: Oid) -> Result<Arc<[Entry]>, StoreError> {
    if let Some(entries) = writer.remembered(oid) {
        return Ok(entries);
    }
    let tree: Tree<'_> =
        repo.find_tree(oid).map_err(|source| StoreError::Git { context: format!("read tree {oid}"), source })?;
    let entries: Arc<[Entry]> = tree
        .iter()
        .filter_map(|e| Some(Entry { name: e.name().ok()?.to_owned(), mode: e.filemode(), oid: e.id() }))
        .collect();
    writer.remember(oid, entries.clone());
    Ok(entries)
}

/// The entry at `path` (from the tree's root) in tree `tree`: id and mode.
pub fn lookup(
    repo: &Repository,
    writer: &ObjectWriter,
    tree: Oid,
    path: &str,
) -> Result<Option<(Oid, i32)>, StoreError> {
    let mut current = tree;
    let mut parts = path.trim_matches('/').split('/').peekable();
    while let Some(name) = parts.next() {
        let entries = entries_of(repo, writer, current)?;
        let Some(entry) = entries.iter().find(|e| e.name == name) else {
            return Ok(None);
        };
        if parts.peek().is_none() {
            return Ok(Some((entry.oid, entry.mode)));
        }
        if entry.mode != TREE_MODE {
            return Ok(None);
        }
        current = entry.oid;
    }
    Ok(None)
}

/// Returns `None` when the tree ends up empty (git does not keep empty folders).
fn apply_level(
    repo: &Repository,
    writer: &ObjectWriter,
    base: Option<Oid>,
    edits: &[(&str, &Edit)],
) -> Result<Option<Oid>, StoreError> {
    let mut entries: Vec<Entry> = match base {
        Some(oid) => entries_of(repo, writer, oid)?.to_vec(),
        None => Vec::new(),
    };
    let mut groups: BTreeMap<&str, Vec<(&str, &Edit)>> = BTreeMap::new();
    for &(path, edit) in edits {
        let (name, rest) = path.split_once('/').unwrap_or((path, ""));
        groups.entry(name).or_default().push((rest, edit));
    }
    for (name, group) in groups {
        // Edits at this exact name come first, in order; deeper edits then apply on top.
        let at = entries.iter().position(|e| e.name == name);
        let mut current: Option<(Oid, i32)> = at.map(|i| (entries[i].oid, entries[i].mode));
        let mut deeper = Vec::new();
        for (rest, edit) in group {
            if rest.is_empty() {
                current = match edit {
                    Edit::Upsert { oid, mode, .. } => Some((*oid, *mode)),
                    Edit::Remove { .. } => None,
                };
                deeper.clear();
            } else {
                deeper.push((rest, edit));
            }
        }
        if !deeper.is_empty() {
            let sub = match current {
                Some((oid, TREE_MODE)) => Some(oid),
                _ => None,
            };
            current = apply_level(repo, writer, sub, &deeper)?.map(|oid| (oid, TREE_MODE));
        }
        match (current, at) {
            (Some((oid, mode)), Some(i)) => entries[i] = Entry { name: name.to_owned(), mode, oid },
            (Some((oid, mode)), None) => entries.push(Entry { name: name.to_owned(), mode, oid }),
            (None, Some(i)) => {
                entries.remove(i);
            }
            (None, None) => {}
        }
    }
    if entries.is_empty() { Ok(None) } else { writer.tree(entries).map(Some) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(repo: &Repository, tree: Oid) -> Vec<String> {
        let tree = repo.find_tree(tree).expect("tree");
        let mut out = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob) {
                out.push(format!("{dir}{}", entry.name().unwrap_or("?")));
            }
            git2::TreeWalkResult::Ok
        })
        .expect("walk");
        out.sort();
        out
    }

    #[test]
    fn edits_nest_move_and_prune() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init(dir.path()).expect("init");
        let writer = ObjectWriter::new(repo.path());
        let blob = repo.blob(b"x").expect("blob");
        let up = |path: &str| Edit::Upsert { path: path.into(), oid: blob, mode: FILE_MODE };
        let t1 = apply(&repo, &writer, None, &[up("a.md"), up("a/b.md"), up("a/b/c.md"), up("z.md")]).expect("apply");
        assert_eq!(files(&repo, t1), ["a.md", "a/b.md", "a/b/c.md", "z.md"]);
        let base = repo.find_tree(t1).expect("tree");
        let sub = base.get_path(std::path::Path::new("a/b")).expect("entry").id();
        let moved = apply(
            &repo,
            &writer,
            Some(base.id()),
            &[
                Edit::Remove { path: "a/b".into() },
                Edit::Remove { path: "a/b.md".into() },
                Edit::Upsert { path: "q/b".into(), oid: sub, mode: TREE_MODE },
                up("q/b.md"),
                up("q/b/new.md"),
            ],
        )
        .expect("apply");
        // `a/` became empty and is gone; the moved folder kept its content and gained a file.
        assert_eq!(files(&repo, moved), ["a.md", "q/b.md", "q/b/c.md", "q/b/new.md", "z.md"]);
        let empty = apply(
            &repo,
            &writer,
            Some(moved),
            &[
                Edit::Remove { path: "a.md".into() },
                Edit::Remove { path: "z.md".into() },
                Edit::Remove { path: "q".into() },
            ],
        )
        .expect("apply");
        assert!(files(&repo, empty).is_empty());
    }
}
