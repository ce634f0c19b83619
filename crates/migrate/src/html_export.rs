//! The Confluence HTML space export: a zip (or folder) with `KEY/index.html` (the space and its
//! page tree), one `Title_ID.html` per page (breadcrumbs, title, who made it and when, the
//! rendered body in `#main-content`, an attachments section, comments) and the attachments under
//! `attachments/<page id>/`.
//!
//! The export holds rendered HTML, not storage format, and only the current versions. The
//! rendered macros Confluence writes (panels, code blocks, expands, status lozenges, task
//! lists, emoticons, embedded images, page and attachment links) are turned back into their
//! storage form, so one converter writes the Markdown for every source.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use cdo_storage::xhtml::{self, Element, Node};

use crate::MigrateError;
use crate::model::{Attachment, Blob, Comment, Content, Kind, Person, SpaceData, Version, When};

/// The files of an export, by their path inside it.
struct Files {
    root: Root,
    names: Vec<String>,
}

enum Root {
    Zip(PathBuf, std::cell::RefCell<zip::ZipArchive<std::fs::File>>),
    Folder(PathBuf),
}

impl Files {
    fn open(path: &Path) -> Result<Files, MigrateError> {
        if path.is_dir() {
            let mut names = Vec::new();
            walk(path, path, &mut names, 0)?;
            return Ok(Files { root: Root::Folder(path.to_path_buf()), names });
        }
        let file = std::fs::File::open(path).map_err(|e| MigrateError::io(path, e))?;
        let zip = zip::ZipArchive::new(file).map_err(|e| MigrateError::Export(format!("{}: {e}", path.display())))?;
        let names = zip.file_names().filter_map(Result::ok).map(std::borrow::Cow::into_owned).collect();
        Ok(Files { root: Root::Zip(path.to_path_buf(), std::cell::RefCell::new(zip)), names })
    }

    fn read(&self, name: &str) -> Result<String, MigrateError> {
        let bytes = match &self.root {
            Root::Folder(dir) => std::fs::read(dir.join(name)).map_err(|e| MigrateError::io(&dir.join(name), e))?,
            Root::Zip(path, zip) => {
                let mut zip = zip.borrow_mut();
                let mut entry = zip
                    .by_name(name)
                    .map_err(|e| MigrateError::Export(format!("{name} in {}: {e}", path.display())))?;
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(|e| MigrateError::io(path, e))?;
                bytes
            }
        };
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn blob(&self, name: &str) -> Blob {
        if !self.names.iter().any(|n| n == name) {
            return Blob::Missing(format!("{name} is not in the export"));
        }
        match &self.root {
            Root::Folder(dir) => Blob::File(dir.join(name)),
            Root::Zip(path, _) => Blob::Zip { archive: path.clone(), entry: name.to_owned() },
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>, depth: usize) -> Result<(), MigrateError> {
    if depth > 8 {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| MigrateError::io(dir, e))? {
        let entry = entry.map_err(|e| MigrateError::io(dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out, depth + 1)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// Whether the zip or folder at `path` is an HTML export (an `index.html` beside pages).
pub fn is_html_export(path: &Path) -> bool {
    Files::open(path).is_ok_and(|f| f.names.iter().any(|n| n == "index.html" || n.ends_with("/index.html")))
}

/// A tag or text of HTML, read leniently (any case, unclosed tags, unquoted attributes).
#[derive(Debug, PartialEq)]
enum Token<'a> {
    Open { name: String, attrs: Vec<(String, String)> },
    Close(String),
    Text(&'a str),
}

fn tokens(html: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let Some(lt) = html[i..].find('<').map(|p| p + i) else {
            out.push(Token::Text(&html[i..]));
            break;
        };
        if lt > i {
            out.push(Token::Text(&html[i..lt]));
        }
        if html[lt..].starts_with("<!--") {
            i = html[lt..].find("-->").map_or(bytes.len(), |p| lt + p + 3);
            continue;
        }
        let Some(gt) = html[lt..].find('>').map(|p| p + lt) else { break };
        let inner = html[lt + 1..gt].trim_end_matches('/');
        i = gt + 1;
        if let Some(name) = inner.strip_prefix('/') {
            out.push(Token::Close(name.trim().to_ascii_lowercase()));
            continue;
        }
        if inner.starts_with('!') || inner.starts_with('?') {
            continue;
        }
        let name_end = inner.find(|c: char| c.is_whitespace()).unwrap_or(inner.len());
        let name = inner[..name_end].to_ascii_lowercase();
        out.push(Token::Open { name, attrs: attributes(&inner[name_end..]) });
    }
    out
}

fn attributes(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let end = rest.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(rest.len());
        let name = rest[..end].to_ascii_lowercase();
        rest = rest[end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let close = after[1..].find(q).map_or(after.len(), |p| p + 1);
                    let v = &after[1..close];
                    rest = after.get(close + 1..).unwrap_or("").trim_start();
                    v.to_owned()
                }
                _ => {
                    let close = after.find(char::is_whitespace).unwrap_or(after.len());
                    let v = &after[..close];
                    rest = after[close..].trim_start();
                    v.to_owned()
                }
            }
        } else {
            String::new()
        };
        if !name.is_empty() {
            out.push((name, xhtml::decode_entities(&value)));
        }
        if end == 0 && value.is_empty() {
            // Stray character: skip it.
            rest = rest.get(1..).unwrap_or("");
        }
    }
    out
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The inner HTML of the first element whose `attr` is `value` (divs counted for nesting).
fn inner_of<'a>(html: &'a str, tag: &str, attr_name: &str, value: &str) -> Option<&'a str> {
    let needle = format!("{attr_name}=\"{value}\"");
    let at = html.find(&needle)?;
    let open_start = html[..at].rfind('<')?;
    let open_end = html[at..].find('>')? + at + 1;
    let _ = open_start;
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut depth = 1;
    let mut i = open_end;
    while depth > 0 {
        let next_open = html[i..].find(&open).map(|p| p + i);
        let next_close = html[i..].find(&close).map(|p| p + i)?;
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                i = o + open.len();
            }
            _ => {
                depth -= 1;
                if depth == 0 {
                    return Some(&html[open_end..next_close]);
                }
                i = next_close + close.len();
            }
        }
    }
    None
}

