//! The hub's side of an enrollment exchange: look the code up, count the attempt, run the
//! PAKE, and issue from the record once the appliance has proved it knows the code.

use std::net::SocketAddr;

use pki::ApplianceId;
use pki::enroll::{EnrollCode, HubEnrollment, Message, Refusal};
use tracing::{info, warn};
use tunnel::EnrollSession;

use crate::state::{self, ApplianceState};
use crate::{Fleet, key};

fn refuse(reason: Refusal) -> (Vec<u8>, Option<Box<dyn EnrollSession>>) {
    (Message::Refused { reason }.encode(), None)
}

/// Who a code enrols.
#[derive(Debug, Clone)]
enum Who {
    Appliance(ApplianceId),
    Operator(String),
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Appliance(id) => write!(f, "{id}"),
            Self::Operator(name) => write!(f, "operator:{name}"),
        }
    }
}

/// Operators' certificates last longer than appliances': they are renewed by enrolling again.
const OPERATOR_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// What looking a code up found.
enum Lookup {
    Go(EnrollCode, Who),
    No(Refusal),
}

pub(crate) fn start(
    fleet: &Fleet,
    remote: SocketAddr,
    first: &[u8],
) -> (Vec<u8>, Option<Box<dyn EnrollSession>>) {
    let actor = format!("appliance@{remote}");
    let (code_id, pake, unix_time) = match Message::decode(first) {
        Ok(Message::Start {
            code_id,
            pake,
            unix_time,
            ..
        }) => (code_id, pake, unix_time),
        _ => {
            fleet.audit.record(
                "enroll.attempt",
                &actor,
                "-",
                "malformed",
                serde_json::json!({}),
            );
            return refuse(Refusal::Malformed);
        }
    };
    let now = state::now();
    let skew = now.abs_diff(unix_time);
    if skew > fleet.config.max_clock_skew.as_secs() {
        fleet.audit.record(
            "enroll.attempt",
            &actor,
            &code_id,
            "clock_skew",
            serde_json::json!({ "skew_s": skew }),
        );
        return refuse(Refusal::ClockSkew);
    }
    let max = fleet.config.max_attempts;
    // Counting the attempt and deciding happen in one durable update, so no race between two
    // hub instances can give a sixth try.
    let lookup = fleet.update(|s| {
        let Some(c) = s.codes.get_mut(&code_id) else {
            return Lookup::No(Refusal::WrongCode);
        };
        if c.used {
            return Lookup::No(Refusal::AlreadyUsed);
        }
        if c.expires <= now {
            return Lookup::No(Refusal::Expired);
        }
        if c.attempts >= max {
            return Lookup::No(Refusal::Exhausted);
        }
        c.attempts += 1;
        let who = match &c.operator {
            Some(name) => Ok(Who::Operator(name.clone())),
            None => ApplianceId::new(&c.mission, &c.appliance).map(Who::Appliance),
        };
        match (EnrollCode::from_parts(&c.id, &c.secret), who) {
            (Ok(code), Ok(who)) => Lookup::Go(code, who),
            _ => Lookup::No(Refusal::WrongCode),
        }
    });
    let (code, id) = match lookup {
        Ok(Lookup::Go(code, id)) => (code, id),
        Ok(Lookup::No(reason)) => {
            fleet.audit.record(
                "enroll.attempt",
                &actor,
                &code_id,
                refusal_name(reason),
                serde_json::json!({}),
            );
            warn!(%remote, %code_id, reason = refusal_name(reason), "enrollment refused");
            return refuse(reason);
        }
        Err(error) => {
            warn!(%error, "enrollment state unavailable");
            return refuse(Refusal::Unavailable);
        }
    };
    match HubEnrollment::respond(&code, &pake) {
        Ok((exchange, challenge)) => {
            fleet.audit.record(
                "enroll.attempt",
                &actor,
                &id.to_string(),
                "started",
                serde_json::json!({ "code_id": code_id }),
            );
            let Some(fleet) = fleet.me.upgrade() else {
                return refuse(Refusal::Unavailable);
            };
            let session = Session {
                fleet,
                exchange,
                id,
                code_id,
                actor,
            };
            (challenge.encode(), Some(Box::new(session)))
        }
        Err(reason) => {
            fleet.audit.record(
                "enroll.attempt",
                &actor,
                &id.to_string(),
                refusal_name(reason),
                serde_json::json!({}),
            );
            refuse(reason)
        }
    }
}

