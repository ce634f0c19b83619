//! Git sync of a space: commit edits left on disk, fetch, merge, push.
//!
//! - Pages changed on both sides merge line-wise, then character-wise inside lines both changed
//!   ([`merge3`]); what still overlaps keeps both versions between markers, and is listed.
//!   Frontmatter merges the same way; if it overlaps, the local frontmatter stays and the
//!   remote's is kept, marked, at the top of the body. A page deleted on one side and changed on
//!   the other is kept. A binary file changed on both sides keeps the local one and the remote's
//!   beside it (`name.remote.ext`).
//! - The repository is never mid-merge: the merge commit is built in the object database, the
//!   files are written, and only then the branch moves (a crash in between leaves the merged
//!   files as uncommitted edits, which the next sync commits).
//! - A push that loses a race fetches and merges again (three tries). A network failure leaves
//!   local work committed and reports what is queued.
//!
//! The whole sync holds the space's write lock.

use std::path::Path;

use cdo_core::{Author, Space, SpaceError};
use git2::{Oid, Repository, Signature};

use crate::merge::{Labels, merge3};

#[derive(Debug, thiserror::Error)]
pub enum GitSyncError {
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    #[error("{0}")]
    Space(#[from] SpaceError),
    #[error("the space has no remote `{0}`; add one with `git -C <space> remote add {0} <url>`")]
    NoRemote(String),
    #[error("the space is not on a branch (detached HEAD); check out a branch first")]
    Detached,
    #[error("the remote kept refusing the push after {0} merges; try again")]
    Race(usize),
}

/// What a sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub branch: String,
    /// Edits found on disk and committed first.
    pub committed_local: bool,
    /// Whether the remote could be reached; if not, `error` says why.
    pub reached: bool,
    pub error: Option<String>,
    /// Nothing new on either side.
    pub up_to_date: bool,
    pub fast_forward: bool,
    /// A merge commit was made.
    pub merged: bool,
    pub pushed: bool,
    /// Local commits the remote does not have (after the sync).
    pub queued: usize,
    /// Pages with overlapping edits kept between markers, with how many places each.
    pub conflicts: Vec<(String, usize)>,
}

fn labels(remote: &str, branch: &str) -> (String, String) {
    ("local".to_owned(), format!("{remote}/{branch}"))
}

fn callbacks<'a>() -> git2::RemoteCallbacks<'a> {
    cdo_core::store::remote_callbacks()
}

/// Whether the repository holding `root` has the remote `name` (only such spaces sync).
pub fn has_remote(root: &Path, name: &str) -> bool {
    Repository::discover(root).is_ok_and(|r| r.find_remote(name).is_ok())
}

/// Syncs `space` with `remote` (usually `origin`).
pub fn sync(space: &mut Space, remote: &str, author: &Author) -> Result<SyncReport, GitSyncError> {
    let report = {
        let _lock = space.store().lock().map_err(SpaceError::from)?;
        let repo = Repository::discover(space.root())?;
        sync_locked(&repo, remote, author)?
    };
    space.sync_with_head()?;
    Ok(report)
}

