//! The one set of comrak options every part of confluence.do parses Markdown with.

use comrak::Options;

/// GitHub-flavoured Markdown plus wiki links, alerts and footnotes; raw HTML is parsed and later
/// sanitised, never trusted.
pub fn options() -> Options<'static> {
    let mut options = Options::default();
    options.extension.strikethrough = true;
    options.extension.table = true;
    options.extension.autolink = true;
    options.extension.tasklist = true;
    options.extension.footnotes = true;
    options.extension.alerts = true;
    options.extension.wikilinks_title_after_pipe = true;
    options.extension.header_id_prefix = Some(String::new());
    options.render.r#unsafe = true;
    options.render.github_pre_lang = true;
    options
}

/// Byte offsets of line starts, to turn comrak's 1-based line/column positions into offsets.
pub struct LineIndex {
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts, len: text.len() }
    }

    /// The byte offset of a 1-based line and 1-based byte column, clamped to the text.
    pub fn offset(&self, line: usize, column: usize) -> usize {
        let start = self.starts.get(line.saturating_sub(1)).copied().unwrap_or(self.len);
        (start + column.saturating_sub(1)).min(self.len)
    }
}
