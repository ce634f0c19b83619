//! AI that keeps the wiki true. So far: **ask**, answers grounded in the wiki with the sources
//! they came from. Retrieval is the search index's hybrid ranking; the best section of each of
//! the best pages becomes a numbered source. Without a model the answer is *extractive*: the
//! sentences of those sections that cover the question best, each with its citation. With a model
//! ([`llm`]) the model writes the answer from those sentences and the wiki checks it
//! ([`grounded`]). A question the sections do not cover is answered "the wiki does not say", with
//! the closest pages.

pub mod answer;
pub mod docsync;
pub mod fresh;
pub mod generate;
pub mod grounded;
pub mod llm;

use std::collections::HashMap;

use cdo_app::Wiki;
use cdo_core::PageId;
use cdo_search::embed::Embedder;
use cdo_search::{Hit, Mode, SearchIndex, UserQuery};
use serde::Serialize;

pub use answer::{Passage, extractive};
pub use grounded::answer;
pub use llm::{Model, OpenAi, Settings};

/// Why a question could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error(transparent)]
    Search(#[from] cdo_search::SearchError),
    #[error(transparent)]
    Wiki(#[from] cdo_app::WikiError),
    #[error(transparent)]
    Space(#[from] cdo_core::SpaceError),
    #[error(transparent)]
    Fresh(#[from] fresh::FreshError),
}

/// Where part of an answer came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Source {
    /// The citation number in the answer (`[1]`); 0 for a source the answer does not quote.
    pub n: usize,
    pub space: String,
    pub id: String,
    pub title: String,
    /// The section's heading (empty: the top of the page) and anchor.
    pub section: String,
    pub anchor: String,
    /// 0 to 1: how strongly retrieval ranked it, relative to the best.
    pub relevance: f32,
}

/// An answer and its sources.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Answer {
    pub answer: String,
    /// Whether the wiki supports an answer at all.
    pub supported: bool,
    pub sources: Vec<Source>,
    /// `extractive`, or the model that wrote the answer.
    pub by: String,
    /// What the model said that the sources do not carry, left out of the answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<String>,
    /// Why the answer is not the model's, when a model was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Pages read per question.
pub const PAGES: usize = 6;

/// The `limit` best pages for `question` as written (hybrid with a model, else keyword) in
/// `spaces` (all when empty).
pub fn retrieve(
    index: &mut SearchIndex,
    embedder: Option<&mut dyn Embedder>,
    question: &str,
    spaces: &[String],
    limit: usize,
) -> Result<Vec<Hit>, AiError> {
    let mut query = UserQuery::parse(question);
    query.prefix = false;
    query.spaces.extend(spaces.iter().cloned());
    let mode = if embedder.is_some() { Mode::Hybrid } else { Mode::Keyword };
    Ok(index.query(&query, mode, embedder, limit)?.hits)
}

/// The sections of a retrieved page (its `body`) as passages; `rank` is its place in the
/// retrieval, `best` the best hit's score.
pub fn passages(hit: &Hit, rank: usize, best: f32, body: &str) -> Vec<Passage> {
    let sections = cdo_core::render::sections(body);
    // The section retrieval pointed at is marked; the others still answer.
    let at = sections.iter().position(|s| s.anchor == hit.snippet.anchor).unwrap_or(0);
    sections
        .iter()
        .enumerate()
        .map(|(i, section)| Passage {
            space: hit.space.clone(),
            id: hit.id.clone(),
            title: hit.title.clone(),
            heading: section.heading.clone(),
            anchor: section.anchor.clone(),
            text: section.text.clone(),
            rank,
            pointed: i == at,
            relevance: (hit.score / best.max(f32::MIN_POSITIVE)).clamp(0.0, 1.0),
        })
        .collect()
}

/// Answers `question` from the spaces (all when `spaces` is empty) with their sources: written by
/// `model` when there is one (its tokens go to `on_token` as they arrive), else extractive.
pub fn ask(
    wiki: &Wiki,
    index: &mut SearchIndex,
    embedder: Option<&mut dyn Embedder>,
    question: &str,
    spaces: &[String],
    model: Option<&dyn Model>,
    on_token: &mut dyn FnMut(&str),
) -> Result<Answer, AiError> {
    let hits = retrieve(index, embedder, question, spaces, PAGES)?;
    let best = hits.first().map_or(1.0, |h| h.score);
    let mut open: HashMap<String, cdo_core::Space> = HashMap::new();
    let mut all = Vec::new();
    for (rank, hit) in hits.iter().enumerate() {
        if !open.contains_key(&hit.space) {
            open.insert(hit.space.clone(), wiki.open_space(&hit.space)?);
        }
        let Some(space) = open.get_mut(&hit.space) else { continue };
        let Some(id) = PageId::parse(&hit.id) else { continue };
        let Ok(page) = space.page(&id) else { continue };
        all.extend(passages(hit, rank, best, &page.body));
    }
    Ok(answer(question, &all, model, on_token))
}

/// The model configured for `wiki` (environment, then `config.yaml`), if any.
pub fn configured_model(wiki: &Wiki) -> Result<Option<OpenAi>, AiError> {
    let config = wiki.home().config()?;
    Ok(Settings::configured(config.llm.as_ref()).map(OpenAi::new))
}

/// The code repository registered for space `key`, read at its HEAD; `None` when there is none.
pub fn code_for(wiki: &Wiki, key: &str) -> Result<Option<fresh::Code>, AiError> {
    match wiki.code_repo(key)? {
        Some(path) => Ok(Some(fresh::Code::scan(&path)?)),
        None => Ok(None),
    }
}
