//! Space operations against real git repositories in temporary folders.

use std::path::Path;

use cdo_core::model::{Author, NodeKind, PageId, SpaceInfo, SpaceKey, TreeNode};
use cdo_core::{MoveTarget, NewPage, PageUpdate, Space};

struct Fixture {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    cache: std::path::PathBuf,
    space: Space,
}

fn alice() -> Author {
    Author { name: "Alice Liddell".into(), email: "alice@example.com".into() }
}

fn bob() -> Author {
    Author { name: "Bob Builder".into(), email: "bob@example.com".into() }
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("ENG");
    let cache = dir.path().join("cache.sqlite");
    let info = SpaceInfo {
        key: SpaceKey::parse("ENG").expect("key"),
        name: "Engineering".into(),
        description: None,
        homepage: None,
    };
    let space = Space::create(&root, &cache, &info, &alice()).expect("create space");
    Fixture { _dir: dir, root, cache, space }
}

fn page(title: &str) -> NewPage {
    NewPage { title: Some(title.into()), body: format!("# {title}\n"), ..NewPage::default() }
}

/// The tree as indented titles.
fn shape(nodes: &[TreeNode]) -> String {
    fn walk(nodes: &[TreeNode], depth: usize, out: &mut String) {
        for n in nodes {
            let folder = if n.kind == NodeKind::Folder { "/" } else { "" };
            out.push_str(&format!("{}{}{folder}\n", "  ".repeat(depth), n.title));
            walk(&n.children, depth + 1, out);
        }
    }
    let mut out = String::new();
    walk(nodes, 0, &mut out);
    out
}

fn git_log(root: &Path) -> Vec<(String, String)> {
    let repo = git2::Repository::open(root).expect("repo");
    let mut walk = repo.revwalk().expect("walk");
    walk.push_head().expect("head");
    walk.map(|oid| {
        let c = repo.find_commit(oid.expect("oid")).expect("commit");
        (c.summary().ok().flatten().unwrap_or_default().to_owned(), c.author().email().unwrap_or_default().to_owned())
    })
    .collect()
}

fn assert_clean(space: &Space) {
    space.flush_index().expect("flush index");
    let repo = git2::Repository::discover(space.root()).expect("repo");
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true);
    let statuses = repo.statuses(Some(&mut opts)).expect("status");
    let dirty: Vec<String> =
        statuses.iter().map(|s| format!("{:?} {}", s.status(), s.path().unwrap_or_default())).collect();
    assert!(dirty.is_empty(), "git status is not clean: {dirty:?}");
}

#[test]
fn create_pages_under_parents_with_labels_and_templates() {
    let mut f = fixture();
    let arch = f
        .space
        .create_page(&NewPage { labels: vec!["Architecture".into()], ..page("Architecture") }, &alice())
        .expect("create");
    let auth = f
        .space
        .create_page(&NewPage { parent: Some(arch.summary.id.clone()), ..page("Authentication") }, &bob())
        .expect("create child");
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("number".to_owned(), "1".to_owned());
    fields.insert("decision".to_owned(), "Use JWT".to_owned());
    let adr = f
        .space
        .create_page(
            &NewPage {
                template: Some("adr".into()),
                fields,
                parent: Some(arch.summary.id.clone()),
                ..NewPage::default()
            },
            &alice(),
        )
        .expect("from template");
    assert_eq!(adr.summary.title, "ADR 1: Use JWT");
    assert_eq!(shape(&f.space.tree().expect("tree")), "Architecture\n  ADR 1: Use JWT\n  Authentication\n");
    assert_eq!(auth.summary.parent, Some(arch.summary.id.clone()));
    assert_eq!(f.space.summary(&arch.summary.id).expect("summary").labels, ["architecture"]);
    let adr_page = f.space.page(&adr.summary.id).expect("page");
    assert!(adr_page.fields.contains(&("status".to_owned(), "Proposed".to_owned())), "{:?}", adr_page.fields);
    assert!(adr_page.summary.labels.contains(&"adr".to_owned()));
    let log = git_log(&f.root);
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!(log[1], ("Create \"Authentication\"".to_owned(), "bob@example.com".to_owned()));
    assert_clean(&f.space);
    assert!(f.root.join("architecture/authentication.md").exists());
}

