//! Drafts: documentation of a code repository's folder, a page from a template and some context,
//! meeting notes from a transcript. Each is a draft (title, Markdown body, labels) for the user
//! to edit and publish; nothing here writes to a space. Without a model every draft is built
//! from structure alone (public items and OpenAPI operations; `name: value` lines; speakers and
//! cue phrases); with one, the model writes the prose or fills the fields, and what it returns
//! is checked against the input before it is used.

use std::collections::BTreeMap;

use cdo_core::templates::{Context, Template};
use serde::Serialize;
use serde_json::{Value, json};

use crate::answer::EXTRACTIVE;
use crate::fresh::Code;
use crate::llm::{ChatRequest, Message, Model};

/// A page to be: what the editor opens.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Draft {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    /// `extractive` (built from structure), or the model that wrote it.
    pub by: String,
    /// Why the model's work was not used, when a model was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why a draft could not be made.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("nothing in {repo} under `{path}` to document: no source files with public items and no OpenAPI spec")]
    Empty { repo: String, path: String },
    #[error("the transcript has no lines (write one line per turn, `Name: what they said`)")]
    EmptyTranscript,
    #[error(transparent)]
    Template(#[from] cdo_core::templates::TemplateError),
}

/// A public item of a source file, with its doc comment.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub kind: String,
    pub name: String,
    pub signature: String,
    pub doc: String,
}

// ---------------------------------------------------------------------------------------------
// Documentation of code