fn sync_locked(repo: &Repository, remote_name: &str, author: &Author) -> Result<SyncReport, GitSyncError> {
    let head = repo.head()?;
    if !head.is_branch() {
        return Err(GitSyncError::Detached);
    }
    let branch = head.shorthand().unwrap_or("main").to_owned();
    let branch_ref = head.name().unwrap_or("refs/heads/main").to_owned();
    let mut report = SyncReport { branch: branch.clone(), ..SyncReport::default() };
    let sig = Signature::now(&author.name, &author.email)?;
    report.committed_local = commit_worktree(repo, &sig)?;
    let mut remote = repo.find_remote(remote_name).map_err(|_| GitSyncError::NoRemote(remote_name.to_owned()))?;
    let tracking = format!("refs/remotes/{remote_name}/{branch}");
    const TRIES: usize = 3;
    for _ in 0..TRIES {
        let mut fetch = git2::FetchOptions::new();
        fetch.remote_callbacks(callbacks());
        let refspec = format!("+refs/heads/{branch}:{tracking}");
        if let Err(e) = remote.fetch(&[refspec.as_str()], Some(&mut fetch), None) {
            report.error = Some(format!("could not reach `{remote_name}`: {}", e.message()));
            report.queued = ahead(repo, &branch_ref, &tracking)?;
            return Ok(report);
        }
        report.reached = true;
        let local = repo.refname_to_id(&branch_ref)?;
        let theirs = repo.refname_to_id(&tracking).ok();
        if let Some(theirs) = theirs
            && theirs != local
            && !repo.graph_descendant_of(local, theirs)?
        {
            if repo.graph_descendant_of(theirs, local)? {
                checkout(repo, theirs)?;
                repo.reference(&branch_ref, theirs, true, &format!("confluence-do sync: fast-forward to {tracking}"))?;
                report.fast_forward = true;
            } else {
                let (commit, conflicts) = merge(repo, local, theirs, &sig, remote_name, &branch)?;
                checkout(repo, commit)?;
                repo.reference(&branch_ref, commit, true, &format!("confluence-do sync: merge {tracking}"))?;
                report.merged = true;
                report.conflicts.extend(conflicts);
            }
        }
        let local = repo.refname_to_id(&branch_ref)?;
        if theirs == Some(local) {
            report.up_to_date = !report.fast_forward && !report.merged && !report.committed_local;
            report.queued = 0;
            return Ok(report);
        }
        match push(&mut remote, &branch_ref) {
            Ok(()) => {
                report.pushed = true;
                repo.reference(&tracking, local, true, "confluence-do sync: pushed")?;
                report.queued = 0;
                return Ok(report);
            }
            Err(PushError::Rejected) => continue,
            Err(PushError::Failed(e)) => {
                report.error = Some(format!("could not push to `{remote_name}`: {e}"));
                report.queued = ahead(repo, &branch_ref, &tracking)?;
                return Ok(report);
            }
        }
    }
    Err(GitSyncError::Race(TRIES))
}

enum PushError {
    Rejected,
    Failed(String),
}

fn push(remote: &mut git2::Remote<'_>, branch_ref: &str) -> Result<(), PushError> {
    let rejected = std::cell::RefCell::new(None::<String>);
    let spec = format!("{branch_ref}:{branch_ref}");
    let result = {
        let mut cb = callbacks();
        cb.push_update_reference(|_, status| {
            if let Some(s) = status {
                *rejected.borrow_mut() = Some(s.to_owned());
            }
            Ok(())
        });
        let mut options = git2::PushOptions::new();
        options.remote_callbacks(cb);
        remote.push(&[spec.as_str()], Some(&mut options))
    };
    match result {
        Ok(()) => match rejected.into_inner() {
            Some(_) => Err(PushError::Rejected),
            None => Ok(()),
        },
        Err(e) if e.code() == git2::ErrorCode::NotFastForward => Err(PushError::Rejected),
        Err(e) => Err(PushError::Failed(e.message().to_owned())),
    }
}

/// Local commits not on the remote-tracking branch.
fn ahead(repo: &Repository, branch_ref: &str, tracking: &str) -> Result<usize, git2::Error> {
    let local = repo.refname_to_id(branch_ref)?;
    match repo.refname_to_id(tracking) {
        Ok(theirs) => Ok(repo.graph_ahead_behind(local, theirs)?.0),
        Err(_) => {
            let mut walk = repo.revwalk()?;
            walk.push(local)?;
            Ok(walk.count())
        }
    }
}

