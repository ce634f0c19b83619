//! Fuzzes the page parser and everything that reads page text: frontmatter, links, rendering.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let page = cdo_core::page::PageFile::parse(data);
    let text = page.to_text();
    if std::str::from_utf8(data).is_ok_and(|t| !t.contains('\0')) {
        assert_eq!(text.as_bytes(), data, "an unedited page must be written back unchanged");
    }
    let body = page.body();
    let _ = cdo_core::links::extract(body);
    let _ = cdo_core::links::rewrite(body, |l| Some(format!("{}x", l.url)));
    let html = cdo_core::render::render(body).html;
    assert!(!html.to_lowercase().contains("<script"));
    let mut edited = page.clone();
    let _ = edited.set("title", Some(cdo_core::frontmatter::FmValue::Str("T: x".into())));
    let _ = edited.set_body("b");
    let again = cdo_core::page::PageFile::parse(edited.to_text().as_bytes());
    if edited.read_only().is_none() && !edited.frontmatter_broken() {
        assert_eq!(again.meta.title.as_deref(), Some("T: x"));
    }
});
