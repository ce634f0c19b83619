//! The page tree in memory: every page and folder of a space by id and by path, with children
//! in sibling order. Built from cached file rows and kept current by small updates, so a save
//! never rebuilds it.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::cache::FileRow;
use crate::model::{NodeKind, PageId, PageSummary, TreeNode};

/// A page or folder of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub id: PageId,
    pub title: String,
    pub kind: NodeKind,
    /// The path without the `.md`: `a/b`. Children live in the folder of the same path.
    pub stem: String,
    /// The file, for pages: `a/b.md`.
    pub file: Option<String>,
    pub labels: Vec<String>,
    pub position: Option<i64>,
    pub id_assigned: bool,
    pub diagnostics: bool,
}

/// All nodes of a space.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    nodes: Map<PageId, Node>,
    by_stem: Map<String, PageId>,
    children: Map<String, Vec<PageId>>,
}

/// The catalog's maps: keyed by ids and paths, a 100k-page tree hashes a few hundred thousand
/// strings when it loads, where foldhash is several times faster than std's SipHash (and still
/// seeded per process).
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The extensions a page file may have, in path order: when two files share a stem (`a.md`
/// and `a.markdown`), the tree gives it to the first.
pub const PAGE_EXTENSIONS: [&str; 5] = [".MD", ".Md", ".mD", ".markdown", ".md"];

/// The stem of a page file: its path without the Markdown extension.
pub fn stem_of(path: &str) -> &str {
    for ext in PAGE_EXTENSIONS {
        if let Some(stem) = path.strip_suffix(ext) {
            return stem;
        }
    }
    path
}

/// Whether a file name is a Markdown page.
pub fn is_markdown(name: &str) -> bool {
    let ends_with = |ext: &str| {
        name.len() >= ext.len() && name.as_bytes()[name.len() - ext.len()..].eq_ignore_ascii_case(ext.as_bytes())
    };
    ends_with(".md") || ends_with(".markdown")
}

/// The stem of the folder a stem is in: `a/b` for `a/b/c`, `""` at the top.
pub fn parent_stem(stem: &str) -> &str {
    stem.rsplit_once('/').map_or("", |(p, _)| p)
}

/// The last component of a stem or path: `c` for `a/b/c`.
pub fn last_component(stem: &str) -> &str {
    stem.rsplit_once('/').map_or(stem, |(_, n)| n)
}

impl Node {
    /// The page of a file row, under the id the tree settled on for it.
    pub(crate) fn page(row: FileRow, id: PageId, diagnostics: bool) -> Node {
        // What the file states, as `PageId::parse` reads it.
        let id_assigned = row.id.as_deref().map(str::trim) == Some(id.as_str());
        Node {
            title: row.title,
            kind: NodeKind::Page,
            stem: stem_of(&row.path).to_owned(),
            file: Some(row.path),
            labels: row.labels,
            position: row.position,
            id_assigned,
            diagnostics,
            id,
        }
    }

    /// The summary the API hands out for this node, whose parent is `parent`.
    pub fn summary(&self, parent: Option<PageId>) -> PageSummary {
        PageSummary {
            id: self.id.clone(),
            title: self.title.clone(),
            kind: self.kind,
            path: self.file.clone().unwrap_or_else(|| self.stem.clone()),
            parent,
            labels: self.labels.clone(),
            position: self.position,
            id_assigned: self.id_assigned,
            has_diagnostics: self.diagnostics,
        }
    }
}

/// The id of a folder without a page of its own.
pub(crate) fn folder_id(stem: &str) -> PageId {
    PageId::derived(&format!("{stem}/"))
}

impl Catalog {
    /// Builds the tree from file rows (in any order; the result does not depend on it).
    pub fn build(rows: impl IntoIterator<Item = FileRow>) -> Catalog {
        let mut rows: Vec<FileRow> = rows.into_iter().collect();
        if !rows.is_sorted_by(|a, b| a.path <= b.path) {
            rows.sort_by(|a, b| a.path.cmp(&b.path));
        }
        let mut catalog = Catalog::default();
        catalog.nodes.reserve(rows.len());
        catalog.by_stem.reserve(rows.len());
        for row in rows {
            catalog.insert(row);
        }
        catalog
    }

    /// Adds or updates the page of a file row.
    pub fn upsert(&mut self, row: &FileRow) {
        self.insert(row.clone());
    }

    fn insert(&mut self, row: FileRow) {
        let stem = stem_of(&row.path);
        let existing = match self.by_stem.get(stem).and_then(|id| self.nodes.get(id)) {
            Some(node) if node.kind == NodeKind::Page && node.file.as_deref() != Some(row.path.as_str()) => {
                return; // `a.md` and `a.markdown` both exist: the first one owns the stem.
            }
            Some(node) => Some((node.id.clone(), node.kind)),
            None => None,
        };
        let explicit = row.id.as_deref().and_then(PageId::parse);
        let mut diagnostics = row.diagnostics;
        let id = match explicit {
            Some(id) if self.free_for(&id, existing.as_ref().map(|(id, _)| id)) => id,
            Some(_) => {
                diagnostics = true; // a copied file carries another page's id
                self.unique_derived(&row.path)
            }
            None => match &existing {
                Some((id, NodeKind::Page)) => id.clone(),
                _ => self.unique_derived(&row.path),
            },
        };
        if let Some((old, _)) = existing {
            self.detach(&old);
        }
        let node = Node::page(row, id, diagnostics);
        self.ensure_ancestors(&node.stem);
        self.attach(node);
    }

    /// Removes the page of a file; its folder stays in the tree while it has children.
    pub fn remove_file(&mut self, path: &str) {
        let stem = stem_of(path);
        let Some(id) = self.by_stem.get(stem).cloned() else {
            return;
        };
        if self.nodes.get(&id).and_then(|n| n.file.as_deref()) != Some(path) {
            return;
        }
        self.detach(&id);
        let has_children = self.children.get(stem).is_some_and(|c| !c.is_empty());
        if has_children {
            self.attach(folder(stem));
        } else {
            self.prune(parent_stem(stem).to_owned());
        }
    }

    fn free_for(&self, id: &PageId, owner: Option<&PageId>) -> bool {
        !self.nodes.contains_key(id) || owner == Some(id)
    }

    fn unique_derived(&self, path: &str) -> PageId {
        let mut id = PageId::derived(path);
        let mut n = 1;
        while self.nodes.contains_key(&id) {
            id = PageId::derived(&format!("{path}#{n}"));
            n += 1;
        }
        id
    }

    fn attach(&mut self, node: Node) {
        self.by_stem.insert(node.stem.clone(), node.id.clone());
        if !node.stem.is_empty() {
            let parent = parent_stem(&node.stem);
            match self.children.get_mut(parent) {
                Some(siblings) => siblings.push(node.id.clone()),
                None => drop(self.children.insert(parent.to_owned(), vec![node.id.clone()])),
            }
        }
        self.nodes.insert(node.id.clone(), node);
    }

    fn detach(&mut self, id: &PageId) {
        if let Some(node) = self.nodes.remove(id) {
            self.by_stem.remove(&node.stem);
            if let Some(siblings) = self.children.get_mut(parent_stem(&node.stem)) {
                siblings.retain(|s| s != id);
            }
        }
    }

    fn ensure_ancestors(&mut self, stem: &str) {
        let mut parent = parent_stem(stem);
        while !parent.is_empty() && !self.by_stem.contains_key(parent) {
            self.attach(folder(parent));
            parent = parent_stem(parent);
        }
    }

    /// Removes folder nodes left without children, walking up from `stem`.
    fn prune(&mut self, mut stem: String) {
        while !stem.is_empty() {
            let Some(id) = self.by_stem.get(&stem).cloned() else {
                return;
            };
            let empty = self.children.get(&stem).is_none_or(Vec::is_empty);
            if !(empty && self.nodes.get(&id).is_some_and(|n| n.kind == NodeKind::Folder)) {
                return;
            }
            self.detach(&id);
            self.children.remove(&stem);
            stem = parent_stem(&stem).to_owned();
        }
    }

    /// A node by id.
    pub fn get(&self, id: &PageId) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// A node by stem (`a/b`).
    pub fn by_stem(&self, stem: &str) -> Option<&Node> {
        self.by_stem.get(stem).and_then(|id| self.nodes.get(id))
    }

    /// Every node, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the space has no pages.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The parent of a node, `None` at the top level.
    pub fn parent(&self, id: &PageId) -> Option<&Node> {
        let node = self.nodes.get(id)?;
        let parent = parent_stem(&node.stem);
        if parent.is_empty() { None } else { self.by_stem(parent) }
    }

    /// The children of a node (or of the top level with `None`) in sibling order.
    pub fn children(&self, id: Option<&PageId>) -> Vec<&Node> {
        let stem = match id {
            Some(id) => match self.nodes.get(id) {
                Some(n) => n.stem.as_str(),
                None => return Vec::new(),
            },
            None => "",
        };
        self.children_of_stem(stem)
    }

    /// The children of the folder at `stem` in sibling order.
    pub fn children_of_stem(&self, stem: &str) -> Vec<&Node> {
        let mut out: Vec<&Node> = self
            .children
            .get(stem)
            .map(|ids| ids.iter().filter_map(|id| self.nodes.get(id)).collect())
            .unwrap_or_default();
        out.sort_by(|a, b| sibling_order(a, b));
        out
    }

    /// The ancestors of a node, top-level first.
    pub fn breadcrumbs(&self, id: &PageId) -> Vec<&Node> {
        let mut out = Vec::new();
        let mut current = self.parent(id);
        while let Some(node) = current {
            out.push(node);
            current = self.parent(&node.id);
        }
        out.reverse();
        out
    }

    /// A node and everything below it.
    pub fn subtree(&self, id: &PageId) -> Vec<&Node> {
        let mut out = Vec::new();
        let mut stack: Vec<&Node> = self.nodes.get(id).into_iter().collect();
        while let Some(node) = stack.pop() {
            out.push(node);
            if let Some(ids) = self.children.get(&node.stem) {
                stack.extend(ids.iter().filter_map(|c| self.nodes.get(c)));
            }
        }
        out
    }

    /// The whole ordered tree.
    pub fn tree(&self) -> Vec<TreeNode> {
        self.tree_of_stem("")
    }

    fn tree_of_stem(&self, stem: &str) -> Vec<TreeNode> {
        self.children_of_stem(stem)
            .into_iter()
            .map(|n| TreeNode {
                id: n.id.clone(),
                title: n.title.clone(),
                kind: n.kind,
                path: n.file.clone().unwrap_or_else(|| n.stem.clone()),
                children: self.tree_of_stem(&n.stem),
            })
            .collect()
    }

    /// Pages whose title is `title`, ignoring case.
    pub fn find_title(&self, title: &str) -> Vec<&Node> {
        let want = title.trim().to_lowercase();
        let mut out: Vec<&Node> = self.nodes.values().filter(|n| n.title.to_lowercase() == want).collect();
        out.sort_by(|a, b| a.stem.cmp(&b.stem));
        out
    }

    /// The summary the API hands out for a node.
    pub fn summary(&self, node: &Node) -> PageSummary {
        node.summary(self.parent(&node.id).map(|p| p.id.clone()))
    }
}

fn folder(stem: &str) -> Node {
    Node {
        id: folder_id(stem),
        title: last_component(stem).to_owned(),
        kind: NodeKind::Folder,
        stem: stem.to_owned(),
        file: None,
        labels: Vec::new(),
        position: None,
        id_assigned: false,
        diagnostics: false,
    }
}

/// Siblings sort by `position:` where set, then by title in natural order ("ADR 2" < "ADR 10").
pub fn sibling_order(a: &Node, b: &Node) -> Ordering {
    let by_position = match (a.position, b.position) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_position.then_with(|| natural(&a.title, &b.title)).then_with(|| a.stem.cmp(&b.stem))
}

/// Compares strings case-insensitively, with runs of digits compared as numbers. Allocates
/// nothing: it runs a million times when a 100k-page tree is sorted.
pub fn natural(a: &str, b: &str) -> Ordering {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let (mut i, mut j) = (0, 0);
    loop {
        match (a[i..].chars().next(), b[j..].chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let (ei, ej) = (i + digits(&a[i..]), j + digits(&b[j..]));
                let (m, n) = (a[i..ei].trim_start_matches('0'), b[j..ej].trim_start_matches('0'));
                let ord = m.len().cmp(&n.len()).then_with(|| m.cmp(n));
                if ord != Ordering::Equal {
                    return ord;
                }
                (i, j) = (ei, ej);
            }
            (Some(c), Some(d)) => {
                let ord = if c.is_ascii() && d.is_ascii() {
                    c.to_ascii_lowercase().cmp(&d.to_ascii_lowercase())
                } else {
                    c.to_lowercase().cmp(d.to_lowercase())
                };
                if ord != Ordering::Equal {
                    return ord;
                }
                (i, j) = (i + c.len_utf8(), j + d.len_utf8());
            }
        }
    }
}

