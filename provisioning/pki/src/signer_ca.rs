//! CAs whose private key lives behind a [`keys::Signer`] (HSM or encrypted key store): the
//! online issuing CA signs by calling the backend, and its key is never in this process.

use std::sync::Arc;
use std::time::Duration;

use keys::{KeyRole, Signer};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, IsCa, KeyIdMethod,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, RemoteKeyPair, RevocationReason,
    RevokedCertParams, SerialNumber, SignatureAlgorithm,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;

use crate::ca::{common_name_only, random_serial, window_from_now};
use crate::{Ca, IssueError};

/// An rcgen remote key that signs through a [`Signer`] for one role. A signer holding a key
/// of another role refuses, and so does issuance.
struct SignerKey {
    signer: Arc<dyn Signer>,
    role: KeyRole,
}

impl RemoteKeyPair for SignerKey {
    fn public_key(&self) -> &[u8] {
        self.signer.public_key()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.signer
            .sign(self.role, msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

fn remote(signer: Arc<dyn Signer>, role: KeyRole) -> Result<KeyPair, IssueError> {
    KeyPair::from_remote(Box::new(SignerKey { signer, role })).map_err(IssueError::Generate)
}

/// One entry of a certificate revocation list.
#[derive(Debug, Clone)]
pub struct Revoked {
    /// The certificate's serial number, big-endian bytes.
    pub serial: Vec<u8>,
    pub at: OffsetDateTime,
}

impl Ca {
    /// A self-signed root that may sign issuing CAs (path length 1), with a software key meant
    /// to be kept offline.
    pub fn generate_root(common_name: &str, validity: Duration) -> Result<Ca, IssueError> {
        let (not_before, not_after) = window_from_now(validity)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name_only(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(random_serial()?);
        params.not_before = not_before;
        params.not_after = not_after;
        let key = crate::ca::new_key()?;
        let issuer = params.self_signed(&key).map_err(IssueError::Generate)?;
        Ok(Ca {
            cert_der: issuer.der().clone(),
            issuer,
            key,
        })
    }

    /// The certificate of an issuing CA whose key is behind `signer` (role
    /// [`KeyRole::FleetIssuing`]): it may sign leaves only. Returns the certificate PEM.
    pub fn issue_intermediate(
        &self,
        signer: Arc<dyn Signer>,
        common_name: &str,
        validity: Duration,
    ) -> Result<String, IssueError> {
        if signer.role() != KeyRole::FleetIssuing {
            return Err(IssueError::WrongKeyRole(signer.role()));
        }
        let (not_before, not_after) = window_from_now(validity)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name_only(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial()?);
        params.not_before = not_before;
        params.not_after = not_after;
        let public = remote(signer, KeyRole::FleetIssuing)?;
        let cert = params
            .signed_by(&public, &self.issuer, &self.key)
            .map_err(IssueError::Generate)?;
        Ok(cert.pem())
    }

    /// The issuing CA from its certificate and the signer holding its key. Checks that the key
    /// is the certificate's and that it serves [`KeyRole::FleetIssuing`].
    pub fn with_signer(cert_pem: &str, signer: Arc<dyn Signer>) -> Result<Ca, SignerCaError> {
        if signer.role() != KeyRole::FleetIssuing {
            return Err(SignerCaError::WrongRole(signer.role()));
        }
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|_| SignerCaError::Certificate("not PEM"))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|_| SignerCaError::Certificate("malformed"))?;
        if !parsed.is_ca() {
            return Err(SignerCaError::Certificate("not CA:true"));
        }
        if parsed.public_key().subject_public_key.data.as_ref() != signer.public_key() {
            return Err(SignerCaError::KeyMismatch);
        }
        let params = CertificateParams::from_ca_cert_der(&cert_der)
            .map_err(|_| SignerCaError::Certificate("unreadable"))?;
        let key = remote(signer, KeyRole::FleetIssuing).map_err(SignerCaError::Issue)?;
        // rcgen needs its own view of the issuer; building it costs one signature.
        let issuer = params
            .self_signed(&key)
            .map_err(|e| SignerCaError::Issue(IssueError::Generate(e)))?;
        Ok(Ca {
            cert_der,
            issuer,
            key,
        })
    }

    /// Whether this CA's key lives behind a signer (and so cannot be saved).
    pub fn is_remote(&self) -> bool {
        self.key.as_remote().is_some()
    }

    /// A CRL listing `revoked`, valid until `next_update` from now, for third parties. (The hub
    /// itself enforces revocation from its live deny-list.)
    pub fn crl(
        &self,
        number: u64,
        revoked: &[Revoked],
        next_update: Duration,
    ) -> Result<String, IssueError> {
        let now = OffsetDateTime::now_utc();
        let next =
            now + time::Duration::try_from(next_update).map_err(|_| IssueError::ValidityTooLong)?;
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: next,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|r| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&r.serial),
                    revocation_time: r.at,
                    reason_code: Some(RevocationReason::CessationOfOperation),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(&self.issuer, &self.key)
            .map_err(IssueError::Generate)?;
        crl.pem().map_err(IssueError::Generate)
    }
}

/// Why a signer-backed CA could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SignerCaError {
    #[error("the issuing CA needs the fleet-issuing key, not the {0} key")]
    WrongRole(KeyRole),
    #[error("issuing CA certificate unusable: {0}")]
    Certificate(&'static str),
    #[error("the key in the backend is not the issuing CA certificate's key")]
    KeyMismatch,
    #[error("cannot build the issuing CA")]
    Issue(#[source] IssueError),
}

#[cfg(test)]
mod tests;
