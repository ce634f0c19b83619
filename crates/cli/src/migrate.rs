//! `migrate` (a Confluence site over its REST API) and `import` (an export zip): read the space,
//! write it into the home's `spaces/KEY` with its history, register it, map its permissions
//! onto the team server's users, and print the loss report's summary.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use cdo_app::Wiki;
use cdo_core::model::Author;
use cdo_migrate::model::SpaceData;
use cdo_migrate::rest::{Auth, Fetch, Site};
use cdo_migrate::{Options, Report};
use serde_json::{Value, json};

use crate::output::{Bar, print_json};

pub struct Migrate {
    pub url: String,
    pub email: Option<String>,
    pub token: String,
    pub spaces: Vec<String>,
    pub history: bool,
    pub jira_url: Option<String>,
    pub json: bool,
}

pub fn migrate(wiki: &Wiki, author: &Author, m: Migrate) -> Result<()> {
    let auth = match m.email.filter(|e| !e.trim().is_empty()) {
        Some(user) => Auth::Basic { user, token: m.token },
        None => Auth::Bearer(m.token),
    };
    let host: String = m
        .url
        .split("://")
        .nth(1)
        .unwrap_or(&m.url)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' })
        .collect();
    let staging = wiki.home().dir().join("cache").join("migrate").join(host.trim_matches('-'));
    let site = Site::connect(&m.url, auth, &staging, Fetch { history: m.history, ..Fetch::default() })?;
    // On Atlassian Cloud, Jira lives on the same site.
    let jira = m.jira_url.clone().or_else(|| {
        let origin = m.url.split('/').take(3).collect::<Vec<_>>().join("/");
        origin.ends_with(".atlassian.net").then_some(origin)
    });
    let keys: Vec<String> = if m.spaces.is_empty() {
        site.spaces()?.into_iter().map(|(k, _)| k).collect()
    } else {
        m.spaces.iter().map(|k| k.trim().to_ascii_uppercase()).collect()
    };
    if keys.is_empty() {
        bail!("the account sees no spaces on {}; check that it may read the spaces to migrate", m.url);
    }
    // Every space first, so links between them become links between their folders.
    let mut all = Vec::new();
    for key in keys {
        let mut bar = Bar::new();
        let data = site
            .read_space(&key, &mut |p| bar.show(&format!("fetching {key}"), p.done, p.total, "pages"))
            .with_context(|| format!("reading space {key} from {}", m.url))?;
        all.push(data);
    }
    let mut neighbours = registered_neighbours(wiki)?;
    for data in &all {
        let plan = cdo_migrate::plan::Plan::new(data, None);
        neighbours.insert(data.key.to_ascii_uppercase(), plan.as_neighbour(&data.key));
    }
    let mut out = Vec::new();
    for data in all {
        out.push(land(wiki, author, data, m.history, jira.clone(), &neighbours, m.json)?);
    }
    if m.json {
        print_json(&json!({ "spaces": out }));
    }
    Ok(())
}

pub fn import(
    wiki: &Wiki,
    author: &Author,
    path: &Path,
    key: Option<&str>,
    history: bool,
    jira: Option<String>,
    json: bool,
) -> Result<()> {
    if !path.exists() {
        bail!("{} does not exist; pass the export zip Confluence made (Space settings > Export space)", path.display());
    }
    let mut data = if cdo_migrate::xml_export::is_xml_export(path) {
        cdo_migrate::xml_export::read(path, key)?
    } else if cdo_migrate::html_export::is_html_export(path) {
        cdo_migrate::html_export::read(path)?
    } else {
        bail!(
            "{} is neither a Confluence XML export (with entities.xml) nor an HTML export (with index.html)",
            path.display()
        );
    };
    if let Some(key) = key {
        data.key = key.trim().to_ascii_uppercase();
    }
    if data.key.is_empty() {
        bail!("the export names no space key; pass --key KEY");
    }
    let neighbours = registered_neighbours(wiki)?;
    let summary = land(wiki, author, data, history, jira, &neighbours, json)?;
    if json {
        print_json(&summary);
    }
    Ok(())
}

