//! Storage format to Markdown: blocks and inlines of the parsed XHTML, macros mapped to what
//! reads on GitHub and renders in confluence.do, the rest kept verbatim and reported.

use crate::xhtml::{self, Element, Node};
use crate::{ALERTS, Context, Converted, Loss, ParseError, VERBATIM_LANGUAGE};

/// Converts a storage-format body to Markdown.
pub fn to_markdown(storage: &str, ctx: &Context<'_>) -> Result<Converted, ParseError> {
    let nodes = xhtml::parse(storage)?;
    let mut writer = Writer { ctx, losses: Vec::new() };
    let blocks = writer.blocks(&nodes);
    let mut markdown = blocks.join("\n\n");
    if !markdown.is_empty() {
        markdown.push('\n');
    }
    Ok(Converted { markdown, losses: writer.losses })
}

/// Macros that sit inside a line of text rather than between blocks.
const INLINE_MACROS: &[&str] = &["status", "anchor"];

const BLOCK_ELEMENTS: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "table",
    "blockquote",
    "pre",
    "hr",
    "div",
    "section",
    "details",
    "ac:layout",
    "ac:layout-section",
    "ac:layout-cell",
    "ac:rich-text-body",
    "ac:task-list",
];

fn macro_name(e: &Element) -> Option<&str> {
    matches!(e.name.as_str(), "ac:structured-macro" | "ac:macro").then(|| e.attr("ac:name").unwrap_or(""))
}

fn is_block(node: &Node) -> bool {
    let Node::Element(e) = node else { return false };
    match macro_name(e) {
        Some(name) => !INLINE_MACROS.contains(&name),
        None => BLOCK_ELEMENTS.contains(&e.name.as_str()),
    }
}

fn param(e: &Element, name: &str) -> Option<String> {
    e.elements().find(|p| p.name == "ac:parameter" && p.attr("ac:name") == Some(name)).map(Element::text)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Text,
    TableCell,
    Heading,
}

struct Writer<'a> {
    ctx: &'a Context<'a>,
    losses: Vec<Loss>,
}

