//! `docsync`: pages kept current from files in git repositories.

use std::time::Duration;

use anyhow::{Result, bail};
use cdo_ai::docsync::{self, Kind, Outcome, Registry, Source};
use cdo_app::Wiki;
use cdo_core::NewPage;
use cdo_core::model::Author;

use crate::args::DocsyncCmd;
use crate::output::print_json;

pub fn run(wiki: &Wiki, author: &Author, cmd: DocsyncCmd) -> Result<()> {
    let home = wiki.home().dir().to_path_buf();
    match cmd {
        DocsyncCmd::Add { key, repo, path, kind, two_way, branch, page, title, parent } => {
            let kind: Kind = serde_json::from_value(serde_json::Value::String(kind.clone())).map_err(|_| {
                anyhow::anyhow!(
                    "no DocSync kind `{kind}`; use mirror, openapi-to-markdown or conventional-commits-to-changelog"
                )
            })?;
            if two_way && kind != Kind::Mirror {
                bail!("--two-way works for mirror sources only");
            }
            if kind != Kind::Changelog && path.is_empty() {
                bail!("which file? pass --path (the file in the repository)");
            }
            docsync::check_path(&path)?;
            // A local repository is stored by its absolute path.
            let repo = if repo.contains("://") || repo.starts_with("git@") {
                repo
            } else {
                std::fs::canonicalize(&repo)
                    .map_err(|e| anyhow::anyhow!("{repo}: {e}; pass a local git folder or a git URL"))?
                    .display()
                    .to_string()
            };
            let mut space = wiki.open_space(&key)?;
            let page = match (page, title) {
                (Some(reference), _) => {
                    let (other, id) = wiki.resolve(&reference)?;
                    if other.info().key != space.info().key {
                        bail!("{reference} is in space {}, not {key}", other.info().key);
                    }
                    id
                }
                (None, Some(title)) => {
                    let parent = match parent {
                        Some(p) => Some(wiki.resolve(&p)?.1),
                        None => None,
                    };
                    let request = NewPage { title: Some(title), parent, ..NewPage::default() };
                    space.create_page(&request, author)?.summary.id
                }
                (None, None) => bail!("which page? pass --page ID, or --title to create one"),
            };
            let mut registry = Registry::load(&home)?;
            let source = Source {
                id: registry.next_id(),
                space: space.info().key.as_str().to_owned(),
                page: page.as_str().to_owned(),
                repo,
                path,
                branch,
                kind,
                two_way,
                last_commit: None,
                last_content: None,
            };
            registry.sources.push(source);
            registry.save(&home)?;
            let id = registry.next_id() - 1;
            println!("Registered source #{id}.");
            sync_all(wiki, author, Some(id), false)
        }
        DocsyncCmd::List { json } => {
            let registry = Registry::load(&home)?;
            if json {
                print_json(&serde_json::to_value(&registry.sources)?);
            } else if registry.sources.is_empty() {
                println!("No sources; add one with `docsync add KEY --repo DIR --path FILE --title TITLE`.");
            }
            if !json {
                for s in &registry.sources {
                    println!(
                        "#{} {}:{} <- {} {} ({}{}), last at {}",
                        s.id,
                        s.space,
                        s.page,
                        s.repo,
                        s.path,
                        serde_json::to_value(s.kind)?.as_str().unwrap_or(""),
                        if s.two_way { ", two-way" } else { "" },
                        s.last_commit.as_deref().map_or("never", |c| &c[..c.len().min(10)])
                    );
                }
            }
            Ok(())
        }
        DocsyncCmd::Run { id, json } => sync_all(wiki, author, id, json),
        DocsyncCmd::Watch { every } => watch(wiki, author, Duration::from_secs(every.max(1))),
        DocsyncCmd::Remove { id } => {
            let mut registry = Registry::load(&home)?;
            let before = registry.sources.len();
            registry.sources.retain(|s| s.id != id);
            if registry.sources.len() == before {
                bail!("there is no source #{id}; `docsync list` shows them");
            }
            registry.save(&home)?;
            println!("Forgot source #{id}; its page stays.");
            Ok(())
        }
    }
}

