//! What each command does, through the app crate's API.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use cdo_app::{Home, Wiki, demo, identity};
use cdo_core::model::{Author, PageId};
use cdo_core::{MoveTarget, NewPage, PageUpdate, Space};
use serde_json::json;

use crate::args::{Cli, Command, Format, LinksCmd, PageCmd, SpaceCmd, TemplateCmd};
use crate::output::{self, print_json};

struct Ctx {
    wiki: Wiki,
    user: Option<String>,
}

impl Ctx {
    fn author(&self) -> Result<Author> {
        Ok(identity::resolve(self.user.as_deref(), self.wiki.home())?)
    }

    fn space(&self, key: &str) -> Result<Space> {
        Ok(self.wiki.open_space(key)?)
    }

    fn page(&self, reference: &str) -> Result<(Space, PageId)> {
        Ok(self.wiki.resolve(reference)?)
    }
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<()> {
    if let Command::Serve { bind, demo, no_auth, anonymous_read, ui, sync_every, commit_after } = cli.command {
        let opts = crate::serve::Serve {
            home: cli.home,
            user: cli.user,
            bind,
            demo,
            no_auth,
            anonymous_read,
            ui,
            sync_every,
            commit_after,
        };
        return crate::serve::serve(opts);
    }
    let home = Home::locate(cli.home.as_deref())?;
    let ctx = Ctx { wiki: Wiki::new(home), user: cli.user };
    match cli.command {
        Command::Space(cmd) => space(&ctx, cmd),
        Command::Page(cmd) => page(&ctx, cmd),
        Command::Sync { key, remote, json } => {
            let mut space = ctx.space(&key)?;
            let author = ctx.author()?;
            let report = cdo_sync::git::sync(&mut space, &remote, &author)?;
            if json {
                print_json(&json!({
                    "branch": report.branch,
                    "committedLocal": report.committed_local,
                    "reached": report.reached,
                    "error": report.error,
                    "upToDate": report.up_to_date,
                    "fastForward": report.fast_forward,
                    "merged": report.merged,
                    "pushed": report.pushed,
                    "queued": report.queued,
                    "conflicts": report.conflicts.iter().map(|(p, n)| json!({"path": p, "count": n})).collect::<Vec<_>>(),
                }));
            } else {
                output::print_sync(&key, &remote, &report);
            }
            if let Some(e) = &report.error {
                // Local work is committed; the remote is not reachable: say so, and fail.
                anyhow::bail!(
                    "{key}: {e}; {} local commit(s) are kept and will be pushed by the next sync",
                    report.queued
                );
            }
            Ok(())
        }
        Command::Migrate { url, email, token, spaces, history, jira_url, json } => {
            let author = ctx.author()?;
            let m = crate::migrate::Migrate { url, email, token, spaces, history, jira_url, json };
            crate::migrate::migrate(&ctx.wiki, &author, m)
        }
        Command::Import { path, key, no_history, jira_url, json } => {
            let author = ctx.author()?;
            crate::migrate::import(&ctx.wiki, &author, &path, key.as_deref(), !no_history, jira_url, json)
        }
        Command::Tree { key, json } => {
            let mut space = ctx.space(&key)?;
            let tree = space.tree()?;
            if json {
                print_json(&output::tree_json(&tree));
            } else if tree.is_empty() {
                println!("{} has no pages yet; add one with `page create {}`", space.info().key, space.info().key);
            } else {
                output::print_tree(&tree, 0);
            }
            Ok(())
        }
        Command::Template(TemplateCmd::List { key, json }) => templates(&ctx, &key, json),
        Command::Docsync(cmd) => {
            let author = ctx.author()?;
            crate::docsync::run(&ctx.wiki, &author, cmd)
        }
        Command::Generate(cmd) => {
            let author = ctx.author().map(|a| a.name).unwrap_or_default();
            crate::generate::run(&ctx.wiki, &author, cmd)
        }
        Command::Check { key, page, external, no_model, json } => {
            crate::check::run(&ctx.wiki, key, page, external, no_model, json)
        }
        Command::Links(LinksCmd::Broken { key, json }) => {
            let mut space = ctx.space(&key)?;
            let broken = space.broken_links()?;
            if json {
                print_json(&json!(
                    broken
                        .iter()
                        .map(|b| json!({"id": b.page, "title": b.title, "path": b.path, "line": b.line, "url": b.url}))
                        .collect::<Vec<_>>()
                ));
            } else if broken.is_empty() {
                println!("No broken links in {key}.");
            } else {
                for b in &broken {
                    println!("{}:{}: {}  ({})", b.path, b.line, b.url, b.title);
                }
                println!("{} broken link(s).", broken.len());
            }
            Ok(())
        }
        Command::Search { query, spaces, mode, cql, limit, json } => {
            crate::search::search(&ctx.wiki, query.as_deref(), &spaces, mode, cql.as_deref(), limit, json)
        }
        Command::Mcp => crate::mcp::serve(&ctx.wiki, ctx.user.clone()),
        Command::Ask { question, spaces, no_model, json } => {
            crate::search::ask(&ctx.wiki, &question, &spaces, no_model, json)
        }
        Command::Related { page, limit, json } => crate::search::related(&ctx.wiki, &page, limit, json),
        Command::Index { key, rebuild, json } => crate::search::index(&ctx.wiki, key.as_deref(), rebuild, json),
        Command::Serve { .. } => bail!("serve runs before the home is opened"),
        Command::User(cmd) => crate::serve::user(ctx.wiki.home(), cmd),
        Command::Token(cmd) => crate::serve::token(ctx.wiki.home(), cmd),
        Command::Demo { json } => {
            let entry = demo::install(&ctx.wiki)?;
            let mut space = ctx.space(&entry.key)?;
            let tree = space.tree()?;
            if json {
                print_json(
                    &json!({"key": entry.key, "name": entry.name, "path": entry.path, "tree": output::tree_json(&tree)}),
                );
            } else {
                println!("The demo space {} ({}) is in {}\n", entry.name, entry.key, entry.path.display());
                output::print_tree(&tree, 0);
                let home = ctx.wiki.home().dir().display();
                println!(
                    "\nTry:\n  confluence-do --home {home} page show \"ENG:Authentication Architecture\"\n  confluence-do --home {home} page history \"ENG:Deployment Guide\"\n  confluence-do --home {home} page create ENG --template adr --field number=4 --field \"decision=Use OpenTelemetry\" --user \"You <you@example.com>\""
                );
            }
            Ok(())
        }
    }
}

fn space(ctx: &Ctx, cmd: SpaceCmd) -> Result<()> {
    let show = |entry: &cdo_app::SpaceEntry, json: bool, verb: &str| {
        if json {
            print_json(
                &json!({"key": entry.key, "name": entry.name, "path": entry.path, "description": entry.description}),
            );
        } else {
            println!("{verb} space {} ({}) at {}", entry.key, entry.name, entry.path.display());
        }
    };
    match cmd {
        SpaceCmd::Create { key, name, description, path, json } => {
            let entry = ctx.wiki.create_space(&key, &name, description.as_deref(), path.as_deref(), &ctx.author()?)?;
            show(&entry, json, "Created");
        }
        SpaceCmd::List { json } => {
            let spaces = ctx.wiki.spaces()?;
            let mut rows = Vec::new();
            for entry in &spaces {
                let pages = match ctx.space(&entry.key) {
                    Ok(mut space) => {
                        Some(space.catalog()?.nodes().filter(|n| n.kind == cdo_core::model::NodeKind::Page).count())
                    }
                    Err(_) => None,
                };
                rows.push((entry, pages));
            }
            if json {
                print_json(&json!(
                    rows.iter()
                        .map(|(e, pages)| json!({"key": e.key, "name": e.name, "path": e.path, "pages": pages}))
                        .collect::<Vec<_>>()
                ));
            } else if rows.is_empty() {
                println!("No spaces yet: `space create KEY --name NAME`, `space add PATH` or `demo`.");
            } else {
                for (e, pages) in rows {
                    let pages = pages.map_or_else(|| "unavailable".to_owned(), |p| format!("{p} pages"));
                    println!("{:<10} {:<30} {:<12} {}", e.key, e.name, pages, e.path.display());
                }
            }
        }
        SpaceCmd::Add { path, key, name, json } => {
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!("Reading the pages of {} and their history (once)...", path.display());
            }
            let entry = ctx.wiki.add_space(&path, key.as_deref(), name.as_deref(), &ctx.author()?)?;
            show(&entry, json, "Added");
        }
        SpaceCmd::Clone { url, key, json } => {
            let entry = ctx.wiki.clone_space(&url, key.as_deref())?;
            show(&entry, json, "Cloned");
        }
        SpaceCmd::Remove { key } => {
            let entry = ctx.wiki.remove_space(&key)?;
            println!("Unregistered {}; its files are still in {}", entry.key, entry.path.display());
        }
        SpaceCmd::Code { key, path, remove } => {
            if remove {
                ctx.wiki.set_code_repo(&key, None)?;
                println!("{key} documents no code repository now.");
            } else if let Some(path) = path {
                ctx.wiki.set_code_repo(&key, Some(&path))?;
                let code = ctx.wiki.code_repo(&key)?.unwrap_or(path);
                println!("{key} documents the code in {}; `confluence-do check {key}` compares them.", code.display());
            } else {
                match ctx.wiki.code_repo(&key)? {
                    Some(code) => println!("{}", code.display()),
                    None => println!("{key} has no code repository; register one with `space code {key} PATH`"),
                }
            }
        }
        SpaceCmd::AssignIds { key } => {
            let mut space = ctx.space(&key)?;
            let (count, skipped) = space.assign_ids(&ctx.author()?)?;
            println!("Wrote ids into {count} page(s) in one commit.");
            for path in skipped {
                eprintln!("warning: {path}: not changed (its frontmatter is broken or it is not text)");
            }
        }
    }
    Ok(())
}