#[test]
fn rename_and_move_rewrite_links_in_the_same_commit() {
    let mut f = fixture();
    let guide = f.space.create_page(&page("Deploy Guide"), &alice()).expect("create");
    let ops = f.space.create_page(&page("Operations"), &alice()).expect("create");
    let linker = f
        .space
        .create_page(
            &NewPage {
                body: "See [the guide](deploy-guide.md#rollback), [[Deploy Guide]] and ![img](deploy-guide.attachments/a.png).\n".into(),
                ..page("Home")
            },
            &alice(),
        )
        .expect("create");
    f.space
        .update_page(
            &guide.summary.id,
            &PageUpdate { body: Some("Link back to [home](home.md).\n".into()), ..Default::default() },
            &alice(),
        )
        .expect("v2");
    let before = git_log(&f.root).len();
    // Rename: the file follows the title; every link follows the file.
    f.space
        .update_page(
            &guide.summary.id,
            &PageUpdate { title: Some("Release Guide".into()), ..Default::default() },
            &bob(),
        )
        .expect("rename");
    assert_eq!(git_log(&f.root).len(), before + 1);
    let home = f.space.page(&linker.summary.id).expect("home").body;
    assert_eq!(
        home,
        "See [the guide](release-guide.md#rollback), [[Release Guide]] and ![img](release-guide.attachments/a.png).\n"
    );
    // Move under Operations: links from and to it are rewritten; the id stays.
    let moved =
        f.space.move_page(&guide.summary.id, &MoveTarget::Under(ops.summary.id.clone()), None, &bob()).expect("move");
    assert_eq!(moved.summary.id, guide.summary.id);
    assert_eq!(moved.summary.path, "operations/release-guide.md");
    let home = f.space.page(&linker.summary.id).expect("home").body;
    assert!(home.starts_with("See [the guide](operations/release-guide.md#rollback)"), "{home}");
    let guide_body = f.space.page(&guide.summary.id).expect("guide").body;
    assert_eq!(guide_body, "Link back to [home](../home.md).\n");
    let history = f.space.history(&guide.summary.id).expect("history");
    let messages: Vec<&str> = history.iter().map(|v| v.message.as_str()).collect();
    // The move rewrote the guide's own link, so it is a version of the guide.
    assert_eq!(
        messages,
        [
            "Create \"Deploy Guide\"",
            "Update \"Deploy Guide\"",
            "Rename \"Deploy Guide\" to \"Release Guide\"",
            "Move \"Release Guide\" under \"Operations\""
        ]
    );
    assert_eq!(history[0].path, "deploy-guide.md");
    assert!(f.space.broken_links().expect("broken").iter().all(|b| !b.url.contains("guide.md")));
    assert_eq!(f.space.backlinks(&guide.summary.id).expect("backlinks").len(), 1);
    // A move that changes no content is not a version.
    let plain =
        f.space.create_page(&NewPage { body: "No links.\n".into(), ..page("Plain") }, &alice()).expect("create");
    f.space.move_page(&plain.summary.id, &MoveTarget::Under(ops.summary.id.clone()), None, &alice()).expect("move");
    assert_eq!(f.space.history(&plain.summary.id).expect("history").len(), 1);
    assert_clean(&f.space);
}

#[test]
fn restore_version_one_as_version_four() {
    let mut f = fixture();
    let p = f.space.create_page(&NewPage { body: "one\n".into(), ..page("Runbook") }, &alice()).expect("v1");
    for body in ["two\n", "three\n"] {
        f.space
            .update_page(&p.summary.id, &PageUpdate { body: Some(body.into()), ..Default::default() }, &alice())
            .expect("update");
    }
    f.space.restore_page(&p.summary.id, Some(1), &bob()).expect("restore");
    let now = f.space.page(&p.summary.id).expect("page");
    assert_eq!(now.body, "one\n");
    assert_eq!(now.version, 4);
    assert_eq!(f.space.history(&p.summary.id).expect("history")[3].message, "Restore \"Runbook\" to version 1");
    let diff = f.space.diff(&p.summary.id, 1, 3).expect("diff");
    assert!(diff.unified.contains("-one") && diff.unified.contains("+three"), "{}", diff.unified);
    assert_clean(&f.space);
}

