//! Staff passwords: argon2id with OWASP's minimum parameters, stored as PHC strings.
//!
//! The PHC string carries its own parameters, so raising the cost later only needs
//! [`needs_rehash`] at the next successful sign-in. Verification refuses PHC strings whose cost
//! is far beyond ours: a tampered row in the store must not be able to make one sign-in allocate
//! gigabytes.

use argon2::password_hash::SaltString;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use ring::rand::SystemRandom;

use crate::random::{self, RandomError};

/// The shortest password accepted, in characters (Unicode scalar values).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted, in bytes: enough for any passphrase, small enough that a
/// megabyte-long form field is refused before it reaches argon2.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const SALT_LEN: usize = 16;

/// Ceilings on the parameters a stored hash may ask for (see the module comment).
const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 8;

/// A hash of a fixed throwaway password made with exactly our parameters. [`burn_verify`] checks
/// against it so that an unknown account costs as much as a known one; the unit tests check that
/// its parameters follow the constants above.
const BURN_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$bGVnYXR1cmEtYnVybi1zYWx0$\
                        mm6/YjLFYG/SbpTVkCdo31cCnmNfiw5uyux+Lv9vJ8o";

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the password is too short: at least {min} characters are required")]
    PasswordTooShort { min: usize },
    #[error("the password is too long: at most {max} bytes are allowed")]
    PasswordTooLong { max: usize },
    #[error("no random salt could be made")]
    Random(#[from] RandomError),
    #[error("argon2 failed")]
    Hash(#[source] argon2::password_hash::Error),
}

fn params() -> Result<Params, AuthError> {
    Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| AuthError::Hash(argon2::password_hash::Error::from(e)))
}

/// Hashes a new password with argon2id and a fresh 128-bit salt; returns the PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$…`). Refuses passwords shorter than
/// [`MIN_PASSWORD_CHARS`] characters or longer than [`MAX_PASSWORD_BYTES`] bytes.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::PasswordTooLong {
            max: MAX_PASSWORD_BYTES,
        });
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::PasswordTooShort {
            min: MIN_PASSWORD_CHARS,
        });
    }
    let salt: [u8; SALT_LEN] = random::bytes(&SystemRandom::new())?;
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params()?);
    let salt = SaltString::encode_b64(&salt).map_err(AuthError::Hash)?;
    let hash = hasher
        .hash_password(password.as_bytes(), &salt)
        .map_err(AuthError::Hash)?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string. False, never a panic, for a malformed PHC
/// string, another algorithm than argon2id, parameters beyond the ceilings, or an over-long
/// password. The comparison of the outputs is constant-time (password-hash's `Output`).
pub fn verify_password(phc: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let Some(hash) = parse_acceptable(phc) else {
        return false;
    };
    // The parameters come from the PHC string itself, not from this instance.
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// Spends the same time as [`verify_password`] on a real account, and always fails. Call it when
/// the account does not exist, so that timing does not tell which staff names exist.
pub fn burn_verify(password: &str) {
    let matched = verify_password(BURN_PHC, password);
    // The throwaway password is not a secret, but nobody can sign in with it anyway.
    std::hint::black_box(matched);
}

/// Whether a stored hash was made with other parameters than today's (or is not even argon2id),
/// so the console should store a fresh [`hash_password`] after the next successful sign-in.
pub fn needs_rehash(phc: &str) -> bool {
    let Some(hash) = parse_acceptable(phc) else {
        return true;
    };
    match Params::try_from(&hash) {
        Ok(p) => {
            p.m_cost() != M_COST_KIB
                || p.t_cost() != T_COST
                || p.p_cost() != P_COST
                || hash.version != Some(Version::V0x13.into())
        }
        Err(_) => true,
    }
}

/// Parses a PHC string and accepts it only if it is argon2id with bounded parameters, a salt and
/// an output.
fn parse_acceptable(phc: &str) -> Option<PasswordHash<'_>> {
    let hash = PasswordHash::new(phc).ok()?;
    if hash.algorithm.as_str() != argon2::ARGON2ID_IDENT.as_str() {
        return None;
    }
    hash.salt.as_ref()?;
    hash.hash.as_ref()?;
    let p = Params::try_from(&hash).ok()?;
    let bounded =
        p.m_cost() <= MAX_M_COST_KIB && p.t_cost() <= MAX_T_COST && p.p_cost() <= MAX_P_COST;
    bounded.then_some(hash)
}

#[cfg(test)]
mod tests;
