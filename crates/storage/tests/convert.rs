//! Storage format conversion against fixtures written like real editor output (macro ids, local
//! ids, colgroups, placeholders, merged cells, layouts), with links resolved through a space.

use std::path::Path;

use cdo_storage::{Context, Links, check, to_markdown, to_storage};

/// Two pages besides the current one, which lives at the root of its space.
struct TwoPages;

impl Links for TwoPages {
    fn page_path(&self, space: Option<&str>, title: &str) -> Option<String> {
        match (space, title) {
            (None, "Token Rotation") => Some("auth/token-rotation.md".into()),
            (Some("OPS"), "On-call") => Some("../OPS/on-call.md".into()),
            _ => None,
        }
    }
    fn page_of(&self, href: &str) -> Option<(Option<String>, String)> {
        match href {
            "auth/token-rotation.md" => Some((None, "Token Rotation".into())),
            "../OPS/on-call.md" => Some((Some("OPS".into()), "On-call".into())),
            _ => None,
        }
    }
    fn user_name(&self, id: &str) -> Option<String> {
        (id == "5b10ac8d82e05b22cc7d4ef5").then(|| "Alice Smith".into())
    }
}

fn ctx() -> Context<'static> {
    Context { attachments: "overview.attachments".into(), links: &TwoPages }
}

/// Each `NAME.storage.xhtml` converts to `NAME.md` (rewritten when `UPDATE_EXPECT=1`), keeps every
/// word, and its Markdown is stable through storage and back.
#[test]
fn fixtures_convert_keep_words_and_round_trip() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".storage.xhtml"))
        else {
            continue;
        };
        seen += 1;
        let storage = std::fs::read_to_string(&path).expect("read");
        let converted = to_markdown(&storage, &ctx()).expect("converts");
        let expected_path = dir.join(format!("{name}.md"));
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(&expected_path, &converted.markdown).expect("write");
        }
        let expected = std::fs::read_to_string(&expected_path).expect("expected Markdown");
        assert_eq!(converted.markdown, expected, "{name}");
        assert_eq!(check::lost_words(&storage, &converted.markdown), Vec::<String>::new(), "{name}");
        check::round_trip(&storage, &ctx()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(seen > 0);
}

#[test]
fn unmapped_macros_are_reported_and_come_back_verbatim() {
    let storage = "<ac:structured-macro ac:name=\"jira\" ac:schema-version=\"1\"><ac:parameter ac:name=\"key\">AUTH-42</ac:parameter></ac:structured-macro>";
    let converted = to_markdown(storage, &ctx()).expect("converts");
    assert_eq!(converted.losses.len(), 1);
    assert_eq!(converted.losses[0].what, "macro:jira");
    assert_eq!(to_storage(&converted.markdown, &ctx()), storage);
}

/// The acceptance page of the server issue: Markdown a user writes comes out as the storage
/// format Confluence clients expect.
#[test]
fn markdown_becomes_storage_clients_expect() {
    let md = "# Auth\n\nSee [rotation](auth/token-rotation.md#rules) and [[Missing Page]].\n\n\
              > [!NOTE]\n> Tokens expire.\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\n```rust\nfn main() {}\n```\n\n\
              ![chart](overview.attachments/chart.png)\n";
    let storage = to_storage(md, &ctx());
    let want = [
        "<h1>Auth</h1>",
        "<ac:link ac:anchor=\"rules\"><ri:page ri:content-title=\"Token Rotation\" /><ac:plain-text-link-body><![CDATA[rotation]]></ac:plain-text-link-body></ac:link>",
        "<ac:link><ri:page ri:content-title=\"Missing Page\" /></ac:link>",
        "<ac:structured-macro ac:name=\"info\" ac:schema-version=\"1\"><ac:rich-text-body><p>Tokens expire.</p></ac:rich-text-body></ac:structured-macro>",
        "<table><tbody><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></tbody></table>",
        "<ac:structured-macro ac:name=\"code\" ac:schema-version=\"1\"><ac:parameter ac:name=\"language\">rust</ac:parameter><ac:plain-text-body><![CDATA[fn main() {}]]></ac:plain-text-body></ac:structured-macro>",
        "<ac:image ac:alt=\"chart\"><ri:attachment ri:filename=\"chart.png\" /></ac:image>",
    ];
    for part in want {
        assert!(storage.contains(part), "missing {part}\nin {storage}");
    }
}

