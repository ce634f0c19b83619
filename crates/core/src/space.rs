//! A space: a git repository (or a folder in one) of Markdown pages, with the derived state
//! that makes it fast (the catalog in memory, the cache on disk).
//!
//! Reads live here; writes (each one commit) live in [`write`]. The files on disk are the truth:
//! the catalog is rebuilt from them (re-reading only files whose size or mtime changed) and
//! every write updates it for the paths it touched.

mod attachments;
mod comments;
mod point;
mod scan;
mod write;

pub use attachments::{Attachment, check_attachment_name, media_type};
pub use comments::{Comment, NewComment, comments_path};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::Oid;
use serde::{Deserialize, Serialize};

use crate::cache::{Cache, CommitRow, VersionRow};
use crate::catalog::{Catalog, Node};
use crate::diff::{self, WordChange};
use crate::error::SpaceError;
use crate::history;
use crate::links::{self, Target};
use crate::model::{
    Activity, Author, NodeKind, Page, PageId, PageSummary, SpaceInfo, SpaceKey, TrashEntry, TreeNode, VersionInfo,
};
use crate::page::{MAX_PAGE_BYTES, PageFile};
use crate::render::{self, Rendered};
use crate::store::Store;
use crate::templates::{TEMPLATE_DIR, Template, TemplateError};

pub use write::{MoveTarget, NewPage, PageUpdate, Saved};

/// The file at the root of a space that names it.
pub const SPACE_FILE: &str = "space.yaml";

/// An open space.
pub struct Space {
    store: Store,
    cache: Cache,
    info: SpaceInfo,
    catalog: Option<Catalog>,
    /// The commit the cached rows (and the catalog) last caught up with, to notice commits made
    /// by others; `None` until read from the cache, `Some(None)` before the first commit.
    seen_head: Option<Option<Oid>>,
}

impl Drop for Space {
    /// Saves leave the git index to be caught up later; make sure that happens before the
    /// space is closed (a crash is covered by the journal, replayed on the next open).
    fn drop(&mut self) {
        let _ = self.store.flush_index();
    }
}

/// A page that links to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlink {
    pub page: PageSummary,
    pub line: usize,
}

/// A link that leads nowhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    pub page: PageId,
    pub title: String,
    pub path: String,
    pub line: usize,
    pub url: String,
}

/// Two versions of a page compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageDiff {
    pub from: u32,
    pub to: u32,
    pub unified: String,
    pub words: Vec<WordChange>,
}

impl Space {
    /// Opens the space at `root`, keeping derived state in `cache_file`. `fallback` names a space
    /// that has no `space.yaml` (a folder of pages from another tool).
    pub fn open(root: &Path, cache_file: &Path, fallback: Option<SpaceInfo>) -> Result<Space, SpaceError> {
        let store = Store::open(root)?;
        let info = match read_space_file(store.root())? {
            Some(info) => info,
            None => fallback.ok_or_else(|| {
                SpaceError::SpaceFile(format!(
                    "{} has no space.yaml; add it with `space add PATH --key KEY`",
                    store.root().display()
                ))
            })?,
        };
        let cache = Cache::open(cache_file)?;
        Ok(Space { store, cache, info, catalog: None, seen_head: None })
    }

    /// Creates a new space at `root`: a repository with `space.yaml`, the built-in templates and
    /// a first commit by `author`.
    pub fn create(root: &Path, cache_file: &Path, info: &SpaceInfo, author: &Author) -> Result<Space, SpaceError> {
        if root.join(SPACE_FILE).exists() || root.join(".git").exists() {
            return Err(SpaceError::Invalid(format!(
                "{} already holds a space or a git repository; use `space add` to register it",
                root.display()
            )));
        }
        let store = Store::init(root)?;
        let mut writes = vec![(SPACE_FILE.to_owned(), space_file_text(info).into_bytes())];
        for (name, text) in crate::templates::BUILTIN {
            writes.push((format!("{TEMPLATE_DIR}/{name}.md"), text.as_bytes().to_vec()));
        }
        let change =
            crate::store::Change { message: format!("Create space {}", info.key), writes, ..Default::default() };
        {
            let _lock = store.lock()?;
            store.commit(&change, author)?;
        }
        store.flush_index()?;
        let cache = Cache::open(cache_file)?;
        Ok(Space { store, cache, info: info.clone(), catalog: None, seen_head: None })
    }

    /// The space's key, name and description.
    pub fn info(&self) -> &SpaceInfo {
        &self.info
    }

    /// The folder the space lives in.
    pub fn root(&self) -> &Path {
        self.store.root()
    }

