//! QUIC variable-length integers (RFC 9000 §16), used for flow ids.

use std::fmt;

/// Largest value a QUIC varint can carry.
pub(crate) const MAX: u64 = (1 << 62) - 1;

/// Why a varint could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VarIntError {
    #[error("input ends inside a varint")]
    Incomplete,
    #[error("value {0} does not fit a QUIC varint")]
    TooLarge(u64),
}

/// Identifies one UDP flow within a tunnel connection. Chosen by the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(u64);

impl FlowId {
    /// A flow id; fails when `id` exceeds the varint range.
    pub fn new(id: u64) -> Result<Self, VarIntError> {
        if id > MAX {
            return Err(VarIntError::TooLarge(id));
        }
        Ok(Self(id))
    }

    /// The numeric id.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flow#{}", self.0)
    }
}

/// Appends `v` (which must be ≤ [`MAX`]) in the shortest encoding.
pub(crate) fn encode(v: u64, out: &mut Vec<u8>) {
    debug_assert!(v <= MAX);
    if v < 1 << 6 {
        out.push(v as u8);
    } else if v < 1 << 14 {
        out.extend_from_slice(&((v as u16) | 0x4000).to_be_bytes());
    } else if v < 1 << 30 {
        out.extend_from_slice(&((v as u32) | 0x8000_0000).to_be_bytes());
    } else {
        out.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes());
    }
}

/// Reads one varint from the front of `buf`, returning the value and bytes used.
pub(crate) fn decode(buf: &[u8]) -> Result<(u64, usize), VarIntError> {
    let first = *buf.first().ok_or(VarIntError::Incomplete)?;
    let len = 1usize << (first >> 6);
    let bytes = buf.get(..len).ok_or(VarIntError::Incomplete)?;
    let mut v = u64::from(first & 0x3f);
    for b in &bytes[1..] {
        v = (v << 8) | u64::from(*b);
    }
    Ok((v, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc9000_examples() {
        assert_eq!(
            decode(&[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c]),
            Ok((151_288_809_941_952_652, 8))
        );
        assert_eq!(decode(&[0x9d, 0x7f, 0x3e, 0x7d]), Ok((494_878_333, 4)));
        assert_eq!(decode(&[0x7b, 0xbd]), Ok((15_293, 2)));
        assert_eq!(decode(&[0x25]), Ok((37, 1)));
        assert_eq!(decode(&[0x40, 0x25]), Ok((37, 2)));
    }

    #[test]
    fn flow_id_rejects_values_beyond_62_bits() {
        assert_eq!(FlowId::new(MAX + 1), Err(VarIntError::TooLarge(MAX + 1)));
        assert!(FlowId::new(MAX).is_ok());
    }

    proptest! {
        #[test]
        fn round_trip(v in 0..=MAX) {
            let mut out = Vec::new();
            encode(v, &mut out);
            prop_assert_eq!(decode(&out), Ok((v, out.len())));
            for cut in 0..out.len() {
                prop_assert_eq!(decode(&out[..cut]), Err(VarIntError::Incomplete));
            }
        }
    }
}
