//! A Confluence space into a space repository: every page version (or only the current one), each
//! attachment and comment as a commit by its original author at its original date, in the order
//! they happened; then the loss report.
//!
//! Resuming needs no state of its own: each commit names what it imported in a
//! `Confluence-Import:` trailer, so a second run skips what the branch already holds.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::path::Path;

use cdo_core::catalog::{last_component, stem_of};
use cdo_core::model::{PageId, SpaceInfo, SpaceKey};
use cdo_core::page::{Meta, PageFile, normalize_label};
use cdo_core::space::{Comment as CoreComment, comments_path, space_file_text};
use cdo_core::store::{Change, Store};
use cdo_core::{Author, templates};
use cdo_storage::{Context, Converted};

use crate::MigrateError;
use crate::model::{Blob, Content, Kind, SpaceData, When};
use crate::plan::{Plan, REPORT_FILE};
use crate::report::{PageLosses, Report};

/// The trailer that marks what a commit imported.
const TRAILER: &str = "Confluence-Import:";

/// How to write.
#[derive(Clone, Debug)]
pub struct Options {
    /// Every version as a commit; otherwise only the current one.
    pub history: bool,
    /// Who runs the migration: the author of the first and last commits.
    pub migrator: Author,
    /// Threads converting pages.
    pub threads: usize,
    /// The Jira site issue macros link to (`https://acme.atlassian.net`).
    pub jira: Option<String>,
    /// Spaces beside this one that links may lead into (by key).
    pub neighbours: std::collections::HashMap<String, crate::plan::Neighbour>,
    /// Commits written per pack file (each pack also moves the branch and checks out the
    /// files); [`Options::BATCH`] unless a test wants several packs from little data.
    pub batch: usize,
}

impl Options {
    /// Commits per pack file by default.
    pub const BATCH: usize = 2000;
}

/// What long work reports as it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// `fetching`, `converting`, `committing`.
    pub phase: &'static str,
    pub done: usize,
    pub total: usize,
}

/// One thing to commit.
#[derive(Clone, Copy, Debug)]
enum Event {
    /// A version of a content (index into `versions`); without history, the current one with
    /// its attachments and comments.
    Version {
        content: usize,
        version: usize,
    },
    Attachment {
        content: usize,
        attachment: usize,
    },
    Comment {
        content: usize,
        comment: usize,
    },
}

/// Converts every version that will be written, in parallel.
fn convert_all(
    data: &SpaceData,
    plan: &Plan,
    history: bool,
    threads: usize,
    progress: &mut dyn FnMut(Progress),
) -> Vec<Vec<Option<Converted>>> {
    let jobs: Vec<(usize, usize)> = data
        .contents
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let first = if history { 0 } else { c.versions.len().saturating_sub(1) };
            (first..c.versions.len()).map(move |v| (i, v))
        })
        .collect();
    let total = jobs.len();
    let mut out: Vec<Vec<Option<Converted>>> = data.contents.iter().map(|c| vec![None; c.versions.len()]).collect();
    let threads = threads.clamp(1, 64);
    let chunk = total.div_ceil(threads).max(1);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let waiting = std::thread::current();
    let results: Vec<Vec<(usize, usize, Converted)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                let (done, waiting) = (&done, waiting.clone());
                scope.spawn(move || {
                    let out = part
                        .iter()
                        .map(|&(i, v)| {
                            let converted = convert(plan, i, &data.contents[i].versions[v].storage);
                            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            (i, v, converted)
                        })
                        .collect::<Vec<_>>();
                    waiting.unpark();
                    out
                })
            })
            .collect();
        // Progress from this thread while the others convert.
        loop {
            let now = done.load(std::sync::atomic::Ordering::Relaxed);
            progress(Progress { phase: "converting", done: now, total });
            if handles.iter().all(|h| h.is_finished()) {
                break;
            }
            std::thread::park_timeout(std::time::Duration::from_millis(100));
        }
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    for (i, v, converted) in results.into_iter().flatten() {
        out[i][v] = Some(converted);
    }
    progress(Progress { phase: "converting", done: total, total });
    out
}

