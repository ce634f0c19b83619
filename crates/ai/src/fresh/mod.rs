//! Freshness: whether a page still tells the truth. Per page a status (`fresh`, `stale`,
//! `broken`), a confidence, and the issues found, each with its section and a suggestion:
//! - `broken_link`: links to pages, sections, attachments and images that are not there
//!   (external links only when asked, with a timeout);
//! - `code_drift`: file paths, symbols and HTTP routes the page mentions that the space's code
//!   repository no longer has, with the closest current match (`POST /users` →
//!   `POST /api/v2/users`, a moved file → where it is now);
//! - `contradiction`: a statement another page contradicts (the same words, other numbers; with a
//!   model, the pairs it judges contradictory), both places cited;
//! - `stale`: a file the page names, or the one file declaring a symbol it names, changed after
//!   the page last did (not the files declaring routes: they change with every other route).
//!
//! Results are derived state: computed from the pages and the code repository's HEAD as they
//! are, so they change as soon as either does.

pub mod code;
pub mod contradict;

use std::collections::HashSet;
use std::time::Duration;

use cdo_core::links::{self, LinkKind, Target};
use cdo_core::{PageId, Space};
use serde::Serialize;

pub use code::Code;
use code::{METHODS, route_shape};

/// Why freshness could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum FreshError {
    #[error("the code repository {0} cannot be read: {1}; register another with `space code KEY PATH`")]
    Code(std::path::PathBuf, String),
    #[error(transparent)]
    Space(#[from] cdo_core::SpaceError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Fresh,
    Stale,
    Broken,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    BrokenLink,
    CodeDrift,
    Stale,
    Contradiction,
}

/// One problem with a page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Issue {
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The heading of the section it is in (empty: the top of the page).
    pub section: String,
    /// 1-based, in the page's body (without frontmatter); 0 when not known.
    pub line: usize,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

/// A page's freshness.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub space: String,
    pub id: String,
    pub title: String,
    pub path: String,
    pub status: Status,
    /// 0 to 1: how sure the status is.
    pub confidence: f32,
    pub issues: Vec<Issue>,
    /// When this was checked (RFC 3339), and against which commit of the code repository.
    pub last_verified: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_commit: Option<String>,
    /// Mentions of the code that were checked.
    #[serde(skip)]
    checked: usize,
}

/// What to check besides the wiki itself.
#[derive(Clone, Copy, Default)]
pub struct Options<'m> {
    /// Also request external links (HEAD, then GET), each with this timeout.
    pub external: Option<Duration>,
    /// Look for statements other pages contradict (the whole space is read).
    pub contradictions: bool,
    /// The model that judges contradictions.
    pub model: Option<&'m dyn crate::llm::Model>,
}

