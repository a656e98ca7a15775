//! Guessing limits, at two levels.
//!
//! [`LockoutPolicy`] locks one account after repeated failures (password or TOTP). Its state
//! ([`LockoutState`]) is plain data in Unix seconds so the console keeps it with the account in
//! the case store and a restart forgets nothing. Because anyone who knows a staff name could
//! keep that account locked, [`AttemptLimiter`] also limits attempts per source (e.g. per access
//! path) before any account is looked at.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// When an account locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock the account.
    pub max_failures: u32,
    /// How long it stays locked.
    pub lock_for: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            lock_for: Duration::from_secs(15 * 60),
        }
    }
}

/// One account's failures, as the console stores them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockoutState {
    /// Consecutive failures since the last success or lock.
    pub failures: u32,
    /// Unix second until which the account is locked.
    pub locked_until: Option<u64>,
}

/// The account is locked; nothing was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed sign-ins; try again in {retry_after_secs} s")]
pub struct Locked {
    pub retry_after_secs: u64,
}

impl LockoutPolicy {
    /// Call before checking anything: refuses while the account is locked. The console should
    /// still [`crate::burn_verify`] so a locked account answers as slowly as any other.
    pub fn check(&self, state: &LockoutState, now_unix: u64) -> Result<(), Locked> {
        match state.locked_until {
            Some(until) if until > now_unix => Err(Locked {
                retry_after_secs: until - now_unix,
            }),
            _ => Ok(()),
        }
    }

    /// The state after a failed password or code. The `max_failures`-th failure locks the
    /// account for `lock_for` and starts the count again.
    pub fn record_failure(&self, state: LockoutState, now_unix: u64) -> LockoutState {
        if self.check(&state, now_unix).is_err() {
            // Attempts while locked are refused before they are checked; they do not extend
            // the lock, or an attacker could keep it closed for ever at no cost.
            return state;
        }
        let failures = state.failures.saturating_add(1);
        if failures >= self.max_failures {
            LockoutState {
                failures: 0,
                locked_until: Some(now_unix.saturating_add(self.lock_for.as_secs())),
            }
        } else {
            LockoutState {
                failures,
                locked_until: None,
            }
        }
    }

    /// The state after a successful sign-in.
    pub fn record_success(&self) -> LockoutState {
        LockoutState::default()
    }
}

/// The per-source attempt budget: a token bucket of `burst` attempts refilled one every
/// `refill_every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptPolicy {
    pub burst: u32,
    pub refill_every: Duration,
    /// Sources tracked at once; the table never grows past this.
    pub max_keys: usize,
}

impl Default for AttemptPolicy {
    /// Ten attempts at once, then ten a minute.
    fn default() -> Self {
        Self {
            burst: 10,
            refill_every: Duration::from_secs(6),
            max_keys: 10_000,
        }
    }
}

/// Sign-in attempts per source, as a token bucket per key (GCRA: one "theoretical arrival time"
/// per key instead of a counter and a timestamp). `Send + Sync`.
#[derive(Debug)]
pub struct AttemptLimiter {
    policy: AttemptPolicy,
    /// Per key, the instant at which its bucket is full again.
    buckets: Mutex<HashMap<String, Instant>>,
}

impl Default for AttemptLimiter {
    /// [`AttemptPolicy::default`]: ten at once, then ten a minute, 10,000 sources.
    fn default() -> Self {
        Self::new(AttemptPolicy::default())
    }
}

impl AttemptLimiter {
    pub fn new(policy: AttemptPolicy) -> Self {
        Self {
            policy,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt from `key`'s budget: true if it may go ahead, false if the budget is
    /// spent (nothing is taken then, so refused attempts do not push recovery further away).
    pub fn check(&self, key: &str, now: Instant) -> bool {
        if self.policy.burst == 0 {
            return false;
        }
        // How far ahead of now a bucket may owe refills and still grant one more attempt.
        let Some(tolerance) = self.policy.refill_every.checked_mul(self.policy.burst - 1) else {
            return true; // a budget too large to count is no limit
        };
        let mut buckets = self.lock();
        let full_at = match buckets.get(key) {
            Some(t) => (*t).max(now),
            None => {
                self.make_room(&mut buckets, now);
                now
            }
        };
        if full_at.saturating_duration_since(now) > tolerance {
            return false;
        }
        let next = full_at
            .checked_add(self.policy.refill_every)
            .unwrap_or(full_at);
        buckets.insert(key.to_owned(), next);
        true
    }

    /// Sources currently tracked.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Before a new key goes in a full table: forget buckets that have refilled (they are the
    /// same as absent ones); if none has, forget the one that refills soonest, which loses the
    /// least budget information.
    fn make_room(&self, buckets: &mut HashMap<String, Instant>, now: Instant) {
        let max = self.policy.max_keys.max(1);
        if buckets.len() < max {
            return;
        }
        buckets.retain(|_, full_at| *full_at > now);
        while buckets.len() >= max {
            let soonest = buckets
                .iter()
                .min_by_key(|(_, full_at)| **full_at)
                .map(|(k, _)| k.clone());
            match soonest {
                Some(k) => buckets.remove(&k),
                None => break,
            };
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
