//! Search across the wiki's spaces: the index in the home's cache, caught up with every
//! registered space before it answers.

use cdo_search::{Progress, SearchIndex, SyncReport};

use crate::wiki::{Wiki, WikiError};

impl Wiki {
    /// Opens the wiki's search index (creating it when missing).
    pub fn search_index(&self) -> Result<SearchIndex, WikiError> {
        Ok(SearchIndex::open(&self.home().search_dir())?)
    }

    /// Deletes the search index, so the next catch-up rebuilds it from the spaces.
    pub fn drop_search_index(&self) -> Result<(), WikiError> {
        let dir = self.home().search_dir();
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(WikiError::io(&dir)(e)),
            _ => Ok(()),
        }
    }

    /// Brings the index up to date with one registered space, or all of them (and forgets
    /// spaces that are no longer registered). Returns what changed per space.
    pub fn catch_up_search(
        &self,
        index: &mut SearchIndex,
        only: Option<&str>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<(String, SyncReport)>, WikiError> {
        let spaces = self.spaces()?;
        let mut out = Vec::new();
        for entry in &spaces {
            if only.is_some_and(|k| !k.eq_ignore_ascii_case(&entry.key)) {
                continue;
            }
            let mut space = self.open_space(&entry.key)?;
            out.push((entry.key.clone(), index.sync_space(&mut space, progress)?));
        }
        if only.is_none() {
            for key in index.indexed_spaces()? {
                if !spaces.iter().any(|s| s.key == key) {
                    index.remove_space(&key)?;
                }
            }
        }
        Ok(out)
    }
}
