//! Page templates: `_templates/<name>.md` with a `schema:` of typed fields and `{field}`
//! placeholders in the title and body.
//!
//! ```yaml
//! title: "ADR {number}: {decision}"
//! labels: [adr]
//! schema:
//!   number: {type: number, required: true, label: ADR number}
//!   status: {type: select, options: [Proposed, Accepted], default: Proposed}
//! ```

use std::collections::BTreeMap;

use yaml_serde::Value;

use crate::frontmatter::FmValue;
use crate::page::{PageFile, display_value, normalize_label};

/// The folder of a space that holds its templates.
pub const TEMPLATE_DIR: &str = "_templates";

/// Templates every new space starts with (from `assets/templates/`).
pub const BUILTIN: &[(&str, &str)] = &[
    ("adr", include_str!("../../../assets/templates/adr.md")),
    ("meeting-notes", include_str!("../../../assets/templates/meeting-notes.md")),
    ("incident-runbook", include_str!("../../../assets/templates/incident-runbook.md")),
    ("how-to", include_str!("../../../assets/templates/how-to.md")),
];

/// A template, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub name: String,
    /// The title pattern, with placeholders.
    pub title: Option<String>,
    pub description: Option<String>,
    pub labels: Vec<String>,
    pub fields: Vec<Field>,
    pub body: String,
}

/// A typed field of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub kind: FieldKind,
    /// What a form shows beside the field.
    pub label: String,
    pub required: bool,
    pub default: Option<String>,
    /// The choices of a `select`.
    pub options: Vec<String>,
}

/// The types a field can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Select,
    Users,
    Date,
    Number,
    Boolean,
    Labels,
}

impl FieldKind {
    fn parse(text: &str) -> Option<FieldKind> {
        Some(match text {
            "text" | "string" => FieldKind::Text,
            "select" => FieldKind::Select,
            "users" | "user" => FieldKind::Users,
            "date" => FieldKind::Date,
            "number" => FieldKind::Number,
            "boolean" | "bool" => FieldKind::Boolean,
            "labels" => FieldKind::Labels,
            _ => return None,
        })
    }

    /// The name used in `schema:`.
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Select => "select",
            FieldKind::Users => "users",
            FieldKind::Date => "date",
            FieldKind::Number => "number",
            FieldKind::Boolean => "boolean",
            FieldKind::Labels => "labels",
        }
    }
}

/// What is wrong with a template or with the values given for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template `{name}` is broken: {problems}")]
    Broken { name: String, problems: String },
    #[error("the values for template `{name}` are not valid:\n  - {}", problems.join("\n  - "))]
    Invalid { name: String, problems: Vec<String> },
}

/// A page made from a template, ready to be created.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    /// `template:` and the typed field values, in schema order.
    pub fields: Vec<(String, FmValue)>,
}

/// The context placeholders can also name: `{title}`, `{date}`, `{author}`.
pub struct Context<'a> {
    pub title: Option<&'a str>,
    /// Today, as `YYYY-MM-DD`.
    pub today: &'a str,
    pub author: &'a str,
}

