//! YAML frontmatter: split from the body, parsed, and edited key by key.
//!
//! Edits replace only the lines of the keys they change, so everything else (other tools' keys,
//! comments, quoting, key order) survives byte for byte. Every edit is checked by parsing the
//! result again; if the text-level edit would not mean what was asked, the whole block is
//! re-emitted from data instead, which keeps every value (but not comments).

use yaml_serde::{Mapping, Value};

use crate::model::Diagnostic;

/// A file cut into its parts; concatenating them gives the file back exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split<'a> {
    /// A UTF-8 byte-order mark the file started with, kept on save.
    pub bom: &'a str,
    /// The opening fence line with its line ending (`---\n`), empty without frontmatter.
    pub open: &'a str,
    /// The YAML between the fences.
    pub yaml: Option<&'a str>,
    /// The closing fence line with its line ending, empty without frontmatter.
    pub close: &'a str,
    pub body: &'a str,
    /// 1-based line of the first YAML line (for diagnostics).
    pub yaml_line: usize,
    /// Problems with the fences themselves.
    pub diagnostic: Option<Diagnostic>,
}

/// Cuts a page's text into frontmatter and body. Never fails: odd input becomes a diagnostic.
pub fn split(text: &str) -> Split<'_> {
    let (bom, rest) = match text.strip_prefix('\u{feff}') {
        Some(rest) => (&text[..3], rest),
        None => ("", text),
    };
    let no_frontmatter =
        |diagnostic| Split { bom, open: "", yaml: None, close: "", body: rest, yaml_line: 0, diagnostic };
    let first_end = rest.find('\n').map_or(rest.len(), |i| i + 1);
    let first = &rest[..first_end];
    if first.trim_end() != "---" {
        return no_frontmatter(None);
    }
    let mut offset = first_end;
    while offset < rest.len() {
        let end = rest[offset..].find('\n').map_or(rest.len(), |i| offset + i + 1);
        let line = rest[offset..end].trim_end();
        if line == "---" || line == "..." {
            return Split {
                bom,
                open: first,
                yaml: Some(&rest[first_end..offset]),
                close: &rest[offset..end],
                body: &rest[end..],
                yaml_line: 2,
                diagnostic: None,
            };
        }
        offset = end;
    }
    no_frontmatter(Some(Diagnostic::warning(
        Some(1),
        "the file starts with `---` but the frontmatter is never closed by another `---` line; \
         the whole file is shown as the body",
    )))
}

/// A value confluence.do writes into frontmatter.
#[derive(Clone, Debug, PartialEq)]
pub enum FmValue {
    /// A string, written plain where YAML reads it back the same, else double-quoted.
    Str(String),
    /// A string that is always double-quoted (ids, so no tool reads them as numbers).
    Quoted(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A list of strings, written in flow style: `[a, b]`.
    List(Vec<String>),
}

impl FmValue {
    fn to_value(&self) -> Value {
        match self {
            FmValue::Str(s) | FmValue::Quoted(s) => Value::String(s.clone()),
            FmValue::Int(n) => Value::Number((*n).into()),
            FmValue::Float(n) => Value::Number((*n).into()),
            FmValue::Bool(b) => Value::Bool(*b),
            FmValue::List(items) => Value::Sequence(items.iter().map(|s| Value::String(s.clone())).collect()),
        }
    }

    fn to_yaml(&self) -> String {
        match self {
            FmValue::Str(s) => scalar(s, false),
            FmValue::Quoted(s) => quoted(s),
            FmValue::Int(n) => n.to_string(),
            FmValue::Float(n) => format!("{n:?}"),
            FmValue::Bool(b) => b.to_string(),
            FmValue::List(items) => {
                let items: Vec<String> = items.iter().map(|s| scalar(s, true)).collect();
                format!("[{}]", items.join(", "))
            }
        }
    }
}

/// Frontmatter that parsed as a YAML mapping, editable key by key.
#[derive(Clone, Debug, PartialEq)]
pub struct Frontmatter {
    text: String,
    map: Mapping,
    newline: &'static str,
}

impl Frontmatter {
    /// Parses the YAML between the fences; `first_line` is its line in the file.
    pub fn parse(text: &str, first_line: usize) -> Result<Frontmatter, Diagnostic> {
        let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let map = if text.trim().is_empty() {
            Mapping::new()
        } else {
            match yaml_serde::from_str::<Value>(text) {
                Ok(Value::Mapping(map)) => map,
                Ok(Value::Null) => Mapping::new(),
                Ok(_) => {
                    return Err(Diagnostic::error(
                        Some(first_line),
                        "the frontmatter is not a list of `key: value` lines",
                    ));
                }
                Err(err) => {
                    let line = err.location().map(|l| l.line() + first_line - 1);
                    let message = format!("the frontmatter is not valid YAML: {err}");
                    return Err(Diagnostic::error(line.or(Some(first_line)), message));
                }
            }
        };
        Ok(Frontmatter { text: text.to_owned(), map, newline })
    }

