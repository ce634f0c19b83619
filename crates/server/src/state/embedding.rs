//! Meaning for search: the background embedder that gives every new passage a vector, and the
//! model searches use for the query. Both models are loaded when wanted and let go after
//! [`model_idle`] unused; with [`Host::Helper`] (the desktop app, `serve`) each is a child
//! process, so an idle app holds neither the model nor ONNX Runtime.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cdo_search::SearchIndex;
use cdo_search::embed::{Embedder, Host};

use super::{AppState, lock};
use crate::error::{ApiError, ApiResult};

/// What the background embedder is doing, for the UI's progress.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct EmbedStatus {
    /// Whether the embedding model is installed (`false`: semantic search needs setting up).
    pub available: bool,
    pub running: bool,
    /// Passages without a vector, of all passages (as last counted).
    pub pending: usize,
    pub total: usize,
    /// Passages embedded since the server started.
    pub embedded: usize,
    pub error: Option<String>,
}

/// Passages embedded per step; the search index is locked only to read them and to store the
/// vectors, never while the model runs.
const EMBED_STEP: usize = 16;

/// How long an embedding model unused stays loaded (the background embedder's, and the one
/// searches use): a minute, or `CONFLUENCE_DO_MODEL_IDLE` seconds.
fn model_idle() -> Duration {
    let secs = std::env::var("CONFLUENCE_DO_MODEL_IDLE").ok().and_then(|s| s.trim().parse::<f64>().ok());
    secs.filter(|s| s.is_finite() && *s >= 0.0).map_or(Duration::from_secs(60), Duration::from_secs_f64)
}

type Model = Box<dyn Embedder + Send>;

/// The state's part in embedding.
pub(super) struct Embedding {
    host: Host,
    idle: Duration,
    /// The model searches use (`Some(None)`: missing), and when it was last used.
    model: Mutex<(Option<Option<Model>>, Instant)>,
    status: Mutex<EmbedStatus>,
    /// The embedder thread, and the flag that stops it (joined on shutdown: an in-process ONNX
    /// Runtime must not be mid-call while the process exits).
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    stop: AtomicBool,
}

impl Default for Embedding {
    fn default() -> Embedding {
        Embedding {
            host: Host::InProcess,
            idle: model_idle(),
            model: Mutex::new((None, Instant::now())),
            status: Mutex::new(EmbedStatus::default()),
            thread: Mutex::new(None),
            stop: AtomicBool::new(false),
        }
    }
}

impl AppState {
    /// Runs the embedding model where `host` says (a helper process for a long-running app).
    pub fn embed_in(mut self, host: Host) -> AppState {
        self.embedding.host = host;
        self
    }

    /// What the background embedder is doing.
    pub fn embed_status(&self) -> EmbedStatus {
        lock(&self.embedding.status).clone()
    }

    fn load_model(&self) -> Result<Model, cdo_search::SearchError> {
        self.embedding.host.load(&cdo_search::embed::models_dir())
    }

