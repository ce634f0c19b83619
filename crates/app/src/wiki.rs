//! The wiki: the spaces registered in a home, and pages found across them.

use std::path::{Path, PathBuf};

use cdo_core::model::{Author, PageId, SpaceInfo, SpaceKey};
use cdo_core::{Space, SpaceError};
use serde::Serialize;

use crate::home::{Home, Registered};

/// What can go wrong at the wiki level.
#[derive(Debug, thiserror::Error)]
pub enum WikiError {
    #[error(transparent)]
    Space(#[from] SpaceError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "no space {0} in this wiki; `space list` shows the spaces, `space create`, `space add` and `space clone` add one"
    )]
    UnknownSpace(String),
    #[error("no page {0} in any space; `tree KEY` lists the pages of a space")]
    PageNotFound(String),
    #[error("git: {0}")]
    Git(String),
    #[error(transparent)]
    Search(#[from] cdo_search::SearchError),
}

impl WikiError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WikiError + '_ {
        move |source| WikiError::Io { path: path.to_path_buf(), source }
    }
}

/// A registered space as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpaceEntry {
    pub key: String,
    pub name: String,
    pub path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A page found in a space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRef {
    pub space: String,
    pub id: PageId,
}

/// A wiki home and its spaces.
pub struct Wiki {
    home: Home,
}

impl Wiki {
    /// The wiki in `home`.
    pub fn new(home: Home) -> Wiki {
        Wiki { home }
    }

