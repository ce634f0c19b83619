//! Live co-editing: `/sync/<page id>` speaks the y-websocket protocol (any Yjs client joins with
//! server URL `ws://host:port/sync` and the page id as its room). One task per open page (a
//! *room*) owns the page's [`Room`]; connections hand it frames and get frames back.
//!
//! Durability: the room gathers what arrived, applies it, appends the accepted updates to the
//! log (one thread for all rooms, one SQLite transaction per batch, `synchronous = FULL`), and
//! only then sends anything, so nothing anyone received is lost to a crash. When edits settle
//! (idle, the last person leaves, shutdown) the Markdown is written and committed, authored by
//! the editors (`Co-authored-by:` for all but the first). Changes from outside (the API, the CLI,
//! git, an editor on disk) are merged into the live document as small text edits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, body::Bytes};
use cdo_core::{Author, PageId, PageUpdate, SpaceError};
use cdo_sync::{Append, Effects, Labels, LiveDoc, Log, Room, SqliteLog, Stored, Target, Write, merge3};
use futures_util::SinkExt as _;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::auth::{Caller, Level};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, SpaceHandle};

/// The largest frame a client may send (a whole page's document fits many times over).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// Messages queued for one connection before it counts as too slow and is closed (it then
/// reconnects and catches up in one step).
const OUTBOX: usize = 4096;
/// When the log's updates past the snapshot are merged into it: once their bytes reach the
/// snapshot's size (at least `COMPACT_MIN_BYTES`), so that each compaction, which writes the
/// whole document, is paid for by as many bytes of updates (a big page under heavy editing was
/// rewritten whole every 500 updates), or past `COMPACT_MAX_UPDATES` updates, which bounds
/// what a restart replays.
const COMPACT_MIN_BYTES: usize = 64 * 1024;
const COMPACT_MAX_UPDATES: usize = 10_000;

fn compaction_due(updates: usize, bytes: usize, snapshot_bytes: usize) -> bool {
    updates > COMPACT_MAX_UPDATES || bytes > snapshot_bytes.max(COMPACT_MIN_BYTES)
}
/// Page files read at once by rooms (each on a blocking thread, one at a time per space anyway):
/// 1,000 pages opening together took 512 threads.
const PAGE_READS: usize = 4;
/// How often an open page looks for changes from outside (a stat of the branch, no reads).
const OUTSIDE_CHECK: Duration = Duration::from_secs(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a connection is sent.
enum Outgoing {
    Frame(Bytes),
    Close(u16, String),
}

enum RoomMsg {
    Join {
        conn: u64,
        can_write: bool,
        author: Author,
        out: mpsc::Sender<Outgoing>,
    },
    /// The bridge to the team server this space joined (see [`bridge`]).
    JoinUpstream {
        conn: u64,
        out: mpsc::Sender<Outgoing>,
    },
    Frame {
        conn: u64,
        data: Bytes,
    },
    Leave {
        conn: u64,
    },
    /// The page may have changed outside.
    Poke,
    /// Commit now, close every connection and stop (shutdown).
    Stop(oneshot::Sender<()>),
    /// Commit now (someone pressed Done) and say when it is done.
    Settle(oneshot::Sender<()>),
}

/// The log, on a thread of its own: appends that arrive together are written in one transaction.
enum LogReq {
    Write(Vec<Write>, oneshot::Sender<Result<(), String>>),
    Read(LogRead),
}

enum LogRead {
    Load(String, oneshot::Sender<Result<Stored, String>>),
    Unsettled(oneshot::Sender<Result<Vec<(String, String)>, String>>),
}

#[derive(Clone)]
struct LogHandle(std::sync::mpsc::Sender<LogReq>);

impl LogHandle {
    /// The log's thread. Group commit: every write queued when it looks (appends of all the
    /// rooms, compactions, first snapshots, settles) goes into one transaction; reads queued
    /// among them are answered once it has committed, so each sees every write asked before it.
    fn start(mut log: Box<dyn Log>) -> std::io::Result<LogHandle> {
        let (tx, rx) = std::sync::mpsc::channel::<LogReq>();
        std::thread::Builder::new().name("live-log".into()).spawn(move || {
            let mut reads = Vec::new();
            let mut writes = Vec::new();
            let mut replies = Vec::new();
            while let Ok(first) = rx.recv() {
                let mut next = Some(first);
                while let Some(req) = next {
                    match req {
                        LogReq::Write(w, reply) => {
                            writes.extend(w);
                            replies.push(reply);
                        }
                        LogReq::Read(read) => reads.push(read),
                    }
                    next = rx.try_recv().ok();
                }
                if !replies.is_empty() {
                    let result = log.write(&writes).map_err(|e| e.to_string());
                    for r in replies.drain(..) {
                        let _ = r.send(result.clone());
                    }
                    writes.clear();
                }
                for read in reads.drain(..) {
                    match read {
                        LogRead::Load(page, reply) => {
                            let _ = reply.send(log.load(&page).map_err(|e| e.to_string()));
                        }
                        LogRead::Unsettled(reply) => {
                            let _ = reply.send(log.unsettled().map_err(|e| e.to_string()));
                        }
                    }
                }
            }
        })?;
        Ok(LogHandle(tx))
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T, String>>) -> LogReq) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        self.0.send(make(tx)).map_err(|_| "the live-edit log has stopped".to_owned())?;
        rx.await.map_err(|_| "the live-edit log has stopped".to_owned())?
    }
}

