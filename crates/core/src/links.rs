//! Links between pages: relative Markdown links and `[[Title]]` wiki links.
//!
//! Extraction uses comrak's syntax tree (so links in code are not links); rewriting edits only
//! the destination text inside each link's source span, leaving the rest of the body untouched.

use comrak::Arena;
use comrak::nodes::NodeValue;

use crate::markdown::{self, LineIndex};

/// What kind of link it is in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    Markdown,
    Image,
    Wiki,
}

/// A link as written in a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub kind: LinkKind,
    /// The destination as comrak read it (for wiki links, the part before any `|`).
    pub url: String,
    /// Byte range of the whole link in the body.
    pub span: std::ops::Range<usize>,
    /// 1-based line, for reports.
    pub line: usize,
}

/// Where a link points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A path inside the space, relative to its root, normalised; plus an optional `#anchor`.
    Path { path: String, anchor: Option<String> },
    /// A wiki link by page title (or file name).
    Wiki { title: String, anchor: Option<String> },
    /// An anchor on the same page.
    Anchor(String),
    /// Anything else: other schemes, other hosts, paths outside the space.
    External,
}

/// The links of a body, in source order.
pub fn extract(body: &str) -> Vec<Link> {
    if !body.contains(['[', '<', ':']) {
        return Vec::new();
    }
    let arena = Arena::new();
    let root = comrak::parse_document(&arena, body, &markdown::options());
    let lines = LineIndex::new(body);
    let mut out = Vec::new();
    for node in root.descendants() {
        let data = node.data();
        let (kind, url) = match &data.value {
            NodeValue::Link(link) => (LinkKind::Markdown, link.url.clone()),
            NodeValue::Image(link) => (LinkKind::Image, link.url.clone()),
            NodeValue::WikiLink(link) => (LinkKind::Wiki, link.url.clone()),
            _ => continue,
        };
        let pos = data.sourcepos;
        let start = lines.offset(pos.start.line, pos.start.column);
        let end = lines.offset(pos.end.line, pos.end.column + 1);
        // Positions can drift (comrak skips some characters, such as a stray U+FEFF): a span
        // that does not fall on character boundaries is not one we can edit safely.
        if start < end && body.is_char_boundary(start) && body.is_char_boundary(end) {
            out.push(Link { kind, url, span: start..end, line: pos.start.line });
        }
    }
    out
}

/// Resolves a link written in the page at `from` (a path relative to the space root).
pub fn resolve(link: &Link, from: &str) -> Target {
    if link.kind == LinkKind::Wiki {
        let (title, anchor) = split_anchor(&link.url);
        return Target::Wiki { title: title.trim().to_owned(), anchor };
    }
    resolve_url(&link.url, from)
}

/// Resolves a Markdown link destination written in the page at `from`.
pub fn resolve_url(url: &str, from: &str) -> Target {
    let url = url.trim();
    if url.is_empty() || has_scheme(url) || url.starts_with("//") {
        return Target::External;
    }
    if let Some(anchor) = url.strip_prefix('#') {
        return Target::Anchor(percent_decode(anchor));
    }
    let (path, anchor) = split_anchor(url);
    let path = path.split('?').next().unwrap_or_default();
    let path = percent_decode(path);
    let joined = match path.strip_prefix('/') {
        Some(rooted) => rooted.to_owned(),
        None => match from.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{path}"),
            None => path,
        },
    };
    match normalize(&joined) {
        Some(path) if !path.is_empty() => Target::Path { path, anchor },
        _ => Target::External,
    }
}

/// The relative link from the page at `from` to `to` (both relative to the space root).
pub fn relative(from: &str, to: &str) -> String {
    let from_dir: Vec<&str> = match from.rsplit_once('/') {
        Some((dir, _)) => dir.split('/').collect(),
        None => Vec::new(),
    };
    let to_parts: Vec<&str> = to.split('/').collect();
    let common =
        from_dir.iter().zip(&to_parts).take_while(|(a, b)| a == b).count().min(to_parts.len().saturating_sub(1));
    let mut parts: Vec<String> = vec!["..".to_owned(); from_dir.len() - common];
    parts.extend(to_parts[common..].iter().map(|p| percent_encode(p)));
    parts.join("/")
}

