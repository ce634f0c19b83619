//! The watcher on a real file system: an editor's save and a git commit made outside are seen.

use std::time::{Duration, Instant};

use cdo_app::watch::{SpaceEvent, SpaceWatcher};
use cdo_core::Space;
use cdo_core::model::{Author, SpaceInfo, SpaceKey};

/// Waits for an event matching `want`, up to a deadline (events that do not match are skipped).
fn wait_for(watcher: &SpaceWatcher, want: impl Fn(&SpaceEvent) -> bool) -> SpaceEvent {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = watcher.events().recv_timeout(left).expect("an event before the deadline");
        if want(&event) {
            return event;
        }
    }
}

#[test]
fn outside_edits_and_commits_are_seen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("ENG");
    let info = SpaceInfo {
        key: SpaceKey::parse("ENG").expect("key"),
        name: "Engineering".into(),
        description: None,
        homepage: None,
    };
    let author = Author { name: "A".into(), email: "a@example.com".into() };
    let mut space = Space::create(&root, &dir.path().join("cache.sqlite"), &info, &author).expect("create");
    space.tree().expect("tree");
    let watcher = SpaceWatcher::start(&root, &root.join(".git")).expect("watch");

    // An editor writes a new page.
    std::fs::write(root.join("from-editor.md"), "# From the editor\n").expect("write");
    let event = wait_for(&watcher, |e| matches!(e, SpaceEvent::Files(f) if f.contains(&"from-editor.md".to_owned())));
    let SpaceEvent::Files(paths) = event else { unreachable!("matched above") };
    space.refresh_paths(&paths).expect("refresh");
    assert!(space.tree().expect("tree").iter().any(|n| n.title == "From the editor"));

    // Another program commits: the branch moved.
    let repo = git2::Repository::open(&root).expect("repo");
    let mut index = repo.index().expect("index");
    index.add_path(std::path::Path::new("from-editor.md")).expect("add");
    index.write().expect("write index");
    let tree = repo.find_tree(index.write_tree().expect("tree")).expect("tree");
    let sig = git2::Signature::now("B", "b@example.com").expect("sig");
    let parent = repo.head().expect("head").peel_to_commit().expect("commit");
    repo.commit(Some("HEAD"), &sig, &sig, "outside commit", &tree, &[&parent]).expect("commit");
    wait_for(&watcher, |e| *e == SpaceEvent::Head);
}
