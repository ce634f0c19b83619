//! One page without the whole tree. A command on one page (show, update, create, resolve a
//! title) finds the cached rows it needs by index and checks each against its file with one
//! `stat`, so it costs one page whatever the size of the space: a file edited outside is read
//! again, and commits made outside (a `git pull`) are caught up by comparing trees (see
//! [`Space::sync_with_head`]). What the rows cannot settle alone (a page they have not seen,
//! two files claiming one id, a folder's id) is answered by the tree, loaded as before.

use std::collections::BTreeSet;

use super::Space;
use super::scan::{cache_row, now_nanos, read_row, stat};
use crate::cache::FileRow;
use crate::catalog::{Node, PAGE_EXTENSIONS, folder_id, last_component, parent_stem, stem_of};
use crate::error::SpaceError;
use crate::model::{PageId, PageSummary};

impl Space {
    /// A page's node: from the tree when it is loaded, else by a point lookup, else from the
    /// tree (loading it).
    pub(super) fn node(&mut self, id: &PageId) -> Result<Node, SpaceError> {
        if self.catalog.is_none()
            && let Some(node) = self.point_node(id)?
        {
            return Ok(node);
        }
        self.catalog()?.get(id).cloned().ok_or_else(|| SpaceError::PageNotFound(id.to_string()))
    }

    /// Whether the space has a page or folder with this id.
    pub fn contains(&mut self, id: &PageId) -> Result<bool, SpaceError> {
        Ok(self.shows_cheaply(id)? || self.catalog()?.get(id).is_some())
    }

    /// Whether the cached rows alone show a page with this id here, at the cost of one page
    /// (`false`: they cannot tell; [`Space::contains`] can).
    pub fn shows_cheaply(&mut self, id: &PageId) -> Result<bool, SpaceError> {
        if let Some(catalog) = &self.catalog {
            return Ok(catalog.get(id).is_some());
        }
        Ok(self.point_node(id)?.is_some())
    }

    /// A page's node and summary.
    pub(super) fn node_and_summary(&mut self, id: &PageId) -> Result<(Node, PageSummary), SpaceError> {
        if self.catalog.is_none()
            && let Some(node) = self.point_node(id)?
            && let Some(parent) = self.point_parent(&node.stem)?
        {
            let summary = node.summary(parent);
            return Ok((node, summary));
        }
        // The rows could not tell (and were asked once): the tree.
        let catalog = self.catalog()?;
        let node = catalog.get(id).cloned().ok_or_else(|| SpaceError::PageNotFound(id.to_string()))?;
        let summary = catalog.summary(&node);
        Ok((node, summary))
    }

    /// The one page titled `title` when the rows can tell, without the tree.
    pub(super) fn point_title(&mut self, title: &str) -> Result<Option<PageSummary>, SpaceError> {
        self.sync_with_head()?;
        let rows = self.cache.query(|tx| tx.files_titled(title))?;
        let [row] = rows.as_slice() else {
            return Ok(None);
        };
        let Some(node) = self.point_node(&row.node())? else {
            return Ok(None);
        };
        if node.title.to_lowercase() != title.trim().to_lowercase() {
            return Ok(None); // retitled on disk since: the tree decides
        }
        Ok(self.point_parent(&node.stem)?.map(|parent| node.summary(parent)))
    }

    /// Whether no page is titled `title`, as far as the rows can tell without the tree:
    /// `Some(true)` when none is, `None` when the tree must decide (also when the page being
    /// retitled holds it: the tree knows which page that is).
    pub(super) fn point_title_free(&mut self, title: &str) -> Result<Option<bool>, SpaceError> {
        if self.catalog.is_some() {
            return Ok(None);
        }
        self.sync_with_head()?;
        let rows = self.cache.query(|tx| tx.files_titled(title))?;
        for row in rows {
            if self.current(row)?.is_some_and(|r| r.title.to_lowercase() == title.trim().to_lowercase()) {
                return Ok(None);
            }
        }
        Ok(Some(true))
    }

    /// Whether a new page may take this id.
    pub(super) fn id_free(&mut self, id: &PageId) -> Result<bool, SpaceError> {
        if let Some(catalog) = &self.catalog {
            return Ok(catalog.get(id).is_none());
        }
        Ok(self.cache.query(|tx| tx.files_of_node(id.as_str()))?.is_empty())
    }

