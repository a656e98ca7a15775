//! TLS for the tunnel: TLS 1.3 only, the ring provider, mutual authentication against pinned
//! roots, and the appliance identity read from the client certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::UnixTime;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tunnel_proto::ApplianceId;

use crate::FleetHooks;

/// Why certificates or keys could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key")]
    NoKey { path: PathBuf },
    #[error("invalid TLS setup")]
    Rustls(#[from] rustls::Error),
    #[error("invalid client verifier")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("TLS configuration unusable for QUIC")]
    Quic(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
}

/// What one end of the tunnel proves and trusts.
#[derive(Debug)]
pub struct Credentials {
    /// The only roots this end trusts for its peer: the fleet CA at the hub, the hub CA at the
    /// gateway.
    pub roots: Vec<CertificateDer<'static>>,
    /// This end's certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// This end's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Credentials {
    fn clone(&self) -> Self {
        Self {
            roots: self.roots.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Credentials {
    /// Loads PEM files: the peer's root CA(s), this end's certificate chain and its key.
    pub fn from_files(ca: &Path, cert: &Path, key: &Path) -> Result<Self, TlsError> {
        Self::from_pem(&read(ca)?, &read(cert)?, &read(key)?).map_err(|e| match e {
            PemError::NoCertificate(true) => TlsError::NoCertificate {
                path: ca.to_owned(),
            },
            PemError::NoCertificate(false) => TlsError::NoCertificate {
                path: cert.to_owned(),
            },
            PemError::NoKey => TlsError::NoKey {
                path: key.to_owned(),
            },
        })
    }

    /// Builds credentials from PEM text.
    pub fn from_pem(ca: &str, cert: &str, key: &str) -> Result<Self, PemError> {
        let roots = certs(ca);
        if roots.is_empty() {
            return Err(PemError::NoCertificate(true));
        }
        let chain = certs(cert);
        if chain.is_empty() {
            return Err(PemError::NoCertificate(false));
        }
        let key = rustls_pemfile::private_key(&mut key.as_bytes())
            .ok()
            .flatten()
            .ok_or(PemError::NoKey)?;
        Ok(Self { roots, chain, key })
    }
}

/// PEM text without the expected contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// `true` when the CA text was the one missing a certificate.
    #[error("no PEM certificate found")]
    NoCertificate(bool),
    #[error("no PEM private key found")]
    NoKey,
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .filter_map(Result::ok)
        .collect()
}

/// The ring provider with AES-128-GCM preferred. rustls lists AES-256-GCM first; every packet
/// of the tunnel is sealed and opened with the negotiated suite, and AES-128 does the same with
/// ten AES rounds instead of fourteen (both run on AES-NI; ChaCha20 stays last, for hosts
/// without it). Both ends use this order, so AES-128-GCM is what they agree on.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::ring::cipher_suite::{
        TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
    };
    Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: vec![
            TLS13_AES_128_GCM_SHA256,
            TLS13_AES_256_GCM_SHA384,
            TLS13_CHACHA20_POLY1305_SHA256,
        ],
        ..rustls::crypto::ring::default_provider()
    })
}

fn root_store(roots: &[CertificateDer<'static>]) -> Result<rustls::RootCertStore, TlsError> {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add(root.clone())?;
    }
    Ok(store)
}

/// The hub's QUIC server crypto. A client certificate must chain to the fleet CA and name an
/// appliance that is not revoked. A client may present none only to enroll: the hub then
/// accepts nothing but the enrollment protocol on that connection.
pub fn server_crypto(
    creds: &Credentials,
    hooks: Arc<dyn FleetHooks>,
) -> Result<quinn::crypto::rustls::QuicServerConfig, TlsError> {
    Ok(quinn::crypto::rustls::QuicServerConfig::try_from(
        server_tls(creds, hooks)?,
    )?)
}

fn server_tls(
    creds: &Credentials,
    hooks: Arc<dyn FleetHooks>,
) -> Result<rustls::ServerConfig, TlsError> {
    let inner = WebPkiClientVerifier::builder_with_provider(
        Arc::new(root_store(&creds.roots)?),
        provider(),
    )
    .allow_unauthenticated()
    .build()?;
    let verifier = Arc::new(FleetVerifier { inner, hooks });
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(creds.chain.clone(), creds.key.clone_key())?;
    config.alpn_protocols = vec![
        tunnel_proto::ALPN.to_vec(),
        tunnel_proto::ALPN_ENROLL.to_vec(),
    ];
    // No session resumption: a resumed handshake skips the client-certificate verifier, and with
    // it the deny-list, so a revoked appliance could walk back in on an old ticket.
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(config)
}

/// An enrolling appliance's QUIC client crypto: the pinned hub CA, no client certificate.
pub fn enroll_crypto(
    hub_roots: &[CertificateDer<'static>],
) -> Result<quinn::crypto::rustls::QuicClientConfig, TlsError> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(root_store(hub_roots)?)
        .with_no_client_auth();
    config.alpn_protocols = vec![tunnel_proto::ALPN_ENROLL.to_vec()];
    Ok(quinn::crypto::rustls::QuicClientConfig::try_from(config)?)
}

