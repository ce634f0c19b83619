//! Git sync in the background: every space with an `origin` remote is synced (commit edits on
//! disk, fetch, merge, push) every few minutes and on request; what happened, and which pages
//! hold overlapping edits between markers, is kept for the UI.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cdo_sync::git::SyncReport;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The remote a space syncs with.
pub const REMOTE: &str = "origin";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One space's sync state.
#[derive(Clone, Debug, Default)]
struct SpaceSync {
    running: bool,
    last: Option<(jiff::Timestamp, SyncReport)>,
    /// A sync that failed outright (not a network failure: that is in the report).
    failure: Option<String>,
    /// Pages (paths) that got conflict markers from a merge, until the markers are gone.
    conflicts: BTreeSet<String>,
}

/// Sync state of every space.
#[derive(Default)]
pub struct GitSync {
    spaces: Mutex<HashMap<String, SpaceSync>>,
}

impl GitSync {
    fn begin(&self, key: &str) -> bool {
        let mut spaces = lock(&self.spaces);
        let s = spaces.entry(key.to_owned()).or_default();
        if s.running {
            return false;
        }
        s.running = true;
        true
    }

    fn end(&self, key: &str, result: Result<SyncReport, String>) {
        let mut spaces = lock(&self.spaces);
        let s = spaces.entry(key.to_owned()).or_default();
        s.running = false;
        match result {
            Ok(report) => {
                s.conflicts.extend(report.conflicts.iter().map(|(p, _)| p.clone()));
                s.failure = None;
                s.last = Some((jiff::Timestamp::now(), report));
            }
            Err(e) => s.failure = Some(e),
        }
    }
}

/// Whether a page's text still holds a conflict marker line.
fn has_markers(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("<<<<<<< ")) && text.lines().any(|l| l.starts_with(">>>>>>> "))
}

/// Syncs one space now (blocking; under the space's lock). `Ok(None)`: it has no remote.
pub fn sync_space(state: &Arc<AppState>, key: &str) -> ApiResult<Option<SyncReport>> {
    let handle = state.space(key)?;
    let root = {
        let space = handle.lock()?;
        space.root().to_path_buf()
    };
    if !cdo_sync::git::has_remote(&root, REMOTE) {
        return Ok(None);
    }
    if !state.git_sync.begin(key) {
        return Ok(None);
    }
    let result = {
        let mut space = handle.lock()?;
        cdo_sync::git::sync(&mut space, REMOTE, &state.local_user).map_err(|e| e.to_string())
    };
    state.after_outside_write(&handle);
    state.git_sync.end(key, result.clone());
    result.map(Some).map_err(ApiError::internal)
}

/// The sync state of a space, for the UI: last result, queued commits, pages with conflicts.
pub fn status(state: &Arc<AppState>, key: &str) -> ApiResult<Value> {
    let handle = state.space(key)?;
    let s = lock(&state.git_sync.spaces).get(key).cloned().unwrap_or_default();
    let mut space = handle.lock()?;
    let has_remote = cdo_sync::git::has_remote(space.root(), REMOTE);
    let mut conflicts = Vec::new();
    let mut resolved = Vec::new();
    let tree = if s.conflicts.is_empty() { Vec::new() } else { space.tree()? };
    for path in &s.conflicts {
        let Some(id) = tree.iter().find_map(|n| find_path(n, path)) else {
            resolved.push(path.clone());
            continue;
        };
        match space.page(&id) {
            Ok(page) if has_markers(&page.body) => {
                conflicts.push(json!({"id": id, "title": page.summary.title, "path": path}));
            }
            _ => resolved.push(path.clone()),
        }
    }
    drop(space);
    if !resolved.is_empty() {
        let mut spaces = lock(&state.git_sync.spaces);
        if let Some(entry) = spaces.get_mut(key) {
            for p in resolved {
                entry.conflicts.remove(&p);
            }
        }
    }
    let last = s.last.as_ref().map(|(at, r)| {
        json!({
            "at": at.to_string(),
            "reached": r.reached,
            "error": r.error,
            "upToDate": r.up_to_date,
            "merged": r.merged,
            "fastForward": r.fast_forward,
            "pushed": r.pushed,
            "queued": r.queued,
        })
    });
    Ok(json!({
        "remote": has_remote,
        "running": s.running,
        "last": last,
        "failure": s.failure,
        "conflicts": conflicts,
    }))
}

fn find_path(node: &cdo_core::TreeNode, path: &str) -> Option<cdo_core::PageId> {
    if node.path == path {
        return Some(node.id.clone());
    }
    node.children.iter().find_map(|c| find_path(c, path))
}

/// Syncs every space with a remote every `every`, until the state is dropped.
pub fn start(state: &Arc<AppState>, every: Duration) {
    let weak = Arc::downgrade(state);
    let _ = std::thread::Builder::new().name("git-sync".into()).spawn(move || {
        loop {
            std::thread::park_timeout(every);
            let Some(state) = weak.upgrade() else { return };
            if state.stopping() {
                return;
            }
            let keys: Vec<String> =
                state.space_entries().map(|l| l.into_iter().map(|e| e.key).collect()).unwrap_or_default();
            for key in keys {
                if let Err(e) = sync_space(&state, &key) {
                    eprintln!("confluence.do: syncing {key} with git: {}", e.message);
                }
            }
        }
    });
}