/// Rewrites link destinations: `replace` gets each link and returns its new destination (for
/// wiki links, the new text before `|` or `#`), or `None` to leave it.
pub fn rewrite(body: &str, mut replace: impl FnMut(&Link) -> Option<String>) -> String {
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let definitions = reference_definitions(body);
    for link in extract(body) {
        let Some(new) = replace(&link) else { continue };
        let span = &body[link.span.clone()];
        let found = match link.kind {
            LinkKind::Wiki => wiki_target_range(span),
            _ => destination_range(span, &link.url),
        };
        match found {
            Some(range) => {
                let new = if link.kind == LinkKind::Wiki {
                    new
                } else {
                    destination_text(&body[link.span.start + range.start..link.span.start + range.end], &new)
                };
                edits.push(((link.span.start + range.start)..(link.span.start + range.end), new));
            }
            None => {
                // A reference-style link: its destination lives in a `[ref]: url` line.
                for def in definitions.iter().filter(|d| d.url == link.url) {
                    let new = destination_text(&body[def.range.clone()], &new);
                    if !edits.iter().any(|(r, _)| *r == def.range) {
                        edits.push((def.range.clone(), new));
                    }
                }
            }
        }
    }
    if edits.is_empty() {
        return body.to_owned();
    }
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(body.len() + 64);
    let mut at = 0;
    for (range, text) in edits {
        if range.start < at {
            continue; // nested (an image inside a link): the outer edit already covered it
        }
        out.push_str(&body[at..range.start]);
        out.push_str(&text);
        at = range.end;
    }
    out.push_str(&body[at..]);
    out
}

/// Keeps the original's anchor and its `<...>` wrapping around a new destination.
fn destination_text(old: &str, new: &str) -> String {
    let bracketed = old.starts_with('<');
    let anchor = if new.contains('#') {
        None
    } else {
        let inner = old.trim_start_matches('<').trim_end_matches('>');
        inner.find('#').map(|i| &inner[i..])
    };
    let mut out = String::new();
    if bracketed {
        out.push('<');
    }
    out.push_str(new);
    if let Some(anchor) = anchor {
        out.push_str(anchor);
    }
    if bracketed {
        out.push('>');
    }
    out
}

/// Where the destination sits in `[text](dest "title")`: after the last `](`.
fn destination_range(span: &str, url: &str) -> Option<std::ops::Range<usize>> {
    let open = span.rfind("](")? + 2;
    let rest = &span[open..];
    let lead = rest.len() - rest.trim_start().len();
    let start = open + lead;
    let rest = &span[start..];
    let len = if rest.starts_with('<') {
        rest.find('>')? + 1
    } else {
        let mut depth = 0usize;
        rest.char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' if depth > 0 => depth -= 1,
                    ')' => return true,
                    _ => {}
                }
                c.is_whitespace()
            })
            .map_or(rest.len(), |(i, _)| i)
    };
    let found = &span[start..start + len];
    let plain = found.trim_start_matches('<').trim_end_matches('>');
    // Only edit what is recognisably this link's destination (escapes and entities aside).
    let same = plain == url || plain.contains(['\\', '&', '%']);
    (same && (!plain.is_empty() || url.is_empty())).then_some(start..start + len)
}

/// The target part of `[[target#anchor|alias]]` (without the anchor and alias).
fn wiki_target_range(span: &str) -> Option<std::ops::Range<usize>> {
    let start = span.find("[[")? + 2;
    let inner = &span[start..];
    let end = inner.find(['|', '#', ']']).unwrap_or(inner.len());
    Some(start..start + end)
}

struct Definition {
    url: String,
    range: std::ops::Range<usize>,
}

/// `[ref]: destination` lines outside code fences.
fn reference_definitions(body: &str) -> Vec<Definition> {
    let mut out = Vec::new();
    if !body.contains("]:") {
        return out;
    }
    let mut offset = 0;
    let mut fence = false;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = !fence;
        }
        let indent = line.len() - trimmed.len();
        if !fence
            && indent <= 3
            && trimmed.starts_with('[')
            && let Some(close) = trimmed.find("]:")
        {
            let after = &trimmed[close + 2..];
            let lead = after.len() - after.trim_start().len();
            let dest_start = offset + indent + close + 2 + lead;
            let rest = &body[dest_start..offset + line.len()];
            let len = if rest.starts_with('<') {
                rest.find('>').map_or(0, |i| i + 1)
            } else {
                rest.find(char::is_whitespace).unwrap_or(rest.len())
            };
            if len > 0 {
                let url = rest[..len].trim_start_matches('<').trim_end_matches('>').to_owned();
                out.push(Definition { url, range: dest_start..dest_start + len });
            }
        }
        offset += line.len();
    }
    out
}

