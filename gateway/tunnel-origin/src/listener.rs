//! An axum listener on loopback that hands over only connections whose PROXY header named an
//! origin, with that origin as the connection's address.
//!
//! Headers are read by one task per connection, under a timeout, and finished connections wait
//! in a bounded channel; a client that sends half a header holds one of `max_pending` slots
//! until its timeout, never the accept loop.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::{Origin, read_origin};

/// How long a client has to send its whole header.
const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections whose header is being read or that wait for the server to take them.
const DEFAULT_MAX_PENDING: usize = 1024;

/// Why an [`OriginListener`] could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Anyone who can reach the port could write a PROXY header naming any appliance, so only
    /// the hub on the same host may: the listener must be on a loopback address.
    #[error(
        "{0} is not a loopback address; a PROXY listener elsewhere lets anyone forge an origin"
    )]
    NotLoopback(SocketAddr),
    #[error("could not listen")]
    Io(#[from] io::Error),
}

/// What the listener did with the connections it accepted.
#[derive(Debug, Clone, Default)]
pub struct OriginCounters(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    accepted: AtomicU64,
    refused: AtomicU64,
    timed_out: AtomicU64,
}

impl OriginCounters {
    /// Connections handed to the server with their origin.
    pub fn accepted(&self) -> u64 {
        self.0.accepted.load(Ordering::Relaxed)
    }
    /// Connections dropped because their header was refused (see [`crate::OriginError`]).
    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::Relaxed)
    }
    /// Connections dropped because their header did not arrive within the timeout.
    pub fn timed_out(&self) -> u64 {
        self.0.timed_out.load(Ordering::Relaxed)
    }
}

/// A loopback TCP listener for `axum::serve` whose connections carry the hub's [`Origin`]:
/// `axum::serve(listener, app.into_make_service_with_connect_info::<Origin>())` gives handlers
/// `ConnectInfo<Origin>`. Connections without a valid header are closed, logged at debug and
/// counted in [`OriginListener::counters`].
#[derive(Debug)]
pub struct OriginListener {
    local: SocketAddr,
    header_timeout: Duration,
    max_pending: usize,
    counters: OriginCounters,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Not serving yet, so the settings can still change.
    Idle(Option<TcpListener>),
    Running {
        ready: mpsc::Receiver<(TcpStream, Origin)>,
        _accept_loop: AbortOnDrop,
    },
}

impl OriginListener {
    /// Listens on `addr`, which must be a loopback address.
    pub async fn bind(addr: SocketAddr) -> Result<Self, BindError> {
        check_loopback(addr)?;
        Self::from_tokio(TcpListener::bind(addr).await?)
    }

    /// Takes over a listening socket (for example one passed by systemd), which must be bound
    /// to a loopback address. Call it within a tokio runtime.
    pub fn from_std(listener: std::net::TcpListener) -> Result<Self, BindError> {
        check_loopback(listener.local_addr()?)?;
        listener.set_nonblocking(true)?;
        Self::from_tokio(TcpListener::from_std(listener)?)
    }

    /// Takes over a tokio listener, which must be bound to a loopback address.
    pub fn from_tokio(listener: TcpListener) -> Result<Self, BindError> {
        let local = listener.local_addr()?;
        check_loopback(local)?;
        Ok(Self {
            local,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_pending: DEFAULT_MAX_PENDING,
            counters: OriginCounters::default(),
            state: State::Idle(Some(listener)),
        })
    }

    /// How long a client has to send its header (default 5 s). Set before serving.
    #[must_use]
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// How many connections may be reading their header or waiting to be served at once
    /// (default 1024); past it, the kernel's backlog holds new ones. Set before serving.
    #[must_use]
    pub fn max_pending(mut self, max: usize) -> Self {
        self.max_pending = max.max(1);
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Counts of accepted and dropped connections; they go on counting after the listener
    /// has been handed to `axum::serve`.
    pub fn counters(&self) -> OriginCounters {
        self.counters.clone()
    }

    /// The next connection whose header named an origin.
    async fn next(&mut self) -> (TcpStream, Origin) {
        if let State::Idle(listener) = &mut self.state
            && let Some(listener) = listener.take()
        {
            let (tx, rx) = mpsc::channel(self.max_pending);
            let task = tokio::spawn(accept_loop(
                listener,
                tx,
                Arc::new(Semaphore::new(self.max_pending)),
                self.header_timeout,
                self.counters.clone(),
            ));
            self.state = State::Running {
                ready: rx,
                _accept_loop: AbortOnDrop(task),
            };
        }
        if let State::Running { ready, .. } = &mut self.state
            && let Some(next) = ready.recv().await
        {
            return next;
        }
        // The accept loop never ends while we hold the receiver; if it died anyway, accept
        // nothing rather than spin.
        warn!("origin listener's accept loop ended");
        std::future::pending().await
    }
}

fn check_loopback(addr: SocketAddr) -> Result<(), BindError> {
    if addr.ip().to_canonical().is_loopback() {
        Ok(())
    } else {
        Err(BindError::NotLoopback(addr))
    }
}

async fn accept_loop(
    listener: TcpListener,
    ready: mpsc::Sender<(TcpStream, Origin)>,
    slots: Arc<Semaphore>,
    header_timeout: Duration,
    counters: OriginCounters,
) {
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (mut tcp, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            // The client gave up before we took the connection: nothing to wait for.
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                // Out of file descriptors and the like: wait rather than spin (as axum does).
                warn!(%error, "origin listener accept failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let (ready, counters) = (ready.clone(), counters.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(header_timeout, read_origin(&mut tcp)).await {
                Ok(Ok(origin)) => {
                    counters.0.accepted.fetch_add(1, Ordering::Relaxed);
                    // The server dropped the listener: nobody to hand the connection to.
                    let _ = ready.send((tcp, origin)).await;
                }
                Ok(Err(error)) => {
                    counters.0.refused.fetch_add(1, Ordering::Relaxed);
                    debug!(%remote, %error, "connection without a valid PROXY header closed");
                }
                Err(_) => {
                    counters.0.timed_out.fetch_add(1, Ordering::Relaxed);
                    debug!(%remote, "connection closed: no PROXY header in time");
                }
            }
        });
    }
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Stops the accept loop, and so closes the port, when the listener is dropped.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl axum::serve::Listener for OriginListener {
    type Io = TcpStream;
    type Addr = Origin;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        self.next().await
    }

    /// A listener has no origin of its own; use [`OriginListener::local_addr`] for its address.
    fn local_addr(&self) -> io::Result<Origin> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "an origin listener's address is a socket address: use OriginListener::local_addr",
        ))
    }
}

impl Connected<IncomingStream<'_, OriginListener>> for Origin {
    fn connect_info(stream: IncomingStream<'_, OriginListener>) -> Self {
        stream.remote_addr().clone()
    }
}
