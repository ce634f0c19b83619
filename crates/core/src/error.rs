//! What can go wrong in a space operation, each with what to do next.

use std::path::PathBuf;

use crate::cache::CacheError;
use crate::page::EditError;
use crate::store::StoreError;
use crate::templates::TemplateError;

/// An error from a space operation.
#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no page with id {0} in this space (`tree` lists the pages; `page trash` lists deleted ones)")]
    PageNotFound(String),
    #[error("page {id} has no version {version}; its versions are 1 to {latest}")]
    NoSuchVersion { id: String, version: u32, latest: u32 },
    #[error("page \"{title}\" ({id}) cannot be changed: {source}")]
    Edit { id: String, title: String, source: EditError },
    #[error("a page titled \"{title}\" already exists in this space (id {id}); choose another title")]
    TitleTaken { title: String, id: String },
    #[error("page {0} is deleted; bring it back first with `page restore {0}`")]
    Deleted(String),
    #[error("page {0} is not deleted; give `--version N` to restore an older version")]
    NotDeleted(String),
    #[error("no template `{0}` in this space (`template list` shows them)")]
    TemplateNotFound(String),
    #[error("page {id} changed since version {base}: it is at version {current} now; reload it and edit again")]
    Stale { id: String, base: u32, current: u32 },
    #[error("page {page} has no attachment `{name}`")]
    AttachmentNotFound { page: String, name: String },
    #[error("no comment with id {0}")]
    CommentNotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("space.yaml: {0}")]
    SpaceFile(String),
    /// Other processes kept changing shared state; trying again later works.
    #[error("{0}")]
    Busy(String),
}

/// What kind of failure an error is, for shells that map errors to status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing asked for does not exist.
    NotFound,
    /// The request conflicts with the current state (a stale version, a taken title).
    Conflict,
    /// The request itself is wrong.
    Invalid,
    /// Another writer holds the space; try again.
    Busy,
    /// The space cannot be written here (its folder's permissions, a read-only disk).
    ReadOnly,
    /// Something failed on this side (IO, git, the cache).
    Internal,
}

impl SpaceError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SpaceError::PageNotFound(_)
            | SpaceError::NoSuchVersion { .. }
            | SpaceError::TemplateNotFound(_)
            | SpaceError::AttachmentNotFound { .. }
            | SpaceError::CommentNotFound(_)
            | SpaceError::Deleted(_) => ErrorKind::NotFound,
            SpaceError::Stale { .. } | SpaceError::TitleTaken { .. } | SpaceError::NotDeleted(_) => ErrorKind::Conflict,
            SpaceError::Edit { .. } | SpaceError::Invalid(_) | SpaceError::Template(_) => ErrorKind::Invalid,
            SpaceError::Store(StoreError::Busy { .. }) | SpaceError::Busy(_) => ErrorKind::Busy,
            SpaceError::Store(StoreError::ReadOnly(_)) => ErrorKind::ReadOnly,
            _ => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SpaceError {
        let path = path.into();
        move |source| SpaceError::Io { path, source }
    }
}
