//! `ask` over the demo space: the question set of `tests/fixtures/demo-questions.yaml`, answered
//! without a model (the best sentences, cited) and by a real small model (SmolLM2-135M served by
//! llama.cpp through `scripts/llm`, checked by the wiki), with the right page among the first
//! three sources; and a question the wiki does not cover.

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
    assert_eq!(tools, ["search", "ask", "get_page", "create_page", "update_page", "check_freshness"]);
    let titles: Vec<&str> =
        got["search"]["results"].as_array().expect("results").iter().filter_map(|r| r["title"].as_str()).collect();
    assert!(titles.contains(&"Deployment Guide"), "{got}");
    assert!(got["page"]["body"].as_str().is_some_and(|b| b.contains("acme deploy rollback")), "{got}");
    assert!(got["ask"]["answer"].as_str().is_some_and(|a| a.contains("Vault")), "{got}");
    assert_eq!(got["ask"]["sources"][0]["title"], "Deployment Guide");
    assert_eq!(got["missing"]["isError"], true, "{got}");
    // The demo space (and the agent's new page) has no broken links; no code repository is registered.
    assert_eq!(got["fresh"]["pages"], 12, "{got}");
    assert_eq!(got["fresh"]["code"], false, "{got}");
    assert_eq!(got["fresh"]["problems"], serde_json::json!([]), "{got}");
    // The page the agent made is a commit by the agent, under the page it read.
    let id = got["created"]["id"].as_str().expect("id");
    let page = env.json(&["page", "show", id, "--json"]);
    assert_eq!(page["title"], "Notes from the agent");
    assert_eq!(page["parent"], got["page"]["id"]);
    let log = crate::support::git(&env.space_path("ENG"), &["log", "-1", "--format=%an <%ae>|%s"]);
    assert_eq!(log.trim(), "Agent Smith <agent@example.com>|Create \"Notes from the agent\"");
}

/// The local model (`scripts/llm`, set up by `scripts/setup-tests`) on a free port; stopped when
/// dropped.
pub(crate) struct LocalModel {
    _process: crate::support::Background,
    pub(crate) url: String,
}

impl LocalModel {
    pub(crate) fn start() -> LocalModel {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/llm");
        let (process, line) =
            crate::support::Background::start(std::process::Command::new("python3").arg(script).args(["--port", "0"]));
        let Some(url) = line.strip_prefix("listening ") else {
            panic!("the local model did not start (run scripts/setup-tests to set it up): {line:?}");
        };
        LocalModel { url: url.to_owned(), _process: process }
    }
}

/// Every `[n]` in the answer is a source numbered `n`, and nothing the wiki dropped is in it.
fn assert_well_cited(a: &serde_json::Value) {
    let text = a["answer"].as_str().expect("answer");
    let numbers: Vec<u64> = a["sources"].as_array().expect("sources").iter().filter_map(|s| s["n"].as_u64()).collect();
    for (i, _) in text.match_indices('[') {
        let rest = &text[i + 1..];
        if let Some(n) = rest.split(']').next().and_then(|n| n.parse::<u64>().ok()) {
            assert!(n > 0 && numbers.contains(&n), "[{n}] is no source: {a}");
        }
    }
    for dropped in a["dropped"].as_array().into_iter().flatten() {
        assert!(!text.contains(dropped.as_str().unwrap_or("\u{0}")), "a dropped sentence is in the answer: {a}");
    }
}

#[test]
fn a_real_model_answers_from_the_wiki_and_the_wiki_checks_it() {
    let env = Env::new();
    env.ok(&["demo", "--json"]);
    env.ok(&["index"]);
    let model = LocalModel::start();
    let ask = |q: &str| -> serde_json::Value {
        let out = env.cmd(&["ask", q, "--json"]).env("CONFLUENCE_DO_LLM_URL", &model.url).output().expect("runs");
        crate::support::check(&["ask", q], &out);
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let set = questions();
    let (mut found, mut facts, mut written, mut written_facts) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for (q, page, fact) in &set {
        let a = ask(q);
        assert_well_cited(&a);
        let titles: Vec<&str> =
            a["sources"].as_array().expect("sources").iter().filter_map(|s| s["title"].as_str()).collect();
        if titles.iter().take(3).any(|t| t == page) {
            found += 1;
        } else {
            misses.push(format!("{q}: {titles:?}"));
        }
        let has_fact = a["answer"].as_str().is_some_and(|t| t.to_lowercase().contains(&fact.to_lowercase()));
        facts += usize::from(has_fact);
        if a["by"] == "local" {
            written += 1;
            written_facts += usize::from(has_fact);
        } else {
            // When the model's answer did not hold up, the answer says why.
            assert_eq!(a["by"], "extractive", "{a}");
            assert!(a["note"].as_str().is_some_and(|n| !n.is_empty()), "{a}");
        }
    }
    assert!(found * 10 >= set.len() * 9, "right page in the top 3 for {found}/{}: {misses:#?}", set.len());
    assert!(facts * 4 >= set.len() * 3, "the fact in the answer for {facts}/{}", set.len());
    assert!(written >= 3, "the model wrote only {written} of {} answers", set.len());
    assert!(written_facts * 2 >= written, "the model's {written} answers have the fact in only {written_facts}");

    // A question the wiki does not cover is not put to the model.
    let a = ask("What is the office wifi password?");
    assert_eq!(a["supported"], false, "{a}");
    assert!(a["answer"].as_str().is_some_and(|t| t.starts_with("The wiki does not say.")), "{a}");

    // The server, configured in config.yaml, streams the model's words, then the checked answer.
    std::fs::write(env.home.join("config.yaml"), format!("llm:\n  url: {}\n  model: local\n", model.url))
        .expect("config");
    let server = crate::server::Server::start(&env, "127.0.0.1:0", &[]);
    let addr = server.url().trim_start_matches("http://").to_owned();
    let reply = crate::server::http(&addr, "GET", "/api/v1/ask/stream?q=How+long+does+a+rollback+take%3F", None, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let tokens = reply.body.matches("event: token").count();
    assert!(tokens >= 3, "streamed {tokens} tokens: {}", reply.body);
    let last = reply.body.split("event: answer").nth(1).expect("an answer event");
    let data: String = last.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    let a: serde_json::Value = serde_json::from_str(&data).expect("the answer is JSON");
    assert_well_cited(&a);
    assert!(a["answer"].as_str().is_some_and(|t| t.contains("four minutes")), "{a}");
    assert_eq!(a["sources"][0]["title"], "Deployment Guide", "{a}");
    let reply =
        crate::server::http(&addr, "GET", "/api/v1/ask?q=How+long+does+a+rollback+take%3F&model=none", None, None);
    assert_eq!(reply.json()["by"], "extractive");
}
