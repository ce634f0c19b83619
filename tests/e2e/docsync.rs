//! DocSync: a commit to the source repository updates the page; a page edit flows back to the
//! source where two-way; a sync with nothing new commits nothing; edits on both sides are
//! reported and neither is overwritten; OpenAPI specs and conventional commits become pages; a
//! git URL is cloned into the cache; `docsync watch` syncs on a new commit.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{Env, git, write};

fn commit(repo: &Path, message: &str) {
    git(repo, &["add", "-A"]);
    git(repo, &["-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", message]);
}

fn body(env: &Env, id: &str) -> String {
    env.json(&["page", "show", id, "--json"])["body"].as_str().expect("body").to_owned()
}

fn page_id(env: &Env, title: &str) -> String {
    env.json(&["page", "show", &format!("ENG:{title}"), "--json"])["id"].as_str().expect("id").to_owned()
}

fn commits(repo: &Path) -> usize {
    git(repo, &["rev-list", "--count", "HEAD"]).trim().parse().expect("a count")
}

#[test]
fn sources_keep_pages_current_both_ways() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let space = env.space_path("ENG");
    let src = env.dir.path().join("service");
    std::fs::create_dir_all(&src).expect("mkdir");
    git(&src, &["init", "-q", "-b", "main"]);
    write(&src, "docs/guide.md", "# Guide\n\nRun `make up` to start.\n");
    write(
        &src,
        "api/openapi.yaml",
        "openapi: 3.0.3\ninfo: {title: Acme API, version: '1'}\npaths:\n  /users:\n    post:\n      summary: Create a user\n      responses:\n        '201': {description: Created}\n",
    );
    commit(&src, "feat(api): add users");
    git(&src, &["tag", "v1.0.0"]);
    write(&src, "src/lib.rs", "pub fn fix() {}\n");
    commit(&src, "fix: tokens no longer expire early");
    let src_s = src.to_str().expect("utf-8");

    // A mirror, two-way: the page is the file, with a header naming the source commit.
    env.ok(&["docsync", "add", "ENG", "--repo", src_s, "--path", "docs/guide.md", "--title", "Guide", "--two-way"]);
    let guide = page_id(&env, "Guide");
    let text = body(&env, &guide);
    let head = git(&src, &["rev-parse", "HEAD"]);
    assert!(text.contains("Run `make up` to start.") && text.contains(&head.trim()[..10]), "{text}");

    // Nothing new: nothing committed.
    let before = commits(&space);
    let out = env.ok(&["docsync", "run"]);
    assert!(out.contains("unchanged"), "{out}");
    assert_eq!(commits(&space), before, "an idempotent sync commits nothing");

    // A commit to the source updates the page, in one commit that names the source commit.
    write(&src, "docs/guide.md", "# Guide\n\nRun `make dev` to start.\n");
    commit(&src, "docs: make dev");
    let head = git(&src, &["rev-parse", "HEAD"]).trim().to_owned();
    env.ok(&["docsync", "run"]);
    assert!(body(&env, &guide).contains("make dev"));
    assert_eq!(commits(&space), before + 1);
    let message = git(&space, &["log", "-1", "--format=%s"]);
    assert!(message.contains(&head[..10]) && message.contains("docs/guide.md"), "{message}");

    // A page edit flows back: a commit in the source repository, and its checked-out file.
    let edited = body(&env, &guide).replace("make dev", "make dev (or `make up`)");
    env.update_body(&guide, &edited);
    let out = env.ok(&["docsync", "run"]);
    assert!(out.contains("is now source commit"), "{out}");
    let file = std::fs::read_to_string(src.join("docs/guide.md")).expect("read");
    assert!(file.contains("make dev (or `make up`)") && !file.contains("DocSync"), "{file}");
    assert!(git(&src, &["log", "-1", "--format=%B"]).contains("from the wiki page \"Guide\""));
    assert_eq!(git(&src, &["status", "--porcelain"]).trim(), "", "the source's working tree is clean");
    let out = env.ok(&["docsync", "run"]);
    assert!(out.contains("unchanged"), "{out}");

    // Both sides edited: reported, neither overwritten.
    let page_edit = body(&env, &guide).replace("to start", "to start the stack");
    env.update_body(&guide, &page_edit);
    write(&src, "docs/guide.md", "# Guide\n\nRun `make all`.\n");
    commit(&src, "docs: make all");
    let out = env.ok(&["docsync", "run"]);
    assert!(out.contains("not synced: both the page and docs/guide.md changed"), "{out}");
    assert!(body(&env, &guide).contains("to start the stack"));
    assert!(std::fs::read_to_string(src.join("docs/guide.md")).expect("read").contains("make all"));

    // An OpenAPI spec as a reference; conventional commits as a changelog.
    env.ok(&[
        "docsync",
        "add",
        "ENG",
        "--repo",
        src_s,
        "--path",
        "api/openapi.yaml",
        "--kind",
        "openapi-to-markdown",
        "--title",
        "API",
    ]);
    let api = body(&env, &page_id(&env, "API"));
    assert!(api.contains("# Acme API 1") && api.contains("### POST `/users`\n\nCreate a user"), "{api}");
    env.ok(&[
        "docsync",
        "add",
        "ENG",
        "--repo",
        src_s,
        "--kind",
        "conventional-commits-to-changelog",
        "--title",
        "Changelog",
    ]);
    let log = body(&env, &page_id(&env, "Changelog"));
    let unreleased = log.find("## Unreleased").expect("unreleased");
    let release = log.find("## v1.0.0").expect("the release");
    assert!(unreleased < release, "{log}");
    assert!(log[unreleased..release].contains("### Bug fixes\n\n- tokens no longer expire early"), "{log}");
    assert!(log[release..].contains("### Features\n\n- **api:** add users"), "{log}");

    // A git URL is cloned into the cache.
    let bare = env.dir.path().join("service.git");
    git(env.dir.path(), &["clone", "-q", "--bare", src_s, bare.to_str().expect("utf-8")]);
    let url = format!("file://{}", bare.display());
    env.ok(&["docsync", "add", "ENG", "--repo", &url, "--path", "docs/guide.md", "--title", "Guide (mirror)"]);
    assert!(body(&env, &page_id(&env, "Guide (mirror)")).contains("make all"));
    assert!(env.home.join("cache/docsync").is_dir());

    // Watching: a new commit in the source is synced without being asked.
    let mut watch = env
        .cmd(&["docsync", "watch", "--every", "600"])
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("watch starts");
    write(&src, "api/openapi.yaml", "openapi: 3.0.3\ninfo: {title: Acme API, version: '2'}\npaths: {}\n");
    commit(&src, "feat!: drop users");
    let api_id = page_id(&env, "API");
    let deadline = Instant::now() + Duration::from_secs(30);
    let synced = loop {
        let text = body(&env, &api_id);
        if text.contains("# Acme API 2") {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::yield_now();
    };
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(synced, "docsync watch did not sync the new commit within 30 s");
}