/// A reference page for `path` (a folder or file) of `code`: its HTTP operations (from OpenAPI
/// specs) and, per file, its public items with their doc comments. With `model`, an overview in
/// `style` comes first, written from that reference.
pub fn docs(code: &Code, path: &str, style: &str, model: Option<&dyn Model>) -> Result<Draft, GenerateError> {
    let prefix = path.trim_matches('/');
    let under = |f: &str| prefix.is_empty() || f == prefix || f.starts_with(&format!("{prefix}/"));
    let mut reference = String::new();
    let routes: Vec<_> = code.routes.iter().filter(|r| under(&r.file)).collect();
    if !routes.is_empty() {
        reference.push_str("## HTTP API\n\n| Method | Path | Declared in |\n|---|---|---|\n");
        for r in &routes {
            reference.push_str(&format!("| {} | `{}` | `{}` |\n", r.method, r.path, r.file));
        }
        reference.push('\n');
    }
    let mut items_total = 0;
    for (file, text) in code.read(code.files.iter().map(String::as_str).filter(|f| under(f))) {
        let items = public_items(file, &text);
        if items.is_empty() {
            continue;
        }
        items_total += items.len();
        reference.push_str(&format!("## `{file}`\n\n"));
        if let Some(doc) = module_doc(file, &text) {
            reference.push_str(&format!("{doc}\n\n"));
        }
        for item in items {
            reference.push_str(&format!("### `{}` ({})\n\n```\n{}\n```\n\n", item.name, item.kind, item.signature));
            if !item.doc.is_empty() {
                reference.push_str(&format!("{}\n\n", item.doc));
            }
        }
    }
    if routes.is_empty() && items_total == 0 {
        return Err(GenerateError::Empty { repo: code.root.display().to_string(), path: path.to_owned() });
    }
    let name = if prefix.is_empty() {
        code.root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "the code".into())
    } else {
        prefix.to_owned()
    };
    let title = format!("Reference: {name}");
    let source = format!(
        "> Generated from `{}` at commit {}. Edit freely; regenerate to compare with the code.\n\n",
        if prefix.is_empty() { "." } else { prefix },
        code.head.get(..10).unwrap_or(&code.head)
    );
    let structured = format!("{source}{reference}");
    let labels = vec!["reference".to_owned(), "generated".to_owned()];
    let Some(model) = model else {
        return Ok(Draft { title, body: structured, labels, by: EXTRACTIVE.into(), note: None });
    };
    let request = ChatRequest {
        messages: vec![
            Message::system(format!(
                "You write {style} documentation for a team wiki in Markdown. Describe only what the reference \
                 below shows; do not invent functions, routes or behaviour. Write two or three short paragraphs."
            )),
            Message::user(format!("Reference of {name}:\n\n{}", truncate(&reference, 6000))),
        ],
        max_tokens: 400,
        temperature: 0.2,
        schema: None,
    };
    match model.chat(&request, &mut |_| {}) {
        Ok(prose) if !prose.trim().is_empty() => Ok(Draft {
            title,
            body: format!("{source}## Overview\n\n{}\n\n{reference}", prose.trim()),
            labels,
            by: model.name().to_owned(),
            note: None,
        }),
        Ok(_) => Ok(Draft {
            title,
            body: structured,
            labels,
            by: EXTRACTIVE.into(),
            note: Some(format!("{} wrote nothing; this is the structured reference", model.name())),
        }),
        Err(e) => Ok(Draft {
            title,
            body: structured,
            labels,
            by: EXTRACTIVE.into(),
            note: Some(format!("{e}; this is the structured reference")),
        }),
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The public items of a source file, by its language's rules: `pub` in Rust, capitalised names
/// in Go, `export` in JavaScript and TypeScript, names without a leading `_` in Python.
pub fn public_items(file: &str, text: &str) -> Vec<Item> {
    let ext = file.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        let found: Option<(&str, &str)> = match ext {
            "rs" => {
                let rest = t.strip_prefix("pub ").filter(|_| !t.starts_with("pub(crate)"));
                rest.and_then(|r| {
                    let r = r.trim_start_matches("async ").trim_start_matches("const ").trim_start_matches("unsafe ");
                    ["fn", "struct", "enum", "trait", "type", "mod", "static", "const"]
                        .iter()
                        .find_map(|k| r.strip_prefix(&format!("{k} ")).map(|rest| (*k, rest)))
                })
            }
            "go" => ["func", "type"]
                .iter()
                .find_map(|k| t.strip_prefix(&format!("{k} ")).map(|rest| (*k, rest)))
                .and_then(|(k, rest)| {
                    let rest = if k == "func" && rest.starts_with('(') {
                        rest.split_once(") ").map_or(rest, |(_, r)| r)
                    } else {
                        rest
                    };
                    rest.chars().next().filter(|c| c.is_uppercase()).map(|_| (k, rest))
                }),
            "js" | "mjs" | "ts" | "tsx" | "jsx" => t.strip_prefix("export ").and_then(|r| {
                let r = r.trim_start_matches("default ").trim_start_matches("async ");
                ["function", "class", "interface", "type", "const", "enum"]
                    .iter()
                    .find_map(|k| r.strip_prefix(&format!("{k} ")).map(|rest| (*k, rest)))
            }),
            "py" if indent == 0 => ["def", "class", "async def"]
                .iter()
                .find_map(|k| t.strip_prefix(&format!("{k} ")).map(|rest| (*k, rest)))
                .filter(|(_, rest)| !rest.starts_with('_')),
            _ => None,
        };
        let Some((kind, rest)) = found else { continue };
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.is_empty() || (ext == "rs" && indent > 0 && kind != "fn") {
            continue;
        }
        let signature = t.trim_end_matches(['{', ':']).trim_end().to_owned();
        let doc = if ext == "py" { docstring(&lines[i + 1..]) } else { comment_above(&lines[..i]) };
        out.push(Item { kind: kind.replace("async ", ""), name, signature, doc });
    }
    out
}

