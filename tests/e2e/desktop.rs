//! The desktop app end to end under Xvfb and a D-Bus session of its own
//! (`tests/desktop/desktop_test.mjs`: tauri-driver and WebKitWebDriver start the real app on an
//! empty wiki home; second launches hand their links to it). Afterwards git shows the edit as
//! a commit by the person the app runs as, and the space is a valid repository.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::support::{Env, git};

/// Where cargo put the desktop binary: beside this test's own binary, one folder up.
fn app_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target profile folder");
    dir.join(format!("confluence-do-desktop{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn the_desktop_app_offers_the_demo_shows_the_tree_and_saves_an_edit() {
    let app = app_binary();
    assert!(
        app.is_file(),
        "{} is missing: build it first (cargo build -p confluence-do-desktop; the README's test command does)",
        app.display()
    );
    for tool in ["dbus-run-session", "xvfb-run", "WebKitWebDriver", "tauri-driver"] {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().expect("sh");
        assert!(found.status.success(), "{tool} is not installed; run scripts/setup-tests");
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let env = Env::new();
    // The README's screenshot when asked (CDO_SCREENSHOTS=docs/screenshots), else beside the test.
    let shot = match std::env::var("CDO_SCREENSHOTS") {
        Ok(dir) => root.join(dir).join("desktop.png"),
        Err(_) => env.home.join("desktop.png"),
    };
    // A session bus of its own: a second launch finds the running app over D-Bus.
    let out = Command::new("dbus-run-session")
        .args(["--", "xvfb-run", "-a", "-s", "-screen 0 1280x800x24", "node", "desktop_test.mjs"])
        .arg(&app)
        .arg(&shot)
        .current_dir(root.join("tests/desktop"))
        .env("CONFLUENCE_DO_HOME", &env.home)
        .env("CONFLUENCE_DO_USER", "Desk Person <desk@example.com>")
        .env("CONFLUENCE_DO_UI", root.join("ui/dist"))
        .output()
        .expect("xvfb-run runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or(Value::Null);
    assert!(
        out.status.success() && report["ok"] == Value::Bool(true),
        "the desktop test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let space = env.space_path("ENG");
    let log = git(&space, &["log", "--format=%an|%s"]);
    assert!(log.lines().next().is_some_and(|l| l == "Desk Person|Edit \"Onboarding\" live"), "{log}");
    // The app was stopped by the driver, not quit: opening the space again (any command) brings
    // the git index up to date from the save journal.
    env.ok(&["space", "list"]);
    assert_eq!(git(&space, &["status", "--porcelain"]), "", "the space is clean");
    git(&space, &["fsck", "--strict"]);
}

/// Two launches at the same moment (a double click on the icon, a link clicked twice): one
/// app starts and shows one window; the other hands over and exits, whichever was first.
#[test]
fn two_launches_at_once_make_one_window() {
    let app = app_binary();
    assert!(app.is_file(), "{} is missing: build it first (cargo build -p confluence-do-desktop)", app.display());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let env = Env::new();
    // Both start before either has a window; once one has exited, the other's window is
    // counted (X's own list of windows) with the app processes still running.
    let script = r#"
        app=$1
        "$app" & a=$!
        "$app" & b=$!
        end=$((SECONDS + 90))
        while kill -0 $a 2>/dev/null && kill -0 $b 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.05; done
        until xwininfo -root -tree | grep -q '"confluence.do"' || [ $SECONDS -ge $end ]; do sleep 0.05; done
        echo "windows=$(xwininfo -root -tree | grep -c '"confluence.do"')"
        echo "processes=$(pgrep -c -P $$ -f "^$app")"
        kill $a $b 2>/dev/null
        wait
    "#;
    let out = Command::new("dbus-run-session")
        .args(["--", "xvfb-run", "-a", "-s", "-screen 0 1280x800x24", "bash", "-c", script, "twice"])
        .arg(&app)
        .env("CONFLUENCE_DO_HOME", &env.home)
        .env("CONFLUENCE_DO_UI", root.join("ui/dist"))
        .output()
        .expect("xvfb-run runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("windows=1\n") && stdout.contains("processes=1\n"),
        "two launches at once should leave one app with one window:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