/// One storage body to Markdown for the page at its planned path. A body that does not parse is
/// kept whole in a verbatim block and reported.
pub fn convert(plan: &Plan, content: usize, storage: &str) -> Converted {
    let path = &plan.paths[content];
    let links = plan.links(path);
    let ctx = Context { attachments: format!("{}.attachments", last_component(stem_of(path))), links: &links };
    match cdo_storage::to_markdown(storage, &ctx) {
        Ok(converted) => converted,
        Err(e) => {
            let mut ticks = "```".to_owned();
            while storage.contains(&ticks) {
                ticks.push('`');
            }
            Converted {
                markdown: format!("{ticks}{}\n{storage}\n{ticks}\n", cdo_storage::VERBATIM_LANGUAGE),
                losses: vec![cdo_storage::Loss {
                    what: "body".into(),
                    detail: format!("the storage format does not parse ({e}); kept verbatim"),
                }],
            }
        }
    }
}

/// Writes `data` into the space repository at `root` (created when missing, resumed when it
/// holds an earlier run of the same migration). Returns the report.
pub fn write_space(
    root: &Path,
    data: &SpaceData,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, MigrateError> {
    let key = SpaceKey::parse(&data.key)
        .ok_or_else(|| MigrateError::Invalid(format!("`{}` is not a space key", data.key)))?;
    let plan = Plan::new(data, options.jira.as_deref()).with_neighbours(options.neighbours.clone());
    let converted = convert_all(data, &plan, options.history, options.threads, progress);

    let fresh = !root.join(".git").exists();
    if !fresh && !root.join(cdo_core::space::SPACE_FILE).exists() {
        return Err(MigrateError::Invalid(format!(
            "{} is a git repository but not a space; choose another folder",
            root.display()
        )));
    }
    std::fs::create_dir_all(root).map_err(|e| MigrateError::io(root, e))?;
    let store = if fresh { Store::init(root)? } else { Store::open(root)? };
    let done = imported_markers(&store)?;
    if !fresh && done.is_empty() {
        return Err(MigrateError::Invalid(format!(
            "{} already holds a space that was not made by this migration; choose another key or folder",
            root.display()
        )));
    }

    let events = events(data, options.history);
    let first_when = events.first().map(|(w, _)| *w).unwrap_or_default();
    let info = SpaceInfo {
        key,
        name: if data.name.trim().is_empty() { data.key.clone() } else { data.name.trim().to_owned() },
        description: data.description.clone().filter(|d| !d.trim().is_empty()),
        homepage: None,
    };
    let mut report = Report::new(data, options.history);
    let lock = store.lock()?;
    // Every object is made here from bytes in hand: libgit2 need not hash what it reads back
    // nor look up what a new tree or commit refers to. (Process-wide; restored below.)
    git2::opts::strict_hash_verification(false);
    git2::opts::strict_object_creation(false);
    let _restore = RestoreStrict;
    let repo = store.repo();
    let odb = repo.odb().map_err(git_error("opening the objects"))?;
    let mempack = odb.add_new_mempack_backend(1000).map_err(git_error("opening the objects"))?;
    let branch = match repo
        .find_reference("HEAD")
        .ok()
        .and_then(|h| h.symbolic_target().ok().flatten().map(str::to_owned))
    {
        Some(branch) => branch,
        None => {
            return Err(MigrateError::Invalid(format!("{} is on a detached HEAD; check out a branch", root.display())));
        }
    };
    let mut bulk = Bulk {
        repo,
        odb: &odb,
        mempack: &mempack,
        branch,
        prefix: store.prefix().to_owned(),
        head: store.head_id()?,
        pending: 0,
        batch: options.batch.max(1),
        made: Vec::new(),
    };
    let start_marker = format!("space {}", data.key);
    if !done.contains(&start_marker) {
        let mut writes = vec![(cdo_core::space::SPACE_FILE.to_owned(), space_file_text(&info).into_bytes())];
        for (name, text) in templates::BUILTIN {
            writes.push((format!("{}/{name}.md", templates::TEMPLATE_DIR), text.as_bytes().to_vec()));
        }
        let message = format!("Create space {} from Confluence\n\n{TRAILER} {start_marker}", data.key);
        bulk.commit(&Change { message, writes, ..Default::default() }, &options.migrator, first_when)?;
    }

    let mut comments: HashMap<usize, Vec<CoreComment>> = HashMap::new();
    let mut zips = Zips::default();
    let total = events.len();
    for (n, (when, event)) in events.iter().enumerate() {
        if n % 16 == 0 {
            progress(Progress { phase: "committing", done: n, total });
        }
        let marker = marker(data, *event);
        let (change, by) = match *event {
            Event::Version { content, version } => {
                let c = &data.contents[content];
                let v = &c.versions[version];
                let converted = converted[content][version].clone().unwrap_or_default();
                if version + 1 == c.versions.len() {
                    report.pages.push(PageLosses {
                        title: c.title().to_owned(),
                        path: plan.paths[content].clone(),
                        losses: converted.losses.clone(),
                    });
                }
                if done.contains(&marker) {
                    continue;
                }
                let mut writes =
                    vec![(plan.paths[content].clone(), page_text(c, version, &plan, content, &converted)?)];
                if !options.history {
                    for a in &c.attachments {
                        match attachment_bytes(&a.data, &mut zips) {
                            Ok(bytes) => writes.push((attachment_path(&plan, content, &a.filename)?, bytes)),
                            Err(why) => {
                                report.failures.push(format!("{}: attachment {}: {why}", c.title(), a.filename))
                            }
                        }
                    }
                }
                let verb = if version == 0 { "Create" } else { "Update" };
                let kind = if c.kind == Kind::BlogPost { " blog post" } else { "" };
                let mut message = format!("{verb}{kind} \"{}\"", v.title.replace(['\n', '\r'], " "));
                if !v.message.trim().is_empty() {
                    message.push_str("\n\n");
                    message.push_str(v.message.trim());
                }
                message.push_str(&format!("\n\n{TRAILER} {marker}"));
                (Change { message, writes, ..Default::default() }, v.by.author())
            }
            Event::Attachment { content, attachment } => {
                let c = &data.contents[content];
                let a = &c.attachments[attachment];
                if done.contains(&marker) {
                    continue;
                }
                let bytes = match attachment_bytes(&a.data, &mut zips) {
                    Ok(bytes) => bytes,
                    Err(why) => {
                        report.failures.push(format!("{}: attachment {}: {why}", c.title(), a.filename));
                        continue;
                    }
                };
                let path = attachment_path(&plan, content, &a.filename)?;
                let message = format!("Attach {} to \"{}\"\n\n{TRAILER} {marker}", a.filename, c.title());
                (Change { message, writes: vec![(path, bytes)], ..Default::default() }, a.by.author())
            }
            Event::Comment { content, comment } => {
                let c = &data.contents[content];
                let k = &c.comments[comment];
                let list = comments.entry(content).or_default();
                list.push(core_comment(k, &plan, content));
                if done.contains(&marker) {
                    continue;
                }
                let path = comments_path(&page_id(&c.id)?);
                let message = format!("Comment on \"{}\"\n\n{TRAILER} {marker}", c.title());
                (Change { message, writes: vec![(path, comments_yaml(list)?)], ..Default::default() }, k.by.author())
            }
        };
        bulk.commit(&change, &by, *when)?;
    }
    progress(Progress { phase: "committing", done: total, total });

    // Without history, the comments of every page in one commit: each commit that touches
    // `_comments/` rewrites its tree, which holds a file per page with comments.
    if !options.history {
        let mut writes = Vec::new();
        let mut count = 0;
        let mut latest = first_when;
        for (i, c) in data.contents.iter().enumerate() {
            if c.comments.is_empty() {
                continue;
            }
            let all: Vec<CoreComment> = c.comments.iter().map(|k| core_comment(k, &plan, i)).collect();
            writes.push((comments_path(&page_id(&c.id)?), comments_yaml(&all)?));
            count += all.len();
            latest = c.comments.iter().map(|k| k.when).fold(latest, |a, b| if b.seconds > a.seconds { b } else { a });
        }
        if !writes.is_empty() {
            let message = format!(
                "Add {count} comments on {} pages from Confluence\n\n{TRAILER} comments {}",
                writes.len(),
                data.key
            );
            bulk.commit(&Change { message, writes, ..Default::default() }, &options.migrator, latest)?;
        }
    }

    // The report and the home page, last, by whoever ran the migration.
    let finish = format!("report {}", data.key);
    let homepage =
        data.homepage.as_deref().and_then(PageId::parse).filter(|h| data.contents.iter().any(|c| c.id == h.as_str()));
    // Rewritten on every run: a resumed migration reports what it has now.
    {
        let info = SpaceInfo { homepage, ..info };
        let report_page = report.page_text();
        let writes = vec![
            (cdo_core::space::SPACE_FILE.to_owned(), space_file_text(&info).into_bytes()),
            (REPORT_FILE.to_owned(), report_page.into_bytes()),
        ];
        let message = format!("Report on the migration of {} from Confluence\n\n{TRAILER} {finish}", data.key);
        let now = jiff::ZonedDateTime::now();
        let when = When { seconds: now.timestamp().as_second(), offset_minutes: now.offset().seconds() / 60 };
        bulk.commit(&Change { message, writes, ..Default::default() }, &options.migrator, when)?;
    }
    bulk.flush()?;
    drop(lock);
    Ok(report)
}

/// Commits written in bulk: objects go into an in-memory pack, written out as one pack file
/// every [`Options::batch`] commits, when the branch moves and the changed files are checked out.
/// (A loose object per blob, tree and commit made file creation the whole cost of an import.)
struct Bulk<'r> {
    repo: &'r git2::Repository,
    odb: &'r git2::Odb<'r>,
    mempack: &'r git2::Mempack<'r>,
    /// The branch HEAD names.
    branch: String,
    /// The space's folder inside the repository (`""` or `docs/`).
    prefix: String,
    head: Option<git2::Oid>,
    pending: usize,
    batch: usize,
    /// Objects made since the last pack: blobs, the trees on the written paths, commits.
    made: Vec<git2::Oid>,
}

