//! Who is editing: `--user`, else `$CONFLUENCE_DO_USER`, else the wiki's config, else git's
//! `user.name`/`user.email`. Every commit is authored by that person.

use cdo_core::model::Author;

use crate::home::Home;
use crate::wiki::WikiError;

/// The environment variable naming the editor as `Name <email>`.
pub const USER_ENV: &str = "CONFLUENCE_DO_USER";

/// Resolves who is editing.
pub fn resolve(explicit: Option<&str>, home: &Home) -> Result<Author, WikiError> {
    let parse = |text: &str, from: &str| {
        Author::parse(text).ok_or_else(|| WikiError::Invalid(format!("{from}: `{text}` is not `Name <email>`")))
    };
    if let Some(text) = explicit {
        return parse(text, "--user");
    }
    if let Some(text) = std::env::var(USER_ENV).ok().filter(|v| !v.trim().is_empty()) {
        return parse(&text, USER_ENV);
    }
    if let Some(user) = home.config()?.user {
        return Ok(Author { name: user.name, email: user.email });
    }
    if let Ok(config) = git2::Config::open_default()
        && let (Ok(name), Ok(email)) = (config.get_string("user.name"), config.get_string("user.email"))
        && !email.trim().is_empty()
    {
        return Ok(Author { name, email });
    }
    Err(WikiError::Invalid(format!(
        "who is editing? pass --user \"Name <email>\", set {USER_ENV}, or run `git config --global user.email you@example.com`"
    )))
}

/// [`resolve`] for a server or the desktop app, which must start even when nobody is configured:
/// then edits are by a placeholder person until the user says who they are.
pub fn resolve_or_placeholder(explicit: Option<&str>, home: &Home) -> Author {
    resolve(explicit, home)
        .unwrap_or_else(|_| Author { name: "confluence.do".into(), email: "local@confluence.do".into() })
}
