//! The Confluence REST API v1, as Cloud (`/wiki/rest/api`) and Server/DC (`/rest/api`) serve it,
//! so existing clients work by changing the host: content (pages, comments, attachments),
//! children, history, labels, moves, spaces, and CQL search. Bodies are storage format on the
//! wire and Markdown on disk (`cdo-storage` converts both ways).

mod shape;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Multipart, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use cdo_core::{MoveTarget, NewComment, NewPage, NodeKind, PageId, PageUpdate, Space, SpaceError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{attachment_response, json_bytes, multipart_files, page_of};
use crate::auth::{Caller, Level};
use crate::error::{ApiError, ApiResult, json_body};
use crate::state::{AppState, Located, attachment_id};
use shape::{Base, Expand, SpaceLinks};

type St = State<Arc<AppState>>;
type Params = Query<HashMap<String, String>>;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/content", get(list_content).post(create_content))
        .route("/content/search", get(content_search))
        .route("/content/{id}", get(get_content).put(put_content).layer(upload_limit()).delete(delete_content))
        .route("/content/{id}/history", get(history))
        .route("/content/{id}/child", get(children_all))
        .route("/content/{id}/child/attachment", get(child_attachments).post(upload).put(upload).layer(upload_limit()))
        .route("/content/{id}/child/attachment/{att}/data", post(upload_data).layer(upload_limit()))
        .route("/content/{id}/child/attachment/{att}/download", get(download_by_id))
        .route("/content/{id}/child/{kind}", get(children))
        .route("/content/{id}/descendant/{kind}", get(children))
        .route("/content/{id}/label", get(labels).post(add_labels).delete(remove_label_query))
        .route("/content/{id}/label/{label}", axum::routing::delete(remove_label))
        .route("/content/{id}/move/{position}/{target}", put(move_content))
        .route("/space", get(spaces).post(create_space))
        .route("/space/{key}", get(get_space))
        .route("/space/{key}/content", get(space_content))
        .route("/search", get(search))
        .route("/user/current", get(current_user))
}

/// Uploads may be larger than JSON bodies.
pub(crate) fn upload_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(crate::MAX_UPLOAD_BYTES)
}

/// Attachment downloads, where `_links.download` points.
pub fn downloads() -> Router<Arc<AppState>> {
    Router::new()
        .route("/download/attachments/{page}/{name}", get(download))
        .route("/wiki/download/attachments/{page}/{name}", get(download))
}

fn base(headers: &HeaderMap, uri: &OriginalUri) -> Base {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8787");
    let context = if uri.path().starts_with("/wiki/") { "/wiki" } else { "" };
    Base { host: format!("http://{host}"), context: context.to_owned() }
}

fn paging(q: &HashMap<String, String>, default: usize) -> ApiResult<(usize, usize)> {
    let num = |name: &str, fallback: usize| -> ApiResult<usize> {
        match q.get(name) {
            None => Ok(fallback),
            Some(v) => v.parse().map_err(|_| ApiError::bad_request(format!("`{name}` must be a number, not `{v}`"))),
        }
    };
    Ok((num("start", 0)?, num("limit", default)?.clamp(1, 1000)))
}

fn parse_id(text: &str) -> ApiResult<PageId> {
    PageId::parse(text).ok_or_else(|| ApiError::not_found(format!("No content found with id: {text}")))
}

/// A page as Confluence content, with what `expand` asks for.
fn page_content(
    space: &mut Space,
    id: &PageId,
    version: Option<u32>,
    expand: &Expand,
    base: &Base,
) -> ApiResult<Value> {
    let key = space.info().key.as_str().to_owned();
    let page = match version {
        Some(n) => space.page_version(id, n)?,
        None => space.page(id)?,
    };
    let title = page.summary.title.clone();
    let versions = space.history(id)?;
    let current = version.unwrap_or(page.version).max(1);
    let this = versions.iter().find(|v| v.version == current).or(versions.last());
    let mut out = json!({
        "id": id.as_str(),
        "type": "page",
        "status": if version.is_some_and(|n| n < page.version.max(versions.len() as u32)) { "historical" } else { "current" },
        "title": title,
        "extensions": {"position": page.summary.position.unwrap_or(0)},
        "_links": {
            "webui": shape::webui(&key, id.as_str(), &title),
            "edit": format!("/pages/resumedraft.action?draftId={id}"),
            "tinyui": format!("/x/{id}"),
            "self": base.api(&format!("content/{id}")),
            "base": base.base(),
            "context": base.context,
        },
        "_expandable": {
            "space": format!("/rest/api/space/{key}"),
            "version": "", "ancestors": "", "body": "", "history": format!("/rest/api/content/{id}/history"),
            "children": format!("/rest/api/content/{id}/child"), "metadata": "",
        },
    });
    out["version"] = shape::version(this, current);
    if expand.has("space") {
        out["space"] = shape::space(space, base, false)?;
    }
    if expand.has("ancestors") {
        let crumbs = space.breadcrumbs(id)?;
        out["ancestors"] = Value::Array(
            crumbs
                .iter()
                .filter(|c| &c.id != id)
                .map(|c| {
                    json!({"id": c.id.as_str(), "type": "page", "status": "current", "title": c.title,
                           "_links": {"webui": shape::webui(&key, c.id.as_str(), &c.title), "self": base.api(&format!("content/{}", c.id))}})
                })
                .collect(),
        );
    }
    if expand.has("history") {
        out["history"] = history_json(&versions, base, id);
    }
    if expand.has("metadata") {
        let labels: Vec<Value> = page.summary.labels.iter().map(|l| shape::label(l)).collect();
        let n = labels.len();
        out["metadata"] = json!({"labels": {"results": labels, "start": 0, "limit": 200, "size": n}});
    }
    if expand.has("children") {
        let kids = space.children(Some(id))?;
        let pages: Vec<Value> = kids
            .iter()
            .filter(|k| k.kind == NodeKind::Page)
            .map(|k| json!({"id": k.id.as_str(), "type": "page", "status": "current", "title": k.title}))
            .collect();
        let n = pages.len();
        out["children"] = json!({"page": {"results": pages, "start": 0, "limit": 25.max(n), "size": n}});
    }
    if expand.has("body") {
        let mut body = json!({});
        if expand.has("body.storage") || expand.has("body.editor") || expand.has("body.export_view") {
            let file = page.summary.path.clone();
            let catalog = space.catalog()?;
            let links = SpaceLinks { catalog, key: key.clone(), from: file };
            let storage = cdo_storage::to_storage(&page.body, &shape::context(&links));
            body["storage"] = json!({"value": storage, "representation": "storage"});
        }
        if expand.has("body.view") || expand.has("body.styled_view") {
            let html = cdo_core::render::render(&page.body).html;
            body["view"] = json!({"value": html, "representation": "view"});
        }
        out["body"] = body;
    }
    Ok(out)
}

