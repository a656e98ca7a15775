use std::fmt;
use std::time::Duration;

use rcgen::{
    CertificateParams, ExtendedKeyUsagePurpose, Ia5String, PKCS_ECDSA_P256_SHA256, PublicKeyData,
    SanType, SubjectPublicKeyInfo,
};
use rustls_pki_types::CertificateSigningRequestDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use tunnel_proto::ApplianceId;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::error::X509Error;
use x509_parser::prelude::FromDer;

use crate::Ca;
use crate::ca::{IssueError, common_name_only, leaf_params, new_key, window_from_now};

/// A key generated where it will be used, and a CSR for it; both PEM.
///
/// `Debug` shows the CSR only, never the key.
pub struct KeyAndCsr {
    pub key_pem: String,
    pub csr_pem: String,
}

impl fmt::Debug for KeyAndCsr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyAndCsr")
            .field("key_pem", &"<redacted>")
            .field("csr_pem", &self.csr_pem)
            .finish()
    }
}

/// A new P-256 key and a CSR for it naming `id` (CN and URI SAN). The CA ignores both names and
/// uses its own record; they are there for the humans who read the CSR.
pub fn generate_key_and_csr(id: &ApplianceId) -> Result<KeyAndCsr, IssueError> {
    let key = new_key()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name_only(&id.to_string());
    params.subject_alt_names = vec![identity_san(id)?];
    let csr = params
        .serialize_request(&key)
        .map_err(IssueError::Generate)?;
    Ok(KeyAndCsr {
        key_pem: key.serialize_pem(),
        csr_pem: csr.pem().map_err(IssueError::Generate)?,
    })
}

/// A CSR for a key the appliance already holds (renewal keeps the key).
pub fn csr_for_key(key_pem: &str, id: &ApplianceId) -> Result<String, IssueError> {
    let key = rcgen::KeyPair::from_pem(key_pem).map_err(IssueError::Generate)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name_only(&id.to_string());
    params.subject_alt_names = vec![identity_san(id)?];
    let csr = params
        .serialize_request(&key)
        .map_err(IssueError::Generate)?;
    csr.pem().map_err(IssueError::Generate)
}

/// What the fleet manager and the renewal schedule need to know of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Serial number, big-endian bytes.
    pub serial: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// Reads the serial and validity of the first certificate in `pem`.
pub fn cert_info(pem: &str) -> Result<CertInfo, IssueError> {
    let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(IssueError::CsrNotPem)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| {
        IssueError::CsrMalformed(match e {
            x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e,
            x509_parser::nom::Err::Incomplete(_) => X509Error::InvalidCertificate,
        })
    })?;
    let validity = cert.validity();
    Ok(CertInfo {
        serial: cert.raw_serial().to_vec(),
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
    })
}

impl Ca {
    /// A client certificate for the appliance `id` from its CSR, valid from five minutes ago for
    /// `validity`, extended key usage `clientAuth`. Returns the certificate PEM.
    ///
    /// Subject (CN = `id.to_string()`) and SAN (URI = `id.to_uri()`) come from `id`, the hub's
    /// record; nothing but the public key is taken from the CSR, and only once the CSR's
    /// self-signature has verified.
    pub fn sign_appliance_csr(
        &self,
        csr_pem: &str,
        id: &ApplianceId,
        validity: Duration,
    ) -> Result<String, IssueError> {
        let (not_before, not_after) = window_from_now(validity)?;
        self.sign_appliance_csr_between(csr_pem, id, not_before, not_after)
    }

    /// As [`Ca::sign_appliance_csr`], with an explicit validity period (for tests of
    /// certificates that have expired or are not yet valid).
    pub fn sign_appliance_csr_between(
        &self,
        csr_pem: &str,
        id: &ApplianceId,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<String, IssueError> {
        let csr = CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
            .map_err(IssueError::CsrNotPem)?;
        let public_key = verified_csr_key(&csr)?;
        let params = leaf_params(
            &id.to_string(),
            vec![identity_san(id)?],
            ExtendedKeyUsagePurpose::ClientAuth,
            not_before,
            not_after,
        )?;
        let cert = params
            .signed_by(&public_key, &self.issuer, &self.key)
            .map_err(IssueError::Generate)?;
        Ok(cert.pem())
    }
}

/// The CSR's public key, once the CSR has parsed completely, its self-signature has verified
/// and its key has turned out to be P-256. Its names, attributes and extensions are not read.
pub(crate) fn verified_csr_key(der: &[u8]) -> Result<SubjectPublicKeyInfo, IssueError> {
    let (rest, csr) = X509CertificationRequest::from_der(der).map_err(|e| {
        IssueError::CsrMalformed(match e {
            x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e,
            x509_parser::nom::Err::Incomplete(_) => X509Error::InvalidCertificate,
        })
    })?;
    if !rest.is_empty() {
        return Err(IssueError::CsrTrailingData(rest.len()));
    }
    csr.verify_signature().map_err(IssueError::CsrSignature)?;
    let key = SubjectPublicKeyInfo::from_der(csr.certification_request_info.subject_pki.raw)
        .map_err(|_| IssueError::CsrKeyNotP256)?;
    if key.algorithm() != &PKCS_ECDSA_P256_SHA256 {
        return Err(IssueError::CsrKeyNotP256);
    }
    Ok(key)
}

fn identity_san(id: &ApplianceId) -> Result<SanType, IssueError> {
    // `ApplianceId` admits only `[A-Za-z0-9_-]`, so its URI is always ASCII.
    Ia5String::try_from(id.to_uri())
        .map(SanType::URI)
        .map_err(IssueError::Generate)
}

#[cfg(test)]
mod tests;
