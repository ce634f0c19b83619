//! Writes to a space. Each is exactly one commit, authored by the person editing, made under
//! the space's write lock: create, update (a new title renames the file), move and reorder,
//! delete, undelete, restore a version, assign ids. Renames and moves rewrite every link that
//! pointed at the moved pages, in the same commit.

use std::collections::{BTreeMap, BTreeSet};

use git2::Oid;

use super::Space;
use crate::catalog::{last_component, parent_stem, plan_positions, stem_of};
use crate::error::SpaceError;
use crate::frontmatter::FmValue;
use crate::history::effective_title;
use crate::links::{self, LinkKind, Target};
use crate::model::{Author, NodeKind, PageId, PageSummary};
use crate::page::{PageFile, normalize_label};
use crate::slug;
use crate::store::Change;
use crate::store::tree_edit::TREE_MODE;
use crate::templates::Context;

/// Titles longer than this are refused (Confluence allows 255; a little room for imports).
const MAX_TITLE_CHARS: usize = 2000;

/// A page to create.
#[derive(Clone, Debug, Default)]
pub struct NewPage {
    /// Required unless the template has a title pattern.
    pub title: Option<String>,
    pub parent: Option<PageId>,
    pub labels: Vec<String>,
    /// The body; with a template, an empty body takes the template's.
    pub body: String,
    pub template: Option<String>,
    pub fields: BTreeMap<String, String>,
    /// Index among the new siblings; `None` sorts by title.
    pub position: Option<usize>,
}

/// Changes to a page; `None` leaves a part as it is.
#[derive(Clone, Debug, Default)]
pub struct PageUpdate {
    pub title: Option<String>,
    pub body: Option<String>,
    pub labels: Option<Vec<String>>,
    /// The version the edit started from; a different current version refuses the edit.
    pub base_version: Option<u32>,
    /// The commit message (default: `Update "Title"`).
    pub message: Option<String>,
}

/// Where a page moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MoveTarget {
    Root,
    Under(PageId),
}

/// The result of a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub summary: PageSummary,
    /// The new commit; `None` when nothing changed.
    pub commit: Option<String>,
}

/// Files being changed by one operation, by their path after it.
#[derive(Default)]
struct Draft {
    files: BTreeMap<String, PageFile>,
    moves: Vec<(String, String)>,
    removes: Vec<String>,
    restores: Vec<(String, Oid, i32)>,
}

impl Draft {
    fn into_change(self, message: String) -> Change {
        Change {
            message,
            moves: self.moves,
            removes: self.removes,
            restores: self.restores,
            writes: self.files.into_iter().map(|(p, f)| (p, f.to_text().into_bytes())).collect(),
        }
    }
}

enum Content {
    Keep,
    Body(String),
    Whole(Box<PageFile>),
}

pub(super) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_owned() } else { format!("{dir}/{name}") }
}

fn extension(file: &str) -> &str {
    &file[stem_of(file).len()..]
}

fn check_title(title: &str) -> Result<String, SpaceError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(SpaceError::Invalid("a page needs a title".into()));
    }
    if title.chars().any(char::is_control) {
        return Err(SpaceError::Invalid("a title cannot contain line breaks or control characters".into()));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(SpaceError::Invalid(format!("a title can have at most {MAX_TITLE_CHARS} characters")));
    }
    Ok(title.to_owned())
}

fn labels_of(given: &[String]) -> Result<Vec<String>, SpaceError> {
    let mut out: Vec<String> = Vec::new();
    for label in given {
        let normal = normalize_label(label).ok_or_else(|| SpaceError::Invalid(format!("`{label}` is not a label")))?;
        if !out.contains(&normal) {
            out.push(normal);
        }
    }
    Ok(out)
}

impl Space {
    /// Runs one write: lock, catch up with other writers, plan, commit, refresh.
    pub(super) fn write(
        &mut self,
        author: &Author,
        plan: impl FnOnce(&mut Space) -> Result<Change, SpaceError>,
    ) -> Result<Option<Oid>, SpaceError> {
        let _lock = self.store.lock()?;
        self.sync_with_head()?;
        let change = plan(self)?;
        let empty = change.moves.is_empty()
            && change.removes.is_empty()
            && change.writes.is_empty()
            && change.restores.is_empty();
        let commit = if empty { None } else { self.store.commit(&change, author)? };
        let mut touched: Vec<String> = Vec::new();
        for (a, b) in &change.moves {
            touched.push(a.clone());
            touched.push(b.clone());
        }
        touched.extend(change.removes.iter().cloned());
        touched.extend(change.restores.iter().map(|(p, _, _)| p.clone()));
        touched.extend(change.writes.iter().map(|(p, _)| p.clone()));
        self.refresh_paths_knowing(&touched, &change.writes)?;
        if let Some(commit) = commit {
            self.saw_head(Some(commit))?;
        }
        Ok(commit)
    }

