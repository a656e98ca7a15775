//! One call's media: a task owning the call's sockets (an RTP/RTCP pair per leg), relaying
//! between the legs with latching, playing the menu and reading the caller's keys while the
//! IVR runs, and writing the recording. Buffers are the task's own, allocated once per call.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, warn};

use crate::dtmf;
use crate::g711::Codec;
use crate::ivr::{Ivr, IvrSettings};
use crate::ports::Lease;
use crate::prompt::{Player, Prompt};
use crate::record::WavWriter;
use crate::rtp;
use crate::{Leg, MediaEvent, Stats};

/// The most packets read from one socket before the task looks at the others.
const BATCH: usize = 64;
const BUFFER: usize = 2048;

/// Orders from the [`crate::Media`] handle.
#[derive(Debug)]
pub(crate) enum Command {
    AddAgent(Sockets),
    Remote(Leg, SocketAddr),
    /// Forget where the leg's peer is: the next valid packet latches it afresh.
    Forget(Leg),
    StartIvr(IvrSettings),
    /// Play this prompt to the caller over and over until the call is bridged.
    Loop(Prompt),
    Bridge(Option<(WavWriter, WavWriter)>),
    Close,
}

/// A bound RTP/RTCP pair and its lease.
#[derive(Debug)]
pub(crate) struct Sockets {
    pub(crate) rtp: UdpSocket,
    pub(crate) rtcp: UdpSocket,
    pub(crate) lease: Lease,
}

/// One socket and who may send to it.
#[derive(Debug)]
struct Endpoint {
    socket: UdpSocket,
    /// Where the SDP says the peer is: used until a packet latches the real source.
    expected: Option<SocketAddr>,
    /// The source of the first valid packet (the peer behind its NAT); after it, packets from
    /// anyone else are dropped.
    latched: Option<SocketAddr>,
}

impl Endpoint {
    fn new(socket: UdpSocket) -> Endpoint {
        Endpoint {
            socket,
            expected: None,
            latched: None,
        }
    }

    /// Whether a packet from `from` is the peer's; latches on the first valid one.
    fn accept(&mut self, from: SocketAddr, valid: bool) -> bool {
        match self.latched {
            Some(peer) => peer == from && valid,
            None if valid => {
                self.latched = Some(from);
                true
            }
            None => false,
        }
    }

    fn destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.expected)
    }

    fn send(&self, bytes: &[u8]) -> bool {
        match self.destination() {
            // A full socket buffer drops the packet: real-time audio never waits.
            Some(to) => self.socket.try_send_to(bytes, to).is_ok(),
            None => false,
        }
    }
}

#[derive(Debug)]
struct LegMedia {
    rtp: Endpoint,
    rtcp: Endpoint,
    _lease: Lease,
}

impl LegMedia {
    fn new(sockets: Sockets) -> LegMedia {
        LegMedia {
            rtp: Endpoint::new(sockets.rtp),
            rtcp: Endpoint::new(sockets.rtcp),
            _lease: sockets.lease,
        }
    }

    fn set_remote(&mut self, rtp: SocketAddr) {
        // A peer that moved (a new address in a re-INVITE, a transfer's target) is latched
        // afresh; the same address again (a hold, a refresh) keeps the latch, which may be
        // a NAT's or the tunnel's address rather than the one in the SDP.
        if self.rtp.expected != Some(rtp) {
            self.rtp.latched = None;
            self.rtcp.latched = None;
        }
        self.rtp.expected = Some(rtp);
        self.rtcp.expected = Some(SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)));
    }

    fn forget(&mut self) {
        for endpoint in [&mut self.rtp, &mut self.rtcp] {
            endpoint.expected = None;
            endpoint.latched = None;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rtp,
    Rtcp,
}

#[derive(Debug)]
enum Mode {
    /// Nothing is played or relayed (before the IVR, or between the IVR and the answer).
    Idle,
    Ivr(Box<(Ivr, Player, dtmf::Receiver)>),
    /// A waiting caller hears the queue message, repeated, as early media.
    Looping(Box<(Player, Prompt)>),
    Bridged(Option<Box<(WavWriter, WavWriter)>>),
}

/// What a session was started with.
#[derive(Debug)]
pub(crate) struct Setup {
    pub(crate) call: u64,
    pub(crate) codec: Codec,
    pub(crate) telephone_event: Option<u8>,
    pub(crate) caller: Sockets,
    pub(crate) menu: Prompt,
    pub(crate) idle_timeout: Duration,
    pub(crate) events: mpsc::Sender<MediaEvent>,
    pub(crate) stats: Arc<Stats>,
}

pub(crate) struct Session {
    setup_call: u64,
    codec: Codec,
    telephone_event: Option<u8>,
    caller: LegMedia,
    agent: Option<LegMedia>,
    mode: Mode,
    menu: Prompt,
    idle_timeout: Duration,
    last_packet: Instant,
    events: mpsc::Sender<MediaEvent>,
    stats: Arc<Stats>,
    buf: Box<[u8; BUFFER]>,
    out: Box<[u8; BUFFER]>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("call", &self.setup_call)
            .finish()
    }
}

