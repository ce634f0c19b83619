//! The team server under load, measured with oha: a cached page GET (Confluence API and the UI's
//! API) and search (CQL and the search box), each flat out and at a fixed rate (p99 with
//! latency correction). The server is the release binary on 127.0.0.1, sharing the machine's
//! cores with oha, as a laptop or a small VM would.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Where the binaries are: `confluence-do` beside this benchmark, oha from `$OHA`, the tools
/// folder or the PATH.
fn binaries() -> Result<(PathBuf, PathBuf)> {
    let here = std::env::current_exe()?;
    let server = here.with_file_name("confluence-do");
    if !server.is_file() {
        bail!(
            "{} is missing: build it in the same profile first (cargo build --release -p confluence-do)",
            server.display()
        );
    }
    let oha = std::env::var_os("OHA")
        .map(PathBuf::from)
        .or_else(|| {
            let tools = dirs_cache().join("confluence-do/tools/bin/oha");
            tools.is_file().then_some(tools)
        })
        .unwrap_or_else(|| PathBuf::from("oha"));
    Ok((server, oha))
}

fn dirs_cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"))
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cli(server: &Path, home: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(server)
        .arg("--home")
        .arg(home)
        .args(args)
        .env("CONFLUENCE_DO_USER", "Bench <bench@example.com>")
        .output()
        .with_context(|| format!("running {}", server.display()))?;
    if !out.status.success() {
        bail!("confluence-do {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One oha run: requests/s, p50 and p99 in ms, and whether every answer was a 200.
fn oha(oha: &Path, url: &str, seconds: u64, connections: usize, rate: Option<u32>) -> Result<(f64, f64, f64, bool)> {
    let mut cmd = Command::new(oha);
    cmd.args(["--no-tui", "--output-format", "json", "-z", &format!("{seconds}s"), "-c", &connections.to_string()]);
    if let Some(rate) = rate {
        cmd.args(["-q", &rate.to_string(), "--latency-correction"]);
    }
    let out = cmd.arg(url).output().with_context(|| format!("running {} (cargo install oha)", oha.display()))?;
    if !out.status.success() {
        bail!("oha failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let report: Value = serde_json::from_slice(&out.stdout).context("oha's JSON report")?;
    let rps = report["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0);
    let pct = |p: &str| report["latencyPercentiles"][p].as_f64().unwrap_or(f64::NAN) * 1e3;
    let statuses = report["statusCodeDistribution"].as_object().cloned().unwrap_or_default();
    let all_ok = !statuses.is_empty() && statuses.keys().all(|k| k == "200");
    Ok((rps, pct("p50"), pct("p99"), all_ok))
}

/// A release server on 127.0.0.1 holding the demo space and, unless `pages` is 0, a generated
/// space `GEN` of that many pages, with its keyword index built. Stops when dropped.
struct Served {
    _child: Running,
    base: String,
}

fn serve(server: &Path, work: &Path, pages: usize, extra: &[&str]) -> Result<Served> {
    let home = work.join("home");
    cli(server, &home, &["demo"])?;
    if pages > 0 {
        let dir = work.join(format!("generated-{pages}"));
        crate::corpus::generate(&dir, pages)?;
        crate::git_commit_all(&dir)?;
        cli(
            server,
            &home,
            &["space", "add", dir.to_str().context("utf-8 path")?, "--key", "GEN", "--name", "Generated"],
        )?;
    }
    // Build the keyword index once (the server would on its first search); no embedding needed.
    cli(server, &home, &["search", "deploy", "--mode", "keyword"])?;
    let mut child = Command::new(server)
        .arg("--home")
        .arg(&home)
        .args(["serve", "--bind", "127.0.0.1:0", "--no-auth"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdout = BufReader::new(child.stdout.take().context("stdout")?);
    let running = Running(child);
    let mut line = String::new();
    stdout.read_line(&mut line)?;
    let base = line.trim().strip_prefix("confluence.do serving ").context("the server's first line")?.to_owned();
    // Keep reading the server's output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in stdout.lines() {});
    Ok(Served { _child: running, base })
}

/// Runs the benchmark on the demo space and a generated space of `pages` pages.
pub fn run(work: &Path, pages: usize, seconds: u64, page_rate: u32, search_rate: u32) -> Result<()> {
    let (server, oha_bin) = binaries()?;
    let served = serve(&server, work, pages, &[])?;
    let base = served.base.clone();

    let page = "1000000000031"; // the demo's Deployment Guide
    let targets = [
        (
            "page GET, Confluence API (expand=body.storage,version)",
            format!("{base}/rest/api/content/{page}?expand=body.storage,version"),
            page_rate,
        ),
        ("page GET, UI API (Markdown + HTML + metadata)", format!("{base}/api/v1/pages/{page}"), page_rate),
        ("CQL search (`text ~ deploy`)", format!("{base}/rest/api/search?cql=text%20~%20deploy&limit=10"), search_rate),
        (
            "search box, keyword (`deploy rollback`)",
            format!("{base}/api/v1/search?q=deploy%20rollback&mode=keyword&limit=10"),
            search_rate,
        ),
    ];
    println!("| request | flat out (64 connections) | p50 / p99 flat out | at a fixed rate | p99 at that rate |");
    println!("|---|---|---|---|---|");
    for (what, url, rate) in targets {
        // Warm up: the first answer fills the cache, the first search builds the index.
        let warm = Command::new(&oha_bin).args(["--no-tui", "-n", "50", "-c", "1", &url]).output()?;
        if !warm.status.success() {
            bail!("warming {url} failed");
        }
        let (rps, p50, p99, ok) = oha(&oha_bin, &url, seconds, 64, None)?;
        let (fixed_rps, _, fixed_p99, fixed_ok) = oha(&oha_bin, &url, seconds, 32, Some(rate))?;
        if !(ok && fixed_ok) {
            bail!("{what}: some answers were not 200");
        }
        println!(
            "| {what} | {rps:.0} req/s | {p50:.2} / {p99:.2} ms | {fixed_rps:.0} req/s (asked {rate}) | {fixed_p99:.2} ms |"
        );
    }
    drop(served);
    Ok(())
}

/// The web UI in Chromium against a release server with a generated space of `pages` pages:
/// the tree's first paint and the quick switcher's answer time (`tests/ui/bench.mjs`).
pub fn ui(work: &Path, pages: usize) -> Result<()> {
    let server = binaries()?.0;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dist = repo.join("ui/dist");
    let tests = repo.join("tests/ui");
    if !dist.join("index.html").is_file() || !tests.join("node_modules/playwright-core").is_dir() {
        bail!("the UI or playwright-core is missing: run scripts/setup-tests");
    }
    let served = serve(&server, work, pages, &["--ui", dist.to_str().context("utf-8 path")?])?;
    // Words of the generated pages, as people type them.
    let words = ["deploy", "latency", "rollback", "cache", "token", "migration", "replica", "alert", "queue", "schema"];
    let out = Command::new("node")
        .current_dir(&tests)
        .arg("bench.mjs")
        .args([served.base.as_str(), "GEN"])
        .args(words)
        .output()
        .context("running node (Node.js 18 or later)")?;
    if !out.status.success() {
        bail!(
            "the browser benchmark failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report: Value = serde_json::from_slice(out.stdout.trim_ascii()).context("the browser benchmark's JSON")?;
    let tree = &report["tree"];
    let sw = &report["switcher"];
    println!("| measure ({pages} pages, Chromium, release server) | figure |\n|---|---|");
    println!(
        "| page tree on screen after the page's load event ({} loads) | p50 {} ms, max {} ms ({} rows in the DOM) |",
        tree["fromLoad"]["n"], tree["fromLoad"]["p50"], tree["fromLoad"]["max"], tree["rows"]
    );
    println!(
        "| page tree on screen after navigation start | p50 {} ms, max {} ms |",
        tree["fromNavigation"]["p50"], tree["fromNavigation"]["max"]
    );
    println!(
        "| quick switcher, last keystroke to results on screen ({} queries, hybrid) | p50 {} ms, p99 {} ms (unchanged by the last key: {}) |",
        sw["n"], sw["p50"], sw["p99"], sw["unchanged"]
    );
    drop(served);
    Ok(())
}