    fn saved(&mut self, id: &PageId, commit: Option<Oid>) -> Result<Saved, SpaceError> {
        Ok(Saved { summary: self.summary(id)?, commit: commit.map(|c| c.to_string()) })
    }

    /// Creates a page.
    pub fn create_page(&mut self, request: &NewPage, author: &Author) -> Result<Saved, SpaceError> {
        let mut id = None;
        let commit = self.write(author, |s| {
            let (change, new_id) = s.plan_create(request, author)?;
            id = Some(new_id);
            Ok(change)
        })?;
        let id = id.ok_or_else(|| SpaceError::Invalid("no page was created".into()))?;
        self.saved(&id, commit)
    }

    fn plan_create(&mut self, request: &NewPage, author: &Author) -> Result<(Change, PageId), SpaceError> {
        let mut labels = labels_of(&request.labels)?;
        let (title, body, fields) = match &request.template {
            Some(name) => {
                let template = self.template(name)?;
                let today = jiff::ZonedDateTime::now().date().to_string();
                let context = Context { title: request.title.as_deref(), today: &today, author: &author.name };
                let instance = template.instantiate(&request.fields, &context)?;
                labels.extend(instance.labels.iter().filter(|l| !labels.contains(l)).cloned().collect::<Vec<_>>());
                let body = if request.body.trim().is_empty() { instance.body } else { request.body.clone() };
                (instance.title, body, instance.fields)
            }
            None => {
                if !request.fields.is_empty() {
                    return Err(SpaceError::Invalid("field values need a template (--template NAME)".into()));
                }
                (request.title.clone().unwrap_or_default(), request.body.clone(), Vec::new())
            }
        };
        let title = check_title(&title)?;
        self.ensure_title_free(&title, None)?;
        let parent_stem = match &request.parent {
            Some(parent) => self.node(parent)?.stem,
            None => String::new(),
        };
        let stem = self.free_stem(&parent_stem, &slug::slugify(&title), None)?;
        let path = format!("{stem}.md");
        let id = loop {
            let id = PageId::random();
            if self.id_free(&id)? {
                break id;
            }
        };
        let mut file = PageFile::new(&body);
        let edit = |e| SpaceError::Edit { id: id.to_string(), title: title.clone(), source: e };
        file.set("id", Some(FmValue::Quoted(id.to_string()))).map_err(edit)?;
        file.set("title", Some(FmValue::Str(title.clone()))).map_err(edit)?;
        if !labels.is_empty() {
            file.set("labels", Some(FmValue::List(labels))).map_err(edit)?;
        }
        for (key, value) in fields {
            file.set(&key, Some(value)).map_err(edit)?;
        }
        let mut draft = Draft::default();
        draft.files.insert(path.clone(), file);
        if let Some(at) = request.position {
            self.place(&mut draft, &parent_stem, &id, &path, at)?;
        }
        Ok((draft.into_change(format!("Create \"{title}\"")), id))
    }

    /// Updates a page's title, body or labels; a new title renames its file.
    pub fn update_page(&mut self, id: &PageId, update: &PageUpdate, author: &Author) -> Result<Saved, SpaceError> {
        let commit = self.write(author, |s| {
            let content = match &update.body {
                Some(body) => Content::Body(body.clone()),
                None => Content::Keep,
            };
            s.plan_edit(
                id,
                update.title.as_deref(),
                content,
                update.labels.as_deref(),
                update.base_version,
                update.message.clone(),
            )
        })?;
        self.saved(id, commit)
    }

