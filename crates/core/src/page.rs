//! One page file: frontmatter fields confluence.do manages, the body, and what is wrong with it.
//!
//! Parsing never fails: broken YAML, a missing closing fence, bytes that are not UTF-8 all become
//! diagnostics beside a page that still opens. A page whose frontmatter cannot be edited safely
//! refuses metadata edits with a clear error instead of being rewritten behind the user's back.

use yaml_serde::Value;

use crate::frontmatter::{self, FmValue, Frontmatter};
use crate::model::{Diagnostic, PageId};

/// Pages larger than this are listed in the tree but not opened or indexed.
pub const MAX_PAGE_BYTES: u64 = 10 * 1024 * 1024;

/// Frontmatter keys confluence.do reads and writes; every other key belongs to the user.
pub const MANAGED_KEYS: &[&str] = &["id", "title", "labels", "position", "template"];

/// A parsed page file.
#[derive(Clone, Debug, PartialEq)]
pub struct PageFile {
    bom: String,
    open: String,
    close: String,
    /// `None` when the file has no frontmatter, or when it is broken (then `raw_yaml` keeps it).
    fm: Option<Frontmatter>,
    raw_yaml: Option<String>,
    body: String,
    /// Set when the bytes are not UTF-8 text: the page is shown, but never written back.
    read_only: Option<String>,
    pub meta: Meta,
    pub diagnostics: Vec<Diagnostic>,
}

/// The frontmatter values confluence.do manages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub id: Option<PageId>,
    pub title: Option<String>,
    pub labels: Vec<String>,
    pub position: Option<i64>,
    pub template: Option<String>,
}

/// Why a page's metadata cannot be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("its frontmatter is broken ({0}); fix the YAML in the file first")]
    BrokenFrontmatter(String),
    #[error("{0}; it is shown read-only")]
    ReadOnly(String),
}