async fn readable(endpoint: Option<&Endpoint>) -> io::Result<()> {
    match endpoint {
        Some(e) => e.socket.readable().await,
        None => std::future::pending().await,
    }
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Session {
    pub(crate) fn new(setup: Setup) -> Session {
        Session {
            setup_call: setup.call,
            codec: setup.codec,
            telephone_event: setup.telephone_event,
            caller: LegMedia::new(setup.caller),
            agent: None,
            mode: Mode::Idle,
            menu: setup.menu,
            idle_timeout: setup.idle_timeout,
            last_packet: Instant::now(),
            events: setup.events,
            stats: setup.stats,
            buf: Box::new([0; BUFFER]),
            out: Box::new([0; BUFFER]),
        }
    }

    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
        loop {
            let ivr_deadline = match &self.mode {
                Mode::Ivr(ivr) => ivr.0.poll_timeout().map(Instant::from_std),
                _ => None,
            };
            let playing = match &self.mode {
                Mode::Ivr(ivr) => ivr.1.is_playing(),
                Mode::Looping(_) => true,
                _ => false,
            };
            let idle_at = self.last_packet + self.idle_timeout;
            tokio::select! {
                command = commands.recv() => match command {
                    None | Some(Command::Close) => break,
                    Some(command) => {
                        if self.on_command(command) {
                            // A prompt starts now: no burst of ticks missed before it.
                            ticker.reset_immediately();
                        }
                    }
                },
                Ok(()) = readable(Some(&self.caller.rtp)) => self.drain(Leg::Caller, Kind::Rtp),
                Ok(()) = readable(Some(&self.caller.rtcp)) => self.drain(Leg::Caller, Kind::Rtcp),
                Ok(()) = readable(self.agent.as_ref().map(|a| &a.rtp)) => self.drain(Leg::Agent, Kind::Rtp),
                Ok(()) = readable(self.agent.as_ref().map(|a| &a.rtcp)) => self.drain(Leg::Agent, Kind::Rtcp),
                _ = ticker.tick(), if playing => self.play(),
                () = until(ivr_deadline) => {
                    if let Mode::Ivr(ivr) = &mut self.mode {
                        ivr.0.handle_timeout(std::time::Instant::now());
                    }
                    self.check_ivr_done();
                }
                () = tokio::time::sleep_until(idle_at) => {
                    debug!(call = self.setup_call, "no media for the idle timeout; closing");
                    let _ = self.events.try_send(MediaEvent::Idle { call: self.setup_call });
                    break;
                }
            }
        }
        self.finish_recording();
        self.stats.sessions.fetch_sub(1, Ordering::Relaxed);
    }

    /// Returns whether a prompt started.
    fn on_command(&mut self, command: Command) -> bool {
        match command {
            Command::AddAgent(sockets) => self.agent = Some(LegMedia::new(sockets)),
            Command::Remote(Leg::Caller, addr) => self.caller.set_remote(addr),
            Command::Remote(Leg::Agent, addr) => {
                if let Some(agent) = self.agent.as_mut() {
                    agent.set_remote(addr);
                }
            }
            Command::Forget(Leg::Caller) => self.caller.forget(),
            Command::Forget(Leg::Agent) => {
                if let Some(agent) = self.agent.as_mut() {
                    agent.forget();
                }
            }
            Command::StartIvr(settings) => {
                let mut player =
                    Player::new(self.codec, rand::random(), rand::random(), rand::random());
                player.play(&self.menu);
                self.mode = Mode::Ivr(Box::new((
                    Ivr::new(settings),
                    player,
                    dtmf::Receiver::new(),
                )));
                return true;
            }
            Command::Loop(prompt) => {
                // One stream for the whole wait: its sequence and timestamps run on across
                // repeats, as a phone expects of one source.
                let mut player =
                    Player::new(self.codec, rand::random(), rand::random(), rand::random());
                player.play(&prompt);
                self.mode = Mode::Looping(Box::new((player, prompt)));
                return true;
            }
            Command::Bridge(recorder) => {
                self.finish_recording();
                self.mode = Mode::Bridged(recorder.map(Box::new));
            }
            Command::Close => {}
        }
        false
    }

    /// One 20 ms step of the prompt.
    fn play(&mut self) {
        if let Mode::Looping(looping) = &mut self.mode {
            let (player, prompt) = &mut **looping;
            if !player.is_playing() {
                player.play(prompt);
            }
            if let Some(n) = player.tick(&mut self.out[..]) {
                self.caller.rtp.send(&self.out[..n]);
            }
            return;
        }
        let Mode::Ivr(ivr) = &mut self.mode else {
            return;
        };
        let (menu, player, _) = &mut **ivr;
        match player.tick(&mut self.out[..]) {
            Some(n) => {
                self.caller.rtp.send(&self.out[..n]);
            }
            None => menu.prompt_finished(std::time::Instant::now()),
        }
        if !player.is_playing() {
            menu.prompt_finished(std::time::Instant::now());
        }
    }

    fn drain(&mut self, leg: Leg, kind: Kind) {
        for _ in 0..BATCH {
            let endpoint = match (leg, kind, self.agent.as_ref()) {
                (Leg::Caller, Kind::Rtp, _) => &self.caller.rtp,
                (Leg::Caller, Kind::Rtcp, _) => &self.caller.rtcp,
                (Leg::Agent, Kind::Rtp, Some(a)) => &a.rtp,
                (Leg::Agent, Kind::Rtcp, Some(a)) => &a.rtcp,
                (Leg::Agent, _, None) => return,
            };
            match endpoint.socket.try_recv_from(&mut self.buf[..]) {
                Ok((n, from)) => self.on_packet(leg, kind, n, from),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // ICMP errors from earlier sends surface here on Linux; the socket is fine.
                Err(e) => debug!(call = self.setup_call, error = %e, "RTP receive"),
            }
        }
    }

    fn on_packet(&mut self, leg: Leg, kind: Kind, n: usize, from: SocketAddr) {
        let Some(bytes) = self.buf.get(..n) else {
            return;
        };
        let packet = match kind {
            Kind::Rtp => rtp::parse(bytes).ok(),
            Kind::Rtcp => None,
        };
        let valid = match kind {
            Kind::Rtp => packet.is_some(),
            Kind::Rtcp => rtp::is_rtcp(bytes),
        };
        let (this, other) = match leg {
            Leg::Caller => (Some(&mut self.caller), self.agent.as_mut()),
            Leg::Agent => (self.agent.as_mut(), Some(&mut self.caller)),
        };
        let Some(this) = this else { return };
        let endpoint = match kind {
            Kind::Rtp => &mut this.rtp,
            Kind::Rtcp => &mut this.rtcp,
        };
        if !endpoint.accept(from, valid) {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.last_packet = Instant::now();
        match &mut self.mode {
            Mode::Idle | Mode::Looping(_) => {}
            Mode::Ivr(ivr) => {
                let (menu, player, receiver) = &mut **ivr;
                if let (Leg::Caller, Some(p)) = (leg, packet)
                    && Some(p.header.payload_type) == self.telephone_event
                {
                    let now = std::time::Instant::now();
                    for key in receiver
                        .receive(p.header.timestamp, p.payload)
                        .into_iter()
                        .flatten()
                    {
                        debug!(call = self.setup_call, %key, "DTMF");
                        self.stats.keys.fetch_add(1, Ordering::Relaxed);
                        if menu.on_key(now, key) {
                            player.stop();
                        }
                    }
                    self.check_ivr_done();
                }
            }
            Mode::Bridged(recorder) => {
                let Some(other) = other else { return };
                let target = match kind {
                    Kind::Rtp => &other.rtp,
                    Kind::Rtcp => &other.rtcp,
                };
                if target.send(bytes) {
                    self.stats.relayed.fetch_add(1, Ordering::Relaxed);
                }
                if let (Some(rec), Some(p)) = (recorder.as_mut(), packet)
                    && p.header.payload_type == self.codec.payload_type()
                {
                    let wav = match leg {
                        Leg::Caller => &mut rec.0,
                        Leg::Agent => &mut rec.1,
                    };
                    if let Err(error) = wav.write(p.header.timestamp, p.payload) {
                        warn!(call = self.setup_call, %error, "recording stopped");
                        self.mode = Mode::Bridged(None);
                    }
                }
            }
        }
    }

    fn check_ivr_done(&mut self) {
        let Mode::Ivr(ivr) = &self.mode else { return };
        if let Some(result) = ivr.0.result() {
            let event = MediaEvent::Ivr {
                call: self.setup_call,
                result: result.clone(),
            };
            if self.events.try_send(event).is_err() {
                warn!(
                    call = self.setup_call,
                    "media events backlogged; IVR result lost"
                );
            }
            self.mode = Mode::Idle;
        }
    }

    fn finish_recording(&mut self) {
        if let Mode::Bridged(recorder) = &mut self.mode
            && let Some(rec) = recorder.take()
        {
            let (caller, agent) = *rec;
            for wav in [caller, agent] {
                if let Err(error) = wav.finish() {
                    warn!(call = self.setup_call, %error, "closing a recording");
                }
            }
        }
    }
}
