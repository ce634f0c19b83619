//! A Confluence site over its REST API v1: Cloud (`https://x.atlassian.net/wiki/rest/api`) or
//! Server and Data Center (`https://host/rest/api`), with Basic (e-mail and API token) or Bearer
//! (personal access token) authentication.
//!
//! Every successful answer is kept in a staging folder (a SQLite file of responses by URL, and
//! the downloaded attachments), so a second run after an interruption asks the site only for
//! what it did not get: nothing is fetched twice and nothing is duplicated. Lists follow
//! `_links.next`; 429 and 503 answers wait as `Retry-After` says; other failures are retried,
//! then reported and skipped (the next run tries them again).

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::MigrateError;
use crate::model::{Attachment, Blob, Comment, Content, Kind, Permission, Person, SpaceData, Version, When};
use crate::write::Progress;

/// How to sign in.
#[derive(Clone)]
pub enum Auth {
    /// E-mail (or user name) and API token (or password).
    Basic { user: String, token: String },
    /// A personal access token.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach logs.
        match self {
            Auth::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
            Auth::Bearer(_) => write!(f, "Bearer(***)"),
        }
    }
}

/// What to fetch.
#[derive(Clone, Debug)]
pub struct Fetch {
    pub history: bool,
    /// Longest wait a `Retry-After` may ask for.
    pub max_wait: Duration,
    /// Tries per request before it is reported as failed.
    pub tries: u32,
}

impl Default for Fetch {
    fn default() -> Fetch {
        Fetch { history: false, max_wait: Duration::from_secs(120), tries: 6 }
    }
}

/// A site and the staging folder its answers are kept in.
pub struct Site {
    agent: ureq::Agent,
    /// The API root: `https://x.atlassian.net/wiki/rest/api`.
    api: String,
    /// Where relative links (`/wiki/download/...`, `/rest/api/...?start=25`) resolve: the
    /// site's origin plus its context path.
    base: String,
    origin: String,
    auth: Auth,
    staging: Staging,
    fetch: Fetch,
}

/// Why one request failed.
#[derive(Debug)]
enum Failure {
    /// Worth reporting and going on (a page that errors, a missing version).
    Skip(String),
    /// Stop: credentials, the site itself.
    Fatal(MigrateError),
}