/// The comment lines right above a declaration (`///`, `//`, `/** */`, `#[...]` skipped).
fn comment_above(before: &[&str]) -> String {
    let mut doc: Vec<String> = Vec::new();
    for line in before.iter().rev() {
        let t = line.trim();
        if t.starts_with("#[") || t.starts_with('@') {
            continue;
        }
        // A file's own doc (`//!`) is not the item's.
        if t.starts_with("//!") {
            break;
        }
        let text = if let Some(r) = t.strip_prefix("///") {
            r
        } else if let Some(r) = t.strip_prefix("//") {
            r
        } else if t.starts_with("/**") || t.starts_with("*/") || t == "*" {
            t.trim_start_matches("/**").trim_end_matches("*/")
        } else if let Some(r) = t.strip_prefix("* ") {
            r
        } else {
            break;
        };
        doc.push(text.trim().to_owned());
    }
    doc.reverse();
    doc.join(" ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The docstring that opens a Python body.
fn docstring(after: &[&str]) -> String {
    let Some(first) = after.iter().map(|l| l.trim()).find(|l| !l.is_empty()) else { return String::new() };
    let Some(quote) = ["\"\"\"", "'''"].into_iter().find(|q| first.starts_with(q)) else { return String::new() };
    let mut text = String::new();
    for line in after.iter().map(|l| l.trim()).skip_while(|l| l.is_empty()) {
        text.push_str(line);
        text.push(' ');
        if text.len() > 3 && text.trim_end().ends_with(quote) {
            break;
        }
    }
    text.trim().trim_matches(|c| c == '"' || c == '\'').split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A file's own doc comment (`//!` in Rust, a module docstring in Python).
fn module_doc(file: &str, text: &str) -> Option<String> {
    let doc = if file.ends_with(".rs") {
        text.lines()
            .take_while(|l| l.starts_with("//!"))
            .map(|l| l.trim_start_matches("//!").trim())
            .collect::<Vec<_>>()
            .join(" ")
    } else if file.ends_with(".py") {
        docstring(&text.lines().collect::<Vec<_>>())
    } else {
        String::new()
    };
    let doc = doc.trim().to_owned();
    (!doc.is_empty()).then_some(doc)
}

// ---------------------------------------------------------------------------------------------
// A page from a template

/// A page from `template` with its fields filled from `context`: `name: value` lines (by field
/// name or label) without a model; with one, the model reads the context and fills the fields,
/// and its values go through the template's own validation. The context is kept under "Context".
pub fn from_template(
    template: &Template,
    context: &str,
    today: &str,
    author: &str,
    model: Option<&dyn Model>,
) -> Result<Draft, GenerateError> {
    let mut values = fields_from_lines(template, context);
    let mut by = EXTRACTIVE.to_owned();
    let mut note = None;
    if let Some(model) = model {
        let mut properties = serde_json::Map::new();
        for f in &template.fields {
            let schema = if f.options.is_empty() {
                json!({"type": "string"})
            } else {
                json!({"type": "string", "enum": f.options})
            };
            properties.insert(f.name.clone(), schema);
        }
        let request = ChatRequest {
            messages: vec![
                Message::system(
                    "Fill the form's fields from the notes. Answer with one JSON object, field name to value; \
                     leave out a field the notes do not give.",
                ),
                Message::user(format!(
                    "Fields: {}\n\nNotes:\n{}",
                    template.fields.iter().map(|f| format!("{} ({})", f.name, f.label)).collect::<Vec<_>>().join(", "),
                    truncate(context, 6000)
                )),
            ],
            max_tokens: 300,
            temperature: 0.0,
            schema: Some(json!({"type": "object", "properties": properties})),
        };
        match model.chat(&request, &mut |_| {}).map(|text| json_object(&text)) {
            Ok(Some(object)) => {
                let mut used = 0;
                for f in &template.fields {
                    let Some(v) = object.get(&f.name).and_then(value_text) else { continue };
                    // A value the notes do not contain is the model's, not the notes': left out.
                    let grounded = context.to_lowercase().contains(&v.to_lowercase()) || !f.options.is_empty();
                    if grounded && !values.contains_key(&f.name) {
                        values.insert(f.name.clone(), v);
                        used += 1;
                    }
                }
                if used > 0 {
                    by = model.name().to_owned();
                }
            }
            Ok(None) => {
                note = Some(format!("{} did not answer with JSON; the fields come from the notes' lines", model.name()))
            }
            Err(e) => note = Some(format!("{e}; the fields come from the notes' lines")),
        }
    }
    // Values that do not validate (a select option the template lacks) are dropped, not fatal.
    let ctx = Context { title: None, today, author };
    let instance = match template.instantiate(&values, &ctx) {
        Ok(i) => i,
        Err(_) => {
            values.retain(|name, value| {
                template
                    .fields
                    .iter()
                    .find(|f| &f.name == name)
                    .is_some_and(|f| f.options.is_empty() || f.options.contains(value))
            });
            template.instantiate(&values, &ctx)?
        }
    };
    let mut body = instance.body;
    if !context.trim().is_empty() {
        body.push_str(&format!("\n\n## Context\n\n{}\n", context.trim()));
    }
    Ok(Draft { title: instance.title, body, labels: instance.labels, by, note })
}

fn fields_from_lines(template: &Template, context: &str) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for line in context.lines() {
        let Some((key, value)) = line.trim().trim_start_matches(['-', '*', ' ']).split_once(':') else { continue };
        let (key, value) = (key.trim().to_lowercase(), value.trim());
        if value.is_empty() {
            continue;
        }
        if let Some(f) = template.fields.iter().find(|f| f.name.to_lowercase() == key || f.label.to_lowercase() == key)
        {
            let value = match f.options.iter().find(|o| o.eq_ignore_ascii_case(value)) {
                Some(o) => o.clone(),
                None => value.to_owned(),
            };
            values.entry(f.name.clone()).or_insert(value);
        }
    }
    values
}

fn json_object(text: &str) -> Option<serde_json::Map<String, Value>> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    serde_json::from_str::<Value>(text.get(start..=end)?).ok()?.as_object().cloned()
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Meeting notes

/// One action item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Action {
    pub owner: String,
    pub task: String,
    pub due: Option<String>,
}

/// What a meeting decided and who does what next.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Notes {
    pub attendees: Vec<String>,
    pub decisions: Vec<String>,
    pub actions: Vec<Action>,
}

