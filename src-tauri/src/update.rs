//! Signed updates (tauri-plugin-updater): a static `latest.json` per release, its artifacts
//! signed with the key whose public half is in `tauri.conf.json`. Checked at start (quietly)
//! and from Help › Check for Updates. The app says what is new and asks before installing; a
//! download whose signature does not match, a truncated download or a manifest that does not
//! parse is refused with the reason, and the app keeps running its own version. After an
//! install it restarts only when nothing is unsaved (see [`unsaved`]).

use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_dialog::{DialogExt as _, MessageDialogButtons, MessageDialogKind};
use tauri_plugin_updater::{Update, UpdaterExt as _};

/// How long a check or a download may go without an answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What a check found.
pub enum Checked {
    /// This version is the newest (the manifest's version is not newer).
    UpToDate { current: String },
    /// A newer version, not yet downloaded.
    Found(Box<Update>),
}

/// Why a check, a download or an install did not happen, in words for the person using the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The reason behind an updater error, said plainly.
fn refused(e: tauri_plugin_updater::Error) -> Refused {
    use tauri_plugin_updater::Error as E;
    Refused(match e {
        E::Minisign(_) | E::Base64(_) | E::SignatureUtf8(_) | E::SignedVersionMismatch { .. } => {
            "its signature does not match confluence.do's signing key (the download was changed, cut short or \
             signed by someone else)"
                .to_owned()
        }
        E::Serialization(e) => format!("the update manifest (latest.json) could not be read: {e}"),
        E::ReleaseNotFound => "the update server did not answer with an update manifest".to_owned(),
        E::TargetNotFound(t) => format!("the update has no package for this system ({t})"),
        E::TargetsNotFound(t) => format!("the update has no package for this system ({})", t.join(", ")),
        E::Reqwest(e) if e.is_timeout() => "the update server did not answer in time".to_owned(),
        E::Reqwest(e) if e.is_connect() => "the update server cannot be reached (offline?)".to_owned(),
        E::Reqwest(e) if e.is_decode() => format!("the update manifest (latest.json) could not be read: {e}"),
        E::Reqwest(e) => format!("the download failed: {e}"),
        E::Network(e) => format!("the download failed: {e}"),
        E::Semver(e) => format!("the update manifest names a version that is not a version: {e}"),
        E::InvalidUpdaterFormat | E::DebInstallFailed | E::PackageInstallFailed => {
            format!("the package could not be installed ({e})")
        }
        E::AuthenticationFailed => "installing needs an administrator, and the request was cancelled".to_owned(),
        other => other.to_string(),
    })
}

/// Asks the update endpoint (`endpoints`, or the ones in `tauri.conf.json`) for a newer version.
pub async fn check<R: Runtime>(app: &AppHandle<R>, endpoints: Option<Vec<tauri::Url>>) -> Result<Checked, Refused> {
    let mut builder = app.updater_builder().timeout(TIMEOUT);
    if let Some(endpoints) = endpoints {
        builder = builder.endpoints(endpoints).map_err(refused)?;
    }
    let updater = builder.build().map_err(refused)?;
    match updater.check().await.map_err(refused)? {
        Some(update) => Ok(Checked::Found(Box::new(update))),
        None => Ok(Checked::UpToDate { current: app.package_info().version.to_string() }),
    }
}

/// Downloads an update and checks its signature; the bytes are only returned when it holds.
/// `progress` hears the share downloaded so far (0-100) when the size is known.
pub async fn download(update: &Update, mut progress: impl FnMut(u8)) -> Result<Vec<u8>, Refused> {
    let mut got = 0usize;
    let bytes = update
        .download(
            |chunk, total| {
                got += chunk;
                if let Some(total) = total.filter(|t| *t > 0) {
                    progress((got as u64 * 100 / total).min(100) as u8);
                }
            },
            || {},
        )
        .await
        .map_err(|e| match e {
            // A body that ends early is a decode error to reqwest; here it is a download cut short.
            tauri_plugin_updater::Error::Reqwest(e) if e.is_decode() || e.is_body() => {
                Refused(format!("the download failed before it was complete: {e}"))
            }
            e => refused(e),
        })?;
    Ok(bytes)
}