    /// The git layer, for callers that need the repository itself.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How long writes wait for another process's write.
    pub fn set_lock_timeout(&mut self, timeout: std::time::Duration) {
        self.store.set_lock_timeout(timeout);
    }

    /// Updates the git index for everything saved so far (see [`Store::flush_index`]).
    pub fn flush_index(&self) -> Result<(), SpaceError> {
        Ok(self.store.flush_index()?)
    }

    /// Packs the repository's loose objects now, whatever their number (see
    /// [`Store::pack_loose_objects`]; the index catch-up does it once there are many).
    pub fn pack_objects(&self) -> Result<usize, SpaceError> {
        Ok(self.store.pack_loose_objects(true)?)
    }

    /// The catalog, loading it on first use.
    pub fn catalog(&mut self) -> Result<&Catalog, SpaceError> {
        if self.catalog.is_none() {
            self.refresh()?;
        }
        self.catalog.as_ref().ok_or_else(|| SpaceError::Invalid("the page tree could not be loaded".into()))
    }

    /// Whether the whole page tree is in memory (a command on one page loads it only when the
    /// cached rows cannot settle the answer alone).
    pub fn tree_loaded(&self) -> bool {
        self.catalog.is_some()
    }

    /// How many pages and folders the space has.
    pub fn len(&mut self) -> Result<usize, SpaceError> {
        Ok(self.catalog()?.len())
    }

    /// Whether the space has no pages.
    pub fn is_empty(&mut self) -> Result<bool, SpaceError> {
        Ok(self.catalog()?.is_empty())
    }

    /// The ordered page tree.
    pub fn tree(&mut self) -> Result<Vec<TreeNode>, SpaceError> {
        Ok(self.catalog()?.tree())
    }

    /// A page's summary.
    pub fn summary(&mut self, id: &PageId) -> Result<PageSummary, SpaceError> {
        Ok(self.node_and_summary(id)?.1)
    }

    /// The children of a page (or the top level) in sibling order.
    pub fn children(&mut self, id: Option<&PageId>) -> Result<Vec<PageSummary>, SpaceError> {
        if let Some(id) = id {
            self.node(id)?;
        }
        let catalog = self.catalog()?;
        Ok(catalog.children(id).into_iter().map(|n| catalog.summary(n)).collect())
    }

    /// The ancestors of a page, top-level first.
    pub fn breadcrumbs(&mut self, id: &PageId) -> Result<Vec<PageSummary>, SpaceError> {
        self.node(id)?;
        let catalog = self.catalog()?;
        Ok(catalog.breadcrumbs(id).into_iter().map(|n| catalog.summary(n)).collect())
    }

    /// Pages with this title (ignoring case).
    pub fn find_title(&mut self, title: &str) -> Result<Vec<PageSummary>, SpaceError> {
        if self.catalog.is_none()
            && let Some(one) = self.point_title(title)?
        {
            return Ok(vec![one]);
        }
        let catalog = self.catalog()?;
        Ok(catalog.find_title(title).into_iter().map(|n| catalog.summary(n)).collect())
    }

    /// A page as it is on disk now.
    pub fn page(&mut self, id: &PageId) -> Result<Page, SpaceError> {
        let (node, summary) = self.node_and_summary(id)?;
        let version = self.version_count(id)?;
        let Some(file) = &node.file else {
            return Ok(Page { summary, body: String::new(), version, diagnostics: Vec::new(), fields: Vec::new() });
        };
        let parsed = self.read_page_file(file)?;
        Ok(Page {
            summary,
            body: parsed.body().to_owned(),
            version,
            diagnostics: parsed.diagnostics.clone(),
            fields: parsed.fields(),
        })
    }

    /// A page rendered to sanitised HTML.
    pub fn render(&mut self, id: &PageId) -> Result<Rendered, SpaceError> {
        Ok(render::render(&self.page(id)?.body))
    }

    /// Reads and parses a page file (relative to the space root).
    fn read_page_file(&self, path: &str) -> Result<PageFile, SpaceError> {
        use std::io::Read as _;
        let full = self.store.root().join(path);
        let file = std::fs::File::open(&full).map_err(SpaceError::io(&full))?;
        // Read at most one byte past the limit instead of asking the size first.
        let mut bytes = Vec::with_capacity(16 * 1024);
        file.take(MAX_PAGE_BYTES + 1).read_to_end(&mut bytes).map_err(SpaceError::io(&full))?;
        if bytes.len() as u64 > MAX_PAGE_BYTES {
            return Err(SpaceError::Invalid(format!(
                "{path} is over {} MB; pages that large are listed but not opened. Split it into smaller pages",
                MAX_PAGE_BYTES / 1024 / 1024
            )));
        }
        Ok(PageFile::parse(&bytes))
    }

