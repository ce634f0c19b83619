//! Live co-editing, end to end: the real Yjs client (`tests/sync/*.mjs`: yjs + y-websocket)
//! against the real `confluence-do serve`; then git shows what was committed, by whom.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::{Server, http_json};
use crate::support::{Env, assert_fsck, git};

fn sync_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/sync");
    assert!(
        dir.join("node_modules/y-websocket").is_dir(),
        "yjs and y-websocket are not installed; run scripts/setup-tests"
    );
    dir
}

/// Runs a sync script; its last stdout line is a JSON report with `ok`.
fn node(script: &str, args: &[&str]) -> Value {
    let out = Command::new("node").current_dir(sync_dir()).arg(script).args(args).output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or(Value::Null);
    assert!(
        out.status.success() && report["ok"] == Value::Bool(true),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

/// A home with space ENG, two writers and a reader, each with a token.
struct Team {
    env: Env,
    ada: String,
    bob: String,
    rita: String,
}

fn team() -> Team {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    env.ok(&["user", "add", "ada@example.com", "--name", "Ada Lovelace", "--admin"]);
    env.ok(&["user", "add", "bob@example.com", "--name", "Bob Builder", "--admin"]);
    env.ok(&["user", "add", "rita@example.com", "--name", "Rita Reader", "--read-only"]);
    let token = |email: &str| env.ok(&["token", "create", email]).trim().to_owned();
    let (ada, bob, rita) = (token("ada@example.com"), token("bob@example.com"), token("rita@example.com"));
    Team { env, ada, bob, rita }
}

fn ws(server: &Server) -> String {
    format!("{}/sync", server.url().replace("http://", "ws://"))
}

/// The page's Markdown body as committed on the branch.
fn committed_body(env: &Env, path: &str) -> String {
    let space = env.space_path("ENG");
    let text = git(&space, &["show", &format!("HEAD:{path}")]);
    // After the frontmatter.
    text.splitn(3, "---\n").nth(2).unwrap_or("").to_owned()
}

fn page_path(env: &Env, id: &str) -> String {
    env.json(&["page", "show", id, "--json"])["path"].as_str().expect("a path").to_owned()
}

/// Waits (with a deadline) until `cond` holds.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

#[test]
fn yjs_clients_edit_together_see_each_other_and_the_page_is_committed_by_both() {
    let t = team();
    let initial = "First line.\nSecond line.\n";
    let page = t.env.create("ENG", "Live notes", initial, &[]);
    let path = page_path(&t.env, &page);
    let server = Server::start(&t.env, "127.0.0.1:0", &[]);
    let tokens = json!({"ada": t.ada, "bob": t.bob, "rita": t.rita}).to_string();
    let report = node("interop.mjs", &[&ws(&server), &page, &tokens, initial]);
    if report["readerClose"] != 1008 {
        panic!("a reader's edit closes the connection as a policy violation: {report}\n{}", server.stop_and_read_log());
    }
    let text = report["text"].as_str().expect("text").to_owned();
    for part in ["Ada was here. ", "Bob too.\n", "Written offline.\n", "Written online. ", "First line."] {
        assert!(text.contains(part), "{part:?} in {text:?}");
    }

    // Everyone left: the text is committed, by whoever typed first, with the other as co-author.
    let space = t.env.space_path("ENG");
    wait_for("the live edits to be committed", || committed_body(&t.env, &path) == text);
    let log = git(&space, &["log", "-1", "--format=%an <%ae>%n%B"]);
    let (ada, bob) = ("Ada Lovelace <ada@example.com>", "Bob Builder <bob@example.com>");
    let by_ada =
        log.starts_with(&format!("{ada}\nEdit \"Live notes\" live")) && log.contains(&format!("Co-authored-by: {bob}"));
    let by_bob =
        log.starts_with(&format!("{bob}\nEdit \"Live notes\" live")) && log.contains(&format!("Co-authored-by: {ada}"));
    assert!(by_ada || by_bob, "{log}");
    assert!(!log.contains("Rita"), "{log}");
    assert_eq!(git(&space, &["status", "--porcelain"]), "", "the space is clean");
    assert_fsck(&space);
    // The API reads what was committed.
    assert_eq!(t.env.json(&["page", "show", &page, "--json"])["body"].as_str(), Some(text.as_str()));
}

#[test]
fn changes_from_the_api_and_from_disk_appear_live_and_the_live_edit_stays() {
    let t = team();
    let page = t.env.create("ENG", "Outside", "First line.\nSecond line.\n", &[]);
    let path = page_path(&t.env, &page);
    let file = t.env.space_path("ENG").join(&path);
    let server = Server::start(&t.env, "127.0.0.1:0", &[]);
    let report = node("outside.mjs", &[&ws(&server), &server.url(), &page, &t.ada, file.to_str().expect("utf-8 path")]);
    let text = report["text"].as_str().expect("text").to_owned();
    assert_eq!(text, "First line, edited by the API.\nSecond line, edited on disk.\nLive line.\n");
    let space = t.env.space_path("ENG");
    wait_for("the merged text to be committed", || committed_body(&t.env, &path) == text);
    wait_for("a clean space", || git(&space, &["status", "--porcelain"]).is_empty());
    assert_fsck(&space);
}

#[test]
fn hostile_frames_close_only_their_connection_with_a_logged_reason() {
    let t = team();
    let page = t.env.create("ENG", "Target", "Text.\n", &[]);
    let server = Server::start(&t.env, "127.0.0.1:0", &[]);
    let report = node("hostile.mjs", &[&ws(&server), &page, &t.ada]);
    let closes = report["closes"].as_array().expect("closes");
    assert_eq!(closes.len(), 9, "{report}");
    for c in closes {
        let code = c["code"].as_u64().unwrap_or(0);
        assert!(code != 1000, "{c}: closed as if nothing was wrong");
    }
    let by_name = |n: &str| closes.iter().find(|c| c["name"] == n).cloned().unwrap_or(Value::Null);
    assert_eq!(by_name("unknown message type")["code"], 1008, "{report}");
    assert!(by_name("unknown message type")["reason"].as_str().unwrap_or("").contains("unsupported message type 9"));
    assert_eq!(by_name("a text frame")["code"], 1003, "{report}");
    assert_eq!(by_name("awareness that is not JSON")["code"], 1008, "{report}");
    let log = server.stop_and_read_log();
    assert!(log.contains("closed: unsupported message type 9"), "{log}");
    assert!(log.contains("closed: malformed message"), "{log}");
    assert!(log.contains("closed: a text frame"), "{log}");
}

#[test]
fn a_killed_server_keeps_every_edit_a_client_had_received() {
    let t = team();
    let page = t.env.create("ENG", "Crash", "Typed:\n", &[]);
    let path = page_path(&t.env, &page);
    let mut server = Server::start(&t.env, "127.0.0.1:0", &[]);
    let mut child = Command::new("node")
        .current_dir(sync_dir())
        .args(["crash.mjs", &ws(&server), &page, &t.ada])
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Once Bob has received a few hundred characters, kill -9 the server mid-typing.
    let mut report = Value::Null;
    for line in lines.by_ref() {
        let line = line.expect("a line");
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["progress"].as_u64().unwrap_or(0) >= 300 {
            server.kill9();
        }
        if v.get("ok").is_some() {
            report = v;
            break;
        }
    }
    assert!(child.wait().expect("node ends").success(), "{report}");
    assert_eq!(report["ok"], true, "{report}");
    let received = report["received"].as_str().expect("received").to_owned();
    assert!(received.len() > 300, "{received}");

    // Restarted, the server commits what the log holds: everything Bob had received.
    let space = t.env.space_path("ENG");
    let again = Server::start(&t.env, "127.0.0.1:0", &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !committed_body(&t.env, &path).starts_with(&received) {
        if Instant::now() > deadline {
            let body = committed_body(&t.env, &path);
            panic!(
                "the recovered commit lacks what Bob had received:\nreceived {} chars: {received:?}\ncommitted {} chars: {body:?}\nlog: {}",
                received.len(),
                body.len(),
                again.stop_and_read_log()
            );
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
    assert_fsck(&space);
    wait_for("a clean space", || git(&space, &["status", "--porcelain"]).is_empty());
}

/// Two homes with space ENG cloned from one bare remote; `Runbook` has five lines.
struct TwoHomes {
    a: Env,
    b: Env,
    remote: tempfile::TempDir,
    page: String,
}

const FIVE: &str = "Line one.\nLine two.\nLine three.\nLine four.\nLine five.\n";

fn two_homes() -> TwoHomes {
    let remote = tempfile::tempdir().expect("tempdir");
    git(remote.path(), &["init", "--bare", "-q", "-b", "main"]);
    let a = Env::new();
    a.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let page = a.create("ENG", "Runbook", FIVE, &[]);
    let space_a = a.space_path("ENG");
    git(&space_a, &["remote", "add", "origin", remote.path().to_str().expect("utf-8 path")]);
    let first = a.json(&["sync", "ENG", "--json"]);
    assert_eq!(first["pushed"], true, "{first}");
    let b = Env::new();
    b.ok(&["space", "clone", remote.path().to_str().expect("utf-8 path"), "--key", "ENG"]);
    TwoHomes { a, b, remote, page }
}

fn body_of(env: &Env, page: &str) -> String {
    env.json(&["page", "show", page, "--json"])["body"].as_str().expect("a body").to_owned()
}

fn edit_line(env: &Env, page: &str, from: &str, to: &str) {
    let body = body_of(env, page);
    assert!(body.contains(from), "{from:?} in {body:?}");
    env.update_body(page, &body.replacen(from, to, 1));
}

#[test]
fn git_sync_merges_edits_of_different_lines_from_two_homes() {
    let h = two_homes();
    edit_line(&h.a, &h.page, "Line one.", "Line one, edited in A.");
    edit_line(&h.b, &h.page, "Line five.", "Line five, edited in B.");
    assert_eq!(h.a.json(&["sync", "ENG", "--json"])["pushed"], true);
    let b = h.b.json(&["sync", "ENG", "--json"]);
    assert_eq!((b["merged"].clone(), b["pushed"].clone()), (Value::Bool(true), Value::Bool(true)), "{b}");
    assert_eq!(b["conflicts"], json!([]), "{b}");
    let a = h.a.json(&["sync", "ENG", "--json"]);
    assert_eq!(a["fastForward"], true, "{a}");
    let want = "Line one, edited in A.\nLine two.\nLine three.\nLine four.\nLine five, edited in B.\n";
    assert_eq!(body_of(&h.a, &h.page), want);
    assert_eq!(body_of(&h.b, &h.page), want);
    for env in [&h.a, &h.b] {
        let space = env.space_path("ENG");
        assert_eq!(git(&space, &["status", "--porcelain"]), "", "clean after sync");
        assert!(!space.join(".git/MERGE_HEAD").exists(), "never left mid-merge");
        assert_fsck(&space);
    }
    assert_fsck(h.remote.path());
}

#[test]
fn git_sync_keeps_both_sides_of_the_same_line_marked_and_lists_the_page() {
    let h = two_homes();
    edit_line(&h.a, &h.page, "Line three.", "Line three says A.");
    edit_line(&h.b, &h.page, "Line three.", "Line three, B disagrees entirely here.");
    h.a.ok(&["sync", "ENG"]);
    let b = h.b.json(&["sync", "ENG", "--json"]);
    let path = page_path(&h.b, &h.page);
    assert_eq!(b["conflicts"], json!([{"path": path, "count": 1}]), "{b}");
    let merged = body_of(&h.b, &h.page);
    for part in [
        "<<<<<<< local",
        "Line three, B disagrees entirely here.",
        "=======",
        "Line three says A.",
        ">>>>>>> origin/main",
        "Line one.",
        "Line five.",
    ] {
        assert!(merged.contains(part), "{part:?} in {merged:?}");
    }
    // The text as printed says what to do.
    let printed = h.b.ok(&["sync", "ENG"]);
    assert!(printed.contains("up to date") || printed.contains("pushed"), "{printed}");
    let a = h.a.json(&["sync", "ENG", "--json"]);
    assert_eq!(a["fastForward"], true, "{a}");
    assert_eq!(body_of(&h.a, &h.page), merged, "both homes hold both versions");

    // The server lists the page for the UI (after its own sync) until the markers are gone.
    edit_line(&h.a, &h.page, "Line two.", "Line two, edited again in A.");
    h.a.ok(&["sync", "ENG"]);
    edit_line(&h.b, &h.page, "Line one.", "Line one, edited again in B.");
    let server = Server::start(&h.b, "127.0.0.1:0", &[]);
    let addr = server.url().replace("http://", "");
    let state = crate::server::http(&addr, "POST", "/api/v1/spaces/ENG/sync", None, None);
    assert_eq!(state.status, 200, "{}", state.body);
    let state = state.json();
    assert_eq!(state["remote"], true, "{state}");
    assert_eq!(state["last"]["merged"], true, "{state}");
    assert_eq!(state["last"]["pushed"], true, "{state}");
    let state = crate::server::http(&addr, "GET", "/api/v1/spaces/ENG/sync", None, None).json();
    assert_eq!(state["conflicts"], json!([]), "the earlier conflict came from the CLI's sync: {state}");
    edit_line(&h.a, &h.page, "Line two, edited again in A.", "Line two, A once more.");
    h.a.ok(&["sync", "ENG"]);
    edit_line(&h.b, &h.page, "Line two, edited again in A.", "Line two, B once more.");
    let state = crate::server::http(&addr, "POST", "/api/v1/spaces/ENG/sync", None, None).json();
    assert_eq!(state["conflicts"][0]["id"], json!(h.page), "{state}");
    let body = body_of(&h.b, &h.page);
    let resolved: String = body
        .lines()
        .filter(|l| !l.starts_with("<<<<<<<") && !l.starts_with("=======") && !l.starts_with(">>>>>>>"))
        .map(|l| format!("{l}\n"))
        .collect();
    h.b.update_body(&h.page, &resolved);
    let state = crate::server::http(&addr, "GET", "/api/v1/spaces/ENG/sync", None, None).json();
    assert_eq!(state["conflicts"], json!([]), "resolved: {state}");
    for env in [&h.a, &h.b] {
        let space = env.space_path("ENG");
        assert_eq!(git(&space, &["status", "--porcelain"]), "");
        assert_fsck(&space);
    }
}

#[test]
fn git_sync_without_network_keeps_local_work_committed_and_queued() {
    let h = two_homes();
    let space = h.b.space_path("ENG");
    git(&space, &["remote", "set-url", "origin", "/nonexistent/remote.git"]);
    edit_line(&h.b, &h.page, "Line two.", "Line two, written offline.");
    // An edit straight on disk, not through the app, is committed too.
    let file = space.join(page_path(&h.b, &h.page));
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replace("Line four.", "Line four, edited on disk.")).expect("write");
    let err = h.b.fails(&["sync", "ENG"]);
    assert!(err.contains("could not reach `origin`") && err.contains("2 local commit(s) are kept"), "{err}");
    assert_eq!(git(&space, &["status", "--porcelain"]), "", "the edit on disk was committed");
    git(&space, &["remote", "set-url", "origin", h.remote.path().to_str().expect("utf-8 path")]);
    let b = h.b.json(&["sync", "ENG", "--json"]);
    assert_eq!((b["pushed"].clone(), b["queued"].clone()), (Value::Bool(true), json!(0)), "{b}");
    h.a.ok(&["sync", "ENG"]);
    let body = body_of(&h.a, &h.page);
    assert!(body.contains("Line two, written offline.") && body.contains("Line four, edited on disk."), "{body}");
}

#[test]
fn git_sync_while_a_live_session_edits_the_page_keeps_both() {
    let h = two_homes();
    h.b.ok(&["user", "add", "ada@example.com", "--name", "Ada Lovelace", "--admin"]);
    let token = h.b.ok(&["token", "create", "ada@example.com"]).trim().to_owned();
    edit_line(&h.a, &h.page, "Line one.", "Line one, from the other home.");
    h.a.ok(&["sync", "ENG"]);
    let server = Server::start(&h.b, "127.0.0.1:0", &[]);
    let mut child = Command::new("node")
        .current_dir(sync_dir())
        .args(["live_edit.mjs", &ws(&server), &h.page, &token, "from the other home"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut report = Value::Null;
    for line in lines.by_ref() {
        let v: Value = serde_json::from_str(&line.expect("a line")).unwrap_or(Value::Null);
        if v["typed"] == true {
            // The live edit is on the server, not yet committed: sync now.
            let b = h.b.json(&["sync", "ENG", "--json"]);
            assert_eq!(b["fastForward"], true, "{b}");
        }
        if v.get("ok").is_some() {
            report = v;
            break;
        }
    }
    assert!(child.wait().expect("node ends").success(), "{report}");
    let text = report["text"].as_str().expect("text").to_owned();
    assert!(text.contains("Line one, from the other home.") && text.contains("Typed live during the sync."), "{text}");
    let path = page_path(&h.b, &h.page);
    wait_for("the merged live text to be committed", || committed_body(&h.b, &path) == text);
    let space = h.b.space_path("ENG");
    wait_for("a clean space", || git(&space, &["status", "--porcelain"]).is_empty());
    assert_fsck(&space);
}

#[test]
fn change_events_stream_page_changes_live_edits_and_presence() {
    let t = team();
    let server = Server::start(&t.env, "127.0.0.1:0", &["--commit-after", "0.2"]);
    let report = node("events.mjs", &[&server.url(), &t.ada]);
    let kinds: Vec<&str> = report["events"].as_array().expect("events").iter().filter_map(Value::as_str).collect();
    let order = ["page.created", "presence.joined", "content.changed", "presence.left", "page.moved", "page.deleted"];
    let mut at = 0;
    for kind in order {
        let found =
            kinds[at..].iter().position(|k| *k == kind).unwrap_or_else(|| panic!("{kind} after {at} in {kinds:?}"));
        at += found;
    }
    // A reader without access to ENG sees none of it.
    t.env.ok(&["user", "grant", "rita@example.com", "ENG", "none"]);
    let addr = server.url().replace("http://", "");
    let denied = crate::server::http(&addr, "GET", &format!("/api/v1/events?space=ENG&token={}", t.rita), None, None);
    assert_eq!(denied.status, 401, "tokens in the query are for /sync only: {}", denied.body);
}

/// A webhook receiver on 127.0.0.1: answers 500 to the first delivery, 200 after; keeps each
/// request's headers and body.
fn receiver() -> (String, std::sync::mpsc::Receiver<(String, String)>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then Content-Length bytes of body.
            let (head, body) = loop {
                let Ok(k) = stream.read(&mut buf) else { break (String::new(), String::new()) };
                if k == 0 {
                    break (String::new(), String::new());
                }
                raw.extend_from_slice(&buf[..k]);
                let text = String::from_utf8_lossy(&raw).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    if body.len() >= len {
                        break (head.to_owned(), body.to_owned());
                    }
                }
            };
            let status = if n == 0 { "500 Internal Server Error" } else { "200 OK" };
            let _ = stream
                .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes());
            let _ = tx.send((head, body));
        }
    });
    (url, rx)
}

#[test]
fn webhooks_are_signed_and_retried_until_the_receiver_takes_them() {
    let t = team();
    let server = Server::start(&t.env, "127.0.0.1:0", &[]);
    let addr = server.url().replace("http://", "");
    let (url, deliveries) = receiver();
    let auth = Some(("ada@example.com", t.ada.as_str()));
    let secret = "a-shared-secret-of-some-length";
    let made = http_json(&addr, "POST", "/api/v1/spaces/ENG/webhooks", auth, &json!({"url": url, "secret": secret}));
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.json()["events"], json!(["page.created", "page.updated", "page.moved", "page.deleted"]));
    // A reader may not see or add hooks.
    let reader = crate::server::http(
        &addr,
        "GET",
        "/api/v1/spaces/ENG/webhooks",
        Some(("rita@example.com", t.rita.as_str())),
        None,
    );
    assert_eq!(reader.status, 403, "{}", reader.body);
    let refused = http_json(&addr, "POST", "/api/v1/spaces/ENG/webhooks", auth, &json!({"url": "ftp://example.com/x"}));
    assert_eq!(refused.status, 400, "{}", refused.body);

    let created =
        http_json(&addr, "POST", "/api/v1/spaces/ENG/pages", auth, &json!({"title": "Hooked", "body": "Hello.\n"}));
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().expect("id").to_owned();
    let wait = Duration::from_secs(20);
    let (first_head, first_body) = deliveries.recv_timeout(wait).expect("a first delivery");
    let (head, body) = deliveries.recv_timeout(wait).expect("a retry after the 500");
    assert_eq!(first_body, body, "the retry sends the same event");
    let event: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        (event["type"].as_str(), event["page"].as_str(), event["space"].as_str()),
        (Some("page.created"), Some(id.as_str()), Some("ENG"))
    );
    assert_eq!(event["user"]["email"], "ada@example.com");
    let header = |h: &str, name: &str| {
        h.lines().find_map(|l| {
            l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_owned())
        })
    };
    let want = format!("sha256={}", cdo_server::webhooks::sign(secret.as_bytes(), body.as_bytes()));
    assert_eq!(header(&head, "X-Confluence-Do-Signature-256"), Some(want));
    assert_eq!(header(&head, "X-Confluence-Do-Event").as_deref(), Some("page.created"));
    assert_eq!(
        header(&first_head, "X-Confluence-Do-Delivery"),
        header(&head, "X-Confluence-Do-Delivery"),
        "one delivery id across retries"
    );
    assert!(!server.stop_and_read_log().contains(secret), "the secret is never logged");
}