pub(crate) fn read_body(file: &Option<std::path::PathBuf>) -> Result<Option<String>> {
    match file {
        None => Ok(None),
        Some(path) if path == Path::new("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("reading the page body from standard input")?;
            Ok(Some(text))
        }
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", path.display()))?;
            Ok(Some(text))
        }
    }
}

fn saved(space: &mut Space, summary: &cdo_core::model::PageSummary, json: bool, verb: &str) -> Result<()> {
    let version = space.version_count(&summary.id)?;
    let key = space.info().key.to_string();
    if json {
        print_json(&output::saved_json(&key, summary, version));
    } else {
        println!("{verb} \"{}\" (id {}) at {}, version {version}", summary.title, summary.id, summary.path);
    }
    Ok(())
}

fn page(ctx: &Ctx, cmd: PageCmd) -> Result<()> {
    match cmd {
        PageCmd::Create { key, title, parent, labels, template, fields, file, position, json } => {
            let mut space = ctx.space(&key)?;
            let parent = match parent {
                Some(reference) => {
                    let (other, id) = ctx.page(&reference)?;
                    if other.info().key != space.info().key {
                        bail!("the parent {reference} is in space {}, not {key}", other.info().key);
                    }
                    Some(id)
                }
                None => None,
            };
            if title.is_none() && template.is_none() {
                bail!("a page needs a title: --title \"...\"");
            }
            let request = NewPage {
                title,
                parent,
                labels,
                body: read_body(&file)?.unwrap_or_default(),
                template,
                fields: cdo_core::space::parse_fields(&fields)?,
                position,
            };
            let saved_page = space.create_page(&request, &ctx.author()?)?;
            saved(&mut space, &saved_page.summary, json, "Created")
        }
        PageCmd::Show { page, format, version, json } => {
            let (mut space, id) = ctx.page(&page)?;
            let shown = match version {
                Some(n) => space.page_version(&id, n)?,
                None => space.page(&id)?,
            };
            let format = if json { Format::Json } else { format };
            if format != Format::Json {
                for d in &shown.diagnostics {
                    eprintln!("{}: {d}", shown.summary.path);
                }
            }
            match format {
                Format::Json => print_json(&output::page_json(space.info().key.as_str(), &shown)),
                Format::Md => print!("{}", shown.body),
                Format::Html => print!("{}", cdo_core::render::render(&shown.body).html),
            }
            Ok(())
        }
        PageCmd::Update { page, title, file, labels, clear_labels, base_version, json } => {
            let (mut space, id) = ctx.page(&page)?;
            let labels = if clear_labels { Some(Vec::new()) } else { (!labels.is_empty()).then_some(labels) };
            let update = PageUpdate { title, body: read_body(&file)?, labels, base_version, message: None };
            if update.title.is_none() && update.body.is_none() && update.labels.is_none() {
                bail!("nothing to change: give --title, --file or --label");
            }
            let saved_page = space.update_page(&id, &update, &ctx.author()?)?;
            let verb = if saved_page.commit.is_some() { "Updated" } else { "No change to" };
            saved(&mut space, &saved_page.summary, json, verb)
        }
        PageCmd::Move { page, parent, root, position, json } => {
            let (mut space, id) = ctx.page(&page)?;
            let target = match (parent, root) {
                (Some(reference), _) => {
                    let (other, pid) = ctx.page(&reference)?;
                    if other.info().key != space.info().key {
                        bail!("pages move within a space; {reference} is in {}", other.info().key);
                    }
                    MoveTarget::Under(pid)
                }
                (None, true) => MoveTarget::Root,
                (None, false) => match position {
                    Some(_) => match space.summary(&id)?.parent {
                        Some(p) => MoveTarget::Under(p),
                        None => MoveTarget::Root,
                    },
                    None => bail!("where to? give --parent PAGE, --root or --position N"),
                },
            };
            let saved_page = space.move_page(&id, &target, position, &ctx.author()?)?;
            saved(&mut space, &saved_page.summary, json, "Moved")
        }
        PageCmd::Delete { page } => {
            let (mut space, id) = ctx.page(&page)?;
            let deleted = space.delete_page(&id, &ctx.author()?)?;
            println!("Deleted \"{}\" (id {}); `page restore {}` brings it back", deleted.summary.title, id, id);
            Ok(())
        }
        PageCmd::Restore { page, version, json } => {
            let (mut space, id) = ctx.page(&page)?;
            let restored = space.restore_page(&id, version, &ctx.author()?)?;
            saved(&mut space, &restored.summary, json, "Restored")
        }
        PageCmd::History { page, json } => {
            let (mut space, id) = ctx.page(&page)?;
            let mut versions = space.history(&id)?;
            versions.reverse();
            if json {
                print_json(&json!(versions.iter().map(output::version_json).collect::<Vec<_>>()));
            } else {
                for v in &versions {
                    println!(
                        "v{:<4} {}  {:<25} {}  {}",
                        v.version,
                        &v.commit[..v.commit.len().min(10)],
                        v.author.name,
                        v.date(),
                        v.message
                    );
                }
            }
            Ok(())
        }
        PageCmd::Diff { page, from, to, words, json } => {
            let (mut space, id) = ctx.page(&page)?;
            let diff = space.diff(&id, from, to)?;
            if json {
                print_json(&json!({"from": diff.from, "to": diff.to, "unified": diff.unified, "words": diff.words}));
            } else if words {
                for change in &diff.words {
                    match change.op {
                        cdo_core::diff::WordOp::Equal => print!("{}", change.text),
                        cdo_core::diff::WordOp::Insert => print!("{{+{}+}}", change.text),
                        cdo_core::diff::WordOp::Delete => print!("[-{}-]", change.text),
                    }
                }
                println!();
            } else {
                print!("{}", diff.unified);
            }
            Ok(())
        }
        PageCmd::Backlinks { page, json } => {
            let (mut space, id) = ctx.page(&page)?;
            let links = space.backlinks(&id)?;
            if json {
                print_json(&json!(
                    links
                        .iter()
                        .map(|b| json!({"id": b.page.id, "title": b.page.title, "path": b.page.path, "line": b.line}))
                        .collect::<Vec<_>>()
                ));
            } else {
                for b in &links {
                    println!("{}  [{}]  {}:{}", b.page.title, b.page.id, b.page.path, b.line);
                }
            }
            Ok(())
        }
        PageCmd::Children { page, json } => {
            let (mut space, id) = ctx.page(&page)?;
            let children = space.children(Some(&id))?;
            list(&children, json);
            Ok(())
        }
        PageCmd::Breadcrumbs { page, json } => {
            let (mut space, id) = ctx.page(&page)?;
            let crumbs = space.breadcrumbs(&id)?;
            list(&crumbs, json);
            Ok(())
        }
        PageCmd::Trash { key, json } => {
            let mut space = ctx.space(&key)?;
            let trash = space.trash()?;
            if json {
                print_json(&json!(trash.iter().map(|t| json!({"id": t.id, "title": t.title, "path": t.path, "deletedBy": t.author.name, "date": cdo_core::model::format_time(t.time, 0)})).collect::<Vec<_>>()));
            } else if trash.is_empty() {
                println!("The trash of {key} is empty.");
            } else {
                for t in &trash {
                    println!(
                        "{}  [{}]  deleted by {} on {}",
                        t.title,
                        t.id,
                        t.author.name,
                        cdo_core::model::format_time(t.time, 0)
                    );
                }
            }
            Ok(())
        }
    }
}

