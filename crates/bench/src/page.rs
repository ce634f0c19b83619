//! One page costs one page: the CLI's `page get`, `page update` and `page create` (each a whole
//! process, as a user or a script runs them) beside `git add` + `git commit` of the same change,
//! on a real documentation set and on generated spaces; that changes made outside (`sed -i`, a
//! fast-forward as `git pull` makes) show at once; and the cost of opening the whole tree.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cdo_core::model::{PageId, SpaceInfo, SpaceKey};

use crate::stats::{self, Samples};
use crate::{git_edit, row, run_git};

/// The release `confluence-do` beside this benchmark.
fn binary() -> Result<PathBuf> {
    let cli = std::env::current_exe()?.with_file_name("confluence-do");
    if !cli.is_file() {
        bail!(
            "{} is missing: build it in the same profile first (cargo build --release -p confluence-do)",
            cli.display()
        );
    }
    Ok(cli)
}

struct Cli {
    bin: PathBuf,
    home: PathBuf,
}

impl Cli {
    /// Runs one command; answers its output and how long the process took.
    fn run(&self, args: &[&str]) -> Result<(String, Duration)> {
        let t = Instant::now();
        let out = Command::new(&self.bin)
            .arg("--home")
            .arg(&self.home)
            .args(args)
            .env("CONFLUENCE_DO_USER", "Bench <bench@example.com>")
            .output()
            .with_context(|| format!("running {}", self.bin.display()))?;
        let took = t.elapsed();
        if !out.status.success() {
            bail!("confluence-do {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok((String::from_utf8_lossy(&out.stdout).into_owned(), took))
    }
}

/// Runs the page benchmark on one space folder (a git repository).
pub fn bench(title: &str, dir: &Path, work: &Path, runs: usize) -> Result<()> {
    println!("## {title}\n");
    println!("| measure | figure |\n|---|---|");
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("space");
    let home = work.join(format!("{name}-home"));
    let _ = std::fs::remove_dir_all(&home);
    let cli = Cli { bin: binary()?, home };
    let dir_arg = dir.to_str().context("a UTF-8 path")?;
    let key = if dir.join("space.yaml").exists() { "BENCH" } else { "DOCS" };

    // Opening the whole tree, in process (what `tree`, the app and the server do first), with a
    // cache of its own: first with none, then warm.
    let cache = work.join(format!("{name}-open.sqlite"));
    let info = SpaceInfo {
        key: SpaceKey::parse(key).context("key")?,
        name: name.to_owned(),
        description: None,
        homepage: None,
    };
    let (cold, warm, mut space) = crate::time_opens(dir, &cache, &info)?;
    let pages: Vec<(PageId, String)> =
        space.catalog()?.nodes().filter_map(|n| Some((n.id.clone(), n.file.clone()?))).collect();
    drop(space);
    row(&format!("open + tree, cold (no cache, {} pages)", pages.len()), &stats::ms(cold));
    row("open + tree, warm", &format!("p50 {}", warm.p50()));

    // Registering reads every page and indexes the history once, so that the first command on
    // one page costs one page too.
    let (_, took) = cli.run(&["space", "add", dir_arg, "--key", key])?;
    row("`space add` (reads every page, indexes the history; once)", &stats::ms(took));

    let mut rng = fastrand::Rng::with_seed(11);
    let mut pick = || pages[rng.usize(..pages.len())].clone();

    let mut get = Samples::default();
    for _ in 0..runs {
        let (id, _) = pick();
        get.push(cli.run(&["page", "get", id.as_str()])?.1);
    }
    row(&format!("`page get`, {runs} random pages (a process each)"), &format!("p50 {}, p99 {}", get.p50(), get.p99()));

    let body = work.join(format!("{name}-body.md"));
    let mut update = Samples::default();
    for i in 0..runs {
        let (id, _) = pick();
        // The body the CLI is given: the page without its front matter.
        let (current, _) = cli.run(&["page", "get", id.as_str()])?;
        std::fs::write(&body, format!("{current}\nEdit {i}.\n"))?;
        let body_arg = body.to_str().context("a UTF-8 path")?;
        update.push(cli.run(&["page", "update", id.as_str(), "--file", body_arg])?.1);
    }
    let mut git = Samples::default();
    for i in 0..runs {
        let (_, path) = pick();
        git.push(git_edit(dir, &path, i)?);
    }
    row(
        &format!("`page update` (one commit), {runs} random pages"),
        &format!("p50 {}, p99 {}", update.p50(), update.p99()),
    );
    row(
        &format!("`git add` + `git commit` of the same change, {runs} runs"),
        &format!("p50 {}, p99 {}", git.p50(), git.p99()),
    );
    row("`page update` / git (p50)", &format!("{:.2}x", update.p50_secs() / git.p50_secs().max(1e-9)));

    let mut create = Samples::default();
    for i in 0..runs {
        let (parent, _) = pick();
        let title = format!("Bench note {i}");
        create.push(cli.run(&["page", "create", key, "--title", &title, "--parent", parent.as_str()])?.1);
    }
    row(
        &format!("`page create` under a random page, {runs} runs"),
        &format!("p50 {}, p99 {}", create.p50(), create.p99()),
    );

    // A file edited outside, then read.
    let (id, path) = pick();
    let full = dir.join(&path);
    let status = Command::new("sed").args(["-i", "-e", "$a Edited with sed."]).arg(&full).status()?;
    if !status.success() {
        bail!("sed failed");
    }
    let (shown, took) = cli.run(&["page", "get", id.as_str()])?;
    if !shown.contains("Edited with sed.") {
        bail!("`page get` after `sed -i` on {path} does not show the edit");
    }
    row("`page get` after `sed -i` on that page (shows the edit)", &stats::ms(took));
    run_git(dir, &["commit", "-q", "-a", "-m", "sed edit"])?;

    // Commits arriving as `git pull` brings them: a fast-forward that changes one page and adds one.
    let (changed_id, changed_path) = pick();
    let added_id = "4242424242424242";
    let added_path = Path::new(&changed_path).with_file_name("pulled-page.md");
    run_git(dir, &["checkout", "-q", "-b", "upstream"])?;
    let changed = dir.join(&changed_path);
    let mut text = std::fs::read_to_string(&changed)?;
    text.push_str("\nChanged upstream.\n");
    std::fs::write(&changed, text)?;
    std::fs::write(
        dir.join(&added_path),
        format!("---\nid: \"{added_id}\"\ntitle: Pulled page\n---\nArrived by pull.\n"),
    )?;
    run_git(dir, &["add", "-A"])?;
    run_git(dir, &["commit", "-q", "-m", "Upstream work"])?;
    run_git(dir, &["checkout", "-q", "-"])?;
    // Back on the space's branch the two files are as before; the fast-forward brings them, as a
    // pull would.
    run_git(dir, &["merge", "-q", "--ff-only", "upstream"])?;
    run_git(dir, &["branch", "-q", "-d", "upstream"])?;
    let (shown, changed_took) = cli.run(&["page", "get", changed_id.as_str()])?;
    if !shown.contains("Changed upstream.") {
        bail!("`page get` after the fast-forward does not show the change to {changed_path}");
    }
    let (shown, added_took) = cli.run(&["page", "get", added_id])?;
    if !shown.contains("Arrived by pull.") {
        bail!("`page get` after the fast-forward does not find the page it added");
    }
    row("after a fast-forward (as `git pull` makes): `page get` of the page it changed", &stats::ms(changed_took));
    row("... and of the page it added", &stats::ms(added_took));
    println!();
    Ok(())
}
