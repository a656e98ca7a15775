//! The SMTP listener: accepts connections (a bounded number in all and per client address),
//! drives a [`Session`] per connection with a timeout on every read and on the whole session,
//! upgrades to TLS on STARTTLS (rustls, ring), and takes each message in through [`Inbound`].
//! Messages are limited per client address and per sender address: over the limit a sender is
//! told to try later (451), so a mail bomb from one address slows that address alone.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::inbound::Inbound;
use crate::session::{Output, Reply, Session, SessionLimits};

/// The listener's limits.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// Longest wait for the next command (RFC 5321 suggests 5 minutes).
    pub command_timeout: Duration,
    /// Longest whole session.
    pub session_timeout: Duration,
    /// Messages one client address may hand in per minute.
    pub messages_per_client_per_minute: u32,
    /// Messages one sender address (MAIL FROM, or From for the null sender) may send per hour.
    pub messages_per_sender_per_hour: u32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            max_connections_per_client: 32,
            command_timeout: Duration::from_secs(120),
            session_timeout: Duration::from_secs(600),
            messages_per_client_per_minute: 600,
            messages_per_sender_per_hour: 30,
        }
    }
}

/// A fixed-window counter per key, bounded in memory: when full, the oldest windows go.
#[derive(Debug)]
pub struct RateLimiter {
    window: Duration,
    limit: u32,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Keys one limiter keeps at most.
const MAX_KEYS: usize = 100_000;

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            window,
            limit,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `key`; `false` when over the limit.
    pub fn allow(&self, key: &str, now: Instant) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.len() >= MAX_KEYS && !counts.contains_key(key) {
            let window = self.window;
            counts.retain(|_, (start, _)| now.duration_since(*start) < window);
            if counts.len() >= MAX_KEYS {
                return false;
            }
        }
        let entry = counts.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            return false;
        }
        entry.1 += 1;
        true
    }
}

/// The running listener's shared state.
pub struct Server {
    pub inbound: Inbound,
    pub session: SessionLimits,
    pub limits: ServerLimits,
    pub tls: Option<TlsAcceptor>,
    per_client: RateLimiter,
    per_sender: RateLimiter,
    connections: Arc<Semaphore>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("session", &self.session)
            .field("limits", &self.limits)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Server {
    pub fn new(
        inbound: Inbound,
        session: SessionLimits,
        limits: ServerLimits,
        tls: Option<TlsAcceptor>,
    ) -> Arc<Self> {
        Arc::new(Self {
            per_client: RateLimiter::new(
                limits.messages_per_client_per_minute,
                Duration::from_secs(60),
            ),
            per_sender: RateLimiter::new(
                limits.messages_per_sender_per_hour,
                Duration::from_secs(3600),
            ),
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            open: Mutex::new(HashMap::new()),
            inbound,
            session,
            limits,
            tls,
        })
    }

    /// Accepts connections until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(error) => {
                    warn!(%error, "accepting an SMTP connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let this = self.clone();
            tokio::spawn(async move { this.connection(stream, peer).await });
        }
    }