fn history_json(versions: &[cdo_core::VersionInfo], base: &Base, id: &PageId) -> Value {
    let first = versions.first();
    let last = versions.last();
    json!({
        "latest": true,
        "createdBy": first.map(|v| shape::user(&v.author)),
        "createdDate": first.map(|v| v.date()),
        "lastUpdated": shape::version(last, versions.len().max(1) as u32),
        "contributors": {"publishers": {"users": versions.iter().map(|v| v.author.email.clone())
            .collect::<std::collections::BTreeSet<_>>().into_iter().map(|e| json!({"accountId": e})).collect::<Vec<_>>()}},
        "_links": {"self": base.api(&format!("content/{id}/history"))},
    })
}

fn comment_content(space_key: &str, page: &PageId, page_title: &str, c: &cdo_core::Comment, base: &Base) -> Value {
    let author = cdo_core::Author::parse(&c.author)
        .unwrap_or(cdo_core::Author { name: c.author.clone(), email: c.author.clone() });
    let storage = cdo_storage::to_storage(&c.body, &cdo_storage::Context::standalone());
    let mut out = json!({
        "id": c.id.as_str(),
        "type": "comment",
        "status": "current",
        "title": format!("Re: {page_title}"),
        "container": {"id": page.as_str(), "type": "page", "title": page_title},
        "space": {"key": space_key},
        "version": {"number": 1, "when": c.created, "by": shape::user(&author), "minorEdit": false},
        "body": {"storage": {"value": storage, "representation": "storage"}},
        "extensions": {"location": if c.inline.is_some() { "inline" } else { "footer" }},
        "_links": {"webui": format!("{}?focusedCommentId={}", shape::webui(space_key, page.as_str(), page_title), c.id),
                   "self": base.api(&format!("content/{}", c.id))},
    });
    if let Some(parent) = &c.parent {
        out["ancestors"] = json!([{"id": parent.as_str(), "type": "comment"}]);
    }
    out
}

fn attachment_content(space: &mut Space, page: &PageId, att: &cdo_core::Attachment, base: &Base) -> ApiResult<Value> {
    let id = attachment_id(page, &att.name);
    let number = space.file_versions(&att.path)?;
    let title = space.summary(page)?.title;
    let encoded = crate::state::encode_component(&att.name);
    Ok(json!({
        "id": id,
        "type": "attachment",
        "status": "current",
        "title": att.name,
        "container": {"id": page.as_str(), "type": "page", "title": title},
        "version": {"number": number, "minorEdit": false},
        "metadata": {"mediaType": att.media_type, "comment": ""},
        "extensions": {"mediaType": att.media_type, "fileSize": att.size, "comment": ""},
        "_links": {
            "download": format!("{}/download/attachments/{page}/{encoded}?version={number}&api=v2", base.context),
            "webui": format!("/pages/viewpageattachments.action?pageId={page}"),
            "self": base.api(&format!("content/{id}")),
        },
    }))
}

// ---- reads ----

