//! What a launch asks for: its command line (`confluence-do-desktop [--demo] [PATH | LINK]`),
//! or the one a second launch forwards to the running app. Pure: no window, no disk.

use std::path::{Path, PathBuf};

use cdo_core::links::percent_decode as decode;

/// The scheme of links that open pages in the app (registered by the packages).
pub const SCHEME: &str = "confluence-do";

/// One thing a launch asks the app to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Show a page (`confluence-do://page/ID` or `confluence-do://page/KEY/Title`).
    Page(PageLink),
    /// Open (and register) a space folder.
    Folder(PathBuf),
    /// A link or argument that cannot be understood, with why.
    Invalid(String),
}

/// The page a link names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageLink {
    pub target: Target,
    /// A heading anchor within the page (`#section`).
    pub anchor: Option<String>,
}

/// How a link names its page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Id(String),
    Title { key: String, title: String },
}

impl PageLink {
    /// The page reference the wiki resolves: an id, or `KEY:Title`.
    pub fn reference(&self) -> String {
        match &self.target {
            Target::Id(id) => id.clone(),
            Target::Title { key, title } => format!("{key}:{title}"),
        }
    }

    /// What to search for when no page answers the link.
    pub fn search_words(&self) -> &str {
        match &self.target {
            Target::Id(id) => id,
            Target::Title { title, .. } => title,
        }
    }
}

/// What a command line asks for, in order; `args` includes the program name first, as
/// `std::env::args` gives it. `--demo` and other flags are the caller's.
pub fn parse_args(args: &[String], cwd: &Path) -> Vec<Request> {
    args.iter()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(|arg| {
            if arg.len() > SCHEME.len()
                && arg[..SCHEME.len()].eq_ignore_ascii_case(SCHEME)
                && arg[SCHEME.len()..].starts_with(':')
            {
                match parse_link(arg) {
                    Ok(link) => Request::Page(link),
                    Err(why) => Request::Invalid(why),
                }
            } else if let Some(local) = arg.strip_prefix("file://") {
                // What a file manager hands the desktop entry's `%u` for a folder.
                match local.strip_prefix("localhost").unwrap_or(local) {
                    path if path.starts_with('/') => Request::Folder(PathBuf::from(decode(path))),
                    _ => Request::Invalid(format!("{arg} is not a folder on this computer")),
                }
            } else {
                let path = Path::new(arg);
                Request::Folder(if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) })
            }
        })
        .collect()
}

