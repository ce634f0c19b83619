//! `check`: freshness of pages against their links and the space's code repository.

use std::time::Duration;

use anyhow::Result;
use cdo_ai::fresh::{self, Options, Report, Status};
use cdo_app::Wiki;
use cdo_core::PageId;

use crate::output::print_json;

pub fn run(
    wiki: &Wiki,
    key: Option<String>,
    page: Option<String>,
    external: bool,
    no_model: bool,
    json: bool,
) -> Result<()> {
    let llm = if no_model { None } else { cdo_ai::configured_model(wiki)? };
    let options = Options {
        external: external.then_some(Duration::from_secs(10)),
        contradictions: true,
        model: llm.as_ref().map(|m| m as &dyn cdo_ai::Model),
    };
    let mut reports: Vec<Report> = Vec::new();
    if let Some(page) = page {
        let (mut space, id) = wiki.resolve(&page)?;
        let code = cdo_ai::code_for(wiki, space.info().key.as_str())?;
        reports.push(fresh::check_page(&mut space, &id, code.as_ref(), options)?);
    } else {
        let keys: Vec<String> = match key {
            Some(key) => vec![key.to_ascii_uppercase()],
            None => wiki.spaces()?.into_iter().map(|e| e.key).collect(),
        };
        for key in keys {
            let mut space = wiki.open_space(&key)?;
            let code = cdo_ai::code_for(wiki, &key)?;
            if code.is_none() && !json {
                eprintln!("{key}: no code repository registered (`space code {key} PATH`); links only");
            }
            reports.extend(fresh::check_space(&mut space, code.as_ref(), options)?);
        }
    }
    let broken = reports.iter().filter(|r| r.status == Status::Broken).count();
    if json {
        print_json(&serde_json::to_value(&reports)?);
    } else {
        print(&reports);
    }
    if broken > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn print(reports: &[Report]) {
    let count = |s: Status| reports.iter().filter(|r| r.status == s).count();
    for r in reports.iter().filter(|r| r.status != Status::Fresh) {
        let status = match r.status {
            Status::Broken => "broken",
            Status::Stale => "stale",
            Status::Fresh => "fresh",
        };
        let id = PageId::parse(&r.id).map_or(r.id.clone(), |id| id.as_str().to_owned());
        println!("{status}: {} ({}:{id}, {})", r.title, r.space, r.path);
        for issue in &r.issues {
            let kind =
                serde_json::to_value(issue.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let section = if issue.section.is_empty() { String::new() } else { format!(" in \"{}\"", issue.section) };
            let line = if issue.line == 0 { String::new() } else { format!(", line {}", issue.line) };
            println!("  {kind}{section}{line}: {}", issue.detail);
            if let Some(s) = &issue.suggestion {
                println!("    suggestion: {s}");
            }
        }
    }
    println!(
        "{} page(s): {} fresh, {} stale, {} broken",
        reports.len(),
        count(Status::Fresh),
        count(Status::Stale),
        count(Status::Broken)
    );
}
