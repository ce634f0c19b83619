//! Migration from Confluence, end to end: `confluence-do migrate` against confluence.do's own
//! Confluence-compatible server (seeded through its REST API by two people, several versions
//! per page) and against a server replaying recorded Confluence Cloud answers (pagination,
//! `_expandable`, 429 with Retry-After, a page that fails), and `confluence-do import` of export
//! zips.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::server::{Server, http, http_json};
use crate::support::{Env, git};

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// A multipart body with one file.
fn multipart(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--b--\r\n");
    body
}

#[test]
fn migrates_a_site_from_the_confluence_api_with_its_history() {
    // The source: a team server with two people writing through the Confluence API.
    let source = Env::new();
    source.ok(&["space", "create", "ENG", "--name", "Engineering", "--description", "How we build"]);
    source.ok(&["user", "add", "ada@example.com", "--name", "Ada Lovelace", "--admin"]);
    source.ok(&["user", "add", "bob@example.com", "--name", "Bob Stone"]);
    let ada_token = source.ok(&["token", "create", "ada@example.com"]).trim().to_owned();
    let bob_token = source.ok(&["token", "create", "bob@example.com"]).trim().to_owned();
    let server = Server::start(&source, "127.0.0.1:0", &[]);
    let addr = server.url().trim_start_matches("http://").to_owned();
    let ada = Some(("ada@example.com", ada_token.as_str()));
    let bob = Some(("bob@example.com", bob_token.as_str()));
    let create = |auth, title: &str, parent: Option<&str>, body: &str| -> String {
        let mut page = json!({"type": "page", "title": title, "space": {"key": "ENG"},
            "body": {"storage": {"value": body, "representation": "storage"}}});
        if let Some(p) = parent {
            page["ancestors"] = json!([{"id": p}]);
        }
        let reply = http_json(&addr, "POST", "/rest/api/content", auth, &page);
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["id"].as_str().expect("id").to_owned()
    };
    let update = |auth, id: &str, title: &str, version: u64, body: &str| {
        let page = json!({"type": "page", "title": title, "version": {"number": version},
            "body": {"storage": {"value": body, "representation": "storage"}}});
        let reply = http_json(&addr, "PUT", &format!("/rest/api/content/{id}"), auth, &page);
        assert_eq!(reply.status, 200, "{}", reply.body);
    };
    let home = create(ada, "Handbook", None, "<p>Start here.</p>");
    let deploy = create(bob, "Deploying", Some(&home), "<h2>Steps</h2><ol><li>Build</li><li>Ship</li></ol>");
    let faq = create(ada, "FAQ", Some(&home), "<p>Ask in <code>#help</code>.</p>");
    update(
        bob,
        &home,
        "Handbook",
        2,
        "<p>Start here, then read <ac:link><ri:page ri:content-title=\"Deploying\" /></ac:link>.</p>",
    );
    update(
        ada,
        &deploy,
        "Deploying",
        2,
        "<h2>Steps</h2><ol><li>Build</li><li>Test</li><li>Ship</li></ol>\
        <ac:structured-macro ac:name=\"warning\"><ac:rich-text-body><p>Never on Fridays.</p></ac:rich-text-body></ac:structured-macro>\
        <table><tbody><tr><th>Env</th><th>Owner</th></tr><tr><td>prod</td><td>Ops</td></tr></tbody></table>\
        <p><ac:image><ri:attachment ri:filename=\"flow.png\" /></ac:image></p>",
    );
    update(
        bob,
        &deploy,
        "Deploying safely",
        3,
        "<h2>Steps</h2><ol><li>Build</li><li>Test</li><li>Ship</li></ol>\
        <ac:structured-macro ac:name=\"warning\"><ac:rich-text-body><p>Never on Fridays.</p></ac:rich-text-body></ac:structured-macro>\
        <table><tbody><tr><th>Env</th><th>Owner</th></tr><tr><td>prod</td><td>Ops</td></tr></tbody></table>\
        <p><ac:image><ri:attachment ri:filename=\"flow.png\" /></ac:image></p>",
    );
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR-flow".to_vec();
    let upload = multipart("flow.png", &png);
    let reply = http(
        &addr,
        "POST",
        &format!("/rest/api/content/{deploy}/child/attachment"),
        bob,
        Some(("multipart/form-data; boundary=b", &upload)),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = http_json(
        &addr,
        "POST",
        &format!("/rest/api/content/{deploy}/label"),
        ada,
        &json!([{"prefix": "global", "name": "runbook"}]),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let comment = json!({"type": "comment", "container": {"id": faq, "type": "page"},
        "body": {"storage": {"value": "<p>What about weekends?</p>", "representation": "storage"}}});
    let reply = http_json(&addr, "POST", "/rest/api/content", bob, &comment);
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Into a new home, over the API, with every version.
    let dest = source.other_home("dest");
    let out = dest
        .cmd(&["migrate", "--url", &server.url(), "--email", "ada@example.com", "--space", "ENG", "--history"])
        .env("CONFLUENCE_TOKEN", &ada_token)
        .output()
        .expect("runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("fetching ENG") && stderr.contains("3/3 pages"), "progress with counts: {stderr}");
    assert!(stderr.contains("s left"), "progress with a time left: {stderr}");
    assert!(!stderr.contains(&ada_token) && !stdout.contains(&ada_token), "the token is never printed");
    let total: usize = [&home, &deploy, &faq]
        .iter()
        .map(|id| source.json(&["page", "history", id, "--json"]).as_array().map_or(0, Vec::len))
        .sum();
    assert!(total >= 7, "every update made a version");
    assert!(
        stdout.contains(&format!("ENG: 3 pages, 0 blog posts, {total} versions, 1 attachments, 1 comments")),
        "{stdout}"
    );

    // The same tree and the same text.
    let shape = |env: &Env| -> Vec<(String, Option<String>)> {
        let tree = env.json(&["tree", "ENG", "--json"]);
        let mut out = Vec::new();
        fn walk(nodes: &Value, parent: Option<String>, out: &mut Vec<(String, Option<String>)>) {
            for n in nodes.as_array().into_iter().flatten() {
                let title = n["title"].as_str().unwrap_or("").to_owned();
                out.push((title.clone(), parent.clone()));
                walk(&n["children"], Some(title), out);
            }
        }
        walk(&tree, None, &mut out);
        out.retain(|(t, _)| t != "Confluence migration report");
        out
    };
    assert_eq!(shape(&dest), shape(&source));
    for id in [&home, &deploy, &faq] {
        let a = source.json(&["page", "show", id, "--json"]);
        let b = dest.json(&["page", "show", id, "--json"]);
        assert_eq!(a["title"], b["title"]);
        assert_eq!(a["labels"], b["labels"]);
        let (wa, wb) = (words(a["body"].as_str().unwrap_or("")), words(b["body"].as_str().unwrap_or("")));
        assert_eq!(wa, wb, "same text:\n{}\n---\n{}", a["body"], b["body"]);
    }
    let repo = dest.space_path("ENG");
    let page = std::fs::read_to_string(repo.join("handbook/deploying-safely.md")).expect("the child page");
    assert!(page.contains("> [!CAUTION]\n> Never on Fridays."), "{page}");
    assert!(page.contains("| Env | Owner |\n| --- | --- |"), "tables keep their header: {page}");
    assert!(page.contains("![](deploying-safely.attachments/flow.png)"), "{page}");
    assert_eq!(std::fs::read(repo.join("handbook/deploying-safely.attachments/flow.png")).expect("attachment"), png);
    let handbook = std::fs::read_to_string(repo.join("handbook.md")).expect("home");
    assert!(handbook.contains("](handbook/deploying-safely.md)"), "links follow the renamed page: {handbook}");
    let comments = std::fs::read_to_string(repo.join(format!("_comments/{faq}.yaml"))).expect("comments");
    assert!(
        comments.contains("What about weekends?") && comments.contains("Bob Stone <bob@example.com>"),
        "{comments}"
    );

    // History: every version, by its author, at its date.
    let versions = |env: &Env, id: &str| -> Vec<(String, String)> {
        let h = env.json(&["page", "history", id, "--json"]);
        h.as_array()
            .expect("versions")
            .iter()
            .map(|v| (v["author"].as_str().unwrap_or("").to_owned(), v["date"].as_str().unwrap_or("").to_owned()))
            .collect()
    };
    for id in [&home, &deploy, &faq] {
        let (mut a, b) = (versions(&source, id), versions(&dest, id));
        if id == &deploy {
            // Confluence does not version labels; the source made a version of the label added
            // last (newest first here), which the migration folds into the version before it.
            a.remove(0);
        }
        assert_eq!(a, b, "{id}: same versions, authors and dates");
    }
    let log = git(&repo, &["log", "--format=%an|%s", "--", "handbook/deploying-safely.md"]);
    assert!(
        log.contains("Bob Stone|Update \"Deploying safely\"") && log.contains("Bob Stone|Create \"Deploying\""),
        "{log}"
    );

    // Run again, with the token as a Bearer token this time: nothing doubles.
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let again = dest
        .cmd(&["migrate", "--url", &server.url(), "--space", "ENG", "--history"])
        .env("CONFLUENCE_TOKEN", &ada_token)
        .output()
        .expect("runs");
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]), head, "a second run changes nothing");

    // Wrong credentials say what to do, even when every answer is already staged.
    let err = dest.fails(&["migrate", "--url", &server.url(), "--space", "ENG", "--token", "wrong"]);
    assert!(err.contains("401") && err.contains("--token"), "{err}");
}

