//! Scan: virus scanning of uploaded documents by ClamAV, through clamd's socket.
//!
//! [`Clamd`] speaks clamd's `zINSTREAM` protocol over a Unix socket (or TCP on loopback):
//! the document is streamed in length-prefixed chunks, so it never has to be written where
//! clamd can read it, and the answer is a [`Verdict`] or a [`ScanError`]. `PING` and `VERSION`
//! serve health checks. [`protocol`] holds the framing and reply parsing without I/O.
//! [`documents`] says what a document must be (type from its bytes, size limits, a safe name)
//! before it is scanned, for every channel that takes documents.
//!
//! Invariants: a document counts as clean only on clamd's explicit `stream: OK`, never by
//! default (every failure is an error, so the caller keeps the file quarantined); every network
//! step has a timeout and every reply read is bounded ([`protocol::MAX_REPLY`]), so a stuck or
//! hostile peer cannot hold an upload or exhaust memory; an unreachable clamd is reported at
//! once, not after the scan timeout; a stream over clamd's `StreamMaxLength` is reported as
//! [`ScanError::SizeLimitExceeded`], whether clamd or the client's own limit caught it.

use std::io;
use std::time::Duration;

mod client;
pub mod documents;
pub mod local;
pub mod protocol;

pub use client::{
    Clamd, DEFAULT_CHUNK_SIZE, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IO_TIMEOUT, Endpoint,
    MAX_CHUNK_SIZE,
};
pub use protocol::Verdict;

/// Why a scan (or a health check) did not produce a verdict. The document stays quarantined.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// No connection: clamd is not running, its socket is missing, or it did not accept in time.
    #[error("clamd at {endpoint} is unreachable")]
    Unreachable {
        endpoint: String,
        #[source]
        source: io::Error,
    },
    /// Connected, but clamd did not take the data or answer in time.
    #[error("clamd at {endpoint} timed out {stage} (limit {limit:?})")]
    Timeout {
        endpoint: String,
        stage: &'static str,
        limit: Duration,
    },
    /// The document is larger than clamd's `StreamMaxLength`; `limit` is the client's copy of
    /// it when the client stopped first, `None` when clamd refused.
    #[error("document larger than clamd accepts (StreamMaxLength{})", limit.map(|l| format!(" {l} bytes")).unwrap_or_default())]
    SizeLimitExceeded { limit: Option<u64> },
    /// clamd answered with an error of its own (e.g. out of memory).
    #[error("clamd reported an error: {0}")]
    Clamd(String),
    /// The answer was not clamd's protocol.
    #[error("unexpected answer from clamd: {0}")]
    Protocol(String),
    /// The connection broke mid-exchange.
    #[error("connection to clamd lost")]
    ConnectionLost(#[source] io::Error),
    /// The document could not be read.
    #[error("reading the document to scan failed")]
    Source(#[source] io::Error),
}
