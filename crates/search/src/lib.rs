//! Search over the spaces of a wiki home: a tantivy full-text index in the home's cache
//! (derived state, rebuilt when deleted, caught up incrementally), the query language people
//! type, and results that point at the best matching section with a highlighted snippet.

pub mod analyzer;
pub mod cql;
pub mod embed;
pub mod index;
mod memory;
pub mod query;
pub mod semantic;
pub mod snippet;
pub mod vectors;
mod words;

use std::path::{Path, PathBuf};

pub use index::{Hit, Mode, Outcome, Progress, SearchIndex, SemanticStatus, Sort, SyncReport};
pub use query::UserQuery;
pub use snippet::{Marks, Snippet};

/// What went wrong while searching or indexing, with the file or query it concerns.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index {path}: {source}")]
    Index { path: PathBuf, source: tantivy::TantivyError },
    #[error("search index state {path}: {source}")]
    State { path: PathBuf, source: rusqlite::Error },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "the search index at {0} is being updated by another confluence-do process; results may lag until it finishes"
    )]
    Busy(PathBuf),
    #[error("{0}")]
    Cql(#[from] cql::CqlError),
    #[error("{0}")]
    ModelMissing(String),
    #[error("{0}")]
    Model(String),
    #[error(transparent)]
    Space(#[from] cdo_core::SpaceError),
    #[error(transparent)]
    Store(#[from] cdo_core::store::StoreError),
}

/// Opens (creating) one of the search folder's sqlite files with the pragmas they all use, and
/// creates its tables.
pub(crate) fn open_sqlite(path: &Path, schema: &str) -> Result<rusqlite::Connection, SearchError> {
    let err = SearchError::state(path);
    let conn = rusqlite::Connection::open(path).map_err(&err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(&err)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(&err)?;
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(&err)?;
    conn.execute_batch(schema).map_err(&err)?;
    Ok(conn)
}

impl SearchError {
    fn index(path: &Path) -> impl Fn(tantivy::TantivyError) -> SearchError + '_ {
        move |source| SearchError::Index { path: path.to_path_buf(), source }
    }

    fn state(path: &Path) -> impl Fn(rusqlite::Error) -> SearchError + '_ {
        move |source| SearchError::State { path: path.to_path_buf(), source }
    }

    fn io(path: &Path) -> impl Fn(std::io::Error) -> SearchError + '_ {
        move |source| SearchError::Io { path: path.to_path_buf(), source }
    }
}
