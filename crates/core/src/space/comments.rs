//! Comments: `_comments/<page id>.yaml` beside the pages, shared through git like them. Each
//! comment has a stable decimal id, an author, a time, a Markdown body, an optional parent (a
//! reply) and optional inline anchor (the text it was made on).

use serde::{Deserialize, Serialize};

use super::Space;
use crate::error::SpaceError;
use crate::model::{Author, PageId};
use crate::store::Change;

/// One comment on a page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: PageId,
    /// `Name <email>`.
    pub author: String,
    /// RFC 3339.
    pub created: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<PageId>,
    /// The text of the page an inline comment was made on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
}

/// A comment to add.
#[derive(Clone, Debug, Default)]
pub struct NewComment {
    pub body: String,
    pub parent: Option<PageId>,
    pub inline: Option<String>,
}

/// The comments file of a page, relative to the space root.
pub fn comments_path(id: &PageId) -> String {
    format!("_comments/{id}.yaml")
}

impl Space {
    /// The comments on a page, oldest first. A broken comments file is an error that names it
    /// (it is never rewritten behind the user's back).
    pub fn comments(&mut self, id: &PageId) -> Result<Vec<Comment>, SpaceError> {
        self.node(id)?;
        self.read_comments(id)
    }

    fn read_comments(&self, id: &PageId) -> Result<Vec<Comment>, SpaceError> {
        let path = self.root().join(comments_path(id));
        match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().is_empty() => Ok(Vec::new()),
            Ok(text) => yaml_serde::from_str(&text)
                .map_err(|e| SpaceError::Invalid(format!("{}: {e}; fix the YAML by hand", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(SpaceError::Io { path, source: e }),
        }
    }

    /// Adds a comment to a page: one commit.
    pub fn add_comment(&mut self, id: &PageId, new: &NewComment, author: &Author) -> Result<Comment, SpaceError> {
        if new.body.trim().is_empty() {
            return Err(SpaceError::Invalid("a comment needs some text".into()));
        }
        let title = self.node(id)?.title;
        let now = jiff::Timestamp::now();
        let comment = Comment {
            id: PageId::random(),
            author: format!("{} <{}>", author.name, author.email),
            created: crate::model::format_time(now.as_second(), 0),
            body: new.body.clone(),
            parent: new.parent.clone(),
            inline: new.inline.clone(),
        };
        let added = comment.clone();
        self.write(author, |s| {
            let mut all = s.read_comments(id)?;
            if let Some(parent) = &added.parent
                && !all.iter().any(|c| &c.id == parent)
            {
                return Err(SpaceError::CommentNotFound(parent.to_string()));
            }
            all.push(added);
            let text = yaml_serde::to_string(&all).map_err(|e| SpaceError::Invalid(format!("comments: {e}")))?;
            Ok(Change {
                message: format!("Comment on \"{title}\""),
                writes: vec![(comments_path(id), text.into_bytes())],
                ..Default::default()
            })
        })?;
        Ok(comment)
    }

    /// Removes a comment (and its replies): one commit.
    pub fn delete_comment(&mut self, id: &PageId, comment: &PageId, author: &Author) -> Result<(), SpaceError> {
        let title = self.node(id)?.title;
        self.write(author, |s| {
            let mut all = s.read_comments(id)?;
            if !all.iter().any(|c| &c.id == comment) {
                return Err(SpaceError::CommentNotFound(comment.to_string()));
            }
            let mut gone = vec![comment.clone()];
            while let Some(reply) =
                all.iter().find(|c| c.parent.as_ref().is_some_and(|p| gone.contains(p)) && !gone.contains(&c.id))
            {
                gone.push(reply.id.clone());
            }
            all.retain(|c| !gone.contains(&c.id));
            let path = comments_path(id);
            let change = if all.is_empty() {
                Change { removes: vec![path], ..Default::default() }
            } else {
                let text = yaml_serde::to_string(&all).map_err(|e| SpaceError::Invalid(format!("comments: {e}")))?;
                Change { writes: vec![(path, text.into_bytes())], ..Default::default() }
            };
            Ok(Change { message: format!("Delete a comment on \"{title}\""), ..change })
        })?;
        Ok(())
    }

    /// Finds the page a comment belongs to.
    pub fn find_comment(&mut self, comment: &PageId) -> Result<(PageId, Comment), SpaceError> {
        let dir = self.root().join("_comments");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Err(SpaceError::CommentNotFound(comment.to_string()));
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(page) = name.to_str().and_then(|n| n.strip_suffix(".yaml")).and_then(PageId::parse) else {
                continue;
            };
            if let Ok(all) = self.read_comments(&page)
                && let Some(found) = all.into_iter().find(|c| &c.id == comment)
            {
                return Ok((page, found));
            }
        }
        Err(SpaceError::CommentNotFound(comment.to_string()))
    }
}