fn strip(html: &str) -> String {
    let mut out = String::new();
    for t in tokens(html) {
        if let Token::Text(t) = t {
            out.push_str(t);
        }
    }
    xhtml::decode_entities(&out).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The page id at the end of an export file name: `Deploying_65538.html`, `65538.html`.
fn id_of(file: &str) -> Option<String> {
    let stem = file.rsplit('/').next()?.strip_suffix(".html")?;
    let digits = stem.rsplit('_').next()?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.to_owned())
}

/// Reads the space in the HTML export at `path`.
pub fn read(path: &Path) -> Result<SpaceData, MigrateError> {
    let files = Files::open(path)?;
    let index =
        files.names.iter().filter(|n| n.ends_with("index.html")).min_by_key(|n| n.len()).cloned().ok_or_else(|| {
            MigrateError::Export(format!("{} has no index.html; it is not an HTML export", path.display()))
        })?;
    let folder = index.strip_suffix("index.html").unwrap_or("").to_owned();
    let index_html = files.read(&index)?;

    // The space: its name in the title, its key in the folder name.
    let title = between(&index_html, "<title>", "</title>").map(strip).unwrap_or_default();
    let name = title.split(" : ").next().unwrap_or(&title).trim().to_owned();
    let key = folder.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_ascii_uppercase();
    let description = inner_of(&index_html, "div", "id", "main-content")
        .map(|m| match m.find("<h2") {
            Some(cut) => strip(&m[..cut]),
            None => strip(m),
        })
        .filter(|d| !d.is_empty());

    // The tree, from the nested lists of the index page.
    let mut order: Vec<(String, Option<String>)> = Vec::new();
    let mut stack: Vec<Option<String>> = vec![None];
    let mut last: Option<String> = None;
    let pages_section = index_html.find("pageSection").map_or(index_html.as_str(), |at| &index_html[at..]);
    for token in tokens(pages_section) {
        match token {
            Token::Open { name, .. } if name == "ul" => stack.push(last.clone()),
            Token::Close(name) if name == "ul" => {
                stack.pop();
                if stack.is_empty() {
                    break;
                }
            }
            Token::Open { name, attrs } if name == "a" => {
                if let Some(href) = attr(&attrs, "href").filter(|h| h.ends_with(".html") && !h.contains('/'))
                    && let Some(id) = id_of(href)
                    && !order.iter().any(|(i, _)| *i == id)
                {
                    order.push((id.clone(), stack.last().cloned().flatten()));
                    last = Some(id);
                }
            }
            _ => {}
        }
    }
    // Pages not in the tree (blog posts, orphans) still come along.
    let mut file_of: HashMap<String, String> = HashMap::new();
    for n in &files.names {
        if n.starts_with(&folder)
            && n.ends_with(".html")
            && !n[folder.len()..].contains('/')
            && let Some(id) = id_of(n)
        {
            file_of.insert(id, n.clone());
        }
    }
    let mut extra: Vec<&String> = file_of.keys().filter(|id| !order.iter().any(|(i, _)| i == *id)).collect();
    extra.sort();
    let extra: Vec<String> = extra.into_iter().cloned().collect();
    for id in extra {
        order.push((id, None));
    }

    // Titles first: links between pages are written by title.
    let mut pages: Vec<(String, Option<String>, String)> = Vec::new();
    let mut titles: HashMap<String, String> = HashMap::new();
    let mut failures = Vec::new();
    for (id, parent) in order {
        let Some(file) = file_of.get(&id) else {
            failures.push(format!("page {id}: its file is not in the export"));
            continue;
        };
        let html = files.read(file)?;
        let full = between(&html, "<span id=\"title-text\">", "</span>").map(strip).unwrap_or_default();
        let title = match full.split_once(" : ") {
            Some((_, t)) if !name.is_empty() && full.starts_with(&name) => t.trim().to_owned(),
            _ => full.trim().to_owned(),
        };
        titles.insert(file.rsplit('/').next().unwrap_or(file).to_owned(), title.clone());
        pages.push((id, parent, html));
    }

    let by_id: HashMap<String, String> = file_of
        .iter()
        .filter_map(|(id, file)| titles.get(file.rsplit('/').next().unwrap_or(file)).map(|t| (id.clone(), t.clone())))
        .collect();
    let mut contents = Vec::new();
    let mut users: HashMap<String, Person> = HashMap::new();
    for (id, parent, html) in pages {
        let file_title = |f: &str| titles.get(f).cloned();
        let title = file_of.get(&id).and_then(|f| file_title(f.rsplit('/').next().unwrap_or(f))).unwrap_or_default();
        let (by, when) = metadata(&html);
        let mut attachments: Vec<Attachment> = Vec::new();
        let mut filenames: HashMap<String, String> = HashMap::new();
        if let Some(section) = html.find("id=\"attachments\"").map(|at| &html[at..]) {
            let section = section.find("<div class=\"pageSection").map_or(section, |end| &section[..end]);
            let mut href: Option<String> = None;
            for t in tokens(section) {
                match t {
                    Token::Open { name, attrs } if name == "a" => href = attr(&attrs, "href").map(str::to_owned),
                    Token::Text(text) => {
                        if let Some(h) = href.take().filter(|h| h.starts_with("attachments/")) {
                            let filename = xhtml::decode_entities(text.trim());
                            let entry = format!("{folder}{h}");
                            filenames.insert(h.clone(), filename.clone());
                            attachments.push(Attachment {
                                id: h.rsplit('/').next().unwrap_or(&h).split('.').next().unwrap_or("").to_owned(),
                                filename,
                                by: by.clone(),
                                when,
                                data: files.blob(&entry),
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        let body = inner_of(&html, "div", "id", "main-content").unwrap_or("");
        let storage = match xhtml::parse(body) {
            Ok(nodes) => {
                let mut ctx =
                    Rewrite { titles: &titles, by_id: &by_id, page: &id, filenames: &mut filenames, users: &mut users };
                let nodes = ctx.nodes(nodes);
                let mut out = String::new();
                xhtml::serialize(&nodes, &mut out);
                out
            }
            Err(e) => {
                failures.push(format!("\"{title}\": the page's HTML does not parse ({e}); its text was kept"));
                let mut out = String::from("<p>");
                xhtml::escape(&strip(body), &mut out);
                out.push_str("</p>");
                out
            }
        };
        // Images the attachments section did not list still come along.
        for (src, filename) in &filenames {
            if !attachments.iter().any(|a| a.filename == *filename) {
                attachments.push(Attachment {
                    id: src.rsplit('/').next().unwrap_or(src).split('.').next().unwrap_or("").to_owned(),
                    filename: filename.clone(),
                    by: by.clone(),
                    when,
                    data: files.blob(&format!("{folder}{src}")),
                });
            }
        }
        let comments = comments_of(&html, when);
        contents.push(Content {
            id,
            kind: Kind::Page,
            parent,
            labels: labels_of(&html),
            versions: vec![Version { number: 1, title, storage, by, when, message: String::new() }],
            attachments,
            comments,
        });
    }
    let homepage = contents.first().map(|c| c.id.clone());
    Ok(SpaceData {
        key,
        name,
        description,
        homepage,
        contents,
        permissions: Vec::new(),
        users,
        failures,
        source: path.display().to_string(),
    })
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

/// "Created by X, last modified by Y on Mar 08, 2023": the last editor and the date.
fn metadata(html: &str) -> (Person, When) {
    let meta = between(html, "class=\"page-metadata\">", "</div>").unwrap_or("");
    let author = between(meta, "class='editor'>", "</span>")
        .or_else(|| between(meta, "class='author'>", "</span>"))
        .or_else(|| between(meta, "class=\"editor\">", "</span>"))
        .or_else(|| between(meta, "class=\"author\">", "</span>"))
        .map(strip)
        .unwrap_or_default();
    let text = strip(meta);
    let date = text.rsplit(" on ").next().unwrap_or("").trim();
    let when = parse_date(date).unwrap_or_default();
    let person = if author.is_empty() {
        Person { id: "unknown".into(), name: "Unknown".into(), email: None }
    } else {
        Person { id: cdo_core::slug::slugify(&author), name: author, email: None }
    };
    (person, when)
}

/// `Mar 08, 2023` or `Mar 08, 2023 09:30`.
fn parse_date(text: &str) -> Option<When> {
    for format in ["%b %d, %Y %H:%M", "%b %d, %Y"] {
        let parsed = if format.contains("%H") {
            jiff::civil::DateTime::strptime(format, text).ok()
        } else {
            jiff::civil::Date::strptime(format, text).ok().map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        };
        if let Some(dt) = parsed
            && let Ok(z) = dt.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        {
            return Some(When { seconds: z.timestamp().as_second(), offset_minutes: 0 });
        }
    }
    None
}

fn labels_of(html: &str) -> Vec<String> {
    let Some(section) = between(html, "id=\"labels-section\"", "</div>") else { return Vec::new() };
    let mut out = Vec::new();
    let mut in_label = false;
    for t in tokens(section) {
        match t {
            Token::Open { name, attrs } if name == "a" => {
                in_label = attr(&attrs, "class").is_some_and(|c| c.contains("label"));
            }
            Token::Text(t) if in_label && !t.trim().is_empty() => {
                out.push(xhtml::decode_entities(t.trim()));
                in_label = false;
            }
            _ => {}
        }
    }
    out
}

/// The comments section: each `<a name="comment-ID">`, its body, "Posted by X at DATE".
fn comments_of(html: &str, fallback: When) -> Vec<Comment> {
    let Some(at) = html.find("id=\"comments\"") else { return Vec::new() };
    let section = &html[at..];
    let mut out = Vec::new();
    let parts: Vec<&str> = section.split("<a name=\"comment-").skip(1).collect();
    for part in parts {
        let Some(id) = part.split('"').next().filter(|i| i.bytes().all(|b| b.is_ascii_digit())) else { continue };
        let body = between(part, "<font class=\"smallfont\">", "</font>").unwrap_or("");
        let posted = between(part, "Posted by ", "</div>").map(strip).unwrap_or_default();
        let (name, date) = posted.split_once(" at ").unwrap_or((posted.as_str(), ""));
        let storage = match xhtml::parse(body) {
            Ok(_) => body.trim().to_owned(),
            Err(_) => {
                let mut s = String::from("<p>");
                xhtml::escape(&strip(body), &mut s);
                s.push_str("</p>");
                s
            }
        };
        out.push(Comment {
            id: id.to_owned(),
            parent: None,
            by: Person { id: cdo_core::slug::slugify(name), name: name.trim().to_owned(), email: None },
            when: parse_date(date.trim()).unwrap_or(fallback),
            storage,
            inline: None,
        });
    }
    out
}

/// Rendered macros back to storage format.
struct Rewrite<'a> {
    /// Export file name to page title.
    titles: &'a HashMap<String, String>,
    /// Page id to title.
    by_id: &'a HashMap<String, String>,
    /// The page being read.
    page: &'a str,
    /// Attachment paths (`attachments/1/2.png`) to their file names.
    filenames: &'a mut HashMap<String, String>,
    /// People mentioned, by user name.
    users: &'a mut HashMap<String, Person>,
}

fn el(name: &str, attrs: &[(&str, &str)], children: Vec<Node>) -> Node {
    Node::Element(Element {
        name: name.to_owned(),
        attrs: attrs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        children,
    })
}

fn classes(e: &Element) -> Vec<&str> {
    e.attr("class").map(|c| c.split_whitespace().collect()).unwrap_or_default()
}

fn find_class<'e>(e: &'e Element, class: &str) -> Option<&'e Element> {
    for child in e.elements() {
        if classes(child).contains(&class) {
            return Some(child);
        }
        if let Some(found) = find_class(child, class) {
            return Some(found);
        }
    }
    None
}

impl Rewrite<'_> {
    /// `ri:attachment` for `attachments/<page>/<file>`: of this page (and remembered, so it
    /// comes along), or of another page by its title.
    fn attachment(&mut self, src: &str, filename: String) -> Node {
        let owner = src.split('/').nth(1).unwrap_or("");
        if owner != self.page
            && let Some(title) = self.by_id.get(owner)
        {
            return el(
                "ri:attachment",
                &[("ri:filename", &filename)],
                vec![el("ri:page", &[("ri:content-title", title)], vec![])],
            );
        }
        self.filenames.entry(src.to_owned()).or_insert_with(|| filename.clone());
        el("ri:attachment", &[("ri:filename", &filename)], vec![])
    }

    fn nodes(&mut self, nodes: Vec<Node>) -> Vec<Node> {
        nodes.into_iter().map(|n| self.node(n)).collect()
    }

    fn node(&mut self, node: Node) -> Node {
        let Node::Element(mut e) = node else { return node };
        let class = classes(&e).into_iter().map(str::to_owned).collect::<Vec<_>>();
        let has = |c: &str| class.iter().any(|x| x == c);
        // Panels: info, note, warning, tip.
        if let Some(kind) = class.iter().find_map(|c| c.strip_prefix("confluence-information-macro-")) {
            let name = match kind {
                "information" => "info",
                "note" => "note",
                "warning" => "warning",
                "tip" => "tip",
                _ => "",
            };
            if !name.is_empty() {
                let title = find_class(&e, "title").map(Element::text);
                let body =
                    find_class(&e, "confluence-information-macro-body").map(|b| b.children.clone()).unwrap_or_default();
                let mut children = Vec::new();
                if let Some(t) = title.filter(|t| !t.trim().is_empty()) {
                    children.push(el("ac:parameter", &[("ac:name", "title")], vec![Node::Text(t.trim().to_owned())]));
                }
                children.push(el("ac:rich-text-body", &[], self.nodes(body)));
                return el("ac:structured-macro", &[("ac:name", name)], children);
            }
        }
        if has("code") && has("panel") {
            let title = find_class(&e, "codeHeader").map(Element::text);
            let pre = find_pre(&e);
            let language = pre
                .and_then(|p| p.attr("data-syntaxhighlighter-params"))
                .and_then(|params| {
                    params.split(';').find_map(|p| p.trim().strip_prefix("brush:").map(|b| b.trim().to_owned()))
                })
                .unwrap_or_default();
            let code = pre.map(Element::text).unwrap_or_default();
            let mut children = Vec::new();
            if !language.is_empty() {
                children.push(el("ac:parameter", &[("ac:name", "language")], vec![Node::Text(language)]));
            }
            if let Some(t) = title.filter(|t| !t.trim().is_empty()) {
                children.push(el("ac:parameter", &[("ac:name", "title")], vec![Node::Text(t.trim().to_owned())]));
            }
            children.push(el("ac:plain-text-body", &[], vec![Node::CData(code)]));
            return el("ac:structured-macro", &[("ac:name", "code")], children);
        }
        if has("expand-container") {
            let title = find_class(&e, "expand-control-text").map(Element::text).unwrap_or_default();
            let body = find_class(&e, "expand-content").map(|b| b.children.clone()).unwrap_or_default();
            return el(
                "ac:structured-macro",
                &[("ac:name", "expand")],
                vec![
                    el("ac:parameter", &[("ac:name", "title")], vec![Node::Text(title.trim().to_owned())]),
                    el("ac:rich-text-body", &[], self.nodes(body)),
                ],
            );
        }
        if e.name == "span" && has("status-macro") {
            let colour = class
                .iter()
                .find_map(|c| c.strip_prefix("aui-lozenge-"))
                .map(|c| match c {
                    "success" => "Green",
                    "error" => "Red",
                    "current" => "Yellow",
                    "complete" => "Blue",
                    _ => "Grey",
                })
                .unwrap_or("Grey");
            return el(
                "ac:structured-macro",
                &[("ac:name", "status")],
                vec![
                    el("ac:parameter", &[("ac:name", "colour")], vec![Node::Text(colour.into())]),
                    el("ac:parameter", &[("ac:name", "title")], vec![Node::Text(e.text().trim().to_owned())]),
                ],
            );
        }
        if e.name == "ul" && has("inline-task-list") {
            let tasks = e
                .elements()
                .filter(|li| li.name == "li")
                .map(|li| {
                    let done = classes(li).contains(&"checked");
                    el(
                        "ac:task",
                        &[],
                        vec![
                            el(
                                "ac:task-status",
                                &[],
                                vec![Node::Text(if done { "complete" } else { "incomplete" }.into())],
                            ),
                            el("ac:task-body", &[], self.nodes(li.children.clone())),
                        ],
                    )
                })
                .collect();
            return el("ac:task-list", &[], tasks);
        }
        if e.name == "img" {
            if class.iter().any(|c| c == "emoticon")
                && let Some(name) = class.iter().find_map(|c| c.strip_prefix("emoticon-"))
            {
                return el("ac:emoticon", &[("ac:name", name)], vec![]);
            }
            if let Some(src) = e.attr("src").filter(|s| s.starts_with("attachments/")) {
                let src = src.split('?').next().unwrap_or(src).to_owned();
                let filename = e
                    .attr("data-linked-resource-default-alias")
                    .map(str::to_owned)
                    .unwrap_or_else(|| src.rsplit('/').next().unwrap_or(&src).to_owned());
                let attachment = self.attachment(&src, filename);
                let mut attrs = Vec::new();
                for (from, to) in [("height", "ac:height"), ("width", "ac:width"), ("alt", "ac:alt")] {
                    if let Some(v) = e.attr(from).filter(|v| !v.is_empty()) {
                        attrs.push((to, v.to_owned()));
                    }
                }
                let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
                return el("ac:image", &attrs, vec![attachment]);
            }
        }
        if e.name == "a"
            && let Some(href) = e.attr("href").map(str::to_owned)
        {
            let (file, anchor) = href.split_once('#').map_or((href.as_str(), None), |(f, a)| (f, Some(a)));
            if let Some(title) = self.titles.get(file) {
                let mut attrs: Vec<(&str, &str)> = Vec::new();
                if let Some(a) = anchor {
                    attrs.push(("ac:anchor", a));
                }
                let text = e.text();
                let mut children = vec![el("ri:page", &[("ri:content-title", title)], vec![])];
                if text.trim() != title.trim() && !text.trim().is_empty() {
                    children.push(el("ac:plain-text-link-body", &[], vec![Node::CData(text.trim().to_owned())]));
                }
                return el("ac:link", &attrs, children);
            }
            if file.starts_with("attachments/") {
                let filename = self.filenames.get(file).cloned().unwrap_or_else(|| {
                    e.attr("data-linked-resource-default-alias")
                        .map_or_else(|| e.text().trim().to_owned(), str::to_owned)
                });
                let attachment = self.attachment(file, filename);
                let body = el("ac:plain-text-link-body", &[], vec![Node::CData(e.text().trim().to_owned())]);
                return el("ac:link", &[], vec![attachment, body]);
            }
            if classes(&e).contains(&"user-mention") || classes(&e).contains(&"confluence-userlink") {
                let user = e.attr("data-username").unwrap_or("").to_owned();
                let name = e.text().trim().trim_start_matches('@').to_owned();
                if !user.is_empty() && !name.is_empty() {
                    self.users.insert(user.clone(), Person { id: user.clone(), name, email: None });
                }
                return el("ac:link", &[], vec![el("ri:user", &[("ri:username", &user)], vec![])]);
            }
        }
        e.children = self.nodes(std::mem::take(&mut e.children));
        Node::Element(e)
    }
}

fn find_pre(e: &Element) -> Option<&Element> {
    for child in e.elements() {
        if child.name == "pre" {
            return Some(child);
        }
        if let Some(found) = find_pre(child) {
            return Some(found);
        }
    }
    None
}
