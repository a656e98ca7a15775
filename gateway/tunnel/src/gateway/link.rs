//! One admitted connection from the gateway to a hub, and the dialing that makes it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, warn};
use tunnel_proto::{Backoff, Control, ErrorCode, FlowId, StreamHeader, datagram};

use super::Shared;
use crate::control::{self, ControlReader, ControlStreamError};
use crate::error_chain;
use crate::log_limit::{LogLimit, limited};

static NEXT_LINK: AtomicU64 = AtomicU64::new(1);

/// What ends the supervisor's watch over a link.
#[derive(Debug)]
pub(super) enum LinkEvent {
    GoAway,
    Wedged,
    Lost,
}

/// State of a UDP flow on this link.
#[derive(Debug)]
pub(super) enum FlowState {
    /// Waiting for the hub's answer; datagrams queue (bounded).
    Pending(Vec<Vec<u8>>),
    Open,
    Refused,
}

#[derive(Debug)]
pub(super) struct GwFlow {
    pub(super) socket: Arc<UdpSocket>,
    pub(super) peer: SocketAddr,
    pub(super) service: String,
    pub(super) state: FlowState,
}

/// An admitted connection.
#[derive(Debug)]
pub(crate) struct Link {
    pub(super) id: u64,
    pub(super) conn: quinn::Connection,
    pub(super) hub: SocketAddr,
    pub(super) hub_index: usize,
    pub(super) hub_id: String,
    pub(super) since: Instant,
    pub(super) control: mpsc::Sender<Control>,
    pub(super) flows: Mutex<HashMap<FlowId, GwFlow>>,
    pub(super) next_flow: AtomicU64,
    pub(super) streams_open: AtomicU64,
}

