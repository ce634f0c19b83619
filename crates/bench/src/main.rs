//! `cdo-bench`: measures confluence.do and prints figures for docs/BENCHMARKS.md.
//!
//! `cdo-bench core` measures the core (open + tree, save, history, render) on generated spaces
//! and on a real documentation set, beside `git add` + `git commit` of the same change;
//! `cdo-bench page` the CLI's one-page commands the same way.

mod ask;
mod corpus;
mod fresh;
mod migrate;
mod page;
mod search;
mod server;
mod stats;
mod storage;
mod sync;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cdo_core::model::{Author, PageId, SpaceInfo, SpaceKey};
use cdo_core::{PageUpdate, Space};
use clap::{Parser, Subcommand};

use stats::Samples;

#[derive(Parser)]
#[command(about = "Benchmarks for confluence.do; figures go in docs/BENCHMARKS.md")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Spaces: open + tree, save, history, render
    Core {
        /// Sizes of generated spaces
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        pages: Vec<usize>,
        /// A real documentation set to add as a space (e.g. ../shared/testdata/msvc-docs/pages)
        #[arg(long)]
        docs: Option<PathBuf>,
        /// Saves measured per space
        #[arg(long, default_value_t = 300)]
        saves: usize,
        /// `git add` + `git commit` runs measured per space
        #[arg(long, default_value_t = 30)]
        git_saves: usize,
        /// Versions of the page whose history is measured
        #[arg(long, default_value_t = 1000)]
        versions: usize,
        /// Where to build the spaces (default: a temporary folder)
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// One page costs one page: CLI `page get`, `page update` (beside `git add` + `git commit`)
    /// and `page create`; changes made outside; opening the whole tree (needs a release
    /// `confluence-do` beside this benchmark)
    Page {
        /// Sizes of generated spaces
        #[arg(long, value_delimiter = ',', default_value = "100000")]
        pages: Vec<usize>,
        /// A real documentation set to add as a space (e.g. ../shared/testdata/msvc-docs/pages)
        #[arg(long)]
        docs: Option<PathBuf>,
        /// Runs of each command
        #[arg(long, default_value_t = 30)]
        runs: usize,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Freshness checks (links, code drift, staleness, contradictions) and DocSync on generated data
    Fresh {
        #[arg(long, default_value_t = 2000)]
        pages: usize,
        /// Source files in the generated code repository
        #[arg(long, default_value_t = 1000)]
        files: usize,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Times semantic queries against an index a `search` run left in its work folder
    Probe { index: PathBuf, query: String },
    /// Recall of the vector store's sign and 8-bit passes against an exact scan, on real
    /// passages of a documentation folder embedded with the model (needs `scripts/setup-models`)
    VectorRecall {
        /// A documentation folder (e.g. ../shared/testdata/msvc-docs/pages)
        docs: PathBuf,
        #[arg(long, default_value_t = 12_000)]
        passages: usize,
        #[arg(long, default_value_t = 300)]
        queries: usize,
    },
    /// Search quality on a corpus with relevance judgments (BEIR layout): nDCG@10, MRR@10, Recall@5
    SearchQuality {
        /// The corpus folder (e.g. ../shared/testdata/search-bench)
        corpus: PathBuf,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// The web UI in Chromium: the page tree's first paint and the quick switcher, on a
    /// generated space (needs `scripts/setup-tests` and a release `confluence-do`)
    Ui {
        #[arg(long, default_value_t = 10000)]
        pages: usize,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// The team server under load (oha): cached page GETs and searches, flat out and at a fixed rate
    Server {
        /// Pages of the generated space served beside the demo (0: only the demo)
        #[arg(long, default_value_t = 10000)]
        pages: usize,
        /// Seconds per measurement
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// The fixed rate for page GETs (requests/s)
        #[arg(long, default_value_t = 10000)]
        page_rate: u32,
        /// The fixed rate for searches (requests/s)
        #[arg(long, default_value_t = 100)]
        search_rate: u32,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Storage format: every sample converts without losing a word and round-trips; conversion speed
    Storage {
        /// A folder of `*.storage.xhtml` samples (e.g. ../shared/testdata/confluence-storage)
        samples: PathBuf,
        /// Conversions timed per sample
        #[arg(long, default_value_t = 200)]
        rounds: usize,
        /// Print each sample's Markdown
        #[arg(long)]
        show: bool,
    },
    /// Migration: the storage samples through an XML export (words, table headers, attachment
    /// links), then the speed of importing a synthetic export
    Migrate {
        /// A folder of `*.storage.xhtml` samples (e.g. ../shared/testdata/confluence-storage)
        #[arg(long)]
        samples: Option<PathBuf>,
        /// Pages of the synthetic export
        #[arg(long, default_value_t = 10000)]
        pages: usize,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Ask: the demo space's question set, with and without the embedding model
    Ask {
        /// The question set
        #[arg(long, default_value = "tests/fixtures/demo-questions.yaml")]
        questions: PathBuf,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Live co-editing under load, beside the reference y-websocket server (needs
    /// `scripts/setup-tests` and a release `confluence-do`)
    Sync {
        /// Seconds measured per case
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// The highest rate per client the saturation run tries (updates/s)
        #[arg(long, default_value_t = 640.0)]
        max_rate: f64,
        /// Only the search for each server's highest rate that holds, not the fixed-rate cases
        #[arg(long)]
        saturation_only: bool,
        /// One case on one server only, for profiling: PAGES,CLIENTS,RATE[,reference]
        #[arg(long)]
        probe: Option<sync::Probe>,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Search speed: index build, incremental update, keyword and hybrid queries, grep and rg
    Search {
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        pages: Vec<usize>,
        /// A real documentation set (e.g. ../shared/testdata/msvc-docs/pages)
        #[arg(long)]
        docs: Option<PathBuf>,
        /// Queries timed per kind
        #[arg(long, default_value_t = 500)]
        queries: usize,
        /// Words run through grep and rg
        #[arg(long, default_value_t = 5)]
        greps: usize,
        /// Passages embedded for real (their vectors are replayed for the rest)
        #[arg(long, default_value_t = 256)]
        real: usize,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
}

/// The allocator the CLI and the desktop app use, so in-process figures match theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    cdo_core::store::tls::start_git();
    match Cli::parse().command {
        Cmd::Ui { pages, workdir } => {
            let (_tmp, work) = start("web UI benchmark", workdir)?;
            server::ui(&work, pages)
        }
        Cmd::Server { pages, seconds, page_rate, search_rate, workdir } => {
            let (_tmp, work) = start("server benchmark", workdir)?;
            server::run(&work, pages, seconds, page_rate, search_rate)
        }
        Cmd::Sync { seconds, max_rate, saturation_only, probe, workdir } => {
            let (_tmp, work) = start("live co-editing benchmark", workdir)?;
            sync::run(&work, seconds, max_rate, saturation_only, probe)
        }
        Cmd::Fresh { pages, files, workdir } => {
            let (_tmp, work) = start("freshness and DocSync", workdir)?;
            fresh::run(&work, pages, files)
        }
        Cmd::Ask { questions, workdir } => {
            let (_tmp, work) = start("ask", workdir)?;
            ask::run(&questions, &work)
        }
        Cmd::Migrate { samples, pages, workdir } => {
            let (_tmp, work) = start("migration", workdir)?;
            if let Some(samples) = samples {
                migrate::samples(&samples, &work)?;
            }
            migrate::speed(pages, &work)
        }
        Cmd::Storage { samples, rounds, show } => storage::conformance(&samples, rounds, show),
        Cmd::Probe { index, query } => search::probe(&index, &query),
        Cmd::VectorRecall { docs, passages, queries } => search::vector_recall(&docs, passages, queries),
        Cmd::SearchQuality { corpus, workdir } => {
            let (_tmp, work) = start("search quality", workdir)?;
            search::quality(&corpus, &work)
        }
        Cmd::Search { pages, docs, queries, greps, real, workdir } => {
            let (_tmp, work) = start("search speed", workdir)?;
            each_space(&work, docs.as_deref(), &pages, |title, dir, _| {
                search::speed(title, dir, &work, queries, greps, real)
            })
        }
        Cmd::Page { pages, docs, runs, workdir } => {
            let (_tmp, work) = start("one-page commands", workdir)?;
            each_space(&work, docs.as_deref(), &pages, |title, dir, _| page::bench(title, dir, &work, runs))
        }
        Cmd::Core { pages, docs, saves, git_saves, versions, workdir } => {
            let (_tmp, work) = start("core benchmark", workdir)?;
            each_space(&work, docs.as_deref(), &pages, |title, dir, real| {
                bench_space(title, dir, &work, saves, git_saves, versions, real)
            })
        }
    }
}

/// The work folder (a temporary one unless given) and the report's heading.
fn start(what: &str, workdir: Option<PathBuf>) -> Result<(tempfile::TempDir, PathBuf)> {
    let tmp = tempfile::tempdir()?;
    let work = workdir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&work)?;
    println!("# confluence.do {what}\n");
    println!("{}\n", stats::machine());
    Ok((tmp, work))
}

/// Builds the real documentation set (when given) and each generated space as a git repository
/// in `work`, and runs `bench` on each with its title (`true` for the real set).
fn each_space(
    work: &Path,
    docs: Option<&Path>,
    pages: &[usize],
    mut bench: impl FnMut(&str, &Path, bool) -> Result<()>,
) -> Result<()> {
    if let Some(docs) = docs {
        let dir = work.join("docs-space");
        copy_dir(docs, &dir).with_context(|| format!("copying {}", docs.display()))?;
        let n = corpus::count_pages(&dir);
        git_commit_all(&dir)?;
        bench(&format!("Real documentation set ({n} pages, {})", docs.display()), &dir, true)?;
    }
    for &n in pages {
        let dir = work.join(format!("generated-{n}"));
        let started = Instant::now();
        corpus::generate(&dir, n)?;
        git_commit_all(&dir)?;
        eprintln!("generated {n} pages in {:.1} s", started.elapsed().as_secs_f64());
        bench(&format!("Generated space, {n} pages"), &dir, false)?;
    }
    Ok(())
}

/// The loose objects in a repository's object folder.
fn loose_objects(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(".git/objects"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().len() == 2)
        .map(|e| std::fs::read_dir(e.path()).map(Iterator::count).unwrap_or(0))
        .sum()
}

pub(crate) fn author() -> Author {
    Author { name: "Bench".into(), email: "bench@example.com".into() }
}

fn bench_space(
    title: &str,
    dir: &Path,
    work: &Path,
    saves: usize,
    git_saves: usize,
    versions: usize,
    render: bool,
) -> Result<()> {
    println!("## {title}\n");
    println!("| measure | figure |\n|---|---|");
    let info = SpaceInfo {
        key: SpaceKey::parse("BENCH").context("key")?,
        name: "Bench".into(),
        description: None,
        homepage: None,
    };
    let cache = work.join(format!("{}.sqlite", dir.file_name().and_then(|n| n.to_str()).unwrap_or("space")));

    // Open + tree, cold (no cache: every file is read) and warm (stat only).
    let (cold, warm, mut space) = time_opens(dir, &cache, &info)?;
    let count = space.len()?;
    row("open + tree, cold (no cache)", &format!("{} ({count} nodes)", stats::ms(cold)));
    row("open + tree, warm", &format!("p50 {}", warm.p50()));

    let pages: Vec<PageId> = space.catalog()?.nodes().filter(|n| n.file.is_some()).map(|n| n.id.clone()).collect();
    let mut rng = fastrand::Rng::with_seed(7);

    // Saves of random pages: each one commit, as a user's edit.
    let mut edits = Vec::with_capacity(saves);
    for i in 0..saves {
        let id = pages[rng.usize(..pages.len())].clone();
        let body = format!("{}\nEdit {i}.\n", space.page(&id)?.body);
        edits.push((id, body));
    }
    let mut samples = Samples::default();
    for (id, body) in edits {
        let id = &id;
        let t = Instant::now();
        space.update_page(id, &PageUpdate { body: Some(body), ..PageUpdate::default() }, &author())?;
        samples.push(t.elapsed());
    }
    let t = Instant::now();
    space.flush_index()?;
    let flush = t.elapsed();
    row(&format!("save (one commit), {saves} random pages"), &format!("p50 {}, p99 {}", samples.p50(), samples.p99()));
    row("git index catch-up after the burst (once)", &stats::ms(flush));

    // The same kind of change through the git CLI.
    let mut git = Samples::default();
    for i in 0..git_saves {
        let id = &pages[rng.usize(..pages.len())];
        git.push(git_edit(dir, &space.summary(id)?.path, i)?);
    }
    row(
        &format!("`git add` + `git commit` of one page, {git_saves} runs"),
        &format!("p50 {}, p99 {}", git.p50(), git.p99()),
    );
    row("save speed-up over git CLI (p50)", &format!("{:.0}x", git.p50_secs() / samples.p50_secs().max(1e-9)));

    // A page with `versions` versions.
    space.refresh()?;
    let hot = pages[0].clone();
    let t = Instant::now();
    for i in 0..versions {
        space.update_page(
            &hot,
            &PageUpdate { body: Some(format!("Version {i}\n")), ..PageUpdate::default() },
            &author(),
        )?;
    }
    let building = t.elapsed();
    let loose_before = loose_objects(dir);
    let t = Instant::now();
    space.flush_index()?;
    let flushed = t.elapsed();
    let packed = loose_before.saturating_sub(loose_objects(dir));
    let t = Instant::now();
    let history = space.history(&hot)?;
    let catch_up = t.elapsed();
    let mut warm_history = Samples::default();
    for _ in 0..20 {
        let t = Instant::now();
        let h = space.history(&hot)?;
        warm_history.push(t.elapsed());
        if h.len() != history.len() {
            bail!("history changed");
        }
    }
    drop(space);
    let _ = std::fs::remove_file(&cache);
    let t = Instant::now();
    let mut space = Space::open(dir, &cache, None).or_else(|_| {
        Space::open(
            dir,
            &cache,
            Some(SpaceInfo {
                key: SpaceKey::parse("BENCH").expect("key"),
                name: "Bench".into(),
                description: None,
                homepage: None,
            }),
        )
    })?;
    let rebuilt = space.history(&hot)?;
    let cold_history = t.elapsed();
    if rebuilt.len() != history.len() {
        bail!("the rebuilt history differs: {} vs {}", rebuilt.len(), history.len());
    }
    row(
        &format!("{versions} saves to one page"),
        &format!("{} total, {:.2} ms each", stats::ms(building), building.as_secs_f64() * 1e3 / versions as f64),
    );
    row(&format!("history of a {}-version page, warm", history.len()), &format!("p50 {}", warm_history.p50()));
    row("history, first call after those saves (index catch-up)", &stats::ms(catch_up));
    row("history, cache deleted (rebuilt from git)", &stats::ms(cold_history));
    row(
        &format!("index catch-up after those saves, packing loose objects past git's gc.auto ({packed} packed)"),
        &stats::ms(flushed),
    );

    if render {
        let (bytes, elapsed) = render_all(dir)?;
        row(
            "render (comrak + sanitiser), all pages",
            &format!(
                "{:.1} MB in {}, {:.1} MB/s",
                bytes as f64 / 1e6,
                stats::ms(elapsed),
                bytes as f64 / 1e6 / elapsed.as_secs_f64()
            ),
        );
    }
    println!();
    Ok(())
}

/// Opens a space and its whole tree (what `tree`, the app and the server do first) with no
/// cache, then five times warm: the cold time, the warm ones, and the space last opened.
pub(crate) fn time_opens(dir: &Path, cache: &Path, info: &SpaceInfo) -> Result<(Duration, Samples, Space)> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", cache.display()));
    }
    let t = Instant::now();
    let mut space = Space::open(dir, cache, Some(info.clone()))?;
    let nodes = space.tree()?.len();
    let cold = t.elapsed();
    drop(space);
    let mut warm = Samples::default();
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        let mut space = Space::open(dir, cache, Some(info.clone()))?;
        let tree = space.tree()?;
        warm.push(t.elapsed());
        if tree.len() != nodes {
            bail!("the tree changed between opens");
        }
        last = Some(space);
    }
    Ok((cold, warm, last.context("no warm open")?))
}

pub(crate) fn row(measure: &str, figure: &str) {
    println!("| {measure} | {figure} |");
}

fn render_all(dir: &Path) -> Result<(usize, Duration)> {
    let mut bodies = Vec::new();
    corpus::for_each_page(dir, &mut |_, text| {
        bodies.push(cdo_core::page::PageFile::parse(text.as_bytes()).body().to_owned())
    });
    let bytes = bodies.iter().map(String::len).sum();
    let t = Instant::now();
    for body in &bodies {
        std::hint::black_box(cdo_core::render::render(body));
    }
    Ok((bytes, t.elapsed()))
}

pub(crate) fn run_git(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .output()?;
    if !out.status.success() {
        bail!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Appends a line to a page file and commits it with `git add` + `git commit`, as someone
/// working with git would: answers how long the two commands took.
pub(crate) fn git_edit(dir: &Path, path: &str, i: usize) -> Result<Duration> {
    let full = dir.join(path);
    let mut text = std::fs::read_to_string(&full)?;
    text.push_str(&format!("\nGit edit {i}.\n"));
    std::fs::write(&full, text)?;
    let t = Instant::now();
    run_git(dir, &["add", "--", path])?;
    run_git(dir, &["commit", "-q", "-m", &format!("Update {path}")])?;
    Ok(t.elapsed())
}

/// Commits a folder as one packed repository, as a clone would arrive: `git fast-import`
/// writes the pack directly (adding loose objects and repacking would delete tens of thousands
/// of files just before the measurements, which slows the file system down for a while).
/// Automatic `git gc` is off so no background repacking disturbs either side.
pub(crate) fn git_commit_all(dir: &Path) -> Result<()> {
    use std::io::Write as _;
    run_git(dir, &["init", "-q", "-b", "main"])?;
    run_git(dir, &["config", "gc.auto", "0"])?;
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .spawn()?;
    {
        let mut input = std::io::BufWriter::new(child.stdin.take().context("stdin")?);
        writeln!(
            input,
            "commit refs/heads/main\ncommitter Bench <bench@example.com> 1700000000 +0000\ndata 6\nImport"
        )?;
        for path in &files {
            let bytes = std::fs::read(dir.join(path))?;
            let quoted = format!("\"{}\"", path.replace('\\', "\\\\").replace('"', "\\\""));
            writeln!(input, "M 100644 inline {quoted}\ndata {}", bytes.len())?;
            input.write_all(&bytes)?;
            writeln!(input)?;
        }
        writeln!(input)?;
    }
    if !child.wait()?.success() {
        bail!("git fast-import failed");
    }
    run_git(dir, &["reset", "-q"])?;
    run_git(dir, &["update-index", "-q", "--refresh"])
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == ".git" {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
