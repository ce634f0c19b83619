//! End-to-end tests: the real `confluence-do` binary, real git repositories, real processes.
//!
//! One test binary (see `crates/cli/Cargo.toml`); each module is one area.

mod support;

mod acceptance;
mod ask;
mod concurrency;
mod desktop;
mod docsync;
mod fresh;
mod generate;
mod migrate;
mod search;
mod server;
mod spaces;
mod sync;
mod tidy;
mod ui;
