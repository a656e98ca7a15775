//! The telephony bridge in the hub: `[telephony]` → the `telephony` crate's server, and its
//! calls joined to cases. When a call comes in, the caller's open case (a phone contact point
//! with their number) is linked to it, or a case of channel `phone` is opened the way the
//! other channels open theirs (intake decides type, priority and consulate; a queue naming a
//! consulate routes there; an emergency queue makes it P0). When it ends, its record goes to
//! the case store with that case.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use casestore as cs;
use telephony::{CallEvent, CallRecord, Telephony};
use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

use crate::config::TelephonySection;

/// Which appliance a UDP source is a tunnel flow of, as the hub's endpoint knows it from the
/// connection's certificate, and which gateway listener the phone sent to: how the registrar
/// learns the mission of a phone that registered through an embassy gateway (a `sip` UDP
/// service whose upstream is `[telephony] listen`), and where that phone's audio goes.
pub fn origins(hub: &tunnel::HubHandle) -> telephony::Origins {
    let hub = hub.clone();
    telephony::Origins::new(move |source| {
        hub.flow_source(source).map(|origin| telephony::Gateway {
            appliance: origin.appliance.to_string(),
            listener: origin.listener,
        })
    })
}

/// The tunnel's router for the routed `rtp` and `rtcp` services: each embassy phone's
/// datagram goes to the relay port of the call that expects that phone (docs/telephony.md,
/// *Audio through the tunnel*).
#[derive(Debug)]
pub struct PhoneAudio(telephony::MediaRoutes);

impl PhoneAudio {
    pub fn new(bridge: &Telephony) -> PhoneAudio {
        PhoneAudio(bridge.media_routes())
    }
}

impl tunnel::UdpRouter for PhoneAudio {
    fn route(
        &self,
        _service: &tunnel_proto::ServiceName,
        origin: &tunnel::FlowOrigin,
    ) -> Option<SocketAddr> {
        let client = origin.client?;
        let id = &origin.appliance;
        // Compared part by part: no string built per datagram.
        self.0.route(client, |appliance| {
            appliance.split_once('/') == Some((id.mission(), id.appliance()))
        })
    }
}

/// Loads the agents' credentials and starts SIP; the bridge runs until the process ends.
/// With a case store, calls are linked to cases and their records stored there. `origins`
/// names the embassy gateway behind a tunnel flow.
pub async fn start(
    section: &TelephonySection,
    store: Option<Arc<cs::Store>>,
    origins: telephony::Origins,
) -> anyhow::Result<Arc<Telephony>> {
    let accounts = telephony::credentials::load(&section.agents, &section.realm)
        .context("loading the SIP agents' credentials")?;
    let agents = accounts.len();
    let mut engine = telephony::EngineConfig::new(section.listen, &section.realm, accounts);
    engine.ring_timeout = section.ring_timeout;
    engine.max_call_rate = section.max_call_rate;
    engine.service_level = section.service_level;
    engine.origins = Some(origins);
    engine.keepalive = section.keepalive;
    engine.trunks = section.trunk_networks();
    if section.trunks.is_none() {
        warn!(
            sip = %section.listen,
            "telephony.trunks is not set: anyone who reaches the SIP port may place calls"
        );
    }
    engine.queues = section.queues.iter().map(|q| q.to_config()).collect();
    engine.media = section
        .media_settings()
        .context("reading [telephony.media]")?;
    let media = engine.media.as_ref().map(|m| m.relay.advertise);
    let bridge = Arc::new(
        Telephony::start(telephony::ServerConfig {
            listen: section.listen,
            advertise: section.advertise,
            engine,
            max_connections: 1024,
        })
        .await
        .context("starting the telephony bridge")?,
    );
    let addr: SocketAddr = bridge.udp_addr();
    info!(sip = %addr, agents, queues = section.queues.len(), realm = %section.realm, media = ?media, "telephony bridge listening");
    if let Some(store) = store {
        tokio::spawn(link_cases(bridge.clone(), store));
    }
    Ok(bridge)
}

/// Follows the bridge's call events for as long as it runs.
async fn link_cases(bridge: Arc<Telephony>, store: Arc<cs::Store>) {
    let intake = Arc::new(intake::Intake::default_v1());
    let mut events = bridge.events();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(n)) => {
                warn!(
                    lost = n,
                    "call events lost; those calls stay without a case"
                );
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let (store, intake, bridge) = (store.clone(), intake.clone(), bridge.clone());
        // SQLite is synchronous; keep it off the runtime's threads.
        let done = tokio::task::spawn_blocking(move || match event {
            CallEvent::Started {
                call,
                call_id,
                caller,
                display,
                queue,
                consulate,
                language,
                emergency,
                digits,
            } => {
                let started = Started {
                    caller: &caller,
                    display: display.as_deref(),
                    queue: queue.as_deref(),
                    consulate: consulate.as_deref(),
                    language: language.as_deref(),
                    emergency,
                    typed: digits.as_deref(),
                    call_ref: &format!("phone:{call_id}#{call}"),
                };
                let no = case_for(&store, &intake, &started)?;
                bridge.link_case(call, &no.to_string());
                Ok::<_, anyhow::Error>(())
            }
            CallEvent::Ended(record) => store_record(&store, &record),
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(error)) => warn!(
                error = format!("{error:#}"),
                "a call could not be joined to its case"
            ),
            Err(error) => warn!(%error, "the case-linking task failed"),
        }
    }
}

struct Started<'a> {
    caller: &'a str,
    display: Option<&'a str>,
    queue: Option<&'a str>,
    consulate: Option<&'a str>,
    language: Option<&'a str>,
    emergency: bool,
    /// The digits typed after the menu's choice.
    typed: Option<&'a str>,
    call_ref: &'a str,
}

