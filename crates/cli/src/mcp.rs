//! `confluence-do mcp`: a Model Context Protocol server on standard input and output, so coding
//! agents can read and write the wiki: tools `search`, `ask`, `get_page`, `create_page`,
//! `update_page`, `check_freshness`. JSON-RPC 2.0, one message per line; logs (none yet) would go to stderr.

use std::io::{BufRead, Write};

use anyhow::Result;
use cdo_app::{Wiki, identity};
use cdo_core::{NewPage, PageUpdate};
use cdo_search::SearchIndex;
use cdo_search::embed::{self, Embedder, MiniLm};
use serde_json::{Value, json};

/// Protocol versions this server speaks, newest first.
const VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

fn tools() -> Value {
    let text = |d: &str| json!({"type": "string", "description": d});
    json!([
        {
            "name": "search",
            "description": "Search the wiki's pages (words, \"phrases\", -excluded, label:x, space:KEY). Returns the best pages with the section that matched and an excerpt.",
            "inputSchema": {"type": "object", "properties": {
                "query": text("what to look for"),
                "space": text("only this space (its key)"),
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "description": "results (default 10)"}
            }, "required": ["query"]}
        },
        {
            "name": "ask",
            "description": "Ask the wiki a question. Returns an answer from its pages (written by the configured model and checked against them, else quoted) with numbered sources, or says the wiki does not cover it.",
            "inputSchema": {"type": "object", "properties": {
                "question": text("the question"),
                "space": text("only this space (its key)")
            }, "required": ["question"]}
        },
        {
            "name": "get_page",
            "description": "A page's Markdown with its title, labels, version and path.",
            "inputSchema": {"type": "object", "properties": {
                "page": text("the page id, or KEY:Title")
            }, "required": ["page"]}
        },
        {
            "name": "create_page",
            "description": "Create a page (Markdown body) in a space, optionally under a parent page. One commit by the configured user.",
            "inputSchema": {"type": "object", "properties": {
                "space": text("the space key"),
                "title": text("the page title"),
                "body": text("the Markdown body"),
                "parent": text("the parent page: id or KEY:Title"),
                "labels": {"type": "array", "items": {"type": "string"}}
            }, "required": ["space", "title", "body"]}
        },
        {
            "name": "update_page",
            "description": "Change a page's body and/or title. Pass base_version (from get_page) to refuse if someone saved in between.",
            "inputSchema": {"type": "object", "properties": {
                "page": text("the page id, or KEY:Title"),
                "body": text("the new Markdown body"),
                "title": text("the new title"),
                "base_version": {"type": "integer", "description": "the version the edit started from"}
            }, "required": ["page"]}
        },
        {
            "name": "check_freshness",
            "description": "Whether pages are still true: broken links and sections, file paths, symbols and HTTP routes the space's code repository no longer has (with the closest current match), and pages older than the code they name. Pass a page, or a space for all its pages.",
            "inputSchema": {"type": "object", "properties": {
                "page": text("the page id, or KEY:Title"),
                "space": text("every page of this space (its key)"),
                "external": {"type": "boolean", "description": "also request external links (10 s each)"}
            }}
        }
    ])
}

struct Server<'a> {
    wiki: &'a Wiki,
    user: Option<String>,
    /// Opened at the first search, kept for the session.
    index: Option<SearchIndex>,
    /// Loaded at the first search (`None` inside: not installed).
    model: Option<Option<MiniLm>>,
    /// The chat model `ask` uses, when one is configured.
    llm: Option<std::sync::Arc<cdo_ai::OpenAi>>,
}

