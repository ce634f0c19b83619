//! The query language people type: words, `"phrases"`, `-excluded` words or phrases, and the
//! filters `label:x`, `space:KEY`, `title:x` (a value may be quoted). Anything else is a word,
//! so no input is an error. The last word can be matched as a prefix while someone types.

/// A parsed search box query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Words that rank results (any of them may match).
    pub words: Vec<String>,
    /// Phrases every result must contain.
    pub phrases: Vec<String>,
    /// Words or phrases no result may contain.
    pub excluded: Vec<String>,
    pub labels: Vec<String>,
    pub spaces: Vec<String>,
    /// Words or phrases that must be in the title.
    pub titles: Vec<String>,
    /// Whether the last word also matches words it begins (set while typing).
    pub prefix: bool,
}

impl UserQuery {
    /// Parses a query; never fails.
    pub fn parse(text: &str) -> UserQuery {
        let mut q = UserQuery::default();
        let mut chars = text.char_indices().peekable();
        let mut last_was_word = false;
        while let Some(&(start, c)) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
                continue;
            }
            let negated = c == '-' && text[start + 1..].chars().next().is_some_and(|n| !n.is_whitespace());
            if negated {
                chars.next();
            }
            let (token, quoted) = read_token(text, &mut chars);
            if token.is_empty() {
                continue;
            }
            last_was_word = false;
            if !quoted && let Some((name, value)) = token.split_once(':') {
                let value = unquote(value);
                let list = match name.to_lowercase().as_str() {
                    "label" | "labels" => Some(&mut q.labels),
                    "space" => Some(&mut q.spaces),
                    "title" => Some(&mut q.titles),
                    _ => None,
                };
                if let Some(list) = list {
                    if value.is_empty() {
                        continue; // `label:` being typed: no filter yet
                    }
                    if negated {
                        // `-label:x` and friends exclude: only words can be excluded by text.
                        q.excluded.push(value.to_owned());
                    } else {
                        list.push(value.to_owned());
                    }
                    continue;
                }
            }
            match (negated, quoted) {
                (true, _) => q.excluded.push(token),
                (false, true) => q.phrases.push(token),
                (false, false) => {
                    q.words.push(token);
                    last_was_word = true;
                }
            }
        }
        // A trailing space means the last word is finished.
        q.prefix = last_was_word && !text.ends_with(char::is_whitespace);
        q
    }

    /// Whether the query has anything that ranks (words or phrases), not only filters.
    pub fn has_text(&self) -> bool {
        !self.words.is_empty() || !self.phrases.is_empty() || !self.titles.is_empty()
    }
}

/// Reads one token: a quoted phrase, or a run of non-space characters (a `name:"quoted value"`
/// stays one token). Returns the token and whether it was a quoted phrase.
fn read_token(text: &str, chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> (String, bool) {
    let Some(&(start, first)) = chars.peek() else { return (String::new(), false) };
    if first == '"' {
        chars.next();
        let mut end = text.len();
        for (i, c) in chars.by_ref() {
            if c == '"' {
                end = i;
                break;
            }
        }
        return (text[start + 1..end].trim().to_owned(), true);
    }
    let mut end = text.len();
    let mut in_quotes = false;
    while let Some(&(i, c)) = chars.peek() {
        if c == '"' {
            in_quotes = !in_quotes;
        } else if c.is_whitespace() && !in_quotes {
            end = i;
            break;
        }
        chars.next();
    }
    (text[start..end].to_owned(), false)
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    v.strip_prefix('"').map(|v| v.strip_suffix('"').unwrap_or(v)).unwrap_or(v).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_words_phrases_exclusions_and_filters() {
        let q = UserQuery::parse(r#"deploy "blue green" -staging label:adr space:ENG title:"token refresh" rollb"#);
        assert_eq!(q.words, ["deploy", "rollb"]);
        assert_eq!(q.phrases, ["blue green"]);
        assert_eq!(q.excluded, ["staging"]);
        assert_eq!(q.labels, ["adr"]);
        assert_eq!(q.spaces, ["ENG"]);
        assert_eq!(q.titles, ["token refresh"]);
        assert!(q.prefix);
        assert!(!UserQuery::parse("deploy ").prefix);
        assert!(!UserQuery::parse("\"blue green\"").prefix);
    }

    #[test]
    fn odd_input_is_words_never_an_error() {
        let cases =
            ["", "   ", "\"", "-", "- x", "label:", "http://example.com", "a:b:c", "\"unclosed phrase", "-\"x y\""];
        for case in cases {
            let _ = UserQuery::parse(case);
        }
        assert_eq!(UserQuery::parse("http://example.com").words, ["http://example.com"]);
        assert_eq!(UserQuery::parse("\"unclosed phrase").phrases, ["unclosed phrase"]);
        assert_eq!(UserQuery::parse("-\"x y\"").excluded, ["x y"]);
        assert_eq!(UserQuery::parse("- x").words, ["-", "x"]);
        assert!(!UserQuery::parse("label:").has_text());
    }
}
