//! What the server holds: the wiki, one open space per key (behind its own lock, used from
//! blocking threads), where each content id lives, the search index, and a cache of rendered
//! answers that is dropped whenever a space changes (our writes, a commit by another program,
//! an edit on disk seen by the watcher).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use axum::body::Bytes;
use cdo_app::watch::{SpaceEvent, SpaceWatcher};
use cdo_app::{SpaceEntry, Wiki};
use cdo_core::{Author, PageId, Space};
use cdo_search::SearchIndex;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};

mod embedding;

pub use embedding::EmbedStatus;

/// A file's modification time (ns), size and inode; `None` when it does not exist.
type FileStamp = Option<(i64, u64, u64)>;

/// One open space.
pub struct SpaceHandle {
    pub key: String,
    space: Mutex<Space>,
    /// Bumped on every change; cached answers carry the generation they were made at.
    generation: AtomicU64,
    /// The files that say which commit the branch is at, and what they looked like.
    git_dir: PathBuf,
    head_stamp: Mutex<Vec<FileStamp>>,
    /// When `head_stamp` was last read.
    checked: Mutex<Option<Instant>>,
    /// HEAD's stat data when it was last read, and the loose ref file it named.
    ref_file: Mutex<Option<(FileStamp, Option<PathBuf>)>>,
    /// Page files the watcher saw change, to re-read before the next use.
    dirty: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SpaceHandle {
    /// What says which commit the branch is at: HEAD, the loose ref it names (else the packed
    /// refs). Stat data only, two system calls per check; HEAD is read again only when it
    /// changed (a checkout).
    fn read_stamp(&self) -> Vec<FileStamp> {
        use std::os::unix::fs::MetadataExt as _;
        let stat = |f: &std::path::Path| {
            std::fs::metadata(f).ok().map(|m| (m.mtime_nsec() + m.mtime() * 1_000_000_000, m.len(), m.ino()))
        };
        let head = stat(&self.git_dir.join("HEAD"));
        let mut cached = lock(&self.ref_file);
        if cached.as_ref().is_none_or(|(h, _)| *h != head) {
            let name = std::fs::read_to_string(self.git_dir.join("HEAD"))
                .ok()
                .and_then(|t| t.trim().strip_prefix("ref: ").map(|n| self.git_dir.join(n)));
            *cached = Some((head, name));
        }
        let loose = cached.as_ref().and_then(|(_, n)| n.as_deref()).and_then(stat);
        let packed = if loose.is_none() { stat(&self.git_dir.join("packed-refs")) } else { None };
        vec![head, loose, packed]
    }

    /// The current generation, after checking whether another program moved the branch.
    pub fn generation(&self) -> u64 {
        let started = Instant::now();
        let now = self.read_stamp();
        {
            let mut seen = lock(&self.head_stamp);
            if *seen != now {
                *seen = now;
                self.generation.fetch_add(1, Ordering::SeqCst);
            }
        }
        *lock(&self.checked) = Some(started);
        self.generation.load(Ordering::SeqCst)
    }

    /// [`SpaceHandle::generation`] as of a check no older than `age`: the open pages of a
    /// space, each looking every second, share one check (1,000 open pages made 2,000 `stat`s
    /// a second).
    pub fn recent_generation(&self, age: std::time::Duration) -> u64 {
        if lock(&self.checked).is_some_and(|at| at.elapsed() < age) {
            return self.generation.load(Ordering::SeqCst);
        }
        self.generation()
    }

    pub(crate) fn touch(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The space, caught up with commits and edits made outside this server.
    pub fn lock(&self) -> Result<MutexGuard<'_, Space>, ApiError> {
        let mut space = lock(&self.space);
        let dirty: Vec<String> = std::mem::take(&mut *lock(&self.dirty));
        if !dirty.is_empty() {
            space.refresh_paths(&dirty)?;
        }
        space.sync_with_head()?;
        Ok(space)
    }
}

/// The spaces changed since search last caught up with them (our writes, the watcher's events,
/// a git sync), and the wake-up that gives the background embedder. Shared with the watchers.
#[derive(Default)]
struct Changes {
    spaces: Mutex<HashSet<String>>,
    wake: (Mutex<bool>, std::sync::Condvar),
}

impl Changes {
    fn mark(&self, key: &str) {
        lock(&self.spaces).insert(key.to_owned());
        self.wake();
    }

    fn wake(&self) {
        *lock(&self.wake.0) = true;
        self.wake.1.notify_one();
    }

    /// Waits for a wake-up, at most `timeout`; whether there was one (taken).
    fn wait(&self, timeout: std::time::Duration) -> bool {
        let (flag, cv) = &self.wake;
        let mut woken = lock(flag);
        if !*woken {
            woken = cv.wait_timeout(woken, timeout).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0);
        }
        std::mem::replace(&mut *woken, false)
    }

