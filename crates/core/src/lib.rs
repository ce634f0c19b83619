//! The core of confluence.do: spaces as git repositories of Markdown pages.
//!
//! Synchronous, and knows nothing of HTTP, JSON wire shapes, async runtimes or the desktop shell.

pub mod cache;
pub mod catalog;
pub mod diff;
pub mod error;
pub mod frontmatter;
pub mod history;
pub mod links;
pub mod markdown;
pub mod model;
pub mod page;
pub mod render;
pub mod slug;
pub mod space;
pub mod store;
pub mod templates;

pub use model::*;

pub use error::{ErrorKind, SpaceError};
pub use space::{
    Attachment, Backlink, BrokenLink, Comment, MoveTarget, NewComment, NewPage, PageDiff, PageUpdate, Saved, Space,
};
