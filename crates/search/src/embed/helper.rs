//! The embedding model in a process of its own: a long-running program (the desktop app, the
//! team server) starts itself again with [`FLAG`], hands that child texts over its stdin and reads
//! vectors back from its stdout. The child loads ONNX Runtime and the model; the parent never
//! maps either, so when the child exits (the parent lets it go after a while idle, or the parent
//! itself goes) every byte it held is back with the system, and a crash in the runtime takes
//! the child down, not the window.
//!
//! The wire, all integers little-endian u32:
//! - hello, child to parent, once: `CDOE`, a version byte, then a reply (the model's id);
//! - request: a count, then each text as a length and UTF-8 bytes;
//! - reply: `0`, the count, the dimension and count × dimension f32s; or `1` and a message.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use super::{Embedder, MiniLm};
use crate::SearchError;

/// The first argument that makes a program serve as an embedding helper.
pub const FLAG: &str = "--embed-helper";

const MAGIC: &[u8; 4] = b"CDOE";
const VERSION: u8 = 1;
/// Bounds on what either side accepts, far above what is sent (16 passages of a few hundred
/// words), so a broken peer gets an error, not an allocation of its choosing.
const MAX_TEXTS: u32 = 4096;
const MAX_TEXT_BYTES: u32 = 1 << 20;
const MAX_DIMENSION: u32 = 4096;

/// When this process was started as a helper ([`FLAG`] first): serves the model (from
/// [`models_dir`](super::models_dir), which the parent set) on stdin and stdout and exits. Called
/// first thing in `main`, before anything else starts.
pub fn serve_if_asked() {
    if std::env::args_os().nth(1).is_some_and(|a| a == FLAG) {
        let code = match serve_stdio(&super::models_dir()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("confluence.do embedding helper: {e}");
                1
            }
        };
        std::process::exit(code);
    }
}

/// Loads the model from `dir` and answers requests on stdin until it closes.
fn serve_stdio(dir: &Path) -> Result<(), SearchError> {
    let mut output = BufWriter::new(std::io::stdout().lock());
    let model = MiniLm::load(dir);
    output.write_all(MAGIC).and_then(|()| output.write_all(&[VERSION])).map_err(wire)?;
    let mut model = match model {
        Ok(model) => {
            write_ok_text(&mut output, model.model_id())?;
            model
        }
        Err(e) => {
            write_error(&mut output, &e.to_string())?;
            return Ok(());
        }
    };
    serve(&mut model, &mut BufReader::new(std::io::stdin().lock()), &mut output)
}

/// Answers requests from `input` with `model` until `input` ends (the parent let go).
pub fn serve(model: &mut dyn Embedder, input: &mut impl Read, output: &mut impl Write) -> Result<(), SearchError> {
    loop {
        let Some(count) = read_u32_or_end(input)? else { return Ok(()) };
        if count > MAX_TEXTS {
            write_error(output, &format!("a request of {count} texts (at most {MAX_TEXTS})"))?;
            return Err(SearchError::Model(format!("a request of {count} texts")));
        }
        let mut texts = Vec::with_capacity(count as usize);
        for _ in 0..count {
            texts.push(read_text(input)?);
        }
        match model.embed(&texts) {
            Ok(vectors) => write_vectors(output, &vectors)?,
            Err(e) => write_error(output, &e.to_string())?,
        }
    }
}

/// The parent's end: a child process serving a model. A child that stopped (killed, crashed)
/// is started again once on the next request, so a search never fails for it.
pub struct Helper {
    program: PathBuf,
    dir: PathBuf,
    process: Process,
    model: String,
}

struct Process {
    child: Child,
    input: Option<BufWriter<ChildStdin>>,
    output: BufReader<ChildStdout>,
}

impl Helper {
    /// Starts `program` with [`FLAG`] on the model in `dir` and waits until it is loaded.
    pub fn start(program: &Path, dir: &Path) -> Result<Helper, SearchError> {
        let (process, model) = Process::start(program, dir)?;
        Ok(Helper { program: program.to_path_buf(), dir: dir.to_path_buf(), process, model })
    }
}

