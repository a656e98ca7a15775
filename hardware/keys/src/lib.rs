//! Key custody: every private key of the platform lives behind a [`Signer`], in a PKCS#11 HSM
//! or in the encrypted software key store, and never leaves it. Signing is a call.
//!
//! Each key has one [`KeyRole`]; a signer refuses a request made for another role, so a key
//! meant for citizen receipts can never sign a certificate.

use std::fmt;

/// What a key is for. One key, one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRole {
    /// The online issuing CA of the appliance fleet.
    FleetIssuing,
    /// Signs configuration bundles pushed to appliances.
    ConfigSigning,
    /// Signs the audit log's periodic checkpoints.
    AuditCheckpoint,
    /// Signs citizens' receipts.
    ReceiptSigning,
    /// The root CA (normally offline).
    Root,
}

impl KeyRole {
    /// Stable name, used in key labels, key-store file names, logs and audit entries.
    pub fn name(self) -> &'static str {
        match self {
            Self::FleetIssuing => "fleet-issuing",
            Self::ConfigSigning => "config-signing",
            Self::AuditCheckpoint => "audit-checkpoint",
            Self::ReceiptSigning => "receipt-signing",
            Self::Root => "root",
        }
    }

    /// Parses [`KeyRole::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::FleetIssuing, Self::ConfigSigning, Self::AuditCheckpoint, Self::ReceiptSigning, Self::Root]
            .into_iter()
            .find(|r| r.name() == name)
    }
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a signature could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The key was asked to sign for a role it does not have. Refused and worth auditing.
    #[error("key for {key} refused a {requested} signature")]
    WrongRole { key: KeyRole, requested: KeyRole },
    /// The backend is not reachable now (HSM removed, session lost); retry later.
    #[error("key backend unavailable: {0}")]
    Unavailable(String),
    #[error("signing failed: {0}")]
    Failed(String),
}

/// A private key that signs with ECDSA P-256 / SHA-256.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The role this key serves.
    fn role(&self) -> KeyRole;

    /// The public key as an uncompressed SEC1 point (65 bytes, `0x04 ‖ x ‖ y`).
    fn public_key(&self) -> &[u8];

    /// Signs `message` (hashing it with SHA-256) for `role`, returning an ASN.1 DER ECDSA
    /// signature. Fails with [`SignError::WrongRole`] when `role` is not this key's role.
    fn sign(&self, role: KeyRole, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// Verifies a signature made by a [`Signer`] against its public key, with ring.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, public_key)
        .verify(message, signature)
        .is_ok()
}
