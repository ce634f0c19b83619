//! The search index against real spaces (git repositories in temporary folders) and a real
//! tantivy index on disk.

use cdo_core::model::{Author, PageId, SpaceInfo, SpaceKey};
use cdo_core::{NewPage, PageUpdate, Space};
use cdo_search::{Hit, SearchIndex, UserQuery};

struct Fixture {
    dir: tempfile::TempDir,
    space: Space,
}

fn alice() -> Author {
    Author { name: "Alice Liddell".into(), email: "alice@example.com".into() }
}

fn bob() -> Author {
    Author { name: "Bob Builder".into(), email: "bob@example.com".into() }
}

fn fixture(key: &str) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let info =
        SpaceInfo { key: SpaceKey::parse(key).expect("key"), name: key.into(), description: None, homepage: None };
    let space = Space::create(&dir.path().join(key), &dir.path().join("cache.sqlite"), &info, &alice()).expect("space");
    Fixture { dir, space }
}

fn create(space: &mut Space, title: &str, parent: Option<&PageId>, labels: &[&str], body: &str) -> PageId {
    let page = NewPage {
        title: Some(title.into()),
        parent: parent.cloned(),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        body: body.into(),
        ..NewPage::default()
    };
    space.create_page(&page, &alice()).expect("create").summary.id
}

fn titles(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.title.as_str()).collect()
}

fn search(index: &SearchIndex, query: &str) -> Vec<Hit> {
    index.search(&UserQuery::parse(query), 10).expect("search")
}

/// A small engineering space.
fn engineering(space: &mut Space) -> (PageId, PageId) {
    let arch = create(space, "Architecture", None, &[], "How the system fits together.\n");
    let auth = create(
        space,
        "Authentication",
        Some(&arch),
        &["security"],
        "Sign-in for the web app.\n\n## Token refresh\n\nAccess tokens expire after 15 minutes; refresh tokens rotate on \
         every use and a reused refresh token revokes the whole family.\n\n## Sessions\n\nSessions live in Redis.\n",
    );
    create(
        space,
        "Deployment guide",
        None,
        &["ops"],
        "# Deploying\n\nWe deploy with blue green releases.\n\n## Rollback\n\nRoll back by re-pointing the router to \
         the previous release.\n",
    );
    let adr =
        create(space, "ADR 1: Use Postgres", Some(&arch), &["adr", "database"], "We chose Postgres over MySQL.\n");
    (auth, adr)
}

#[test]
fn finds_pages_by_words_phrases_labels_and_titles_with_the_matching_section() {
    let mut f = fixture("ENG");
    let (auth, adr) = engineering(&mut f.space);
    let mut index = SearchIndex::open(&f.dir.path().join("search")).expect("open index");
    let report = index.sync_space(&mut f.space, &mut |_| {}).expect("sync");
    assert_eq!(report.indexed, 4);

    let hits = search(&index, "rotating refresh tokens");
    assert_eq!(hits[0].id, auth.as_str());
    assert_eq!(hits[0].snippet.anchor, "token-refresh");
    let marked: Vec<&str> = hits[0].snippet.highlights.iter().map(|&(a, b)| &hits[0].snippet.text[a..b]).collect();
    assert!(marked.contains(&"rotate") && marked.contains(&"tokens"), "{marked:?}");

    assert_eq!(titles(&search(&index, "\"blue green\"")), ["Deployment guide"]);
    assert!(search(&index, "\"green blue\"").is_empty(), "a phrase keeps its word order");
    assert_eq!(titles(&search(&index, "label:adr")), ["ADR 1: Use Postgres"]);
    assert_eq!(search(&index, "label:adr")[0].id, adr.as_str());
    assert_eq!(titles(&search(&index, "title:deployment")), ["Deployment guide"]);
    assert!(!titles(&search(&index, "release -rollback")).contains(&"Deployment guide"));
    assert!(titles(&search(&index, "tokens -sessions")).is_empty(), "only Authentication has tokens");
    assert!(search(&index, "zyzzyva").is_empty(), "a word no page has finds nothing");
    assert_eq!(titles(&search(&index, "space:eng label:security")), ["Authentication"]);
    assert!(search(&index, "space:OPS token").is_empty());
    // Typing: the last word matches as a prefix of titles and headings.
    assert_eq!(titles(&search(&index, "postgr")), ["ADR 1: Use Postgres"]);
    assert_eq!(titles(&search(&index, "rollb")), ["Deployment guide"]);
    assert!(search(&index, "rollb ").is_empty(), "a finished word is not a prefix");
    // Odd input is never an error.
    for query in ["", "\"", "-", "label:", "認証", "a:b:c", "((", "*"] {
        index.search(&UserQuery::parse(query), 10).expect(query);
    }
}

