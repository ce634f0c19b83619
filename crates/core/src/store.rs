//! The git side of a space: one repository (the space may be a folder inside it), commits built
//! with tree edits, and the git index kept in step without rewriting it on every save.
//!
//! A save writes the files (atomically), builds the new tree from the old one with
//! [`tree_edit`], commits, and moves the branch with a compare-and-swap. The paths it touched
//! go into a small journal in the git directory; [`Store::flush_index`] brings the git index up
//! to date for those paths later (after a burst of saves, and always before a process ends), so
//! that `git status` stays clean for people who use git themselves, without an O(files) index
//! rewrite on every save. A journal left by a crash is flushed on the next open.

pub mod lock;
pub mod objects;
pub mod refs;
pub mod tls;
pub mod tree_edit;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use git2::{ErrorCode, ObjectType, Oid, Repository, RepositoryInitOptions, Tree};

use crate::model::Author;
pub use lock::WriteLock;
use tree_edit::{Edit, FILE_MODE};

/// What went wrong in the git layer, with the path or ref it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("git: {context}: {source}")]
    Git { context: String, source: git2::Error },
    #[error("'{0}' is not inside a git repository with a working tree")]
    NotARepository(PathBuf),
    #[error("the space's repository is on a detached HEAD; check out a branch (git switch main) and try again")]
    DetachedHead,
    #[error(
        "the space is busy: another confluence-do process ({holder}) is writing to it; try again in a moment (lock: {path})"
    )]
    Busy { path: PathBuf, holder: String },
    #[error(
        "{0} cannot be written here (permission denied or a read-only disk): the space is open read-only; its pages can be read and searched, not changed"
    )]
    ReadOnly(PathBuf),
    #[error(
        "the branch kept moving while saving (someone is committing at the same time); the files are written but not committed; try again"
    )]
    Contended,
}

fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Git { context, source }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

/// One change to a space, committed as one commit. Paths are relative to the space root.
#[derive(Clone, Debug, Default)]
pub struct Change {
    pub message: String,
    /// Files or folders renamed, applied first.
    pub moves: Vec<(String, String)>,
    /// Files or folders removed, applied second.
    pub removes: Vec<String>,
    /// Files written (created or replaced), applied last.
    pub writes: Vec<(String, Vec<u8>)>,
    /// Folders or files brought back from an older tree (undelete), written before `writes`.
    pub restores: Vec<(String, Oid, i32)>,
}

/// The repository behind a space.
pub struct Store {
    repo: Repository,
    writer: objects::ObjectWriter,
    refs: refs::Refs,
    /// The write lock's file, opened once.
    lock_file: OnceLock<Arc<fs::File>>,
    /// The branch and commit HEAD named when last read under the current write lock, for the
    /// commit that follows (a save reads HEAD to sync, then commits on it).
    head_seen: std::cell::RefCell<Option<(String, Oid)>>,
    /// The index journal, opened for appending once.
    journal_file: OnceLock<fs::File>,
    /// The last commit this store made and its tree, so the next save need not read them back.
    last: std::cell::Cell<Option<(Oid, Oid)>>,
    /// Files replaced by saves (the old page file, the old ref), removed after the save returns:
    /// freeing a file's blocks costs ext4 ~0.1-0.25 ms here, a quarter of a save. See
    /// [`Store::empty_trash`].
    trash: std::cell::RefCell<std::collections::VecDeque<PathBuf>>,
    /// Whether this store has swept the temporary folder (see [`Store::lock`]).
    swept: std::cell::Cell<bool>,
    /// Whether packing loose objects failed once (see [`Store::flush_index`]).
    pack_failed: std::cell::Cell<bool>,
    /// The space root on disk.
    root: PathBuf,
    /// The space root's path inside the repository: `""` or `docs/`.
    prefix: String,
    lock_timeout: Duration,
}

