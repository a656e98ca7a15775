//! Renewal messages, carried over the live tunnel: the appliance sends a CSR for the key it
//! already holds and gets a fresh certificate built from the hub's record.

use serde::{Deserialize, Serialize};

/// Largest renewal message accepted.
pub const MAX_RENEW_MESSAGE: usize = 16 * 1024;

/// Appliance → hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    pub csr_pem: String,
}

/// Hub → appliance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case", deny_unknown_fields)]
pub enum RenewResponse {
    /// The new leaf and the issuing CA certificate to present with it.
    Issued { cert_pem: String, chain_pem: String },
    /// Refused, with a reason a person can act on.
    Refused { reason: String, retry: bool },
}

/// A renewal message that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RenewDecodeError {
    #[error("renewal message of {0} bytes exceeds {MAX_RENEW_MESSAGE}")]
    TooLong(usize),
    #[error("malformed renewal message")]
    Json(#[from] serde_json::Error),
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, RenewDecodeError> {
    if bytes.len() > MAX_RENEW_MESSAGE {
        return Err(RenewDecodeError::TooLong(bytes.len()));
    }
    Ok(serde_json::from_slice(bytes)?)
}

impl RenewRequest {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, RenewDecodeError> {
        decode(bytes)
    }
}

impl RenewResponse {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, RenewDecodeError> {
        decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_junk() {
        let r = RenewResponse::Refused {
            reason: "revoked".into(),
            retry: false,
        };
        assert_eq!(RenewResponse::decode(&r.encode()).expect("decodes"), r);
        let q = RenewRequest {
            csr_pem: "x".into(),
        };
        assert_eq!(RenewRequest::decode(&q.encode()).expect("decodes"), q);
        assert!(RenewRequest::decode(br#"{"csr_pem":"x","identity":"paris/PAR-99"}"#).is_err());
        assert!(matches!(
            RenewRequest::decode(&vec![b' '; MAX_RENEW_MESSAGE + 1]),
            Err(RenewDecodeError::TooLong(_))
        ));
    }
}