async fn get_content(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Response> {
    let base = base(&headers, &uri);
    let located = state.locate(&id).await?;
    match located {
        Located::Page { space, id: page } => {
            caller.require(&space, Level::Read)?;
            let handle = state.space(&space)?;
            let cache_key = format!("content\0{}\0{}", base.base(), uri.0);
            let generation = match state.cached(&handle, &cache_key) {
                Ok(body) => return Ok(json_bytes(body)),
                Err(g) => g,
            };
            let version = match q.get("version") {
                Some(v) => Some(v.parse::<u32>().map_err(|_| ApiError::bad_request("`version` must be a number"))?),
                None => None,
            };
            let expand = Expand::parse(q.get("expand").map(String::as_str));
            let value =
                state.with_space(&space, false, move |s| page_content(s, &page, version, &expand, &base)).await?;
            let body = Bytes::from(serde_json::to_vec(&value).map_err(|e| ApiError::internal(e.to_string()))?);
            state.cache(cache_key, generation, body.clone());
            Ok(json_bytes(body))
        }
        Located::Comment { space, page } => {
            caller.require(&space, Level::Read)?;
            let comment = parse_id(&id)?;
            let key = space.clone();
            let value = state
                .with_space(&space, false, move |s| {
                    let title = s.summary(&page)?.title;
                    let (_, c) = s.find_comment(&comment)?;
                    Ok(comment_content(&key, &page, &title, &c, &base))
                })
                .await?;
            Ok(Json(value).into_response())
        }
        Located::Attachment { space, page, name } => {
            caller.require(&space, Level::Read)?;

            let value = state
                .with_space(&space, false, move |s| {
                    let att = s
                        .attachments(&page)?
                        .into_iter()
                        .find(|a| a.name == name)
                        .ok_or_else(|| ApiError::not_found(format!("No content found with id: {id}")))?;
                    attachment_content(s, &page, &att, &base)
                })
                .await?;
            Ok(Json(value).into_response())
        }
    }
}

async fn history(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Json<Value>> {
    let base = base(&headers, &uri);
    let (space, page) = page_of(&state, &id).await?;
    caller.require(&space, Level::Read)?;
    let value = state
        .with_space(&space, false, move |s| {
            let versions = s.history(&page)?;
            Ok(history_json(&versions, &base, &page))
        })
        .await?;
    Ok(Json(value))
}

/// Pages of a space (or all readable spaces), by title when given.
async fn list_content(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Query(q): Params,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Json<Value>> {
    let base = base(&headers, &uri);
    let (start, limit) = paging(&q, 25)?;
    let expand = Expand::parse(q.get("expand").map(String::as_str));
    let kind = q.get("type").map(String::as_str).unwrap_or("page");
    let keys: Vec<String> = match q.get("spaceKey") {
        Some(key) => {
            caller.require(key, Level::Read)?;
            vec![key.to_ascii_uppercase()]
        }
        None => state.space_entries()?.into_iter().map(|e| e.key).filter(|k| caller.can(k, Level::Read)).collect(),
    };
    let mut results = Vec::new();
    let mut more = false;
    if kind == "page" {
        // The ids first (cheap), in space order then id order; content only for the page asked.
        let mut ids: Vec<(String, PageId)> = Vec::new();
        for key in keys {
            let title = q.get("title").cloned();
            let mut found = state
                .with_space(&key, false, move |s| {
                    Ok(match &title {
                        Some(t) => s
                            .find_title(t)?
                            .into_iter()
                            .filter(|p| p.kind == NodeKind::Page)
                            .map(|p| p.id)
                            .collect::<Vec<_>>(),
                        None => {
                            s.catalog()?.nodes().filter(|n| n.kind == NodeKind::Page).map(|n| n.id.clone()).collect()
                        }
                    })
                })
                .await?;
            found.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            ids.extend(found.into_iter().map(|id| (key.clone(), id)));
        }
        more = ids.len() > start + limit;
        for (key, id) in ids.into_iter().skip(start).take(limit) {
            let (b, e) = (base.clone(), expand.clone());
            results.push(state.with_space(&key, false, move |s| page_content(s, &id, None, &e, &b)).await?);
        }
    }
    let path = format!("content?{}", uri.query().unwrap_or(""));
    Ok(Json(shape::list(results, start, limit, more, &base, &path)))
}

async fn space_content(
    state: St,
    caller: Extension<Caller>,
    Path(key): Path<String>,
    Query(mut q): Params,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Json<Value>> {
    q.insert("spaceKey".into(), key);
    let page = list_content(state, caller, Query(q), headers, uri).await?;
    Ok(Json(json!({ "page": page.0, "blogpost": {"results": [], "start": 0, "limit": 25, "size": 0} })))
}

async fn children_all(
    state: St,
    caller: Extension<Caller>,
    Path(id): Path<String>,
    q: Params,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Json<Value>> {
    let pages = children(state, caller, Path((id, "page".to_owned())), q, headers, uri).await?;
    Ok(Json(json!({ "page": pages.0 })))
}

async fn children(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path((id, kind)): Path<(String, String)>,
    Query(q): Params,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Json<Value>> {
    let base = base(&headers, &uri);
    let (start, limit) = paging(&q, 25)?;
    let expand = Expand::parse(q.get("expand").map(String::as_str));
    let (space, page) = page_of(&state, &id).await?;
    caller.require(&space, Level::Read)?;
    let descendants = uri.path().contains("/descendant/");
    let key = space.clone();
    let b = base.clone();
    let all: Vec<Value> = state
        .with_space(&space, false, move |s| match kind.as_str() {
            "page" => {
                let ids: Vec<PageId> = if descendants {
                    s.catalog()?
                        .subtree(&page)
                        .iter()
                        .filter(|n| n.id != page && n.kind == NodeKind::Page)
                        .map(|n| n.id.clone())
                        .collect()
                } else {
                    s.children(Some(&page))?.into_iter().filter(|p| p.kind == NodeKind::Page).map(|p| p.id).collect()
                };
                ids.iter().skip(start).take(limit + 1).map(|id| page_content(s, id, None, &expand, &b)).collect()
            }
            "comment" => {
                let title = s.summary(&page)?.title;
                Ok(s.comments(&page)?
                    .iter()
                    .skip(start)
                    .take(limit + 1)
                    .map(|c| comment_content(&key, &page, &title, c, &b))
                    .collect())
            }
            "attachment" => {
                let wanted = q.get("filename").cloned();
                let atts: Vec<_> = s
                    .attachments(&page)?
                    .into_iter()
                    .filter(|a| wanted.as_ref().is_none_or(|w| *w == a.name))
                    .skip(start)
                    .take(limit + 1)
                    .collect();
                atts.iter().map(|a| attachment_content(s, &page, a, &b)).collect()
            }
            other => Err(ApiError::bad_request(format!("unknown child type `{other}`: page, comment or attachment"))),
        })
        .await?;
    let more = all.len() > limit;
    let results: Vec<Value> = all.into_iter().take(limit).collect();
    for r in &results {
        if let (Some(rid), Some("attachment")) = (r["id"].as_str(), r["type"].as_str())
            && let Some(name) = r["title"].as_str()
        {
            let page = parse_id(&id)?;
            state.remember(rid.to_owned(), Located::Attachment { space: space.clone(), page, name: name.to_owned() });
        }
    }
    let path = uri.path().split("/rest/api/").nth(1).unwrap_or("").to_owned();
    Ok(Json(shape::list(results, start, limit, more, &base, &path)))
}

// ---- writes ----

#[derive(Deserialize)]
struct Storage {
    value: String,
    #[serde(default = "storage_repr")]
    representation: String,
}

fn storage_repr() -> String {
    "storage".into()
}

#[derive(Deserialize, Default)]
struct BodyIn {
    storage: Option<Storage>,
    editor: Option<Storage>,
    wiki: Option<Storage>,
}

#[derive(Deserialize)]
struct Reference {
    id: Value,
}

#[derive(Deserialize)]
struct SpaceRef {
    key: String,
}

#[derive(Deserialize)]
struct VersionIn {
    number: u32,
}

#[derive(Deserialize)]
struct ContentIn {
    #[serde(rename = "type", default = "page_type")]
    kind: String,
    title: Option<String>,
    space: Option<SpaceRef>,
    #[serde(default)]
    ancestors: Vec<Reference>,
    #[serde(default)]
    body: Option<BodyIn>,
    version: Option<VersionIn>,
    container: Option<Reference>,
    status: Option<String>,
}

/// The parent named by a body's `ancestors` (the last one), which must be in `space`.
async fn parent_in(state: &Arc<AppState>, ancestors: &[Reference], space: &str) -> ApiResult<Option<PageId>> {
    let Some(last) = ancestors.last() else { return Ok(None) };
    let (parent_space, parent) = page_of(state, &id_text(&last.id)).await?;
    if !parent_space.eq_ignore_ascii_case(space) {
        return Err(ApiError::bad_request("the ancestor is in another space; pages cannot move across spaces yet"));
    }
    Ok(Some(parent))
}

fn page_type() -> String {
    "page".into()
}

fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The storage value of a body; other representations are refused with what to send instead.
fn storage_of(body: Option<&BodyIn>) -> ApiResult<Option<String>> {
    let Some(body) = body else { return Ok(None) };
    if let Some(s) = body.storage.as_ref().or(body.editor.as_ref()) {
        if s.representation != "storage" && s.representation != "editor" {
            return Err(ApiError::bad_request(format!(
                "body representation `{}` is not supported; send `storage`",
                s.representation
            )));
        }
        return Ok(Some(s.value.clone()));
    }
    if body.wiki.is_some() {
        return Err(ApiError::bad_request("wiki markup bodies are not supported; send `body.storage`"));
    }
    Ok(None)
}

/// Storage XHTML to Markdown for the page at `file`, and what was kept verbatim; malformed
/// XHTML is a 400 that says where.
fn markdown_of(space: &mut Space, file: &str, storage: &str) -> ApiResult<(String, Vec<String>)> {
    let key = space.info().key.as_str().to_owned();
    let catalog = space.catalog()?;
    let links = SpaceLinks { catalog, key, from: file.to_owned() };
    let converted = cdo_storage::to_markdown(storage, &shape::context(&links))
        .map_err(|e| ApiError::bad_request(format!("the storage-format body is not well-formed XHTML: {e}")))?;
    let kept = converted.losses.into_iter().map(|l| l.what).collect();
    Ok((converted.markdown, kept))
}

/// Tells the client what had no Markdown form and was kept verbatim (clients ignore the field;
/// people reading the response see it).
fn report_kept(value: &mut Value, kept: Vec<String>) {
    if !kept.is_empty() {
        value["extensions"]["keptVerbatim"] = json!(kept);
    }
}

async fn create_content(
    State(state): St,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    uri: OriginalUri,
    body: Bytes,
) -> ApiResult<Response> {
    let base = base(&headers, &uri);
    let input: ContentIn = json_body(&body)?;
    let storage = storage_of(input.body.as_ref())?;
    match input.kind.as_str() {
        "page" => {}
        "comment" => return create_comment(state, caller, base, input, storage).await,
        "blogpost" => return Err(ApiError::bad_request("blog posts are not supported yet; create a page")),
        other => return Err(ApiError::bad_request(format!("unknown content type `{other}`"))),
    }
    let Some(space) = input.space.as_ref().map(|s| s.key.clone()) else {
        return Err(ApiError::bad_request("a page needs `space.key`"));
    };
    let title = input
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("a page needs a `title`"))?;
    caller.require(&space, Level::Write)?;
    let parent = parent_in(&state, &input.ancestors, &space).await?;
    let author = caller.author.clone();
    let key = space.to_ascii_uppercase();
    let b = base.clone();
    let value = state
        .with_space(&space, true, move |s| {
            let dir = match &parent {
                Some(p) => format!("{}/", s.catalog()?.get(p).map(|n| n.stem.clone()).unwrap_or_default()),
                None => String::new(),
            };
            let file = format!("{dir}{}.md", cdo_core::slug::slugify(&title));
            let (markdown, kept) = match &storage {
                Some(st) => markdown_of(s, &file, st)?,
                None => (String::new(), Vec::new()),
            };
            let request = NewPage { title: Some(title), parent, body: markdown, ..Default::default() };
            let saved = s.create_page(&request, &author)?;
            let mut value = page_content(
                s,
                &saved.summary.id,
                None,
                &Expand::parse(Some("body.storage,version,space,ancestors")),
                &b,
            )?;
            report_kept(&mut value, kept);
            Ok(value)
        })
        .await?;
    if let Some(id) = value["id"].as_str() {
        state.remember(id.to_owned(), Located::Page { space: key, id: parse_id(id)? });
    }
    Ok(Json(value).into_response())
}

async fn create_comment(
    state: Arc<AppState>,
    caller: Caller,
    base: Base,
    input: ContentIn,
    storage: Option<String>,
) -> ApiResult<Response> {
    let container = input.container.as_ref().ok_or_else(|| ApiError::bad_request("a comment needs `container.id`"))?;
    let (space, page) = page_of(&state, &id_text(&container.id)).await?;
    caller.require(&space, Level::Write)?;
    let storage = storage.ok_or_else(|| ApiError::bad_request("a comment needs `body.storage`"))?;
    let markdown = cdo_storage::to_markdown(&storage, &cdo_storage::Context::standalone())
        .map_err(|e| ApiError::bad_request(format!("the storage-format body is not well-formed XHTML: {e}")))?
        .markdown;
    let parent = input.ancestors.last().map(|a| parse_id(&id_text(&a.id))).transpose()?;
    let author = caller.author.clone();
    let key = space.clone();
    let page_id = page.clone();
    let value = state
        .with_space(&space, true, move |s| {
            let comment = s.add_comment(&page_id, &NewComment { body: markdown, parent, inline: None }, &author)?;
            let title = s.summary(&page_id)?.title;
            Ok(comment_content(&key, &page_id, &title, &comment, &base))
        })
        .await?;
    if let Some(id) = value["id"].as_str() {
        state.remember(id.to_owned(), Located::Comment { space, page });
    }
    Ok(Json(value).into_response())
}

/// `PUT /content/{id}`: JSON updates a page; a multipart body replaces an attachment's data
/// (what atlassian-python-api sends to re-upload a file).
async fn put_content(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    uri: OriginalUri,
    request: axum::extract::Request,
) -> ApiResult<Response> {
    let headers = request.headers().clone();
    let multipart =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("multipart/"));
    if multipart {
        let base = base(&headers, &uri);
        let Located::Attachment { page, name, .. } = state.locate(&id).await? else {
            return Err(ApiError::bad_request(
                "a multipart PUT replaces an attachment's data; this id is not an attachment",
            ));
        };
        let multipart = <Multipart as axum::extract::FromRequest<()>>::from_request(request, &())
            .await
            .map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
        let value = replace_data(&state, &caller, &page, name, multipart, &base).await?;
        return Ok(Json(value).into_response());
    }
    let body = axum::body::to_bytes(request.into_body(), crate::MAX_JSON_BYTES).await.map_err(|e| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the JSON body is too large or broken: {e}"))
    })?;
    update_content(State(state), Extension(caller), Path(id), headers, uri, body).await
}

async fn update_content(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: OriginalUri,
    body: Bytes,
) -> ApiResult<Response> {
    let base = base(&headers, &uri);
    let input: ContentIn = json_body(&body)?;
    let located = state.locate(&id).await;
    let (space, page) = match located {
        Ok(Located::Page { space, id }) => (space, id),
        Ok(Located::Attachment { space, .. }) => {
            // Attachment properties (comment, media type) have nowhere to live on disk yet.
            caller.require(&space, Level::Write)?;
            let get =
                get_content(State(state), Extension(caller), Path(id), Query(HashMap::new()), headers, uri).await?;
            return Ok(get);
        }
        Ok(Located::Comment { .. }) => {
            return Err(ApiError::bad_request("comments cannot be edited yet; delete and add"));
        }
        Err(e) if input.status.as_deref() == Some("current") => {
            // Restoring a trashed page: PUT with status current.
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    caller.require(&space, Level::Write)?;
    let number = input
        .version
        .as_ref()
        .map(|v| v.number)
        .ok_or_else(|| ApiError::bad_request("an update needs `version.number`: the current version plus one"))?;
    let storage = storage_of(input.body.as_ref())?;
    let title = input.title.clone();
    // New ancestors move the page (as Confluence does on a PUT), within its space.
    let new_parent = parent_in(&state, &input.ancestors, &space).await?;
    let author = caller.author.clone();
    let b = base.clone();
    let result = state
        .with_space(&space, true, move |s| {
            let current = s.version_count(&page)?.max(1);
            if number != current + 1 {
                return Ok(Err(current));
            }
            if let Some(parent) = new_parent
                && s.summary(&page)?.parent.as_ref() != Some(&parent)
            {
                s.move_page(&page, &MoveTarget::Under(parent), None, &author)?;
            }
            let file = s.summary(&page)?.path;
            let (markdown, kept) = match storage.as_deref() {
                Some(st) => {
                    let (m, k) = markdown_of(s, &file, st)?;
                    (Some(m), k)
                }
                None => (None, Vec::new()),
            };
            let update = PageUpdate { title, body: markdown, labels: None, base_version: None, message: None };
            match s.update_page(&page, &update, &author) {
                Ok(_) => {}
                Err(SpaceError::Stale { current, .. }) => return Ok(Err(current)),
                Err(e) => return Err(e.into()),
            }
            let mut value =
                page_content(s, &page, None, &Expand::parse(Some("body.storage,version,space,ancestors")), &b)?;
            report_kept(&mut value, kept);
            Ok(Ok(value))
        })
        .await?;
    match result {
        Ok(value) => Ok(Json(value).into_response()),
        Err(current) => {
            Err(ApiError::conflict(format!("Version must be incremented on update. Current version is: {current}")))
        }
    }
}

async fn delete_content(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let author = caller.author.clone();
    match state.locate(&id).await? {
        Located::Page { space, id: page } => {
            caller.require(&space, Level::Write)?;
            state.with_space(&space, true, move |s| Ok(s.delete_page(&page, &author)?)).await?;
        }
        Located::Comment { space, page } => {
            caller.require(&space, Level::Write)?;
            let comment = parse_id(&id)?;
            state.with_space(&space, true, move |s| Ok(s.delete_comment(&page, &comment, &author)?)).await?;
        }
        Located::Attachment { space, page, name } => {
            caller.require(&space, Level::Write)?;
            state.with_space(&space, true, move |s| Ok(s.delete_attachment(&page, &name, &author)?)).await?;
        }
    }
    state.forget(&id);
    Ok(StatusCode::NO_CONTENT)
}

// ---- attachments ----

async fn child_attachments(
    state: St,
    caller: Extension<Caller>,
    Path(id): Path<String>,
    q: Params,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Json<Value>> {
    children(state, caller, Path((id, "attachment".to_owned())), q, headers, uri).await
}

async fn save_files(
    state: &Arc<AppState>,
    caller: &Caller,
    page_id: &str,
    files: Vec<(String, Bytes)>,
    base: &Base,
) -> ApiResult<Vec<Value>> {
    let (space, page) = page_of(state, page_id).await?;
    caller.require(&space, Level::Write)?;
    let author = caller.author.clone();

    let b = base.clone();
    let p = page.clone();
    let values = state
        .with_space(&space, true, move |s| {
            let mut out = Vec::new();
            for (name, bytes) in files {
                let att = s.put_attachment(&p, &name, bytes.to_vec(), &author)?;
                out.push(attachment_content(s, &p, &att, &b)?);
            }
            Ok(out)
        })
        .await?;
    for v in &values {
        if let (Some(id), Some(name)) = (v["id"].as_str(), v["title"].as_str()) {
            state.remember(
                id.to_owned(),
                Located::Attachment { space: space.clone(), page: page.clone(), name: name.to_owned() },
            );
        }
    }
    Ok(values)
}

async fn upload(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: OriginalUri,
    multipart: Multipart,
) -> ApiResult<Json<Value>> {
    let base = base(&headers, &uri);
    let files = multipart_files(multipart).await?;
    let values = save_files(&state, &caller, &id, files, &base).await?;
    let n = values.len();
    Ok(Json(shape::list(values, 0, n.max(1), false, &base, &format!("content/{id}/child/attachment"))))
}

async fn upload_data(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path((id, att)): Path<(String, String)>,
    headers: HeaderMap,
    uri: OriginalUri,
    multipart: Multipart,
) -> ApiResult<Json<Value>> {
    let base = base(&headers, &uri);
    let Located::Attachment { page, name, .. } = state.locate(&att).await? else {
        return Err(ApiError::not_found(format!("no attachment with id {att}")));
    };
    if page.as_str() != id {
        return Err(ApiError::not_found(format!("page {id} has no attachment {att}")));
    }
    Ok(Json(replace_data(&state, &caller, &page, name, multipart, &base).await?))
}

/// Replaces an attachment's data with the first file of a multipart body; the attachment keeps
/// its own name, whatever the upload was called.
async fn replace_data(
    state: &Arc<AppState>,
    caller: &Caller,
    page: &PageId,
    name: String,
    multipart: Multipart,
    base: &Base,
) -> ApiResult<Value> {
    let (_, bytes) =
        multipart_files(multipart).await?.into_iter().next().ok_or_else(|| ApiError::bad_request("no file"))?;
    let mut values = save_files(state, caller, page.as_str(), vec![(name, bytes)], base).await?;
    values.pop().ok_or_else(|| ApiError::internal("the upload saved nothing"))
}

async fn download(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path((page, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (space, page) = page_of(&state, &page).await?;
    caller.require(&space, Level::Read)?;
    attachment_response(&state, &space, page, name).await
}

async fn download_by_id(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path((_, att)): Path<(String, String)>,
) -> ApiResult<Response> {
    match state.locate(&att).await? {
        Located::Attachment { space, page, name } => {
            caller.require(&space, Level::Read)?;
            attachment_response(&state, &space, page, name).await
        }
        _ => Err(ApiError::not_found(format!("no attachment with id {att}"))),
    }
}

// ---- labels ----

async fn page_labels(state: &Arc<AppState>, space: &str, page: PageId) -> ApiResult<Vec<String>> {
    state.with_space(space, false, move |s| Ok(s.summary(&page)?.labels)).await
}

async fn labels(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Json<Value>> {
    let base = base(&headers, &uri);
    let (space, page) = page_of(&state, &id).await?;
    caller.require(&space, Level::Read)?;
    let names = page_labels(&state, &space, page).await?;
    let n = names.len();
    let results = names.iter().map(|l| shape::label(l)).collect();
    Ok(Json(shape::list(results, 0, n.max(200), false, &base, &format!("content/{id}/label"))))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LabelsIn {
    Many(Vec<LabelIn>),
    One(LabelIn),
}

#[derive(Deserialize)]
struct LabelIn {
    name: String,
}

async fn set_labels(
    state: &Arc<AppState>,
    caller: &Caller,
    id: &str,
    change: impl FnOnce(&mut Vec<String>) + Send + 'static,
) -> ApiResult<Vec<String>> {
    let (space, page) = page_of(state, id).await?;
    caller.require(&space, Level::Write)?;
    let author = caller.author.clone();
    state
        .with_space(&space, true, move |s| {
            let mut labels = s.summary(&page)?.labels;
            change(&mut labels);
            let update = PageUpdate { labels: Some(labels), ..Default::default() };
            Ok(s.update_page(&page, &update, &author)?.summary.labels)
        })
        .await
}

async fn add_labels(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: OriginalUri,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let base = base(&headers, &uri);
    let input: LabelsIn = json_body(&body)?;
    let new: Vec<String> = match input {
        LabelsIn::Many(list) => list.into_iter().map(|l| l.name).collect(),
        LabelsIn::One(l) => vec![l.name],
    };
    let names = set_labels(&state, &caller, &id, move |labels| {
        for name in new {
            if !labels.iter().any(|l| l.eq_ignore_ascii_case(&name)) {
                labels.push(name);
            }
        }
    })
    .await?;
    let n = names.len();
    Ok(Json(shape::list(
        names.iter().map(|l| shape::label(l)).collect(),
        0,
        n.max(200),
        false,
        &base,
        &format!("content/{id}/label"),
    )))
}

async fn remove_label(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path((id, label)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    set_labels(&state, &caller, &id, move |labels| labels.retain(|l| !l.eq_ignore_ascii_case(&label))).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_label_query(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Params,
) -> ApiResult<StatusCode> {
    let label = q.get("name").cloned().ok_or_else(|| ApiError::bad_request("give the label as `?name=`"))?;
    set_labels(&state, &caller, &id, move |labels| labels.retain(|l| !l.eq_ignore_ascii_case(&label))).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- moves ----

async fn move_content(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path((id, position, target)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let (space, page) = page_of(&state, &id).await?;
    let (target_space, target) = page_of(&state, &target).await?;
    if !space.eq_ignore_ascii_case(&target_space) {
        return Err(ApiError::bad_request("moving a page to another space is not supported yet"));
    }
    caller.require(&space, Level::Write)?;
    let author = caller.author.clone();
    let p = page.clone();
    state
        .with_space(&space, true, move |s| {
            let (dest, at) = match position.as_str() {
                "append" => (MoveTarget::Under(target.clone()), None),
                "before" | "after" => {
                    let parent = s.summary(&target)?.parent;
                    let siblings: Vec<PageId> =
                        s.children(parent.as_ref())?.into_iter().map(|c| c.id).filter(|c| *c != p).collect();
                    let index = siblings.iter().position(|c| *c == target).unwrap_or(siblings.len());
                    let at = if position == "after" { index + 1 } else { index };
                    (parent.map_or(MoveTarget::Root, MoveTarget::Under), Some(at))
                }
                other => {
                    return Err(ApiError::bad_request(format!("unknown position `{other}`: append, before or after")));
                }
            };
            s.move_page(&p, &dest, at, &author)?;
            Ok(())
        })
        .await?;
    Ok(Json(json!({ "pageId": id })))
}

// ---- spaces ----

async fn spaces(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Query(q): Params,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Json<Value>> {
    let base = base(&headers, &uri);
    let (start, limit) = paging(&q, 25)?;
    let wanted: Option<Vec<String>> =
        q.get("spaceKey").map(|k| k.split(',').map(|s| s.trim().to_ascii_uppercase()).collect());
    let keys: Vec<String> = state
        .space_entries()?
        .into_iter()
        .map(|e| e.key)
        .filter(|k| caller.can(k, Level::Read) && wanted.as_ref().is_none_or(|w| w.contains(k)))
        .collect();
    let more = keys.len() > start + limit;
    let mut results = Vec::new();
    for key in keys.into_iter().skip(start).take(limit) {
        let b = base.clone();
        results.push(state.with_space(&key, false, move |s| shape::space(s, &b, false)).await?);
    }
    Ok(Json(shape::list(results, start, limit, more, &base, "space")))
}

async fn get_space(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Json<Value>> {
    let base = base(&headers, &uri);
    caller.require(&key, Level::Read)?;
    let value = state.with_space(&key, false, move |s| shape::space(s, &base, true)).await?;
    Ok(Json(value))
}

#[derive(Deserialize)]
struct SpaceIn {
    key: String,
    name: String,
    description: Option<DescriptionIn>,
}

#[derive(Deserialize)]
struct DescriptionIn {
    plain: Option<PlainIn>,
}

#[derive(Deserialize)]
struct PlainIn {
    value: String,
}

async fn create_space(
    State(state): St,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    uri: OriginalUri,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let base = base(&headers, &uri);
    let input: SpaceIn = json_body(&body)?;
    if !caller.can_create_spaces() {
        caller.require("*", Level::Admin)?;
        return Err(ApiError::forbidden("only admins and users with write access to every space may create spaces"));
    }
    let description = input.description.and_then(|d| d.plain).map(|p| p.value).filter(|d| !d.trim().is_empty());
    let st = state.clone();
    let author = caller.author.clone();
    let entry = tokio::task::spawn_blocking(move || {
        st.wiki.create_space(&input.key, &input.name, description.as_deref(), None, &author)
    })
    .await??;
    state.forget_space(&entry.key);
    state.search_all_dirty()?;
    let value = state.with_space(&entry.key, false, move |s| shape::space(s, &base, true)).await?;
    Ok(Json(value))
}

async fn current_user(Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(shape::user(&caller.author))
}

// ---- search ----

/// One page of a CQL search over the spaces the caller may read, and the total.
async fn cql_hits(
    state: &Arc<AppState>,
    caller: &Caller,
    q: &HashMap<String, String>,
) -> ApiResult<(Vec<cdo_search::index::Hit>, usize, usize, usize, String)> {
    let cql = q
        .get("cql")
        .cloned()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("give a CQL query as `?cql=`"))?;
    let (start, limit) = paging(q, 25)?;
    let keys: Vec<String> = state.space_entries()?.into_iter().map(|e| e.key).collect();
    let readable: Vec<String> = keys.iter().filter(|k| caller.can(k, Level::Read)).cloned().collect();
    let spaces = (readable.len() < keys.len()).then_some(readable);
    let query = cql.clone();
    let (hits, total) = state
        .with_search(false, move |index, _| {
            let cx = cdo_search::cql::Context::default();
            Ok(index.cql_page(&query, &cx, spaces.as_deref(), start, limit)?)
        })
        .await?;
    Ok((hits, total, start, limit, cql))
}

async fn content_search(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Query(q): Params,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Json<Value>> {
    let base = base(&headers, &uri);
    let (hits, total, start, limit, _) = cql_hits(&state, &caller, &q).await?;
    let expand = Expand::parse(q.get("expand").map(String::as_str));
    let mut results = Vec::new();
    for hit in hits {
        let Some(id) = PageId::parse(&hit.id) else { continue };
        let (b, e) = (base.clone(), expand.clone());
        match state.with_space(&hit.space, false, move |s| page_content(s, &id, None, &e, &b)).await {
            Ok(v) => results.push(v),
            Err(e) if e.status == StatusCode::NOT_FOUND => {}
            Err(e) => return Err(e),
        }
    }
    let path = format!("content/search?{}", uri.query().unwrap_or(""));
    let mut out = shape::list(results, start, limit, total > start + limit, &base, &path);
    out["totalSize"] = json!(total);
    Ok(Json(out))
}

async fn search(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Query(q): Params,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Json<Value>> {
    let base = base(&headers, &uri);
    let started = std::time::Instant::now();
    let (hits, total, start, limit, cql) = cql_hits(&state, &caller, &q).await?;
    let results: Vec<Value> = hits
        .iter()
        .map(|h| {
            let webui = shape::webui(&h.space, &h.id, &h.title);
            let modified = cdo_core::model::format_time(h.updated, 0);
            let mut excerpt = h.snippet.text.clone();
            // Confluence marks matches with @@@hl@@@ ... @@@endhl@@@.
            for &(a, b) in h.snippet.highlights.iter().rev() {
                if excerpt.is_char_boundary(a) && excerpt.is_char_boundary(b) && a <= b && b <= excerpt.len() {
                    excerpt.insert_str(b, "@@@endhl@@@");
                    excerpt.insert_str(a, "@@@hl@@@");
                }
            }
            json!({
                "content": {"id": h.id, "type": "page", "status": "current", "title": h.title,
                            "space": {"key": h.space},
                            "_links": {"webui": webui, "self": base.api(&format!("content/{}", h.id))}},
                "title": h.title,
                "excerpt": excerpt,
                "url": if h.snippet.anchor.is_empty() { webui.clone() } else { format!("{webui}#{}", h.snippet.anchor) },
                "resultGlobalContainer": {"title": h.space, "displayUrl": format!("/spaces/{}", h.space)},
                "entityType": "content",
                "iconCssClass": "aui-icon content-type-page",
                "lastModified": modified,
                "friendlyLastModified": modified,
                "score": h.score,
            })
        })
        .collect();
    let path = format!("search?{}", uri.query().unwrap_or(""));
    let mut out = shape::list(results, start, limit, total > start + limit, &base, &path);
    out["totalSize"] = json!(total);
    out["cqlQuery"] = json!(cql);
    out["searchDuration"] = json!(started.elapsed().as_millis() as u64);
    Ok(Json(out))
}