impl Site {
    /// Connects to the site at `url` (with or without `/wiki`), checking the credentials.
    pub fn connect(url: &str, auth: Auth, staging_dir: &Path, fetch: Fetch) -> Result<Site, MigrateError> {
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(MigrateError::Invalid(format!(
                "`{url}` is not a web address; pass --url https://your-site.atlassian.net/wiki"
            )));
        }
        let origin = {
            let after = url.find("://").map_or(0, |i| i + 3);
            match url[after..].find('/') {
                Some(slash) => url[..after + slash].to_owned(),
                None => url.to_owned(),
            }
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .user_agent("confluence-do-migrate")
            .build()
            .into();
        let staging = Staging::open(staging_dir)?;
        let mut site = Site { agent, api: String::new(), base: url.to_owned(), origin, auth, staging, fetch };
        // Cloud serves the API under /wiki; try what was given first, then with /wiki.
        let mut candidates = vec![url.to_owned()];
        if !url.ends_with("/wiki") {
            candidates.push(format!("{url}/wiki"));
        }
        let mut last = String::new();
        for base in candidates {
            site.api = format!("{base}/rest/api");
            site.base = base.clone();
            // Always asked of the site itself (never the staging folder): it checks the
            // credentials and that the site is there.
            match site.get(&format!("{}/space?limit=1", site.api)) {
                Ok(_) => return Ok(site),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Skip(why)) => last = why,
            }
        }
        Err(MigrateError::Http(format!("{url} does not answer as a Confluence site ({last}); check --url")))
    }

    fn authorize(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
    ) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        match &self.auth {
            Auth::Basic { user, token } => {
                use base64::Engine as _;
                let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
                request.header("Authorization", format!("Basic {pair}"))
            }
            Auth::Bearer(token) => request.header("Authorization", format!("Bearer {token}")),
        }
    }

    /// GET with retries; `Ok` is a 2xx response.
    fn get(&self, url: &str) -> Result<ureq::http::Response<ureq::Body>, Failure> {
        let mut pause = Duration::from_millis(500);
        let mut last = String::new();
        for _ in 0..self.fetch.tries.max(1) {
            let response = self.authorize(self.agent.get(url)).header("Accept", "application/json").call();
            match response {
                Ok(r) if r.status().is_success() => return Ok(r),
                Ok(r) => {
                    let status = r.status().as_u16();
                    match status {
                        401 => {
                            return Err(Failure::Fatal(MigrateError::Http(format!(
                                "{url}: 401 Unauthorized; check --email and --token (an API token from id.atlassian.com, or a personal access token with --token alone)"
                            ))));
                        }
                        403 => return Err(Failure::Skip(format!("403 Forbidden: the account may not read {url}"))),
                        404 => return Err(Failure::Skip(format!("404 Not Found: {url}"))),
                        429 | 503 => {
                            let wait = retry_after(&r).unwrap_or(pause).min(self.fetch.max_wait);
                            last = format!("HTTP {status}");
                            std::thread::sleep(wait);
                            pause = (pause * 2).min(self.fetch.max_wait);
                        }
                        _ if status >= 500 => {
                            last = format!("HTTP {status}");
                            std::thread::sleep(pause);
                            pause = (pause * 2).min(self.fetch.max_wait);
                        }
                        _ => return Err(Failure::Skip(format!("HTTP {status}: {url}"))),
                    }
                }
                Err(e) => {
                    last = e.to_string();
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(self.fetch.max_wait);
                }
            }
        }
        Err(Failure::Skip(format!("{last} after {} tries: {url}", self.fetch.tries.max(1))))
    }

    /// A JSON answer, from the staging folder when an earlier run got it.
    fn request(&self, url: &str) -> Result<Value, Failure> {
        if let Some(bytes) = self.staging.get(url).map_err(Failure::Fatal)? {
            return serde_json::from_slice(&bytes).map_err(|e| Failure::Skip(format!("{url}: {e}")));
        }
        let response = self.get(url)?;
        let bytes = response
            .into_body()
            .with_config()
            .limit(256 << 20)
            .read_to_vec()
            .map_err(|e| Failure::Skip(format!("{url}: {e}")))?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| Failure::Skip(format!("{url}: not JSON ({e})")))?;
        self.staging.put(url, &bytes).map_err(Failure::Fatal)?;
        Ok(value)
    }

    fn api_url(&self, path: &str) -> String {
        format!("{}/{}", self.api, path.trim_start_matches('/'))
    }

    /// A relative link of an answer (`/rest/api/content?start=25`, `/download/...`) made absolute.
    fn absolute(&self, link: &str, base: Option<&str>) -> String {
        if link.starts_with("http://") || link.starts_with("https://") {
            return link.to_owned();
        }
        match base {
            Some(b) if !b.is_empty() => format!("{}{link}", b.trim_end_matches('/')),
            _ if link.starts_with("/rest/") || link.starts_with("/download/") => format!("{}{link}", self.base),
            _ => format!("{}{link}", self.origin),
        }
    }

    /// Every result of a list, following `_links.next`.
    fn list(&self, first: &str) -> Result<Vec<Value>, Failure> {
        let mut url = self.api_url(first);
        let mut out = Vec::new();
        for _ in 0..100_000 {
            let page = self.request(&url)?;
            let results = page.get("results").and_then(Value::as_array).cloned().unwrap_or_default();
            let empty = results.is_empty();
            out.extend(results);
            let links = page.get("_links");
            match links.and_then(|l| l.get("next")).and_then(Value::as_str) {
                Some(next) if !empty => {
                    url = self.absolute(next, links.and_then(|l| l.get("base")).and_then(Value::as_str))
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Downloads an attachment into the staging folder (once).
    fn download(&self, url: &str) -> Result<PathBuf, Failure> {
        let file = self.staging.file_for(url);
        if file.is_file() {
            return Ok(file);
        }
        let response = self.get(url)?;
        let partial = file.with_extension("partial");
        let write = || -> std::io::Result<()> {
            let mut out = std::fs::File::create(&partial)?;
            let mut body = response.into_body();
            std::io::copy(&mut body.as_reader(), &mut out)?;
            out.flush()?;
            out.sync_all()?;
            std::fs::rename(&partial, &file)
        };
        write().map_err(|e| Failure::Skip(format!("downloading {url}: {e}")))?;
        Ok(file)
    }

    /// The spaces the account can read: (key, name).
    pub fn spaces(&self) -> Result<Vec<(String, String)>, MigrateError> {
        let all = self.list("space?limit=100&type=global").map_err(fatal)?;
        Ok(all.iter().map(|s| (text(s, "/key"), text(s, "/name"))).collect())
    }

    /// Reads a whole space.
    pub fn read_space(&self, key: &str, progress: &mut dyn FnMut(Progress)) -> Result<SpaceData, MigrateError> {
        let mut failures = Vec::new();
        let space = self
            .request(&self.api_url(&format!("space/{}?expand=description.plain,homepage", encode(key))))
            .map_err(|f| match f {
                Failure::Fatal(e) => e,
                Failure::Skip(why) => MigrateError::Http(format!("space {key}: {why}")),
            })?;
        let mut listed = Vec::new();
        for kind in ["page", "blogpost"] {
            let path = format!(
                "content?spaceKey={}&type={kind}&status=current&limit=50&expand=ancestors,version",
                encode(key)
            );
            match self.list(&path) {
                Ok(items) => listed.extend(items),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Skip(why)) => failures.push(format!("the list of {kind}s: {why}")),
            }
        }
        let total = listed.len();
        let mut users: HashMap<String, Person> = HashMap::new();
        let mut contents: Vec<Content> = Vec::new();
        let mut parents_with_children: BTreeSet<String> = BTreeSet::new();
        for (n, item) in listed.iter().enumerate() {
            progress(Progress { phase: "fetching", done: n, total });
            let id = text(item, "/id");
            let title = text(item, "/title");
            match self.content(&id, &mut users) {
                Ok(content) => {
                    if let Some(parent) = &content.parent {
                        parents_with_children.insert(parent.clone());
                    }
                    contents.push(content);
                }
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Skip(why)) => {
                    failures.push(format!("\"{title}\" ({id}): {why}; run the migration again to retry it"));
                }
            }
        }
        progress(Progress { phase: "fetching", done: total, total });
        // Sibling order as the site shows it.
        let mut order: HashMap<String, usize> = HashMap::new();
        for parent in &parents_with_children {
            if let Ok(children) = self.list(&format!("content/{parent}/child/page?limit=200")) {
                for (i, child) in children.iter().enumerate() {
                    order.insert(text(child, "/id"), i);
                }
            }
        }
        let contents = tree_order(contents, &order);
        // Mentioned people the answers did not name.
        let mentioned = mentions(&contents);
        for (attr, id) in mentioned {
            if users.contains_key(&id) {
                continue;
            }
            let param = match attr.as_str() {
                "ri:userkey" => "key",
                "ri:username" => "username",
                _ => "accountId",
            };
            if let Ok(user) = self.request(&self.api_url(&format!("user?{param}={}", encode(&id)))) {
                let person = person(&user);
                if !person.name.is_empty() {
                    users.insert(id, person);
                }
            }
        }
        let permissions = self.permissions(key);
        Ok(SpaceData {
            key: text(&space, "/key"),
            name: text(&space, "/name"),
            description: Some(text(&space, "/description/plain/value")).filter(|d| !d.trim().is_empty()),
            homepage: Some(text(&space, "/homepage/id")).filter(|h| !h.is_empty()),
            contents,
            permissions,
            users,
            failures,
            source: self.base.clone(),
        })
    }

    fn permissions(&self, key: &str) -> Vec<Permission> {
        let Ok(space) = self.request(&self.api_url(&format!("space/{}?expand=permissions", encode(key)))) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for p in space.get("permissions").and_then(Value::as_array).into_iter().flatten() {
            let operation = text(p, "/operation/operation");
            let users = p.pointer("/subjects/user/results").and_then(Value::as_array);
            for u in users.into_iter().flatten() {
                out.push(Permission { user: person(u), operation: operation.clone() });
            }
        }
        out
    }

    /// One page or blog post with its versions, attachments and comments.
    fn content(&self, id: &str, users: &mut HashMap<String, Person>) -> Result<Content, Failure> {
        let current = self.request(
            &self.api_url(&format!("content/{id}?expand=body.storage,version,ancestors,metadata.labels,space")),
        )?;
        let kind = if text(&current, "/type") == "blogpost" { Kind::BlogPost } else { Kind::Page };
        let number = current.pointer("/version/number").and_then(Value::as_u64).unwrap_or(1) as u32;
        let mut versions = Vec::new();
        if self.fetch.history && number > 1 {
            for n in 1..number {
                let url =
                    self.api_url(&format!("content/{id}?status=historical&version={n}&expand=body.storage,version"));
                match self.request(&url) {
                    Ok(old) => versions.push(version(&old, n, users)),
                    // A version Confluence no longer has is skipped; the rest stand.
                    Err(Failure::Skip(_)) => {}
                    Err(fatal) => return Err(fatal),
                }
            }
        }
        versions.push(version(&current, number, users));
        let parent = match kind {
            Kind::Page => current
                .get("ancestors")
                .and_then(Value::as_array)
                .and_then(|a| a.last())
                .map(|a| text(a, "/id"))
                .filter(|p| !p.is_empty()),
            Kind::BlogPost => None,
        };
        let labels = current
            .pointer("/metadata/labels/results")
            .and_then(Value::as_array)
            .map(|l| l.iter().map(|l| text(l, "/name")).filter(|n| !n.is_empty()).collect())
            .unwrap_or_default();
        let mut attachments = Vec::new();
        for a in self.list(&format!("content/{id}/child/attachment?limit=100&expand=version"))? {
            let filename = text(&a, "/title");
            let link = text(&a, "/_links/download");
            let by = person(a.pointer("/version/by").unwrap_or(&Value::Null));
            let data = if link.is_empty() {
                Blob::Missing("the site gave no download link".into())
            } else {
                let base = a.pointer("/_links/base").and_then(Value::as_str);
                match self.download(&self.absolute(&link, base)) {
                    Ok(file) => Blob::File(file),
                    Err(Failure::Skip(why)) => Blob::Missing(why),
                    Err(fatal) => return Err(fatal),
                }
            };
            attachments.push(Attachment {
                id: text(&a, "/id"),
                filename,
                by,
                when: When::parse(&text(&a, "/version/when")).unwrap_or_default(),
                data,
            });
        }
        let mut comments = Vec::new();
        let path = format!(
            "content/{id}/child/comment?limit=100&depth=all&expand=body.storage,version,ancestors,extensions.inlineProperties"
        );
        for c in self.list(&path)? {
            let by = person(c.pointer("/version/by").unwrap_or(&Value::Null));
            let parent = c
                .get("ancestors")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().rev().find(|x| text(x, "/type") == "comment"))
                .map(|a| text(a, "/id"));
            let inline = (text(&c, "/extensions/location") == "inline")
                .then(|| text(&c, "/extensions/inlineProperties/originalSelection"));
            comments.push(Comment {
                id: text(&c, "/id"),
                parent,
                by,
                when: When::parse(&text(&c, "/version/when")).unwrap_or_default(),
                storage: text(&c, "/body/storage/value"),
                inline,
            });
        }
        comments.sort_by_key(|c| c.when);
        Ok(Content { id: id.to_owned(), kind, parent, labels, versions, attachments, comments })
    }
}

