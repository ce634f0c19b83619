//! The desktop app's in-process server: a real server on 127.0.0.1 that answers only requests
//! carrying the per-launch secret, and the first-run demo space.

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
