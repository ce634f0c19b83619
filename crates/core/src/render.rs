//! Markdown to safe HTML: comrak (GFM) then ammonia, with callouts, mermaid containers and
//! heading anchors. Nothing from page content can run script in the result.

use std::fmt::{self, Write as _};

use comrak::adapters::CodefenceRendererAdapter;
use comrak::nodes::{NodeValue, Sourcepos};
use comrak::options::Plugins;
use comrak::{Anchorizer, Arena};

use crate::markdown;

/// Callout tags (`{% info %}`...`{% /info %}`) and the title each shows.
const CALLOUTS: &[(&str, &str)] = &[
    ("info", "Info"),
    ("note", "Note"),
    ("tip", "Tip"),
    ("success", "Success"),
    ("warning", "Warning"),
    ("danger", "Danger"),
    ("caution", "Caution"),
    ("important", "Important"),
    // Confluence's panel: a box with an optional title of its own.
    ("panel", ""),
];

/// A rendered page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub html: String,
    pub headings: Vec<Heading>,
}

/// A heading with the anchor its `id` carries in the HTML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heading {
    pub level: u8,
    pub text: String,
    pub anchor: String,
}

/// Renders a page body to sanitised HTML.
pub fn render(body: &str) -> Rendered {
    let source = expand_callouts(body);
    let options = markdown::options();
    let arena = Arena::new();
    let root = comrak::parse_document(&arena, &source, &options);
    let headings = headings_of(root);
    let mermaid = Mermaid;
    let mut plugins = Plugins::default();
    plugins.render.codefence_renderers.insert("mermaid".to_owned(), &mermaid);
    let mut html = String::with_capacity(source.len() * 3 / 2);
    // Writing into a String cannot fail.
    let _ = comrak::format_html_with_plugins(root, &options, &mut html, &plugins);
    Rendered { html: sanitizer().clean(&html).to_string(), headings }
}

/// The headings of a body, with the anchors `render` gives them.
pub fn headings(body: &str) -> Vec<Heading> {
    let source = expand_callouts(body);
    let arena = Arena::new();
    let root = comrak::parse_document(&arena, &source, &markdown::options());
    headings_of(root)
}

fn headings_of<'a>(root: comrak::nodes::Node<'a>) -> Vec<Heading> {
    let mut anchorizer = Anchorizer::new();
    let mut out = Vec::new();
    for node in root.descendants() {
        let level = match &node.data().value {
            NodeValue::Heading(h) => h.level,
            _ => continue,
        };
        let mut text = String::new();
        for child in node.descendants().skip(1) {
            match &child.data().value {
                NodeValue::Text(t) => text.push_str(t),
                NodeValue::Code(c) => text.push_str(&c.literal),
                NodeValue::SoftBreak | NodeValue::LineBreak => text.push(' '),
                _ => {}
            }
        }
        let anchor = anchorizer.anchorize(&text);
        out.push(Heading { level, text, anchor });
    }
    out
}

/// A part of a page under one heading, as plain text: what search indexes, embeds and quotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The heading's anchor (as `render` gives it); empty for the text before the first heading.
    pub anchor: String,
    /// The heading's text; empty for the text before the first heading.
    pub heading: String,
    /// 1-6; 0 for the text before the first heading.
    pub level: u8,
    /// The section's text without Markdown syntax: link texts but not their targets, code as
    /// written, no HTML, one line per block.
    pub text: String,
}

/// A body split at its headings into plain-text sections (the text before the first heading is
/// a section of its own when there is any).
pub fn sections(body: &str) -> Vec<Section> {
    let source = expand_callouts(body);
    let arena = Arena::new();
    let root = comrak::parse_document(&arena, &source, &markdown::options());
    let mut anchorizer = Anchorizer::new();
    let mut out = vec![Section { anchor: String::new(), heading: String::new(), level: 0, text: String::new() }];
    for node in root.children() {
        if let NodeValue::Heading(h) = &node.data().value {
            let mut heading = String::new();
            plain_text(node, &mut heading);
            let heading = heading.trim().to_owned();
            let anchor = anchorizer.anchorize(&heading);
            out.push(Section { anchor, heading, level: h.level, text: String::new() });
        } else if let Some(current) = out.last_mut() {
            plain_text(node, &mut current.text);
        }
    }
    if out.first().is_some_and(|s| s.text.trim().is_empty()) {
        out.remove(0);
    }
    for section in &mut out {
        let trimmed = section.text.trim_end().len();
        section.text.truncate(trimmed);
    }
    out
}

