//! The bridge's sockets: one UDP socket and one TCP listener on the same port, outbound TCP
//! connections on demand, and the clock. Everything else is the [`Engine`]'s.
//!
//! The UDP socket asks for 4 MiB buffers (as SIPp and Kamailio do) and the I/O loop never
//! waits on a send: a burst of calls must not overflow the kernel's receive queue while the
//! loop is busy, or every phone and trunk starts retransmitting at once.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use sip::parse::{Frame, frame};
use sip::{Limits, Peer, Transport};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Notify, broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::acd::IvrResult;
use crate::cdr::CallRecord;
use crate::engine::{Engine, EngineConfig, Registration, Stats};
use crate::queueing::{AgentError, AgentView, CallEvent, QueueView};

/// Where to listen and how to present ourselves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// UDP and TCP, same port (port 0: any free port, the same for both).
    pub listen: SocketAddr,
    /// The address written in Via and Contact; needed when `listen` is a wildcard.
    pub advertise: Option<SocketAddr>,
    /// The engine's settings; its `local` is filled in from the bound socket.
    pub engine: EngineConfig,
    /// TCP connections at once, both directions.
    pub max_connections: usize,
}

/// Why the bridge did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind SIP on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("listening on {0} needs `advertise`: Via and Contact need a concrete address")]
    NeedsAdvertise(SocketAddr),
    #[error("cannot start the media relay")]
    Media(#[from] media::MediaError),
    #[error("queue {queue}: its message")]
    Message {
        queue: String,
        source: media::PromptError,
    },
}

/// A running bridge.
#[derive(Debug)]
pub struct Telephony {
    engine: Arc<Mutex<Engine>>,
    udp: SocketAddr,
    tcp: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Wakes the I/O loop after an API call gave the engine something to send.
    wake: Arc<Notify>,
    events: broadcast::Sender<CallEvent>,
    generation: watch::Receiver<u64>,
}

enum TcpEvent {
    Data(SocketAddr, Bytes),
    Closed(SocketAddr),
}

const IDLE_TCP: Duration = Duration::from_secs(300);
/// The UDP socket's receive and send buffers: a second of a busy hub's SIP at ~1 KiB a
/// datagram (kernel accounting included), what SIPp and Kamailio ask for.
const UDP_BUFFER: usize = 4 << 20;
/// Datagrams read per wake-up under one lock of the engine, so a burst costs one flush.
const RECEIVE_BATCH: usize = 64;
/// Datagrams waiting for the send queue when the kernel's is full; past it they are dropped
/// (UDP: the peer's or our retransmission recovers them).
const SEND_BACKLOG: usize = 8192;

