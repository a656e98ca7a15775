//! The two DER shapes this crate writes and reads by hand: an ECDSA signature
//! (`SEQUENCE { INTEGER r, INTEGER s }`, RFC 3279) from the raw `r ‖ s` a PKCS#11 token returns,
//! and the OCTET STRING wrapping of `CKA_EC_POINT`.
//!
//! Both are tiny and bounded; a general DER library would be more code to trust, not less.

/// Why bytes were not the expected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DerError {
    #[error("raw ECDSA signature has odd or unsupported length {0}")]
    BadRawLength(usize),
    #[error("EC point is not a DER OCTET STRING holding an uncompressed P-256 point")]
    BadEcPoint,
}

/// Longest scalar accepted: P-521 scalars are 66 bytes. Keeps every length below 256.
const MAX_SCALAR: usize = 66;

/// Converts a raw `r ‖ s` signature (each half the curve's scalar size) to ASN.1 DER.
pub(crate) fn ecdsa_raw_to_der(raw: &[u8]) -> Result<Vec<u8>, DerError> {
    let half = raw.len() / 2;
    if raw.is_empty() || !raw.len().is_multiple_of(2) || half > MAX_SCALAR {
        return Err(DerError::BadRawLength(raw.len()));
    }
    let (r, s) = raw.split_at(half);
    let mut body = Vec::with_capacity(2 * (half + 3));
    write_unsigned_integer(&mut body, r);
    write_unsigned_integer(&mut body, s);
    let mut out = Vec::with_capacity(body.len() + 3);
    out.push(0x30);
    write_length(&mut out, body.len());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Writes a DER INTEGER holding the big-endian unsigned `value`: redundant leading zero bytes
/// dropped (zero itself stays one byte), and one `0x00` prepended when the top bit is set so that
/// the number is not read as negative.
fn write_unsigned_integer(out: &mut Vec<u8>, value: &[u8]) {
    let first = value.iter().position(|&b| b != 0).unwrap_or(value.len());
    let digits = match &value[first..] {
        [] => &[0u8][..],
        digits => digits,
    };
    let pad = digits[0] & 0x80 != 0;
    out.push(0x02);
    write_length(out, digits.len() + usize::from(pad));
    if pad {
        out.push(0x00);
    }
    out.extend_from_slice(digits);
}

/// Short form below 128, `0x81 len` above. Every length here is at most 2 · (2 + 67) = 138
/// (see [`MAX_SCALAR`]), so one length byte always suffices and the cast cannot truncate.
fn write_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.extend_from_slice(&[0x81, len as u8]);
    }
}

/// Length of an uncompressed P-256 point, `0x04 ‖ x ‖ y`.
pub(crate) const P256_POINT_LEN: usize = 65;

/// Extracts the uncompressed P-256 point from a `CKA_EC_POINT` value: PKCS#11 says a DER
/// OCTET STRING (`04 41 04 …`); a few tokens return the bare point, which is accepted too.
pub(crate) fn p256_point_from_ec_point(value: &[u8]) -> Result<&[u8], DerError> {
    let point = match value {
        [0x04, len, point @ ..]
            if usize::from(*len) == P256_POINT_LEN && point.len() == P256_POINT_LEN =>
        {
            point
        }
        point if point.len() == P256_POINT_LEN => point,
        _ => return Err(DerError::BadEcPoint),
    };
    if point[0] != 0x04 {
        return Err(DerError::BadEcPoint);
    }
    Ok(point)
}

#[cfg(test)]
mod tests;
