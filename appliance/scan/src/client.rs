//! The clamd client: one connection per command, every step under a timeout.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::timeout;

use crate::ScanError;
use crate::protocol::{self, Verdict};

#[cfg(test)]
mod tests;

/// Default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time for each write and for the reply after the stream ends.
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `INSTREAM` chunk size.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;
/// The largest chunk size [`Clamd::with_chunk_size`] accepts.
pub const MAX_CHUNK_SIZE: usize = 1024 * 1024;
/// How long to wait for clamd's explanation after it closed the connection mid-stream.
const REPLY_AFTER_RESET: Duration = Duration::from_secs(1);

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// clamd's `LocalSocket`.
    Unix(PathBuf),
    /// clamd's `TCPSocket` / `TCPAddr`. Unauthenticated and unencrypted: loopback only.
    Tcp(SocketAddr),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
            Self::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

/// A clamd client. Cheap to clone; each command opens its own connection, so one client can be
/// shared by concurrent uploads.
#[derive(Debug, Clone)]
pub struct Clamd {
    endpoint: Endpoint,
    connect_timeout: Duration,
    io_timeout: Duration,
    chunk_size: usize,
    max_stream_len: Option<u64>,
}

impl Clamd {
    /// A client with the default timeouts and chunk size, and no local size limit.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            io_timeout: DEFAULT_IO_TIMEOUT,
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_stream_len: None,
        }
    }

    /// A client for clamd's Unix socket.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        Self::new(Endpoint::Unix(path.into()))
    }

    /// A client for clamd's TCP socket.
    pub fn tcp(addr: SocketAddr) -> Self {
        Self::new(Endpoint::Tcp(addr))
    }

    /// The time allowed to connect; past it clamd counts as unreachable.
    pub fn with_connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = limit;
        self
    }

    /// The time allowed for each write, and for the reply once the stream is sent (clamd scans
    /// in that time).
    pub fn with_io_timeout(mut self, limit: Duration) -> Self {
        self.io_timeout = limit;
        self
    }

    /// The `INSTREAM` chunk size, clamped to `1..=`[`MAX_CHUNK_SIZE`].
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.clamp(1, MAX_CHUNK_SIZE);
        self
    }

    /// clamd's `StreamMaxLength`, when known: a longer stream fails with
    /// [`ScanError::SizeLimitExceeded`] before more than that is sent. Without it, clamd's own
    /// refusal gives the same error.
    pub fn with_max_stream_len(mut self, bytes: u64) -> Self {
        self.max_stream_len = Some(bytes);
        self
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Health check: clamd answers `PONG`.
    pub async fn ping(&self) -> Result<(), ScanError> {
        let reply = self.command(protocol::PING).await?;
        match protocol::reply_text(&reply)? {
            "PONG" => Ok(()),
            other => Err(ScanError::Protocol(format!(
                "PING answered {:?}",
                protocol::printable(other)
            ))),
        }
    }

    /// clamd's version line, e.g. `ClamAV 1.4.6/27500/Tue Dec 10 09:35:12 2024`.
    pub async fn version(&self) -> Result<String, ScanError> {
        let reply = self.command(protocol::VERSION).await?;
        let text = protocol::reply_text(&reply)?;
        if text.starts_with("ClamAV ") {
            Ok(protocol::printable(text))
        } else {
            Err(ScanError::Protocol(format!(
                "VERSION answered {:?}",
                protocol::printable(text)
            )))
        }
    }

    /// Scans bytes held in memory.
    pub async fn scan_bytes(&self, data: &[u8]) -> Result<Verdict, ScanError> {
        self.scan_reader(data).await
    }

    /// Scans everything `reader` yields, streaming it in chunks.
    pub async fn scan_reader<R: AsyncRead + Unpin>(
        &self,
        mut reader: R,
    ) -> Result<Verdict, ScanError> {
        let mut conn = self.connect().await?;
        self.write(&mut *conn, protocol::INSTREAM, "sending INSTREAM")
            .await?;
        let mut buf = vec![0u8; self.chunk_size];
        let mut total: u64 = 0;
        loop {
            let n = reader.read(&mut buf).await.map_err(ScanError::Source)?;
            if n == 0 {
                break;
            }
            total = total.saturating_add(n as u64);
            if let Some(limit) = self.max_stream_len
                && total > limit
            {
                return Err(ScanError::SizeLimitExceeded { limit: Some(limit) });
            }
            // `n` is at most MAX_CHUNK_SIZE, far below u32::MAX.
            let header = protocol::chunk_header(u32::try_from(n).unwrap_or(u32::MAX));
            let sent = async {
                conn.write_all(&header).await?;
                conn.write_all(&buf[..n]).await
            };
            match timeout(self.io_timeout, sent).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(self.explain_reset(&mut *conn, error).await),
                Err(_) => return Err(self.timed_out("sending the stream")),
            }
        }
        self.write(&mut *conn, &protocol::END_OF_STREAM, "ending the stream")
            .await?;
        let reply = self.read_reply(&mut *conn).await?;
        protocol::parse_scan_reply(&reply)
    }

    async fn command(&self, command: &[u8]) -> Result<Vec<u8>, ScanError> {
        let mut conn = self.connect().await?;
        self.write(&mut *conn, command, "sending the command")
            .await?;
        self.read_reply(&mut *conn).await
    }

    async fn connect(&self) -> Result<Box<dyn Connection>, ScanError> {
        let connecting = async {
            Ok::<Box<dyn Connection>, io::Error>(match &self.endpoint {
                Endpoint::Unix(path) => Box::new(UnixStream::connect(path).await?),
                Endpoint::Tcp(addr) => {
                    let stream = TcpStream::connect(addr).await?;
                    stream.set_nodelay(true)?;
                    Box::new(stream)
                }
            })
        };
        let result = timeout(self.connect_timeout, connecting)
            .await
            .unwrap_or_else(|_| {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no connection within {:?}", self.connect_timeout),
                ))
            });
        result.map_err(|source| ScanError::Unreachable {
            endpoint: self.endpoint.to_string(),
            source,
        })
    }

    async fn write(
        &self,
        conn: &mut dyn Connection,
        bytes: &[u8],
        stage: &'static str,
    ) -> Result<(), ScanError> {
        match timeout(self.io_timeout, conn.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(self.explain_reset(conn, error).await),
            Err(_) => Err(self.timed_out(stage)),
        }
    }

    /// Reads one reply: up to and including the first NUL, at most [`protocol::MAX_REPLY`]
    /// bytes, within the I/O timeout.
    async fn read_reply(&self, conn: &mut dyn Connection) -> Result<Vec<u8>, ScanError> {
        match timeout(self.io_timeout, read_until_nul(conn)).await {
            Ok(result) => result,
            Err(_) => Err(self.timed_out("waiting for the reply")),
        }
    }

    /// clamd closes the connection when it refuses a stream (size limit) but says why first;
    /// a write then fails with a broken pipe or a reset. Read the explanation if there is one.
    async fn explain_reset(&self, conn: &mut dyn Connection, error: io::Error) -> ScanError {
        if let Ok(Ok(reply)) = timeout(REPLY_AFTER_RESET, read_until_nul(conn)).await
            && let Err(explained) = protocol::parse_scan_reply(&reply)
            && !matches!(explained, ScanError::Protocol(_))
        {
            return explained;
        }
        ScanError::ConnectionLost(error)
    }

    fn timed_out(&self, stage: &'static str) -> ScanError {
        ScanError::Timeout {
            endpoint: self.endpoint.to_string(),
            stage,
            limit: self.io_timeout,
        }
    }
}

async fn read_until_nul(conn: &mut dyn Connection) -> Result<Vec<u8>, ScanError> {
    let mut reply = Vec::with_capacity(64);
    let mut buf = [0u8; 512];
    loop {
        let n = conn
            .read(&mut buf)
            .await
            .map_err(ScanError::ConnectionLost)?;
        if n == 0 {
            if reply.is_empty() {
                return Err(ScanError::ConnectionLost(
                    io::ErrorKind::UnexpectedEof.into(),
                ));
            }
            // clamd always ends a `z` reply with NUL, but a reply cut short by a close is
            // still worth parsing: it is most likely the whole message.
            return Ok(reply);
        }
        let chunk = &buf[..n];
        if let Some(end) = chunk.iter().position(|&b| b == 0) {
            reply.extend_from_slice(&chunk[..=end]);
            if reply.len() > protocol::MAX_REPLY {
                return Err(too_long());
            }
            return Ok(reply);
        }
        reply.extend_from_slice(chunk);
        if reply.len() > protocol::MAX_REPLY {
            return Err(too_long());
        }
    }
}

fn too_long() -> ScanError {
    ScanError::Protocol(format!("reply longer than {} bytes", protocol::MAX_REPLY))
}