/// Turns libgit2's checks back on when the import ends, however it ends.
struct RestoreStrict;

impl Drop for RestoreStrict {
    fn drop(&mut self) {
        git2::opts::strict_hash_verification(true);
        git2::opts::strict_object_creation(true);
    }
}

fn git_error(context: &str) -> impl FnOnce(git2::Error) -> MigrateError + '_ {
    move |e| MigrateError::Git(format!("{context}: {}", e.message()))
}

impl Bulk<'_> {
    /// One commit of `writes` (paths in the space) by `author` at `when`; `false` when it would
    /// change nothing.
    fn commit(&mut self, change: &Change, author: &Author, when: When) -> Result<bool, MigrateError> {
        let repo = self.repo;
        let parent = match self.head {
            Some(head) => Some(repo.find_commit(head).map_err(git_error("reading the last commit"))?),
            None => None,
        };
        let base = match &parent {
            Some(commit) => Some(commit.tree().map_err(git_error("reading the last commit"))?),
            None => None,
        };
        let empty;
        let base_tree = match &base {
            Some(tree) => tree,
            None => {
                let oid = repo.treebuilder(None).and_then(|b| b.write()).map_err(git_error("an empty tree"))?;
                empty = repo.find_tree(oid).map_err(git_error("an empty tree"))?;
                &empty
            }
        };
        let paths: Vec<String> = change.writes.iter().map(|(path, _)| format!("{}{path}", self.prefix)).collect();
        let mut update = git2::build::TreeUpdateBuilder::new();
        let made_before = self.made.len();
        for (full, (_, bytes)) in paths.iter().zip(&change.writes) {
            let oid = repo.blob(bytes).map_err(git_error("writing a file"))?;
            self.made.push(oid);
            update.upsert(full.as_str(), oid, git2::FileMode::Blob);
        }
        let tree = update.create_updated(repo, base_tree).map_err(git_error("writing a tree"))?;
        if base.as_ref().is_some_and(|b| b.id() == tree) {
            self.made.truncate(made_before);
            return Ok(false);
        }
        // The new trees: the root and every folder on a written path.
        self.made.push(tree);
        let tree = repo.find_tree(tree).map_err(git_error("reading a tree"))?;
        for full in &paths {
            let mut dir = full.as_str();
            while let Some((parent, _)) = dir.rsplit_once('/') {
                if let Ok(entry) = tree.get_path(Path::new(parent)) {
                    self.made.push(entry.id());
                }
                dir = parent;
            }
        }
        let time = git2::Time::new(when.seconds, when.offset_minutes);
        let signature = git2::Signature::new(&author.name, &author.email, &time).map_err(git_error("the author"))?;
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let oid = repo
            .commit(None, &signature, &signature, &change.message, &tree, &parents)
            .map_err(git_error("writing a commit"))?;
        self.made.push(oid);
        self.head = Some(oid);
        self.pending += 1;
        if self.pending >= self.batch {
            self.flush()?;
        }
        Ok(true)
    }

    /// Writes the pending objects as a pack, moves the branch, checks the files out.
    fn flush(&mut self) -> Result<(), MigrateError> {
        let Some(head) = self.head else { return Ok(()) };
        if self.pending == 0 {
            return Ok(());
        }
        // Only what was made: the mempack's own dump walks every commit's whole tree.
        let mut builder = self.repo.packbuilder().map_err(git_error("packing"))?;
        builder.set_threads(0);
        let mut seen = std::collections::HashSet::new();
        for oid in self.made.drain(..) {
            if seen.insert(oid) {
                builder.insert_object(oid, None).map_err(git_error("packing"))?;
            }
        }
        let mut pack = git2::Buf::new();
        builder.write_buf(&mut pack).map_err(git_error("packing"))?;
        let mut writer = self.odb.packwriter().map_err(git_error("writing a pack"))?;
        std::io::Write::write_all(&mut writer, &pack).map_err(|e| MigrateError::Git(format!("writing a pack: {e}")))?;
        writer.commit().map_err(git_error("writing a pack"))?;
        self.mempack.reset().map_err(git_error("packing"))?;
        self.odb.refresh().map_err(git_error("reading the new pack"))?;
        self.repo
            .reference(&self.branch, head, true, "confluence-do: import from Confluence")
            .map_err(git_error("moving the branch"))?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.force();
        self.repo.checkout_head(Some(&mut checkout)).map_err(git_error("writing the files"))?;
        self.pending = 0;
        Ok(())
    }
}

