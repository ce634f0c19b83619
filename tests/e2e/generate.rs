//! Drafts: documentation of a code folder, a page from a template and notes, meeting notes from a
//! transcript; without a model and with the real small one. Drafts are printed, never published.

use serde_json::Value;

use crate::support::{Env, git};

const TRANSCRIPT: &str = "[00:00:01] Alice: The invoice job failed twice this week.\n\
[00:00:09] Bob: We decided to move it to the payments queue.\n\
[00:01:30] Alice: Can you write the migration, Bob? Friday is fine.\n\
[00:02:02] Carol: I'll update the runbook tomorrow.\n";

fn draft(env: &Env, args: &[&str], input: Option<&str>, model: Option<&str>) -> Value {
    use std::io::Write as _;
    let mut cmd = env.cmd(args);
    if let Some(url) = model {
        cmd.env("CONFLUENCE_DO_LLM_URL", url);
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    child.stdin.take().expect("stdin").write_all(input.unwrap_or("").as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("runs");
    crate::support::check(args, &out);
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn pages(env: &Env) -> usize {
    env.json(&["tree", "ENG", "--json"]).as_array().map_or(0, Vec::len)
}

#[test]
fn drafts_from_code_templates_and_transcripts() {
    let env = Env::new();
    env.ok(&["demo", "--json"]);
    let before = pages(&env);

    let code = env.dir.path().join("code");
    std::fs::create_dir_all(code.join("src")).expect("mkdir");
    git(&code, &["init", "-q", "-b", "main"]);
    std::fs::write(
        code.join("src/tokens.rs"),
        "//! Access tokens.\n\n/// Issues a signed token for `user`.\npub fn issue_token(user: &str) -> String {\n    user.into()\n}\n\nfn helper() {}\n",
    )
    .expect("write");
    std::fs::write(code.join("src/routes.rs"), "Router::new().route(\"/api/v2/tokens\", post(issue))\n")
        .expect("write");
    git(&code, &["add", "-A"]);
    git(&code, &["-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", "first"]);

    let d = draft(
        &env,
        &["generate", "docs", "ENG", "--repo", code.to_str().expect("utf-8"), "--path", "src", "--json"],
        None,
        None,
    );
    let body = d["body"].as_str().expect("body");
    assert_eq!(d["title"], "Reference: src");
    assert!(body.contains("| POST | `/api/v2/tokens` | `src/routes.rs` |"), "{body}");
    assert!(body.contains("### `issue_token` (fn)") && body.contains("Issues a signed token for `user`."), "{body}");
    assert!(!body.contains("helper"), "private items stay out: {body}");
    assert_eq!(d["by"], "extractive");

    let d = draft(
        &env,
        &["generate", "page", "ENG", "--template", "adr", "--context", "-", "--json"],
        Some(
            "ADR number: 9\nDecision: Queue invoices\nStatus: accepted\n\nThe invoice job failed twice; retries blocked payments.\n",
        ),
        None,
    );
    assert_eq!(d["title"], "ADR 9: Queue invoices", "{d}");
    let body = d["body"].as_str().expect("body");
    assert!(body.contains("**Status:** Accepted"), "{body}");
    assert!(body.contains("## Context\n\nADR number: 9"), "the notes are kept: {body}");

    let d = draft(
        &env,
        &["generate", "notes", "ENG", "--transcript", "-", "--date", "2026-11-27", "--json"],
        Some(TRANSCRIPT),
        None,
    );
    let body = d["body"].as_str().expect("body");
    assert_eq!(d["title"], "Meeting notes 2026-11-27");
    assert!(body.contains("## Attendees\n\n- Alice\n- Bob\n- Carol\n"), "{body}");
    assert!(body.contains("- We decided to move it to the payments queue."), "{body}");
    assert!(body.contains("- [ ] **Bob**: Can you write the migration, Bob? (due friday)"), "{body}");
    assert!(body.contains("- [ ] **Carol**: I'll update the runbook tomorrow. (due tomorrow)"), "{body}");

    // With the real small model: its notes are used only when every owner was there.
    let model = crate::ask::LocalModel::start();
    let d =
        draft(&env, &["generate", "notes", "ENG", "--transcript", "-", "--json"], Some(TRANSCRIPT), Some(&model.url));
    let body = d["body"].as_str().expect("body");
    assert!(body.contains("## Attendees\n\n- Alice\n- Bob\n- Carol\n"), "{body}");
    let owners: Vec<&str> =
        body.lines().filter_map(|l| l.strip_prefix("- [ ] **")).filter_map(|l| l.split("**").next()).collect();
    assert!(owners.iter().all(|o| ["Alice", "Bob", "Carol"].contains(o)), "owners are attendees: {body}");
    assert!(d["by"] == "local" || d["note"].as_str().is_some_and(|n| !n.is_empty()), "{d}");
    let d = draft(
        &env,
        &["generate", "docs", "ENG", "--repo", code.to_str().expect("utf-8"), "--json"],
        None,
        Some(&model.url),
    );
    let body = d["body"].as_str().expect("body");
    assert!(body.contains("### `issue_token` (fn)"), "the reference stays under the model's overview: {body}");
    if d["by"] == "local" {
        assert!(body.contains("## Overview\n\n"), "{body}");
    }

    assert_eq!(pages(&env), before, "drafts publish nothing");
}