/// Appends the text of a node and its descendants; blocks end with a line break.
fn plain_text<'a>(node: comrak::nodes::Node<'a>, out: &mut String) {
    let block = match &node.data().value {
        NodeValue::Text(t) => {
            out.push_str(t);
            false
        }
        NodeValue::Code(c) => {
            out.push_str(&c.literal);
            false
        }
        NodeValue::CodeBlock(c) => {
            out.push_str(&c.literal);
            true
        }
        NodeValue::SoftBreak | NodeValue::LineBreak => {
            out.push(' ');
            false
        }
        NodeValue::HtmlBlock(_) | NodeValue::HtmlInline(_) | NodeValue::FrontMatter(_) => return,
        NodeValue::TableCell => {
            for child in node.children() {
                plain_text(child, out);
            }
            out.push_str(" | ");
            return;
        }
        NodeValue::Paragraph | NodeValue::Heading(_) | NodeValue::TableRow(_) | NodeValue::ThematicBreak => true,
        _ => false,
    };
    for child in node.children() {
        plain_text(child, out);
    }
    if block && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Mermaid fences become `<pre class="mermaid">` containers the UI turns into diagrams.
struct Mermaid;

impl CodefenceRendererAdapter for Mermaid {
    fn write(
        &self,
        output: &mut dyn fmt::Write,
        _lang: &str,
        _meta: &str,
        code: &str,
        _sourcepos: Option<Sourcepos>,
    ) -> fmt::Result {
        output.write_str("<pre class=\"mermaid\">")?;
        comrak::html::escape(output, code)?;
        output.write_str("</pre>\n")
    }
}

/// Turns whole-line `{% info %}` ... `{% /info %}` tags outside code fences into the same HTML
/// GitHub alerts render to, so both syntaxes look alike. Unknown tags stay text.
fn expand_callouts(body: &str) -> std::borrow::Cow<'_, str> {
    if !body.contains("{%") {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut out = String::with_capacity(body.len() + 256);
    let mut open: Vec<&str> = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some((ch, len)) = fence {
            if trimmed.chars().take_while(|&c| c == ch).count() >= len && trimmed.chars().all(|c| c == ch) {
                fence = None;
            }
            out.push_str(line);
            continue;
        }
        if let Some(f) = fence_open(trimmed) {
            fence = Some(f);
            out.push_str(line);
            continue;
        }
        match parse_tag(trimmed) {
            Some(Tag::Open { kind, title }) => {
                let default = CALLOUTS.iter().find(|(k, _)| *k == kind).map_or(kind, |(_, t)| *t);
                let title = title.unwrap_or(default);
                let _ = write!(out, "\n<div class=\"markdown-alert markdown-alert-{kind}\">\n");
                if !title.is_empty() {
                    out.push_str("<p class=\"markdown-alert-title\">");
                    let _ = comrak::html::escape(&mut out, title);
                    out.push_str("</p>\n");
                }
                out.push('\n');
                open.push(kind);
            }
            Some(Tag::Close { kind }) if open.last() == Some(&kind) => {
                open.pop();
                out.push_str("\n</div>\n\n");
            }
            _ => out.push_str(line),
        }
    }
    for _ in open {
        out.push_str("\n</div>\n");
    }
    std::borrow::Cow::Owned(out)
}

fn fence_open(trimmed: &str) -> Option<(char, usize)> {
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|&c| c == ch).count();
    (len >= 3).then_some((ch, len))
}

enum Tag<'a> {
    Open { kind: &'a str, title: Option<&'a str> },
    Close { kind: &'a str },
}

