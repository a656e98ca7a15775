//! Helpers shared by the unit tests.

use std::error::Error;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::X509Certificate;

use crate::Ca;

pub(crate) type TestResult = Result<(), Box<dyn Error>>;

pub(crate) fn cert_der(pem: &str) -> Result<CertificateDer<'static>, Box<dyn Error>> {
    Ok(CertificateDer::from_pem_slice(pem.as_bytes())?)
}

pub(crate) fn parse(der: &[u8]) -> Result<X509Certificate<'_>, Box<dyn Error>> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der)?;
    if !rest.is_empty() {
        return Err("trailing bytes after certificate".into());
    }
    Ok(cert)
}

/// Checks that `leaf` was issued by `ca` the way a TLS stack would look at it: the signature
/// verifies under the CA's public key, the issuer name is byte-for-byte the CA's subject, and
/// the authority key identifier is the CA's subject key identifier.
pub(crate) fn assert_issued_by(ca: &Ca, leaf_der: &[u8]) -> TestResult {
    let ca_der = ca.cert_der();
    let ca_cert = parse(&ca_der)?;
    let leaf = parse(leaf_der)?;
    leaf.verify_signature(Some(ca_cert.public_key()))?;
    assert_eq!(leaf.issuer().as_raw(), ca_cert.subject().as_raw());
    assert_eq!(authority_key_id(&leaf), subject_key_id(&ca_cert));
    assert!(subject_key_id(&ca_cert).is_some());
    Ok(())
}

pub(crate) fn subject_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
}

pub(crate) fn authority_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|id| id.0.to_vec())
            }
            _ => None,
        })
}
