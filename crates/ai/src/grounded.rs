//! Answers written by a model and checked by the wiki. The model sees the sentences retrieval
//! found best, numbered by the section they come from, and is asked to answer from them alone.
//! Its answer is then checked sentence by sentence: a sentence stays only when one source
//! sentence has every number in it, every word of the question it uses (so it speaks of the same
//! thing: "the auth service is on call for orders" is not carried by a sentence about the auth
//! service that does not mention orders) and at least half of its other words; the wiki then
//! cites that source itself, whatever the model wrote. Sentences it
//! cannot find are listed as dropped. When nothing the model said holds up, or the model fails,
//! the answer is the extractive one, with a note saying why.

use std::collections::HashSet;

use cdo_search::analyzer;

use crate::Answer;
use crate::answer::{self, EXTRACTIVE, Passage, Ranking};
use crate::llm::{ChatRequest, Message, Model};

/// Sentences the model is shown.
const EVIDENCE: usize = 5;
/// Share of a sentence's new words (besides numbers, which must all be there) one source
/// sentence must carry.
const CARRIED: f32 = 0.5;
/// Share of the best sentence's score a sentence needs for a claim to rest on it.
const STRONG: f32 = 0.5;
/// Sentences an answer keeps at most.
const CLAIMS: usize = 3;

const SYSTEM: &str = "You answer questions from a team wiki. Use only the sources. Answer with the fact \
from the source in one or two sentences and cite it like [1]. If the sources do not answer the question, \
say: The wiki does not say.";
const EXAMPLE_QUESTION: &str = "Sources:\n[1] Office Guide, Kitchen\nThe coffee machine is cleaned every \
Friday by the facilities team.\n[2] Office Guide, Parking\nVisitors park in the north lot.\n\nQuestion: When \
is the coffee machine cleaned?";
const EXAMPLE_ANSWER: &str = "The coffee machine is cleaned every Friday by the facilities team [1].";

/// Answers `question` from `passages`: with `model` when there is one (its tokens go to
/// `on_token` as they arrive), else extractively.
pub fn answer(
    question: &str,
    passages: &[Passage],
    model: Option<&dyn Model>,
    on_token: &mut dyn FnMut(&str),
) -> Answer {
    let Some(model) = model else { return answer::extractive(question, passages) };
    let ranking = Ranking::new(question, passages);
    if !ranking.supported() {
        // Nothing retrieved covers the question: the model is not asked to guess.
        return answer::unsupported(passages, EXTRACTIVE);
    }
    let evidence = ranking.best(EVIDENCE, 0.3);
    // Claims must rest on the sentences that answer best (the others are context).
    let strong = ranking.best(EVIDENCE, STRONG).len();
    let request =
        ChatRequest { messages: prompt(question, &evidence), max_tokens: 120, temperature: 0.0, schema: None };
    let written = match model.chat(&request, on_token) {
        Ok(text) => text,
        Err(e) => {
            let mut a = answer::extractive(question, passages);
            a.note = Some(format!("{e}; this answer is the wiki's best sentences instead"));
            return a;
        }
    };
    let (kept, dropped) = check(question, &written, &evidence[..strong]);
    if kept.is_empty() {
        let mut a = answer::extractive(question, passages);
        a.note = Some(format!(
            "{} answered with nothing the sources say; this answer is the wiki's best sentences instead",
            model.name()
        ));
        a.dropped = dropped;
        return a;
    }
    let (text, sources) = answer::cite(&kept, passages);
    Answer { answer: text, supported: true, sources, by: model.name().to_owned(), dropped, note: None }
}

/// The chat: instructions, one worked example, then the sources (numbered by section, in order of
/// first appearance) and the question.
fn prompt(question: &str, evidence: &[(&Passage, &str)]) -> Vec<Message> {
    let mut sections: Vec<(&Passage, Vec<&str>)> = Vec::new();
    for (p, sentence) in evidence {
        match sections.iter_mut().find(|(q, _)| q.id == p.id && q.anchor == p.anchor) {
            Some((_, lines)) => lines.push(sentence),
            None => sections.push((p, vec![sentence])),
        }
    }
    let mut user = String::from("Sources:\n");
    for (n, (p, lines)) in sections.iter().enumerate() {
        let place = if p.heading.is_empty() { p.title.clone() } else { format!("{}, {}", p.title, p.heading) };
        user.push_str(&format!("[{}] {place}\n", n + 1));
        for line in lines {
            user.push_str(line);
            user.push('\n');
        }
    }
    user.push_str(&format!("\nQuestion: {question}"));
    vec![
        Message::system(SYSTEM),
        Message::user(EXAMPLE_QUESTION),
        Message::assistant(EXAMPLE_ANSWER),
        Message::user(user),
    ]
}

