//! The citizens' portal: server-rendered pages that work without JavaScript, in Romanian and
//! English (more languages are more catalogues), on the hub's public side.
//!
//! - `GET /` the request types; `GET /request?type=…` the form for one type, driven by the
//!   taxonomy; `POST /request` (multipart) validates, checks each document's real type and
//!   scans it with ClamAV, creates the case, and answers with the receipt.
//! - `GET /receipt/{case}.json?code=…` the signed receipt; `GET|POST /status` status by case
//!   number and tracking code, rate-limited, with one answer for a wrong number or a wrong code.
//!
//! - `GET /chat` the live chat window, `GET /chat/ws` its WebSocket (see `livechat`), when a
//!   [`chat::Hub`] is attached ([`Portal::with_chat`]).
//!
//! Invariants: every value shown is escaped by the template engine; a document is kept only
//! after clamd says it is clean; nothing of a refused request is stored; a repeated submission
//! (same form token) is one case.

mod forms;
mod help;
mod i18n;
mod livechat;
mod pages;
mod ratelimit;
mod submit;
mod upload;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

pub use i18n::{CatalogError, Catalogs};
pub use upload::{MAX_FILE, MAX_TOTAL};

/// Everything the portal needs.
pub struct Portal {
    pub store: Arc<casestore::Store>,
    pub files: Arc<casestore::AttachmentStore>,
    pub intake: Arc<intake::Intake>,
    pub scanner: scan::Clamd,
    pub receipt_key: Arc<dyn keys::Signer>,
    pub catalogs: Catalogs,
    env: minijinja::Environment<'static>,
    limiter: ratelimit::Limiter,
    chat: Option<Arc<chat::Hub>>,
    chat_starts: ratelimit::Limiter,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal").finish_non_exhaustive()
    }
}

/// The portal could not start.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("template {0}")]
    Template(#[from] minijinja::Error),
}

const TEMPLATES: [(&str, &str); 8] = [
    ("layout.html", include_str!("../templates/layout.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("form.html", include_str!("../templates/form.html")),
    ("receipt.html", include_str!("../templates/receipt.html")),
    ("status.html", include_str!("../templates/status.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("help.html", include_str!("../templates/help.html")),
    ("chat.html", include_str!("../templates/chat.html")),
];

impl Portal {
    pub fn new(
        store: Arc<casestore::Store>,
        files: Arc<casestore::AttachmentStore>,
        intake: Arc<intake::Intake>,
        scanner: scan::Clamd,
        receipt_key: Arc<dyn keys::Signer>,
    ) -> Result<Self, PortalError> {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self {
            store,
            files,
            intake,
            scanner,
            receipt_key,
            catalogs: Catalogs::embedded()?,
            env,
            limiter: ratelimit::Limiter::default(),
            chat: None,
            chat_starts: ratelimit::Limiter::default(),
        })
    }

    /// Offers the live chat through `hub` (shared with the console's chat pages).
    pub fn with_chat(mut self, hub: Arc<chat::Hub>) -> Self {
        self.chat = Some(hub);
        self
    }

    /// The portal's routes.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/", get(pages::home))
            .route("/request", get(pages::form).post(pages::submit))
            .route("/receipt/{file}", get(pages::receipt_file))
            .route("/help", get(help::help))
            .route("/chat", get(livechat::page))
            .route("/chat/ws", get(livechat::socket))
            .route("/static/chat.js", get(livechat::script))
            .route(
                "/status",
                get(pages::status_form).post(pages::status_lookup),
            )
            .fallback(pages::not_found)
            // Whole request: the documents' limit plus room for the fields.
            .layer(DefaultBodyLimit::max(MAX_TOTAL + (1 << 20)))
            .with_state(self)
    }
}
