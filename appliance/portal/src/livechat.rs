//! The live chat's citizen side: `GET /chat` (the window; without JavaScript it offers the
//! request form and the status page), `GET /static/chat.js`, and `GET /chat/ws`, a WebSocket
//! carrying JSON frames ([`chat::FromCitizen`] in, [`chat::ToCitizen`] out).
//!
//! A chat is a case of channel `chat` from its first message; every message the citizen sends
//! is stored in the case before `delivered` is said, then handed to the [`chat::Hub`] for the
//! agents watching. Frames over the size limit, malformed or too fast are refused with a clear
//! message on this connection only. A new chat nobody picks up within the hub's wait is told
//! so; the answer then comes by e-mail (the outbox worker mails a chat case's answers while its
//! window is not connected) or on the status page. A returning citizen resumes with case number
//! and tracking code, checked by the store and rate-limited like status lookups.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use casestore as cs;
use chat::{FromCitizen, Line, RateLimit, ToAgent, ToCitizen};
use minijinja::context;
use serde::Deserialize;

use crate::Portal;
use crate::pages::{pick_lang, render};

/// The largest WebSocket message read at all; larger ones end the connection. Frames between
/// [`chat::MAX_FRAME`] and this are refused with a message and the chat goes on.
const MAX_WS_MESSAGE: usize = 64 * 1024;

/// Frames of any kind a connection may send per window, and refusals before it is closed.
const FRAMES_PER_WINDOW: usize = 40;
const MAX_REFUSALS: u32 = 30;

#[derive(Debug, Deserialize)]
pub(crate) struct ChatQuery {
    lang: Option<String>,
    case: Option<String>,
}

pub(crate) async fn page(
    State(portal): State<Arc<Portal>>,
    Query(q): Query<ChatQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = pick_lang(&portal, q.lang.as_deref(), &headers);
    let catalog = portal.catalogs.get(lang);
    let texts: serde_json::Map<String, serde_json::Value> = catalog
        .texts()
        .iter()
        .filter(|(k, _)| k.starts_with("chat_"))
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    let case = q
        .case
        .filter(|c| c.len() <= 32 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .unwrap_or_default();
    render(
        &portal,
        StatusCode::OK,
        "chat.html",
        lang,
        context! { texts => serde_json::Value::Object(texts).to_string(), case => case },
    )
}

pub(crate) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../static/chat.js"),
    )
        .into_response()
}

pub(crate) async fn socket(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if portal.chat.is_none() {
        return (StatusCode::NOT_FOUND, "no chat on this portal\n").into_response();
    }
    upgrade
        .max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |ws| async move {
            Session::new(portal, peer.ip()).run(ws).await;
        })
}

/// A chat that has its case.
struct Active {
    case: cs::CaseId,
    language: cs::Language,
    link: chat::CitizenLink,
    email: Option<String>,
}

type Timer = Pin<Box<dyn Future<Output = bool> + Send>>;

struct Session {
    portal: Arc<Portal>,
    hub: Arc<chat::Hub>,
    ip: IpAddr,
    lang: &'static str,
    active: Option<Active>,
    messages: RateLimit,
    frames: RateLimit,
    typing: RateLimit,
    refusals: u32,
}

/// What to do after a frame.
enum Next {
    Go,
    Close,
}

impl Session {
    fn new(portal: Arc<Portal>, ip: IpAddr) -> Self {
        let hub = portal
            .chat
            .clone()
            .unwrap_or_else(|| chat::Hub::new(Default::default()));
        let s = hub.settings().clone();
        let lang = portal.catalogs.languages().next().unwrap_or("ro");
        Self {
            messages: RateLimit::new(s.messages_per_window, s.window),
            frames: RateLimit::new(FRAMES_PER_WINDOW, s.window),
            typing: RateLimit::new(1, Duration::from_secs(1)),
            portal,
            hub,
            ip,
            lang,
            active: None,
            refusals: 0,
        }
    }

