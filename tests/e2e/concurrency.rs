//! Several writers and hard crashes: saves land or fail clearly, and the repository stays valid.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::{BIN, Env, assert_fsck, assert_repo_clean, git};

/// A shell loop that saves `page` `count` times (or forever with 0), printing `ACK n` after
/// each save the CLI acknowledged.
fn save_loop(env: &Env, page: &str, tag: &str, count: u32) -> Command {
    let body = env.dir.path().join(format!("loop-{tag}.md"));
    let script = format!(
        r#"i=0; while [ "{count}" = 0 ] || [ "$i" -lt "{count}" ]; do i=$((i+1)); printf '{tag} save %s\n' "$i" > "$BODY"; "$BIN" --home "$HOME_DIR" page update {page} --file "$BODY" > /dev/null || exit 1; echo "ACK $i"; done"#
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .env("BIN", BIN)
        .env("BODY", body)
        .env("HOME_DIR", &env.home)
        .env("CONFLUENCE_DO_USER", format!("Writer {tag} <{tag}@example.com>"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn two_processes_saving_into_one_space_both_land() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let a = env.create("ENG", "Page A", "start\n", &[]);
    let b = env.create("ENG", "Page B", "start\n", &[]);
    // Two writers on two pages, and both of them also on the same page.
    let mut writers: Vec<_> = [("a", &a), ("b", &b), ("c", &a)]
        .iter()
        .map(|(tag, page)| save_loop(&env, page, tag, 12).spawn().expect("spawn"))
        .collect();
    for w in writers.drain(..) {
        let out = w.wait_with_output().expect("wait");
        assert!(out.status.success(), "a writer failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 12);
    }
    let root = env.space_path("ENG");
    let log = git(&root, &["log", "--format=%ae"]);
    for tag in ["a", "b", "c"] {
        assert_eq!(
            log.lines().filter(|l| *l == format!("{tag}@example.com")).count(),
            12,
            "every save of {tag} is a commit:\n{log}"
        );
    }
    assert_eq!(env.json(&["page", "history", &b, "--json"]).as_array().map(Vec::len), Some(13));
    assert_repo_clean(&root);
}

#[test]
fn kill_9_in_a_save_loop_loses_no_acknowledged_save() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let page = env.create("ENG", "Hot Page", "start\n", &[]);
    let root = env.space_path("ENG");
    let path = env.json(&["page", "show", &page, "--json"])["path"].as_str().expect("path").to_owned();
    for round in 0..3 {
        let mut cmd = save_loop(&env, &page, &format!("k{round}"), 0);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut acked = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            acked = line.trim_start_matches("ACK ").parse().expect("ACK n");
            if acked >= 5 + round * 3 {
                break;
            }
        }
        // Kill the loop and the save in flight, whatever it is doing.
        let killed = Command::new("kill").args(["-9", "--", &format!("-{}", child.id())]).status().expect("kill");
        assert!(killed.success());
        let _ = child.wait();
        assert_fsck(&root);
        let patches = git(&root, &["log", "-p", "--format=", "--", &path]);
        for n in 1..=acked {
            assert!(
                patches.contains(&format!("+k{round} save {n}\n")),
                "acknowledged save {n} of round {round} is missing"
            );
        }
        // The space still takes writes, and ends clean.
        env.update_body(&page, &format!("after round {round}\n"));
        assert_eq!(env.ok(&["page", "show", &page]), format!("after round {round}\n"));
        assert_repo_clean(&root);
    }
}
