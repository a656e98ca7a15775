use tunnel_proto::{ApplianceId, InvalidIdentity};
use x509_parser::error::X509Error;
use x509_parser::extensions::GeneralName;

/// The scheme and namespace of an appliance identity URI.
const IDENTITY_PREFIX: &str = "urn:legatura:appliance:";

/// Why no appliance identity could be read from a certificate.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("certificate is not a DER X.509 certificate")]
    Malformed(#[source] X509Error),
    #[error("certificate is followed by {0} bytes of trailing data")]
    TrailingData(usize),
    #[error("certificate carries no `{IDENTITY_PREFIX}` URI")]
    Missing,
    #[error("certificate carries {0} `{IDENTITY_PREFIX}` URIs; exactly one is allowed")]
    Ambiguous(usize),
    #[error("certificate carries an invalid appliance identity")]
    Invalid(#[source] InvalidIdentity),
}

/// The appliance identity of a DER certificate: its one `urn:legatura:appliance:` URI SAN.
///
/// The certificate must already have been verified (chain, validity, `clientAuth`) by the TLS
/// stack; this reads the name only. Zero or several identity URIs are an error, and so is a URI
/// in this namespace that is not a valid [`ApplianceId`]. Other URIs and SANs are ignored.
pub fn appliance_id_from_cert(der: &[u8]) -> Result<ApplianceId, IdentityError> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
        IdentityError::Malformed(match e {
            x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e,
            x509_parser::nom::Err::Incomplete(_) => X509Error::InvalidCertificate,
        })
    })?;
    if !rest.is_empty() {
        return Err(IdentityError::TrailingData(rest.len()));
    }
    // Fails on a certificate with two SAN extensions, so an identity cannot hide in the second.
    let san = cert
        .subject_alternative_name()
        .map_err(IdentityError::Malformed)?;
    let uris: Vec<&str> = san
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some(*uri),
            _ => None,
        })
        .filter(|uri| in_identity_namespace(uri))
        .collect();
    match uris.as_slice() {
        [] => Err(IdentityError::Missing),
        [uri] => ApplianceId::from_uri(uri).map_err(IdentityError::Invalid),
        more => Err(IdentityError::Ambiguous(more.len())),
    }
}

/// URN schemes and namespace ids compare case-insensitively (RFC 8141), so a second identity
/// spelt `URN:Legatura:appliance:` counts as one; `ApplianceId::from_uri` then insists on the
/// canonical spelling.
fn in_identity_namespace(uri: &str) -> bool {
    uri.get(..IDENTITY_PREFIX.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(IDENTITY_PREFIX))
}

#[cfg(test)]
mod tests;