    async fn connection(self: Arc<Self>, mut stream: TcpStream, peer: SocketAddr) {
        let Ok(_permit) = self.connections.clone().try_acquire_owned() else {
            let _ = stream
                .write_all(&Reply::new(421, "4.7.0 too many connections, try later").to_bytes())
                .await;
            return;
        };
        let ip = peer.ip();
        let admitted = {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            let n = open.entry(ip).or_insert(0);
            let admitted = *n < self.limits.max_connections_per_client;
            if admitted {
                *n += 1;
            }
            admitted
        };
        if !admitted {
            let _ = stream
                .write_all(
                    &Reply::new(421, "4.7.0 too many connections from you, try later").to_bytes(),
                )
                .await;
            return;
        }
        let deadline = self.limits.session_timeout;
        let result = tokio::time::timeout(deadline, self.drive(stream, ip)).await;
        if result.is_err() {
            debug!(%peer, "SMTP session timed out");
        }
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&ip);
            }
        }
    }

    async fn drive(&self, stream: TcpStream, ip: IpAddr) {
        let (mut session, greeting) = Session::new(self.session.clone());
        let mut stream = Conn::Plain(stream);
        if stream.write_all(&greeting.to_bytes()).await.is_err() {
            return;
        }
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            while let Some(output) = session.poll_output() {
                let reply = match output {
                    Output::Reply(r) => r,
                    Output::Close(r) => {
                        let _ = stream.write_all(&r.to_bytes()).await;
                        let _ = stream.shutdown().await;
                        return;
                    }
                    Output::StartTls(r) => {
                        if stream.write_all(&r.to_bytes()).await.is_err() {
                            return;
                        }
                        let (Conn::Plain(plain), Some(acceptor)) = (stream, &self.tls) else {
                            return;
                        };
                        match tokio::time::timeout(
                            self.limits.command_timeout,
                            acceptor.accept(plain),
                        )
                        .await
                        {
                            Ok(Ok(tls)) => {
                                stream = Conn::Tls(Box::new(tls));
                                session.tls_started();
                                continue;
                            }
                            _ => {
                                debug!(%ip, "STARTTLS handshake failed");
                                return;
                            }
                        }
                    }
                    Output::Deliver(envelope) => {
                        let reply = self.deliver(&envelope, ip).await;
                        session.delivered(reply)
                    }
                };
                if stream.write_all(&reply.to_bytes()).await.is_err() {
                    return;
                }
            }
            let read = tokio::time::timeout(self.limits.command_timeout, stream.read(&mut buf));
            match read.await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => session.receive(&buf[..n]),
                Err(_) => {
                    let _ = stream
                        .write_all(&Reply::new(421, "4.4.2 timeout, closing").to_bytes())
                        .await;
                    return;
                }
            }
        }
    }

    async fn deliver(&self, envelope: &crate::session::Envelope, ip: IpAddr) -> Reply {
        let now = Instant::now();
        if !self.per_client.allow(&ip.to_string(), now) {
            warn!(%ip, "SMTP client over its message rate");
            return Reply::new(451, "4.7.1 too many messages from your address, try later");
        }
        let sender = if envelope.from.is_empty() {
            // The null sender is many senders; limit it by the From header's address.
            crate::parse::parse(&envelope.data, "")
                .ok()
                .and_then(|p| p.from_address)
                .unwrap_or_default()
        } else {
            envelope.from.clone()
        };
        if !self.per_sender.allow(&sender.to_ascii_lowercase(), now) {
            warn!(sender = %sender, "sender over its message rate");
            return Reply::new(451, "4.7.1 too many messages from this sender, try later");
        }
        let reply = self.inbound.take(envelope).await;
        info!(code = reply.code, text = %reply.lines.join(" "), "mail taken in");
        reply
    }
}

/// A connection before or after STARTTLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Conn {
    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => write(s, bytes).await,
            Conn::Tls(s) => write(s.as_mut(), bytes).await,
        }
    }

    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf).await,
            Conn::Tls(s) => s.read(buf).await,
        }
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.shutdown().await,
            Conn::Tls(s) => s.shutdown().await,
        }
    }
}

async fn write<S: AsyncWrite + AsyncRead + Unpin>(s: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    s.write_all(bytes).await?;
    s.flush().await
}

/// A TLS acceptor from PEM files (ring provider, TLS 1.2 and 1.3).
pub fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor, String> {
    let read =
        |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()));
    let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(|e| format!("{}: {e}", key.display()))?
        .ok_or_else(|| format!("{}: no private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_counts_per_key_and_window() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(l.allow("a", t0));
        assert!(l.allow("a", t0));
        assert!(!l.allow("a", t0), "third in the window");
        assert!(l.allow("b", t0), "another key is unaffected");
        assert!(l.allow("a", t0 + Duration::from_secs(61)), "a new window");
    }
}
