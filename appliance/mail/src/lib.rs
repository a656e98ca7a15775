//! The e-mail channel: mail in over SMTP becomes case work, and every outbox event goes out to
//! the citizen on the case's channel.
//!
//! - [`session`]: one SMTP session as a state machine without I/O (commands parsed by
//!   `smtp-proto`); [`server`]: the listener behind the ministry's relay (STARTTLS with rustls,
//!   limits, timeouts, rate limits per client and per sender).
//! - [`parse`]: MIME with `mail-parser` (character sets, HTML reduced to text by [`html`],
//!   attachments, delivery reports), bounded in parts and depth.
//! - [`inbound`]: threading into cases, fail-closed: a reply joins a case only when its sender
//!   is a verified contact of it; otherwise a new, linked case with a note saying why.
//! - [`worker`](mod@worker): the one outbox worker; [`relay`]: lettre to the relay, or `.eml` files in a
//!   capture directory; [`templates`]: the automatic messages as editable data per language.
//!
//! Invariants: nothing a peer sends can make the channel panic or grow without bound (the
//! session and the parser are property-tested); a message is acknowledged (250) only once it
//! is in the case store, and a temporary failure (clamd, the store) is a 451 so the relay
//! retries; a Message-ID is taken in once; no automatic answer goes to automatic, list, bulk or
//! bounce mail, and acknowledgements are limited per address; an outbox event leaves the
//! outbox only in the transaction that records the relay's acceptance, or as a dead letter
//! noted in its case.

pub mod html;
pub mod inbound;
pub mod parse;
pub mod relay;
pub mod server;
pub mod session;
pub mod templates;
pub mod worker;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use inbound::{Inbound, InboundSettings, Mailbox, Taken};
pub use relay::{Relay, RelaySpec};
pub use server::{Server, ServerLimits};
pub use session::{Session, SessionLimits};
pub use templates::{Kind, Rendered, Sample, Templates};
pub use worker::{ChatPresence, Worker, WorkerSettings};

/// Everything the channel is configured with (hubd's `[mail]` maps onto this).
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// Where the relay delivers incoming mail.
    pub listen: SocketAddr,
    /// This hub's mail name: greeting, EHLO, and the domain of Message-IDs.
    pub hostname: String,
    /// Certificate and key (PEM) for STARTTLS; without them STARTTLS is not offered.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub require_tls: bool,
    /// Accepted recipient addresses and their routing.
    pub mailboxes: Vec<Mailbox>,
    pub max_message_bytes: usize,
    pub max_header_bytes: usize,
    pub relay: RelaySpec,
    /// The CA of the relay's certificate, for `smtp+starttls://`.
    pub relay_ca: Option<PathBuf>,
    /// From of outgoing mail, e.g. `Legătura <contact@mae.ro>`.
    pub from: String,
    pub portal_url: String,
    pub default_language: String,
    pub authserv_id: Option<String>,
    pub trust_sender: bool,
    /// A directory of `LANG.toml` templates replacing the shipped ones.
    pub templates: Option<PathBuf>,
    pub limits: ServerLimits,
    /// Outbox worker tuning (attempts, backoff, lease, per-address acknowledgements).
    pub max_attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    pub acks_per_hour: u64,
    /// The live chat hub's presence check: a chat case whose citizen left the window is
    /// answered by e-mail.
    pub chat_presence: Option<ChatPresence>,
}

impl MailConfig {
    /// A configuration with the defaults for everything but what must be given.
    pub fn new(
        listen: SocketAddr,
        hostname: &str,
        mailboxes: Vec<Mailbox>,
        relay: RelaySpec,
        from: &str,
        portal_url: &str,
    ) -> Self {
        Self {
            listen,
            hostname: hostname.to_owned(),
            tls: None,
            require_tls: false,
            mailboxes,
            max_message_bytes: 35 << 20,
            max_header_bytes: 256 << 10,
            relay,
            relay_ca: None,
            from: from.to_owned(),
            portal_url: portal_url.to_owned(),
            default_language: "ro".to_owned(),
            authserv_id: None,
            trust_sender: false,
            templates: None,
            limits: ServerLimits::default(),
            max_attempts: 8,
            backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            acks_per_hour: 5,
            chat_presence: None,
        }
    }
}