    async fn run(mut self, mut ws: WebSocket) {
        let mut timer: Option<Timer> = None;
        loop {
            let out = async {
                match self.active.as_mut() {
                    Some(a) => a.link.rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let waited = async {
                match timer.as_mut() {
                    Some(t) => t.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                incoming = ws.recv() => {
                    let text = match incoming {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Binary(_))) => Utf8Bytes::from_static("\u{0}"),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    };
                    let (next, start_timer) = self.frame(&mut ws, text.as_str()).await;
                    if start_timer {
                        timer = self.timer();
                    }
                    if matches!(next, Next::Close) {
                        break;
                    }
                }
                frame = out => match frame {
                    Some(frame) => {
                        if send(&mut ws, &frame).await.is_err() {
                            break;
                        }
                    }
                    None => {
                        // Another window took this chat over.
                        let _ = self.error(&mut ws, "replaced").await;
                        break;
                    }
                },
                picked = waited => {
                    timer = None;
                    if !picked {
                        self.no_agent(&mut ws).await;
                    }
                }
            }
        }
        let _ = ws.send(Message::Close(None)).await;
    }

    /// The no-agent wait, for a chat nobody has yet.
    fn timer(&self) -> Option<Timer> {
        let case = self.active.as_ref()?.case;
        let hub = self.hub.clone();
        let wait = hub.settings().no_agent_wait;
        Some(Box::pin(
            async move { hub.wait_for_agent(case, wait).await },
        ))
    }

    async fn frame(&mut self, ws: &mut WebSocket, text: &str) -> (Next, bool) {
        if !self.frames.allow(Instant::now()) {
            return (self.refuse(ws, "too_fast").await, false);
        }
        let parsed = match chat::parse(text) {
            Ok(parsed) => parsed,
            Err(e) => return (self.refuse(ws, e.code()).await, false),
        };
        match parsed {
            FromCitizen::Typing {} => {
                if let Some(a) = &self.active
                    && self.typing.allow(Instant::now())
                {
                    self.hub.to_agents(a.case, ToAgent::Typing);
                }
                (Next::Go, false)
            }
            FromCitizen::Message { id, text } => {
                if self.active.is_none() {
                    return (self.refuse(ws, "not_started").await, false);
                }
                if !self.messages.allow(Instant::now()) {
                    return (self.refuse(ws, "too_fast").await, false);
                }
                (self.message(ws, id, text).await, false)
            }
            FromCitizen::Start {
                lang,
                name,
                email,
                country,
                city,
                text,
            } => {
                if self.active.is_some() {
                    return (self.refuse(ws, "bad_frame").await, false);
                }
                if !self.messages.allow(Instant::now()) {
                    return (self.refuse(ws, "too_fast").await, false);
                }
                self.lang = self.portal.catalogs.negotiate(Some(&lang), None);
                let start = NewChat {
                    name,
                    email,
                    country,
                    city,
                    text,
                };
                self.start(ws, start).await
            }
            FromCitizen::Resume { case, code } => {
                if self.active.is_some() {
                    return (self.refuse(ws, "bad_frame").await, false);
                }
                self.resume(ws, &case, &code).await
            }
        }
    }

    async fn refuse(&mut self, ws: &mut WebSocket, code: &str) -> Next {
        self.refusals += 1;
        if self.error(ws, code).await.is_err() || self.refusals > MAX_REFUSALS {
            return Next::Close;
        }
        Next::Go
    }

    async fn error(&self, ws: &mut WebSocket, code: &str) -> Result<(), axum::Error> {
        let key = format!("chat_err_{code}");
        let text = self.portal.catalogs.get(self.lang).t(&key).to_owned();
        send(
            ws,
            &ToCitizen::Error {
                code: code.to_owned(),
                text,
            },
        )
        .await
    }

    async fn start(&mut self, ws: &mut WebSocket, new: NewChat) -> (Next, bool) {
        if !self.portal.chat_starts.allow(self.ip) {
            return (self.refuse(ws, "rate_limited").await, false);
        }
        if self.hub.len() >= self.hub.settings().max_chats {
            return (self.refuse(ws, "busy").await, false);
        }
        let email = new.email.trim().to_owned();
        let country = new.country.trim().to_ascii_uppercase();
        if (!email.is_empty() && !plausible_email(&email))
            || (!country.is_empty()
                && (country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic())))
        {
            return (self.refuse(ws, "invalid").await, false);
        }
        let portal = self.portal.clone();
        let lang = self.lang;
        let text = new.text.trim().to_owned();
        let (name, city) = (new.name.trim().to_owned(), new.city.trim().to_owned());
        let mail = email.clone();
        let created = tokio::task::spawn_blocking(move || {
            create(&portal, lang, &name, &mail, &country, &city, &text)
        })
        .await;
        let (created, first) = match created {
            Ok(Ok(done)) => done,
            Ok(Err(error)) => {
                tracing::error!(%error, "chat case not created");
                return (self.refuse(ws, "server").await, false);
            }
            Err(error) => {
                tracing::error!(%error, "chat case task failed");
                return (self.refuse(ws, "server").await, false);
            }
        };
        let Ok(link) = self.hub.connect_citizen(created.case_id) else {
            return (self.refuse(ws, "busy").await, false);
        };
        self.active = Some(Active {
            case: created.case_id,
            language: cs::Language::new(self.lang).unwrap_or_else(|_| first.language.clone()),
            link,
            email: (!email.is_empty()).then_some(email),
        });
        let frame = ToCitizen::Started {
            case: created.case_no.to_string(),
            code: created.tracking_code.map(|c| c.as_str().to_owned()),
            history: vec![Line {
                from: "citizen",
                name: String::new(),
                text: first.body.to_string(),
                at: first.at.unix_ms(),
            }],
        };
        let next = if send(ws, &frame).await.is_err() {
            Next::Close
        } else {
            Next::Go
        };
        (next, true)
    }

