//! Signed-in staff sessions, in memory and bounded.
//!
//! A session is bound to the access path (the console's `path_key`, e.g. the gateway it came
//! through) it was opened on: the same cookie arriving through another path is taken as stolen
//! and the session is revoked. The table is keyed by SHA-256 of the cookie, never the cookie, so
//! a memory or debug dump opens no session. Sessions end after `idle` without use and after
//! `absolute` whatever the use; the table never holds more than `max_sessions`, nor any staff
//! member more than `max_per_staff`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use ring::rand::SystemRandom;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::random;

/// Bytes of randomness in a cookie and in a CSRF token (256 bits each).
const TOKEN_BYTES: usize = 32;
/// Length of such a token in unpadded base64url.
const TOKEN_CHARS: usize = 43;

/// How long sessions live and how many there may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long is over (OWASP: 15 minutes for sensitive applications).
    pub idle: Duration,
    /// A session this old is over however busy it is: one working day.
    pub absolute: Duration,
    /// Sessions in the whole table; beyond this the least recently used one goes.
    pub max_sessions: usize,
    /// Sessions per staff member; beyond this their oldest one goes.
    pub max_per_staff: usize,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(15 * 60),
            absolute: Duration::from_secs(8 * 60 * 60),
            max_sessions: 10_000,
            max_per_staff: 5,
        }
    }
}

/// A session just opened: the cookie goes to the browser (`Secure; HttpOnly; SameSite=Strict`)
/// and is then forgotten here; the CSRF token goes into the forms.
pub struct NewSession {
    /// 256 random bits in unpadded base64url.
    pub cookie: String,
    /// 256 random bits in unpadded base64url.
    pub csrf: String,
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewSession { cookie: <redacted>, csrf: <redacted> }")
    }
}

/// What a request learns about its session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionView {
    pub staff: String,
    pub csrf: String,
    pub path_key: String,
    pub created: Instant,
}

impl fmt::Debug for SessionView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionView")
            .field("staff", &self.staff)
            .field("csrf", &"<redacted>")
            .field("path_key", &self.path_key)
            .field("created", &self.created)
            .finish()
    }
}

/// Why a cookie opened no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("no such session")]
    Unknown,
    #[error("the session ended after a period without use")]
    IdleExpired,
    #[error("the session reached its maximum lifetime")]
    Expired,
    #[error("the session was opened through another access path; it has been revoked")]
    WrongPath,
}

struct Session {
    staff: String,
    csrf: Zeroizing<String>,
    path_key: String,
    created: Instant,
    last_seen: Instant,
}