    /// Runs `f` with the search index, caught up with the spaces changed since the last search,
    /// and the embedding model when `meaning` asks for it and it is installed.
    pub async fn with_search<T: Send + 'static>(
        self: &Arc<Self>,
        meaning: bool,
        f: impl FnOnce(&mut SearchIndex, Option<&mut dyn Embedder>) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&state.search);
            state.catch_up_locked(&mut guard)?;
            let Some(index) = guard.as_mut() else {
                return Err(ApiError::internal("the search index could not be opened"));
            };
            if !meaning {
                return f(index, None);
            }
            let mut held = lock(&state.embedding.model);
            let (model, used) = &mut *held;
            *used = Instant::now();
            let loaded = model.get_or_insert_with(|| match state.load_model() {
                Ok(model) => Some(model),
                Err(e) => {
                    eprintln!("confluence.do: searching by words only: {e}");
                    None
                }
            });
            f(index, loaded.as_mut().map(|m| m.as_mut() as &mut dyn Embedder))
        })
        .await?
    }

    /// Tells the background embedder that there may be new passages.
    pub fn wake_embedder(&self) {
        self.changes.wake();
    }

    /// Starts embedding passages in the background (when the model is installed): caught up
    /// with the spaces, a few passages at a time, the model run outside every lock, so keyword
    /// and hybrid search never wait for it. Stops when the state is dropped.
    pub fn start_embedder(self: &Arc<Self>) {
        let dir = cdo_search::embed::models_dir();
        if !cdo_search::embed::available(&dir) {
            lock(&self.embedding.status).error = Some(cdo_search::embed::setup_hint(&dir));
            return;
        }
        lock(&self.embedding.status).available = true;
        let weak = Arc::downgrade(self);
        self.wake_embedder();
        let spawned = std::thread::Builder::new().name("embedder".into()).spawn(move || {
            let mut model: Option<Model> = None;
            let mut used = Instant::now();
            loop {
                let Some(state) = weak.upgrade() else { return };
                let embedding = &state.embedding;
                if embedding.stop.load(Ordering::SeqCst) {
                    return;
                }
                if !state.changes.wait((embedding.idle / 3).max(Duration::from_millis(50))) {
                    if Arc::strong_count(&state) <= 1 {
                        return;
                    }
                    // Idle: the models go, this thread's and the one searches use.
                    if used.elapsed() >= embedding.idle {
                        model = None;
                    }
                    if let Ok(mut held) = embedding.model.try_lock()
                        && held.1.elapsed() >= embedding.idle
                    {
                        held.0 = None;
                    }
                    continue;
                }
                let result = state.embed_all(&mut model);
                lock(&embedding.status).error = result.err().map(|e| e.message);
                used = Instant::now();
                lock(&embedding.status).running = false;
            }
        });
        if let Ok(thread) = spawned {
            *lock(&self.embedding.thread) = Some(thread);
        }
    }

    /// Whether the server is shutting down (background work stops).
    pub fn stopping(&self) -> bool {
        self.embedding.stop.load(Ordering::SeqCst)
    }

    /// Stops the background embedder and waits for it (a batch or a model load at most).
    pub fn stop_background(&self) {
        self.embedding.stop.store(true, Ordering::SeqCst);
        self.wake_embedder();
        let thread = lock(&self.embedding.thread).take();
        if let Some(thread) = thread
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }

    /// Embeds every passage without a vector, loading the model only when there is one.
    fn embed_all(&self, model: &mut Option<Model>) -> ApiResult<()> {
        let id = cdo_search::embed::MODEL_ID;
        let mut after = 0i64;
        lock(&self.embedding.status).running = true;
        {
            // Counted once per pass (a scan of the passages), then kept by hand.
            let mut guard = lock(&self.search);
            self.catch_up_locked(&mut guard)?;
            let Some(index) = guard.as_mut() else { return Ok(()) };
            let (pending, total) = index.coverage(id)?;
            let mut status = lock(&self.embedding.status);
            status.pending = pending;
            status.total = total;
            if pending == 0 {
                return Ok(());
            }
        }
        let model = match model {
            Some(model) => model,
            None => model.insert(self.load_model()?),
        };
        loop {
            let batch = {
                let mut guard = lock(&self.search);
                self.catch_up_locked(&mut guard)?;
                let Some(index) = guard.as_mut() else { return Ok(()) };
                index.pending_passages(id, after, EMBED_STEP)?
            };
            let Some(last) = batch.last() else { return Ok(()) };
            if self.stopping() {
                return Ok(());
            }
            after = last.0;
            let texts: Vec<String> = batch.iter().map(|(_, _, t)| t.clone()).collect();
            let vectors = model.embed(&texts)?;
            let pairs: Vec<(String, String)> = batch.into_iter().map(|(_, h, t)| (h, t)).collect();
            let mut guard = lock(&self.search);
            if let Some(index) = guard.as_mut() {
                index.store_vectors(id, &pairs, vectors)?;
            }
            let mut status = lock(&self.embedding.status);
            status.embedded += pairs.len();
            status.pending = status.pending.saturating_sub(pairs.len());
        }
    }
}