/// Every page of `space`.
pub fn check_space(space: &mut Space, code: Option<&Code>, options: Options<'_>) -> Result<Vec<Report>, FreshError> {
    let ids: Vec<PageId> = space.catalog()?.nodes().filter(|n| n.file.is_some()).map(|n| n.id.clone()).collect();
    let mut contradictions =
        if options.contradictions { contradict::find(space, options.model)? } else { Default::default() };
    let one = Options { contradictions: false, ..options };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let mut report = check_page(space, &id, code, one)?;
        if let Some(found) = contradictions.remove(&id) {
            report.issues.extend(found);
            report.settle();
        }
        out.push(report);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// One page.
pub fn check_page(
    space: &mut Space,
    id: &PageId,
    code: Option<&Code>,
    options: Options<'_>,
) -> Result<Report, FreshError> {
    let page = space.page(id)?;
    let path = page.summary.path.clone();
    let body = page.body.as_str();
    let places = Places::of(body);
    let mut issues = Vec::new();
    check_links(space, &path, body, &places, options, &mut issues)?;
    let mut checked = 0;
    if let Some(code) = code {
        let (found, referred) = check_code(code, body, &places, &mut issues);
        checked = found;
        if !referred.is_empty() {
            let history = space.history(id)?;
            let page_time = history.last().map_or(0, |v| v.time);
            let changes = code.changes(&referred.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>());
            for (file, line) in &referred {
                if let Some(change) = changes.get(file)
                    && change.time > page_time
                {
                    issues.push(Issue {
                        kind: Kind::Stale,
                        section: places.section(*line),
                        line: *line,
                        detail: format!(
                            "`{file}` changed on {} ({} {}) after this page last did ({})",
                            day_of(change.time),
                            change.commit,
                            change.summary,
                            day_of(page_time)
                        ),
                        suggestion: Some(format!("review what the page says of `{file}` against that change")),
                    });
                }
            }
        }
    }
    if options.contradictions {
        let mut found = contradict::find(space, options.model)?;
        issues.extend(found.remove(id).unwrap_or_default());
    }
    let mut report = Report {
        space: space.info().key.as_str().to_owned(),
        id: id.as_str().to_owned(),
        title: page.summary.title.clone(),
        path,
        status: Status::Fresh,
        confidence: 0.0,
        issues,
        last_verified: jiff::Timestamp::now().round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default(),
        code_commit: code.map(|c| c.head.clone()),
        checked,
    };
    report.settle();
    Ok(report)
}

impl Report {
    /// Adds issues found elsewhere (contradictions found for the whole space) and settles again.
    pub fn add(&mut self, issues: impl IntoIterator<Item = Issue>) {
        self.issues.extend(issues);
        self.settle();
    }

    /// The status and confidence its issues give.
    fn settle(&mut self) {
        self.status = if self.issues.iter().any(|i| matches!(i.kind, Kind::BrokenLink | Kind::CodeDrift)) {
            Status::Broken
        } else if self.issues.is_empty() {
            Status::Fresh
        } else {
            Status::Stale
        };
        // Missing targets are certain; a later change or another page's different number only
        // suggests the page is out of date; a page with nothing to check against the code is
        // fresh only as far as its links go.
        self.confidence = match self.status {
            Status::Broken => 0.95,
            Status::Stale => 0.7,
            Status::Fresh if self.checked > 0 => 0.9,
            Status::Fresh => 0.6,
        };
    }
}

/// Links to nothing: pages, files, sections.
fn check_links(
    space: &mut Space,
    path: &str,
    body: &str,
    places: &Places,
    options: Options,
    issues: &mut Vec<Issue>,
) -> Result<(), FreshError> {
    let root = space.root().to_path_buf();
    for link in links::extract(body) {
        let what = match link.kind {
            LinkKind::Image => "image",
            _ if link.url.contains("/_attachments/") || link.url.starts_with("_attachments/") => "attachment",
            _ => "link",
        };
        let mut broken = |detail: String, suggestion: Option<String>| {
            issues.push(Issue {
                kind: Kind::BrokenLink,
                section: places.section(link.line),
                line: link.line,
                detail,
                suggestion,
            });
        };
        match links::resolve(&link, path) {
            Target::Path { path: target, anchor } => {
                let stem = cdo_core::catalog::stem_of(&target).to_owned();
                let page = space.catalog()?.by_stem(&stem).map(|n| n.id.clone());
                match page {
                    Some(id) => {
                        if let Some((anchor, title, suggestion)) = missing_anchor(space, &id, anchor)? {
                            broken(
                                format!(
                                    "the {what} `{}` goes to section #{anchor}, which \"{title}\" does not have",
                                    link.url
                                ),
                                suggestion,
                            );
                        }
                    }
                    None if root.join(&target).exists() => {}
                    None => {
                        let name = target.rsplit('/').next().unwrap_or(&target).to_owned();
                        let catalog = space.catalog()?;
                        let pages: Vec<String> = catalog.nodes().filter_map(|n| n.file.clone()).collect();
                        let suggestion = closest(&name, pages.iter().map(|p| p.rsplit('/').next().unwrap_or(p)))
                            .and_then(|n| pages.iter().find(|p| p.ends_with(n)).cloned())
                            .map(|p| links::relative(path, &p));
                        broken(format!("the {what} `{}` goes to {target}, which does not exist", link.url), suggestion);
                    }
                }
            }
            Target::Wiki { title, anchor } if !title.is_empty() => {
                let catalog = space.catalog()?;
                let found = catalog.find_title(&title).first().map(|n| n.id.clone()).or_else(|| {
                    catalog
                        .nodes()
                        .find(|n| cdo_core::catalog::last_component(&n.stem).eq_ignore_ascii_case(&title))
                        .map(|n| n.id.clone())
                });
                match found {
                    None => {
                        let titles: Vec<String> = catalog.nodes().map(|n| n.title.clone()).collect();
                        broken(
                            format!("[[{title}]] names no page"),
                            closest(&title, titles.iter().map(String::as_str)).map(|t| format!("[[{t}]]")),
                        );
                    }
                    Some(id) => {
                        if let Some((anchor, target, suggestion)) = missing_anchor(space, &id, anchor)? {
                            broken(format!("[[{title}#{anchor}]]: \"{target}\" has no section #{anchor}"), suggestion);
                        }
                    }
                }
            }
            Target::Anchor(anchor) if !anchor.is_empty() => {
                let anchors = anchors(body);
                if !anchors.contains(&anchor) {
                    broken(
                        format!("#{anchor} is no section of this page"),
                        closest(&anchor, anchors.iter().map(String::as_str)).map(|a| format!("#{a}")),
                    );
                }
            }
            Target::External if link.url.starts_with("http://") || link.url.starts_with("https://") => {
                if let Some(timeout) = options.external
                    && let Err(why) = reach(&link.url, timeout)
                {
                    broken(format!("the {what} {} does not answer: {why}", link.url), None);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Mentions of the code that it no longer has. Returns how many mentions were checked and the
/// files (with the line that refers to them) the page relies on.
fn check_code(code: &Code, body: &str, places: &Places, issues: &mut Vec<Issue>) -> (usize, Vec<(String, usize)>) {
    let mut checked = 0;
    let mut referred: Vec<(String, usize)> = Vec::new();
    let mut refer = |file: &str, line: usize| {
        if !referred.iter().any(|(f, _)| f == file) {
            referred.push((file.to_owned(), line));
        }
    };
    let shapes: Vec<(String, String, &code::Route)> =
        code.routes.iter().map(|r| (r.method.clone(), route_shape(&r.path), r)).collect();
    for mention in mentions(body) {
        let (detail, suggestion) = match mention.what {
            Mentioned::Route { method, path } => {
                checked += 1;
                let shape = route_shape(&path);
                // A route that is still there is current; the file declaring it changes with every
                // other route, so it does not make the page stale.
                if shapes.iter().any(|(m, s, _)| *m == method && *s == shape) {
                    continue;
                }
                let suggestion = closest_route(&method, &shape, &shapes);
                (format!("`{method} {path}` is not a route of the code any more"), suggestion)
            }
            Mentioned::Path(path) => {
                if code.has_file(&path) {
                    checked += 1;
                    refer(&path, mention.line);
                    continue;
                }
                if !code.claims(&path) && !code.files.iter().any(|f| f.ends_with(&format!("/{}", file_name(&path)))) {
                    // Not a path of this repository (a URL path, a vault path, another project).
                    continue;
                }
                checked += 1;
                // Moved: the same file name elsewhere, the one sharing the most of the path.
                let name = file_name(&path);
                let moved = code
                    .files
                    .iter()
                    .filter(|f| file_name(f) == name)
                    .max_by_key(|f| f.split('/').filter(|part| path.split('/').any(|p| p == *part)).count());
                let suggestion =
                    moved.cloned().or_else(|| closest(&path, code.files.iter().map(String::as_str)).map(str::to_owned));
                (format!("`{path}` is not in the code any more"), suggestion)
            }
            Mentioned::Symbol(symbol) => {
                let name = symbol_name(&symbol);
                checked += 1;
                if let Some(files) = code.symbols.get(name) {
                    if let [file] = files.as_slice() {
                        refer(file, mention.line);
                    }
                    continue;
                }
                let suggestion = closest(name, code.symbols.keys().map(String::as_str)).map(|s| format!("`{s}`"));
                (format!("`{symbol}` is declared nowhere in the code any more"), suggestion)
            }
        };
        issues.push(Issue {
            kind: Kind::CodeDrift,
            section: places.section(mention.line),
            line: mention.line,
            detail,
            suggestion,
        });
    }
    (checked, referred)
}

fn closest_route(method: &str, shape: &str, routes: &[(String, String, &code::Route)]) -> Option<String> {
    let show = |r: &code::Route| format!("{} {}", r.method, r.path);
    // The same route under a new prefix (`/users` → `/api/v2/users`), same method first.
    let mut prefixed: Vec<&(String, String, &code::Route)> =
        routes.iter().filter(|(_, s, _)| s.ends_with(shape) && s.len() > shape.len()).collect();
    prefixed.sort_by_key(|(m, s, _)| (m != method, s.len()));
    if let Some((_, _, r)) = prefixed.first() {
        return Some(show(r));
    }
    let same: Vec<&str> = routes.iter().filter(|(m, _, _)| m == method).map(|(_, s, _)| s.as_str()).collect();
    let best = closest(shape, same.iter().copied())?;
    routes.iter().find(|(m, s, _)| m == method && s == best).map(|(_, _, r)| show(r))
}

/// What a page mentions of code.
#[derive(Debug, PartialEq, Eq)]
enum Mentioned {
    Route { method: String, path: String },
    Path(String),
    Symbol(String),
}

#[derive(Debug, PartialEq, Eq)]
struct Mention {
    what: Mentioned,
    line: usize,
}

/// Routes written anywhere outside code blocks (`POST /users`), and paths and symbols written
/// as inline code (`src/auth/tokens.rs`, `issue_token()`, `TokenStore::rotate`).
fn mentions(body: &str) -> Vec<Mention> {
    let mut out: Vec<Mention> = Vec::new();
    let mut fenced = false;
    for (i, line) in body.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        for pair in words.windows(2) {
            let method = pair[0].trim_matches(|c: char| !c.is_ascii_alphabetic());
            let path =
                pair[1].trim_matches(|c: char| matches!(c, '`' | ',' | '.' | ';' | ':' | ')' | '(' | '"' | '\''));
            if METHODS.contains(&method)
                && pair[0].trim_start_matches('`').starts_with(method)
                && path.starts_with('/')
                && path.len() > 1
            {
                let what = Mentioned::Route { method: method.to_owned(), path: path.to_owned() };
                if !out.iter().any(|m| m.what == what) {
                    out.push(Mention { what, line: line_no });
                }
            }
        }
        let mut rest = line;
        while let Some(open) = rest.find('`') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('`') else { break };
            let span = after[..close].trim();
            rest = &after[close + 1..];
            let what = if span.contains(char::is_whitespace) {
                continue;
            } else if looks_like_path(span) {
                Mentioned::Path(span.trim_start_matches("./").split([':', '#']).next().unwrap_or(span).to_owned())
            } else if looks_like_symbol(span) {
                Mentioned::Symbol(span.to_owned())
            } else {
                continue;
            };
            if !out.iter().any(|m| m.what == what) {
                out.push(Mention { what, line: line_no });
            }
        }
    }
    out
}

fn looks_like_path(span: &str) -> bool {
    if span.contains("://") || span.starts_with('/') || span.starts_with('-') || span.starts_with('$') {
        return false;
    }
    let name = file_name(span);
    let has_ext = name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=5).contains(&ext.len())
            && ext.chars().all(|c| c.is_ascii_alphanumeric())
            && !ext.chars().all(|c| c.is_ascii_digit())
    });
    (span.contains('/') && span.chars().all(|c| c.is_alphanumeric() || "/._-".contains(c)))
        || (has_ext && !span.contains("::"))
}

fn looks_like_symbol(span: &str) -> bool {
    let name = symbol_name(span);
    if name.len() < 4
        || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
        || name.chars().next().is_some_and(|c| c.is_ascii_digit())
    {
        return false;
    }
    // ALL_CAPS names are mostly environment variables and settings, not declarations.
    if name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
        return false;
    }
    let camel = name.chars().zip(name.chars().skip(1)).any(|(a, b)| a.is_lowercase() && b.is_uppercase());
    span.ends_with("()") || span.contains("::") || name.contains('_') || camel
}