/// The session table. `Send + Sync`; every operation holds the lock only for a map operation or
/// one scan.
pub struct Sessions {
    policy: SessionPolicy,
    rng: SystemRandom,
    map: Mutex<HashMap<[u8; 32], Session>>,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("policy", &self.policy)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Sessions {
    pub fn new(policy: SessionPolicy) -> Self {
        Self {
            policy,
            rng: SystemRandom::new(),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Opens a session for `staff` through `path_key`, evicting that staff member's oldest
    /// session beyond `max_per_staff` and, when the table is full, expired sessions and then the
    /// least recently used one.
    ///
    /// # Panics
    ///
    /// If the kernel's random number generator fails, which getrandom on Linux does not once
    /// the pool is initialised early in boot; no session can be opened without randomness.
    pub fn create(&self, staff: &str, path_key: &str, now: Instant) -> NewSession {
        let cookie = fresh_token(&self.rng);
        let csrf = fresh_token(&self.rng);
        let key = token_key(&cookie);

        let mut map = self.lock();
        let max_per_staff = self.policy.max_per_staff.max(1);
        while map.values().filter(|s| s.staff == staff).count() >= max_per_staff {
            let oldest = map
                .iter()
                .filter(|(_, s)| s.staff == staff)
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => map.remove(&k),
                None => break,
            };
        }
        if map.len() >= self.policy.max_sessions.max(1) {
            sweep_locked(&mut map, &self.policy, now);
        }
        while map.len() >= self.policy.max_sessions.max(1) {
            let lru = map.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| *k);
            match lru {
                Some(k) => map.remove(&k),
                None => break,
            };
        }
        map.insert(
            key,
            Session {
                staff: staff.to_owned(),
                csrf: Zeroizing::new(csrf.clone()),
                path_key: path_key.to_owned(),
                created: now,
                last_seen: now,
            },
        );
        NewSession { cookie, csrf }
    }

    /// The session behind `cookie`, if it is alive and was opened through `path_key`; counts as
    /// use (the idle clock restarts). An expired session is removed; so is one presented through
    /// another path.
    pub fn get(
        &self,
        cookie: &str,
        path_key: &str,
        now: Instant,
    ) -> Result<SessionView, SessionError> {
        // Anything but a token of ours cannot be in the table; skip the hash.
        if cookie.len() != TOKEN_CHARS {
            return Err(SessionError::Unknown);
        }
        let key = token_key(cookie);
        let mut map = self.lock();
        let Some(session) = map.get_mut(&key) else {
            return Err(SessionError::Unknown);
        };
        // Checked first: a stolen cookie is revoked and reported as such even if it also expired.
        let verdict = if session.path_key != path_key {
            Err(SessionError::WrongPath)
        } else if now.saturating_duration_since(session.created) >= self.policy.absolute {
            Err(SessionError::Expired)
        } else if now.saturating_duration_since(session.last_seen) >= self.policy.idle {
            Err(SessionError::IdleExpired)
        } else {
            session.last_seen = session.last_seen.max(now);
            Ok(SessionView {
                staff: session.staff.clone(),
                csrf: session.csrf.to_string(),
                path_key: session.path_key.clone(),
                created: session.created,
            })
        };
        if verdict.is_err() {
            map.remove(&key);
        }
        verdict
    }

    /// Ends the session behind `cookie` (sign-out); unknown cookies are ignored.
    pub fn revoke(&self, cookie: &str) {
        if cookie.len() == TOKEN_CHARS {
            self.lock().remove(&token_key(cookie));
        }
    }

    /// Ends every session of `staff` (password change, account disabled); returns how many.
    pub fn revoke_staff(&self, staff: &str) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, s| s.staff != staff);
        before - map.len()
    }

    /// Drops every idle-expired or expired session; returns how many. Call it now and then so
    /// abandoned sessions do not wait for the table to fill.
    pub fn sweep(&self, now: Instant) -> usize {
        sweep_locked(&mut self.lock(), &self.policy, now)
    }

    /// Sessions in the table, expired ones not yet swept included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// A panic elsewhere while holding the lock leaves a map that is still consistent (every
    /// change is one insert or remove), so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn sweep_locked(
    map: &mut HashMap<[u8; 32], Session>,
    policy: &SessionPolicy,
    now: Instant,
) -> usize {
    let before = map.len();
    map.retain(|_, s| {
        now.saturating_duration_since(s.created) < policy.absolute
            && now.saturating_duration_since(s.last_seen) < policy.idle
    });
    before - map.len()
}

/// 256 fresh random bits in unpadded base64url.
///
/// Panics if the kernel's CSPRNG fails (getrandom on Linux does not once the pool is
/// initialised, which happens early in boot). There is no safe token to hand out then, and the
/// panic ends only the request that asked, before the table's lock is taken.
#[allow(
    clippy::expect_used,
    reason = "no session can be opened without randomness; nothing a peer sends can cause this"
)]
fn fresh_token(rng: &SystemRandom) -> String {
    let bytes = Zeroizing::new(
        random::bytes::<TOKEN_BYTES>(rng).expect("the system random number generator failed"),
    );
    URL_SAFE_NO_PAD.encode(*bytes)
}

/// The table key for a cookie: its SHA-256.
fn token_key(cookie: &str) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, cookie.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(d.as_ref());
    key
}

/// Whether a submitted CSRF token is the session's, compared in constant time.
pub fn csrf_matches(view: &SessionView, submitted: &str) -> bool {
    bool::from(view.csrf.as_bytes().ct_eq(submitted.as_bytes()))
}

#[cfg(test)]
mod tests;