    fn take(&self) -> Vec<String> {
        lock(&self.spaces).drain().collect()
    }
}

/// Where a content id lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Located {
    Page { space: String, id: PageId },
    Attachment { space: String, page: PageId, name: String },
    Comment { space: String, page: PageId },
}

/// A cached answer: the generation of its space and the bytes.
struct Cached {
    generation: u64,
    body: Bytes,
}

/// Contradictions per page.
pub type Contradictions = HashMap<cdo_core::PageId, Vec<cdo_ai::fresh::Issue>>;

/// The server's state, shared by every request.
pub struct AppState {
    pub wiki: Wiki,
    pub auth: Auth,
    /// Who edits when auth is off (the desktop app, a loopback server with `--no-auth`).
    pub local_user: Author,
    /// Pages open for live editing, and their update log.
    pub live: crate::live::Live,
    /// Git sync of the spaces with remotes.
    pub git_sync: crate::gitsync::GitSync,
    /// Change events for integrations, and the webhooks they go out to.
    pub events: crate::events::Events,
    pub webhooks: crate::webhooks::Webhooks,
    /// The chat model `ask` uses (environment or `config.yaml`); `None`: answers are extractive.
    pub llm: Option<Arc<dyn cdo_ai::Model>>,
    spaces: Mutex<HashMap<String, Arc<SpaceHandle>>>,
    /// The code repositories of spaces, read at their HEAD; read again when HEAD moves.
    code: Mutex<HashMap<String, Arc<cdo_ai::fresh::Code>>>,
    /// Contradictions between a space's pages (numbers only: no model on a page's badge), with
    /// the space generation they were found at.
    contradictions: Mutex<HashMap<String, (u64, Arc<Contradictions>)>>,
    ids: RwLock<HashMap<String, Located>>,
    search: Mutex<Option<SearchIndex>>,
    changes: Arc<Changes>,
    cache: RwLock<HashMap<String, Cached>>,
    embedding: embedding::Embedding,
    /// Watchers live as long as the state.
    watchers: Mutex<Vec<std::thread::JoinHandle<()>>>,
    watch: bool,
}

/// Most cached answers kept; past it the cache is cleared (a simple bound, not an LRU).
const CACHE_ENTRIES: usize = 20_000;

impl AppState {
    pub fn new(wiki: Wiki, auth: Auth, local_user: Author, watch: bool) -> AppState {
        let live = crate::live::Live::open(&wiki.home().dir().join("live.sqlite"));
        live.load_upstreams(&wiki.home().dir().join("team-servers.json"));
        let webhooks = crate::webhooks::Webhooks::open(&wiki.home().dir().join("webhooks.sqlite"));
        let llm = match cdo_ai::configured_model(&wiki) {
            Ok(model) => model.map(|m| Arc::new(m) as Arc<dyn cdo_ai::Model>),
            Err(e) => {
                eprintln!("warning: no model for ask ({e}); answers are the wiki's best sentences");
                None
            }
        };
        AppState {
            llm,
            wiki,
            auth,
            live,
            git_sync: crate::gitsync::GitSync::default(),
            events: crate::events::Events::default(),
            webhooks,
            local_user,
            spaces: Mutex::new(HashMap::new()),
            code: Mutex::new(HashMap::new()),
            contradictions: Mutex::new(HashMap::new()),
            ids: RwLock::new(HashMap::new()),
            search: Mutex::new(None),
            changes: Arc::default(),
            cache: RwLock::new(HashMap::new()),
            watchers: Mutex::new(Vec::new()),
            embedding: embedding::Embedding::default(),
            watch,
        }
    }

    /// The registered spaces.
    pub fn space_entries(&self) -> ApiResult<Vec<SpaceEntry>> {
        Ok(self.wiki.spaces()?)
    }

    /// The open space with this key (opening it on first use).
    pub fn space(&self, key: &str) -> ApiResult<Arc<SpaceHandle>> {
        let key = key.to_ascii_uppercase();
        if let Some(handle) = lock(&self.spaces).get(&key) {
            return Ok(handle.clone());
        }
        let space = self.wiki.open_space(&key)?;
        let git_dir = space.store().repo().path().to_path_buf();
        let root = space.root().to_path_buf();
        let handle = Arc::new(SpaceHandle {
            key: key.clone(),
            space: Mutex::new(space),
            generation: AtomicU64::new(1),
            git_dir: git_dir.clone(),
            head_stamp: Mutex::new(Vec::new()),
            checked: Mutex::new(None),
            ref_file: Mutex::new(None),
            dirty: Mutex::new(Vec::new()),
        });
        *lock(&handle.head_stamp) = handle.read_stamp();
        let mut spaces = lock(&self.spaces);
        if let Some(existing) = spaces.get(&key) {
            return Ok(existing.clone());
        }
        spaces.insert(key.clone(), handle.clone());
        drop(spaces);
        if self.watch {
            self.start_watcher(&handle, root, git_dir);
        }
        Ok(handle)
    }

