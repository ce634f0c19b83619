//! What a Confluence space is made of, as every source (the REST API, the XML export, the HTML
//! export) reads it and the writer turns it into a space. Plain data.

use std::collections::HashMap;
use std::path::PathBuf;

/// A moment: seconds since the epoch and the offset it was written in, in minutes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct When {
    pub seconds: i64,
    pub offset_minutes: i32,
}

impl When {
    /// Parses an RFC 3339 date (`2024-01-15T10:30:00.000Z`, `...+01:00`) or Confluence's
    /// export format (`2024-01-15 10:30:00.000`, taken as UTC).
    pub fn parse(text: &str) -> Option<When> {
        let text = text.trim();
        if let Ok(zoned) = text.parse::<jiff::Timestamp>() {
            let offset = offset_of(text).unwrap_or(0);
            return Some(When { seconds: zoned.as_second(), offset_minutes: offset });
        }
        let civil: jiff::civil::DateTime = text.replace(' ', "T").parse().ok()?;
        let ts = civil.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok()?.timestamp();
        Some(When { seconds: ts.as_second(), offset_minutes: 0 })
    }

    /// RFC 3339 in its own offset.
    pub fn rfc3339(&self) -> String {
        cdo_core::model::format_time(self.seconds, self.offset_minutes)
    }
}

/// The offset at the end of an RFC 3339 date, in minutes.
fn offset_of(text: &str) -> Option<i32> {
    if text.ends_with(['Z', 'z']) {
        return Some(0);
    }
    let tail = text.get(text.len().checked_sub(6)?..)?;
    let sign = match tail.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours: i32 = tail.get(1..3)?.parse().ok()?;
    let minutes: i32 = tail.get(4..6)?.parse().ok()?;
    Some(sign * (hours * 60 + minutes))
}

/// Someone who wrote something in Confluence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Person {
    /// The account id (Cloud), user key or user name (Server and Data Center).
    pub id: String,
    pub name: String,
    pub email: Option<String>,
}

impl Person {
    /// The git author: the e-mail address when Confluence shows it, else an address in the
    /// reserved `.invalid` domain made from the id, so authors stay apart.
    pub fn author(&self) -> cdo_core::Author {
        let name = if self.name.trim().is_empty() { self.id.clone() } else { self.name.trim().to_owned() };
        let email = match &self.email {
            Some(e) if e.contains('@') && !e.contains(['<', '>', '\n']) => e.trim().to_owned(),
            _ => {
                let local: String =
                    self.id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' }).collect();
                let local = if local.trim_matches('-').is_empty() { cdo_core::slug::slugify(&name) } else { local };
                format!("{local}@confluence.invalid")
            }
        };
        let name = name.replace(['<', '>', '\n'], "");
        cdo_core::Author { name: if name.is_empty() { email.clone() } else { name }, email }
    }
}

/// A page or a blog post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Page,
    BlogPost,
}

/// One version of a page's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub number: u32,
    pub title: String,
    /// The body in storage format (XHTML with `ac:` macros).
    pub storage: String,
    pub by: Person,
    pub when: When,
    /// The version comment ("Fixed the diagram").
    pub message: String,
}

/// Where an attachment's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blob {
    /// A file on disk (downloaded, or unpacked).
    File(PathBuf),
    /// An entry of a zip archive (an export).
    Zip { archive: PathBuf, entry: String },
    /// In memory.
    Bytes(Vec<u8>),
    /// Not available; why.
    Missing(String),
}

/// A file attached to a page (its latest version).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub id: String,
    pub filename: String,
    pub by: Person,
    pub when: When,
    pub data: Blob,
}

/// A page or inline comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub id: String,
    /// The comment this one replies to.
    pub parent: Option<String>,
    pub by: Person,
    pub when: When,
    pub storage: String,
    /// For an inline comment, the text of the page it was made on.
    pub inline: Option<String>,
}

/// A page or blog post with everything that hangs off it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    pub id: String,
    pub kind: Kind,
    /// The parent page (pages only); siblings keep the order they have in [`SpaceData::contents`].
    pub parent: Option<String>,
    pub labels: Vec<String>,
    /// Oldest first; the last is the current version. Never empty.
    pub versions: Vec<Version>,
    pub attachments: Vec<Attachment>,
    /// Oldest first.
    pub comments: Vec<Comment>,
}

impl Content {
    /// The current version.
    pub fn current(&self) -> Option<&Version> {
        self.versions.last()
    }

    /// The current title.
    pub fn title(&self) -> &str {
        self.current().map_or("", |v| v.title.as_str())
    }
}

/// Who may do what in a space, by Confluence's permission names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    /// A user (name, e-mail or id) the permission is granted to; groups are not mapped.
    pub user: Person,
    /// `read`, `create`, `delete`, `administer`... as Confluence names the operation.
    pub operation: String,
}

/// A whole space as a source read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpaceData {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    /// The id of the home page.
    pub homepage: Option<String>,
    /// Pages in tree order (parents before children, siblings in order), then blog posts.
    pub contents: Vec<Content>,
    pub permissions: Vec<Permission>,
    /// Everyone the source knows, by every id they may be mentioned with.
    pub users: HashMap<String, Person>,
    /// What could not be read at all (a page that failed, a missing file), for the report.
    pub failures: Vec<String>,
    /// Where it came from (`https://example.atlassian.net/wiki`, `export.zip`), for the report.
    pub source: String,
}