fn lock(engine: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    // A panic while holding the lock would be a bug; the state is still the best we have.
    engine
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Binds UDP and TCP on the same port. With port 0 the UDP socket picks it, and the TCP
/// listener may find that number taken by another socket's ephemeral port: then both are
/// dropped and another port tried, a few times.
async fn bind_pair(listen: SocketAddr) -> Result<(UdpSocket, TcpListener), StartError> {
    let bind = |addr, source| StartError::Bind { addr, source };
    let mut attempts = if listen.port() == 0 { 16 } else { 1 };
    loop {
        attempts -= 1;
        let udp = UdpSocket::bind(listen).await.map_err(|e| bind(listen, e))?;
        let port = udp.local_addr().map_err(|e| bind(listen, e))?.port();
        let tcp_addr = SocketAddr::new(listen.ip(), port);
        match TcpListener::bind(tcp_addr).await {
            Ok(listener) => return Ok((udp, listener)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempts > 0 => continue,
            Err(e) => return Err(bind(tcp_addr, e)),
        }
    }
}

impl Telephony {
    pub async fn start(config: ServerConfig) -> Result<Telephony, StartError> {
        let (udp, listener) = bind_pair(config.listen).await?;
        grow_buffers(&udp);
        let udp_addr = udp.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let tcp_addr = SocketAddr::new(config.listen.ip(), udp_addr.port());
        let local = match config.advertise {
            Some(addr) => addr,
            None if udp_addr.ip().is_unspecified() => {
                return Err(StartError::NeedsAdvertise(udp_addr));
            }
            None => udp_addr,
        };
        let mut engine_config = config.engine;
        engine_config.local = local;
        let limits = engine_config.limits;
        let media = engine_config.media.clone();
        let mut engine = Engine::new(engine_config, Instant::now(), SystemTime::now());
        // The relay's events (menus done, idle calls) come back through the I/O loop.
        let media_events = match media {
            Some(settings) => {
                // Every queue message is read now: a missing file stops the start, not a call.
                let mut messages = HashMap::new();
                for (index, queue) in engine.cfg.queues.iter().enumerate() {
                    if let Some(file) = &queue.message {
                        let prompt =
                            media::Prompt::load(std::path::Path::new(file)).map_err(|source| {
                                StartError::Message {
                                    queue: queue.name.clone(),
                                    source,
                                }
                            })?;
                        messages.insert(index, prompt);
                    }
                }
                let (relay, events) = media::Media::new(settings.relay.clone())?;
                engine.anchor = Some(crate::anchor::Anchor::new(relay, &settings, messages));
                Some(events)
            }
            None => None,
        };
        let engine = Arc::new(Mutex::new(engine));
        let (stop, stopped) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let (events, _) = broadcast::channel(1024);
        let (generation_tx, generation) = watch::channel(0);
        let udp = Arc::new(udp);
        let io = Io {
            engine: engine.clone(),
            wake: wake.clone(),
            events: events.clone(),
            generation: generation_tx,
            outgoing: Outgoing::new(udp.clone()),
            udp,
            listener,
            connections: HashMap::new(),
            max_connections: config.max_connections,
            limits,
            media_events,
        };
        let task = tokio::spawn(io.run(stopped));
        info!(udp = %udp_addr, tcp = %tcp_addr, advertised = %local, "SIP listening");
        Ok(Telephony {
            engine,
            udp: udp_addr,
            tcp: tcp_addr,
            stop,
            task,
            wake,
            events,
            generation,
        })
    }

    /// Call events (a call started: find its case; a call ended: store its record). A
    /// receiver that falls more than 1,024 events behind loses the oldest.
    pub fn events(&self) -> broadcast::Receiver<CallEvent> {
        self.events.subscribe()
    }

    /// Changes whenever an agent's or a queue's state may have changed (for live views).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.generation.clone()
    }

    /// Runs `f` on the engine at the present instant, then lets the I/O loop send what it
    /// produced.
    fn with_engine<T>(&self, f: impl FnOnce(&mut Engine, Instant) -> T) -> T {
        let out = f(&mut lock(&self.engine), Instant::now());
        self.wake.notify_one();
        out
    }

    /// The agent logs in to the queues with the languages they speak, and is ready.
    pub fn agent_login(&self, agent: &str, languages: &[String]) -> Result<(), AgentError> {
        self.with_engine(|e, now| e.agent_login(now, agent, languages))
    }

    pub fn agent_logout(&self, agent: &str) -> Result<(), AgentError> {
        self.with_engine(|e, _| e.agent_logout(agent))
    }

    pub fn agent_ready(&self, agent: &str, ready: bool) -> Result<(), AgentError> {
        self.with_engine(|e, now| e.agent_ready(now, agent, ready))
    }

    /// Links a call to its case number (shown in the screen pop, stored with the record).
    pub fn link_case(&self, call: u64, case: &str) -> bool {
        self.with_engine(|e, _| e.link_case(call, case))
    }

    /// The IVR's hook: the caller of `call` joins `queue` with what they chose.
    pub fn enqueue_after_ivr(&self, call: u64, queue: &str, ivr: IvrResult) {
        self.with_engine(|e, now| e.enqueue_after_ivr(now, call, queue, ivr));
    }

    pub fn agent_of_staff(&self, staff: &str) -> Option<String> {
        lock(&self.engine).agent_of_staff(staff)
    }

    pub fn agent(&self, agent: &str) -> Option<AgentView> {
        lock(&self.engine).agent_view(Instant::now(), agent)
    }

    pub fn agents(&self) -> Vec<AgentView> {
        lock(&self.engine).agent_views(Instant::now())
    }

    pub fn queues(&self) -> Vec<QueueView> {
        lock(&self.engine).queue_views(Instant::now())
    }

    pub fn udp_addr(&self) -> SocketAddr {
        self.udp
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp
    }

    /// Every kept call detail record, oldest first.
    pub fn call_records(&self) -> Vec<CallRecord> {
        lock(&self.engine).call_records()
    }

    pub fn registrations(&self) -> Vec<Registration> {
        lock(&self.engine).registrations(Instant::now())
    }

    pub fn active_calls(&self) -> usize {
        lock(&self.engine).active_calls()
    }

    pub fn stats(&self) -> Stats {
        lock(&self.engine).stats
    }

    /// The media relay's counters (`None` without `media`).
    pub fn media_stats(&self) -> Option<media::StatsSnapshot> {
        lock(&self.engine).media_stats()
    }

    /// Where embassy phones' audio arriving through the tunnel goes (`crate::tunnelled`):
    /// the hub's endpoint asks it for every datagram of the routed media services.
    pub fn media_routes(&self) -> crate::MediaRoutes {
        lock(&self.engine).media_routes()
    }

    /// Hangs up every call (a BYE to both phones, 503 to callers still ringing or waiting)
    /// and waits up to `grace` for the phones to answer, so lost BYEs are sent again; from
    /// now on new calls get 503. Returns how many calls there were (`crate::shutdown`).
    pub async fn hang_up_all(&self, grace: Duration) -> usize {
        let count = lock(&self.engine).hang_up_all(Instant::now());
        self.wake.notify_one();
        let deadline = tokio::time::Instant::now() + grace;
        while lock(&self.engine).cleanups_in_flight() > 0 && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        count
    }

    /// Stops listening. Calls still up are dropped without BYE: [`Telephony::hang_up_all`]
    /// first.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

struct Io {
    engine: Arc<Mutex<Engine>>,
    wake: Arc<Notify>,
    events: broadcast::Sender<CallEvent>,
    generation: watch::Sender<u64>,
    udp: Arc<UdpSocket>,
    outgoing: Outgoing,
    listener: TcpListener,
    connections: HashMap<SocketAddr, mpsc::Sender<Bytes>>,
    max_connections: usize,
    limits: Limits,
    media_events: Option<mpsc::Receiver<media::MediaEvent>>,
}

impl Io {
    async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        let (events_tx, mut events) = mpsc::channel::<TcpEvent>(1024);
        let mut buf = vec![0u8; 65_536];
        loop {
            let deadline = lock(&self.engine).poll_timeout();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stopped.changed() => break,
                received = self.udp.recv_from(&mut buf) => match received {
                    Ok((n, from)) => {
                        let mut engine = lock(&self.engine);
                        engine.handle(Instant::now(), &buf[..n], udp_peer(from));
                        // Whatever else is queued already is read now, under the same lock.
                        for _ in 1..RECEIVE_BATCH {
                            match self.udp.try_recv_from(&mut buf) {
                                Ok((n, from)) => engine.handle(Instant::now(), &buf[..n], udp_peer(from)),
                                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                                Err(error) => debug!(%error, "UDP receive"),
                            }
                        }
                    }
                    // ICMP port unreachable from an earlier send shows up here on Linux.
                    Err(error) => debug!(%error, "UDP receive"),
                },
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, from)) => {
                        if self.connections.len() >= self.max_connections {
                            debug!(%from, "TCP connection refused: too many");
                        } else {
                            let tx = spawn_connection(Some(stream), from, events_tx.clone(), self.limits);
                            self.connections.insert(from, tx);
                        }
                    }
                    Err(error) => warn!(%error, "TCP accept"),
                },
                Some(event) = events.recv() => match event {
                    TcpEvent::Data(from, bytes) => {
                        let peer = Peer { addr: from, transport: Transport::Tcp };
                        lock(&self.engine).handle(Instant::now(), &bytes, peer);
                    }
                    TcpEvent::Closed(addr) => { self.connections.remove(&addr); }
                },
                () = sleep => lock(&self.engine).handle_timeout(Instant::now()),
                event = crate::anchor::next_event(&mut self.media_events) => {
                    lock(&self.engine).on_media_event(Instant::now(), event);
                }
                () = self.wake.notified() => {}
            }
            self.flush(&events_tx);
        }
    }

    fn flush(&mut self, events: &mpsc::Sender<TcpEvent>) {
        {
            let mut engine = lock(&self.engine);
            while let Some(event) = engine.poll_event() {
                // Nobody listening is fine: the records stay in memory.
                let _ = self.events.send(event);
            }
            let generation = engine.generation();
            self.generation.send_if_modified(|seen| {
                let changed = *seen != generation;
                *seen = generation;
                changed
            });
        }
        let transmits: Vec<_> = {
            let mut engine = lock(&self.engine);
            std::iter::from_fn(|| engine.poll_transmit()).collect()
        };
        for transmit in transmits {
            match transmit.to.transport {
                Transport::Udp => self.outgoing.send(transmit.to.addr, transmit.bytes),
                Transport::Tcp => {
                    let addr = transmit.to.addr;
                    if !self.connections.contains_key(&addr) {
                        if self.connections.len() >= self.max_connections {
                            debug!(%addr, "no TCP connection: too many");
                            continue;
                        }
                        let tx = spawn_connection(None, addr, events.clone(), self.limits);
                        self.connections.insert(addr, tx);
                    }
                    if let Some(tx) = self.connections.get(&addr)
                        && tx.try_send(transmit.bytes).is_err()
                    {
                        debug!(%addr, "TCP connection backlogged or closed; message dropped");
                    }
                }
            }
        }
    }
}

