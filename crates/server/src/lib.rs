//! `confluence-do serve`: the web UI's API (`/api/v1`), the Confluence REST API v1 (under
//! `/rest/api` and `/wiki/rest/api`), auth, and the UI's static files. The only crate with HTTP
//! and JSON wire shapes; it reads and writes spaces through core and app like the CLI.

pub mod api;
pub mod auth;
pub mod confluence;
pub mod error;
pub mod events;
pub mod gitsync;
pub mod live;
pub mod state;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tower::Layer as _;
use tower_http::normalize_path::NormalizePathLayer;

use crate::auth::{Auth, AuthError};
use crate::error::ApiError;
use crate::state::AppState;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub bind: SocketAddr,
    /// Whether requests need credentials.
    pub auth: bool,
    /// The built UI (`ui/dist`), served at `/` when present.
    pub ui_dir: Option<PathBuf>,
    /// Watch spaces for changes made outside the server.
    pub watch: bool,
    /// The desktop app's per-launch secret: when set, every request must carry it (the
    /// `cdo_launch` cookie, set by visiting any page with `?launch=SECRET` once), so no other
    /// program or web page on the machine can use the app's loopback server.
    pub launch_secret: Option<String>,
}

/// Largest JSON body accepted.
pub const MAX_JSON_BYTES: usize = 5 * 1024 * 1024;
/// Largest attachment accepted.
pub const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;
/// Longest a request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The Content-Security-Policy of every response (and of the desktop app's own webview, in
/// `tauri.conf.json`): scripts only from the app's own origin and never inline, connections only
/// to it (`'self'` covers its WebSocket), no plugins, no framing. Styles may be inline: the
/// editor and the diagrams set them from script, and the sanitiser removes them from pages.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob: https:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-src 'none'; frame-ancestors 'none'";

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "cdo_session";
/// The name of the cookie that carries the desktop app's launch secret.
pub const LAUNCH_COOKIE: &str = "cdo_launch";

/// Why the server cannot start with these options.
pub fn check_options(options: &Options, auth: &Auth) -> Result<(), String> {
    if options.bind.ip().is_loopback() {
        return Ok(());
    }
    if !options.auth {
        return Err(format!(
            "refusing to serve {} without auth: only loopback addresses (127.0.0.1) may use --no-auth",
            options.bind
        ));
    }
    match auth.has_users() {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "serving {} needs auth, and there are no users yet: `confluence-do user add EMAIL --name NAME` \
             and `confluence-do token create EMAIL` make one",
            options.bind
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The whole application.
pub fn router(state: Arc<AppState>, options: &Options) -> Router {
    // Unknown API paths are JSON 404s, never the UI's index.html.
    let api_missing = || async { ApiError::not_found("no such endpoint under /api/v1") };
    let rest_missing = || async { ApiError::not_found("no such endpoint in the Confluence REST API v1") };
    let api = api::router().fallback(api_missing);
    let confluence = confluence::router().fallback(rest_missing);
    let mut app = Router::new()
        .nest("/api/v1", api)
        .nest("/rest/api", confluence.clone())
        .nest("/wiki/rest/api", confluence)
        .merge(confluence::downloads())
        .route("/sync/{page}", axum::routing::get(live::socket));
    if let Some(dir) = options.ui_dir.as_ref().filter(|d| d.join("index.html").is_file()) {
        let index = dir.join("index.html");
        app = app.fallback_service(
            tower_http::services::ServeDir::new(dir).fallback(tower_http::services::ServeFile::new(index)),
        );
    } else {
        app = app
            .fallback(|| async { ApiError::not_found("no such endpoint; the API lives under /api/v1 and /rest/api") });
    }
    let open = !options.auth;
    app.layer(middleware::from_fn(json_errors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_answer))
        .layer(middleware::from_fn_with_state((state.clone(), open), authenticate))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(middleware::from_fn_with_state(options.launch_secret.clone().map(Arc::<str>::from), launch_gate))
        // Outermost, so that every answer has them, the launch gate's and timeouts' too.
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Headers every response carries: the CSP (it only matters for documents, but an attachment or
/// an error page is a document when opened on its own), no MIME sniffing (an uploaded file is
/// never run as a script or a page it does not claim to be), and no referrer to other sites.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    response
}

/// With a launch secret, lets through only requests that carry it. Visiting a page with
/// `?launch=SECRET` sets the cookie and redirects to the same page without the secret.
async fn launch_gate(State(secret): State<Option<Arc<str>>>, request: Request, next: Next) -> Response {
    let Some(secret) = secret else {
        return next.run(request).await;
    };
    let same = |given: &str| {
        // Compared in full whatever the first difference, so timing says nothing.
        given.len() == secret.len() && given.bytes().zip(secret.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    };
    if cookie(request.headers(), LAUNCH_COOKIE).is_some_and(|c| same(&c)) {
        return next.run(request).await;
    }
    let uri = request.uri();
    let query: Vec<(String, String)> = uri.query().map(url_pairs).unwrap_or_default();
    if query.iter().any(|(k, v)| k == "launch" && same(v)) {
        let rest: Vec<String> = query.iter().filter(|(k, _)| k != "launch").map(|(k, v)| format!("{k}={v}")).collect();
        let location =
            if rest.is_empty() { uri.path().to_owned() } else { format!("{}?{}", uri.path(), rest.join("&")) };
        return (
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, format!("{LAUNCH_COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/")),
                (header::LOCATION, location),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response();
    }
    ApiError::new(StatusCode::UNAUTHORIZED, "this server belongs to a running confluence.do desktop app; open the app")
        .into_response()
}

/// The pairs of a query string, as written (no decoding: the secret is plain hex).
fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect()
}

/// Serves until `shutdown` completes; requests in flight finish first.
pub async fn serve(
    state: Arc<AppState>,
    options: Options,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Clients write `rest/api/content/` as often as `rest/api/content`.
    let app = NormalizePathLayer::trim_trailing_slash().layer(router(state.clone(), &options));
    // Live edits left uncommitted by a crash are committed in the background; pages that are
    // opened meanwhile take their edits from the log as usual.
    let recovering = state.clone();
    tokio::spawn(async move { live::Live::recover(&recovering).await });
    // The git index catches up with saves a moment after them (see `AppState::flush_indexes`).
    let flushing = Arc::downgrade(&state);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(2));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let Some(state) = flushing.upgrade() else { return };
            if state.stopping() || tokio::task::spawn_blocking(move || state.flush_indexes()).await.is_err() {
                return;
            }
        }
    });
    // Event streams never end by themselves: close them when the shutdown starts.
    let closing = state.clone();
    let shutdown = async move {
        shutdown.await;
        closing.events.close();
    };
    // Small writes (live updates, presence) go out at once, not when Nagle's algorithm sees an ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    });
    let served =
        axum::serve(listener, axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app))
            .with_graceful_shutdown(shutdown)
            .await;
    // Live edits are committed and their connections closed before the server is gone.
    state.live.shutdown().await;
    let st = state.clone();
    let _ = tokio::task::spawn_blocking(move || st.stop_background()).await;
    served
}