/// `TokenStore::rotate()` → `rotate`; `tokens.issue` → `issue`.
fn symbol_name(span: &str) -> &str {
    let span = span.trim_end_matches("()");
    span.rsplit("::").next().unwrap_or(span).rsplit('.').next().unwrap_or(span)
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// When `anchor` names no section of page `id`: the anchor, the page's title and the closest
/// section's anchor.
fn missing_anchor(
    space: &mut Space,
    id: &PageId,
    anchor: Option<String>,
) -> Result<Option<(String, String, Option<String>)>, FreshError> {
    let Some(anchor) = anchor.filter(|a| !a.is_empty()) else { return Ok(None) };
    let page = space.page(id)?;
    let anchors = anchors(&page.body);
    if anchors.contains(&anchor) {
        return Ok(None);
    }
    let suggestion = closest(&anchor, anchors.iter().map(String::as_str)).map(|a| format!("#{a}"));
    Ok(Some((anchor, page.summary.title, suggestion)))
}

/// The anchors of a body's sections.
fn anchors(body: &str) -> HashSet<String> {
    cdo_core::render::sections(body).into_iter().map(|s| s.anchor).filter(|a| !a.is_empty()).collect()
}

/// Which section each line is in.
struct Places {
    /// (first line, heading), in order.
    headings: Vec<(usize, String)>,
}

impl Places {
    fn of(body: &str) -> Places {
        let sections = cdo_core::render::sections(body);
        let mut headings = Vec::new();
        let mut fenced = false;
        let mut next = sections.iter().skip(1);
        let mut want = next.next();
        for (i, line) in body.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("```") || t.starts_with("~~~") {
                fenced = !fenced;
            }
            if !fenced
                && t.starts_with('#')
                && let Some(section) = want
                && t.trim_start_matches('#').trim().starts_with(section.heading.split_whitespace().next().unwrap_or(""))
            {
                headings.push((i + 1, section.heading.clone()));
                want = next.next();
            }
        }
        Places { headings }
    }

    fn section(&self, line: usize) -> String {
        self.headings.iter().rev().find(|(at, _)| *at <= line).map(|(_, h)| h.clone()).unwrap_or_default()
    }
}