#[test]
fn saves_renames_and_deletes_are_caught_up_without_a_rebuild() {
    let mut f = fixture("ENG");
    let (auth, adr) = engineering(&mut f.space);
    let dir = f.dir.path().join("search");
    let mut index = SearchIndex::open(&dir).expect("open index");
    index.sync_space(&mut f.space, &mut |_| {}).expect("sync");
    assert!(search(&index, "kerberos").is_empty());

    let update = PageUpdate { body: Some("We now also accept Kerberos tickets.\n".into()), ..PageUpdate::default() };
    f.space.update_page(&auth, &update, &bob()).expect("save");
    let report = index.sync_space(&mut f.space, &mut |_| {}).expect("catch up");
    assert_eq!((report.indexed, report.removed), (1, 0), "only the saved page is read again");
    assert_eq!(titles(&search(&index, "kerberos")), ["Authentication"]);
    assert!(search(&index, "redis").is_empty(), "the old text is gone");

    // A page edited on disk by another tool.
    let path = f.space.summary(&adr).expect("adr").path;
    let file = f.space.root().join(&path);
    let text = std::fs::read_to_string(&file).expect("read") + "\nCockroachDB was considered too.\n";
    std::fs::write(&file, text).expect("write");
    let mut reopened = Space::open(f.space.root(), &f.dir.path().join("cache.sqlite"), None).expect("reopen");
    index.sync_space(&mut reopened, &mut |_| {}).expect("catch up");
    assert_eq!(titles(&search(&index, "cockroachdb")), ["ADR 1: Use Postgres"]);

    // Rename and delete.
    let rename = PageUpdate { title: Some("Identity".into()), ..PageUpdate::default() };
    reopened.update_page(&auth, &rename, &alice()).expect("rename");
    reopened.delete_page(&adr, &alice()).expect("delete");
    let report = index.sync_space(&mut reopened, &mut |_| {}).expect("catch up");
    assert_eq!(report.removed, 2, "the old path of the renamed page and the deleted page");
    assert_eq!(titles(&search(&index, "kerberos")), ["Identity"]);
    assert!(search(&index, "postgres").is_empty());
    assert_eq!(index.len(), 3, "Architecture, Identity, Deployment guide");

    // Deleting the index folder loses nothing: the next catch-up rebuilds the same results.
    let before: Vec<(String, String)> =
        search(&index, "deploy release").into_iter().map(|h| (h.id, h.snippet.anchor)).collect();
    drop(index);
    std::fs::remove_dir_all(&dir).expect("delete the index");
    let mut index = SearchIndex::open(&dir).expect("reopen index");
    assert!(index.is_empty());
    index.sync_space(&mut reopened, &mut |_| {}).expect("rebuild");
    let after: Vec<(String, String)> =
        search(&index, "deploy release").into_iter().map(|h| (h.id, h.snippet.anchor)).collect();
    assert_eq!(before, after);
    assert!(!after.is_empty());
}

