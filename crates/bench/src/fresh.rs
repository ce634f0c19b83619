//! Freshness and DocSync on generated data: a code repository of `files` source files (public
//! functions and routes) and a space of `pages` pages that mention its paths, symbols and routes
//! (a tenth of them out of date), with links between pages (some broken) and statements some
//! pages contradict; then DocSync of an OpenAPI spec and a Markdown file.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result};
use cdo_ai::docsync::{self, Kind, Source};
use cdo_ai::fresh::{self, Code, Options, Status};
use cdo_core::model::{SpaceInfo, SpaceKey};
use cdo_core::{PageId, Space};

use crate::stats::Samples;
use crate::{author, git_commit_all, row, run_git};

pub fn run(work: &Path, pages: usize, files: usize) -> Result<()> {
    // The code.
    let code_dir = work.join("code");
    for f in 0..files {
        let dir = code_dir.join(format!("src/module{}", f % 50));
        std::fs::create_dir_all(&dir)?;
        let mut text = format!("//! Module {f}.\n\n");
        for k in 0..5 {
            text.push_str(&format!(
                "/// Does thing {k} of file {f}.\npub fn handler_{f}_{k}(x: u32) -> u32 {{\n    x + {k}\n}}\n\n"
            ));
        }
        text.push_str(&format!(
            "pub fn routes(r: Router) -> Router {{\n    r.route(\"/api/v2/items{f}\", get(handler_{f}_0))\n}}\n"
        ));
        std::fs::write(dir.join(format!("file{f}.rs")), text)?;
    }
    git_commit_all(&code_dir)?;

    // The space: each page names two files, a symbol and a route of the code, links to the next
    // page, and states a limit in the same words with its own number (a pattern, not a
    // contradiction); every tenth page names a file that moved, a route that was renamed, a
    // missing section; two pages in fifty disagree on when a team's export runs.
    let space_dir = work.join("space");
    std::fs::create_dir_all(&space_dir)?;
    for p in 0..pages {
        let f = p % files.max(1);
        let g = (p * 7 + 3) % files.max(1);
        let old = p % 10 == 0;
        // Pairs of pages that disagree on when one team's export runs.
        const TEAMS: &[&str] =
            &["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett"];
        let pair = p / 50;
        let export = if p % 50 == 1 || p % 50 == 2 {
            format!(
                "The nightly export for the {}{} team runs at {} am.\n",
                TEAMS[pair % TEAMS.len()],
                "x".repeat(pair / TEAMS.len()),
                p % 50 + 2
            )
        } else {
            String::new()
        };
        let route = if old { format!("GET /items{f}") } else { format!("GET /api/v2/items{f}") };
        let file = if old { format!("src/old/file{f}.rs") } else { format!("src/module{}/file{f}.rs", f % 50) };
        let anchor = if old { "#no-such-section" } else { "#overview" };
        let body = format!(
            "---\ntitle: Page {p}\n---\n# Page {p}\n\n## Overview\n\nThe service in `{file}` and `src/module{}/file{g}.rs` \
             exposes {route}; `handler_{f}_1()` does the work.\n\nSee [the next page](page-{}.md{anchor}).\n\n\
             ## Limits\n\nItem batch {p} requests are capped at 30 per second.\n\n{export}",
            g % 50,
            (p + 1) % pages.max(1),
        );
        std::fs::write(space_dir.join(format!("page-{p}.md")), body)?;
    }
    git_commit_all(&space_dir)?;
    let info = SpaceInfo {
        key: SpaceKey::parse("BENCH").context("key")?,
        name: "Bench".into(),
        description: None,
        homepage: None,
    };
    let mut space = Space::open(&space_dir, &work.join("space.sqlite"), Some(info))?;
    space.tree()?;

    println!("## Freshness: {pages} pages, a code repository of {files} files\n");
    println!("| measure | figure |\n|---|---|");
    let t = Instant::now();
    let code = Code::scan(&code_dir)?;
    let scan = t.elapsed();
    row(
        "read the code repository (files, symbols, routes)",
        &format!(
            "{:.0} ms ({} files, {} symbols, {} routes)",
            scan.as_secs_f64() * 1000.0,
            code.files.len(),
            code.symbols.len(),
            code.routes.len()
        ),
    );
    for (what, options) in [
        ("check every page: links, code drift, staleness", Options::default()),
        ("… and contradictions between pages (no model)", Options { contradictions: true, ..Options::default() }),
    ] {
        let t = Instant::now();
        let reports = fresh::check_space(&mut space, Some(&code), options)?;
        let took = t.elapsed();
        let count = |s: Status| reports.iter().filter(|r| r.status == s).count();
        let issues: usize = reports.iter().map(|r| r.issues.len()).sum();
        row(
            what,
            &format!(
                "{:.2} s, {:.0} pages/s ({} fresh, {} stale, {} broken; {issues} issues)",
                took.as_secs_f64(),
                pages as f64 / took.as_secs_f64(),
                count(Status::Fresh),
                count(Status::Stale),
                count(Status::Broken)
            ),
        );
    }
    let id = space.catalog()?.nodes().find(|n| n.file.is_some()).map(|n| n.id.clone()).context("a page")?;
    let mut one = Samples::default();
    for _ in 0..50 {
        let t = Instant::now();
        fresh::check_page(&mut space, &id, Some(&code), Options::default())?;
        one.push(t.elapsed());
    }
    row("check one page (the API's badge)", &format!("p50 {}, p99 {}", one.p50(), one.p99()));

    // DocSync: an OpenAPI spec with 300 operations and a Markdown file, synced to two pages.
    println!("\n## DocSync\n");
    println!("| measure | figure |\n|---|---|");
    let src = work.join("source");
    std::fs::create_dir_all(src.join("docs"))?;
    let spec = |version: usize| {
        let mut s = format!("openapi: 3.0.3\ninfo: {{title: Bench API, version: '{version}'}}\npaths:\n");
        for i in 0..150 {
            s.push_str(&format!(
                "  /items{i}/{{id}}:\n    get:\n      summary: Item {i}\n      parameters:\n        - {{name: id, in: path, required: true, schema: {{type: string}}}}\n      responses:\n        '200': {{description: The item}}\n    delete:\n      summary: Remove item {i}\n      responses:\n        '204': {{description: Gone}}\n"
            ));
        }
        s
    };
    std::fs::write(src.join("openapi.yaml"), spec(1))?;
    std::fs::write(src.join("docs/guide.md"), "# Guide\n\nStart here.\n")?;
    git_commit_all(&src)?;
    let mut ids = Vec::new();
    for title in ["API", "Guide"] {
        let page = cdo_core::NewPage { title: Some(title.into()), ..cdo_core::NewPage::default() };
        ids.push(space.create_page(&page, &author())?.summary.id);
    }
    let mut sources: Vec<Source> = [(Kind::Openapi, "openapi.yaml"), (Kind::Mirror, "docs/guide.md")]
        .into_iter()
        .zip(&ids)
        .enumerate()
        .map(|(i, ((kind, path), id)): (usize, ((Kind, &str), &PageId))| Source {
            id: i as u32 + 1,
            space: "BENCH".into(),
            page: id.as_str().to_owned(),
            repo: src.display().to_string(),
            path: path.into(),
            branch: None,
            kind,
            two_way: kind == Kind::Mirror,
            last_commit: None,
            last_content: None,
        })
        .collect();
    let cache = work.join("cache");
    let mut first = Vec::new();
    for s in &mut sources {
        let t = Instant::now();
        docsync::sync(&mut space, s, &cache, &author())?;
        first.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    row(
        "first sync: an OpenAPI spec (300 operations), a Markdown file",
        &format!("{:.1} ms, {:.1} ms", first[0], first.get(1).copied().unwrap_or_default()),
    );
    let mut unchanged = Samples::default();
    for _ in 0..20 {
        for s in &mut sources {
            let t = Instant::now();
            docsync::sync(&mut space, s, &cache, &author())?;
            unchanged.push(t.elapsed());
        }
    }
    row("a sync with nothing new (no commit)", &format!("p50 {}, p99 {}", unchanged.p50(), unchanged.p99()));
    let mut changed = Samples::default();
    for v in 2..12 {
        std::fs::write(src.join("openapi.yaml"), spec(v))?;
        run_git(&src, &["commit", "-q", "-am", &format!("v{v}")])?;
        let t = Instant::now();
        docsync::sync(&mut space, &mut sources[0], &cache, &author())?;
        changed.push(t.elapsed());
    }
    row(
        "a sync after a source commit (render + page commit)",
        &format!("p50 {}, p99 {}", changed.p50(), changed.p99()),
    );
    Ok(())
}
