//! Markdown to storage format: comrak's syntax tree written as Confluence XHTML, the mappings of
//! `to_markdown` reversed (alerts to panels, fences to code macros, `<details>` to expand, page
//! and attachment links to `ac:link`), verbatim blocks written back as they were.

use comrak::Arena;
use comrak::nodes::{AlertType, AstNode, ListType, NodeValue};

use crate::xhtml::{self, escape};
use crate::{ALERTS, Context, VERBATIM_LANGUAGE};

/// Converts a Markdown body to storage format (always well-formed XHTML).
pub fn to_storage(markdown: &str, ctx: &Context<'_>) -> String {
    let markdown = separate_tags(markdown);
    let arena = Arena::new();
    let root = comrak::parse_document(&arena, &markdown, &cdo_core::markdown::options());
    let mut writer = Writer { ctx, out: String::new(), open_tags: Vec::new(), floor: 0, trust_html: true, task_id: 0 };
    writer.blocks(root);
    writer.close_tags();
    if xhtml::parse(&writer.out).is_ok() {
        return writer.out;
    }
    // Raw HTML in the Markdown that is not well-formed XHTML: written as text instead.
    let mut writer = Writer { ctx, out: String::new(), open_tags: Vec::new(), floor: 0, trust_html: false, task_id: 0 };
    writer.blocks(root);
    writer.close_tags();
    writer.out
}

struct Writer<'a> {
    ctx: &'a Context<'a>,
    out: String,
    /// Macros opened by `{% name %}` paragraphs or `<details>` blocks, to close in order.
    open_tags: Vec<&'static str>,
    /// Tags below this index belong to an enclosing container and cannot be closed here.
    floor: usize,
    trust_html: bool,
    task_id: u32,
}

/// Inline HTML tags written through as they are (they are XHTML too).
const INLINE_TAGS: &[&str] = &["u", "ins", "sub", "sup", "kbd", "mark", "del", "s", "small", "span", "em", "strong"];

fn text_of<'a>(node: &'a AstNode<'a>) -> String {
    let mut out = String::new();
    for d in node.descendants() {
        match &d.data().value {
            NodeValue::Text(t) => out.push_str(t),
            NodeValue::Code(c) => out.push_str(&c.literal),
            NodeValue::SoftBreak | NodeValue::LineBreak => out.push(' '),
            _ => {}
        }
    }
    out
}

fn cdata(text: &str, out: &mut String) {
    out.push_str("<![CDATA[");
    out.push_str(&text.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]>");
}

fn parameter(name: &str, value: &str, out: &mut String) {
    out.push_str("<ac:parameter ac:name=\"");
    escape(name, out);
    out.push_str("\">");
    escape(value, out);
    out.push_str("</ac:parameter>");
}

/// Puts blank lines around whole-line `{% tag %}` lines outside code fences, so each is a
/// paragraph of its own (the renderer reads them line by line; Markdown would merge them with
/// the text around them).
fn separate_tags(markdown: &str) -> std::borrow::Cow<'_, str> {
    if !markdown.contains("{%") {
        return std::borrow::Cow::Borrowed(markdown);
    }
    let mut out = String::with_capacity(markdown.len() + 64);
    let mut fence: Option<(char, usize)> = None;
    for line in markdown.split_inclusive('\n') {
        let trimmed = line.trim();
        let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = ch.map_or(0, |c| trimmed.chars().take_while(|&x| x == c).count());
        match (fence, ch) {
            (Some((f, n)), Some(c)) if c == f && run >= n && trimmed.chars().all(|x| x == c) => fence = None,
            (None, Some(c)) if run >= 3 => fence = Some((c, run)),
            _ => {}
        }
        let is_tag = fence.is_none() && !line.starts_with([' ', '\t']) && parse_tag(trimmed).is_some();
        if is_tag {
            out.push('\n');
            out.push_str(trimmed);
            out.push_str("\n\n");
        } else {
            out.push_str(line);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A page named by its space key (when another space) and title.
type PageName = (Option<String>, String);

/// The parts of a `{% name k="v" %}` or `{% /name %}` tag.
type Tag<'a> = (bool, &'a str, Vec<(String, String)>);

/// Reads a `{% name k="v" %}` or `{% /name %}` tag.
fn parse_tag(text: &str) -> Option<Tag<'_>> {
    let inner = text.trim().strip_prefix("{%")?.strip_suffix("%}")?.trim();
    if let Some(name) = inner.strip_prefix('/') {
        return Some((true, name.trim(), Vec::new()));
    }
    let (name, mut rest) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
    let mut args = Vec::new();
    loop {
        rest = rest.trim_start();
        let Some((key, after)) = rest.split_once("=\"") else { break };
        let Some((value, after)) = after.split_once('"') else { break };
        args.push((key.trim().to_owned(), value.to_owned()));
        rest = after;
    }
    Some((false, name, args))
}