/// A server on a thread of its own (the desktop app runs one in process): listening when this
/// returns, stopped (requests in flight first) when dropped.
pub struct Background {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts [`serve`] on a background thread with its own runtime.
pub fn spawn(state: Arc<AppState>, options: Options) -> std::io::Result<Background> {
    let listener = std::net::TcpListener::bind(options.bind)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new().name("server".into()).spawn(move || {
        runtime.block_on(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => return eprintln!("confluence.do: the server could not start: {e}"),
            };
            if let Err(e) = serve(state, options, listener, async move {
                let _ = stopped.await;
            })
            .await
            {
                eprintln!("confluence.do: the server stopped: {e}");
            }
        });
    })?;
    Ok(Background { addr, stop: Some(stop), thread: Some(thread) })
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Bounded: an app must quit even if a connection keeps the server from finishing.
            // Live edits are in the durable log by then and are recovered at the next start.
            let deadline = std::time::Instant::now() + SHUTDOWN_WAIT;
            while !thread.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                eprintln!(
                    "confluence.do: the server did not stop within {} s; quitting anyway (live edits are kept in the log and recovered at the next start)",
                    SHUTDOWN_WAIT.as_secs()
                );
            }
        }
    }
}

/// How long dropping a [`Background`] waits for the server to finish.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// A panic is a bug: the request gets a 500 that says so, the server keeps serving, and the
/// message goes to the log (stderr) for the bug report.
fn panic_answer(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown");
    eprintln!("confluence.do: a request panicked (a bug; please report it): {what}");
    ApiError::internal("internal error: a bug in confluence.do stopped this request; the log has details")
        .into_response()
}

/// Turns errors that axum or tower answer in plain text (unknown route, wrong method, body too
/// large, timeout) into Confluence-shaped JSON, which clients parse.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "the request body is too large: at most {MAX_JSON_BYTES} bytes of JSON, {MAX_UPLOAD_BYTES} bytes per upload"
        ),
        StatusCode::METHOD_NOT_ALLOWED => "this endpoint does not take that method".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "the request took too long".to_owned(),
        StatusCode::NOT_FOUND => "not found".to_owned(),
        other => {
            let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            return ApiError::new(other, if text.is_empty() { other.to_string() } else { text }).into_response();
        }
    };
    ApiError::new(status, message).into_response()
}