/// Callout tags the renderer reads line by line work without blank lines around them.
#[test]
fn callout_tags_inside_paragraphs_become_macros() {
    let storage =
        to_storage("{% info %}\nOn call: the *platform* team.\n{% /info %}\n\n```\n{% info %}\n```\n", &ctx());
    assert!(
        storage.starts_with("<ac:structured-macro ac:name=\"info\" ac:schema-version=\"1\"><ac:rich-text-body><p>On call: the <em>platform</em> team.</p></ac:rich-text-body></ac:structured-macro>"),
        "{storage}"
    );
    assert!(storage.contains("<![CDATA[{% info %}]]>"), "tags in code stay code: {storage}");
}

#[test]
fn raw_html_that_is_not_xhtml_becomes_text() {
    let storage = to_storage("<div>\n<p>unclosed\n\ntext</span>\n", &ctx());
    assert!(cdo_storage::xhtml::parse(&storage).is_ok(), "{storage}");
    assert!(storage.contains("unclosed") && storage.contains("text"), "{storage}");
}

mod never_panics {
    use cdo_storage::{Context, to_markdown, to_storage, xhtml};
    use proptest::prelude::*;

    /// Pieces real storage is made of, so random strings reach deep into the converter.
    fn storage_soup() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "<p>",
            "</p>",
            "<ul>",
            "</ul>",
            "<li>",
            "</li>",
            "<table>",
            "<tr>",
            "<td>",
            "<th colspan=\"2\">",
            "</td>",
            "</tr>",
            "</table>",
            "<ac:structured-macro ac:name=\"info\">",
            "<ac:structured-macro ac:name=\"code\">",
            "<ac:structured-macro ac:name=\"x\">",
            "</ac:structured-macro>",
            "<ac:rich-text-body>",
            "</ac:rich-text-body>",
            "<ac:plain-text-body><![CDATA[a]]>b]]></ac:plain-text-body>",
            "<ac:parameter ac:name=\"title\">",
            "</ac:parameter>",
            "<ac:link>",
            "</ac:link>",
            "<ri:page ri:content-title=\"T\" />",
            "<ri:attachment ri:filename=\"f\" />",
            "<br/>",
            "<strong>",
            "</strong>",
            "text ",
            "* _ ` [ ] | # 1. ",
            "&nbsp;",
            "&amp;",
            "&bogus",
            "<",
            ">",
            "\n",
            "<h2>",
            "</h2>",
            "<ac:task-list><ac:task><ac:task-body>",
            "</ac:task-body></ac:task></ac:task-list>",
            "<code>",
            "</code>",
        ]);
        prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
    }

    fn markdown_soup() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "# ",
            "\n",
            "\n\n",
            "- ",
            "1. ",
            "> ",
            "> [!NOTE]\n",
            "```rust\n",
            "```\n",
            "```confluence\n<p>x</p>\n",
            "| a | b |\n|---|---|\n| 1 | 2 |\n",
            "[l](x.md)",
            "[[Page]]",
            "![i](attachments/a.png)",
            "<details>\n",
            "<summary>S</summary>\n",
            "</details>\n",
            "{% info %}\n",
            "{% /info %}\n",
            "{% panel title=\"x\" %}\n",
            "<span data-confluence=\"&lt;p&gt;\">x</span>",
            "<span data-status=\"Red\">",
            "</span>",
            "<u>",
            "</u>",
            "<br>",
            "*",
            "**",
            "_",
            "`",
            "text",
            "&amp;",
            "]]>",
            "<div>",
            "</div>",
            "- [ ] ",
            "- [x] ",
            "[@a](mention:a)",
        ]);
        prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn storage_to_markdown_never_panics(input in prop_oneof![storage_soup(), any::<String>()]) {
            let ctx = Context::standalone();
            if let Ok(converted) = to_markdown(&input, &ctx) {
                let again = to_storage(&converted.markdown, &ctx);
                prop_assert!(xhtml::parse(&again).is_ok(), "{again}");
            }
        }

        #[test]
        fn markdown_to_storage_is_always_well_formed(input in prop_oneof![markdown_soup(), any::<String>()]) {
            let ctx = Context::standalone();
            let storage = to_storage(&input, &ctx);
            prop_assert!(xhtml::parse(&storage).is_ok(), "{storage}");
            prop_assert!(to_markdown(&storage, &ctx).is_ok());
        }
    }
}

#[test]
fn html_images_become_image_macros() {
    let storage = to_storage("a <img src=\"http://x.org/i.png\" width=\"24\" /> b\n", &ctx());
    assert_eq!(storage, "<p>a <ac:image ac:width=\"24\"><ri:url ri:value=\"http://x.org/i.png\" /></ac:image> b</p>");
}
