//! The portal's pages.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::submit::{self, CleanDocument};
use crate::{Portal, forms, upload};

/// Text fields a form may carry, and the size of one, so a hostile form stays bounded.
const MAX_FIELDS: usize = 64;
const MAX_FIELD_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
pub(crate) struct Lang {
    lang: Option<String>,
}

pub(crate) fn pick_lang(
    portal: &Portal,
    explicit: Option<&str>,
    headers: &HeaderMap,
) -> &'static str {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    portal.catalogs.negotiate(explicit, accept)
}

#[derive(Serialize)]
struct LangChoice {
    code: &'static str,
    name: String,
}

pub(crate) fn render(
    portal: &Portal,
    status: StatusCode,
    template: &str,
    lang: &'static str,
    page: minijinja::Value,
) -> Response {
    let catalog = portal.catalogs.get(lang);
    let languages: Vec<LangChoice> = portal
        .catalogs
        .languages()
        .map(|code| LangChoice {
            code,
            name: portal.catalogs.get(code).t("lang_name").to_owned(),
        })
        .collect();
    let base = context! { lang => lang, t => catalog.texts(), languages => languages };
    let rendered = portal
        .env
        .get_template(template)
        .and_then(|t| t.render(context! { ..page, ..base }));
    match rendered {
        Ok(html) => (status, [(header::CONTENT_LANGUAGE, lang)], Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, template, "portal template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(catalog.t("server_error").to_owned()),
            )
                .into_response()
        }
    }
}

fn message(portal: &Portal, status: StatusCode, lang: &'static str, key: &str) -> Response {
    let text = portal.catalogs.get(lang).t(key).to_owned();
    render(
        portal,
        status,
        "error.html",
        lang,
        context! { message => text },
    )
}

#[derive(Serialize)]
struct TypeChoice {
    code: String,
    name: String,
}

#[derive(Serialize)]
struct GroupChoice {
    name: String,
    types: Vec<TypeChoice>,
}