const DECIDES: &[&str] = &[
    "we decided",
    "decision:",
    "decided to",
    "we agreed",
    "agreed:",
    "agreed to",
    "let's go with",
    "we'll go with",
    "we will go with",
    "final answer",
];
const ACTS: &[&str] = &[
    "action:",
    "todo",
    "i'll ",
    "i will ",
    "will do",
    "can you",
    "could you",
    "please ",
    "take care of",
    "follow up",
    "i can ",
];
const DAYS: &[&str] = &[
    "today",
    "tomorrow",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "next week",
    "end of week",
    "eow",
    "eod",
];

/// Meeting notes from a transcript (`Name: words` per turn; `[00:01:02]` stamps are ignored).
/// Attendees are the speakers; decisions and action items are the turns with their cue phrases.
/// With a model, its decisions and actions are used when every owner is an attendee and what
/// it lists is in the transcript (its words, its due dates).
pub fn meeting_notes(transcript: &str, date: &str, model: Option<&dyn Model>) -> Result<Draft, GenerateError> {
    let turns = turns(transcript);
    if turns.is_empty() {
        return Err(GenerateError::EmptyTranscript);
    }
    let mut notes = Notes { attendees: Vec::new(), decisions: Vec::new(), actions: Vec::new() };
    for (who, _) in &turns {
        if !who.is_empty() && !notes.attendees.contains(who) {
            notes.attendees.push(who.clone());
        }
    }
    for (who, said) in &turns {
        let lower = said.to_lowercase();
        if DECIDES.iter().any(|c| lower.contains(c)) {
            notes.decisions.push(sentence_with(said, DECIDES));
        }
        if ACTS.iter().any(|c| lower.contains(c)) {
            // "Can you …, Bob?" is Bob's; "I'll …" is the speaker's.
            let addressed = notes.attendees.iter().find(|a| *a != who && lower.contains(&a.to_lowercase())).cloned();
            let owner = if lower.contains("can you") || lower.contains("could you") || lower.contains("please ") {
                addressed.unwrap_or_else(|| who.clone())
            } else {
                who.clone()
            };
            let due = DAYS.iter().find(|d| lower.contains(*d)).map(|d| (*d).to_owned());
            notes.actions.push(Action { owner, task: sentence_with(said, ACTS), due });
        }
    }
    let mut by = EXTRACTIVE.to_owned();
    let mut note = None;
    if let Some(model) = model {
        match model_notes(model, transcript, &notes.attendees) {
            Ok(Some(better)) => {
                notes.decisions = better.decisions;
                notes.actions = better.actions;
                by = model.name().to_owned();
            }
            Ok(None) => {
                note = Some(format!(
                    "{}'s notes named people who were not there or said what the transcript does not; these come from its cue phrases",
                    model.name()
                ))
            }
            Err(e) => note = Some(format!("{e}; these notes come from the transcript's cue phrases")),
        }
    }
    let mut body = format!("**Date:** {date}\n\n## Attendees\n\n");
    for a in &notes.attendees {
        body.push_str(&format!("- {a}\n"));
    }
    body.push_str("\n## Decisions\n\n");
    if notes.decisions.is_empty() {
        body.push_str("None recorded.\n");
    }
    for d in &notes.decisions {
        body.push_str(&format!("- {d}\n"));
    }
    body.push_str("\n## Action items\n\n");
    if notes.actions.is_empty() {
        body.push_str("None recorded.\n");
    }
    for a in &notes.actions {
        let due = a.due.as_ref().map(|d| format!(" (due {d})")).unwrap_or_default();
        body.push_str(&format!("- [ ] **{}**: {}{due}\n", a.owner, a.task));
    }
    body.push_str(&format!("\n## Transcript\n\n<details><summary>{} turns</summary>\n\n", turns.len()));
    for (who, said) in &turns {
        body.push_str(&format!("**{who}:** {said}\n\n"));
    }
    body.push_str("</details>\n");
    Ok(Draft { title: format!("Meeting notes {date}"), body, labels: vec!["meeting-notes".into()], by, note })
}

