//! Search benchmarks: quality on a corpus with relevance judgments (BEIR layout), and speed on
//! real and generated spaces beside `grep -rli` and `rg -li` over the same files.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cdo_core::model::{SpaceInfo, SpaceKey};
use cdo_core::{PageUpdate, Space};
use cdo_search::embed::{self, Embedder, MiniLm};
use cdo_search::{Mode, SearchError, SearchIndex, UserQuery};

use crate::row;
use crate::stats::{self, Samples};

fn info(key: &str) -> Result<SpaceInfo> {
    Ok(SpaceInfo { key: SpaceKey::parse(key).context("key")?, name: key.into(), description: None, homepage: None })
}

fn load_model() -> Result<MiniLm> {
    MiniLm::load(&embed::models_dir()).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The words of a query as someone types them: no operators (a heading such as `--HEAD` is
/// words, not an exclusion).
fn plain(text: &str) -> UserQuery {
    UserQuery { words: text.split_whitespace().map(str::to_owned).collect(), ..UserQuery::default() }
}

/// nDCG@10, MRR@10 and Recall@5 of ranked document ids against judgments.
#[derive(Default, Clone, Copy)]
struct Scores {
    ndcg: f64,
    mrr: f64,
    recall: f64,
    n: usize,
}

impl Scores {
    fn add(&mut self, ranked: &[String], relevant: &HashMap<String, u32>) {
        let gain = |rel: u32| f64::from((1u32 << rel.min(16)) - 1);
        let dcg: f64 = ranked
            .iter()
            .take(10)
            .enumerate()
            .map(|(i, d)| gain(*relevant.get(d).unwrap_or(&0)) / ((i + 2) as f64).log2())
            .sum();
        let mut ideal: Vec<u32> = relevant.values().copied().collect();
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        let idcg: f64 = ideal.iter().take(10).enumerate().map(|(i, r)| gain(*r) / ((i + 2) as f64).log2()).sum();
        self.ndcg += if idcg > 0.0 { dcg / idcg } else { 0.0 };
        self.mrr += ranked.iter().take(10).position(|d| relevant.contains_key(d)).map_or(0.0, |i| 1.0 / (i + 1) as f64);
        let found = ranked.iter().take(5).filter(|d| relevant.contains_key(*d)).count();
        self.recall += found as f64 / relevant.len().clamp(1, 5) as f64;
        self.n += 1;
    }

    fn cells(&self) -> String {
        let n = self.n.max(1) as f64;
        format!("{:.3} | {:.3} | {:.3}", self.ndcg / n, self.mrr / n, self.recall / n)
    }
}

/// Quality on a BEIR-layout corpus: every query in keyword, semantic and hybrid mode.
pub fn quality(bench: &Path, work: &Path) -> Result<()> {
    let dir = work.join("quality-space");
    crate::copy_dir(&bench.join("corpus"), &dir).with_context(|| format!("copying {}", bench.display()))?;
    crate::git_commit_all(&dir)?;
    let mut space = Space::open(&dir, &work.join("quality.sqlite"), Some(info("BENCH")?))?;
    let mut index = SearchIndex::open(&work.join("quality-search"))?;
    index.sync_space(&mut space, &mut |_| {})?;
    let mut model = load_model()?;
    let t = Instant::now();
    let embedded = index.embed_pending(&mut model, &mut |_, _| {}, &|| true)?;
    let embed_time = t.elapsed();

    let mut queries: Vec<(String, String, String)> = Vec::new();
    for line in std::fs::read_to_string(bench.join("queries.jsonl"))?.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        queries.push((field("_id"), field("text"), field("type")));
    }
    let mut qrels: HashMap<String, HashMap<String, u32>> = HashMap::new();
    for line in std::fs::read_to_string(bench.join("qrels.tsv"))?.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if let [q, d, s] = cols[..] {
            qrels.entry(q.to_owned()).or_default().insert(d.to_owned(), s.trim().parse().unwrap_or(1));
        }
    }
    let types: Vec<String> = {
        let mut t: Vec<String> = queries.iter().map(|q| q.2.clone()).collect::<HashSet<_>>().into_iter().collect();
        t.sort();
        t
    };
    println!("## Search quality: {} ({} pages, {} queries)\n", bench.display(), space.len()?, queries.len());
    println!(
        "{embedded} passages embedded in {:.1} s ({:.0}/s). Queries are typed as plain words.\n",
        embed_time.as_secs_f64(),
        embedded as f64 / embed_time.as_secs_f64().max(0.001)
    );
    println!("| mode | queries | nDCG@10 | MRR@10 | Recall@5 |\n|---|---|---|---|---|");
    for (name, mode) in [("keyword", Mode::Keyword), ("semantic", Mode::Semantic), ("hybrid", Mode::Hybrid)] {
        let mut all = Scores::default();
        let mut by_type: HashMap<String, Scores> = HashMap::new();
        for (id, text, kind) in &queries {
            let Some(relevant) = qrels.get(id) else { continue };
            let embedder: Option<&mut dyn Embedder> = if mode == Mode::Keyword { None } else { Some(&mut model) };
            let outcome = index.query(&plain(text), mode, embedder, 10)?;
            let ranked: Vec<String> = outcome
                .hits
                .iter()
                .map(|h| h.path.rsplit('/').next().unwrap_or(&h.path).trim_end_matches(".md").to_owned())
                .collect();
            all.add(&ranked, relevant);
            by_type.entry(kind.clone()).or_default().add(&ranked, relevant);
        }
        println!("| {name} | all ({}) | {} |", all.n, all.cells());
        for t in &types {
            if let Some(s) = by_type.get(t) {
                println!("| {name} | {t} ({}) | {} |", s.n, s.cells());
            }
        }
    }
    println!();
    Ok(())
}

