//! Tracking codes: the secret printed on the citizen's receipt that, with the case number,
//! shows the case's status without an account.
//!
//! A code is 16 Crockford base-32 symbols (80 random bits), shown in groups of four. The store
//! keeps only a random 16-byte salt and HMAC-SHA-256(salt, code), so a copy of the database
//! does not reveal codes; checking a code recomputes the tag and compares it in constant time
//! (`ring::hmac::verify`). With 80 bits of entropy a fast keyed hash is enough: guessing is
//! stopped by the portal's rate limit long before it could matter.

use std::fmt;

use ring::hmac;
use ring::rand::{SecureRandom as _, SystemRandom};

/// Crockford's base-32 alphabet: no I, L, O or U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const SYMBOLS: usize = 16;
pub(crate) const SALT_LEN: usize = 16;

/// A citizen's tracking code. Its `Debug` form hides it, so it never lands in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct TrackingCode(String);

impl TrackingCode {
    /// The code as printed: `XXXX-XXXX-XXXX-XXXX`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TrackingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TrackingCode(…)")
    }
}

impl fmt::Display for TrackingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the store keeps of a code.
#[derive(Debug)]
pub(crate) struct Sealed {
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) tag: Vec<u8>,
}

/// A fresh code and its sealed form.
pub(crate) fn generate(
    rng: &SystemRandom,
) -> Result<(TrackingCode, Sealed), ring::error::Unspecified> {
    let mut bits = [0u8; 10];
    rng.fill(&mut bits)?;
    let mut salt = [0u8; SALT_LEN];
    rng.fill(&mut salt)?;
    let value = u128::from_be_bytes({
        let mut wide = [0u8; 16];
        wide[6..].copy_from_slice(&bits);
        wide
    });
    let mut canonical = String::with_capacity(SYMBOLS);
    for i in (0..SYMBOLS).rev() {
        let index = ((value >> (5 * i)) & 31) as usize;
        canonical.push(char::from(ALPHABET[index]));
    }
    let tag = tag(&salt, &canonical);
    let shown = canonical
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-");
    Ok((TrackingCode(shown), Sealed { salt, tag }))
}

/// Whether `typed` is the code sealed as (`salt`, `tag`). Spaces, dashes and case do not
/// matter, and the look-alikes O, I and L read as 0, 1 and 1, as Crockford intends.
pub(crate) fn verify(salt: &[u8], expected: &[u8], typed: &str) -> bool {
    let Some(canonical) = canonical(typed) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, salt);
    hmac::verify(&key, canonical.as_bytes(), expected).is_ok()
}

/// The same work as a failed [`verify`], for a case number that does not exist, so the answer
/// takes as long as for a wrong code.
pub(crate) fn verify_nothing(typed: &str) -> bool {
    let _ = verify(&[0; SALT_LEN], &[0; 32], typed);
    false
}

fn tag(salt: &[u8], canonical: &str) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, salt);
    hmac::sign(&key, canonical.as_bytes()).as_ref().to_vec()
}

fn canonical(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(SYMBOLS);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        if out.len() == SYMBOLS {
            return None;
        }
        out.push(c);
    }
    (out.len() == SYMBOLS).then_some(out)
}

#[cfg(test)]
mod tests;