impl Writer<'_> {
    fn lose(&mut self, what: String, detail: String) {
        self.losses.push(Loss { what, detail });
    }

    /// The blocks of a container, inline runs between blocks becoming paragraphs.
    fn blocks(&mut self, nodes: &[Node]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut run: Vec<Node> = Vec::new();
        let mut last_list: Option<&str> = None;
        for node in nodes {
            if !is_block(node) {
                run.push(node.clone());
                continue;
            }
            self.paragraph(&run, &mut out);
            run.clear();
            let Node::Element(e) = node else { continue };
            let before = out.len();
            // Two lists in a row would read as one list in Markdown.
            let list = matches!(e.name.as_str(), "ul" | "ol" | "ac:task-list").then_some(e.name.as_str());
            if list.is_some() && list == last_list && !out.is_empty() {
                out.push("<!-- -->".into());
            }
            self.block(e, &mut out);
            if out.len() > before {
                last_list = list;
            }
        }
        self.paragraph(&run, &mut out);
        out
    }

    fn paragraph(&mut self, nodes: &[Node], out: &mut Vec<String>) {
        let mut text = String::new();
        self.inline(nodes, &mut text, Place::Text);
        let text = tidy_paragraph(&text);
        if !text.is_empty() {
            out.push(text);
        }
    }

    fn block(&mut self, e: &Element, out: &mut Vec<String>) {
        if let Some(name) = macro_name(e) {
            return self.macro_block(name, e, out);
        }
        match e.name.as_str() {
            "p" => self.paragraph(&e.children, out),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let level = usize::from(e.name.as_bytes()[1] - b'0');
                let mut text = String::new();
                self.inline(&e.children, &mut text, Place::Heading);
                let text = text.trim();
                if !text.is_empty() {
                    out.push(format!("{} {}", "#".repeat(level), escape_line_start(text)));
                }
            }
            "ul" | "ol" => {
                let list = self.list(e);
                if !list.is_empty() {
                    out.push(list);
                }
            }
            "ac:task-list" => {
                let list = self.task_list(e);
                if !list.is_empty() {
                    out.push(list);
                }
            }
            "table" => out.push(self.table(e)),
            "blockquote" => {
                let inner = self.blocks(&e.children).join("\n\n");
                if !inner.is_empty() {
                    out.push(prefix_lines(&inner, "> ", ">"));
                }
            }
            "pre" => out.push(fence("", &e.text())),
            "hr" => out.push("---".into()),
            _ => out.extend(self.blocks(&e.children)),
        }
    }

    fn body_blocks(&mut self, e: &Element) -> String {
        match e.child("ac:rich-text-body") {
            Some(body) => self.blocks(&body.children).join("\n\n"),
            None => e.child("ac:plain-text-body").map(|b| escape_text(&b.text(), Place::Text)).unwrap_or_default(),
        }
    }

    fn macro_block(&mut self, name: &str, e: &Element, out: &mut Vec<String>) {
        match name {
            "code" | "noformat" => {
                let body = e.child("ac:plain-text-body").map(Element::text).unwrap_or_default();
                let mut info = param(e, "language").unwrap_or_default().trim().to_owned();
                if let Some(title) = param(e, "title").filter(|t| !t.trim().is_empty()) {
                    if info.is_empty() {
                        info.push_str("text");
                    }
                    info.push_str(&format!(" title=\"{}\"", title.trim().replace('"', "'")));
                }
                out.push(fence(&info, &body));
            }
            "info" | "tip" | "note" | "warning" => {
                let alert = ALERTS.iter().find(|(m, _)| *m == name).map_or("NOTE", |(_, a)| *a);
                let title = param(e, "title").map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
                let body = self.body_blocks(e);
                let mut text = format!("> [!{alert}]");
                if let Some(title) = title {
                    text.push(' ');
                    text.push_str(&escape_text(&title, Place::Heading));
                }
                if !body.is_empty() {
                    text.push('\n');
                    text.push_str(&prefix_lines(&body, "> ", ">"));
                }
                out.push(text);
            }
            "panel" => {
                let open = format!("{{% panel{} %}}", tag_args(e));
                let body = self.body_blocks(e);
                out.push(if body.is_empty() {
                    format!("{open}\n\n{{% /panel %}}")
                } else {
                    format!("{open}\n\n{body}\n\n{{% /panel %}}")
                });
            }
            "expand" => {
                let title = param(e, "title").unwrap_or_else(|| "Click here to expand...".into());
                let mut summary = String::new();
                xhtml::escape(title.trim(), &mut summary);
                let body = self.body_blocks(e);
                out.push(format!("<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"));
            }
            "toc" | "children" => out.push(format!("{{% {name}{} %}}", tag_args(e))),
            "drawio" | "gliffy" | "inc-drawio" if self.ctx.links.diagram_previews() => {
                // The diagram stays an attachment of the page; its preview image shows it.
                let diagram = param(e, "diagramName").or_else(|| param(e, "name")).map(|n| n.trim().to_owned());
                let Some(diagram) = diagram.filter(|d| !d.is_empty()) else {
                    return self.verbatim_block(name, e, out);
                };
                let folder = &self.ctx.attachments;
                let tool = if name == "gliffy" { "Gliffy" } else { "draw.io" };
                let alt = escape_text(&diagram, Place::Text);
                out.push(format!(
                    "![{alt}]({})\\
[{alt} ({tool} diagram)]({})",
                    destination(&format!("{folder}/{diagram}.png")),
                    destination(&format!("{folder}/{diagram}"))
                ));
                self.lose(
                    format!("macro:{name}"),
                    format!(
                        "the {tool} diagram `{diagram}` is shown as its preview image, with a link to the diagram file"
                    ),
                );
            }
            "jira" => match self.issue_link(e) {
                Some(link) => out.push(link),
                None => self.verbatim_block(name, e, out),
            },
            _ => self.verbatim_block(name, e, out),
        }
    }

    /// A Jira issue macro as a link, when it names one issue and the Jira site is known.
    fn issue_link(&self, e: &Element) -> Option<String> {
        let key = param(e, "key").map(|k| k.trim().to_owned()).filter(|k| {
            k.split_once('-')
                .is_some_and(|(p, n)| !p.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })?;
        let url = self.ctx.links.issue_url(&key)?;
        Some(format!("[{key}]({})", destination(&url)))
    }

    fn verbatim_block(&mut self, name: &str, e: &Element, out: &mut Vec<String>) {
        let mut raw = String::new();
        xhtml::serialize(std::slice::from_ref(&Node::Element(e.clone())), &mut raw);
        self.lose(format!("macro:{name}"), "kept verbatim in a `confluence` code block".into());
        out.push(fence(VERBATIM_LANGUAGE, &raw));
    }

    fn list(&mut self, e: &Element) -> String {
        let ordered = e.name == "ol";
        let start: u64 = e.attr("start").and_then(|s| s.trim().parse().ok()).unwrap_or(1);
        let items: Vec<Vec<String>> =
            e.elements().filter(|li| li.name == "li").map(|li| self.blocks(&li.children)).collect();
        let loose = items.iter().any(|blocks| blocks.iter().skip(1).any(|b| !is_list_block(b)));
        let mut out = Vec::new();
        for (i, blocks) in (0u64..).zip(items) {
            let marker = if ordered { format!("{}. ", start.saturating_add(i)) } else { "- ".into() };
            out.push(list_item(&marker, &blocks, loose));
        }
        out.join(if loose { "\n\n" } else { "\n" })
    }

    fn task_list(&mut self, e: &Element) -> String {
        let mut out = Vec::new();
        for task in e.elements().filter(|t| t.name == "ac:task") {
            let done = task.child("ac:task-status").is_some_and(|s| s.text().trim() == "complete");
            let blocks = task.child("ac:task-body").map(|b| self.blocks(&b.children)).unwrap_or_default();
            out.push(list_item(if done { "- [x] " } else { "- [ ] " }, &blocks, false));
        }
        out.join("\n")
    }

    fn table(&mut self, e: &Element) -> String {
        let mut rows: Vec<&Element> = Vec::new();
        for child in e.elements() {
            match child.name.as_str() {
                "tr" => rows.push(child),
                "thead" | "tbody" | "tfoot" => rows.extend(child.elements().filter(|r| r.name == "tr")),
                _ => {}
            }
        }
        let cells = |row: &Element| -> Vec<Element> {
            row.elements().filter(|c| c.name == "th" || c.name == "td").cloned().collect()
        };
        let grid: Vec<Vec<Element>> = rows.iter().map(|r| cells(r)).collect();
        let header = grid.first().is_some_and(|r| !r.is_empty() && r.iter().all(|c| c.name == "th"));
        let width = grid.first().map_or(0, Vec::len);
        let simple = header
            && grid.iter().all(|r| r.len() == width)
            && grid.iter().flatten().all(|c| {
                let spans = ["rowspan", "colspan"].iter().all(|a| c.attr(a).is_none_or(|v| v.trim() == "1"));
                let blocks = c.children.iter().filter(|n| is_block(n)).count();
                let only_p = c.elements().all(|b| !is_block(&Node::Element(b.clone())) || b.name == "p");
                spans && blocks <= 1 && only_p
            });
        if simple {
            let mut lines = Vec::new();
            for (i, row) in grid.iter().enumerate() {
                let texts: Vec<String> = row
                    .iter()
                    .map(|c| {
                        let mut text = String::new();
                        self.inline(&c.children, &mut text, Place::TableCell);
                        tidy_paragraph(&text).replace('\n', " ")
                    })
                    .collect();
                lines.push(format!("| {} |", texts.join(" | ")));
                if i == 0 {
                    lines.push(format!("|{}", " --- |".repeat(width)));
                }
            }
            return lines.join("\n");
        }
        // Merged cells, block content or no header row: an HTML table with Markdown in its
        // cells, which GitHub and confluence.do both render.
        let mut out = String::from("<table>\n<tbody>\n");
        for row in &grid {
            out.push_str("<tr>\n");
            for cell in row {
                out.push('<');
                out.push_str(&cell.name);
                for attr in ["rowspan", "colspan"] {
                    if let Some(v) = cell.attr(attr).filter(|v| v.trim() != "1") {
                        out.push_str(&format!(" {attr}=\""));
                        xhtml::escape(v.trim(), &mut out);
                        out.push('"');
                    }
                }
                out.push('>');
                let inner = self.blocks(&cell.children).join("\n\n");
                if !inner.is_empty() {
                    out.push_str("\n\n");
                    out.push_str(&inner);
                    out.push_str("\n\n");
                }
                out.push_str(&format!("</{}>\n", cell.name));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>");
        out
    }

    fn inline(&mut self, nodes: &[Node], out: &mut String, place: Place) {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(&escape_text(&collapse_whitespace(t), place)),
                Node::CData(t) => out.push_str(&escape_text(&collapse_whitespace(t), place)),
                Node::Element(e) => self.inline_element(e, out, place),
            }
        }
    }

    fn wrap(&mut self, e: &Element, out: &mut String, place: Place, open: &str, close: &str) {
        let mut inner = String::new();
        self.inline(&e.children, &mut inner, place);
        let trimmed = inner.trim_matches(' ');
        if trimmed.is_empty() {
            out.push_str(&inner);
            return;
        }
        let lead = &inner[..inner.len() - inner.trim_start_matches(' ').len()];
        let trail = &inner[inner.trim_end_matches(' ').len()..];
        out.push_str(lead);
        out.push_str(open);
        out.push_str(trimmed);
        out.push_str(close);
        out.push_str(trail);
    }

    fn inline_element(&mut self, e: &Element, out: &mut String, place: Place) {
        if let Some(name) = macro_name(e) {
            return self.inline_macro(name, e, out, place);
        }
        match e.name.as_str() {
            "strong" | "b" => self.wrap(e, out, place, "**", "**"),
            "em" | "i" | "cite" => self.wrap(e, out, place, "*", "*"),
            "s" | "del" | "strike" => self.wrap(e, out, place, "~~", "~~"),
            "u" | "ins" => self.wrap(e, out, place, "<u>", "</u>"),
            "sub" => self.wrap(e, out, place, "<sub>", "</sub>"),
            "sup" => self.wrap(e, out, place, "<sup>", "</sup>"),
            "kbd" => self.wrap(e, out, place, "<kbd>", "</kbd>"),
            "code" | "tt" => out.push_str(&code_span(&e.text())),
            "br" => out.push_str(match place {
                Place::Text => "\\\n",
                Place::TableCell => "<br>",
                Place::Heading => " ",
            }),
            "span" if e.attr("style").is_some_and(|s| s.contains("line-through")) => {
                self.wrap(e, out, place, "~~", "~~");
            }
            "a" => match e.attr("href") {
                Some(href) => {
                    let mut text = String::new();
                    self.inline(&e.children, &mut text, place);
                    let text = if text.trim().is_empty() { escape_text(href, place) } else { text };
                    out.push_str(&format!("[{}]({})", text.trim(), destination(href)));
                }
                None => {
                    if let Some(id) = e.attr("id").or_else(|| e.attr("name")) {
                        out.push_str(&anchor(id));
                    }
                    self.inline(&e.children, out, place);
                }
            },
            "img" => {
                let alt = e.attr("alt").unwrap_or("");
                out.push_str(&format!("![{}]({})", escape_text(alt, place), destination(e.attr("src").unwrap_or(""))));
            }
            "time" => out.push_str(&escape_text(e.attr("datetime").unwrap_or(""), place)),
            "ac:link" => self.link(e, out, place),
            "ac:image" => self.image(e, out, place),
            "ac:emoticon" => {
                let name = e.attr("ac:name").unwrap_or("");
                match emoji(name) {
                    Some(emoji) => out.push_str(emoji),
                    None => out.push_str(&format!(":{}:", escape_text(name, place))),
                }
            }
            "ac:placeholder" | "ac:parameter" => {}
            "ac:inline-comment-marker" | "ac:rich-text-body" | "ac:link-body" => self.inline(&e.children, out, place),
            name if name.starts_with("ac:") || name.starts_with("ri:") => self.verbatim_inline(e, name, out, place),
            // Everything else (span, font, small, abbr...) keeps its text.
            _ => self.inline(&e.children, out, place),
        }
    }

    fn verbatim_inline(&mut self, e: &Element, what: &str, out: &mut String, place: Place) {
        let mut raw = String::new();
        xhtml::serialize(std::slice::from_ref(&Node::Element(e.clone())), &mut raw);
        let mut attr = String::new();
        xhtml::escape(&raw, &mut attr);
        // What the reader sees in its place: the macro's body, else its parameters.
        let shown = match e.child("ac:rich-text-body").or_else(|| e.child("ac:plain-text-body")) {
            Some(body) => body.text(),
            None if macro_name(e) == Some("jira") => {
                param(e, "key").or_else(|| param(e, "jqlQuery")).unwrap_or_default()
            }
            None => e.elements().filter(|p| p.name == "ac:parameter").map(Element::text).collect::<Vec<_>>().join(" "),
        };
        let text = escape_text(&collapse_whitespace(&shown), place);
        out.push_str(&format!("<span data-confluence=\"{attr}\">{}</span>", text.trim()));
        self.lose(what.to_owned(), "kept verbatim in a `<span data-confluence>`".into());
    }

    fn inline_macro(&mut self, name: &str, e: &Element, out: &mut String, place: Place) {
        match name {
            "status" => {
                let colour = param(e, "colour").or_else(|| param(e, "color")).unwrap_or_else(|| "Grey".into());
                let title = param(e, "title").unwrap_or_default();
                let mut attr = String::new();
                xhtml::escape(colour.trim(), &mut attr);
                out.push_str(&format!("<span data-status=\"{attr}\">{}</span>", escape_text(title.trim(), place)));
            }
            "anchor" => {
                let id = param(e, "").or_else(|| e.elements().find(|p| p.name == "ac:parameter").map(Element::text));
                if let Some(id) = id {
                    out.push_str(&anchor(id.trim()));
                }
            }
            "jira" => match self.issue_link(e) {
                Some(link) => out.push_str(&link),
                // A query of issues (a table in Confluence), or no known Jira site: kept.
                None => self.verbatim_inline(e, "macro:jira", out, place),
            },
            _ => self.verbatim_inline(e, &format!("macro:{name}"), out, place),
        }
    }

    fn link(&mut self, e: &Element, out: &mut String, place: Place) {
        let mut text = String::new();
        if let Some(body) = e.child("ac:link-body") {
            self.inline(&body.children, &mut text, place);
        } else if let Some(body) = e.child("ac:plain-text-link-body") {
            text = escape_text(&collapse_whitespace(&body.text()), place);
        }
        let text = text.trim().to_owned();
        let anchor = e.attr("ac:anchor").map(|a| format!("#{a}")).unwrap_or_default();
        let links = self.ctx.links;
        if let Some(page) = e.child("ri:page").or_else(|| e.child("ri:blog-post")) {
            let title = page.attr("ri:content-title").unwrap_or("");
            let space = page.attr("ri:space-key");
            match links.page_path(space, title) {
                Some(path) => {
                    let shown = if text.is_empty() { escape_text(title, place) } else { text };
                    out.push_str(&format!("[{shown}]({})", destination(&format!("{path}{anchor}"))));
                }
                None => {
                    let target = match space {
                        Some(key) => format!("{key}:{title}"),
                        None => title.to_owned(),
                    };
                    if text.is_empty() || text == escape_text(title, place) {
                        out.push_str(&format!("[[{target}{anchor}]]"));
                    } else {
                        out.push_str(&format!("[[{target}{anchor}|{text}]]"));
                    }
                }
            }
        } else if let Some(att) = e.child("ri:attachment") {
            let file = att.attr("ri:filename").unwrap_or("");
            let path = self.attachment_path(att, file);
            let shown = if text.is_empty() { escape_text(file, place) } else { text };
            out.push_str(&format!("[{shown}]({})", destination(&path)));
        } else if let Some(user) = e.child("ri:user") {
            let (attr, id) = ["ri:account-id", "ri:userkey", "ri:username"]
                .iter()
                .find_map(|a| user.attr(a).map(|v| (*a, v)))
                .unwrap_or(("ri:account-id", ""));
            let name = links.user_name(id).unwrap_or_else(|| id.to_owned());
            let shown = if text.is_empty() { format!("@{}", escape_text(&name, place)) } else { text };
            let query = if attr == "ri:account-id" { String::new() } else { format!("?by={}", &attr[3..]) };
            out.push_str(&format!("[{shown}]({})", destination(&format!("mention:{id}{query}"))));
        } else if let Some(url) = e.child("ri:url") {
            let href = url.attr("ri:value").unwrap_or("");
            let shown = if text.is_empty() { escape_text(href, place) } else { text };
            out.push_str(&format!("[{shown}]({})", destination(href)));
        } else if !anchor.is_empty() {
            let shown = if text.is_empty() { escape_text(&anchor[1..], place) } else { text };
            out.push_str(&format!("[{shown}]({})", destination(&anchor)));
        } else {
            out.push_str(&text);
        }
    }

    fn attachment_path(&self, att: &Element, file: &str) -> String {
        if let Some(page) = att.child("ri:page") {
            let title = page.attr("ri:content-title").unwrap_or("");
            if let Some(path) = self.ctx.links.page_path(page.attr("ri:space-key"), title) {
                let stem = path.strip_suffix(".md").unwrap_or(&path);
                return format!("{stem}.attachments/{file}");
            }
        }
        format!("{}/{file}", self.ctx.attachments)
    }

    fn image(&mut self, e: &Element, out: &mut String, place: Place) {
        let alt = e.attr("ac:alt").or_else(|| e.attr("ac:title")).unwrap_or("");
        let src = if let Some(att) = e.child("ri:attachment") {
            self.attachment_path(att, att.attr("ri:filename").unwrap_or(""))
        } else if let Some(url) = e.child("ri:url") {
            url.attr("ri:value").unwrap_or("").to_owned()
        } else {
            self.verbatim_inline(e, "element:ac:image", out, place);
            return;
        };
        let caption = e.child("ac:caption").map(Element::text).or_else(|| e.attr("ac:title").map(str::to_owned));
        let title = match caption.map(|c| collapse_whitespace(&c).trim().to_owned()).filter(|c| !c.is_empty()) {
            Some(c) => format!(" \"{}\"", c.replace('\\', "\\\\").replace('"', "\\\"")),
            None => String::new(),
        };
        let size: Vec<(&str, &str)> = [("width", "ac:width"), ("height", "ac:height")]
            .iter()
            .filter_map(|(h, a)| e.attr(a).map(|v| (*h, v)))
            .collect();
        if !size.is_empty() && src.contains("://") {
            // A sized image by URL keeps its size as HTML, which GitHub and confluence.do render.
            let mut tag = String::from("<img src=\"");
            xhtml::escape(&src, &mut tag);
            tag.push('"');
            for (k, v) in [("alt", Some(alt))].into_iter().chain(size.iter().map(|(k, v)| (*k, Some(*v)))) {
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    tag.push_str(&format!(" {k}=\""));
                    xhtml::escape(v, &mut tag);
                    tag.push('"');
                }
            }
            tag.push_str(" />");
            out.push_str(&tag);
            return;
        }
        out.push_str(&format!("![{}]({}{title})", escape_text(alt, place), destination(&src)));
    }
}

