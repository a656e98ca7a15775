//! The NOC API client: HTTPS with the operator's certificate, trusting only the fleet root.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// Where the operator's credentials and the hub's NOC address are.
#[derive(Debug, Clone)]
pub(crate) struct NocClient {
    pub(crate) address: String,
    pub(crate) ca: PathBuf,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

impl NocClient {
    /// The layout `legatura up` and `legatura ca init` write: `DIR/pki/{root.pem, operator.pem,
    /// operator.key}` and the address in `DIR/noc-address`.
    pub(crate) fn from_data(dir: &Path) -> anyhow::Result<Self> {
        let address = std::fs::read_to_string(dir.join("noc-address")).with_context(|| {
            format!(
                "reading {} (is the hub set up there?)",
                dir.join("noc-address").display()
            )
        })?;
        let pki = dir.join("pki");
        Ok(Self {
            address: address.trim().to_owned(),
            ca: pki.join("root.pem"),
            cert: pki.join("operator.pem"),
            key: pki.join("operator.key"),
        })
    }

    /// Sends one request; returns the status and the body.
    pub(crate) async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let creds = tunnel::Credentials::from_files(&self.ca, &self.cert, &self.key)
            .context("loading the operator's credentials")?;
        let mut roots = rustls::RootCertStore::empty();
        for r in &creds.roots {
            roots.add(r.clone())?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_client_auth_cert(creds.chain, creds.key)?;
        let tcp = tokio::net::TcpStream::connect(&self.address)
            .await
            .with_context(|| format!("connecting to the NOC API at {}", self.address))?;
        let name = rustls::pki_types::ServerName::try_from("hub.legatura")?.to_owned();
        let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
            .connect(name, tcp)
            .await
            .context("TLS with the NOC API")?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "hub.legatura")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(payload)))?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes().to_vec();
        Ok((status, bytes))
    }
}
