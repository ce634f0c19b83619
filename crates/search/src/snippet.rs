//! The best section of a result and a snippet of it with the matching words marked.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::analyzer;

/// A section as the index stores it beside each page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSection {
    #[serde(rename = "a")]
    pub anchor: String,
    #[serde(rename = "h")]
    pub heading: String,
    #[serde(rename = "t")]
    pub text: String,
}

/// What a result shows: the section it points at and an excerpt with highlights.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    /// The section's heading anchor (empty: the top of the page).
    pub anchor: String,
    pub heading: String,
    /// Plain text.
    pub text: String,
    /// Byte ranges of `text` that matched the query.
    pub highlights: Vec<(usize, usize)>,
}

/// The words to mark: analysed terms, and an unfinished word typed last (a prefix).
#[derive(Clone, Debug, Default)]
pub struct Marks {
    pub terms: HashSet<String>,
    pub prefix: Option<String>,
    /// Words already stemmed for this query (a page repeats its words).
    seen: std::cell::RefCell<std::collections::HashMap<String, Option<String>>>,
    /// Which first bytes a matching word can have (lower-cased; every non-ASCII byte allowed).
    first_bytes: std::cell::OnceCell<[bool; 256]>,
}

impl Marks {
    /// Whether a word of the text matches: its analysed form is a term, or it begins with the
    /// prefix being typed. Stemming is the costly part, so it runs only for words that begin
    /// like a term (a stem, less its last letter, which stemming may change: "policy" is
    /// indexed as "polici").
    fn term_of(&self, word: &str) -> Option<String> {
        // Most words cannot match: they start with a letter no term or prefix starts with.
        let table = self.first_bytes.get_or_init(|| {
            let mut table = [false; 256];
            table[0x80..].fill(true);
            for t in self.terms.iter().chain(&self.prefix) {
                if let Some(&b) = t.as_bytes().first() {
                    table[usize::from(b.to_ascii_lowercase())] = true;
                    table[usize::from(b.to_ascii_uppercase())] = true;
                }
            }
            table
        });
        if !word.as_bytes().first().is_some_and(|&b| table[usize::from(b)]) {
            return None;
        }
        if let Some(prefix) = &self.prefix
            && starts_with_folded(word, prefix)
        {
            return Some(prefix.clone());
        }
        let first = word.as_bytes().first().map(u8::to_ascii_lowercase);
        let candidate = self.terms.iter().any(|t| {
            // Most words differ in their first letter already.
            if word.is_ascii() && t.as_bytes().first().copied() != first {
                return false;
            }
            let cut = t.char_indices().last().map_or(0, |(i, _)| i);
            starts_with_folded(word, if cut >= 3 { &t[..cut] } else { t })
        });
        if !candidate {
            return None;
        }
        if let Some(known) = self.seen.borrow().get(word) {
            return known.clone();
        }
        let found = analyzer::terms(word).into_iter().find(|t| self.terms.contains(t));
        self.seen.borrow_mut().insert(word.to_owned(), found.clone());
        found
    }
}

/// Whether `word` begins with `prefix` (lower-case), ignoring case.
fn starts_with_folded(word: &str, prefix: &str) -> bool {
    if word.is_ascii() {
        word.len() >= prefix.len() && word.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    } else {
        analyzer::terms(word).first().is_some_and(|t| t.starts_with(prefix)) || word.to_lowercase().starts_with(prefix)
    }
}

