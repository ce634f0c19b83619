//! Attachments: files in the folder beside their page (`guide.md` → `guide.attachments/`).
//! Adding, replacing and removing one is a commit like any page edit; versions come from git.

use super::Space;
use crate::error::SpaceError;
use crate::model::{Author, PageId};
use crate::store::{Change, StoreError};

/// One attached file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub size: u64,
    /// Path relative to the space root.
    pub path: String,
    /// A media type guessed from the file name.
    pub media_type: &'static str,
}

/// The longest attachment name accepted, in bytes (a file name limit on every OS).
const MAX_NAME_BYTES: usize = 200;

/// Checks an attachment file name: one portable path component.
pub fn check_attachment_name(name: &str) -> Result<String, SpaceError> {
    let name = name.trim();
    let bad = |why: &str| Err(SpaceError::Invalid(format!("`{name}` cannot be an attachment name: {why}")));
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad("it is longer than 200 bytes");
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return bad("it must be a file name, not a path");
    }
    if name.starts_with('.') {
        return bad("names starting with `.` are hidden files");
    }
    if name.chars().any(|c| c.is_control() || matches!(c, ':' | '?' | '*' | '"' | '<' | '>' | '|')) {
        return bad("it contains a character Windows cannot store (: ? * \" < > | or a control character)");
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return bad("it ends with a dot or a space");
    }
    let stem = name.split('.').next().unwrap_or("").to_ascii_lowercase();
    if matches!(stem.as_str(), "con" | "prn" | "aux" | "nul")
        || (stem.len() == 4
            && (stem.starts_with("com") || stem.starts_with("lpt"))
            && stem.as_bytes()[3].is_ascii_digit())
    {
        return bad("it is a reserved device name on Windows");
    }
    Ok(name.to_owned())
}

/// A media type from a file name's extension.
pub fn media_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "html" | "htm" => "text/html",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => "application/octet-stream",
    }
}

impl Space {
    /// The attachments folder of a page, relative to the space root.
    pub fn attachments_dir(&mut self, id: &PageId) -> Result<String, SpaceError> {
        Ok(format!("{}.attachments", self.node(id)?.stem))
    }

    /// The files attached to a page, by name.
    pub fn attachments(&mut self, id: &PageId) -> Result<Vec<Attachment>, SpaceError> {
        let dir = self.attachments_dir(id)?;
        let full = self.root().join(&dir);
        let entries = match std::fs::read_dir(&full) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(SpaceError::Io { path: full, source: e }),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(SpaceError::io(&full))?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() || name.starts_with('.') {
                continue;
            }
            out.push(Attachment {
                path: format!("{dir}/{name}"),
                size: meta.len(),
                media_type: media_type(&name),
                name,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The bytes of an attachment.
    pub fn attachment(&mut self, id: &PageId, name: &str) -> Result<Vec<u8>, SpaceError> {
        let name = check_attachment_name(name)?;
        let dir = self.attachments_dir(id)?;
        let path = self.root().join(dir).join(&name);
        std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SpaceError::AttachmentNotFound { page: id.to_string(), name },
            _ => SpaceError::Io { path, source: e },
        })
    }

    /// Attaches a file to a page, or replaces the file of that name: one commit.
    pub fn put_attachment(
        &mut self,
        id: &PageId,
        name: &str,
        bytes: Vec<u8>,
        author: &Author,
    ) -> Result<Attachment, SpaceError> {
        let name = check_attachment_name(name)?;
        let dir = self.attachments_dir(id)?;
        let path = format!("{dir}/{name}");
        let title = self.node(id)?.title;
        let exists = self.root().join(&path).is_file();
        let size = bytes.len() as u64;
        self.write(author, |_| {
            let message = if exists {
                format!("Update attachment \"{name}\" of \"{title}\"")
            } else {
                format!("Attach \"{name}\" to \"{title}\"")
            };
            Ok(Change { message, writes: vec![(path.clone(), bytes)], ..Default::default() })
        })?;
        Ok(Attachment { media_type: media_type(&name), name, size, path })
    }

    /// Removes an attachment: one commit.
    pub fn delete_attachment(&mut self, id: &PageId, name: &str, author: &Author) -> Result<(), SpaceError> {
        let name = check_attachment_name(name)?;
        let dir = self.attachments_dir(id)?;
        let path = format!("{dir}/{name}");
        if !self.root().join(&path).is_file() {
            return Err(SpaceError::AttachmentNotFound { page: id.to_string(), name });
        }
        let title = self.node(id)?.title;
        self.write(author, |_| {
            let message = format!("Remove attachment \"{name}\" from \"{title}\"");
            Ok(Change { message, removes: vec![path.clone()], ..Default::default() })
        })?;
        Ok(())
    }

    /// How many commits changed a file (its version, as Confluence counts attachment versions);
    /// at least 1 for a file that exists but was never committed.
    pub fn file_versions(&self, path: &str) -> Result<u32, SpaceError> {
        let store = self.store();
        let Some(head) = store.head()? else { return Ok(1) };
        let repo = store.repo();
        let git = |source| StoreError::Git { context: "walking the history of an attachment".into(), source };
        let mut walk = repo.revwalk().map_err(git)?;
        walk.push(head.id()).map_err(git)?;
        let mut versions = 0u32;
        for oid in walk {
            let Ok(oid) = oid else { continue };
            let Ok(commit) = repo.find_commit(oid) else { continue };
            let here = store.entry_at(&commit, path)?.map(|(o, _)| o);
            let Some(here) = here else { continue };
            let before = match commit.parent(0) {
                Ok(parent) => store.entry_at(&parent, path)?.map(|(o, _)| o),
                Err(_) => None,
            };
            if before != Some(here) {
                versions += 1;
            }
        }
        Ok(versions.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for ok in ["diagram.png", "Report 2024 (final).pdf", "ünïcode.txt"] {
            assert_eq!(check_attachment_name(ok).expect(ok), ok);
        }
        for bad in ["", "../x", "a/b", ".hidden", "con.txt", "COM1", "a:b", "x.", "a\nb"] {
            assert!(check_attachment_name(bad).is_err(), "{bad:?}");
        }
    }
}
