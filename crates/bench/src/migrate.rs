//! Migration: storage-format samples imported through an XML export (no word lost, table
//! headers kept, every image and attachment link resolving to a file), and the speed of importing
//! a synthetic export of many pages: reading `entities.xml`, converting (in parallel), committing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use cdo_migrate::model::{Attachment, Blob, Comment, Content, Kind, Person, SpaceData, Version, When};
use cdo_migrate::{Options, write_space, xml_export};

fn person(i: usize) -> Person {
    let names = ["Ada Lovelace", "Bob Stone", "Chen Wei", "Dara Okafor", "Eva Lind"];
    let name = names[i % names.len()];
    Person {
        id: format!("557058:{i:08x}"),
        name: name.into(),
        email: Some(format!("{}@example.com", name.split(' ').next().unwrap_or("x").to_lowercase())),
    }
}

/// The attachments a storage body refers to (`ri:filename`).
fn attachment_names(storage: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = storage;
    while let Some(at) = rest.find("ri:filename=\"") {
        rest = &rest[at + 13..];
        if let Some(end) = rest.find('"') {
            let name = cdo_storage::xhtml::decode_entities(&rest[..end]);
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// Every sample below `dir` as a page of one export, imported; checked for lost words, table
/// headers and attachment links.
pub fn samples(dir: &Path, work: &Path) -> Result<()> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        bail!("no *.storage.xhtml samples below {}", dir.display());
    }
    let mut contents = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let storage = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let title = file.strip_prefix(dir).unwrap_or(file).display().to_string();
        let attachments = attachment_names(&storage)
            .into_iter()
            .enumerate()
            .map(|(j, name)| Attachment {
                id: format!("{}", 500_000 + i * 100 + j),
                filename: name,
                by: person(i),
                when: When { seconds: 1_700_000_000, offset_minutes: 0 },
                data: Blob::Bytes(b"attachment".to_vec()),
            })
            .collect();
        contents.push(Content {
            id: format!("{}", 100_000 + i),
            kind: Kind::Page,
            parent: None,
            labels: vec![],
            versions: vec![Version {
                number: 1,
                title,
                storage,
                by: person(i),
                when: When { seconds: 1_700_000_000 + i as i64, offset_minutes: 0 },
                message: String::new(),
            }],
            attachments,
            comments: vec![],
        });
    }
    let data = SpaceData { key: "SAMPLES".into(), name: "Samples".into(), contents, ..Default::default() };
    let zip = work.join("samples.xml.zip");
    cdo_migrate::fixture::write_xml_export(&data, &zip)?;
    let read = xml_export::read(&zip, None)?;
    let root = work.join("SAMPLES");
    let report = write_space(&root, &read, &options(false), &mut |_| {})?;
    let plan = cdo_migrate::plan::Plan::new(&read, None);
    println!("| sample | words lost | table headers | links to files | kept verbatim |\n|---|---|---|---|---|");
    let mut failed = 0;
    for (i, content) in read.contents.iter().enumerate() {
        let path = &plan.paths[i];
        let text = std::fs::read_to_string(root.join(path)).with_context(|| format!("reading {path}"))?;
        let body = text.splitn(3, "---\n").nth(2).unwrap_or(&text);
        let storage = &content.versions[0].storage;
        let lost = cdo_storage::check::lost_words(storage, body);
        let headers_in = storage.matches("<th").count();
        let headers_out = body.matches("| --- |").count() + body.matches("<th").count();
        let headers_ok = headers_in == 0 || headers_out > 0;
        let folder = Path::new(path).parent().map(Path::to_path_buf).unwrap_or_default();
        let (mut missing, mut checked) = (Vec::new(), 0);
        for link in cdo_core::links::extract(body) {
            let dest = link.url.split('#').next().unwrap_or("").to_owned();
            if dest.contains(".attachments/") {
                checked += 1;
                let file = root.join(&folder).join(cdo_core::links::percent_decode(&dest));
                if !file.is_file() {
                    missing.push(dest);
                }
            }
        }
        let kept: Vec<&str> = report
            .pages
            .iter()
            .filter(|p| p.path == *path)
            .flat_map(|p| p.losses.iter().map(|l| l.what.as_str()))
            .collect();
        if !lost.is_empty() || !headers_ok || !missing.is_empty() {
            failed += 1;
        }
        println!(
            "| {} | {} | {} | {} | {} |",
            content.title(),
            if lost.is_empty() { "0".to_owned() } else { lost.join(", ") },
            if headers_in == 0 {
                "-".to_owned()
            } else if headers_ok {
                "kept".to_owned()
            } else {
                "LOST".to_owned()
            },
            if missing.is_empty() { format!("{checked} resolve") } else { format!("missing: {}", missing.join(", ")) },
            kept.join(", ")
        );
    }
    println!("\n{} samples, {failed} with a problem", read.contents.len());
    if failed > 0 {
        bail!("{failed} samples lost something");
    }
    Ok(())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.to_string_lossy().ends_with(".storage.xhtml") || path.to_string_lossy().ends_with(".storage.xml")
        {
            out.push(path);
        }
    }
    Ok(())
}

