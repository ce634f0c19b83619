//! The acceptance points of the core issue, checked as a user would: through the CLI, with git.

use crate::support::{Env, assert_fsck, assert_repo_clean, git, shape};

#[test]
fn a_space_with_parents_children_labels_and_a_template_page() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let parent = env.create("ENG", "Architecture", "# Architecture\n", &["--label", "arch", "--label", "Core Systems"]);
    let bob = ["--user", "Bob Builder <bob@example.com>"];
    env.create("ENG", "Authentication", "# Auth\n", &[&["--parent", &parent][..], &bob].concat());
    let adr = env.json(&[
        "page",
        "create",
        "ENG",
        "--template",
        "adr",
        "--field",
        "number=1",
        "--field",
        "decision=Use JWT",
        "--field",
        "status=accepted",
        "--parent",
        "ENG:Architecture",
        "--json",
    ]);
    assert_eq!(adr["title"], "ADR 1: Use JWT");
    assert_eq!(adr["version"], 1);

    let tree = env.json(&["tree", "ENG", "--json"]);
    assert_eq!(shape(&tree), "Architecture\n  ADR 1: Use JWT\n  Authentication\n");
    assert_eq!(tree[0]["id"], parent.as_str());
    let shown = env.json(&["page", "show", &parent, "--format", "json"]);
    assert_eq!(shown["labels"], serde_json::json!(["arch", "core-systems"]));
    let adr_shown = env.json(&["page", "show", "ENG:ADR 1: Use JWT", "--json"]);
    assert_eq!(adr_shown["fields"]["status"], "Accepted");
    assert_eq!(adr_shown["parent"], parent.as_str());

    let root = env.space_path("ENG");
    let log = git(&root, &["log", "--format=%an <%ae>|%s"]);
    assert_eq!(
        log,
        "Alice Liddell <alice@example.com>|Create \"ADR 1: Use JWT\"\n\
         Bob Builder <bob@example.com>|Create \"Authentication\"\n\
         Alice Liddell <alice@example.com>|Create \"Architecture\"\n\
         Alice Liddell <alice@example.com>|Create space ENG\n"
    );
    assert_repo_clean(&root);
}

#[test]
fn renaming_and_moving_a_linked_page_rewrites_links_in_the_same_commit() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let ops = env.create("ENG", "Operations", "# Ops\n", &[]);
    let guide = env.create("ENG", "Deploy Guide", "# Deploy\nv1\n", &[]);
    env.update_body(&guide, "# Deploy\nv2, see [home](home.md)\n");
    let home = env.create("ENG", "Home", "Read [the guide](deploy-guide.md#rollback) and [[Deploy Guide]].\n", &[]);
    let onboarding = env.create("ENG", "Onboarding", "Day 1: [deploying](../deploy-guide.md).\n", &["--parent", &ops]);

    env.ok(&["page", "update", &guide, "--title", "Release Guide", "--user", "Bob <bob@example.com>"]);
    let moved = env.json(&["page", "move", &guide, "--parent", &ops, "--json"]);
    assert_eq!(moved["id"], guide.as_str(), "the id survives the rename and the move");
    assert_eq!(moved["path"], "operations/release-guide.md");

    let root = env.space_path("ENG");
    let home_text = env.ok(&["page", "show", &home]);
    assert_eq!(home_text, "Read [the guide](operations/release-guide.md#rollback) and [[Release Guide]].\n");
    assert_eq!(env.ok(&["page", "show", &onboarding]), "Day 1: [deploying](release-guide.md).\n");
    assert_eq!(env.ok(&["page", "show", &guide]), "# Deploy\nv2, see [home](../home.md)\n");
    // The move is one commit holding the moved file and every rewritten link.
    let files = git(&root, &["show", "--name-status", "--format=%s", "HEAD"]);
    assert!(files.starts_with("Move \"Release Guide\" under \"Operations\""), "{files}");
    for f in ["home.md", "operations/onboarding.md", "operations/release-guide.md"] {
        assert!(files.contains(f), "{f} not in the move commit:\n{files}");
    }
    assert!(git(&root, &["show", "--format=%an", "--no-patch", "HEAD~1"]).starts_with("Bob"));
    let history = env.json(&["page", "history", &guide, "--json"]);
    let versions: Vec<(u64, String)> = history
        .as_array()
        .expect("list")
        .iter()
        .map(|v| (v["version"].as_u64().expect("n"), v["path"].as_str().expect("path").to_owned()))
        .collect();
    assert_eq!(
        versions,
        [
            (4, "operations/release-guide.md".to_owned()),
            (3, "release-guide.md".to_owned()),
            (2, "deploy-guide.md".to_owned()),
            (1, "deploy-guide.md".to_owned()),
        ]
    );
    assert_eq!(env.ok(&["page", "show", &guide, "--version", "1"]), "# Deploy\nv1\n");
    assert!(env.ok(&["links", "broken", "ENG"]).contains("No broken links"));
    let backlinks = env.json(&["page", "backlinks", &guide, "--json"]);
    assert_eq!(backlinks.as_array().map(Vec::len), Some(2));
    assert_repo_clean(&root);
}

