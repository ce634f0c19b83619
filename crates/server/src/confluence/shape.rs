//! Confluence's JSON shapes: content (pages, comments, attachments), spaces, users, labels,
//! lists with `results`/`start`/`limit`/`size` and `_links`. Built from core's plain data.

use std::collections::BTreeSet;

use cdo_core::catalog::{Catalog, last_component};
use cdo_core::links::{self, Target};
use cdo_core::{Author, PageId, Space, VersionInfo};
use cdo_storage::{Context, Links};
use serde_json::{Value, json};

use crate::error::ApiResult;

/// Where the API was reached: `http://host:port` and the context (`/wiki` for the Cloud paths).
#[derive(Clone, Debug)]
pub struct Base {
    pub host: String,
    pub context: String,
}

impl Base {
    /// `_links.base`.
    pub fn base(&self) -> String {
        format!("{}{}", self.host, self.context)
    }

    /// The API path of something: `/rest/api/content/1` (under the context).
    pub fn api(&self, path: &str) -> String {
        format!("{}/rest/api/{path}", self.base())
    }
}

/// What `expand` asked for.
#[derive(Clone, Debug, Default)]
pub struct Expand(BTreeSet<String>);

impl Expand {
    pub fn parse(text: Option<&str>) -> Expand {
        let mut set = BTreeSet::new();
        for part in text.unwrap_or("").split(',').map(str::trim).filter(|p| !p.is_empty()) {
            // `body.storage` implies `body`, `children.page` implies `children`.
            let mut prefix = String::new();
            for piece in part.split('.') {
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(piece);
                set.insert(prefix.clone());
            }
        }
        Expand(set)
    }

    pub fn has(&self, what: &str) -> bool {
        self.0.contains(what)
    }
}

/// A user as Confluence shows one.
pub fn user(author: &Author) -> Value {
    json!({
        "type": "known",
        "accountId": author.email,
        "accountType": "atlassian",
        "email": author.email,
        "publicName": author.name,
        "displayName": author.name,
        "username": author.email,
        "userKey": author.email,
    })
}

/// A label.
pub fn label(name: &str) -> Value {
    json!({ "prefix": "global", "name": name, "id": numeric_id(name).to_string(), "label": name })
}

/// A stable number for things Confluence gives numeric ids (spaces, labels).
pub fn numeric_id(text: &str) -> u64 {
    crate::state::stable_hash(text) % 1_000_000_000
}

/// A list: `results`, `start`, `limit`, `size` and `_links` (with `next` when there is more).
pub fn list(results: Vec<Value>, start: usize, limit: usize, more: bool, base: &Base, path: &str) -> Value {
    let size = results.len();
    let mut links = json!({ "base": base.base(), "context": base.context, "self": base.api(path) });
    if more {
        // The same query with the paging parameters replaced.
        let (route, query) = path.split_once('?').unwrap_or((path, ""));
        let mut params: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("start=") && !p.starts_with("limit="))
            .collect();
        let paging = format!("start={}&limit={limit}", start + size);
        params.push(&paging);
        links["next"] = json!(format!("{}/rest/api/{route}?{}", base.context, params.join("&")));
    }
    json!({ "results": results, "start": start, "limit": limit, "size": size, "_links": links })
}

/// The version object of a page version.
pub fn version(v: Option<&VersionInfo>, number: u32) -> Value {
    match v {
        Some(v) => json!({
            "by": user(&v.author),
            "when": v.date(),
            "friendlyWhen": v.date(),
            "message": v.message,
            "number": number,
            "minorEdit": false,
        }),
        None => json!({ "number": number, "minorEdit": false, "message": "" }),
    }
}

/// Space summary.
pub fn space(space: &mut Space, base: &Base, with_homepage: bool) -> ApiResult<Value> {
    let info = space.info().clone();
    let key = info.key.as_str().to_owned();
    let mut out = json!({
        "id": numeric_id(&key),
        "key": key,
        "name": info.name,
        "type": "global",
        "status": "current",
        "description": {"plain": {"value": info.description.clone().unwrap_or_default(), "representation": "plain"}},
        "_links": {"webui": format!("/spaces/{key}"), "self": base.api(&format!("space/{key}")),
                   "base": base.base(), "context": base.context},
        "_expandable": {"homepage": format!("/rest/api/content/{}", info.homepage.as_ref().map(PageId::as_str).unwrap_or(""))},
    });
    if with_homepage {
        let home = match info.homepage.clone() {
            Some(id) if space.contains(&id)? => Some(id),
            _ => space.children(None)?.into_iter().find(|p| p.kind == cdo_core::NodeKind::Page).map(|p| p.id),
        };
        if let Some(id) = home {
            let summary = space.summary(&id)?;
            out["homepage"] = json!({
                "id": id.as_str(), "type": "page", "status": "current", "title": summary.title,
                "_links": {"webui": webui(&key, id.as_str(), &summary.title), "self": base.api(&format!("content/{id}"))},
            });
        }
    }
    Ok(out)
}

/// The page's address in the web UI.
pub fn webui(space: &str, id: &str, title: &str) -> String {
    let title: String =
        title.chars().map(|c| if c.is_alphanumeric() || c == '-' { c.to_string() } else { "+".to_owned() }).collect();
    format!("/spaces/{space}/pages/{id}/{title}")
}

/// Links between pages of one space, for the storage converter, seen from the page at `from`.
pub struct SpaceLinks<'a> {
    pub catalog: &'a Catalog,
    pub key: String,
    /// The page's file (or where it will be), relative to the space root.
    pub from: String,
}

impl Links for SpaceLinks<'_> {
    fn page_path(&self, space: Option<&str>, title: &str) -> Option<String> {
        if space.is_some_and(|s| !s.eq_ignore_ascii_case(&self.key)) {
            return None;
        }
        let node = self.catalog.find_title(title).into_iter().find(|n| n.file.is_some())?;
        Some(links::relative(&self.from, node.file.as_deref()?))
    }

    fn page_of(&self, href: &str) -> Option<(Option<String>, String)> {
        match links::resolve_url(href, &self.from) {
            Target::Path { path, .. } => {
                let stem = cdo_core::catalog::stem_of(&path);
                self.catalog.by_stem(stem).map(|n| (None, n.title.clone()))
            }
            _ => None,
        }
    }
}

/// The conversion context for a page at `file` (its attachments sit beside it).
pub fn context<'a>(links: &'a SpaceLinks<'a>) -> Context<'a> {
    let stem = cdo_core::catalog::stem_of(&links.from);
    Context { attachments: format!("{}.attachments", last_component(stem)), links }
}