    /// An empty frontmatter, for pages that had none.
    pub fn empty() -> Frontmatter {
        Frontmatter { text: String::new(), map: Mapping::new(), newline: "\n" }
    }

    /// The YAML text, as it will be written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed mapping.
    pub fn map(&self) -> &Mapping {
        &self.map
    }

    /// A top-level value by key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// Sets a key, touching only its own lines.
    pub fn set(&mut self, key: &str, value: &FmValue) {
        let line = format!("{key}: {}{}", value.to_yaml(), self.newline);
        let mut want = self.map.clone();
        want.insert(Value::String(key.to_owned()), value.to_value());
        let text = match find_block(&self.text, key) {
            Some(range) => splice(&self.text, range, &line),
            None => {
                let mut text = self.text.clone();
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push_str(self.newline);
                }
                text.push_str(&line);
                text
            }
        };
        self.commit(text, want);
    }

    /// Removes a key, touching only its own lines.
    pub fn remove(&mut self, key: &str) {
        if self.map.get(key).is_none() {
            return;
        }
        let mut want = self.map.clone();
        want.remove(key);
        let text = match find_block(&self.text, key) {
            Some(range) => splice(&self.text, range, ""),
            None => self.text.clone(),
        };
        self.commit(text, want);
    }

    /// Keeps `text` if it parses to exactly `want`, else writes `want` out in full.
    fn commit(&mut self, text: String, want: Mapping) {
        let reparsed = match yaml_serde::from_str::<Value>(&text) {
            Ok(Value::Mapping(map)) => Some(map),
            Ok(Value::Null) => Some(Mapping::new()),
            _ => None,
        };
        self.text = if reparsed.as_ref() == Some(&want) {
            text
        } else if want.is_empty() {
            String::new()
        } else {
            let full = yaml_serde::to_string(&Value::Mapping(want.clone())).unwrap_or_default();
            if self.newline == "\r\n" { full.replace('\n', "\r\n") } else { full }
        };
        self.map = want;
    }
}

fn splice(text: &str, range: std::ops::Range<usize>, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..range.start]);
    out.push_str(with);
    out.push_str(&text[range.end..]);
    out
}

/// The byte range of a top-level key's lines: its key line and the indented or `- ` lines that
/// continue it (blank and comment lines only when more continuation follows).
fn find_block(text: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let mut offset = 0;
    let mut start = None;
    let mut end = 0;
    while offset < text.len() {
        let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i + 1);
        let line = &text[offset..line_end];
        match start {
            None => {
                if top_level_key(line) == Some(key) {
                    start = Some(offset);
                    end = line_end;
                }
            }
            Some(_) => {
                if top_level_key(line).is_some() {
                    break;
                }
                let continuation = line.starts_with([' ', '\t']) || line.starts_with("- ") || line.trim_end() == "-";
                if continuation {
                    end = line_end;
                } else if !(line.trim().is_empty() || line.starts_with('#')) {
                    // Something we do not understand at the top level: stop here.
                    break;
                }
            }
        }
        offset = line_end;
    }
    start.map(|s| s..end)
}

/// The key of a `key: value` line at column 0, unquoted.
fn top_level_key(line: &str) -> Option<&str> {
    let first = line.chars().next()?;
    if first.is_whitespace() || matches!(first, '#' | '-' | '?' | '{' | '[' | '&' | '*' | '!') {
        return None;
    }
    if let Some(quote) = line.strip_prefix(['"', '\'']) {
        let q = line.chars().next()?;
        let close = quote.find(q)?;
        let after = quote[close + 1..].trim_start();
        return after.starts_with(':').then(|| &quote[..close]);
    }
    let colon = line.find(':')?;
    let after = &line[colon + 1..];
    let key = line[..colon].trim_end();
    let ends = after.is_empty() || after.starts_with([' ', '\t', '\r', '\n']);
    (ends && !key.is_empty()).then_some(key)
}

/// A string scalar, plain where that reads back as the same string, else double-quoted.
fn scalar(s: &str, in_flow: bool) -> String {
    if plain_ok(s, in_flow) { s.to_owned() } else { quoted(s) }
}

fn plain_ok(s: &str, in_flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let lower = s.to_ascii_lowercase();
    let special = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".nan", ".inf", "-.inf"];
    !(first.is_whitespace()
        || first.is_ascii_digit()
        || "-?:,[]{}#&*!|>'\"%@`.+".contains(first)
        || s.ends_with(char::is_whitespace)
        || s.ends_with(':')
        || s.contains(": ")
        || s.contains(" #")
        || s.chars().any(|c| c.is_control())
        || (in_flow && s.contains([',', '[', ']', '{', '}']))
        || special.contains(&lower.as_str()))
}