/// Syncs the sources (or one), saving what each saw as it goes. Fails when any did.
fn sync_all(wiki: &Wiki, author: &Author, only: Option<u32>, json: bool) -> Result<()> {
    let home = wiki.home().dir().to_path_buf();
    let mut registry = Registry::load(&home)?;
    if let Some(id) = only
        && !registry.sources.iter().any(|s| s.id == id)
    {
        bail!("there is no source #{id}; `docsync list` shows them");
    }
    let mut results = Vec::new();
    let mut failed = 0;
    for i in 0..registry.sources.len() {
        if only.is_some_and(|id| registry.sources[i].id != id) {
            continue;
        }
        let mut source = registry.sources[i].clone();
        let outcome = wiki
            .open_space(&source.space)
            .map_err(anyhow::Error::from)
            .and_then(|mut space| Ok(docsync::sync(&mut space, &mut source, &docsync::cache_dir(&home), author)?));
        registry.sources[i] = source.clone();
        registry.save(&home)?;
        let line = match &outcome {
            Ok(Outcome::Unchanged { source_commit }) => format!("unchanged (source {})", short(source_commit)),
            Ok(Outcome::Updated { source_commit, page_commit }) => {
                format!("updated from source {} (page commit {})", short(source_commit), short(page_commit))
            }
            Ok(Outcome::PushedBack { source_commit }) => {
                format!("the page's edit is now source commit {}", short(source_commit))
            }
            Ok(Outcome::Conflict { detail, .. }) => format!("not synced: {detail}"),
            Err(e) => {
                failed += 1;
                format!("failed: {e}")
            }
        };
        if json {
            results.push(match &outcome {
                Ok(o) => serde_json::json!({"id": source.id, "result": o}),
                Err(e) => serde_json::json!({"id": source.id, "error": e.to_string()}),
            });
        } else {
            println!("#{} {}:{} <- {} {}: {line}", source.id, source.space, source.page, source.repo, source.path);
        }
    }
    if json {
        print_json(&serde_json::Value::Array(results));
    }
    if failed > 0 {
        bail!("{failed} source(s) failed to sync");
    }
    Ok(())
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

/// Syncs now, then again whenever a local source repository or a space gets a commit (their
/// `.git` folders change) and at least every `every`.
fn watch(wiki: &Wiki, author: &Author, every: Duration) -> Result<()> {
    use notify::Watcher as _;
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = tx.send(());
        }
    })?;
    let registry = Registry::load(wiki.home().dir())?;
    let mut watched = std::collections::HashSet::new();
    for s in &registry.sources {
        let mut dirs = Vec::new();
        if !s.repo.contains("://") {
            dirs.push(std::path::PathBuf::from(&s.repo));
        }
        if let Ok(entry) = wiki.spaces().map(|all| all.into_iter().find(|e| e.key == s.space)) {
            dirs.extend(entry.map(|e| e.path));
        }
        for dir in dirs {
            let git = if dir.join(".git").is_dir() { dir.join(".git") } else { dir };
            if watched.insert(git.clone()) {
                watcher.watch(&git, notify::RecursiveMode::Recursive)?;
            }
        }
    }
    eprintln!(
        "watching {} repositories; syncing on every commit and every {} s (Ctrl+C stops)",
        watched.len(),
        every.as_secs()
    );
    loop {
        if let Err(e) = sync_all(wiki, author, None, false) {
            eprintln!("{e}");
        }
        // A commit is a burst of file events: wait for the first, then let the burst settle.
        let _ = rx.recv_timeout(every);
        while rx.recv_timeout(Duration::from_millis(500)).is_ok() {}
    }
}