impl Store {
    /// Opens the repository that holds `root` (which may be a sub-folder of it).
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let root = fs::canonicalize(root).map_err(io(root))?;
        let repo = Repository::discover(&root).map_err(|_| StoreError::NotARepository(root.clone()))?;
        let workdir = repo.workdir().ok_or_else(|| StoreError::NotARepository(root.clone()))?;
        let workdir = fs::canonicalize(workdir).map_err(io(workdir))?;
        let rel = root.strip_prefix(&workdir).map_err(|_| StoreError::NotARepository(root.clone()))?;
        let mut prefix = rel.to_string_lossy().replace('\\', "/");
        if !prefix.is_empty() {
            prefix.push('/');
        }
        // The objects a save points the branch at were written (and hashed) by this process:
        // libgit2's check that they exist would read each one back from disk.
        git2::opts::strict_object_creation(false);
        let writer = objects::ObjectWriter::new(repo.path());
        // git's default: reflogs in a repository with a working tree ("always" is a yes too).
        let create_logs = repo
            .config()
            .and_then(|c| c.get_bool("core.logAllRefUpdates"))
            .or_else(|_| repo.config().and_then(|c| c.get_string("core.logAllRefUpdates")).map(|v| v == "always"))
            .unwrap_or(true);
        let refs = refs::Refs::new(repo.path(), repo.commondir(), create_logs);
        let last = std::cell::Cell::new(None);
        let (lock_file, journal_file) = (OnceLock::new(), OnceLock::new());
        let lock_timeout = Duration::from_secs(10);
        let head_seen = std::cell::RefCell::new(None);
        let trash = std::cell::RefCell::new(std::collections::VecDeque::new());
        let swept = std::cell::Cell::new(false);
        let store = Store {
            repo,
            writer,
            refs,
            lock_file,
            head_seen,
            journal_file,
            last,
            trash,
            swept,
            pack_failed: std::cell::Cell::new(false),
            root,
            prefix,
            lock_timeout,
        };
        store.flush_index()?;
        Ok(store)
    }

    /// Creates a repository at `root` on branch `main`.
    pub fn init(root: &Path) -> Result<Store, StoreError> {
        fs::create_dir_all(root).map_err(io(root))?;
        let mut options = RepositoryInitOptions::new();
        options.initial_head("main");
        Repository::init_opts(root, &options).map_err(git("git init"))?;
        Store::open(root)
    }

    /// The underlying repository.
    pub fn repo(&self) -> &Repository {
        &self.repo
    }

    /// The space root on disk.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The space root's path inside the repository (`""` when they are the same).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How long a write waits for another process's write to finish.
    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    /// Takes the space's write lock, and sweeps temporary files a killed writer left behind.
    pub fn lock(&self) -> Result<WriteLock, StoreError> {
        let path = WriteLock::path_in(self.repo.path());
        let file = match self.lock_file.get() {
            Some(file) => file.clone(),
            None => {
                let file = WriteLock::open(&path)?;
                let _ = self.lock_file.set(file.clone());
                file
            }
        };
        let lock = WriteLock::acquire(file, &path, self.lock_timeout)?;
        self.head_seen.replace(None);
        if let Some(since) = lock.died_holding {
            // Only a writer that died holding the lock can have left git lock files behind.
            self.clear_stale_git_locks(since);
        }
        // Temporary files are only written under the lock, so what the folder holds now is
        // garbage: files replaced by saves of a process that was killed before removing them,
        // or a dead writer's half-written files. Swept once per store, and after a death.
        if (lock.died_holding.is_some() || !self.swept.replace(true))
            && let Ok(entries) = fs::read_dir(self.tmp_dir())
        {
            for entry in entries.flatten() {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(lock)
    }

    /// Removes the lock files git (libgit2) makes while writing the index or moving a ref, when a
    /// writer of ours died after `since` and left them: otherwise no commit could ever be made
    /// again. Lock files older than that writer belong to someone else and stay.
    fn clear_stale_git_locks(&self, since: std::time::SystemTime) {
        let git_dir = self.repo.path();
        let mut candidates =
            vec![git_dir.join("index.lock"), git_dir.join("HEAD.lock"), git_dir.join("packed-refs.lock")];
        let mut dirs = vec![git_dir.join("refs").join("heads")];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "lock") {
                    candidates.push(path);
                }
            }
        }
        let slack = std::time::Duration::from_secs(1);
        for path in candidates {
            if fs::metadata(&path).ok().and_then(|m| last_change(&m)).is_some_and(|t| t + slack >= since) {
                let _ = fs::remove_file(&path);
            }
        }
    }

    /// Where files are written before they are renamed into place: inside the git folder, so
    /// an interrupted write never leaves a stray file in the working tree.
    fn tmp_dir(&self) -> PathBuf {
        self.repo.path().join("confluence-do").join("tmp")
    }

    /// The commit the branch points at, if any.
    pub fn head(&self) -> Result<Option<git2::Commit<'_>>, StoreError> {
        match self.repo.head() {
            Ok(head) => head.peel_to_commit().map(Some).map_err(git("read HEAD")),
            Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(git("read HEAD")(e)),
        }
    }

    /// The id of the commit the branch points at.
    pub fn head_id(&self) -> Result<Option<Oid>, StoreError> {
        if let Some(branch) = self.refs.head_branch()
            && let Some(oid) = self.refs.read(&branch)
        {
            self.head_seen.replace(Some((branch, oid)));
            return Ok(Some(oid));
        }
        // Resolving the ref is enough; reading the commit object is not needed for its id.
        match self.repo.refname_to_id("HEAD") {
            Ok(oid) => Ok(Some(oid)),
            Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(git("read HEAD")(e)),
        }
    }

    /// The tree of the space at a commit (the sub-tree at the prefix).
    pub fn space_tree<'r>(&'r self, commit: &git2::Commit<'r>) -> Result<Option<Tree<'r>>, StoreError> {
        let tree = commit.tree().map_err(git("read tree"))?;
        if self.prefix.is_empty() {
            return Ok(Some(tree));
        }
        match tree.get_path(Path::new(self.prefix.trim_end_matches('/'))) {
            Ok(entry) => Ok(entry.to_object(&self.repo).ok().and_then(|o| o.into_tree().ok())),
            Err(_) => Ok(None),
        }
    }

    /// The entry at a space path in a commit: blob or tree id and mode.
    pub fn entry_at(&self, commit: &git2::Commit<'_>, path: &str) -> Result<Option<(Oid, i32)>, StoreError> {
        let tree = commit.tree().map_err(git("read tree"))?;
        let full = format!("{}{}", self.prefix, path.trim_end_matches('/'));
        Ok(tree.get_path(Path::new(&full)).ok().map(|e| (e.id(), e.filemode())))
    }

    /// The content of a blob.
    pub fn blob(&self, oid: Oid) -> Result<Vec<u8>, StoreError> {
        let blob = self.repo.find_blob(oid).map_err(git(format!("read blob {oid}")))?;
        Ok(blob.content().to_vec())
    }

    /// The branch HEAD points at (`refs/heads/main`).
    fn branch(&self) -> Result<String, StoreError> {
        let head = self.repo.find_reference("HEAD").map_err(git("read HEAD"))?;
        match head.symbolic_target() {
            Ok(Some(target)) => Ok(target.to_owned()),
            _ => Err(StoreError::DetachedHead),
        }
    }

    /// The branch HEAD points at and the commit it names (`None` before the first commit).
    fn branch_and_head(&self) -> Result<(String, Option<Oid>), StoreError> {
        if let Some(branch) = self.refs.head_branch()
            && let Some(oid) = self.refs.read(&branch)
        {
            return Ok((branch, Some(oid)));
        }
        let branch = self.branch()?;
        match self.repo.refname_to_id(&branch) {
            Ok(oid) => Ok((branch, Some(oid))),
            Err(e) if e.code() == ErrorCode::NotFound => Ok((branch, None)),
            Err(e) => Err(git(format!("read {branch}"))(e)),
        }
    }

    /// The root tree of a commit (remembered for the commit this store made last).
    fn tree_of(&self, commit: Option<Oid>) -> Result<Option<Oid>, StoreError> {
        let Some(commit) = commit else { return Ok(None) };
        if let Some((last, tree)) = self.last.get()
            && last == commit
        {
            return Ok(Some(tree));
        }
        let found = self.repo.find_commit(commit).map_err(git(format!("read commit {commit}")))?;
        Ok(Some(found.tree_id()))
    }

    /// Applies a change to the working tree and commits it; the caller holds the write lock.
    /// Returns `None` when nothing changed.
    pub fn commit(&self, change: &Change, author: &Author) -> Result<Option<Oid>, StoreError> {
        // HEAD as the caller saw it under this lock; should git move it meanwhile, the
        // compare-and-swap below notices and the commit is rebuilt on the new head.
        let (branch, head) = match self.head_seen.take() {
            Some((branch, oid)) => (branch, Some(oid)),
            None => self.branch_and_head()?,
        };
        let now = jiff::ZonedDateTime::now();
        let (time, offset) = (now.timestamp().as_second(), now.offset().seconds() / 60);
        let writer = &self.writer;
        let mut blobs = Vec::with_capacity(change.writes.len());
        for (path, bytes) in &change.writes {
            blobs.push((path.as_str(), writer.write(ObjectType::Blob, bytes)?));
        }
        let build = |head: Option<Oid>| -> Result<Option<(Oid, Oid)>, StoreError> {
            let base = self.tree_of(head)?;
            let at = |path: &str| -> Result<Option<(Oid, i32)>, StoreError> {
                match base {
                    Some(tree) => tree_edit::lookup(&self.repo, writer, tree, &self.full(path)),
                    None => Ok(None),
                }
            };
            let mut edits = Vec::new();
            for (from, to) in &change.moves {
                if let Some((oid, mode)) = at(from)? {
                    edits.push(Edit::Remove { path: self.full(from) });
                    edits.push(Edit::Upsert { path: self.full(to), oid, mode });
                }
            }
            for path in &change.removes {
                edits.push(Edit::Remove { path: self.full(path) });
            }
            for (path, oid, mode) in &change.restores {
                edits.push(Edit::Upsert { path: self.full(path), oid: *oid, mode: *mode });
            }
            for (path, oid) in &blobs {
                // Keep an executable bit someone set; everything else is a plain file.
                let mode = at(path)?.map(|(_, m)| m).filter(|m| *m == 0o100_755).unwrap_or(FILE_MODE);
                edits.push(Edit::Upsert { path: self.full(path), oid: *oid, mode });
            }
            let tree = tree_edit::apply(&self.repo, writer, base, &edits)?;
            if base == Some(tree) {
                return Ok(None);
            }
            let parents: Vec<Oid> = head.into_iter().collect();
            Ok(Some((writer.commit(tree, &parents, author, time, offset, &change.message)?, tree)))
        };
        let Some(mut made) = build(head)? else {
            self.apply_worktree(change)?;
            return Ok(None);
        };
        self.apply_worktree(change)?;
        self.journal(change)?;
        let mut expected = head;
        let mut pause = Duration::from_millis(1);
        for _ in 0..8 {
            let when = (time, offset);
            match self.move_branch(&branch, expected, made.0, author, when, &change.message)? {
                refs::Moved::Done => {
                    self.last.set(Some(made));
                    return Ok(Some(made.0));
                }
                refs::Moved::Locked => {
                    // A git command is moving the branch this instant: let it finish.
                    std::thread::sleep(pause);
                    pause *= 2;
                }
                refs::Moved::Stale | refs::Moved::Unsupported => {}
            }
            // Someone committed with git in between: rebuild on top of their commit.
            let current = self.branch_and_head()?.1;
            if current != expected {
                expected = current;
                match build(expected)? {
                    Some(m) => made = m,
                    None => return Ok(None),
                }
            }
        }
        Err(StoreError::Contended)
    }

    /// Moves `branch` from `expected` to `new`: git's lock-file protocol directly when the ref is
    /// a loose file, libgit2 otherwise (packed refs, the first commit).
    fn move_branch(
        &self,
        branch: &str,
        expected: Option<Oid>,
        new: Oid,
        author: &Author,
        when: (i64, i32),
        message: &str,
    ) -> Result<refs::Moved, StoreError> {
        if let Some(old) = expected {
            // `branch` came from HEAD (branch_and_head), so HEAD's reflog gets the entry too.
            let keep = self.tmp_dir().join(format!("ref-{:016x}", fastrand::u64(..)));
            let moved = self.refs.compare_and_swap(branch, true, old, new, author, when, message, &keep);
            match moved.map_err(io(&self.repo.commondir().join(branch)))? {
                refs::Moved::Unsupported => {}
                refs::Moved::Done => {
                    self.throw_away(keep);
                    return Ok(refs::Moved::Done);
                }
                moved => return Ok(moved),
            }
        }
        let moved = match expected {
            Some(old) => self.repo.reference_matching(branch, new, true, old, message),
            None => self.repo.reference(branch, new, false, message),
        };
        match moved {
            Ok(_) => Ok(refs::Moved::Done),
            Err(e) if matches!(e.code(), ErrorCode::Modified | ErrorCode::Exists) => Ok(refs::Moved::Stale),
            Err(e) if e.code() == ErrorCode::Locked => Ok(refs::Moved::Locked),
            Err(e) => Err(git(format!("update {branch}"))(e)),
        }
    }

    fn full(&self, path: &str) -> String {
        format!("{}{}", self.prefix, path)
    }

    fn apply_worktree(&self, change: &Change) -> Result<(), StoreError> {
        for (from, to) in &change.moves {
            let (from, to) = (self.root.join(from), self.root.join(to));
            if from.exists() {
                if let Some(parent) = to.parent() {
                    fs::create_dir_all(parent).map_err(io(parent))?;
                }
                fs::rename(&from, &to).map_err(io(&from))?;
                self.prune_empty_dirs(&from);
            }
        }
        for path in &change.removes {
            let full = self.root.join(path);
            let removed = match fs::symlink_metadata(&full) {
                Ok(meta) if meta.is_dir() => fs::remove_dir_all(&full),
                Ok(_) => fs::remove_file(&full),
                Err(_) => Ok(()),
            };
            removed.map_err(io(&full))?;
            self.prune_empty_dirs(&full);
        }
        for (path, oid, _) in &change.restores {
            self.checkout(path, *oid)?;
        }
        for (path, bytes) in &change.writes {
            self.write_file(path, bytes)?;
        }
        Ok(())
    }

    /// Writes a blob or a whole tree from the object store to the working tree.
    fn checkout(&self, path: &str, oid: Oid) -> Result<(), StoreError> {
        let object = self.repo.find_object(oid, None).map_err(git(format!("read {path}")))?;
        match object.kind() {
            Some(ObjectType::Tree) => {
                let tree = object.peel_to_tree().map_err(git(format!("read {path}")))?;
                for entry in tree.iter() {
                    let name = entry.name().unwrap_or_default();
                    self.checkout(&format!("{path}/{name}"), entry.id())?;
                }
                Ok(())
            }
            _ => self.write_file(path, &self.blob(oid)?),
        }
    }

    /// Writes a working-tree file (swapped into place; the old one queued for removal).
    fn write_file(&self, path: &str, bytes: &[u8]) -> Result<(), StoreError> {
        if let Some(old) = write_via(&self.root.join(path), bytes, Some(&self.tmp_dir()))? {
            self.throw_away(old);
        }
        Ok(())
    }

    /// Queues a replaced file for removal. Saves leave removing to [`Store::empty_trash`] (run
    /// when the git index catches up, a moment after a burst of saves); a process that never
    /// gets there removes the oldest file on each save beyond a bound.
    fn throw_away(&self, path: PathBuf) {
        let mut trash = self.trash.borrow_mut();
        trash.push_back(path);
        while trash.len() > MAX_TRASH {
            if let Some(old) = trash.pop_front() {
                let _ = fs::remove_file(old);
            }
        }
    }

    /// Removes the files saves replaced. They sit in the store's temporary folder, which a
    /// writer that finds its predecessor died sweeps too.
    pub fn empty_trash(&self) {
        for path in self.trash.borrow_mut().drain(..) {
            let _ = fs::remove_file(path);
        }
    }

    /// Removes folders left empty by a move or delete, up to the space root.
    fn prune_empty_dirs(&self, removed: &Path) {
        let mut dir = removed.parent();
        while let Some(d) = dir {
            if d == self.root || !d.starts_with(&self.root) || fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }

    fn journal_path(&self) -> PathBuf {
        self.repo.path().join("confluence-do").join("index-pending")
    }

    /// Records which paths the git index must catch up on (before the branch moves).
    fn journal(&self, change: &Change) -> Result<(), StoreError> {
        // The folder exists: taking the write lock created it.
        let path = self.journal_path();
        let mut lines = String::new();
        let paths = change
            .moves
            .iter()
            .flat_map(|(a, b)| [a, b])
            .chain(&change.removes)
            .chain(change.restores.iter().map(|(p, _, _)| p))
            .chain(change.writes.iter().map(|(p, _)| p));
        for p in paths {
            lines.push_str(&self.full(p));
            lines.push('\n');
        }
        // Kept open: appends land at the end even after flush_index empties the file in place.
        let file = match self.journal_file.get() {
            Some(file) => file,
            None => {
                let file = fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
                self.journal_file.get_or_init(|| file)
            }
        };
        (&*file).write_all(lines.as_bytes()).map_err(io(&path))
    }

    /// Whether saves are waiting for the git index to catch up.
    pub fn index_pending(&self) -> bool {
        fs::metadata(self.journal_path()).map(|m| m.len() > 0).unwrap_or(false)
    }

    /// Brings the git index in line with HEAD for every journaled path (one index write).
    pub fn flush_index(&self) -> Result<(), StoreError> {
        self.empty_trash();
        let journal = self.journal_path();
        let Ok(text) = fs::read_to_string(&journal) else {
            return Ok(());
        };
        if text.is_empty() {
            return Ok(());
        }
        let _lock = self.lock()?;
        let text = fs::read_to_string(&journal).unwrap_or_default();
        let Some(head) = self.head()? else {
            return Ok(());
        };
        let tree = head.tree().map_err(git("read tree"))?;
        let mut index = self.repo.index().map_err(git("read the git index"))?;
        // libgit2 keeps the index in memory; someone may have run git since: read it again if
        // the file changed (not when it was just loaded).
        index.read(false).map_err(git("read the git index"))?;
        let workdir = self.repo.workdir().map(Path::to_path_buf).unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        for path in text.lines().filter(|l| !l.is_empty()) {
            if !seen.insert(path) {
                continue;
            }
            let _ = index.remove_dir(Path::new(path), 0);
            let _ = index.remove_path(Path::new(path));
            let Ok(entry) = tree.get_path(Path::new(path)) else {
                continue;
            };
            let mut files = Vec::new();
            if entry.kind() == Some(ObjectType::Tree) {
                let sub = self.repo.find_tree(entry.id()).map_err(git(format!("read {path}")))?;
                sub.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
                    if e.kind() == Some(ObjectType::Blob) {
                        files.push((format!("{path}/{dir}{}", e.name().unwrap_or_default()), e.id(), e.filemode()));
                    }
                    git2::TreeWalkResult::Ok
                })
                .map_err(git(format!("walk {path}")))?;
            } else {
                files.push((path.to_owned(), entry.id(), entry.filemode()));
            }
            for (file, oid, mode) in files {
                index.add(&index_entry(&workdir, &file, oid, mode)).map_err(git(format!("index {file}")))?;
            }
        }
        index.write().map_err(git("write the git index (is another git command running?)"))?;
        fs::write(&journal, b"").map_err(io(&journal))?;
        // Idle time after a burst of saves: pack their objects once there are many. A failure
        // (an unreadable object, say) leaves the loose objects as they are, which is always
        // valid, and is not retried by this store.
        if !self.pack_failed.get() && self.pack_loose_objects(false).is_err() {
            self.pack_failed.set(true);
        }
        Ok(())
    }

    /// Packs the repository's loose objects once there are many, as `git gc --auto` would
    /// (`force`: whatever their number). Every save writes loose objects, each a file of at
    /// least one 4 KB block, and nothing else packs them when nobody runs git by hand. The
    /// pack is written and indexed first; only then are the loose copies removed, as `git
    /// prune-packed` does. Answers how many objects were packed.
    pub fn pack_loose_objects(&self, force: bool) -> Result<usize, StoreError> {
        let objects = self.repo.commondir().join("objects");
        // git's estimate: the objects in one fan-out folder, times 256.
        if !force && fs::read_dir(objects.join("17")).map(Iterator::count).unwrap_or(0) * 256 < PACK_AT {
            return Ok(0);
        }
        let mut loose = Vec::new();
        for fan in 0..=255u8 {
            let fan = format!("{fan:02x}");
            for entry in fs::read_dir(objects.join(&fan)).into_iter().flatten().flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.len() == 38
                    && let Ok(oid) = Oid::from_str(&format!("{fan}{name}"))
                {
                    loose.push((oid, entry.path()));
                }
            }
        }
        if loose.is_empty() {
            return Ok(0);
        }
        let mut builder = self.repo.packbuilder().map_err(git("pack loose objects"))?;
        builder.set_threads(0);
        for (oid, _) in &loose {
            builder.insert_object(*oid, None).map_err(git(format!("pack object {oid}")))?;
        }
        let mut pack = git2::Buf::new();
        builder.write_buf(&mut pack).map_err(git("pack loose objects"))?;
        let odb = self.repo.odb().map_err(git("open the object database"))?;
        let mut writer = odb.packwriter().map_err(git("write a pack"))?;
        writer.write_all(&pack).map_err(io(&objects))?;
        writer.commit().map_err(git("write a pack"))?;
        odb.refresh().map_err(git("read the new pack"))?;
        for (_, path) in &loose {
            let _ = fs::remove_file(path);
        }
        Ok(loose.len())
    }
}

