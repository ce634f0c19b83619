//! Property tests: parsing, editing and rendering never panic, and keep what they promise, on
//! arbitrary bytes and on random Markdown and YAML.

use cdo_core::frontmatter::{FmValue, Frontmatter};
use cdo_core::page::PageFile;
use cdo_core::{links, render, slug};
use proptest::prelude::*;

/// Pieces that Markdown pages with frontmatter are made of, including the awkward ones.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("---\n".to_owned()),
        Just("title: x\n".to_owned()),
        Just("labels: [a, b\n".to_owned()),
        Just("id: \"123\"\n".to_owned()),
        Just("key: {a: [1, 2}\n".to_owned()),
        Just("# Heading\n".to_owned()),
        Just("{% info %}\n".to_owned()),
        Just("{% /info %}\n".to_owned()),
        Just("{% jira ENG-1 %}\n".to_owned()),
        Just("```mermaid\ngraph TD; A-->B\n".to_owned()),
        Just("```\n".to_owned()),
        Just("> [!NOTE]\n> note\n".to_owned()),
        Just("[link](../a/b.md#x) ![i](i.png) [[Wiki|alias]]\n".to_owned()),
        Just("[ref][r]\n\n[r]: <a b.md>\n".to_owned()),
        Just("| a | b |\n|---|---|\n| 1 | 2 |\n".to_owned()),
        Just("<script>alert(1)</script>\n".to_owned()),
        Just("<img src=x onerror=alert(1)>\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\u{feff}".to_owned()),
        "[^\\x00]{0,20}".prop_map(|s| s),
        "[ -~]{0,30}\n".prop_map(|s| s),
    ]
}

fn page_text() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..24).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let page = PageFile::parse(&bytes);
        if std::str::from_utf8(&bytes).is_ok_and(|t| !t.contains('\0')) {
            let text = page.to_text();
            prop_assert_eq!(text.as_bytes(), &bytes[..], "an unedited page is written back byte for byte");
        } else {
            prop_assert!(page.read_only().is_some());
        }
    }

    #[test]
    fn random_pages_parse_render_and_round_trip(text in page_text()) {
        let mut page = PageFile::parse(text.as_bytes());
        prop_assert_eq!(page.to_text(), text.clone());
        let html = render::render(page.body()).html.to_lowercase();
        prop_assert!(!html.contains("<script"), "{}", html);
        prop_assert!(!has_event_handler(&html), "{}", html);
        let _ = links::extract(page.body());
        let _ = links::rewrite(page.body(), |l| Some(format!("{}x", l.url)));
        // Editing the body never touches the frontmatter text.
        let before = page.to_text();
        let fm_len = before.len() - page.body().len();
        if page.set_body("new body\n").is_ok() {
            prop_assert_eq!(&page.to_text()[..fm_len], &before[..fm_len]);
        }
    }

    #[test]
    fn setting_a_key_keeps_every_other_key(
        title in "\\PC{0,40}",
        labels in prop::collection::vec("\\PC{0,12}", 0..5),
        other in "[a-z]{1,8}",
        other_value in "[ -~]{0,20}",
    ) {
        let yaml = format!("{other}_x: {}\n# a comment\n", serde_like_quote(&other_value));
        let Ok(mut fm) = Frontmatter::parse(&yaml, 2) else { return Ok(()) };
        let kept = fm.get(&format!("{other}_x")).cloned();
        fm.set("title", &FmValue::Str(title.clone()));
        fm.set("labels", &FmValue::List(labels.clone()));
        let again = Frontmatter::parse(fm.text(), 2).expect("what we write parses");
        prop_assert_eq!(again.get("title").and_then(|v| v.as_str()), Some(title.as_str()));
        let got: Vec<String> = again.get("labels").and_then(|v| v.as_sequence()).map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default();
        prop_assert_eq!(got, labels);
        prop_assert_eq!(again.get(&format!("{other}_x")).cloned(), kept);
    }

    #[test]
    fn slugs_are_always_safe(title in "\\PC{0,400}") {
        let s = slug::slugify(&title);
        prop_assert!(!s.is_empty() && s.len() <= 64);
        prop_assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        prop_assert!(slug::is_safe_component(&s));
    }

    #[test]
    fn relative_links_resolve_back(from in "[a-c]{1,2}(/[a-c]{1,2}){0,3}\\.md", to in "[a-c]{1,2}(/[a-c ]{1,2}){0,3}\\.md") {
        let rel = links::relative(&from, &to);
        prop_assert_eq!(links::resolve_url(&rel, &from), links::Target::Path { path: to, anchor: None });
    }
}

/// Whether any real tag (not escaped text) carries an `on...=` attribute.
fn has_event_handler(html: &str) -> bool {
    html.split('<').skip(1).filter_map(|rest| rest.split_once('>').map(|(tag, _)| tag)).any(|tag| {
        // Attribute names only: text inside quoted values (an aria-label quoting the page) is not one.
        let mut names = Vec::new();
        let mut quote: Option<char> = None;
        let mut word = String::new();
        for c in tag.chars().chain([' ']) {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, c) if c.is_whitespace() || c == '=' || c == '/' => {
                    if !word.is_empty() {
                        names.push(std::mem::take(&mut word));
                    }
                }
                (None, c) => word.push(c),
            }
        }
        names.iter().skip(1).any(|n| n.to_ascii_lowercase().starts_with("on"))
    })
}

/// A double-quoted YAML string.
fn serde_like_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn our_trees_are_byte_identical_to_libgit2s(names in prop::collection::btree_set("[a-c.\\-_/ é]{1,6}", 1..12), dirs in prop::collection::vec(any::<bool>(), 12)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = git2::Repository::init(dir.path()).expect("init");
        let writer = cdo_core::store::objects::ObjectWriter::new(repo.path());
        let blob = repo.blob(b"x").expect("blob");
        let sub = writer.tree(vec![cdo_core::store::objects::Entry { name: "f".into(), mode: 0o100644, oid: blob }]).expect("tree");
        let entries: Vec<_> = names
            .iter()
            .filter(|n| !n.contains('/') && *n != "." && *n != "..")
            .zip(&dirs)
            .map(|(n, d)| cdo_core::store::objects::Entry { name: n.clone(), mode: if *d { 0o40000 } else { 0o100644 }, oid: if *d { sub } else { blob } })
            .collect();
        prop_assume!(!entries.is_empty());
        let mut builder = repo.treebuilder(None).expect("builder");
        for e in &entries {
            builder.insert(&e.name, e.oid, e.mode).expect("insert");
        }
        prop_assert_eq!(writer.tree(entries).expect("ours"), builder.write().expect("theirs"));
    }
}
