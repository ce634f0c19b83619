//! A throwaway wiki home and helpers to run the CLI and git in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_confluence-do");

/// A process a test runs beside the CLI (a server on loopback), stopped when it is dropped.
pub struct Background {
    child: std::process::Child,
}

impl Background {
    /// Starts `cmd` with stdout piped and stderr dropped, and returns it with the first line
    /// it printed (trimmed): where it listens.
    pub fn start(cmd: &mut Command) -> (Background, String) {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?} does not start: {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("reads a line");
        (Background { child }, line.trim().to_owned())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary folder holding one or more wiki homes.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        Env { dir, home }
    }

    /// Another home in the same temporary folder.
    pub fn other_home(&self, name: &str) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join(name);
        Env { dir, home }
    }

    /// The CLI with this home and a default editor.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--home").arg(&self.home).args(args);
        cmd.env_remove("CONFLUENCE_DO_HOME").env("CONFLUENCE_DO_USER", "Alice Liddell <alice@example.com>");
        // A model the developer configured must not change what the tests see.
        cmd.env_remove("CONFLUENCE_DO_LLM_URL")
            .env_remove("CONFLUENCE_DO_LLM_MODEL")
            .env_remove("CONFLUENCE_DO_LLM_KEY");
        cmd
    }

    /// Runs the CLI; panics with its stderr unless it succeeds. Returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("the binary runs");
        check(args, &out);
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs the CLI with `--json` output and parses it.
    pub fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}):\n{text}"))
    }

    /// Runs the CLI expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("the binary runs");
        assert!(!out.status.success(), "{args:?} should fail but printed:\n{}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Creates a page from a Markdown body; returns its id.
    pub fn create(&self, key: &str, title: &str, body: &str, extra: &[&str]) -> String {
        let file = self.dir.path().join(format!("body-{}.md", fastrand_name()));
        std::fs::write(&file, body).expect("write body");
        let mut args =
            vec!["page", "create", key, "--title", title, "--file", file.to_str().expect("utf-8 path"), "--json"];
        args.extend_from_slice(extra);
        self.json(&args)["id"].as_str().expect("an id").to_owned()
    }

    /// Replaces a page's body.
    pub fn update_body(&self, page: &str, body: &str) {
        let file = self.dir.path().join(format!("body-{}.md", fastrand_name()));
        std::fs::write(&file, body).expect("write body");
        self.ok(&["page", "update", page, "--file", file.to_str().expect("utf-8 path")]);
    }

    /// Where a registered space lives.
    pub fn space_path(&self, key: &str) -> PathBuf {
        let list = self.json(&["space", "list", "--json"]);
        let entry = list.as_array().expect("a list").iter().find(|s| s["key"] == key).expect("the space is listed");
        PathBuf::from(entry["path"].as_str().expect("a path"))
    }
}

fn fastrand_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn check(args: &[&str], out: &Output) {
    assert!(
        out.status.success(),
        "{args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Writes `text` to `path` under `root`, making its folders.
pub fn write(root: &Path, path: &str, text: &str) {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
    std::fs::write(file, text).expect("write");
}

/// Runs git in `dir`; panics unless it succeeds. Returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Git User")
        .env("GIT_AUTHOR_EMAIL", "git@example.com")
        .env("GIT_COMMITTER_NAME", "Git User")
        .env("GIT_COMMITTER_EMAIL", "git@example.com")
        .output()
        .expect("git runs");
    check(&[&["git"], args].concat(), &out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `git status --porcelain` is empty and `git fsck` finds nothing wrong.
pub fn assert_repo_clean(dir: &Path) {
    let status = git(dir, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(status.is_empty(), "git status is not clean:\n{status}");
    assert_fsck(dir);
}

/// `git fsck --full --strict` passes without complaints.
pub fn assert_fsck(dir: &Path) {
    let out = Command::new("git").args(["fsck", "--full", "--strict"]).current_dir(dir).output().expect("git runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("error"), "git fsck: {stderr}");
}

/// Titles of a `tree --json` as indented lines.
pub fn shape(tree: &Value) -> String {
    fn walk(nodes: &Value, depth: usize, out: &mut String) {
        for n in nodes.as_array().into_iter().flatten() {
            out.push_str(&format!("{}{}\n", "  ".repeat(depth), n["title"].as_str().unwrap_or("?")));
            walk(&n["children"], depth + 1, out);
        }
    }
    let mut out = String::new();
    walk(tree, 0, &mut out);
    out
}
