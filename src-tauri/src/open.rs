//! Acting on what a launch asks for ([`crate::launch`]): showing a page, opening a space folder.
//! Requests wait in the [`Inbox`] until the window has loaded the app, so a link given to a
//! second launch while the first is still starting is shown once the window is there.

use std::path::Path;
use std::sync::Mutex;

use cdo_app::{Home, Wiki, WikiError};
use cdo_server::state::encode_component;
use tauri::{AppHandle, Manager};

use crate::launch::{PageLink, Request};

/// Requests that arrived before the window could show them.
#[derive(Default)]
pub struct Inbox {
    state: Mutex<InboxState>,
}

#[derive(Default)]
struct InboxState {
    /// The window has loaded the app at least once.
    ready: bool,
    pending: Vec<Request>,
}

impl Inbox {
    /// Hands requests over: acted on now when the window is ready, else when it is.
    pub fn deliver(&self, app: &AppHandle, requests: Vec<Request>) {
        let now = {
            let Ok(mut state) = self.state.lock() else { return };
            if state.ready {
                requests
            } else {
                state.pending.extend(requests);
                Vec::new()
            }
        };
        act(app, now);
    }

    /// The window has loaded the app: what waited is acted on. Returns whether this was the first time.
    pub fn ready(&self, app: &AppHandle) -> bool {
        let (first, waiting) = {
            let Ok(mut state) = self.state.lock() else { return false };
            let first = !state.ready;
            state.ready = true;
            (first, std::mem::take(&mut state.pending))
        };
        act(app, waiting);
        first
    }
}

/// Brings the window to the front (a second launch, a link clicked elsewhere).
pub fn focus(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(crate::WINDOW) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

fn act(app: &AppHandle, requests: Vec<Request>) {
    if requests.is_empty() {
        return;
    }
    let app = app.clone();
    // Resolving a link or registering a folder reads spaces: off the main thread.
    std::thread::spawn(move || {
        let home = app.state::<crate::Local>().home.clone();
        for request in requests {
            match request {
                Request::Page(link) => show_page(&app, &home, &link),
                Request::Folder(path) => match open_folder(&home, &path) {
                    Ok(opened) => {
                        crate::run_js(
                            &app,
                            &format!("location.hash = {}; location.reload()", js(&format!("#/space/{}", opened.key))),
                        );
                        if let Some(why) = opened.read_only {
                            crate::message(&app, &why, false);
                        }
                    }
                    Err(why) => crate::message(&app, &why, true),
                },
                Request::Invalid(why) => crate::message(&app, &why, true),
            }
        }
    });
}

/// A string as a JavaScript literal.
fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// Shows the page a link names; a link no page answers shows "no such page" and a search.
fn show_page(app: &AppHandle, home: &Home, link: &PageLink) {
    let hash = match Wiki::new(home.clone()).resolve(&link.reference()) {
        Ok((_, id)) => match &link.anchor {
            Some(anchor) => format!("#/page/{id}?at={}", encode_component(anchor)),
            None => format!("#/page/{id}"),
        },
        Err(_) => format!(
            "#/search?q={}&missing={}",
            encode_component(link.search_words()),
            encode_component(&link.reference())
        ),
    };
    crate::run_js(app, &format!("location.hash = {}", js(&hash)));
}

/// A space folder opened from the command line.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    pub key: String,
    /// Why it is read-only, when it cannot be written.
    pub read_only: Option<String>,
}

/// Registers (or finds) the space at `path`. A folder that does not exist or cannot be read is
/// refused before anything is created; one that cannot be written opens read-only.
pub fn open_folder(home: &Home, path: &Path) -> Result<Opened, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("{shown} does not exist, so there is no space to open there. Nothing was created; check the path.")
        }
        _ => format!("{shown} cannot be opened ({e}). Nothing was created; check its permissions."),
    })?;
    if !meta.is_dir() {
        return Err(format!("{shown} is a file; a space is a folder of Markdown pages (or a git repository)."));
    }
    std::fs::read_dir(path)
        .map_err(|e| format!("{shown} cannot be read ({e}). Nothing was created; check its permissions."))?;
    let wiki = Wiki::new(home.clone());
    let canonical = std::fs::canonicalize(path).map_err(|e| format!("{shown}: {e}"))?;
    let known = wiki.spaces().map_err(|e| e.to_string())?.into_iter().find(|s| s.path == canonical);
    let key = match known {
        Some(entry) => entry.key,
        None => {
            let me = cdo_app::identity::resolve_or_placeholder(None, home);
            match wiki.add_space(&canonical, None, None, &me) {
                Ok(entry) => entry.key,
                Err(e) if is_unwritable(&e) => {
                    return Err(format!(
                        "{shown} cannot be written, and it is not a git repository yet: confluence.do would make it one \
                         to keep its history. Nothing was created; ask for write access, or copy the folder somewhere \
                         you can write."
                    ));
                }
                Err(e) => return Err(format!("{shown} could not be opened as a space: {e}")),
            }
        }
    };
    let read_only = (!writable(&canonical)).then(|| {
        format!(
            "{shown} cannot be written here, so the space {key} is open read-only: its pages can be read and searched, \
             not changed."
        )
    });
    Ok(Opened { key, read_only })
}

fn is_unwritable(e: &WikiError) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("permission denied") || text.contains("read-only")
}

/// Whether the space's git folder takes a new file (where every write starts: its lock).
fn writable(root: &Path) -> bool {
    let git = root.join(".git");
    let dir = if git.is_dir() { git } else { root.to_path_buf() };
    tempfile::Builder::new().prefix(".cdo-write-check").tempfile_in(dir).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_from_the_command_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::locate(Some(&dir.path().join("home"))).expect("home");

        // Missing: said, and nothing appears there.
        let missing = dir.path().join("nope/docs");
        let why = open_folder(&home, &missing).expect_err("missing folder");
        assert!(why.contains("does not exist") && why.contains("Nothing was created"), "{why}");
        assert!(!missing.exists() && !dir.path().join("nope").exists());
        assert!(Wiki::new(home.clone()).spaces().expect("spaces").is_empty());

        // A file is not a folder.
        let file = dir.path().join("notes.md");
        std::fs::write(&file, "# Notes\n").expect("file");
        assert!(open_folder(&home, &file).expect_err("a file").contains("is a file"));

        // A folder of Markdown: registered, writable; opening it again finds the same space.
        let docs = dir.path().join("team-docs");
        std::fs::create_dir_all(&docs).expect("docs");
        std::fs::write(docs.join("Welcome.md"), "# Welcome\n").expect("page");
        let opened = open_folder(&home, &docs).expect("opens");
        assert_eq!(opened, Opened { key: "TEAMDOCS".into(), read_only: None });
        assert_eq!(open_folder(&home, &docs.join(".")).expect("again"), opened);
        assert_eq!(Wiki::new(home.clone()).spaces().expect("spaces").len(), 1);
        let leftovers: Vec<_> = std::fs::read_dir(docs.join(".git"))
            .expect("git dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".cdo-write-check"))
            .collect();
        assert!(leftovers.is_empty(), "the write check leaves nothing behind");
    }

    /// What makes a space open read-only: its git folder takes no new file. procfs takes none
    /// even from root, for whom permission bits are no test.
    #[test]
    fn a_folder_that_takes_no_file_is_not_writable() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(writable(dir.path()));
        #[cfg(target_os = "linux")]
        assert!(!writable(Path::new("/proc/self")));
    }
}
