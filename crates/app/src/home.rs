//! The wiki home: `config.yaml` (who I am), `spaces.yaml` (registered spaces), `spaces/` (where
//! new and cloned spaces go) and `cache/` (derived state, safe to delete).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::wiki::WikiError;

/// The environment variable that names the home folder.
pub const HOME_ENV: &str = "CONFLUENCE_DO_HOME";

/// A wiki home folder.
#[derive(Clone, Debug)]
pub struct Home {
    dir: PathBuf,
}

/// `config.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserConfig>,
    /// The chat model AI features use (none: they answer without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmConfig>,
}

/// An OpenAI-compatible model, from `config.yaml`. The key is never stored: `key_env` names the
/// environment variable that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmConfig {
    /// The API's base URL, e.g. `http://127.0.0.1:11434/v1`.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// Who edits, from `config.yaml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserConfig {
    pub name: String,
    pub email: String,
}

/// `spaces.yaml`: the registered spaces.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    #[serde(default)]
    pub spaces: Vec<Registered>,
}

/// A registered space.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub key: String,
    pub path: PathBuf,
    /// The name to show when the space has no `space.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The code repository (a local git folder) the space documents: freshness checks compare
    /// the pages with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<PathBuf>,
}

impl Home {
    /// `explicit`, else `$CONFLUENCE_DO_HOME`, else the OS data folder.
    pub fn locate(explicit: Option<&Path>) -> Result<Home, WikiError> {
        let dir = match explicit {
            Some(dir) => dir.to_path_buf(),
            None => match std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
                Some(dir) => PathBuf::from(dir),
                None => dirs::data_dir().map(|d| d.join("confluence-do")).ok_or_else(|| {
                    WikiError::Invalid(format!("no data folder on this system; pass --home DIR or set {HOME_ENV}"))
                })?,
            },
        };
        Ok(Home { dir })
    }

    /// The home folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where new and cloned spaces go.
    pub fn spaces_dir(&self) -> PathBuf {
        self.dir.join("spaces")
    }

    /// The search index of every space (derived state).
    pub fn search_dir(&self) -> PathBuf {
        self.dir.join("cache").join("search")
    }

    /// The cache database of the space at `path`.
    pub fn cache_file(&self, key: &str, path: &Path) -> PathBuf {
        let hash = path
            .to_string_lossy()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        self.dir.join("cache").join("spaces").join(format!("{key}-{hash:016x}.sqlite"))
    }

    /// Reads `config.yaml` (empty when missing).
    pub fn config(&self) -> Result<Config, WikiError> {
        read_yaml(&self.dir.join("config.yaml"))
    }

    /// Writes `config.yaml`.
    pub fn set_config(&self, config: &Config) -> Result<(), WikiError> {
        write_yaml(&self.dir.join("config.yaml"), config)
    }

    /// Reads `spaces.yaml` (empty when missing).
    pub fn registry(&self) -> Result<Registry, WikiError> {
        read_yaml(&self.dir.join("spaces.yaml"))
    }

    /// Changes `spaces.yaml` under a lock, so two processes registering at once both land.
    pub fn update_registry<T>(&self, f: impl FnOnce(&mut Registry) -> Result<T, WikiError>) -> Result<T, WikiError> {
        std::fs::create_dir_all(&self.dir).map_err(WikiError::io(&self.dir))?;
        let lock_path = self.dir.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(WikiError::io(&lock_path))?;
        lock.lock().map_err(WikiError::io(&lock_path))?;
        let mut registry = self.registry()?;
        let out = f(&mut registry)?;
        write_yaml(&self.dir.join("spaces.yaml"), &registry)?;
        Ok(out)
    }
}

fn read_yaml<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> Result<T, WikiError> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(T::default()),
        Ok(text) => yaml_serde::from_str(&text)
            .map_err(|e| WikiError::Invalid(format!("{}: {e}; fix or delete the file", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(WikiError::io(path)(e)),
    }
}

fn write_yaml<T: Serialize>(path: &Path, value: &T) -> Result<(), WikiError> {
    let text = yaml_serde::to_string(value).map_err(|e| WikiError::Invalid(format!("{}: {e}", path.display())))?;
    cdo_core::store::write_atomic(path, text.as_bytes()).map_err(|e| WikiError::Invalid(e.to_string()))
}
