//! Reading HEAD and moving the branch with git's own file protocol, for the case every save
//! meets: HEAD names a branch whose ref is a loose file.
//!
//! libgit2 spends about fifty system calls on one compare-and-swap of a ref (config re-checks,
//! several re-reads of HEAD and the ref); git's protocol needs a dozen: create `<ref>.lock`
//! exclusively, check the ref still holds the expected id, write the new id into the lock, append
//! the reflogs, rename the lock over the ref. Anything else (a packed or missing ref, a detached
//! HEAD, an unreadable file) answers [`Moved::Unsupported`] and the caller uses libgit2.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use git2::Oid;

use crate::model::Author;

/// The loose-ref files of one repository.
pub struct Refs {
    /// The worktree's git folder (HEAD, logs/HEAD).
    git_dir: PathBuf,
    /// The folder shared by worktrees (refs/, logs/refs/).
    common_dir: PathBuf,
    /// `core.logAllRefUpdates`: whether a missing reflog is created (git's default in a worktree).
    create_logs: bool,
}

/// What became of a compare-and-swap.
#[derive(Debug, PartialEq)]
pub enum Moved {
    Done,
    /// The branch holds another commit than expected (someone committed meanwhile).
    Stale,
    /// Another process holds the ref's lock file.
    Locked,
    /// Not a case this module handles; use libgit2.
    Unsupported,
}

impl Refs {
    pub fn new(git_dir: &Path, common_dir: &Path, create_logs: bool) -> Refs {
        Refs { git_dir: git_dir.to_path_buf(), common_dir: common_dir.to_path_buf(), create_logs }
    }

    /// The branch HEAD names (`refs/heads/main`), if HEAD is a symbolic ref to a branch.
    pub fn head_branch(&self) -> Option<String> {
        let text = read_small(&self.git_dir.join("HEAD")).ok()?;
        let name = text.strip_prefix("ref: ")?.trim_end();
        (name.starts_with("refs/heads/") && is_safe_ref(name)).then(|| name.to_owned())
    }

    /// The commit a loose ref names; `None` when the ref is not a loose file (packed, missing).
    pub fn read(&self, name: &str) -> Option<Oid> {
        if !is_safe_ref(name) {
            return None;
        }
        let text = read_small(&self.common_dir.join(name)).ok()?;
        Oid::from_str(text.trim_end()).ok().filter(|_| text.trim_end().len() == 40)
    }

    /// Moves the branch `name` from `expected` to `new`, logging it as git does (also in HEAD's
    /// log when `name` is the branch HEAD names). The old ref file ends up at `keep`, for the
    /// caller to remove off the save's path (see [`super::exchange`]).
    #[allow(clippy::too_many_arguments)]
    pub fn compare_and_swap(
        &self,
        name: &str,
        is_head: bool,
        expected: Oid,
        new: Oid,
        who: &Author,
        (time, offset_minutes): (i64, i32),
        message: &str,
        keep: &Path,
    ) -> io::Result<Moved> {
        if !is_safe_ref(name) {
            return Ok(Moved::Unsupported);
        }
        let path = self.common_dir.join(name);
        let lock_path = lock_path(&path);
        let mut lock = match fs::OpenOptions::new().write(true).create_new(true).open(&lock_path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(Moved::Locked),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Moved::Unsupported),
            Err(e) => return Err(e),
        };
        let outcome = (|| {
            let current = match read_small(&path) {
                Ok(text) => Oid::from_str(text.trim_end()).ok(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Moved::Unsupported),
                Err(e) => return Err(e),
            };
            match current {
                None => return Ok(Moved::Unsupported),
                Some(current) if current != expected => return Ok(Moved::Stale),
                Some(_) => {}
            }
            lock.write_all(format!("{new}\n").as_bytes())?;
            let line = reflog_line(expected, new, who, time, offset_minutes, message);
            self.append_log(&self.common_dir.join("logs").join(name), &line)?;
            if is_head {
                self.append_log(&self.git_dir.join("logs").join("HEAD"), &line)?;
            }
            drop(lock);
            if super::exchange(&lock_path, &path) {
                // The lock file now holds the old ref: move it aside, which releases the lock.
                if fs::rename(&lock_path, keep).is_err() {
                    fs::remove_file(&lock_path)?;
                }
            } else {
                // git's own step. The link keeps the rename from freeing the old file on the spot.
                let _ = fs::hard_link(&path, keep);
                fs::rename(&lock_path, &path)?;
            }
            Ok(Moved::Done)
        })();
        if !matches!(outcome, Ok(Moved::Done)) {
            let _ = fs::remove_file(&lock_path);
        }
        outcome
    }

    fn append_log(&self, path: &Path, line: &str) -> io::Result<()> {
        let open = |create: bool| fs::OpenOptions::new().append(true).create(create).open(path);
        let mut file = match open(false) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !self.create_logs {
                    return Ok(());
                }
                if let Some(dir) = path.parent() {
                    fs::create_dir_all(dir)?;
                }
                open(true)?
            }
            Err(e) => return Err(e),
        };
        file.write_all(line.as_bytes())
    }
}