struct Session {
    fleet: std::sync::Arc<Fleet>,
    exchange: HubEnrollment,
    id: Who,
    code_id: String,
    actor: String,
}

impl EnrollSession for Session {
    fn next(self: Box<Self>, message: &[u8]) -> (Vec<u8>, Option<Box<dyn EnrollSession>>) {
        let Session {
            fleet,
            exchange,
            id,
            code_id,
            actor,
        } = *self;
        let subject = id.to_string();
        let Ok(finish) = Message::decode(message) else {
            fleet.audit.record(
                "enroll.attempt",
                &actor,
                &subject,
                "malformed",
                serde_json::json!({}),
            );
            return refuse(Refusal::Malformed);
        };
        let csr_pem = match exchange.check_finish(finish) {
            Ok(csr) => csr,
            Err(reason) => {
                fleet.audit.record(
                    "enroll.attempt",
                    &actor,
                    &subject,
                    refusal_name(reason),
                    serde_json::json!({ "code_id": code_id }),
                );
                warn!(enrolling = %id, reason = refusal_name(reason), "enrollment refused");
                return refuse(reason);
            }
        };
        let issued = match &id {
            Who::Appliance(appliance) => fleet
                .issue(appliance, &csr_pem)
                .map(|(pem, cert)| (pem, Some(cert))),
            Who::Operator(name) => fleet
                .ca
                .sign_operator_csr(&csr_pem, name, OPERATOR_LIFETIME)
                .map(|pem| (pem, None)),
        };
        let (cert_pem, cert) = match issued {
            Ok(ok) => ok,
            Err(pki::IssueError::Generate(_)) => {
                fleet.audit.record(
                    "enroll.attempt",
                    &actor,
                    &subject,
                    "unavailable",
                    serde_json::json!({}),
                );
                return refuse(Refusal::Unavailable);
            }
            Err(error) => {
                fleet.audit.record(
                    "enroll.attempt",
                    &actor,
                    &subject,
                    "bad_csr",
                    serde_json::json!({ "reason": error.to_string() }),
                );
                return refuse(Refusal::BadCsr);
            }
        };
        let serial = cert.as_ref().map(|c| c.serial.clone());
        let burned = fleet.update(|s| {
            if let Some(c) = s.codes.get_mut(&code_id) {
                c.used = true;
            }
            if let (Who::Appliance(appliance), Some(cert)) = (&id, cert)
                && let Some(a) = s.appliances.get_mut(&key(appliance))
            {
                a.state = ApplianceState::Active;
                a.enrolled_at = Some(state::now());
                a.certificates.push(cert);
            }
        });
        if burned.is_err() {
            return refuse(Refusal::Unavailable);
        }
        fleet.audit.record(
            "cert.issued",
            &actor,
            &subject,
            "ok",
            serde_json::json!({ "serial": serial, "via": "enrollment" }),
        );
        info!(enrolled = %id, "enrolled");
        let chain = format!("{}{}", cert_pem, fleet.config.chain_pem);
        let (mission, appliance, operator) = match &id {
            Who::Appliance(a) => (a.mission().to_owned(), a.appliance().to_owned(), None),
            Who::Operator(name) => (String::new(), String::new(), Some(name.clone())),
        };
        let reply = exchange.issued(
            chain,
            fleet.config.hub_ca_pem.clone(),
            mission,
            appliance,
            operator,
        );
        (reply.encode(), None)
    }
}

fn refusal_name(r: Refusal) -> &'static str {
    match r {
        Refusal::WrongCode => "wrong_code",
        Refusal::Expired => "expired",
        Refusal::AlreadyUsed => "already_used",
        Refusal::Exhausted => "exhausted",
        Refusal::BadCsr => "bad_csr",
        Refusal::ClockSkew => "clock_skew",
        Refusal::Malformed => "malformed",
        Refusal::Unavailable => "unavailable",
    }
}