/// `(speaker, words)` per turn.
fn turns(transcript: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in transcript.lines() {
        let mut t = line.trim();
        // Timestamps: [00:01:02], 00:01:02, (12:30).
        if let Some(rest) = t.strip_prefix('[').and_then(|r| r.split_once(']')).map(|(_, r)| r) {
            t = rest.trim();
        }
        if t.is_empty() {
            continue;
        }
        match t.split_once(':') {
            Some((who, said))
                if !who.is_empty()
                    && who.len() <= 40
                    && who.split_whitespace().count() <= 4
                    && who.chars().next().is_some_and(char::is_alphabetic)
                    && !said.trim().is_empty() =>
            {
                out.push((who.trim().to_owned(), said.trim().to_owned()));
            }
            _ => match out.last_mut() {
                Some((_, said)) => {
                    said.push(' ');
                    said.push_str(t);
                }
                None => out.push((String::new(), t.to_owned())),
            },
        }
    }
    out
}

/// The sentence of `said` with the cue in it.
fn sentence_with(said: &str, cues: &[&str]) -> String {
    let lower = said.to_lowercase();
    let at = cues.iter().filter_map(|c| lower.find(c)).min().unwrap_or(0);
    let start = said[..at].rfind(['.', '!', '?']).map_or(0, |i| i + 1);
    let end = said[at..].find(['.', '!', '?']).map_or(said.len(), |i| at + i + 1);
    said[start..end].trim().to_owned()
}

