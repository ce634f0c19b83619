//! Outgoing webhooks, registered per space: each change event a hook subscribes to is POSTed to
//! its URL as JSON, signed (`X-Confluence-Do-Signature-256: sha256=<HMAC-SHA256 of the body
//! with the hook's secret>`, as GitHub signs), and retried with back-off (1, 2, 4 … 32 s, seven
//! tries) until the receiver answers 2xx. Deliveries run on a thread of their own, so a slow
//! receiver never slows the wiki. Hooks live in `HOME/webhooks.sqlite` (secrets included: they
//! sign; they are never logged or shown again).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::events::ChangeEvent;

/// What a hook gets unless it asks for more: page changes, not every keystroke or cursor.
pub const DEFAULT_EVENTS: [&str; 4] = ["page.created", "page.updated", "page.moved", "page.deleted"];
/// Every event a hook may ask for.
pub const ALL_EVENTS: [&str; 7] = [
    "page.created",
    "page.updated",
    "page.moved",
    "page.deleted",
    "content.changed",
    "presence.joined",
    "presence.left",
];
const TRIES: u32 = 7;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("the webhook store {path}: {source}")]
    Sqlite { path: String, source: rusqlite::Error },
    #[error("{0}")]
    Invalid(String),
}

/// A registered hook (the secret is not part of what is shown).
#[derive(Clone, Debug, Serialize)]
pub struct Hook {
    pub id: i64,
    pub space: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(skip)]
    secret: String,
}

struct Delivery {
    hook: Hook,
    event: String,
    body: Arc<[u8]>,
    id: String,
    tries: u32,
    due: Instant,
}

/// The hooks and the delivery thread.
pub struct Webhooks {
    db: Mutex<Option<Connection>>,
    path: String,
    hooks: Mutex<Vec<Hook>>,
    queue: Mutex<Option<mpsc::Sender<Delivery>>>,
}

impl Webhooks {
    /// Opens `path`; without it (unwritable home) hooks cannot be registered and say why.
    pub fn open(path: &Path) -> Webhooks {
        let name = path.display().to_string();
        let db = Connection::open(path).and_then(|c| {
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS hooks (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    space TEXT NOT NULL, url TEXT NOT NULL, secret TEXT NOT NULL, events TEXT NOT NULL)",
            )?;
            Ok(c)
        });
        let (db, hooks) = match db {
            Ok(c) => {
                let hooks = load(&c).unwrap_or_default();
                (Some(c), hooks)
            }
            Err(e) => {
                eprintln!("confluence.do: webhooks are off: {name}: {e}");
                (None, Vec::new())
            }
        };
        Webhooks { db: Mutex::new(db), path: name, hooks: Mutex::new(hooks), queue: Mutex::new(None) }
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> HookError + '_ {
        |source| HookError::Sqlite { path: self.path.clone(), source }
    }

    /// Whether some hook of `space` wants events of `kind`.
    pub fn wants(&self, space: &str, kind: &str) -> bool {
        lock(&self.hooks).iter().any(|h| h.space == space && h.events.iter().any(|e| e == kind))
    }

    pub fn list(&self, space: &str) -> Vec<Hook> {
        lock(&self.hooks).iter().filter(|h| h.space == space).cloned().collect()
    }

    /// Registers a hook; returns it and its secret (given, or made here).
    pub fn add(
        &self,
        space: &str,
        url: &str,
        events: Option<Vec<String>>,
        secret: Option<String>,
    ) -> Result<(Hook, String), HookError> {
        let parsed = url.trim();
        if !(parsed.starts_with("http://") || parsed.starts_with("https://")) || parsed.contains(char::is_whitespace) {
            return Err(HookError::Invalid(format!("a webhook URL must be http:// or https://, not {url:?}")));
        }
        let events = events.unwrap_or_else(|| DEFAULT_EVENTS.iter().map(|s| (*s).to_owned()).collect());
        if let Some(bad) = events.iter().find(|e| !ALL_EVENTS.contains(&e.as_str())) {
            return Err(HookError::Invalid(format!("unknown event {bad:?}; events are {}", ALL_EVENTS.join(", "))));
        }
        let secret = match secret {
            Some(s) if s.len() >= 16 => s,
            Some(_) => return Err(HookError::Invalid("a webhook secret needs at least 16 characters".into())),
            None => {
                let mut bytes = [0u8; 24];
                getrandom::fill(&mut bytes)
                    .map_err(|e| HookError::Invalid(format!("no randomness for a secret: {e}")))?;
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            }
        };
        let guard = lock(&self.db);
        let db = guard
            .as_ref()
            .ok_or_else(|| HookError::Invalid(format!("webhooks are off: {} could not be opened", self.path)))?;
        let events_json = serde_json::to_string(&events).unwrap_or_else(|_| "[]".into());
        db.execute(
            "INSERT INTO hooks (space, url, secret, events) VALUES (?1, ?2, ?3, ?4)",
            params![space, parsed, secret, events_json],
        )
        .map_err(self.err())?;
        let hook = Hook {
            id: db.last_insert_rowid(),
            space: space.to_owned(),
            url: parsed.to_owned(),
            events,
            secret: secret.clone(),
        };
        lock(&self.hooks).push(hook.clone());
        Ok((hook, secret))
    }

    pub fn remove(&self, space: &str, id: i64) -> Result<bool, HookError> {
        let guard = lock(&self.db);
        let Some(db) = guard.as_ref() else { return Ok(false) };
        let n = db.execute("DELETE FROM hooks WHERE id = ?1 AND space = ?2", params![id, space]).map_err(self.err())?;
        lock(&self.hooks).retain(|h| !(h.id == id && h.space == space));
        Ok(n > 0)
    }

    /// Queues `event` for every hook that wants it.
    pub fn offer(&self, event: &ChangeEvent) {
        let hooks: Vec<Hook> = lock(&self.hooks)
            .iter()
            .filter(|h| h.space == event.space && h.events.iter().any(|e| e == event.kind))
            .cloned()
            .collect();
        if hooks.is_empty() {
            return;
        }
        let Ok(body) = serde_json::to_vec(event) else { return };
        let body: Arc<[u8]> = body.into();
        let mut queue = lock(&self.queue);
        let tx = queue.get_or_insert_with(start_worker);
        for hook in hooks {
            let mut id = [0u8; 8];
            let _ = getrandom::fill(&mut id);
            let delivery = Delivery {
                hook,
                event: event.kind.to_owned(),
                body: body.clone(),
                id: id.iter().map(|b| format!("{b:02x}")).collect(),
                tries: 0,
                due: Instant::now(),
            };
            if tx.send(delivery).is_err() {
                *queue = None;
                return;
            }
        }
    }
}