/// What the window holds that is not saved or synced: its editors (`window.cdoUnsaved()`, see
/// `ui/src/unsaved.ts`). `None` when the window did not answer: then nothing is assumed saved.
pub async fn unsaved<R: Runtime>(app: &AppHandle<R>) -> Option<Vec<String>> {
    let window = app.get_webview_window(crate::WINDOW)?;
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let tx = std::sync::Mutex::new(Some(tx));
    let script = "JSON.stringify(typeof window.cdoUnsaved === 'function' ? window.cdoUnsaved() : null)";
    window
        .eval_with_callback(script, move |answer| {
            if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(answer);
            }
        })
        .ok()?;
    let answer = tokio::time::timeout(Duration::from_secs(5), rx).await.ok()?.ok()?;
    // The callback hands over the script's value as JSON: here a JSON string holding JSON.
    let inner: String = serde_json::from_str(&answer).unwrap_or(answer);
    serde_json::from_str::<Option<Vec<String>>>(&inner).ok().flatten()
}

/// Checks for an update and walks the person through it. `asked`: from the menu (every outcome
/// is said in a dialog); otherwise at start, where only a found update is shown and a failed
/// check is a line in the log.
pub fn run<R: Runtime>(app: &AppHandle<R>, asked: bool) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let current = app.package_info().version.to_string();
        match check(&app, None).await {
            Ok(Checked::UpToDate { current }) if asked => {
                say(&app, &format!("You have the newest version of confluence.do ({current})."), false)
            }
            Ok(Checked::UpToDate { .. }) => {}
            Err(why) if asked => say(
                &app,
                &format!(
                    "confluence.do could not check for updates: {why}. It keeps working as it is; try again later."
                ),
                true,
            ),
            Err(why) => eprintln!("confluence.do: no update check this time: {why}"),
            Ok(Checked::Found(update)) => offer(app, *update, current).await,
        }
    });
}

async fn offer<R: Runtime>(app: AppHandle<R>, update: Update, current: String) {
    let notes = update.body.as_deref().map(str::trim).filter(|n| !n.is_empty()).unwrap_or("(no release notes)");
    let text = format!(
        "confluence.do {} is available; you have {current}.\n\nWhat's new:\n{notes}\n\nInstall it now?",
        update.version
    );
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .message(text)
        .title("An update to confluence.do")
        .buttons(MessageDialogButtons::OkCancelCustom("Install".into(), "Later".into()))
        .show(move |yes| {
            let _ = tx.send(yes);
        });
    if !rx.await.unwrap_or(false) {
        return;
    }
    let window = app.get_webview_window(crate::WINDOW);
    let title = |text: &str| {
        if let Some(w) = &window {
            let _ = w.set_title(text);
        }
    };
    let version = update.version.clone();
    let bytes = download(&update, |pct| title(&format!("confluence.do: downloading {version}, {pct}%"))).await;
    title("confluence.do");
    let installed = bytes.and_then(|b| update.install(b).map_err(refused));
    if let Err(why) = installed {
        let text = format!("The update was not installed: {why}. confluence.do keeps running version {current}.");
        return say(&app, &text, true);
    }
    match unsaved(&app).await {
        Some(list) if list.is_empty() => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            app.dialog()
                .message(format!("confluence.do {} is installed. Restart now to use it?", update.version))
                .title("Update installed")
                .buttons(MessageDialogButtons::OkCancelCustom("Restart".into(), "Later".into()))
                .show(move |yes| {
                    let _ = tx.send(yes);
                });
            if rx.await.unwrap_or(false) {
                app.restart();
            }
        }
        pending => {
            let what = match pending {
                Some(list) => list.join("\n"),
                None => "the window did not say whether it holds unsaved edits".to_owned(),
            };
            let text = format!(
                "confluence.do {} is installed and starts the next time you open the app. It did not restart now, \
                 so nothing is lost:\n{what}",
                update.version
            );
            say(&app, &text, false);
        }
    }
}

fn say<R: Runtime>(app: &AppHandle<R>, text: &str, error: bool) {
    let kind = if error { MessageDialogKind::Warning } else { MessageDialogKind::Info };
    app.dialog().message(text).title("confluence.do updates").kind(kind).show(|_| {});
}

#[cfg(test)]
mod tests {
    //! A signed update served from a loopback server, checked and downloaded by the real
    //! updater plugin with a key made for this test by the Tauri CLI's own signer.

    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::net::TcpListener;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::Arc;