/// Words that occur in the space, for queries and for grep (alphabetic, 5+ letters).
fn sample_words(dir: &Path, n: usize) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(11);
    let mut seen = HashSet::new();
    let mut words = Vec::new();
    let mut pages = 0;
    crate::corpus::for_each_page(dir, &mut |_, text| {
        pages += 1;
        if rng.usize(..20) != 0 || words.len() >= n * 4 {
            return;
        }
        let candidates: Vec<&str> = text
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| w.len() >= 5 && w.chars().all(|c| c.is_ascii_lowercase()))
            .collect();
        if !candidates.is_empty() {
            let w = candidates[rng.usize(..candidates.len())].to_owned();
            if seen.insert(w.clone()) {
                words.push(w);
            }
        }
    });
    rng.shuffle(&mut words);
    words.truncate(n);
    words
}

/// Real vectors for a sample of passages, replayed for all passages of a large space: the cost
/// of an exact search depends on how many vectors there are, not on their values, and embedding
/// hundreds of thousands of passages takes hours on two cores.
struct Replay {
    vectors: Vec<Vec<f32>>,
    next: usize,
    model: String,
}

impl Embedder for Replay {
    fn model_id(&self) -> &str {
        &self.model
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, SearchError> {
        let mut out = Vec::with_capacity(texts.len());
        for _ in texts {
            out.push(self.vectors[self.next % self.vectors.len()].clone());
            self.next += 1;
        }
        Ok(out)
    }
}

fn time_command(program: &str, args: &[&str], dir: &Path) -> Result<Duration> {
    let t = Instant::now();
    let out =
        Command::new(program).args(args).current_dir(dir).output().with_context(|| format!("running {program}"))?;
    if !out.status.success() && out.status.code() != Some(1) {
        bail!("{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(t.elapsed())
}

/// Speed on one space: index build, incremental update after a save, keyword and hybrid query
/// latency in process, and grep / ripgrep for the same words over the same folder.
pub fn speed(title: &str, dir: &Path, work: &Path, queries: usize, greps: usize, real: usize) -> Result<()> {
    let keyword_only = real == 0;
    println!("## {title}\n");
    println!("| measure | figure |\n|---|---|");
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("space").to_owned();
    let cache = work.join(format!("{name}-search.sqlite"));
    let _ = std::fs::remove_file(&cache);
    let mut space = Space::open(dir, &cache, Some(info("BENCH")?))?;
    let pages = space.len()?;
    let index_dir = work.join(format!("{name}-search"));
    let _ = std::fs::remove_dir_all(&index_dir);

    let t = Instant::now();
    let mut index = SearchIndex::open(&index_dir)?;
    let report = index.sync_space(&mut space, &mut |_| {})?;
    let build = t.elapsed();
    row(
        "index build (full text and passages, one thread, then merged)",
        &format!(
            "{} for {} pages, {:.0} pages/s, {} segment(s)",
            stats::ms(build),
            report.indexed,
            report.indexed as f64 / build.as_secs_f64(),
            index.segments()
        ),
    );

    // A save, then the index catching up on that page alone.
    let ids: Vec<cdo_core::PageId> =
        space.catalog()?.nodes().filter(|n| n.file.is_some()).map(|n| n.id.clone()).collect();
    let mut rng = fastrand::Rng::with_seed(3);
    let mut incremental = Samples::default();
    let mut each = Vec::new();
    for i in 0..20 {
        let id = &ids[rng.usize(..ids.len())];
        let body = format!("{}\nNew words: quokkaword{i}.\n", space.page(id)?.body);
        space.update_page(id, &PageUpdate { body: Some(body), ..PageUpdate::default() }, &crate::author())?;
        let path = space.summary(id)?.path;
        let t = Instant::now();
        index.sync_paths(&mut space, std::slice::from_ref(&path))?;
        incremental.push(t.elapsed());
        each.push(stats::ms(t.elapsed()));
        if index.search(&plain(&format!("quokkaword{i}")), 1)?.first().map(|h| &h.id) != Some(&id.to_string()) {
            bail!("the saved page is not found after the incremental update");
        }
    }
    row(
        "incremental update after one save (20 saves)",
        &format!("p50 {}, p99 {} (in order: {})", incremental.p50(), incremental.p99(), each.join(", ")),
    );

    let words = sample_words(dir, 40);
    if words.is_empty() {
        bail!("no words to search for in {}", dir.display());
    }
    let mut keyword = Samples::default();
    let mut ranking = Samples::default();
    for i in 0..queries {
        let q = plain(&words[i % words.len()]);
        let t = Instant::now();
        std::hint::black_box(index.search(&q, 10)?);
        keyword.push(t.elapsed());
        let (built, _) = index.build(&q);
        let t = Instant::now();
        std::hint::black_box(index.top(built.as_ref(), 10)?);
        ranking.push(t.elapsed());
    }
    let mut two = Samples::default();
    for i in 0..queries {
        let q = format!("{} {}", words[i % words.len()], words[(i * 7 + 3) % words.len()]);
        let t = Instant::now();
        std::hint::black_box(index.search(&plain(&q), 10)?);
        two.push(t.elapsed());
    }
    row(
        &format!("keyword query, one word ({queries} queries)"),
        &format!("p50 {}, p99 {}", keyword.p50(), keyword.p99()),
    );
    row(&format!("keyword query, two words ({queries} queries)"), &format!("p50 {}, p99 {}", two.p50(), two.p99()));
    row("of which ranking alone (one word, no snippets)", &format!("p50 {}, p99 {}", ranking.p50(), ranking.p99()));

    let mut grep = Samples::default();
    let mut rg = Samples::default();
    let has_rg = Command::new("rg").arg("--version").output().is_ok_and(|o| o.status.success());
    for w in words.iter().take(greps) {
        grep.push(time_command("grep", &["-rli", "--exclude-dir=.git", w, "."], dir)?);
        if has_rg {
            rg.push(time_command("rg", &["-li", w, "."], dir)?);
        }
    }
    row(&format!("`grep -rli WORD` ({greps} words)"), &format!("p50 {}", grep.p50()));
    if has_rg {
        row(&format!("`rg -li WORD` ({greps} words)"), &format!("p50 {}", rg.p50()));
    } else {
        row("`rg -li WORD`", "ripgrep not installed (apt-get install ripgrep)");
    }
    let speedup = |other: &Samples| other.p50_secs() / keyword.p50_secs().max(1e-9);
    row("keyword p50 speed-up over grep", &format!("{:.0}x", speedup(&grep)));
    if has_rg {
        row("keyword p50 speed-up over ripgrep", &format!("{:.0}x", speedup(&rg)));
    }

    if keyword_only {
        println!();
        return Ok(());
    }
    // Meaning: real vectors for `real` passages (their embedding time is the model's speed),
    // replayed for every passage of the space, then hybrid queries with the real model.
    let mut model = load_model()?;
    let (pending, total) = index.coverage(model.model_id())?;
    let sample: Vec<String> = {
        let mut texts = Vec::new();
        crate::corpus::for_each_page(dir, &mut |_, text| {
            if texts.len() < real {
                let body = text.split("\n---\n").last().unwrap_or(text);
                texts.push(body.chars().take(1000).collect::<String>());
            }
        });
        texts
    };
    let t = Instant::now();
    let vectors = model.embed(&sample)?;
    let embed_time = t.elapsed();
    row(
        "embedding (all-MiniLM-L6-v2 int8, real passages)",
        &format!(
            "{} passages in {:.1} s, {:.0}/s",
            sample.len(),
            embed_time.as_secs_f64(),
            sample.len() as f64 / embed_time.as_secs_f64()
        ),
    );
    let mut replay = Replay { vectors, next: 0, model: model.model_id().to_owned() };
    let t = Instant::now();
    index.embed_pending(&mut replay, &mut |_, _| {}, &|| true)?;
    row(
        "vectors stored (replayed from the real sample)",
        &format!("{total} passages for {pages} pages ({pending} were pending) in {:.1} s", t.elapsed().as_secs_f64()),
    );
    // The first query loads the vector store.
    let t = Instant::now();
    index.query(&plain(&words[0]), Mode::Semantic, Some(&mut model), 10)?;
    row("vector store load (first semantic query)", &stats::ms(t.elapsed()));
    let mut hybrid = Samples::default();
    let mut semantic = Samples::default();
    let n = queries.min(200);
    for i in 0..n {
        let q = plain(&format!("{} {}", words[i % words.len()], words[(i * 7 + 3) % words.len()]));
        let t = Instant::now();
        std::hint::black_box(index.query(&q, Mode::Hybrid, Some(&mut model), 10)?);
        hybrid.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(index.query(&q, Mode::Semantic, Some(&mut model), 10)?);
        semantic.push(t.elapsed());
    }
    row(
        &format!("hybrid query, query embedding included ({n} queries)"),
        &format!("p50 {}, p99 {}", hybrid.p50(), hybrid.p99()),
    );
    row(&format!("semantic query ({n} queries)"), &format!("p50 {}, p99 {}", semantic.p50(), semantic.p99()));
    println!();
    Ok(())
}

/// Times a few semantic queries against an existing index (for looking into latency).
pub fn probe(index_dir: &Path, query: &str) -> Result<()> {
    let mut index = SearchIndex::open(index_dir)?;
    let mut model = load_model()?;
    for _ in 0..5 {
        let t = Instant::now();
        model.embed(&[query.to_owned()])?;
        let embed = t.elapsed();
        let t = Instant::now();
        let outcome = index.query(&plain(query), Mode::Semantic, Some(&mut model), 10)?;
        println!(
            "semantic: {} hits in {} (embedding the query alone: {})",
            outcome.hits.len(),
            stats::ms(t.elapsed()),
            stats::ms(embed)
        );
    }
    Ok(())
}

/// How much of the exact nearest-passage ranking the vector store's faster passes keep, on real
/// passages of a documentation folder embedded with the real model (the generated spaces'
/// replayed vectors are copies of a few, so they cannot show this). Queries are section
/// headings of other pages, embedded the same way.
pub fn vector_recall(docs: &Path, passages: usize, queries: usize) -> Result<()> {
    use cdo_search::vectors::{BruteForce, Passes, VectorStore};
    let mut files = Vec::new();
    crate::corpus::for_each_page(docs, &mut |path, text| files.push((path.to_owned(), text.to_owned())));
    files.sort();
    let mut rng = fastrand::Rng::with_seed(5);
    rng.shuffle(&mut files);
    let (mut texts, mut asks) = (Vec::new(), Vec::new());
    for (path, text) in &files {
        let page = cdo_core::page::PageFile::parse(text.as_bytes());
        let title = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let sections = cdo_core::render::sections(page.body());
        // A page gives either passages or queries, so no query is its own passage.
        if rng.usize(..10) == 0 && asks.len() < queries {
            asks.extend(
                sections.iter().map(|s| s.heading.clone()).filter(|h| h.split_whitespace().count() >= 3).take(2),
            );
        } else if texts.len() < passages {
            texts.extend(cdo_search::semantic::passages(title, &sections).into_iter().map(|p| p.text));
        }
        if texts.len() >= passages && asks.len() >= queries {
            break;
        }
    }
    texts.truncate(passages);
    asks.truncate(queries);
    println!("# Vector store passes against an exact scan\n");
    println!(
        "{} real passages of {}, {} section headings of other pages as queries.\n",
        texts.len(),
        docs.display(),
        asks.len()
    );
    let mut model = load_model()?;
    let t = Instant::now();
    let mut store = BruteForce::new(384);
    for (i, chunk) in texts.chunks(64).enumerate() {
        for (j, v) in model.embed(chunk)?.into_iter().enumerate() {
            store.insert((i * 64 + j) as i64, &v);
        }
        eprint!("\rembedded {} of {} passages", (i * 64 + chunk.len()), texts.len());
    }
    eprintln!();
    let asked = model.embed(&asks)?;
    println!(
        "Embedded in {} ({:.0} passages/s).\n",
        stats::ms(t.elapsed()),
        texts.len() as f64 / t.elapsed().as_secs_f64()
    );
    println!("| passes | kept by the sign pass | recall of the exact top 10 | top 50 |\n|---|---|---|---|");
    let n = store.len();
    let mut cases = vec![("8-bit, then exact".to_owned(), Passes::EightBit)];
    for fraction in [10, 25, 50, 100] {
        cases.push((format!("signs (1 in {fraction}), 8-bit, then exact"), Passes::Signs(n / fraction)));
    }
    // The exact top 50 of each query, once: its first 10 are the exact top 10.
    let exact: Vec<Vec<i64>> =
        asked.iter().map(|q| store.nearest_by(q, 50, Passes::Exact).into_iter().map(|(id, _)| id).collect()).collect();
    for (name, passes) in cases {
        let mut found = [0usize; 2];
        for (q, exact) in asked.iter().zip(&exact) {
            for (slot, k) in [10, 50].into_iter().enumerate() {
                let truth: HashSet<i64> = exact.iter().take(k).copied().collect();
                found[slot] += store.nearest_by(q, k, passes).iter().filter(|(id, _)| truth.contains(id)).count();
            }
        }
        let kept = match passes {
            Passes::Signs(keep) => format!("{keep}"),
            _ => "-".to_owned(),
        };
        let recall = |slot: usize, k: usize| found[slot] as f64 / (asked.len() * k) as f64;
        row(&format!("{name} | {kept}"), &format!("{:.4} | {:.4}", recall(0, 10), recall(1, 50)));
    }
    println!();
    Ok(())
}