/// Why one attempt to open the tunnel failed.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("cannot resolve hub address {0}")]
    Resolve(String),
    #[error("cannot start connecting")]
    Connect(#[from] quinn::ConnectError),
    #[error("connection failed")]
    Connection(#[from] quinn::ConnectionError),
    #[error("hub did not admit us")]
    Control(#[from] ControlStreamError),
    #[error("hub answered {0} instead of welcome")]
    Unexpected(&'static str),
}

impl DialError {
    /// The hub's explicit refusal, when it closed the connection with a TLS alert or a code.
    fn is_rejection(&self) -> bool {
        let conn_err = match self {
            Self::Connection(e) => Some(e),
            Self::Control(ControlStreamError::Read(quinn::ReadError::ConnectionLost(e))) => Some(e),
            Self::Control(ControlStreamError::Write(quinn::WriteError::ConnectionLost(e))) => {
                Some(e)
            }
            _ => None,
        };
        matches!(
            conn_err,
            Some(
                quinn::ConnectionError::ConnectionClosed(_)
                    | quinn::ConnectionError::ApplicationClosed(_)
                    | quinn::ConnectionError::TransportError(_)
            )
        )
    }
}

/// Dials hubs in turn until one admits us. `avoid` (a draining hub) is skipped while another
/// hub is configured.
pub(super) async fn dial_until_up(
    shared: &Arc<Shared>,
    backoff: &mut Backoff,
    next: &mut usize,
    avoid: Option<usize>,
) -> (Arc<Link>, mpsc::Receiver<LinkEvent>) {
    static LOG: std::sync::OnceLock<LogLimit> = std::sync::OnceLock::new();
    let log = LOG.get_or_init(|| LogLimit::new(Duration::from_secs(60), 10));
    let hubs = &shared.config.hubs;
    loop {
        let mut index = *next % hubs.len();
        if avoid == Some(index) && hubs.len() > 1 {
            index = (index + 1) % hubs.len();
        }
        *next = index;
        let started = Instant::now();
        let attempt =
            tokio::time::timeout(shared.config.handshake_timeout, dial(shared, index)).await;
        match attempt {
            Ok(Ok(up)) => {
                shared.metrics.handshake("ok");
                shared
                    .metrics
                    .handshake_seconds
                    .observe(started.elapsed().as_secs_f64());
                return up;
            }
            Ok(Err(error)) => {
                let result = if error.is_rejection() {
                    "rejected"
                } else {
                    "failed"
                };
                shared.metrics.handshake(result);
                // A hub that rejected us was reached: only other failures may be the network's.
                let error = (!error.is_rejection())
                    .then(|| crate::no_route(&hubs[index]))
                    .flatten()
                    .unwrap_or_else(|| error_chain(&error));
                limited!(log, warn!(hub = %hubs[index], %error, "cannot open tunnel"));
            }
            Err(_) => {
                shared.metrics.handshake("timeout");
                // A box with no route at all is told so, not sent to look for a hub problem.
                match crate::no_route(&hubs[index]) {
                    Some(error) => {
                        limited!(log, warn!(hub = %hubs[index], %error, "cannot open tunnel"))
                    }
                    None => limited!(log, warn!(hub = %hubs[index], "tunnel handshake timed out")),
                }
            }
        }
        *next = index + 1;
        let delay = backoff.next_delay(rand::thread_rng().r#gen::<f64>());
        debug!(
            delay_ms = delay.as_millis() as u64,
            "backing off before the next attempt"
        );
        tokio::time::sleep(delay).await;
    }
}

/// One attempt: QUIC + mTLS handshake, then `Hello` and the hub's `Welcome`. A hub that
/// rejects our certificate closes the connection, which surfaces here as an error.
pub(super) async fn dial(
    shared: &Arc<Shared>,
    index: usize,
) -> Result<(Arc<Link>, mpsc::Receiver<LinkEvent>), DialError> {
    let target = &shared.config.hubs[index];
    let addr = tokio::net::lookup_host(target.as_str())
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| DialError::Resolve(target.clone()))?;
    let client = shared
        .client
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let conn = shared
        .endpoint
        .connect_with(client, addr, &shared.config.server_name)?
        .await?;
    let (mut send, recv) = conn.open_bi().await?;
    let mut hello = StreamHeader::Control.to_bytes();
    Control::Hello {
        software: shared.config.software.clone(),
    }
    .encode(&mut hello);
    send.write_all(&hello)
        .await
        .map_err(ControlStreamError::from)?;
    let mut reader = ControlReader::new(recv, Vec::new());
    let hub_id = match reader.next().await? {
        Control::Welcome { hub } => hub,
        other => return Err(DialError::Unexpected(other.name())),
    };
    let (control_tx, control_rx) = mpsc::channel(64);
    let link = Arc::new(Link {
        id: NEXT_LINK.fetch_add(1, Ordering::Relaxed),
        conn,
        hub: addr,
        hub_index: index,
        hub_id,
        since: Instant::now(),
        control: control_tx,
        flows: Mutex::new(HashMap::new()),
        next_flow: AtomicU64::new(0),
        streams_open: AtomicU64::new(0),
    });
    let (events_tx, events_rx) = mpsc::channel(4);
    tokio::spawn(run(
        shared.clone(),
        link.clone(),
        send,
        reader,
        control_rx,
        events_tx,
    ));
    Ok((link, events_rx))
}

/// The link's background work until the connection ends.
async fn run(
    shared: Arc<Shared>,
    link: Arc<Link>,
    send: quinn::SendStream,
    reader: ControlReader,
    control_rx: mpsc::Receiver<Control>,
    events: mpsc::Sender<LinkEvent>,
) {
    let last_pong = Mutex::new(Instant::now());
    let peer = link.hub.to_string();
    tokio::select! {
        _ = write_control(send, control_rx) => {}
        _ = read_control(&link, reader, &events, &last_pong, &shared) => {}
        _ = watchdog(&shared, &link, &events, &last_pong) => {}
        _ = read_datagrams(&link, &shared) => {}
        _ = accept_uni(&link, &shared) => {}
        _ = crate::metrics::sample_forever(&shared.metrics, &peer, &link.conn) => {}
        _ = link.conn.closed() => {}
    }
    shared.metrics.forget_peer(peer);
    shared.clear_link(link.id);
    let _ = events.try_send(LinkEvent::Lost);
}

async fn write_control(mut send: quinn::SendStream, mut rx: mpsc::Receiver<Control>) {
    while let Some(frame) = rx.recv().await {
        if control::write(&mut send, &frame).await.is_err() {
            return;
        }
    }
}

async fn read_control(
    link: &Link,
    mut reader: ControlReader,
    events: &mpsc::Sender<LinkEvent>,
    last_pong: &Mutex<Instant>,
    shared: &Shared,
) {
    loop {
        let Ok(frame) = reader.next().await else {
            return;
        };
        match frame {
            Control::GoAway { .. } => {
                let _ = events.try_send(LinkEvent::GoAway);
            }
            Control::Pong { .. } => {
                *last_pong.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now()
            }
            Control::Ping { nonce } => {
                let _ = link.control.try_send(Control::Pong { nonce });
            }
            Control::FlowAccepted { flow } => link.flow_accepted(flow, shared),
            Control::FlowRefused { flow, code } => link.flow_refused(flow, code, shared),
            Control::FlowClosed { flow } => {
                link.flows
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&flow);
            }
            other => {
                warn!(frame = other.name(), "unexpected control frame from hub");
                return;
            }
        }
    }
}

/// Pings the hub over the control stream; a hub that stops answering for the idle timeout is
/// wedged even if QUIC keepalives still flow.
async fn watchdog(
    shared: &Shared,
    link: &Link,
    events: &mpsc::Sender<LinkEvent>,
    last_pong: &Mutex<Instant>,
) {
    let mut tick = tokio::time::interval(shared.config.watchdog_interval);
    let mut nonce = 0u64;
    loop {
        tick.tick().await;
        let silent = last_pong
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed();
        // Three missed pongs, or the idle timeout if that comes first: QUIC's own timeout alone
        // would keep a silently vanished hub for the whole idle period.
        let limit = (shared.config.watchdog_interval * 3).min(shared.config.transport.idle_timeout);
        if silent > limit {
            let _ = events.try_send(LinkEvent::Wedged);
            return;
        }
        nonce += 1;
        if link.control.try_send(Control::Ping { nonce }).is_err() {
            // The writer is stuck behind a full queue: that is wedged too.
            let _ = events.try_send(LinkEvent::Wedged);
            return;
        }
    }
}

async fn read_datagrams(link: &Link, shared: &Shared) {
    while let Ok(dgram) = link.conn.read_datagram().await {
        match datagram::decode(&dgram) {
            Ok((flow, payload)) => link.deliver(flow, payload, shared),
            Err(_) => shared.metrics.datagram("malformed"),
        }
    }
}

async fn accept_uni(link: &Link, shared: &Shared) {
    while let Ok(recv) = link.conn.accept_uni().await {
        match tokio::time::timeout(Duration::from_secs(10), crate::udp::read_fallback(recv)).await {
            Ok(Ok((flow, payload))) => link.deliver(flow, &payload, shared),
            _ => shared.metrics.datagram("malformed"),
        }
    }
}

/// Lets a replaced link finish its streams, then closes it.
pub(super) async fn retire(link: Arc<Link>, grace: Duration) {
    let deadline = Instant::now() + grace;
    while link.streams_open.load(Ordering::Acquire) > 0
        && Instant::now() < deadline
        && link.conn.close_reason().is_none()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    link.conn.close(
        quinn::VarInt::from_u32(ErrorCode::Replaced.to_u32()),
        b"replaced",
    );
}

impl Link {
    fn flows(&self) -> std::sync::MutexGuard<'_, HashMap<FlowId, GwFlow>> {
        self.flows.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deliver(&self, flow: FlowId, payload: &[u8], shared: &Shared) {
        let flows = self.flows();
        let Some(f) = flows.get(&flow) else {
            shared.metrics.datagram("unknown_flow");
            return;
        };
        match f.socket.try_send_to(payload, f.peer) {
            Ok(n) => shared.metrics.forwarded(&f.service, 0, n as u64),
            Err(_) => shared.metrics.datagram("local_dropped"),
        }
    }

    fn flow_accepted(&self, flow: FlowId, shared: &Shared) {
        let queued = match self.flows().get_mut(&flow) {
            Some(f) => match std::mem::replace(&mut f.state, FlowState::Open) {
                FlowState::Pending(q) => q,
                _ => Vec::new(),
            },
            None => return,
        };
        for payload in queued {
            crate::udp::send(&self.conn, &shared.metrics, flow, &payload);
        }
    }

    fn flow_refused(&self, flow: FlowId, code: ErrorCode, shared: &Shared) {
        if let Some(f) = self.flows().get_mut(&flow) {
            f.state = FlowState::Refused;
            shared.metrics.refused(&f.service, code);
            warn!(service = %f.service, peer = %f.peer, reason = code.name(), "hub refused UDP flow");
        }
    }
}