/// What the branch already imported: the trailers of its commits.
fn imported_markers(store: &Store) -> Result<HashSet<String>, MigrateError> {
    let mut out = HashSet::new();
    let Some(head) = store.head_id()? else { return Ok(out) };
    let repo = store.repo();
    let mut walk = repo.revwalk().map_err(|e| MigrateError::Git(e.to_string()))?;
    walk.push(head).map_err(|e| MigrateError::Git(e.to_string()))?;
    walk.simplify_first_parent().map_err(|e| MigrateError::Git(e.to_string()))?;
    for oid in walk {
        let oid = oid.map_err(|e| MigrateError::Git(e.to_string()))?;
        let commit = repo.find_commit(oid).map_err(|e| MigrateError::Git(e.to_string()))?;
        let message = commit.message().unwrap_or("");
        if let Some(line) = message.lines().rev().find(|l| l.starts_with(TRAILER)) {
            out.insert(line[TRAILER.len()..].trim().to_owned());
        }
    }
    Ok(out)
}

fn marker(data: &SpaceData, event: Event) -> String {
    match event {
        Event::Version { content, version } => {
            let c = &data.contents[content];
            format!("{} {} v{}", kind_word(c.kind), c.id, c.versions[version].number)
        }
        Event::Attachment { content, attachment } => {
            let c = &data.contents[content];
            format!("attachment {} of {}", c.attachments[attachment].id, c.id)
        }
        Event::Comment { content, comment } => {
            let c = &data.contents[content];
            format!("comment {} on {}", c.comments[comment].id, c.id)
        }
    }
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Page => "page",
        Kind::BlogPost => "blogpost",
    }
}