/// A macro's parameters as tag arguments: ` key="value"`.
fn tag_args(e: &Element) -> String {
    let mut out = String::new();
    for p in e.elements().filter(|p| p.name == "ac:parameter") {
        if let Some(k) = p.attr("ac:name").filter(|k| !k.is_empty() && k.chars().all(char::is_alphanumeric)) {
            out.push_str(&format!(" {k}=\"{}\"", collapse_whitespace(&p.text()).trim().replace('"', "'")));
        }
    }
    out
}

fn is_list_block(block: &str) -> bool {
    let first = block.trim_start();
    first.starts_with("- ") || first.starts_with("<!-- -->") || {
        let digits = first.chars().take_while(char::is_ascii_digit).count();
        digits > 0 && first[digits..].starts_with(". ")
    }
}

fn list_item(marker: &str, blocks: &[String], loose: bool) -> String {
    let indent = " ".repeat(marker.chars().count());
    let body = blocks.join(if loose { "\n\n" } else { "\n" });
    if body.is_empty() {
        return marker.trim_end().to_owned();
    }
    let mut out = String::from(marker);
    for (i, line) in body.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&indent);
            }
        }
        out.push_str(line);
    }
    out
}

fn prefix_lines(text: &str, prefix: &str, empty: &str) -> String {
    text.split('\n')
        .map(|l| if l.is_empty() { empty.to_owned() } else { format!("{prefix}{l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fenced code block long enough for its contents.
fn fence(info: &str, body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let ticks = "`".repeat((longest + 1).max(3));
    let body = body.strip_suffix('\n').unwrap_or(body);
    format!("{ticks}{info}\n{body}\n{ticks}")
}

fn code_span(text: &str) -> String {
    let text = collapse_whitespace(text);
    if text.is_empty() {
        return String::new();
    }
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let ticks = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || (text.starts_with(' ') && text.ends_with(' ')) {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

fn anchor(id: &str) -> String {
    let mut attr = String::new();
    xhtml::escape(id, &mut attr);
    format!("<a id=\"{attr}\"></a>")
}

/// A link destination, in angle brackets when it has spaces or parentheses.
fn destination(href: &str) -> String {
    if href.is_empty() {
        return "<>".into();
    }
    if href.contains([' ', '(', ')', '<', '>']) || href.chars().any(char::is_control) {
        let clean: String = href.chars().filter(|c| !c.is_control()).collect();
        return format!("<{}>", clean.replace('<', "%3C").replace('>', "%3E"));
    }
    href.to_owned()
}

fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            space = true;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    if space {
        out.push(' ');
    }
    out
}

/// Escapes what Markdown would read as syntax inside a line.
fn escape_text(text: &str, place: Place) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let escape = match c {
            '\\' | '`' | '*' | '[' | ']' | '~' => true,
            '_' => !(prev.is_some_and(char::is_alphanumeric) && next.is_some_and(char::is_alphanumeric)),
            '<' => next.is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')),
            '&' => next.is_some_and(|n| n.is_ascii_alphanumeric() || n == '#'),
            '|' => place == Place::TableCell,
            '!' => next == Some('['),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes the first character of a line where Markdown would read a block marker.
fn escape_line_start(line: &str) -> String {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && digits <= 9 && (line[digits..].starts_with(". ") || line[digits..].starts_with(") ")) {
        return format!("{}\\{}", &line[..digits], &line[digits..]);
    }
    if digits > 0 && (line[digits..] == *"." || line[digits..] == *")") {
        return format!("{}\\{}", &line[..digits], &line[digits..]);
    }
    match line.chars().next() {
        Some('#' | '>' | '-' | '+' | '=' | '|') => format!("\\{line}"),
        Some('{') if line.starts_with("{%") => format!("\\{line}"),
        _ => line.to_owned(),
    }
}

/// Trims a paragraph's lines and escapes block markers at their starts.
fn tidy_paragraph(text: &str) -> String {
    let mut text = text;
    loop {
        let trimmed = text.trim_matches(' ');
        let trimmed = trimmed.strip_suffix("\\\n").or_else(|| trimmed.strip_prefix("\\\n")).unwrap_or(trimmed);
        if trimmed.len() == text.len() {
            break;
        }
        text = trimmed;
    }
    text.split('\n').map(|l| escape_line_start(l.trim_start_matches(' '))).collect::<Vec<_>>().join("\n")
}

fn emoji(name: &str) -> Option<&'static str> {
    Some(match name {
        "smile" => "🙂",
        "sad" => "🙁",
        "cheeky" => "😛",
        "laugh" => "😀",
        "wink" => "😉",
        "thumbs-up" => "👍",
        "thumbs-down" => "👎",
        "information" => "ℹ️",
        "tick" => "✅",
        "cross" => "❌",
        "warning" => "⚠️",
        "plus" => "➕",
        "minus" => "➖",
        "question" => "❓",
        "light-on" => "💡",
        "light-off" => "🔦",
        "yellow-star" | "star_yellow" => "⭐",
        "red-star" | "star_red" => "🌟",
        "green-star" | "star_green" => "✳️",
        "blue-star" | "star_blue" => "💠",
        "heart" => "❤️",
        "broken-heart" => "💔",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(storage: &str) -> String {
        to_markdown(storage, &Context::standalone()).expect("converts").markdown
    }

    #[test]
    fn blocks_and_inlines() {
        let cases = [
            (
                "<h2>Title <em>here</em></h2><p>Some <strong>bold</strong> and <code>x</code>.</p>",
                "## Title *here*\n\nSome **bold** and `x`.\n",
            ),
            ("<p>a<br/>b</p><hr/><p>1. not a list * star</p>", "a\\\nb\n\n---\n\n1\\. not a list \\* star\n"),
            ("<ul><li>one<ul><li>nested</li></ul></li><li><p>two</p></li></ul>", "- one\n  - nested\n- two\n"),
            ("<ol start=\"3\"><li>c</li><li>d</li></ol>", "3. c\n4. d\n"),
            ("<ul><li>a</li></ul><ul><li>b</li></ul>", "- a\n\n<!-- -->\n\n- b\n"),
            ("<blockquote><p>q</p></blockquote>", "> q\n"),
            (
                "<p><a href=\"https://x.org/a b\">link</a> <strong> sp </strong>x</p>",
                "[link](<https://x.org/a b>)  **sp** x\n",
            ),
            (
                "<table><tbody><tr><th>a</th><th>b|c</th></tr><tr><td>1</td><td><p>2</p></td></tr></tbody></table>",
                "| a | b\\|c |\n| --- | --- |\n| 1 | 2 |\n",
            ),
            ("<p>snake_case _x_ &lt;tag&gt;</p>", "snake_case \\_x\\_ \\<tag>\n"),
        ];
        for (input, want) in cases {
            assert_eq!(md(input), want, "{input}");
        }
    }

    #[test]
    fn macros_map_to_markdown() {
        let cases = [
            (
                "<ac:structured-macro ac:name=\"code\"><ac:parameter ac:name=\"language\">rust</ac:parameter>\
              <ac:plain-text-body><![CDATA[fn main() {}\n]]></ac:plain-text-body></ac:structured-macro>",
                "```rust\nfn main() {}\n```\n",
            ),
            (
                "<ac:structured-macro ac:name=\"info\"><ac:rich-text-body><p>Read me.</p></ac:rich-text-body>\
              </ac:structured-macro>",
                "> [!NOTE]\n> Read me.\n",
            ),
            (
                "<ac:structured-macro ac:name=\"warning\"><ac:parameter ac:name=\"title\">Careful</ac:parameter>\
              <ac:rich-text-body><p>a</p><p>b</p></ac:rich-text-body></ac:structured-macro>",
                "> [!CAUTION] Careful\n> a\n>\n> b\n",
            ),
            (
                "<ac:structured-macro ac:name=\"expand\"><ac:parameter ac:name=\"title\">More</ac:parameter>\
              <ac:rich-text-body><p>hidden</p></ac:rich-text-body></ac:structured-macro>",
                "<details>\n<summary>More</summary>\n\nhidden\n\n</details>\n",
            ),
            (
                "<p><ac:structured-macro ac:name=\"status\"><ac:parameter ac:name=\"colour\">Green</ac:parameter>\
              <ac:parameter ac:name=\"title\">DONE</ac:parameter></ac:structured-macro></p>",
                "<span data-status=\"Green\">DONE</span>\n",
            ),
            (
                "<ac:structured-macro ac:name=\"toc\"><ac:parameter ac:name=\"maxLevel\">2</ac:parameter></ac:structured-macro>",
                "{% toc maxLevel=\"2\" %}\n",
            ),
            (
                "<ac:task-list><ac:task><ac:task-status>complete</ac:task-status><ac:task-body>done</ac:task-body></ac:task>\
              <ac:task><ac:task-status>incomplete</ac:task-status><ac:task-body>todo</ac:task-body></ac:task></ac:task-list>",
                "- [x] done\n- [ ] todo\n",
            ),
            (
                "<p><ac:link><ri:page ri:content-title=\"Other Page\" /></ac:link> and \
              <ac:link><ri:page ri:content-title=\"Other\" /><ac:plain-text-link-body><![CDATA[see]]></ac:plain-text-link-body></ac:link></p>",
                "[[Other Page]] and [[Other|see]]\n",
            ),
            (
                "<p><ac:image ac:alt=\"d\"><ri:attachment ri:filename=\"my diagram.png\" /></ac:image></p>",
                "![d](<attachments/my diagram.png>)\n",
            ),
            (
                "<p><ac:link><ri:user ri:account-id=\"557058:abc\" /></ac:link> <ac:emoticon ac:name=\"tick\" /></p>",
                "[@557058:abc](mention:557058:abc) ✅\n",
            ),
            (
                "<ac:layout><ac:layout-section ac:type=\"two_equal\"><ac:layout-cell><p>Left</p></ac:layout-cell>\
                 <ac:layout-cell><p>Right</p></ac:layout-cell></ac:layout-section></ac:layout>",
                "Left\n\nRight\n",
            ),
            (
                "<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status>\
                 <ac:task-body>Ship it <ac:link><ri:user ri:account-id=\"u1\" /></ac:link> <time datetime=\"2024-05-01\" /></ac:task-body></ac:task></ac:task-list>",
                "- [ ] Ship it [@u1](mention:u1) 2024-05-01\n",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(md(input), want, "{input}");
        }
    }

    #[test]
    fn imports_link_jira_issues_and_show_diagram_previews() {
        struct Jira;
        impl crate::Links for Jira {
            fn page_path(&self, _: Option<&str>, _: &str) -> Option<String> {
                None
            }
            fn page_of(&self, _: &str) -> Option<(Option<String>, String)> {
                None
            }
            fn issue_url(&self, key: &str) -> Option<String> {
                Some(format!("https://acme.atlassian.net/browse/{key}"))
            }
            fn diagram_previews(&self) -> bool {
                true
            }
        }
        let input = "<p>See <ac:structured-macro ac:name=\"jira\"><ac:parameter ac:name=\"server\">System JIRA</ac:parameter>\
                     <ac:parameter ac:name=\"key\">DOC-42</ac:parameter></ac:structured-macro>.</p>";
        let ctx = Context { attachments: "a".into(), links: &Jira };
        let out = to_markdown(input, &ctx).expect("converts");
        assert_eq!(out.markdown, "See [DOC-42](https://acme.atlassian.net/browse/DOC-42).\n");
        assert!(out.losses.is_empty());
        let out = to_markdown(input, &Context::standalone()).expect("converts");
        assert!(out.markdown.contains("data-confluence"), "no Jira site known: kept verbatim, {}", out.markdown);
        assert_eq!(out.losses.len(), 1, "and reported");
        let drawio = "<ac:structured-macro ac:name=\"drawio\"><ac:parameter ac:name=\"diagramName\">flow chart</ac:parameter></ac:structured-macro>";
        let out = to_markdown(drawio, &ctx).expect("converts");
        assert_eq!(
            out.markdown,
            "![flow chart](<a/flow chart.png>)\\\n[flow chart (draw.io diagram)](<a/flow chart>)\n"
        );
        let out = to_markdown(drawio, &Context::standalone()).expect("converts");
        assert!(out.markdown.starts_with("```confluence"), "the API keeps the macro: {}", out.markdown);
        let query = "<p><ac:structured-macro ac:name=\"jira\"><ac:parameter ac:name=\"jqlQuery\">project = DOC</ac:parameter></ac:structured-macro></p>";
        let out = to_markdown(query, &ctx).expect("converts");
        assert!(out.markdown.contains("data-confluence"), "a query is kept verbatim: {}", out.markdown);
    }

    #[test]
    fn unknown_macros_are_kept_and_reported() {
        let input = "<ac:structured-macro ac:name=\"gliffy\"><ac:parameter ac:name=\"lightbox\">1</ac:parameter></ac:structured-macro>\
                     <p>x <ac:structured-macro ac:name=\"mystery\"><ac:parameter ac:name=\"a\">1</ac:parameter></ac:structured-macro></p>";
        let out = to_markdown(input, &Context::standalone()).expect("converts");
        assert!(
            out.markdown.starts_with("```confluence\n<ac:structured-macro ac:name=\"gliffy\">"),
            "{}",
            out.markdown
        );
        assert!(out.markdown.contains("<span data-confluence=\"&lt;ac:structured-macro"), "{}", out.markdown);
        let what: Vec<&str> = out.losses.iter().map(|l| l.what.as_str()).collect();
        assert_eq!(what, ["macro:gliffy", "macro:mystery"]);
    }
}