    fn plan_edit(
        &mut self,
        id: &PageId,
        title: Option<&str>,
        content: Content,
        labels: Option<&[String]>,
        base_version: Option<u32>,
        message: Option<String>,
    ) -> Result<Change, SpaceError> {
        let node = self.node(id)?;
        if let Some(base) = base_version {
            let current = self.version_count(id)?;
            if base != current {
                return Err(SpaceError::Stale { id: id.to_string(), base, current });
            }
        }
        let (old_path, mut file) = match &node.file {
            Some(path) => (path.clone(), self.read_page_file(path)?),
            None => (format!("{}.md", node.stem), PageFile::new("")),
        };
        let edit = |e| SpaceError::Edit { id: id.to_string(), title: node.title.clone(), source: e };
        if let Some(why) = file.read_only() {
            return Err(edit(crate::page::EditError::ReadOnly(why.to_owned())));
        }
        let mut new_title = match title {
            Some(t) => check_title(t)?,
            None => node.title.clone(),
        };
        match content {
            Content::Keep => {}
            Content::Body(body) => file.set_body(&body).map_err(edit)?,
            Content::Whole(mut old) => {
                old.set("position", node.position.map(FmValue::Int)).map_err(edit)?;
                if title.is_none() {
                    new_title = effective_title(&old, &old_path);
                }
                file = *old;
            }
        }
        if let Some(labels) = labels {
            let labels = labels_of(labels)?;
            file.set("labels", (!labels.is_empty()).then_some(FmValue::List(labels))).map_err(edit)?;
        }
        if file.meta.id.as_ref() != Some(id) {
            file.set("id", Some(FmValue::Quoted(id.to_string()))).map_err(edit)?;
        }
        let renamed = new_title != node.title;
        if renamed || (node.kind == NodeKind::Folder) || file.meta.title.is_none() && title.is_some() {
            if renamed {
                self.ensure_title_free(&new_title, Some(id))?;
            }
            file.set("title", Some(FmValue::Str(new_title.clone()))).map_err(edit)?;
        }
        let mut moves = Vec::new();
        if renamed && node.kind == NodeKind::Page {
            let stem = self.free_stem(parent_stem(&node.stem), &slug::slugify(&new_title), Some(&node.stem))?;
            if stem != node.stem {
                moves.push((node.stem.clone(), stem));
            }
        }
        let mut draft = Draft::default();
        let retitle = renamed.then(|| (node.title.clone(), new_title.clone()));
        self.relink(&mut draft, &moves, retitle.as_ref(), Some((old_path, file)))?;
        let message = message.unwrap_or_else(|| match (&retitle, node.kind) {
            (_, NodeKind::Folder) => format!("Create \"{new_title}\""),
            (Some((old, new)), _) => format!("Rename \"{old}\" to \"{new}\""),
            (None, _) => format!("Update \"{new_title}\""),
        });
        Ok(draft.into_change(message))
    }

    /// Moves a page (with everything below it) under another page or to the top level, and/or to
    /// a position among its new siblings.
    pub fn move_page(
        &mut self,
        id: &PageId,
        target: &MoveTarget,
        position: Option<usize>,
        author: &Author,
    ) -> Result<Saved, SpaceError> {
        let commit = self.write(author, |s| s.plan_move(id, target, position))?;
        self.saved(id, commit)
    }

    fn plan_move(&mut self, id: &PageId, target: &MoveTarget, position: Option<usize>) -> Result<Change, SpaceError> {
        let node = self.node(id)?;
        let (target_stem, target_title) = match target {
            MoveTarget::Root => (String::new(), None),
            MoveTarget::Under(parent) => {
                let t = self.node(parent)?;
                if t.id == node.id || t.stem.starts_with(&format!("{}/", node.stem)) {
                    return Err(SpaceError::Invalid(format!(
                        "\"{}\" cannot move under itself or a page below it",
                        node.title
                    )));
                }
                (t.stem, Some(t.title))
            }
        };
        if position.is_some() && node.kind == NodeKind::Folder {
            return Err(SpaceError::Invalid(format!(
                "\"{}\" is a folder without a page, so it has no position; give it a page first (page update {id} ...)",
                node.title
            )));
        }
        let mut draft = Draft::default();
        let same_parent = parent_stem(&node.stem) == target_stem;
        let new_path;
        if same_parent {
            let Some(at) = position else {
                return Ok(Change::default());
            };
            let path = node.file.clone().unwrap_or_default();
            self.draft_file(&mut draft, &path, &path)?;
            self.place(&mut draft, &target_stem, id, &path, at)?;
            return Ok(draft.into_change(format!("Reorder \"{}\"", node.title)));
        } else {
            let name = last_component(&node.stem).to_owned();
            let stem = self.free_stem(&target_stem, &name, None)?;
            new_path = node.file.as_ref().map(|f| format!("{stem}{}", extension(f)));
            let own = match &node.file {
                Some(f) => Some((f.clone(), self.read_page_file(f)?)),
                None => None,
            };
            self.relink(&mut draft, &[(node.stem.clone(), stem)], None, own)?;
        }
        if let Some(path) = &new_path {
            match position {
                Some(at) => self.place(&mut draft, &target_stem, id, path, at)?,
                None => {
                    if let Some(file) = draft.files.get_mut(path) {
                        let _ = file.set("position", None);
                    }
                }
            }
        }
        let message = match target_title {
            Some(parent) => format!("Move \"{}\" under \"{parent}\"", node.title),
            None => format!("Move \"{}\" to the top level", node.title),
        };
        Ok(draft.into_change(message))
    }

