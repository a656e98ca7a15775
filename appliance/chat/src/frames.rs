//! The chat's wire format: JSON text frames with a `type`, both ways. Parsing is bounded and
//! strict (unknown types and fields are refused), and never panics on input.

use serde::{Deserialize, Serialize};

/// The largest frame a citizen may send, in bytes.
pub const MAX_FRAME: usize = 4 * 1024;

/// The longest message text, in bytes (a frame also carries its envelope).
pub const MAX_TEXT: usize = 3 * 1024;

/// What a citizen's browser sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FromCitizen {
    /// Opens a new chat: a case is created with `text` as its first message.
    Start {
        lang: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        email: String,
        /// Country of residence (ISO 3166-1 alpha-2) and city: they route the case.
        #[serde(default)]
        country: String,
        #[serde(default)]
        city: String,
        text: String,
    },
    /// Continues an existing chat case.
    Resume { case: String, code: String },
    /// A message; `id` is the browser's own, echoed in `delivered`.
    Message { id: String, text: String },
    /// The citizen is typing.
    Typing {},
}

/// Why a frame was refused; the connection stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    TooLarge,
    BadJson,
    TooLong,
    Empty,
}

impl FrameError {
    /// The code the browser sees.
    pub fn code(self) -> &'static str {
        match self {
            FrameError::TooLarge => "too_large",
            FrameError::BadJson => "bad_frame",
            FrameError::TooLong => "too_long",
            FrameError::Empty => "empty",
        }
    }
}

/// Parses one text frame.
pub fn parse(frame: &str) -> Result<FromCitizen, FrameError> {
    if frame.len() > MAX_FRAME {
        return Err(FrameError::TooLarge);
    }
    let parsed: FromCitizen = serde_json::from_str(frame).map_err(|_| FrameError::BadJson)?;
    let text = match &parsed {
        FromCitizen::Start { text, .. } | FromCitizen::Message { text, .. } => Some(text),
        _ => None,
    };
    if let Some(text) = text {
        if text.trim().is_empty() {
            return Err(FrameError::Empty);
        }
        if text.len() > MAX_TEXT {
            return Err(FrameError::TooLong);
        }
    }
    if let FromCitizen::Message { id, .. } = &parsed
        && id.len() > 64
    {
        return Err(FrameError::BadJson);
    }
    Ok(parsed)
}

/// What the citizen's browser is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToCitizen {
    /// The chat's case exists: its number and (once, for a new chat) the tracking code.
    Started {
        case: String,
        code: Option<String>,
        history: Vec<Line>,
    },
    /// The citizen's message `id` is stored in the case.
    Delivered { id: String },
    /// An agent's message.
    Message { line: Line },
    /// An agent is typing.
    Typing,
    /// An agent picked the chat up.
    Joined { name: String },
    /// Nobody picked the chat up in time: how the answer will come instead.
    NoAgent { text: String },
    /// A refused frame or action; `code` is stable, `text` is for people.
    Error { code: String, text: String },
}

/// One line of the transcript as the citizen sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// `citizen` or `agent`.
    pub from: &'static str,
    /// The agent's display name, empty for the citizen.
    pub name: String,
    pub text: String,
    /// Milliseconds since the epoch.
    pub at: i64,
}

/// What agents watching a chat are sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToAgent {
    /// The citizen wrote (already stored as case message `id`).
    Message { id: i64, text: String, at: i64 },
    /// The citizen is typing.
    Typing,
    /// The citizen's window connected or went away.
    Presence { online: bool },
    /// Another agent (or this one) picked the chat up.
    Joined { name: String },
    /// An agent's message; `delivered` says whether the citizen's window received it live.
    Sent {
        id: i64,
        name: String,
        text: String,
        at: i64,
        delivered: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_strictly_and_boundedly() {
        assert_eq!(
            parse(r#"{"type":"message","id":"1","text":"hello"}"#),
            Ok(FromCitizen::Message {
                id: "1".into(),
                text: "hello".into()
            })
        );
        assert_eq!(parse(r#"{"type":"typing"}"#), Ok(FromCitizen::Typing {}));
        assert_eq!(parse("not json"), Err(FrameError::BadJson));
        assert_eq!(parse(r#"{"type":"shout"}"#), Err(FrameError::BadJson));
        assert_eq!(
            parse(r#"{"type":"typing","extra":1}"#),
            Err(FrameError::BadJson)
        );
        assert_eq!(
            parse(r#"{"type":"message","id":"1","text":"  "}"#),
            Err(FrameError::Empty)
        );
        let big = format!(
            r#"{{"type":"message","id":"1","text":"{}"}}"#,
            "a".repeat(MAX_FRAME)
        );
        assert_eq!(parse(&big), Err(FrameError::TooLarge));
        let long = format!(
            r#"{{"type":"message","id":"1","text":"{}"}}"#,
            "a".repeat(MAX_TEXT + 1)
        );
        assert_eq!(parse(&long), Err(FrameError::TooLong));
    }

    #[test]
    fn outgoing_frames_carry_their_type() {
        let json = serde_json::to_string(&ToCitizen::Delivered { id: "7".into() }).unwrap();
        assert_eq!(json, r#"{"type":"delivered","id":"7"}"#);
    }
}
