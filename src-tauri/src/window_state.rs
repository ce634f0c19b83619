//! The window's size, place and maximised state, kept in the wiki home (`window.json`) so the
//! app opens where it was closed.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub width: f64,
    pub height: f64,
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub maximized: bool,
}

impl Default for Saved {
    fn default() -> Saved {
        Saved { width: 1280.0, height: 820.0, x: None, y: None, maximized: false }
    }
}

const FILE: &str = "window.json";

/// The saved state, or the default when there is none or it is unreadable (never an error: a
/// window must open).
pub fn load(home: &Path) -> Saved {
    let saved: Option<Saved> = std::fs::read(home.join(FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok());
    match saved {
        // A size too small to use (or nonsense) falls back to the default.
        Some(s) if s.width >= 400.0 && s.height >= 300.0 && s.width.is_finite() && s.height.is_finite() => s,
        _ => Saved::default(),
    }
}

/// Writes the state (a temporary file renamed over the old one, so a crash leaves either).
pub fn write(home: &Path, saved: &Saved) -> std::io::Result<()> {
    let tmp = home.join(format!("{FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(saved).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, home.join(FILE))
}

/// Saves the state of a window; a minimised window keeps the last normal state.
pub fn save(home: &Path, window: &tauri::WebviewWindow) {
    if window.is_minimized().unwrap_or(false) {
        return;
    }
    let maximized = window.is_maximized().unwrap_or(false);
    let mut saved = load(home);
    saved.maximized = maximized;
    if !maximized {
        let scale = window.scale_factor().unwrap_or(1.0);
        if let Ok(size) = window.inner_size() {
            saved.width = f64::from(size.width) / scale;
            saved.height = f64::from(size.height) / scale;
        }
        if let Ok(pos) = window.outer_position() {
            saved.x = Some(f64::from(pos.x) / scale);
            saved.y = Some(f64::from(pos.y) / scale);
        }
    }
    let _ = write(home, &saved);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_state_comes_back_and_a_broken_one_falls_back_to_the_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(dir.path()), Saved::default(), "nothing saved yet");
        let saved = Saved { width: 900.0, height: 700.0, x: Some(40.0), y: Some(30.0), maximized: true };
        write(dir.path(), &saved).expect("write");
        assert_eq!(load(dir.path()), saved);
        std::fs::write(dir.path().join(FILE), "{ not json").expect("break it");
        assert_eq!(load(dir.path()), Saved::default());
        write(dir.path(), &Saved { width: 10.0, ..saved }).expect("write");
        assert_eq!(load(dir.path()), Saved::default(), "a window too small to use is not restored");
    }
}
