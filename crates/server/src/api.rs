//! The web UI's API under `/api/v1`: spaces, the tree, pages (Markdown, rendered HTML and
//! metadata), writes that carry the version they were based on (409 with the current version
//! when stale), history and diffs, templates, labels, backlinks, search, related pages,
//! attachments, and the session login.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Extension, Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cdo_core::{MoveTarget, NewPage, PageId, PageUpdate, Space, SpaceError};
use cdo_search::index::Mode;
use cdo_search::query::UserQuery;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SESSION_COOKIE;
use crate::auth::{Caller, Level};
use crate::error::{ApiError, ApiResult, json_body};
use crate::events::ChangeEvent;
use crate::state::{AppState, Located};

type St = State<Arc<AppState>>;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/spaces", get(spaces).post(create_space))
        .route("/demo", post(install_demo))
        .route("/spaces/{key}/tree", get(tree))
        .route("/spaces/{key}/pages", post(create_page))
        .route("/spaces/{key}/drafts", post(draft))
        .route("/spaces/{key}/templates", get(templates))
        .route("/spaces/{key}/labels", get(labels))
        .route("/spaces/{key}/sync", get(sync_status).post(sync_now))
        .route("/events", get(crate::events::stream))
        .route("/spaces/{key}/team-server", get(team_server).put(join_team_server).delete(leave_team_server))
        .route("/spaces/{key}/webhooks", get(webhooks).post(add_webhook))
        .route("/spaces/{key}/webhooks/{id}", axum::routing::delete(remove_webhook))
        .route("/pages/{id}", get(page).put(update_page).delete(delete_page))
        .route("/pages/{id}/move", post(move_page))
        .route("/pages/{id}/restore", post(restore_page))
        .route("/pages/{id}/settle", post(settle_page))
        .route("/pages/{id}/history", get(history))
        .route("/pages/{id}/diff", get(diff))
        .route("/pages/{id}/backlinks", get(backlinks))
        .route("/pages/{id}/related", get(related))
        .route("/pages/{id}/freshness", get(page_freshness))
        .route("/spaces/{key}/freshness", get(space_freshness))
        .route("/pages/{id}/attachments", get(attachments).post(upload).layer(crate::confluence::upload_limit()))
        .route("/pages/{id}/attachments/{name}", get(download).delete(delete_attachment))
        .route("/search", get(search))
        .route("/search/status", get(search_status))
        .route("/ask", get(ask))
        .route("/ask/stream", get(ask_stream))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
}

/// The space and id of a page id, or 404.
pub(crate) async fn page_of(state: &Arc<AppState>, id: &str) -> ApiResult<(String, PageId)> {
    match state.locate(id).await? {
        Located::Page { space, id } => Ok((space, id)),
        _ => Err(ApiError::not_found(format!("no page with id {id}"))),
    }
}

async fn spaces(State(state): St, Extension(caller): Extension<Caller>) -> ApiResult<Json<Value>> {
    let list: Vec<Value> = state
        .space_entries()?
        .into_iter()
        .filter(|e| caller.can(&e.key, Level::Read))
        .map(|e| json!({"key": e.key, "name": e.name, "description": e.description}))
        .collect();
    Ok(Json(json!({ "spaces": list })))
}

#[derive(Deserialize)]
struct NewSpace {
    key: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
}

async fn create_space(State(state): St, Extension(caller): Extension<Caller>, body: Bytes) -> ApiResult<Response> {
    let new: NewSpace = json_body(&body)?;
    if !caller.can_create_spaces() {
        return Err(caller.require("*", Level::Admin).err().unwrap_or_else(|| ApiError::forbidden("admins only")));
    }
    let st = state.clone();
    let entry = tokio::task::spawn_blocking(move || {
        st.wiki.create_space(&new.key, &new.name, new.description.as_deref(), None, &caller.author)
    })
    .await??;
    state.forget_space(&entry.key);
    state.search_all_dirty()?;
    Ok((StatusCode::CREATED, Json(json!({"key": entry.key, "name": entry.name, "description": entry.description})))
        .into_response())
}