#[test]
fn restoring_version_one_of_three_makes_version_four() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let page = env.create("ENG", "Runbook", "first\n", &[]);
    env.update_body(&page, "second\n");
    env.update_body(&page, "third\n");
    let restored = env.json(&["page", "restore", &page, "--version", "1", "--json"]);
    assert_eq!(restored["version"], 4);
    assert_eq!(env.ok(&["page", "show", &page]), "first\n");
    let history = env.json(&["page", "history", &page, "--json"]);
    assert_eq!(history[0]["version"], 4);
    assert_eq!(history[0]["message"], "Restore \"Runbook\" to version 1");
    let diff = env.ok(&["page", "diff", &page, "--from", "3", "--to", "4"]);
    assert!(diff.contains("-third") && diff.contains("+first"), "{diff}");
    let words = env.json(&["page", "diff", &page, "--from", "1", "--to", "2", "--json"]);
    assert!(
        words["words"]
            .as_array()
            .expect("words")
            .iter()
            .any(|w| w["op"] == "insert" && w["text"].as_str().unwrap_or("").contains("second"))
    );
    assert_repo_clean(&env.space_path("ENG"));
}

#[test]
fn a_git_clone_added_to_another_home_has_the_same_tree_and_ids() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let a = env.create("ENG", "Alpha", "# A\n", &[]);
    env.create("ENG", "Beta", "# B\n", &["--parent", &a]);
    let tree = env.json(&["tree", "ENG", "--json"]);

    let clone_dir = env.dir.path().join("elsewhere");
    git(
        env.dir.path(),
        &["clone", "-q", env.space_path("ENG").to_str().expect("utf-8"), clone_dir.to_str().expect("utf-8")],
    );
    let other = env.other_home("second-home");
    other.ok(&["space", "add", clone_dir.to_str().expect("utf-8")]);
    assert_eq!(other.json(&["tree", "ENG", "--json"]), tree);

    // `space clone` does the same from a URL.
    let third = env.other_home("third-home");
    let url = format!("file://{}", env.space_path("ENG").display());
    let cloned = third.json(&["space", "clone", &url, "--json"]);
    assert_eq!(cloned["key"], "ENG");
    assert_eq!(third.json(&["tree", "ENG", "--json"]), tree);
    // And the clone is a working space: edits land as commits there.
    third.update_body(&a, "# A, edited in the clone\n");
    assert_repo_clean(&third.space_path("ENG"));
}

#[test]
fn hostile_titles_stay_inside_the_space_and_round_trip() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let root = std::fs::canonicalize(env.space_path("ENG")).expect("canonical");
    let long = "Ü".repeat(300);
    for title in ["../../etc/passwd", "con", long.as_str(), "🚀 Launch 🎉", "a/b:c", "NUL.txt", ".git"] {
        let id = env.create("ENG", title, "body\n", &[]);
        let page = env.json(&["page", "show", &id, "--json"]);
        assert_eq!(page["title"], title);
        let path = root.join(page["path"].as_str().expect("path"));
        let canonical = std::fs::canonicalize(&path).expect("the file exists");
        assert!(canonical.starts_with(&root), "{title:?} escaped to {}", canonical.display());
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        assert!(name.len() <= 64 && !name.contains([':', '\\']), "{name}");
    }
    assert_repo_clean(&root);
}

#[test]
fn broken_frontmatter_shows_the_body_with_a_diagnostic_and_is_listed() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let root = env.space_path("ENG");
    let text = "---\ntitle: Broken [\nlabels: [a\n---\n# Still readable\nThe body is here.\n";
    std::fs::write(root.join("broken.md"), text).expect("write");
    let tree = env.json(&["tree", "ENG", "--json"]);
    let id = tree[0]["id"].as_str().expect("listed").to_owned();
    assert_eq!(tree[0]["title"], "Still readable");
    let out = env.cmd(&["page", "show", &id]).output().expect("runs");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "# Still readable\nThe body is here.\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.md") && stderr.contains("not valid YAML") && stderr.contains("line"), "{stderr}");
    let err = env.fails(&["page", "update", &id, "--title", "Fixed"]);
    assert!(err.contains("frontmatter is broken") && err.contains("fix the YAML"), "{err}");
    assert_eq!(std::fs::read_to_string(root.join("broken.md")).expect("read"), text, "never rewritten");
    let json = env.json(&["page", "show", &id, "--json"]);
    assert!(!json["diagnostics"].as_array().expect("list").is_empty());
    assert_fsck(&root);
}

#[test]
fn errors_say_what_to_do_next() {
    let env = Env::new();
    let err = env.fails(&["tree", "NOPE"]);
    assert!(err.contains("no space NOPE") && err.contains("space create"), "{err}");
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let err = env.fails(&["page", "show", "123456"]);
    assert!(err.contains("no page 123456") && err.contains("tree"), "{err}");
    let err = env.fails(&["page", "create", "ENG", "--template", "adr", "--field", "number=x"]);
    assert!(err.contains("`x` is not a number") && err.contains("is required"), "{err}");
    env.create("ENG", "Taken", "x\n", &[]);
    let err = env.fails(&["page", "create", "ENG", "--title", "taken"]);
    assert!(err.contains("already exists"), "{err}");
    let err = env
        .cmd(&["space", "create", "OTHER", "--name", "O"])
        .env_remove("CONFLUENCE_DO_USER")
        .env("HOME", env.dir.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("runs");
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("who is editing?"));
}
