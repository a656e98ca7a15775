//! Request hygiene shared by every handler: body limits, same-origin state changes, CSRF
//! tokens, bounded form fields.

use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::Failure;
use crate::session::Agent;

/// The largest form the console accepts; replies and articles fit easily.
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// The longest free text field (a reply, a note, an article body).
pub(crate) const MAX_TEXT: usize = 64 * 1024;

/// Refuses state changes that a browser says come from another site, before any handler
/// runs. CSRF tokens are the real defence; this is the second one.
pub(crate) async fn same_origin(request: Request, next: Next) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let headers = request.headers();
        let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        if matches!(site, Some("cross-site" | "same-site")) {
            return Failure::Forbidden("Requests from other sites are refused.").into_response();
        }
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let origin_host = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            if origin_host.is_none() || origin_host != host {
                return Failure::Forbidden("Requests from other sites are refused.")
                    .into_response();
            }
        }
    }
    next.run(request).await
}

/// Checks the CSRF token a form carried against the session's.
pub(crate) fn check_csrf(agent: &Agent, submitted: Option<&str>) -> Result<(), Failure> {
    match submitted {
        Some(token) if staffauth::csrf_matches(&agent.session, token) => Ok(()),
        _ => Err(Failure::Forbidden(
            "This form is stale or was not sent by the console; reload the page and try again.",
        )),
    }
}

/// A required free-text field, trimmed and bounded.
pub(crate) fn text<'a>(value: Option<&'a str>, what: &str) -> Result<&'a str, Failure> {
    let value = value.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(Failure::BadRequest(format!("{what} is required.")));
    }
    if value.len() > MAX_TEXT {
        return Err(Failure::BadRequest(format!(
            "{what} is longer than {MAX_TEXT} bytes."
        )));
    }
    Ok(value)
}

/// A query parameter or form field that says something: present and not blank, without its
/// outer spaces.
pub(crate) fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}

/// A priority as the pages write it (`p0` … `p4`: the store's codes in lower case, which the
/// style sheet's classes also use) or as the store does (`P0` … `P4`).
pub(crate) fn priority(code: &str) -> Option<casestore::Priority> {
    casestore::Priority::from_code(&code.trim().to_ascii_uppercase())
}

/// How pages show a priority: the form values and the style sheet's class names.
pub(crate) fn priority_code(priority: casestore::Priority) -> String {
    priority.code().to_ascii_lowercase()
}

/// A form that carries nothing but its CSRF token.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct CsrfOnly {
    pub(crate) csrf: Option<String>,
}
