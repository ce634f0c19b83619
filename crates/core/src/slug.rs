//! File names from titles: portable to Windows, macOS and Linux, whatever the title holds.
//!
//! The title lives in frontmatter, so the slug only has to be safe and readable; it never has to
//! round-trip.

/// Longest slug in bytes; leaves room for deep folders under Windows' 260-character paths.
const MAX_LEN: usize = 60;

/// Names Windows reserves in every folder, with or without an extension.
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com0", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt0",
    "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9", "conin$", "conout$",
];

/// The file stem for a title: ASCII lower-case words joined by `-`, never empty, never reserved.
pub fn slugify(title: &str) -> String {
    let ascii = deunicode::deunicode(title);
    let mut slug = String::with_capacity(ascii.len().min(MAX_LEN));
    let mut dash = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
        if slug.len() >= MAX_LEN {
            break;
        }
    }
    slug.truncate(MAX_LEN);
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        slug.push_str("page");
    }
    if RESERVED.contains(&slug.as_str()) {
        slug.push_str("-page");
    }
    slug
}

/// `base`, or `base-2`, `base-3`... whichever `taken` first says is free.
pub fn unique(base: &str, mut taken: impl FnMut(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_owned();
    }
    (2u32..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| format!("{base}-{}", fastrand::u64(..)))
}

/// Whether a path component is one confluence.do would write: what a slug is made of.
pub fn is_safe_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_and_readable() {
        let cases = [
            ("Authentication Architecture", "authentication-architecture"),
            ("../../etc/passwd", "etc-passwd"),
            ("a/b:c", "a-b-c"),
            ("con", "con-page"),
            ("COM1", "com1-page"),
            ("", "page"),
            ("...", "page"),
            ("Café crème", "cafe-creme"),
            ("ADR 7: Use JWT", "adr-7-use-jwt"),
        ];
        for (title, want) in cases {
            assert_eq!(slugify(title), want, "title {title:?}");
        }
    }

    #[test]
    fn long_and_emoji_titles() {
        let long = "word ".repeat(100);
        let slug = slugify(&long);
        assert!(slug.len() <= MAX_LEN && !slug.ends_with('-'), "{slug}");
        let emoji = slugify("🚀🎉");
        assert!(!emoji.is_empty() && emoji.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        let cjk = slugify("認証アーキテクチャ");
        assert!(cjk.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'), "{cjk}");
    }

    #[test]
    fn unique_appends_counters() {
        let taken = ["a", "a-2"];
        assert_eq!(unique("a", |s| taken.contains(&s)), "a-3");
        assert_eq!(unique("b", |s| taken.contains(&s)), "b");
    }
}
