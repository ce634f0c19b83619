//! Plain data shared by every layer: ids, keys, authors, page summaries, tree nodes, versions.
//!
//! Nothing here knows about git, files or wire formats; the shells map these onto their own shapes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A page id: a decimal string, stable across renames and moves (as Confluence clients expect).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PageId(String);

/// New ids are drawn from this range: at least 13 digits, and below 2^53 so that JavaScript
/// clients that parse ids as numbers still get them exactly.
const ID_MIN: u64 = 1_000_000_000_000;
const ID_SPAN: u64 = 8_000_000_000_000_000;

impl PageId {
    /// Parses a page id: 1 to 19 ASCII digits.
    pub fn parse(text: &str) -> Option<PageId> {
        let text = text.trim();
        let ok = !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| PageId(text.to_owned()))
    }

    /// A fresh random id.
    pub fn random() -> PageId {
        PageId((ID_MIN + fastrand::u64(..ID_SPAN)).to_string())
    }

    /// The id a page without an `id:` in its frontmatter has, derived from its path so that it is
    /// stable until the file moves; confluence.do writes it into the page on the first edit.
    pub fn derived(path: &str) -> PageId {
        PageId((ID_MIN + fnv1a(path.as_bytes()) % ID_SPAN).to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// FNV-1a: a stable hash (std's hashers may change between Rust releases; derived ids must not).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A space key such as `ENG`: an ASCII letter, then letters, digits or `_`; stored upper-case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SpaceKey(String);

impl SpaceKey {
    /// Parses and upper-cases a key; `None` when it is not a valid key.
    pub fn parse(text: &str) -> Option<SpaceKey> {
        let mut chars = text.chars();
        let first = chars.next()?;
        let ok =
            first.is_ascii_alphabetic() && text.len() <= 64 && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        ok.then(|| SpaceKey(text.to_ascii_uppercase()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SpaceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The person an edit is attributed to; every commit is authored by one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub name: String,
    pub email: String,
}

impl Author {
    /// Parses `Name <email>`; a bare e-mail address is used as both.
    pub fn parse(text: &str) -> Option<Author> {
        let text = text.trim();
        if let Some((name, rest)) = text.split_once('<') {
            let email = rest.strip_suffix('>')?.trim();
            let name = name.trim();
            let valid = !email.is_empty() && !email.contains(['<', '>']) && !name.contains('>');
            valid.then(|| Author {
                name: if name.is_empty() { email.to_owned() } else { name.to_owned() },
                email: email.to_owned(),
            })
        } else {
            (text.contains('@') && !text.contains(char::is_whitespace))
                .then(|| Author { name: text.to_owned(), email: text.to_owned() })
        }
    }
}

impl fmt::Display for Author {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

/// What a node of the page tree is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A Markdown file.
    Page,
    /// A folder of pages without a page of its own; editing it creates that page.
    Folder,
}

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A problem found in user content; shown beside the page, never hiding it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// 1-based line in the file, where known.
    pub line: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn error(line: Option<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, line, message: message.into() }
    }

    pub(crate) fn warning(line: Option<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, line, message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        match self.line {
            Some(line) => write!(f, "{level}: line {line}: {}", self.message),
            None => write!(f, "{level}: {}", self.message),
        }
    }
}

/// What the tree knows of a page without reading its body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageSummary {
    pub id: PageId,
    pub title: String,
    pub kind: NodeKind,
    /// Path relative to the space root: `a/b.md` for a page, `a/b` for a folder.
    pub path: String,
    pub parent: Option<PageId>,
    pub labels: Vec<String>,
    pub position: Option<i64>,
    /// Whether the id is written in the page (pages from other tools get theirs on first edit).
    pub id_assigned: bool,
    /// Whether the page has problems to show (broken frontmatter, not UTF-8, too large).
    pub has_diagnostics: bool,
}

/// A node of the ordered page tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeNode {
    pub id: PageId,
    pub title: String,
    pub kind: NodeKind,
    pub path: String,
    pub children: Vec<TreeNode>,
}

/// A page as read from disk: metadata, body and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub summary: PageSummary,
    /// The Markdown body, without frontmatter.
    pub body: String,
    /// The number of commits that changed the page; 0 when it was never committed.
    pub version: u32,
    pub diagnostics: Vec<Diagnostic>,
    /// Template fields and other frontmatter values, flattened to strings for display.
    pub fields: Vec<(String, String)>,
}

/// One version of a page: a commit that touched it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// 1 for the commit that created the page, counting every commit that changed it.
    pub version: u32,
    pub commit: String,
    pub author: Author,
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// Minutes east of UTC at the author's location.
    pub offset_minutes: i32,
    pub message: String,
    /// Where the page lived in this version (relative to the space root).
    pub path: String,
}

impl VersionInfo {
    /// The date as RFC 3339 in the author's offset: `2024-01-15T10:30:00+01:00`.
    pub fn date(&self) -> String {
        format_time(self.time, self.offset_minutes)
    }
}

/// Seconds since the epoch at an offset, as RFC 3339.
pub fn format_time(seconds: i64, offset_minutes: i32) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(seconds) else {
        return seconds.to_string();
    };
    let offset = jiff::tz::Offset::from_seconds(offset_minutes.saturating_mul(60)).unwrap_or(jiff::tz::Offset::UTC);
    ts.to_zoned_datetime(jiff::tz::TimeZone::fixed(offset)).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Who made a page and changed it, and when: from its versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub creator: Author,
    /// Everyone who made a version, the creator first, each once.
    pub contributors: Vec<Author>,
    /// Seconds since the epoch of version 1.
    pub created: i64,
    /// Seconds since the epoch of the latest version.
    pub updated: i64,
}

/// A page that was deleted and can be restored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrashEntry {
    pub id: PageId,
    pub title: String,
    pub path: String,
    pub commit: String,
    pub author: Author,
    pub time: i64,
}

/// The description of a space, from its `space.yaml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceInfo {
    pub key: SpaceKey,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<PageId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_in_range() {
        let a = PageId::derived("architecture/auth.md");
        assert_eq!(a, PageId::derived("architecture/auth.md"));
        assert_ne!(a, PageId::derived("architecture/auth2.md"));
        let n: u64 = a.as_str().parse().expect("digits");
        assert!((ID_MIN..ID_MIN + ID_SPAN).contains(&n));
        assert!(n < 1 << 53);
    }

    #[test]
    fn times_format_in_the_authors_offset() {
        assert_eq!(format_time(1_705_314_600, 60), "2024-01-15T11:30:00+01:00");
        assert_eq!(format_time(0, 0), "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn authors_parse() {
        let a = Author::parse("Alice Smith <alice@example.com>").expect("valid");
        assert_eq!((a.name.as_str(), a.email.as_str()), ("Alice Smith", "alice@example.com"));
        assert_eq!(Author::parse("bob@example.com").expect("valid").name, "bob@example.com");
        assert!(Author::parse("Alice <>").is_none());
        assert!(Author::parse("just a name").is_none());
    }

    #[test]
    fn keys_and_ids_validate() {
        assert_eq!(SpaceKey::parse("eng").expect("valid").as_str(), "ENG");
        assert!(SpaceKey::parse("1ENG").is_none());
        assert!(SpaceKey::parse("EN G").is_none());
        assert!(PageId::parse("12a").is_none());
        assert!(PageId::parse("").is_none());
        assert_eq!(PageId::parse(" 42 ").expect("valid").as_str(), "42");
    }
}
