//! Semantic and hybrid search with the real model (all-MiniLM-L6-v2 through ONNX Runtime, set
//! up by scripts/setup-models), on real spaces and a real index.

use cdo_core::model::{Author, PageId, SpaceInfo, SpaceKey};
use cdo_core::{NewPage, PageUpdate, Space};
use cdo_search::embed::{self, Embedder, MiniLm};
use cdo_search::{Mode, SearchError, SearchIndex, SemanticStatus, UserQuery};

fn alice() -> Author {
    Author { name: "Alice Liddell".into(), email: "alice@example.com".into() }
}

fn model() -> MiniLm {
    MiniLm::load(&embed::models_dir()).unwrap_or_else(|e| panic!("run scripts/setup-models first: {e}"))
}

fn create(space: &mut Space, title: &str, labels: &[&str], body: &str) -> PageId {
    let page = NewPage {
        title: Some(title.into()),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        body: body.into(),
        ..NewPage::default()
    };
    space.create_page(&page, &alice()).expect("create").summary.id
}

/// Pages whose words differ from the questions people ask about them.
fn space(dir: &std::path::Path) -> (Space, PageId, PageId) {
    let info =
        SpaceInfo { key: SpaceKey::parse("ENG").expect("key"), name: "Eng".into(), description: None, homepage: None };
    let mut space = Space::create(&dir.join("ENG"), &dir.join("cache.sqlite"), &info, &alice()).expect("space");
    let jwt = create(
        &mut space,
        "JWT refresh rotation",
        &["security"],
        "Clients sign in with a password and receive a short-lived access token and a refresh token.\n\n\
         ## Rotation\n\nEach refresh token works once; presenting it returns a new pair.\n\n\
         ## Password reset\n\nSomeone who forgot it gets an email with a link that is valid for one hour.\n",
    );
    let plants = create(
        &mut space,
        "Office plants",
        &[],
        "Water the ferns on Mondays and the cacti once a month. The watering can is in the kitchen.\n",
    );
    create(
        &mut space,
        "Quarterly planning",
        &["process"],
        "Teams draft objectives in the last two weeks of the quarter and review them with product.\n",
    );
    create(
        &mut space,
        "Database backups",
        &["ops"],
        "Postgres is snapshotted nightly; snapshots are kept for 30 days and restored monthly as a drill.\n",
    );
    (space, jwt, plants)
}

#[test]
fn meaning_finds_pages_that_share_no_words_with_the_question() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut space, jwt, plants) = space(dir.path());
    let mut index = SearchIndex::open(&dir.path().join("search")).expect("index");
    index.sync_space(&mut space, &mut |_| {}).expect("sync");
    let mut model = model();
    let mut seen = Vec::new();
    let embedded = index.embed_pending(&mut model, &mut |d, t| seen.push((d, t)), &|| true).expect("embed");
    assert!(embedded >= 5, "{embedded}");
    assert_eq!(seen.last().map(|(d, t)| d == t), Some(true));

    let question = UserQuery::parse("how do we handle authentication?");
    let keyword = index.query(&question, Mode::Keyword, None, 5).expect("keyword");
    assert!(keyword.hits.is_empty(), "no page has the words: {:?}", keyword.hits);
    let semantic = index.query(&question, Mode::Semantic, Some(&mut model), 5).expect("semantic");
    assert_eq!(semantic.hits[0].id, jwt.as_str(), "{:?}", semantic.hits);
    assert_eq!(semantic.semantic, SemanticStatus::Used { pending: 0, total: embedded });
    let hybrid = index.query(&question, Mode::Hybrid, Some(&mut model), 5).expect("hybrid");
    assert_eq!(hybrid.hits[0].id, jwt.as_str());

    // The best passage's section is the one the result points at.
    let reset = index.query(&UserQuery::parse("I lost my password"), Mode::Semantic, Some(&mut model), 1);
    assert_eq!(reset.expect("semantic").hits[0].snippet.anchor, "password-reset");

    // Filters apply to meaning too.
    let filtered = index.query(
        &UserQuery::parse("how do we handle authentication? label:ops"),
        Mode::Semantic,
        Some(&mut model),
        5,
    );
    assert!(filtered.expect("filtered").hits.iter().all(|h| h.labels.contains(&"ops".to_owned())));

    // Related pages: nearest in meaning, never the page itself.
    let related = index.related("ENG", "office-plants.md", &model, 384, 3).expect("related");
    assert!(!related.is_empty() && related.iter().all(|h| h.id != plants.as_str()), "{related:?}");
}

#[test]
fn only_changed_passages_are_embedded_again_and_search_never_waits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut space, jwt, _) = space(dir.path());
    let mut index = SearchIndex::open(&dir.path().join("search")).expect("index");
    index.sync_space(&mut space, &mut |_| {}).expect("sync");
    let mut model = model();
    // Before any embedding: meaning has nothing yet, keyword results still come, and the
    // outcome says how much is missing.
    let early = index.query(&UserQuery::parse("snapshots"), Mode::Hybrid, Some(&mut model), 5).expect("hybrid");
    assert_eq!(early.hits[0].title, "Database backups");
    assert!(matches!(early.semantic, SemanticStatus::Used { pending, total } if pending == total && total > 0));
    let first = index.embed_pending(&mut model, &mut |_, _| {}, &|| true).expect("embed");

    let update = PageUpdate {
        body: Some(format!("{}\nAdmins can revoke every token of a user.\n", space.page(&jwt).expect("page").body)),
        ..PageUpdate::default()
    };
    space.update_page(&jwt, &update, &alice()).expect("save");
    index.sync_space(&mut space, &mut |_| {}).expect("sync");
    let again = index.embed_pending(&mut model, &mut |_, _| {}, &|| true).expect("embed");
    assert!(again >= 1 && again < first, "only the edited section: {again} of {first}");
    // Stopping between batches is allowed (the app stops on shutdown).
    index.sync_space(&mut space, &mut |_| {}).expect("sync");
    assert_eq!(index.embed_pending(&mut model, &mut |_, _| {}, &|| false).expect("embed"), 0);

    // Deleting the index loses the vectors with it; a rebuild embeds again.
    drop(index);
    std::fs::remove_dir_all(dir.path().join("search")).expect("delete");
    let mut index = SearchIndex::open(&dir.path().join("search")).expect("index");
    index.sync_space(&mut space, &mut |_| {}).expect("sync");
    assert_eq!(index.coverage(model.model_id()).expect("coverage").0, first);
}

#[test]
fn without_the_model_files_keyword_search_works_and_semantic_says_how_to_enable() {
    let empty = tempfile::tempdir().expect("tempdir");
    let hint = match MiniLm::load(empty.path()) {
        Err(SearchError::ModelMissing(hint)) => hint,
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("no model there"),
    };
    assert!(hint.contains("scripts/setup-models") && hint.contains("Keyword search works"), "{hint}");
    assert!(!embed::available(empty.path()));

    let dir = tempfile::tempdir().expect("tempdir");
    let (mut space, _, _) = space(dir.path());
    let mut index = SearchIndex::open(&dir.path().join("search")).expect("index");
    index.sync_space(&mut space, &mut |_| {}).expect("sync");
    let outcome = index.query(&UserQuery::parse("ferns"), Mode::Hybrid, None, 5).expect("hybrid without a model");
    assert_eq!(outcome.hits[0].title, "Office plants");
    assert!(matches!(outcome.semantic, SemanticStatus::Unavailable(ref h) if h.contains("setup-models")));
}