fn udp_peer(addr: SocketAddr) -> Peer {
    Peer {
        addr,
        transport: Transport::Udp,
    }
}

/// Asks for [`UDP_BUFFER`] each way; warns, naming the sysctl, when the kernel caps it lower.
fn grow_buffers(udp: &UdpSocket) {
    let socket = socket2::SockRef::from(udp);
    let _ = socket.set_recv_buffer_size(UDP_BUFFER);
    let _ = socket.set_send_buffer_size(UDP_BUFFER);
    // Linux reports twice what it granted.
    let recv = socket.recv_buffer_size().unwrap_or(0) / 2;
    let send = socket.send_buffer_size().unwrap_or(0) / 2;
    if recv < UDP_BUFFER || send < UDP_BUFFER {
        warn!(
            recv_buffer = recv,
            send_buffer = send,
            wanted = UDP_BUFFER,
            "SIP UDP socket buffers are capped below 4 MiB; bursts of calls will be dropped and retransmitted. \
             Fix: sysctl -w net.core.rmem_max=8388608 net.core.wmem_max=8388608 (the appliance image sets this)"
        );
    }
}

/// UDP sends that never make the I/O loop wait: straight to the kernel while it has room,
/// else through a bounded backlog that a task of its own drains.
struct Outgoing {
    udp: Arc<UdpSocket>,
    backlog: mpsc::Sender<(SocketAddr, Bytes)>,
    /// Datagrams in the backlog or being sent from it; while any are, later ones queue
    /// behind them so that a peer sees our messages in the order we sent them.
    queued: Arc<AtomicUsize>,
}