    fn start_watcher(&self, handle: &Arc<SpaceHandle>, root: PathBuf, git_dir: PathBuf) {
        let Ok(watcher) = SpaceWatcher::start(&root, &git_dir) else { return };
        let weak = Arc::downgrade(handle);
        let changes = self.changes.clone();
        let spawned = std::thread::Builder::new().name(format!("watch-{}", handle.key)).spawn(move || {
            while let Ok(event) = watcher.events().recv() {
                let Some(handle) = weak.upgrade() else { return };
                if let SpaceEvent::Files(paths) = event {
                    lock(&handle.dirty).extend(paths);
                }
                handle.touch();
                // A page saved by the CLI, edited in an editor, pulled by git: search catches up.
                changes.mark(&handle.key);
            }
        });
        if let Ok(thread) = spawned {
            lock(&self.watchers).push(thread);
        }
    }

    /// The code repository registered for space `key` at its current HEAD (blocking: call from
    /// a blocking thread).
    pub fn code(&self, key: &str) -> ApiResult<Option<Arc<cdo_ai::fresh::Code>>> {
        let Some(path) = self.wiki.code_repo(key)? else { return Ok(None) };
        let head = cdo_ai::fresh::Code::head_of(&path);
        if let Some(code) = lock(&self.code).get(key).filter(|c| Some(&c.head) == head.as_ref() && c.root == path) {
            return Ok(Some(code.clone()));
        }
        let code = Arc::new(cdo_ai::fresh::Code::scan(&path).map_err(|e| ApiError::internal(e.to_string()))?);
        lock(&self.code).insert(key.to_owned(), code.clone());
        Ok(Some(code))
    }

    /// The contradictions between the pages of space `key` (open as `space`), found again only
    /// when the space changed (blocking).
    pub fn contradictions(&self, key: &str, space: &mut Space) -> ApiResult<Arc<Contradictions>> {
        let generation = self.space(key)?.generation();
        if let Some((at, found)) = lock(&self.contradictions).get(key)
            && *at == generation
        {
            return Ok(found.clone());
        }
        let found =
            Arc::new(cdo_ai::fresh::contradict::find(space, None).map_err(|e| ApiError::internal(e.to_string()))?);
        lock(&self.contradictions).insert(key.to_owned(), (generation, found.clone()));
        Ok(found)
    }

    /// Forgets an open space (after it was created or removed).
    pub fn forget_space(&self, key: &str) {
        lock(&self.spaces).remove(&key.to_ascii_uppercase());
    }