#[test]
fn delete_and_undelete_with_children() {
    let mut f = fixture();
    let parent = f.space.create_page(&page("Parent"), &alice()).expect("create");
    let child = f
        .space
        .create_page(&NewPage { parent: Some(parent.summary.id.clone()), ..page("Child") }, &alice())
        .expect("create");
    f.space.delete_page(&parent.summary.id, &bob()).expect("delete");
    assert_eq!(shape(&f.space.tree().expect("tree")), "");
    assert!(f.space.page(&child.summary.id).is_err());
    let trash = f.space.trash().expect("trash");
    assert!(trash.iter().any(|t| t.title == "Parent"), "{trash:?}");
    f.space.restore_page(&parent.summary.id, None, &bob()).expect("undelete");
    assert_eq!(shape(&f.space.tree().expect("tree")), "Parent\n  Child\n");
    assert_eq!(f.space.summary(&child.summary.id).expect("child").parent, Some(parent.summary.id.clone()));
    assert_clean(&f.space);
}

#[test]
fn hostile_titles_stay_inside_and_round_trip() {
    let mut f = fixture();
    let long = "x".repeat(300);
    for title in ["../../etc/passwd", "con", long.as_str(), "🚀 Launch 🎉", "a/b:c", "..", "C:\\Windows"] {
        let saved = f.space.create_page(&page(title), &alice()).expect("create");
        let full = f.root.join(&saved.summary.path);
        assert!(full.starts_with(&f.root) && full.exists(), "{title:?} -> {}", saved.summary.path);
        assert!(!saved.summary.path.contains(".."), "{}", saved.summary.path);
        assert_eq!(f.space.page(&saved.summary.id).expect("page").summary.title, title);
    }
    assert!(f.space.create_page(&page("line\nbreak"), &alice()).is_err());
    assert!(f.space.create_page(&page("CON"), &alice()).is_err(), "titles are unique ignoring case");
    assert_clean(&f.space);
}

#[test]
fn broken_frontmatter_still_opens_and_is_never_rewritten() {
    let mut f = fixture();
    let text = "---\ntitle: [unclosed\n---\n# Broken\nThe body.\n";
    std::fs::write(f.root.join("broken.md"), text).expect("write");
    f.space.refresh().expect("refresh");
    let tree = f.space.tree().expect("tree");
    let node = tree.iter().find(|n| n.path == "broken.md").expect("listed");
    let page = f.space.page(&node.id).expect("opens");
    assert_eq!(page.body, "# Broken\nThe body.\n");
    assert!(page.diagnostics.iter().any(|d| d.message.contains("not valid YAML")), "{:?}", page.diagnostics);
    let err =
        f.space.update_page(&node.id, &PageUpdate { title: Some("Fixed".into()), ..Default::default() }, &alice());
    assert!(err.is_err());
    assert_eq!(std::fs::read_to_string(f.root.join("broken.md")).expect("read"), text);
}

#[test]
fn reorder_with_positions() {
    let mut f = fixture();
    let ids: Vec<PageId> =
        ["A", "B", "C"].iter().map(|t| f.space.create_page(&page(t), &alice()).expect("create").summary.id).collect();
    f.space.move_page(&ids[2], &MoveTarget::Root, Some(0), &alice()).expect("reorder");
    assert_eq!(shape(&f.space.tree().expect("tree")), "C\nA\nB\n");
    f.space.move_page(&ids[0], &MoveTarget::Root, Some(2), &alice()).expect("reorder");
    assert_eq!(shape(&f.space.tree().expect("tree")), "C\nB\nA\n");
    assert!(f.space.move_page(&ids[0], &MoveTarget::Under(ids[0].clone()), None, &alice()).is_err());
    assert_clean(&f.space);
}

#[test]
fn reopening_gives_the_same_tree_and_ids() {
    let mut f = fixture();
    let a = f.space.create_page(&page("Alpha"), &alice()).expect("create");
    f.space.create_page(&NewPage { parent: Some(a.summary.id.clone()), ..page("Beta") }, &alice()).expect("create");
    let tree = f.space.tree().expect("tree");
    drop(f.space);
    let mut again = Space::open(&f.root, &f.cache, None).expect("reopen");
    assert_eq!(again.tree().expect("tree"), tree);
    std::fs::remove_file(&f.cache).expect("drop the cache");
    let mut rebuilt = Space::open(&f.root, &f.cache, None).expect("reopen without cache");
    assert_eq!(rebuilt.tree().expect("tree"), tree);
    assert_eq!(rebuilt.history(&a.summary.id).expect("history").len(), 1);
}