/// Answers recorded from Confluence Cloud, served from `tests/fixtures/confluence-cloud`.
struct Replay {
    addr: String,
    state: Arc<Mutex<ReplayState>>,
}

#[derive(Default)]
struct ReplayState {
    /// Fixture names asked for, in order.
    asked: Vec<String>,
    /// Answer 429 (Retry-After: 1) this many times to the first page of the page list.
    throttle: usize,
    /// Fixtures that answer 500.
    broken: Vec<String>,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/confluence-cloud")
}

/// The fixture for a request: the path after `/wiki/rest/api/` with `/` as `_`, plus the query
/// parameters that select an answer.
fn fixture_name(target: &str) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if let Some(file) = path.strip_prefix("/wiki/download/attachments/") {
        return file.rsplit('/').next().unwrap_or(file).to_owned();
    }
    let mut name = path.trim_start_matches("/wiki/rest/api/").replace('/', "_");
    let params: HashMap<&str, &str> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    if let Some(kind) = params.get("type").filter(|_| name == "content") {
        name.push_str(&format!("_type-{kind}_start-{}", params.get("start").unwrap_or(&"0")));
    }
    if let Some(v) = params.get("version") {
        name.push_str(&format!("_version-{v}"));
    }
    if let Some(a) = params.get("accountId") {
        name.push_str(&format!("_accountId-{a}"));
    }
    if params.get("expand").is_some_and(|e| e.contains("permissions")) {
        name.push_str("_permissions");
    }
    if !name.ends_with(".png") {
        name.push_str(".json");
    }
    name
}

