//! Telephony media on the hub: every call's audio is anchored here. Each leg of a call gets an
//! RTP/RTCP port pair from a bounded range; the relay forwards between the legs, latching on
//! each peer's real source address (NAT) and dropping packets from anyone else after that. Before
//! a call is queued the caller hears the menu (G.711 prompts in 20 ms RTP packets) and answers
//! with RFC 4733 telephone-events; the outcome is an [`IvrResult`]. Both legs can be recorded
//! to WAV files.
//!
//! Layers: [`rtp`], [`dtmf`], [`g711`], [`prompt`] and [`ivr`] are pure and never panic on
//! input; the relay ([`Media`] and one task per call) owns the sockets and the clock.
//!
//! Invariants:
//! - **Bounded.** Ports come from the configured range only; a call that finds none is
//!   refused. Per-call buffers are allocated once; no allocation per packet.
//! - **Latching.** Until a leg's peer has sent a valid packet, the relay sends to the address
//!   its SDP named; after, only to and from the address it latched.
//! - **No transcoding on the relay.** Both legs use the caller's G.711 law; only prompts are
//!   converted, once, when loaded.
//! - **Freed on every end.** Closing a call, its idle timeout or a dropped handle ends the task,
//!   and dropping its sockets' leases returns the ports.

pub mod dtmf;
pub mod g711;
pub mod ivr;
mod ports;
pub mod prompt;
mod record;
pub mod rtp;
mod session;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tracing::debug;

pub use g711::Codec;
pub use ivr::{IvrResult, IvrSettings, Language};
pub use ports::PortRange;
pub use prompt::{Prompt, PromptError};
pub use record::Recording;

use ports::Ports;
use session::{Command, Session, Setup, Sockets};

/// A leg of a call, as the relay sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    /// The inbound leg (the trunk, an embassy phone).
    Caller,
    /// The agent's phone.
    Agent,
}

/// What the relay tells the signalling side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The caller finished the menu.
    Ivr { call: u64, result: IvrResult },
    /// No packet on any leg for the idle timeout: the session is gone, its ports freed.
    Idle { call: u64 },
}

/// The relay's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// The address the relay's sockets bind.
    pub bind: IpAddr,
    /// The address written in SDP (`c=`); a concrete address, never a wildcard.
    pub advertise: IpAddr,
    pub ports: PortRange,
    /// A call with no packet on either leg for this long is closed.
    pub idle_timeout: Duration,
    pub ivr: IvrSettings,
    /// The menu prompt; the built-in one when `None`.
    pub menu: Option<Prompt>,
    /// Where recordings go; recording is off when `None`.
    pub recordings: Option<PathBuf>,
}

impl MediaConfig {
    /// Loopback-friendly defaults: bind and advertise `ip`, ports 20000–20999.
    pub fn new(ip: IpAddr) -> MediaConfig {
        MediaConfig {
            bind: ip,
            advertise: ip,
            ports: PortRange {
                first: 20_000,
                last: 20_999,
            },
            idle_timeout: Duration::from_secs(60),
            ivr: IvrSettings::default(),
            menu: None,
            recordings: None,
        }
    }
}