fn info(key: &str) -> SpaceInfo {
    SpaceInfo { key: SpaceKey::parse(key).expect("key"), name: key.into(), description: None, homepage: None }
}

fn sh(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git").args(args).current_dir(dir).output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn pages_from_other_tools_get_ids_without_a_rewrite() {
    // A project's docs/ folder inside its own repository, written without confluence.do.
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("docs/guide")).expect("mkdir");
    std::fs::write(project.join("README.md"), "# Project\n").expect("write");
    std::fs::write(
        project.join("docs/Getting Started.md"),
        "---\ntags: [x]\n---\n# Getting Started\nSee [[Install]].\n",
    )
    .expect("write");
    std::fs::write(project.join("docs/guide/Install.md"), "Plain text, no heading.\n").expect("write");
    sh(&project, &["init", "-q", "-b", "main"]);
    sh(&project, &["-c", "user.name=T", "-c", "user.email=t@e", "add", "."]);
    sh(&project, &["-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "docs"]);
    let cache = dir.path().join("cache.sqlite");
    let mut space =
        Space::open(&project.join("docs"), &cache, Some(info("DOCS"))).expect("open a folder without space.yaml");
    assert_eq!(shape(&space.tree().expect("tree")), "Getting Started\nguide/\n  Install\n");
    let tree = space.tree().expect("tree");
    let install = tree[1].children[0].id.clone();
    assert_eq!(space.backlinks(&install).expect("backlinks").len(), 1);
    // Opening wrote nothing.
    let repo = git2::Repository::open(&project).expect("repo");
    assert!(repo.statuses(None).expect("status").is_empty());
    // The first edit writes the id the page already had, so links and history carry on.
    space
        .update_page(&install, &PageUpdate { body: Some("Edited.\n".into()), ..Default::default() }, &alice())
        .expect("edit");
    let text = std::fs::read_to_string(project.join("docs/guide/Install.md")).expect("read");
    // Only the id is added: the file name stays the title, as in the tool that wrote it.
    assert_eq!(text, format!("---\nid: \"{install}\"\n---\nEdited.\n"));
    assert_eq!(space.history(&install).expect("history").len(), 2);
    assert_eq!(space.tree().expect("tree"), tree);
    // The project's own files are untouched and the commit only touched docs/.
    assert_eq!(std::fs::read_to_string(project.join("README.md")).expect("read"), "# Project\n");
    assert_clean(&space);
    // Ids for every page in one commit, on request.
    let (count, skipped) = space.assign_ids(&alice()).expect("assign");
    assert_eq!((count, skipped.len()), (1, 0));
    let gs = std::fs::read_to_string(project.join("docs/Getting Started.md")).expect("read");
    assert!(gs.starts_with("---\ntags: [x]\nid: \""), "other tools' keys stay first: {gs}");
    assert_eq!(space.tree().expect("tree")[0].id, tree[0].id);
    assert_clean(&space);
}

#[test]
fn folders_without_pages_become_pages_on_first_edit() {
    let mut f = fixture();
    std::fs::create_dir_all(f.root.join("runbooks")).expect("mkdir");
    std::fs::write(f.root.join("runbooks/db.md"), "# DB failover\n").expect("write");
    f.space.refresh().expect("refresh");
    let folder = f.space.tree().expect("tree")[0].clone();
    assert_eq!((folder.kind, folder.title.as_str()), (NodeKind::Folder, "runbooks"));
    f.space
        .update_page(
            &folder.id,
            &PageUpdate { title: Some("Runbooks".into()), body: Some("All runbooks.\n".into()), ..Default::default() },
            &alice(),
        )
        .expect("materialise");
    let page = f.space.page(&folder.id).expect("same id");
    assert_eq!(
        (page.summary.kind, page.summary.path.as_str(), page.body.as_str()),
        (NodeKind::Page, "runbooks.md", "All runbooks.\n")
    );
    assert_eq!(f.space.children(Some(&folder.id)).expect("children").len(), 1);
}

#[test]
fn writers_in_two_handles_both_land() {
    let f = fixture();
    let mut a = Space::open(&f.root, &f.cache, None).expect("open");
    let mut b = Space::open(&f.root, &f.cache.with_extension("b"), None).expect("open");
    let pa = a.create_page(&page("From A"), &alice()).expect("a");
    let pb = b.create_page(&page("From B"), &bob()).expect("b sees a's commit and builds on it");
    a.update_page(
        &pb.summary.id,
        &PageUpdate { body: Some("A edits B's page\n".into()), ..Default::default() },
        &alice(),
    )
    .expect("a sees b's page");
    assert_eq!(b.page(&pb.summary.id).expect("page").body, "A edits B's page\n");
    assert_eq!(shape(&b.tree().expect("tree")), "From A\nFrom B\n");
    assert!(a.page(&pa.summary.id).is_ok());
    assert_clean(&a);
}

/// A page saved `versions` times after its creation, with bodies `version 0` … `version N-1`.
fn page_with_versions(space: &mut Space, title: &str, versions: usize) -> PageId {
    let id = space.create_page(&page(title), &alice()).expect("create").summary.id;
    for i in 0..versions {
        let body = Some(format!("version {i}\n"));
        space.update_page(&id, &PageUpdate { body, ..Default::default() }, &alice()).expect("save");
    }
    id
}

fn assert_fsck(root: &Path) {
    let fsck = std::process::Command::new("git").args(["fsck", "--strict"]).current_dir(root).output().expect("git");
    assert!(fsck.status.success(), "{}", String::from_utf8_lossy(&fsck.stderr));
}

#[test]
fn replaced_files_are_removed_when_the_index_catches_up() {
    let mut f = fixture();
    let id = page_with_versions(&mut f.space, "Page", 3);
    assert_eq!(f.space.page(&id).expect("page").body, "version 2\n");
    assert_clean(&f.space);
    let tmp = f.root.join(".git/confluence-do/tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp).into_iter().flatten().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "the temporary folder still holds {left:?}");
    assert_fsck(&f.root);
    // What a process killed between saves leaves (not holding the lock): the next writer sweeps it.
    std::fs::write(tmp.join(".page.md.1.tmp"), "old").expect("write");
    std::fs::write(tmp.join("ref-0123456789abcdef"), "old").expect("write");
    let mut other = Space::open(&f.root, &f.cache.with_extension("other"), None).expect("open");
    other.update_page(&id, &PageUpdate { body: Some("v\n".into()), ..Default::default() }, &bob()).expect("save");
    other.flush_index().expect("flush");
    let left: Vec<_> = std::fs::read_dir(&tmp).into_iter().flatten().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "the temporary folder still holds {left:?}");
}

#[test]
fn packing_loose_objects_keeps_every_page_and_version() {
    let mut f = fixture();
    let id = page_with_versions(&mut f.space, "Packed", 5);
    let loose = |root: &Path| -> usize {
        let objects = root.join(".git/objects");
        std::fs::read_dir(&objects)
            .expect("objects")
            .flatten()
            .filter(|e| e.file_name().len() == 2)
            .map(|e| std::fs::read_dir(e.path()).map(Iterator::count).unwrap_or(0))
            .sum()
    };
    let before = loose(&f.root);
    assert!(before > 20, "saves write loose objects ({before})");
    assert_eq!(f.space.pack_objects().expect("pack"), before);
    assert_eq!(loose(&f.root), 0, "the loose copies are gone");
    assert_fsck(&f.root);
    // A fresh handle reads everything from the pack: the page, its six versions, the first one.
    let mut again = Space::open(&f.root, &f.cache.with_extension("again"), None).expect("open");
    assert_eq!(again.page(&id).expect("page").body, "version 4\n");
    let versions = again.history(&id).expect("history");
    assert_eq!(versions.len(), 6);
    // Saves go on after packing, and the next pack takes only what is loose again.
    again.update_page(&id, &PageUpdate { body: Some("after\n".into()), ..Default::default() }, &bob()).expect("save");
    assert!(loose(&f.root) > 0);
    assert_clean(&again);
}

#[test]
fn a_writer_killed_holding_git_locks_does_not_block_the_next_one() {
    let mut f = fixture();
    let p = f.space.create_page(&page("Page"), &alice()).expect("create");
    let git_dir = f.root.join(".git");
    // What a writer killed inside libgit2 leaves: its note in our lock file, git's lock files.
    std::fs::write(git_dir.join("confluence-do/write.lock"), "pid 4194303").expect("write");
    std::fs::write(git_dir.join("index.lock"), "").expect("write");
    // The ref's lock can be the old ref file swapped out by the save: written long ago.
    let lock = std::fs::File::create(git_dir.join("refs/heads/main.lock")).expect("lock");
    lock.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(86_400)).expect("mtime");
    drop(lock);
    f.space
        .update_page(
            &p.summary.id,
            &PageUpdate { body: Some("after the crash\n".into()), ..Default::default() },
            &alice(),
        )
        .expect("save");
    assert!(!git_dir.join("index.lock").exists() && !git_dir.join("refs/heads/main.lock").exists());
    assert_clean(&f.space);
}

