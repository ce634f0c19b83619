//! `ask` over the demo space: the question set of `tests/fixtures/demo-questions.yaml`, answered
//! without a model (the best sentences, cited), with the right page among the first three
//! sources; and a question the wiki does not cover.

use std::path::PathBuf;

use crate::support::Env;

/// (question, page, fact) from the question set (a list of `q`/`page`/`fact` mappings).
pub fn questions() -> Vec<(String, String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/demo-questions.yaml");
    let text = std::fs::read_to_string(path).expect("question set");
    let mut out = Vec::new();
    let value = |line: &str, key: &str| -> Option<String> {
        let v = line.trim().trim_start_matches("- ").strip_prefix(key)?.trim();
        Some(v.trim_matches('"').to_owned())
    };
    let (mut q, mut page) = (String::new(), String::new());
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        if let Some(v) = value(line, "q:") {
            q = v;
        } else if let Some(v) = value(line, "page:") {
            page = v;
        } else if let Some(v) = value(line, "fact:") {
            out.push((q.clone(), page.clone(), v));
        }
    }
    out
}

#[test]
fn answers_come_with_their_sources() {
    let env = Env::new();
    env.ok(&["demo", "--json"]);
    env.ok(&["index"]);
    let set = questions();
    assert!(set.len() >= 20, "at least 20 questions: {}", set.len());
    let (mut found, mut facts) = (0, 0);
    let mut misses = Vec::new();
    for (q, page, fact) in &set {
        let a = env.json(&["ask", q, "--json"]);
        let titles: Vec<&str> =
            a["sources"].as_array().expect("sources").iter().filter_map(|s| s["title"].as_str()).collect();
        let text = a["answer"].as_str().unwrap_or("");
        if titles.iter().take(3).any(|t| t == page) {
            found += 1;
        } else {
            misses.push(format!("{q}: {titles:?}"));
        }
        if text.to_lowercase().contains(&fact.to_lowercase()) {
            facts += 1;
            // A cited answer names its source: [1] is the first source.
            assert!(text.contains("[1]") && a["sources"][0]["n"] == 1, "{a}");
        }
    }
    assert!(found * 10 >= set.len() * 9, "right page in the top 3 for {found}/{}: {misses:#?}", set.len());
    assert!(facts * 4 >= set.len() * 3, "the fact in the answer for {facts}/{}", set.len());

    let a = env.json(&["ask", "What is the office wifi password?", "--json"]);
    assert_eq!(a["supported"], false, "{a}");
    assert!(a["answer"].as_str().is_some_and(|t| t.starts_with("The wiki does not say.")), "{a}");

    let text = env.ok(&["ask", "How long do access tokens live?"]);
    assert!(text.contains("15 minutes") && text.contains("\n[1] Authentication Architecture > "), "{text}");
}

#[test]
fn the_server_answers_with_sources() {
    let env = Env::new();
    env.ok(&["demo", "--json"]);
    let server = crate::server::Server::start(&env, "127.0.0.1:0", &[]);
    let addr = server.url().trim_start_matches("http://").to_owned();
    let reply = crate::server::http(&addr, "GET", "/api/v1/ask?q=Where+do+secrets+live%3F", None, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let a = reply.json();
    assert_eq!(a["supported"], true, "{a}");
    assert!(a["answer"].as_str().is_some_and(|t| t.contains("Vault")), "{a}");
    assert_eq!(a["sources"][0]["title"], "Deployment Guide", "{a}");
    assert_eq!(a["sources"][0]["n"], 1);
    let reply = crate::server::http(&addr, "GET", "/api/v1/ask?q=", None, None);
    assert_eq!(reply.status, 400, "{}", reply.body);
    let reply = crate::server::http(&addr, "GET", "/api/v1/ask?q=secrets&space=NOPE", None, None);
    assert_eq!(reply.status, 404, "{}", reply.body);
}

#[test]
fn agents_use_the_wiki_over_mcp() {
    let env = Env::new();
    env.ok(&["demo", "--json"]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients/mcp_client.mjs");
    let out = std::process::Command::new("node")
        .arg(&script)
        .arg(crate::support::BIN)
        .arg(&env.home)
        .env_remove("CONFLUENCE_DO_HOME")
        .output()
        .expect("node runs (scripts/setup-tests installs the MCP SDK)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON value");
    assert_eq!(got["server"]["name"], "confluence-do");
    let tools: Vec<&str> = got["tools"].as_array().expect("tools").iter().filter_map(|t| t.as_str()).collect();
    assert_eq!(tools, ["search", "ask", "get_page", "create_page", "update_page"]);
    let titles: Vec<&str> =
        got["search"]["results"].as_array().expect("results").iter().filter_map(|r| r["title"].as_str()).collect();
    assert!(titles.contains(&"Deployment Guide"), "{got}");
    assert!(got["page"]["body"].as_str().is_some_and(|b| b.contains("acme deploy rollback")), "{got}");
    assert!(got["ask"]["answer"].as_str().is_some_and(|a| a.contains("Vault")), "{got}");
    assert_eq!(got["ask"]["sources"][0]["title"], "Deployment Guide");
    assert_eq!(got["missing"]["isError"], true, "{got}");
    // The page the agent made is a commit by the agent, under the page it read.
    let id = got["created"]["id"].as_str().expect("id");
    let page = env.json(&["page", "show", id, "--json"]);
    assert_eq!(page["title"], "Notes from the agent");
    assert_eq!(page["parent"], got["page"]["id"]);
    let log = crate::support::git(&env.space_path("ENG"), &["log", "-1", "--format=%an <%ae>|%s"]);
    assert_eq!(log.trim(), "Agent Smith <agent@example.com>|Create \"Notes from the agent\"");
}