/// New `position:` values that put `moved` at index `at` among `siblings` (in current order,
/// without `moved`). Changes one page when there is room between its neighbours, else
/// renumbers the siblings in steps of 1024.
pub fn plan_positions(siblings: &[(PageId, Option<i64>)], moved: &PageId, at: usize) -> Vec<(PageId, i64)> {
    const STEP: i64 = 1024;
    let at = at.min(siblings.len());
    let before_ok = siblings[..at].iter().all(|(_, p)| p.is_some());
    if before_ok {
        let lo = if at == 0 { None } else { siblings[at - 1].1 };
        let hi = siblings.get(at).and_then(|(_, p)| *p);
        let pick = match (lo, hi) {
            (None, None) => Some(STEP),
            (Some(lo), None) => Some(lo + STEP),
            (None, Some(hi)) => Some(hi - STEP),
            (Some(lo), Some(hi)) if hi - lo > 1 => Some(lo + (hi - lo) / 2),
            _ => None,
        };
        if let Some(p) = pick {
            return vec![(moved.clone(), p)];
        }
    }
    let mut order: Vec<(PageId, Option<i64>)> = siblings.to_vec();
    order.insert(at, (moved.clone(), None));
    order
        .into_iter()
        .enumerate()
        .filter_map(|(i, (id, old))| {
            let new = (i as i64 + 1) * STEP;
            (old != Some(new) || &id == moved).then_some((id, new))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(path: &str, id: Option<&str>, title: &str, position: Option<i64>) -> FileRow {
        FileRow {
            path: path.into(),
            mtime: 0,
            size: 0,
            id: id.map(Into::into),
            title: title.into(),
            position,
            labels: vec![],
            diagnostics: false,
            links_fresh: false,
        }
    }

    fn shape(c: &Catalog) -> String {
        fn walk(nodes: &[TreeNode], depth: usize, out: &mut String) {
            for n in nodes {
                let kind = if n.kind == NodeKind::Folder { "/" } else { "" };
                out.push_str(&format!("{}{}{kind}\n", "  ".repeat(depth), n.title));
                walk(&n.children, depth + 1, out);
            }
        }
        let mut out = String::new();
        walk(&c.tree(), 0, &mut out);
        out
    }

    #[test]
    fn builds_ordered_tree_with_folders() {
        let rows = [
            row("arch.md", Some("1"), "Architecture", None),
            row("arch/auth.md", Some("2"), "Auth", Some(2)),
            row("arch/db.md", Some("3"), "Databases", Some(1)),
            row("adr/adr-10.md", None, "ADR 10", None),
            row("adr/adr-2.md", None, "ADR 2", None),
            row("zeta.md", None, "alpha", None),
        ];
        let c = Catalog::build(rows.clone());
        assert_eq!(shape(&c), "adr/\n  ADR 2\n  ADR 10\nalpha\nArchitecture\n  Databases\n  Auth\n");
        let auth = PageId::parse("2").expect("id");
        assert_eq!(c.breadcrumbs(&auth).iter().map(|n| n.title.as_str()).collect::<Vec<_>>(), ["Architecture"]);
        assert_eq!(c.parent(&auth).map(|n| n.id.as_str()), Some("1"));
        // Id-less pages get ids derived from their paths: the same on every build.
        let again = Catalog::build(rows.clone());
        assert_eq!(c.find_title("adr 2")[0].id, again.find_title("ADR 2")[0].id);
    }

    #[test]
    fn removing_a_parent_page_leaves_a_folder_and_empty_folders_vanish() {
        let mut c = Catalog::build([row("a.md", Some("1"), "A", None), row("a/b.md", Some("2"), "B", None)]);
        c.remove_file("a.md");
        assert_eq!(shape(&c), "a/\n  B\n");
        c.remove_file("a/b.md");
        assert_eq!(shape(&c), "");
        assert!(c.is_empty());
    }

    #[test]
    fn duplicate_ids_do_not_collide() {
        let c = Catalog::build([row("a.md", Some("7"), "A", None), row("copy.md", Some("7"), "Copy", None)]);
        assert_eq!(c.len(), 2);
        let copy = c.find_title("Copy")[0];
        assert_ne!(copy.id.as_str(), "7");
        assert!(copy.diagnostics && !copy.id_assigned);
    }

    #[test]
    fn upsert_updates_in_place() {
        let mut c = Catalog::build([row("a.md", Some("1"), "A", None)]);
        c.upsert(&row("a.md", Some("1"), "A renamed", None));
        assert_eq!(shape(&c), "A renamed\n");
        c.upsert(&row("x/y/z.md", Some("9"), "Z", None));
        assert_eq!(shape(&c), "A renamed\nx/\n  y/\n    Z\n");
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["ADR 10", "adr 2", "ADR 1", "Beta", "alpha", "ADR 02"];
        v.sort_by(|a, b| natural(a, b));
        assert_eq!(v, ["ADR 1", "adr 2", "ADR 02", "ADR 10", "alpha", "Beta"]);
    }

    #[test]
    fn positions_change_one_page_when_there_is_room() {
        let id = |s: &str| PageId::parse(s).expect("id");
        let sibs = vec![(id("1"), Some(1024)), (id("2"), Some(2048)), (id("3"), None)];
        assert_eq!(plan_positions(&sibs, &id("9"), 1), [(id("9"), 1536)]);
        assert_eq!(plan_positions(&sibs, &id("9"), 0), [(id("9"), 0)]);
        assert_eq!(plan_positions(&sibs, &id("9"), 2), [(id("9"), 3072)]);
        // After an unpositioned sibling: everyone gets a position.
        let plan = plan_positions(&sibs, &id("9"), 3);
        assert_eq!(plan, [(id("3"), 3072), (id("9"), 4096)]);
        let tight = vec![(id("1"), Some(1)), (id("2"), Some(2))];
        assert_eq!(plan_positions(&tight, &id("9"), 1), [(id("1"), 1024), (id("9"), 2048), (id("2"), 3072)]);
    }
}