fn model_notes(
    model: &dyn Model,
    transcript: &str,
    attendees: &[String],
) -> Result<Option<Notes>, crate::llm::LlmError> {
    let schema = json!({
        "type": "object",
        "properties": {
            "decisions": {"type": "array", "items": {"type": "string"}},
            "actions": {"type": "array", "items": {"type": "object", "properties": {
                "owner": {"type": "string", "enum": attendees},
                "task": {"type": "string"},
                "due": {"type": "string"}
            }, "required": ["owner", "task"]}}
        },
        "required": ["decisions", "actions"]
    });
    let request = ChatRequest {
        messages: vec![
            Message::system(
                "From the meeting transcript, list the decisions made and the action items (owner, task, due if said). Answer with JSON.",
            ),
            Message::user(truncate(transcript, 8000).to_owned()),
        ],
        max_tokens: 500,
        temperature: 0.0,
        schema: Some(schema),
    };
    let text = model.chat(&request, &mut |_| {})?;
    let Some(object) = json_object(&text) else { return Ok(None) };
    // What the model lists must come from the transcript: a sentence (not an identifier) whose
    // words the transcript has; a due date the transcript says; each task once.
    let said: std::collections::HashSet<String> = cdo_search::analyzer::terms(transcript).into_iter().collect();
    let grounded = |text: &str, words: usize| {
        let terms = cdo_search::analyzer::terms(text);
        text.split_whitespace().count() >= words
            && !terms.is_empty()
            && terms.iter().filter(|t| said.contains(*t)).count() * 10 >= terms.len() * 7
    };
    let lower = transcript.to_lowercase();
    let mut decisions: Vec<String> = Vec::new();
    for d in object.get("decisions").and_then(Value::as_array).into_iter().flatten().filter_map(value_text) {
        if grounded(&d, 3) && !decisions.contains(&d) {
            decisions.push(d);
        }
    }
    let mut actions: Vec<Action> = Vec::new();
    for a in object.get("actions").and_then(Value::as_array).into_iter().flatten() {
        let (Some(owner), Some(task)) = (a.get("owner").and_then(value_text), a.get("task").and_then(value_text))
        else {
            continue;
        };
        if !attendees.contains(&owner) {
            return Ok(None);
        }
        if !grounded(&task, 2) || actions.iter().any(|b| b.task == task) {
            continue;
        }
        let due = a.get("due").and_then(value_text).filter(|d| lower.contains(&d.to_lowercase()));
        actions.push(Action { owner, task, due });
    }
    if decisions.is_empty() && actions.is_empty() {
        return Ok(None);
    }
    Ok(Some(Notes { attendees: attendees.to_vec(), decisions, actions }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Scripted;

    const TRANSCRIPT: &str = "[00:00:01] Alice: Morning. The invoice job failed twice this week.\n\
        [00:00:09] Bob: We decided to move it to the payments queue. It keeps retries apart.\n\
        [00:01:30] Alice: Agreed. Can you write the migration, Bob? Friday is fine.\n\
        [00:02:02] Carol: I'll update the runbook tomorrow.\n";

    #[test]
    fn notes_without_a_model_come_from_speakers_and_cues() {
        let d = meeting_notes(TRANSCRIPT, "2026-11-27", None).expect("notes");
        assert!(d.body.contains("## Attendees\n\n- Alice\n- Bob\n- Carol\n"), "{}", d.body);
        assert!(d.body.contains("- We decided to move it to the payments queue.\n"), "{}", d.body);
        assert!(d.body.contains("- [ ] **Bob**: Can you write the migration, Bob? (due friday)"), "{}", d.body);
        assert!(d.body.contains("- [ ] **Carol**: I'll update the runbook tomorrow. (due tomorrow)"), "{}", d.body);
        assert_eq!(d.by, EXTRACTIVE);
    }

    #[test]
    fn a_model_naming_someone_absent_is_not_used() {
        let model =
            Scripted::new("local", &[r#"{"decisions": ["Ship it"], "actions": [{"owner": "Mallory", "task": "x"}]}"#]);
        let d = meeting_notes(TRANSCRIPT, "2026-11-27", Some(&model)).expect("notes");
        assert_eq!(d.by, EXTRACTIVE);
        assert!(d.note.as_deref().is_some_and(|n| n.contains("not there")));
        let model = Scripted::new(
            "local",
            &[
                r#"{"decisions": ["Move the invoice job to the payments queue"], "actions": [{"owner": "Bob", "task": "Write the migration", "due": "Friday"}]}"#,
            ],
        );
        let d = meeting_notes(TRANSCRIPT, "2026-11-27", Some(&model)).expect("notes");
        assert_eq!(d.by, "local");
        assert!(d.body.contains("- [ ] **Bob**: Write the migration (due Friday)"), "{}", d.body);
    }

    #[test]
    fn public_items_by_language() {
        let rust = "//! Tokens.\n/// Issues a token.\npub fn issue(user: &str) -> String {\nfn private() {}\npub(crate) fn inner() {}\npub struct Token;\n";
        let names: Vec<String> =
            public_items("src/t.rs", rust).into_iter().map(|i| format!("{}:{}:{}", i.kind, i.name, i.doc)).collect();
        assert_eq!(names, ["fn:issue:Issues a token.", "struct:Token:"]);
        let py = "def create_user(name):\n    \"\"\"Creates a user.\"\"\"\n\ndef _hidden():\n    pass\nclass Store:\n";
        let names: Vec<String> =
            public_items("app.py", py).into_iter().map(|i| format!("{}:{}", i.name, i.doc)).collect();
        assert_eq!(names, ["create_user:Creates a user.", "Store:"]);
        let go = "func (s *Server) Start() error {\nfunc helper() {}\ntype Config struct {\n";
        let names: Vec<String> = public_items("main.go", go).into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["Start", "Config"]);
    }
}