/// Adds the built-in demo space (the first-run screen offers it); already there, it is returned.
async fn install_demo(State(state): St, Extension(caller): Extension<Caller>) -> ApiResult<Response> {
    if !caller.can_create_spaces() {
        return Err(caller.require("*", Level::Admin).err().unwrap_or_else(|| ApiError::forbidden("admins only")));
    }
    let st = state.clone();
    let entry = tokio::task::spawn_blocking(move || cdo_app::demo::install(&st.wiki)).await??;
    state.forget_space(&entry.key);
    state.search_all_dirty()?;
    Ok((StatusCode::CREATED, Json(json!({"key": entry.key, "name": entry.name, "description": entry.description})))
        .into_response())
}

async fn tree(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&key, Level::Read)?;
    let tree = state.with_space(&key, false, |s| Ok(s.tree()?)).await?;
    Ok(Json(json!({ "space": key.to_ascii_uppercase(), "tree": tree })))
}

/// Everything the page view shows.
fn page_json(space: &mut Space, id: &PageId) -> ApiResult<Value> {
    let page = space.page(id)?;
    let rendered = space.render(id)?;
    let versions = space.history(id)?;
    let latest = versions.last();
    let breadcrumbs = space.breadcrumbs(id)?;
    let headings: Vec<Value> =
        rendered.headings.iter().map(|h| json!({"level": h.level, "text": h.text, "anchor": h.anchor})).collect();
    // Link destinations as written, with the page each reaches: the UI follows them by id.
    let links: serde_json::Map<String, Value> =
        space.page_links(id)?.into_iter().map(|(url, page)| (url, json!(page))).collect();
    Ok(json!({
        "id": page.summary.id,
        "space": space.info().key.as_str(),
        "title": page.summary.title,
        "path": page.summary.path,
        "parent": page.summary.parent,
        "labels": page.summary.labels,
        "version": page.version,
        "markdown": page.body,
        "html": rendered.html,
        "headings": headings,
        "links": links,
        "breadcrumbs": breadcrumbs.iter().map(|b| json!({"id": b.id, "title": b.title})).collect::<Vec<_>>(),
        "fields": page.fields.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
        "diagnostics": page.diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "lastEditor": latest.map(|v| json!({"name": v.author.name, "email": v.author.email})),
        "updated": latest.map(|v| v.date()),
        "created": versions.first().map(|v| v.date()),
    }))
}