fn options(history: bool) -> Options {
    Options {
        history,
        migrator: cdo_core::Author { name: "Bench".into(), email: "bench@example.com".into() },
        threads: std::thread::available_parallelism().map(usize::from).unwrap_or(2),
        jira: Some("https://acme.atlassian.net".into()),
        batch: Options::BATCH,
        neighbours: Default::default(),
    }
}

/// A body like the pages of a real engineering space: headings, panels, code, a table, links to
/// other pages, an image, a task list, an emoticon, a Jira issue, now and then an unknown macro.
fn body(i: usize, titles: &[String]) -> String {
    let other = &titles[(i * 7 + 3) % titles.len()];
    let mut other_escaped = String::new();
    cdo_storage::xhtml::escape(other, &mut other_escaped);
    let mut s = format!(
        "<h2>Overview</h2><p>Service {i} handles <strong>requests</strong> for the <em>billing</em> team. \
         See <ac:link><ri:page ri:content-title=\"{other_escaped}\" /></ac:link> and \
         <a href=\"https://example.com/docs/{i}\">the vendor docs</a>.</p>\
         <ac:structured-macro ac:name=\"info\" ac:schema-version=\"1\" ac:macro-id=\"m{i}\"><ac:rich-text-body>\
         <p>On call: <ac:link><ri:user ri:account-id=\"557058:{:08x}\" /></ac:link>.</p></ac:rich-text-body></ac:structured-macro>\
         <table data-layout=\"default\"><colgroup><col /><col /><col /></colgroup><tbody>\
         <tr><th><p>Endpoint</p></th><th><p>Method</p></th><th><p>Owner</p></th></tr>",
        i % 5
    );
    for r in 0..6 {
        s.push_str(&format!(
            "<tr><td><p><code>/v1/items/{r}</code></p></td><td><p>GET</p></td><td><p>Team {}</p></td></tr>",
            (i + r) % 9
        ));
    }
    s.push_str("</tbody></table>");
    s.push_str(&format!(
        "<ac:structured-macro ac:name=\"code\" ac:schema-version=\"1\"><ac:parameter ac:name=\"language\">bash</ac:parameter>\
         <ac:plain-text-body><![CDATA[curl -s https://api.example.com/v1/items/{i} | jq .\nmake deploy SERVICE={i}]]></ac:plain-text-body></ac:structured-macro>\
         <p><ac:image ac:height=\"250\"><ri:attachment ri:filename=\"diagram-{i}.png\" /></ac:image></p>\
         <ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete</ac:task-status><ac:task-body>Write the runbook</ac:task-body></ac:task>\
         <ac:task><ac:task-id>2</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>Load test <time datetime=\"2024-06-01\" /></ac:task-body></ac:task></ac:task-list>\
         <p>Tracked in <ac:structured-macro ac:name=\"jira\"><ac:parameter ac:name=\"key\">OPS-{i}</ac:parameter></ac:structured-macro> <ac:emoticon ac:name=\"tick\" /></p>"
    ));
    for p in 0..4 {
        s.push_str(&format!(
            "<p>Paragraph {p} of page {i}: requests are retried with back-off, logged with a trace id, and \
             measured at the gateway; errors above one percent page the team.</p>"
        ));
    }
    if i.is_multiple_of(10) {
        s.push_str("<ac:structured-macro ac:name=\"roadmap-planner\"><ac:parameter ac:name=\"source\">x</ac:parameter></ac:structured-macro>");
    }
    s
}

