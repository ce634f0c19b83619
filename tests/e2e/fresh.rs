//! Freshness on a fixture space and a fixture code repository with planted problems: broken
//! links (a missing page, a missing section, a missing image), a moved file, a renamed route and
//! a page older than the code it describes, two pages that disagree; and a correct page reported
//! fresh.

use std::path::Path;

use serde_json::Value;

use crate::support::{Env, git, write};

/// Commits everything in `repo` at `when` (seconds since the epoch).
fn commit_at(repo: &Path, message: &str, when: i64) {
    git(repo, &["add", "-A"]);
    let date = format!("{when} +0000");
    let out = std::process::Command::new("git")
        .current_dir(repo)
        .args(["-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", message])
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The code repository: its first state long ago.
fn code_repo(root: &Path) {
    git(root, &["init", "-q", "-b", "main"]);
    write(root, "Cargo.toml", "[package]\nname = \"acme-api\"\n");
    write(root, "src/auth/tokens.rs", "pub fn issue_token(user: &str) -> String {\n    user.into()\n}\n");
    write(root, "src/auth/session.rs", "pub struct Session;\npub fn open_session() {}\n");
    write(root, "src/billing/invoice.rs", "pub fn render_invoice() {}\n");
    write(
        root,
        "src/api/routes.rs",
        "Router::new()\n    .route(\"/users\", post(create_user))\n    .route(\"/users/{id}\", get(get_user))\n",
    );
    write(
        root,
        "openapi.yaml",
        "openapi: 3.0.3\ninfo: {title: Acme, version: '2'}\npaths:\n  /orders:\n    get: {}\n    post: {}\n",
    );
    commit_at(root, "first version", 1_600_000_000);
}

fn report<'a>(reports: &'a Value, title: &str) -> &'a Value {
    reports
        .as_array()
        .expect("reports")
        .iter()
        .find(|r| r["title"] == title)
        .unwrap_or_else(|| panic!("{title}: {reports}"))
}

fn issues<'a>(r: &'a Value, kind: &str) -> Vec<&'a Value> {
    r["issues"].as_array().expect("issues").iter().filter(|i| i["type"] == kind).collect()
}