    async fn resume(&mut self, ws: &mut WebSocket, case: &str, code: &str) -> (Next, bool) {
        if !self.portal.limiter.allow(self.ip) {
            return (self.refuse(ws, "rate_limited").await, false);
        }
        let portal = self.portal.clone();
        let (case_text, code) = (case.trim().to_uppercase(), code.trim().to_owned());
        let found = tokio::task::spawn_blocking(move || {
            let no = case_text.parse::<cs::CaseNumber>().ok()?;
            let id = portal.store.verify_tracking(no, &code).ok()??;
            let case = portal.store.case(id).ok()??;
            let messages = portal
                .store
                .messages(id, Some(cs::Visibility::External))
                .ok()?;
            let email = portal
                .store
                .mail_contacts(id)
                .ok()?
                .into_iter()
                .find(|c| c.undeliverable_at.is_none())
                .map(|c| c.address);
            Some((case, messages, email))
        })
        .await
        .ok()
        .flatten();
        // A wrong number, a wrong code and a case of another channel get the same answer.
        let Some((case, messages, email)) = found.filter(|(c, ..)| c.channel == cs::Channel::Chat)
        else {
            return (self.refuse(ws, "not_found").await, false);
        };
        self.lang = self
            .portal
            .catalogs
            .negotiate(Some(case.language.as_str()), None);
        let history = messages.iter().map(line).collect();
        if matches!(
            case.status,
            cs::Status::Resolved | cs::Status::Closed | cs::Status::Merged
        ) {
            let _ = send(
                ws,
                &ToCitizen::Started {
                    case: case.case_no.to_string(),
                    code: None,
                    history,
                },
            )
            .await;
            return (self.refuse(ws, "closed").await, false);
        }
        let Ok(link) = self.hub.connect_citizen(case.id) else {
            return (self.refuse(ws, "busy").await, false);
        };
        let waiting = case.assignee.is_none();
        self.active = Some(Active {
            case: case.id,
            language: case.language.clone(),
            link,
            email,
        });
        let frame = ToCitizen::Started {
            case: case.case_no.to_string(),
            code: None,
            history,
        };
        if send(ws, &frame).await.is_err() {
            return (Next::Close, false);
        }
        (Next::Go, waiting)
    }

