//! `serve`, `user` and `token`: the team server and the people who may use it.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use cdo_app::{Home, Wiki, demo, identity};
use cdo_server::auth::{Auth, Level};
use cdo_server::state::AppState;
use serde_json::json;

use crate::args::{TokenCmd, UserCmd};
use crate::output::print_json;

/// Options of `serve`.
pub struct Serve {
    pub home: Option<PathBuf>,
    pub user: Option<String>,
    pub bind: std::net::SocketAddr,
    pub demo: bool,
    pub no_auth: bool,
    pub anonymous_read: bool,
    pub ui: Option<PathBuf>,
    /// Seconds between background git syncs (0: off).
    pub sync_every: u64,
    /// Seconds without typing before live edits are committed.
    pub commit_after: f64,
}

/// Runs the server until Ctrl-C or SIGTERM; requests in flight finish first.
pub fn serve(opts: Serve) -> Result<()> {
    // `--demo` serves a fresh copy of the demo space from a temporary home, deleted on exit.
    let temp = if opts.demo { Some(tempfile::tempdir().context("creating a temporary home")?) } else { None };
    let home = match &temp {
        Some(dir) => Home::locate(Some(dir.path()))?,
        None => Home::locate(opts.home.as_deref())?,
    };
    let wiki = Wiki::new(home.clone());
    if opts.demo {
        demo::install(&wiki)?;
    }
    let mut auth = Auth::open(home.dir())?;
    auth.anonymous_read = opts.anonymous_read;
    let has_users = auth.has_users()?;
    let loopback = opts.bind.ip().is_loopback();
    let use_auth = !opts.no_auth && (has_users || !loopback);
    let ui_dir = opts
        .ui
        .or_else(|| std::env::var_os("CONFLUENCE_DO_UI").map(PathBuf::from))
        .or_else(|| Some(PathBuf::from("ui/dist")).filter(|d| d.join("index.html").is_file()));
    let options = cdo_server::Options { bind: opts.bind, auth: use_auth, ui_dir, watch: true, launch_secret: None };
    if let Err(why) = cdo_server::check_options(&options, &auth) {
        bail!(why);
    }
    let local = identity::resolve_or_placeholder(opts.user.as_deref(), &home);
    // The model runs in a child process that goes when idle (and takes its memory with it).
    let state = Arc::new(
        AppState::new(wiki, auth, local.clone(), options.watch).embed_in(cdo_search::embed::Host::this_program()),
    );
    // Passages are embedded in the background, so semantic search catches up by itself.
    state.start_embedder();
    if opts.sync_every > 0 {
        cdo_server::gitsync::start(&state, std::time::Duration::from_secs(opts.sync_every));
    }
    if opts.commit_after.is_finite() && opts.commit_after >= 0.0 {
        state.live.set_idle(std::time::Duration::from_secs_f64(opts.commit_after));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(options.bind).await.with_context(|| {
            format!("cannot listen on {}; is another server running there? (--bind picks another)", options.bind)
        })?;
        let addr = listener.local_addr()?;
        // Status lines go to whoever started us; if they stopped listening, keep serving.
        let mut out = std::io::stdout();
        let mut say = |line: String| {
            use std::io::Write as _;
            let _ = writeln!(out, "{line}").and_then(|()| out.flush());
        };
        say(format!("confluence.do serving http://{addr}"));
        if use_auth {
            say("sign in with an API token (`confluence-do token create EMAIL`)".into());
        } else {
            say(format!(
                "auth is off: anyone on this machine may read and write, as {} <{}> (`user add` turns it on)",
                local.name, local.email
            ));
        }
        if let Some(dir) = &options.ui_dir {
            say(format!("web UI from {}", dir.display()));
        }
        cdo_server::serve(state, options, listener, shutdown_signal()).await.context("serving")?;
        eprintln!("confluence.do stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    drop(temp);
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// `user ...`.
pub fn user(home: &Home, cmd: UserCmd) -> Result<()> {
    let auth = Auth::open(home.dir())?;
    match cmd {
        UserCmd::Add { email, name, admin, read_only, password_stdin } => {
            let password = if password_stdin {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text).context("reading the password from standard input")?;
                let text = text.trim_end_matches(['\r', '\n']).to_owned();
                if text.len() < 8 {
                    bail!("a password needs at least 8 characters");
                }
                Some(text)
            } else {
                None
            };
            let level = if read_only { Level::Read } else { Level::Write };
            let user = auth.add_user(&email, &name, password.as_deref(), admin, Some(level))?;
            println!(
                "{} <{}>{} may {} every space. `confluence-do token create {}` makes an API token.",
                user.name,
                user.email,
                if user.admin { " (admin)" } else { "" },
                level.as_str(),
                user.email
            );
        }
        UserCmd::List { json } => {
            let users = auth.users()?;
            if json {
                print_json(&json!(users));
            } else if users.is_empty() {
                println!("No users: a loopback server runs without auth. `user add EMAIL --name NAME` adds one.");
            } else {
                for u in users {
                    let perms: Vec<String> = u.permissions.iter().map(|(s, l)| format!("{s}:{l}")).collect();
                    println!("{} <{}>{}  {}", u.name, u.email, if u.admin { " admin" } else { "" }, perms.join(" "));
                }
            }
        }
        UserCmd::Remove { email } => {
            if !auth.remove_user(&email)? {
                bail!("no user {email}");
            }
            println!("Removed {email} and their tokens.");
        }
        UserCmd::Grant { email, space, level } => {
            let parsed = match level.as_str() {
                "none" => None,
                other => {
                    Some(Level::parse(other).with_context(|| format!("`{other}` is not read, write, admin or none"))?)
                }
            };
            auth.grant(&email, &space, parsed)?;
            println!("{email} may now {} in {space}.", parsed.map_or("do nothing", Level::as_str));
        }
    }
    Ok(())
}

/// `token ...`.
pub fn token(home: &Home, cmd: TokenCmd) -> Result<()> {
    let auth = Auth::open(home.dir())?;
    match cmd {
        TokenCmd::Create { email, label } => {
            let token = auth.create_token(&email, &label)?;
            eprintln!("The token is shown once; keep it somewhere safe.");
            println!("{token}");
        }
        TokenCmd::List { email } => {
            for (id, label, prefix, created) in auth.tokens(&email)? {
                println!("{id}  {label}  {prefix}...  created {}", cdo_core::model::format_time(created, 0));
            }
        }
        TokenCmd::Revoke { id } => {
            if !auth.revoke_token(id)? {
                bail!("no token {id}; `token list EMAIL` shows them");
            }
            println!("Revoked token {id}.");
        }
    }
    Ok(())
}