    /// Does now what the first commands on a new space would otherwise do: reads every page
    /// into the cache and indexes the history (seconds at 100k pages; a command on one page
    /// afterwards costs one page).
    pub fn prepare(&mut self) -> Result<(), SpaceError> {
        self.catalog()?;
        self.history_index()
    }

    /// Brings the history index up to date.
    fn history_index(&mut self) -> Result<(), SpaceError> {
        history::catch_up(&self.store, &mut self.cache)
    }

    /// The commits that are versions of a page (not its deletions), oldest first, with the
    /// history index brought up to date first.
    fn versions(&mut self, id: &PageId) -> Result<Vec<(VersionRow, CommitRow)>, SpaceError> {
        self.history_index()?;
        let rows = self.cache.query(|tx| tx.history(id.as_str()))?;
        Ok(rows.into_iter().filter(|(v, _)| !v.deleted).collect())
    }

    /// A page's versions, oldest first.
    pub fn history(&mut self, id: &PageId) -> Result<Vec<VersionInfo>, SpaceError> {
        let mut out = Vec::new();
        for (v, c) in self.versions(id)? {
            out.push(VersionInfo {
                version: out.len() as u32 + 1,
                commit: c.oid,
                author: Author { name: c.name, email: c.email },
                time: c.time,
                offset_minutes: c.offset,
                message: c.message,
                path: v.path,
            });
        }
        Ok(out)
    }

    /// Every page file with the mtime (ns) and size the space last saw it at: what a derived
    /// index compares against to find files that changed. The mtime is -1 for files written
    /// within the last moment (their mtime cannot yet be trusted).
    pub fn file_stamps(&mut self) -> Result<Vec<(String, i64, i64)>, SpaceError> {
        self.catalog()?;
        let rows = self.cache.query(|tx| tx.files())?;
        Ok(rows.into_iter().map(|r| (r.path, r.mtime, r.size)).collect())
    }

    /// Who made and changed every committed page, and when (one query over the history index).
    pub fn activity(&mut self) -> Result<std::collections::HashMap<PageId, Activity>, SpaceError> {
        self.history_index()?;
        let rows = self.cache.query(|tx| tx.activity())?;
        let mut out: std::collections::HashMap<PageId, Activity> = std::collections::HashMap::new();
        for (id, name, email, time) in rows {
            let Some(id) = PageId::parse(&id) else { continue };
            let author = Author { name, email };
            match out.get_mut(&id) {
                Some(a) => {
                    a.updated = a.updated.max(time);
                    if !a.contributors.contains(&author) {
                        a.contributors.push(author);
                    }
                }
                None => {
                    let activity =
                        Activity { creator: author.clone(), contributors: vec![author], created: time, updated: time };
                    out.insert(id, activity);
                }
            }
        }
        Ok(out)
    }

    /// How many versions a page has (0 if it was never committed).
    pub fn version_count(&mut self, id: &PageId) -> Result<u32, SpaceError> {
        Ok(self.versions(id)?.len() as u32)
    }

    /// The file of a page at version `n`.
    fn version_file(&mut self, id: &PageId, n: u32) -> Result<(PageFile, String), SpaceError> {
        let versions = self.versions(id)?;
        if versions.is_empty() && self.catalog()?.get(id).is_none() {
            return Err(SpaceError::PageNotFound(id.to_string()));
        }
        let latest = versions.len() as u32;
        let (v, _) = versions.into_iter().nth((n as usize).wrapping_sub(1)).ok_or(SpaceError::NoSuchVersion {
            id: id.to_string(),
            version: n,
            latest,
        })?;
        let blob = Oid::from_str(&v.blob).map_err(|e| SpaceError::Invalid(format!("history index: {e}")))?;
        Ok((PageFile::parse(&self.store.blob(blob)?), v.path))
    }

    /// A page as it was at version `n`.
    pub fn page_version(&mut self, id: &PageId, n: u32) -> Result<Page, SpaceError> {
        let (file, path) = self.version_file(id, n)?;
        let current = self.catalog()?.get(id).cloned();
        let summary = PageSummary {
            id: id.clone(),
            title: history::effective_title(&file, &path),
            kind: NodeKind::Page,
            path,
            parent: current.as_ref().and_then(|n| self.catalog.as_ref()?.parent(&n.id).map(|p| p.id.clone())),
            labels: file.meta.labels.clone(),
            position: file.meta.position,
            id_assigned: file.meta.id.is_some(),
            has_diagnostics: !file.diagnostics.is_empty(),
        };
        Ok(Page {
            summary,
            body: file.body().to_owned(),
            version: n,
            diagnostics: file.diagnostics.clone(),
            fields: file.fields(),
        })
    }