    /// The node of `id` from the rows alone: the one file claiming the id, unchanged on disk or
    /// read again, and owning its stem. `None` when only the tree can say.
    fn point_node(&mut self, id: &PageId) -> Result<Option<Node>, SpaceError> {
        self.sync_with_head()?;
        let rows = self.cache.query(|tx| tx.files_of_node(id.as_str()))?;
        let [row] = rows.as_slice() else {
            return Ok(None);
        };
        let Some(owner) = self.stem_owner(stem_of(&row.path))? else {
            return Ok(None);
        };
        if owner.path != row.path {
            return Ok(None);
        }
        let Some(row) = self.current(owner)? else {
            return Ok(None);
        };
        if row.node() != *id {
            return Ok(None);
        }
        let diagnostics = row.diagnostics;
        Ok(Some(Node::page(row, id.clone(), diagnostics)))
    }

    /// The parent of the node at `stem` from the rows alone: `Some(None)` at the top level,
    /// `None` when only the tree can say.
    fn point_parent(&mut self, stem: &str) -> Result<Option<Option<PageId>>, SpaceError> {
        let parent = parent_stem(stem);
        if parent.is_empty() {
            return Ok(Some(None));
        }
        let Some(row) = self.stem_owner(parent)? else {
            // A folder, unless a page file for it appeared that the rows have not seen.
            let root = self.store.root();
            let unseen = PAGE_EXTENSIONS.iter().any(|ext| root.join(format!("{parent}{ext}")).is_file());
            return Ok((!unseen).then(|| Some(folder_id(parent))));
        };
        let Some(row) = self.current(row)? else {
            return Ok(None);
        };
        let id = row.node();
        let claims = self.cache.query(|tx| tx.files_of_node(id.as_str()))?;
        Ok((claims.len() == 1).then_some(Some(id)))
    }

    /// The cached row of the file that owns a stem: the first in path order of `stem.md`,
    /// `stem.markdown` and the like.
    fn stem_owner(&self, stem: &str) -> Result<Option<FileRow>, SpaceError> {
        for ext in PAGE_EXTENSIONS {
            let path = format!("{stem}{ext}");
            if let Some(row) = self.cache.query(|tx| tx.file(&path))? {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }

    /// The row as its file is now: the cached one while its size and mtime match, else read
    /// again (and cached). `None` when the file is gone.
    fn current(&mut self, row: FileRow) -> Result<Option<FileRow>, SpaceError> {
        let root = self.store.root();
        let Ok(meta) = std::fs::symlink_metadata(root.join(&row.path)) else {
            return Ok(None);
        };
        if !meta.is_file() {
            return Ok(None);
        }
        let (mtime, size) = stat(&meta);
        if row.mtime == mtime && row.size == size && mtime >= 0 {
            return Ok(Some(row));
        }
        let fresh = read_row(root, &row.path, mtime, size);
        self.cache.put_files_later([cache_row(&fresh, now_nanos())])?;
        Ok(Some(fresh))
    }

    /// A free path stem for `name` in the folder `dir`: no file, folder or attachment folder of
    /// that name is there, ignoring case, since Windows and macOS do. One listing of `dir`.
    pub(super) fn free_stem(&self, dir: &str, name: &str, own: Option<&str>) -> Result<String, SpaceError> {
        let folder = self.store.root().join(dir);
        let own_name = own.filter(|own| parent_stem(own) == dir).map(|own| last_component(own).to_lowercase());
        let taken: BTreeSet<String> = match std::fs::read_dir(&folder) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_str()?.to_lowercase();
                    let stem = name.strip_suffix(".attachments").unwrap_or_else(|| stem_of(&name)).to_owned();
                    (Some(&stem) != own_name.as_ref()).then_some(stem)
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => return Err(SpaceError::io(&folder)(e)),
        };
        let name = crate::slug::unique(name, |candidate| {
            Some(super::write::join(dir, candidate).as_str()) != own && taken.contains(&candidate.to_lowercase())
        });
        Ok(super::write::join(dir, &name))
    }
}