/// Loose objects past which they are packed: git's own `gc.auto`.
const PACK_AT: usize = 6_700;

/// An index entry for a committed file, with the file's stat data when the file on disk holds
/// exactly that content, and zeroed stat data otherwise so git looks at the file again.
fn index_entry(workdir: &Path, path: &str, oid: Oid, mode: i32) -> git2::IndexEntry {
    let full = workdir.join(path);
    let mut entry = git2::IndexEntry {
        ctime: git2::IndexTime::new(0, 0),
        mtime: git2::IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: mode as u32,
        uid: 0,
        gid: 0,
        file_size: 0,
        id: oid,
        flags: path.len().min(0xfff) as u16,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    };
    let same = git2::Oid::hash_file(ObjectType::Blob, &full).map(|h| h == oid).unwrap_or(false);
    if let (true, Ok(meta)) = (same, fs::metadata(&full)) {
        fill_stat(&mut entry, &meta);
    }
    entry
}

#[cfg(unix)]
fn fill_stat(entry: &mut git2::IndexEntry, meta: &fs::Metadata) {
    use std::os::unix::fs::MetadataExt;
    entry.ctime = git2::IndexTime::new(meta.ctime() as i32, meta.ctime_nsec() as u32);
    entry.mtime = git2::IndexTime::new(meta.mtime() as i32, meta.mtime_nsec() as u32);
    entry.dev = meta.dev() as u32;
    entry.ino = meta.ino() as u32;
    entry.uid = meta.uid();
    entry.gid = meta.gid();
    entry.file_size = meta.size() as u32;
}

