//! The native menu: File, Edit, View, Help. Items that belong to the page drive the UI as a
//! person would (`cdo:command` events), the rest are the shell's own (folders, updates).

use cdo_app::Wiki;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::{AppHandle, Manager};
use tauri_plugin_dialog::DialogExt as _;

use crate::launch::Request;

/// The menu bar.
pub fn build(app: &AppHandle) -> tauri::Result<Menu<tauri::Wry>> {
    let item = |id: &str, text: &str, accel: Option<&str>| MenuItem::with_id(app, id, text, true, accel);
    let file = Submenu::with_items(
        app,
        "File",
        true,
        &[
            &item("new-page", "New Page", Some("CmdOrCtrl+N"))?,
            &item("open-space", "Open Space Folder…", Some("CmdOrCtrl+O"))?,
            &item("demo", "Open the Demo Space", Some("CmdOrCtrl+Shift+D"))?,
            &PredefinedMenuItem::separator(app)?,
            &item("settings", "Settings", Some("CmdOrCtrl+,"))?,
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
            &item("search", "Search…", Some("CmdOrCtrl+K"))?,
            &item("tree", "Toggle Page Tree", Some("CmdOrCtrl+\\"))?,
            &item("reload", "Reload", Some("CmdOrCtrl+R"))?,
            &PredefinedMenuItem::separator(app)?,
            &PredefinedMenuItem::fullscreen(app, None)?,
        ],
    )?;
    let help = Submenu::with_items(
        app,
        "Help",
        true,
        &[&item("check-updates", "Check for Updates…", None)?, &item("about", "About confluence.do", Some("F1"))?],
    )?;
    Menu::with_items(app, &[&file, &edit, &view, &help])
}

/// Sends the UI one of its commands (`cdo:command`: search, toggle-tree, new-page, settings).
fn command(app: &AppHandle, name: &str) {
    crate::run_js(app, &format!("window.dispatchEvent(new CustomEvent('cdo:command', {{detail: {name:?}}}))"));
}

/// What a menu item does.
pub fn on_menu(app: &AppHandle, id: &str) {
    match id {
        "new-page" => command(app, "new-page"),
        "settings" => command(app, "settings"),
        "search" => command(app, "search"),
        "tree" => command(app, "toggle-tree"),
        "reload" => crate::run_js(app, "location.reload()"),
        "check-updates" => crate::update::run(app, true),
        "about" => {
            let version = app.package_info().version.to_string();
            app.dialog()
                .message(format!(
                    "confluence.do {version}\n\nA team wiki you own: Markdown pages in git, search that \
                     understands questions. Your wiki home: {}",
                    app.state::<crate::Local>().home.dir().display()
                ))
                .title("About confluence.do")
                .show(|_| {});
        }
        "demo" => {
            let wiki = Wiki::new(app.state::<crate::Local>().home.clone());
            match cdo_app::demo::install(&wiki) {
                Ok(entry) => crate::run_js(app, &format!("location.hash = '#/space/{}'; location.reload()", entry.key)),
                Err(e) => crate::message(app, &format!("The demo space could not be added: {e}"), true),
            }
        }
        "open-space" => {
            let handle = app.clone();
            app.dialog().file().set_title("Open a space: a folder of Markdown pages or a git repository").pick_folder(
                move |folder| {
                    let Some(path) = folder.and_then(|f| f.into_path().ok()) else { return };
                    handle.state::<crate::open::Inbox>().deliver(&handle, vec![Request::Folder(path)]);
                },
            );
        }
        _ => {}
    }
}
