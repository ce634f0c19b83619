//! Printing: one JSON value on stdout for `--json`, readable text otherwise.

use cdo_core::model::{Page, PageSummary, TreeNode, VersionInfo};
use serde_json::{Value, json};

/// Prints a JSON value (and nothing else) on stdout.
pub fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into()));
}

/// The JSON shape of a saved page: `{"id","title","space","path","version"}`.
pub fn saved_json(space: &str, s: &PageSummary, version: u32) -> Value {
    json!({"id": s.id, "title": s.title, "space": space, "path": s.path, "parent": s.parent, "labels": s.labels, "version": version})
}

/// The JSON shape of `page show`.
pub fn page_json(space: &str, page: &Page) -> Value {
    let s = &page.summary;
    let fields: serde_json::Map<String, Value> =
        page.fields.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    json!({
        "id": s.id,
        "title": s.title,
        "space": space,
        "path": s.path,
        "parent": s.parent,
        "labels": s.labels,
        "version": page.version,
        "body": page.body,
        "kind": s.kind,
        "fields": fields,
        "diagnostics": page.diagnostics,
    })
}

/// The JSON shape of a tree.
pub fn tree_json(nodes: &[TreeNode]) -> Value {
    Value::Array(
        nodes
            .iter()
            .map(|n| json!({"id": n.id, "title": n.title, "kind": n.kind, "path": n.path, "children": tree_json(&n.children)}))
            .collect(),
    )
}

/// A tree as indented lines.
pub fn print_tree(nodes: &[TreeNode], depth: usize) {
    for n in nodes {
        let suffix = if n.kind == cdo_core::model::NodeKind::Folder { "/" } else { "" };
        println!("{}{}{suffix}  [{}]", "  ".repeat(depth), n.title, n.id);
        print_tree(&n.children, depth + 1);
    }
}

/// The JSON shape of one version.
pub fn version_json(v: &VersionInfo) -> Value {
    json!({"version": v.version, "commit": v.commit, "author": v.author.name, "email": v.author.email, "date": v.date(), "message": v.message, "path": v.path})
}

/// Summaries as JSON.
pub fn summaries_json(list: &[PageSummary]) -> Value {
    Value::Array(
        list.iter()
            .map(|s| json!({"id": s.id, "title": s.title, "path": s.path, "kind": s.kind, "labels": s.labels}))
            .collect(),
    )
}

/// What `sync` did, in words.
pub fn print_sync(key: &str, remote: &str, r: &cdo_sync::git::SyncReport) {
    if r.committed_local {
        println!("committed edits made on disk");
    }
    if r.fast_forward {
        println!("{key}: updated from {remote}/{}", r.branch);
    }
    if r.merged {
        println!("{key}: merged {remote}/{} with local changes", r.branch);
    }
    for (path, n) in &r.conflicts {
        println!(
            "  conflict: {path}: {n} place(s) both sides changed; both versions are in the page between <<<<<<< and >>>>>>>"
        );
    }
    if r.pushed {
        println!("{key}: pushed to {remote}/{}", r.branch);
    }
    if r.up_to_date {
        println!("{key}: up to date with {remote}/{}", r.branch);
    }
}

/// A progress line on stderr with counts, rate and time left: redrawn in place on a terminal,
/// otherwise a line at most every few seconds and at the end of each phase (so logs show it).
pub struct Bar {
    tty: bool,
    /// Also print when stderr is not a terminal.
    logs: bool,
    phase: String,
    started: std::time::Instant,
    printed: Option<std::time::Instant>,
    /// The current phase's last line was printed.
    finished: bool,
}

impl Bar {
    /// A bar that also writes lines into logs.
    pub fn new() -> Bar {
        use std::io::IsTerminal as _;
        let tty = std::io::stderr().is_terminal();
        Bar {
            tty,
            logs: true,
            phase: String::new(),
            started: std::time::Instant::now(),
            printed: None,
            finished: false,
        }
    }

    /// A bar shown on a terminal only.
    pub fn terminal_only() -> Bar {
        Bar { logs: false, ..Bar::new() }
    }

    /// Shows `done` of `total` `unit` in `phase` (a new phase restarts the clock).
    pub fn show(&mut self, phase: &str, done: usize, total: usize, unit: &str) {
        use std::io::Write as _;
        if total == 0 || !(self.tty || self.logs) {
            return;
        }
        if phase != self.phase {
            self.phase = phase.to_owned();
            self.started = std::time::Instant::now();
            self.printed = None;
            self.finished = false;
        }
        let finished = done >= total;
        let quiet = self.printed.is_some_and(|p| p.elapsed().as_millis() < if self.tty { 100 } else { 5000 });
        if (quiet && !finished) || (finished && self.finished) {
            return;
        }
        self.finished = finished;
        self.printed = Some(std::time::Instant::now());
        let width = 30;
        let filled = done.min(total) * width / total;
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let eta = if done == 0 {
            "time left unknown".to_owned()
        } else {
            format!("{:.0}s left", total.saturating_sub(done) as f64 / rate.max(0.001))
        };
        let line = format!(
            "{phase} [{}{}] {done}/{total} {unit}, {rate:.0}/s, {eta}",
            "#".repeat(filled),
            " ".repeat(width - filled)
        );
        let mut err = std::io::stderr();
        let _ = if self.tty { write!(err, "\r{line} ") } else { writeln!(err, "{line}") };
        if finished && self.tty {
            let _ = writeln!(err);
        }
    }
}