/// Why media for a call could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("no free RTP port pair in {first}–{last}", first = .0.first, last = .0.last)]
    NoPorts(PortRange),
    #[error("RTP socket")]
    Socket(#[source] std::io::Error),
    #[error("the media address {0} must not be a wildcard")]
    Wildcard(IpAddr),
    #[error("no media session for call {0}")]
    NoSession(u64),
    #[error("cannot create recording {path}")]
    Recording {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Counters across every call, for metrics and tests.
#[derive(Debug, Default)]
pub struct Stats {
    sessions: AtomicU64,
    relayed: AtomicU64,
    dropped: AtomicU64,
    keys: AtomicU64,
}

/// A copy of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// Calls with media now.
    pub sessions: u64,
    /// Packets (RTP and RTCP) forwarded from one leg to the other.
    pub relayed: u64,
    /// Packets refused: from an unexpected source after latching, or not RTP/RTCP at all.
    pub dropped: u64,
    /// DTMF key presses received during menus.
    pub keys: u64,
}

/// The media side of every call on this hub. Its methods are synchronous (they bind sockets
/// and queue orders) and must be called within a tokio runtime.
#[derive(Debug)]
pub struct Media {
    config: MediaConfig,
    menu: Prompt,
    ports: Arc<Mutex<Ports>>,
    sessions: HashMap<u64, (mpsc::Sender<Command>, Codec)>,
    events: mpsc::Sender<MediaEvent>,
    stats: Arc<Stats>,
}

impl Media {
    /// The relay, and the events its calls will send.
    pub fn new(config: MediaConfig) -> Result<(Media, mpsc::Receiver<MediaEvent>), MediaError> {
        if config.advertise.is_unspecified() {
            return Err(MediaError::Wildcard(config.advertise));
        }
        let (events, receiver) = mpsc::channel(1024);
        let media = Media {
            menu: config.menu.clone().unwrap_or_else(Prompt::builtin_menu),
            ports: Arc::new(Mutex::new(Ports::new(config.ports))),
            sessions: HashMap::new(),
            events,
            stats: Arc::new(Stats::default()),
            config,
        };
        Ok((media, receiver))
    }

    fn bind(&self) -> Result<(Sockets, SocketAddr), MediaError> {
        let (rtp, rtcp, lease) = Ports::bind(&self.ports, self.config.bind)
            .ok_or(MediaError::NoPorts(self.config.ports))?;
        let port = rtp.local_addr().map_err(MediaError::Socket)?.port();
        let tokio = |s: std::net::UdpSocket| {
            s.set_nonblocking(true)?;
            tokio::net::UdpSocket::from_std(s)
        };
        let sockets = Sockets {
            rtp: tokio(rtp).map_err(MediaError::Socket)?,
            rtcp: tokio(rtcp).map_err(MediaError::Socket)?,
            lease,
        };
        Ok((sockets, SocketAddr::new(self.config.advertise, port)))
    }

    /// Opens call `call`'s caller leg for `codec` (and telephone-events on payload type
    /// `telephone_event`); `remote` is where the caller's SDP says it receives. Returns the
    /// address to write in the SDP towards the caller.
    pub fn open(
        &mut self,
        call: u64,
        codec: Codec,
        telephone_event: Option<u8>,
        remote: Option<SocketAddr>,
    ) -> Result<SocketAddr, MediaError> {
        self.close(call);
        let (caller, local) = self.bind()?;
        let (tx, rx) = mpsc::channel(16);
        if let Some(remote) = remote {
            let _ = tx.try_send(Command::Remote(Leg::Caller, remote));
        }
        let session = Session::new(Setup {
            call,
            codec,
            telephone_event,
            caller,
            menu: self.menu.clone(),
            idle_timeout: self.config.idle_timeout,
            events: self.events.clone(),
            stats: self.stats.clone(),
        });
        self.stats.sessions.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(session.run(rx));
        self.sessions.insert(call, (tx, codec));
        debug!(call, %local, "media opened");
        Ok(local)
    }

    fn order(&mut self, call: u64, command: Command) -> Result<(), MediaError> {
        let sent = self
            .sessions
            .get(&call)
            .is_some_and(|(tx, _)| tx.try_send(command).is_ok());
        if sent {
            Ok(())
        } else {
            self.sessions.remove(&call);
            Err(MediaError::NoSession(call))
        }
    }

    /// Opens the agent's leg; returns the address to write in the SDP towards the agent.
    pub fn open_agent(&mut self, call: u64) -> Result<SocketAddr, MediaError> {
        if !self.sessions.contains_key(&call) {
            return Err(MediaError::NoSession(call));
        }
        let (sockets, local) = self.bind()?;
        self.order(call, Command::AddAgent(sockets))?;
        Ok(local)
    }

    /// Where a leg's SDP says its peer receives RTP (RTCP on the next port).
    pub fn set_remote(&mut self, call: u64, leg: Leg, rtp: SocketAddr) -> Result<(), MediaError> {
        self.order(call, Command::Remote(leg, rtp))
    }

    /// Forgets where a leg's peer is: the relay sends it nothing until a valid packet
    /// latches its address afresh (another phone took the leg behind the same forwarder).
    pub fn forget_remote(&mut self, call: u64, leg: Leg) -> Result<(), MediaError> {
        self.order(call, Command::Forget(leg))
    }

    /// Plays the menu to the caller and reads its keys; the outcome comes as
    /// [`MediaEvent::Ivr`].
    pub fn start_ivr(&mut self, call: u64) -> Result<(), MediaError> {
        let settings = self.config.ivr;
        self.order(call, Command::StartIvr(settings))
    }

    /// Plays `prompt` to the caller, repeated, until the call is bridged (a queue's message
    /// as early media while the caller waits).
    pub fn play_looped(&mut self, call: u64, prompt: Prompt) -> Result<(), MediaError> {
        self.order(call, Command::Loop(prompt))
    }

    /// Relays between the legs from now on; with `record`, and a recordings directory
    /// configured, writes both legs and returns their paths.
    pub fn bridge(&mut self, call: u64, record: bool) -> Result<Option<Recording>, MediaError> {
        let codec = self
            .sessions
            .get(&call)
            .map(|(_, codec)| *codec)
            .ok_or(MediaError::NoSession(call))?;
        let recording = match (&self.config.recordings, record) {
            (Some(dir), true) => {
                let stamp = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0);
                let paths = Recording {
                    caller: dir.join(format!("{stamp}-{call}-caller.wav")),
                    agent: dir.join(format!("{stamp}-{call}-agent.wav")),
                };
                let create = |path: &PathBuf| {
                    record::WavWriter::create(path, codec).map_err(|source| MediaError::Recording {
                        path: path.clone(),
                        source,
                    })
                };
                Some((paths.clone(), create(&paths.caller)?, create(&paths.agent)?))
            }
            _ => None,
        };
        let (paths, writers) = match recording {
            Some((paths, caller, agent)) => (Some(paths), Some((caller, agent))),
            None => (None, None),
        };
        self.order(call, Command::Bridge(writers))?;
        Ok(paths)
    }

    /// Ends the call's media and frees its ports. Closing an unknown call does nothing.
    pub fn close(&mut self, call: u64) {
        if let Some((tx, _)) = self.sessions.remove(&call) {
            let _ = tx.try_send(Command::Close);
        }
    }

    /// Where the relay receives what it advertised as `advertised`, for a forwarder on this
    /// host (the tunnel's routed media): the bound address, loopback when that is a wildcard.
    pub fn relay_address(&self, advertised: SocketAddr) -> SocketAddr {
        let ip = match self.config.bind {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        SocketAddr::new(ip, advertised.port())
    }

    pub fn stats(&self) -> StatsSnapshot {
        StatsSnapshot {
            sessions: self.stats.sessions.load(Ordering::Relaxed),
            relayed: self.stats.relayed.load(Ordering::Relaxed),
            dropped: self.stats.dropped.load(Ordering::Relaxed),
            keys: self.stats.keys.load(Ordering::Relaxed),
        }
    }

    /// Port pairs not in use.
    pub fn free_port_pairs(&self) -> usize {
        Ports::free(&self.ports)
    }
}
