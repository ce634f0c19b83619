//! Contradictions between pages: two statements of different pages about the same thing (most
//! of their words shared) that say different things:
//! - with different numbers ("access tokens expire after 15 minutes" and "… after 60 minutes"):
//!   reported as found, model or not;
//! - with different words ("single sign-on uses Okta" and "… uses Auth0"): only with a model,
//!   when it judges them unable to both be true.

use std::collections::{HashMap, HashSet};

use cdo_core::{PageId, Space};
use cdo_search::analyzer;

use super::{FreshError, Issue, Kind};
use crate::llm::{ChatRequest, Message, Model};

/// Share of their words two statements must share to be about the same thing.
const SAME_SUBJECT: f32 = 0.6;
/// A statement contradicted by more pages than this is a pattern, not a contradiction.
const TEMPLATED: usize = 3;
/// Pairs put to the model at most per check.
const ASK_AT_MOST: usize = 50;

struct Statement {
    page: PageId,
    title: String,
    section: String,
    /// 1-based, in the page's body; 0 when the sentence's text is not found as written.
    line: usize,
    text: String,
    words: HashSet<String>,
    numbers: HashSet<String>,
}

/// The contradictions in a space, as issues per page (each names the other page).
pub fn find(space: &mut Space, model: Option<&dyn Model>) -> Result<HashMap<PageId, Vec<Issue>>, FreshError> {
    let ids: Vec<PageId> = space.catalog()?.nodes().filter(|n| n.file.is_some()).map(|n| n.id.clone()).collect();
    let mut all: Vec<Statement> = Vec::new();
    for id in ids {
        let page = space.page(&id)?;
        for section in cdo_core::render::sections(&page.body) {
            for text in crate::answer::sentences(&section.text) {
                let (mut words, mut numbers) = (HashSet::new(), HashSet::new());
                for t in analyzer::tokens(&text) {
                    let word = text.get(t.from..t.to).unwrap_or("");
                    // A number starts with a digit ("auth0", "ed25519" and "v2" are names).
                    if t.term.starts_with(|c: char| c.is_ascii_digit()) {
                        numbers.insert(t.term);
                    } else if !analyzer::is_filler(word) {
                        words.insert(t.term);
                    }
                }
                if words.len() >= 3 && (!numbers.is_empty() || model.is_some()) {
                    // The line that has the sentence's first words (the sentence is plain text;
                    // the body may have markup in it).
                    let start: String = text.chars().take(24).collect();
                    let line = page.body.lines().position(|l| l.contains(&start)).map_or(0, |i| i + 1);
                    all.push(Statement {
                        page: id.clone(),
                        title: page.summary.title.clone(),
                        section: section.heading.clone(),
                        line,
                        text,
                        words,
                        numbers,
                    });
                }
            }
        }
    }
    // (a, b, whether their numbers differ)
    let mut pairs: Vec<(usize, usize, bool)> = Vec::new();
    let mut conflicts: Vec<usize> = vec![0; all.len()];
    let mut record = |i: usize, j: usize, numbers: bool, pairs: &mut Vec<(usize, usize, bool)>| {
        pairs.push((i.min(j), i.max(j), numbers));
        conflicts[i] += 1;
        conflicts[j] += 1;
    };

    // Numbers: the same statement (the same words, or one more on one side) with other numbers.
    // Statements are grouped by their words, so this is linear in the statements; a group that
    // spans many pages is a pattern and is skipped whole.
    let key = |s: &Statement, without: Option<&str>| -> String {
        let mut words: Vec<&str> = s.words.iter().map(String::as_str).filter(|w| Some(*w) != without).collect();
        words.sort_unstable();
        words.join(" ")
    };
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, s) in all.iter().enumerate() {
        if !s.numbers.is_empty() {
            groups.entry(key(s, None)).or_default().push(i);
        }
    }
    let patterns: HashSet<&str> = groups
        .iter()
        .filter(|(_, group)| group.iter().map(|&i| &all[i].page).collect::<HashSet<_>>().len() > TEMPLATED + 1)
        .map(|(k, _)| k.as_str())
        .collect();
    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    for (i, a) in all.iter().enumerate() {
        if a.numbers.is_empty() {
            continue;
        }
        let own = key(a, None);
        if patterns.contains(own.as_str()) {
            continue;
        }
        let mut keys = vec![own];
        keys.extend(a.words.iter().map(|w| key(a, Some(w))));
        for k in keys {
            if patterns.contains(k.as_str()) {
                continue;
            }
            let Some(group) = groups.get(&k) else { continue };
            for &j in group {
                let b = &all[j];
                if j == i || b.page == a.page || !seen.insert((i.min(j), i.max(j))) {
                    continue;
                }
                if a.numbers != b.numbers {
                    record(i, j, true, &mut pairs);
                }
            }
        }
    }

    // Words (with a model): statements sharing most words, each saying something the other does
    // not. Candidates share one of their rarest words (prefix filtering: two sets with Jaccard
    // similarity t share one of the first |a| - ceil(t|a|) + 1 words of either, in any one
    // order), then are measured.
    if model.is_some() {
        let mut frequency: HashMap<&str, usize> = HashMap::new();
        for s in &all {
            for w in &s.words {
                *frequency.entry(w.as_str()).or_default() += 1;
            }
        }
        fn prefix<'s>(s: &'s Statement, frequency: &HashMap<&str, usize>) -> Vec<&'s str> {
            let mut words: Vec<&str> = s.words.iter().map(String::as_str).collect();
            words.sort_unstable_by_key(|w| (frequency.get(w).copied().unwrap_or(0), *w));
            let keep = s.words.len() - (SAME_SUBJECT * s.words.len() as f32).ceil() as usize + 1;
            words.truncate(keep);
            words
        }
        let mut by_word: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, s) in all.iter().enumerate() {
            for w in prefix(s, &frequency) {
                by_word.entry(w).or_default().push(i);
            }
        }
        for (i, a) in all.iter().enumerate() {
            let mut candidates: HashSet<usize> = HashSet::new();
            for w in prefix(a, &frequency) {
                candidates.extend(by_word.get(w).into_iter().flatten().copied().filter(|&j| j > i));
            }
            for j in candidates {
                let b = &all[j];
                if b.page == a.page || a.numbers != b.numbers {
                    continue;
                }
                let shared = a.words.intersection(&b.words).count();
                let union = a.words.union(&b.words).count().max(1);
                if (shared as f32) / (union as f32) >= SAME_SUBJECT
                    && !a.words.is_subset(&b.words)
                    && !b.words.is_subset(&a.words)
                {
                    record(i, j, false, &mut pairs);
                }
            }
        }
    }
    // A statement at odds with many pages is a pattern pages share ("Step 2 …", "Team 7 …"), not
    // a contradiction.
    pairs.retain(|(i, j, _)| conflicts[*i] <= TEMPLATED && conflicts[*j] <= TEMPLATED);
    pairs.sort_unstable();
    let mut out: HashMap<PageId, Vec<Issue>> = HashMap::new();
    let mut asked = 0;
    for (i, j, numbers) in pairs {
        let (a, b) = (&all[i], &all[j]);
        if !numbers {
            let Some(model) = model else { continue };
            if asked >= ASK_AT_MOST {
                continue;
            }
            asked += 1;
            if !judged_contradictory(model, &a.text, &b.text) {
                continue;
            }
        }
        for (this, other) in [(a, b), (b, a)] {
            out.entry(this.page.clone()).or_default().push(Issue {
                kind: Kind::Contradiction,
                section: this.section.clone(),
                line: this.line,
                detail: format!(
                    "\"{}\" but \"{}\" says \"{}\"{}",
                    this.text,
                    other.title,
                    other.text,
                    if other.section.is_empty() || other.section == other.title {
                        String::new()
                    } else {
                        format!(" (in {})", other.section)
                    }
                ),
                suggestion: Some(format!("agree on one value here and in \"{}\"", other.title)),
            });
        }
    }
    Ok(out)
}