/// The candidate nearest to `word` by edit distance, when it is near enough to be a likely
/// meaning (at most a third of the longer one differs).
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let word_l = word.to_lowercase();
    let n = word.chars().count();
    candidates
        .map(|c| {
            let bound = n.max(c.chars().count()) / 3;
            (levenshtein_within(&word_l, &c.to_lowercase(), bound), c)
        })
        .filter(|(d, c)| *d > 0 && *d * 3 <= n.max(c.chars().count()))
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

/// The edit distance when it is at most `bound`, else something larger (it stops as soon as
/// every way through is past the bound).
fn levenshtein_within(a: &str, b: &str, bound: usize) -> usize {
    let b: Vec<char> = b.chars().collect();
    let a_len = a.chars().count();
    if a_len.abs_diff(b.len()) > bound {
        return bound.saturating_add(1);
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        let mut least = row[0];
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(here + 1);
            least = least.min(row[j + 1]);
            prev = here;
        }
        if least > bound {
            return bound.saturating_add(1);
        }
    }
    row[b.len()]
}

pub(crate) fn day_of(seconds: i64) -> String {
    cdo_core::model::format_time(seconds, 0).get(..10).unwrap_or("").to_owned()
}

/// Whether an external URL answers (HEAD, then GET for servers that refuse HEAD).
fn reach(url: &str, timeout: Duration) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent("confluence-do link check")
        .build()
        .into();
    let status = match agent.head(url).call() {
        Ok(r) if r.status().as_u16() < 400 => return Ok(()),
        Ok(r) if matches!(r.status().as_u16(), 405 | 403 | 501) => agent.get(url).call().map(|r| r.status().as_u16()),
        Ok(r) => Ok(r.status().as_u16()),
        Err(e) => Err(e),
    };
    match status {
        Ok(s) if s < 400 => Ok(()),
        Ok(s) => Err(format!("HTTP {s}")),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_routes_paths_and_symbols() {
        let body = "# API\n\nCall `POST /users` or GET /users/{id}.\nSee `src/auth/tokens.rs` and `issue_token()`.\n\
                    `acme deploy` `DATABASE_URL` `main` `TokenStore::rotate`\n```\nPOST /not-this\n```\n";
        let got: Vec<Mentioned> = mentions(body).into_iter().map(|m| m.what).collect();
        assert_eq!(
            got,
            [
                Mentioned::Route { method: "POST".into(), path: "/users".into() },
                Mentioned::Route { method: "GET".into(), path: "/users/{id}".into() },
                Mentioned::Path("src/auth/tokens.rs".into()),
                Mentioned::Symbol("issue_token()".into()),
                Mentioned::Symbol("TokenStore::rotate".into()),
            ]
        );
    }

    #[test]
    fn the_closest_is_near_enough_or_nothing() {
        assert_eq!(
            closest("Deployment Guid", ["Deployment Guide", "Architecture"].into_iter()),
            Some("Deployment Guide")
        );
        assert_eq!(closest("Payroll", ["Deployment Guide", "Architecture"].into_iter()), None);
        assert_eq!(levenshtein_within("kitten", "sitting", usize::MAX), 3);
        assert!(levenshtein_within("kitten", "sitting", 2) > 2);
        assert_eq!(levenshtein_within("kitten", "sitting", 3), 3);
    }
}
