//! Storage-format conformance and speed over real samples: every sample converts without losing a
//! word, its Markdown survives a round trip unchanged; figures for both directions.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use cdo_storage::{Context, check, to_markdown, to_storage};

use crate::stats::Samples;

/// Runs every `*.storage.xhtml` / `*.storage.xml` below `dir`.
pub fn conformance(dir: &Path, rounds: usize, show: bool) -> Result<()> {
    let mut files = Vec::new();
    let is_sample = |p: &Path| {
        let name = p.to_string_lossy();
        name.ends_with(".storage.xhtml") || name.ends_with(".storage.xml")
    };
    collect(dir, &is_sample, &mut files)?;
    files.sort();
    if files.is_empty() {
        bail!("no *.storage.xhtml or *.storage.xml files below {}", dir.display());
    }
    let ctx = Context::standalone();
    let (mut failed, mut losses) = (0usize, 0);
    let (mut to_md, mut to_st) = (Samples::default(), Samples::default());
    let mut bytes = 0usize;
    println!("| sample | words lost | round trip | kept verbatim |\n|---|---|---|---|");
    for file in &files {
        let storage = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let name = file.strip_prefix(dir).unwrap_or(file).display().to_string();
        let converted = match to_markdown(&storage, &ctx) {
            Ok(c) => c,
            Err(e) => {
                failed += 1;
                println!("| {name} | does not parse: {e} | | |");
                continue;
            }
        };
        if show {
            eprintln!("===== {name}\n{}", converted.markdown);
        }
        let lost = check::lost_words(&storage, &converted.markdown);
        let trip = check::round_trip(&storage, &ctx);
        if !lost.is_empty() || trip.is_err() {
            failed += 1;
        }
        losses += converted.losses.len();
        let kept: Vec<&str> = converted.losses.iter().map(|l| l.what.as_str()).collect();
        println!(
            "| {name} | {} | {} | {} |",
            if lost.is_empty() { "0".to_owned() } else { lost.join(", ") },
            match &trip {
                Ok(_) => "stable".to_owned(),
                Err(e) => e.lines().next().unwrap_or("").to_owned(),
            },
            kept.join(", ")
        );
        if let Err(e) = &trip {
            eprintln!("{name}: {e}");
        }
        bytes += storage.len() * rounds;
        for _ in 0..rounds {
            let t = Instant::now();
            let md = to_markdown(&storage, &ctx).map(|c| c.markdown).unwrap_or_default();
            to_md.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(to_storage(&md, &ctx));
            to_st.push(t.elapsed());
        }
    }
    println!();
    println!(
        "{} samples, {failed} with lost words or an unstable round trip, {losses} macros kept verbatim",
        files.len()
    );
    // The Markdown sources beside the samples: Markdown to storage and back keeps every word, and a
    // second round changes nothing.
    let mut sources = Vec::new();
    let is_source = |p: &Path| p.extension().is_some_and(|e| e == "md") && !p.ends_with("README.md");
    collect(dir, &is_source, &mut sources)?;
    sources.sort();
    let mut unstable = 0;
    for file in &sources {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let page = cdo_core::page::PageFile::parse(&bytes);
        if let Err(e) = check::markdown_round_trip(page.body(), &ctx) {
            unstable += 1;
            eprintln!("{}: {e}", file.display());
        }
    }
    println!("{} Markdown sources, {unstable} that lose words or change on a second round trip", sources.len());
    failed += unstable;
    let secs = to_md.total().as_secs_f64();
    println!(
        "storage to Markdown: p50 {}, p99 {}, {:.0} MB/s; Markdown to storage: p50 {}, p99 {}",
        to_md.p50(),
        to_md.p99(),
        bytes as f64 / secs.max(1e-9) / 1e6,
        to_st.p50(),
        to_st.p99()
    );
    if failed > 0 {
        bail!("{failed} samples failed");
    }
    Ok(())
}

/// Files below `dir` whose path `wanted` accepts, depth first.
fn collect(dir: &Path, wanted: &dyn Fn(&Path) -> bool, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, wanted, out)?;
        } else if wanted(&path) {
            out.push(path);
        }
    }
    Ok(())
}
