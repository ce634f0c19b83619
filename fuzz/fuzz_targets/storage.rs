//! Fuzzes the storage-format converter both ways: never a panic; what `to_storage` writes is
//! always well-formed; storage that parses converts, and its Markdown converts back.
#![no_main]

use cdo_storage::{Context, to_markdown, to_storage, xhtml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let ctx = Context::standalone();
    let storage = to_storage(text, &ctx);
    assert!(xhtml::parse(&storage).is_ok(), "to_storage wrote malformed XHTML: {storage}");
    if let Ok(converted) = to_markdown(text, &ctx) {
        let again = to_storage(&converted.markdown, &ctx);
        assert!(xhtml::parse(&again).is_ok(), "round trip wrote malformed XHTML: {again}");
    }
});
