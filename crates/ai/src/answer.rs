//! The extractive answer: the sentences of the retrieved sections that cover the question's
//! words best (rarer words weigh more, a section's heading and page title count half), each with
//! its citation; "the wiki does not say" when no sentence covers half of the question.

use std::collections::{HashMap, HashSet};

use cdo_search::analyzer;

use crate::{Answer, Source};

/// A section of a retrieved page.
#[derive(Clone, Debug, PartialEq)]
pub struct Passage {
    pub space: String,
    pub id: String,
    pub title: String,
    pub heading: String,
    pub anchor: String,
    pub text: String,
    /// The page's place in the retrieval (0: best).
    pub rank: usize,
    /// Whether retrieval pointed at this section of the page.
    pub pointed: bool,
    /// 0 to 1, relative to the best page.
    pub relevance: f32,
}

/// Share of the question's weight a sentence (with its heading and title) must cover.
const SUPPORT: f32 = 0.5;
/// Sources listed at most.
const SOURCES: usize = 3;

struct Sentence<'a> {
    passage: &'a Passage,
    text: String,
    terms: HashSet<String>,
}

/// The question's words that say what it is about, analysed (stemmed, lower-case).
pub(crate) fn question_terms(question: &str) -> Vec<String> {
    let tokens = analyzer::tokens(question);
    let mut out: Vec<String> = Vec::new();
    for t in &tokens {
        let word = question.get(t.from..t.to).unwrap_or("");
        if !analyzer::is_filler(word) && !out.contains(&t.term) {
            out.push(t.term.clone());
        }
    }
    if out.is_empty() {
        for t in tokens {
            if !out.contains(&t.term) {
                out.push(t.term);
            }
        }
    }
    out
}

/// The rows of a table as sentences that carry their column names: `Service: Auth service;
/// Language: Rust`. `lines` are the table's lines, cells split by ` | `, the header first.
fn table_rows(lines: &[&str], out: &mut Vec<String>) {
    let cells = |line: &str| -> Vec<String> {
        line.trim().trim_matches('|').split(" | ").map(|c| c.trim().to_owned()).collect()
    };
    let Some((header, rows)) = lines.split_first() else { return };
    let header = cells(header);
    for row in rows {
        let parts: Vec<String> = cells(row)
            .into_iter()
            .zip(&header)
            .filter(|(c, _)| !c.is_empty())
            .map(|(c, h)| if h.is_empty() { c } else { format!("{h}: {c}") })
            .collect();
        out.push(format!("{}.", parts.join("; ")));
    }
}

/// The sentences of a section's text (one block per line; a table's rows with its header).
pub(crate) fn sentences(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].contains(" | ") {
            let start = i;
            while i < lines.len() && lines[i].contains(" | ") {
                i += 1;
            }
            table_rows(&lines[start..i], &mut out);
            continue;
        }
        out.extend(split_line(lines[i]).into_iter().map(|s| s.trim().to_owned()));
        i += 1;
    }
    out.retain(|s| s.split_whitespace().count() >= 3);
    out
}

/// A line cut after each `.`, `?` or `!` that ends it or is followed by a space (the pieces keep
/// their spaces; the last may be empty).
pub(crate) fn split_line(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if matches!(b, b'.' | b'?' | b'!') && bytes.get(i + 1).is_none_or(|n| *n == b' ') {
            out.push(&line[start..=i]);
            start = i + 1;
        }
    }
    out.push(&line[start..]);
    out
}

/// The retrieved sentences ranked by how well they cover the question.
pub(crate) struct Ranking<'a> {
    all: Vec<Sentence<'a>>,
    /// `(score, coverage, index into all)`, best first.
    scored: Vec<(f32, f32, usize)>,
}

