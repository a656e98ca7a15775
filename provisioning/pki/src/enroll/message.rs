//! Enrollment messages: JSON, at most [`MAX_MESSAGE`] bytes, unknown fields refused.

use serde::{Deserialize, Serialize};

/// Largest encoded message accepted.
pub const MAX_MESSAGE: usize = 16 * 1024;

/// Why the hub refused an enrollment. Each reason is distinct so the person at the embassy
/// knows what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The code's secret did not match (PAKE confirmation failed), or the code id is unknown.
    WrongCode,
    /// The code passed its expiry date.
    Expired,
    /// The code was already used to enroll.
    AlreadyUsed,
    /// Too many wrong attempts; the NOC must issue a new code.
    Exhausted,
    /// The CSR was malformed or its key unusable.
    BadCsr,
    /// The appliance's clock is too far from the hub's.
    ClockSkew,
    /// A message was malformed, oversized or out of order.
    Malformed,
    /// The hub could not issue now (its signing key is unavailable); try again later.
    Unavailable,
}

impl Refusal {
    /// What the person at the embassy should read.
    pub fn explain(self) -> &'static str {
        match self {
            Self::WrongCode => "the enrollment code is wrong; check it and try again",
            Self::Expired => "the enrollment code has expired; ask the NOC for a new one",
            Self::AlreadyUsed => "the enrollment code was already used; ask the NOC for a new one",
            Self::Exhausted => "too many wrong attempts with this code; ask the NOC for a new one",
            Self::BadCsr => "the appliance sent an unusable certificate request",
            Self::ClockSkew => {
                "this appliance's clock is wrong; set the date and time, then try again"
            }
            Self::Malformed => "the enrollment exchange was malformed",
            Self::Unavailable => {
                "the hub cannot issue certificates right now; the appliance will retry"
            }
        }
    }
}

/// One enrollment message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Message {
    /// Appliance → hub: which code, the first PAKE message, and the appliance's clock.
    Start {
        code_id: String,
        pake: String,
        software: String,
        unix_time: i64,
    },
    /// Hub → appliance: the second PAKE message.
    Challenge { pake: String },
    /// Appliance → hub: the CSR for the key it generated, with its confirmation MAC.
    Finish { csr_pem: String, confirm: String },
    /// Hub → appliance: the certificate, the hub CA, who the appliance is, and the hub's MAC.
    /// For a NOC operator's code, `operator` names the operator and the appliance fields are
    /// empty.
    Issued {
        cert_pem: String,
        hub_ca_pem: String,
        mission: String,
        appliance: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
        confirm: String,
    },
    /// Hub → appliance: no.
    Refused { reason: Refusal },
}

/// A message that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("enrollment message of {0} bytes exceeds {MAX_MESSAGE}")]
    TooLong(usize),
    #[error("malformed enrollment message")]
    Json(#[from] serde_json::Error),
}

impl Message {
    pub fn encode(&self) -> Vec<u8> {
        // Serialising a plain enum of strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(DecodeError::TooLong(bytes.len()));
        }
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The message's name, for logs and audit entries.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Start { .. } => "start",
            Self::Challenge { .. } => "challenge",
            Self::Finish { .. } => "finish",
            Self::Issued { .. } => "issued",
            Self::Refused { .. } => "refused",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let m = Message::Refused {
            reason: Refusal::Exhausted,
        };
        assert_eq!(Message::decode(&m.encode()).expect("decodes"), m);
        assert!(Message::decode(br#"{"type":"refused","reason":"exhausted","extra":1}"#).is_err());
        assert!(Message::decode(br#"{"type":"launch"}"#).is_err());
        assert!(matches!(
            Message::decode(&vec![b' '; MAX_MESSAGE + 1]),
            Err(DecodeError::TooLong(_))
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u32 = 1;
        for len in 0..512 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x & 0x7f) as u8
                })
                .collect();
            let _ = Message::decode(&bytes);
        }
    }
}