/// The model's sentences that the evidence carries, each with the passage that carries it, and
/// those it does not.
fn check<'a>(
    question: &str,
    written: &str,
    evidence: &[(&'a Passage, &str)],
) -> (Vec<(&'a Passage, String)>, Vec<String>) {
    let asked: HashSet<String> = analyzer::terms(question).into_iter().collect();
    let wanted = answer::question_terms(question);
    let known: Vec<HashSet<String>> = evidence.iter().map(|(_, s)| analyzer::terms(s).into_iter().collect()).collect();
    let mut kept: Vec<(&'a Passage, String)> = Vec::new();
    let mut dropped = Vec::new();
    for sentence in claims(written) {
        if declines(&sentence) {
            continue;
        }
        // The sentence's words besides filler; `new` are those the question does not have.
        let terms: Vec<String> = analyzer::tokens(&sentence)
            .into_iter()
            .filter(|t| !analyzer::is_filler(sentence.get(t.from..t.to).unwrap_or("")))
            .map(|t| t.term)
            .collect();
        let new: Vec<String> = terms.iter().filter(|t| !asked.contains(*t)).cloned().collect();
        let mut all = terms;
        all.sort();
        all.dedup();
        let number = |t: &str| t.bytes().any(|b| b.is_ascii_digit());
        let words = new.iter().filter(|t| !number(t)).count();
        // A source sentence with every number and every word of the question the sentence uses
        // (it speaks of the same thing), with the most of the other words.
        let best = known
            .iter()
            .enumerate()
            .filter(|(_, terms)| all.iter().filter(|t| number(t) || asked.contains(*t)).all(|t| terms.contains(t)))
            .map(|(i, terms)| (i, new.iter().filter(|t| !number(t) && terms.contains(*t)).count()))
            .max_by_key(|(_, carried)| *carried);
        let holds = |carried: usize| {
            all.len() >= 3 && !new.is_empty() && (words == 0 || carried as f32 / words as f32 >= CARRIED)
        };
        // It must say something besides the source's title and heading, and speak to at least
        // half of the question (with that heading's help).
        let informative = best.is_some_and(|(i, _)| {
            let p = evidence[i].0;
            let place: HashSet<String> = analyzer::terms(&format!("{} {}", p.title, p.heading)).into_iter().collect();
            let answered = wanted.iter().filter(|t| all.contains(t) || place.contains(*t)).count();
            new.iter().any(|t| !place.contains(t)) && answered * 2 >= wanted.len()
        });
        match best {
            Some((i, carried)) if holds(carried) && informative => {
                // A sentence that adds nothing to what is kept already is a repeat.
                let before: HashSet<String> = kept.iter().flat_map(|(_, s)| analyzer::terms(s)).collect();
                if kept.len() < CLAIMS && !new.iter().all(|t| before.contains(t)) {
                    kept.push((evidence[i].0, sentence));
                }
            }
            _ => dropped.push(sentence),
        }
    }
    (kept, dropped)
}

/// The sentences of a model's answer, without its own citations and preambles.
fn claims(written: &str) -> Vec<String> {
    let mut clean = String::with_capacity(written.len());
    let mut rest = written;
    // Citations like [1], [1, 2] or [1][2] go: the wiki cites for itself.
    while let Some(open) = rest.find('[') {
        clean.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_digit() || c == ',' || c == ' ') => {
                rest = &after[close + 1..];
            }
            _ => {
                clean.push('[');
                rest = after;
            }
        }
    }
    clean.push_str(rest);
    let mut out = Vec::new();
    for line in clean.lines() {
        for sentence in answer::split_line(line.trim().trim_start_matches(['-', '*', ' '])) {
            push_claim(&mut out, sentence);
        }
    }
    out
}

fn push_claim(out: &mut Vec<String>, sentence: &str) {
    let mut s = sentence.trim();
    for preamble in ["The answer is:", "Answer:", "The answer to this question is:"] {
        if let Some(rest) = s.strip_prefix(preamble) {
            s = rest.trim();
        }
    }
    // " ." left where a citation stood before the full stop.
    let s = s.replace(" .", ".").replace("  ", " ");
    let s = s.trim();
    if s.split_whitespace().count() >= 2 {
        let mut s = s.to_owned();
        if !s.ends_with(['.', '?', '!']) {
            s.push('.');
        }
        out.push(s);
    }
}

/// Whether the model says the sources do not answer.
fn declines(sentence: &str) -> bool {
    let s = sentence.to_lowercase();
    [
        "does not say",
        "doesn't say",
        "not in the wiki",
        "not specified",
        "not provided",
        "do not answer",
        "does not answer",
    ]
    .iter()
    .any(|p| s.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;
    use crate::llm::Scripted;

    /// The sources an answer cites.
    fn cited(a: &Answer) -> Vec<&Source> {
        a.sources.iter().filter(|s| s.n > 0).collect()
    }

    fn passages() -> Vec<Passage> {
        let p = |id: &str, title: &str, heading: &str, text: &str, rank: usize| Passage {
            space: "ENG".into(),
            id: id.into(),
            title: title.into(),
            heading: heading.into(),
            anchor: heading.to_lowercase(),
            text: text.into(),
            rank,
            pointed: true,
            relevance: 1.0,
        };
        vec![
            p(
                "1",
                "Authentication",
                "Tokens",
                "Access tokens live for 15 minutes. Signing keys rotate every 90 days.",
                0,
            ),
            p("2", "Deployment Guide", "Rollback", "A rollback takes about four minutes.", 1),
        ]
    }

    #[test]
    fn a_grounded_answer_keeps_the_model_words_and_the_wiki_cites_them() {
        let model = Scripted::new("local", &["Access tokens live for 15 minutes [2]."]);
        let a = answer("How long do access tokens live?", &passages(), Some(&model), &mut |_| {});
        assert_eq!(a.by, "local");
        // The model cited [2]; the sentence is in source 1, and the wiki says so.
        assert_eq!(a.answer, "Access tokens live for 15 minutes. [1]");
        assert_eq!(cited(&a)[0].title, "Authentication");
        assert!(a.dropped.is_empty() && a.note.is_none());
        // The model saw numbered sources and the question.
        let seen = model.seen.lock().expect("lock");
        let last = &seen[0].messages.last().expect("a message").content;
        assert!(last.contains("[1] Authentication, Tokens\n") && last.ends_with("How long do access tokens live?"));
    }

    #[test]
    fn a_made_up_number_is_dropped_and_the_rest_stays() {
        let model = Scripted::new(
            "local",
            &[
                "Signing keys rotate every 15 minutes [1]. The access tokens live for 15 minutes [1]. The coffee machine is on call.",
            ],
        );
        let a = answer("How long do access tokens live?", &passages(), Some(&model), &mut |_| {});
        assert_eq!(a.by, "local");
        assert_eq!(a.answer, "The access tokens live for 15 minutes. [1]");
        assert_eq!(a.dropped, ["Signing keys rotate every 15 minutes.", "The coffee machine is on call."]);
    }

    #[test]
    fn nothing_grounded_falls_back_to_the_best_sentences_with_a_note() {
        let model = Scripted::new("local", &["The refresh token is valid for 24 hours."]);
        let a = answer("How long do access tokens live?", &passages(), Some(&model), &mut |_| {});
        assert_eq!(a.by, EXTRACTIVE);
        assert!(a.answer.starts_with("Access tokens live for 15 minutes."), "{}", a.answer);
        assert!(a.note.as_deref().is_some_and(|n| n.contains("local answered with nothing")), "{:?}", a.note);
        assert_eq!(a.dropped, ["The refresh token is valid for 24 hours."]);
    }

    #[test]
    fn a_question_the_wiki_does_not_cover_is_not_put_to_the_model() {
        let model = Scripted::new("local", &["The password is hunter2."]);
        let a = answer("What is the office wifi password?", &passages(), Some(&model), &mut |_| {});
        assert!(!a.supported && a.answer.starts_with("The wiki does not say."), "{}", a.answer);
        assert!(model.seen.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_failing_model_still_gets_an_answer_and_says_why() {
        let model = Scripted::new("local", &[]);
        let a = answer("How long does a rollback take?", &passages(), Some(&model), &mut |_| {});
        assert!(a.answer.contains("four minutes"), "{}", a.answer);
        assert!(a.note.as_deref().is_some_and(|n| n.contains("did not answer")), "{:?}", a.note);
    }

    #[test]
    fn words_joined_to_the_wrong_fact_and_repeats_are_not_kept() {
        let passages = [Passage {
            space: "ENG".into(),
            id: "1".into(),
            title: "Architecture".into(),
            heading: "Services".into(),
            anchor: "services".into(),
            text:
                "The orders service is on call through the commerce team. Every request is checked by the auth service."
                    .into(),
            rank: 0,
            pointed: true,
            relevance: 1.0,
        }];
        let model = Scripted::new(
            "local",
            &[
                "The auth service is on call for the orders service. The commerce team is on call for the orders service [1]. \
               The commerce team is on call for the orders service, commerce. rollback = rollback.",
            ],
        );
        let a = answer("Who is on call for the orders service?", &passages, Some(&model), &mut |_| {});
        assert_eq!(a.answer, "The commerce team is on call for the orders service. [1]");
        assert_eq!(a.dropped, ["The auth service is on call for the orders service.", "rollback = rollback."]);
    }

    #[test]
    fn claims_lose_citations_and_preambles() {
        assert_eq!(
            claims("The answer is: Okta handles SSO [1][2]. Rollbacks take four minutes [1, 2].\n- Use [the] guide"),
            ["Okta handles SSO.", "Rollbacks take four minutes.", "Use [the] guide."]
        );
    }
}