#[cfg(not(unix))]
fn fill_stat(entry: &mut git2::IndexEntry, meta: &fs::Metadata) {
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    if let Some(d) = mtime {
        entry.mtime = git2::IndexTime::new(d.as_secs() as i32, d.subsec_nanos());
        entry.ctime = entry.mtime;
    }
    entry.file_size = meta.len() as u32;
}

/// When a file was last written or renamed. A ref's lock file can be the old ref swapped out
/// of place (see [`exchange`]): its content is old, but the swap changed its ctime.
fn last_change(meta: &fs::Metadata) -> Option<std::time::SystemTime> {
    let modified = meta.modified().ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let changed = std::time::UNIX_EPOCH
            .checked_add(Duration::new(u64::try_from(meta.ctime()).ok()?, u32::try_from(meta.ctime_nsec()).ok()?))?;
        Some(modified.max(changed))
    }
    #[cfg(not(unix))]
    Some(modified)
}

/// Replaced files a store keeps before removing them all at once (see [`Store::throw_away`]).
const MAX_TRASH: usize = 1024;

impl Drop for Store {
    fn drop(&mut self) {
        self.empty_trash();
    }
}

/// Writes a file so that readers see the old or the new content, never half of it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_via(path, bytes, None).map(|_| ())
}

/// Writes `bytes` to a temporary file and moves it over `path`. A working-tree file of a space
/// (`tmp_dir` given: the store's temporary folder) is swapped into place, see [`swap_into`], and
/// the old file's new path returned for the caller to remove; anything else (the home's files)
/// is renamed over the old file.
fn write_via(path: &Path, bytes: &[u8], tmp_dir: Option<&Path>) -> Result<Option<PathBuf>, StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp_name = format!(".{name}.{}.tmp", fastrand::u32(..));
    // No fsync: a killed process can never leave half a file (the rename is atomic); surviving
    // a power cut is left to the file system, as git does for its objects by default.
    let attempt = |tmp: &Path, swap: bool| -> std::io::Result<bool> {
        let result = (|| {
            let mut file = fs::File::create(tmp)?;
            file.write_all(bytes)?;
            drop(file);
            if swap { swap_into(tmp, path) } else { fs::rename(tmp, path).map(|()| false) }
        })();
        if result.is_err() {
            let _ = fs::remove_file(tmp);
        }
        result
    };
    let retry_in = |folder: &Path, swap: bool| -> std::io::Result<Option<PathBuf>> {
        let tmp = folder.join(&tmp_name);
        let swapped = match attempt(&tmp, swap) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(folder)?;
                fs::create_dir_all(dir)?;
                attempt(&tmp, swap)
            }
            other => other,
        }?;
        Ok(swapped.then_some(tmp))
    };
    if let Some(tmp_dir) = tmp_dir
        && let Ok(old) = retry_in(tmp_dir, true)
    {
        return Ok(old);
    }
    // Another file system (a linked worktree, say): fall back to a temporary file beside it,
    // renamed over the old file (a swapped-out old file would show in the working tree).
    retry_in(dir, false).map_err(io(path))
}

