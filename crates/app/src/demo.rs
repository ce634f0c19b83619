//! The built-in demo space (`assets/demo/`), embedded in the binary.

use std::path::Path;

use crate::wiki::{SpaceEntry, Wiki, WikiError};

mod files {
    include!(concat!(env!("OUT_DIR"), "/demo_files.rs"));
}

/// The demo space's key.
pub const KEY: &str = "ENG";

/// Writes the demo space into `dir` as a git repository with one commit.
pub fn write_to(dir: &Path) -> Result<(), WikiError> {
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
        return Err(WikiError::Invalid(format!("{} is not empty", dir.display())));
    }
    for (path, bytes) in files::FILES {
        let full = dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(WikiError::io(parent))?;
        }
        std::fs::write(&full, bytes).map_err(WikiError::io(&full))?;
    }
    for (name, text) in cdo_core::templates::BUILTIN {
        let full = dir.join(cdo_core::templates::TEMPLATE_DIR).join(format!("{name}.md"));
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(WikiError::io(parent))?;
        }
        std::fs::write(&full, text).map_err(WikiError::io(&full))?;
    }
    crate::wiki::init_with_files(dir, &demo_author(), "Create the Engineering demo space")?;
    Ok(())
}

fn demo_author() -> cdo_core::model::Author {
    cdo_core::model::Author { name: "confluence.do demo".into(), email: "demo@confluence.do".into() }
}

/// Makes sure the wiki has the demo space registered (creating it in the home if needed).
pub fn install(wiki: &Wiki) -> Result<SpaceEntry, WikiError> {
    if let Some(entry) = wiki.spaces()?.into_iter().find(|s| s.key == KEY) {
        return Ok(entry);
    }
    let dir = wiki.home().spaces_dir().join("ENG-demo");
    if !dir.exists() {
        write_to(&dir)?;
    }
    wiki.add_space(&dir, Some(KEY), None, &demo_author())
}
