//! A small XHTML reader for storage format: elements with their `ac:`/`ri:` names kept as
//! written, text with HTML's named entities decoded, CDATA kept apart (code macro bodies).
//!
//! Strict where Confluence is strict (tags must nest and close; errors say where), lenient where
//! pages written by hand are sloppy (HTML void elements without `/>`, unquoted attributes,
//! unknown entities kept as text). Never panics; nesting deeper than [`MAX_DEPTH`] is an error
//! rather than a stack overflow later.

use std::fmt;

/// Deeper nesting than this is refused (real pages stay far below it).
pub const MAX_DEPTH: usize = 200;

/// A node of a parsed fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
    /// The contents of `<![CDATA[...]]>`.
    CData(String),
}

/// An element, its name as written (`ac:structured-macro`), its attributes in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

impl Element {
    /// The value of an attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The first child element with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// All text below this element, CDATA included.
    pub fn text(&self) -> String {
        let mut out = String::new();
        collect_text(&self.children, &mut out);
        out
    }
}

fn collect_text(nodes: &[Node], out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(t) | Node::CData(t) => out.push_str(t),
            Node::Element(e) => collect_text(&e.children, out),
        }
    }
}

/// Why a fragment is not well-formed, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Elements HTML never closes; `<br>` is accepted as `<br/>`.
const VOID: &[&str] =
    &["br", "hr", "img", "col", "input", "meta", "link", "wbr", "area", "base", "param", "source", "embed", "track"];

/// Parses a storage-format fragment (any number of top-level nodes).
pub fn parse(input: &str) -> Result<Vec<Node>, ParseError> {
    Parser { input, pos: 0 }.run()
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

struct Open {
    element: Element,
    at: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, at: usize, message: impl Into<String>) -> ParseError {
        let at = at.min(self.input.len());
        let before = &self.input.as_bytes()[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let column = self.input.get(line_start..at).map_or(1, |s| s.chars().count() + 1);
        ParseError { line, column, message: message.into() }
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn run(mut self) -> Result<Vec<Node>, ParseError> {
        let mut root: Vec<Node> = Vec::new();
        let mut stack: Vec<Open> = Vec::new();
        while self.pos < self.input.len() {
            let rest = self.rest();
            if !rest.starts_with('<') {
                let end = rest.find('<').unwrap_or(rest.len());
                let text = decode_entities(&rest[..end]);
                self.pos += end;
                push(&mut stack, &mut root, Node::Text(text));
                continue;
            }
            let start = self.pos;
            if let Some(body) = rest.strip_prefix("<!--") {
                let end = body.find("-->").ok_or_else(|| self.error(start, "a comment `<!--` is never closed"))?;
                self.pos += 4 + end + 3;
            } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
                let end =
                    body.find("]]>").ok_or_else(|| self.error(start, "`<![CDATA[` is never closed with `]]>`"))?;
                push(&mut stack, &mut root, Node::CData(body[..end].to_owned()));
                self.pos += 9 + end + 3;
            } else if rest.starts_with("<!") || rest.starts_with("<?") {
                let end = rest.find('>').ok_or_else(|| self.error(start, "a declaration is never closed with `>`"))?;
                self.pos += end + 1;
            } else if let Some(body) = rest.strip_prefix("</") {
                let name_len = name_length(body);
                let name = &body[..name_len];
                let after = body[name_len..].trim_start();
                if name.is_empty() || !after.starts_with('>') {
                    return Err(self.error(start, "a closing tag must look like `</name>`"));
                }
                self.pos = self.input.len() - after.len() + 1;
                if VOID.contains(&name.to_ascii_lowercase().as_str()) {
                    continue;
                }
                match stack.pop() {
                    Some(open) if open.element.name == name => {
                        push(&mut stack, &mut root, Node::Element(open.element));
                    }
                    Some(open) => {
                        let opened = self.error(open.at, "");
                        return Err(self.error(
                            start,
                            format!(
                                "`</{name}>` closes `<{}>` opened at line {}, column {}",
                                open.element.name, opened.line, opened.column
                            ),
                        ));
                    }
                    None => return Err(self.error(start, format!("`</{name}>` closes nothing"))),
                }
            } else {
                let (element, self_closing) = self.start_tag()?;
                let void = VOID.contains(&element.name.to_ascii_lowercase().as_str());
                if self_closing || void {
                    push(&mut stack, &mut root, Node::Element(element));
                } else {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.error(start, format!("elements are nested more than {MAX_DEPTH} deep")));
                    }
                    stack.push(Open { element, at: start });
                }
            }
        }
        if let Some(open) = stack.pop() {
            return Err(self.error(open.at, format!("`<{}>` is never closed", open.element.name)));
        }
        Ok(root)
    }

    /// Reads `<name attr="value" ...>` or `.../>` at `pos`.
    fn start_tag(&mut self) -> Result<(Element, bool), ParseError> {
        let start = self.pos;
        let body = &self.rest()[1..];
        let name_len = name_length(body);
        if name_len == 0 || !body.starts_with(|c: char| c.is_alphabetic() || c == '_') {
            return Err(self.error(start, "`<` must start a tag; write `&lt;` for a literal `<`"));
        }
        let name = body[..name_len].to_owned();
        self.pos += 1 + name_len;
        let mut attrs = Vec::new();
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if let Some(after) = trimmed.strip_prefix("/>") {
                self.pos = self.input.len() - after.len();
                return Ok((Element { name, attrs, children: Vec::new() }, true));
            }
            if trimmed.starts_with('>') {
                self.pos += 1;
                return Ok((Element { name, attrs, children: Vec::new() }, false));
            }
            let attr_len = name_length(trimmed);
            if attr_len == 0 {
                return Err(match trimmed.chars().next() {
                    None => self.error(start, format!("the tag `<{name}` is never closed with `>`")),
                    Some(c) => self.error(self.pos, format!("unexpected `{c}` in the tag `<{name}>`")),
                });
            }
            let attr = trimmed[..attr_len].to_owned();
            self.pos += attr_len;
            let rest = self.rest();
            let trimmed = rest.trim_start();
            let Some(value_part) = trimmed.strip_prefix('=') else {
                attrs.push((attr, String::new()));
                continue;
            };
            let value_part = value_part.trim_start();
            self.pos = self.input.len() - value_part.len();
            let value = match value_part.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let inner = &value_part[1..];
                    let end = inner.find(q).ok_or_else(|| {
                        self.error(self.pos, format!("the value of `{attr}` in `<{name}>` is never closed"))
                    })?;
                    self.pos += 1 + end + 1;
                    &inner[..end]
                }
                _ => {
                    let end = value_part
                        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                        .unwrap_or(value_part.len());
                    self.pos += end;
                    &value_part[..end]
                }
            };
            attrs.push((attr, decode_entities(value)));
        }
    }
}