/// A double-quoted YAML scalar; YAML's escapes are a superset of these.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(yaml: &str, key: &str, value: FmValue) -> String {
        let mut fm = Frontmatter::parse(yaml, 2).expect("valid yaml");
        fm.set(key, &value);
        fm.text().to_owned()
    }

    #[test]
    fn split_finds_fences_and_keeps_every_byte() {
        let cases = [
            "---\ntitle: A\n---\nbody\n",
            "\u{feff}---\r\ntitle: A\r\n---\r\nbody",
            "---\n---\n",
            "no frontmatter\n---\n",
            "---\ntitle: never closed\n",
            "",
            "---",
        ];
        for text in cases {
            let s = split(text);
            let joined = format!("{}{}{}{}{}", s.bom, s.open, s.yaml.unwrap_or(""), s.close, s.body);
            assert_eq!(joined, text);
        }
        assert!(split("---\ntitle: never closed\n").diagnostic.is_some());
        assert_eq!(split("---\na: 1\n...\nb").yaml, Some("a: 1\n"));
    }

    #[test]
    fn set_touches_only_its_own_lines() {
        let yaml = "# owned by another tool\ntitle:   'Old'   # keep me?\nweird_key:  {a: 1,   b: [x,y]}\nlabels:\n  - a\n  - b\n\n# trailing comment\n";
        let out = edit(yaml, "title", FmValue::Str("New title".into()));
        assert_eq!(
            out,
            "# owned by another tool\ntitle: New title\nweird_key:  {a: 1,   b: [x,y]}\nlabels:\n  - a\n  - b\n\n# trailing comment\n"
        );
        let out = edit(yaml, "labels", FmValue::List(vec!["x".into(), "y z".into()]));
        assert!(out.ends_with("labels: [x, y z]\n\n# trailing comment\n"), "{out}");
        assert!(out.contains("weird_key:  {a: 1,   b: [x,y]}\n"));
        let out = edit(yaml, "id", FmValue::Quoted("123".into()));
        assert!(out.starts_with(yaml) && out.ends_with("id: \"123\"\n"), "{out}");
    }

    #[test]
    fn values_that_need_quotes_get_them() {
        for s in ["true", "123", "a: b", "- x", "#x", "", " x", "x ", "it's", "null", "2024-01-01", "a\nb"] {
            let out = edit("", "title", FmValue::Str(s.into()));
            let back: Value = yaml_serde::from_str(&out).expect("parses");
            assert_eq!(back.get("title"), Some(&Value::String(s.into())), "{s:?} -> {out}");
        }
        let out = edit("", "labels", FmValue::List(vec!["a,b".into(), "[x]".into(), "c".into()]));
        let back: Value = yaml_serde::from_str(&out).expect("parses");
        assert_eq!(back.get("labels").and_then(Value::as_sequence).map(Vec::len), Some(3));
    }

    #[test]
    fn block_scalars_and_sequences_at_column_zero_are_replaced_whole() {
        let yaml = "title: |\n  multi\n\n  line\nlabels:\n- a\n- b\nother: 1\n";
        let out = edit(yaml, "title", FmValue::Str("T".into()));
        assert_eq!(out, "title: T\nlabels:\n- a\n- b\nother: 1\n");
        let out = edit(yaml, "labels", FmValue::List(vec![]));
        assert_eq!(out, "title: |\n  multi\n\n  line\nlabels: []\nother: 1\n");
    }

    #[test]
    fn remove_keeps_the_rest() {
        let mut fm = Frontmatter::parse("a: 1\nposition: 3\nb: 2\n", 2).expect("valid");
        fm.remove("position");
        assert_eq!(fm.text(), "a: 1\nb: 2\n");
    }

    #[test]
    fn broken_yaml_is_a_diagnostic_with_a_line() {
        let err = Frontmatter::parse("title: ok\nlabels: [unclosed\n", 2).expect_err("broken");
        assert!(err.message.contains("not valid YAML"), "{}", err.message);
        assert!(err.line.is_some());
        assert!(Frontmatter::parse("- a\n- b\n", 2).is_err());
    }

    #[test]
    fn flow_mapping_frontmatter_falls_back_to_a_full_rewrite_that_keeps_values() {
        let mut fm = Frontmatter::parse("{title: A, custom: {x: 1}}\n", 2).expect("valid");
        fm.set("title", &FmValue::Str("B".into()));
        let back: Value = yaml_serde::from_str(fm.text()).expect("parses");
        assert_eq!(back.get("title"), Some(&Value::String("B".into())));
        assert!(back.get("custom").is_some());
    }
}
