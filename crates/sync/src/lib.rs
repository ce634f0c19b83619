//! Live co-editing: a page's yrs document ([`doc`]), the y-websocket protocol as frames in and
//! effects out ([`protocol`], no sockets), the durable update log ([`log`]) and three-way merges
//! of text ([`merge`]) for changes from outside and git sync.

pub mod doc;
pub mod git;
pub mod log;
pub mod merge;
pub mod protocol;

pub use doc::{Applied, DocError, LiveDoc};
pub use log::{Append, Log, LogError, MemLog, SqliteLog, Stored, Write};
pub use merge::{Conflict, Labels, Merged, merge3};
pub use protocol::{ConnId, Effects, Presence, ProtocolError, Room, Target};