impl Template {
    /// Parses `_templates/<name>.md`.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Template, TemplateError> {
        let file = PageFile::parse(bytes);
        let broken = |problems: String| TemplateError::Broken { name: name.to_owned(), problems };
        if let Some(d) = file.diagnostics.iter().find(|d| d.severity == crate::Severity::Error) {
            return Err(broken(d.to_string()));
        }
        let fm = file.frontmatter();
        let text = |key: &str| fm.and_then(|fm| fm.get(key)).map(display_value).filter(|s| !s.is_empty());
        let mut fields = Vec::new();
        let mut problems = Vec::new();
        if let Some(schema) = fm.and_then(|fm| fm.get("schema")) {
            let Value::Mapping(schema) = schema else {
                return Err(broken("`schema:` must map field names to their types".into()));
            };
            for (key, spec) in schema {
                let Some(field_name) = key.as_str() else {
                    continue;
                };
                match parse_field(field_name, spec) {
                    Ok(field) => fields.push(field),
                    Err(problem) => problems.push(problem),
                }
            }
        }
        if !problems.is_empty() {
            return Err(broken(problems.join("; ")));
        }
        Ok(Template {
            name: name.to_owned(),
            title: text("title"),
            description: text("description"),
            labels: file.meta.labels.clone(),
            fields,
            body: file.body().to_owned(),
        })
    }

    /// Validates `values` against the schema and fills the placeholders.
    pub fn instantiate(
        &self,
        values: &BTreeMap<String, String>,
        context: &Context<'_>,
    ) -> Result<Instance, TemplateError> {
        let mut problems = Vec::new();
        for given in values.keys() {
            if !self.fields.iter().any(|f| &f.name == given) {
                let known: Vec<&str> = self.fields.iter().map(|f| f.name.as_str()).collect();
                problems.push(format!(
                    "there is no field `{given}`; the fields are: {}",
                    if known.is_empty() { "(none)".to_owned() } else { known.join(", ") }
                ));
            }
        }
        let mut fields = vec![("template".to_owned(), FmValue::Str(self.name.clone()))];
        let mut labels = self.labels.clone();
        let mut text_values: BTreeMap<&str, String> = BTreeMap::new();
        for field in &self.fields {
            let raw = values.get(&field.name).map(|s| s.trim()).filter(|s| !s.is_empty());
            let raw = raw.map(str::to_owned).or_else(|| field.default.clone());
            let Some(raw) = raw else {
                if field.required {
                    problems.push(format!("`{}` ({}) is required", field.name, field.label));
                }
                text_values.insert(&field.name, String::new());
                continue;
            };
            match check(field, &raw, context.today) {
                Ok((value, shown)) => {
                    if field.kind == FieldKind::Labels {
                        if let FmValue::List(items) = &value {
                            labels.extend(items.iter().cloned());
                        }
                    } else {
                        fields.push((field.name.clone(), value));
                    }
                    text_values.insert(&field.name, shown);
                }
                Err(problem) => problems.push(format!("`{}` ({}): {problem}", field.name, field.label)),
            }
        }
        let builtin = |name: &str, title: &str| -> Option<String> {
            match name {
                "title" => Some(title.to_owned()),
                "date" | "today" => Some(context.today.to_owned()),
                "author" => Some(context.author.to_owned()),
                _ => None,
            }
        };
        let title = match (context.title, &self.title) {
            (Some(t), _) => t.trim().to_owned(),
            (None, Some(pattern)) => fill(pattern, &text_values, &|n| builtin(n, "")),
            (None, None) => String::new(),
        };
        if title.is_empty() {
            problems.push("a title is required (this template has no title pattern)".to_owned());
        }
        if !problems.is_empty() {
            return Err(TemplateError::Invalid { name: self.name.clone(), problems });
        }
        let body = fill(&self.body, &text_values, &|n| builtin(n, &title));
        labels.sort();
        labels.dedup();
        Ok(Instance { title, body, labels, fields })
    }
}

fn parse_field(name: &str, spec: &Value) -> Result<Field, String> {
    let get = |key: &str| spec.get(key).map(display_value).filter(|s| !s.is_empty());
    let kind_text = match spec {
        Value::String(s) => s.clone(),
        Value::Mapping(_) => get("type").unwrap_or_else(|| "text".to_owned()),
        _ => return Err(format!("field `{name}` needs a type")),
    };
    let kind = FieldKind::parse(&kind_text).ok_or_else(|| {
        format!("field `{name}` has unknown type `{kind_text}` (text, select, users, date, number, boolean, labels)")
    })?;
    let options: Vec<String> = match spec.get("options") {
        Some(Value::Sequence(items)) => items.iter().map(display_value).collect(),
        _ => Vec::new(),
    };
    if kind == FieldKind::Select && options.is_empty() {
        return Err(format!("select field `{name}` needs `options: [...]`"));
    }
    let required = matches!(spec.get("required"), Some(Value::Bool(true)));
    Ok(Field {
        name: name.to_owned(),
        kind,
        label: get("label").unwrap_or_else(|| name.to_owned()),
        required,
        default: get("default"),
        options,
    })
}

/// Checks one value; returns what goes into frontmatter and what placeholders show.
fn check(field: &Field, raw: &str, today: &str) -> Result<(FmValue, String), String> {
    let list = |raw: &str| -> Vec<String> {
        raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    };
    match field.kind {
        FieldKind::Text => Ok((FmValue::Str(raw.to_owned()), raw.to_owned())),
        FieldKind::Select => field
            .options
            .iter()
            .find(|o| o.eq_ignore_ascii_case(raw))
            .map(|o| (FmValue::Str(o.clone()), o.clone()))
            .ok_or_else(|| format!("`{raw}` is not one of {}", field.options.join(", "))),
        FieldKind::Users => {
            let users = list(raw);
            let shown = users.join(", ");
            Ok((FmValue::List(users), shown))
        }
        FieldKind::Labels => {
            let labels: Vec<String> = list(raw).iter().filter_map(|l| normalize_label(l)).collect();
            let shown = labels.join(", ");
            Ok((FmValue::List(labels), shown))
        }
        FieldKind::Date => {
            let text = if raw.eq_ignore_ascii_case("today") { today } else { raw };
            text.parse::<jiff::civil::Date>()
                .map(|d| (FmValue::Str(d.to_string()), d.to_string()))
                .map_err(|_| format!("`{raw}` is not a date like 2024-01-31 (or `today`)"))
        }
        FieldKind::Number => {
            if let Ok(n) = raw.parse::<i64>() {
                return Ok((FmValue::Int(n), n.to_string()));
            }
            match raw.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok((FmValue::Float(n), raw.to_owned())),
                _ => Err(format!("`{raw}` is not a number")),
            }
        }
        FieldKind::Boolean => match raw.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" | "1" => Ok((FmValue::Bool(true), "yes".to_owned())),
            "false" | "no" | "n" | "off" | "0" => Ok((FmValue::Bool(false), "no".to_owned())),
            _ => Err(format!("`{raw}` is not yes or no")),
        },
    }
}