/// Every open page, and the log.
pub struct Live {
    /// Spaces joined to a team server: live edits of their pages go through it too.
    upstreams: Mutex<HashMap<String, Upstream>>,
    log: Result<LogHandle, String>,
    rooms: Mutex<HashMap<String, mpsc::Sender<RoomMsg>>>,
    next_conn: AtomicU64,
    idle: Mutex<Duration>,
    /// Bounds the page reads of rooms at once ([`PAGE_READS`]).
    reads: tokio::sync::Semaphore,
}

impl Live {
    /// Opens the log at `path` (`HOME/live.sqlite`). If it cannot be opened, live editing says
    /// why to each client that tries, and everything else works.
    pub fn open(path: &std::path::Path) -> Live {
        let log = SqliteLog::open(path)
            .map_err(|e| e.to_string())
            .and_then(|l| LogHandle::start(Box::new(l)).map_err(|e| e.to_string()));
        if let Err(e) = &log {
            eprintln!("confluence.do: live editing is off: {e}");
        }
        Live {
            upstreams: Mutex::new(HashMap::new()),
            log,
            rooms: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            idle: Mutex::new(Duration::from_secs(3)),
            reads: tokio::sync::Semaphore::new(PAGE_READS),
        }
    }

    /// Joins (or with `None` leaves) a team server for `space`: pages opened from now on edit
    /// live through it.
    pub fn set_upstream(&self, space: &str, upstream: Option<Upstream>) {
        let mut map = lock(&self.upstreams);
        match upstream {
            Some(u) => map.insert(space.to_owned(), u),
            None => map.remove(space),
        };
    }

    pub fn upstream(&self, space: &str) -> Option<Upstream> {
        lock(&self.upstreams).get(space).cloned()
    }

    /// Reads the team servers the spaces joined (`HOME/team-servers.json`).
    pub fn load_upstreams(&self, path: &std::path::Path) {
        let Ok(text) = std::fs::read_to_string(path) else { return };
        let Ok(map) = serde_json::from_str::<HashMap<String, (String, String)>>(&text) else {
            return eprintln!("confluence.do: {} is not readable JSON; no team servers joined", path.display());
        };
        let mut upstreams = lock(&self.upstreams);
        for (space, (url, token)) in map {
            upstreams.insert(space, Upstream { url, token });
        }
    }

