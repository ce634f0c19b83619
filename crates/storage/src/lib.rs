//! Confluence storage format (XHTML with `ac:` macros and `ri:` resources) to Markdown and back.
//!
//! Pages stay Markdown on disk; the REST API shows them as storage format and accepts storage
//! format, and the importer converts whole Confluence sites. Macros map to what reads well on
//! GitHub and renders richly in confluence.do (panels to alerts, code to fences, expand to
//! `<details>`); a macro with no mapping is kept verbatim in a ```` ```confluence ```` fence (or an
//! inline `<span data-confluence>`) so a round trip loses nothing, and is reported.
//!
//! Pure: no IO. Links to other pages and attachments go through [`Links`], which the caller
//! backs with a space.

mod entities;
mod from_markdown;
mod to_markdown;
pub mod xhtml;

pub use from_markdown::to_storage;
pub use to_markdown::to_markdown;
pub use xhtml::ParseError;

/// How links between pages are written, for the page being converted.
pub trait Links {
    /// The relative Markdown path from the current page to the page titled `title` (in `space`,
    /// or the current space when `None`); `None` when there is no such page (a `[[Title]]` wiki
    /// link is written instead).
    fn page_path(&self, space: Option<&str>, title: &str) -> Option<String>;
    /// The page a relative link points at: its space key (when another space) and title.
    fn page_of(&self, href: &str) -> Option<(Option<String>, String)>;
    /// The display name of a user id (`ri:account-id`, `ri:userkey` or `ri:username`).
    fn user_name(&self, id: &str) -> Option<String> {
        let _ = id;
        None
    }
    /// The web address of a Jira issue (`https://acme.atlassian.net/browse/DOC-42`), when the
    /// Jira site is known.
    fn issue_url(&self, key: &str) -> Option<String> {
        let _ = key;
        None
    }
    /// Whether draw.io and Gliffy diagrams show as their preview image with a link to the
    /// diagram file (an import, one way) rather than staying macros (the API, which round-trips).
    fn diagram_previews(&self) -> bool {
        false
    }
}

/// No other pages: page links become wiki links, users show as their ids.
pub struct NoLinks;

impl Links for NoLinks {
    fn page_path(&self, _: Option<&str>, _: &str) -> Option<String> {
        None
    }
    fn page_of(&self, _: &str) -> Option<(Option<String>, String)> {
        None
    }
}

/// The page being converted.
pub struct Context<'a> {
    /// The folder of the current page's attachments, relative to the page's own folder
    /// (`getting-started.attachments`).
    pub attachments: String,
    pub links: &'a dyn Links,
}

impl Context<'_> {
    /// A context with no other pages, attachments in `attachments/`.
    pub fn standalone() -> Context<'static> {
        Context { attachments: "attachments".into(), links: &NoLinks }
    }
}

/// The Markdown of a storage-format body and what could not be mapped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Converted {
    pub markdown: String,
    pub losses: Vec<Loss>,
}

/// Something the converter kept verbatim or dropped, for the user to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loss {
    /// `macro:<name>` for an unmapped macro kept verbatim, `element:<name>` for an unknown element
    /// whose text was kept, `attribute:<what>` for presentation that has no Markdown form.
    pub what: String,
    pub detail: String,
}

/// Callout macros and the GitHub alert each maps to, both ways.
const ALERTS: &[(&str, &str)] = &[("info", "NOTE"), ("tip", "TIP"), ("note", "WARNING"), ("warning", "CAUTION")];

/// The fence language that holds storage format kept verbatim.
pub const VERBATIM_LANGUAGE: &str = "confluence";

/// Checks a conversion keeps every word and that the Markdown is a fixed point of a round trip;
/// used by the tests and by `cdo-bench storage` over real samples.
pub mod check {
    use std::collections::HashMap;

    use crate::xhtml::{self, Node};
    use crate::{Context, to_markdown, to_storage};