    /// Deletes a page and everything below it.
    pub fn delete_page(&mut self, id: &PageId, author: &Author) -> Result<Saved, SpaceError> {
        let summary = self.summary(id)?;
        let commit = self.write(author, |s| {
            let node = s.node(id)?;
            let below = s.catalog()?.subtree(id).iter().filter(|n| n.kind == NodeKind::Page).count()
                - usize::from(node.kind == NodeKind::Page);
            let mut removes = vec![node.stem.clone(), format!("{}.attachments", node.stem)];
            removes.extend(node.file.clone());
            let message = match below {
                0 => format!("Delete \"{}\"", node.title),
                1 => format!("Delete \"{}\" and the page below it", node.title),
                n => format!("Delete \"{}\" and the {n} pages below it", node.title),
            };
            Ok(Change { message, removes, ..Default::default() })
        })?;
        Ok(Saved { summary, commit: commit.map(|c| c.to_string()) })
    }

    /// Brings back a deleted page (with the pages deleted with it), or with `version`, makes an
    /// old version of a page its newest one.
    pub fn restore_page(&mut self, id: &PageId, version: Option<u32>, author: &Author) -> Result<Saved, SpaceError> {
        self.sync_with_head()?;
        let exists = self.catalog()?.get(id).is_some();
        let commit = match (exists, version) {
            (true, None) => return Err(SpaceError::NotDeleted(id.to_string())),
            (false, Some(_)) => return Err(SpaceError::Deleted(id.to_string())),
            (true, Some(n)) => {
                let (old, _) = self.version_file(id, n)?;
                self.write(author, |s| {
                    let title = s.node(id)?.title;
                    let message = format!("Restore \"{title}\" to version {n}");
                    s.plan_edit(id, None, Content::Whole(Box::new(old)), None, None, Some(message))
                })?
            }
            (false, None) => self.write(author, |s| s.plan_undelete(id))?,
        };
        self.saved(id, commit)
    }

    fn plan_undelete(&mut self, id: &PageId) -> Result<Change, SpaceError> {
        self.history_index()?;
        let last = self.cache.query(|tx| tx.last_version(id.as_str()))?;
        let last = match last {
            Some(v) if v.deleted => v,
            _ => return Err(SpaceError::PageNotFound(id.to_string())),
        };
        let commits = self.cache.query(|tx| tx.history(id.as_str()))?;
        let oid = commits
            .iter()
            .find(|(v, _)| v.seq == last.seq)
            .and_then(|(_, c)| Oid::from_str(&c.oid).ok())
            .ok_or_else(|| SpaceError::PageNotFound(id.to_string()))?;
        let old_stem = stem_of(&last.path).to_owned();
        let parent = parent_stem(&old_stem).to_owned();
        let name = last_component(&old_stem).to_owned();
        let stem = self.free_stem(&parent, &name, None)?;
        let repo = self.store.repo();
        let deleting = repo.find_commit(oid).map_err(|e| SpaceError::Invalid(format!("history: {e}")))?;
        let before = deleting.parent(0).map_err(|e| SpaceError::Invalid(format!("history: {e}")))?;
        let mut restores = Vec::new();
        let file_entry = self.store.entry_at(&before, &last.path)?;
        let dir_entry = self.store.entry_at(&before, &old_stem)?.filter(|(_, m)| *m == TREE_MODE);
        let att_entry =
            self.store.entry_at(&before, &format!("{old_stem}.attachments"))?.filter(|(_, m)| *m == TREE_MODE);
        if let Some((oid, mode)) = file_entry {
            restores.push((format!("{stem}{}", extension(&last.path)), oid, mode));
        }
        if let Some((oid, mode)) = dir_entry {
            restores.push((stem.clone(), oid, mode));
        }
        if let Some((oid, mode)) = att_entry {
            restores.push((format!("{stem}.attachments"), oid, mode));
        }
        Ok(Change { message: format!("Restore \"{}\"", last.title), restores, ..Default::default() })
    }

