//! The team server, end to end: the real binary serving a temporary home on 127.0.0.1, driven
//! by the real Confluence clients (atlassian-python-api, confluence.js), by raw HTTP and by the
//! CLI beside it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::support::{BIN, Env, git};

/// A running `confluence-do serve`; killed when dropped.
pub(crate) struct Server {
    child: Child,
    addr: String,
    /// Kept open: the server's later lines must not hit a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Server {
    /// Starts the server on `bind` (port 0 picks a free one) and waits for its "serving" line.
    pub(crate) fn start(env: &Env, bind: &str, extra: &[&str]) -> Server {
        Server::start_with(env, bind, extra, &[])
    }

    /// [`Server::start`] with more environment variables.
    pub(crate) fn start_with(env: &Env, bind: &str, extra: &[&str], vars: &[(&str, &str)]) -> Server {
        let mut child = Command::new(BIN)
            .arg("--home")
            .arg(&env.home)
            .args(["serve", "--bind", bind])
            .args(extra)
            .env_remove("CONFLUENCE_DO_HOME")
            .env_remove("CONFLUENCE_DO_LLM_URL")
            .env_remove("CONFLUENCE_DO_LLM_MODEL")
            .env_remove("CONFLUENCE_DO_LLM_KEY")
            .env("CONFLUENCE_DO_USER", "Local Person <local@example.com>")
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("reads the first line");
        let Some(url) = line.trim().strip_prefix("confluence.do serving http://") else {
            let mut err = String::new();
            let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            panic!("the server did not start: {line}{err}");
        };
        // A server bound to 0.0.0.0 is reached through loopback.
        let addr = url.replace("0.0.0.0", "127.0.0.1");
        Server { child, addr, _stdout: stdout }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `kill -9`: no shutdown, nothing flushed.
    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server and returns what it logged (stderr).
    pub(crate) fn stop_and_read_log(mut self) -> String {
        self.kill9();
        let mut log = String::new();
        let _ = self.child.stderr.take().map(|mut e| e.read_to_string(&mut log));
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response: status and body.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    head: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request over a fresh connection.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<(&str, &[u8])>,
) -> Reply {
    http_with(addr, method, path, auth, &[], body)
}

/// [`http`] with a JSON body.
pub(crate) fn http_json(addr: &str, method: &str, path: &str, auth: Option<(&str, &str)>, body: &Value) -> Reply {
    let (content_type, bytes) = json_body(body).expect("a JSON body");
    http(addr, method, path, auth, Some((content_type, &bytes)))
}

/// [`http`] with extra headers; the reply's headers are kept at the start of `head`.
fn http_with(
    addr: &str,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Reply {
    use base64::Engine as _;
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return Reply { status: 0, body: "connection refused".into(), head: String::new() };
    };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some((user, secret)) = auth {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
        head.push_str(&format!("Authorization: Basic {basic}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let bytes = body.map_or(&[][..], |(_, b)| b);
    if let Some((content_type, _)) = body {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", bytes.len()));
    // A server may answer (413) and stop reading before the body is sent; read the answer anyway.
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(bytes));
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    Reply { status, body, head: head.to_owned() }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn json_body(value: &Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", serde_json::to_vec(value).expect("json")))
}

/// A home with two spaces, an admin with a token and a read-only user with a token.
struct Team {
    env: Env,
    token: String,
    reader_token: String,
}

fn team() -> Team {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    env.ok(&["space", "create", "OPS", "--name", "Operations"]);
    env.ok(&["user", "add", "ada@example.com", "--name", "Ada Lovelace", "--admin"]);
    env.ok(&["user", "add", "rita@example.com", "--name", "Rita Reader", "--read-only"]);
    let token = env.ok(&["token", "create", "ada@example.com"]).trim().to_owned();
    let reader_token = env.ok(&["token", "create", "rita@example.com"]).trim().to_owned();
    assert!(token.starts_with("cdo_"), "{token}");
    Team { env, token, reader_token }
}

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients")
}

fn python_path() -> PathBuf {
    std::env::var_os("CONFLUENCE_DO_PYLIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/confluence-do/pylib"))
}

/// Runs one client script; panics with its output unless it reports success.
fn run_client(program: &str, script: &str, args: &[&str]) -> Value {
    let dir = clients_dir();
    let mut cmd = Command::new(program);
    cmd.current_dir(&dir).arg(script).args(args);
    if program == "python3" {
        let lib = python_path();
        assert!(
            lib.join("atlassian").is_dir(),
            "atlassian-python-api is not installed in {}; run scripts/setup-tests",
            lib.display()
        );
        cmd.env("PYTHONPATH", lib);
    } else {
        assert!(
            dir.join("node_modules/confluence.js").is_dir(),
            "confluence.js is not installed; run scripts/setup-tests"
        );
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    let report: Value = serde_json::from_str(last).unwrap_or(Value::Null);
    assert!(
        out.status.success() && report["ok"] == json!(true),
        "{script} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

/// The acceptance list of the server issue: both clients, both API paths, every operation.
#[test]
fn confluence_clients_work_unchanged() {
    let team = team();
    let server = Server::start(&team.env, "127.0.0.1:0", &[]);
    let url = server.url();
    let py = run_client("python3", "python_client.py", &[&url, "ada@example.com", &team.token, "ENG"]);
    run_client("python3", "python_client.py", &[&format!("{url}/wiki"), "ada@example.com", &team.token, "OPS"]);
    run_client("node", "node_client.mjs", &[&url, "ada@example.com", &team.token, "ENG"]);
    run_client("node", "node_client.mjs", &[&format!("{url}/server"), "ada@example.com", &team.token, "OPS"]);

    // A page made through the API is a normal commit, authored by the API user.
    let repo = team.env.space_path("ENGPY");
    let log = git(&repo, &["log", "--format=%an <%ae>|%s"]);
    assert!(log.contains("Ada Lovelace <ada@example.com>|Create \"Ledger (python)\""), "{log}");
    assert!(!log.contains("local@example.com"), "every API commit is the API user's: {log}");

    // Edited with the CLI, the page shows up through the API with the next version number.
    let id = py["parent"].as_str().expect("parent id");
    let auth = Some(("ada@example.com", team.token.as_str()));
    let before =
        http(&server.addr, "GET", &format!("/rest/api/content/{id}?expand=version,body.storage"), auth, None).json();
    let number = before["version"]["number"].as_u64().expect("version");
    team.env.update_body(id, "# Ledger\n\nEdited in the terminal.\n");
    let after =
        http(&server.addr, "GET", &format!("/rest/api/content/{id}?expand=version,body.storage"), auth, None).json();
    assert_eq!(after["version"]["number"].as_u64(), Some(number + 1), "{after}");
    assert!(
        after["body"]["storage"]["value"].as_str().is_some_and(|v| v.contains("Edited in the terminal.")),
        "{after}"
    );
}

#[test]
fn auth_is_required_off_loopback_and_permissions_hold() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    // Off loopback, no users: the server refuses to start, and says what to do.
    let out = env.cmd(&["serve", "--bind", "0.0.0.0:0"]).output().expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("user add"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = env.cmd(&["serve", "--bind", "0.0.0.0:0", "--no-auth"]).output().expect("runs");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--no-auth"));

    let team = team();
    let server = Server::start(&team.env, "0.0.0.0:0", &[]);
    let addr = &server.addr;
    let anonymous = http(addr, "GET", "/rest/api/space", None, None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let page = http(addr, "GET", "/rest/api/content?spaceKey=ENG", None, None);
    assert_eq!(page.status, 401);
    assert_eq!(page.json()["statusCode"], json!(401));
    let wrong =
        http(addr, "GET", "/rest/api/space", Some(("ada@example.com", "cdo_wrong-token-xxxxxxxxxxxxxxxx")), None);
    assert_eq!(wrong.status, 401);

    let reader = Some(("rita@example.com", team.reader_token.as_str()));
    assert_eq!(http(addr, "GET", "/rest/api/space/ENG", reader, None).status, 200);
    let new_page = json!({"type": "page", "title": "Nope", "space": {"key": "ENG"},
                          "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}}});
    let (ct, bytes) = json_body(&new_page).expect("body");
    let denied = http(addr, "POST", "/rest/api/content", reader, Some((ct, &bytes)));
    assert_eq!(denied.status, 403, "{}", denied.body);
    let admin = Some(("ada@example.com", team.token.as_str()));
    assert_eq!(http(addr, "POST", "/rest/api/content", admin, Some((ct, &bytes))).status, 200);

    // Tokens never reach the logs.
    drop(server);
    let log = std::fs::read_to_string(team.env.home.join("server.sqlite")).unwrap_or_default();
    assert!(!log.contains(&team.token));
}

#[test]
fn unknown_macros_survive_the_api_and_are_reported() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let server = Server::start(&env, "127.0.0.1:0", &[]);
    let gliffy = "<ac:structured-macro ac:name=\"gliffy\" ac:schema-version=\"1\"><ac:parameter ac:name=\"name\">Flow</ac:parameter></ac:structured-macro>";
    let (ct, bytes) = json_body(&json!({"type": "page", "title": "Diagrams", "space": {"key": "ENG"},
        "body": {"storage": {"value": format!("<p>Before</p>{gliffy}<p>After</p>"), "representation": "storage"}}}))
    .expect("body");
    let created = http(&server.addr, "POST", "/rest/api/content", None, Some((ct, &bytes))).json();
    assert_eq!(created["extensions"]["keptVerbatim"], json!(["macro:gliffy"]), "{created}");
    let id = created["id"].as_str().expect("id");
    let read = http(&server.addr, "GET", &format!("/rest/api/content/{id}?expand=body.storage"), None, None).json();
    assert_eq!(read["body"]["storage"]["value"], json!(format!("<p>Before</p>{gliffy}<p>After</p>")), "{read}");
    let markdown = std::fs::read_to_string(env.space_path("ENG").join("diagrams.md")).expect("the page file");
    assert!(markdown.contains("```confluence\n<ac:structured-macro ac:name=\"gliffy\""), "{markdown}");
}

#[test]
fn bad_requests_get_clear_errors() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let id = env.create("ENG", "Home", "# Home\n", &[]);
    let server = Server::start(&env, "127.0.0.1:0", &[]);
    let addr = &server.addr;
    // (method, path, body, status, what the message says)
    type Case<'a> = (&'a str, String, Option<(&'a str, Vec<u8>)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("POST", "/rest/api/content".into(), Some(("application/json", b"{not json".to_vec())), 400, "malformed JSON"),
        (
            "POST",
            "/rest/api/content".into(),
            json_body(&json!({"type": "page", "title": "X", "space": {"key": "ENG"},
                              "body": {"storage": {"value": "<p>open <b>bold</p>", "representation": "storage"}}})),
            400,
            "not well-formed XHTML",
        ),
        ("GET", "/rest/api/search?cql=title%20~%20(".into(), None, 400, "CQL"),
        ("GET", "/rest/api/content/123456789".into(), None, 404, "no content"),
        ("GET", "/rest/api/content/att99".into(), None, 404, "no content"),
        ("GET", "/rest/api/nothing-here".into(), None, 404, ""),
        ("DELETE", "/rest/api/space".into(), None, 405, ""),
        (
            "PUT",
            format!("/rest/api/content/{id}"),
            json_body(&json!({"type": "page", "title": "Home", "body": {"storage": {"value": "<p>x</p>"}}})),
            400,
            "version.number",
        ),
        (
            "PUT",
            format!("/rest/api/content/{id}"),
            json_body(&json!({"type": "page", "title": "Home", "version": {"number": 7},
                              "body": {"storage": {"value": "<p>x</p>"}}})),
            409,
            "Current version is: 1",
        ),
        (
            "POST",
            format!("/api/v1/pages/{id}/attachments"),
            Some(("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../etc/passwd\"\r\n\r\nx\r\n--x--\r\n".to_vec())),
            400,
            "attachment name",
        ),
    ];
    for (method, path, body, status, says) in cases {
        let reply = http(addr, method, &path, None, body.as_ref().map(|(c, b)| (*c, b.as_slice())));
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        let json = reply.json();
        assert_eq!(json["statusCode"], json!(status), "{method} {path}: {json}");
        assert!(json["message"].as_str().is_some_and(|m| m.contains(says)), "{method} {path}: {json}");
    }
    let big = vec![b' '; 5 * 1024 * 1024 + 1];
    let reply = http(addr, "POST", "/rest/api/content", None, Some(("application/json", &big)));
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.json()["statusCode"], json!(413));
    // The server still answers after all of that.
    assert_eq!(http(addr, "GET", &format!("/rest/api/content/{id}"), None, None).status, 200);
}

/// A page's links come with the ids of the pages they reach, so the UI follows them by id:
/// relative links (with anchors, from a sub-folder) and `[[Title]]` links; others are left out.
#[test]
fn ui_page_carries_the_pages_its_links_reach() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let server = Server::start(&env, "127.0.0.1:0", &[]);
    let addr = &server.addr;
    let create = |body: serde_json::Value| {
        let (ct, bytes) = json_body(&body).expect("body");
        let reply = http(addr, "POST", "/api/v1/spaces/ENG/pages", None, Some((ct, &bytes)));
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()
    };
    let ops = create(json!({"title": "Operations", "body": "Ops."}));
    let guide = create(json!({"title": "Deployment Guide", "body": "## Secrets\n", "parent": ops["id"]}));
    let home = create(json!({"title": "Home", "body":
        "See [the guide](operations/deployment-guide.md#secrets), [[Operations]], [[Nowhere]] and [web](https://example.com)."}));
    let links = &home["links"];
    assert_eq!(links["operations/deployment-guide.md#secrets"], guide["id"], "{home}");
    assert_eq!(links["Operations"], ops["id"], "{home}");
    assert!(links.get("Nowhere").is_none() && links.get("https://example.com").is_none(), "{home}");
    let back = create(json!({"title": "Back", "parent": guide["id"], "body": "Up: [guide](../deployment-guide.md)."}));
    assert_eq!(back["links"]["../deployment-guide.md"], guide["id"], "{back}");
}

/// The UI's API refuses a stale save with 409 and the current version, never overwriting it.
#[test]
fn ui_api_saves_against_the_version_they_started_from() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let server = Server::start(&env, "127.0.0.1:0", &[]);
    let addr = &server.addr;
    let (ct, bytes) =
        json_body(&json!({"title": "Runbook", "body": "# Runbook\n\nStep one.\n", "labels": ["ops"]})).expect("body");
    let created = http(addr, "POST", "/api/v1/spaces/ENG/pages", None, Some((ct, &bytes)));
    assert_eq!(created.status, 201, "{}", created.body);
    let page = created.json();
    let id = page["id"].as_str().expect("id").to_owned();
    assert_eq!(page["version"], json!(1));
    assert!(page["html"].as_str().is_some_and(|h| h.contains("<h1")), "{page}");

    let save = |body: &str, base: u32| {
        let (ct, bytes) = json_body(&json!({"body": body, "baseVersion": base})).expect("body");
        http(addr, "PUT", &format!("/api/v1/pages/{id}"), None, Some((ct, &bytes)))
    };
    assert_eq!(save("# Runbook\n\nStep one, edited by Ann.\n", 1).status, 200);
    let stale = save("# Runbook\n\nStep one, edited by Bob.\n", 1);
    assert_eq!(stale.status, 409, "{}", stale.body);
    let stale = stale.json();
    assert_eq!(stale["data"]["currentVersion"], json!(2));
    assert!(stale["data"]["current"]["markdown"].as_str().is_some_and(|m| m.contains("Ann")), "{stale}");
    let now = http(addr, "GET", &format!("/api/v1/pages/{id}"), None, None).json();
    assert!(now["markdown"].as_str().is_some_and(|m| m.contains("Ann") && !m.contains("Bob")), "{now}");

    let tree = http(addr, "GET", "/api/v1/spaces/ENG/tree", None, None).json();
    assert_eq!(tree["tree"][0]["title"], json!("Runbook"));
    let history = http(addr, "GET", &format!("/api/v1/pages/{id}/history"), None, None).json();
    assert_eq!(history["versions"].as_array().map(Vec::len), Some(2));
    let diff = http(addr, "GET", &format!("/api/v1/pages/{id}/diff?from=1&to=2"), None, None).json();
    assert!(diff["unified"].as_str().is_some_and(|d| d.contains("+Step one, edited by Ann.")), "{diff}");
    let found = http(addr, "GET", "/api/v1/search?q=edited%20Ann", None, None).json();
    assert_eq!(found["results"][0]["id"], json!(id), "{found}");
}

/// Random and mangled requests over every route: the server answers each one (never a 5xx,
/// never a dropped connection) and keeps serving. `CDO_API_FUZZ_REQUESTS` runs longer.
#[test]
fn no_request_makes_the_server_fail() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let parent = env.create("ENG", "Parent", "# Parent\n\nSee [[Child]].\n", &[]);
    let child = env.create("ENG", "Child", "# Child\n", &["--parent", &parent]);
    let server = Server::start(&env, "127.0.0.1:0", &[]);
    let addr = &server.addr;
    let upload = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--b--\r\n";
    let reply = http(
        addr,
        "POST",
        &format!("/rest/api/content/{parent}/child/attachment"),
        None,
        Some(("multipart/form-data; boundary=b", upload)),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let att = reply.json()["results"][0]["id"].as_str().expect("attachment id").to_owned();

    let seed: u64 = std::env::var("CDO_API_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    let n: usize = std::env::var("CDO_API_FUZZ_REQUESTS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let mut rng = fastrand::Rng::with_seed(seed);
    // Ids of things that exist (grown as the run creates pages), and ids that never will.
    let mut live = vec![parent.clone(), child.clone(), att.clone()];
    let junk_ids =
        ["0", "99999999999999999999999", "att", "att18446744073709551615", "..%2F..%2Fetc", "%E2%9C%93", "-1", "1e9"];
    let words = [
        "",
        "page",
        "comment",
        "attachment",
        "blogpost",
        "x",
        "%00",
        "append",
        "before",
        "after",
        "ENG",
        "eng",
        "NOPE",
        "ü",
        "a%20b",
        "%FF",
        "..",
        "title~x",
        "label=x",
    ];
    let cqls = [
        "title ~ \"Parent\"",
        "space = ENG AND text ~ x",
        "(",
        "title ~",
        "type IN (page, comment)",
        "lastmodified > now(\"-99999999999y\")",
        "ancestor = 1 ORDER BY title DESC",
        "id = att1",
        "\"",
        "NOT",
        "created >= \"2024-13-45\"",
        "label NOT IN (a, b) OR creator = x@y",
    ];
    let bodies = [
        json!({"type": "page", "title": "Fuzz", "space": {"key": "ENG"}, "body": {"storage": {"value": "<p>x</p>"}}}),
        json!({"type": "page", "title": "", "space": {"key": "NOPE"}}),
        json!({"type": "comment", "container": {"id": parent}, "body": {"storage": {"value": "<p>c</p>"}}}),
        json!({"type": "page", "title": "Fuzz", "version": {"number": 2}, "body": {"storage": {"value": "<ac:structured-macro ac:name=\"x\">"}}}),
        json!({"type": 7, "title": ["a"], "ancestors": [{"id": {"x": 1}}], "body": {"storage": {"value": 5}}}),
        json!([{"prefix": "global", "name": "l1"}, {"name": ""}, {"name": "a b c"}]),
        json!({"name": "x".repeat(300)}),
        json!({"key": "Z", "name": "Z"}),
        json!({"title": "T", "body": "# x", "baseVersion": 1, "parent": "1"}),
        json!({"parent": null, "position": 99999}),
        json!({"email": "a@b", "password": "x"}),
        json!({"version": 1}),
    ];
    // (methods the route takes, path)
    let routes: [(&[&str], &str); 31] = [
        (&["GET", "PUT", "DELETE"], "/rest/api/content/{id}"),
        (&["GET"], "/rest/api/content/{id}?expand={w},body.storage,version&version={n}"),
        (&["GET"], "/rest/api/content/{id}/child/{w}"),
        (&["GET"], "/rest/api/content/{id}/child"),
        (&["GET"], "/rest/api/content/{id}/history"),
        (&["GET", "POST", "DELETE"], "/rest/api/content/{id}/label"),
        (&["DELETE"], "/rest/api/content/{id}/label/{w}"),
        (&["PUT"], "/rest/api/content/{id}/move/{w}/{id2}"),
        (&["POST"], "/rest/api/content/{id}/child/attachment/{id2}/data"),
        (&["GET", "POST", "PUT"], "/rest/api/content/{id}/child/attachment"),
        (&["GET"], "/rest/api/content/{id}/child/attachment/{id2}/download"),
        (&["GET"], "/rest/api/content?spaceKey={w}&title={w}&start={n}&limit={n}&expand={w}"),
        (&["POST"], "/rest/api/content"),
        (&["GET", "POST"], "/rest/api/space"),
        (&["GET"], "/rest/api/space/{w}"),
        (&["GET"], "/rest/api/space/{w}/content"),
        (&["GET"], "/rest/api/search?cql={cql}&limit={n}"),
        (&["GET"], "/rest/api/content/search?cql={cql}&start={n}&expand={w}"),
        (&["GET"], "/wiki/rest/api/content/{id}?expand=ancestors,children.page,metadata.labels,history"),
        (&["GET", "PUT", "DELETE"], "/api/v1/pages/{id}"),
        (&["GET"], "/api/v1/pages/{id}/diff?from={n}&to={n}"),
        (&["GET"], "/api/v1/pages/{id}/history"),
        (&["POST"], "/api/v1/pages/{id}/move"),
        (&["POST"], "/api/v1/pages/{id}/restore"),
        (&["GET", "POST"], "/api/v1/pages/{id}/attachments"),
        (&["GET", "DELETE"], "/api/v1/pages/{id}/attachments/{w}"),
        (&["POST"], "/api/v1/spaces/{w}/pages"),
        (&["GET"], "/api/v1/spaces/{w}/tree"),
        (&["GET"], "/api/v1/search?q={w}&mode={w}&limit={n}&space={w}"),
        (&["GET"], "/api/v1/pages/{id}/related"),
        (&["POST", "GET"], "/api/v1/login"),
    ];
    let other_methods = ["GET", "POST", "PUT", "DELETE", "PATCH"];
    let mut failures = Vec::new();
    for i in 0..n {
        let pick = |rng: &mut fastrand::Rng, list: &[&str]| list[rng.usize(..list.len())].to_owned();
        let (allowed, route) = routes[rng.usize(..routes.len())];
        let mut path = if rng.u8(..20) == 0 { format!("/{}", pick(&mut rng, &words)) } else { route.to_owned() };
        for hole in ["{id}", "{id2}"] {
            while path.contains(hole) {
                let id = if rng.u8(..10) < 8 {
                    live[rng.usize(..live.len())].clone()
                } else {
                    junk_ids[rng.usize(..junk_ids.len())].to_owned()
                };
                path = path.replacen(hole, &id, 1);
            }
        }
        while path.contains("{w}") {
            let w = pick(&mut rng, &words);
            path = path.replacen("{w}", &w, 1);
        }
        while path.contains("{n}") {
            let n = ["0", "1", "2", "-5", "abc", "99999999999999999999", "25"][rng.usize(..7)];
            path = path.replacen("{n}", n, 1);
        }
        while path.contains("{cql}") {
            let cql: String = pick(&mut rng, &cqls).bytes().map(|b| format!("%{b:02X}")).collect();
            path = path.replacen("{cql}", &cql, 1);
        }
        let method = if rng.u8(..10) == 0 { pick(&mut rng, &other_methods) } else { pick(&mut rng, allowed) };
        let body: Option<(&str, Vec<u8>)> = match rng.u8(..4) {
            0 => None,
            1 => Some(("application/json", serde_json::to_vec(&bodies[rng.usize(..bodies.len())]).expect("json"))),
            2 => Some(("multipart/form-data; boundary=b", upload.to_vec())),
            _ => {
                let mut junk = serde_json::to_vec(&bodies[rng.usize(..bodies.len())]).expect("json");
                for _ in 0..rng.usize(1..6) {
                    let at = rng.usize(..junk.len().max(1));
                    if at < junk.len() {
                        junk[at] = rng.u8(..);
                    }
                }
                Some(("application/json", junk))
            }
        };
        let reply = http(addr, &method, &path, None, body.as_ref().map(|(c, b)| (*c, b.as_slice())));
        if reply.status < 300
            && let Some(id) =
                serde_json::from_str::<Value>(&reply.body).ok().and_then(|v| v["id"].as_str().map(str::to_owned))
        {
            live.push(id);
        }
        if i % 40 == 0 {
            // Keep something to work on: deletes and moves eat pages.
            let (ct, bytes) = json_body(&json!({"title": format!("Fuzz page {i}"), "body": "# Fuzz\n"})).expect("body");
            if let Some(id) =
                http(addr, "POST", "/api/v1/spaces/ENG/pages", None, Some((ct, &bytes))).json()["id"].as_str()
            {
                live.push(id.to_owned());
            }
        }
        if reply.status == 0 || reply.status >= 500 {
            failures.push(format!("#{i} {method} {path} -> {} {}", reply.status, reply.body));
        }
    }
    assert!(failures.is_empty(), "{} of {n} requests failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(http(addr, "GET", "/rest/api/space", None, None).status, 200, "still serving");
}

/// SIGTERM while writes are in flight: every write that was answered is committed, nothing
/// else is, the repository is clean, and the server exits cleanly.
#[test]
fn shutdown_finishes_what_it_started() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let mut server = Server::start(&env, "127.0.0.1:0", &[]);
    let addr = server.addr.clone();
    let answered = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (addr, answered) = (addr.clone(), answered.clone());
            std::thread::spawn(move || {
                let mut created = 0;
                for i in 0..200 {
                    let (ct, bytes) =
                        json_body(&json!({"title": format!("Page {w}-{i}"), "body": "# Hello\n"})).expect("body");
                    let reply = http(&addr, "POST", "/api/v1/spaces/ENG/pages", None, Some((ct, &bytes)));
                    match reply.status {
                        201 => {
                            created += 1;
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                        0 => break, // the server stopped accepting
                        other => panic!("unexpected {other}: {}", reply.body),
                    }
                }
                created
            })
        })
        .collect();
    while answered.load(Ordering::SeqCst) < 30 {
        std::thread::yield_now();
    }
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
    let created: usize = writers.into_iter().map(|t| t.join().expect("writer")).sum();
    let status = server.child.wait().expect("the server exits");
    assert!(status.success(), "a clean exit after SIGTERM: {status}");
    let repo = env.space_path("ENG");
    let commits = git(&repo, &["log", "--format=%s"]).lines().filter(|l| l.starts_with("Create \"Page")).count();
    assert_eq!(commits, created, "every answered write is committed, and nothing else");
    assert!(created < 6 * 200, "the signal came while writes were still coming");
    crate::support::assert_repo_clean(&repo);
    crate::support::assert_fsck(&repo);
}

/// The web UI signs in with a password and then uses its session cookie; anonymous reading is
/// opt-in and read-only.
#[test]
fn sessions_and_anonymous_reading() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let mut add = env.cmd(&["user", "add", "ada@example.com", "--name", "Ada", "--password-stdin"]);
    add.stdin(Stdio::piped()).stdout(Stdio::null());
    let mut child = add.spawn().expect("runs");
    child.stdin.take().expect("stdin").write_all(b"correct horse battery\n").expect("writes");
    assert!(child.wait().expect("waits").success());
    let server = Server::start(&env, "0.0.0.0:0", &["--anonymous-read"]);
    let addr = &server.addr;

    let (ct, bytes) = json_body(&json!({"email": "ada@example.com", "password": "wrong password"})).expect("body");
    assert_eq!(http(addr, "POST", "/api/v1/login", None, Some((ct, &bytes))).status, 401);
    let (ct, bytes) =
        json_body(&json!({"email": "ada@example.com", "password": "correct horse battery"})).expect("body");
    let login = http(addr, "POST", "/api/v1/login", None, Some((ct, &bytes)));
    assert_eq!(login.status, 200, "{}", login.body);
    let cookie_line = login.head.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).expect("a cookie");
    assert!(cookie_line.contains("HttpOnly") && cookie_line.contains("SameSite=Strict"), "{cookie_line}");
    let cookie = cookie_line.split_once(':').expect("header").1.trim().split(';').next().expect("value").to_owned();
    let me = http_with(addr, "GET", "/api/v1/me", None, &[("Cookie", &cookie)], None).json();
    assert_eq!((me["signedIn"].clone(), me["email"].clone()), (json!(true), json!("ada@example.com")));
    let (ct, bytes) = json_body(&json!({"title": "From the browser"})).expect("body");
    let created = http_with(addr, "POST", "/api/v1/spaces/ENG/pages", None, &[("Cookie", &cookie)], Some((ct, &bytes)));
    assert_eq!(created.status, 201, "{}", created.body);
    let log = git(&env.space_path("ENG"), &["log", "-1", "--format=%an <%ae>"]);
    assert_eq!(log.trim(), "Ada <ada@example.com>");

    // Anyone may read; nobody anonymous may write.
    assert_eq!(http(addr, "GET", "/api/v1/spaces/ENG/tree", None, None).status, 200);
    let (ct, bytes) = json_body(&json!({"title": "Anonymous"})).expect("body");
    assert_eq!(http(addr, "POST", "/api/v1/spaces/ENG/pages", None, Some((ct, &bytes))).status, 401);
    let out = http_with(addr, "POST", "/api/v1/logout", None, &[("Cookie", &cookie)], None);
    assert_eq!(out.status, 204);
    let me = http_with(addr, "GET", "/api/v1/me", None, &[("Cookie", &cookie)], None).json();
    assert_eq!(me["signedIn"], json!(false), "a session ends at logout");
}

/// CQL search pages with `start`/`limit` and `totalSize`, and never shows what the caller may
/// not read (nor counts it).
#[test]
fn search_pages_and_respects_permissions() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    env.ok(&["space", "create", "OPS", "--name", "Operations"]);
    for i in 0..5 {
        env.create("ENG", &format!("Deploy step {i}"), "# Deploy\n\nHow to deploy.\n", &[]);
    }
    env.create("OPS", "Deploy secrets", "# Deploy\n\nThe deploy keys.\n", &[]);
    env.ok(&["user", "add", "eve@example.com", "--name", "Eve", "--read-only"]);
    env.ok(&["user", "grant", "eve@example.com", "*", "none"]);
    env.ok(&["user", "grant", "eve@example.com", "ENG", "read"]);
    let token = env.ok(&["token", "create", "eve@example.com"]).trim().to_owned();
    let server = Server::start(&env, "127.0.0.1:0", &[]);
    let eve = Some(("eve@example.com", token.as_str()));
    let page = |start: usize| {
        let path = format!("/rest/api/search?cql=title%20~%20deploy%20ORDER%20BY%20title&start={start}&limit=2");
        http(&server.addr, "GET", &path, eve, None).json()
    };
    let first = page(0);
    assert_eq!(first["totalSize"], json!(5), "OPS is neither shown nor counted: {first}");
    assert_eq!(first["size"], json!(2));
    let next = first["_links"]["next"].as_str().expect("a next link");
    assert!(next.ends_with("start=2&limit=2") && next.matches("limit=").count() == 1, "{next}");
    let followed = http(&server.addr, "GET", next, eve, None).json();
    assert_eq!(followed["start"], json!(2), "the next link works: {followed}");
    let titles = |v: &Value| -> Vec<String> {
        v["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["title"].as_str().expect("title").to_owned())
            .collect()
    };
    assert_eq!(titles(&first), ["Deploy step 0", "Deploy step 1"]);
    assert_eq!(titles(&page(2)), ["Deploy step 2", "Deploy step 3"]);
    let last = page(4);
    assert_eq!(titles(&last), ["Deploy step 4"]);
    assert!(last["_links"]["next"].is_null(), "{last}");
    let ops = http(&server.addr, "GET", "/rest/api/space/OPS", eve, None);
    assert_eq!(ops.status, 403, "{}", ops.body);
}

/// `PUT /content/{id}/move/{append|before|after}/{target}` moves pages as Confluence does.
#[test]
fn pages_move_like_confluence() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let a = env.create("ENG", "Alpha", "# Alpha\n", &[]);
    let b = env.create("ENG", "Beta", "# Beta\n", &[]);
    let c = env.create("ENG", "Gamma", "# Gamma\n", &[]);
    let server = Server::start(&env, "127.0.0.1:0", &[]);
    let order = || -> Vec<String> {
        let tree = http(&server.addr, "GET", "/api/v1/spaces/ENG/tree", None, None).json();
        let mut out = Vec::new();
        fn walk(nodes: &Value, depth: usize, out: &mut Vec<String>) {
            for n in nodes.as_array().into_iter().flatten() {
                out.push(format!("{}{}", "  ".repeat(depth), n["title"].as_str().unwrap_or("?")));
                walk(&n["children"], depth + 1, out);
            }
        }
        walk(&tree["tree"], 0, &mut out);
        out
    };
    let mv = |page: &str, position: &str, target: &str| {
        let reply =
            http(&server.addr, "PUT", &format!("/rest/api/content/{page}/move/{position}/{target}"), None, None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["pageId"], json!(page));
    };
    mv(&c, "before", &a);
    assert_eq!(order(), ["Gamma", "Alpha", "Beta"]);
    mv(&a, "append", &b);
    assert_eq!(order(), ["Gamma", "Beta", "  Alpha"]);
    mv(&c, "after", &a);
    assert_eq!(order(), ["Beta", "  Alpha", "  Gamma"]);
    let bad = http(&server.addr, "PUT", &format!("/rest/api/content/{a}/move/sideways/{b}"), None, None);
    assert_eq!(bad.status, 400, "{}", bad.body);
    let log = git(&env.space_path("ENG"), &["log", "--format=%s", "-3"]);
    assert_eq!(log.lines().count(), 3, "each move is one commit: {log}");
}

/// The built web UI is served at `/`, with its routes falling back to `index.html`; the APIs
/// keep their JSON 404s.
#[test]
fn serves_the_web_ui() {
    let env = Env::new();
    let ui = env.dir.path().join("dist");
    std::fs::create_dir_all(ui.join("assets")).expect("mkdir");
    std::fs::write(ui.join("index.html"), "<!doctype html><title>confluence.do</title>").expect("write");
    std::fs::write(ui.join("assets/app.js"), "console.log(1)").expect("write");
    let server = Server::start(&env, "127.0.0.1:0", &["--ui", ui.to_str().expect("utf-8")]);
    let index = http(&server.addr, "GET", "/", None, None);
    assert!(index.status == 200 && index.body.contains("<title>confluence.do</title>"), "{}", index.body);
    let js = http(&server.addr, "GET", "/assets/app.js", None, None);
    assert_eq!((js.status, js.body.as_str()), (200, "console.log(1)"));
    let route = http(&server.addr, "GET", "/spaces/ENG/pages/123", None, None);
    assert!(route.status == 200 && route.body.contains("<title>"), "{}", route.body);
    let api = http(&server.addr, "GET", "/api/v1/nothing", None, None);
    assert_eq!(api.status, 404);
    assert_eq!(api.json()["statusCode"], json!(404));
}

/// Every `expand` the issue lists comes back in Confluence's shape.
#[test]
fn expansions_have_confluence_shapes() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let parent = env.create(
        "ENG",
        "Guide",
        "# Guide\n\n{% panel title=\"Steps\" %}\n\nDo it.\n\n{% /panel %}\n",
        &["--label", "howto"],
    );
    let child = env.create("ENG", "Step one", "# One\n", &["--parent", &parent]);
    let server = Server::start(&env, "127.0.0.1:0", &[]);
    let expand = "body.storage,body.view,version,ancestors,space,history,children.page,metadata.labels";
    let page =
        http(&server.addr, "GET", &format!("/wiki/rest/api/content/{parent}?expand={expand}"), None, None).json();
    assert_eq!(page["id"], json!(parent));
    assert_eq!(page["type"], json!("page"));
    assert_eq!(page["version"]["number"], json!(1));
    assert_eq!(page["version"]["by"]["email"], json!("alice@example.com"), "{page}");
    assert_eq!(page["space"]["key"], json!("ENG"));
    assert_eq!(page["ancestors"], json!([]));
    assert_eq!(page["history"]["createdBy"]["displayName"], json!("Alice Liddell"));
    assert_eq!(page["children"]["page"]["results"][0]["id"], json!(child));
    assert_eq!(page["metadata"]["labels"]["results"][0]["name"], json!("howto"));
    let storage = page["body"]["storage"]["value"].as_str().expect("storage");
    assert!(
        storage.contains("<ac:structured-macro ac:name=\"panel\"")
            && storage.contains("<ac:parameter ac:name=\"title\">Steps</ac:parameter>"),
        "{storage}"
    );
    let view = page["body"]["view"]["value"].as_str().expect("view");
    assert!(view.contains("markdown-alert-panel") && view.contains("Do it."), "{view}");
    for link in ["self", "webui", "base"] {
        assert!(page["_links"][link].is_string(), "_links.{link}: {page}");
    }
    assert!(page["_links"]["self"].as_str().is_some_and(|s| s.ends_with(&format!("/wiki/rest/api/content/{parent}"))));
    let kid = http(&server.addr, "GET", &format!("/rest/api/content/{child}?expand=ancestors"), None, None).json();
    assert_eq!(kid["ancestors"][0]["id"], json!(parent));
    assert!(kid["body"].is_null() && kid["_expandable"]["body"].is_string(), "unasked parts stay out: {kid}");
}

/// The server embeds new passages in the background (the real model), so a question finds the
/// page by meaning without anyone running `index`; searches never wait for it.
#[test]
fn meaning_catches_up_in_the_background() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    // No word in common with the question below.
    env.create("ENG", "Signing in", "# Signing in\n\nWhen someone signs in, the login service checks their password and issues a short-lived JWT with a refresh token; refresh rotation replaces the refresh token on every use.\n", &[]);
    env.create("ENG", "Lunch", "# Lunch\n\nThe canteen serves soup on Mondays and pasta on Fridays.\n", &[]);
    let server = Server::start(&env, "127.0.0.1:0", &[]);
    // A keyword search answers at once, whatever the embedder is doing.
    let first = http(&server.addr, "GET", "/api/v1/search?q=canteen&mode=keyword", None, None).json();
    assert_eq!(first["results"][0]["title"], json!("Lunch"));
    let status = embedded(&server);
    assert!(status["embedded"].as_u64() >= Some(2), "{status}");
    let found = http(
        &server.addr,
        "GET",
        "/api/v1/search?q=how%20do%20we%20handle%20authentication%3F&mode=hybrid",
        None,
        None,
    )
    .json();
    assert_eq!(found["semantic"], json!({"used": true, "pending": 0, "total": status["total"]}), "{found}");
    assert_eq!(found["results"][0]["title"], json!("Signing in"), "{found}");
    let words = http(
        &server.addr,
        "GET",
        "/api/v1/search?q=how%20do%20we%20handle%20authentication%3F&mode=keyword",
        None,
        None,
    )
    .json();
    assert_eq!(words["results"], json!([]), "words alone find nothing: {words}");
}