    /// The home folder.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The registered spaces, in key order.
    pub fn spaces(&self) -> Result<Vec<SpaceEntry>, WikiError> {
        let mut out: Vec<SpaceEntry> = self.home.registry()?.spaces.iter().map(entry_of).collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn registered(&self, key: &str) -> Result<Registered, WikiError> {
        let key = key.to_ascii_uppercase();
        self.home.registry()?.spaces.into_iter().find(|s| s.key == key).ok_or(WikiError::UnknownSpace(key))
    }

    /// The code repository registered for a space, if any.
    pub fn code_repo(&self, key: &str) -> Result<Option<PathBuf>, WikiError> {
        Ok(self.registered(key)?.code)
    }

    /// Registers (or with `None` forgets) the code repository a space documents.
    pub fn set_code_repo(&self, key: &str, code: Option<&Path>) -> Result<(), WikiError> {
        let key = key.to_ascii_uppercase();
        if let Some(path) = code {
            git2::Repository::open(path).map_err(|e| {
                WikiError::Invalid(format!(
                    "{} is not a git repository ({}); pass the folder of a clone",
                    path.display(),
                    e.message()
                ))
            })?;
        }
        let code = code.map(|p| p.canonicalize().unwrap_or_else(|_| p.to_path_buf()));
        self.home.update_registry(|registry| {
            let entry =
                registry.spaces.iter_mut().find(|s| s.key == key).ok_or(WikiError::UnknownSpace(key.clone()))?;
            entry.code = code;
            Ok(())
        })
    }

    /// Opens a registered space.
    pub fn open_space(&self, key: &str) -> Result<Space, WikiError> {
        let reg = self.registered(key)?;
        if !reg.path.exists() {
            return Err(WikiError::Invalid(format!(
                "space {} was at {}, which is gone; `space remove {}` unregisters it",
                reg.key,
                reg.path.display(),
                reg.key
            )));
        }
        let fallback = fallback_info(&reg);
        Ok(Space::open(&reg.path, &self.home.cache_file(&reg.key, &reg.path), fallback)?)
    }

    /// Creates a new space (in the home's `spaces/` folder unless `path` is given).
    pub fn create_space(
        &self,
        key: &str,
        name: &str,
        description: Option<&str>,
        path: Option<&Path>,
        author: &Author,
    ) -> Result<SpaceEntry, WikiError> {
        let key = SpaceKey::parse(key).ok_or_else(|| bad_key(key))?;
        if name.trim().is_empty() {
            return Err(WikiError::Invalid("a space needs a name (--name)".into()));
        }
        let path = match path {
            Some(p) => absolute(p)?,
            None => self.home.spaces_dir().join(key.as_str()),
        };
        self.home.update_registry(|registry| {
            if let Some(other) = registry.spaces.iter().find(|s| s.key == key.as_str()) {
                return Err(WikiError::Invalid(format!("space {key} already exists at {}", other.path.display())));
            }
            let info = SpaceInfo {
                key: key.clone(),
                name: name.trim().to_owned(),
                description: description.map(str::to_owned).filter(|d| !d.trim().is_empty()),
                homepage: None,
            };
            let space = Space::create(&path, &self.home.cache_file(key.as_str(), &path), &info, author)?;
            let path = space.root().to_path_buf();
            registry.spaces.push(Registered { key: key.to_string(), path: path.clone(), name: None, code: None });
            Ok(SpaceEntry { key: key.to_string(), name: info.name, path, description: info.description })
        })
    }

    /// Registers an existing space repository, or a folder of Markdown pages from another tool
    /// (inside a repository or not: a plain folder becomes a repository with one commit of
    /// its files as they are).
    pub fn add_space(
        &self,
        path: &Path,
        key: Option<&str>,
        name: Option<&str>,
        author: &Author,
    ) -> Result<SpaceEntry, WikiError> {
        let path = absolute(path)?;
        if !path.is_dir() {
            return Err(WikiError::Invalid(format!("{} is not a folder", path.display())));
        }
        if git2::Repository::discover(&path).is_err() {
            init_with_files(&path, author, "Add existing pages")?;
        }
        let own = cdo_core::space::read_space_file(&path)?;
        let key = match (key, &own) {
            (Some(k), _) => SpaceKey::parse(k).ok_or_else(|| bad_key(k))?,
            (None, Some(info)) => info.key.clone(),
            (None, None) => key_from_folder(&path),
        };
        let name = name.map(str::to_owned).or_else(|| own.as_ref().map(|i| i.name.clone()));
        let path = std::fs::canonicalize(&path).map_err(WikiError::io(&path))?;
        let (entry, mut space) = self.home.update_registry(|registry| {
            if let Some(other) = registry.spaces.iter().find(|s| s.key == key.as_str() || s.path == path) {
                return Err(WikiError::Invalid(format!(
                    "{} is already registered as {} at {}; choose another key with --key",
                    key,
                    other.key,
                    other.path.display()
                )));
            }
            let reg = Registered { key: key.to_string(), path: path.clone(), name: name.clone(), code: None };
            // Opening checks that the folder is usable before it is registered.
            let space = Space::open(&path, &self.home.cache_file(&reg.key, &path), fallback_info(&reg))?;
            registry.spaces.push(reg.clone());
            Ok((entry_of(&reg), space))
        })?;
        // Once, now, rather than in the first command on one of its pages.
        space.prepare()?;
        Ok(entry)
    }

    /// Clones a space from a git URL (https, ssh, a path or `file://`) into the home and
    /// registers it.
    pub fn clone_space(&self, url: &str, key: Option<&str>) -> Result<SpaceEntry, WikiError> {
        let guess =
            url.trim_end_matches('/').trim_end_matches(".git").rsplit(['/', ':', '\\']).next().unwrap_or("space");
        let base = key.map(str::to_owned).unwrap_or_else(|| guess.to_owned());
        let spaces = self.home.spaces_dir();
        std::fs::create_dir_all(&spaces).map_err(WikiError::io(&spaces))?;
        let mut target = spaces.join(&base);
        let mut n = 2;
        while target.exists() {
            target = spaces.join(format!("{base}-{n}"));
            n += 1;
        }
        let mut fetch = git2::FetchOptions::new();
        fetch.remote_callbacks(cdo_core::store::remote_callbacks());
        git2::build::RepoBuilder::new()
            .fetch_options(fetch)
            .clone(url, &target)
            .map_err(|e| WikiError::Git(format!("cloning {url}: {}", e.message())))?;
        let author = Author { name: "confluence.do".into(), email: "clone@confluence.do".into() };
        match self.add_space(&target, key, None, &author) {
            Ok(entry) => Ok(entry),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&target);
                Err(e)
            }
        }
    }

    /// Unregisters a space; its files stay where they are.
    pub fn remove_space(&self, key: &str) -> Result<SpaceEntry, WikiError> {
        let key = key.to_ascii_uppercase();
        let removed = self.home.update_registry(|registry| {
            let at = registry
                .spaces
                .iter()
                .position(|s| s.key == key)
                .ok_or_else(|| WikiError::UnknownSpace(key.clone()))?;
            Ok(registry.spaces.remove(at))
        })?;
        let cache = self.home.cache_file(&removed.key, &removed.path);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", cache.display()));
        }
        Ok(entry_of(&removed))
    }

    /// Finds a page by id (in any space, also among deleted pages) or by `KEY:Title`.
    pub fn resolve(&self, reference: &str) -> Result<(Space, PageId), WikiError> {
        let reference = reference.trim();
        if let Some((key, title)) = reference.split_once(':')
            && SpaceKey::parse(key).is_some()
            && PageId::parse(reference).is_none()
        {
            let mut space = self.open_space(key)?;
            let found = space.find_title(title)?;
            return match found.as_slice() {
                [] => Err(WikiError::PageNotFound(reference.to_owned())),
                [one] => {
                    let id = one.id.clone();
                    Ok((space, id))
                }
                many => Err(WikiError::Invalid(format!(
                    "{} pages are titled \"{title}\" in {key}: {}; use an id",
                    many.len(),
                    many.iter().map(|p| format!("{} ({})", p.id, p.path)).collect::<Vec<_>>().join(", ")
                ))),
            };
        }
        let id = PageId::parse(reference)
            .ok_or_else(|| WikiError::Invalid(format!("`{reference}` is neither a page id (digits) nor KEY:Title")))?;
        // First what each space's cache shows at the cost of one page, then each whole tree.
        let mut open = Vec::new();
        for entry in self.spaces()? {
            let Ok(mut space) = self.open_space(&entry.key) else {
                continue;
            };
            if space.shows_cheaply(&id)? {
                return Ok((space, id));
            }
            open.push((entry.key, space));
        }
        let mut deleted_in = None;
        for (key, mut space) in open {
            if space.contains(&id)? {
                return Ok((space, id));
            }
            if deleted_in.is_none() && space.trash()?.iter().any(|t| t.id == id) {
                deleted_in = Some(key);
            }
        }
        match deleted_in {
            Some(key) => Ok((self.open_space(&key)?, id)),
            None => Err(WikiError::PageNotFound(reference.to_owned())),
        }
    }
}

