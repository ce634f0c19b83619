//! The core of confluence.do: spaces as git repositories of Markdown pages.
//!
//! Synchronous, and knows nothing of HTTP, JSON wire shapes, async runtimes or the desktop shell.

pub mod frontmatter;
pub mod links;
pub mod markdown;
pub mod model;
pub mod page;
pub mod render;
pub mod slug;
pub mod templates;

pub use model::*;
