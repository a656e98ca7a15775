//! The one source of randomness: ring's `SystemRandom` (the kernel's getrandom).

use ring::rand::{SecureRandom, SystemRandom};

/// The system's random number generator failed; nothing secret was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

/// Fills `buf` from the kernel's CSPRNG.
pub(crate) fn fill(rng: &SystemRandom, buf: &mut [u8]) -> Result<(), RandomError> {
    rng.fill(buf).map_err(|_| RandomError)
}

/// `N` fresh random bytes.
pub(crate) fn bytes<const N: usize>(rng: &SystemRandom) -> Result<[u8; N], RandomError> {
    let mut out = [0u8; N];
    fill(rng, &mut out)?;
    Ok(out)
}