    /// Writes the ids of pages that have none (pages from other tools) into them, in one commit.
    /// Returns how many pages got an id, and the pages that could not (broken or not text).
    pub fn assign_ids(&mut self, author: &Author) -> Result<(usize, Vec<String>), SpaceError> {
        let mut result = (0, Vec::new());
        self.write(author, |s| {
            let nodes: Vec<_> = s.catalog()?.nodes().filter(|n| !n.id_assigned && n.file.is_some()).cloned().collect();
            let mut draft = Draft::default();
            for node in nodes {
                let Some(path) = node.file.clone() else {
                    continue;
                };
                let mut file = match s.read_page_file(&path) {
                    Ok(file) => file,
                    Err(_) => {
                        result.1.push(path);
                        continue;
                    }
                };
                match file.set("id", Some(FmValue::Quoted(node.id.to_string()))) {
                    Ok(()) => {
                        draft.files.insert(path, file);
                    }
                    Err(_) => result.1.push(path),
                }
            }
            result.0 = draft.files.len();
            result.1.sort();
            Ok(draft.into_change(format!("Assign page ids to {} pages", result.0)))
        })?;
        Ok(result)
    }

    fn ensure_title_free(&mut self, title: &str, except: Option<&PageId>) -> Result<(), SpaceError> {
        if self.point_title_free(title)? == Some(true) {
            return Ok(());
        }
        let taken = self
            .catalog()?
            .find_title(title)
            .into_iter()
            .find(|n| n.kind == NodeKind::Page && Some(&n.id) != except)
            .map(|n| n.id.to_string());
        match taken {
            Some(id) => Err(SpaceError::TitleTaken { title: title.to_owned(), id }),
            None => Ok(()),
        }
    }

