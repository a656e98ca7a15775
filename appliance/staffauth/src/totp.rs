//! The second factor: TOTP (RFC 6238) with HMAC-SHA-1, 6 digits and 30-second steps, the
//! parameters every authenticator app supports.
//!
//! The HMAC is ring's; only HOTP's dynamic truncation (RFC 4226 §5.3, an index and a modulo) is
//! written here. A code is accepted one step either side of now, compared in constant time, and
//! a step at or before the last accepted one is refused, so a code seen over a shoulder cannot be
//! used again.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use ring::hmac;
use ring::rand::SystemRandom;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::random::{self, RandomError};

/// The length of a TOTP secret: 160 bits, RFC 4226's recommendation for HMAC-SHA-1.
pub const SECRET_LEN: usize = 20;
/// Seconds per time step.
const STEP_SECS: u64 = 30;
/// Steps accepted either side of the current one: a phone's clock a little off, or a code typed
/// just as it changed.
const SKEW_STEPS: u64 = 1;

/// Characters left as they are in an `otpauth://` label or parameter: RFC 3986's unreserved set.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A staff member's TOTP secret. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct TotpSecret([u8; SECRET_LEN]);

impl Drop for TotpSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for TotpSecret {}

impl TotpSecret {
    /// A fresh secret from the kernel's CSPRNG.
    pub fn generate() -> Result<Self, RandomError> {
        random::bytes(&SystemRandom::new()).map(Self)
    }

    /// A secret loaded from storage; `None` unless it has exactly [`SECRET_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        <[u8; SECRET_LEN]>::try_from(bytes).ok().map(Self)
    }

    /// The raw secret, for storage.
    pub fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// The secret in RFC 4648 base32 without padding, as authenticator apps expect it typed in.
    pub fn to_base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.0)
    }

    /// The `otpauth://totp/…` URI an authenticator app scans from a QR code: the issuer is both
    /// the label's prefix and the `issuer` parameter (Google Authenticator's key-uri format),
    /// every component percent-encoded.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = utf8_percent_encode(issuer, URI_COMPONENT);
        let account = utf8_percent_encode(account, URI_COMPONENT);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period={STEP_SECS}",
            self.to_base32()
        )
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// How many digits a code has. Staff codes are always six; eight is here for RFC 6238's test
/// vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digits {
    Six,
    Eight,
}

impl Digits {
    fn count(self) -> usize {
        match self {
            Self::Six => 6,
            Self::Eight => 8,
        }
    }

    fn modulus(self) -> u32 {
        match self {
            Self::Six => 1_000_000,
            Self::Eight => 100_000_000,
        }
    }
}

/// Why a submitted code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("a code is six digits")]
    Malformed,
    #[error("wrong code")]
    Wrong,
    #[error("this code has already been used")]
    Replayed,
}

/// The six-digit code for the time step containing `unix_secs`.
pub fn totp_code(secret: &TotpSecret, unix_secs: u64) -> String {
    totp_code_digits(secret, unix_secs, Digits::Six)
}

/// The code with `digits` digits for the time step containing `unix_secs`.
pub fn totp_code_digits(secret: &TotpSecret, unix_secs: u64, digits: Digits) -> String {
    hotp(secret, unix_secs / STEP_SECS, digits)
}

/// Checks a submitted six-digit code against the steps one either side of `unix_secs`, in
/// constant time. `last_step` is the step of the last code this staff member used (stored by the
/// console); a code matching only steps at or before it is [`TotpError::Replayed`]. On success
/// returns the matched step, which the console stores as the new `last_step`.
pub fn totp_verify(
    secret: &TotpSecret,
    code: &str,
    unix_secs: u64,
    last_step: Option<u64>,
) -> Result<u64, TotpError> {
    let digits = Digits::Six;
    let submitted = code.as_bytes();
    if submitted.len() != digits.count() || !submitted.iter().all(u8::is_ascii_digit) {
        return Err(TotpError::Malformed);
    }
    let now = unix_secs / STEP_SECS;
    let mut fresh: Option<u64> = None;
    let mut replayed = false;
    // Every candidate step is computed and compared, whichever matches, so the time taken says
    // nothing about which step (if any) the code belongs to.
    for step in now.saturating_sub(SKEW_STEPS)..=now.saturating_add(SKEW_STEPS) {
        let expected = hotp(secret, step, digits);
        let matches = bool::from(expected.as_bytes().ct_eq(submitted));
        let used = last_step.is_some_and(|last| step <= last);
        if matches && used {
            replayed = true;
        } else if matches && fresh.is_none() {
            fresh = Some(step);
        }
    }
    match (fresh, replayed) {
        (Some(step), _) => Ok(step),
        (None, true) => Err(TotpError::Replayed),
        (None, false) => Err(TotpError::Wrong),
    }
}

/// HOTP (RFC 4226 §5.3): HMAC-SHA-1 of the big-endian counter, dynamic truncation to 31 bits,
/// then the low decimal digits.
fn hotp(secret: &TotpSecret, counter: u64, digits: Digits) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &secret.0);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    // The last nibble picks where the four bytes start; an SHA-1 tag has 20 bytes, so the
    // offset is at most 15 and the slice always exists.
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let mut word = [0u8; 4];
    if let Some(bytes) = mac.get(offset..offset + 4) {
        word.copy_from_slice(bytes);
    }
    let truncated = u32::from_be_bytes(word) & 0x7fff_ffff;
    format!(
        "{:0width$}",
        truncated % digits.modulus(),
        width = digits.count()
    )
}

#[cfg(test)]
mod tests;
