//! What a refused or failed request answers. A case the agent may not read is `NotFound`,
//! word for word the answer for a case that does not exist.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

#[derive(Debug)]
pub(crate) enum Failure {
    /// No such page or case, or one the agent may not see.
    NotFound,
    /// The agent may not do this; the message says what to do instead.
    Forbidden(&'static str),
    /// Input the console cannot accept, said plainly.
    BadRequest(String),
    /// Someone else changed the thing first; the message says what to do.
    Conflict(&'static str),
    /// The store or another component failed; details are in the log, not the page.
    Internal,
}

impl Failure {
    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "console request failed");
        Failure::Internal
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, text) = match &self {
            Failure::NotFound => (StatusCode::NOT_FOUND, "Not found.".to_owned()),
            Failure::Forbidden(why) => (StatusCode::FORBIDDEN, (*why).to_owned()),
            Failure::BadRequest(why) => (StatusCode::BAD_REQUEST, why.clone()),
            Failure::Conflict(why) => (StatusCode::CONFLICT, (*why).to_owned()),
            Failure::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something failed on the hub; the error is logged. Try again.".to_owned(),
            ),
        };
        let body = format!(
            "<!doctype html><html lang=en><meta charset=utf-8><title>{code}</title>\
             <link rel=stylesheet href=/static/console.css><main><h1>{code}</h1>\
             <p class=error role=alert>{text}</p><p><a href=/>Back to the queues</a></p></main>",
            code = status.as_u16(),
            text = escape(&text),
        );
        (status, Html(body)).into_response()
    }
}

impl From<casestore::ReadError> for Failure {
    fn from(error: casestore::ReadError) -> Self {
        match error {
            casestore::ReadError::Invalid(e) => Failure::BadRequest(e.to_string()),
            other => Failure::internal(other),
        }
    }
}

/// HTML-escapes text placed outside the template engine.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