fn needs_credentials(path: &str) -> bool {
    let api = ["/rest/", "/wiki/rest/", "/api/", "/download/", "/wiki/download/", "/sync/"]
        .iter()
        .any(|p| path.starts_with(p));
    api && !matches!(path, "/api/v1/login" | "/api/v1/me")
}

/// Credentials of a request: Basic (e-mail and token or password), Bearer, or the session cookie.
enum Credentials {
    None,
    Secret { email: Option<String>, secret: String },
    Session(String),
    Malformed,
}

/// A WebSocket cannot carry headers from a browser: `/sync/` also takes `?token=`.
fn query_token(uri: &axum::http::Uri) -> Option<String> {
    if !uri.path().starts_with("/sync/") {
        return None;
    }
    url_pairs(uri.query()?).into_iter().find(|(k, _)| k == "token").map(|(_, v)| v).filter(|v| !v.is_empty())
}

fn credentials(headers: &HeaderMap) -> Credentials {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let Ok(value) = value.to_str() else { return Credentials::Malformed };
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        return match scheme.to_ascii_lowercase().as_str() {
            "basic" => {
                let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
                    return Credentials::Malformed;
                };
                let Ok(text) = String::from_utf8(decoded) else { return Credentials::Malformed };
                match text.split_once(':') {
                    Some((email, secret)) => {
                        Credentials::Secret { email: Some(email.to_owned()), secret: secret.to_owned() }
                    }
                    None => Credentials::Malformed,
                }
            }
            "bearer" => Credentials::Secret { email: None, secret: rest.trim().to_owned() },
            _ => Credentials::Malformed,
        };
    }
    match cookie(headers, SESSION_COOKIE) {
        Some(value) => Credentials::Session(value),
        None => Credentials::None,
    }
}

/// The value of the cookie `name`, if the request has one.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|p| p.trim().strip_prefix(name).and_then(|r| r.strip_prefix('=')).map(str::to_owned))
}

/// Works out who is calling and puts a [`auth::Caller`] in the request; wrong credentials get
/// a 401 (429 after too many), never a silent anonymous request.
async fn authenticate(
    State((state, open)): State<(Arc<AppState>, bool)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let creds = match (credentials(request.headers()), query_token(request.uri())) {
        (Credentials::None, Some(secret)) => Credentials::Secret { email: None, secret },
        (creds, _) => creds,
    };
    let user = match creds {
        Credentials::None => Ok(None),
        Credentials::Malformed => Err(ApiError::new(StatusCode::UNAUTHORIZED, "malformed Authorization header")),
        Credentials::Session(cookie) => {
            let st = state.clone();
            match tokio::task::spawn_blocking(move || st.auth.session(&cookie)).await {
                Ok(Ok(user)) => Ok(user),
                Ok(Err(e)) => Err(ApiError::internal(e.to_string())),
                Err(e) => Err(e.into()),
            }
        }
        Credentials::Secret { email, secret } => {
            let st = state.clone();
            match tokio::task::spawn_blocking(move || st.auth.verify(email.as_deref(), &secret, peer.ip())).await {
                Ok(Ok(user)) => Ok(Some(user)),
                Ok(Err(AuthError::TooMany)) => {
                    Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, AuthError::TooMany.to_string()))
                }
                Ok(Err(e @ AuthError::Wrong)) => Err(ApiError::new(StatusCode::UNAUTHORIZED, e.to_string())),
                Ok(Err(e)) => Err(ApiError::internal(e.to_string())),
                Err(e) => Err(e.into()),
            }
        }
    };
    let user = match user {
        Ok(user) => user,
        // With auth off, wrong credentials are still wrong: say so rather than act as someone else.
        Err(e) => return e.into_response(),
    };
    // Without credentials, an API request to a server that needs them is a 401 (unless anyone
    // may read), whatever it asks for; the UI's files and its sign-in stay reachable.
    if user.is_none() && !open && !state.auth.anonymous_read && needs_credentials(request.uri().path()) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "sign in: send HTTP Basic with your e-mail and an API token, or `Authorization: Bearer TOKEN`",
        )
        .into_response();
    }
    let caller = state.auth.caller(user, open, &state.local_user);
    request.extensions_mut().insert(caller);
    next.run(request).await
}
