//! Key custody: every private key of the platform lives behind a [`Signer`], in a PKCS#11 HSM
//! or in the encrypted software key store, and never leaves it. Signing is a call.
//!
//! Each key has one [`KeyRole`]; a signer refuses a request made for another role, so a key
//! meant for citizen receipts can never sign a certificate.
//!
//! Invariants: configuration names keys by reference ([`KeyRef`]), never by value, and never
//! holds a PIN; a PKCS#11 key is accepted only if it is sensitive, non-extractable, P-256 and
//! bound to its role in `CKA_ID`; a software key is sealed at rest (AES-256-GCM, role in the
//! AAD) in a mode-0600 file; no code path panics, and losing the HSM makes signing fail with
//! [`SignError::Unavailable`] until it comes back, without restarting anything. This is the only
//! crate that uses `cryptoki`, and it needs no `unsafe` of its own.
//!
//! # API
//!
//! ```text
//! trait Signer: Send + Sync + Debug {
//!     fn role(&self) -> KeyRole;
//!     fn public_key(&self) -> &[u8];                      // uncompressed SEC1, 65 bytes
//!     fn sign(&self, role: KeyRole, message: &[u8]) -> Result<Vec<u8>, SignError>;  // DER
//! }
//! fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool;
//! fn open_signer(key: &KeyRef, role: KeyRole) -> Result<Arc<dyn Signer>, OpenSignerError>;
//!
//! KeyRef: FromStr<Err = KeyRefError> + Display       // "pkcs11:…" | "keystore:<dir>/<role>.key"
//!     ::Pkcs11(Pkcs11Ref { module, token, object, pin: PinSource })
//!     ::Keystore(KeystoreRef { dir, role })
//! PinSource::{File(path), Env(name)}.read() -> Result<Zeroizing<String>, PinError>
//!
//! SoftwareStore::open(dir) / ::open_with_master_key(dir, master_key_path)  -> Result<_, KeyStoreError>
//!     .generate(role) / .signer(role) -> Result<Arc<dyn Signer>, KeyStoreError>
//!     .key_path(role) -> PathBuf
//!
//! Pkcs11Store::open(module, token_label, &PinSource) / ::from_ref(&Pkcs11Ref)  -> Result<_, Pkcs11Error>
//!     .generate(role) / .generate_labeled(role, object_label)
//!     .signer(role) / .signer_labeled(object_label, role) -> Result<Arc<dyn Signer>, Pkcs11Error>
//!     ::default_label(role) -> "legatura-<role>"
//! Pkcs11Error::is_unavailable(&self) -> bool          // worth retrying later
//! ```

mod der;
mod keyref;
mod pkcs11;
mod software;

use std::fmt;
use std::sync::Arc;

pub use keyref::{
    DEFAULT_PKCS11_MODULE, KeyRef, KeyRefError, KeystoreRef, PinError, PinSource, Pkcs11Ref,
};
pub use pkcs11::{Pkcs11Error, Pkcs11Store};
pub use software::{FormatError, KeyStoreError, MASTER_KEY_FILE, SoftwareStore};

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
        [
            Self::FleetIssuing,
            Self::ConfigSigning,
            Self::AuditCheckpoint,
            Self::ReceiptSigning,
            Self::Root,
        ]
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

/// Why [`open_signer`] could not produce a signer.
#[derive(Debug, thiserror::Error)]
pub enum OpenSignerError {
    #[error("the key reference names the {named} key, but the {requested} key was asked for")]
    WrongRole { named: KeyRole, requested: KeyRole },
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
    #[error(transparent)]
    Pkcs11(#[from] Pkcs11Error),
}

/// Opens the key that `key` refers to, for `role`: a `keystore:` key from its
/// [`SoftwareStore`] (master key in the store directory), a `pkcs11:` key from its token.
pub fn open_signer(key: &KeyRef, role: KeyRole) -> Result<Arc<dyn Signer>, OpenSignerError> {
    match key {
        KeyRef::Keystore(r) if r.role != role => Err(OpenSignerError::WrongRole {
            named: r.role,
            requested: role,
        }),
        KeyRef::Keystore(r) => Ok(SoftwareStore::open(&r.dir)?.signer(role)?),
        KeyRef::Pkcs11(r) => Ok(Pkcs11Store::from_ref(r)?.signer_labeled(&r.object, role)?),
    }
}