    /// The file at `new_path` in the draft, read from `old_path` the first time.
    fn draft_file<'d>(
        &self,
        draft: &'d mut Draft,
        new_path: &str,
        old_path: &str,
    ) -> Result<&'d mut PageFile, SpaceError> {
        if !draft.files.contains_key(new_path) {
            let file = self.read_page_file(old_path)?;
            draft.files.insert(new_path.to_owned(), file);
        }
        draft.files.get_mut(new_path).ok_or_else(|| SpaceError::Invalid(format!("{new_path} vanished")))
    }

    /// Sets `position:` so that `id` (whose file is at `path` in the draft) sits at index `at`
    /// among the pages of folder `dir`.
    fn place(&mut self, draft: &mut Draft, dir: &str, id: &PageId, path: &str, at: usize) -> Result<(), SpaceError> {
        let siblings: Vec<(PageId, Option<i64>, Option<String>)> = self
            .catalog()?
            .children_of_stem(dir)
            .into_iter()
            .filter(|n| &n.id != id)
            .map(|n| (n.id.clone(), n.position, n.file.clone()))
            .collect();
        let order: Vec<(PageId, Option<i64>)> = siblings.iter().map(|(i, p, _)| (i.clone(), *p)).collect();
        for (page, position) in plan_positions(&order, id, at) {
            let file_path = if &page == id {
                path.to_owned()
            } else {
                match siblings.iter().find(|(i, _, _)| *i == page).and_then(|(_, _, f)| f.clone()) {
                    Some(f) => f,
                    None => continue, // a folder without a page has nowhere to keep a position
                }
            };
            let file = match self.draft_file(draft, &file_path, &file_path) {
                Ok(file) => file,
                Err(_) => continue,
            };
            if file.set("position", Some(FmValue::Int(position))).is_err() {
                continue; // broken frontmatter: leave that sibling's order as it is
            }
        }
        Ok(())
    }

    /// Moves `moves` (stem pairs, with their folders and attachments) and rewrites every link
    /// that pointed into them (and, with `retitle`, every `[[old title]]`), plus the relative
    /// links inside the moved pages. `own` is the edited page: always written.
    fn relink(
        &mut self,
        draft: &mut Draft,
        moves: &[(String, String)],
        retitle: Option<&(String, String)>,
        own: Option<(String, PageFile)>,
    ) -> Result<(), SpaceError> {
        if moves.is_empty() && retitle.is_none() {
            // Nothing moves and no title changes: no other page's links can be affected.
            if let Some((path, file)) = own {
                draft.files.insert(path, file);
            }
            return Ok(());
        }
        self.ensure_links()?;
        let map = |path: &str| -> Option<String> {
            for (old, new) in moves {
                if let Some(rest) = path.strip_prefix(old.as_str()) {
                    let inside = rest.is_empty()
                        || rest.starts_with('/')
                        || rest == ".md"
                        || rest == ".markdown"
                        || rest == ".attachments"
                        || rest.starts_with(".attachments/");
                    if inside {
                        return Some(format!("{new}{rest}"));
                    }
                }
            }
            None
        };
        let mut sources: BTreeSet<String> = BTreeSet::new();
        let mut needs_id: BTreeMap<String, PageId> = BTreeMap::new();
        for (old, new) in moves {
            let Some(node) = self.catalog()?.by_stem(old).cloned() else {
                continue;
            };
            if let Some(file) = &node.file {
                draft.moves.push((file.clone(), format!("{new}{}", extension(file))));
            }
            draft.moves.push((old.clone(), new.clone()));
            draft.moves.push((format!("{old}.attachments"), format!("{new}.attachments")));
            for n in self.catalog()?.subtree(&node.id) {
                if let Some(f) = &n.file {
                    sources.insert(f.clone());
                    if !n.id_assigned {
                        needs_id.insert(f.clone(), n.id.clone());
                    }
                }
            }
            let mut targets = vec![old.clone()];
            targets.extend(node.file.clone());
            let rows = self.cache.query(|tx| {
                let mut rows = tx.links_to(&targets, Some(old))?;
                rows.extend(tx.links_to(&[], Some(&format!("{old}.attachments")))?);
                Ok(rows)
            })?;
            sources.extend(rows.into_iter().map(|(src, _, _)| src));
        }
        if let Some((old_title, _)) = retitle {
            let rows = self.cache.query(|tx| tx.links_to(&[format!("wiki:{}", old_title.to_lowercase())], None))?;
            sources.extend(rows.into_iter().map(|(src, _, _)| src));
        }
        let own_path = own.as_ref().map(|(p, _)| p.clone());
        if let Some((path, file)) = own {
            draft.files.insert(map(&path).unwrap_or_else(|| path.clone()), file);
        }
        for src in sources {
            let new_src = map(&src).unwrap_or_else(|| src.clone());
            let is_own = own_path.as_deref() == Some(src.as_str());
            let file = match self.draft_file(draft, &new_src, &src) {
                Ok(file) => file,
                Err(_) => continue, // unreadable or too large: nothing we can rewrite
            };
            let body = links::rewrite(file.body(), |link| rewrite_one(link, &src, &new_src, &map, retitle));
            let mut changed = body != file.body();
            if changed && file.set_body(&body).is_err() {
                changed = false;
            }
            if let Some(id) = needs_id.get(&src) {
                changed |= file.set("id", Some(FmValue::Quoted(id.to_string()))).is_ok();
            }
            if !changed && !is_own {
                // Unchanged (or moved along by its folder): nothing to write.
                draft.files.remove(&new_src);
            }
        }
        Ok(())
    }
}

/// The new destination for one link in a page that moves from `src` to `new_src`.
fn rewrite_one(
    link: &links::Link,
    src: &str,
    new_src: &str,
    map: &dyn Fn(&str) -> Option<String>,
    retitle: Option<&(String, String)>,
) -> Option<String> {
    if link.kind == LinkKind::Wiki {
        let (old, new) = retitle?;
        let target = link.url.split('#').next().unwrap_or_default().trim();
        return (target.to_lowercase() == old.to_lowercase()).then(|| new.clone());
    }
    let Target::Path { path, .. } = links::resolve(link, src) else {
        return None;
    };
    let moved_target = map(&path);
    if moved_target.is_none() && new_src == src {
        return None;
    }
    let target = moved_target.unwrap_or(path);
    if link.url.starts_with('/') {
        return Some(format!("/{target}"));
    }
    // Still right from where the page is now (e.g. both ends moved together): leave it.
    if let Target::Path { path: now, .. } = links::resolve_url(&link.url, new_src)
        && now == target
    {
        return None;
    }
    Some(links::relative(new_src, &target))
}
