use std::fmt;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    Ia5String, IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, DnsName, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

/// How far `not_before` is set in the past, so that a peer whose clock is a little behind still
/// accepts a certificate issued a moment ago.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// Serial numbers are this many bytes: 128 bits, of which the top bit is clear (the serial is a
/// positive DER INTEGER) and the next bit set (so it always encodes in exactly 16 bytes).
pub(crate) const SERIAL_LEN: usize = 16;

/// A certificate authority: its certificate and key pair, in memory.
///
/// `Debug` shows the subject only, never the key.
pub struct Ca {
    /// The certificate exactly as generated or loaded: what peers are given to trust.
    pub(crate) cert_der: CertificateDer<'static>,
    /// rcgen's view of the same CA (subject name, key identifier), used to issue.
    pub(crate) issuer: rcgen::Certificate,
    pub(crate) key: KeyPair,
}

/// Why a key, a CSR or a certificate could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("validity period does not fit a certificate (it must end by the year 9999)")]
    ValidityTooLong,
    #[error("validity period is empty: not_after {not_after} is not after not_before {not_before}")]
    EmptyValidity {
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    },
    #[error("invalid appliance identity")]
    InvalidIdentity(#[source] tunnel_proto::InvalidIdentity),
    #[error("a server certificate needs at least one DNS name")]
    NoDnsNames,
    #[error("{0:?} is not a valid DNS name")]
    InvalidDnsName(String),
    #[error("certificate signing request is not PEM (`CERTIFICATE REQUEST`)")]
    CsrNotPem(#[source] rustls_pki_types::pem::Error),
    #[error("certificate signing request is malformed")]
    CsrMalformed(#[source] x509_parser::error::X509Error),
    #[error("certificate signing request is followed by {0} bytes of trailing data")]
    CsrTrailingData(usize),
    #[error("certificate signing request signature does not verify")]
    CsrSignature(#[source] x509_parser::error::X509Error),
    #[error("certificate signing request key is not ECDSA P-256")]
    CsrKeyNotP256,
    #[error("system random number generator failed")]
    Random,
    #[error("key or certificate generation failed")]
    Generate(#[source] rcgen::Error),
    #[error("the {0} key cannot issue certificates")]
    WrongKeyRole(keys::KeyRole),
}

/// A leaf certificate with the key generated for it, both PEM.
///
/// `Debug` shows the certificate only, never the key.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    /// A self-signed root valid from five minutes ago for `validity`: `CA:true` with a path
    /// length of 0 (it signs leaves only), key usage `keyCertSign` and `cRLSign`.
    pub fn generate(common_name: &str, validity: Duration) -> Result<Ca, IssueError> {
        let (not_before, not_after) = window_from_now(validity)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name_only(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(random_serial()?);
        params.not_before = not_before;
        params.not_after = not_after;
        let key = new_key()?;
        let issuer = params.self_signed(&key).map_err(IssueError::Generate)?;
        Ok(Ca {
            cert_der: issuer.der().clone(),
            issuer,
            key,
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.cert_der)
    }

    /// The CA certificate, DER, e.g. for a rustls `RootCertStore`.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert_der.clone()
    }

    /// A server certificate for a hub, with a new key: the DNS names are its SANs (the first is
    /// also its CN), extended key usage `serverAuth`, valid from five minutes ago for `validity`.
    pub fn issue_server(
        &self,
        dns_names: &[&str],
        validity: Duration,
    ) -> Result<Issued, IssueError> {
        let first = dns_names.first().ok_or(IssueError::NoDnsNames)?;
        let sans = dns_names
            .iter()
            .map(|name| dns_san(name))
            .collect::<Result<Vec<_>, _>>()?;
        let (not_before, not_after) = window_from_now(validity)?;
        let params = leaf_params(
            first,
            sans,
            ExtendedKeyUsagePurpose::ServerAuth,
            not_before,
            not_after,
        )?;
        let key = new_key()?;
        let cert = params
            .signed_by(&key, &self.issuer, &self.key)
            .map_err(IssueError::Generate)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca")
            .field("subject", &self.issuer.params().distinguished_name)
            .finish_non_exhaustive()
    }
}

impl Issued {
    /// The certificate, DER, e.g. for a rustls certificate chain.
    pub fn cert_der(&self) -> Result<CertificateDer<'static>, rustls_pki_types::pem::Error> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
    }

    /// The private key, DER (PKCS#8), e.g. for a rustls config.
    pub fn key_der(&self) -> Result<PrivateKeyDer<'static>, rustls_pki_types::pem::Error> {
        PrivatePkcs8KeyDer::from_pem_slice(self.key_pem.as_bytes()).map(PrivateKeyDer::Pkcs8)
    }
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Parameters shared by every leaf: `CA:false`, `digitalSignature` (all an ECDSA TLS 1.3 peer
/// needs), one extended key usage, an authority key identifier and a fresh serial.
pub(crate) fn leaf_params(
    common_name: &str,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, IssueError> {
    if not_after <= not_before {
        return Err(IssueError::EmptyValidity {
            not_before,
            not_after,
        });
    }
    check_encodable(not_after)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name_only(common_name);
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial()?);
    params.not_before = not_before;
    params.not_after = not_after;
    Ok(params)
}

/// From five minutes ago until `validity` from now.
pub(crate) fn window_from_now(
    validity: Duration,
) -> Result<(OffsetDateTime, OffsetDateTime), IssueError> {
    let now = OffsetDateTime::now_utc();
    let validity = time::Duration::try_from(validity).map_err(|_| IssueError::ValidityTooLong)?;
    let not_after = now
        .checked_add(validity)
        .ok_or(IssueError::ValidityTooLong)?;
    check_encodable(not_after)?;
    // Short-lived certificates are backdated by a tenth of their life at most, so that "two
    // thirds of the lifetime" still lies in the future when they arrive.
    Ok((now - CLOCK_SKEW.min(validity / 10), not_after))
}

/// X.509 times end with the year 9999 (GeneralizedTime has four year digits).
fn check_encodable(t: OffsetDateTime) -> Result<(), IssueError> {
    if t.year() > 9999 {
        return Err(IssueError::ValidityTooLong);
    }
    Ok(())
}

pub(crate) fn new_key() -> Result<KeyPair, IssueError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(IssueError::Generate)
}

pub(crate) fn common_name_only(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

fn dns_san(name: &str) -> Result<SanType, IssueError> {
    let invalid = || IssueError::InvalidDnsName(name.to_owned());
    DnsName::try_from(name).map_err(|_| invalid())?;
    Ia5String::try_from(name)
        .map(SanType::DnsName)
        .map_err(|_| invalid())
}

pub(crate) fn random_serial() -> Result<SerialNumber, IssueError> {
    let mut bytes = [0u8; SERIAL_LEN];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| IssueError::Random)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// PEM with 64-column base64 lines, as rcgen and OpenSSL write it.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]);
            } else {
                b64.push(b'=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.chunks(64) {
        out.extend(line.iter().map(|&c| char::from(c)));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests;
