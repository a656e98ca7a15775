//! First boot: enrol with a one-time code. The key is generated here and never leaves; the
//! certificate comes back over a PAKE-protected exchange with the hub.

use std::path::{Path, PathBuf};

use anyhow::Context;
use pki::enroll::{EnrollCode, EnrollError, Enrolled, GatewayEnrollment, Message};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tunnel::enroll::EnrollChannel;

use crate::Config;

/// Why enrollment failed, in words for the person at the embassy.
#[derive(Debug, thiserror::Error)]
pub enum EnrollFailure {
    #[error("{0}")]
    Code(#[from] pki::enroll::CodeError),
    #[error("hub refused: {0}")]
    Refused(#[from] EnrollError),
    #[error("cannot reach the hub at {hub}: {reason}")]
    Unreachable { hub: String, reason: String },
    #[error("{0}")]
    Local(String),
}

impl EnrollFailure {
    /// Whether the same code may simply be tried again later: the hub was not reached (no
    /// network yet, the hub down, its certificate not accepted), so nothing was spent on it. A
    /// refused or malformed code is never retried: each wrong attempt counts at the hub.
    pub fn is_retryable(&self) -> bool {
        matches!(self, EnrollFailure::Unreachable { .. })
    }
}

/// Enrols with `typed` (the code as the person typed it): generates the key in the TLS key
/// path (mode 0600), runs the exchange with the first hub that answers, and writes the
/// certificate chain and the hub CA where the configuration says.
pub async fn enroll(config: &Config, typed: &str) -> Result<Enrolled, EnrollFailure> {
    let code = EnrollCode::parse(typed)?;
    let hub_ca = std::fs::read_to_string(&config.tls.hub_ca).map_err(|e| {
        EnrollFailure::Local(format!(
            "cannot read the pinned hub CA {}: {e}",
            config.tls.hub_ca.display()
        ))
    })?;
    let roots: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(hub_ca.as_bytes())
        .filter_map(Result::ok)
        .collect();
    if roots.is_empty() {
        return Err(EnrollFailure::Local(format!(
            "{} holds no certificate",
            config.tls.hub_ca.display()
        )));
    }
    // A placeholder identity: the hub builds the certificate from its own record.
    let placeholder = pki::ApplianceId::new("enrolling", "appliance")
        .map_err(|e| EnrollFailure::Local(e.to_string()))?;
    let key_and_csr =
        pki::generate_key_and_csr(&placeholder).map_err(|e| EnrollFailure::Local(e.to_string()))?;

    let mut last = None;
    for hub in &config.hubs {
        match exchange(
            hub,
            &config.server_name,
            &roots,
            &code,
            &key_and_csr.csr_pem,
            config.reconnect.handshake_timeout,
        )
        .await
        {
            Ok(enrolled) if enrolled.operator.is_some() => {
                return Err(EnrollFailure::Local(
                    "this code enrols a NOC operator, not an appliance".into(),
                ));
            }
            Ok(enrolled) => {
                save(config, &key_and_csr.key_pem, &enrolled)
                    .map_err(|e| EnrollFailure::Local(format!("{e:#}")))?;
                return Ok(enrolled);
            }
            // The hub said no: another hub would say the same.
            Err(e @ EnrollFailure::Refused(_)) => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| EnrollFailure::Local("no hub configured".into())))
}

async fn exchange(
    hub: &str,
    server_name: &str,
    roots: &[CertificateDer<'static>],
    code: &EnrollCode,
    csr: &str,
    connect_timeout: std::time::Duration,
) -> Result<Enrolled, EnrollFailure> {
    // No route at all is this box's problem (the cable, DHCP), whatever the attempt ran into.
    let unreachable = |e: &dyn std::fmt::Display| EnrollFailure::Unreachable {
        hub: hub.to_owned(),
        reason: tunnel::no_route(hub).unwrap_or_else(|| e.to_string()),
    };
    let bind = "0.0.0.0:0"
        .parse()
        .map_err(|e: std::net::AddrParseError| EnrollFailure::Local(e.to_string()))?;
    // A hub that does not answer would otherwise hold the attempt for QUIC's idle timeout.
    let mut channel = tokio::time::timeout(
        connect_timeout,
        EnrollChannel::connect(hub, server_name, roots, bind),
    )
    .await
    .map_err(|_| {
        unreachable(&format_args!(
            "no answer within {} s",
            connect_timeout.as_secs_f64()
        ))
    })?
    .map_err(|e| unreachable(&tunnel::error_chain(&e)))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (state, start) =
        GatewayEnrollment::start(code, concat!("gatewayd/", env!("CARGO_PKG_VERSION")), now);
    let reply = channel
        .exchange(&start.encode())
        .await
        .map_err(|e| unreachable(&tunnel::error_chain(&e)))?;
    let reply = Message::decode(&reply)
        .map_err(|e| EnrollFailure::Local(format!("hub sent a malformed answer: {e}")))?;
    let (waiting, finish) = state.finish(reply, csr)?;
    let reply = channel
        .exchange(&finish.encode())
        .await
        .map_err(|e| unreachable(&tunnel::error_chain(&e)))?;
    let reply = Message::decode(&reply)
        .map_err(|e| EnrollFailure::Local(format!("hub sent a malformed answer: {e}")))?;
    let enrolled = waiting.accept(reply)?;
    channel.close().await;
    Ok(enrolled)
}

fn save(config: &Config, key_pem: &str, enrolled: &Enrolled) -> anyhow::Result<()> {
    for path in [&config.tls.key, &config.tls.cert] {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    // Key first: a certificate on disk always has its key beside it.
    pki::write_private(&config.tls.key, key_pem.as_bytes())
        .with_context(|| format!("writing {}", config.tls.key.display()))?;
    pki::write_public(&config.tls.cert, enrolled.cert_pem.as_bytes())
        .with_context(|| format!("writing {}", config.tls.cert.display()))?;
    Ok(())
}

/// A code left in a file by provisioning: read once, then deleted whatever the outcome, so it
/// never lingers on disk.
pub fn take_code_file(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            std::fs::remove_file(path).with_context(|| format!("deleting {}", path.display()))?;
            Ok(Some(text.trim().to_owned()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Whether the appliance already holds a certificate and key.
pub fn is_enrolled(config: &Config) -> bool {
    config.tls.cert.exists() && config.tls.key.exists()
}

/// The identity in this appliance's certificate, if it holds a readable one.
pub fn identity(config: &Config) -> Option<pki::ApplianceId> {
    let pem = std::fs::read(&config.tls.cert).ok()?;
    let der = CertificateDer::from_pem_slice(&pem).ok()?;
    pki::appliance_id_from_cert(&der).ok()
}

/// The code-file location the daemon checks at start.
pub fn code_file(config: &Config) -> PathBuf {
    config.tls.key.with_file_name("enroll.code")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

    use std::time::{Duration, Instant};

    use super::*;

    /// A configuration whose only hub is `hub`, with a pinned CA and a one-second handshake.
    fn config(dir: &Path, hub: std::net::SocketAddr) -> Config {
        let ca = pki::Ca::generate("test root", Duration::from_secs(3600)).unwrap();
        std::fs::write(dir.join("hub-ca.pem"), ca.cert_pem()).unwrap();
        let path = dir.join("gatewayd.toml");
        std::fs::write(
            &path,
            format!(
                "hubs = [\"{hub}\"]\n\n[tls]\nhub_ca = \"hub-ca.pem\"\ncert = \"cert.pem\"\n\
                 key = \"key.pem\"\n\n[reconnect]\nhandshake_timeout = \"1s\"\n"
            ),
        )
        .unwrap();
        Config::load(&path).unwrap()
    }

    #[tokio::test]
    async fn a_hub_that_never_answers_is_unreachable_within_the_handshake_timeout_and_retryable() {
        let dir = tempfile::tempdir().unwrap();
        // Bound and never read: the hub's address swallows every packet.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let config = config(dir.path(), silent.local_addr().unwrap());
        let code = EnrollCode::generate().unwrap().to_string();

        let started = Instant::now();
        let error = enroll(&config, &code).await.unwrap_err();
        assert!(
            matches!(error, EnrollFailure::Unreachable { .. }) && error.is_retryable(),
            "{error}"
        );
        assert!(
            error.to_string().contains("no answer within 1 s"),
            "{error}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert!(!is_enrolled(&config), "a failed enrollment left a key");
    }

    #[tokio::test]
    async fn a_malformed_code_is_not_retryable() {
        let dir = tempfile::tempdir().unwrap();
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let config = config(dir.path(), silent.local_addr().unwrap());
        let error = enroll(&config, "not-a-code").await.unwrap_err();
        assert!(
            matches!(error, EnrollFailure::Code(_)) && !error.is_retryable(),
            "{error}"
        );
    }
}