impl Outgoing {
    fn new(udp: Arc<UdpSocket>) -> Outgoing {
        let (backlog, mut rx) = mpsc::channel::<(SocketAddr, Bytes)>(SEND_BACKLOG);
        let queued = Arc::new(AtomicUsize::new(0));
        let (socket, count) = (udp.clone(), queued.clone());
        tokio::spawn(async move {
            while let Some((to, bytes)) = rx.recv().await {
                if let Err(error) = socket.send_to(&bytes, to).await {
                    debug!(%error, %to, "UDP send");
                }
                count.fetch_sub(1, Ordering::AcqRel);
            }
        });
        Outgoing {
            udp,
            backlog,
            queued,
        }
    }

    fn send(&self, to: SocketAddr, bytes: Bytes) {
        if self.queued.load(Ordering::Acquire) == 0 {
            match self.udp.try_send_to(&bytes, to) {
                Ok(_) => return,
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(error) => {
                    debug!(%error, %to, "UDP send");
                    return;
                }
            }
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        if self.backlog.try_send((to, bytes)).is_err() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            debug!(%to, "UDP send backlog full; message dropped");
        }
    }
}

/// A TCP connection's task: connects first when `stream` is `None`, then frames what it reads
/// into messages for the engine and writes what the engine sends.
fn spawn_connection(
    stream: Option<TcpStream>,
    addr: SocketAddr,
    events: mpsc::Sender<TcpEvent>,
    limits: Limits,
) -> mpsc::Sender<Bytes> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
    tokio::spawn(async move {
        let stream = match stream {
            Some(s) => s,
            None => {
                match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await {
                    Ok(Ok(s)) => s,
                    _ => {
                        debug!(%addr, "TCP connect failed");
                        let _ = events.send(TcpEvent::Closed(addr)).await;
                        return;
                    }
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let mut buf = BytesMut::with_capacity(8192);
        loop {
            tokio::select! {
                outgoing = rx.recv() => match outgoing {
                    Some(bytes) => if writer.write_all(&bytes).await.is_err() { break },
                    None => break,
                },
                read = tokio::time::timeout(IDLE_TCP, reader.read_buf(&mut buf)) => {
                    match read {
                        Ok(Ok(n)) if n > 0 => {}
                        _ => break,
                    }
                    loop {
                        match frame(&buf, &limits) {
                            Ok(Some(Frame::KeepAlive(n))) => { let _ = buf.split_to(n); }
                            Ok(Some(Frame::Message(n))) => {
                                let message = buf.split_to(n).freeze();
                                if events.send(TcpEvent::Data(addr, message)).await.is_err() {
                                    return;
                                }
                            }
                            Ok(None) => break,
                            Err(error) => {
                                debug!(%addr, %error, "TCP stream unframeable; closing");
                                let _ = events.send(TcpEvent::Closed(addr)).await;
                                return;
                            }
                        }
                    }
                }
            }
        }
        let _ = events.send(TcpEvent::Closed(addr)).await;
    });
    tx
}

#[cfg(test)]
mod tests;
