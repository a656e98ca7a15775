//! The outbox worker: claims events (a lease), decides what each means for the citizen on the
//! case's channel, and for e-mail renders the template in the citizen's language and hands the
//! mail to the relay. An event leaves the outbox only in the transaction that records the
//! relay's acceptance ([`casestore::Store::mail_sent`]); a crash before that leaves it leased,
//! and it comes back when the lease runs out. Failures are retried with exponential backoff;
//! after the last attempt, or at once on a permanent refusal, the event is dead-lettered with a
//! note in its case.
//!
//! Every mail carries a `Message-ID` chosen at its first attempt and kept across retries, and
//! `In-Reply-To`/`References` naming the case's earlier mail, so mail clients thread the
//! conversation; the subject carries `[CSC-YYYY-NNNNNNN]`. Automatic messages carry
//! `Auto-Submitted: auto-replied` (RFC 3834), and acknowledgements are limited per address.

use std::sync::Arc;
use std::time::Duration;

use casestore as cs;
use futures::StreamExt as _;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use ring::rand::SecureRandom as _;
use serde_json::Value;
use tracing::{debug, info, warn};

use crate::relay::{Relay, SendError};
use crate::templates::{Kind, Sample, Templates};

/// How the worker sends.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// From (and Reply-To) of every mail: the channel's own address.
    pub from: Mailbox,
    /// The domain of Message-IDs.
    pub hostname: String,
    /// The portal's base URL; the tracking page is `{portal_url}/status`.
    pub portal_url: String,
    /// Attempts before an event is dead-lettered.
    pub max_attempts: u32,
    /// The first retry's delay; each later one doubles, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// How long a claimed event stays invisible to other workers.
    pub lease: Duration,
    /// Events claimed at once.
    pub batch: usize,
    /// Cases whose mail is in flight to the relay at once. Events of one case always go one
    /// after the other, in outbox order, so an acknowledgement never overtakes nothing and a
    /// reply never overtakes the acknowledgement.
    pub parallel: usize,
    /// How often the outbox is polled when idle.
    pub poll: Duration,
    /// Acknowledgements one address may receive per hour.
    pub acks_per_hour: u64,
    /// Whether a chat case's citizen has the chat window open. A chat whose citizen has gone
    /// is answered by e-mail (when they gave an address); without this, never.
    pub chat_presence: Option<ChatPresence>,
}

/// Asks the live chat hub whether a case's citizen is in the chat window now.
#[derive(Clone)]
pub struct ChatPresence(pub Arc<dyn Fn(cs::CaseId) -> bool + Send + Sync>);

impl std::fmt::Debug for ChatPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatPresence")
    }
}

impl WorkerSettings {
    pub fn new(from: Mailbox, hostname: &str, portal_url: &str) -> Self {
        Self {
            from,
            hostname: hostname.to_owned(),
            portal_url: portal_url.trim_end_matches('/').to_owned(),
            max_attempts: 8,
            backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            lease: Duration::from_secs(120),
            batch: 32,
            parallel: 8,
            poll: Duration::from_millis(500),
            acks_per_hour: 5,
            chat_presence: None,
        }
    }

    /// The delay before the retry after `attempts` failures.
    pub fn backoff_after(&self, attempts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// What an event means for the citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// Nothing to send (not for the citizen, another channel, or suppressed).
    Nothing(&'static str),
    Send {
        kind: Kind,
        reply: Option<String>,
    },
}

/// The `Auto-Submitted` header.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-replied".to_owned())
    }
}

/// The outbox worker.
#[derive(Debug, Clone)]
pub struct Worker {
    pub store: Arc<cs::Store>,
    pub relay: Relay,
    pub templates: Arc<Templates>,
    pub settings: Arc<WorkerSettings>,
    in_flight: Arc<InFlight>,
}