impl Embedder for Helper {
    fn model_id(&self) -> &str {
        &self.model
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, SearchError> {
        match self.process.exchange(texts) {
            Ok(answer) => answer,
            // The pipes broke: the child died (or is dying). Made sure of, then started again.
            Err(e) => {
                let status = self.process.end();
                let (process, model) = Process::start(&self.program, &self.dir).map_err(|again| {
                    SearchError::Model(format!(
                        "the embedding helper stopped ({e}; {status}) and did not start again: {again}"
                    ))
                })?;
                if model != self.model {
                    return Err(SearchError::Model(format!(
                        "the embedding helper came back with another model ({model}, not {})",
                        self.model
                    )));
                }
                self.process = process;
                self.process.exchange(texts)?
            }
        }
    }
}

impl Process {
    fn start(program: &Path, dir: &Path) -> Result<(Process, String), SearchError> {
        let mut child = Command::new(program)
            .arg(FLAG)
            .env("CONFLUENCE_DO_MODELS", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| SearchError::Model(format!("starting the embedding helper {}: {e}", program.display())))?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SearchError::Model("the embedding helper has no pipes".into()));
        };
        let mut process = Process { child, input: Some(BufWriter::new(input)), output: BufReader::new(output) };
        match process.hello() {
            Ok(model) => Ok((process, model)),
            Err(e @ SearchError::ModelMissing(_)) => Err(e),
            Err(e) => Err(match process.exited() {
                Some(status) => SearchError::Model(format!("the embedding helper stopped ({status}): {e}")),
                None => e,
            }),
        }
    }

    /// How the child ended, when it has.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Ends the child (if it has not ended) and says how it ended.
    fn end(&mut self) -> String {
        drop(self.input.take());
        if self.exited().is_none() {
            let _ = self.child.kill();
        }
        match self.child.wait() {
            Ok(status) => status.to_string(),
            Err(e) => format!("not reaped: {e}"),
        }
    }

    fn hello(&mut self) -> Result<String, SearchError> {
        let mut head = [0u8; 5];
        self.output.read_exact(&mut head).map_err(wire)?;
        if &head[..4] != MAGIC || head[4] != VERSION {
            return Err(SearchError::Model(
                "the embedding helper answered with something else (is the program the same version?)".into(),
            ));
        }
        match read_u8(&mut self.output)? {
            0 => read_text(&mut self.output),
            _ => Err(SearchError::ModelMissing(read_text(&mut self.output)?)),
        }
    }

    /// Sends texts and reads the answer: the vectors or what the model said went wrong; `Err`
    /// when the wire broke.
    fn exchange(&mut self, texts: &[String]) -> Result<Result<Vec<Vec<f32>>, SearchError>, SearchError> {
        let input = self.input.as_mut().ok_or_else(|| SearchError::Model("the embedding helper is closed".into()))?;
        write_u32(input, len_u32(texts.len())?)?;
        for text in texts {
            write_u32(input, len_u32(text.len())?)?;
            input.write_all(text.as_bytes()).map_err(wire)?;
        }
        input.flush().map_err(wire)?;
        match read_u8(&mut self.output)? {
            0 => {}
            _ => return Ok(Err(SearchError::Model(read_text(&mut self.output)?))),
        }
        let count = read_u32(&mut self.output)?;
        let dimension = read_u32(&mut self.output)?;
        if count as usize != texts.len() || dimension == 0 || dimension > MAX_DIMENSION {
            return Err(SearchError::Model(format!(
                "the embedding helper sent {count} vectors of {dimension} numbers for {} texts",
                texts.len()
            )));
        }
        let mut bytes = vec![0u8; dimension as usize * 4];
        let mut vectors = Vec::with_capacity(texts.len());
        for _ in 0..count {
            self.output.read_exact(&mut bytes).map_err(wire)?;
            vectors.push(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect());
        }
        Ok(Ok(vectors))
    }
}

impl Drop for Process {
    /// Closes the child's input (it exits by itself), then makes sure and reaps it: a helper only
    /// computes, so nothing is lost if it was still busy.
    fn drop(&mut self) {
        self.end();
    }
}

fn wire(e: std::io::Error) -> SearchError {
    let what = match e.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::BrokenPipe => "the other end closed".to_string(),
        _ => e.to_string(),
    };
    SearchError::Model(format!("talking to the embedding helper: {what}"))
}

fn len_u32(n: usize) -> Result<u32, SearchError> {
    u32::try_from(n).map_err(|_| SearchError::Model(format!("{n} is too large for the embedding helper")))
}

fn read_u8(input: &mut impl Read) -> Result<u8, SearchError> {
    let mut b = [0u8; 1];
    input.read_exact(&mut b).map_err(wire)?;
    Ok(b[0])
}

fn read_u32(input: &mut impl Read) -> Result<u32, SearchError> {
    let mut b = [0u8; 4];
    input.read_exact(&mut b).map_err(wire)?;
    Ok(u32::from_le_bytes(b))
}