impl PageFile {
    /// Parses a page from its bytes.
    pub fn parse(bytes: &[u8]) -> PageFile {
        let mut diagnostics = Vec::new();
        let (text, read_only) = match std::str::from_utf8(bytes) {
            Ok(text) if !text.contains('\0') => (std::borrow::Cow::Borrowed(text), None),
            Ok(text) => {
                let why = "the file holds binary data (NUL bytes), not Markdown text".to_owned();
                diagnostics.push(Diagnostic::error(None, why.clone()));
                (std::borrow::Cow::Borrowed(text), Some(why))
            }
            Err(err) => {
                let line = bytes[..err.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
                let why = "the file is not UTF-8 text".to_owned();
                diagnostics.push(Diagnostic::error(Some(line), format!("{why}; invalid bytes are shown as �")));
                (String::from_utf8_lossy(bytes), Some(why))
            }
        };
        let split = frontmatter::split(&text);
        diagnostics.extend(split.diagnostic.clone());
        let (fm, raw_yaml) = match split.yaml {
            None => (None, None),
            Some(yaml) => match Frontmatter::parse(yaml, split.yaml_line) {
                Ok(fm) => (Some(fm), None),
                Err(diagnostic) => {
                    diagnostics.push(diagnostic);
                    (None, Some(yaml.to_owned()))
                }
            },
        };
        let meta = fm.as_ref().map(|fm| read_meta(fm, &mut diagnostics)).unwrap_or_default();
        PageFile {
            bom: split.bom.to_owned(),
            open: split.open.to_owned(),
            close: split.close.to_owned(),
            fm,
            raw_yaml,
            body: split.body.to_owned(),
            read_only,
            meta,
            diagnostics,
        }
    }

    /// A new page with the given body and no frontmatter yet.
    pub fn new(body: &str) -> PageFile {
        PageFile {
            bom: String::new(),
            open: String::new(),
            close: String::new(),
            fm: None,
            raw_yaml: None,
            body: body.to_owned(),
            read_only: None,
            meta: Meta::default(),
            diagnostics: Vec::new(),
        }
    }

    /// The Markdown body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The parsed frontmatter, when there is a valid one.
    pub fn frontmatter(&self) -> Option<&Frontmatter> {
        self.fm.as_ref()
    }

    /// Whether the frontmatter is present but broken.
    pub fn frontmatter_broken(&self) -> bool {
        self.raw_yaml.is_some()
    }

    /// Why the file must not be written back, if it must not.
    pub fn read_only(&self) -> Option<&str> {
        self.read_only.as_deref()
    }

    /// Replaces the body; broken frontmatter is kept exactly as it was.
    pub fn set_body(&mut self, body: &str) -> Result<(), EditError> {
        if let Some(why) = &self.read_only {
            return Err(EditError::ReadOnly(why.clone()));
        }
        self.body = body.to_owned();
        Ok(())
    }

    /// Sets (or with `None` removes) a frontmatter key.
    pub fn set(&mut self, key: &str, value: Option<FmValue>) -> Result<(), EditError> {
        if let Some(why) = &self.read_only {
            return Err(EditError::ReadOnly(why.clone()));
        }
        if self.raw_yaml.is_some() {
            let why = self.diagnostics.iter().find(|d| d.message.contains("frontmatter"));
            let why = why.map_or_else(|| "invalid YAML".to_owned(), |d| d.to_string());
            return Err(EditError::BrokenFrontmatter(why));
        }
        let fm = self.fm.get_or_insert_with(Frontmatter::empty);
        match &value {
            Some(value) => fm.set(key, value),
            None => fm.remove(key),
        }
        let mut ignored = Vec::new();
        self.meta = read_meta(fm, &mut ignored);
        Ok(())
    }

    /// Sets the id, title, labels and position in one go.
    pub fn set_meta(&mut self, meta: &Meta) -> Result<(), EditError> {
        if let Some(id) = &meta.id
            && self.meta.id.as_ref() != Some(id)
        {
            self.set("id", Some(FmValue::Quoted(id.as_str().to_owned())))?;
        }
        if let Some(title) = &meta.title
            && self.meta.title.as_ref() != Some(title)
        {
            self.set("title", Some(FmValue::Str(title.clone())))?;
        }
        if self.meta.labels != meta.labels {
            let labels = (!meta.labels.is_empty()).then(|| FmValue::List(meta.labels.clone()));
            self.set("labels", labels)?;
        }
        if self.meta.position != meta.position {
            self.set("position", meta.position.map(FmValue::Int))?;
        }
        Ok(())
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let yaml = match (&self.fm, &self.raw_yaml) {
            (_, Some(raw)) => Some(raw.as_str()),
            (Some(fm), None) => Some(fm.text()),
            (None, None) => None,
        };
        let mut out = String::with_capacity(self.body.len() + 256);
        out.push_str(&self.bom);
        match yaml {
            Some(yaml) if !(yaml.is_empty() && self.open.is_empty()) => {
                let newline = if self.body.contains("\r\n") || yaml.contains("\r\n") { "\r\n" } else { "\n" };
                out.push_str(if self.open.is_empty() { "---" } else { &self.open });
                if self.open.is_empty() {
                    out.push_str(newline);
                }
                out.push_str(yaml);
                if !yaml.is_empty() && !yaml.ends_with('\n') {
                    out.push_str(newline);
                }
                if self.close.is_empty() {
                    out.push_str("---");
                    out.push_str(newline);
                } else {
                    out.push_str(&self.close);
                    if !self.close.ends_with('\n') {
                        out.push_str(newline);
                    }
                }
            }
            _ => {}
        }
        out.push_str(&self.body);
        out
    }

    /// Frontmatter values other than the managed ones, flattened for display.
    pub fn fields(&self) -> Vec<(String, String)> {
        let Some(fm) = &self.fm else {
            return Vec::new();
        };
        fm.map()
            .iter()
            .filter_map(|(k, v)| {
                let key = k.as_str()?;
                (!MANAGED_KEYS.contains(&key)).then(|| (key.to_owned(), display_value(v)))
            })
            .collect()
    }
}

/// A frontmatter value as one line of text.
pub fn display_value(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Sequence(items) => items.iter().map(display_value).collect::<Vec<_>>().join(", "),
        other => yaml_serde::to_string(other).unwrap_or_default().trim().to_owned(),
    }
}

fn read_meta(fm: &Frontmatter, diagnostics: &mut Vec<Diagnostic>) -> Meta {
    let mut meta = Meta::default();
    match fm.get("id") {
        None | Some(Value::Null) => {}
        Some(value) => match PageId::parse(&display_value(value)) {
            Some(id) => meta.id = Some(id),
            None => diagnostics.push(Diagnostic::warning(
                None,
                format!("`id: {}` is not a page id (digits only); a new id is used", display_value(value)),
            )),
        },
    }
    meta.title = match fm.get("title") {
        None | Some(Value::Null) => None,
        Some(v) => Some(display_value(v)).filter(|t| !t.trim().is_empty()),
    };
    meta.labels = match fm.get("labels") {
        Some(Value::Sequence(items)) => items.iter().filter_map(|v| normalize_label(&display_value(v))).collect(),
        Some(Value::String(s)) => s.split([',', ' ']).filter_map(normalize_label).collect(),
        _ => Vec::new(),
    };
    meta.labels.dedup();
    meta.position = match fm.get("position") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64(),
        Some(other) => {
            diagnostics.push(Diagnostic::warning(
                None,
                format!("`position: {}` is not a whole number; ignored", display_value(other)),
            ));
            None
        }
    };
    meta.template = fm.get("template").map(display_value).filter(|t| !t.is_empty());
    meta
}