#[test]
fn planted_problems_are_found_with_their_suggestions() {
    let env = Env::new();
    let code = env.dir.path().join("acme-api");
    std::fs::create_dir_all(&code).expect("mkdir");
    code_repo(&code);
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    env.ok(&["space", "code", "ENG", code.to_str().expect("utf-8")]);

    let tokens = env.create(
        "ENG",
        "Tokens",
        "# Tokens\n\n## Issuing\n\n`issue_token()` in `src/auth/tokens.rs` signs them. Read one with GET /users/{id}.\n",
        &[],
    );
    env.create(
        "ENG",
        "Users API",
        "# Users API\n\n## Creating users\n\nSend `POST /users` with the profile. Orders: `GET /orders`.\n",
        &[],
    );
    env.create(
        "ENG",
        "Billing",
        "# Billing\n\n## Invoices\n\nRendered by `src/billing/invoice.rs`.\n\n## See also\n\n\
         [The guide](billing-guide.md), [issuing](tokens.md#issueing) and ![flow](_attachments/billing/flow.png).\n\
         Also [[Tokns]].\n",
        &[],
    );
    env.create(
        "ENG",
        "Sessions",
        "# Sessions\n\n## How they work\n\n`open_session()` in `src/auth/session.rs`.\n",
        &[],
    );
    // Two pages that disagree.
    let overview = env.create(
        "ENG",
        "Auth overview",
        "# Auth overview\n\n## Lifetimes\n\nAccess tokens expire after 15 minutes of use.\n",
        &[],
    );
    env.create(
        "ENG",
        "Auth FAQ",
        "# Auth FAQ\n\nAccess tokens expire after 60 minutes of use.\nThe FAQ has 12 answers for new people.\n",
        &[],
    );

    // Later the code moves on: the invoice code moves, the users routes gain a prefix, sessions change.
    std::fs::create_dir_all(code.join("src/payments")).expect("mkdir");
    std::fs::rename(code.join("src/billing/invoice.rs"), code.join("src/payments/invoice.rs")).expect("mv");
    write(
        &code,
        "src/api/routes.rs",
        "Router::new()\n    .route(\"/api/v2/users\", post(create_user))\n    .route(\"/users/{id}\", get(get_user))\n",
    );
    write(&code, "src/auth/session.rs", "pub struct Session;\npub fn open_session() {}\npub fn close_session() {}\n");
    let later =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs() as i64 + 3600;
    commit_at(&code, "move invoices to payments, version the users API, close sessions", later);

    let out = env.cmd(&["check", "ENG", "--json"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "broken pages make check exit 1");
    let reports: Value = serde_json::from_slice(&out.stdout).expect("JSON");

    let r = report(&reports, "Tokens");
    assert_eq!(r["status"], "fresh", "{r}");
    assert!(r["confidence"].as_f64().is_some_and(|c| c >= 0.8), "{r}");
    assert!(r["lastVerified"].as_str().is_some_and(|t| t.len() >= 20), "{r}");

    let r = report(&reports, "Users API");
    assert_eq!(r["status"], "broken", "{r}");
    let drift = issues(r, "code_drift");
    assert_eq!(drift.len(), 1, "only the renamed route: {r}");
    assert_eq!(drift[0]["suggestion"], "POST /api/v2/users");
    assert_eq!(drift[0]["section"], "Creating users");

    let r = report(&reports, "Billing");
    assert_eq!(r["status"], "broken", "{r}");
    let drift = issues(r, "code_drift");
    assert_eq!(drift.len(), 1, "{r}");
    assert_eq!(drift[0]["suggestion"], "src/payments/invoice.rs");
    assert_eq!(drift[0]["section"], "Invoices");
    let links = issues(r, "broken_link");
    assert_eq!(links.len(), 4, "missing page, section, image and wiki title: {r}");
    let detail = |i: usize| links[i]["detail"].as_str().unwrap_or("");
    assert!(detail(0).contains("billing-guide.md"), "{r}");
    assert!(detail(1).contains("#issueing"), "{r}");
    assert_eq!(links[1]["suggestion"], "#issuing");
    assert!(detail(2).starts_with("the image"), "{r}");
    assert_eq!(links[3]["suggestion"], "[[Tokens]]");
    assert!(links.iter().all(|l| l["section"] == "See also"), "{r}");

    let r = report(&reports, "Sessions");
    assert_eq!(r["status"], "stale", "{r}");
    let stale = issues(r, "stale");
    assert_eq!(stale.len(), 1, "{r}");
    assert!(
        stale[0]["detail"].as_str().is_some_and(|d| d.contains("src/auth/session.rs") && d.contains("close sessions")),
        "{r}"
    );

    // The pages that disagree cite each other.
    let r = report(&reports, "Auth overview");
    assert_eq!(r["status"], "stale", "{r}");
    let c = issues(r, "contradiction");
    assert_eq!(c.len(), 1, "{r}");
    assert_eq!(c[0]["section"], "Lifetimes");
    assert_eq!(c[0]["line"], 5, "the line of the statement: {r}");
    assert!(
        c[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("15 minutes") && d.contains("\"Auth FAQ\" says") && d.contains("60 minutes")),
        "{r}"
    );
    let r = report(&reports, "Auth FAQ");
    assert_eq!(issues(r, "contradiction").len(), 1, "{r}");

    // One page, in words.
    let text = env.ok(&["check", "--page", &tokens]);
    assert!(text.contains("1 page(s): 1 fresh"), "{text}");

    // The API says the same.
    let server = crate::server::Server::start(&env, "127.0.0.1:0", &[]);
    let addr = server.url().trim_start_matches("http://").to_owned();
    let reply = crate::server::http(&addr, "GET", "/api/v1/spaces/ENG/freshness", None, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let all = reply.json();
    assert_eq!(
        (all["fresh"].as_u64(), all["stale"].as_u64(), all["broken"].as_u64()),
        (Some(1), Some(3), Some(2)),
        "{all}"
    );
    assert_eq!(all["code"], true);
    let reply = crate::server::http(&addr, "GET", &format!("/api/v1/pages/{tokens}/freshness"), None, None);
    assert_eq!(reply.json()["status"], "fresh", "{}", reply.body);
    // A page's badge knows the pages that contradict it.
    let reply = crate::server::http(&addr, "GET", &format!("/api/v1/pages/{overview}/freshness"), None, None);
    let r = reply.json();
    assert_eq!(r["status"], "stale", "{r}");
    assert_eq!(issues(&r, "contradiction").len(), 1, "{r}");
}

/// A web server on 127.0.0.1 that answers 200 for `/ok` and 404 for anything else.
fn tiny_web() -> String {
    use std::io::{BufRead as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = std::io::BufReader::new(stream);
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let status = if first.split_whitespace().nth(1) == Some("/ok") { "200 OK" } else { "404 Not Found" };
            let mut stream = reader.into_inner();
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    format!("http://{addr}")
}

#[test]
fn external_links_are_checked_only_when_asked() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let web = tiny_web();
    let id = env.create("ENG", "Links", &format!("# Links\n\n## Out\n\n[ok]({web}/ok) and [gone]({web}/gone).\n"), &[]);

    let quiet = env.json(&["check", "ENG", "--json"]);
    assert_eq!(report(&quiet, "Links")["status"], "fresh", "no requests unless asked: {quiet}");

    let out = env.cmd(&["check", "ENG", "--external", "--json"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let asked: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let r = report(&asked, "Links");
    let broken = issues(r, "broken_link");
    assert_eq!(broken.len(), 1, "{r}");
    assert!(broken[0]["detail"].as_str().is_some_and(|d| d.contains("/gone") && d.contains("HTTP 404")), "{r}");
    assert_eq!(broken[0]["section"], "Out");

    let server = crate::server::Server::start(&env, "127.0.0.1:0", &[]);
    let addr = server.url().trim_start_matches("http://").to_owned();
    let reply = crate::server::http(&addr, "GET", &format!("/api/v1/pages/{id}/freshness?external=1"), None, None);
    assert_eq!(reply.json()["status"], "broken", "{}", reply.body);
    let reply = crate::server::http(&addr, "GET", &format!("/api/v1/pages/{id}/freshness"), None, None);
    assert_eq!(reply.json()["status"], "fresh", "{}", reply.body);
}
