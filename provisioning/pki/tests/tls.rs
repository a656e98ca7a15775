//! The certificates work where they are meant to: a TLS 1.3 handshake with mutual
//! authentication, verified by rustls/webpki as the hub and gateways will.

use std::error::Error;
use std::sync::Arc;

use pki::fixture::{self, Fleet, HUB_DNS_NAME};
use pki::{Ca, Issued, appliance_id_from_cert};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::ServerName;
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection,
};

type TestResult = Result<(), Box<dyn Error>>;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn roots(ca: &Ca) -> Result<Arc<RootCertStore>, rustls::Error> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.cert_der())?;
    Ok(Arc::new(roots))
}

fn server(ca: &Ca, hub: &Issued) -> Result<ServerConnection, Box<dyn Error>> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider()).build()?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![hub.cert_der()?], hub.key_der()?)?;
    Ok(ServerConnection::new(Arc::new(config))?)
}

fn client(ca: &Ca, appliance: &Issued) -> Result<ClientConnection, Box<dyn Error>> {
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(ca)?, provider()).build()?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![appliance.cert_der()?], appliance.key_der()?)?;
    Ok(ClientConnection::new(
        Arc::new(config),
        ServerName::try_from(HUB_DNS_NAME)?,
    )?)
}

/// Runs the handshake in memory; the first TLS error either side raises ends it.
fn handshake(
    client: &mut ClientConnection,
    server: &mut ServerConnection,
) -> Result<(), rustls::Error> {
    let io = |e: std::io::Error| rustls::Error::General(e.to_string());
    for _ in 0..10 {
        let mut buf = Vec::new();
        client.write_tls(&mut buf).map_err(io)?;
        server.read_tls(&mut &buf[..]).map_err(io)?;
        server.process_new_packets()?;
        buf.clear();
        server.write_tls(&mut buf).map_err(io)?;
        client.read_tls(&mut &buf[..]).map_err(io)?;
        client.process_new_packets()?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    Err(rustls::Error::General("handshake did not finish".into()))
}

fn connect(
    server_side: &Fleet,
    client_side: &Fleet,
    appliance: &Issued,
) -> Result<ServerConnection, Box<dyn Error>> {
    let mut server = server(&server_side.ca, &server_side.hub)?;
    let mut client = client(&client_side.ca, appliance)?;
    handshake(&mut client, &mut server)?;
    Ok(server)
}

#[test]
fn appliance_and_hub_authenticate_each_other() -> TestResult {
    let fleet = fixture::fleet()?;
    let server = connect(&fleet, &fleet, &fleet.appliance("paris", "PAR-01")?)?;
    let peer = server.peer_certificates().ok_or("no client certificate")?;
    let id = appliance_id_from_cert(&peer[0])?;
    assert_eq!(id.to_uri(), "urn:legatura:appliance:paris:PAR-01");
    Ok(())
}

#[test]
fn a_ca_saved_and_loaded_issues_certificates_peers_accept() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (cert, key) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
    let fleet = fixture::fleet()?;
    fleet.ca.save(&cert, &key)?;
    let reloaded = Fleet {
        hub: Ca::load(&cert, &key)?.issue_server(
            &fixture::HUB_DNS_NAMES,
            std::time::Duration::from_secs(3600),
        )?,
        ca: Ca::load(&cert, &key)?,
    };
    connect(&fleet, &fleet, &reloaded.appliance("paris", "PAR-02")?)?;
    connect(&reloaded, &fleet, &fleet.appliance("paris", "PAR-03")?)?;
    Ok(())
}

fn refused(
    result: Result<ServerConnection, Box<dyn Error>>,
) -> Result<rustls::Error, Box<dyn Error>> {
    match result {
        Ok(_) => Err("handshake succeeded".into()),
        Err(e) => Ok(*e.downcast::<rustls::Error>()?),
    }
}

#[test]
fn the_hub_refuses_an_expired_appliance_certificate() -> TestResult {
    let fleet = fixture::fleet()?;
    let error = refused(connect(
        &fleet,
        &fleet,
        &fleet.expired_appliance("paris", "PAR-01")?,
    ))?;
    assert!(
        matches!(
            error,
            rustls::Error::InvalidCertificate(
                CertificateError::ExpiredContext { .. } | CertificateError::Expired
            )
        ),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn the_hub_refuses_an_appliance_of_another_fleet() -> TestResult {
    let (fleet, other) = (fixture::fleet()?, fixture::fleet()?);
    let error = refused(connect(
        &fleet,
        &fleet,
        &other.appliance("paris", "PAR-01")?,
    ))?;
    assert!(
        matches!(
            error,
            rustls::Error::InvalidCertificate(
                // Both fixture CAs bear the same name, so webpki finds the wrong one and
                // reports its signature as bad.
                CertificateError::UnknownIssuer | CertificateError::BadSignature
            )
        ),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn an_appliance_refuses_a_hub_of_another_fleet() -> TestResult {
    let (fleet, other) = (fixture::fleet()?, fixture::fleet()?);
    let error = refused(connect(
        &other,
        &fleet,
        &fleet.appliance("paris", "PAR-01")?,
    ))?;
    assert!(
        matches!(
            error,
            rustls::Error::InvalidCertificate(
                // Both fixture CAs bear the same name, so webpki finds the wrong one and
                // reports its signature as bad.
                CertificateError::UnknownIssuer | CertificateError::BadSignature
            )
        ),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn an_appliance_certificate_cannot_serve_as_a_hub() -> TestResult {
    let fleet = fixture::fleet()?;
    let impostor = Fleet {
        hub: fleet.appliance("paris", "PAR-01")?,
        ca: Ca::generate("unused", std::time::Duration::from_secs(60))?,
    };
    let mut server = server(&fleet.ca, &impostor.hub)?;
    let mut client = client(&fleet.ca, &fleet.appliance("paris", "PAR-02")?)?;
    let error = handshake(&mut client, &mut server)
        .err()
        .ok_or("handshake succeeded")?;
    assert!(
        matches!(error, rustls::Error::InvalidCertificate(_)),
        "{error:?}"
    );
    Ok(())
}