/// Acknowledgements being sent but not yet recorded, per address. The hourly limit counts
/// them with the recorded ones, so cases of one address handled side by side cannot all pass
/// the check before any of them is recorded.
#[derive(Debug, Default)]
struct InFlight(std::sync::Mutex<std::collections::HashMap<String, u64>>);

/// One acknowledgement counted in [`InFlight`] until it is dropped: after its sending was
/// recorded, or it failed.
#[derive(Debug)]
struct Reservation {
    address: String,
    in_flight: Arc<InFlight>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut map = self.in_flight.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.address);
            }
        }
    }
}

/// Groups claimed events by case, keeping the outbox order inside each case and the order
/// in which cases first appear.
fn by_case(events: Vec<cs::OutboxEvent>) -> Vec<Vec<cs::OutboxEvent>> {
    let mut groups: Vec<Vec<cs::OutboxEvent>> = Vec::new();
    let mut index: std::collections::HashMap<cs::CaseId, usize> = std::collections::HashMap::new();
    for event in events {
        match index.get(&event.case) {
            Some(&i) => groups[i].push(event),
            None => {
                index.insert(event.case, groups.len());
                groups.push(vec![event]);
            }
        }
    }
    groups
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
}

impl Worker {
    pub fn new(
        store: Arc<cs::Store>,
        relay: Relay,
        templates: Arc<Templates>,
        settings: Arc<WorkerSettings>,
    ) -> Self {
        Self {
            store,
            relay,
            templates,
            settings,
            in_flight: Arc::default(),
        }
    }

    /// Runs until the task is dropped.
    pub async fn run(self) {
        loop {
            let pass = self.pass().await;
            if pass.claimed == 0 {
                tokio::time::sleep(self.settings.poll).await;
            }
        }
    }

