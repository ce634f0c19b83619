//! Change events for integrations: what happens to pages (created, updated, moved, deleted),
//! live edits as they happen (`content.changed`, with who and where) and presence (joined,
//! left), streamed as Server-Sent Events from `GET /api/v1/events` (`?space=KEY`, `&page=ID`).
//! Each event is a JSON object: `type`, `space`, `page`, `title`, `user` `{name, email}`,
//! `position` (for `content.changed`: the character offset of the first change), `at` (RFC 3339).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::{Extension, response::IntoResponse};
use cdo_core::Author;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::auth::{Caller, Level};
use crate::state::AppState;

/// Events a slow subscriber may fall behind by before it is told it missed some.
const BACKLOG: usize = 4096;

#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub name: String,
    pub email: String,
}

impl From<&Author> for User {
    fn from(a: &Author) -> User {
        User { name: a.name.clone(), email: a.email.clone() }
    }
}

/// One change.
#[derive(Clone, Debug, Serialize)]
pub struct ChangeEvent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub space: String,
    pub page: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    pub at: String,
}

impl ChangeEvent {
    pub fn new(kind: &'static str, space: &str, page: Option<String>, user: Option<&Author>) -> ChangeEvent {
        ChangeEvent {
            kind,
            space: space.to_owned(),
            page,
            title: None,
            user: user.map(User::from),
            position: None,
            at: jiff::Timestamp::now().to_string(),
        }
    }
}

/// The event bus.
pub struct Events {
    tx: broadcast::Sender<Arc<ChangeEvent>>,
    /// Set when the server stops: open streams end, so the shutdown does not wait for them.
    closed: tokio::sync::watch::Sender<bool>,
}

impl Default for Events {
    fn default() -> Self {
        Events { tx: broadcast::channel(BACKLOG).0, closed: tokio::sync::watch::channel(false).0 }
    }
}

impl Events {
    /// Whether anyone listens (events that cost something to make are made only then).
    pub fn wanted(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub fn emit(&self, event: ChangeEvent) {
        if self.wanted() {
            let _ = self.tx.send(Arc::new(event));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ChangeEvent>> {
        self.tx.subscribe()
    }

    /// Ends every open stream (shutdown).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }
}

/// The character offset where `before` and `after` first differ.
pub fn first_change(before: &str, after: &str) -> usize {
    before.chars().zip(after.chars()).take_while(|(a, b)| a == b).count()
}

#[derive(Deserialize)]
pub struct Filter {
    space: Option<String>,
    page: Option<String>,
}

/// `GET /api/v1/events`: the stream. Only events of spaces the caller may read.
pub async fn stream(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(filter): Query<Filter>,
) -> impl IntoResponse {
    let rx = state.events.subscribe();
    let closed = state.events.closed.subscribe();
    let space = filter.space.map(|s| s.to_ascii_uppercase());
    let page = filter.page;
    let stream = futures_util::stream::unfold((rx, closed), move |(mut rx, mut closed)| {
        let (caller, space, page) = (caller.clone(), space.clone(), page.clone());
        async move {
            loop {
                if *closed.borrow() {
                    return None;
                }
                let next = tokio::select! {
                    next = rx.recv() => next,
                    _ = closed.changed() => return None,
                };
                match next {
                    Ok(e) => {
                        let wanted = space.as_ref().is_none_or(|s| *s == e.space)
                            && page.as_ref().is_none_or(|p| e.page.as_ref() == Some(p))
                            && caller.can(&e.space, Level::Read);
                        if !wanted {
                            continue;
                        }
                        let event = Event::default().event(e.kind).json_data(&*e).unwrap_or_default();
                        return Some((Ok::<Event, Infallible>(event), (rx, closed)));
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        let event = Event::default().event("lagged").data(format!("{{\"missed\":{n}}}"));
                        return Some((Ok(event), (rx, closed)));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