/// Replaces `{name}` placeholders for known names; every other brace stays as written.
fn fill(text: &str, values: &BTreeMap<&str, String>, builtin: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').filter(|&c| {
            let name = &after[..c];
            !name.is_empty() && name.chars().all(|ch| ch.is_alphanumeric() || ch == '_' || ch == '-')
        });
        let replacement = close.and_then(|c| {
            let name = &after[..c];
            values.get(name).cloned().or_else(|| builtin(name)).map(|v| (v, c))
        });
        match replacement {
            Some((value, c)) => {
                out.push_str(&value);
                rest = &after[c + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether a template's name is safe as a file stem.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADR: &str = "---\ntitle: \"ADR {number}: {decision}\"\nlabels: [adr]\nschema:\n  number: {type: number, required: true, label: ADR number}\n  decision: {type: text, required: true}\n  status: {type: select, options: [Proposed, Accepted, Superseded], default: Proposed}\n  deciders: {type: users}\n  date: {type: date, default: today}\n  reversible: boolean\n  tags: labels\n---\n# ADR {number}: {decision}\n\nStatus: {status}, decided by {deciders} on {date}. Code: `fn x() {}` {unknown}\n";

    fn ctx() -> Context<'static> {
        Context { title: None, today: "2026-11-27", author: "Alice" }
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn fills_title_body_and_fields() {
        let t = Template::parse("adr", ADR.as_bytes()).expect("valid template");
        assert_eq!(t.fields.len(), 7);
        let v = values(&[
            ("number", "7"),
            ("decision", "Use JWT"),
            ("status", "accepted"),
            ("deciders", "alice, bob"),
            ("tags", "Security"),
        ]);
        let page = t.instantiate(&v, &ctx()).expect("valid values");
        assert_eq!(page.title, "ADR 7: Use JWT");
        assert_eq!(
            page.body,
            "# ADR 7: Use JWT\n\nStatus: Accepted, decided by alice, bob on 2026-11-27. Code: `fn x() {}` {unknown}\n"
        );
        assert_eq!(page.labels, ["adr", "security"]);
        assert!(page.fields.contains(&("status".to_owned(), FmValue::Str("Accepted".into()))));
        assert!(page.fields.contains(&("number".to_owned(), FmValue::Int(7))));
        assert!(page.fields.contains(&("date".to_owned(), FmValue::Str("2026-11-27".into()))));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let t = Template::parse("adr", ADR.as_bytes()).expect("valid template");
        let v = values(&[
            ("number", "seven"),
            ("status", "Done"),
            ("date", "31/01/2024"),
            ("reversible", "maybe"),
            ("nope", "x"),
        ]);
        let err = t.instantiate(&v, &ctx()).expect_err("invalid").to_string();
        for expected in [
            "no field `nope`",
            "`seven` is not a number",
            "`Done` is not one of Proposed",
            "not a date",
            "not yes or no",
            "`decision` (decision) is required",
        ] {
            assert!(err.contains(expected), "missing {expected:?} in {err}");
        }
    }

    #[test]
    fn broken_schemas_are_reported() {
        let bad = "---\nschema:\n  x: {type: colour}\n  y: select\n---\n";
        let err = Template::parse("bad", bad.as_bytes()).expect_err("broken").to_string();
        assert!(err.contains("unknown type `colour`") && err.contains("needs `options"), "{err}");
    }

    #[test]
    fn builtin_templates_parse() {
        for (name, text) in BUILTIN {
            let t = Template::parse(name, text.as_bytes()).expect("builtin templates are valid");
            assert!(!t.fields.is_empty(), "{name} has fields");
        }
    }
}