/// The words of a text as the index splits them: runs of letters and digits (byte ranges).
/// ASCII is classified byte by byte; other characters are decoded.
fn words(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 6);
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (word_char, len) = if b < 0x80 {
            (b.is_ascii_alphanumeric(), 1)
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            (c.is_alphanumeric(), c.len_utf8())
        };
        match (word_char, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
        i += len;
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// How many words a snippet spans at most.
const WINDOW: usize = 28;

/// The section at `anchor` (where meaning matched) with its matching words marked, or [`best`]
/// without an anchor.
pub fn at_or_best(sections: &[StoredSection], marks: &Marks, anchor: Option<&str>) -> Snippet {
    match anchor.and_then(|a| sections.iter().find(|s| s.anchor == a)) {
        Some(section) => {
            let (text, highlights) = excerpt(&section.text, marks);
            Snippet { anchor: section.anchor.clone(), heading: section.heading.clone(), text, highlights }
        }
        None => best(sections, marks),
    }
}

/// Picks the section with the most distinct matching words (a heading match counts double) and
/// cuts a snippet around its densest run of matches. Without any match: the page's beginning.
pub fn best(sections: &[StoredSection], marks: &Marks) -> Snippet {
    let mut best: Option<(usize, usize)> = None; // (score, index)
    if !marks.terms.is_empty() || marks.prefix.is_some() {
        for (i, section) in sections.iter().enumerate() {
            let score = distinct(&section.text, marks) + 2 * distinct(&section.heading, marks);
            if score > 0 && best.is_none_or(|(s, _)| score > s) {
                best = Some((score, i));
            }
        }
    }
    let index = best.map_or(0, |(_, i)| i);
    let Some(section) = sections.get(index) else {
        return Snippet::default();
    };
    let (text, highlights) = excerpt(&section.text, marks);
    Snippet { anchor: section.anchor.clone(), heading: section.heading.clone(), text, highlights }
}

fn distinct(text: &str, marks: &Marks) -> usize {
    let mut seen = HashSet::new();
    for (from, to) in words(text) {
        if let Some(term) = marks.term_of(&text[from..to]) {
            seen.insert(term);
        }
    }
    seen.len()
}

/// The window of at most [`WINDOW`] words with the most matches, on one line of text.
fn excerpt(text: &str, marks: &Marks) -> (String, Vec<(usize, usize)>) {
    let tokens = words(text);
    if tokens.is_empty() {
        let cut = floor_char(text, 200);
        return (text[..cut].replace('\n', " "), Vec::new());
    }
    let hit: Vec<bool> = tokens.iter().map(|&(a, b)| marks.term_of(&text[a..b]).is_some()).collect();
    let (mut start, mut best, mut count) = (0, 0, 0);
    for i in 0..tokens.len() {
        if hit[i] {
            count += 1;
        }
        if i >= WINDOW && hit[i - WINDOW] {
            count -= 1;
        }
        if count > best {
            best = count;
            start = (i + 1).saturating_sub(WINDOW);
        }
    }
    // Start a few words before the first match, so it reads in context.
    if let Some(first) = (start..tokens.len()).find(|&i| hit[i]) {
        start = first.saturating_sub(4).max(start);
    }
    let end = (start + WINDOW).min(tokens.len()) - 1;
    let from = if start == 0 { 0 } else { tokens[start].0 };
    let to = if end + 1 == tokens.len() { text.len() } else { tokens[end].1 };
    let mut out = String::new();
    let mut highlights = Vec::new();
    if from > 0 {
        out.push_str("… ");
    }
    let base = out.len();
    out.push_str(&text[from..to].replace('\n', " "));
    for (&(a, b), _) in tokens.iter().zip(&hit).filter(|(_, h)| **h) {
        if a >= from && b <= to {
            highlights.push((base + a - from, base + b - from));
        }
    }
    if to < text.len() {
        out.push_str(" …");
    }
    (out, highlights)
}

fn floor_char(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(anchor: &str, heading: &str, text: &str) -> StoredSection {
        StoredSection { anchor: anchor.into(), heading: heading.into(), text: text.into() }
    }

    fn marks(words: &str) -> Marks {
        Marks { terms: analyzer::terms(words).into_iter().collect(), ..Marks::default() }
    }

    #[test]
    fn points_at_the_section_that_matches_and_marks_the_words() {
        let sections = [
            section("", "", "An overview of the service and who owns it."),
            section(
                "token-refresh",
                "Token refresh",
                "Refresh tokens rotate on every use; a reused token revokes the family.",
            ),
            section("logging", "Logging", "Logs go to the central store."),
        ];
        let s = best(&sections, &marks("rotating tokens"));
        assert_eq!(s.anchor, "token-refresh");
        let marked: Vec<&str> = s.highlights.iter().map(|&(a, b)| &s.text[a..b]).collect();
        assert_eq!(marked, ["tokens", "rotate", "token"]);
        let none = best(&sections, &marks("kubernetes"));
        assert_eq!(none.anchor, "");
        assert!(none.highlights.is_empty());
    }

    #[test]
    fn long_sections_are_cut_around_the_matches() {
        let filler = "lorem ipsum dolor sit amet ".repeat(40);
        let text = format!("{filler}the rollback procedure restores the previous release {filler}");
        let s = best(&[section("deploy", "Deploy", &text)], &marks("rollback release"));
        assert!(s.text.starts_with("… ") && s.text.ends_with(" …"), "{}", s.text);
        assert!(s.text.len() < 260, "{}", s.text);
        let marked: Vec<&str> = s.highlights.iter().map(|&(a, b)| &s.text[a..b]).collect();
        assert_eq!(marked, ["rollback", "release"]);
        let typing = Marks { prefix: Some("rollb".into()), ..Marks::default() };
        let s = best(&[section("deploy", "Deploy", &text)], &typing);
        assert_eq!(s.highlights.len(), 1);
        assert!(best(&[], &typing).text.is_empty());
        assert!(best(&[section("", "", "")], &typing).text.is_empty());
    }
}