#[test]
fn a_desktop_joined_to_a_team_server_edits_through_it_and_merges_after_an_outage() {
    use std::io::Write as _;
    // The team server's home, its space pushed to a remote the desktop clones.
    let remote = tempfile::tempdir().expect("tempdir");
    git(remote.path(), &["init", "--bare", "-q", "-b", "main"]);
    let t = team();
    let page = t.env.create("ENG", "Shared", "Shared text.\n", &[]);
    git(&t.env.space_path("ENG"), &["remote", "add", "origin", remote.path().to_str().expect("utf-8 path")]);
    t.env.ok(&["sync", "ENG"]);
    let desk = Env::new();
    desk.ok(&["space", "clone", remote.path().to_str().expect("utf-8 path"), "--key", "ENG"]);

    let mut team_server = Server::start(&t.env, "127.0.0.1:0", &[]);
    let team_addr = team_server.url().replace("http://", "");
    let desk_server = Server::start(&desk, "127.0.0.1:0", &[]);
    let desk_addr = desk_server.url().replace("http://", "");
    let joined = http_json(
        &desk_addr,
        "PUT",
        "/api/v1/spaces/ENG/team-server",
        None,
        &json!({"url": team_server.url(), "token": t.ada}),
    );
    assert_eq!(joined.status, 200, "{}", joined.body);
    let saved = std::fs::read_to_string(desk.home.join("team-servers.json")).expect("saved");
    assert!(saved.contains(&t.ada), "kept in the home (owner-only), never in the space");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(desk.home.join("team-servers.json")).expect("meta").permissions().mode();
    assert_eq!(mode & 0o077, 0, "only the owner reads the token");

    let mut child = Command::new("node")
        .current_dir(sync_dir())
        .args(["bridge.mjs", &ws(&desk_server), &ws(&team_server), &page, &t.ada])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut report = Value::Null;
    for line in lines.by_ref() {
        let v: Value = serde_json::from_str(&line.expect("a line")).unwrap_or(Value::Null);
        match v["phase"].as_str() {
            Some("online") => {
                team_server.kill9();
                writeln!(stdin, "killed").expect("write");
            }
            Some("offline-edited") => {
                team_server = Server::start(&t.env, &team_addr, &[]);
                writeln!(stdin, "restarted").expect("write");
            }
            _ => {}
        }
        if v.get("ok").is_some() {
            report = v;
            break;
        }
    }
    assert!(child.wait().expect("node ends").success(), "{report}");
    let text = report["text"].as_str().expect("text").to_owned();
    for part in ["Desk edit. ", "Shared text.", "Team edit.\n", "Offline edit.\n"] {
        assert!(text.contains(part), "{part:?} in {text:?}");
    }
    // Both homes commit the same text.
    let path = page_path(&t.env, &page);
    wait_for("the team server's commit", || committed_body(&t.env, &path) == text);
    wait_for("the desktop's commit", || committed_body(&desk, &path) == text);
    drop(team_server);
}

#[test]
fn seeded_random_yjs_peers_converge_and_the_commit_is_the_final_text() {
    let t = team();
    let page = t.env.create("ENG", "Random", "Start.\n", &[]);
    let path = page_path(&t.env, &page);
    let server = Server::start(&t.env, "127.0.0.1:0", &["--commit-after", "0.3"]);
    for seed in ["1", "7", "42"] {
        let report = node("converge.mjs", &[&ws(&server), &page, &t.ada, seed]);
        let text = report["text"].as_str().expect("text").to_owned();
        wait_for("the converged text to be committed", || committed_body(&t.env, &path) == text);
    }
    assert_fsck(&t.env.space_path("ENG"));
}
