//! A client for any OpenAI-compatible chat model (`/v1/chat/completions`: Ollama, llama.cpp's
//! server, vLLM, a cloud provider): streaming, timeouts, retries, and JSON-schema output where the
//! server supports it.
//!
//! Configured by the environment (`CONFLUENCE_DO_LLM_URL`, `CONFLUENCE_DO_LLM_MODEL`,
//! `CONFLUENCE_DO_LLM_KEY`) or the wiki's `config.yaml` (`llm: {url, model, key_env}`). The key
//! is only ever read from the environment: the config names the variable, never the key, and
//! neither `Debug` nor an error shows it.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

/// The environment variables that configure the model.
pub const URL_ENV: &str = "CONFLUENCE_DO_LLM_URL";
pub const MODEL_ENV: &str = "CONFLUENCE_DO_LLM_MODEL";
pub const KEY_ENV: &str = "CONFLUENCE_DO_LLM_KEY";

/// Why the model did not answer.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model at {url} did not answer ({why}); is the model server running? (scripts/llm starts a local one)")]
    Unreachable { url: String, why: String },
    #[error("the model at {url} refused the key (HTTP {status}); set {KEY_ENV} or the variable named by llm.key_env")]
    Unauthorized { url: String, status: u16 },
    #[error("the model at {url} answered HTTP {status}: {body}")]
    Status { url: String, status: u16, body: String },
    #[error("the model at {url} sent an answer that is not OpenAI-shaped: {why}")]
    Protocol { url: String, why: String },
    #[error("the model at {url} took longer than {secs} s; raise llm.timeout_secs or use a smaller model")]
    Timeout { url: String, secs: u64 },
}

/// One message of a chat.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Message {
        Message { role: "system", content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Message {
        Message { role: "user", content: content.into() }
    }
    pub fn assistant(content: impl Into<String>) -> Message {
        Message { role: "assistant", content: content.into() }
    }
}

/// What to ask the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub max_tokens: u32,
    pub temperature: f32,
    /// A JSON schema the answer must follow, where the server supports it (else plain text).
    pub schema: Option<Value>,
}

/// A chat model: the seam between the wiki and whatever serves the model.
pub trait Model: Send + Sync {
    /// The model's name, as answers name who wrote them.
    fn name(&self) -> &str;
    /// The model's answer to `request`; `on_token` sees each piece as it streams in.
    fn chat(&self, request: &ChatRequest, on_token: &mut dyn FnMut(&str)) -> Result<String, LlmError>;
}

/// Where the model is and how to reach it.
#[derive(Clone, PartialEq)]
pub struct Settings {
    /// The API's base, e.g. `http://127.0.0.1:8080/v1` (`/v1` is added when missing).
    pub url: String,
    pub model: String,
    key: Option<String>,
    pub timeout: Duration,
    pub tries: u32,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("key", &self.key.as_ref().map(|_| "(set)"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Settings {
    pub fn new(url: &str, model: &str) -> Settings {
        Settings {
            url: url.trim_end_matches('/').to_owned(),
            model: model.to_owned(),
            key: None,
            timeout: Duration::from_secs(120),
            tries: 3,
        }
    }

    pub fn with_key(mut self, key: Option<String>) -> Settings {
        self.key = key.filter(|k| !k.is_empty());
        self
    }

    /// The model configured by the environment, else by `config` (the wiki's `config.yaml`);
    /// `None` when neither names one.
    pub fn configured(config: Option<&cdo_app::LlmConfig>) -> Option<Settings> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let url = env(URL_ENV).or_else(|| config.map(|c| c.url.clone()))?;
        let model = env(MODEL_ENV).or_else(|| config.and_then(|c| c.model.clone())).unwrap_or_else(|| "local".into());
        let key = env(KEY_ENV).or_else(|| config.and_then(|c| c.key_env.as_deref()).and_then(env));
        let mut settings = Settings::new(&url, &model).with_key(key);
        if let Some(secs) = config.and_then(|c| c.timeout_secs) {
            settings.timeout = Duration::from_secs(secs.max(1));
        }
        Some(settings)
    }

    fn endpoint(&self, path: &str) -> String {
        let base = &self.url;
        if base.ends_with("/v1") || base.contains("/v1/") || base.ends_with("/openai") {
            format!("{base}/{path}")
        } else {
            format!("{base}/v1/{path}")
        }
    }
}

/// An OpenAI-compatible HTTP server.
pub struct OpenAi {
    settings: Settings,
    agent: ureq::Agent,
}

impl OpenAi {
    pub fn new(settings: Settings) -> OpenAi {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(settings.timeout))
            .timeout_recv_body(Some(settings.timeout))
            .http_status_as_error(false)
            .user_agent("confluence-do")
            .build()
            .into();
        OpenAi { settings, agent }
    }

    /// Whether the server answers (`/v1/models`).
    pub fn ping(&self) -> Result<(), LlmError> {
        let url = self.settings.endpoint("models");
        let mut request = self.agent.get(&url);
        if let Some(key) = &self.settings.key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        match request.call() {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(status_error(&url, r)),
            Err(e) => Err(LlmError::Unreachable { url, why: e.to_string() }),
        }
    }

    fn post(&self, url: &str, body: &Value) -> Result<ureq::http::Response<ureq::Body>, LlmError> {
        let mut pause = Duration::from_millis(250);
        let mut last = None;
        for _ in 0..self.settings.tries.max(1) {
            let mut request = self.agent.post(url).header("Content-Type", "application/json");
            if let Some(key) = &self.settings.key {
                request = request.header("Authorization", format!("Bearer {key}"));
            }
            match request.send(body.to_string()) {
                Ok(r) if r.status().is_success() => return Ok(r),
                Ok(r) if matches!(r.status().as_u16(), 429 | 502 | 503 | 504) => {
                    last = Some(status_error(url, r));
                }
                Ok(r) => return Err(status_error(url, r)),
                Err(ureq::Error::Timeout(_)) => {
                    return Err(LlmError::Timeout { url: url.to_owned(), secs: self.settings.timeout.as_secs() });
                }
                Err(e) => last = Some(LlmError::Unreachable { url: url.to_owned(), why: e.to_string() }),
            }
            std::thread::sleep(pause);
            pause *= 2;
        }
        Err(last.unwrap_or_else(|| LlmError::Unreachable { url: url.to_owned(), why: "no answer".into() }))
    }
}

fn status_error(url: &str, response: ureq::http::Response<ureq::Body>) -> LlmError {
    let status = response.status().as_u16();
    if matches!(status, 401 | 403) {
        return LlmError::Unauthorized { url: url.to_owned(), status };
    }
    let body = response.into_body().with_config().limit(4096).read_to_string().unwrap_or_default();
    let body: String = body.chars().take(300).collect();
    LlmError::Status { url: url.to_owned(), status, body }
}

impl Model for OpenAi {
    fn name(&self) -> &str {
        &self.settings.model
    }

