//! Search from the command line: the demo space, CQL, catching up after saves, rebuilding.

use serde_json::Value;

use crate::support::Env;

fn titles(hits: &Value) -> Vec<String> {
    hits.as_array().expect("a list").iter().map(|h| h["title"].as_str().expect("a title").to_owned()).collect()
}

#[test]
fn the_demo_space_is_searchable_by_words_labels_and_cql() {
    let env = Env::new();
    env.ok(&["demo"]);
    let hits = env.json(&["search", "how do we handle authentication?", "--mode", "keyword", "--json"]);
    assert_eq!(titles(&hits)[0], "Authentication Architecture");
    let first = &hits[0];
    for key in ["id", "title", "space", "section", "anchor", "snippet", "highlights", "score"] {
        assert!(first.get(key).is_some(), "{key} missing in {first}");
    }
    assert_eq!(first["space"], "ENG");

    let adrs = titles(&env.json(&["search", "label:adr", "--json"]));
    assert!(adrs.iter().any(|t| t.starts_with("ADR 1")), "{adrs:?}");
    assert!(adrs.iter().all(|t| t.starts_with("ADR") || t == "Decisions"), "{adrs:?}");

    let deploy = titles(&env.json(&["search", "--cql", "space = ENG AND title ~ \"deploy\"", "--json"]));
    assert!(deploy.contains(&"Deployment Guide".to_owned()), "{deploy:?}");
    assert!(deploy.iter().all(|t| t.to_lowercase().contains("deploy")), "{deploy:?}");

    let newest = env.json(&["search", "--cql", "type = page ORDER BY lastmodified DESC", "--limit", "50", "--json"]);
    let dates: Vec<&str> =
        newest.as_array().expect("list").iter().map(|h| h["updated"].as_str().expect("date")).collect();
    assert!(dates.len() > 5 && dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");

    // Text output: numbered results with the section and the space.
    let text = env.ok(&["search", "rollback", "--mode", "keyword"]);
    assert!(text.starts_with("1. "), "{text}");
    assert!(text.contains("[ENG "), "{text}");

    // Bad CQL says where the problem is; no results is not an error.
    let err = env.fails(&["search", "--cql", "space = ENG AND"]);
    assert!(err.contains("column 16") && err.contains('^'), "{err}");
    assert!(env.ok(&["search", "zyxwvut", "--mode", "keyword"]).contains("No pages match"));
    let err = env.fails(&["search"]);
    assert!(err.contains("--cql"), "{err}");
}

#[test]
fn saves_are_found_without_a_rebuild_and_a_deleted_index_comes_back() {
    let env = Env::new();
    env.ok(&["space", "create", "OPS", "--name", "Operations"]);
    let id = env.create("OPS", "Pager duty", "Who carries the pager.\n", &[]);
    env.create("OPS", "Backups", "Nightly snapshots of the databases.\n", &["--label", "storage"]);
    env.ok(&["index"]);
    assert!(titles(&env.json(&["search", "escalation", "--json"])).is_empty());

    env.update_body(&id, "Who carries the pager, and the escalation policy after 15 minutes.\n");
    assert_eq!(titles(&env.json(&["search", "escalation", "--json"])), ["Pager duty"]);
    let report = env.json(&["index", "--json"]);
    assert_eq!(report[0]["indexed"], 0, "nothing left to catch up: {report}");

    let before = env.json(&["search", "snapshots OR pager", "--json"]);
    std::fs::remove_dir_all(env.home.join("cache")).expect("delete the cache folder");
    let rebuilt = env.json(&["index", "--json"]);
    assert_eq!(rebuilt[0]["indexed"], 2, "{rebuilt}");
    let after = env.json(&["search", "snapshots OR pager", "--json"]);
    assert_eq!(titles(&before), titles(&after));
    let fresh = env.json(&["index", "OPS", "--rebuild", "--json"]);
    assert_eq!(fresh[0]["indexed"], 2, "{fresh}");
    assert!(env.fails(&["index", "NOPE"]).contains("NOPE"));
}