fn split_anchor(url: &str) -> (&str, Option<String>) {
    match url.split_once('#') {
        Some((path, anchor)) => (path, Some(percent_decode(anchor)).filter(|a| !a.is_empty())),
        None => (url, None),
    }
}

fn has_scheme(url: &str) -> bool {
    match url.split_once(':') {
        Some((scheme, _)) => {
            let mut chars = scheme.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// Resolves `.` and `..`; `None` when the path climbs above the root.
pub fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Decodes `%20`-style escapes (as Markdown writers put them in relative links).
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str, anchor: Option<&str>) -> Target {
        Target::Path { path: p.into(), anchor: anchor.map(Into::into) }
    }

    #[test]
    fn resolves_relative_links() {
        let from = "architecture/auth.md";
        let cases = [
            ("../deploy/guide.md", path("deploy/guide.md", None)),
            ("tokens.md#refresh", path("architecture/tokens.md", Some("refresh"))),
            ("./my%20note.md", path("architecture/my note.md", None)),
            ("%aé%zz%4", path("architecture/%aé%zz%4", None)),
            ("/runbooks/incident.md", path("runbooks/incident.md", None)),
            ("../../outside.md", Target::External),
            ("https://example.com/x.md", Target::External),
            ("mailto:a@b.c", Target::External),
            ("#section", Target::Anchor("section".into())),
        ];
        for (url, want) in cases {
            assert_eq!(resolve_url(url, from), want, "{url}");
        }
    }

    #[test]
    fn relative_paths_round_trip() {
        let cases = [
            ("a/b.md", "a/c.md", "c.md"),
            ("a/b.md", "d.md", "../d.md"),
            ("x.md", "a/b/c.md", "a/b/c.md"),
            ("a/b/c.md", "a/d/e.md", "../d/e.md"),
            ("a/b.md", "a/b/child.md", "b/child.md"),
            ("a.md", "my note.md", "my%20note.md"),
        ];
        for (from, to, want) in cases {
            let rel = relative(from, to);
            assert_eq!(rel, want);
            assert_eq!(resolve_url(&rel, from), path(to, None));
        }
    }

    #[test]
    fn extracts_links_but_not_code() {
        let body = "See [auth](auth.md), ![d](d.png) and [[Deploy Guide|the guide]].\n\n```\n[not](a-link.md)\n```\n`[nor](this.md)`\n";
        let links = extract(body);
        let urls: Vec<_> = links.iter().map(|l| (l.kind, l.url.as_str())).collect();
        assert_eq!(
            urls,
            [(LinkKind::Markdown, "auth.md"), (LinkKind::Image, "d.png"), (LinkKind::Wiki, "Deploy Guide")]
        );
        assert_eq!(&body[links[0].span.clone()], "[auth](auth.md)");
    }

    #[test]
    fn rewrites_only_destinations() {
        let body =
            "A [link](old.md#part \"title\") and [ref][r], <x> [[Old Title#h|alias]] ![img](old.md)\n\n[r]: <old.md>\n";
        let out = rewrite(body, |l| match (l.kind, l.url.as_str()) {
            (LinkKind::Wiki, "Old Title#h") => Some("New Title".into()),
            (_, u) if u.starts_with("old.md") => Some("new/place.md".into()),
            _ => None,
        });
        assert_eq!(
            out,
            "A [link](new/place.md#part \"title\") and [ref][r], <x> [[New Title#h|alias]] ![img](new/place.md)\n\n[r]: <new/place.md>\n"
        );
    }

    #[test]
    fn regression_bom_in_the_middle_of_a_body_does_not_break_rewrites() {
        let body = "[ref][r]\n\n[r]: <a b.md>\n\u{feff}[x](a.md) [y](b.md)\n";
        let out = rewrite(body, |l| Some(format!("{}x", l.url)));
        assert!(out.contains("\u{feff}"));
        for link in extract(body) {
            assert!(body.get(link.span.clone()).is_some());
        }
    }

    #[test]
    fn rewrites_links_around_images() {
        let body = "[![shot](a.png)](page.md)\n";
        let out = rewrite(body, |l| (l.url == "page.md").then(|| "other.md".into()));
        assert_eq!(out, "[![shot](a.png)](other.md)\n");
    }
}
