//! Spaces from elsewhere: folders of pages written by other tools, the demo, unregistering.

use crate::support::{Env, assert_repo_clean, git, shape};

#[test]
fn a_plain_folder_of_markdown_becomes_a_space_without_rewriting_files() {
    let env = Env::new();
    let vault = env.dir.path().join("vault");
    std::fs::create_dir_all(vault.join("Projects")).expect("mkdir");
    let note = "---\naliases: [home]\ncustom:   { keep: 'me' }\n---\n# My Notes\nSee [[Roadmap]].\n";
    std::fs::write(vault.join("My Notes.md"), note).expect("write");
    std::fs::write(vault.join("Projects/Roadmap.md"), "No frontmatter here.\n").expect("write");
    let added = env.json(&["space", "add", vault.to_str().expect("utf-8"), "--json"]);
    assert_eq!(added["key"], "VAULT");
    assert_eq!(shape(&env.json(&["tree", "VAULT", "--json"])), "My Notes\nProjects\n  Roadmap\n");
    assert_eq!(std::fs::read_to_string(vault.join("My Notes.md")).expect("read"), note, "adding rewrote nothing");
    assert_eq!(git(&vault, &["log", "--format=%s"]), "Add existing pages\n");
    assert!(env.ok(&["links", "broken", "VAULT"]).contains("No broken links"));

    let tree_before = env.json(&["tree", "VAULT", "--json"]);
    env.ok(&["space", "assign-ids", "VAULT"]);
    assert_eq!(env.json(&["tree", "VAULT", "--json"]), tree_before, "ids are the ones the pages already showed");
    let text = std::fs::read_to_string(vault.join("My Notes.md")).expect("read");
    assert!(
        text.starts_with("---\naliases: [home]\ncustom:   { keep: 'me' }\nid: \""),
        "other keys kept byte for byte:\n{text}"
    );
    assert_eq!(git(&vault, &["log", "-1", "--format=%s"]), "Assign page ids to 2 pages\n");
    assert_repo_clean(&vault);
}

#[test]
fn the_demo_space_is_ready_to_use() {
    let env = Env::new();
    let demo = env.json(&["demo", "--json"]);
    assert_eq!(demo["key"], "ENG");
    let tree = shape(&demo["tree"]);
    assert!(tree.starts_with("Engineering Home\nArchitecture\n  Authentication Architecture\n  Decisions\n"), "{tree}");
    assert!(env.ok(&["links", "broken", "ENG"]).contains("No broken links"));
    let html = env.ok(&["page", "show", "ENG:Authentication Architecture", "--format", "html"]);
    assert!(
        html.contains("<pre class=\"mermaid\">") && html.contains("<table>") && html.contains("markdown-alert-warning"),
        "{html}"
    );
    let templates = env.json(&["template", "list", "ENG", "--json"]);
    let names: Vec<&str> = templates.as_array().expect("list").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["adr", "how-to", "incident-runbook", "meeting-notes"]);
    // Running it again reuses the space.
    assert_eq!(env.json(&["demo", "--json"])["path"], demo["path"]);
    assert_repo_clean(&env.space_path("ENG"));
}

#[test]
fn removing_a_space_keeps_its_files() {
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    let root = env.space_path("ENG");
    env.create("ENG", "Keep me", "x\n", &[]);
    env.ok(&["space", "remove", "ENG"]);
    assert!(root.join("keep-me.md").exists());
    assert_eq!(env.json(&["space", "list", "--json"]), serde_json::json!([]));
    env.ok(&["space", "add", root.to_str().expect("utf-8")]);
    assert_eq!(shape(&env.json(&["tree", "ENG", "--json"])), "Keep me\n");
}

#[test]
fn output_closed_early_ends_a_command_quietly() {
    use std::io::{BufRead as _, BufReader};
    let env = Env::new();
    env.ok(&["space", "create", "ENG", "--name", "Engineering"]);
    // Far more than a pipe holds, so the command is still writing when the reader goes.
    let body: String = (0..20_000).map(|i| format!("Line {i} of a long page.\n\n")).collect();
    env.create("ENG", "Long", &body, &[]);
    for args in [&["page", "show", "ENG:Long"][..], &["page", "show", "ENG:Long", "--json"][..]] {
        let mut child = env
            .cmd(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the command starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("a line");
        // The reader is dropped here, as `| head -1` does.
        let out = child.wait_with_output().expect("the command ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!first.is_empty(), "{args:?} printed nothing");
        assert!(out.status.success(), "{args:?} ended with {} when its reader went:\n{stderr}", out.status);
        assert!(!stderr.contains("panicked") && !stderr.contains("error"), "{args:?}:\n{stderr}");
    }
}

/// An HTTPS server on loopback whose certificate is signed by a CA made here; answers 404 to
/// everything (enough to tell a finished TLS handshake from a refused one).
struct Https {
    _process: crate::support::Background,
    port: u16,
    ca: std::path::PathBuf,
}

fn https_server(dir: &std::path::Path) -> Https {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[&["req", "-x509"], &ec[..], &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA"]]
            .concat(),
    );
    openssl(&[&["req"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat());
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("write");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    let script = r#"
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;
    let (process, line) = crate::support::Background::start(
        std::process::Command::new("python3").args(["-c", script, "server.pem", "server.key"]).current_dir(dir),
    );
    let port = line.parse().unwrap_or_else(|_| panic!("a port, not {line:?}"));
    Https { _process: process, port, ca: dir.join("ca.pem") }
}

#[test]
fn https_remotes_are_checked_against_the_certificates_ssl_cert_file_names() {
    // libgit2 starts without the certificate bundle (it costs every command 28 ms) and is given
    // it when a remote is first contacted: the handshake must then trust exactly that bundle.
    let env = Env::new();
    let server = https_server(env.dir.path());
    let url = format!("https://127.0.0.1:{}/team/space.git", server.port);
    let out =
        env.cmd(&["space", "clone", &url, "--key", "TLS"]).env("SSL_CERT_FILE", &server.ca).output().expect("runs");
    let trusted = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(trusted.contains("404"), "the handshake succeeds and the server's answer is reported: {trusted}");
    assert!(!trusted.to_lowercase().contains("certificate"), "{trusted}");
    // Without the test CA the same server is refused for its certificate.
    let out = env.cmd(&["space", "clone", &url, "--key", "TLS"]).env_remove("SSL_CERT_FILE").output().expect("runs");
    let refused = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        refused.to_lowercase().contains("certificate"),
        "an untrusted certificate is named as the reason: {refused}"
    );
    assert!(env.ok(&["space", "list"]).lines().all(|l| !l.contains("TLS")), "a failed clone registers nothing");
}