/// Everything to commit, in the order it happened (ties keep the tree order, so a parent's
/// first version comes before its children's).
fn events(data: &SpaceData, history: bool) -> Vec<(When, Event)> {
    let mut out = Vec::new();
    for (i, c) in data.contents.iter().enumerate() {
        if history {
            for (v, version) in c.versions.iter().enumerate() {
                out.push((version.when, Event::Version { content: i, version: v }));
            }
            for (a, att) in c.attachments.iter().enumerate() {
                out.push((att.when, Event::Attachment { content: i, attachment: a }));
            }
            for (k, comment) in c.comments.iter().enumerate() {
                out.push((comment.when, Event::Comment { content: i, comment: k }));
            }
        } else if let Some(current) = c.current() {
            out.push((current.when, Event::Version { content: i, version: c.versions.len() - 1 }));
        }
    }
    // Stable: equal times keep the order above.
    out.sort_by_key(|(when, _)| when.seconds);
    out
}

fn page_id(id: &str) -> Result<PageId, MigrateError> {
    PageId::parse(id).ok_or_else(|| MigrateError::Invalid(format!("`{id}` is not a Confluence content id")))
}

fn page_text(
    c: &Content,
    version: usize,
    plan: &Plan,
    index: usize,
    converted: &Converted,
) -> Result<Vec<u8>, MigrateError> {
    let mut file = PageFile::new(&converted.markdown);
    let mut labels: Vec<String> = Vec::new();
    for label in &c.labels {
        if let Some(l) = normalize_label(label)
            && !labels.contains(&l)
        {
            labels.push(l);
        }
    }
    let meta = Meta {
        id: Some(page_id(&c.id)?),
        title: Some(c.versions[version].title.clone()),
        labels,
        position: plan.positions[index],
        template: None,
    };
    file.set_meta(&meta).map_err(|e| MigrateError::Invalid(format!("{}: {e}", c.title())))?;
    if c.kind == Kind::BlogPost {
        let date = c.versions.first().map(|v| v.when.rfc3339()).unwrap_or_default();
        file.set("date", Some(cdo_core::frontmatter::FmValue::Str(date)))
            .map_err(|e| MigrateError::Invalid(format!("{}: {e}", c.title())))?;
    }
    Ok(file.to_text().into_bytes())
}

