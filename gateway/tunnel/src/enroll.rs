//! The appliance's side of an enrollment connection: server-authenticated QUIC to the hub
//! (pinned hub CA, no client certificate yet), one enrollment stream of request/response
//! frames. What the frames say belongs to the PKI.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use tunnel_proto::{ErrorCode, StreamHeader};

use crate::{rpc, tls, transport};

/// An open enrollment exchange.
#[derive(Debug)]
pub struct EnrollChannel {
    endpoint: quinn::Endpoint,
    conn: quinn::Connection,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    header_sent: bool,
}

/// Why the enrollment connection failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrollConnectError {
    #[error("cannot resolve hub address {0}")]
    Resolve(String),
    #[error("invalid TLS setup")]
    Tls(#[from] tls::TlsError),
    #[error("cannot bind a local UDP socket")]
    Bind(#[source] std::io::Error),
    #[error("cannot start connecting")]
    Connect(#[from] quinn::ConnectError),
    /// Includes a hub certificate the pinned CA does not vouch for, or one not yet valid or
    /// expired by this appliance's clock.
    #[error("cannot reach the hub or the hub's certificate was not accepted")]
    Connection(#[from] quinn::ConnectionError),
    #[error("enrollment exchange failed")]
    Rpc(#[from] rpc::RpcStreamError),
}

impl EnrollChannel {
    /// Connects to `hub` (`host:port`), trusting only `hub_roots` for the hub's certificate.
    pub async fn connect(
        hub: &str,
        server_name: &str,
        hub_roots: &[CertificateDer<'static>],
        bind: SocketAddr,
    ) -> Result<Self, EnrollConnectError> {
        let addr = tokio::net::lookup_host(hub)
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| EnrollConnectError::Resolve(hub.to_owned()))?;
        let socket = transport::bind_udp(bind).map_err(EnrollConnectError::Bind)?;
        let endpoint = transport::endpoint(quinn::EndpointConfig::default(), None, socket)
            .map_err(EnrollConnectError::Bind)?;
        let client = quinn::ClientConfig::new(Arc::new(tls::enroll_crypto(hub_roots)?));
        let conn = endpoint.connect_with(client, addr, server_name)?.await?;
        let (send, recv) = conn.open_bi().await?;
        Ok(Self {
            endpoint,
            conn,
            send,
            recv,
            header_sent: false,
        })
    }

    /// Sends one message and waits for the hub's answer.
    pub async fn exchange(&mut self, message: &[u8]) -> Result<Vec<u8>, EnrollConnectError> {
        let mut out = Vec::with_capacity(message.len() + 8);
        if !self.header_sent {
            StreamHeader::Enroll.encode(&mut out);
            self.header_sent = true;
        }
        tunnel_proto::rpc::encode(message, &mut out).map_err(rpc::RpcStreamError::from)?;
        self.send
            .write_all(&out)
            .await
            .map_err(rpc::RpcStreamError::from)?;
        Ok(rpc::read(&mut self.recv).await?)
    }

    /// Ends the exchange politely.
    pub async fn close(mut self) {
        let _ = self.send.finish();
        self.conn.close(
            quinn::VarInt::from_u32(ErrorCode::NoError.to_u32()),
            b"enrolled",
        );
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), self.endpoint.wait_idle())
            .await;
    }
}