/// The model's verdict on a pair: contradictory only when it says so in the JSON asked for.
fn judged_contradictory(model: &dyn Model, a: &str, b: &str) -> bool {
    let request = ChatRequest {
        messages: vec![
            Message::system(
                "You compare two statements from a team wiki. Answer with JSON: {\"contradict\": true} when they cannot both be true, else {\"contradict\": false}.",
            ),
            Message::user(format!("Statement 1: {a}\nStatement 2: {b}")),
        ],
        max_tokens: 20,
        temperature: 0.0,
        schema: Some(
            serde_json::json!({"type": "object", "properties": {"contradict": {"type": "boolean"}}, "required": ["contradict"]}),
        ),
    };
    match model.chat(&request, &mut |_| {}) {
        Ok(text) => text.replace(' ', "").contains("\"contradict\":true"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Scripted;
    use cdo_core::model::{Author, SpaceInfo, SpaceKey};

    fn space_with(pages: &[(&str, &str)]) -> (tempfile::TempDir, Space) {
        let dir = tempfile::tempdir().expect("tempdir");
        let info = SpaceInfo {
            key: SpaceKey::parse("ENG").expect("key"),
            name: "Eng".into(),
            description: None,
            homepage: None,
        };
        let author = Author { name: "Alice".into(), email: "alice@example.com".into() };
        let mut space =
            Space::create(&dir.path().join("ENG"), &dir.path().join("cache.sqlite"), &info, &author).expect("space");
        for (title, body) in pages {
            let page = cdo_core::NewPage { title: Some((*title).into()), body: (*body).into(), ..Default::default() };
            space.create_page(&page, &author).expect("page");
        }
        (dir, space)
    }

    #[test]
    fn different_numbers_always_and_different_words_when_the_model_says_so() {
        let (_dir, mut space) = space_with(&[
            ("SSO", "Single sign-on uses Okta for every employee. Access tokens expire after 15 minutes of use."),
            ("Login", "Single sign-on uses Auth0 for every employee. Access tokens expire after 60 minutes of use."),
            ("More", "See the login page. See the login page for the details."),
        ]);
        let found = find(&mut space, None).expect("find");
        let all: Vec<&Issue> = found.values().flatten().collect();
        assert_eq!(all.len(), 2, "only the numbers, without a model: {all:?}");
        assert!(all.iter().all(|i| i.detail.contains("minutes")));

        let model = Scripted::new("local", &["{\"contradict\": true}"]);
        let found = find(&mut space, Some(&model)).expect("find");
        let all: Vec<&Issue> = found.values().flatten().collect();
        assert_eq!(all.len(), 4, "and the words the model judged: {all:?}");
        assert!(all.iter().any(|i| i.detail.contains("Okta") && i.detail.contains("Auth0")));
        // One pair was put to the model: a sentence that only says more is no candidate.
        assert_eq!(model.seen.lock().expect("lock").len(), 1);
    }
}