    fn chat(&self, request: &ChatRequest, on_token: &mut dyn FnMut(&str)) -> Result<String, LlmError> {
        let url = self.settings.endpoint("chat/completions");
        let mut body = json!({
            "model": self.settings.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": true,
        });
        if let Some(schema) = &request.schema {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": true},
            });
        }
        let response = match self.post(&url, &body) {
            // A server without JSON-schema output: ask again for plain text.
            Err(LlmError::Status { status: 400 | 422, .. }) if request.schema.is_some() => {
                if let Some(map) = body.as_object_mut() {
                    map.remove("response_format");
                }
                self.post(&url, &body)?
            }
            other => other?,
        };
        let streamed = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let timeout = |e: std::io::Error| -> LlmError {
            if e.kind() == std::io::ErrorKind::TimedOut || e.to_string().contains("timeout") {
                LlmError::Timeout { url: url.clone(), secs: self.settings.timeout.as_secs() }
            } else {
                LlmError::Unreachable { url: url.clone(), why: e.to_string() }
            }
        };
        let mut reader = BufReader::new(response.into_body().into_reader());
        if !streamed {
            // A server that ignores `stream`: one JSON answer.
            let mut all = String::new();
            std::io::Read::read_to_string(&mut reader, &mut all).map_err(timeout)?;
            let value: Value = serde_json::from_str(&all)
                .map_err(|e| LlmError::Protocol { url: url.clone(), why: format!("not JSON ({e})") })?;
            let text = value
                .pointer("/choices/0/message/content")
                .and_then(Value::as_str)
                .ok_or_else(|| LlmError::Protocol { url: url.clone(), why: "no choices[0].message.content".into() })?;
            on_token(text);
            return Ok(text.to_owned());
        }
        let mut text = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).map_err(timeout)? == 0 {
                break;
            }
            let Some(data) = line.trim_end().strip_prefix("data:") else { continue };
            let data = data.trim();
            if data == "[DONE]" {
                break;
            }
            let value: Value = serde_json::from_str(data).map_err(|e| LlmError::Protocol {
                url: url.clone(),
                why: format!("a stream event is not JSON ({e})"),
            })?;
            if let Some(message) = value.pointer("/error/message").and_then(Value::as_str) {
                return Err(LlmError::Status { url: url.clone(), status: 200, body: message.to_owned() });
            }
            if let Some(piece) = value.pointer("/choices/0/delta/content").and_then(Value::as_str)
                && !piece.is_empty()
            {
                on_token(piece);
                text.push_str(piece);
            }
        }
        Ok(text)
    }
}

/// A scripted model for tests: answers each request with the next of its answers.
pub struct Scripted {
    name: String,
    answers: std::sync::Mutex<std::collections::VecDeque<String>>,
    /// The requests it was sent.
    pub seen: std::sync::Mutex<Vec<ChatRequest>>,
}

impl Scripted {
    pub fn new(name: &str, answers: &[&str]) -> Scripted {
        Scripted {
            name: name.into(),
            answers: std::sync::Mutex::new(answers.iter().map(|a| (*a).to_owned()).collect()),
            seen: std::sync::Mutex::new(Vec::new()),
        }
    }
}

impl Model for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    fn chat(&self, request: &ChatRequest, on_token: &mut dyn FnMut(&str)) -> Result<String, LlmError> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(request.clone());
        }
        let answer = self.answers.lock().ok().and_then(|mut a| a.pop_front());
        let answer =
            answer.ok_or_else(|| LlmError::Unreachable { url: "scripted".into(), why: "no answers left".into() })?;
        for word in answer.split_inclusive(' ') {
            on_token(word);
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_gets_v1_once() {
        for (base, want) in [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/chat/completions"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1/chat/completions"),
            ("http://localhost:11434/v1", "http://localhost:11434/v1/chat/completions"),
            ("https://api.example.com/v1/", "https://api.example.com/v1/chat/completions"),
        ] {
            assert_eq!(Settings::new(base, "m").endpoint("chat/completions"), want);
        }
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let s = Settings::new("http://x", "m").with_key(Some("sk-very-secret".into()));
        let shown = format!("{s:?}");
        assert!(!shown.contains("sk-very-secret") && shown.contains("(set)"), "{shown}");
    }
}
