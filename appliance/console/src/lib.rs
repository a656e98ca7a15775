//! The agents' console: consular staff at an embassy open it in a browser on their LAN; the
//! request reaches their appliance's local listener, crosses the tunnel, and arrives here at
//! the hub with a PROXY v2 header naming the appliance (its mTLS identity, written by the hub,
//! never by the gateway). The central 24/7 centre reaches the same console on the central
//! network. Server-rendered pages that work without JavaScript; a small script adds live
//! queue updates over server-sent events.
//!
//! - `GET|POST /login`, `POST /logout`: password (argon2id) and TOTP; lockout; a session is
//!   bound to the path it came through ([`access::AccessPath`]).
//! - `GET /` and `GET /queues/{queue}`: queue pages with sort, filters and counts;
//!   `GET /queues/{queue}/rows` the same rows as a fragment; `GET /events` change notices.
//! - `GET /cases/{number}`: the case view; `POST /cases/{number}/{action}`: case work.
//! - `GET /dashboard`, `GET /dashboard.csv`, `GET /break-glass`: supervisors' views.
//! - `GET /kb`, `GET /kb/{id}`, `POST /kb`: the knowledge base.
//! - `GET /chats`, `GET /chats/{number}` and its actions: the live chat (see `chats`), live
//!   when a [`chat::Hub`] is attached ([`Console::attach_chat`]).
//! - `GET /phone` (state, controls, screen pop) and `GET /phone/queues` (supervisors): the
//!   phone queues (see `phone`), when a telephony bridge is attached
//!   ([`Console::attach_phones`]).
//!
//! Invariants:
//! - **One place decides.** Every read and change asks [`access::Policy`]; a case the agent may
//!   not read answers exactly like a case that does not exist, and queue pages and counts are
//!   asked only within the agent's [`access::QueueScope`].
//! - **State changes need the session's CSRF token** and a same-origin request; sessions are
//!   HttpOnly, SameSite=Strict cookies with idle and absolute timeouts, refused (and revoked)
//!   when replayed through another path.
//! - **Nothing is lost on a conflict.** Every change carries the case version the agent saw;
//!   a stale one is refused with the agent's text kept in the re-rendered form.
//! - **Audited.** Every change, every read of a restricted case or through break-glass, every
//!   refused case access and every sign-in attempt goes to the hash-chained audit log.

mod actions;
mod case_view;
mod chats;
mod dashboard;
pub mod demo;
mod errors;
mod forms;
mod knowledge;
mod live;
mod login;
mod outbox;
mod phone;
mod queues;
mod render;
mod session;
mod timeline;
mod via;

use std::sync::Arc;
use std::time::Duration;

use access::Policy;
use axum::Router;
use axum::routing::{get, post};
use casestore::{ConsulateId, Store};
use staffauth::{AttemptLimiter, LockoutPolicy, SessionPolicy, Sessions};

pub use via::Via;

/// How the console behaves; every field has a sound default.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The central contact centre's consulate id (`ro-ccscrs` in the demo data).
    pub central: ConsulateId,
    pub sessions: SessionPolicy,
    pub lockout: LockoutPolicy,
    /// The issuer shown in authenticator apps.
    pub totp_issuer: String,
    /// Mark cookies `Secure` (when a TLS terminator sits in front of the console).
    pub secure_cookies: bool,
    /// How often the live-update watcher looks for committed changes.
    pub live_poll: Duration,
    /// The request types a case may be given; the one intake uses.
    pub taxonomy: Arc<intake::Taxonomy>,
}

impl Settings {
    pub fn new(central: ConsulateId) -> Self {
        Self {
            central,
            sessions: SessionPolicy::default(),
            lockout: LockoutPolicy::default(),
            totp_issuer: "Legătura".to_owned(),
            secure_cookies: false,
            live_poll: Duration::from_millis(250),
            taxonomy: Arc::new(intake::Taxonomy::default_v1()),
        }
    }
}

/// The console could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("console template {0}")]
    Template(#[from] minijinja::Error),
}

/// Everything the console's handlers share.
pub struct Console {
    store: Arc<Store>,
    audit: Arc<audit::AuditLog>,
    policy: Policy,
    sessions: Sessions,
    limiter: AttemptLimiter,
    settings: Settings,
    pages: render::Pages,
    live: live::Live,
    chat: std::sync::OnceLock<Arc<chat::Hub>>,
    phones: std::sync::OnceLock<Arc<telephony::Telephony>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("central", &self.settings.central)
            .finish_non_exhaustive()
    }
}