#[test]
fn a_git_lock_held_by_someone_else_is_left_alone() {
    let mut f = fixture();
    let p = f.space.create_page(&page("Page"), &alice()).expect("create");
    let git_dir = f.root.join(".git");
    // A user's `git commit` in progress: no dead writer of ours, so its lock is not ours to remove.
    std::fs::write(git_dir.join("refs/heads/main.lock"), "").expect("write");
    let err =
        f.space.update_page(&p.summary.id, &PageUpdate { body: Some("x\n".into()), ..Default::default() }, &alice());
    assert!(err.is_err());
    assert!(git_dir.join("refs/heads/main.lock").exists());
}

#[test]
fn regression_a_users_own_git_commit_is_not_reverted_by_the_index_catch_up() {
    let mut f = fixture();
    let a = f.space.create_page(&page("A"), &alice()).expect("create");
    f.space.create_page(&page("B"), &alice()).expect("create");
    f.space.flush_index().expect("flush");
    // The user edits B and commits it with git, outside confluence.do.
    std::fs::write(f.root.join("b.md"), "edited by hand\n").expect("write");
    sh(&f.root, &["-c", "user.name=U", "-c", "user.email=u@e", "commit", "-qam", "by hand"]);
    // confluence.do saves A; the index catch-up must keep the user's staged B.
    f.space
        .update_page(&a.summary.id, &PageUpdate { body: Some("x\n".into()), ..Default::default() }, &alice())
        .expect("save");
    assert_clean(&f.space);
}

