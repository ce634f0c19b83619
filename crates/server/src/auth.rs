//! Users, API tokens, sessions and per-space permissions, in `HOME/server.sqlite`.
//!
//! Tokens and passwords are stored as argon2 hashes. Verifying one costs tens of milliseconds
//! by design, so a verified token is remembered in memory by its SHA-256 (never the token
//! itself) until the database changes (a revoke from the CLI shows up through SQLite's
//! `data_version`). Failed logins are counted per client address and refused past a limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use cdo_core::Author;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// What someone may do in a space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Read,
    Write,
    Admin,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        match text.trim().to_ascii_lowercase().as_str() {
            "read" => Some(Level::Read),
            "write" => Some(Level::Write),
            "admin" => Some(Level::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::Admin => "admin",
        }
    }
}

/// A user as listed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub email: String,
    pub name: String,
    pub admin: bool,
    /// Space key (or `*` for every space) and level.
    pub permissions: Vec<(String, String)>,
}

/// Who is making a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// `None` for an anonymous caller.
    pub user: Option<User>,
    /// Who a write is authored by.
    pub author: Author,
    /// Auth is off: everyone may do everything (loopback only).
    pub open: bool,
    anonymous_read: bool,
}

impl Caller {
    /// Whether this caller may act at `level` in `space`.
    pub fn can(&self, space: &str, level: Level) -> bool {
        if self.open {
            return true;
        }
        let Some(user) = &self.user else { return self.anonymous_read && level == Level::Read };
        if user.admin {
            return true;
        }
        user.permissions.iter().any(|(s, l)| {
            (s == "*" || s.eq_ignore_ascii_case(space)) && Level::parse(l).is_some_and(|have| have >= level)
        })
    }

    /// `Ok` when this caller may act at `level` in `space`; else 401 for an anonymous caller
    /// (credentials would help) or 403 (they would not).
    pub fn require(&self, space: &str, level: Level) -> Result<(), crate::error::ApiError> {
        if self.can(space, level) {
            return Ok(());
        }
        if self.user.is_none() {
            return Err(crate::error::ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "sign in: send HTTP Basic with your e-mail and an API token, or `Authorization: Bearer TOKEN`",
            ));
        }
        Err(crate::error::ApiError::forbidden(format!(
            "you may not {} in space {}; ask an admin (`confluence-do user grant`)",
            match level {
                Level::Read => "read",
                Level::Write => "write",
                Level::Admin => "administer",
            },
            space.to_ascii_uppercase()
        )))
    }

    /// Whether this caller may create spaces.
    pub fn can_create_spaces(&self) -> bool {
        self.open
            || self.user.as_ref().is_some_and(|u| u.admin || u.permissions.iter().any(|(s, l)| s == "*" && l != "read"))
    }
}

/// Why credentials were refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong e-mail, token or password")]
    Wrong,
    #[error("too many failed logins from this address; wait a minute")]
    TooMany,
    #[error("the user database {path}: {source}")]
    Db { path: String, source: rusqlite::Error },
    #[error("{0}")]
    Invalid(String),
}

/// Failed logins allowed per address per window.
const MAX_FAILURES: usize = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
const SESSION_DAYS: i64 = 30;