impl<'a> Ranking<'a> {
    pub(crate) fn new(question: &str, passages: &'a [Passage]) -> Ranking<'a> {
        let wanted = question_terms(question);
        let mut all: Vec<Sentence<'a>> = Vec::new();
        for p in passages {
            for s in sentences(&p.text) {
                let terms = analyzer::terms(&s).into_iter().collect();
                all.push(Sentence { passage: p, text: s, terms });
            }
        }
        // Rarer words say more: inverse sentence frequency.
        let n = all.len().max(1) as f32;
        let mut weight: HashMap<&str, f32> = HashMap::new();
        let mut total = 0.0;
        for t in &wanted {
            let df = all.iter().filter(|s| s.terms.contains(t)).count();
            let w = (1.0 + n / (1.0 + df as f32)).ln();
            weight.insert(t.as_str(), w);
            // A word no retrieved sentence has counts half against coverage: it may be the asker's
            // word for what the wiki says otherwise ("valid" for "live for"), or what the wiki lacks.
            total += if df == 0 { w * 0.5 } else { w };
        }
        let total: f32 = f32::max(total, f32::MIN_POSITIVE);
        let mut headings: HashMap<(&str, &str), HashSet<String>> = HashMap::new();
        let mut scored: Vec<(f32, f32, usize)> = Vec::new();
        for (i, s) in all.iter().enumerate() {
            let around = headings.entry((s.passage.id.as_str(), s.passage.anchor.as_str())).or_insert_with(|| {
                analyzer::terms(&format!("{} {}", s.passage.title, s.passage.heading)).into_iter().collect()
            });
            // The sentence before, in the same section, sets the scene as the heading does.
            let before = i.checked_sub(1).map(|j| &all[j]).filter(|b| std::ptr::eq(b.passage, s.passage));
            let (mut own, mut near) = (0.0, 0.0);
            for (t, w) in &weight {
                if s.terms.contains(*t) {
                    own += w;
                } else if around.contains(*t) || before.is_some_and(|b| b.terms.contains(*t)) {
                    near += w * 0.5;
                }
            }
            if own == 0.0 {
                continue;
            }
            let coverage = (own + near) / total;
            let prior = 1.0 / (1.0 + 0.2 * s.passage.rank as f32) * if s.passage.pointed { 1.1 } else { 1.0 };
            scored.push(((own + near) * prior, coverage, i));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));
        Ranking { all, scored }
    }

    /// Whether some sentence covers enough of the question to answer it.
    pub(crate) fn supported(&self) -> bool {
        self.scored.first().is_some_and(|(_, coverage, _)| *coverage >= SUPPORT)
    }