/// A synthetic space of `pages` pages (100 per parent), imported from its XML export.
pub fn speed(pages: usize, work: &Path) -> Result<()> {
    let titles: Vec<String> = (0..pages).map(|i| format!("Service {i} runbook")).collect();
    let mut contents = Vec::with_capacity(pages);
    for i in 0..pages {
        let parent = (i >= 100).then(|| format!("{}", 100_000 + i / 100 - 1));
        contents.push(Content {
            id: format!("{}", 100_000 + i),
            kind: if i % 50 == 49 { Kind::BlogPost } else { Kind::Page },
            parent: if i % 50 == 49 { None } else { parent },
            labels: vec!["service".into()],
            versions: vec![Version {
                number: 1,
                title: titles[i].clone(),
                storage: body(i, &titles),
                by: person(i),
                when: When { seconds: 1_600_000_000 + i as i64 * 60, offset_minutes: 0 },
                message: String::new(),
            }],
            attachments: vec![Attachment {
                id: format!("{}", 900_000 + i),
                filename: format!("diagram-{i}.png"),
                by: person(i),
                when: When { seconds: 1_600_000_000 + i as i64 * 60, offset_minutes: 0 },
                data: Blob::Bytes(vec![0x89, b'P', b'N', b'G']),
            }],
            comments: vec![Comment {
                id: format!("{}", 2_000_000 + i),
                parent: None,
                by: person(i + 1),
                when: When { seconds: 1_600_000_030 + i as i64 * 60, offset_minutes: 0 },
                storage: "<p>Looks right to me.</p>".into(),
                inline: None,
            }],
        });
    }
    let data = SpaceData {
        key: "SYN".into(),
        name: "Synthetic".into(),
        contents,
        users: HashMap::new(),
        ..Default::default()
    };
    let zip = work.join("synthetic.xml.zip");
    let started = Instant::now();
    cdo_migrate::fixture::write_xml_export(&data, &zip)?;
    let size = std::fs::metadata(&zip)?.len();
    eprintln!(
        "export of {pages} pages written in {:.1}s ({:.1} MB)",
        started.elapsed().as_secs_f64(),
        size as f64 / 1e6
    );

    let started = Instant::now();
    let read = xml_export::read(&zip, None)?;
    let reading = started.elapsed().as_secs_f64();
    let mut phases: Vec<(&'static str, Instant)> = Vec::new();
    let started = Instant::now();
    let report = write_space(&work.join("SYN"), &read, &options(false), &mut |p| {
        if phases.last().is_none_or(|(name, _)| *name != p.phase) {
            phases.push((p.phase, Instant::now()));
        }
    })?;
    let total = started.elapsed().as_secs_f64();
    let converting = match phases.iter().position(|(n, _)| *n == "committing") {
        Some(i) => phases[i].1.duration_since(started).as_secs_f64(),
        None => total,
    };
    let committing = total - converting;
    let threads = options(false).threads;
    println!("| step | {pages} pages | pages/s |\n|---|---|---|");
    println!(
        "| read entities.xml ({:.1} MB zip) | {reading:.2} s | {:.0} |",
        size as f64 / 1e6,
        pages as f64 / reading
    );
    println!("| convert to Markdown ({threads} threads) | {converting:.2} s | {:.0} |", pages as f64 / converting);
    println!(
        "| commit (one per page, with attachment and comments) | {committing:.2} s | {:.0} |",
        pages as f64 / committing
    );
    println!(
        "| whole import (read + convert + commit) | {:.2} s | {:.0} |",
        reading + total,
        pages as f64 / (reading + total)
    );
    println!("\n{} pages with something kept verbatim ({:?})", report.pages_with_losses(), report.by_kind());
    Ok(())
}