    async fn message(&mut self, ws: &mut WebSocket, id: String, text: String) -> Next {
        let Some(active) = &self.active else {
            return Next::Go;
        };
        let (case, language) = (active.case, active.language.clone());
        let store = self.portal.store.clone();
        let body = text.trim().to_owned();
        let stored = tokio::task::spawn_blocking(move || -> Result<_, String> {
            let msg = cs::NewMessage {
                direction: cs::Direction::In,
                channel: cs::Channel::Chat,
                author: cs::Actor::Citizen,
                visibility: cs::Visibility::External,
                language,
                body: cs::Body::new(body.clone()).map_err(|e| e.to_string())?,
                attachments: Vec::new(),
            };
            let id = store
                .add_message(case, &msg, cs::Expect::Any)
                .map_err(|e| e.to_string())?;
            Ok((id, body))
        })
        .await;
        match stored {
            Ok(Ok((message, body))) => {
                self.hub.to_agents(
                    case,
                    ToAgent::Message {
                        id: message.get(),
                        text: body,
                        at: now_ms(),
                    },
                );
                if send(ws, &ToCitizen::Delivered { id }).await.is_err() {
                    return Next::Close;
                }
                Next::Go
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "chat message not stored");
                self.refuse(ws, "server").await
            }
            Err(error) => {
                tracing::error!(%error, "chat message task failed");
                self.refuse(ws, "server").await
            }
        }
    }

    /// Nobody picked the chat up: the case says so (an internal note for the agents), the
    /// citizen is told how the answer will come.
    async fn no_agent(&mut self, ws: &mut WebSocket) {
        let Some(active) = &self.active else { return };
        let (case, language, email) = (active.case, active.language.clone(), active.email.clone());
        let wait = self.hub.settings().no_agent_wait;
        let note = match &email {
            Some(address) => format!(
                "Chat: no agent picked this chat up within {}s. The citizen was told that the \
                 answer comes by e-mail to {address} (replies are mailed while their chat window \
                 is closed) and on the status page.",
                wait.as_secs()
            ),
            None => format!(
                "Chat: no agent picked this chat up within {}s. The citizen left no e-mail \
                 address and was told to follow the answer on the status page.",
                wait.as_secs()
            ),
        };
        let store = self.portal.store.clone();
        let noted = tokio::task::spawn_blocking(move || -> Result<(), String> {
            let msg = cs::NewMessage {
                direction: cs::Direction::Out,
                channel: cs::Channel::Chat,
                author: cs::Actor::System,
                visibility: cs::Visibility::Internal,
                language,
                body: cs::Body::new(note).map_err(|e| e.to_string())?,
                attachments: Vec::new(),
            };
            store
                .add_message(case, &msg, cs::Expect::Any)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await;
        if !matches!(noted, Ok(Ok(()))) {
            tracing::warn!(case = case.get(), "the no-agent note was not stored");
        }
        let catalog = self.portal.catalogs.get(self.lang);
        let text = match &email {
            Some(address) => catalog.t("chat_no_agent_email").replace("{email}", address),
            None => catalog.t("chat_no_agent_status").to_owned(),
        };
        let _ = send(ws, &ToCitizen::NoAgent { text }).await;
    }
}

struct NewChat {
    name: String,
    email: String,
    country: String,
    city: String,
    text: String,
}

fn line(m: &cs::Message) -> Line {
    let agent = m.direction == cs::Direction::Out;
    Line {
        from: if agent { "agent" } else { "citizen" },
        name: String::new(),
        text: m.body.to_string(),
        at: m.at.unix_ms(),
    }
}

fn plausible_email(s: &str) -> bool {
    s.len() <= 254
        && !s.contains(char::is_whitespace)
        && s.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

/// Writes the chat's case: decided by intake like any request (emergency words included),
/// channel `chat`, the first message the citizen's.
fn create(
    portal: &Portal,
    lang: &str,
    name: &str,
    email: &str,
    country: &str,
    city: &str,
    text: &str,
) -> Result<(cs::CaseCreated, cs::Message), String> {
    let decision = portal.intake.decide(&intake::Request {
        declared_type: None,
        declared_priority: None,
        text,
        country,
        city,
    });
    let e = |e: cs::InvalidValue| e.to_string();
    let mut contacts = Vec::new();
    if !email.is_empty() {
        contacts.push(cs::NewContact {
            kind: cs::ContactKind::Email,
            value: cs::ContactValue::new(email.to_owned()).map_err(e)?,
            verification: cs::Verification::Unverified,
        });
    }
    let (given, family_name) = match name.rsplit_once(' ') {
        Some((given, family)) => (given.trim(), family.trim()),
        None if name.is_empty() => ("-", "-"),
        None => ("-", name),
    };
    let mut key = [0u8; 16];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key);
    let type_code = decision.case_type.as_ref().map_or("D1", |t| t.as_str());
    let new = cs::NewCase {
        idempotency_key: Some(
            cs::IdempotencyKey::new(format!("chat:{}", hex::encode(key))).map_err(e)?,
        ),
        case_type: cs::CaseType {
            code: cs::TypeCode::new(type_code).map_err(e)?,
            subtype: None,
            taxonomy_version: decision.taxonomy_version,
            family: cs::Family::from_intake(decision.family),
        },
        priority: cs::Priority::from_code(decision.priority.as_str()).unwrap_or(cs::Priority::P3),
        sensitivity: decision.sensitivity.into(),
        consulate: cs::ConsulateId::new(decision.consulate.as_str()).map_err(e)?,
        channel: cs::Channel::Chat,
        language: cs::Language::new(lang).map_err(e)?,
        needs_triage: decision.case_type.is_none(),
        subject: cs::NewPerson {
            family_name: cs::Name::new(family_name).map_err(e)?,
            given_names: cs::Name::new(given).map_err(e)?,
            birth_date: None,
            contacts,
            identifiers: Vec::new(),
        },
        requester: None,
        author: cs::Actor::Citizen,
        body: cs::Body::new(text).map_err(e)?,
        attachments: Vec::new(),
    };
    let created = portal.store.create_case(&new).map_err(|e| e.to_string())?;
    let first = portal
        .store
        .messages(created.case_id, Some(cs::Visibility::External))
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or("the new case has no message")?;
    Ok((created, first))
}

async fn send(ws: &mut WebSocket, frame: &ToCitizen) -> Result<(), axum::Error> {
    let json = serde_json::to_string(frame).unwrap_or_default();
    ws.send(Message::Text(json.into())).await
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