/// A u32, or `None` when the input ended before its first byte.
fn read_u32_or_end(input: &mut impl Read) -> Result<Option<u32>, SearchError> {
    let mut b = [0u8; 4];
    let mut filled = 0;
    while filled < 4 {
        match input.read(&mut b[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => return Err(wire(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(wire(e)),
        }
    }
    Ok(Some(u32::from_le_bytes(b)))
}

fn read_text(input: &mut impl Read) -> Result<String, SearchError> {
    let len = read_u32(input)?;
    if len > MAX_TEXT_BYTES {
        return Err(SearchError::Model(format!("a text of {len} bytes (at most {MAX_TEXT_BYTES})")));
    }
    let mut bytes = vec![0u8; len as usize];
    input.read_exact(&mut bytes).map_err(wire)?;
    String::from_utf8(bytes).map_err(|_| SearchError::Model("a text that is not UTF-8".into()))
}

fn write_u32(output: &mut impl Write, n: u32) -> Result<(), SearchError> {
    output.write_all(&n.to_le_bytes()).map_err(wire)
}

fn write_ok_text(output: &mut impl Write, text: &str) -> Result<(), SearchError> {
    output.write_all(&[0]).map_err(wire)?;
    write_u32(output, len_u32(text.len())?)?;
    output.write_all(text.as_bytes()).map_err(wire)?;
    output.flush().map_err(wire)
}

fn write_error(output: &mut impl Write, message: &str) -> Result<(), SearchError> {
    output.write_all(&[1]).map_err(wire)?;
    write_u32(output, len_u32(message.len())?)?;
    output.write_all(message.as_bytes()).map_err(wire)?;
    output.flush().map_err(wire)
}

fn write_vectors(output: &mut impl Write, vectors: &[Vec<f32>]) -> Result<(), SearchError> {
    let dimension = vectors.first().map_or(0, Vec::len);
    if vectors.iter().any(|v| v.len() != dimension) {
        return write_error(output, "the model made vectors of different lengths");
    }
    output.write_all(&[0]).map_err(wire)?;
    write_u32(output, len_u32(vectors.len())?)?;
    write_u32(output, len_u32(dimension)?)?;
    for v in vectors {
        for x in v {
            output.write_all(&x.to_le_bytes()).map_err(wire)?;
        }
    }
    output.flush().map_err(wire)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model that turns a text into (its length, its count of `a`).
    struct Counts;

    impl Embedder for Counts {
        fn model_id(&self) -> &str {
            "counts"
        }
        fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, SearchError> {
            if texts.iter().any(|t| t == "fail") {
                return Err(SearchError::Model("cannot embed fail".into()));
            }
            Ok(texts.iter().map(|t| vec![t.len() as f32, t.matches('a').count() as f32]).collect())
        }
    }

    fn request(texts: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((texts.len() as u32).to_le_bytes());
        for t in texts {
            out.extend((t.len() as u32).to_le_bytes());
            out.extend(t.as_bytes());
        }
        out
    }

    fn replies(input: Vec<u8>) -> (Result<(), SearchError>, Vec<u8>) {
        let mut output = Vec::new();
        let result = serve(&mut Counts, &mut input.as_slice(), &mut output);
        (result, output)
    }

    #[test]
    fn requests_get_vectors_until_the_input_ends() {
        let mut input = request(&["banana", ""]);
        input.extend(request(&["fail"]));
        input.extend(request(&["aa"]));
        let (result, output) = replies(input);
        assert!(result.is_ok());
        let mut r = output.as_slice();
        let byte = |r: &mut &[u8]| read_u8(r).expect("a byte");
        let number = |r: &mut &[u8]| read_u32(r).expect("a number");
        assert_eq!((byte(&mut r), number(&mut r), number(&mut r)), (0, 2, 2));
        let floats: Vec<f32> = (0..4).map(|_| f32::from_le_bytes(number(&mut r).to_le_bytes())).collect();
        assert_eq!(floats, [6.0, 3.0, 0.0, 0.0]);
        // A failing batch is an answer, and the helper goes on.
        assert_eq!(byte(&mut r), 1);
        assert_eq!(read_text(&mut r).expect("a message"), "cannot embed fail");
        assert_eq!((byte(&mut r), number(&mut r), number(&mut r)), (0, 1, 2));
    }

    #[test]
    fn hostile_requests_are_refused_without_allocating_them() {
        // (what is sent, what the error says)
        let cases: [(Vec<u8>, &str); 4] = [
            (u32::MAX.to_le_bytes().to_vec(), "texts"),
            ([1u32.to_le_bytes(), u32::MAX.to_le_bytes()].concat(), "bytes"),
            ([1u32.to_le_bytes(), 2u32.to_le_bytes()].concat().into_iter().chain([0xff, 0xfe]).collect(), "UTF-8"),
            ([1u32.to_le_bytes().to_vec(), vec![9, 0]].concat(), "closed"),
        ];
        for (input, says) in cases {
            let (result, _) = replies(input);
            let message = result.expect_err("refused").to_string();
            assert!(message.contains(says), "{message}");
        }
    }
}