impl Replay {
    fn start(user: &'static str, token: &'static str) -> Replay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let addr = listener.local_addr().expect("addr").to_string();
        let state = Arc::new(Mutex::new(ReplayState::default()));
        let shared = state.clone();
        let me = format!("http://{addr}");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, me) = (shared.clone(), me.clone());
                std::thread::spawn(move || serve(stream, &state, &me, user, token));
            }
        });
        Replay { addr, state }
    }

    fn url(&self) -> String {
        format!("http://{}/wiki", self.addr)
    }

    fn asked(&self, name: &str) -> usize {
        self.state.lock().expect("lock").asked.iter().filter(|n| *n == name).count()
    }
}

fn serve(stream: TcpStream, state: &Mutex<ReplayState>, me: &str, user: &str, token: &str) {
    use base64::Engine as _;
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split(' ').nth(1).unwrap_or("/").to_owned();
    let mut authorized = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            let want = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
            authorized = value.trim() == format!("Basic {want}");
        }
    }
    let name = fixture_name(&target);
    let (status, extra, body): (u16, &str, Vec<u8>) = {
        let mut s = state.lock().expect("lock");
        s.asked.push(name.clone());
        if !authorized {
            (401, "", br#"{"statusCode":401,"message":"Unauthorized"}"#.to_vec())
        } else if name == "content_type-page_start-0.json" && s.throttle > 0 {
            s.throttle -= 1;
            (429, "Retry-After: 1\r\n", br#"{"statusCode":429,"message":"Rate limit exceeded"}"#.to_vec())
        } else if s.broken.contains(&name) {
            (500, "", br#"{"statusCode":500,"message":"Internal server error"}"#.to_vec())
        } else {
            match std::fs::read(fixtures().join(&name)) {
                Ok(bytes) if name.ends_with(".json") => {
                    let text = String::from_utf8_lossy(&bytes).replace("https://acme.atlassian.net", me);
                    (200, "", text.into_bytes())
                }
                Ok(bytes) => (200, "", bytes),
                Err(_) => (404, "", format!(r#"{{"statusCode":404,"message":"No fixture {name}"}}"#).into_bytes()),
            }
        }
    };
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
    let _ = stream.flush();
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
}

#[test]
fn recorded_cloud_answers_resume_and_retry() {
    let replay = Replay::start("mia@acme.example", "ATATT3xFfGF0-recorded");
    {
        let mut s = replay.state.lock().expect("lock");
        s.throttle = 1;
        s.broken = vec!["content_98307.json".into()];
    }
    let env = Env::new();
    env.ok(&["user", "add", "tom.lee@acme.example", "--name", "Tom Lee", "--read-only"]);
    let run = |env: &Env| {
        env.cmd(&[
            "migrate",
            "--url",
            &replay.url(),
            "--email",
            "mia@acme.example",
            "--token",
            "ATATT3xFfGF0-recorded",
            "--history",
            "--jira-url",
            "https://acme.atlassian.net",
            "--json",
        ])
        .output()
        .expect("runs")
    };
    let first = run(&env);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "one broken page does not stop the rest: {stderr}");
    let report: Value = serde_json::from_slice(&first.stdout).expect("JSON");
    let space = &report["spaces"][0];
    assert_eq!(space["key"], "DOCS");
    assert_eq!(space["pages"], 2, "{report}");
    assert_eq!(space["blog_posts"], 1);
    let failures = space["failures"].to_string();
    assert!(failures.contains("API reference") && failures.contains("500") && failures.contains("again"), "{failures}");
    assert_eq!(replay.asked("content_type-page_start-0.json"), 2, "the 429 was waited out and retried");
    assert_eq!(replay.asked("content_type-page_start-2.json"), 1, "the next page of the list was followed");
    assert!(replay.asked("content_98307.json") >= 2, "the failing page was retried");
    assert!(space["losses"]["macro:jira"].is_null(), "jira macros become issue links: {report}");

    let repo = env.space_path("DOCS");
    let home = std::fs::read_to_string(repo.join("product-docs-home.md")).expect("home page");
    assert!(
        home.contains("> [!NOTE] Start here\n> New? Read [Getting started](product-docs-home/getting-started.md)."),
        "{home}"
    );
    let gs = std::fs::read_to_string(repo.join("product-docs-home/getting-started.md")).expect("child");
    assert!(gs.contains("Ask [@Mia Krystof](mention:5b10ac8d82e05b22cc7d4ef5) for access"), "mentions get names: {gs}");
    assert!(gs.contains("```bash title=\"Install\"\ncurl -fsSL https://get.acme.example | sh\n```"), "{gs}");
    assert!(gs.contains("| OS | Supported |") && gs.contains("| Linux | ✅ |"), "{gs}");
    assert!(gs.contains("[DOC-42](https://acme.atlassian.net/browse/DOC-42)"), "{gs}");
    assert_eq!(
        std::fs::read(repo.join("product-docs-home/getting-started.attachments/screenshot.png")).expect("downloaded"),
        std::fs::read(fixtures().join("screenshot.png")).expect("fixture")
    );
    let comments = std::fs::read_to_string(repo.join("_comments/98305.yaml")).expect("comments");
    assert!(comments.contains("parent: '99001'") && comments.contains("inline: the team"), "{comments}");
    assert!(repo.join("blog/2023/launch-day.md").is_file());
    let log = git(&repo, &["log", "--reverse", "--format=%an|%ad|%s", "--date=short", "--", "product-docs-home.md"]);
    assert_eq!(
        log,
        "Mia Krystof|2023-04-01|Create \"Product Docs\"\nTom Lee|2023-04-11|Update \"Product Docs Home\"\n"
    );
    let authors = git(&repo, &["log", "--format=%ae"]);
    assert!(
        authors.contains("tom.lee@acme.example") && authors.contains("5b10ac8d82e05b22cc7d4ef5@confluence.invalid"),
        "{authors}"
    );
    let report_page = std::fs::read_to_string(repo.join("confluence-migration-report.md")).expect("report");
    assert!(report_page.contains("API reference"), "{report_page}");
    assert!(report["spaces"][0]["permissions"].as_str().is_some_and(|p| p.contains("1 users")), "{report}");
    let users = env.ok(&["user", "list"]);
    assert!(users.contains("DOCS") && users.contains("admin"), "Tom administers DOCS as in Confluence: {users}");

    // The site is fixed; the second run fetches only what it lacked and adds the missing page.
    replay.state.lock().expect("lock").broken.clear();
    let asked_before = replay.asked("content_98306.json");
    let second = run(&env);
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let report: Value = serde_json::from_slice(&second.stdout).expect("JSON");
    assert_eq!(report["spaces"][0]["pages"], 3);
    assert_eq!(report["spaces"][0]["failures"], json!([]));
    assert_eq!(replay.asked("content_98306.json"), asked_before, "what was fetched is not fetched again");
    let api = std::fs::read_to_string(repo.join("product-docs-home/api-reference.md")).expect("the page that failed");
    assert!(api.contains("POST /v1/items"), "{api}");
    let subjects = git(&repo, &["log", "--format=%s"]);
    assert_eq!(subjects.matches("Create \"Getting started\"").count(), 1, "nothing doubled: {subjects}");
    assert_eq!(subjects.matches("\"API reference\"").count(), 3, "all three versions: {subjects}");
    let tree = env.json(&["tree", "DOCS", "--json"]);
    let children: Vec<&str> =
        tree[0]["children"].as_array().expect("children").iter().filter_map(|c| c["title"].as_str()).collect();
    assert_eq!(children, ["API reference", "Getting started"], "siblings in the site's order");
    let report_page = std::fs::read_to_string(repo.join("confluence-migration-report.md")).expect("report");
    assert!(!report_page.contains("Not migrated"), "the report is brought up to date: {report_page}");
}

/// Builds a small XML export the way Confluence writes one.
fn xml_export(dir: &Path) -> PathBuf {
    use cdo_migrate::model::{Attachment, Blob, Content, Kind, Person, SpaceData, Version, When};
    let ada = Person { id: "8a7f8081".into(), name: "Ada Lovelace".into(), email: Some("ada@example.com".into()) };
    let v = |n: u32, title: &str, storage: &str, day: i64| Version {
        number: n,
        title: title.into(),
        storage: storage.into(),
        by: ada.clone(),
        when: When { seconds: 1_600_000_000 + day * 86_400, offset_minutes: 0 },
        message: String::new(),
    };
    let data = SpaceData {
        key: "OLD".into(),
        name: "Old wiki".into(),
        homepage: Some("1001".into()),
        contents: vec![
            Content {
                id: "1001".into(),
                kind: Kind::Page,
                parent: None,
                labels: vec![],
                versions: vec![
                    v(1, "Start", "<p>One.</p>", 0),
                    v(2, "Start", "<p>One. Two. <ac:image><ri:attachment ri:filename=\"a.png\" /></ac:image></p>", 1),
                ],
                attachments: vec![Attachment {
                    id: "2001".into(),
                    filename: "a.png".into(),
                    by: ada.clone(),
                    when: When { seconds: 1_600_000_000, offset_minutes: 0 },
                    data: Blob::Bytes(b"png".to_vec()),
                }],
                comments: vec![],
            },
            Content {
                id: "1002".into(),
                kind: Kind::Page,
                parent: Some("1001".into()),
                labels: vec!["x".into()],
                versions: vec![v(
                    1,
                    "Child",
                    "<p>See <ac:link><ri:page ri:content-title=\"Start\" /></ac:link></p>",
                    2,
                )],
                attachments: vec![],
                comments: vec![],
            },
        ],
        ..Default::default()
    };
    let zip = dir.join("Confluence-space-export-OLD.xml.zip");
    cdo_migrate::fixture::write_xml_export(&data, &zip).expect("export");
    zip
}

#[test]
fn imports_an_xml_export_under_a_new_key() {
    let env = Env::new();
    let zip = xml_export(env.dir.path());
    let out = env.json(&["import", zip.to_str().expect("utf-8"), "--key", "NEW", "--json"]);
    assert_eq!(out["key"], "NEW");
    assert_eq!(out["versions"], 3);
    let repo = env.space_path("NEW");
    assert_eq!(std::fs::read(repo.join("start.attachments/a.png")).expect("attachment"), b"png");
    assert_eq!(git(&repo, &["log", "--format=%an", "--", "start.md"]).lines().count(), 2);
    let child = env.json(&["page", "show", "1002", "--json"]);
    assert!(child["body"].as_str().is_some_and(|b| b.contains("[Start](../start.md)")), "{child}");

    // A space linking into the first: relative links into its folder beside it.
    use cdo_migrate::model::{Content, Kind, SpaceData, Version};
    let ops = SpaceData {
        key: "OPS".into(),
        name: "Operations".into(),
        contents: vec![Content {
            id: "3001".into(),
            kind: Kind::Page,
            parent: None,
            labels: vec![],
            versions: vec![Version {
                number: 1,
                title: "Runbooks".into(),
                storage: "<p>See <ac:link><ri:page ri:space-key=\"NEW\" ri:content-title=\"Child\" /></ac:link> \
                          and <ac:link><ri:page ri:space-key=\"GONE\" ri:content-title=\"Nowhere\" /></ac:link>.</p>"
                    .into(),
                by: Default::default(),
                when: Default::default(),
                message: String::new(),
            }],
            attachments: vec![],
            comments: vec![],
        }],
        ..Default::default()
    };
    let ops_zip = env.dir.path().join("ops.zip");
    cdo_migrate::fixture::write_xml_export(&ops, &ops_zip).expect("export");
    env.ok(&["import", ops_zip.to_str().expect("utf-8")]);
    let runbooks = std::fs::read_to_string(env.space_path("OPS").join("runbooks.md")).expect("page");
    assert!(runbooks.contains("[Child](../NEW/start/child.md)"), "{runbooks}");
    assert!(runbooks.contains("[[GONE:Nowhere]]"), "a space not here stays a wiki link: {runbooks}");
    // Again: resumes to nothing; another key for the same export is another space.
    let head = git(&repo, &["rev-parse", "HEAD"]);
    env.ok(&["import", zip.to_str().expect("utf-8"), "--key", "NEW"]);
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]), head);
    // Not an export: a clear error.
    let junk = env.dir.path().join("junk.zip");
    std::fs::write(&junk, b"not a zip").expect("write");
    let err = env.fails(&["import", junk.to_str().expect("utf-8")]);
    assert!(err.contains("neither a Confluence XML export"), "{err}");
}