    /// Compares two versions of a page (their whole files, so title and label changes show).
    pub fn diff(&mut self, id: &PageId, from: u32, to: u32) -> Result<PageDiff, SpaceError> {
        let (old, _) = self.version_file(id, from)?;
        let (new, _) = self.version_file(id, to)?;
        let (old, new) = (old.to_text(), new.to_text());
        Ok(PageDiff {
            from,
            to,
            unified: diff::unified(&old, &new, &format!("version {from}"), &format!("version {to}")),
            words: diff::words(&old, &new),
        })
    }

    /// Deleted pages that can be restored, newest first.
    pub fn trash(&mut self) -> Result<Vec<TrashEntry>, SpaceError> {
        self.history_index()?;
        let rows = self.cache.query(|tx| tx.deleted())?;
        let catalog = self.catalog()?;
        Ok(rows
            .into_iter()
            .filter_map(|(v, c)| {
                let id = PageId::parse(&v.id)?;
                catalog.get(&id).is_none().then_some(TrashEntry {
                    id,
                    title: v.title,
                    path: v.path,
                    commit: c.oid,
                    author: Author { name: c.name, email: c.email },
                    time: c.time,
                })
            })
            .collect())
    }

    /// The templates of the space, each parsed or with what is wrong with it.
    pub fn templates(&self) -> Result<Vec<Result<Template, TemplateError>>, SpaceError> {
        let dir = self.store.root().join(TEMPLATE_DIR);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stem = name.strip_suffix(".md")?.to_owned();
                Some((stem, e.path()))
            })
            .collect();
        names.sort();
        let mut out = Vec::new();
        for (name, path) in names {
            let bytes = std::fs::read(&path).map_err(SpaceError::io(&path))?;
            out.push(Template::parse(&name, &bytes));
        }
        Ok(out)
    }

    /// One template by name.
    pub fn template(&self, name: &str) -> Result<Template, SpaceError> {
        if !crate::templates::valid_name(name) {
            return Err(SpaceError::TemplateNotFound(name.to_owned()));
        }
        let path = self.store.root().join(TEMPLATE_DIR).join(format!("{name}.md"));
        let bytes = std::fs::read(&path).map_err(|_| SpaceError::TemplateNotFound(name.to_owned()))?;
        Ok(Template::parse(name, &bytes)?)
    }

    /// Pages that link to a page (by relative link or `[[title]]`).
    pub fn backlinks(&mut self, id: &PageId) -> Result<Vec<Backlink>, SpaceError> {
        let node = self.node(id)?;
        self.ensure_links()?;
        let targets = link_targets(&node);
        let rows = self.cache.query(|tx| tx.links_to(&targets, None))?;
        let catalog = self.catalog()?;
        let mut out: Vec<Backlink> = Vec::new();
        for (src, _, line) in rows {
            let Some(page) = catalog.by_stem(crate::catalog::stem_of(&src)) else {
                continue;
            };
            if page.id == node.id || out.iter().any(|b| b.page.id == page.id) {
                continue;
            }
            out.push(Backlink { page: catalog.summary(page), line });
        }
        out.sort_by(|a, b| crate::catalog::natural(&a.page.title, &b.page.title));
        Ok(out)
    }

    /// The links of a page that point at pages of this space: `(url as written, page id)`, so a
    /// viewer can follow them by id (`../deploy.md`, `[[Deployment Guide]]`).
    pub fn page_links(&mut self, id: &PageId) -> Result<Vec<(String, PageId)>, SpaceError> {
        let node = self.node(id)?;
        let body = self.page(id)?.body;
        let from = node.file.clone().unwrap_or_else(|| format!("{}.md", node.stem));
        let catalog = self.catalog()?;
        let mut out: Vec<(String, PageId)> = Vec::new();
        for link in links::extract(&body) {
            let found = match links::resolve(&link, &from) {
                Target::Path { path, .. } => catalog.by_stem(crate::catalog::stem_of(&path)),
                Target::Wiki { title, .. } if !title.is_empty() => {
                    let wanted = title.to_lowercase();
                    catalog.find_title(&title).into_iter().next().or_else(|| {
                        catalog.nodes().find(|n| crate::catalog::last_component(&n.stem).to_lowercase() == wanted)
                    })
                }
                _ => None,
            };
            if let Some(page) = found
                && !out.iter().any(|(url, _)| *url == link.url)
            {
                out.push((link.url, page.id.clone()));
            }
        }
        Ok(out)
    }

    /// Every link in the space that points at nothing: relative links to missing files and
    /// `[[titles]]` no page has.
    pub fn broken_links(&mut self) -> Result<Vec<BrokenLink>, SpaceError> {
        self.ensure_links()?;
        let rows = self.cache.query(|tx| tx.all_links())?;
        let root = self.store.root().to_path_buf();
        let catalog = self.catalog()?;
        let mut titles = std::collections::HashSet::new();
        for node in catalog.nodes() {
            titles.insert(node.title.to_lowercase());
            titles.insert(crate::catalog::last_component(&node.stem).to_lowercase());
        }
        let mut out = Vec::new();
        for (src, target, line, url) in rows {
            let exists = match target.strip_prefix("wiki:") {
                Some(title) => titles.contains(title),
                None => catalog.by_stem(crate::catalog::stem_of(&target)).is_some() || root.join(&target).exists(),
            };
            if exists {
                continue;
            }
            let Some(page) = catalog.by_stem(crate::catalog::stem_of(&src)) else {
                continue;
            };
            out.push(BrokenLink { page: page.id.clone(), title: page.title.clone(), path: src, line, url });
        }
        Ok(out)
    }

    /// Computes the outgoing links of every file whose links are not cached yet.
    fn ensure_links(&mut self) -> Result<(), SpaceError> {
        let stale = self.cache.query(|tx| tx.stale_link_paths())?;
        if stale.is_empty() {
            return Ok(());
        }
        let mut computed = Vec::with_capacity(stale.len());
        for path in stale {
            let links = match self.read_page_file(&path) {
                Ok(file) => outgoing(&path, file.body()),
                Err(_) => Vec::new(),
            };
            computed.push((path, links));
        }
        self.cache.transaction(|tx| {
            for (path, links) in &computed {
                tx.set_links(path, links)?;
            }
            Ok(())
        })?;
        Ok(())
    }
}