/// The case a call joins: the open case of the caller's number whose case number they typed,
/// else the caller's newest open case, else a new one. A typed number alone never joins a
/// call to a case: caller id must match one of the case's phone contacts, so nobody reaches
/// someone else's case by knowing its number; the agent still sees what was typed.
fn case_for(
    store: &cs::Store,
    intake: &intake::Intake,
    call: &Started<'_>,
) -> anyhow::Result<cs::CaseNumber> {
    let open = store.phone_cases(call.caller)?;
    let typed = call.typed.and_then(typed_case_number);
    if let Some(typed) = typed
        && let Some(case) = open.iter().find(|c| c.case_no == typed)
    {
        return Ok(case.case_no);
    }
    if let Some(newest) = open.first() {
        return Ok(newest.case_no);
    }
    open_case(store, intake, call, typed)
}

/// A case number typed on a keypad: the year and the number, 11 digits
/// (`20260001234` is `CSC-2026-0001234`).
fn typed_case_number(digits: &str) -> Option<cs::CaseNumber> {
    if digits.len() != 11 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    format!("CSC-{}-{}", &digits[..4], &digits[4..])
        .parse()
        .ok()
}

/// A new phone case for the caller, decided by intake like any other channel's.
fn open_case(
    store: &cs::Store,
    intake: &intake::Intake,
    call: &Started<'_>,
    typed: Option<cs::CaseNumber>,
) -> anyhow::Result<cs::CaseNumber> {
    let mut text = format!("Phone call from {}", call.caller);
    if let Some(q) = call.queue {
        text.push_str(&format!(" to the {q} queue"));
    }
    text.push('.');
    if let Some(typed) = typed {
        text.push_str(&format!(
            " The caller typed case number {typed}, which is not an open case of this number."
        ));
    }
    let decision = intake.decide(&intake::Request {
        declared_type: None,
        declared_priority: call.emergency.then_some(intake::Priority::P0),
        text: &text,
        country: "",
        city: "",
    });
    let consulate = match call.consulate {
        Some(c) => cs::ConsulateId::new(c)?,
        None => cs::ConsulateId::new(decision.consulate.as_str())?,
    };
    let mut contacts = Vec::new();
    if let Ok(value) = cs::ContactValue::new(call.caller.to_owned())
        && !call.caller.is_empty()
    {
        contacts.push(cs::NewContact {
            kind: cs::ContactKind::Phone,
            value,
            verification: cs::Verification::Unverified,
        });
    }
    let name = call.display.unwrap_or("").trim();
    let (given, family) = match name.rsplit_once(' ') {
        Some((given, family)) => (given.trim(), family.trim()),
        None if name.is_empty() => ("-", "-"),
        None => ("-", name),
    };
    let type_code = decision.case_type.as_ref().map_or("D1", |t| t.as_str());
    let new = cs::NewCase {
        idempotency_key: Some(cs::IdempotencyKey::new(call.call_ref)?),
        case_type: cs::CaseType {
            code: cs::TypeCode::new(type_code)?,
            subtype: None,
            taxonomy_version: decision.taxonomy_version,
            family: cs::Family::from_intake(decision.family),
        },
        priority: cs::Priority::from_code(decision.priority.as_str()).unwrap_or(cs::Priority::P3),
        sensitivity: decision.sensitivity.into(),
        consulate,
        channel: cs::Channel::Phone,
        language: cs::Language::new(call.language.unwrap_or("ro"))?,
        needs_triage: decision.case_type.is_none(),
        subject: cs::NewPerson {
            family_name: cs::Name::new(family)?,
            given_names: cs::Name::new(given)?,
            birth_date: None,
            contacts,
            identifiers: Vec::new(),
        },
        requester: None,
        author: cs::Actor::Citizen,
        body: cs::Body::new(text)?,
        attachments: Vec::new(),
    };
    Ok(store.create_case(&new)?.case_no)
}

/// Stores a finished call with the case it was linked to (a call never linked, because the
/// store was down when it came in, is only logged).
fn store_record(store: &cs::Store, record: &CallRecord) -> anyhow::Result<()> {
    let Some(no) = &record.case else {
        warn!(call = record.id, caller = %record.caller_number(), "a call ended without a case; its record is not stored");
        return Ok(());
    };
    let no: cs::CaseNumber = no.parse().context("the call's case number")?;
    let case = store
        .case_id(no)?
        .with_context(|| format!("case {no} of a call is gone"))?;
    let ms = |ms: u64| cs::Timestamp::from_unix_ms(i64::try_from(ms).unwrap_or(i64::MAX));
    let call = cs::NewCall {
        call_ref: format!("{}#{}", record.call_id, record.id),
        caller: record.caller_number().to_owned(),
        called: record.called.clone(),
        queue: record.queue.clone(),
        language: record.language.clone(),
        emergency: record.emergency,
        digits: record.digits.clone(),
        started_at: ms(record.started_ms),
        answered_at: record.answered_ms.map(ms),
        ended_at: ms(record.ended_ms.unwrap_or(record.started_ms)),
        outcome: record.outcome.code().to_owned(),
        ended_by: record.ended_by.map(|side| match side {
            telephony::Side::Caller => "caller".to_owned(),
            telephony::Side::Agent => "agent".to_owned(),
        }),
        legs: record
            .legs
            .iter()
            .map(|l| cs::CallLegRecord {
                agent: l.agent.clone(),
                offered_at: ms(l.offered_ms),
                answered_at: l.answered_ms.map(ms),
                ended_at: l.ended_ms.map(ms),
                outcome: l.outcome.code().to_owned(),
            })
            .collect(),
    };
    store.record_call(case, &call)?;
    Ok(())
}

#[cfg(test)]
mod tests;