/// Parses `confluence-do://page/ID[#anchor]` or `confluence-do://page/KEY/Title[#anchor]`
/// (the title percent-encoded, `/` in it included).
pub fn parse_link(text: &str) -> Result<PageLink, String> {
    let bad = |why: &str| format!("{text} is not a confluence.do link: {why}; links look like {SCHEME}://page/ID");
    let rest = text.get(SCHEME.len() + 1..).ok_or_else(|| bad("too short"))?;
    let rest = rest.strip_prefix("//").ok_or_else(|| bad("no // after the scheme"))?;
    let (rest, anchor) = match rest.split_once('#') {
        Some((r, a)) => (r, Some(decode(a)).filter(|a| !a.is_empty())),
        None => (rest, None),
    };
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    let (kind, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !kind.eq_ignore_ascii_case("page") {
        return Err(bad(&format!("it names `{kind}`, and only pages can be opened")));
    }
    let path = path.trim_matches('/');
    let (first, title) = match path.split_once('/') {
        Some((first, title)) => (decode(first), Some(decode(title))),
        None => (decode(path), None),
    };
    let target = match title {
        None if !first.is_empty() && first.len() <= 19 && first.bytes().all(|b| b.is_ascii_digit()) => {
            Target::Id(first)
        }
        None if first.is_empty() => return Err(bad("it names no page")),
        None => return Err(bad("a page is named by its id (digits) or by KEY/Title")),
        Some(title) => {
            let key_ok = first.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && first.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !key_ok {
                return Err(bad(&format!("`{first}` is not a space key")));
            }
            if title.trim().is_empty() {
                return Err(bad("the title is empty"));
            }
            Target::Title { key: first.to_ascii_uppercase(), title }
        }
    };
    Ok(PageLink { target, anchor })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(id: &str, anchor: Option<&str>) -> Result<PageLink, ()> {
        Ok(PageLink { target: Target::Id(id.into()), anchor: anchor.map(str::to_owned) })
    }
    fn titled(key: &str, title: &str) -> Result<PageLink, ()> {
        Ok(PageLink { target: Target::Title { key: key.into(), title: title.into() }, anchor: None })
    }

    #[test]
    fn links() {
        let cases: &[(&str, Result<PageLink, ()>)] = &[
            ("confluence-do://page/1000000000031", id("1000000000031", None)),
            ("confluence-do://page/1000000000031/", id("1000000000031", None)),
            ("CONFLUENCE-DO://Page/42", id("42", None)),
            ("confluence-do://page/42#rollback-steps", id("42", Some("rollback-steps"))),
            ("confluence-do://page/42?from=chat", id("42", None)),
            ("confluence-do://page/ENG/Deployment%20Guide", titled("ENG", "Deployment Guide")),
            ("confluence-do://page/eng/Deployment Guide", titled("ENG", "Deployment Guide")),
            ("confluence-do://page/ENG/CI%2FCD", titled("ENG", "CI/CD")),
            ("confluence-do://page/ENG/CI/CD", titled("ENG", "CI/CD")),
            ("confluence-do://page/ENG/Caf%C3%A9", titled("ENG", "Café")),
            ("confluence-do://page/ENG/100%", titled("ENG", "100%")),
            ("confluence-do://page/", Err(())),
            ("confluence-do://page/abc", Err(())),
            ("confluence-do://page/12345678901234567890", Err(())),
            ("confluence-do://space/ENG", Err(())),
            ("confluence-do:page/42", Err(())),
            ("confluence-do://page/1x/Title", Err(())),
            ("confluence-do://page/ENG/%20", Err(())),
        ];
        for (text, want) in cases {
            let got = parse_link(text).map_err(|why| {
                assert!(why.contains(text) && why.contains("confluence-do://page/ID"), "{why}");
            });
            assert_eq!(&got, want, "{text}");
        }
    }

    #[test]
    fn command_lines() {
        let cwd = Path::new("/home/ada");
        let args = |a: &[&str]| -> Vec<String> {
            std::iter::once("confluence-do-desktop").chain(a.iter().copied()).map(str::to_owned).collect()
        };
        assert_eq!(parse_args(&args(&[]), cwd), vec![]);
        assert_eq!(parse_args(&args(&["--demo"]), cwd), vec![]);
        assert_eq!(parse_args(&args(&["notes"]), cwd), vec![Request::Folder("/home/ada/notes".into())]);
        assert_eq!(parse_args(&args(&["/srv/docs"]), cwd), vec![Request::Folder("/srv/docs".into())]);
        assert_eq!(
            parse_args(&args(&["confluence-do://page/42"]), cwd),
            vec![Request::Page(PageLink { target: Target::Id("42".into()), anchor: None })]
        );
        assert!(matches!(parse_args(&args(&["confluence-do://nope"]), cwd).as_slice(), [Request::Invalid(_)]));
        assert_eq!(
            parse_args(&args(&["file:///srv/team%20docs", "file://localhost/srv/wiki"]), cwd),
            vec![Request::Folder("/srv/team docs".into()), Request::Folder("/srv/wiki".into())]
        );
        assert!(matches!(parse_args(&args(&["file://fileserver/share"]), cwd).as_slice(), [Request::Invalid(_)]));
        assert_eq!(
            PageLink { target: Target::Title { key: "ENG".into(), title: "Deployment Guide".into() }, anchor: None }
                .reference(),
            "ENG:Deployment Guide"
        );
    }
}
