//! DocSync: pages kept current from files in git repositories. A source is a file (or, for a
//! changelog, a folder) in a repository (a local folder, or a git URL cloned into the cache),
//! turned into a page by one of three kinds:
//! - `mirror`: the file as it is (Markdown as Markdown, anything else in a code block); with
//!   `two_way`, an edit of the page becomes a commit in the source repository;
//! - `openapi`: an OpenAPI spec as a Markdown reference;
//! - `changelog`: the repository's conventional commits (`feat:`, `fix:`, `feat!:`) grouped by
//!   release tag.
//!
//! A sync is idempotent (nothing changes, nothing is committed) and every sync that changes a
//! page is one commit naming the source commit. An edit on both sides since the last sync is
//! reported, and neither side is overwritten. Sources are listed in `HOME/docsync.yaml`.

use std::path::{Path, PathBuf};

use cdo_core::model::Author;
use cdo_core::{PageId, PageUpdate, Space};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Source(String),
    #[error("docsync.yaml: {0}")]
    Config(String),
    #[error(transparent)]
    Space(#[from] cdo_core::SpaceError),
}

fn source_err(what: impl std::fmt::Display, e: git2::Error) -> SyncError {
    SyncError::Source(format!("{what}: {}", e.message()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Mirror,
    #[serde(rename = "openapi-to-markdown", alias = "openapi")]
    Openapi,
    #[serde(rename = "conventional-commits-to-changelog", alias = "changelog")]
    Changelog,
}

/// A registered source and what the last sync saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub id: u32,
    pub space: String,
    pub page: String,
    /// A local folder or a git URL.
    pub repo: String,
    /// The file in the repository (for a changelog: the folder whose commits count; empty: all).
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    pub kind: Kind,
    #[serde(default)]
    pub two_way: bool,
    /// The source commit the page was last synced from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_commit: Option<String>,
    /// The sha256 of the content the page was given (to tell a page edit since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_content: Option<String>,
}

/// `docsync.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    #[serde(default)]
    pub sources: Vec<Source>,
}

