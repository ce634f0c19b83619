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
    let words = |q: &str| titles(&env.json(&["search", q, "--mode", "keyword", "--json"]));
    assert!(words("escalation").is_empty());

    env.update_body(&id, "Who carries the pager, and the escalation policy after 15 minutes.\n");
    assert_eq!(words("escalation"), ["Pager duty"]);
    let report = env.json(&["index", "--json"]);
    assert_eq!(report[0]["indexed"], 0, "nothing left to catch up: {report}");

    let before = env.json(&["search", "snapshots OR pager", "--mode", "keyword", "--json"]);
    std::fs::remove_dir_all(env.home.join("cache")).expect("delete the cache folder");
    let rebuilt = env.json(&["index", "--json"]);
    assert_eq!(rebuilt[0]["indexed"], 2, "{rebuilt}");
    let after = env.json(&["search", "snapshots OR pager", "--mode", "keyword", "--json"]);
    assert_eq!(titles(&before), titles(&after));
    let fresh = env.json(&["index", "OPS", "--rebuild", "--json"]);
    assert_eq!(fresh[0]["indexed"], 2, "{fresh}");
    assert!(env.fails(&["index", "NOPE"]).contains("NOPE"));
}

#[test]
fn meaning_ranks_by_default_and_without_the_model_keyword_search_still_works() {
    let env = Env::new();
    env.ok(&["demo"]);
    let report = env.json(&["index", "--json"]);
    assert!(report[0]["embedded"].as_u64().is_some_and(|n| n > 10), "{report}");
    // Hybrid is the default; meaning alone finds the page for a question in other words.
    assert_eq!(
        titles(&env.json(&["search", "how do we handle authentication?", "--json"]))[0],
        "Authentication Architecture"
    );
    let question = "customers complain that everything feels sluggish";
    assert_eq!(titles(&env.json(&["search", question, "--mode", "semantic", "--json"]))[0], "Runbook: API latency");
    assert_ne!(
        titles(&env.json(&["search", question, "--mode", "keyword", "--json"])).first().map(String::as_str),
        Some("Runbook: API latency")
    );
    let related = titles(&env.json(&["related", "ENG:Deployment Guide", "--json"]));
    assert!(!related.is_empty() && !related.contains(&"Deployment Guide".to_owned()), "{related:?}");

    // No model files: keyword and hybrid work (with a note), semantic says how to enable it.
    let nowhere = env.dir.path().join("no-models");
    let run = |args: &[&str]| env.cmd(args).env("CONFLUENCE_DO_MODELS", &nowhere).output().expect("runs");
    let semantic = run(&["search", question, "--mode", "semantic"]);
    assert!(!semantic.status.success());
    let err = String::from_utf8_lossy(&semantic.stderr);
    assert!(err.contains("scripts/setup-models") && err.contains("Keyword search works"), "{err}");
    let hybrid = run(&["search", "rollback", "--json"]);
    assert!(hybrid.status.success(), "{}", String::from_utf8_lossy(&hybrid.stderr));
    let hits: serde_json::Value = serde_json::from_slice(&hybrid.stdout).expect("json");
    assert!(titles(&hits).contains(&"Deployment Guide".to_owned()));
    assert!(String::from_utf8_lossy(&hybrid.stderr).contains("keyword results only"));
    let related = run(&["related", "ENG:Deployment Guide", "--json"]);
    assert!(related.status.success(), "{}", String::from_utf8_lossy(&related.stderr));
}