impl Console {
    pub fn new(
        store: Arc<Store>,
        audit: Arc<audit::AuditLog>,
        settings: Settings,
    ) -> Result<Arc<Self>, ConsoleError> {
        Ok(Arc::new(Self {
            policy: Policy::new(settings.central.clone()),
            sessions: Sessions::new(settings.sessions),
            limiter: AttemptLimiter::default(),
            pages: render::Pages::new()?,
            live: live::Live::new(store.clone(), settings.live_poll),
            chat: std::sync::OnceLock::new(),
            phones: std::sync::OnceLock::new(),
            store,
            audit,
            settings,
        }))
    }

    /// Connects the console's chat pages to the hub the portal's chat windows use; once.
    pub fn attach_chat(&self, hub: Arc<chat::Hub>) {
        if self.chat.set(hub).is_err() {
            tracing::warn!("a chat hub was already attached; keeping the first");
        }
    }

    /// Connects the console's phone pages to the telephony bridge; once.
    pub fn attach_phones(&self, bridge: Arc<telephony::Telephony>) {
        if self.phones.set(bridge).is_err() {
            tracing::warn!("a telephony bridge was already attached; keeping the first");
        }
    }

    /// The routes. Serve them with connect info of type [`Via`]
    /// (`into_make_service_with_connect_info::<Via>()`), from [`Console::serve_tunnel`] or
    /// [`Console::serve_central`].
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/", get(queues::home))
            .route("/login", get(login::page).post(login::submit))
            .route("/logout", post(login::logout))
            .route("/queues/{queue}", get(queues::page))
            .route("/queues/{queue}/rows", get(queues::rows))
            .route("/events", get(live::events))
            .route("/cases/{number}", get(case_view::page))
            .route("/cases/{number}/{action}", post(actions::act))
            .route("/dashboard", get(dashboard::page))
            .route("/dashboard.csv", get(dashboard::csv))
            .route(
                "/break-glass",
                get(dashboard::break_glass_log).post(actions::break_glass),
            )
            .route("/kb", get(knowledge::index).post(knowledge::save))
            .route("/outbox/dead", get(outbox::dead_letters))
            .route("/outbox/dead/{id}/requeue", post(outbox::requeue))
            .route("/templates", get(outbox::templates))
            .route("/kb/{id}", get(knowledge::article))
            .route("/chats", get(chats::list))
            .route("/chats/rows", get(chats::rows))
            .route("/chats/{number}", get(chats::page))
            .route("/chats/{number}/events", get(chats::events))
            .route("/chats/{number}/pickup", post(chats::pickup))
            .route("/chats/{number}/send", post(chats::send))
            .route("/chats/{number}/typing", post(chats::typing))
            .route("/phone", get(phone::page))
            .route("/phone/panel", get(phone::panel))
            .route("/phone/events", get(phone::events))
            .route("/phone/queues", get(phone::queues))
            .route("/phone/{action}", post(phone::act))
            .route("/static/phone.js", get(phone::script))
            .route("/static/chat.js", get(chats::script))
            .route("/static/console.js", get(render::script))
            .route("/static/console.css", get(render::style))
            .layer(axum::middleware::from_fn(forms::same_origin))
            .layer(axum::extract::DefaultBodyLimit::max(forms::MAX_BODY))
            .with_state(self.clone())
    }

    /// Serves agents who come through the tunnel: `listener` reads the hub's PROXY header.
    pub async fn serve_tunnel(
        self: Arc<Self>,
        listener: tunnel_origin::OriginListener,
    ) -> std::io::Result<()> {
        let app = self.router().into_make_service_with_connect_info::<Via>();
        axum::serve(listener, app).await
    }

    /// Serves the central network: every connection here is [`access::AccessPath::Central`].
    pub async fn serve_central(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
    ) -> std::io::Result<()> {
        let app = self.router().into_make_service_with_connect_info::<Via>();
        axum::serve(listener, app).await
    }

    /// Writes one event to the audit log. A failure to audit is logged loudly; the caller has
    /// already committed the change it describes, and refusing service would not undo it.
    fn audit(&self, event: audit::Event) {
        if let Err(error) = self.audit.append(event) {
            tracing::error!(%error, "the audit log refused an event");
        }
    }
}

type App = Arc<Console>;

/// The store's idea of now.
fn now() -> casestore::Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    casestore::Timestamp::from_unix_ms(ms)
}

/// Seconds since the epoch, for TOTP.
fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