    /// Up to `k` distinct sentences, best first, that score at least `share` of the best, with
    /// the passage each came from.
    pub(crate) fn best(&self, k: usize, share: f32) -> Vec<(&'a Passage, &str)> {
        let top = self.scored.first().map_or(0.0, |s| s.0);
        let mut out: Vec<(&'a Passage, &str)> = Vec::new();
        for (score, _, i) in &self.scored {
            if out.len() >= k || *score < share * top {
                break;
            }
            let s = &self.all[*i];
            if !out.iter().any(|(_, t)| *t == s.text) {
                out.push((s.passage, s.text.as_str()));
            }
        }
        out
    }
}

/// "The wiki does not say", with the closest pages as uncited sources.
pub(crate) fn unsupported(passages: &[Passage], by: &str) -> Answer {
    let mut sources = Vec::new();
    for p in passages {
        if sources.len() < SOURCES && !sources.iter().any(|s: &Source| s.id == p.id) && p.pointed {
            sources.push(source(p, 0));
        }
    }
    let closest: Vec<&str> = sources.iter().map(|s| s.title.as_str()).collect();
    let answer = if closest.is_empty() {
        "The wiki does not say.".to_owned()
    } else {
        format!("The wiki does not say. The closest pages: {}.", closest.join(", "))
    };
    Answer { answer, supported: false, sources, by: by.into(), dropped: Vec::new(), note: None }
}

/// Cites `parts` (sentences with the passage each came from): numbered sources in order of first
/// use, one citation after consecutive sentences from the same source, then the other best
/// pages, uncited.
pub(crate) fn cite(parts: &[(&Passage, String)], passages: &[Passage]) -> (String, Vec<Source>) {
    let mut sources: Vec<Source> = Vec::new();
    let mut numbered: Vec<(&str, usize)> = Vec::new();
    for (p, sentence) in parts {
        let n = match sources.iter().find(|s| s.id == p.id && s.anchor == p.anchor) {
            Some(s) => s.n,
            None => {
                let n = sources.len() + 1;
                sources.push(source(p, n));
                n
            }
        };
        numbered.push((sentence.as_str(), n));
    }
    let mut text = String::new();
    for (k, (sentence, n)) in numbered.iter().enumerate() {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(sentence);
        if numbered.get(k + 1).is_none_or(|(_, next)| next != n) {
            text.push_str(&format!(" [{n}]"));
        }
    }
    for p in passages {
        if sources.len() >= SOURCES {
            break;
        }
        if p.pointed && !sources.iter().any(|s| s.id == p.id) {
            sources.push(source(p, 0));
        }
    }
    (text, sources)
}

/// Answers from `passages` without a model.
pub fn extractive(question: &str, passages: &[Passage]) -> Answer {
    let ranking = Ranking::new(question, passages);
    if !ranking.supported() {
        return unsupported(passages, EXTRACTIVE);
    }
    // The best sentence, and a second one that is nearly as good.
    let parts: Vec<(&Passage, String)> =
        ranking.best(2, 0.6).into_iter().map(|(p, text)| (p, text.to_owned())).collect();
    let (answer, sources) = cite(&parts, passages);
    Answer { answer, supported: true, sources, by: EXTRACTIVE.into(), dropped: Vec::new(), note: None }
}

/// What [`Answer::by`] says of an answer written without a model.
pub const EXTRACTIVE: &str = "extractive";

fn source(p: &Passage, n: usize) -> Source {
    Source {
        n,
        space: p.space.clone(),
        id: p.id.clone(),
        title: p.title.clone(),
        section: p.heading.clone(),
        anchor: p.anchor.clone(),
        relevance: p.relevance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(id: &str, title: &str, heading: &str, text: &str, rank: usize) -> Passage {
        Passage {
            space: "ENG".into(),
            id: id.into(),
            title: title.into(),
            heading: heading.into(),
            anchor: heading.to_lowercase().replace(' ', "-"),
            text: text.into(),
            rank,
            pointed: true,
            relevance: 1.0 / (1.0 + rank as f32),
        }
    }

    #[test]
    fn the_best_sentence_answers_with_its_source() {
        let passages = [
            passage(
                "1",
                "Deployment Guide",
                "Rollback",
                "Rollback redeploys the previous image. It takes about four minutes.",
                0,
            ),
            passage(
                "2",
                "Authentication",
                "Tokens",
                "Access tokens live for 15 minutes. Refresh tokens rotate on every use.",
                1,
            ),
        ];
        let a = extractive("How long do access tokens live?", &passages);
        assert!(a.supported);
        assert!(a.answer.starts_with("Access tokens live for 15 minutes."), "{}", a.answer);
        assert!(a.answer.ends_with(" [1]") && a.answer.matches("[1]").count() == 1, "one citation: {}", a.answer);
        assert_eq!(a.sources[0].id, "2");
        assert_eq!(a.sources[0].n, 1);
        assert_eq!(a.sources[0].section, "Tokens");
        assert!(a.sources.iter().any(|s| s.id == "1" && s.n == 0), "the other page is listed uncited");
    }

    #[test]
    fn a_question_the_wiki_does_not_cover_says_so() {
        let passages = [passage("1", "Deployment Guide", "Rollback", "Rollback redeploys the previous image.", 0)];
        let a = extractive("What is the office wifi password?", &passages);
        assert!(!a.supported);
        assert!(a.answer.starts_with("The wiki does not say."), "{}", a.answer);
        let a = extractive("anything", &[]);
        assert_eq!((a.supported, a.answer.as_str()), (false, "The wiki does not say."));
    }
}