async fn page(State(state): St, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> ApiResult<Response> {
    let (key, id) = page_of(&state, &id).await?;
    caller.require(&key, Level::Read)?;
    let handle = state.space(&key)?;
    let cache_key = format!("ui-page\0{id}");
    let generation = match state.cached(&handle, &cache_key) {
        Ok(body) => return Ok(json_bytes(body)),
        Err(generation) => generation,
    };
    let value = state.with_space(&key, false, move |s| page_json(s, &id)).await?;
    let body = Bytes::from(serde_json::to_vec(&value).map_err(|e| ApiError::internal(e.to_string()))?);
    state.cache(cache_key, generation, body.clone());
    Ok(json_bytes(body))
}

pub(crate) fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PageInput {
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    #[serde(default)]
    position: Option<usize>,
    #[serde(default)]
    base_version: Option<u32>,
}

/// What to draft: `notes` (from `transcript`), `page` (from `template` and `context`), `docs` (of
/// `path` in the space's code repository, in `style`).
#[derive(Deserialize)]
struct DraftInput {
    kind: String,
    #[serde(default)]
    transcript: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    context: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    style: Option<String>,
    #[serde(default)]
    date: Option<String>,
}

/// A draft for the editor: nothing is written to the space (the user publishes it).
async fn draft(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    caller.require(&key, Level::Write)?;
    let input: DraftInput = json_body(&body)?;
    let key = state.space(&key)?.key.clone();
    let author = caller.author.name.clone();
    let st = state.clone();
    let draft = tokio::task::spawn_blocking(move || -> ApiResult<cdo_ai::generate::Draft> {
        let model = st.llm.as_deref();
        let today = jiff::ZonedDateTime::now().date().to_string();
        let bad = |e: cdo_ai::generate::GenerateError| ApiError::bad_request(e.to_string());
        match input.kind.as_str() {
            "notes" => {
                cdo_ai::generate::meeting_notes(&input.transcript, input.date.as_deref().unwrap_or(&today), model)
                    .map_err(bad)
            }
            "page" => {
                let template = st.wiki.open_space(&key)?.template(&input.template)?;
                cdo_ai::generate::from_template(&template, &input.context, &today, &author, model).map_err(bad)
            }
            "docs" => {
                let Some(code) = st.code(&key)? else {
                    return Err(ApiError::bad_request(format!(
                        "space {key} has no code repository; register one with `confluence-do space code {key} DIR`"
                    )));
                };
                cdo_ai::generate::docs(&code, &input.path, input.style.as_deref().unwrap_or("reference"), model)
                    .map_err(bad)
            }
            other => Err(ApiError::bad_request(format!("no draft of kind `{other}`; use notes, page or docs"))),
        }
    })
    .await??;
    Ok(Json(json!(draft)))
}

fn parse_id(text: &str) -> ApiResult<PageId> {
    PageId::parse(text).ok_or_else(|| ApiError::bad_request(format!("`{text}` is not a page id")))
}

async fn create_page(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require(&key, Level::Write)?;
    let input: PageInput = json_body(&body)?;
    let parent = input.parent.as_deref().map(parse_id).transpose()?;
    let request = NewPage {
        title: input.title,
        parent,
        labels: input.labels.unwrap_or_default(),
        body: input.body.unwrap_or_default(),
        template: input.template,
        fields: input.fields,
        position: input.position,
    };
    let author = caller.author.clone();
    let space_key = key.to_ascii_uppercase();
    let value = state
        .with_space(&key, true, move |s| {
            let saved = s.create_page(&request, &author)?;
            page_json(s, &saved.summary.id)
        })
        .await?;
    if let Some(id) = value["id"].as_str() {
        let mut event = ChangeEvent::new("page.created", &space_key, Some(id.to_owned()), Some(&caller.author));
        event.title = value["title"].as_str().map(str::to_owned);
        state.emit(event);
        state.remember(id.to_owned(), Located::Page { space: space_key, id: parse_id(id)? });
    }
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

async fn update_page(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let (key, id) = page_of(&state, &id).await?;
    caller.require(&key, Level::Write)?;
    let input: PageInput = json_body(&body)?;
    let Some(base) = input.base_version else {
        return Err(ApiError::bad_request(
            "an update needs `baseVersion`, the version it was based on, so a newer change is never overwritten",
        ));
    };
    let update = PageUpdate {
        title: input.title,
        body: input.body,
        labels: input.labels,
        base_version: Some(base),
        message: None,
    };
    let author = caller.author.clone();
    let live_id = id.to_string();
    let result = state
        .with_space(&key, true, move |s| match s.update_page(&id, &update, &author) {
            Ok(_) => Ok(Ok(page_json(s, &id)?)),
            Err(SpaceError::Stale { current, .. }) => Ok(Err((current, page_json(s, &id)?))),
            Err(e) => Err(e.into()),
        })
        .await?;
    match result {
        Ok(value) => {
            state.live.poke(&live_id);
            state.emit(ChangeEvent::new("page.updated", &key, Some(live_id), Some(&caller.author)));
            Ok(Json(value))
        }
        Err((current, page)) => {
            let by = page["lastEditor"]["name"].as_str().unwrap_or("someone").to_owned();
            Err(ApiError::conflict(format!(
                "the page changed since version {base}: {by} saved version {current}; merge your edit into it and save again"
            ))
            .with_data(json!({ "currentVersion": current, "current": page })))
        }
    }
}

/// The space's git sync: last result, commits waiting to be pushed, pages with conflicts.
async fn sync_status(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = key.to_ascii_uppercase();
    caller.require(&key, Level::Read)?;
    let st = state.clone();
    Ok(Json(tokio::task::spawn_blocking(move || crate::gitsync::status(&st, &key)).await??))
}

/// Syncs the space with its git remote now; answers the new state.
async fn sync_now(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = key.to_ascii_uppercase();
    caller.require(&key, Level::Write)?;
    let st = state.clone();
    let value = tokio::task::spawn_blocking(move || {
        crate::gitsync::sync_space(&st, &key)?;
        crate::gitsync::status(&st, &key)
    })
    .await??;
    Ok(Json(value))
}

/// The team server this space edits live through, if any (the token is never shown).
async fn team_server(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = key.to_ascii_uppercase();
    caller.require(&key, Level::Read)?;
    Ok(Json(match state.live.upstream(&key) {
        Some(u) => json!({"joined": true, "url": u.url}),
        None => json!({"joined": false}),
    }))
}

#[derive(Deserialize)]
struct JoinServer {
    url: String,
    token: String,
}

/// Joins a team server for live editing of this space (its pages open from now on go through
/// it; without it, editing goes on here and merges when it is back).
async fn join_team_server(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let key = key.to_ascii_uppercase();
    caller.require(&key, Level::Admin)?;
    state.space(&key)?;
    let input: JoinServer = json_body(&body)?;
    let url = input.url.trim().trim_end_matches('/').to_owned();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::bad_request("the team server's address starts with http:// or https://"));
    }
    if input.token.trim().is_empty() {
        return Err(ApiError::bad_request(
            "a token is needed: `confluence-do token create EMAIL` on the team server makes one",
        ));
    }
    state
        .live
        .set_upstream(&key, Some(crate::live::Upstream { url: url.clone(), token: input.token.trim().to_owned() }));
    save_team_servers(&state)?;
    Ok(Json(json!({"joined": true, "url": url})))
}