fn parse_tag(trimmed: &str) -> Option<Tag<'_>> {
    let inner = trimmed.strip_prefix("{%")?.strip_suffix("%}")?.trim();
    if let Some(name) = inner.strip_prefix('/') {
        let kind = CALLOUTS.iter().find(|(k, _)| *k == name.trim())?.0;
        return Some(Tag::Close { kind });
    }
    let (name, args) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
    let kind = CALLOUTS.iter().find(|(k, _)| *k == name)?.0;
    let args = args.trim();
    let args = args.strip_prefix("title=").unwrap_or(args).trim();
    let title = args.strip_prefix('"').and_then(|a| a.strip_suffix('"')).or_else(|| (!args.is_empty()).then_some(args));
    Some(Tag::Open { kind, title })
}

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static BUILDER: std::sync::OnceLock<ammonia::Builder<'static>> = std::sync::OnceLock::new();
    BUILDER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.add_tags(["input", "section", "details", "summary", "mark"]);
        b.add_generic_attributes(["class"]);
        for h in ["h1", "h2", "h3", "h4", "h5", "h6"] {
            b.add_tag_attributes(h, ["id"]);
        }
        b.add_tag_attributes("a", ["id", "aria-label", "data-footnote-ref", "data-footnote-backref"]);
        b.add_tag_attributes("li", ["id"]);
        b.add_tag_attributes("sup", ["id"]);
        b.add_tag_attributes("section", ["data-footnotes"]);
        b.add_tag_attributes("input", ["type", "checked", "disabled"]);
        b.add_tag_attributes("td", ["align"]);
        b.add_tag_attributes("th", ["align"]);
        b.add_tag_attributes("pre", ["lang"]);
        b.add_tag_attributes("details", ["open"]);
        b.set_tag_attribute_value("input", "disabled", "");
        b
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_plain_text_under_their_anchors() {
        let body = "Intro with [a link](other.md) and `code`.\n\n# Token refresh\n\nWe rotate **JWT** refresh tokens.\n\n\
                    {% warning %}\nNever log tokens.\n{% /warning %}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n\
                    ## Token refresh\n\n```rust\nfn rotate() {}\n```\n<script>x()</script>\n";
        let sections = sections(body);
        let got: Vec<(&str, &str, u8)> =
            sections.iter().map(|s| (s.anchor.as_str(), s.heading.as_str(), s.level)).collect();
        assert_eq!(got, [("", "", 0), ("token-refresh", "Token refresh", 1), ("token-refresh-1", "Token refresh", 2)]);
        assert_eq!(sections[0].text, "Intro with a link and code.");
        assert_eq!(sections[1].text, "We rotate JWT refresh tokens.\nNever log tokens.\na | b | \n1 | 2 |");
        assert!(sections[2].text.starts_with("fn rotate() {}"), "{:?}", sections[2].text);
        assert!(!sections[2].text.contains("script"), "{:?}", sections[2].text);
        // The anchors are the ones the rendered HTML carries.
        let anchors: Vec<String> = headings(body).into_iter().map(|h| h.anchor).collect();
        assert_eq!(anchors, ["token-refresh", "token-refresh-1"]);
        assert!(super::sections("").is_empty());
    }

    #[test]
    fn gfm_renders_with_anchors() {
        let r = render("# Deploy Guide\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n\n- [x] done\n\n~~old~~\n");
        assert!(r.html.contains("<h1 id=\"deploy-guide\">"), "{}", r.html);
        assert!(r.html.contains("<table>") && r.html.contains("<del>old</del>"), "{}", r.html);
        assert!(r.html.contains("type=\"checkbox\""), "{}", r.html);
        assert_eq!(r.headings, [Heading { level: 1, text: "Deploy Guide".into(), anchor: "deploy-guide".into() }]);
    }

    #[test]
    fn no_script_survives() {
        let attacks = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://evil\"></iframe>",
            "<svg><script>alert(1)</script></svg>",
            "<div style=\"background:url(javascript:alert(1))\" onclick=\"x()\">y</div>",
            "{% info title=\"<script>alert(1)</script>\" %}\nx\n{% /info %}",
            "```mermaid\n</pre><script>alert(1)</script>\n```",
        ];
        for attack in attacks {
            let html = render(attack).html.to_lowercase();
            for bad in ["<script", "onerror", "javascript:", "<iframe", "onclick", "style="] {
                assert!(!html.contains(bad), "{attack:?} rendered {html:?}");
            }
        }
    }

    #[test]
    fn callouts_from_tags_and_alerts_look_alike() {
        let r = render("{% warning %}\nMind the **gap**.\n{% /warning %}\n\n> [!NOTE]\n> Plain note.\n");
        assert!(r.html.contains("<div class=\"markdown-alert markdown-alert-warning\">"), "{}", r.html);
        assert!(r.html.contains("<strong>gap</strong>"), "{}", r.html);
        assert!(r.html.contains("markdown-alert-note"), "{}", r.html);
        let titled = render("{% info title=\"Heads up\" %}\nx\n{% /info %}\n");
        assert!(titled.html.contains(">Heads up</p>"), "{}", titled.html);
    }

    #[test]
    fn unknown_tags_and_tags_in_code_stay_text() {
        let r = render("{% jira ENG-1 %}\n\n```\n{% info %}\n```\n");
        assert!(r.html.contains("{% jira ENG-1 %}"), "{}", r.html);
        assert!(!r.html.contains("markdown-alert"), "{}", r.html);
    }

    #[test]
    fn mermaid_fences_become_diagram_containers() {
        let r = render("```mermaid\ngraph TD; A-->B;\n```\n");
        assert!(r.html.contains("<pre class=\"mermaid\">graph TD; A--&gt;B;\n</pre>"), "{}", r.html);
    }

    #[test]
    fn panels_render_as_boxes_with_their_title() {
        let r = render("{% panel title=\"Steps\" %}\n\n1. one\n\n{% /panel %}\n\n{% panel %}\nplain\n{% /panel %}\n");
        assert!(
            r.html.contains(
                "<div class=\"markdown-alert markdown-alert-panel\">\n<p class=\"markdown-alert-title\">Steps</p>"
            ),
            "{}",
            r.html
        );
        assert!(!r.html.contains("{% panel"), "{}", r.html);
    }

    #[test]
    fn unclosed_callouts_are_closed() {
        let r = render("{% danger %}\nNever closed\n");
        assert_eq!(r.html.matches("<div").count(), r.html.matches("</div>").count(), "{}", r.html);
    }
}
