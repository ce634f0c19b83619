//! Notices changes made outside confluence.do: an editor saving a page, `git pull`, a checkout.
//!
//! Raw file-system events are batched (a burst of writes becomes one event) and sorted into
//! page files that changed, which the owner refreshes with `Space::refresh_paths`, and moves
//! of the branch, after which the owner re-reads the space. Writes confluence.do makes itself
//! show up too; refreshing them is cheap and harmless.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::wiki::WikiError;

/// A batch of outside changes to one space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpaceEvent {
    /// Page files or folders (relative to the space root) that changed, appeared or vanished.
    Files(Vec<String>),
    /// The branch moved or HEAD changed (a commit, pull or checkout by another program).
    Head,
    /// The watcher failed; changes may be missed until the space is re-read.
    Error(String),
}

/// Quiet time that ends a batch.
const SETTLE: Duration = Duration::from_millis(50);
/// Longest a batch waits while events keep coming.
const MAX_BATCH: Duration = Duration::from_millis(500);

/// Watches one space; events arrive on [`SpaceWatcher::events`]. Stops when dropped.
pub struct SpaceWatcher {
    _watcher: RecommendedWatcher,
    events: Receiver<SpaceEvent>,
}

impl SpaceWatcher {
    /// Starts watching the space at `root` whose repository's git folder is `git_dir`.
    pub fn start(root: &Path, git_dir: &Path) -> Result<SpaceWatcher, WikiError> {
        let root = std::fs::canonicalize(root).map_err(WikiError::io(root))?;
        let git_dir = std::fs::canonicalize(git_dir).map_err(WikiError::io(git_dir))?;
        let (raw_tx, raw_rx) = mpsc::channel::<Result<Vec<PathBuf>, String>>();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            // Reading a file is not a change (inotify reports opens and closes too): without
            // this, every read of a page would look like an edit of it.
            if let Ok(event) = &res
                && matches!(event.kind, notify::EventKind::Access(_))
            {
                return;
            }
            let _ = raw_tx.send(res.map(|e| e.paths).map_err(|e| e.to_string()));
        })
        .map_err(|e| WikiError::Invalid(format!("cannot watch {}: {e}", root.display())))?;
        let watch = |w: &mut RecommendedWatcher, p: &Path| {
            w.watch(p, RecursiveMode::Recursive)
                .map_err(|e| WikiError::Invalid(format!("cannot watch {}: {e}", p.display())))
        };
        watch(&mut watcher, &root)?;
        if !git_dir.starts_with(&root) {
            watch(&mut watcher, &git_dir)?;
        }
        let (tx, events) = mpsc::channel();
        std::thread::Builder::new()
            .name("confluence-do-watch".into())
            .spawn(move || batch_loop(&raw_rx, &tx, &root, &git_dir))
            .map_err(|e| WikiError::Invalid(format!("cannot start the watcher: {e}")))?;
        Ok(SpaceWatcher { _watcher: watcher, events })
    }

    /// The batches of changes, in order.
    pub fn events(&self) -> &Receiver<SpaceEvent> {
        &self.events
    }
}

fn batch_loop(
    raw: &Receiver<Result<Vec<PathBuf>, String>>,
    out: &mpsc::Sender<SpaceEvent>,
    root: &Path,
    git_dir: &Path,
) {
    while let Ok(first) = raw.recv() {
        let started = Instant::now();
        let mut batch = vec![first];
        loop {
            let left = MAX_BATCH.saturating_sub(started.elapsed());
            match raw.recv_timeout(SETTLE.min(left)) {
                Ok(more) => batch.push(more),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if started.elapsed() >= MAX_BATCH {
                break;
            }
        }
        let mut files: Vec<String> = Vec::new();
        let mut head = false;
        for item in batch {
            let paths = match item {
                Ok(paths) => paths,
                Err(e) => {
                    let _ = out.send(SpaceEvent::Error(e));
                    continue;
                }
            };
            for path in paths {
                if let Ok(rel) = path.strip_prefix(git_dir) {
                    let rel = rel.to_string_lossy();
                    head |= rel == "HEAD" || rel.starts_with("refs") || rel == "packed-refs";
                } else if let Ok(rel) = path.strip_prefix(root) {
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    if interesting(&rel) && !files.contains(&rel) {
                        files.push(rel);
                    }
                }
            }
        }
        if !files.is_empty() && out.send(SpaceEvent::Files(files)).is_err() {
            return;
        }
        if head && out.send(SpaceEvent::Head).is_err() {
            return;
        }
    }
}

/// Page files and folders; not temporary files, hidden files or attachments.
fn interesting(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if rel.is_empty() || name.starts_with('.') || name.ends_with('~') || rel.split('/').any(|p| p.starts_with('.')) {
        return false;
    }
    let is_dir_like = !name.contains('.');
    (cdo_core::catalog::is_markdown(name) || is_dir_like)
        && cdo_core::history::is_page_path(&format!("{rel}.md").replace(".md.md", ".md"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading pages is not editing them: only the written file is reported.
    #[test]
    fn reads_are_not_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        git2::Repository::init(root).expect("git init");
        std::fs::write(root.join("read.md"), "# Read\n").expect("write");
        std::fs::write(root.join("written.md"), "# Before\n").expect("write");
        let watcher = SpaceWatcher::start(root, &root.join(".git")).expect("watch");
        for _ in 0..5 {
            let _ = std::fs::read_to_string(root.join("read.md")).expect("read");
        }
        std::fs::write(root.join("written.md"), "# After\n").expect("write");
        let event = watcher.events().recv_timeout(Duration::from_secs(10)).expect("an event");
        assert_eq!(event, SpaceEvent::Files(vec!["written.md".into()]));
    }

    #[test]
    fn what_is_interesting() {
        for (path, want) in [
            ("a.md", true),
            ("a/b.md", true),
            ("folder", true),
            (".a.md.123.tmp", false),
            ("a/.hidden.md", false),
            ("_templates/adr.md", false),
            ("img.png", false),
            ("a.attachments/x.png", false),
            ("notes.md~", false),
        ] {
            assert_eq!(interesting(path), want, "{path}");
        }
    }
}