fn push(stack: &mut [Open], root: &mut Vec<Node>, node: Node) {
    let target = match stack.last_mut() {
        Some(open) => &mut open.element.children,
        None => root,
    };
    if let (Node::Text(t), Some(Node::Text(prev))) = (&node, target.last_mut()) {
        prev.push_str(t);
        return;
    }
    target.push(node);
}

fn name_length(s: &str) -> usize {
    s.find(|c: char| !(c.is_alphanumeric() || matches!(c, ':' | '-' | '_' | '.'))).unwrap_or(s.len())
}

/// Decodes numeric and named character references; anything unknown stays as written.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.get(1..).and_then(|r| {
            let semi = r.find(';').filter(|&s| s <= 32)?;
            let name = &r[..semi];
            let ch = if let Some(num) = name.strip_prefix('#') {
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => num.parse::<u32>().ok()?,
                };
                char::from_u32(code).map(|c| c.to_string())?
            } else {
                crate::entities::named(name)?.to_owned()
            };
            Some((ch, semi + 2))
        });
        match decoded {
            Some((s, len)) => {
                out.push_str(&s);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for XHTML content or a double-quoted attribute.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// Writes nodes back as XHTML (for content kept verbatim).
pub fn serialize(nodes: &[Node], out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(t) => escape(t, out),
            Node::CData(t) => {
                out.push_str("<![CDATA[");
                out.push_str(&t.replace("]]>", "]]]]><![CDATA[>"));
                out.push_str("]]>");
            }
            Node::Element(e) => {
                out.push('<');
                out.push_str(&e.name);
                for (k, v) in &e.attrs {
                    out.push(' ');
                    out.push_str(k);
                    out.push_str("=\"");
                    escape(v, out);
                    out.push('"');
                }
                if e.children.is_empty() {
                    out.push_str(" />");
                } else {
                    out.push('>');
                    serialize(&e.children, out);
                    out.push_str("</");
                    out.push_str(&e.name);
                    out.push('>');
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macros_cdata_and_entities_parse() {
        let nodes = parse(
            "<p>a&nbsp;&amp;&#233;&unknown; b<br></p><ac:structured-macro ac:name=\"code\">\
             <ac:plain-text-body><![CDATA[if a < b {}]]></ac:plain-text-body></ac:structured-macro>",
        )
        .expect("well-formed");
        let Node::Element(p) = &nodes[0] else { panic!("{nodes:?}") };
        assert_eq!(p.text(), "a\u{a0}&é&unknown; b");
        let Node::Element(m) = &nodes[1] else { panic!("{nodes:?}") };
        assert_eq!(m.attr("ac:name"), Some("code"));
        assert_eq!(m.text(), "if a < b {}");
    }

    #[test]
    fn errors_say_where() {
        let cases = [
            ("<p>a</b>", "line 1, column 5: `</b>` closes `<p>` opened at line 1, column 1"),
            ("<p>\n<em>x", "line 2, column 1: `<em>` is never closed"),
            ("a < b", "line 1, column 3: `<` must start a tag; write `&lt;` for a literal `<`"),
            ("<a href=\"x>", "line 1, column 9: the value of `href` in `<a>` is never closed"),
            ("</p>", "line 1, column 1: `</p>` closes nothing"),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).expect_err(input).to_string(), want, "{input}");
        }
        let deep = "<div>".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep).expect_err("too deep").message.contains("nested"));
    }

    #[test]
    fn serialize_round_trips() {
        let src = "<ac:structured-macro ac:name=\"x\"><ac:parameter ac:name=\"a\">1 &lt; 2</ac:parameter>\
                   <ac:plain-text-body><![CDATA[raw]]></ac:plain-text-body></ac:structured-macro>";
        let nodes = parse(src).expect("parses");
        let mut out = String::new();
        serialize(&nodes, &mut out);
        assert_eq!(parse(&out).expect("reparses"), nodes);
    }
}