fn fatal(f: Failure) -> MigrateError {
    match f {
        Failure::Fatal(e) => e,
        Failure::Skip(why) => MigrateError::Http(why),
    }
}

fn retry_after(r: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let value = r.headers().get("Retry-After")?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

fn text(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A user object of either edition.
fn person(u: &Value) -> Person {
    let id =
        ["/accountId", "/userKey", "/username"].iter().map(|p| text(u, p)).find(|s| !s.is_empty()).unwrap_or_default();
    let name = ["/displayName", "/publicName", "/username"]
        .iter()
        .map(|p| text(u, p))
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    let email = Some(text(u, "/email")).filter(|e| e.contains('@'));
    Person { id, name, email }
}

fn version(v: &Value, number: u32, users: &mut HashMap<String, Person>) -> Version {
    let by = person(v.pointer("/version/by").unwrap_or(&Value::Null));
    for key in ["/version/by/accountId", "/version/by/userKey", "/version/by/username"] {
        let id = text(v, key);
        if !id.is_empty() {
            users.entry(id).or_insert_with(|| by.clone());
        }
    }
    Version {
        number,
        title: text(v, "/title"),
        storage: text(v, "/body/storage/value"),
        by,
        when: When::parse(&text(v, "/version/when")).unwrap_or_default(),
        message: text(v, "/version/message"),
    }
}

/// Pages parents first with siblings in the site's order, then blog posts by date.
fn tree_order(contents: Vec<Content>, order: &HashMap<String, usize>) -> Vec<Content> {
    let ids: std::collections::HashSet<String> = contents.iter().map(|c| c.id.clone()).collect();
    let mut children: HashMap<Option<String>, Vec<Content>> = HashMap::new();
    let mut posts = Vec::new();
    for c in contents {
        if c.kind == Kind::BlogPost {
            posts.push(c);
            continue;
        }
        let parent = c.parent.clone().filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(c);
    }
    for list in children.values_mut() {
        list.sort_by_key(|c| order.get(&c.id).copied().unwrap_or(usize::MAX));
    }
    let mut out = Vec::new();
    let mut stack: Vec<Content> = children.remove(&None).unwrap_or_default().into_iter().rev().collect();
    while let Some(c) = stack.pop() {
        if let Some(kids) = children.remove(&Some(c.id.clone())) {
            stack.extend(kids.into_iter().rev());
        }
        out.push(c);
    }
    // Whatever sits in a cycle is kept at the root.
    for (_, rest) in children {
        out.extend(rest);
    }
    posts.sort_by_key(|p| p.versions.first().map(|v| v.when).unwrap_or_default());
    out.extend(posts);
    out
}

/// Users mentioned in the bodies: (attribute, id).
fn mentions(contents: &[Content]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for c in contents {
        let bodies = c.versions.iter().map(|v| v.storage.as_str()).chain(c.comments.iter().map(|k| k.storage.as_str()));
        for body in bodies {
            for attr in ["ri:account-id", "ri:userkey", "ri:username"] {
                let needle = format!("{attr}=\"");
                let mut rest = body;
                while let Some(at) = rest.find(&needle) {
                    rest = &rest[at + needle.len()..];
                    if let Some(end) = rest.find('"') {
                        out.insert((attr.to_owned(), rest[..end].to_owned()));
                    }
                }
            }
        }
    }
    out
}

/// Answers and downloads of earlier runs.
struct Staging {
    db: rusqlite::Connection,
    dir: PathBuf,
    path: PathBuf,
}

impl Staging {
    fn open(dir: &Path) -> Result<Staging, MigrateError> {
        std::fs::create_dir_all(dir.join("files")).map_err(|e| MigrateError::io(dir, e))?;
        let path = dir.join("responses.sqlite");
        let err = |source| MigrateError::Staging { path: path.clone(), source };
        let db = rusqlite::Connection::open(&path).map_err(err)?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS responses (url TEXT PRIMARY KEY, body BLOB NOT NULL);",
        )
        .map_err(err)?;
        Ok(Staging { db, dir: dir.to_path_buf(), path })
    }

    fn get(&self, url: &str) -> Result<Option<Vec<u8>>, MigrateError> {
        use rusqlite::OptionalExtension as _;
        self.db
            .query_row("SELECT body FROM responses WHERE url = ?1", [url], |r| r.get(0))
            .optional()
            .map_err(|source| MigrateError::Staging { path: self.path.clone(), source })
    }

    fn put(&self, url: &str, body: &[u8]) -> Result<(), MigrateError> {
        self.db
            .execute("INSERT OR REPLACE INTO responses (url, body) VALUES (?1, ?2)", rusqlite::params![url, body])
            .map(|_| ())
            .map_err(|source| MigrateError::Staging { path: self.path.clone(), source })
    }

    fn file_for(&self, url: &str) -> PathBuf {
        // FNV-1a of the URL: a stable, file-safe name.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in url.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.dir.join("files").join(format!("{hash:016x}"))
    }
}