    /// Claims one batch and handles it.
    pub async fn pass(&self) -> Pass {
        let store = self.store.clone();
        let (n, lease) = (self.settings.batch, self.settings.lease);
        let claimed = match tokio::task::spawn_blocking(move || store.outbox_claim(n, lease)).await
        {
            Ok(Ok(events)) => events,
            Ok(Err(error)) => {
                warn!(%error, "claiming outbox events failed");
                return Pass::default();
            }
            Err(_) => return Pass::default(),
        };
        let mut pass = Pass {
            claimed: claimed.len(),
            ..Pass::default()
        };
        // An event handled after its lease ran out could be claimed again by another pass and
        // sent twice; what is left when three quarters of the lease are gone waits for it to
        // run out instead.
        let deadline = tokio::time::Instant::now() + lease.mul_f32(0.75);
        let outcomes: Vec<Result<bool, Failure>> = futures::stream::iter(by_case(claimed))
            .map(|events| async move {
                let mut outcomes = Vec::with_capacity(events.len());
                for event in &events {
                    if tokio::time::Instant::now() >= deadline {
                        debug!(event = event.id.get(), "lease nearly spent; left for later");
                        break;
                    }
                    outcomes.push(self.handle(event).await);
                }
                outcomes
            })
            .buffer_unordered(self.settings.parallel.max(1))
            .flat_map(futures::stream::iter)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Ok(true) => pass.sent += 1,
                Ok(false) => {}
                Err(Failure::Retry) => pass.retried += 1,
                Err(Failure::Dead) => pass.dead += 1,
            }
        }
        pass
    }

    /// One event: `Ok(true)` when a mail went out.
    async fn handle(&self, event: &cs::OutboxEvent) -> Result<bool, Failure> {
        let this = self.clone();
        let ev = event.clone();
        let prepared = tokio::task::spawn_blocking(move || this.prepare(&ev))
            .await
            .map_err(|_| Failure::Retry)?;
        let prepared = match prepared {
            Ok(p) => p,
            Err(error) => {
                warn!(%error, event = event.id.get(), "preparing a mail failed");
                return Err(self.failed(event, &error, false).await);
            }
        };
        let Some((message, mail_id, reservation)) = prepared else {
            return Ok(false);
        };
        let name = format!("{}-{}", event.case.get(), event.id.get());
        match self
            .relay
            .send(message, &format!("{}-{name}", mail_id.as_str()))
            .await
        {
            Ok(()) => {
                let store = self.store.clone();
                let (id, case) = (event.id, event.case);
                let done = tokio::task::spawn_blocking(move || {
                    // The reservation ends with this closure, after the commit.
                    store.mail_sent(
                        id,
                        case,
                        Some(&cs::SentMail {
                            mail_id: &mail_id,
                            automatic_to: reservation.as_ref().map(|r| r.address.as_str()),
                        }),
                    )
                })
                .await;
                match done {
                    Ok(Ok(())) => {
                        info!(event = event.id.get(), case = event.case.get(), "mail sent");
                        Ok(true)
                    }
                    // The relay has it; the lease will bring the event back and the same
                    // Message-ID goes out again, which mail systems de-duplicate.
                    other => {
                        warn!(
                            ?other,
                            event = event.id.get(),
                            "recording a sent mail failed"
                        );
                        Err(Failure::Retry)
                    }
                }
            }
            Err(SendError::Permanent(error)) => Err(self.failed(event, &error, true).await),
            Err(SendError::Transient(error)) => Err(self.failed(event, &error, false).await),
        }
    }

    /// Retries later, or gives up: `permanent`, or the attempts are spent.
    async fn failed(&self, event: &cs::OutboxEvent, error: &str, permanent: bool) -> Failure {
        let attempts = event.attempts + 1;
        let store = self.store.clone();
        let id = event.id;
        let error = error.to_owned();
        if permanent || attempts >= self.settings.max_attempts {
            warn!(event = id.get(), attempts, %error, "giving the event up: dead letter");
            let text = format!(
                "An automatic e-mail ({}) could not be delivered after {attempts} attempt(s): {}",
                event.kind,
                error.chars().take(1500).collect::<String>()
            );
            let dead = tokio::task::spawn_blocking(move || {
                let note = cs::Note::new(text)
                    .or_else(|_| cs::Note::new("An automatic e-mail could not be delivered."))?;
                store.outbox_dead_letter(id, &error, &note)
            })
            .await;
            if let Ok(Err(e)) | Err(e) = dead.map_err(|e| cs::WriteError::Corrupt(e.to_string())) {
                warn!(error = %e, "dead-lettering failed; the lease brings the event back");
            }
            return Failure::Dead;
        }
        let delay = self.settings.backoff_after(attempts);
        debug!(event = id.get(), attempts, ?delay, %error, "delivery failed; will retry");
        let retry_at =
            now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        let _ = tokio::task::spawn_blocking(move || {
            store.outbox_failed(id, &error, cs::Timestamp::from_unix_ms(retry_at))
        })
        .await;
        Failure::Retry
    }

    /// Blocking: reads what the event needs and builds the mail, or finishes an event with
    /// nothing to send. `None` when finished.
    fn prepare(&self, event: &cs::OutboxEvent) -> Result<Option<Prepared>, String> {
        let store = &self.store;
        let nothing = |why: &str| -> Result<Option<Prepared>, String> {
            debug!(event = event.id.get(), why, "nothing to send");
            store
                .mail_sent(event.id, event.case, None)
                .map_err(|e| e.to_string())?;
            Ok(None)
        };
        let Some(case) = store.case(event.case).map_err(|e| e.to_string())? else {
            return nothing("no such case");
        };
        let chat_live = case.channel == cs::Channel::Chat
            && self
                .settings
                .chat_presence
                .as_ref()
                .is_none_or(|present| (present.0)(case.id));
        let plan = plan(event, &case, chat_live);
        let (kind, reply) = match plan {
            Plan::Nothing(why) => return nothing(why),
            Plan::Send { kind, reply } => (kind, reply),
        };
        let contacts = store.mail_contacts(case.id).map_err(|e| e.to_string())?;
        let Some(to) = contacts.iter().find(|c| c.undeliverable_at.is_none()) else {
            return nothing("no deliverable e-mail address");
        };
        let mut tracking_code = String::new();
        let mut reservation = None;
        if kind == Kind::Acknowledgement {
            match store.mail_ack_code(case.id).map_err(|e| e.to_string())? {
                Some(code) => tracking_code = code,
                None => {
                    return nothing("no acknowledgement for this mail (automatic or list mail)");
                }
            }
            let since = cs::Timestamp::from_unix_ms(now_ms() - 3_600_000);
            // Held across the count and the reservation, so the check and the count move
            // together for every case of this address.
            let mut in_flight = self.in_flight.0.lock().unwrap_or_else(|p| p.into_inner());
            let recent = store
                .auto_replies_since(&to.address, since)
                .map_err(|e| e.to_string())?
                + in_flight.get(&to.address).copied().unwrap_or(0);
            if recent >= self.settings.acks_per_hour {
                drop(in_flight);
                info!(case = %case.case_no, "acknowledgement suppressed: the address had enough this hour");
                return nothing("automatic answers to this address are rate-limited");
            }
            *in_flight.entry(to.address.clone()).or_default() += 1;
            reservation = Some(Reservation {
                address: to.address.clone(),
                in_flight: self.in_flight.clone(),
            });
        }
        let reply_text = match reply {
            Some(id) => {
                let messages = store
                    .messages(case.id, Some(cs::Visibility::External))
                    .map_err(|e| e.to_string())?;
                match messages.into_iter().find(|m| m.id.get().to_string() == id) {
                    Some(m) => m.body.as_str().to_owned(),
                    None => return nothing("the message is gone"),
                }
            }
            None => String::new(),
        };
        let persons = store.persons(case.id).map_err(|e| e.to_string())?;
        let name = persons
            .first()
            .map(|p| {
                let given = p.given_names.as_str();
                if given == "-" {
                    p.family_name.as_str().to_owned()
                } else {
                    format!("{given} {}", p.family_name)
                }
            })
            .unwrap_or_default();
        let status = event
            .detail
            .get("to")
            .and_then(Value::as_str)
            .unwrap_or(case.status.code())
            .to_owned();
        let sample = Sample {
            case_no: case.case_no.to_string(),
            tracking_code,
            tracking_url: format!("{}/status", self.settings.portal_url),
            name,
            status,
            reply: reply_text,
            emergency: case.priority.is_emergency(),
            consulate: case.consulate.as_str().to_owned(),
        };
        let rendered = self
            .templates
            .render(kind, case.language.as_str(), &sample)
            .map_err(|e| format!("template {}: {e}", kind.code()))?;

        let fresh = fresh_id(&self.settings.hostname, &case.case_no.to_string())?;
        let mail_id = store
            .mail_pending_id(event.id, &fresh)
            .map_err(|e| e.to_string())?;
        let thread = store.mail_thread(case.id, 20).map_err(|e| e.to_string())?;
        let to_box: Mailbox = to
            .address
            .parse()
            .map_err(|e| format!("recipient {:?}: {e}", to.address))?;
        let mut builder = Message::builder()
            .from(self.settings.from.clone())
            .reply_to(self.settings.from.clone())
            .to(to_box)
            .subject(format!("[{}] {}", case.case_no, rendered.subject))
            .message_id(Some(mail_id.to_string()))
            .header(ContentType::TEXT_PLAIN);
        if let Some((last_in, _)) = thread.iter().rev().find(|(_, d)| *d == cs::Direction::In) {
            builder = builder.in_reply_to(last_in.to_string());
        }
        if !thread.is_empty() {
            let refs: Vec<String> = thread.iter().map(|(id, _)| id.to_string()).collect();
            builder = builder.references(refs.join(" "));
        }
        if kind.is_automatic() {
            builder = builder.header(AutoSubmitted);
        }
        let message = builder
            .body(rendered.body)
            .map_err(|e| format!("building the mail: {e}"))?;
        Ok(Some((message, mail_id, reservation)))
    }
}

