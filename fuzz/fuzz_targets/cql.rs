//! Fuzzes the CQL parser and the search box's query language: never a panic, errors carry a
//! column inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match cdo_search::cql::parse(text) {
        Ok(_) => {}
        Err(e) => {
            assert!(e.position <= text.chars().count(), "{e:?} for {text:?}");
            let _ = e.to_string();
        }
    }
    let _ = cdo_search::query::UserQuery::parse(text);
});