fn list(pages: &[cdo_core::model::PageSummary], json: bool) {
    if json {
        print_json(&output::summaries_json(pages));
    } else {
        for p in pages {
            println!("{}  [{}]", p.title, p.id);
        }
    }
}

fn templates(ctx: &Ctx, key: &str, json: bool) -> Result<()> {
    let space = ctx.space(key)?;
    let templates = space.templates()?;
    if json {
        let list: Vec<_> = templates
            .iter()
            .map(|t| match t {
                Ok(t) => json!({
                    "name": t.name,
                    "title": t.title,
                    "description": t.description,
                    "labels": t.labels,
                    "fields": t.fields.iter().map(|f| json!({"name": f.name, "type": f.kind.name(), "label": f.label, "required": f.required, "default": f.default, "options": f.options})).collect::<Vec<_>>(),
                }),
                Err(e) => json!({"error": e.to_string()}),
            })
            .collect();
        print_json(&json!(list));
        return Ok(());
    }
    for t in templates {
        match t {
            Ok(t) => {
                println!("{}  {}", t.name, t.description.unwrap_or_default());
                for f in &t.fields {
                    let required = if f.required { " (required)" } else { "" };
                    let options =
                        if f.options.is_empty() { String::new() } else { format!(": {}", f.options.join(" | ")) };
                    println!("    --field {}=...  {} [{}]{required}{options}", f.name, f.label, f.kind.name());
                }
            }
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    Ok(())
}