/// A mail ready for the relay: the message, its id, and the acknowledgement's reservation.
type Prepared = (Message, cs::MailId, Option<Reservation>);

enum Failure {
    Retry,
    Dead,
}

/// What an event means for the citizen of `case`; `chat_live`: a chat case's citizen is in
/// the chat window (or nobody can tell).
fn plan(event: &cs::OutboxEvent, case: &cs::Case, chat_live: bool) -> Plan {
    // The citizen hears on the channel they used. The portal shows web cases' answers on its
    // tracking page. A chat's answers go to its window; once the citizen has left it, they
    // come by e-mail — but never the acknowledgement: the chat showed the tracking code.
    match case.channel {
        cs::Channel::Email => {}
        cs::Channel::Chat if chat_live => return Plan::Nothing("the citizen is in the chat"),
        cs::Channel::Chat if event.kind == cs::EventKind::CaseCreated => {
            return Plan::Nothing("a chat showed its tracking code on screen");
        }
        cs::Channel::Chat => {}
        _ => return Plan::Nothing("not an e-mail case"),
    }
    let detail = |k: &str| {
        event
            .detail
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    match event.kind {
        cs::EventKind::CaseCreated => Plan::Send {
            kind: Kind::Acknowledgement,
            reply: None,
        },
        cs::EventKind::MessageAdded
            if detail("direction") == "out" && detail("visibility") == "external" =>
        {
            Plan::Send {
                kind: Kind::AgentReply,
                reply: event.detail.get("message_id").map(|v| v.to_string()),
            }
        }
        cs::EventKind::StatusChanged if detail("actor") != "system" => match detail("to") {
            "waiting_citizen" => Plan::Send {
                kind: Kind::RequestDocuments,
                reply: None,
            },
            "resolved" | "closed" => Plan::Send {
                kind: Kind::Closure,
                reply: None,
            },
            "in_progress" | "referred" => Plan::Send {
                kind: Kind::StatusChange,
                reply: None,
            },
            _ => Plan::Nothing("a status the citizen is not told of"),
        },
        _ => Plan::Nothing("not for the citizen"),
    }
}

/// A new Message-ID: random, with the case number for people reading headers.
fn fresh_id(hostname: &str, case_no: &str) -> Result<cs::MailId, String> {
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random number generator failed".to_owned())?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    cs::MailId::new(&format!("{case_no}.{hex}@{hostname}")).map_err(|e| e.to_string())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut s = WorkerSettings::new(
            "Legătura <c@x.test>".parse().unwrap(),
            "x.test",
            "http://p/",
        );
        s.backoff = Duration::from_secs(10);
        s.max_backoff = Duration::from_secs(60);
        let delays: Vec<u64> = (1..=6).map(|a| s.backoff_after(a).as_secs()).collect();
        assert_eq!(delays, vec![10, 20, 40, 60, 60, 60]);
        assert_eq!(s.backoff_after(200).as_secs(), 60);
        assert_eq!(s.portal_url, "http://p");
    }

    #[test]
    fn a_batch_is_split_by_case_keeping_each_case_in_outbox_order() {
        let event = |id: i64, case: i64| cs::OutboxEvent {
            id: cs::OutboxId::from_raw(id),
            kind: cs::EventKind::CaseCreated,
            case: cs::CaseId::from_raw(case),
            detail: Value::Null,
            created_at: cs::Timestamp::from_unix_ms(id),
            attempts: 0,
            last_error: None,
        };
        let batch = vec![
            event(1, 7),
            event(2, 9),
            event(3, 7),
            event(4, 8),
            event(5, 9),
        ];
        let groups: Vec<Vec<i64>> = by_case(batch)
            .iter()
            .map(|g| g.iter().map(|e| e.id.get()).collect())
            .collect();
        assert_eq!(groups, vec![vec![1, 3], vec![2, 5], vec![4]]);
    }
}