    fn words(text: &str) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for w in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            *out.entry(w.to_lowercase()).or_insert(0) += 1;
        }
        out
    }

    fn text_of(nodes: &[Node], out: &mut String) {
        for node in nodes {
            match node {
                Node::Text(t) | Node::CData(t) => {
                    out.push_str(t);
                    out.push(' ');
                }
                Node::Element(e) if e.name == "ac:parameter" && e.attr("ac:name") != Some("title") => {}
                // Task bookkeeping and the editor's "type here" hints are not content.
                Node::Element(e)
                    if matches!(
                        e.name.as_str(),
                        "ac:task-id" | "ac:task-status" | "ac:task-uuid" | "ac:placeholder"
                    ) => {}
                Node::Element(e)
                    if e.name == "ac:link"
                        && e.elements()
                            .any(|b| matches!(b.name.as_str(), "ac:plain-text-link-body" | "ac:link-body")) =>
                {
                    // The link shows its body, not the target's title.
                    let bodies: Vec<Node> = e
                        .children
                        .iter()
                        .filter(|n| matches!(n, Node::Element(b) if b.name.ends_with("link-body")))
                        .cloned()
                        .collect();
                    text_of(&bodies, out);
                }
                Node::Element(e) => {
                    for (k, v) in &e.attrs {
                        // Words people see: titles of linked pages, file names, alt texts.
                        if matches!(k.as_str(), "ri:content-title" | "ri:filename" | "ac:alt" | "ri:value") {
                            out.push_str(v);
                            out.push(' ');
                        }
                    }
                    text_of(&e.children, out);
                }
            }
        }
    }

    /// Words of the storage body that the Markdown lacks (as `word (have n, need m)`).
    pub fn lost_words(storage: &str, markdown: &str) -> Vec<String> {
        let mut text = String::new();
        if let Ok(nodes) = xhtml::parse(storage) {
            text_of(&nodes, &mut text);
        }
        let have = words(markdown);
        let mut lost: Vec<String> = words(&text)
            .into_iter()
            .filter_map(|(w, n)| {
                let h = have.get(&w).copied().unwrap_or(0);
                (h < n).then(|| format!("{w} (have {h}, need {n})"))
            })
            .collect();
        lost.sort();
        lost
    }

    /// Markdown to storage and back to Markdown, twice: the second round must change nothing,
    /// and every word of the Markdown's text must survive the first.
    pub fn markdown_round_trip(markdown: &str, ctx: &Context<'_>) -> Result<String, String> {
        let storage = to_storage(markdown, ctx);
        let first =
            to_markdown(&storage, ctx).map_err(|e| format!("our storage does not parse: {e}\n{storage}"))?.markdown;
        let plain = cdo_core::render::render(markdown).html;
        let text = xhtml_text(&plain);
        let have = words(&first);
        let lost: Vec<String> =
            words(&text).into_iter().filter(|(w, n)| have.get(w).copied().unwrap_or(0) < *n).map(|(w, _)| w).collect();
        if !lost.is_empty() {
            return Err(format!("words lost from the Markdown: {lost:?}\n--- markdown\n{first}"));
        }
        round_trip(&storage, ctx)?;
        Ok(first)
    }

    /// The text of rendered HTML (tags dropped, entities decoded).
    fn xhtml_text(html: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' if in_tag => {
                    in_tag = false;
                    out.push(' ');
                }
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        crate::xhtml::decode_entities(&out)
    }

    /// Converts storage to Markdown, back to storage and to Markdown again; the two Markdown
    /// texts must be equal. Returns the first Markdown or what differs.
    pub fn round_trip(storage: &str, ctx: &Context<'_>) -> Result<String, String> {
        let first = to_markdown(storage, ctx).map_err(|e| format!("does not parse: {e}"))?.markdown;
        let again = to_storage(&first, ctx);
        let second =
            to_markdown(&again, ctx).map_err(|e| format!("our storage does not parse: {e}\n{again}"))?.markdown;
        if first != second {
            let line = first.lines().zip(second.lines()).position(|(a, b)| a != b).unwrap_or(0);
            let show = |t: &str| t.lines().skip(line.saturating_sub(2)).take(5).collect::<Vec<_>>().join("\n");
            return Err(format!(
                "round trip differs at line {}\n--- first\n{}\n--- second\n{}",
                line + 1,
                show(&first),
                show(&second)
            ));
        }
        Ok(first)
    }
}