impl Server<'_> {
    /// The search index, caught up with the spaces, and the model when it is installed.
    fn searcher(&mut self) -> Result<(&mut SearchIndex, Option<&mut dyn Embedder>)> {
        let Server { wiki, index, model, .. } = self;
        let index = match index {
            Some(index) => index,
            None => index.insert(wiki.search_index()?),
        };
        wiki.catch_up_search(index, None, &mut |_| {})?;
        let model = model.get_or_insert_with(|| MiniLm::load(&embed::models_dir()).ok());
        Ok((index, model.as_mut().map(|m| m as &mut dyn Embedder)))
    }

    fn call(&mut self, name: &str, args: &Value) -> Result<Value> {
        let text = |key: &str| args.get(key).and_then(Value::as_str).map(str::to_owned);
        let need = |key: &str| {
            text(key).filter(|v| !v.trim().is_empty()).ok_or_else(|| anyhow::anyhow!("`{key}` is required"))
        };
        let spaces: Vec<String> = text("space").into_iter().collect();
        match name {
            "search" => {
                let query = need("query")?;
                let limit = args.get("limit").and_then(Value::as_u64).unwrap_or(10).clamp(1, 50) as usize;
                let (index, embedder) = self.searcher()?;
                let hits = cdo_ai::retrieve(index, embedder, &query, &spaces, limit)?;
                let results: Vec<Value> = hits
                    .iter()
                    .map(|h| {
                        json!({"space": h.space, "id": h.id, "title": h.title, "path": h.path,
                            "section": h.snippet.heading, "anchor": h.snippet.anchor, "excerpt": h.snippet.text})
                    })
                    .collect();
                Ok(json!({ "results": results }))
            }
            "ask" => {
                let question = need("question")?;
                let wiki = self.wiki;
                let llm = self.llm.clone();
                let model = llm.as_deref().map(|m| m as &dyn cdo_ai::Model);
                let (index, embedder) = self.searcher()?;
                let answer = cdo_ai::ask(wiki, index, embedder, &question, &spaces, model, &mut |_| {})?;
                Ok(serde_json::to_value(answer)?)
            }
            "check_freshness" => {
                let llm = self.llm.clone();
                let external = args.get("external").and_then(Value::as_bool).unwrap_or(false);
                let options = cdo_ai::fresh::Options {
                    external: external.then_some(std::time::Duration::from_secs(10)),
                    contradictions: true,
                    model: llm.as_deref().map(|m| m as &dyn cdo_ai::Model),
                };
                if let Some(page) = text("page").filter(|p| !p.trim().is_empty()) {
                    let (mut space, id) = self.wiki.resolve(&page)?;
                    let code = cdo_ai::code_for(self.wiki, space.info().key.as_str())?;
                    return Ok(serde_json::to_value(cdo_ai::fresh::check_page(
                        &mut space,
                        &id,
                        code.as_ref(),
                        options,
                    )?)?);
                }
                let Some(key) = spaces.first() else { anyhow::bail!("pass `page` or `space`") };
                let mut space = self.wiki.open_space(key)?;
                let code = cdo_ai::code_for(self.wiki, key)?;
                let reports = cdo_ai::fresh::check_space(&mut space, code.as_ref(), options)?;
                let broken: Vec<_> = reports.iter().filter(|r| r.status != cdo_ai::fresh::Status::Fresh).collect();
                Ok(json!({"pages": reports.len(), "code": code.is_some(), "problems": broken}))
            }
            "get_page" => {
                let (mut space, id) = self.wiki.resolve(&need("page")?)?;
                let page = space.page(&id)?;
                let s = &page.summary;
                Ok(json!({"space": space.info().key.as_str(), "id": s.id, "title": s.title, "path": s.path,
                    "labels": s.labels, "version": page.version, "body": page.body}))
            }
            "create_page" => {
                let author = identity::resolve(self.user.as_deref(), self.wiki.home())?;
                let key = need("space")?;
                let parent = match text("parent").filter(|p| !p.trim().is_empty()) {
                    Some(p) => Some(self.wiki.resolve(&p)?.1),
                    None => None,
                };
                let labels = args
                    .get("labels")
                    .and_then(Value::as_array)
                    .map(|l| l.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default();
                let request =
                    NewPage { title: Some(need("title")?), parent, labels, body: need("body")?, ..Default::default() };
                let saved = self.wiki.open_space(&key)?.create_page(&request, &author)?;
                Ok(
                    json!({"space": key, "id": saved.summary.id, "title": saved.summary.title, "path": saved.summary.path}),
                )
            }
            "update_page" => {
                let author = identity::resolve(self.user.as_deref(), self.wiki.home())?;
                let (mut space, id) = self.wiki.resolve(&need("page")?)?;
                let base_version = args.get("base_version").and_then(Value::as_u64).map(|v| v as u32);
                let update =
                    PageUpdate { title: text("title"), body: text("body"), labels: None, base_version, message: None };
                let saved = space.update_page(&id, &update, &author)?;
                let version = space.version_count(&id)?;
                Ok(
                    json!({"id": saved.summary.id, "title": saved.summary.title, "path": saved.summary.path, "version": version}),
                )
            }
            other => anyhow::bail!("there is no tool `{other}`"),
        }
    }

    /// The reply to one message; `None` for a notification.
    fn handle(&mut self, message: &Value) -> Option<Value> {
        let id = message.get("id").cloned()?;
        let method = message.get("method").and_then(Value::as_str).unwrap_or("");
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let result = match method {
            "initialize" => {
                let asked = params.get("protocolVersion").and_then(Value::as_str).unwrap_or(VERSIONS[0]);
                let version = VERSIONS.iter().find(|v| **v == asked).copied().unwrap_or(VERSIONS[0]);
                json!({
                    "protocolVersion": version,
                    "capabilities": {"tools": {"listChanged": false}},
                    "serverInfo": {"name": "confluence-do", "version": env!("CARGO_PKG_VERSION")},
                    "instructions": "The team's wiki: search and ask it before guessing; cite the pages you used."
                })
            }
            "ping" => json!({}),
            "tools/list" => json!({ "tools": tools() }),
            "tools/call" => {
                let name = params.get("name").and_then(Value::as_str).unwrap_or("");
                let args = params.get("arguments").cloned().unwrap_or_else(|| json!({}));
                match self.call(name, &args) {
                    Ok(value) => json!({
                        "content": [{"type": "text", "text": serde_json::to_string_pretty(&value).unwrap_or_default()}],
                        "structuredContent": value,
                        "isError": false
                    }),
                    // A tool's failure is a result the agent reads, not a protocol error.
                    Err(e) => json!({"content": [{"type": "text", "text": format!("error: {e:#}")}], "isError": true}),
                }
            }
            _ => {
                return Some(json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": -32601, "message": format!("unknown method `{method}`")}}));
            }
        };
        Some(json!({"jsonrpc": "2.0", "id": id, "result": result}))
    }
}

/// Serves MCP on standard input and output until input ends.
pub fn serve(wiki: &Wiki, user: Option<String>) -> Result<()> {
    let llm = cdo_ai::configured_model(wiki)?.map(std::sync::Arc::new);
    let mut server = Server { wiki, user, index: None, model: None, llm };
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Value>(&line) {
            Ok(Value::Array(batch)) => {
                let replies: Vec<Value> = batch.iter().filter_map(|m| server.handle(m)).collect();
                (!replies.is_empty()).then_some(Value::Array(replies))
            }
            Ok(message) => server.handle(&message),
            Err(e) => Some(json!({"jsonrpc": "2.0", "id": null,
                "error": {"code": -32700, "message": format!("not JSON: {e}")}})),
        };
        if let Some(reply) = reply {
            serde_json::to_writer(&mut out, &reply)?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
    }
    Ok(())
}