fn entry_of(reg: &Registered) -> SpaceEntry {
    let own = cdo_core::space::read_space_file(&reg.path).ok().flatten();
    SpaceEntry {
        key: reg.key.clone(),
        name: own.as_ref().map(|i| i.name.clone()).or_else(|| reg.name.clone()).unwrap_or_else(|| reg.key.clone()),
        path: reg.path.clone(),
        description: own.and_then(|i| i.description),
    }
}

fn fallback_info(reg: &Registered) -> Option<SpaceInfo> {
    Some(SpaceInfo {
        key: SpaceKey::parse(&reg.key)?,
        name: reg.name.clone().unwrap_or_else(|| reg.key.clone()),
        description: None,
        homepage: None,
    })
}

fn bad_key(key: &str) -> WikiError {
    WikiError::Invalid(format!(
        "`{key}` is not a space key: use letters, digits and _, starting with a letter (like ENG)"
    ))
}

fn absolute(path: &Path) -> Result<PathBuf, WikiError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(WikiError::io(path))?;
    Ok(cwd.join(path))
}

/// A key from a folder name: `my-docs` -> `MYDOCS`.
fn key_from_folder(path: &Path) -> SpaceKey {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let key: String = name.chars().filter(char::is_ascii_alphanumeric).take(16).collect();
    SpaceKey::parse(&key)
        .or_else(|| SpaceKey::parse(&format!("S{key}")))
        .unwrap_or_else(|| SpaceKey::parse("SPACE").expect("SPACE is a valid key"))
}

/// Turns a plain folder into a repository (branch `main`) whose first commit holds its files as
/// they are.
pub(crate) fn init_with_files(path: &Path, author: &Author, message: &str) -> Result<(), WikiError> {
    let git = |e: git2::Error| WikiError::Git(e.message().to_owned());
    let mut options = git2::RepositoryInitOptions::new();
    options.initial_head("main");
    let repo = git2::Repository::init_opts(path, &options).map_err(git)?;
    let mut index = repo.index().map_err(git)?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).map_err(git)?;
    index.write().map_err(git)?;
    let tree = repo.find_tree(index.write_tree().map_err(git)?).map_err(git)?;
    let sig = git2::Signature::now(&author.name, &author.email).map_err(git)?;
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &[]).map_err(git)?;
    Ok(())
}
