//! Staff sign-in primitives for the console: argon2id password hashes, the TOTP second factor
//! (RFC 6238), account lockout and a per-source attempt limiter, and in-memory sessions bound to
//! the access path they were opened through, each with its CSRF token.
//!
//! Invariants: pure and synchronous (no I/O, no database; time is an argument); every primitive
//! comes from a crate (argon2, ring, subtle), none is written here; secrets are zeroized on drop
//! and never printed by `Debug`; only a SHA-256 of a session cookie is kept, so a dump of the
//! session table opens no session; nothing a user submits can make these functions panic.

mod lockout;
mod password;
mod random;
mod sessions;
mod totp;

pub use lockout::{AttemptLimiter, AttemptPolicy, Locked, LockoutPolicy, LockoutState};
pub use password::{
    AuthError, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, burn_verify, hash_password, needs_rehash,
    verify_password,
};
pub use random::RandomError;
pub use sessions::{NewSession, SessionError, SessionPolicy, SessionView, Sessions, csrf_matches};
pub use totp::{
    Digits, SECRET_LEN, TotpError, TotpSecret, totp_code, totp_code_digits, totp_verify,
};
