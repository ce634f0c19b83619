//! `search` and `index`: the wiki's search index, caught up before every search.

use std::io::IsTerminal as _;

use anyhow::{Result, bail};
use cdo_app::Wiki;
use cdo_search::embed::{self, Embedder, MiniLm};
use cdo_search::{Hit, Progress, SemanticStatus, UserQuery};
use serde_json::json;

use crate::args::Mode;
use crate::output::print_json;

/// A progress line on stderr while indexing.
fn progress_bar() -> impl FnMut(Progress) {
    let mut bar = crate::output::Bar::terminal_only();
    move |p: Progress| bar.show(&format!("indexing {}", p.space), p.done, p.total, "pages")
}

pub fn index(wiki: &Wiki, key: Option<&str>, rebuild: bool, json: bool) -> Result<()> {
    if rebuild && key.is_none() {
        wiki.drop_search_index()?;
    }
    let mut index = wiki.search_index()?;
    if rebuild && let Some(key) = key {
        // Only this space starts afresh; the others stay as they are.
        index.remove_space(&key.to_ascii_uppercase())?;
    }
    let started = std::time::Instant::now();
    let reports = wiki.catch_up_search(&mut index, key, &mut progress_bar())?;
    if let Some(key) = key
        && reports.is_empty()
    {
        bail!("no space {key} in this wiki; `space list` shows the spaces");
    }
    // Meaning: embed the passages that have no vector yet (only they cost time).
    let embedded = match MiniLm::load(&embed::models_dir()) {
        Ok(mut model) => {
            let mut bar = crate::output::Bar::terminal_only();
            let mut show = |done: usize, total: usize| bar.show("embedding", done, total, "passages");
            Some(index.embed_pending(&mut model, &mut show, &|| true)?)
        }
        Err(cdo_search::SearchError::ModelMissing(hint)) => {
            if !json {
                eprintln!("note: {hint}");
            }
            None
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        print_json(&json!(
            reports
                .iter()
                .map(|(key, r)| json!({"space": key, "indexed": r.indexed, "removed": r.removed, "unchanged": r.unchanged, "embedded": embedded}))
                .collect::<Vec<_>>()
        ));
    } else {
        for (key, r) in &reports {
            println!("{key}: {} page(s) indexed, {} removed, {} unchanged", r.indexed, r.removed, r.unchanged);
        }
        if let Some(n) = embedded {
            println!("{n} passage(s) embedded for semantic search.");
        }
        println!("The index holds {} page(s); took {:.1} s.", index.len(), started.elapsed().as_secs_f64());
    }
    Ok(())
}

pub fn search(
    wiki: &Wiki,
    query: Option<&str>,
    spaces: &[String],
    mode: Mode,
    cql: Option<&str>,
    limit: usize,
    json: bool,
) -> Result<()> {
    if query.is_none() && cql.is_none() {
        bail!("give words to search for, or --cql 'space = ENG AND title ~ \"deploy\"'");
    }
    let mut index = wiki.search_index()?;
    wiki.catch_up_search(&mut index, None, &mut progress_bar())?;
    let hits = match (cql, query) {
        (Some(cql), _) => {
            let mut cql = cql.to_owned();
            if !spaces.is_empty() {
                cql = format!("space IN ({}) AND ({cql})", spaces.join(", "));
            }
            index.cql(&cql, &cdo_search::cql::Context::default(), limit)?
        }
        (None, Some(text)) => {
            let mut parsed = UserQuery::parse(text);
            parsed.prefix = false;
            parsed.spaces.extend(spaces.iter().cloned());
            let mode = match mode {
                Mode::Keyword => cdo_search::Mode::Keyword,
                Mode::Semantic => cdo_search::Mode::Semantic,
                Mode::Hybrid => cdo_search::Mode::Hybrid,
            };
            let mut model = match mode {
                cdo_search::Mode::Keyword => None,
                _ => match MiniLm::load(&embed::models_dir()) {
                    Ok(model) => Some(model),
                    Err(cdo_search::SearchError::ModelMissing(hint)) if mode == cdo_search::Mode::Hybrid => {
                        eprintln!("note: keyword results only; {hint}");
                        None
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            let embedder = model.as_mut().map(|m| m as &mut dyn Embedder);
            let outcome = index.query(&parsed, mode, embedder, limit)?;
            if let SemanticStatus::Used { pending, total } = outcome.semantic
                && pending > 0
            {
                eprintln!(
                    "note: {pending} of {total} passages are not embedded yet, so meaning covers part of the wiki; \
                     `confluence-do index` embeds them"
                );
            }
            outcome.hits
        }
        (None, None) => Vec::new(),
    };
    print_hits(&hits, json, "No pages match.");
    Ok(())
}

pub fn related(wiki: &Wiki, page: &str, limit: usize, json: bool) -> Result<()> {
    let (mut space, id) = wiki.resolve(page)?;
    let summary = space.summary(&id)?;
    let key = space.info().key.as_str().to_owned();
    drop(space);
    let mut index = wiki.search_index()?;
    wiki.catch_up_search(&mut index, Some(&key), &mut progress_bar())?;
    let hits = match MiniLm::load(&embed::models_dir()) {
        Ok(model) => {
            let hits = index.related(&key, &summary.path, &model, 384, limit)?;
            if hits.is_empty() && index.coverage(model.model_id())?.0 > 0 {
                eprintln!("note: this page is not embedded yet; `confluence-do index` embeds it. Related by words:");
                index.related_by_words(&key, &summary.path, limit)?
            } else {
                hits
            }
        }
        Err(cdo_search::SearchError::ModelMissing(hint)) => {
            eprintln!("note: related by words only; {hint}");
            index.related_by_words(&key, &summary.path, limit)?
        }
        Err(e) => return Err(e.into()),
    };
    print_hits(&hits, json, "No related pages found.");
    Ok(())
}

fn print_hits(hits: &[Hit], json: bool, none: &str) {
    if json {
        print_json(&json!(hits.iter().map(hit_json).collect::<Vec<_>>()));
        return;
    }
    if hits.is_empty() {
        println!("{none}");
        return;
    }
    let bold = std::io::stdout().is_terminal();
    for (n, hit) in hits.iter().enumerate() {
        let section =
            if hit.snippet.heading.is_empty() { String::new() } else { format!("  § {}", hit.snippet.heading) };
        println!("{}. {}{section}  [{} {}]", n + 1, hit.title, hit.space, hit.id);
        if !hit.snippet.text.is_empty() {
            println!("   {}", marked(&hit.snippet.text, &hit.snippet.highlights, bold));
        }
    }
}

/// The snippet with its matches in bold on a terminal, between asterisks otherwise.
fn marked(text: &str, highlights: &[(usize, usize)], bold: bool) -> String {
    let (open, close) = if bold { ("\x1b[1m", "\x1b[0m") } else { ("*", "*") };
    let mut out = String::new();
    let mut at = 0;
    for &(from, to) in highlights {
        if from < at || to > text.len() || !text.is_char_boundary(from) || !text.is_char_boundary(to) {
            continue;
        }
        out.push_str(&text[at..from]);
        out.push_str(open);
        out.push_str(&text[from..to]);
        out.push_str(close);
        at = to;
    }
    out.push_str(&text[at..]);
    out
}

/// `{"id","title","space","section","anchor","snippet","highlights","score","path","labels","updated"}`.
fn hit_json(hit: &Hit) -> serde_json::Value {
    json!({
        "id": hit.id,
        "title": hit.title,
        "space": hit.space,
        "section": hit.snippet.heading,
        "anchor": hit.snippet.anchor,
        "snippet": hit.snippet.text,
        "highlights": hit.snippet.highlights,
        "score": hit.score,
        "path": hit.path,
        "labels": hit.labels,
        "updated": cdo_core::model::format_time(hit.updated, 0),
    })
}

/// `ask`: an answer with its sources.
pub fn ask(wiki: &Wiki, question: &str, spaces: &[String], no_model: bool, json: bool) -> Result<()> {
    if question.trim().is_empty() {
        bail!("ask a question: confluence-do ask \"how do we deploy?\"");
    }
    let mut index = wiki.search_index()?;
    wiki.catch_up_search(&mut index, None, &mut progress_bar())?;
    let mut model = match MiniLm::load(&embed::models_dir()) {
        Ok(model) => Some(model),
        Err(cdo_search::SearchError::ModelMissing(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let embedder = model.as_mut().map(|m| m as &mut dyn Embedder);
    let llm = if no_model { None } else { cdo_ai::configured_model(wiki)? };
    // The model's words as they arrive, on standard error; the checked answer follows.
    let mut streamed = false;
    let mut show = |piece: &str| {
        if !json {
            if !streamed {
                eprint!("{} is writing: ", llm.as_ref().map_or("the model", |m| cdo_ai::Model::name(m)));
                streamed = true;
            }
            eprint!("{piece}");
        }
    };
    let answer = cdo_ai::ask(
        wiki,
        &mut index,
        embedder,
        question,
        spaces,
        llm.as_ref().map(|m| m as &dyn cdo_ai::Model),
        &mut show,
    )?;
    if streamed {
        eprintln!("\n");
    }
    if json {
        print_json(&serde_json::to_value(&answer)?);
        return Ok(());
    }
    println!("{}\n", answer.answer);
    if let Some(note) = &answer.note {
        eprintln!("note: {note}\n");
    }
    if !answer.dropped.is_empty() {
        eprintln!("left out (not in the sources): {}\n", answer.dropped.join(" "));
    }
    for s in &answer.sources {
        let n = if s.n == 0 { "   ".to_owned() } else { format!("[{}]", s.n) };
        let section = if s.section.is_empty() { String::new() } else { format!(" > {}", s.section) };
        println!("{n} {}{section}  ({}:{})", s.title, s.space, s.id);
    }
    Ok(())
}