/// The targets other pages use to link to `node`: its file, its folder, its title, its name.
fn link_targets(node: &Node) -> Vec<String> {
    let mut targets = vec![node.stem.clone(), format!("wiki:{}", node.title.to_lowercase())];
    if let Some(file) = &node.file {
        targets.push(file.clone());
    }
    let name = crate::catalog::last_component(&node.stem).to_lowercase();
    targets.push(format!("wiki:{name}"));
    targets.dedup();
    targets
}

/// The links of a body as cache rows: `(target, line, url)`.
pub(crate) fn outgoing(path: &str, body: &str) -> Vec<(String, usize, String)> {
    links::extract(body)
        .into_iter()
        .filter_map(|link| {
            let target = match links::resolve(&link, path) {
                Target::Path { path, .. } => path,
                Target::Wiki { title, .. } if !title.is_empty() => {
                    format!("wiki:{}", title.to_lowercase())
                }
                _ => return None,
            };
            Some((target, link.line, link.url))
        })
        .collect()
}

/// Reads `space.yaml`, if there is one.
pub fn read_space_file(root: &Path) -> Result<Option<SpaceInfo>, SpaceError> {
    let path = root.join(SPACE_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let info: SpaceInfo =
        yaml_serde::from_str(&text).map_err(|e| SpaceError::SpaceFile(format!("{e}; fix {}", path.display())))?;
    let key = SpaceKey::parse(info.key.as_str())
        .ok_or_else(|| SpaceError::SpaceFile(format!("`key: {}` is not a space key (letters, digits, _)", info.key)))?;
    Ok(Some(SpaceInfo { key, ..info }))
}

/// The text of a `space.yaml`.
pub fn space_file_text(info: &SpaceInfo) -> String {
    let mut fm = crate::frontmatter::Frontmatter::empty();
    use crate::frontmatter::FmValue;
    fm.set("key", &FmValue::Str(info.key.to_string()));
    fm.set("name", &FmValue::Str(info.name.clone()));
    if let Some(d) = &info.description {
        fm.set("description", &FmValue::Str(d.clone()));
    }
    if let Some(h) = &info.homepage {
        fm.set("homepage", &FmValue::Quoted(h.to_string()));
    }
    fm.text().to_owned()
}

/// Groups `values` given as `k=v` strings; used by shells for template fields.
pub fn parse_fields(pairs: &[String]) -> Result<BTreeMap<String, String>, SpaceError> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| SpaceError::Invalid(format!("`{pair}` is not a field value; write it as name=value")))?;
        out.insert(k.trim().to_owned(), v.to_owned());
    }
    Ok(out)
}
