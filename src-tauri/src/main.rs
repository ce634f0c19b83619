//! The confluence.do desktop app: the team server's code in process on a loopback port with a
//! per-launch secret, and the same web UI in a window. One code path for the UI: the window is
//! a browser on that server. Works with no network at all.
//!
//! One instance per user: a second launch hands its command line (a space folder, a
//! `confluence-do://` link) to the running app and exits. The window may only show the app's own
//! origin; other links open in the system's browser. Updates are signed ([`update`]).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod launch;
mod menu;
mod open;
mod update;
mod window_state;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cdo_app::{Home, Wiki};
use cdo_server::auth::Auth;
use cdo_server::state::AppState;
use tauri::webview::{NewWindowResponse, PageLoadEvent};
use tauri::{AppHandle, Manager, Url, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tauri_plugin_deep_link::DeepLinkExt as _;
use tauri_plugin_dialog::DialogExt as _;

use crate::open::Inbox;

const WINDOW: &str = "main";

/// What the app runs on: the wiki home, the server and the address its window opens.
struct Local {
    home: Home,
    /// Taken and dropped when the app exits: the server stops, the spaces close and bring the
    /// git index up to date.
    server: std::sync::Mutex<Option<cdo_server::Background>>,
    url: String,
    /// `--demo`: a fresh home holding the demo space, deleted when the app exits.
    demo_home: Option<tempfile::TempDir>,
}

/// The folder (inside the bundle's resources) that holds the built UI; `tauri.conf.json`'s
/// `bundle.resources` puts `ui/dist` there.
const UI_RESOURCE: &str = "ui";

/// The built UI: `$CONFLUENCE_DO_UI`, else the bundle's resources. A debug build also looks in
/// the repository's `ui/dist`; an installed app never depends on the tree it was built from.
fn ui_dir(resources: Option<PathBuf>) -> Option<PathBuf> {
    let source_tree =
        if cfg!(debug_assertions) { Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui/dist")) } else { None };
    let candidates =
        [std::env::var_os("CONFLUENCE_DO_UI").map(PathBuf::from), resources.map(|r| r.join(UI_RESOURCE)), source_tree];
    candidates.into_iter().flatten().find(|d| d.join("index.html").is_file())
}

/// A fresh secret for this launch: 32 random bytes as hex.
fn launch_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for the launch secret: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn start(resources: Option<PathBuf>, demo: bool) -> Result<Local, String> {
    let demo_home =
        if demo { Some(tempfile::tempdir().map_err(|e| format!("a folder for the demo: {e}"))?) } else { None };
    let home = Home::locate(demo_home.as_ref().map(|d| d.path())).map_err(|e| e.to_string())?;
    if demo {
        cdo_app::demo::install(&Wiki::new(home.clone())).map_err(|e| e.to_string())?;
    }
    let auth = Auth::open(home.dir()).map_err(|e| e.to_string())?;
    let me = cdo_app::identity::resolve_or_placeholder(None, &home);
    let ui = ui_dir(resources).ok_or(
        "the web UI is missing from this installation (the bundle's resources have no ui/index.html): reinstall \
         confluence.do, or set CONFLUENCE_DO_UI to a built UI (cd ui && npm ci && npm run build)",
    )?;
    let secret = launch_secret()?;
    // The model runs in a child process that goes when idle: the window never holds ONNX Runtime.
    let state = Arc::new(
        AppState::new(Wiki::new(home.clone()), auth, me, true).embed_in(cdo_search::embed::Host::this_program()),
    );
    state.start_embedder();
    // Spaces with an `origin` remote sync in the background (and from the UI's sync button).
    cdo_server::gitsync::start(&state, std::time::Duration::from_secs(300));
    let options = cdo_server::Options {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        auth: false,
        ui_dir: Some(ui),
        watch: true,
        launch_secret: Some(secret.clone()),
    };
    let server = cdo_server::spawn(state, options).map_err(|e| format!("cannot start the local server: {e}"))?;
    let url = format!("http://{}/?launch={secret}", server.addr);
    Ok(Local { home, server: std::sync::Mutex::new(Some(server)), url, demo_home })
}

/// Runs a line of script in the window (the UI is a web page; the shell drives it like a user).
fn run_js(app: &AppHandle, script: &str) {
    if let Some(window) = app.get_webview_window(WINDOW) {
        let _ = window.eval(script);
    }
}

/// A message in a dialog of its own.
fn message(app: &AppHandle, text: &str, error: bool) {
    let kind = if error {
        tauri_plugin_dialog::MessageDialogKind::Error
    } else {
        tauri_plugin_dialog::MessageDialogKind::Info
    };
    app.dialog().message(text).title("confluence.do").kind(kind).show(|_| {});
}

/// Whether a URL is on the app's own server (scheme, host and port).
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

/// Where a link the window wants to follow goes: the app's own pages stay, `confluence-do://`
/// links open their page here, web and mail links open in the system's apps, the rest nowhere.
fn follow(app: &AppHandle, own: &Url, url: &Url) -> bool {
    if same_origin(url, own) {
        return true;
    }
    match url.scheme() {
        "http" | "https" | "mailto" => {
            if let Err(e) = tauri_plugin_opener::open_url(url.as_str(), None::<&str>) {
                message(app, &format!("{url} could not be opened in your browser: {e}"), true);
            }
        }
        s if s.eq_ignore_ascii_case(launch::SCHEME) => {
            let requests = launch::parse_args(&[String::new(), url.to_string()], Path::new("/"));
            app.state::<Inbox>().deliver(app, requests);
        }
        _ => {}
    }
    false
}

/// WebKitGTK's defaults are a browser's: GPU compositing (on a machine without a GPU driver,
/// Mesa's software renderer and LLVM loaded into the web process) and caches sized for many
/// sites. The window shows pages of one local server, which draw fine on the CPU and need no
/// cache of other sites. `CONFLUENCE_DO_GPU=1` keeps WebKit's GPU compositing.
fn lighten(window: &tauri::WebviewWindow) {
    #[cfg(target_os = "linux")]
    {
        let gpu = std::env::var_os("CONFLUENCE_DO_GPU").is_some_and(|v| v == "1");
        let _ = window.with_webview(move |webview| {
            use webkit2gtk::{
                CacheModel, HardwareAccelerationPolicy, SettingsExt as _, WebContextExt as _, WebViewExt,
            };
            let view = webview.inner();
            if !gpu && let Some(settings) = WebViewExt::settings(&view) {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
            if let Some(context) = view.context() {
                context.set_cache_model(CacheModel::DocumentViewer);
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

// No mimalloc here, unlike the CLI: it kept ~40 MB of the start's peak (indexing, the demo's
// install) resident for as long as the app ran, the system's allocator about none of it
// (docs/BENCHMARKS.md, "Package and footprint"). A long-running window is judged by what it
// holds idle; a CLI command by how fast it ends.

fn main() {
    // Started again as the embedding helper ([`start`]): that, and nothing of the app.
    cdo_search::embed::helper::serve_if_asked();
    cdo_core::store::tls::start_git();
    let args: Vec<String> = std::env::args().collect();
    // `--demo`: run on a fresh copy of the demo space (the README's first command).
    let demo = args.iter().skip(1).any(|a| a == "--demo");
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut requests = launch::parse_args(&args, &cwd);
    let result = tauri::Builder::default()
        // First: a second launch hands over its command line here and exits before anything starts.
        .plugin(tauri_plugin_single_instance::init(|app, argv, cwd| {
            open::focus(app);
            app.state::<Inbox>().deliver(app, launch::parse_args(&argv, Path::new(&cwd)));
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(Inbox::default())
        .menu(menu::build)
        .on_menu_event(|app, event| menu::on_menu(app, event.id().as_ref()))
        .setup(move |app| {
            let local = start(app.path().resource_dir().ok(), demo)?;
            let url: Url = local.url.parse().map_err(|e| format!("the server's address: {e}"))?;
            let saved = window_state::load(local.home.dir());
            let state_file = local.home.dir().to_path_buf();
            app.manage(local);

            // Links the system hands over while the app runs (macOS delivers them as events),
            // and the one it was started with when the system says so rather than argv.
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |event| {
                let links = event.urls().iter().map(|u| u.to_string()).collect::<Vec<_>>();
                open::focus(&handle);
                let requests = launch::parse_args(&[vec![String::new()], links].concat(), Path::new("/"));
                handle.state::<Inbox>().deliver(&handle, requests);
            });
            if let Ok(Some(urls)) = app.deep_link().get_current() {
                for url in urls {
                    let request = launch::parse_args(&[String::new(), url.to_string()], Path::new("/"));
                    for r in request {
                        if !requests.contains(&r) {
                            requests.push(r);
                        }
                    }
                }
            }
            app.state::<Inbox>().deliver(app.handle(), std::mem::take(&mut requests));

            let own = url.clone();
            let nav = app.handle().clone();
            let popup = app.handle().clone();
            let popup_own = url.clone();
            let mut builder = WebviewWindowBuilder::new(app, WINDOW, WebviewUrl::External(url))
                .title("confluence.do")
                .inner_size(saved.width, saved.height)
                .min_inner_size(640.0, 420.0)
                .on_navigation(move |to| follow(&nav, &own, to))
                .on_new_window(move |to, _| {
                    follow(&popup, &popup_own, &to);
                    NewWindowResponse::Deny
                })
                .on_page_load(|window, payload| {
                    if payload.event() == PageLoadEvent::Finished {
                        let app = window.app_handle();
                        if app.state::<Inbox>().ready(app) {
                            update::run(app, false);
                        }
                    }
                });
            if let (Some(x), Some(y)) = (saved.x, saved.y) {
                builder = builder.position(x, y);
            }
            let window = builder.build()?;
            lighten(&window);
            if saved.maximized {
                let _ = window.maximize();
            }
            let tracked = window.clone();
            window.on_window_event(move |event| {
                if matches!(event, WindowEvent::Resized(_) | WindowEvent::Moved(_) | WindowEvent::CloseRequested { .. })
                {
                    window_state::save(&state_file, &tracked);
                }
            });
            Ok(())
        })
        .build(tauri::generate_context!());
    match result {
        Ok(app) => app.run(|app, event| {
            if let tauri::RunEvent::Exit = event
                && let Some(local) = app.try_state::<Local>()
            {
                let server = local.server.lock().map(|mut s| s.take()).unwrap_or(None);
                drop(server);
                // Managed state is never dropped (the process exits): remove the demo home now.
                if let Some(dir) = local.demo_home.as_ref() {
                    let _ = std::fs::remove_dir_all(dir.path());
                }
            }
        }),
        Err(e) => {
            eprintln!("confluence.do could not start: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundle carries the built UI where the app looks for it: `bundle.resources` maps the
    /// UI's build output to [`UI_RESOURCE`], and `beforeBuildCommand` builds it first. An
    /// installed app found through this path and nothing else.
    #[test]
    fn the_bundle_carries_the_ui_where_the_app_looks() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../../tauri.conf.json")).expect("tauri.conf.json parses");
        let resources = config["bundle"]["resources"].as_object().expect("bundle.resources is a map");
        let (source, target) = resources
            .iter()
            .find(|(_, t)| t.as_str().map(|t| t.trim_end_matches('/')) == Some(UI_RESOURCE))
            .expect("bundle.resources puts the UI under `ui/`");
        let vite = std::fs::read_to_string(root.join("ui/vite.config.ts")).expect("vite config");
        assert!(!vite.contains("outDir"), "the UI builds into ui/dist, which bundle.resources copies");
        assert_eq!(source.trim_end_matches('/'), "ui/dist", "{source} -> {target}");
        let before = config["build"]["beforeBuildCommand"].as_str().expect("beforeBuildCommand");
        assert!(before.contains("--prefix ui") && before.contains("run build"), "{before}");
        assert_eq!(config["bundle"]["active"], serde_json::Value::Bool(true));

        // Copied as the bundler copies a directory resource, the app finds it with no help.
        let resources_dir = tempfile::tempdir().expect("tempdir");
        let ui = resources_dir.path().join(UI_RESOURCE);
        std::fs::create_dir_all(ui.join("assets")).expect("ui dir");
        std::fs::write(ui.join("index.html"), "<!doctype html>").expect("index");
        assert!(std::env::var_os("CONFLUENCE_DO_UI").is_none(), "run without CONFLUENCE_DO_UI");
        assert_eq!(ui_dir(Some(resources_dir.path().to_path_buf())), Some(ui));
    }

    /// The Linux packages register `confluence-do://` and their desktop entry passes the link on
    /// (`%u`: Tauri's stock entry has no field code, so a clicked link would start the app
    /// without it).
    #[test]
    fn the_linux_packages_hand_links_to_the_app() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../../tauri.conf.json")).expect("tauri.conf.json parses");
        let schemes = &config["plugins"]["deep-link"]["desktop"]["schemes"];
        assert_eq!(schemes, &serde_json::json!([launch::SCHEME]));
        for package in ["deb", "rpm"] {
            let template = config["bundle"]["linux"][package]["desktopTemplate"].as_str().expect(package);
            let entry = std::fs::read_to_string(root.join(template)).expect("the desktop entry template");
            let exec = entry.lines().find(|l| l.starts_with("Exec=")).expect("an Exec line");
            assert_eq!(exec, "Exec={{exec}} %u", "{package}");
            assert!(entry.contains("MimeType={{mime_type}}"), "{package}: the entry claims the scheme");
        }
    }

    /// The webview's own policy is the server's: one policy for every page the app shows.
    #[test]
    fn the_webview_has_the_servers_csp() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../../tauri.conf.json")).expect("tauri.conf.json parses");
        assert_eq!(config["app"]["security"]["csp"].as_str(), Some(cdo_server::CONTENT_SECURITY_POLICY));
    }

    #[test]
    fn the_window_stays_on_its_own_origin() {
        let own: Url = "http://127.0.0.1:4312/?launch=x".parse().expect("url");
        for (to, same) in [
            ("http://127.0.0.1:4312/#/page/42", true),
            ("http://127.0.0.1:4312/api/v1/spaces", true),
            ("http://127.0.0.1:4313/", false),
            ("https://127.0.0.1:4312/", false),
            ("http://localhost:4312/", false),
            ("https://example.com/", false),
        ] {
            assert_eq!(same_origin(&to.parse().expect("url"), &own), same, "{to}");
        }
    }
}
