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
    let git = |e: git2::Error| WikiError::Git(e.message().to_owned());
    let mut options = git2::RepositoryInitOptions::new();
    options.initial_head("main");
    let repo = git2::Repository::init_opts(dir, &options).map_err(git)?;
    let mut index = repo.index().map_err(git)?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).map_err(git)?;
    index.write().map_err(git)?;
    let tree = repo.find_tree(index.write_tree().map_err(git)?).map_err(git)?;
    let sig = git2::Signature::now("confluence.do demo", "demo@confluence.do").map_err(git)?;
    repo.commit(Some("HEAD"), &sig, &sig, "Create the Engineering demo space", &tree, &[]).map_err(git)?;
    Ok(())
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
    let author = cdo_core::model::Author { name: "confluence.do demo".into(), email: "demo@confluence.do".into() };
    wiki.add_space(&dir, Some(KEY), None, &author)
}