/// Commits whatever differs on disk from HEAD (edits made outside the app); `true` if it did.
fn commit_worktree(repo: &Repository, sig: &Signature<'_>) -> Result<bool, git2::Error> {
    let mut options = git2::StatusOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
    if repo.statuses(Some(&mut options))?.is_empty() {
        return Ok(false);
    }
    let mut index = repo.index()?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    index.update_all(["*"], None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let parent = repo.head()?.peel_to_commit()?;
    if parent.tree_id() == tree.id() {
        return Ok(false);
    }
    repo.commit(Some("HEAD"), sig, sig, "Commit edits made on disk (before sync)", &tree, &[&parent])?;
    Ok(true)
}

/// Writes the files of `commit` over the working tree (which matches HEAD) and the index.
fn checkout(repo: &Repository, commit: Oid) -> Result<(), git2::Error> {
    let tree = repo.find_commit(commit)?.into_object();
    let mut options = git2::build::CheckoutBuilder::new();
    options.safe().recreate_missing(true);
    repo.checkout_tree(&tree, Some(&mut options))
}

/// The merge commit of `ours` and `theirs`, and the pages left with conflicts.
fn merge(
    repo: &Repository,
    ours: Oid,
    theirs: Oid,
    sig: &Signature<'_>,
    remote: &str,
    branch: &str,
) -> Result<(Oid, Vec<(String, usize)>), GitSyncError> {
    let base = repo.merge_base(ours, theirs)?;
    let (oc, tc) = (repo.find_commit(ours)?, repo.find_commit(theirs)?);
    let base_tree = repo.find_commit(base)?.tree()?;
    let mut index = repo.merge_trees(&base_tree, &oc.tree()?, &tc.tree()?, None)?;
    let (ours_label, theirs_label) = labels(remote, branch);
    let labels = Labels { ours: &ours_label, theirs: &theirs_label };
    let mut conflicts = Vec::new();
    if index.has_conflicts() {
        let list: Vec<git2::IndexConflict> = index.conflicts()?.collect::<Result<_, _>>()?;
        for c in list {
            let Some(any) = c.our.as_ref().or(c.their.as_ref()).or(c.ancestor.as_ref()) else { continue };
            let path = String::from_utf8_lossy(&any.path).into_owned();
            let content = |e: &Option<git2::IndexEntry>| -> Result<Option<Vec<u8>>, git2::Error> {
                match e {
                    Some(e) => Ok(Some(repo.find_blob(e.id)?.content().to_vec())),
                    None => Ok(None),
                }
            };
            let (b, o, t) = (content(&c.ancestor)?, content(&c.our)?, content(&c.their)?);
            index.conflict_remove(Path::new(&path))?;
            match (o, t) {
                (Some(o), Some(t)) => {
                    let entry = stage0(c.our.as_ref().or(c.their.as_ref()).unwrap_or(any), &path);
                    let texts = (
                        std::str::from_utf8(b.as_deref().unwrap_or(b"")).ok(),
                        std::str::from_utf8(&o).ok(),
                        std::str::from_utf8(&t).ok(),
                    );
                    if let (Some(bt), Some(ot), Some(tt)) = texts {
                        let (text, n) = if path.ends_with(".md") {
                            merge_page(bt, ot, tt, labels)
                        } else {
                            merge_text(bt, ot, tt, labels)
                        };
                        put(repo, &mut index, &entry, text.as_bytes())?;
                        if n > 0 {
                            conflicts.push((path.clone(), n));
                        }
                    } else {
                        // Binary on both sides: ours stays, theirs beside it.
                        put(repo, &mut index, &entry, &o)?;
                        let side = stage0(&entry, &beside_name(&path, remote));
                        put(repo, &mut index, &side, &t)?;
                        conflicts.push((path.clone(), 1));
                    }
                }
                // Changed on one side, deleted on the other: the changed one is kept.
                (Some(kept), None) | (None, Some(kept)) => {
                    let entry = stage0(c.our.as_ref().or(c.their.as_ref()).unwrap_or(any), &path);
                    put(repo, &mut index, &entry, &kept)?;
                }
                (None, None) => {}
            }
        }
    }
    let tree = repo.find_tree(index.write_tree_to(repo)?)?;
    let mut message = format!("Merge {remote}/{branch} (confluence-do sync)");
    if !conflicts.is_empty() {
        message.push_str("\n\nOverlapping edits kept between markers in:\n");
        for (p, n) in &conflicts {
            message.push_str(&format!("  {p} ({n})\n"));
        }
    }
    let commit = repo.commit(None, sig, sig, &message, &tree, &[&oc, &tc])?;
    Ok((commit, conflicts))
}

/// Writes `bytes` as a blob and puts it in the (in-memory) merge index as `entry`.
fn put(repo: &Repository, index: &mut git2::Index, entry: &git2::IndexEntry, bytes: &[u8]) -> Result<(), git2::Error> {
    let mut entry = stage0(entry, &String::from_utf8_lossy(&entry.path));
    entry.id = repo.blob(bytes)?;
    entry.file_size = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    index.add(&entry)
}

/// An index entry for `path` like `like` (mode and all), at stage 0.
fn stage0(like: &git2::IndexEntry, path: &str) -> git2::IndexEntry {
    git2::IndexEntry {
        ctime: like.ctime,
        mtime: like.mtime,
        dev: like.dev,
        ino: like.ino,
        mode: like.mode,
        uid: like.uid,
        gid: like.gid,
        file_size: like.file_size,
        id: like.id,
        flags: u16::try_from(path.len().min(0xfff)).unwrap_or(0xfff),
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

fn beside_name(path: &str, remote: &str) -> String {
    let (stem, ext) = match path.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() && !e.contains('/') => (s, format!(".{e}")),
        _ => (path, String::new()),
    };
    format!("{stem}.{remote}{ext}")
}

fn merge_text(base: &str, ours: &str, theirs: &str, labels: Labels<'_>) -> (String, usize) {
    let m = merge3(base, ours, theirs, labels);
    (m.text, m.conflicts.len())
}

/// A page: frontmatter and body merged apart, so markers never break the YAML.
pub fn merge_page(base: &str, ours: &str, theirs: &str, labels: Labels<'_>) -> (String, usize) {
    let (b, o, t) =
        (cdo_core::frontmatter::split(base), cdo_core::frontmatter::split(ours), cdo_core::frontmatter::split(theirs));
    let body = merge3(b.body, o.body, t.body, labels);
    let mut n = body.conflicts.len();
    let (oy, ty) = (o.yaml.unwrap_or(""), t.yaml.unwrap_or(""));
    let yaml = merge3(b.yaml.unwrap_or(""), oy, ty, labels);
    let (front, extra) = if yaml.conflicts.is_empty() {
        (yaml.text, String::new())
    } else {
        n += 1;
        let side = |s: &str| if s.ends_with('\n') || s.is_empty() { s.to_owned() } else { format!("{s}\n") };
        (
            oy.to_owned(),
            format!(
                "<<<<<<< {} (frontmatter)\n{}=======\n{}>>>>>>> {} (frontmatter)\n\n",
                labels.ours,
                side(oy),
                side(ty),
                labels.theirs
            ),
        )
    };
    let fenced = o.yaml.is_some() || t.yaml.is_some();
    let mut text = String::new();
    text.push_str(o.bom);
    if fenced {
        text.push_str(if o.open.is_empty() { t.open } else { o.open });
        text.push_str(&front);
        text.push_str(if o.close.is_empty() { t.close } else { o.close });
    }
    text.push_str(&extra);
    text.push_str(&body.text);
    (text, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_merge_frontmatter_and_body_apart() {
        let base = "---\ntitle: A\nlabels: [x]\n---\nOne.\nTwo.\n";
        let ours = "---\ntitle: A\nlabels: [x, mine]\n---\nOne, mine.\nTwo.\n";
        let theirs = "---\ntitle: A\nlabels: [x]\nowner: bob\n---\nOne.\nTwo, theirs.\n";
        let (text, n) = merge_page(base, ours, theirs, Labels::default());
        assert_eq!(n, 0);
        assert_eq!(text, "---\ntitle: A\nlabels: [x, mine]\nowner: bob\n---\nOne, mine.\nTwo, theirs.\n");
    }

    #[test]
    fn overlapping_frontmatter_keeps_ours_in_place_and_theirs_marked_in_the_body() {
        let base = "---\ntitle: A\n---\nBody.\n";
        let (text, n) =
            merge_page(base, "---\ntitle: B\n---\nBody.\n", "---\ntitle: C\n---\nBody.\n", Labels::default());
        assert_eq!(n, 1);
        assert!(
            text.starts_with("---\ntitle: B\n---\n<<<<<<< ours (frontmatter)\ntitle: B\n=======\ntitle: C\n"),
            "{text}"
        );
        assert!(text.ends_with("Body.\n"));
    }
}