fn alert_macro(kind: AlertType) -> (&'static str, Option<&'static str>) {
    let alert = match kind {
        AlertType::Note => "NOTE",
        AlertType::Tip => "TIP",
        AlertType::Warning => "WARNING",
        AlertType::Caution => "CAUTION",
        AlertType::Important => return ("info", Some("Important")),
    };
    (ALERTS.iter().find(|(_, a)| *a == alert).map_or("info", |(m, _)| *m), None)
}

impl<'a> Writer<'a> {
    fn blocks<'n>(&mut self, node: &'n AstNode<'n>) {
        self.children(node, false);
    }

    /// The blocks of a container; macros opened by tags inside it close with it.
    fn children<'n>(&mut self, node: &'n AstNode<'n>, tight: bool) {
        let depth = self.open_tags.len();
        let floor = std::mem::replace(&mut self.floor, depth);
        for child in node.children() {
            self.block(child, tight);
        }
        self.close_tags_to(depth);
        self.floor = floor;
    }

    fn close_tags_to(&mut self, depth: usize) {
        while self.open_tags.len() > depth {
            self.open_tags.pop();
            self.out.push_str("</ac:rich-text-body></ac:structured-macro>");
        }
    }

    fn close_tags(&mut self) {
        self.close_tags_to(0);
    }

    fn open_macro(&mut self, name: &str, params: &[(String, String)], body: bool) {
        self.out.push_str("<ac:structured-macro ac:name=\"");
        escape(name, &mut self.out);
        self.out.push_str("\" ac:schema-version=\"1\">");
        for (k, v) in params {
            parameter(k, v, &mut self.out);
        }
        if body {
            self.out.push_str("<ac:rich-text-body>");
        } else {
            self.out.push_str("</ac:structured-macro>");
        }
    }

    /// A paragraph that is only a `{% tag %}`: opens or closes a macro.
    fn tag_paragraph<'n>(&mut self, node: &'n AstNode<'n>) -> bool {
        if !node.children().all(|c| matches!(c.data().value, NodeValue::Text(_))) {
            return false;
        }
        let text = text_of(node);
        let Some((closing, name, args)) = parse_tag(&text) else { return false };
        const BODY: &[&str] = &["info", "tip", "note", "warning", "panel", "success", "danger", "caution", "important"];
        if closing {
            if let Some(pos) = self.open_tags.iter().rposition(|t| *t == name).filter(|&p| p >= self.floor) {
                while self.open_tags.len() > pos {
                    self.open_tags.pop();
                    self.out.push_str("</ac:rich-text-body></ac:structured-macro>");
                }
                return true;
            }
            return false;
        }
        if let Some(kind) = BODY.iter().find(|k| **k == name) {
            let macro_name = match *kind {
                "success" => "tip",
                "danger" | "caution" => "warning",
                "important" => "note",
                other => other,
            };
            self.open_macro(macro_name, &args, true);
            self.open_tags.push(kind);
            return true;
        }
        if matches!(name, "toc" | "children") {
            self.open_macro(name, &args, false);
            return true;
        }
        false
    }

    fn block<'n>(&mut self, node: &'n AstNode<'n>, tight: bool) {
        let value = node.data().value.clone();
        match value {
            NodeValue::Paragraph => {
                if self.tag_paragraph(node) {
                    return;
                }
                if !tight {
                    self.out.push_str("<p>");
                }
                self.inlines(node);
                if !tight {
                    self.out.push_str("</p>");
                }
            }
            NodeValue::Heading(h) => {
                let level = h.level.clamp(1, 6);
                self.out.push_str(&format!("<h{level}>"));
                self.inlines(node);
                self.out.push_str(&format!("</h{level}>"));
            }
            NodeValue::BlockQuote | NodeValue::MultilineBlockQuote(_) => {
                self.out.push_str("<blockquote>");
                self.blocks(node);
                self.out.push_str("</blockquote>");
            }
            NodeValue::Alert(alert) => {
                let (name, default_title) = alert_macro(alert.alert_type);
                let mut params = Vec::new();
                if let Some(title) = alert.title.as_deref().or(default_title).filter(|t| !t.trim().is_empty()) {
                    params.push(("title".to_owned(), title.trim().to_owned()));
                }
                self.open_macro(name, &params, true);
                self.blocks(node);
                self.out.push_str("</ac:rich-text-body></ac:structured-macro>");
            }
            NodeValue::List(list) => {
                let tasks = node.children().any(|c| matches!(c.data().value, NodeValue::TaskItem(_)));
                if tasks {
                    self.out.push_str("<ac:task-list>");
                    for item in node.children() {
                        self.task(item);
                    }
                    self.out.push_str("</ac:task-list>");
                    return;
                }
                match list.list_type {
                    ListType::Bullet => self.out.push_str("<ul>"),
                    ListType::Ordered if list.start != 1 => {
                        self.out.push_str(&format!("<ol start=\"{}\">", list.start))
                    }
                    ListType::Ordered => self.out.push_str("<ol>"),
                }
                for item in node.children() {
                    self.out.push_str("<li>");
                    self.children(item, list.tight);
                    self.out.push_str("</li>");
                }
                self.out.push_str(if list.list_type == ListType::Bullet { "</ul>" } else { "</ol>" });
            }
            NodeValue::Item(_) | NodeValue::TaskItem(_) => {
                self.out.push_str("<li>");
                self.blocks(node);
                self.out.push_str("</li>");
            }
            NodeValue::CodeBlock(code) => {
                let mut words = code.info.split_whitespace();
                let language = words.next().unwrap_or("");
                let literal = code.literal.strip_suffix('\n').unwrap_or(&code.literal);
                if language == VERBATIM_LANGUAGE && xhtml::parse(literal).is_ok() {
                    self.out.push_str(literal);
                    return;
                }
                let rest = code.info.trim_start()[language.len()..].trim();
                let title = rest.strip_prefix("title=\"").and_then(|r| r.split_once('"')).map(|(t, _)| t);
                let mut params = Vec::new();
                if !(language.is_empty() || language == "text" && title.is_some()) {
                    params.push(("language".to_owned(), language.to_owned()));
                }
                if let Some(title) = title {
                    params.push(("title".to_owned(), title.to_owned()));
                }
                self.out.push_str("<ac:structured-macro ac:name=\"code\" ac:schema-version=\"1\">");
                for (k, v) in &params {
                    parameter(k, v, &mut self.out);
                }
                self.out.push_str("<ac:plain-text-body>");
                cdata(literal, &mut self.out);
                self.out.push_str("</ac:plain-text-body></ac:structured-macro>");
            }
            NodeValue::HtmlBlock(html) => self.html_block(&html.literal),
            NodeValue::ThematicBreak => self.out.push_str("<hr />"),
            NodeValue::Table(_) => {
                self.out.push_str("<table><tbody>");
                for row in node.children() {
                    let header = matches!(row.data().value, NodeValue::TableRow(true));
                    self.out.push_str("<tr>");
                    for cell in row.children() {
                        self.out.push_str(if header { "<th>" } else { "<td>" });
                        self.inlines(cell);
                        self.out.push_str(if header { "</th>" } else { "</td>" });
                    }
                    self.out.push_str("</tr>");
                }
                self.out.push_str("</tbody></table>");
            }
            _ => self.blocks(node),
        }
    }

    fn task<'n>(&mut self, item: &'n AstNode<'n>) {
        let done = matches!(&item.data().value, NodeValue::TaskItem(t) if t.symbol.is_some());
        self.task_id += 1;
        self.out.push_str(&format!(
            "<ac:task><ac:task-id>{}</ac:task-id><ac:task-status>{}</ac:task-status><ac:task-body>",
            self.task_id,
            if done { "complete" } else { "incomplete" }
        ));
        self.children(item, true);
        self.out.push_str("</ac:task-body></ac:task>");
    }

    fn html_block(&mut self, literal: &str) {
        let trimmed = literal.trim();
        if trimmed.starts_with("<!--") && trimmed.ends_with("-->") {
            return;
        }
        if let Some(rest) = trimmed.strip_prefix("<details>").or_else(|| trimmed.strip_prefix("<details open>")) {
            let rest = rest.trim();
            let title = rest
                .strip_prefix("<summary>")
                .and_then(|r| r.strip_suffix("</summary>"))
                .filter(|t| !t.contains('<'))
                .map(xhtml::decode_entities);
            if rest.is_empty() || title.is_some() {
                let params: Vec<(String, String)> = title.map(|t| vec![("title".into(), t)]).unwrap_or_default();
                self.open_macro("expand", &params, true);
                self.open_tags.push("details");
                return;
            }
        }
        if trimmed == "</details>" && self.open_tags.len() > self.floor && self.open_tags.last() == Some(&"details") {
            self.open_tags.pop();
            self.out.push_str("</ac:rich-text-body></ac:structured-macro>");
            return;
        }
        if let Some(image) = img_tag(trimmed) {
            self.out.push_str("<p>");
            self.html_image(&image);
            self.out.push_str("</p>");
        } else if self.trust_html {
            self.out.push_str(trimmed);
        } else {
            self.out.push_str("<p>");
            escape(trimmed, &mut self.out);
            self.out.push_str("</p>");
        }
    }

    fn inlines<'n>(&mut self, node: &'n AstNode<'n>) {
        let children: Vec<&AstNode<'_>> = node.children().collect();
        let mut i = 0;
        while i < children.len() {
            i = self.inline(&children, i);
        }
    }

    /// Writes `children[i]` (and the nodes it owns, for HTML spans) and returns the next index.
    fn inline<'n>(&mut self, children: &[&'n AstNode<'n>], i: usize) -> usize {
        let node = children[i];
        let value = node.data().value.clone();
        match value {
            NodeValue::Text(t) => escape(&t, &mut self.out),
            NodeValue::SoftBreak => self.out.push('\n'),
            NodeValue::LineBreak => self.out.push_str("<br />"),
            NodeValue::Code(c) => {
                self.out.push_str("<code>");
                escape(&c.literal, &mut self.out);
                self.out.push_str("</code>");
            }
            NodeValue::Emph => self.wrap(node, "<em>", "</em>"),
            NodeValue::Strong => self.wrap(node, "<strong>", "</strong>"),
            NodeValue::Strikethrough => self.wrap(node, "<del>", "</del>"),
            NodeValue::Superscript => self.wrap(node, "<sup>", "</sup>"),
            NodeValue::Subscript => self.wrap(node, "<sub>", "</sub>"),
            NodeValue::Underline | NodeValue::Insert => self.wrap(node, "<u>", "</u>"),
            NodeValue::Highlight => self.wrap(node, "<mark>", "</mark>"),
            NodeValue::Link(link) => self.link(node, &link.url),
            NodeValue::WikiLink(link) => {
                let (target, anchor) = link.url.split_once('#').unwrap_or((&link.url, ""));
                let (space, title) = match target.split_once(':') {
                    Some((key, title)) if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()) => {
                        (Some(key), title)
                    }
                    _ => (None, target),
                };
                self.page_link(node, space, title, anchor, Some(target));
            }
            NodeValue::Image(link) => self.image(node, &link.url, &link.title),
            NodeValue::FootnoteReference(r) => {
                self.out.push_str("<sup>");
                escape(&r.name, &mut self.out);
                self.out.push_str("</sup>");
            }
            NodeValue::HtmlInline(html) => return self.html_inline(children, i, &html),
            _ => self.inlines(node),
        }
        i + 1
    }

    fn wrap<'n>(&mut self, node: &'n AstNode<'n>, open: &str, close: &str) {
        self.out.push_str(open);
        self.inlines(node);
        self.out.push_str(close);
    }

    fn html_inline<'n>(&mut self, children: &[&'n AstNode<'n>], i: usize, html: &str) -> usize {
        let tag = html.trim();
        // `<span data-confluence="...">text</span>`: the kept storage, then skip to `</span>`.
        let span_attr = |name: &str| -> Option<String> {
            let rest = tag.strip_prefix("<span ")?.strip_suffix('>')?.trim();
            let value = rest.strip_prefix(name)?.strip_prefix("=\"")?.strip_suffix('"')?;
            Some(xhtml::decode_entities(value))
        };
        let close = children[i + 1..]
            .iter()
            .position(|c| matches!(&c.data().value, NodeValue::HtmlInline(h) if h.trim() == "</span>"))
            .map(|p| i + 1 + p);
        if let (Some(raw), Some(close)) = (span_attr("data-confluence"), close)
            && xhtml::parse(&raw).is_ok()
        {
            self.out.push_str(&raw);
            return close + 1;
        }
        if let (Some(colour), Some(close)) = (span_attr("data-status"), close) {
            let title: String = children[i + 1..close].iter().map(|n| text_of(n)).collect();
            let params = [("colour".to_owned(), colour), ("title".to_owned(), title)];
            self.open_macro("status", &params, false);
            return close + 1;
        }
        if let Some(id) = tag.strip_prefix("<a id=\"").and_then(|r| r.strip_suffix("\">"))
            && let Some(NodeValue::HtmlInline(next)) = children.get(i + 1).map(|n| n.data().value.clone())
            && next.trim() == "</a>"
        {
            self.open_macro("anchor", &[(String::new(), xhtml::decode_entities(id))], false);
            return i + 2;
        }
        if let Some(image) = img_tag(tag) {
            self.html_image(&image);
            return i + 1;
        }
        let name =
            tag.trim_start_matches('<').trim_start_matches('/').trim_end_matches('>').trim_end_matches('/').trim();
        if matches!(name, "br") {
            self.out.push_str("<br />");
        } else if self.trust_html && INLINE_TAGS.contains(&name) {
            self.out.push_str(tag);
        } else {
            escape(html, &mut self.out);
        }
        i + 1
    }

    /// An `<img>` written as HTML: an image by URL (or attachment), with its size.
    fn html_image(&mut self, image: &xhtml::Element) {
        let src = image.attr("src").unwrap_or("");
        self.out.push_str("<ac:image");
        for (from, to) in [("alt", "ac:alt"), ("title", "ac:title"), ("width", "ac:width"), ("height", "ac:height")] {
            if let Some(v) = image.attr(from) {
                self.out.push_str(&format!(" {to}=\""));
                escape(v, &mut self.out);
                self.out.push('"');
            }
        }
        self.out.push('>');
        self.image_source(src);
        self.out.push_str("</ac:image>");
    }

    fn link<'n>(&mut self, node: &'n AstNode<'n>, url: &str) {
        if let Some(rest) = url.strip_prefix("mention:") {
            let (id, by) = rest.split_once("?by=").unwrap_or((rest, "account-id"));
            let attr = match by {
                "userkey" => "ri:userkey",
                "username" => "ri:username",
                _ => "ri:account-id",
            };
            self.out.push_str(&format!("<ac:link><ri:user {attr}=\""));
            escape(id, &mut self.out);
            self.out.push_str("\" /></ac:link>");
            return;
        }
        let has_scheme = url.split_once(':').is_some_and(|(s, _)| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        if !has_scheme && !url.starts_with('#') && !url.starts_with('/') {
            let (path, anchor) = url.split_once('#').unwrap_or((url, ""));
            let path = percent_decode(path);
            if let Some(file) = self.attachment_of(&path) {
                self.out.push_str("<ac:link>");
                self.attachment(file);
                self.link_body(node);
                self.out.push_str("</ac:link>");
                return;
            }
            if let Some((space, title)) = self.ctx.links.page_of(&path) {
                return self.page_link(node, space.as_deref(), &title, anchor, None);
            }
        }
        self.out.push_str("<a href=\"");
        escape(url, &mut self.out);
        self.out.push_str("\">");
        self.inlines(node);
        self.out.push_str("</a>");
    }

    /// The page and file of a link into an attachments folder.
    fn attachment_of(&self, path: &str) -> Option<(Option<PageName>, String)> {
        let (folder, file) = path.rsplit_once('/')?;
        if file.is_empty() {
            return None;
        }
        if folder == self.ctx.attachments {
            return Some((None, file.to_owned()));
        }
        let stem = folder.strip_suffix(".attachments")?;
        let page = self.ctx.links.page_of(&format!("{stem}.md"))?;
        Some((Some(page), file.to_owned()))
    }

    /// What an image shows: an attachment (of this page or another), else a URL.
    fn image_source(&mut self, src: &str) {
        match self.attachment_of(&percent_decode(src)).filter(|_| !src.contains("://")) {
            Some(file) => self.attachment(file),
            None => {
                self.out.push_str("<ri:url ri:value=\"");
                escape(src, &mut self.out);
                self.out.push_str("\" />");
            }
        }
    }

    /// `<ri:attachment>`, with the page it belongs to when not the current one.
    fn attachment(&mut self, (page, file): (Option<PageName>, String)) {
        self.out.push_str("<ri:attachment ri:filename=\"");
        escape(&file, &mut self.out);
        match page {
            Some((space, title)) => {
                self.out.push_str("\"><ri:page ri:content-title=\"");
                escape(&title, &mut self.out);
                if let Some(space) = space {
                    self.out.push_str("\" ri:space-key=\"");
                    escape(&space, &mut self.out);
                }
                self.out.push_str("\" /></ri:attachment>");
            }
            None => self.out.push_str("\" />"),
        }
    }

    fn link_body<'n>(&mut self, node: &'n AstNode<'n>) {
        if node.children().next().is_none() {
            return;
        }
        if node.children().all(|c| matches!(c.data().value, NodeValue::Text(_))) {
            self.out.push_str("<ac:plain-text-link-body>");
            cdata(&text_of(node), &mut self.out);
            self.out.push_str("</ac:plain-text-link-body>");
        } else {
            self.out.push_str("<ac:link-body>");
            self.inlines(node);
            self.out.push_str("</ac:link-body>");
        }
    }

    fn page_link<'n>(
        &mut self,
        node: &'n AstNode<'n>,
        space: Option<&str>,
        title: &str,
        anchor: &str,
        same_as_title: Option<&str>,
    ) {
        self.out.push_str("<ac:link");
        if !anchor.is_empty() {
            self.out.push_str(" ac:anchor=\"");
            escape(anchor, &mut self.out);
            self.out.push('"');
        }
        self.out.push_str("><ri:page ri:content-title=\"");
        escape(title, &mut self.out);
        if let Some(space) = space {
            self.out.push_str("\" ri:space-key=\"");
            escape(space, &mut self.out);
        }
        self.out.push_str("\" />");
        // A wiki link without `|text` shows its target; Confluence shows the title then too.
        let shown = text_of(node);
        if same_as_title.is_none_or(|t| shown != t) {
            self.link_body(node);
        }
        self.out.push_str("</ac:link>");
    }

    fn image<'n>(&mut self, node: &'n AstNode<'n>, url: &str, caption: &str) {
        let alt = text_of(node);
        self.out.push_str("<ac:image");
        if !alt.is_empty() {
            self.out.push_str(" ac:alt=\"");
            escape(&alt, &mut self.out);
            self.out.push('"');
        }
        self.out.push('>');
        self.image_source(url);
        if !caption.is_empty() {
            self.out.push_str("<ac:caption><p>");
            escape(caption, &mut self.out);
            self.out.push_str("</p></ac:caption>");
        }
        self.out.push_str("</ac:image>");
    }
}

/// A lone `<img ...>` tag, read with the XHTML reader (which accepts HTML's `<img>` without `/`).
fn img_tag(html: &str) -> Option<xhtml::Element> {
    let html = html.trim();
    if !html.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("<img")) || html.matches('<').count() != 1 {
        return None;
    }
    match xhtml::parse(html).ok()?.as_slice() {
        [xhtml::Node::Element(e)] if e.name.eq_ignore_ascii_case("img") => Some(e.clone()),
        _ => None,
    }
}

/// Decodes `%20`-style escapes in a relative link (Markdown writers encode spaces).
fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let (b'%', Some(Some(hi)), Some(Some(lo))) =
            (bytes[i], bytes.get(i + 1).map(|&b| hex(b)), bytes.get(i + 2).map(|&b| hex(b)))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}