#[test]
fn spaces_share_one_index_and_can_be_forgotten() {
    let mut eng = fixture("ENG");
    let mut ops = fixture("OPS");
    engineering(&mut eng.space);
    create(&mut ops.space, "On-call", None, &[], "Pager rotation and the deploy freeze.\n");
    let dir = eng.dir.path().join("search");
    let mut index = SearchIndex::open(&dir).expect("open index");
    index.sync_space(&mut eng.space, &mut |_| {}).expect("sync ENG");
    let mut seen = Vec::new();
    index.sync_space(&mut ops.space, &mut |p| seen.push((p.done, p.total))).expect("sync OPS");
    assert_eq!(seen.last(), Some(&(1, 1)), "progress ends at the total");
    let spaces: Vec<String> = search(&index, "deploy").into_iter().map(|h| h.space).collect();
    assert!(spaces.contains(&"ENG".to_owned()) && spaces.contains(&"OPS".to_owned()), "{spaces:?}");
    assert_eq!(titles(&search(&index, "deploy space:OPS")), ["On-call"]);
    index.remove_space("OPS").expect("forget OPS");
    assert!(search(&index, "pager").is_empty());
    assert!(index.indexed_head("OPS").is_none());
    assert!(index.indexed_head("ENG").is_some());
}

#[test]
fn cql_filters_sorts_and_reports_errors() {
    let mut f = fixture("ENG");
    let (auth, _adr) = engineering(&mut f.space);
    let arch = f.space.find_title("Architecture").expect("find")[0].id.clone();
    let runbook =
        NewPage { title: Some("Incident runbook".into()), body: "Page the on-call.\n".into(), ..NewPage::default() };
    f.space.create_page(&runbook, &bob()).expect("bob writes a page");
    let mut index = SearchIndex::open(&f.dir.path().join("search")).expect("open index");
    index.sync_space(&mut f.space, &mut |_| {}).expect("sync");
    let cx = cdo_search::cql::Context::default();
    let cql = |q: &str| -> Vec<String> {
        let hits = index.cql(q, &cx, 20).unwrap_or_else(|e| panic!("{q}: {e}"));
        hits.into_iter().map(|h| h.title).collect()
    };
    assert_eq!(cql("space = ENG AND title ~ \"deploy\""), ["Deployment guide"]);
    assert_eq!(cql("title = \"deployment GUIDE\""), ["Deployment guide"]);
    assert_eq!(cql("label = adr"), ["ADR 1: Use Postgres"]);
    let mut both = cql("label IN (ops, adr)");
    both.sort();
    assert_eq!(both, ["ADR 1: Use Postgres", "Deployment guide"]);
    let mut children = cql(&format!("ancestor = {arch}"));
    children.sort();
    assert_eq!(children, ["ADR 1: Use Postgres", "Authentication"]);
    assert_eq!(cql(&format!("parent = {arch} AND text ~ \"refresh token\"")), ["Authentication"]);
    assert_eq!(cql(&format!("id = {auth}")), ["Authentication"]);
    assert_eq!(cql("creator = \"bob@example.com\""), ["Incident runbook"]);
    assert_eq!(cql("contributor = \"Bob Builder\""), ["Incident runbook"]);
    assert_eq!(cql("type = page AND text ~ \"blue green\""), ["Deployment guide"]);
    assert!(cql("type = blogpost").is_empty());
    assert_eq!(cql("lastmodified > now(\"-1d\")").len(), 5);
    assert!(cql("created < \"2000-01-01\"").is_empty());
    assert_eq!(cql("created >= startOfDay() AND NOT label = adr AND space != OPS").len(), 4);
    assert_eq!(cql("text ~ \"postgr*\""), ["ADR 1: Use Postgres"]);
    // The newest change first (pages made in the same second tie); titles in order.
    let newest = index.cql("type = page ORDER BY lastmodified DESC", &cx, 20).expect("order");
    assert_eq!(newest.len(), 5);
    assert!(newest.windows(2).all(|w| w[0].updated >= w[1].updated));
    let oldest = index.cql("type = page ORDER BY lastmodified", &cx, 20).expect("order");
    assert!(oldest.windows(2).all(|w| w[0].updated <= w[1].updated));
    assert_eq!(
        cql("space = ENG ORDER BY title"),
        ["ADR 1: Use Postgres", "Architecture", "Authentication", "Deployment guide", "Incident runbook"]
    );
    // Errors point at the problem.
    for (bad, column) in [("titel = x", 0), ("created > \"last tuesday\"", 0), ("space = ENG ORDER BY colour", 21)] {
        match index.cql(bad, &cx, 10) {
            Err(cdo_search::SearchError::Cql(e)) => assert_eq!(e.position, column, "{bad}: {e}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn a_save_is_indexed_by_its_paths_alone() {
    let mut f = fixture("ENG");
    let (auth, adr) = engineering(&mut f.space);
    let mut index = SearchIndex::open(&f.dir.path().join("search")).expect("open index");
    index.sync_space(&mut f.space, &mut |_| {}).expect("sync");
    let update =
        PageUpdate { body: Some("Passkeys replace passwords next quarter.\n".into()), ..PageUpdate::default() };
    f.space.update_page(&auth, &update, &bob()).expect("save");
    let path = f.space.summary(&auth).expect("summary").path;
    let report = index.sync_paths(&mut f.space, std::slice::from_ref(&path)).expect("sync one path");
    assert_eq!(report.indexed, 1);
    let hits = search(&index, "passkeys");
    assert_eq!(titles(&hits), ["Authentication"]);
    // The page's history is known: Bob edited it after Alice made it.
    let cx = cdo_search::cql::Context::default();
    assert_eq!(index.cql("contributor = bob@example.com", &cx, 5).expect("cql").len(), 1);
    // A deleted page's path removes it; an unchanged path costs nothing.
    let adr_path = f.space.summary(&adr).expect("summary").path;
    f.space.delete_page(&adr, &alice()).expect("delete");
    let report = index.sync_paths(&mut f.space, &[adr_path, path]).expect("sync paths");
    assert_eq!((report.indexed, report.removed, report.unchanged), (0, 1, 1));
    assert!(search(&index, "postgres").is_empty());

    // Many small updates do not pile up segments (every query pays per segment).
    for i in 0..12 {
        let update = PageUpdate { body: Some(format!("Edit number{i}.\n")), ..PageUpdate::default() };
        f.space.update_page(&auth, &update, &alice()).expect("save");
        let path = f.space.summary(&auth).expect("summary").path;
        index.sync_paths(&mut f.space, &[path]).expect("sync");
    }
    assert!(index.segments() <= 9, "{} segments", index.segments());
    assert_eq!(titles(&search(&index, "number11")), ["Authentication"]);
}

/// A large catch-up merges the index into one segment and leaves no copy of the segments it
/// merged away on disk (they would double the index's size until the next save, and that save
/// would pay for deleting them).
#[test]
fn a_rebuild_merges_into_one_segment_and_deletes_the_old_ones() {
    let f = fixture("BIG");
    let root = f.space.root().to_path_buf();
    let write_pages = |from: usize, to: usize| {
        let folder = root.join("notes");
        std::fs::create_dir_all(&folder).expect("folder");
        for n in from..to {
            let text = format!("# Note {n}\n\nWords about topic {} and item {n}.\n", n % 37);
            std::fs::write(folder.join(format!("note-{n}.md")), text).expect("write");
        }
    };
    let index_dir = f.dir.path().join("index");
    let mut index = SearchIndex::open(&index_dir).expect("index");
    // Two catch-ups: a small one, then one large enough to merge everything.
    write_pages(0, 300);
    let mut space = Space::open(&root, &f.dir.path().join("cache.sqlite"), None).expect("open");
    index.sync_space(&mut space, &mut |_| {}).expect("first sync");
    write_pages(300, 1400);
    let mut space = Space::open(&root, &f.dir.path().join("cache.sqlite"), None).expect("reopen");
    let report = index.sync_space(&mut space, &mut |_| {}).expect("large sync");
    assert!(report.indexed > 1000, "{report:?}");
    assert_eq!(index.segments(), 1);
    assert_eq!(titles(&search(&index, "\"item 1399\"")), ["Note 1399"]);

    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(index_dir.join("tantivy/meta.json")).expect("meta")).expect("json");
    let live: Vec<String> = meta["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .map(|s| s["segment_id"].as_str().expect("id").replace('-', ""))
        .collect();
    for entry in std::fs::read_dir(index_dir.join("tantivy")).expect("list") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "meta.json" {
            continue;
        }
        assert!(live.iter().any(|id| name.starts_with(id.as_str())), "{name} belongs to no live segment {live:?}");
    }
}
