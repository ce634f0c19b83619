//! Migration from Confluence into spaces: pages in their tree, every version as a commit by its
//! original author at its original date, attachments beside their pages, labels, comments, blog
//! posts, and a report of what could not be mapped exactly.
//!
//! Sources read a space into [`model::SpaceData`]: [`rest`] (the REST API v1 of Confluence Cloud,
//! Server and Data Center, fetched into a resumable staging folder), [`xml_export`] (the XML space
//! export zip) and [`html_export`] (the HTML export zip). [`write::write_space`] turns it into a
//! space repository, converting bodies in parallel with `cdo-storage`.

pub mod fixture;
pub mod html_export;
pub mod model;
pub mod plan;
pub mod report;
pub mod rest;
pub mod write;
pub mod xml_export;

use std::path::{Path, PathBuf};

pub use model::SpaceData;
pub use report::Report;
pub use write::{Options, Progress, write_space};

/// Why a migration stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
    #[error("git: {0}")]
    Git(String),
    #[error(transparent)]
    Store(#[from] cdo_core::store::StoreError),
    #[error("the export is not readable: {0}")]
    Export(String),
    #[error("{0}")]
    Http(String),
    #[error("the staging database {path}: {source}")]
    Staging { path: PathBuf, source: rusqlite::Error },
}

impl MigrateError {
    pub fn io(path: &Path, source: std::io::Error) -> MigrateError {
        MigrateError::Io { path: path.to_path_buf(), source }
    }
}
