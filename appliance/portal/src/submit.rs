//! A validated form becomes a case: intake decides type, priority and owning consulate, the
//! documents (already scanned clean) go to the attachment store, and the store writes the case,
//! its first message and the outbox events in one transaction.

use std::collections::BTreeMap;

use casestore as cs;
use intake::{Decision, Intake, Request};

/// A document that passed the type check and the virus scan.
#[derive(Debug, Clone)]
pub(crate) struct CleanDocument {
    pub name: String,
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Why the store refused what the form accepted; shown as a server error, nothing kept.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SubmitError {
    #[error("invalid value: {0}")]
    Value(#[from] cs::InvalidValue),
    #[error("attachment store failed")]
    File(#[from] cs::FileError),
    #[error("case store failed")]
    Write(#[from] cs::WriteError),
}

/// What the receipt shows.
#[derive(Debug, Clone)]
pub(crate) struct Submitted {
    pub case_no: String,
    /// `None` for a repeated submission: the first receipt holds it.
    pub tracking_code: Option<String>,
    pub emergency: bool,
    pub documents: Vec<(String, String, u64)>,
}

/// The decision for this form: the declared type, raised by emergency words in the text.
pub(crate) fn decide(
    intake: &Intake,
    type_code: &str,
    values: &BTreeMap<String, String>,
) -> Decision {
    let get = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    let text = format!("{}\n{}", get("description"), get("details"));
    intake.decide(&Request {
        declared_type: Some(type_code),
        declared_priority: None,
        text: &text,
        country: get("country"),
        city: get("city"),
    })
}

/// Writes the case. Runs on a blocking thread (SQLite and fsync).
pub(crate) fn submit(
    store: &cs::Store,
    files: &cs::AttachmentStore,
    decision: &Decision,
    values: &BTreeMap<String, String>,
    documents: &[CleanDocument],
    lang: &str,
    idempotency_key: &str,
) -> Result<Submitted, SubmitError> {
    let get = |k: &str| {
        values
            .get(k)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let mut attachments = Vec::new();
    let mut shown = Vec::new();
    for d in documents {
        let stored = files.put(&d.bytes)?;
        shown.push((d.name.clone(), stored.sha256.to_hex(), d.bytes.len() as u64));
        attachments.push(cs::NewAttachment {
            sha256: stored.sha256,
            size: d.bytes.len() as u64,
            media_type: cs::MediaType::new(d.media_type)?,
            file_name: cs::FileName::sanitize(&d.name),
            verdict: cs::ScanVerdict::Clean,
        });
    }
    let mut contacts = Vec::new();
    if !get("email").is_empty() {
        contacts.push(cs::NewContact {
            kind: cs::ContactKind::Email,
            value: cs::ContactValue::new(get("email"))?,
            verification: cs::Verification::Unverified,
        });
    }
    if !get("phone").is_empty() {
        contacts.push(cs::NewContact {
            kind: cs::ContactKind::Phone,
            value: cs::ContactValue::new(get("phone"))?,
            verification: cs::Verification::Unverified,
        });
    }
    let birth_date = match get("date_of_birth") {
        d if d.is_empty() => None,
        d => Some(cs::BirthDate::new(d)?),
    };
    // Identity numbers, already checked by the form, let agents see the person's other cases.
    // One the store still refuses is left out rather than losing the request.
    let identifiers = [
        (cs::IdKind::Cnp, "cnp"),
        (cs::IdKind::Passport, "previous_passport"),
    ]
    .into_iter()
    .filter_map(|(kind, key)| Some(get(key)).filter(|v| !v.is_empty()).map(|v| (kind, v)))
    .filter_map(|(kind, v)| cs::PersonIdentifier::new(kind, &v).ok())
    .collect();
    let type_code = decision.case_type.as_ref().map_or("D1", |t| t.as_str());
    let body = body_text(values);
    let new = cs::NewCase {
        idempotency_key: Some(cs::IdempotencyKey::new(format!(
            "portal:{idempotency_key}"
        ))?),
        case_type: cs::CaseType {
            code: cs::TypeCode::new(type_code)?,
            subtype: None,
            taxonomy_version: decision.taxonomy_version,
            family: cs::Family::from_intake(decision.family),
        },
        priority: cs::Priority::from_code(decision.priority.as_str()).unwrap_or(cs::Priority::P3),
        sensitivity: decision.sensitivity.into(),
        consulate: cs::ConsulateId::new(decision.consulate.as_str())?,
        channel: cs::Channel::Web,
        language: cs::Language::new(lang)?,
        needs_triage: decision.case_type.is_none(),
        subject: cs::NewPerson {
            family_name: cs::Name::new(get("surname"))?,
            given_names: cs::Name::new(get("given_names"))?,
            birth_date,
            contacts,
            identifiers,
        },
        requester: None,
        author: cs::Actor::Citizen,
        body: cs::Body::new(body)?,
        attachments,
    };
    let created = store.create_case(&new)?;
    Ok(Submitted {
        case_no: created.case_no.to_string(),
        tracking_code: created.tracking_code.map(|c| c.as_str().to_owned()),
        emergency: decision.is_emergency(),
        documents: shown,
    })
}

/// The first message: the citizen's description, then every other answer, identity numbers
/// masked (the full values are for the identity check, never for the case text).
fn body_text(values: &BTreeMap<String, String>) -> String {
    let mut out = values
        .get("description")
        .map(|d| d.trim().to_owned())
        .unwrap_or_default();
    out.push_str("\n\n");
    for (k, v) in values {
        if matches!(k.as_str(), "description" | "type" | "idempotency_key") || v.trim().is_empty() {
            continue;
        }
        let shown = if matches!(k.as_str(), "cnp" | "passport" | "previous_passport") {
            intake::mask(v.trim())
        } else {
            v.trim().to_owned()
        };
        out.push_str(&format!("{k}: {shown}\n"));
    }
    out
}
