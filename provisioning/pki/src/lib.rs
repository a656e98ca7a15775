//! The development certificate authority of Legătura, used by `legatura up`, by tests and by
//! benchmarks until the HSM-backed PKI lands: a fleet CA, hub server certificates, appliance
//! client certificates issued from CSRs, and an in-memory [`fixture`] PKI.
//!
//! Invariants:
//! - every key is ECDSA P-256 and every signature ECDSA with SHA-256; serials are random,
//!   positive and 16 bytes long;
//! - an appliance certificate's identity (its `urn:legatura:appliance:` URI SAN and its CN) comes
//!   from the [`ApplianceId`] the hub holds on record, never from the CSR: only the CSR's public
//!   key is used, after its self-signature has been verified;
//! - private keys are never printed by `Debug`, and are written to disk only through
//!   [`write_private`]: mode 0600 from the moment the file exists, replaced atomically;
//! - no function panics on input; every failure is a typed error, one enum per operation.

mod ca;
mod csr;
pub mod enroll;
pub mod fixture;
mod identity;
mod operator;
pub mod renew;
mod signer_ca;
mod store;
#[cfg(test)]
mod test_util;

pub use ca::{Ca, IssueError, Issued};
pub use csr::{CertInfo, KeyAndCsr, cert_info, csr_for_key, generate_key_and_csr};
pub use fixture::Fleet as TestPki;
pub use identity::{IdentityError, appliance_id_from_cert};
pub use operator::{operator_from_cert, valid_operator};
pub use signer_ca::{Revoked, SignerCaError};
pub use store::{StoreError, write_private, write_public};
pub use tunnel_proto::ApplianceId;