    /// Runs `f` on a space in a blocking thread; `write` marks the space changed afterwards.
    pub async fn with_space<T: Send + 'static>(
        self: &Arc<Self>,
        key: &str,
        write: bool,
        f: impl FnOnce(&mut Space) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let handle = self.space(key)?;
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut space = handle.lock()?;
            let out = f(&mut space);
            if write {
                handle.touch();
                state.changes.mark(&handle.key);
            }
            out
        })
        .await?
    }

    /// Where a content id lives: a page of any space, an attachment, a comment.
    pub async fn locate(self: &Arc<Self>, id: &str) -> ApiResult<Located> {
        if let Some(found) = self.ids.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(id) {
            return Ok(found.clone());
        }
        let state = self.clone();
        let wanted = id.to_owned();
        tokio::task::spawn_blocking(move || state.find(&wanted)).await?
    }

    /// Remembers where an id lives.
    pub fn remember(&self, id: String, at: Located) {
        self.ids.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, at);
    }

    /// Forgets an id (after a delete).
    pub fn forget(&self, id: &str) {
        self.ids.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }

    fn find(&self, id: &str) -> ApiResult<Located> {
        let not_found = || ApiError::not_found(format!("no content with id {id}"));
        let entries = self.space_entries()?;
        if let Some(rest) = id.strip_prefix("att") {
            rest.parse::<u64>().map_err(|_| not_found())?;
            for entry in &entries {
                let handle = self.space(&entry.key)?;
                let mut space = handle.lock()?;
                let pages: Vec<PageId> = space.catalog()?.nodes().map(|n| n.id.clone()).collect();
                for page in pages {
                    for att in space.attachments(&page)? {
                        let att_id = attachment_id(&page, &att.name);
                        let at = Located::Attachment { space: entry.key.clone(), page: page.clone(), name: att.name };
                        self.remember(att_id.clone(), at.clone());
                        if att_id == id {
                            return Ok(at);
                        }
                    }
                }
            }
            return Err(not_found());
        }
        let page_id = PageId::parse(id).ok_or_else(not_found)?;
        for entry in &entries {
            let handle = self.space(&entry.key)?;
            let mut space = handle.lock()?;
            if space.contains(&page_id)? {
                let at = Located::Page { space: entry.key.clone(), id: page_id };
                self.remember(id.to_owned(), at.clone());
                return Ok(at);
            }
        }
        for entry in &entries {
            let handle = self.space(&entry.key)?;
            let mut space = handle.lock()?;
            if let Ok((page, _)) = space.find_comment(&page_id) {
                let at = Located::Comment { space: entry.key.clone(), page };
                self.remember(id.to_owned(), at.clone());
                return Ok(at);
            }
        }
        Err(not_found())
    }

    /// A cached answer for `key` in a space, if the space has not changed since; else the
    /// space's generation, to cache the answer about to be made with.
    pub fn cached(&self, handle: &SpaceHandle, key: &str) -> Result<Bytes, u64> {
        let generation = handle.generation();
        let cache = self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        match cache.get(key) {
            Some(c) if c.generation == generation => Ok(c.body.clone()),
            _ => Err(generation),
        }
    }

    /// Caches an answer made at `generation`.
    pub fn cache(&self, key: String, generation: u64, body: Bytes) {
        let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, Cached { generation, body });
    }

    /// Sends a change event to the event streams and the webhooks that want it.
    pub fn emit(&self, event: crate::events::ChangeEvent) {
        self.webhooks.offer(&event);
        self.events.emit(event);
    }

    /// Whether anyone wants events of `kind` in `space` (some cost to make).
    pub fn wants_event(&self, space: &str, kind: &str) -> bool {
        self.events.wanted() || self.webhooks.wants(space, kind)
    }

    /// Brings the git index of every open space up to date with the saves made since the last
    /// time (saves only journal their paths), so `git status` in a space is clean while the
    /// server runs. Spaces busy right now are left for the next round.
    pub fn flush_indexes(&self) {
        let handles: Vec<Arc<SpaceHandle>> = lock(&self.spaces).values().cloned().collect();
        for handle in handles {
            if let Ok(space) = handle.space.try_lock()
                && space.store().index_pending()
                && let Err(e) = space.flush_index()
            {
                eprintln!("confluence.do: the git index of {} could not be updated: {e}", handle.key);
            }
        }
    }

    /// After a space changed behind the server's back (a git sync): answers, search and
    /// embeddings catch up.
    pub fn after_outside_write(&self, handle: &SpaceHandle) {
        handle.touch();
        self.changes.mark(&handle.key);
    }

    /// Opens the index if needed and catches it up with the spaces changed since (all of them
    /// when it was just opened).
    fn catch_up_locked(&self, guard: &mut Option<SearchIndex>) -> ApiResult<()> {
        let fresh = guard.is_none();
        if fresh {
            *guard = Some(self.wiki.search_index()?);
        }
        let Some(index) = guard.as_mut() else {
            return Err(ApiError::internal("the search index could not be opened"));
        };
        let dirty: Vec<String> =
            if fresh { self.space_entries()?.into_iter().map(|e| e.key).collect() } else { self.changes.take() };
        for key in dirty {
            let handle = self.space(&key)?;
            let mut space = handle.lock()?;
            index.sync_space(&mut space, &mut |_| {})?;
        }
        Ok(())
    }

    /// Marks every space for a search catch-up (after spaces were added).
    pub fn search_all_dirty(&self) -> ApiResult<()> {
        let keys: Vec<String> = self.space_entries()?.into_iter().map(|e| e.key).collect();
        for key in keys {
            self.changes.mark(&key);
        }
        Ok(())
    }
}

/// The id Confluence clients see for an attachment: `att` and a number from its page and name.
pub fn attachment_id(page: &PageId, name: &str) -> String {
    format!("att{}", stable_hash(&format!("{page}/{name}")) % 1_000_000_000_000)
}

/// FNV-1a: a hash that stays the same across runs and versions (unlike the std hasher), for
/// the numeric ids Confluence clients see.
pub fn stable_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A file name as one URL path component (or RFC 5987 value): unreserved bytes kept, the rest
/// percent-encoded.
pub fn encode_component(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attachment ids are what clients stored: they must never change between versions.
    #[test]
    fn attachment_ids_are_stable() {
        let page = PageId::parse("1000000000031").expect("id");
        assert_eq!(attachment_id(&page, "notes.txt"), "att746578413960");
        assert_eq!(encode_component("a b/ü.txt"), "a%20b%2F%C3%BC.txt");
    }
}
