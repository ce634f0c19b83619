//! The web UI in a real browser: `tests/ui/ui_test.mjs` (playwright-core driving the system's
//! Chromium) against a real server holding the demo space; then git shows what the UI did.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::server::Server;
use crate::support::{Env, git};

/// The repository root (the e2e tests belong to crates/cli).
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_web_ui_reads_writes_searches_moves_and_restores_in_chromium() {
    let root = repo();
    let dist = root.join("ui/dist");
    assert!(dist.join("index.html").is_file(), "the UI is not built; run scripts/setup-tests");
    let tests = root.join("tests/ui");
    assert!(
        tests.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed; run scripts/setup-tests"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        PathBuf::from(&chromium).is_file(),
        "Chromium is not at {chromium}; run scripts/setup-tests (apt-get install chromium)"
    );

    let env = Env::new();
    env.ok(&["demo"]);
    // A remote for the demo space, so the UI's git sync has somewhere to push.
    let remote = tempfile::tempdir().expect("tempdir");
    git(remote.path(), &["init", "--bare", "-q"]);
    git(&env.space_path("ENG"), &["remote", "add", "origin", remote.path().to_str().expect("utf-8 path")]);
    let server = Server::start(&env, "127.0.0.1:0", &["--ui", dist.to_str().expect("utf-8 path")]);
    // Screenshots for the README when asked (CDO_SCREENSHOTS=docs/screenshots), else beside the test.
    let shots = std::env::var("CDO_SCREENSHOTS").map(|d| root.join(d)).unwrap_or_else(|_| env.home.join("screenshots"));
    let out = Command::new("node")
        .current_dir(&tests)
        .arg("ui_test.mjs")
        .arg(server.url())
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or(Value::Null);
    assert!(
        out.status.success() && report["ok"] == Value::Bool(true),
        "the browser test failed (screenshot: {}):\n{stdout}\n{}",
        shots.join("failure.png").display(),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("browser timings: {}", report["timings"]);

    // What the UI did is in git: commits by the person the server runs as, a clean tree.
    let space = env.space_path("ENG");
    let log = git(&space, &["log", "--format=%an|%s"]);
    assert!(log.contains("Local Person|Create \"ADR 7: Blue-green deploys\""), "{log}");
    assert!(log.lines().filter(|l| l.contains("ADR 7")).count() >= 4, "create, save, merged save, restore: {log}");
    assert!(log.contains("Move \"Onboarding\""), "{log}");
    assert_eq!(git(&space, &["status", "--porcelain"]), "", "the space is clean");
}