/// The server's embedding helpers: its child processes started with `--embed-helper`.
fn embed_helpers(server: &Server) -> Vec<u32> {
    let parent = server.child.id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("procfs").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        // The parent's id is the second field after the command name in parentheses.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if ppid == Some(parent) && cmdline.split(|b| *b == 0).any(|arg| arg == b"--embed-helper") {
            found.push(pid);
        }
    }
    found
}

/// Polls what the server reports (or its processes) until `done` says so, for at most `secs`.
fn until<T>(secs: u64, what: &str, mut done: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(value) = done() {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "{what} did not happen in {secs} s");
        std::thread::sleep(std::time::Duration::from_millis(100)); // polling, not waiting for a guess
    }
}

/// The embedder's status once every passage has a vector (the model installed, no error).
fn embedded(server: &Server) -> Value {
    until(180, "embedding", || {
        let status = http(&server.addr, "GET", "/api/v1/search/status", None, None).json();
        assert!(status["error"].is_null(), "{status}");
        let done = status["available"] == json!(true)
            && status["running"] == json!(false)
            && status["pending"] == json!(0)
            && status["total"].as_u64() > Some(0);
        done.then_some(status)
    })
}

/// The model runs in a process of its own that goes when idle: the server never loads ONNX
/// Runtime, an idle server holds no model, a killed helper costs no search, and meaning still
/// works afterwards.
#[test]
fn the_model_runs_in_a_helper_that_goes_when_idle() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    env.create("ENG", "Signing in", "# Signing in\n\nWhen someone signs in, the login service checks their password and issues a short-lived JWT with a refresh token.\n", &[]);
    env.create("ENG", "Lunch", "# Lunch\n\nThe canteen serves soup on Mondays and pasta on Fridays.\n", &[]);
    let server = Server::start_with(&env, "127.0.0.1:0", &[], &[("CONFLUENCE_DO_MODEL_IDLE", "3")]);
    let total = embedded(&server)["total"].clone();
    let ask = || {
        http(&server.addr, "GET", "/api/v1/search?q=how%20do%20we%20handle%20authentication%3F&mode=hybrid", None, None)
            .json()
    };
    let found = ask();
    assert_eq!(found["semantic"], json!({"used": true, "pending": 0, "total": total}), "{found}");
    assert_eq!(found["results"][0]["title"], json!("Signing in"), "{found}");
    // The search's model is a helper; killed, the next search starts another and still answers.
    let helpers = embed_helpers(&server);
    assert!(!helpers.is_empty(), "no embedding helper runs after a search by meaning");
    for pid in &helpers {
        assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill").success());
    }
    let again = ask();
    assert_eq!(again["results"][0]["title"], json!("Signing in"), "after the helper was killed: {again}");
    // Idle, every helper exits (3 s here, a minute by default).
    until(60, "the helpers going when idle", || embed_helpers(&server).is_empty().then_some(()));
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", server.child.id())).expect("the server's maps");
    assert!(!maps.contains("onnxruntime"), "the server process loaded ONNX Runtime itself");
    // A page the CLI adds while the server runs is indexed (the watcher marks the space for
    // search), embedded by a new helper, and found by meaning.
    env.create(
        "ENG",
        "Paging",
        "# Paging\n\nThe on-call engineer carries the pager for a week and answers alerts within five minutes.\n",
        &[],
    );
    let who = "/api/v1/search?q=how%20fast%20must%20we%20respond%20to%20incidents%3F&mode=semantic";
    let paged = until(120, "the new page embedded", || {
        let r = http(&server.addr, "GET", who, None, None).json();
        (r["results"][0]["title"] == json!("Paging")).then_some(r)
    });
    let status = http(&server.addr, "GET", "/api/v1/search/status", None, None).json();
    assert!(status["error"].is_null(), "{status} {paged}");
}

/// `GET /content` pages through every readable space: each page exactly once, in order.
#[test]
fn content_lists_page_across_spaces() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    env.ok(&["space", "create", "OPS", "--name", "Operations"]);
    let mut all = Vec::new();
    for (key, n) in [("ENG", 3), ("OPS", 4)] {
        for i in 0..n {
            all.push(env.create(key, &format!("{key} page {i}"), "# x\n", &[]));
        }
    }
    let server = Server::start(&env, "127.0.0.1:0", &[]);
    let mut seen = Vec::new();
    let mut path = "/rest/api/content?limit=2".to_owned();
    loop {
        let page = http(&server.addr, "GET", &path, None, None).json();
        seen.extend(
            page["results"].as_array().expect("results").iter().map(|r| r["id"].as_str().expect("id").to_owned()),
        );
        match page["_links"]["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no page twice: {seen:?}");
    all.sort();
    assert_eq!(sorted, all, "every page once");
}