/// The user database and what the server remembers of it.
pub struct Auth {
    path: String,
    db: Mutex<Connection>,
    /// SHA-256 of a verified secret → e-mail; cleared when the database changes.
    verified: Mutex<(i64, HashMap<[u8; 32], String>)>,
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
    /// Whether anyone without credentials may read (set by `serve --anonymous-read`).
    pub anonymous_read: bool,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users(email TEXT PRIMARY KEY, name TEXT NOT NULL, password TEXT,
  admin INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(id INTEGER PRIMARY KEY, email TEXT NOT NULL, label TEXT NOT NULL,
  prefix TEXT NOT NULL, hash TEXT NOT NULL, created INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tokens_prefix ON tokens(prefix);
CREATE TABLE IF NOT EXISTS permissions(email TEXT NOT NULL, space TEXT NOT NULL, level TEXT NOT NULL,
  PRIMARY KEY(email, space));
CREATE TABLE IF NOT EXISTS sessions(hash BLOB PRIMARY KEY, email TEXT NOT NULL, expires INTEGER NOT NULL);
";

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn sha(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn random_secret() -> Result<String, AuthError> {
    let mut bytes = [0u8; 30];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Invalid(format!("no randomness from the OS: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn hash_secret(secret: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AuthError::Invalid(format!("no randomness from the OS: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Invalid(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map_err(|e| AuthError::Invalid(e.to_string()))?
        .to_string())
}

fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(secret.as_bytes(), &h).is_ok())
}

impl Auth {
    /// Opens (creating) the user database of a wiki home.
    pub fn open(home: &Path) -> Result<Auth, AuthError> {
        let path = home.join("server.sqlite");
        let display = path.display().to_string();
        std::fs::create_dir_all(home)
            .map_err(|e| AuthError::Invalid(format!("cannot create the wiki home {}: {e}", home.display())))?;
        let db_err = |source| AuthError::Db { path: display.clone(), source };
        let db = Connection::open(&path).map_err(db_err)?;
        db.busy_timeout(Duration::from_secs(5)).map_err(db_err)?;
        db.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(Auth {
            path: display,
            db: Mutex::new(db),
            verified: Mutex::new((-1, HashMap::new())),
            failures: Mutex::new(HashMap::new()),
            anonymous_read: false,
        })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> AuthError + '_ {
        |source| AuthError::Db { path: self.path.clone(), source }
    }

    /// Whether any user exists (then a server requires auth).
    pub fn has_users(&self) -> Result<bool, AuthError> {
        let n: i64 = self.db().query_row("SELECT count(*) FROM users", [], |r| r.get(0)).map_err(self.err())?;
        Ok(n > 0)
    }

    /// Adds a user (or updates their name, password and admin flag), with a default permission.
    pub fn add_user(
        &self,
        email: &str,
        name: &str,
        password: Option<&str>,
        admin: bool,
        default: Option<Level>,
    ) -> Result<User, AuthError> {
        let email = email.trim().to_ascii_lowercase();
        if !email.contains('@') || email.contains(char::is_whitespace) {
            return Err(AuthError::Invalid(format!("`{email}` is not an e-mail address")));
        }
        if name.trim().is_empty() {
            return Err(AuthError::Invalid("a user needs a name".into()));
        }
        let hash = password.map(hash_secret).transpose()?;
        let db = self.db();
        db.execute(
            "INSERT INTO users(email, name, password, admin, created) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(email) DO UPDATE SET name = ?2, password = coalesce(?3, password), admin = ?4",
            params![email, name.trim(), hash, admin, now()],
        )
        .map_err(self.err())?;
        if let Some(level) = default {
            db.execute(
                "INSERT OR REPLACE INTO permissions(email, space, level) VALUES (?1, '*', ?2)",
                params![email, level.as_str()],
            )
            .map_err(self.err())?;
        }
        drop(db);
        self.forget_verified();
        self.user(&email)?.ok_or(AuthError::Wrong)
    }

    /// Sets what a user may do in a space (`*` for all).
    pub fn grant(&self, email: &str, space: &str, level: Option<Level>) -> Result<(), AuthError> {
        let email = email.trim().to_ascii_lowercase();
        if self.user(&email)?.is_none() {
            return Err(AuthError::Invalid(format!("no user {email}; `user add` creates one")));
        }
        let space = if space == "*" { "*".to_owned() } else { space.to_ascii_uppercase() };
        let db = self.db();
        match level {
            Some(level) => db.execute(
                "INSERT OR REPLACE INTO permissions(email, space, level) VALUES (?1, ?2, ?3)",
                params![email, space, level.as_str()],
            ),
            None => db.execute("DELETE FROM permissions WHERE email = ?1 AND space = ?2", params![email, space]),
        }
        .map_err(self.err())?;
        Ok(())
    }

    /// Removes a user with their tokens, sessions and permissions.
    pub fn remove_user(&self, email: &str) -> Result<bool, AuthError> {
        let email = email.trim().to_ascii_lowercase();
        let db = self.db();
        let n = db.execute("DELETE FROM users WHERE email = ?1", params![email]).map_err(self.err())?;
        for table in ["tokens", "permissions", "sessions"] {
            db.execute(&format!("DELETE FROM {table} WHERE email = ?1"), params![email]).map_err(self.err())?;
        }
        drop(db);
        self.forget_verified();
        Ok(n > 0)
    }

    /// A user by e-mail.
    pub fn user(&self, email: &str) -> Result<Option<User>, AuthError> {
        let email = email.trim().to_ascii_lowercase();
        let db = self.db();
        let row: Option<(String, bool)> = db
            .query_row("SELECT name, admin FROM users WHERE email = ?1", params![email], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(self.err())?;
        let Some((name, admin)) = row else { return Ok(None) };
        let mut stmt = db
            .prepare_cached("SELECT space, level FROM permissions WHERE email = ?1 ORDER BY space")
            .map_err(self.err())?;
        let permissions = stmt
            .query_map(params![email], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        Ok(Some(User { email, name, admin, permissions }))
    }

    /// Every user.
    pub fn users(&self) -> Result<Vec<User>, AuthError> {
        let emails: Vec<String> = {
            let db = self.db();
            let mut stmt = db.prepare("SELECT email FROM users ORDER BY email").map_err(self.err())?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(self.err())?;
            rows.collect::<Result<_, _>>().map_err(self.err())?
        };
        Ok(emails.iter().filter_map(|e| self.user(e).ok().flatten()).collect())
    }

    /// Creates an API token for a user; the token is shown once and only its hash is kept.
    pub fn create_token(&self, email: &str, label: &str) -> Result<String, AuthError> {
        let email = email.trim().to_ascii_lowercase();
        if self.user(&email)?.is_none() {
            return Err(AuthError::Invalid(format!("no user {email}; `user add` creates one")));
        }
        let secret = random_secret()?;
        let token = format!("cdo_{secret}");
        let hash = hash_secret(&token)?;
        self.db()
            .execute(
                "INSERT INTO tokens(email, label, prefix, hash, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![email, label, &token[..12], hash, now()],
            )
            .map_err(self.err())?;
        Ok(token)
    }

    /// A user's tokens: id, label, the first characters, created (seconds).
    pub fn tokens(&self, email: &str) -> Result<Vec<(i64, String, String, i64)>, AuthError> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT id, label, prefix, created FROM tokens WHERE email = ?1 ORDER BY id")
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![email.trim().to_ascii_lowercase()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Revokes a token by id.
    pub fn revoke_token(&self, id: i64) -> Result<bool, AuthError> {
        let n = self.db().execute("DELETE FROM tokens WHERE id = ?1", params![id]).map_err(self.err())?;
        self.forget_verified();
        Ok(n > 0)
    }

    /// Drops every remembered verification (this connection's own changes do not move
    /// `data_version`, which only tracks other connections).
    fn forget_verified(&self) {
        self.verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1.clear();
    }

    fn check_failures(&self, from: IpAddr) -> Result<(), AuthError> {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = failures.entry(from).or_default();
        list.retain(|t| t.elapsed() < FAILURE_WINDOW);
        if list.len() >= MAX_FAILURES {
            return Err(AuthError::TooMany);
        }
        Ok(())
    }

    fn fail(&self, from: IpAddr) -> AuthError {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() > 10_000 {
            failures.retain(|_, v| v.iter().any(|t| t.elapsed() < FAILURE_WINDOW));
        }
        failures.entry(from).or_default().push(Instant::now());
        AuthError::Wrong
    }

    /// The e-mail a verified secret belongs to, if remembered and the database is unchanged.
    fn remembered(&self, digest: &[u8; 32]) -> Option<String> {
        let version: i64 = self.db().query_row("PRAGMA data_version", [], |r| r.get(0)).ok()?;
        let mut verified = self.verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.0 != version {
            *verified = (version, HashMap::new());
            return None;
        }
        verified.1.get(digest).cloned()
    }

    fn remember(&self, digest: [u8; 32], email: &str) {
        let mut verified = self.verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.1.len() > 10_000 {
            verified.1.clear();
        }
        verified.1.insert(digest, email.to_owned());
    }

    /// Checks a token (with the e-mail it claims, for Basic auth) or a password; returns the user.
    pub fn verify(&self, email: Option<&str>, secret: &str, from: IpAddr) -> Result<User, AuthError> {
        self.check_failures(from)?;
        let email = email.map(|e| e.trim().to_ascii_lowercase());
        let digest = sha(&format!("{}\0{secret}", email.as_deref().unwrap_or("")));
        if let Some(found) = self.remembered(&digest)
            && let Some(user) = self.user(&found)?
        {
            return Ok(user);
        }
        let candidates: Vec<(String, String)> = {
            let db = self.db();
            if secret.starts_with("cdo_") && secret.len() >= 12 {
                let mut stmt =
                    db.prepare_cached("SELECT email, hash FROM tokens WHERE prefix = ?1").map_err(self.err())?;
                let rows =
                    stmt.query_map(params![&secret[..12]], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.err())?;
                rows.collect::<Result<_, _>>().map_err(self.err())?
            } else if let Some(email) = &email {
                db.query_row(
                    "SELECT email, password FROM users WHERE email = ?1 AND password IS NOT NULL",
                    params![email],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(self.err())?
                .into_iter()
                .collect()
            } else {
                Vec::new()
            }
        };
        for (owner, hash) in candidates {
            if email.as_ref().is_some_and(|e| *e != owner) {
                continue;
            }
            if verify_secret(secret, &hash) {
                self.remember(digest, &owner);
                if let Some(user) = self.user(&owner)? {
                    return Ok(user);
                }
            }
        }
        Err(self.fail(from))
    }

    /// Starts a session for a user; returns the cookie value.
    pub fn start_session(&self, email: &str) -> Result<String, AuthError> {
        let secret = random_secret()?;
        self.db()
            .execute(
                "INSERT INTO sessions(hash, email, expires) VALUES (?1, ?2, ?3)",
                params![sha(&secret).to_vec(), email, now() + SESSION_DAYS * 86_400],
            )
            .map_err(self.err())?;
        Ok(secret)
    }

    /// Ends a session.
    pub fn end_session(&self, cookie: &str) -> Result<(), AuthError> {
        self.db().execute("DELETE FROM sessions WHERE hash = ?1", params![sha(cookie).to_vec()]).map_err(self.err())?;
        Ok(())
    }

    /// The user of a session cookie.
    pub fn session(&self, cookie: &str) -> Result<Option<User>, AuthError> {
        let email: Option<String> = self
            .db()
            .query_row(
                "SELECT email FROM sessions WHERE hash = ?1 AND expires > ?2",
                params![sha(cookie).to_vec(), now()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        match email {
            Some(email) => self.user(&email),
            None => Ok(None),
        }
    }

    /// The caller of a request from its credentials; `open` when auth is off.
    pub fn caller(&self, user: Option<User>, open: bool, local: &Author) -> Caller {
        let author = match &user {
            Some(u) => Author { name: u.name.clone(), email: u.email.clone() },
            None => local.clone(),
        };
        Caller { user, author, open, anonymous_read: self.anonymous_read }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_revoke() {
        let dir = tempfile::tempdir().expect("tempdir");
        let auth = Auth::open(dir.path()).expect("open");
        auth.add_user("Alice@Example.com", "Alice", Some("s3cret"), false, Some(Level::Write)).expect("add");
        let token = auth.create_token("alice@example.com", "ci").expect("token");
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        let user = auth.verify(Some("alice@example.com"), &token, ip).expect("verifies");
        assert_eq!(user.email, "alice@example.com");
        assert!(auth.verify(None, &token, ip).is_ok(), "bearer without e-mail");
        assert!(auth.verify(Some("bob@example.com"), &token, ip).is_err(), "someone else's token");
        assert!(auth.verify(Some("alice@example.com"), "s3cret", ip).is_ok(), "password");
        let (id, ..) = auth.tokens("alice@example.com").expect("list")[0].clone();
        assert!(auth.revoke_token(id).expect("revoke"));
        assert!(auth.verify(Some("alice@example.com"), &token, ip).is_err(), "revoked tokens stop working at once");
        let db = std::fs::read(dir.path().join("server.sqlite")).expect("db");
        assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()), "the token is never stored");
    }

    #[test]
    fn failed_logins_are_limited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let auth = Auth::open(dir.path()).expect("open");
        auth.add_user("a@example.com", "A", Some("right"), false, None).expect("add");
        let ip: IpAddr = "10.0.0.9".parse().expect("ip");
        for _ in 0..MAX_FAILURES {
            assert!(matches!(auth.verify(Some("a@example.com"), "wrong", ip), Err(AuthError::Wrong)));
        }
        assert!(matches!(auth.verify(Some("a@example.com"), "right", ip), Err(AuthError::TooMany)));
        let other: IpAddr = "10.0.0.10".parse().expect("ip");
        assert!(auth.verify(Some("a@example.com"), "right", other).is_ok());
    }

    #[test]
    fn permissions_by_space() {
        let dir = tempfile::tempdir().expect("tempdir");
        let auth = Auth::open(dir.path()).expect("open");
        let reader = auth.add_user("r@example.com", "R", None, false, Some(Level::Read)).expect("add");
        auth.grant("r@example.com", "ENG", Some(Level::Write)).expect("grant");
        let reader = auth.user(&reader.email).expect("user");
        let local = Author { name: "L".into(), email: "l@example.com".into() };
        let caller = auth.caller(reader, false, &local);
        assert!(caller.can("OPS", Level::Read) && !caller.can("OPS", Level::Write));
        assert!(caller.can("eng", Level::Write) && !caller.can("ENG", Level::Admin));
        let anonymous = auth.caller(None, false, &local);
        assert!(!anonymous.can("OPS", Level::Read));
    }
}