#[test]
fn merges_count_only_what_they_decided() {
    let mut f = fixture();
    let a = f.space.create_page(&page("A"), &alice()).expect("create");
    let b = f.space.create_page(&page("B"), &alice()).expect("create");
    f.space.flush_index().expect("flush");
    let g = |args: &[&str]| sh(&f.root, &[&["-c", "user.name=U", "-c", "user.email=u@e"][..], args].concat());
    g(&["checkout", "-qb", "side"]);
    std::fs::write(f.root.join("b.md"), std::fs::read_to_string(f.root.join("b.md")).expect("read") + "side edit\n")
        .expect("write");
    g(&["commit", "-qam", "side edit of B"]);
    g(&["checkout", "-q", "main"]);
    std::fs::write(f.root.join("a.md"), std::fs::read_to_string(f.root.join("a.md")).expect("read") + "main edit\n")
        .expect("write");
    g(&["commit", "-qam", "main edit of A"]);
    g(&["merge", "-q", "--no-edit", "side"]);
    let history = |space: &mut Space, id: &PageId| -> Vec<String> {
        space.history(id).expect("history").into_iter().map(|v| v.message).collect()
    };
    assert_eq!(history(&mut f.space, &a.summary.id), ["Create \"A\"", "main edit of A"]);
    assert_eq!(history(&mut f.space, &b.summary.id), ["Create \"B\"", "side edit of B"]);
    assert!(f.space.page(&b.summary.id).expect("page").body.ends_with("side edit\n"));
}

/// A change made to a space's files without confluence.do, then what a new handle (the next
/// command) is asked.
struct Outside {
    name: &'static str,
    change: fn(&Path, &[(PageId, String)]),
    /// The page asked for, by its index in the pages made below, or a page the change adds.
    ask: Result<usize, &'static str>,
    /// What its body must contain; `None`: there is no such page now.
    shows: Option<&'static str>,
    /// Whether the answer comes without loading the whole tree.
    one_page: bool,
}

fn append(root: &Path, file: &str, line: &str) {
    let path = root.join(file);
    let mut text = std::fs::read_to_string(&path).expect("read");
    text.push_str(line);
    std::fs::write(&path, text).expect("write");
}

