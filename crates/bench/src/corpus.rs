//! Generated spaces with realistic shape: nested folders, section pages, 2-6 KB bodies with
//! headings, lists, code and links between pages.

use std::path::Path;

use anyhow::Result;

const WORDS: &[&str] = &[
    "service",
    "deploy",
    "token",
    "request",
    "latency",
    "database",
    "replica",
    "cache",
    "queue",
    "event",
    "schema",
    "migration",
    "rollback",
    "incident",
    "alert",
    "dashboard",
    "owner",
    "team",
    "release",
    "feature",
    "flag",
    "config",
    "secret",
    "vault",
    "cluster",
    "node",
    "region",
    "backup",
    "restore",
    "index",
    "search",
    "query",
    "page",
    "client",
    "server",
    "gateway",
    "route",
    "limit",
    "retry",
    "timeout",
    "budget",
    "error",
    "metric",
    "trace",
    "log",
    "storage",
    "bucket",
    "policy",
    "access",
    "review",
    "design",
    "decision",
    "option",
    "trade-off",
    "consistency",
    "throughput",
    "the",
    "a",
    "we",
    "when",
    "then",
    "must",
    "should",
    "never",
    "always",
    "before",
    "after",
    "each",
    "every",
    "with",
    "without",
    "because",
    "so",
    "that",
    "this",
    "our",
    "their",
    "is",
    "are",
    "runs",
    "stores",
    "sends",
    "checks",
];

fn sentence(rng: &mut fastrand::Rng) -> String {
    let n = rng.usize(8..20);
    let mut words: Vec<&str> = (0..n).map(|_| WORDS[rng.usize(..WORDS.len())]).collect();
    let first = words[0].to_owned();
    let mut s = first[..1].to_uppercase() + &first[1..];
    words.remove(0);
    for w in words {
        s.push(' ');
        s.push_str(w);
    }
    s.push('.');
    s
}

/// Where page `i` of `n` lives: `area-A/topic-T/part-P/page-i.md`, about 40 pages per folder.
fn page_path(i: usize) -> String {
    let leaf = i / 40;
    format!("area-{}/topic-{}/part-{}/page-{i}.md", leaf % 12, (leaf / 12) % 12, leaf / 144)
}

/// Writes a space of `n` pages (plus section pages for areas and topics) into `dir`.
pub fn generate(dir: &Path, n: usize) -> Result<()> {
    let mut rng = fastrand::Rng::with_seed(n as u64);
    // A space left by an earlier run in the same work folder: start again from nothing.
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("space.yaml"), "key: BENCH\nname: Bench\n")?;
    for a in 0..12 {
        std::fs::write(
            dir.join(format!("area-{a}.md")),
            format!("---\ntitle: Area {a}\n---\n# Area {a}\n\n{}\n", sentence(&mut rng)),
        )?;
        for t in 0..12 {
            let p = dir.join(format!("area-{a}/topic-{t}.md"));
            std::fs::create_dir_all(p.parent().unwrap_or(dir))?;
            std::fs::write(p, format!("---\ntitle: Topic {a}.{t}\n---\n# Topic {a}.{t}\n\n{}\n", sentence(&mut rng)))?;
        }
    }
    for i in 0..n {
        let path = page_path(i);
        let full = dir.join(&path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut body = format!(
            "---\nid: \"{}\"\ntitle: Page {i}\nlabels: [area-{}, generated]\n---\n# Page {i}\n\n",
            1_000_000_000_000u64 + i as u64,
            (i / 40) % 12
        );
        let sections = rng.usize(3..7);
        for s in 0..sections {
            body.push_str(&format!("## Section {s}\n\n"));
            for _ in 0..rng.usize(1..4) {
                for _ in 0..rng.usize(2..6) {
                    body.push_str(&sentence(&mut rng));
                    body.push(' ');
                }
                body.push_str("\n\n");
            }
            if s == 1 {
                for _ in 0..3 {
                    body.push_str(&format!("- {}\n", sentence(&mut rng)));
                }
                body.push('\n');
            }
            if s == 2 {
                body.push_str("```bash\nacme deploy status service\n```\n\n");
            }
        }
        let other = rng.usize(..n.max(1));
        let from_dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        let rel = cdo_core::links::relative(&format!("{from_dir}/x.md"), &page_path(other));
        body.push_str(&format!("See also [page {other}]({rel}).\n"));
        std::fs::write(full, body)?;
    }
    Ok(())
}

/// Counts Markdown files below `dir`.
pub fn count_pages(dir: &Path) -> usize {
    let mut n = 0;
    for_each_page(dir, &mut |_, _| n += 1);
    n
}

/// Calls `f` with every Markdown file below `dir` and its text.
pub fn for_each_page(dir: &Path, f: &mut dyn FnMut(&Path, &str)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            for_each_page(&path, f);
        } else if path.extension().is_some_and(|e| e == "md")
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            f(&path, &text);
        }
    }
}
