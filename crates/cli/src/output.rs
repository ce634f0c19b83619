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