/// Why the channel could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("mail templates: {0}")]
    Templates(#[from] templates::TemplateError),
    #[error("mail.from {0:?} is not a mailbox")]
    From(String),
    #[error("mail TLS: {0}")]
    Tls(String),
    #[error("mail relay: {0}")]
    Relay(String),
    #[error("binding the SMTP listener on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A started channel.
#[derive(Debug)]
pub struct Running {
    /// Where the SMTP listener is bound (useful with port 0).
    pub local_addr: SocketAddr,
    pub server: Arc<Server>,
    pub worker: Worker,
    listener: tokio::task::JoinHandle<()>,
    worker_task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the listener and the worker (an event being sent stays leased and comes back).
    /// Dropping a `Running` leaves both running.
    pub fn stop(&self) {
        self.listener.abort();
        self.worker_task.abort();
    }
}

/// Whether `from` is a mailbox outgoing mail can carry (`Name <addr>` or `addr`).
pub fn valid_from(from: &str) -> bool {
    from.parse::<lettre::message::Mailbox>().is_ok()
}

/// The worker alone, built from the configuration (the listener is [`start`]'s).
pub fn worker(config: &MailConfig, store: Arc<casestore::Store>) -> Result<Worker, StartError> {
    let templates = match &config.templates {
        Some(dir) => Templates::from_dir(dir, &config.default_language)?,
        None => Templates::shipped(&config.default_language)?,
    };
    let from: lettre::message::Mailbox = config
        .from
        .parse()
        .map_err(|_| StartError::From(config.from.clone()))?;
    let ca = match &config.relay_ca {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| StartError::Relay(format!("reading {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let relay = Relay::new(
        &config.relay,
        &config.hostname,
        ca.as_deref(),
        Duration::from_secs(30),
    )
    .map_err(StartError::Relay)?;
    let mut settings = WorkerSettings::new(from, &config.hostname, &config.portal_url);
    settings.max_attempts = config.max_attempts.max(1);
    settings.backoff = config.backoff;
    settings.max_backoff = config.max_backoff;
    settings.acks_per_hour = config.acks_per_hour;
    settings.chat_presence = config.chat_presence.clone();
    Ok(Worker::new(
        store,
        relay,
        Arc::new(templates),
        Arc::new(settings),
    ))
}

/// Binds the SMTP listener and starts it and the outbox worker.
pub async fn start(
    config: &MailConfig,
    store: Arc<casestore::Store>,
    files: Arc<casestore::AttachmentStore>,
    intake: Arc<intake::Intake>,
    clamd: Option<scan::Clamd>,
) -> Result<Running, StartError> {
    let worker = worker(config, store.clone())?;
    let tls = match &config.tls {
        Some((cert, key)) => Some(server::tls_acceptor(cert, key).map_err(StartError::Tls)?),
        None => None,
    };
    let recipients: HashSet<String> = config
        .mailboxes
        .iter()
        .map(|m| m.address.trim().to_ascii_lowercase())
        .collect();
    let session = SessionLimits {
        hostname: config.hostname.clone(),
        recipients: Arc::new(recipients),
        max_size: config.max_message_bytes,
        max_header_bytes: config.max_header_bytes,
        max_recipients: 20,
        tls_available: tls.is_some(),
        require_tls: config.require_tls,
    };
    let inbound = Inbound {
        store,
        files,
        intake,
        clamd,
        settings: Arc::new(InboundSettings {
            mailboxes: config.mailboxes.clone(),
            default_language: config.default_language.clone(),
            authserv_id: config.authserv_id.clone(),
            trust_sender: config.trust_sender,
        }),
    };
    let server = Server::new(inbound, session, config.limits.clone(), tls);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let listener = tokio::spawn(server.clone().serve(listener));
    let worker_task = tokio::spawn(worker.clone().run());
    Ok(Running {
        local_addr,
        server,
        worker,
        listener,
        worker_task,
    })
}