    use super::*;

    /// The Tauri CLI from the repository's `npm ci` (scripts/setup-tests installs it).
    fn tauri_cli() -> PathBuf {
        let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/.bin/tauri");
        assert!(cli.is_file(), "{} is missing: run scripts/setup-tests (npm ci at the root)", cli.display());
        cli
    }

    /// A fresh key pair: (private key file, public key as tauri.conf.json holds it).
    fn keypair(dir: &Path, name: &str) -> (PathBuf, String) {
        let key = dir.join(name);
        let out = Command::new(tauri_cli())
            .args(["signer", "generate", "--ci", "-p", "", "-w"])
            .arg(&key)
            .output()
            .expect("tauri signer generate runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut public = key.as_os_str().to_owned();
        public.push(".pub");
        let public = std::fs::read_to_string(public).expect("public key");
        (key, public.trim().to_owned())
    }

    /// The signature `tauri signer sign` writes for a file (the `.sig` file's content).
    fn sign(key: &Path, file: &Path) -> String {
        let out = Command::new(tauri_cli())
            .args(["signer", "sign", "-p", "", "-f"])
            .arg(key)
            .arg(file)
            .output()
            .expect("tauri signer sign runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut sig = file.as_os_str().to_owned();
        sig.push(".sig");
        std::fs::read_to_string(sig).expect("signature file").trim().to_owned()
    }

    /// A loopback HTTP server answering each path with a body (`routes` is given the server's
    /// base URL); a `cut` answer announces twice the bytes it sends, as a dropped connection does.
    fn serve(routes: impl FnOnce(&str) -> Vec<(String, Vec<u8>, bool)>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let routes = Arc::new(routes(&base));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let routes = routes.clone();
                std::thread::spawn(move || answer(stream, &routes));
            }
        });
        base
    }

    fn answer(mut stream: std::net::TcpStream, routes: &[(String, Vec<u8>, bool)]) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).map_or(true, |n| n == 0) || header == "\r\n" {
                break;
            }
        }
        match routes.iter().find(|(p, _, _)| *p == path) {
            Some((_, body, cut)) => {
                let announced = if *cut { body.len() * 2 } else { body.len() };
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body);
            }
            None => {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        }
        let _ = stream.flush();
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
    }

    /// An app on the mock runtime with the updater plugin configured as the shipped app is, but
    /// with this test's public key and plain HTTP allowed (the server is on loopback).
    fn app(pubkey: &str) -> tauri::App<tauri::test::MockRuntime> {
        let mut context = tauri::test::mock_context(tauri::test::noop_assets());
        context.config_mut().plugins.0.insert(
            "updater".into(),
            serde_json::json!({ "pubkey": pubkey, "endpoints": [], "dangerousInsecureTransportProtocol": true }),
        );
        tauri::test::mock_builder()
            .plugin(tauri_plugin_updater::Builder::new().build())
            .build(context)
            .expect("mock app")
    }

    fn manifest(version: &str, url: &str, signature: &str) -> Vec<u8> {
        let platform = serde_json::json!({ "url": url, "signature": signature });
        let platforms: serde_json::Map<String, serde_json::Value> =
            ["linux-x86_64", "linux-aarch64", "darwin-x86_64", "darwin-aarch64", "windows-x86_64"]
                .iter()
                .map(|p| (p.to_string(), platform.clone()))
                .collect();
        serde_json::to_vec(&serde_json::json!({
            "version": version,
            "notes": "Page comments, and links that open pages in the app.",
            "pub_date": "2026-12-01T10:00:00Z",
            "platforms": platforms,
        }))
        .expect("json")
    }

    #[test]
    fn a_signed_update_is_found_and_verified_and_a_tampered_one_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, public) = keypair(dir.path(), "release.key");
        let (other_key, _) = keypair(dir.path(), "someone-else.key");
        let artifact: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let file = dir.path().join("confluence.do_0.2.0_amd64.AppImage");
        std::fs::write(&file, &artifact).expect("artifact");
        let good = sign(&key, &file);
        let forged = sign(&other_key, &file);
        let mut tampered = artifact.clone();
        tampered[1000] ^= 1;

        let base = serve(|base| {
            let url = |p: &str| format!("{base}{p}");
            vec![
                ("/good/latest.json".to_owned(), manifest("0.2.0", &url("/app"), &good), false),
                ("/tampered/latest.json".to_owned(), manifest("0.2.0", &url("/tampered-app"), &good), false),
                ("/forged/latest.json".to_owned(), manifest("0.2.0", &url("/app"), &forged), false),
                ("/cut/latest.json".to_owned(), manifest("0.2.0", &url("/cut-app"), &good), false),
                ("/garbled/latest.json".to_owned(), manifest("0.2.0", &url("/app"), "not base64!"), false),
                ("/same/latest.json".to_owned(), manifest("0.1.0", &url("/app"), &good), false),
                ("/broken/latest.json".to_owned(), b"{\"version\": \"0.2.0\", \"platforms\": ".to_vec(), false),
                ("/app".to_owned(), artifact.clone(), false),
                ("/tampered-app".to_owned(), tampered.clone(), false),
                ("/cut-app".to_owned(), artifact[..artifact.len() / 2].to_vec(), true),
            ]
        });
        let app = app(&public);
        let handle = app.handle().clone();
        let at = |case: &str| Some(vec![format!("{base}/{case}/latest.json").parse().expect("url")]);
        let found = |case: &str| match tauri::async_runtime::block_on(check(&handle, at(case))) {
            Ok(Checked::Found(update)) => update,
            Ok(Checked::UpToDate { current }) => panic!("{case}: no update found over {current}"),
            Err(why) => panic!("{case}: the check failed: {why}"),
        };
        let fetch = |case: &str| tauri::async_runtime::block_on(download(&found(case), |_| {}));

        // Found, with what is new, and downloaded only because its signature holds.
        let update = found("good");
        assert_eq!((update.version.as_str(), update.current_version.as_str()), ("0.2.0", "0.1.0"));
        assert_eq!(update.body.as_deref(), Some("Page comments, and links that open pages in the app."));
        let mut seen = Vec::new();
        let bytes = tauri::async_runtime::block_on(download(&update, |pct| seen.push(pct))).expect("verified");
        assert_eq!(bytes, artifact);
        assert_eq!(seen.last(), Some(&100), "progress reaches 100%: {seen:?}");

        // Refused, each with its reason.
        for case in ["tampered", "forged", "garbled"] {
            let why = fetch(case).expect_err(case);
            assert!(why.0.contains("signature does not match"), "{case}: {why}");
        }
        let why = fetch("cut").expect_err("a truncated download");
        assert!(why.0.contains("download failed") || why.0.contains("signature"), "cut: {why}");
        let why = tauri::async_runtime::block_on(check(&handle, at("broken"))).err().expect("broken manifest refused");
        assert!(why.0.contains("latest.json"), "broken: {why}");
        let why = tauri::async_runtime::block_on(check(&handle, at("missing"))).err().expect("no manifest");
        assert!(why.0.contains("did not answer with an update manifest"), "missing: {why}");

        // Nothing newer, and no server at all: said as such.
        match tauri::async_runtime::block_on(check(&handle, at("same"))) {
            Ok(Checked::UpToDate { current }) => assert_eq!(current, "0.1.0"),
            _ => panic!("0.1.0 is not newer than 0.1.0"),
        }
        let closed = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("addr");
            drop(listener);
            addr
        };
        let offline = Some(vec![format!("http://{closed}/latest.json").parse().expect("url")]);
        let why = tauri::async_runtime::block_on(check(&handle, offline)).err().expect("offline");
        assert!(why.0.contains("cannot be reached"), "offline: {why}");
    }

    #[test]
    fn the_shipped_config_names_a_key_and_a_secure_endpoint() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../../tauri.conf.json")).expect("tauri.conf.json parses");
        let updater = &config["plugins"]["updater"];
        let key = updater["pubkey"].as_str().expect("a public key");
        use base64::Engine as _;
        let text = base64::engine::general_purpose::STANDARD.decode(key).expect("base64");
        assert!(String::from_utf8_lossy(&text).starts_with("untrusted comment: minisign public key"));
        let endpoints = updater["endpoints"].as_array().expect("endpoints");
        assert!(
            !endpoints.is_empty() && endpoints.iter().all(|e| e.as_str().is_some_and(|e| e.starts_with("https://")))
        );
        assert!(updater.get("dangerousInsecureTransportProtocol").is_none());
    }
}