impl Registry {
    pub fn load(home: &Path) -> Result<Registry, SyncError> {
        let path = home.join("docsync.yaml");
        match std::fs::read_to_string(&path) {
            Ok(text) => yaml_serde::from_str(&text).map_err(|e| SyncError::Config(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Registry::default()),
            Err(e) => Err(SyncError::Config(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes it whole or not at all, as the home's other files are written.
    pub fn save(&self, home: &Path) -> Result<(), SyncError> {
        std::fs::create_dir_all(home).map_err(|e| SyncError::Config(e.to_string()))?;
        let text = yaml_serde::to_string(self).map_err(|e| SyncError::Config(e.to_string()))?;
        cdo_core::store::write_atomic(&home.join("docsync.yaml"), text.as_bytes())
            .map_err(|e| SyncError::Config(e.to_string()))
    }

    pub fn next_id(&self) -> u32 {
        self.sources.iter().map(|s| s.id).max().unwrap_or(0) + 1
    }
}

/// What a sync did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// The page already says what the source says.
    Unchanged { source_commit: String },
    /// The page was rewritten from the source, in `page_commit`.
    Updated { source_commit: String, page_commit: String },
    /// The page's edit was committed to the source repository as `source_commit`.
    PushedBack { source_commit: String },
    /// Both the page and the source changed since the last sync: nothing was overwritten.
    Conflict { source_commit: String, detail: String },
}

/// A source's path is inside its repository: relative, without `..`.
pub fn check_path(path: &str) -> Result<(), SyncError> {
    let outside = path.starts_with('/')
        || path.starts_with('\\')
        || path.contains(':')
        || path.split(['/', '\\']).any(|part| part == "..");
    if outside {
        return Err(SyncError::Config(format!(
            "`{path}` is not a path inside the repository; give it relative to the repository's root, without `..`"
        )));
    }
    Ok(())
}

/// The repository of a source: the local folder, or the cache clone of a URL, fetched.
fn open_repo(source: &Source, cache: &Path) -> Result<(git2::Repository, bool), SyncError> {
    let local = !source.repo.contains("://") && !source.repo.starts_with("git@");
    if local {
        let repo = git2::Repository::open(&source.repo).map_err(|e| source_err(&source.repo, e))?;
        return Ok((repo, true));
    }
    let digest = sha2::Sha256::digest(source.repo.as_bytes());
    let dir = cache.join("docsync").join(format!("{:x}", digest).get(..16).unwrap_or("repo"));
    let repo = if dir.join("HEAD").exists() || dir.join(".git").exists() {
        git2::Repository::open(&dir).map_err(|e| source_err(dir.display(), e))?
    } else {
        std::fs::create_dir_all(&dir).map_err(|e| SyncError::Source(format!("{}: {e}", dir.display())))?;
        let mut fetch = git2::FetchOptions::new();
        fetch.remote_callbacks(cdo_core::store::remote_callbacks());
        git2::build::RepoBuilder::new()
            .bare(true)
            .fetch_options(fetch)
            .clone(&source.repo, &dir)
            .map_err(|e| source_err(&source.repo, e))?
    };
    {
        let mut remote = repo.find_remote("origin").map_err(|e| source_err(&source.repo, e))?;
        remote
            .fetch(
                &["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
                Some(git2::FetchOptions::new().remote_callbacks(cdo_core::store::remote_callbacks())),
                None,
            )
            .map_err(|e| source_err(format!("fetching {}", source.repo), e))?;
    }
    Ok((repo, false))
}

fn source_commit<'r>(repo: &'r git2::Repository, source: &Source) -> Result<git2::Commit<'r>, SyncError> {
    let spec = source.branch.as_deref().unwrap_or("HEAD");
    repo.revparse_single(spec)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| source_err(format!("{} has no commit at {spec}", source.repo), e))
}

fn file_at(repo: &git2::Repository, commit: &git2::Commit<'_>, path: &str) -> Result<String, SyncError> {
    let tree = commit.tree().map_err(|e| source_err(path, e))?;
    let entry = tree
        .get_path(Path::new(path))
        .map_err(|_| SyncError::Source(format!("{path} is not in the source at {}", &commit.id().to_string()[..10])))?;
    let blob = entry.to_object(repo).and_then(|o| o.peel_to_blob()).map_err(|e| source_err(path, e))?;
    String::from_utf8(blob.content().to_vec()).map_err(|_| SyncError::Source(format!("{path} is not UTF-8 text")))
}

/// The page content a source gives at `commit` (without the header).
fn render(repo: &git2::Repository, commit: &git2::Commit<'_>, source: &Source) -> Result<String, SyncError> {
    match source.kind {
        Kind::Mirror => {
            let text = file_at(repo, commit, &source.path)?;
            let md = source.path.ends_with(".md") || source.path.ends_with(".markdown");
            Ok(if md {
                text
            } else {
                let lang = source.path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
                format!("```{lang}\n{}\n```\n", text.trim_end())
            })
        }
        Kind::Openapi => openapi_markdown(&file_at(repo, commit, &source.path)?, &source.path),
        Kind::Changelog => changelog(repo, commit, &source.path),
    }
}

const HEADER_START: &str = "> **DocSync**";

fn header(source: &Source, commit: &str) -> String {
    let what = if source.path.is_empty() { source.repo.clone() } else { format!("{} `{}`", source.repo, source.path) };
    let how = if source.two_way {
        "Edits here go back to the source on the next sync."
    } else {
        "Edit the source: this page is rewritten from it on every sync."
    };
    format!("{HEADER_START} from {what} at commit {}. {how}\n\n", &commit[..commit.len().min(10)])
}

/// A page body without its DocSync header.
fn content_of(body: &str) -> &str {
    if body.starts_with(HEADER_START) { body.split_once("\n\n").map_or("", |(_, rest)| rest) } else { body }
}

fn digest(text: &str) -> String {
    format!("{:x}", sha2::Sha256::digest(text.trim_end().as_bytes()))
}

/// Syncs one source with its page. `source` is updated with what the sync saw (save the
/// registry afterwards).
pub fn sync(space: &mut Space, source: &mut Source, cache: &Path, author: &Author) -> Result<Outcome, SyncError> {
    check_path(&source.path)?;
    let (repo, local) = open_repo(source, cache)?;
    let commit = source_commit(&repo, source)?;
    let commit_id = commit.id().to_string();
    let id = PageId::parse(&source.page)
        .ok_or_else(|| SyncError::Config(format!("source {}: `{}` is not a page id", source.id, source.page)))?;
    let page = space.page(&id)?;
    let on_page = content_of(&page.body).to_owned();
    let page_edited = source.last_content.as_ref().is_some_and(|d| *d != digest(&on_page));
    let source_moved = source.last_commit.as_ref().is_some_and(|c| *c != commit_id);

    if page_edited {
        if source.two_way && source.kind == Kind::Mirror && !source_moved {
            if !local {
                return Ok(Outcome::Conflict {
                    source_commit: commit_id,
                    detail: "the page was edited, and its source is a git URL: two-way sync writes only to a local repository".into(),
                });
            }
            let pushed = commit_to_source(&repo, source, &on_page, &page.summary.title, &id, page.version)?;
            source.last_commit = Some(pushed.clone());
            source.last_content = Some(digest(&on_page));
            // The page's header names the new source commit.
            let body = format!("{}{}", header(source, &pushed), on_page);
            if body != page.body {
                let message = format!("DocSync: {} now at source commit {}", page.summary.title, &pushed[..10]);
                let update = PageUpdate { body: Some(body), message: Some(message), ..PageUpdate::default() };
                space.update_page(&id, &update, author)?;
            }
            return Ok(Outcome::PushedBack { source_commit: pushed });
        }
        if source.two_way || source_moved {
            let detail = if source.two_way {
                format!(
                    "both the page and {} changed since the last sync (at {}); merge one into the other, then sync",
                    source.path,
                    source.last_commit.as_deref().map_or("", |c| &c[..c.len().min(10)])
                )
            } else {
                format!(
                    "the page was edited by hand and {} changed; the page keeps its edit until it is reverted or moved into the source",
                    source.path
                )
            };
            return Ok(Outcome::Conflict { source_commit: commit_id, detail });
        }
        // A hand edit of a one-way page, and the source has not moved: keep it for now.
        return Ok(Outcome::Conflict {
            source_commit: commit_id,
            detail: "the page was edited by hand; edit the source instead (the page history keeps the edit)".into(),
        });
    }

    let content = render(&repo, &commit, source)?;
    let body = format!("{}{}", header(source, &commit_id), content);
    source.last_commit = Some(commit_id.clone());
    source.last_content = Some(digest(&content));
    if body.trim_end() == page.body.trim_end() {
        return Ok(Outcome::Unchanged { source_commit: commit_id });
    }
    let message = format!(
        "DocSync: {} from {}{} at {}",
        match source.kind {
            Kind::Mirror => "mirror",
            Kind::Openapi => "openapi-to-markdown",
            Kind::Changelog => "conventional-commits-to-changelog",
        },
        source.repo,
        if source.path.is_empty() { String::new() } else { format!(":{}", source.path) },
        &commit_id[..10]
    );
    let update = PageUpdate { body: Some(body), message: Some(message), ..PageUpdate::default() };
    let saved = space.update_page(&id, &update, author)?;
    Ok(Outcome::Updated { source_commit: commit_id, page_commit: saved.commit.unwrap_or_default() })
}

/// Writes the page's content to the source file on its branch and commits it (the working tree
/// too, when the branch is checked out and the file is clean there).
fn commit_to_source(
    repo: &git2::Repository,
    source: &Source,
    content: &str,
    title: &str,
    id: &PageId,
    version: u32,
) -> Result<String, SyncError> {
    let err = |e: git2::Error| source_err(&source.repo, e);
    let head = repo.head().map_err(err)?;
    let branch = head.name().unwrap_or("HEAD").to_owned();
    if let Some(wanted) = &source.branch
        && !branch.ends_with(&format!("/{wanted}"))
    {
        return Err(SyncError::Source(format!(
            "{} has {branch} checked out, not {wanted}; check out {wanted} so the page's edit can be committed",
            source.repo
        )));
    }
    let workdir = repo.workdir().map(Path::to_path_buf);
    if let Some(dir) = &workdir {
        let status = repo.status_file(Path::new(&source.path)).unwrap_or(git2::Status::CURRENT);
        if !status.is_empty() && status != git2::Status::CURRENT {
            return Err(SyncError::Source(format!(
                "{} has uncommitted changes to {} in {}; commit or discard them, then sync",
                source.repo,
                source.path,
                dir.display()
            )));
        }
    }
    let parent = head.peel_to_commit().map_err(err)?;
    let blob = repo.blob(content.as_bytes()).map_err(err)?;
    let mut index = repo.index().map_err(err)?;
    index.read_tree(&parent.tree().map_err(err)?).map_err(err)?;
    let mode = parent
        .tree()
        .ok()
        .and_then(|t| t.get_path(Path::new(&source.path)).ok())
        .map_or(0o100644, |e| e.filemode() as u32);
    let entry = git2::IndexEntry {
        ctime: git2::IndexTime::new(0, 0),
        mtime: git2::IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: content.len() as u32,
        id: blob,
        flags: 0,
        flags_extended: 0,
        path: source.path.as_bytes().to_vec(),
    };
    index.add(&entry).map_err(err)?;
    let tree_id = index.write_tree_to(repo).map_err(err)?;
    let tree = repo.find_tree(tree_id).map_err(err)?;
    let sig = git2::Signature::now("confluence.do DocSync", "docsync@confluence.do").map_err(err)?;
    let message =
        format!("Update {} from the wiki page \"{title}\"\n\nconfluence.do page {id} version {version}\n", source.path);
    let oid = repo.commit(Some("HEAD"), &sig, &sig, &message, &tree, &[&parent]).map_err(err)?;
    if let Some(dir) = workdir {
        // The checked-out file follows the branch (it was clean).
        let file = dir.join(&source.path);
        std::fs::write(&file, content).map_err(|e| SyncError::Source(format!("{}: {e}", file.display())))?;
        let mut index = repo.index().map_err(err)?;
        index.add_path(Path::new(&source.path)).map_err(err)?;
        index.write().map_err(err)?;
    }
    Ok(oid.to_string())
}

/// An OpenAPI (or Swagger) spec as a Markdown reference: its servers, each operation with its
/// parameters, request body and responses, and its schemas.
pub fn openapi_markdown(text: &str, name: &str) -> Result<String, SyncError> {
    let spec: Value = if name.ends_with(".json") {
        serde_json::from_str(text).map_err(|e| SyncError::Source(format!("{name} is not JSON: {e}")))?
    } else {
        yaml_serde::from_str(text).map_err(|e| SyncError::Source(format!("{name} is not YAML: {e}")))?
    };
    if spec.get("openapi").is_none() && spec.get("swagger").is_none() {
        return Err(SyncError::Source(format!("{name} is not an OpenAPI spec (no `openapi:` key)")));
    }
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").trim().to_owned();
    let cell = |t: String| t.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    let title = s(spec.pointer("/info/title"));
    let version = s(spec.pointer("/info/version"));
    out.push_str(&format!(
        "# {}{}\n\n",
        if title.is_empty() { name } else { &title },
        if version.is_empty() { String::new() } else { format!(" {version}") }
    ));
    let description = s(spec.pointer("/info/description"));
    if !description.is_empty() {
        out.push_str(&format!("{description}\n\n"));
    }
    if let Some(servers) = spec.get("servers").and_then(Value::as_array) {
        out.push_str("**Servers:** ");
        out.push_str(&servers.iter().map(|v| format!("`{}`", s(v.get("url")))).collect::<Vec<_>>().join(", "));
        out.push_str("\n\n");
    }
    out.push_str("## Operations\n\n");
    for (path, ops) in spec.get("paths").and_then(Value::as_object).into_iter().flatten() {
        for (method, op) in ops.as_object().into_iter().flatten() {
            if !crate::fresh::code::METHODS.contains(&method.to_ascii_uppercase().as_str()) {
                continue;
            }
            out.push_str(&format!("### {} `{path}`\n\n", method.to_ascii_uppercase()));
            let summary = s(op.get("summary"));
            if !summary.is_empty() {
                out.push_str(&format!("{summary}\n\n"));
            }
            let detail = s(op.get("description"));
            if !detail.is_empty() && detail != summary {
                out.push_str(&format!("{detail}\n\n"));
            }
            let params: Vec<&Value> = ops
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .chain(op.get("parameters").and_then(Value::as_array).into_iter().flatten())
                .collect();
            if !params.is_empty() {
                out.push_str("| Parameter | In | Required | Type | Description |\n|---|---|---|---|---|\n");
                for p in params {
                    let ty = s(p.pointer("/schema/type")).to_owned() + &s(p.get("type"));
                    out.push_str(&format!(
                        "| `{}` | {} | {} | {} | {} |\n",
                        s(p.get("name")),
                        s(p.get("in")),
                        if p.get("required").and_then(Value::as_bool).unwrap_or(false) { "yes" } else { "no" },
                        ty,
                        cell(s(p.get("description")))
                    ));
                }
                out.push('\n');
            }
            if let Some(content) = op.pointer("/requestBody/content").and_then(Value::as_object) {
                for (media, body) in content {
                    let schema = s(body.pointer("/schema/$ref"));
                    let schema = schema.rsplit('/').next().unwrap_or("").to_owned();
                    out.push_str(&format!(
                        "**Request body** ({media}){}\n\n",
                        if schema.is_empty() { String::new() } else { format!(": `{schema}`") }
                    ));
                }
            }
            if let Some(responses) = op.get("responses").and_then(Value::as_object) {
                out.push_str("| Response | Description |\n|---|---|\n");
                for (code, r) in responses {
                    out.push_str(&format!("| {code} | {} |\n", cell(s(r.get("description")))));
                }
                out.push('\n');
            }
        }
    }
    let schemas = spec.pointer("/components/schemas").or_else(|| spec.get("definitions")).and_then(Value::as_object);
    if let Some(schemas) = schemas.filter(|m| !m.is_empty()) {
        out.push_str("## Schemas\n\n");
        for (name, schema) in schemas {
            out.push_str(&format!("### `{name}`\n\n"));
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                out.push_str("| Property | Type | Required | Description |\n|---|---|---|---|\n");
                for (p, v) in props {
                    let ty = s(v.get("type"));
                    let ty =
                        if ty.is_empty() { s(v.get("$ref")).rsplit('/').next().unwrap_or("").to_owned() } else { ty };
                    out.push_str(&format!(
                        "| `{p}` | {ty} | {} | {} |\n",
                        if required.contains(&p.as_str()) { "yes" } else { "no" },
                        cell(s(v.get("description")))
                    ));
                }
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// The changelog of conventional commits reachable from `head` (touching `folder` when given),
/// newest first, grouped by the release tags on them.
pub fn changelog(repo: &git2::Repository, head: &git2::Commit<'_>, folder: &str) -> Result<String, SyncError> {
    let err = |e: git2::Error| source_err("changelog", e);
    let mut tags: std::collections::HashMap<git2::Oid, String> = std::collections::HashMap::new();
    repo.tag_foreach(|oid, name| {
        let name = String::from_utf8_lossy(name).trim_start_matches("refs/tags/").to_owned();
        let target = repo.find_object(oid, None).and_then(|o| o.peel_to_commit()).map(|c| c.id()).unwrap_or(oid);
        tags.insert(target, name);
        true
    })
    .map_err(err)?;
    let mut walk = repo.revwalk().map_err(err)?;
    walk.push(head.id()).map_err(err)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME).map_err(err)?;
    let mut releases: Vec<Release> = vec![("Unreleased".into(), String::new(), Vec::new())];
    for oid in walk.take(5000) {
        let oid = oid.map_err(err)?;
        let commit = repo.find_commit(oid).map_err(err)?;
        if let Some(tag) = tags.get(&oid) {
            let date = crate::fresh::day_of(commit.time().seconds());
            releases.push((tag.clone(), date, Vec::new()));
        }
        if !folder.is_empty() && !touches(&commit, folder) {
            continue;
        }
        let message = commit.message().unwrap_or("");
        let summary = message.lines().next().unwrap_or("");
        let Some((kind, scope, breaking, text)) = conventional(summary) else { continue };
        let breaking = breaking || message.contains("BREAKING CHANGE:") || message.contains("BREAKING-CHANGE:");
        let scope = scope.map(|s| format!("**{s}:** ")).unwrap_or_default();
        let line = format!("{scope}{text} ({})", &oid.to_string()[..7]);
        let group = match kind.as_str() {
            _ if breaking => "Breaking changes",
            "feat" => "Features",
            "fix" => "Bug fixes",
            "perf" => "Performance",
            "revert" => "Reverts",
            _ => continue,
        };
        if let Some((_, _, entries)) = releases.last_mut() {
            entries.push((group, line));
        }
    }
    let mut out = String::from("# Changelog\n\n");
    for (name, date, entries) in releases.iter().filter(|(_, _, e)| !e.is_empty()) {
        out.push_str(&format!("## {name}{}\n\n", if date.is_empty() { String::new() } else { format!(" ({date})") }));
        for group in ["Breaking changes", "Features", "Bug fixes", "Performance", "Reverts"] {
            let lines: Vec<&String> = entries.iter().filter(|(g, _)| *g == group).map(|(_, l)| l).collect();
            if lines.is_empty() {
                continue;
            }
            out.push_str(&format!("### {group}\n\n"));
            for l in lines {
                out.push_str(&format!("- {l}\n"));
            }
            out.push('\n');
        }
    }
    if releases.iter().all(|(_, _, e)| e.is_empty()) {
        out.push_str("No conventional commits (`feat:`, `fix:` …) yet.\n");
    }
    Ok(out)
}

/// A release of a changelog: its tag, its date, and `(group, line)` entries.
type Release = (String, String, Vec<(&'static str, String)>);

/// `feat(api)!: add users` → ("feat", Some("api"), true, "add users").
fn conventional(summary: &str) -> Option<(String, Option<String>, bool, String)> {
    let (head, text) = summary.split_once(": ")?;
    let (head, breaking) = match head.strip_suffix('!') {
        Some(h) => (h, true),
        None => (head, false),
    };
    let (kind, scope) = match head.split_once('(') {
        Some((k, rest)) => (k, Some(rest.strip_suffix(')')?.to_owned())),
        None => (head, None),
    };
    if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    Some((kind.to_owned(), scope, breaking, text.trim().to_owned()))
}

fn touches(commit: &git2::Commit<'_>, folder: &str) -> bool {
    let at = |c: &git2::Commit<'_>| c.tree().ok().and_then(|t| t.get_path(Path::new(folder)).ok()).map(|e| e.id());
    let now = at(commit);
    match commit.parent(0) {
        Ok(parent) => now != at(&parent),
        Err(_) => now.is_some(),
    }
}

/// Where URL sources are cloned.
pub fn cache_dir(home: &Path) -> PathBuf {
    home.join("cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_paths_stay_inside_the_repository() {
        for bad in ["../secrets.md", "docs/../../x", "/etc/passwd", "C:\\x", "a\\..\\b"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        for good in ["docs/guide.md", "", "a..b/c.md"] {
            assert!(check_path(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn conventional_commit_summaries() {
        assert_eq!(
            conventional("feat(api)!: add users"),
            Some(("feat".into(), Some("api".into()), true, "add users".into()))
        );
        assert_eq!(conventional("fix: null token"), Some(("fix".into(), None, false, "null token".into())));
        assert_eq!(conventional("Merge branch 'x'"), None);
        assert_eq!(conventional("WIP: stuff"), None);
    }

    #[test]
    fn openapi_becomes_a_reference() {
        let md = openapi_markdown(
            "openapi: 3.0.3\ninfo: {title: Acme, version: '2.1'}\npaths:\n  /users/{id}:\n    get:\n      summary: One user\n      parameters:\n        - {name: id, in: path, required: true, schema: {type: string}}\n      responses:\n        '200': {description: The user}\n        '404': {description: No such user}\ncomponents:\n  schemas:\n    User:\n      required: [id]\n      properties:\n        id: {type: string, description: Its id}\n",
            "api.yaml",
        )
        .expect("markdown");
        assert!(md.starts_with("# Acme 2.1\n"), "{md}");
        assert!(md.contains("### GET `/users/{id}`\n\nOne user\n"), "{md}");
        assert!(md.contains("| `id` | path | yes | string |  |"), "{md}");
        assert!(md.contains("| 404 | No such user |"), "{md}");
        assert!(md.contains("| `id` | string | yes | Its id |"), "{md}");
        assert!(openapi_markdown("a: 1", "x.yaml").is_err());
    }
}