/// A label as Confluence keeps them: lower-case, no spaces; `None` when nothing is left.
pub fn normalize_label(label: &str) -> Option<String> {
    let mut out = String::new();
    for c in label.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_owned();
    (!out.is_empty()).then_some(out)
}

/// The first `# Heading` of a body outside code fences, used when a page has no `title:`.
pub fn first_heading(body: &str) -> Option<String> {
    let mut fence: Option<&str> = None;
    for line in body.lines().take(200) {
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") {
            fence = Some("```");
        } else if trimmed.starts_with("~~~") {
            fence = Some("~~~");
        } else if let Some(rest) = line.strip_prefix("# ") {
            let title = rest.trim().trim_end_matches('#').trim();
            if !title.is_empty() {
                return Some(title.to_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_managed_fields() {
        let page = PageFile::parse(
            b"---\nid: \"4827391046\"\ntitle: Authentication Architecture\nlabels: [Architecture, security]\nposition: 2\nstatus: Accepted\n---\n# Auth\n",
        );
        assert_eq!(page.meta.id.as_ref().map(PageId::as_str), Some("4827391046"));
        assert_eq!(page.meta.title.as_deref(), Some("Authentication Architecture"));
        assert_eq!(page.meta.labels, ["architecture", "security"]);
        assert_eq!(page.meta.position, Some(2));
        assert_eq!(page.fields(), [("status".to_owned(), "Accepted".to_owned())]);
        assert_eq!(page.body(), "# Auth\n");
        assert!(page.diagnostics.is_empty());
    }

    #[test]
    fn round_trips_byte_for_byte_without_edits() {
        let cases: [&[u8]; 5] = [
            b"---\n# c\ntitle:  x  \nfoo: {a: 1}\n---\nbody",
            b"no frontmatter at all\n",
            b"---\ntitle: [broken\n---\nbody\n",
            b"\xef\xbb\xbf---\r\ntitle: A\r\n---\r\nbody\r\n",
            b"---\ntitle: unclosed\n",
        ];
        for bytes in cases {
            let page = PageFile::parse(bytes);
            assert_eq!(page.to_text().as_bytes(), bytes);
        }
    }

    #[test]
    fn broken_frontmatter_shows_the_body_and_refuses_metadata_edits() {
        let mut page = PageFile::parse(b"---\ntitle: [broken\nid: 1\n---\nThe body survives.\n");
        assert_eq!(page.body(), "The body survives.\n");
        assert!(page.frontmatter_broken());
        assert!(page.diagnostics.iter().any(|d| d.message.contains("not valid YAML")));
        assert!(matches!(page.set("title", Some(FmValue::Str("x".into()))), Err(EditError::BrokenFrontmatter(_))));
        page.set_body("New body\n").expect("body edits keep the broken frontmatter as it is");
        assert_eq!(page.to_text(), "---\ntitle: [broken\nid: 1\n---\nNew body\n");
    }

    #[test]
    fn adding_frontmatter_to_a_plain_file() {
        let mut page = PageFile::parse(b"# Notes\ntext\n");
        let meta = Meta { id: PageId::parse("77"), title: Some("Notes".into()), ..Meta::default() };
        page.set_meta(&meta).expect("editable");
        assert_eq!(page.to_text(), "---\nid: \"77\"\ntitle: Notes\n---\n# Notes\ntext\n");
    }

    #[test]
    fn binary_files_are_read_only() {
        let mut page = PageFile::parse(b"abc\0\xff\xfe");
        assert!(page.read_only().is_some());
        assert!(page.set_body("x").is_err());
        assert!(!page.diagnostics.is_empty());
    }

    #[test]
    fn headings_and_labels() {
        assert_eq!(first_heading("```\n# not this\n```\n# Title #\n").as_deref(), Some("Title"));
        assert_eq!(first_heading("no heading"), None);
        assert_eq!(normalize_label(" Needs Review! ").as_deref(), Some("needs-review"));
        assert_eq!(normalize_label(" ,, "), None);
    }
}