    /// Writes the team servers the spaces joined, readable by the owner only (tokens inside).
    pub fn save_upstreams(&self, path: &std::path::Path) -> std::io::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let map: HashMap<String, (String, String)> =
            lock(&self.upstreams).iter().map(|(k, u)| (k.clone(), (u.url.clone(), u.token.clone()))).collect();
        let text = serde_json::to_string_pretty(&map).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    }

    /// How long edits must pause before they are committed.
    pub fn set_idle(&self, idle: Duration) {
        *lock(&self.idle) = idle;
    }

    /// Pages open live now.
    pub fn open_pages(&self) -> usize {
        lock(&self.rooms).len()
    }

    /// Tells an open page that its file may have changed (an API write).
    pub fn poke(&self, page: &str) {
        if let Some(tx) = lock(&self.rooms).get(page) {
            let _ = tx.try_send(RoomMsg::Poke);
        }
    }

    /// The room of `page`, started if needed; `msg` is queued while the registry is locked, so a
    /// room that is stopping for want of connections never misses it.
    fn send(state: &Arc<AppState>, space: &str, page: &PageId, msg: RoomMsg) -> Result<mpsc::Sender<RoomMsg>, String> {
        let live = &state.live;
        let log = live.log.clone()?;
        let mut rooms = lock(&live.rooms);
        let key = page.to_string();
        let tx = match rooms.get(&key) {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::channel(OUTBOX);
                let room = RoomTask::new(state.clone(), log, space.to_owned(), page.clone(), rx);
                tokio::spawn(room.run());
                rooms.insert(key, tx.clone());
                tx
            }
        };
        tx.try_send(msg).map_err(|_| "the page's live session is overloaded; try again".to_owned())?;
        Ok(tx)
    }

    /// Commits the live edits of `page` now, if it is open; returns when they are committed.
    pub async fn settle_now(&self, page: &str) {
        let tx = lock(&self.rooms).get(page).cloned();
        if let Some(tx) = tx {
            let (done, wait) = oneshot::channel();
            if tx.send(RoomMsg::Settle(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }

    /// Commits pages whose live edits were not committed when the server last stopped (a crash).
    pub async fn recover(state: &Arc<AppState>) {
        let Ok(log) = state.live.log.clone() else { return };
        let pages = match log.ask(|r| LogReq::Read(LogRead::Unsettled(r))).await {
            Ok(p) => p,
            Err(e) => return eprintln!("confluence.do: live edits could not be recovered: {e}"),
        };
        for (space, page) in pages {
            let Some(id) = PageId::parse(&page) else { continue };
            let (tx, rx) = oneshot::channel();
            // Settle, not stop: someone may have opened the page meanwhile.
            if let Err(e) = Live::send(state, &space, &id, RoomMsg::Settle(tx)) {
                eprintln!("confluence.do: live edits of page {page} could not be recovered: {e}");
                continue;
            }
            let _ = rx.await;
            eprintln!("confluence.do: committed live edits of page {page} ({space}) left from the last run");
        }
    }

    /// Commits every open page and closes its connections.
    pub async fn shutdown(&self) {
        let rooms: Vec<mpsc::Sender<RoomMsg>> = lock(&self.rooms).drain().map(|(_, tx)| tx).collect();
        for tx in rooms {
            let (done, wait) = oneshot::channel();
            if tx.send(RoomMsg::Stop(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }
}

/// A team server a space joined: its base URL (`http://host:port`) and an API token.
#[derive(Clone, Debug)]
pub struct Upstream {
    pub url: String,
    pub token: String,
}

/// The bridge of one open page to the team server: a y-websocket client there, and a
/// connection into the local room. Both sides run the same protocol, so on every (re)connect the
/// two documents exchange what the other lacks: edits made offline merge. Without the team
/// server, editing goes on locally; the bridge retries with back-off while the page is open.
async fn bridge(room: mpsc::Sender<RoomMsg>, conn: u64, upstream: Upstream, page: String) {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    let base = upstream.url.trim_end_matches('/').replacen("http://", "ws://", 1).replacen("https://", "wss://", 1);
    let url = format!("{base}/sync/{page}?token={}", upstream.token);
    let mut backoff = Duration::from_millis(250);
    let mut logged = false;
    loop {
        if room.is_closed() {
            return;
        }
        match tokio_tungstenite::connect_async_with_config(url.as_str(), None, true).await {
            Ok((ws, _)) => {
                backoff = Duration::from_millis(250);
                logged = false;
                let (mut sink, mut stream) = ws.split();
                let (out, mut outbox) = mpsc::channel::<Outgoing>(OUTBOX);
                if room.send(RoomMsg::JoinUpstream { conn, out }).await.is_err() {
                    return;
                }
                let ended = loop {
                    tokio::select! {
                        incoming = stream.next() => match incoming {
                            Some(Ok(WsMessage::Binary(data))) => {
                                if room.send(RoomMsg::Frame { conn, data }).await.is_err() {
                                    break true;
                                }
                            }
                            Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break false,
                            Some(Ok(_)) => {}
                        },
                        sent = outbox.recv() => match sent {
                            Some(Outgoing::Frame(frame)) => {
                                if sink.send(WsMessage::Binary(frame)).await.is_err() {
                                    break false;
                                }
                            }
                            // The room stopped (or dropped us): the page is closed here.
                            Some(Outgoing::Close(..)) | None => {
                                let _ = sink.close().await;
                                break true;
                            }
                        },
                    }
                };
                let _ = room.send(RoomMsg::Leave { conn }).await;
                if ended {
                    return;
                }
            }
            Err(e) => {
                if !logged {
                    eprintln!(
                        "confluence.do: the team server is out of reach for page {page} ({e}); editing goes on here and merges when it is back"
                    );
                    logged = true;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// `GET /sync/<page id>`: the WebSocket upgrade. Reading needs read access; editing, write.
pub async fn socket(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(page): Path<String>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let (space, id) = crate::api::page_of(&state, &page).await?;
    caller.require(&space, Level::Read)?;
    if let Err(e) = &state.live.log {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("live editing is off on this server: {e}"),
        ));
    }
    let can_write = caller.can(&space, Level::Write);
    let author = caller.author.clone();
    Ok(upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // Small buffers that grow when needed: a server holds thousands of these, and
        // tungstenite zeroes the free part of the read buffer before every read.
        .read_buffer_size(2 * 1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |ws| connection(state, space, id, can_write, author, ws)))
}

async fn connection(
    state: Arc<AppState>,
    space: String,
    page: PageId,
    can_write: bool,
    author: Author,
    mut ws: WebSocket,
) {
    let conn = state.live.next_conn.fetch_add(1, Ordering::Relaxed);
    let (out, mut outbox) = mpsc::channel::<Outgoing>(OUTBOX);
    let room = match Live::send(&state, &space, &page, RoomMsg::Join { conn, can_write, author, out }) {
        Ok(room) => room,
        Err(e) => {
            let _ = ws.send(close(1013, &e)).await;
            return;
        }
    };
    loop {
        tokio::select! {
            incoming = ws.recv() => match incoming {
                Some(Ok(Message::Binary(data))) => {
                    if room.send(RoomMsg::Frame { conn, data }).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Text(_))) => {
                    eprintln!("confluence.do: live connection {conn} on page {page} closed: a text frame (the protocol is binary)");
                    close_politely(&mut ws, 1003, "y-websocket frames are binary").await;
                    break;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => break,
                Some(Err(e)) => {
                    eprintln!("confluence.do: live connection {conn} on page {page} closed: {e}");
                    break;
                }
            },
            sent = outbox.recv() => match sent {
                Some(Outgoing::Frame(frame)) => {
                    // Everything already queued goes out in one write.
                    let mut next = Some(Outgoing::Frame(frame));
                    let mut failed = false;
                    let mut closing = None;
                    let mut n = 0;
                    while let Some(item) = next.take() {
                        match item {
                            Outgoing::Frame(f) => {
                                if ws.feed(Message::Binary(f)).await.is_err() {
                                    failed = true;
                                    break;
                                }
                            }
                            Outgoing::Close(code, reason) => {
                                closing = Some((code, reason));
                                break;
                            }
                        }
                        n += 1;
                        if n < 256 {
                            next = outbox.try_recv().ok();
                        }
                    }
                    if failed || ws.flush().await.is_err() {
                        break;
                    }
                    if let Some((code, reason)) = closing {
                        close_politely(&mut ws, code, &reason).await;
                        break;
                    }
                }
                Some(Outgoing::Close(code, reason)) => {
                    close_politely(&mut ws, code, &reason).await;
                    break;
                }
                None => {
                    close_politely(&mut ws, 1013, "too slow to keep up; reconnect to catch up").await;
                    break;
                }
            },
        }
    }
    let _ = room.send(RoomMsg::Leave { conn }).await;
}

/// Sends a close frame and reads until the client answers it (a little while at most): closing
/// a socket with unread frames makes TCP reset it, and the client would never see the reason.
async fn close_politely(ws: &mut WebSocket, code: u16, reason: &str) {
    if ws.send(close(code, reason)).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(m)) = ws.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

fn close(code: u16, reason: &str) -> Message {
    // A close reason is at most 123 bytes.
    let mut reason = reason.to_owned();
    while reason.len() > 120 {
        reason.pop();
    }
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

struct Connection {
    out: mpsc::Sender<Outgoing>,
    author: Author,
    /// The bridge to a team server: its edits are other people's, relayed.
    upstream: bool,
}

/// One open page.
struct RoomTask {
    state: Arc<AppState>,
    log: LogHandle,
    space: String,
    page: PageId,
    rx: mpsc::Receiver<RoomMsg>,
    conns: HashMap<u64, Connection>,
}

/// The page's live state once loaded.
struct Loaded {
    room: Room,
    handle: Arc<SpaceHandle>,
    /// The Markdown the document last agreed with the file on.
    base: String,
    title: String,
    /// People with edits not yet committed, in order of their first edit.
    editors: Vec<Author>,
    /// Updates in the log since its snapshot, and their bytes.
    logged: usize,
    logged_bytes: usize,
    /// The snapshot's size.
    snapshot_bytes: usize,
    /// When to commit (edits pending).
    settle_at: Option<Instant>,
    /// The space's generation when the file was last compared.
    seen_generation: u64,
}

impl Loaded {
    /// Whether the updates since the snapshot should be merged into it now.
    fn due_for_compaction(&self) -> bool {
        compaction_due(self.logged, self.logged_bytes, self.snapshot_bytes)
    }

    /// The log's snapshot is now the document (`size` bytes), with no updates after it.
    fn compacted(&mut self, size: usize) {
        self.logged = 0;
        self.logged_bytes = 0;
        self.snapshot_bytes = size;
    }
}

impl RoomTask {
    fn new(state: Arc<AppState>, log: LogHandle, space: String, page: PageId, rx: mpsc::Receiver<RoomMsg>) -> RoomTask {
        RoomTask { state, log, space, page, rx, conns: HashMap::new() }
    }

    fn idle(&self) -> Duration {
        *lock(&self.state.live.idle)
    }

    async fn run(mut self) {
        let mut loaded = match self.load().await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("confluence.do: page {} could not be opened live: {e}", self.page);
                self.fail(&format!("the page could not be opened live: {e}")).await;
                return;
            }
        };
        if let Some(upstream) = self.state.live.upstream(&self.space)
            && let Some(room) = lock(&self.state.live.rooms).get(&self.page.to_string()).cloned()
        {
            let conn = self.state.live.next_conn.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(bridge(room, conn, upstream, self.page.to_string()));
        }
        let mut check = tokio::time::interval(OUTSIDE_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let settle_at = loaded.settle_at;
            let first = tokio::select! {
                msg = self.rx.recv() => msg,
                _ = sleep_until(settle_at) => {
                    self.settle(&mut loaded).await;
                    continue;
                }
                _ = check.tick() => {
                    let generation = loaded.handle.recent_generation(OUTSIDE_CHECK / 4);
                    if generation != loaded.seen_generation {
                        loaded.seen_generation = generation;
                        self.check_outside(&mut loaded).await;
                    }
                    continue;
                }
            };
            let Some(first) = first else { break };
            let mut batch = vec![first];
            while batch.len() < 1024 {
                match self.rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            let before = self.state.wants_event(&self.space, "content.changed").then(|| loaded.room.doc().text());
            let mut fx = Effects::default();
            let mut stop = None;
            let mut settled = Vec::new();
            let mut poked = false;
            let mut authors: Vec<Option<Author>> = Vec::new();
            for msg in batch {
                match msg {
                    RoomMsg::Join { conn, can_write, author, out } => {
                        self.emit("presence.joined", Some(&author), None);
                        self.conns.insert(conn, Connection { out, author, upstream: false });
                        fx.extend(loaded.room.join(conn, can_write));
                    }
                    RoomMsg::JoinUpstream { conn, out } => {
                        let author = Author { name: "team server".into(), email: "live@team-server".into() };
                        self.conns.insert(conn, Connection { out, author, upstream: true });
                        fx.extend(loaded.room.join_relay(conn));
                    }
                    RoomMsg::Frame { conn, data } => {
                        if !self.conns.contains_key(&conn) {
                            continue;
                        }
                        match loaded.room.receive(conn, &data) {
                            Ok(more) => {
                                if !more.durable.is_empty()
                                    && let Some(c) = self.conns.get(&conn)
                                {
                                    // Edits relayed from the team server are its people's: the
                                    // server made them (no local author).
                                    let by = (!c.upstream).then(|| c.author.clone());
                                    authors.extend(std::iter::repeat_n(by, more.durable.len()));
                                }
                                fx.extend(more);
                            }
                            Err(e) => {
                                eprintln!("confluence.do: live connection {conn} on page {} closed: {e}", self.page);
                                if let Some(c) = self.conns.remove(&conn) {
                                    let _ = c.out.try_send(Outgoing::Close(1008, e.to_string()));
                                }
                                fx.extend(loaded.room.leave(conn));
                            }
                        }
                    }
                    RoomMsg::Leave { conn } => {
                        if let Some(c) = self.conns.remove(&conn) {
                            self.emit("presence.left", Some(&c.author), None);
                        }
                        fx.extend(loaded.room.leave(conn));
                    }
                    RoomMsg::Poke => poked = true,
                    RoomMsg::Stop(done) => stop = Some(done),
                    RoomMsg::Settle(done) => settled.push(done),
                }
            }
            if let Some(before) = before
                && !authors.is_empty()
            {
                let position = crate::events::first_change(&before, &loaded.room.doc().text());
                let mut seen: Vec<&Author> = Vec::new();
                for a in authors.iter().flatten() {
                    if !seen.iter().any(|s| s.email == a.email) {
                        seen.push(a);
                        self.emit("content.changed", Some(a), Some(position));
                    }
                }
            }
            if let Err(e) = self.commit_effects(&mut loaded, fx, authors).await {
                eprintln!("confluence.do: live edits of page {} could not be saved: {e}", self.page);
                self.fail(&format!("the server could not save live edits ({e}); reconnect to retry")).await;
                return;
            }
            if poked {
                self.check_outside(&mut loaded).await;
            }
            if !settled.is_empty() {
                self.settle(&mut loaded).await;
                for done in settled {
                    let _ = done.send(());
                }
            }
            if let Some(done) = stop {
                self.settle(&mut loaded).await;
                self.close_all(1001, "the server is stopping");
                let _ = done.send(());
                self.remove_self();
                return;
            }
            if self.conns.values().all(|c| c.upstream) {
                // The last person left: commit now, and stop unless someone joined meanwhile
                // (the bridge to a team server, if any, ends with the room).
                self.settle(&mut loaded).await;
                if self.try_stop() {
                    return;
                }
            }
        }
        self.settle(&mut loaded).await;
    }

    /// Makes the updates durable, then sends the messages; `authors[i]` made `durable[i]`
    /// (the rest were made by the server).
    async fn commit_effects(
        &mut self,
        loaded: &mut Loaded,
        fx: Effects,
        authors: Vec<Option<Author>>,
    ) -> Result<(), String> {
        if !fx.durable.is_empty() {
            let mut authors = authors.into_iter();
            let batch: Vec<Append> = fx
                .durable
                .into_iter()
                .map(|update| Append {
                    space: self.space.clone(),
                    page: self.page.to_string(),
                    update,
                    author: authors.next().flatten(),
                })
                .collect();
            for a in batch.iter().filter_map(|a| a.author.as_ref()) {
                if !loaded.editors.iter().any(|e| e.email == a.email) {
                    loaded.editors.push(a.clone());
                }
            }
            loaded.logged += batch.len();
            loaded.logged_bytes += batch.iter().map(|a| a.update.len()).sum::<usize>();
            self.log.ask(|r| LogReq::Write(batch.into_iter().map(Write::Append).collect(), r)).await?;
        }
        let mut queue: std::collections::VecDeque<(Target, Bytes)> = fx.messages.into();
        while let Some((target, frame)) = queue.pop_front() {
            let mut gone = Vec::new();
            for (id, c) in &self.conns {
                let to = match target {
                    Target::One(x) => x == *id,
                    Target::AllBut(x) => x != *id,
                    Target::All => true,
                };
                if to && c.out.try_send(Outgoing::Frame(frame.clone())).is_err() {
                    gone.push(*id);
                }
            }
            for id in gone {
                // Closed, or too slow: dropping its sender closes the connection (it reconnects
                // and catches up); the others hear that its people left.
                self.conns.remove(&id);
                queue.extend(loaded.room.leave(id).messages);
            }
        }
        if fx.changed {
            loaded.settle_at = Some(Instant::now() + self.idle());
        }
        if loaded.due_for_compaction() {
            let state = loaded.room.doc().state();
            let size = state.len();
            self.log.ask(|r| LogReq::Write(vec![Write::Compact { page: self.page.to_string(), state }], r)).await?;
            loaded.compacted(size);
        }
        Ok(())
    }

    /// Reads the page and the log, and makes the live document.
    async fn load(&mut self) -> Result<Loaded, String> {
        let handle = self.state.space(&self.space).map_err(|e| e.message)?;
        let (body, title) = self.read_page(&handle).await?;
        let page = self.page.to_string();
        let stored = self.log.ask(|r| LogReq::Read(LogRead::Load(page.clone(), r))).await?;
        let updates = stored.updates.iter().map(Vec::as_slice);
        let doc = match &stored.state {
            Some(state) => LiveDoc::restore(state, updates).map_err(|e| e.to_string())?,
            None => {
                let doc = LiveDoc::seeded(&body);
                for u in updates {
                    doc.apply(u).map_err(|e| e.to_string())?;
                }
                doc
            }
        };
        let base = stored.base.clone().unwrap_or_else(|| body.clone());
        let mut snapshot_bytes = stored.state.as_ref().map_or(0, Vec::len);
        if stored.state.is_none() {
            // The first snapshot, so that every later start builds on the same items.
            let (space, state) = (self.space.clone(), doc.state());
            snapshot_bytes = state.len();
            if stored.unsettled() {
                self.log.ask(|r| LogReq::Write(vec![Write::Compact { page: page.clone(), state }], r)).await?;
            } else {
                self.log
                    .ask(|r| {
                        LogReq::Write(vec![Write::Settle { space, page: page.clone(), state, base: base.clone() }], r)
                    })
                    .await?;
            }
        }
        let seen_generation = handle.generation();
        let mut loaded = Loaded {
            room: Room::new(doc),
            handle,
            base,
            title: title.clone(),
            editors: stored.editors.clone(),
            logged: stored.updates.len(),
            logged_bytes: stored.updates.iter().map(Vec::len).sum(),
            snapshot_bytes,
            settle_at: stored.unsettled().then(Instant::now),
            seen_generation,
        };
        let mut fx = Effects::default();
        for (key, value) in [("id", page.as_str()), ("title", title.as_str())] {
            if let Some(u) = loaded.room.doc().set_meta(key, value) {
                fx.extend(loaded.room.local(u));
            }
        }
        fx.changed = false;
        self.commit_effects(&mut loaded, fx, Vec::new()).await?;
        if body != loaded.base {
            self.merge_outside(&mut loaded, body).await?;
        }
        Ok(loaded)
    }

    /// The page's body and title, as the space has them now.
    async fn read_page(&self, handle: &Arc<SpaceHandle>) -> Result<(String, String), String> {
        let (handle, id) = (handle.clone(), self.page.clone());
        let _permit = self.state.live.reads.acquire().await.map_err(|e| e.to_string())?;
        tokio::task::spawn_blocking(move || {
            let mut space = handle.lock().map_err(|e| e.message)?;
            let page = space.page(&id).map_err(|e| e.to_string())?;
            Ok((page.body, page.summary.title))
        })
        .await
        .map_err(|e| e.to_string())?
    }

    async fn check_outside(&mut self, loaded: &mut Loaded) {
        match self.read_page(&loaded.handle).await {
            Ok((body, title)) => {
                if title != loaded.title {
                    loaded.title = title.clone();
                    if let Some(u) = loaded.room.doc().set_meta("title", &title) {
                        let mut fx = loaded.room.local(u);
                        fx.changed = false;
                        let _ = self.commit_effects(loaded, fx, Vec::new()).await;
                    }
                }
                if body != loaded.base
                    && let Err(e) = self.merge_outside(loaded, body).await
                {
                    eprintln!("confluence.do: a change to page {} could not be merged live: {e}", self.page);
                }
            }
            Err(e) => eprintln!("confluence.do: page {} could not be read: {e}", self.page),
        }
    }

    /// Merges the file's new body into the live document (three-way against `base`): people
    /// editing see the change appear; their own edits stay.
    async fn merge_outside(&mut self, loaded: &mut Loaded, body: String) -> Result<(), String> {
        let ours = loaded.room.doc().text();
        let merged = merge3(&loaded.base, &ours, &body, Labels { ours: "live edits", theirs: "saved elsewhere" });
        if !merged.conflicts.is_empty() {
            eprintln!(
                "confluence.do: page {}: {} overlapping edit(s) from outside kept beside the live ones, marked",
                self.page,
                merged.conflicts.len()
            );
        }
        loaded.base = body;
        let Some(update) = loaded.room.doc().set_text(&merged.text) else { return Ok(()) };
        let mut fx = loaded.room.local(update);
        // Edits that only bring the document to the file need no commit.
        fx.changed = merged.text != loaded.base;
        self.commit_effects(loaded, fx, Vec::new()).await
    }

    /// Commits the document's text if it differs from the file; retries after merging a change
    /// made outside meanwhile.
    async fn settle(&mut self, loaded: &mut Loaded) {
        for _ in 0..3 {
            let text = loaded.room.doc().text();
            let written = if text == loaded.base && loaded.editors.is_empty() {
                if loaded.logged == 0 {
                    loaded.settle_at = None;
                    return;
                }
                // Only the server's own updates (metadata, merges that match the file): the
                // log's snapshot takes them; nothing to commit.
                Ok(Written::Done(text.clone()))
            } else {
                self.write_page(loaded, text.clone()).await
            };
            match written {
                Ok(Written::Outside(body)) => {
                    if let Err(e) = self.merge_outside(loaded, body).await {
                        eprintln!("confluence.do: page {}: {e}", self.page);
                        break;
                    }
                }
                Ok(Written::Done(body)) => {
                    if let Some(first) = loaded.editors.first() {
                        self.emit("page.updated", Some(first), None);
                    }
                    let (space, page, state) = (self.space.clone(), self.page.to_string(), loaded.room.doc().state());
                    let size = state.len();
                    let base = text.clone();
                    if let Err(e) =
                        self.log.ask(|r| LogReq::Write(vec![Write::Settle { space, page, state, base }], r)).await
                    {
                        eprintln!("confluence.do: page {}: the live-edit log: {e}", self.page);
                    }
                    loaded.base = text;
                    loaded.editors.clear();
                    loaded.compacted(size);
                    loaded.settle_at = None;
                    loaded.seen_generation = loaded.handle.generation();
                    if body != loaded.base {
                        // The file reads back differently (normalised): take that in too.
                        let _ = self.merge_outside(loaded, body).await;
                    }
                    return;
                }
                Err(e) => {
                    eprintln!("confluence.do: live edits of page {} could not be committed: {e}", self.page);
                    break;
                }
            }
        }
        // Try again later; the edits are safe in the log.
        loaded.settle_at = Some(Instant::now() + self.idle().max(Duration::from_secs(5)));
    }

    async fn write_page(&self, loaded: &Loaded, text: String) -> Result<Written, String> {
        let (id, base, editors) = (self.page.clone(), loaded.base.clone(), loaded.editors.clone());
        let local = self.state.local_user.clone();
        let key = self.space.clone();
        self.state
            .with_space(&key, true, move |space| {
                let page = space.page(&id)?;
                if page.body != base {
                    return Ok(Written::Outside(page.body));
                }
                if page.body == text {
                    return Ok(Written::Done(page.body));
                }
                let author = editors.first().cloned().unwrap_or(local);
                let mut message = format!("Edit \"{}\" live", page.summary.title);
                let others: Vec<&Author> = editors.iter().skip(1).collect();
                if !others.is_empty() {
                    message.push_str("\n\n");
                    for a in others {
                        message.push_str(&format!("Co-authored-by: {} <{}>\n", a.name, a.email));
                    }
                }
                let update = PageUpdate {
                    body: Some(text),
                    base_version: Some(page.version),
                    message: Some(message),
                    ..PageUpdate::default()
                };
                match space.update_page(&id, &update, &author) {
                    Ok(_) => Ok(Written::Done(space.page(&id)?.body)),
                    Err(SpaceError::Stale { .. }) => Ok(Written::Outside(space.page(&id)?.body)),
                    Err(e) => Err(e.into()),
                }
            })
            .await
            .map_err(|e| e.message)
    }

    fn emit(&self, kind: &'static str, user: Option<&Author>, position: Option<usize>) {
        let mut event = crate::events::ChangeEvent::new(kind, &self.space, Some(self.page.to_string()), user);
        event.position = position;
        self.state.emit(event);
    }

    fn close_all(&mut self, code: u16, reason: &str) {
        for (_, c) in self.conns.drain() {
            let _ = c.out.try_send(Outgoing::Close(code, reason.to_owned()));
        }
    }

    /// Stops the room if nothing is queued for it (checked with the registry locked).
    fn try_stop(&mut self) -> bool {
        let mut rooms = lock(&self.state.live.rooms);
        if !self.rx.is_empty() {
            return false;
        }
        rooms.remove(&self.page.to_string());
        self.rx.close();
        self.conns.clear();
        true
    }

    /// Leaves the registry; anyone who joined meanwhile is asked to reconnect.
    fn remove_self(&mut self) {
        self.leave_registry(1012, "the page's live session restarted; reconnect");
    }

    /// Leaves the registry and closes the queue; joins still queued are closed with `code`
    /// and `reason`, and whoever waits for a commit is answered.
    fn leave_registry(&mut self, code: u16, reason: &str) {
        {
            let mut rooms = lock(&self.state.live.rooms);
            rooms.remove(&self.page.to_string());
            self.rx.close();
        }
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                RoomMsg::Join { out, .. } | RoomMsg::JoinUpstream { out, .. } => {
                    let _ = out.try_send(Outgoing::Close(code, reason.to_owned()));
                }
                RoomMsg::Stop(done) | RoomMsg::Settle(done) => {
                    let _ = done.send(());
                }
                _ => {}
            }
        }
    }

    /// The room cannot go on: every connection is told why, and the room stops (the next
    /// connection starts it afresh from the file and the log).
    async fn fail(&mut self, reason: &str) {
        self.leave_registry(1011, reason);
        self.close_all(1011, reason);
    }
}

enum Written {
    /// Committed (or nothing to commit); the body as the file now has it.
    Done(String),
    /// The file changed since the document last agreed with it: merge this first.
    Outside(String),
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_waits_for_as_many_bytes_as_the_snapshot_has() {
        // (updates, their bytes, snapshot bytes, due)
        let cases = [
            // A small page: 64 KiB of updates first.
            (500, 30_000, 8_000, false),
            (2_000, 65_537, 8_000, true),
            // A big page: as many bytes as it has (a 1.6 MB page is not rewritten every 500 updates).
            (500, 30_000, 1_600_000, false),
            (9_000, 1_500_000, 1_600_000, false),
            (9_500, 1_600_001, 1_600_000, true),
            // Tiny updates: the count bounds what a restart replays.
            (10_001, 100_000, 1_600_000, true),
        ];
        for (updates, bytes, snapshot, due) in cases {
            assert_eq!(
                compaction_due(updates, bytes, snapshot),
                due,
                "{updates} updates, {bytes} bytes, {snapshot} snapshot"
            );
        }
    }
}