/// Writes the team servers the spaces joined to `HOME/team-servers.json`.
fn save_team_servers(state: &AppState) -> ApiResult<()> {
    state
        .live
        .save_upstreams(&state.wiki.home().dir().join("team-servers.json"))
        .map_err(|e| ApiError::internal(format!("the team server could not be saved: {e}")))
}

async fn leave_team_server(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    let key = key.to_ascii_uppercase();
    caller.require(&key, Level::Admin)?;
    state.live.set_upstream(&key, None);
    save_team_servers(&state)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The space's webhooks (admins of the space).
async fn webhooks(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = key.to_ascii_uppercase();
    caller.require(&key, Level::Admin)?;
    Ok(Json(json!({ "webhooks": state.webhooks.list(&key), "events": crate::webhooks::ALL_EVENTS })))
}

#[derive(Deserialize)]
struct NewHook {
    url: String,
    events: Option<Vec<String>>,
    secret: Option<String>,
}

/// Registers a webhook; the answer carries its signing secret, shown this once.
async fn add_webhook(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let key = key.to_ascii_uppercase();
    caller.require(&key, Level::Admin)?;
    state.space(&key)?;
    let input: NewHook = json_body(&body)?;
    let (hook, secret) = state
        .webhooks
        .add(&key, &input.url, input.events, input.secret)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut value = json!(hook);
    value["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

async fn remove_webhook(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path((key, id)): Path<(String, i64)>,
) -> ApiResult<StatusCode> {
    let key = key.to_ascii_uppercase();
    caller.require(&key, Level::Admin)?;
    match state.webhooks.remove(&key, id) {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::not_found(format!("no webhook {id} in {key}"))),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}

/// Commits the page's live edits now (the editor's Done), then answers the page as committed.
async fn settle_page(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (key, page) = page_of(&state, &id).await?;
    caller.require(&key, Level::Write)?;
    state.live.settle_now(&page.to_string()).await;
    let value = state.with_space(&key, false, move |s| page_json(s, &page)).await?;
    Ok(Json(value))
}

async fn delete_page(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (key, page) = page_of(&state, &id).await?;
    caller.require(&key, Level::Write)?;
    let author = caller.author.clone();
    state.with_space(&key, true, move |s| Ok(s.delete_page(&page, &author)?)).await?;
    state.emit(ChangeEvent::new("page.deleted", &key, Some(id.clone()), Some(&caller.author)));
    state.forget(&id);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct MoveInput {
    parent: Option<String>,
    position: Option<usize>,
}

async fn move_page(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let (key, id) = page_of(&state, &id).await?;
    caller.require(&key, Level::Write)?;
    let input: MoveInput = json_body(&body)?;
    let target = match input.parent.as_deref() {
        Some(p) => MoveTarget::Under(parse_id(p)?),
        None => MoveTarget::Root,
    };
    let author = caller.author.clone();
    let moved = id.to_string();
    let value = state
        .with_space(&key, true, move |s| {
            s.move_page(&id, &target, input.position, &author)?;
            page_json(s, &id)
        })
        .await?;
    state.emit(ChangeEvent::new("page.moved", &key, Some(moved), Some(&caller.author)));
    Ok(Json(value))
}

#[derive(Deserialize, Default)]
struct RestoreInput {
    version: Option<u32>,
}

async fn restore_page(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let input: RestoreInput = if body.is_empty() { RestoreInput::default() } else { json_body(&body)? };
    // A deleted page is in no catalog: find its space through the trash.
    let key = match state.locate(&id).await {
        Ok(Located::Page { space, .. }) => space,
        _ => find_in_trash(&state, &caller, &id).await?,
    };
    caller.require(&key, Level::Write)?;
    let page = parse_id(&id)?;
    let author = caller.author.clone();
    let value = state
        .with_space(&key, true, move |s| {
            s.restore_page(&page, input.version, &author)?;
            page_json(s, &page)
        })
        .await?;
    state.remember(id.clone(), Located::Page { space: key, id: parse_id(&id)? });
    Ok(Json(value))
}

async fn find_in_trash(state: &Arc<AppState>, caller: &Caller, id: &str) -> ApiResult<String> {
    for entry in state.space_entries()? {
        if !caller.can(&entry.key, Level::Read) {
            continue;
        }
        let wanted = id.to_owned();
        let found = state
            .with_space(&entry.key, false, move |s| Ok(s.trash()?.iter().any(|t| t.id.as_str() == wanted)))
            .await?;
        if found {
            return Ok(entry.key);
        }
    }
    Err(ApiError::not_found(format!("no page or deleted page with id {id}")))
}

async fn history(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (key, id) = page_of(&state, &id).await?;
    caller.require(&key, Level::Read)?;
    let versions = state.with_space(&key, false, move |s| Ok(s.history(&id)?)).await?;
    let list: Vec<Value> = versions
        .iter()
        .rev()
        .map(|v| {
            json!({"version": v.version, "commit": v.commit, "author": {"name": v.author.name, "email": v.author.email},
                   "date": v.date(), "message": v.message, "path": v.path})
        })
        .collect();
    Ok(Json(json!({ "versions": list })))
}

async fn diff(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let (key, id) = page_of(&state, &id).await?;
    caller.require(&key, Level::Read)?;
    let num = |name: &str| -> ApiResult<Option<u32>> {
        q.get(name)
            .map(|v| v.parse::<u32>().map_err(|_| ApiError::bad_request(format!("`{name}` must be a version number"))))
            .transpose()
    };
    let (from, to) = (num("from")?, num("to")?);
    let diff = state
        .with_space(&key, false, move |s| {
            let latest = s.version_count(&id)?;
            let to = to.unwrap_or(latest);
            let from = from.unwrap_or(to.saturating_sub(1).max(1));
            Ok(s.diff(&id, from, to)?)
        })
        .await?;
    Ok(Json(json!({"from": diff.from, "to": diff.to, "unified": diff.unified, "words": diff.words})))
}

async fn templates(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&key, Level::Read)?;
    let list = state
        .with_space(&key, false, |s| {
            Ok(s.templates()?
                .into_iter()
                .map(|t| match t {
                    Ok(t) => json!({
                        "name": t.name, "title": t.title, "description": t.description, "labels": t.labels,
                        "fields": t.fields.iter().map(|f| json!({
                            "name": f.name, "type": format!("{:?}", f.kind).to_ascii_lowercase(), "label": f.label,
                            "required": f.required, "default": f.default, "options": f.options,
                        })).collect::<Vec<_>>(),
                        "body": t.body,
                    }),
                    Err(e) => json!({ "error": e.to_string() }),
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(Json(json!({ "templates": list })))
}

async fn labels(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&key, Level::Read)?;
    let counts = state
        .with_space(&key, false, |s| {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for node in s.catalog()?.nodes() {
                for label in &node.labels {
                    *counts.entry(label.clone()).or_default() += 1;
                }
            }
            Ok(counts)
        })
        .await?;
    let list: Vec<Value> = counts.into_iter().map(|(name, pages)| json!({"name": name, "pages": pages})).collect();
    Ok(Json(json!({ "labels": list })))
}

async fn backlinks(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (key, id) = page_of(&state, &id).await?;
    caller.require(&key, Level::Read)?;
    let links = state.with_space(&key, false, move |s| Ok(s.backlinks(&id)?)).await?;
    let list: Vec<Value> =
        links.iter().map(|b| json!({"id": b.page.id, "title": b.page.title, "line": b.line})).collect();
    Ok(Json(json!({ "backlinks": list })))
}

/// Whether a page is still true: its links (`external=1`: its external links too), the code
/// repository registered for its space, and other pages that state its numbers otherwise.
async fn page_freshness(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let (key, id) = page_of(&state, &id).await?;
    caller.require(&key, Level::Read)?;
    // `external=1` also requests the page's external links (5 s each). The server makes those
    // requests, so only someone who may write the page (and so its links) may ask.
    let external = q.get("external").is_some_and(|v| v == "1" || v == "true");
    if external {
        caller.require(&key, Level::Write)?;
    }
    let options = cdo_ai::fresh::Options {
        external: external.then_some(std::time::Duration::from_secs(5)),
        ..cdo_ai::fresh::Options::default()
    };
    let code = {
        let (state, key) = (state.clone(), key.clone());
        tokio::task::spawn_blocking(move || state.code(&key)).await??
    };
    let st = state.clone();
    let space_key = key.clone();
    let report = state
        .with_space(&key, false, move |s| {
            let mut report = cdo_ai::fresh::check_page(s, &id, code.as_deref(), options)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let contradictions = st.contradictions(&space_key, s)?;
            report.add(contradictions.get(&id).cloned().unwrap_or_default());
            Ok(report)
        })
        .await?;
    Ok(Json(json!(report)))
}

/// [`page_freshness`] for every page of a space, with counts.
async fn space_freshness(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = state.space(&key)?.key.clone();
    caller.require(&key, Level::Read)?;
    let code = {
        let (state, key) = (state.clone(), key.clone());
        tokio::task::spawn_blocking(move || state.code(&key)).await??
    };
    let has_code = code.is_some();
    let model = state.llm.clone();
    let reports = state
        .with_space(&key, false, move |s| {
            let options = cdo_ai::fresh::Options {
                contradictions: true,
                model: model.as_deref(),
                ..cdo_ai::fresh::Options::default()
            };
            cdo_ai::fresh::check_space(s, code.as_deref(), options).map_err(|e| ApiError::internal(e.to_string()))
        })
        .await?;
    let count = |status: cdo_ai::fresh::Status| reports.iter().filter(|r| r.status == status).count();
    Ok(Json(json!({
        "space": key,
        "code": has_code,
        "fresh": count(cdo_ai::fresh::Status::Fresh),
        "stale": count(cdo_ai::fresh::Status::Stale),
        "broken": count(cdo_ai::fresh::Status::Broken),
        "pages": reports,
    })))
}

async fn related(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (key, id) = page_of(&state, &id).await?;
    caller.require(&key, Level::Read)?;
    let path = state.with_space(&key, false, move |s| Ok(s.summary(&id)?.path)).await?;
    let space = key.clone();
    let hits = state.with_search(false, move |index, _| Ok(index.related_by_words(&space, &path, 8)?)).await?;
    let hits: Vec<_> = hits.into_iter().filter(|h| caller.can(&h.space, Level::Read)).collect();
    Ok(Json(json!({ "related": hits })))
}

async fn search(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let text = q.get("q").cloned().unwrap_or_default();
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(20).clamp(1, 100);
    let mode = match q.get("mode").map(String::as_str) {
        None | Some("keyword") => Mode::Keyword,
        Some("semantic") => Mode::Semantic,
        Some("hybrid") => Mode::Hybrid,
        Some(other) => {
            return Err(ApiError::bad_request(format!("unknown mode `{other}`: keyword, semantic or hybrid")));
        }
    };
    let mut query = text.clone();
    if let Some(space) = q.get("space").filter(|s| !s.is_empty()) {
        query.push_str(&format!(" space:{space}"));
    }
    if let Some(label) = q.get("label").filter(|s| !s.is_empty()) {
        query.push_str(&format!(" label:{label}"));
    }
    // Results in spaces the caller may not read are left out; ask for more when there are such.
    let everything = state.space_entries()?.iter().all(|e| caller.can(&e.key, Level::Read));
    let wanted = if everything { limit } else { limit * 3 };
    let outcome = state
        .with_search(mode != Mode::Keyword, move |index, embedder| {
            // Without the model, semantic and hybrid say so and answer by words.
            Ok(index.query(&UserQuery::parse(&query), mode, embedder, wanted)?)
        })
        .await?;
    let hits: Vec<_> = outcome.hits.into_iter().filter(|h| caller.can(&h.space, Level::Read)).take(limit).collect();
    let semantic = match outcome.semantic {
        cdo_search::index::SemanticStatus::NotUsed => json!({"used": false}),
        cdo_search::index::SemanticStatus::Used { pending, total } => {
            json!({"used": true, "pending": pending, "total": total})
        }
        cdo_search::index::SemanticStatus::Unavailable(hint) => json!({"used": false, "hint": hint}),
    };
    Ok(Json(json!({ "query": text, "results": hits, "semantic": semantic })))
}

/// The question (`q`) and the sections retrieved for it, from the spaces the caller may read
/// (`space` keeps to one).
async fn ask_passages(
    state: &Arc<AppState>,
    caller: &Caller,
    q: &HashMap<String, String>,
) -> ApiResult<(String, Vec<cdo_ai::Passage>)> {
    let question = q.get("q").cloned().unwrap_or_default();
    if question.trim().is_empty() {
        return Err(ApiError::bad_request("ask a question: /api/v1/ask?q=how+do+we+deploy"));
    }
    let keys: Vec<String> = state.space_entries()?.into_iter().map(|e| e.key).collect();
    let spaces: Vec<String> = match q.get("space").filter(|s| !s.is_empty()) {
        Some(space) => {
            let Some(key) = keys.iter().find(|k| k.eq_ignore_ascii_case(space)) else {
                return Err(ApiError::not_found(format!("there is no space {space}")));
            };
            caller.require(key, Level::Read)?;
            vec![key.clone()]
        }
        None if keys.iter().all(|k| caller.can(k, Level::Read)) => Vec::new(),
        None => {
            let readable: Vec<String> = keys.into_iter().filter(|k| caller.can(k, Level::Read)).collect();
            if readable.is_empty() {
                return Ok((question, Vec::new()));
            }
            readable
        }
    };
    let asked = question.clone();
    let hits = state
        .with_search(true, move |index, embedder| {
            cdo_ai::retrieve(index, embedder, &asked, &spaces, cdo_ai::PAGES)
                .map_err(|e| ApiError::internal(e.to_string()))
        })
        .await?;
    let best = hits.first().map_or(1.0, |h| h.score);
    let mut passages = Vec::new();
    for (rank, hit) in hits.into_iter().enumerate() {
        let Some(id) = PageId::parse(&hit.id) else { continue };
        let body = state.with_space(&hit.space, false, move |s| Ok(s.page(&id)?.body)).await;
        if let Ok(body) = body {
            passages.extend(cdo_ai::passages(&hit, rank, best, &body));
        }
    }
    Ok((question, passages))
}

/// The model `ask` uses: the server's, unless the request says `model=none`.
fn ask_model(state: &AppState, q: &HashMap<String, String>) -> Option<Arc<dyn cdo_ai::Model>> {
    if q.get("model").is_some_and(|m| m == "none") { None } else { state.llm.clone() }
}

/// An answer from the wiki with its sources (`q`; `space` keeps to one space; `model=none` answers
/// without the model), from the spaces the caller may read.
async fn ask(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let (question, passages) = ask_passages(&state, &caller, &q).await?;
    let model = ask_model(&state, &q);
    let answer =
        tokio::task::spawn_blocking(move || cdo_ai::answer(&question, &passages, model.as_deref(), &mut |_| {}))
            .await?;
    Ok(Json(json!(answer)))
}

/// [`ask`] as server-sent events: `token` events carry the model's words as they arrive, then one
/// `answer` event carries the checked answer with its sources (the same JSON as `/ask`).
async fn ask_stream(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<
    axum::response::sse::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let (question, passages) = ask_passages(&state, &caller, &q).await?;
    let model = ask_model(&state, &q);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    tokio::task::spawn_blocking(move || {
        let answer = cdo_ai::answer(&question, &passages, model.as_deref(), &mut |piece| {
            let _ = tx.send(Event::default().event("token").data(piece));
        });
        let data = serde_json::to_string(&answer).unwrap_or_else(|_| "{}".into());
        let _ = tx.send(Event::default().event("answer").data(data));
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|event| (Ok(event), rx)) });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// How far semantic search is: whether the model is installed, passages still to embed.
async fn search_status(State(state): St) -> Json<Value> {
    let status = state.embed_status();
    Json(json!(status))
}

async fn attachments(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (key, page) = page_of(&state, &id).await?;
    caller.require(&key, Level::Read)?;
    let list = state.with_space(&key, false, move |s| Ok(s.attachments(&page)?)).await?;
    let list: Vec<Value> = list
        .iter()
        .map(|a| json!({"name": a.name, "size": a.size, "mediaType": a.media_type, "path": a.path}))
        .collect();
    Ok(Json(json!({ "attachments": list })))
}

/// The files of a multipart body: (file name, bytes). Confluence reads the parts named `file`;
/// clients also send `minorEdit` and `comment` parts, some with a file name of their own.
pub(crate) async fn multipart_files(mut multipart: Multipart) -> ApiResult<Vec<(String, Bytes)>> {
    let mut named_file = Vec::new();
    let mut other = Vec::new();
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
        let Some(field) = field else { break };
        let Some(name) = field.file_name().map(str::to_owned) else { continue };
        let is_file = field.name() == Some("file");
        let skip = matches!(field.name(), Some("minorEdit" | "comment" | "status"));
        let bytes = field.bytes().await.map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
        if is_file {
            named_file.push((name, bytes));
        } else if !skip {
            other.push((name, bytes));
        }
    }
    let files = if named_file.is_empty() { other } else { named_file };
    if files.is_empty() {
        return Err(ApiError::bad_request("the multipart body has no file part (a part named `file` with a filename)"));
    }
    Ok(files)
}

async fn upload(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    multipart: Multipart,
) -> ApiResult<Response> {
    let (key, page) = page_of(&state, &id).await?;
    caller.require(&key, Level::Write)?;
    let files = multipart_files(multipart).await?;
    let author = caller.author.clone();
    let saved = state
        .with_space(&key, true, move |s| {
            files
                .into_iter()
                .map(|(name, bytes)| Ok(s.put_attachment(&page, &name, bytes.to_vec(), &author)?))
                .collect::<ApiResult<Vec<_>>>()
        })
        .await?;
    let list: Vec<Value> =
        saved.iter().map(|a| json!({"name": a.name, "size": a.size, "mediaType": a.media_type})).collect();
    Ok((StatusCode::CREATED, Json(json!({ "attachments": list }))).into_response())
}

async fn download(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (key, page) = page_of(&state, &id).await?;
    caller.require(&key, Level::Read)?;
    attachment_response(&state, &key, page, name).await
}

/// An attachment's bytes, with a safe content type (never rendered as HTML by a browser).
pub(crate) async fn attachment_response(
    state: &Arc<AppState>,
    key: &str,
    page: PageId,
    name: String,
) -> ApiResult<Response> {
    let media = cdo_core::space::media_type(&name);
    let inline = media.starts_with("image/") && media != "image/svg+xml" || media == "application/pdf";
    let disposition = format!(
        "{}; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        crate::state::encode_component(&name)
    );
    let bytes = state.with_space(key, false, move |s| Ok(s.attachment(&page, &name)?)).await?;
    let content_type = if media.starts_with("text/html") { "text/plain; charset=utf-8" } else { media };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

async fn delete_attachment(
    State(state): St,
    Extension(caller): Extension<Caller>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (key, page) = page_of(&state, &id).await?;
    caller.require(&key, Level::Write)?;
    let author = caller.author.clone();
    state.with_space(&key, true, move |s| Ok(s.delete_attachment(&page, &name, &author)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct LoginInput {
    email: String,
    password: String,
}

async fn login(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    body: Bytes,
) -> ApiResult<Response> {
    let input: LoginInput = json_body(&body)?;
    let st = state.clone();
    let session = tokio::task::spawn_blocking(move || {
        let user = st.auth.verify(Some(&input.email), &input.password, peer.ip())?;
        let cookie = st.auth.start_session(&user.email)?;
        Ok::<_, crate::auth::AuthError>((user, cookie))
    })
    .await?;
    match session {
        Ok((user, cookie)) => Ok((
            [(
                header::SET_COOKIE,
                format!("{SESSION_COOKIE}={cookie}; HttpOnly; SameSite=Strict; Path=/; Max-Age=2592000"),
            )],
            Json(json!({"email": user.email, "name": user.name, "admin": user.admin})),
        )
            .into_response()),
        Err(crate::auth::AuthError::TooMany) => {
            Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too many failed logins; wait a minute"))
        }
        Err(crate::auth::AuthError::Wrong) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong e-mail or password")),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}

async fn logout(State(state): St, headers: axum::http::HeaderMap) -> ApiResult<Response> {
    if let Some(cookie) = crate::cookie(&headers, SESSION_COOKIE) {
        let st = state.clone();
        tokio::task::spawn_blocking(move || st.auth.end_session(&cookie))
            .await?
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    Ok((
        [(header::SET_COOKIE, format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"))],
        StatusCode::NO_CONTENT,
    )
        .into_response())
}

async fn me(Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(json!({
        "signedIn": caller.user.is_some(),
        "authRequired": !caller.open,
        "name": caller.author.name,
        "email": caller.author.email,
        "admin": caller.user.as_ref().is_some_and(|u| u.admin) || caller.open,
    }))
}
