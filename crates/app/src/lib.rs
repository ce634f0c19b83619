//! The one API the shells (CLI, server, desktop) use: the wiki home, its registered spaces, who
//! is editing, the file watcher and the demo.

pub mod demo;
pub mod home;
pub mod identity;
pub mod search;
pub mod watch;
pub mod wiki;

pub use home::{Home, LlmConfig};
pub use wiki::{PageRef, SpaceEntry, Wiki, WikiError};