/// Reads a file of a few bytes (HEAD, a ref) in one `read`, where `fs::read_to_string` would also
/// stat it and read again to see the end: saves run this several times.
fn read_small(path: &Path) -> io::Result<String> {
    use std::io::Read as _;
    let mut file = fs::File::open(path)?;
    let mut buf = [0u8; 256];
    let n = file.read(&mut buf)?;
    let mut bytes = buf[..n].to_vec();
    if n == buf.len() {
        file.read_to_end(&mut bytes)?;
    }
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// `refs/heads/main` → `refs/heads/main.lock`.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// A ref name that is a plain relative path under `refs/` (no `..`, no empty parts).
fn is_safe_ref(name: &str) -> bool {
    name.starts_with("refs/")
        && name.split('/').all(|part| !part.is_empty() && !part.starts_with('.') && !part.ends_with(".lock"))
        && !name.contains(['\\', '\0', '\n', ' ', ':', '?', '*', '[', '~', '^'])
}

/// One reflog line as git writes it: the message's line breaks become spaces.
fn reflog_line(old: Oid, new: Oid, who: &Author, time: i64, offset_minutes: i32, message: &str) -> String {
    let clean = |s: &str| s.replace(['<', '>', '\n'], "");
    let who = super::objects::signature(&clean(&who.name), &clean(&who.email), time, offset_minutes);
    format!("{old} {new} {who}\t{}\n", message.replace('\n', " ").trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author() -> Author {
        Author { name: "Ada Lovelace".into(), email: "ada@example.com".into() }
    }

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).expect("20 bytes")
    }

    fn setup() -> (tempfile::TempDir, Refs) {
        let dir = tempfile::tempdir().expect("temp dir");
        let git = dir.path().to_path_buf();
        fs::create_dir_all(git.join("refs/heads")).expect("refs");
        fs::write(git.join("HEAD"), "ref: refs/heads/main\n").expect("HEAD");
        fs::write(git.join("refs/heads/main"), format!("{}\n", oid(1))).expect("ref");
        (dir, Refs::new(&git, &git, true))
    }

    #[test]
    fn swaps_and_logs_like_git() {
        let (dir, refs) = setup();
        assert_eq!(refs.head_branch().as_deref(), Some("refs/heads/main"));
        let moved = refs
            .compare_and_swap(
                "refs/heads/main",
                true,
                oid(1),
                oid(2),
                &author(),
                (1_700_000_000, -330),
                "Update \"A\"\n\nbody",
                &dir.path().join("kept"),
            )
            .expect("swap");
        assert_eq!(moved, Moved::Done);
        assert_eq!(refs.read("refs/heads/main"), Some(oid(2)));
        let log = fs::read_to_string(dir.path().join("logs/refs/heads/main")).expect("reflog");
        assert_eq!(
            log,
            format!("{} {} Ada Lovelace <ada@example.com> 1700000000 -0530\tUpdate \"A\"  body\n", oid(1), oid(2))
        );
        assert_eq!(fs::read_to_string(dir.path().join("logs/HEAD")).expect("HEAD log"), log);
        assert!(!dir.path().join("refs/heads/main.lock").exists());
        // The old ref file was kept aside for the caller to remove.
        assert_eq!(fs::read_to_string(dir.path().join("kept")).expect("kept"), format!("{}\n", oid(1)));
    }

    #[test]
    fn refuses_a_stale_expectation_and_a_held_lock() {
        let (dir, refs) = setup();
        let when = (0, 0);
        let stale = refs
            .compare_and_swap("refs/heads/main", true, oid(9), oid(2), &author(), when, "m", &dir.path().join("kept"))
            .expect("swap");
        assert_eq!(stale, Moved::Stale);
        assert_eq!(refs.read("refs/heads/main"), Some(oid(1)));
        fs::write(dir.path().join("refs/heads/main.lock"), "").expect("lock");
        let locked = refs
            .compare_and_swap("refs/heads/main", true, oid(1), oid(2), &author(), when, "m", &dir.path().join("kept"))
            .expect("swap");
        assert_eq!(locked, Moved::Locked);
        assert!(dir.path().join("refs/heads/main.lock").exists(), "someone else's lock stays");
        assert_eq!(refs.read("refs/heads/main"), Some(oid(1)));
    }

    #[test]
    fn leaves_packed_refs_and_odd_names_to_libgit2() {
        let (dir, refs) = setup();
        fs::remove_file(dir.path().join("refs/heads/main")).expect("unpack");
        let when = (0, 0);
        let moved = refs
            .compare_and_swap("refs/heads/main", true, oid(1), oid(2), &author(), when, "m", &dir.path().join("kept"))
            .expect("swap");
        assert_eq!(moved, Moved::Unsupported);
        assert!(!dir.path().join("refs/heads/main.lock").exists());
        assert_eq!(refs.read("refs/heads/../../x"), None);
        fs::write(dir.path().join("HEAD"), format!("{}\n", oid(1))).expect("detach");
        assert_eq!(refs.head_branch(), None);
    }
}