/// Writes a space into the home and registers it; the report's summary as JSON.
fn land(
    wiki: &Wiki,
    author: &Author,
    data: SpaceData,
    history: bool,
    jira: Option<String>,
    neighbours: &Neighbours,
    json: bool,
) -> Result<Value> {
    let key = data.key.clone();
    let target = wiki.home().spaces_dir().join(&key);
    let registered = wiki.spaces()?.into_iter().find(|s| s.key.eq_ignore_ascii_case(&key));
    if let Some(existing) = &registered {
        let same = std::fs::canonicalize(&existing.path).ok() == std::fs::canonicalize(&target).ok();
        if !same {
            bail!(
                "space {key} already exists at {}; import under another key (--key) or remove it first (space remove {key})",
                existing.path.display()
            );
        }
    }
    let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
    let mut neighbours = neighbours.clone();
    neighbours.remove(&key.to_ascii_uppercase());
    let options = Options { history, migrator: author.clone(), threads, jira, batch: Options::BATCH, neighbours };
    let mut bar = Bar::new();
    let report = cdo_migrate::write_space(&target, &data, &options, &mut |p| {
        let unit = if p.phase == "committing" { "commits" } else { "versions" };
        bar.show(&format!("{} {key}", p.phase), p.done, p.total, unit);
    })
    .with_context(|| format!("writing space {key} into {}", target.display()))?;
    if registered.is_none() {
        wiki.add_space(&target, Some(&key), None, author)?;
    }
    let permissions = map_permissions(wiki, &data)?;
    if !json {
        println!("{}", report.summary());
        if let Some(line) = &permissions {
            println!("{line}");
        }
        println!("space {key} is at {}; the report is the page \"Confluence migration report\"", target.display());
    }
    Ok(summary_json(&report, &target, permissions))
}

type Neighbours = std::collections::HashMap<String, cdo_migrate::plan::Neighbour>;

/// The registered spaces in the home's spaces folder (beside where migrated spaces go), with
/// their pages' titles and paths.
fn registered_neighbours(wiki: &Wiki) -> Result<Neighbours> {
    let spaces_dir = std::fs::canonicalize(wiki.home().spaces_dir()).ok();
    let mut out = Neighbours::new();
    for entry in wiki.spaces()? {
        let parent = std::fs::canonicalize(&entry.path).ok().and_then(|p| p.parent().map(Path::to_path_buf));
        if parent.is_none() || parent != spaces_dir {
            continue;
        }
        let Some(folder) = entry.path.file_name().map(|f| f.to_string_lossy().into_owned()) else { continue };
        let Ok(mut space) = wiki.open_space(&entry.key) else { continue };
        let Ok(catalog) = space.catalog() else { continue };
        let titles =
            catalog.nodes().filter_map(|n| n.file.as_ref().map(|f| (n.title.to_lowercase(), f.clone()))).collect();
        out.insert(entry.key.to_ascii_uppercase(), cdo_migrate::plan::Neighbour { folder, titles });
    }
    Ok(out)
}

/// Grants the team server's users what they had in Confluence (matched by e-mail address).
fn map_permissions(wiki: &Wiki, data: &SpaceData) -> Result<Option<String>> {
    if data.permissions.is_empty() || !wiki.home().dir().join("server.sqlite").exists() {
        return Ok(None);
    }
    let auth = cdo_server::auth::Auth::open(wiki.home().dir())?;
    let mut levels: std::collections::BTreeMap<String, cdo_server::auth::Level> = std::collections::BTreeMap::new();
    let mut unknown = std::collections::BTreeSet::new();
    for p in &data.permissions {
        let Some(email) = p.user.email.clone() else { continue };
        let level = match p.operation.to_ascii_lowercase().as_str() {
            "read" | "viewspace" => cdo_server::auth::Level::Read,
            "administer" | "setspacepermissions" => cdo_server::auth::Level::Admin,
            "create" | "update" | "delete" | "editspace" | "createedit" | "removepage" | "comment" => {
                cdo_server::auth::Level::Write
            }
            _ => continue,
        };
        if auth.user(&email)?.is_none() {
            unknown.insert(email);
            continue;
        }
        let entry = levels.entry(email).or_insert(level);
        if level > *entry {
            *entry = level;
        }
    }
    for (email, level) in &levels {
        auth.grant(email, &data.key, Some(*level))?;
    }
    Ok(Some(format!(
        "permissions: {} users of this server granted what they had in Confluence; {} people are not users here",
        levels.len(),
        unknown.len()
    )))
}

fn summary_json(report: &Report, path: &Path, permissions: Option<String>) -> Value {
    json!({
        "key": report.key,
        "path": path,
        "pages": report.page_count,
        "blog_posts": report.blog_count,
        "versions": report.versions,
        "attachments": report.attachments,
        "comments": report.comments,
        "pages_with_losses": report.pages_with_losses(),
        "losses": report.by_kind(),
        "failures": report.failures,
        "permissions": permissions,
    })
}