pub(crate) async fn home(
    State(portal): State<Arc<Portal>>,
    Query(q): Query<Lang>,
    headers: HeaderMap,
) -> Response {
    let lang = pick_lang(&portal, q.lang.as_deref(), &headers);
    let tax = portal.intake.taxonomy();
    let groups: Vec<GroupChoice> = tax
        .groups()
        .iter()
        .map(|g| GroupChoice {
            name: g.name.get(lang).to_owned(),
            types: tax
                .portal_types()
                .filter(|t| t.code.as_str().starts_with(&g.code))
                .map(|t| TypeChoice {
                    code: t.code.as_str().to_owned(),
                    name: t.name.get(lang).to_owned(),
                })
                .collect(),
        })
        .filter(|g| !g.types.is_empty())
        .collect();
    render(
        &portal,
        StatusCode::OK,
        "home.html",
        lang,
        context! { groups => groups },
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct FormQuery {
    lang: Option<String>,
    #[serde(rename = "type")]
    type_code: Option<String>,
}

fn form_page(
    portal: &Portal,
    status: StatusCode,
    lang: &'static str,
    ty: &intake::CaseType,
    values: &BTreeMap<String, String>,
    errors: &BTreeMap<String, &'static str>,
    idempotency_key: &str,
) -> Response {
    let catalog = portal.catalogs.get(lang);
    let t = |k: &str| catalog.t(k).to_owned();
    let tax = portal.intake.taxonomy();
    render(
        portal,
        status,
        "form.html",
        lang,
        context! {
            type_code => ty.code.as_str(),
            type_name => ty.name.get(lang),
            type_hint => ty.hint.as_ref().map(|h| h.get(lang).to_owned()),
            fields => forms::fields(tax, ty, lang, values, errors, &t),
            documents => forms::documents(ty, lang, errors, &t),
            errors => !errors.is_empty(),
            idempotency_key => idempotency_key,
        },
    )
}

/// A fresh form token: a repeated submission of the same form is one case.
fn form_token() -> String {
    let mut raw = [0u8; 16];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw);
    hex::encode(raw)
}

pub(crate) async fn form(
    State(portal): State<Arc<Portal>>,
    Query(q): Query<FormQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = pick_lang(&portal, q.lang.as_deref(), &headers);
    let tax = portal.intake.taxonomy();
    let Some(ty) = q
        .type_code
        .as_deref()
        .and_then(|c| tax.lookup(c))
        .filter(|t| t.on_portal)
    else {
        return message(&portal, StatusCode::NOT_FOUND, lang, "error_unknown_type");
    };
    form_page(
        &portal,
        StatusCode::OK,
        lang,
        ty,
        &BTreeMap::new(),
        &BTreeMap::new(),
        &form_token(),
    )
}

/// What a multipart form carried.
struct Posted {
    values: BTreeMap<String, String>,
    files: Vec<(String, String, Vec<u8>)>,
}

/// Reads the multipart body, bounded in fields and sizes. `None` means malformed.
async fn read_multipart(mut multipart: Multipart) -> Result<Posted, StatusCode> {
    let mut posted = Posted {
        values: BTreeMap::new(),
        files: Vec::new(),
    };
    let mut fields = 0;
    while let Some(field) = multipart.next_field().await.map_err(|e| e.status())? {
        fields += 1;
        if fields > MAX_FIELDS + 16 {
            return Err(StatusCode::BAD_REQUEST);
        }
        let name = field.name().unwrap_or_default().to_owned();
        if let Some(slot) = name.strip_prefix("doc_") {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.map_err(|e| e.status())?;
            if !bytes.is_empty() {
                posted
                    .files
                    .push((slot.to_owned(), file_name, bytes.to_vec()));
            }
        } else {
            let text = field.text().await.map_err(|e| e.status())?;
            if text.len() > MAX_FIELD_BYTES || posted.values.len() >= MAX_FIELDS {
                return Err(StatusCode::PAYLOAD_TOO_LARGE);
            }
            posted.values.insert(name, text);
        }
    }
    Ok(posted)
}

pub(crate) async fn submit(
    State(portal): State<Arc<Portal>>,
    Query(q): Query<Lang>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let lang = pick_lang(&portal, q.lang.as_deref(), &headers);
    let posted = match read_multipart(multipart).await {
        Ok(p) => p,
        Err(StatusCode::PAYLOAD_TOO_LARGE) => {
            return message(&portal, StatusCode::PAYLOAD_TOO_LARGE, lang, "too_large");
        }
        Err(status) => return message(&portal, status, lang, "server_error"),
    };
    let tax = portal.intake.taxonomy();
    let Some(ty) = posted
        .values
        .get("type")
        .and_then(|c| tax.lookup(c))
        .filter(|t| t.on_portal)
    else {
        return message(&portal, StatusCode::BAD_REQUEST, lang, "error_unknown_type");
    };
    let token = posted
        .values
        .get("idempotency_key")
        .filter(|k| k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        .cloned();
    let token = token.unwrap_or_else(form_token);
    let mut errors = forms::validate(tax, ty, &posted.values);

    // Documents: the real type, the limits, then clamd. Nothing is stored until all is well.
    let mut clean = Vec::new();
    let mut total = 0;
    for spec in &ty.documents {
        let field = format!("doc_{}", spec.key);
        let Some((_, claimed, bytes)) = posted.files.iter().find(|(slot, _, _)| *slot == spec.key)
        else {
            if spec.required {
                errors.insert(field, "error_required");
            }
            continue;
        };
        let kind = match scan::documents::check(bytes, total) {
            Ok(kind) => kind,
            Err(refusal) => {
                errors.insert(field, upload::message_key(refusal));
                continue;
            }
        };
        total += bytes.len();
        match portal.scanner.scan_bytes(bytes).await {
            Ok(scan::Verdict::Clean) => clean.push(CleanDocument {
                name: scan::documents::safe_name(claimed, kind),
                media_type: kind.media_type(),
                bytes: bytes.clone(),
            }),
            Ok(scan::Verdict::Infected(signature)) => {
                tracing::warn!(%signature, "infected upload refused");
                errors.insert(field, "error_file_infected");
            }
            Err(error) => {
                tracing::warn!(%error, "virus scan unavailable; upload refused");
                errors.insert(field, "error_file_scan");
            }
        }
    }
    if !errors.is_empty() {
        return form_page(
            &portal,
            StatusCode::UNPROCESSABLE_ENTITY,
            lang,
            ty,
            &posted.values,
            &errors,
            &token,
        );
    }

    let decision = submit::decide(&portal.intake, ty.code.as_str(), &posted.values);
    let (p, values) = (portal.clone(), posted.values);
    let outcome = tokio::task::spawn_blocking(move || {
        submit::submit(&p.store, &p.files, &decision, &values, &clean, lang, &token)
    })
    .await;
    match outcome {
        Ok(Ok(done)) => {
            let documents: Vec<_> = done
                .documents
                .iter()
                .map(|(name, sha, _)| context! { name => name, sha256 => sha })
                .collect();
            render(
                &portal,
                StatusCode::OK,
                "receipt.html",
                lang,
                context! {
                    case_no => done.case_no,
                    tracking_code => done.tracking_code.unwrap_or_default(),
                    received_at => now_rfc3339(),
                    emergency => done.emergency,
                    documents => documents,
                },
            )
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "case not created");
            message(
                &portal,
                StatusCode::INTERNAL_SERVER_ERROR,
                lang,
                "server_error",
            )
        }
        Err(error) => {
            tracing::error!(%error, "case task failed");
            message(
                &portal,
                StatusCode::INTERNAL_SERVER_ERROR,
                lang,
                "server_error",
            )
        }
    }
}

fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn at(ts: casestore::Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts.unix_ms() / 1000)
        .map(rfc3339)
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReceiptQuery {
    code: Option<String>,
}

/// The signed receipt, for a caller who holds the tracking code.
pub(crate) async fn receipt_file(
    State(portal): State<Arc<Portal>>,
    Path(file): Path<String>,
    Query(q): Query<ReceiptQuery>,
) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "no such receipt\n").into_response();
    let (Some(case_no), Some(code)) = (file.strip_suffix(".json"), q.code) else {
        return not_found();
    };
    let Ok(case_no) = case_no.parse::<casestore::CaseNumber>() else {
        return not_found();
    };
    let p = portal.clone();
    let built = tokio::task::spawn_blocking(move || -> Option<String> {
        let id = p.store.verify_tracking(case_no, &code).ok()??;
        let case = p.store.case(id).ok()??;
        let documents = p
            .store
            .attachments(id)
            .ok()?
            .into_iter()
            .map(|a| receipts::Document {
                name: a.file_name.to_string(),
                sha256: a.sha256.to_hex(),
                bytes: a.size,
            })
            .collect();
        let receipt = receipts::Receipt {
            case_no: case.case_no.to_string(),
            tracking_code: code,
            received_at: at(case.created_at),
            request_type: case.case_type.code.to_string(),
            documents,
        };
        receipts::sign(&receipt, p.receipt_key.as_ref()).ok()
    })
    .await;
    match built {
        Ok(Some(json)) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"receipt.json\"",
                ),
            ],
            json,
        )
            .into_response(),
        _ => not_found(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct StatusQuery {
    lang: Option<String>,
    case: Option<String>,
}

pub(crate) async fn status_form(
    State(portal): State<Arc<Portal>>,
    Query(q): Query<StatusQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = pick_lang(&portal, q.lang.as_deref(), &headers);
    render(
        &portal,
        StatusCode::OK,
        "status.html",
        lang,
        context! { case => q.case.unwrap_or_default() },
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct Lookup {
    case: String,
    code: String,
}

#[derive(Serialize)]
struct Shown {
    case_no: String,
    status: String,
    next_deadline: Option<String>,
    messages: Vec<ShownMessage>,
}

#[derive(Serialize)]
struct ShownMessage {
    at: String,
    body: String,
}

/// When the consulate owes the citizen its next answer: the first-response target of the
/// case's priority class (P0 within the hour, P1 within 24 h as the FCDO standard, P2 within two
/// days, P3 within ten working days, P4 within five), while nobody has answered yet.
fn next_deadline(case: &casestore::Case, answered: bool) -> Option<String> {
    use casestore::{Priority as P, Status as S};
    if answered || !matches!(case.status, S::New | S::Triage) {
        return None;
    }
    let hours = match case.priority {
        P::P0 => 1,
        P::P1 => 24,
        P::P2 => 48,
        P::P3 => 14 * 24,
        P::P4 => 7 * 24,
    };
    let due = case.created_at.plus_ms(hours * 3_600_000);
    Some(at(due))
}

fn status_key(s: casestore::Status) -> &'static str {
    use casestore::Status as S;
    match s {
        S::New | S::Triage => "status_new",
        S::WaitingCitizen => "status_waiting",
        S::Referred => "status_referred",
        S::Resolved | S::Closed => "status_closed",
        S::Merged => "status_merged",
        S::InProgress => "status_open",
    }
}

pub(crate) async fn status_lookup(
    State(portal): State<Arc<Portal>>,
    Query(q): Query<Lang>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Lookup>,
) -> Response {
    let lang = pick_lang(&portal, q.lang.as_deref(), &headers);
    let catalog = portal.catalogs.get(lang);
    if !portal.limiter.allow(peer.ip()) {
        let error = catalog.t("status_rate_limited").to_owned();
        return render(
            &portal,
            StatusCode::TOO_MANY_REQUESTS,
            "status.html",
            lang,
            context! { error => error, case => form.case },
        );
    }
    let p = portal.clone();
    let (case_text, code) = (form.case.trim().to_uppercase(), form.code.trim().to_owned());
    let found = tokio::task::spawn_blocking(
        move || -> Option<(casestore::Case, Vec<casestore::Message>)> {
            let no = case_text.parse::<casestore::CaseNumber>().ok()?;
            let id = p.store.verify_tracking(no, &code).ok()??;
            let case = p.store.case(id).ok()??;
            let messages = p
                .store
                .messages(id, Some(casestore::Visibility::External))
                .ok()?;
            Some((case, messages))
        },
    )
    .await
    .ok()
    .flatten();
    // A wrong number and a wrong code get the same answer.
    let Some((case, messages)) = found else {
        let error = catalog.t("status_not_found").to_owned();
        return render(
            &portal,
            StatusCode::OK,
            "status.html",
            lang,
            context! { error => error, case => form.case },
        );
    };
    let replies: Vec<ShownMessage> = messages
        .into_iter()
        .filter(|m| m.direction == casestore::Direction::Out)
        .map(|m| ShownMessage {
            at: at(m.at),
            body: m.body.to_string(),
        })
        .collect();
    let shown = Shown {
        case_no: case.case_no.to_string(),
        status: catalog.t(status_key(case.status)).to_owned(),
        next_deadline: next_deadline(&case, !replies.is_empty()),
        messages: replies,
    };
    render(
        &portal,
        StatusCode::OK,
        "status.html",
        lang,
        context! { result => shown },
    )
}

pub(crate) async fn not_found(State(portal): State<Arc<Portal>>, headers: HeaderMap) -> Response {
    let lang = pick_lang(&portal, None, &headers);
    message(&portal, StatusCode::NOT_FOUND, lang, "not_found")
}
