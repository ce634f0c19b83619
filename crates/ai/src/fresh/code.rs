//! What a code repository has at its HEAD, for comparing pages with it: its files, the symbols
//! its source declares, its HTTP routes (from OpenAPI specs and route declarations), and when a
//! file last changed.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::FreshError;

/// A file larger than this is listed but not read.
const READ_AT_MOST: usize = 1 << 20;
/// Commits walked back to find when files last changed.
const HISTORY: usize = 5000;

/// Source files whose declarations and routes are read.
const SOURCE: &[&str] = &[
    "rs", "py", "go", "js", "mjs", "cjs", "ts", "tsx", "jsx", "java", "kt", "kts", "rb", "php", "cs", "scala", "swift",
    "c", "h", "cc", "cpp", "hpp", "ex", "exs",
];

/// An HTTP route: `POST /api/v2/users`, from `file`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub file: String,
}

/// The last commit that changed a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub time: i64,
    pub commit: String,
    pub summary: String,
}

/// A code repository at its HEAD.
pub struct Code {
    pub root: PathBuf,
    /// The HEAD commit, which names this state (results are refreshed when it moves).
    pub head: String,
    pub files: Vec<String>,
    file_set: HashSet<String>,
    /// Top-level names (`src`, `crates`, `Cargo.toml`): a path in a page that starts with one is
    /// meant to be in the repository.
    top: HashSet<String>,
    /// Symbol name → the files that declare it.
    pub symbols: HashMap<String, Vec<String>>,
    pub routes: Vec<Route>,
    /// When each file last changed, read on first use.
    last_changes: std::sync::OnceLock<HashMap<String, Change>>,
}

impl Code {
    /// Reads the repository at `root` (its HEAD commit, not the working tree).
    pub fn scan(root: &Path) -> Result<Code, FreshError> {
        let repo =
            git2::Repository::open(root).map_err(|e| FreshError::Code(root.to_path_buf(), e.message().into()))?;
        let commit = repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .map_err(|e| FreshError::Code(root.to_path_buf(), format!("no commit at HEAD ({})", e.message())))?;
        let tree = commit.tree().map_err(|e| FreshError::Code(root.to_path_buf(), e.message().into()))?;
        let mut code = Code::empty(root.to_path_buf(), commit.id().to_string());
        let mut blobs = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            let name = entry.name().unwrap_or("");
            if dir.is_empty() {
                code.top.insert(name.to_owned());
            }
            if entry.kind() == Some(git2::ObjectType::Blob) {
                let path = format!("{dir}{name}");
                blobs.push((path.clone(), entry.id()));
                code.file_set.insert(path.clone());
                code.files.push(path);
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(|e| FreshError::Code(root.to_path_buf(), e.message().into()))?;
        for (path, id) in blobs {
            let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
            let spec = matches!(ext.as_str(), "yaml" | "yml" | "json");
            if !SOURCE.contains(&ext.as_str()) && !spec {
                continue;
            }
            let Ok(blob) = repo.find_blob(id) else { continue };
            if blob.size() > READ_AT_MOST || blob.is_binary() {
                continue;
            }
            let Ok(text) = std::str::from_utf8(blob.content()) else { continue };
            if spec {
                code.read_openapi(&path, text);
            } else {
                code.read_source(&path, text);
            }
        }
        Ok(code)
    }

    /// A repository with nothing read yet.
    fn empty(root: PathBuf, head: String) -> Code {
        Code {
            root,
            head,
            files: Vec::new(),
            file_set: HashSet::new(),
            top: HashSet::new(),
            symbols: HashMap::new(),
            routes: Vec::new(),
            last_changes: std::sync::OnceLock::new(),
        }
    }

    /// The commit HEAD names in the repository at `root`, to tell whether a scan is current.
    pub fn head_of(root: &Path) -> Option<String> {
        let repo = git2::Repository::open(root).ok()?;
        let head = repo.head().ok()?.peel_to_commit().ok()?;
        Some(head.id().to_string())
    }

    /// The text files among `paths` with their content at HEAD (binary and very large files are
    /// left out), read through one opening of the repository.
    pub fn read<'p>(&self, paths: impl IntoIterator<Item = &'p str>) -> Vec<(&'p str, String)> {
        let Ok(repo) = git2::Repository::open(&self.root) else { return Vec::new() };
        let Some(tree) =
            repo.revparse_single(&self.head).ok().and_then(|o| o.peel_to_commit().ok()).and_then(|c| c.tree().ok())
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for path in paths {
            let Some(blob) =
                tree.get_path(Path::new(path)).ok().and_then(|e| e.to_object(&repo).ok()?.peel_to_blob().ok())
            else {
                continue;
            };
            if blob.size() > READ_AT_MOST || blob.is_binary() {
                continue;
            }
            if let Ok(text) = String::from_utf8(blob.content().to_vec()) {
                out.push((path, text));
            }
        }
        out
    }