fn load(c: &Connection) -> rusqlite::Result<Vec<Hook>> {
    let mut stmt = c.prepare("SELECT id, space, url, secret, events FROM hooks ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        let events: String = r.get(4)?;
        Ok(Hook {
            id: r.get(0)?,
            space: r.get(1)?,
            url: r.get(2)?,
            secret: r.get(3)?,
            events: serde_json::from_str(&events).unwrap_or_default(),
        })
    })?;
    rows.collect()
}

/// HMAC-SHA256 (RFC 2104), hex.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    const BLOCK: usize = 64;
    let mut key = [0u8; BLOCK];
    if secret.len() > BLOCK {
        key[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(body).finalize();
    let outer = Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

fn start_worker() -> mpsc::Sender<Delivery> {
    let (tx, rx) = mpsc::channel::<Delivery>();
    let _ = std::thread::Builder::new().name("webhooks".into()).spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .user_agent("confluence-do-webhooks")
            .build()
            .into();
        let mut waiting: VecDeque<Delivery> = VecDeque::new();
        loop {
            // The next due retry, or wait for new deliveries.
            let next_due = waiting.iter().map(|d| d.due).min();
            let incoming = match next_due {
                Some(due) => match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                    Ok(d) => Some(d),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                },
                None => match rx.recv() {
                    Ok(d) => Some(d),
                    Err(_) => return,
                },
            };
            if let Some(d) = incoming {
                waiting.push_back(d);
            }
            let now = Instant::now();
            let (due, later): (Vec<Delivery>, Vec<Delivery>) = waiting.drain(..).partition(|d| d.due <= now);
            waiting.extend(later);
            for mut d in due {
                d.tries += 1;
                match deliver(&agent, &d) {
                    Ok(()) => {}
                    Err(why) if d.tries < TRIES => {
                        d.due = Instant::now() + Duration::from_secs(1 << (d.tries - 1));
                        eprintln!(
                            "confluence.do: webhook {} ({}) failed ({why}); try {} of {TRIES} in {} s",
                            d.hook.id,
                            d.event,
                            d.tries + 1,
                            1u64 << (d.tries - 1)
                        );
                        waiting.push_back(d);
                    }
                    Err(why) => {
                        eprintln!(
                            "confluence.do: webhook {} ({}) gave up after {TRIES} tries: {why}",
                            d.hook.id, d.event
                        );
                    }
                }
            }
        }
    });
    tx
}

fn deliver(agent: &ureq::Agent, d: &Delivery) -> Result<(), String> {
    let signature = format!("sha256={}", sign(d.hook.secret.as_bytes(), &d.body));
    let response = agent
        .post(&d.hook.url)
        .header("Content-Type", "application/json")
        .header("X-Confluence-Do-Event", &d.event)
        .header("X-Confluence-Do-Delivery", &d.id)
        .header("X-Confluence-Do-Signature-256", &signature)
        .send(&d.body[..])
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) { Ok(()) } else { Err(format!("HTTP {status}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_rfc_4231() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