/// The gateway's QUIC client crypto: only the pinned hub CA is trusted.
pub fn client_crypto(
    creds: &Credentials,
) -> Result<quinn::crypto::rustls::QuicClientConfig, TlsError> {
    Ok(quinn::crypto::rustls::QuicClientConfig::try_from(
        client_tls(creds)?,
    )?)
}

fn client_tls(creds: &Credentials) -> Result<rustls::ClientConfig, TlsError> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(root_store(&creds.roots)?)
        .with_client_auth_cert(creds.chain.clone(), creds.key.clone_key())?;
    config.alpn_protocols = vec![tunnel_proto::ALPN.to_vec()];
    Ok(config)
}

/// Why a verified connection does not name an appliance.
#[derive(Debug, thiserror::Error)]
pub enum PeerIdentityError {
    #[error("peer presented no certificate")]
    NoCertificate,
    #[error(transparent)]
    Certificate(#[from] pki::IdentityError),
}

/// The appliance a verified connection belongs to, from its leaf certificate's URI SAN.
pub fn peer_appliance(conn: &quinn::Connection) -> Result<ApplianceId, PeerIdentityError> {
    let chain = conn
        .peer_identity()
        .and_then(|any| any.downcast::<Vec<CertificateDer<'static>>>().ok())
        .ok_or(PeerIdentityError::NoCertificate)?;
    Ok(pki::appliance_id_from_cert(
        chain.first().ok_or(PeerIdentityError::NoCertificate)?,
    )?)
}

/// The fleet CA's verifier plus the live deny-list: a revoked appliance fails the handshake
/// with a `certificate revoked` alert, whatever its certificate's validity.
#[derive(Debug)]
struct FleetVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    hooks: Arc<dyn FleetHooks>,
}

impl ClientCertVerifier for FleetVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let id = pki::appliance_id_from_cert(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )
        })?;
        if self.hooks.is_revoked(&id) {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Revoked,
            ));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hub's and a gateway's TLS configurations, as the tunnel builds them.
    fn configs() -> (rustls::ServerConfig, rustls::ClientConfig, String) {
        let fleet = pki::fixture::fleet().unwrap();
        let ca = fleet.ca().cert_pem();
        let hub = Credentials::from_pem(&ca, &fleet.hub().cert_pem, &fleet.hub().key_pem).unwrap();
        let issued = fleet.appliance("paris", "PAR-01").unwrap();
        let gateway = Credentials::from_pem(&ca, &issued.cert_pem, &issued.key_pem).unwrap();
        (
            server_tls(&hub, Arc::new(crate::OpenFleet)).unwrap(),
            client_tls(&gateway).unwrap(),
            ca,
        )
    }

    /// Runs a full handshake in memory; returns the suite both ends settled on.
    fn negotiate(
        server: rustls::ServerConfig,
        client: rustls::ClientConfig,
    ) -> (rustls::SupportedCipherSuite, rustls::SupportedCipherSuite) {
        let name = rustls::pki_types::ServerName::try_from(pki::fixture::HUB_DNS_NAME).unwrap();
        let mut client = rustls::ClientConnection::new(Arc::new(client), name).unwrap();
        let mut server = rustls::ServerConnection::new(Arc::new(server)).unwrap();
        for _ in 0..10 {
            if !client.is_handshaking() && !server.is_handshaking() {
                break;
            }
            let mut wire = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut wire).unwrap();
            }
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets().unwrap();
            let mut wire = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut wire).unwrap();
            }
            client.read_tls(&mut wire.as_slice()).unwrap();
            client.process_new_packets().unwrap();
        }
        assert!(!client.is_handshaking() && !server.is_handshaking());
        (
            client.negotiated_cipher_suite().unwrap(),
            server.negotiated_cipher_suite().unwrap(),
        )
    }

    #[test]
    fn hub_and_gateway_agree_on_aes_128_gcm() {
        let (server, client, _) = configs();
        let (at_client, at_server) = negotiate(server, client);
        assert_eq!(
            at_client.suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
        );
        assert_eq!(at_server.suite(), at_client.suite());
    }

    #[test]
    fn a_gateway_offering_only_aes_256_is_still_served() {
        let (server, mut client, ca) = configs();
        let mut only_256 = (**client.crypto_provider()).clone();
        only_256
            .cipher_suites
            .retain(|s| s.suite() == rustls::CipherSuite::TLS13_AES_256_GCM_SHA384);
        client = rustls::ClientConfig::builder_with_provider(Arc::new(only_256))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(root_store(&certs(&ca)).unwrap())
            .with_no_client_auth();
        let (at_client, _) = negotiate(server, client);
        assert_eq!(
            at_client.suite(),
            rustls::CipherSuite::TLS13_AES_256_GCM_SHA384
        );
    }
}