    pub fn has_file(&self, path: &str) -> bool {
        self.file_set.contains(path)
            || self.files.iter().any(|f| f.starts_with(path) && f[path.len()..].starts_with('/'))
    }

    /// Whether a path written in a page is meant to be in this repository.
    pub fn claims(&self, path: &str) -> bool {
        let first = path.split('/').next().unwrap_or("");
        self.top.contains(first)
    }

    /// The OpenAPI (or Swagger) spec's operations.
    fn read_openapi(&mut self, file: &str, text: &str) {
        if !(text.contains("openapi") || text.contains("swagger")) || !text.contains("paths") {
            return;
        }
        let value: Result<serde_json::Value, _> = if file.ends_with(".json") {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else {
            yaml_serde::from_str(text).map_err(|e| e.to_string())
        };
        let Ok(value) = value else { return };
        if value.get("openapi").is_none() && value.get("swagger").is_none() {
            return;
        }
        let base = value.pointer("/servers/0/url").and_then(|u| u.as_str()).map(url_path).unwrap_or_default();
        let base = value.get("basePath").and_then(|b| b.as_str()).map(str::to_owned).unwrap_or(base);
        let Some(paths) = value.get("paths").and_then(|p| p.as_object()) else { return };
        for (path, ops) in paths {
            let Some(ops) = ops.as_object() else { continue };
            for method in ops.keys() {
                if METHODS.contains(&method.to_ascii_uppercase().as_str()) {
                    let full = format!("{}{}", base.trim_end_matches('/'), path);
                    self.routes.push(Route { method: method.to_ascii_uppercase(), path: full, file: file.to_owned() });
                }
            }
        }
    }

    /// Declarations (`fn x`, `class X`, `def x`, `func X`, …) and route declarations
    /// (`.route("/users", post(..))`, `@app.get("/users")`, `router.post('/users', ..)`,
    /// `@PostMapping("/users")`).
    fn read_source(&mut self, file: &str, text: &str) {
        for line in text.lines() {
            let words: Vec<&str> =
                line.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
            for pair in words.windows(2) {
                if DECLARES.contains(&pair[0]) && is_identifier(pair[1]) {
                    let files = self.symbols.entry(pair[1].to_owned()).or_default();
                    if !files.iter().any(|f| f == file) {
                        files.push(file.to_owned());
                    }
                }
            }
            // Go methods: `func (s *Server) Name(`.
            if let Some(rest) = line.trim_start().strip_prefix("func (")
                && let Some((_, after)) = rest.split_once(')')
                && let Some(name) = after.trim_start().split('(').next()
                && is_identifier(name.trim())
            {
                self.symbols.entry(name.trim().to_owned()).or_default().push(file.to_owned());
            }
            let t = line.trim_start();
            if ["//", "#", "*", "/*", "--"].iter().any(|c| t.starts_with(c)) {
                continue;
            }
            let literals = route_literals(line);
            if literals.is_empty() {
                continue;
            }
            let methods: Vec<&str> = words
                .iter()
                .filter_map(|w| {
                    let w = w.to_ascii_uppercase();
                    let w = w.strip_suffix("MAPPING").unwrap_or(&w).to_owned();
                    METHODS.iter().find(|m| **m == w).copied()
                })
                .collect();
            for path in literals {
                for method in &methods {
                    let route = Route { method: (*method).to_owned(), path: path.clone(), file: file.to_owned() };
                    if !self.routes.contains(&route) {
                        self.routes.push(route);
                    }
                }
            }
        }
    }

    /// When each of `paths` last changed (a path that did not change in the last
    /// [`HISTORY`] commits is left out). The history is read once per `Code`, for every file.
    pub fn changes(&self, paths: &[String]) -> HashMap<String, Change> {
        let all = self.last_changes.get_or_init(|| self.read_history());
        paths.iter().filter_map(|p| all.get(p).map(|c| (p.clone(), c.clone()))).collect()
    }

    /// The last change of every file at HEAD: one walk back from HEAD, each commit compared with
    /// its first parent, until every file has been seen changing.
    fn read_history(&self) -> HashMap<String, Change> {
        let mut out = HashMap::new();
        let Ok(repo) = git2::Repository::open(&self.root) else { return out };
        let Ok(mut walk) = repo.revwalk() else { return out };
        if walk.push_head().is_err() || walk.set_sorting(git2::Sort::TIME | git2::Sort::TOPOLOGICAL).is_err() {
            return out;
        }
        for oid in walk.take(HISTORY).flatten() {
            if out.len() >= self.files.len() {
                break;
            }
            let Ok(commit) = repo.find_commit(oid) else { continue };
            let Ok(tree) = commit.tree() else { continue };
            let parent = commit.parent(0).ok().and_then(|p| p.tree().ok());
            let Ok(diff) = repo.diff_tree_to_tree(parent.as_ref(), Some(&tree), None) else { continue };
            let mut change: Option<Change> = None;
            for delta in diff.deltas() {
                let Some(path) = delta.new_file().path().and_then(|p| p.to_str()) else { continue };
                if out.contains_key(path) || !self.file_set.contains(path) {
                    continue;
                }
                let change = change.get_or_insert_with(|| Change {
                    time: commit.time().seconds(),
                    commit: oid.to_string()[..10].to_owned(),
                    summary: commit.summary().ok().flatten().unwrap_or("").to_owned(),
                });
                out.insert(path.to_owned(), change.clone());
            }
        }
        out
    }
}

pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

const DECLARES: &[&str] = &[
    "fn",
    "struct",
    "enum",
    "trait",
    "type",
    "const",
    "static",
    "mod",
    "class",
    "def",
    "function",
    "interface",
    "func",
    "object",
    "record",
    "module",
    "let",
    "var",
];

fn is_identifier(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && word.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// String literals in a line that look like URL paths: `"/users/{id}"`.
fn route_literals(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for quote in ['"', '\''] {
        let mut rest = line;
        while let Some(open) = rest.find(quote) {
            let after = &rest[open + 1..];
            let Some(close) = after.find(quote) else { break };
            let literal = &after[..close];
            if literal.starts_with('/')
                && literal.len() > 1
                && !literal.contains(char::is_whitespace)
                && !literal.contains("//")
            {
                out.push(literal.to_owned());
            }
            rest = &after[close + 1..];
        }
    }
    out
}

/// The path of a URL: `https://api.example.com/v2` → `/v2`.
fn url_path(url: &str) -> String {
    let after = url.find("://").map_or(url, |i| &url[i + 3..]);
    match after.find('/') {
        Some(i) if url.contains("://") => after[i..].to_owned(),
        _ if url.starts_with('/') => url.to_owned(),
        _ => String::new(),
    }
}

/// A route path with its parameters made alike: `/users/{id}`, `/users/:id` and `/users/<id>`
/// are all `/users/{}`.
pub fn route_shape(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or(path).trim_end_matches('/');
    path.split('/')
        .map(|seg| {
            let param = (seg.starts_with('{') && seg.ends_with('}'))
                || seg.starts_with(':')
                || (seg.starts_with('<') && seg.ends_with('>'))
                || seg.starts_with('*');
            if param { "{}" } else { seg }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_symbols_come_from_declarations() {
        let mut code = Code::empty(PathBuf::new(), String::new());
        code.read_source(
            "src/main.rs",
            "pub fn issue_token(user: &User) {}\n.route(\"/api/v2/users\", get(list).post(create))\n",
        );
        code.read_source("app.py", "@app.delete('/users/<id>')\ndef remove_user(id):\n");
        code.read_source("Api.java", "@PostMapping(\"/orders\")\n");
        assert!(code.symbols.contains_key("issue_token") && code.symbols.contains_key("remove_user"));
        let routes: Vec<String> = code.routes.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
        assert_eq!(routes, ["GET /api/v2/users", "POST /api/v2/users", "DELETE /users/<id>", "POST /orders"]);
        code.read_openapi(
            "openapi.yaml",
            "openapi: 3.0.0\nservers:\n  - url: https://api.example.com/v3\npaths:\n  /invoices/{id}:\n    get: {}\n",
        );
        assert_eq!(
            code.routes.last().map(|r| format!("{} {}", r.method, r.path)).as_deref(),
            Some("GET /v3/invoices/{id}")
        );
        assert_eq!(route_shape("/users/:id/"), route_shape("/users/{userId}"));
    }
}
