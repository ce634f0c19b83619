//! The desktop app's in-process server: a real server on 127.0.0.1 that answers only requests
//! carrying the per-launch secret, the first-run demo space, and the security headers every
//! answer carries.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use cdo_app::{Home, Wiki};
use cdo_core::model::Author;
use cdo_server::auth::Auth;
use cdo_server::state::AppState;
use cdo_server::{Options, spawn};

/// One request; the answer's status line and headers, and its body.
fn get(addr: SocketAddr, method: &str, path: &str, cookie: Option<&str>) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n");
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: {c}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (head.to_owned(), body.to_owned())
}

#[test]
fn only_the_app_with_its_launch_secret_gets_in_and_the_demo_is_one_call_away() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::locate(Some(dir.path())).expect("home");
    let wiki = Wiki::new(home.clone());
    let auth = Auth::open(home.dir()).expect("auth");
    let me = Author { name: "Desk Top".into(), email: "desk@example.com".into() };
    let state = Arc::new(AppState::new(wiki, auth, me, false));
    let secret = "0123456789abcdef0123456789abcdef";
    let options = Options {
        bind: "127.0.0.1:0".parse().expect("addr"),
        auth: false,
        ui_dir: None,
        watch: false,
        launch_secret: Some(secret.into()),
    };
    let server = spawn(state, options).expect("spawn");
    let addr = server.addr;

    // Without the secret, or with a wrong one: refused, with a sentence saying why.
    let (head, body) = get(addr, "GET", "/api/v1/spaces", None);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(body.contains("desktop app"), "{body}");
    let (head, _) = get(addr, "GET", "/api/v1/spaces", Some("cdo_launch=0123456789abcdef0123456789abcdee"));
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let (head, _) = get(addr, "GET", "/?launch=nope", None);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");

    // The app's first navigation carries it: a cookie, and the same page without the secret.
    let (head, _) = get(addr, "GET", &format!("/?launch={secret}"), None);
    assert!(head.starts_with("HTTP/1.1 303"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains(&format!("set-cookie: cdo_launch={secret}; httponly; samesite=strict")), "{head}");
    assert!(lower.contains("\r\nlocation: /\r\n"), "{head}");
    let cookie = format!("cdo_launch={secret}");
    let (head, body) = get(addr, "GET", "/api/v1/spaces", Some(&cookie));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, r#"{"spaces":[]}"#);

    // A first run offers the demo: one call adds it, a second changes nothing.
    for _ in 0..2 {
        let (head, body) = get(addr, "POST", "/api/v1/demo", Some(&cookie));
        assert!(head.starts_with("HTTP/1.1 201"), "{head}{body}");
        assert!(body.contains(r#""key":"ENG""#), "{body}");
    }
    let (_, body) = get(addr, "GET", "/api/v1/spaces", Some(&cookie));
    assert_eq!(body.matches(r#""key""#).count(), 1, "{body}");
    let (head, body) = get(addr, "GET", "/api/v1/pages/1000000000031", Some(&cookie));
    assert!(head.starts_with("HTTP/1.1 200") && body.contains("Deployment Guide"), "{head}{body}");

    // Dropping the handle stops the server.
    drop(server);
    assert!(TcpStream::connect(addr).is_err(), "nothing listens after the app closes");
}

/// The value of header `name` (lower case) in a response head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn every_answer_carries_the_csp_nosniff_and_no_referrer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ui = dir.path().join("ui");
    std::fs::create_dir_all(ui.join("assets")).expect("ui dir");
    std::fs::write(
        ui.join("index.html"),
        "<!doctype html><title>t</title><script type=module src=/assets/a.js></script>",
    )
    .expect("index");
    std::fs::write(ui.join("assets/a.js"), "console.log(1)").expect("asset");
    let home = Home::locate(Some(&dir.path().join("home"))).expect("home");
    let auth = Auth::open(home.dir()).expect("auth");
    let me = Author { name: "Desk Top".into(), email: "desk@example.com".into() };
    let state = Arc::new(AppState::new(Wiki::new(home.clone()), auth, me, false));
    let secret = "0123456789abcdef0123456789abcdef";
    let options = Options {
        bind: "127.0.0.1:0".parse().expect("addr"),
        auth: false,
        ui_dir: Some(ui),
        watch: false,
        launch_secret: Some(secret.into()),
    };
    let server = spawn(state, options).expect("spawn");
    let cookie = format!("cdo_launch={secret}");
    let (head, _) = get(server.addr, "POST", "/api/v1/demo", Some(&cookie));
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");

    // (method, path, with the launch cookie, expected status, content type it starts with)
    let cases = [
        ("GET", "/", true, 200, "text/html"),
        ("GET", "/#/page/1000000000031", true, 200, "text/html"),
        ("GET", "/some/route", true, 200, "text/html"),
        ("GET", "/assets/a.js", true, 200, "text/javascript"),
        ("GET", "/api/v1/spaces", true, 200, "application/json"),
        ("GET", "/api/v1/pages/1000000000031", true, 200, "application/json"),
        ("GET", "/api/v1/nothing-here", true, 404, "application/json"),
        ("GET", "/rest/api/content/1000000000031", true, 200, "application/json"),
        ("GET", "/api/v1/spaces", false, 401, "application/json"),
        ("GET", &format!("/?launch={secret}"), false, 303, ""),
    ];
    for (method, path, with_cookie, status, kind) in cases {
        let (head, _) = get(server.addr, method, path, with_cookie.then_some(cookie.as_str()));
        let what = format!("{method} {path}:\n{head}");
        assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{what}");
        assert!(header(&head, "content-type").unwrap_or("").starts_with(kind), "{what}");
        assert_eq!(header(&head, "content-security-policy"), Some(cdo_server::CONTENT_SECURITY_POLICY), "{what}");
        assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"), "{what}");
        assert_eq!(header(&head, "referrer-policy"), Some("no-referrer"), "{what}");
    }
    // The policy says what the issue asks, directive by directive.
    let policy: Vec<&str> = cdo_server::CONTENT_SECURITY_POLICY.split(';').map(str::trim).collect();
    for directive in
        ["script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "connect-src 'self'", "base-uri 'none'"]
    {
        assert!(policy.contains(&directive), "{directive} in {policy:?}");
    }
    assert!(!cdo_server::CONTENT_SECURITY_POLICY.contains("unsafe-eval"));
    assert!(!policy.iter().any(|d| d.starts_with("script-src") && d.contains("unsafe-inline")));
}