/// Puts the file `tmp` in place of `path` atomically, as a rename over it would; answers
/// whether the old file is now at `tmp` (for the caller to remove when convenient).
///
/// An existing file is swapped with `tmp` where the system can (see [`exchange`]); the old one
/// is then removed later, off the save's path. Anywhere else, a plain rename.
fn swap_into(tmp: &Path, path: &Path) -> std::io::Result<bool> {
    if exchange(tmp, path) {
        if fs::symlink_metadata(tmp).is_ok_and(|m| m.is_dir()) {
            // `path` was a folder (a rename would have refused it): put it back.
            exchange(tmp, path);
            return Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, "a folder is in the way"));
        }
        return Ok(true);
    }
    fs::rename(tmp, path).map(|()| false)
}

/// Swaps two existing paths atomically (Linux `renameat2` with `RENAME_EXCHANGE`); `false` when
/// either is missing or the system or file system cannot.
///
/// Why saves swap instead of renaming over: a rename over an existing file frees the old
/// file's blocks, and makes ext4 write the new file's data out before it returns (its
/// `auto_da_alloc` guard for programs that skip fsync). Together that was ~0.2 ms of every
/// rename, a quarter of a save, on this VM. What the guard protects against is a power cut,
/// which a save does not survive anyway without fsync of its loose objects (git's own default
/// too); a killed process is covered either way, as the swap is as atomic as the rename.
pub(crate) fn exchange(a: &Path, b: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        false
    }
}

