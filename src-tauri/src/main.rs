//! The confluence.do desktop app: the team server's code in process on a loopback port with a
//! per-launch secret, and the same web UI in a window. One code path for the UI: the window is
//! a browser on that server. Works with no network at all.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod window_state;

use std::path::PathBuf;
use std::sync::Arc;

use cdo_app::{Home, Wiki};
use cdo_server::auth::Auth;
use cdo_server::state::AppState;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tauri_plugin_dialog::DialogExt as _;

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

/// The built UI: `$CONFLUENCE_DO_UI`, the bundle's resources, or the repository's `ui/dist`.
fn ui_dir(resources: Option<PathBuf>) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("CONFLUENCE_DO_UI").map(PathBuf::from),
        resources.map(|r| r.join("ui")),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui/dist")),
    ];
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
        "the web UI is not built: run `cd ui && npm ci && npm run build` (or scripts/setup-tests), then start the app again",
    )?;
    let secret = launch_secret()?;
    let state = Arc::new(AppState::new(Wiki::new(home.clone()), auth, me, true));
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

fn menu(app: &AppHandle) -> tauri::Result<Menu<tauri::Wry>> {
    let item = |id: &str, text: &str, accel: &str| MenuItem::with_id(app, id, text, true, Some(accel));
    let file = Submenu::with_items(
        app,
        "File",
        true,
        &[
            &item("new-page", "New Page", "CmdOrCtrl+N")?,
            &item("open-space", "Open Space Folder…", "CmdOrCtrl+O")?,
            &item("demo", "Open the Demo Space", "CmdOrCtrl+Shift+D")?,
            &PredefinedMenuItem::separator(app)?,
            &item("settings", "Settings", "CmdOrCtrl+,")?,
            &PredefinedMenuItem::separator(app)?,
            &PredefinedMenuItem::quit(app, None)?,
        ],
    )?;
    let edit = Submenu::with_items(
        app,
        "Edit",
        true,
        &[
            &PredefinedMenuItem::undo(app, None)?,
            &PredefinedMenuItem::redo(app, None)?,
            &PredefinedMenuItem::separator(app)?,
            &PredefinedMenuItem::cut(app, None)?,
            &PredefinedMenuItem::copy(app, None)?,
            &PredefinedMenuItem::paste(app, None)?,
            &PredefinedMenuItem::select_all(app, None)?,
        ],
    )?;
    let view = Submenu::with_items(
        app,
        "View",
        true,
        &[
            &item("search", "Search…", "CmdOrCtrl+K")?,
            &item("tree", "Toggle Page Tree", "CmdOrCtrl+\\")?,
            &item("reload", "Reload", "CmdOrCtrl+R")?,
            &PredefinedMenuItem::separator(app)?,
            &PredefinedMenuItem::fullscreen(app, None)?,
        ],
    )?;
    let help = Submenu::with_items(app, "Help", true, &[&item("about", "About confluence.do", "F1")?])?;
    Menu::with_items(app, &[&file, &edit, &view, &help])
}

/// Runs a line of script in the window (the UI is a web page; the menu drives it like a user).
fn run_js(app: &AppHandle, script: &str) {
    if let Some(window) = app.get_webview_window(WINDOW) {
        let _ = window.eval(script);
    }
}

/// Sends the UI one of its commands (`cdo:command`: search, toggle-tree, new-page, settings).
fn command(app: &AppHandle, name: &str) {
    run_js(app, &format!("window.dispatchEvent(new CustomEvent('cdo:command', {{detail: {name:?}}}))"));
}

fn on_menu(app: &AppHandle, id: &str) {
    match id {
        "new-page" => command(app, "new-page"),
        "settings" => command(app, "settings"),
        "search" => command(app, "search"),
        "tree" => command(app, "toggle-tree"),
        "reload" => run_js(app, "location.reload()"),
        "about" => {
            let version = app.package_info().version.to_string();
            app.dialog()
                .message(format!(
                    "confluence.do {version}\n\nA team wiki you own: Markdown pages in git, search that \
                     understands questions. Your wiki home: {}",
                    app.state::<Local>().home.dir().display()
                ))
                .title("About confluence.do")
                .show(|_| {});
        }
        "demo" => {
            let wiki = Wiki::new(app.state::<Local>().home.clone());
            match cdo_app::demo::install(&wiki) {
                Ok(entry) => run_js(app, &format!("location.hash = '#/space/{}'; location.reload()", entry.key)),
                Err(e) => error(app, &format!("The demo space could not be added: {e}")),
            }
        }
        "open-space" => {
            let handle = app.clone();
            app.dialog().file().set_title("Open a space: a folder of Markdown pages or a git repository").pick_folder(
                move |folder| {
                    let Some(path) = folder.and_then(|f| f.into_path().ok()) else { return };
                    let home = handle.state::<Local>().home.clone();
                    let me = cdo_app::identity::resolve_or_placeholder(None, &home);
                    match Wiki::new(home).add_space(&path, None, None, &me) {
                        Ok(entry) => {
                            run_js(&handle, &format!("location.hash = '#/space/{}'; location.reload()", entry.key))
                        }
                        Err(e) => error(&handle, &format!("{} could not be opened as a space: {e}", path.display())),
                    }
                },
            );
        }
        _ => {}
    }
}

fn error(app: &AppHandle, text: &str) {
    app.dialog().message(text).title("confluence.do").kind(tauri_plugin_dialog::MessageDialogKind::Error).show(|_| {});
}

fn main() {
    // `--demo`: run on a fresh copy of the demo space (the README's first command).
    let demo = std::env::args().skip(1).any(|a| a == "--demo");
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .menu(menu)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .setup(move |app| {
            let local = start(app.path().resource_dir().ok(), demo)?;
            let url = local.url.parse().map_err(|e| format!("the server's address: {e}"))?;
            let saved = window_state::load(local.home.dir());
            let state_file = local.home.dir().to_path_buf();
            app.manage(local);
            let mut builder = WebviewWindowBuilder::new(app, WINDOW, WebviewUrl::External(url))
                .title("confluence.do")
                .inner_size(saved.width, saved.height)
                .min_inner_size(640.0, 420.0);
            if let (Some(x), Some(y)) = (saved.x, saved.y) {
                builder = builder.position(x, y);
            }
            let window = builder.build()?;
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