fn attachment_path(plan: &Plan, content: usize, filename: &str) -> Result<String, MigrateError> {
    let name = cdo_core::space::check_attachment_name(filename)
        .map_err(|e| MigrateError::Invalid(format!("attachment `{filename}`: {e}")))?;
    Ok(format!("{}.attachments/{name}", stem_of(&plan.paths[content])))
}

fn core_comment(k: &crate::model::Comment, plan: &Plan, content: usize) -> CoreComment {
    let body = convert_comment(&k.storage, plan, content);
    let author = k.by.author();
    CoreComment {
        id: PageId::parse(&k.id).unwrap_or_else(|| PageId::derived(&k.id)),
        author: format!("{} <{}>", author.name, author.email),
        created: k.when.rfc3339(),
        body,
        parent: k.parent.as_deref().and_then(PageId::parse),
        inline: k.inline.clone().filter(|t| !t.trim().is_empty()),
    }
}

fn convert_comment(storage: &str, plan: &Plan, content: usize) -> String {
    convert(plan, content, storage).markdown.trim_end().to_owned()
}

fn comments_yaml(all: &[CoreComment]) -> Result<Vec<u8>, MigrateError> {
    yaml_serde::to_string(all).map(String::into_bytes).map_err(|e| MigrateError::Invalid(format!("comments: {e}")))
}

/// Open zip archives, so each attachment does not reopen its export.
#[derive(Default)]
struct Zips {
    open: HashMap<std::path::PathBuf, zip::ZipArchive<std::fs::File>>,
}

fn attachment_bytes(blob: &Blob, zips: &mut Zips) -> Result<Vec<u8>, String> {
    match blob {
        Blob::Bytes(b) => Ok(b.clone()),
        Blob::File(path) => std::fs::read(path).map_err(|e| format!("{}: {e}", path.display())),
        Blob::Missing(why) => Err(why.clone()),
        Blob::Zip { archive, entry } => {
            if !zips.open.contains_key(archive) {
                let file = std::fs::File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
                let zip = zip::ZipArchive::new(file).map_err(|e| format!("{}: {e}", archive.display()))?;
                zips.open.insert(archive.clone(), zip);
            }
            let zip = zips.open.get_mut(archive).ok_or_else(|| "the export is not open".to_owned())?;
            let mut file = zip.by_name(entry).map_err(|e| format!("{entry} in the export: {e}"))?;
            let mut bytes = Vec::with_capacity(usize::try_from(file.size()).unwrap_or(0).min(1 << 30));
            file.read_to_end(&mut bytes).map_err(|e| format!("{entry} in the export: {e}"))?;
            Ok(bytes)
        }
    }
}