/// A commit made elsewhere that changes the third page and adds one, fast-forwarded in as
/// `git pull` does.
fn pull(root: &Path, pages: &[(PageId, String)]) {
    let git = |args: &[&str]| sh(root, &[&["-c", "user.name=T", "-c", "user.email=t@e"], args].concat());
    git(&["checkout", "-q", "-b", "upstream"]);
    append(root, &pages[2].1, "Changed upstream.\n");
    std::fs::write(root.join("Pulled.md"), "---\nid: \"4242424242424242\"\n---\nArrived by pull.\n").expect("write");
    git(&["add", "-A"]);
    git(&["commit", "-qm", "upstream work"]);
    git(&["checkout", "-q", "-"]);
    git(&["merge", "-q", "--ff-only", "upstream"]);
}

const OUTSIDE: &[Outside] = &[
    Outside {
        name: "a file edited in place (an editor, `echo >>`)",
        change: |root, pages| append(root, &pages[1].1, "Edited in place.\n"),
        ask: Ok(1),
        shows: Some("Edited in place."),
        one_page: true,
    },
    Outside {
        name: "a file rewritten by `sed -i` (a new file renamed over the old one, same size)",
        change: |root, pages| {
            let status = std::process::Command::new("sed")
                .args(["-i", "-e", "s/Beta body/Beta BODY/"])
                .arg(root.join(&pages[1].1))
                .status()
                .expect("sed runs");
            assert!(status.success());
        },
        ask: Ok(1),
        shows: Some("Beta BODY"),
        one_page: true,
    },
    Outside {
        name: "a pull: the page it changed",
        change: pull,
        ask: Ok(2),
        shows: Some("Changed upstream."),
        one_page: true,
    },
    Outside {
        name: "a pull: the page it added (the tree diff brings its row)",
        change: pull,
        ask: Err("4242424242424242"),
        shows: Some("Arrived by pull."),
        one_page: true,
    },
    Outside {
        name: "a pull: a page it left alone",
        change: pull,
        ask: Ok(0),
        shows: Some("Alpha body."),
        one_page: true,
    },
    Outside {
        name: "a file copied with its id and committed: the tree decides which file keeps it",
        change: |root, pages| {
            std::fs::copy(root.join(&pages[0].1), root.join("Alpha-copy.md")).expect("copy");
            sh(root, &["-c", "user.name=T", "-c", "user.email=t@e", "add", "Alpha-copy.md"]);
            sh(root, &["-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "copy"]);
        },
        ask: Ok(0),
        shows: Some("Alpha body."),
        one_page: false,
    },
    Outside {
        name: "a file deleted outside",
        change: |root, pages| std::fs::remove_file(root.join(&pages[2].1)).expect("remove"),
        ask: Ok(2),
        shows: None,
        one_page: false,
    },
];

#[test]
fn one_page_commands_see_what_changed_outside_and_agree_with_the_tree() {
    for case in OUTSIDE {
        let mut f = fixture();
        let mut pages = Vec::new();
        for title in ["Alpha", "Beta", "Gamma"] {
            let new = NewPage { title: Some(title.into()), body: format!("{title} body.\n"), ..NewPage::default() };
            let made = f.space.create_page(&new, &alice()).expect("create");
            pages.push((made.summary.id.clone(), made.summary.path.clone()));
        }
        f.space.flush_index().expect("flush");
        // The cache has every row; what follows happens between two commands.
        drop(f.space);
        (case.change)(&f.root, &pages);
        let id = match case.ask {
            Ok(i) => pages[i].0.clone(),
            Err(id) => PageId::parse(id).expect("id"),
        };
        let mut next = Space::open(&f.root, &f.cache, None).expect("open");
        let got = next.page(&id);
        assert_eq!(next.tree_loaded(), !case.one_page, "{}: whether the whole tree was loaded", case.name);
        // A handle that loads the whole tree first gives the same answer.
        let mut whole = Space::open(&f.root, &f.cache, None).expect("open");
        whole.tree().expect("tree");
        let expected = whole.page(&id);
        match (case.shows, got, expected) {
            (Some(text), Ok(page), Ok(expected)) => {
                assert!(page.body.contains(text), "{}: the page shows {:?}", case.name, page.body);
                assert_eq!(page.summary, expected.summary, "{}: the summary differs from the tree's", case.name);
                assert_eq!(page.body, expected.body, "{}", case.name);
            }
            (None, Err(e), Err(_)) => assert!(e.to_string().contains("no page with id"), "{}: {e}", case.name),
            (_, got, expected) => {
                panic!("{}: got {:?}, the tree says {:?}", case.name, got.map(|p| p.body), expected.map(|p| p.body))
            }
        }
    }
}