/// Callbacks for talking to a git remote: credentials from the ssh agent or git's credential
/// helper, three tries, then a clear error.
pub fn remote_callbacks<'a>() -> git2::RemoteCallbacks<'a> {
    tls::ready_for_remotes();
    let mut attempts = 0;
    let mut callbacks = git2::RemoteCallbacks::new();
    callbacks.credentials(move |url, username, allowed| {
        attempts += 1;
        if attempts > 3 {
            return Err(git2::Error::from_str("authentication failed; check your ssh agent or git credential helper"));
        }
        if allowed.contains(git2::CredentialType::SSH_KEY) {
            git2::Cred::ssh_key_from_agent(username.unwrap_or("git"))
        } else if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) {
            let config = git2::Config::open_default()?;
            git2::Cred::credential_helper(&config, url, username)
        } else {
            git2::Cred::default()
        }
    });
    callbacks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_tree_writes_swap_the_old_file_aside_and_never_a_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tmp = dir.path().join("tmp");
        let page = dir.path().join("page.md");
        assert_eq!(write_via(&page, b"one", Some(&tmp)).expect("create"), None, "nothing was replaced");
        let old = write_via(&page, b"two", Some(&tmp)).expect("replace");
        assert_eq!(fs::read(&page).expect("page"), b"two");
        if let Some(old) = old {
            // Where the swap exists, the old file waits in the temporary folder to be removed.
            assert!(old.starts_with(&tmp));
            assert_eq!(fs::read(&old).expect("old"), b"one");
        }
        // A folder where the file should go stays where it is, with what it holds.
        let folder = dir.path().join("folder.md");
        fs::create_dir_all(folder.join("inner")).expect("folder");
        fs::write(folder.join("inner/keep.md"), "keep").expect("write");
        assert!(write_via(&folder, b"three", Some(&tmp)).is_err());
        assert_eq!(fs::read_to_string(folder.join("inner/keep.md")).expect("kept"), "keep");
        let left: Vec<_> = fs::read_dir(&tmp).expect("tmp").flatten().map(|e| e.path()).collect();
        assert!(left.iter().all(|p| fs::read(p).is_ok_and(|b| b == b"one")), "only the replaced file: {left:?}");
        // The home's files are renamed over, leaving nothing behind.
        write_atomic(&page, b"four").expect("atomic");
        assert_eq!(fs::read(&page).expect("page"), b"four");
    }
}
