//! `ask` over the demo space with the question set of `tests/fixtures/demo-questions.yaml`: how
//! often the right page is among the first three sources and the fact is in the answer, with
//! and without the embedding model, extractive and (when `CONFLUENCE_DO_LLM_URL` names one) written
//! by a chat model, and how long an answer takes.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result};
use cdo_app::{Home, Wiki};
use cdo_search::embed::{self, Embedder, MiniLm};

use crate::stats::Samples;

#[derive(serde::Deserialize)]
struct Question {
    q: String,
    page: String,
    fact: String,
}

pub fn run(questions: &Path, work: &Path) -> Result<()> {
    let text = std::fs::read_to_string(questions).with_context(|| format!("reading {}", questions.display()))?;
    let set: Vec<Question> = yaml_serde::from_str(&text).with_context(|| format!("parsing {}", questions.display()))?;
    let wiki = Wiki::new(Home::locate(Some(&work.join("home")))?);
    cdo_app::demo::install(&wiki)?;
    let mut index = wiki.search_index()?;
    wiki.catch_up_search(&mut index, None, &mut |_| {})?;
    let mut model = match MiniLm::load(&embed::models_dir()) {
        Ok(mut m) => {
            index.embed_pending(&mut m, &mut |_, _| {}, &|| true)?;
            Some(m)
        }
        Err(e) => {
            eprintln!("no embedding model ({e}); keyword retrieval only");
            None
        }
    };
    let llm = cdo_ai::Settings::configured(None).map(cdo_ai::OpenAi::new);
    match &llm {
        Some(m) => {
            m.ping().context("the chat model")?;
            println!("chat model: {} at {}", cdo_ai::Model::name(m), std::env::var(cdo_ai::llm::URL_ENV)?);
        }
        None => eprintln!("no chat model ({} unset); extractive answers only", cdo_ai::llm::URL_ENV),
    }
    println!("{} questions over the demo space ({} pages)\n", set.len(), index.len());
    println!(
        "| retrieval | answer | right page in top 3 | fact in the answer | supported | written by the model (checked) | p50 | p99 |\n|---|---|---|---|---|---|---|---|"
    );
    let answerers: Vec<Option<&dyn cdo_ai::Model>> =
        std::iter::once(None).chain(llm.as_ref().map(|m| Some(m as &dyn cdo_ai::Model))).collect();
    for (with_model, writer) in [false, true].into_iter().flat_map(|e| answerers.iter().map(move |w| (e, *w))) {
        if with_model && model.is_none() {
            continue;
        }
        let (mut found, mut facts, mut supported, mut written) = (0, 0, 0, 0);
        let mut times = Samples::default();
        let mut misses = Vec::new();
        for q in &set {
            let embedder = if with_model { model.as_mut().map(|m| m as &mut dyn Embedder) } else { None };
            let started = Instant::now();
            let a = cdo_ai::ask(&wiki, &mut index, embedder, &q.q, &[], writer, &mut |_| {})?;
            if a.by != cdo_ai::answer::EXTRACTIVE {
                written += 1;
            }
            times.push(started.elapsed());
            if a.sources.iter().take(3).any(|s| s.title == q.page) {
                found += 1;
            } else {
                misses.push(format!("{} -> {:?}", q.q, a.sources.iter().map(|s| s.title.as_str()).collect::<Vec<_>>()));
            }
            if a.answer.to_lowercase().contains(&q.fact.to_lowercase()) {
                facts += 1;
            } else {
                eprintln!("no fact: {} -> {} ({})", q.q, a.answer, a.by);
            }
            if a.supported {
                supported += 1;
            }
        }
        let n = set.len() as f64;
        println!(
            "| {} | {} | {found}/{} ({:.0}%) | {facts}/{} ({:.0}%) | {supported} | {written} | {} | {} |",
            if with_model { "hybrid (MiniLM)" } else { "keyword" },
            writer.map_or("extractive", |w| w.name()),
            set.len(),
            100.0 * found as f64 / n,
            set.len(),
            100.0 * facts as f64 / n,
            times.p50(),
            times.p99()
        );
        for m in misses {
            eprintln!("miss: {m}");
        }
    }
    Ok(())
}
