//! Differences between two versions of a page: unified (for terminals and patches) and
//! word-level (for the UI).

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};

/// A run of words that is the same, added or removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordChange {
    pub op: WordOp,
    pub text: String,
}

/// What happened to a run of words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WordOp {
    Equal,
    Insert,
    Delete,
}

/// A unified diff with three lines of context.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let diff = TextDiff::from_lines(old, new);
    diff.unified_diff().context_radius(3).header(old_name, new_name).to_string()
}

/// A word-level diff; adjacent runs with the same op are merged.
pub fn words(old: &str, new: &str) -> Vec<WordChange> {
    let diff = TextDiff::configure().timeout(std::time::Duration::from_secs(2)).diff_unicode_words(old, new);
    let mut out: Vec<WordChange> = Vec::new();
    for change in diff.iter_all_changes() {
        let op = match change.tag() {
            ChangeTag::Equal => WordOp::Equal,
            ChangeTag::Insert => WordOp::Insert,
            ChangeTag::Delete => WordOp::Delete,
        };
        match out.last_mut() {
            Some(last) if last.op == op => last.text.push_str(change.value()),
            _ => out.push(WordChange { op, text: change.value().to_owned() }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_and_words() {
        let u = unified("a\nb\nc\n", "a\nB\nc\n", "v1", "v2");
        assert!(u.contains("--- v1") && u.contains("-b\n") && u.contains("+B\n"), "{u}");
        let w = words("Tokens expire after one hour.", "Tokens expire after two hours.");
        let rebuilt_old: String = w.iter().filter(|c| c.op != WordOp::Insert).map(|c| c.text.as_str()).collect();
        let rebuilt_new: String = w.iter().filter(|c| c.op != WordOp::Delete).map(|c| c.text.as_str()).collect();
        assert_eq!(rebuilt_old, "Tokens expire after one hour.");
        assert_eq!(rebuilt_new, "Tokens expire after two hours.");
        assert!(w.iter().any(|c| c.op == WordOp::Delete && c.text.contains("one")));
    }
}
