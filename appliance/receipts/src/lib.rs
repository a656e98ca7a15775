//! Citizens' receipts: the case number, the tracking code, the time, and the SHA-256 of every
//! document, signed with the receipt-signing key so that anyone can check offline that the
//! ministry received exactly these files at that time.
//!
//! A receipt file is JSON: `{"format": "legatura-receipt-v1", "payload": base64(JSON of
//! [`Receipt`]), "key": hex(public key), "signature": base64(ECDSA P-256 / SHA-256 over
//! "legatura-receipt-v1\n" ‖ payload bytes)}`. The payload is kept as the exact bytes that
//! were signed, so verification never depends on how JSON is re-serialised.
//!
//! Invariants: only a key of role [`keys::KeyRole::ReceiptSigning`] signs receipts; a verifier
//! trusts a key only if the caller lists it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keys::{KeyRole, SignError, Signer};
use serde::{Deserialize, Serialize};

const FORMAT: &str = "legatura-receipt-v1";
/// Largest receipt file accepted by the verifier.
pub const MAX_RECEIPT: usize = 64 * 1024;

/// One document the citizen submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

/// What the ministry acknowledges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub case_no: String,
    pub tracking_code: String,
    /// RFC 3339, UTC.
    pub received_at: String,
    pub request_type: String,
    pub documents: Vec<Document>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    payload: String,
    key: String,
    signature: String,
}

/// Why a receipt could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignReceiptError {
    #[error("receipts are signed only with the receipt-signing key, not the {0} key")]
    WrongKey(KeyRole),
    #[error("cannot sign the receipt")]
    Sign(#[from] SignError),
}

/// Why a receipt does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("not a receipt file (or larger than {MAX_RECEIPT} bytes)")]
    Malformed,
    #[error("unknown receipt format {0:?}")]
    Format(String),
    #[error("signed by a key this verifier does not trust")]
    UntrustedKey,
    #[error("the signature does not match: the receipt was altered")]
    BadSignature,
}

/// Signs `receipt`; returns the receipt file's text.
pub fn sign(receipt: &Receipt, signer: &dyn Signer) -> Result<String, SignReceiptError> {
    if signer.role() != KeyRole::ReceiptSigning {
        return Err(SignReceiptError::WrongKey(signer.role()));
    }
    // Serialising a struct of strings and numbers cannot fail.
    let payload = serde_json::to_vec(receipt).unwrap_or_default();
    let signature = signer.sign(KeyRole::ReceiptSigning, &message(&payload))?;
    let file = File {
        format: FORMAT.to_owned(),
        payload: B64.encode(&payload),
        key: hex::encode(signer.public_key()),
        signature: B64.encode(signature),
    };
    Ok(serde_json::to_string_pretty(&file).unwrap_or_default())
}

/// Verifies a receipt file against the keys the caller trusts; returns what it says.
pub fn verify(text: &[u8], trusted_keys: &[Vec<u8>]) -> Result<Receipt, VerifyError> {
    if text.len() > MAX_RECEIPT {
        return Err(VerifyError::Malformed);
    }
    let file: File = serde_json::from_slice(text).map_err(|_| VerifyError::Malformed)?;
    if file.format != FORMAT {
        return Err(VerifyError::Format(file.format));
    }
    let key = hex::decode(&file.key).map_err(|_| VerifyError::Malformed)?;
    if !trusted_keys.contains(&key) {
        return Err(VerifyError::UntrustedKey);
    }
    let payload = B64
        .decode(&file.payload)
        .map_err(|_| VerifyError::Malformed)?;
    let signature = B64
        .decode(&file.signature)
        .map_err(|_| VerifyError::Malformed)?;
    if !keys::verify(&key, &message(&payload), &signature) {
        return Err(VerifyError::BadSignature);
    }
    serde_json::from_slice(&payload).map_err(|_| VerifyError::Malformed)
}

fn message(payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(FORMAT.len() + 1 + payload.len());
    m.extend_from_slice(FORMAT.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(payload);
    m
}

#[cfg(test)]
mod tests;
