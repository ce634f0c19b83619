//! The loss report: per page, what the converter approximated or kept verbatim, and what could
//! not be migrated at all; as a summary for the terminal and as a page committed in the space.

use std::collections::BTreeMap;

use cdo_storage::Loss;

use crate::model::{Kind, SpaceData};

/// The losses of one page's current version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageLosses {
    pub title: String,
    pub path: String,
    pub losses: Vec<Loss>,
}

/// What a migration did and what it could not map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub key: String,
    pub source: String,
    pub pages: Vec<PageLosses>,
    pub failures: Vec<String>,
    pub page_count: usize,
    pub blog_count: usize,
    pub versions: usize,
    pub attachments: usize,
    pub comments: usize,
    pub history: bool,
}

impl Report {
    pub fn new(data: &SpaceData, history: bool) -> Report {
        Report {
            key: data.key.clone(),
            source: data.source.clone(),
            pages: Vec::new(),
            failures: data.failures.clone(),
            page_count: data.contents.iter().filter(|c| c.kind == Kind::Page).count(),
            blog_count: data.contents.iter().filter(|c| c.kind == Kind::BlogPost).count(),
            versions: data.contents.iter().map(|c| if history { c.versions.len() } else { 1 }).sum(),
            attachments: data.contents.iter().map(|c| c.attachments.len()).sum(),
            comments: data.contents.iter().map(|c| c.comments.len()).sum(),
            history,
        }
    }

    /// Losses by kind (`macro:jira`), with how many pages have them.
    pub fn by_kind(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for page in &self.pages {
            let mut seen: Vec<&str> = page.losses.iter().map(|l| l.what.as_str()).collect();
            seen.sort_unstable();
            seen.dedup();
            for what in seen {
                *out.entry(what.to_owned()).or_insert(0) += 1;
            }
        }
        out
    }

    /// Pages with at least one loss.
    pub fn pages_with_losses(&self) -> usize {
        self.pages.iter().filter(|p| !p.losses.is_empty()).count()
    }

    /// A few lines for the terminal.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{}: {} pages, {} blog posts, {} versions, {} attachments, {} comments",
            self.key, self.page_count, self.blog_count, self.versions, self.attachments, self.comments
        );
        let lossy = self.pages_with_losses();
        if lossy == 0 {
            out.push_str("\nevery page converted exactly");
        } else {
            out.push_str(&format!("\n{lossy} pages have something kept verbatim or approximated:"));
            for (what, pages) in self.by_kind() {
                out.push_str(&format!("\n  {what}: {pages} pages"));
            }
        }
        if !self.failures.is_empty() {
            out.push_str(&format!("\n{} things could not be migrated:", self.failures.len()));
            for failure in self.failures.iter().take(10) {
                out.push_str(&format!("\n  {failure}"));
            }
            if self.failures.len() > 10 {
                out.push_str(&format!("\n  ... and {} more (see the report page)", self.failures.len() - 10));
            }
        }
        out
    }

    /// The report page, committed in the space.
    pub fn page_text(&self) -> String {
        let mut out = String::from("---\ntitle: Confluence migration report\nposition: 1048576\n---\n");
        out.push_str(&format!(
            "Migrated from {} with {}.\n\n",
            if self.source.is_empty() { "Confluence" } else { &self.source },
            if self.history { "every version as a commit" } else { "the current version of each page" }
        ));
        out.push_str("| Pages | Blog posts | Versions | Attachments | Comments |\n| --- | --- | --- | --- | --- |\n");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n\n",
            self.page_count, self.blog_count, self.versions, self.attachments, self.comments
        ));
        if !self.failures.is_empty() {
            out.push_str("## Not migrated\n\n");
            for failure in &self.failures {
                out.push_str(&format!("- {}\n", cell(failure)));
            }
            out.push('\n');
        }
        out.push_str("## Kept verbatim or approximated\n\n");
        if self.pages_with_losses() == 0 {
            out.push_str("Nothing: every page converted exactly.\n");
            return out;
        }
        out.push_str(
            "Macros without a Markdown form are kept verbatim in `confluence` code blocks (or inline \
             `<span data-confluence>`), so a round trip through the API loses nothing.\n\n",
        );
        out.push_str("| Kind | Pages |\n| --- | --- |\n");
        for (what, pages) in self.by_kind() {
            out.push_str(&format!("| `{}` | {pages} |\n", what.replace('`', "'")));
        }
        out.push_str("\n| Page | Kind | Detail |\n| --- | --- | --- |\n");
        for page in self.pages.iter().filter(|p| !p.losses.is_empty()) {
            let link = format!("[{}](<{}>)", cell(&page.title).replace(['[', ']'], ""), page.path.replace('>', "%3E"));
            for loss in &page.losses {
                out.push_str(&format!("| {link} | `{}` | {} |\n", loss.what.replace('`', "'"), cell(&loss.detail)));
            }
        }
        out
    }
}

/// Text safe inside a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}
