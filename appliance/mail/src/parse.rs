//! A received message, read with `mail-parser`: the headers threading and loop prevention
//! need, the text (HTML reduced to text through `ammonia`), the attachments, and the report of
//! a delivery status notification. Bounded: parts and nesting depth are counted and a message
//! over either is refused whole.

use std::borrow::Cow;

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders as _, PartType};

/// Most parts a message may have.
pub const MAX_PARTS: usize = 200;
/// Deepest multipart nesting.
pub const MAX_DEPTH: usize = 16;

/// Why a message cannot be taken in at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a parsable message")]
    Unparsable,
    #[error("more than {MAX_PARTS} MIME parts")]
    TooManyParts,
    #[error("MIME parts nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Why no automatic answer may go to a message's sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAutoAnswer {
    /// `Auto-Submitted` other than `no` (RFC 3834).
    AutoSubmitted,
    /// `Precedence: bulk | list | junk`.
    Precedence,
    /// `List-Id` or `List-Unsubscribe`: a mailing list.
    List,
    /// The null sender `<>`: a bounce or another automatic message.
    NullSender,
    /// A delivery status notification.
    Report,
}

impl NoAutoAnswer {
    pub fn reason(self) -> &'static str {
        match self {
            NoAutoAnswer::AutoSubmitted => "Auto-Submitted",
            NoAutoAnswer::Precedence => "Precedence bulk/list/junk",
            NoAutoAnswer::List => "mailing list headers",
            NoAutoAnswer::NullSender => "null sender",
            NoAutoAnswer::Report => "delivery report",
        }
    }
}

/// One recipient's line of a delivery status notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    pub address: String,
    /// `failed`, `delayed`, `delivered`, `relayed`, `expanded`.
    pub action: String,
    pub status: String,
    pub diagnostic: String,
}

/// A delivery status notification (RFC 3464).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    pub recipients: Vec<DsnRecipient>,
    /// Message-IDs found in the returned message or its headers.
    pub original_ids: Vec<String>,
}

/// An attached file as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub name: String,
    /// The Content-Type the sender claimed.
    pub declared: String,
    pub bytes: Vec<u8>,
}

/// What the channel needs of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub message_id: Option<String>,
    /// From's display name and address.
    pub from_name: Option<String>,
    pub from_address: Option<String>,
    pub subject: String,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub no_auto_answer: Option<NoAutoAnswer>,
    pub dsn: Option<Dsn>,
    pub content_language: Option<String>,
    /// The topmost `Authentication-Results` header, as added by the relay.
    pub authentication_results: Option<String>,
    pub text: String,
    pub attachments: Vec<Attached>,
}

fn texts(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn first_address(address: Option<&Address<'_>>) -> (Option<String>, Option<String>) {
    let Some(a) = address.and_then(|a| a.first()) else {
        return (None, None);
    };
    (
        a.name()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        a.address()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
    )
}

/// Reads `raw`; `envelope_from` is MAIL FROM (empty for the null sender).
pub fn parse(raw: &[u8], envelope_from: &str) -> Result<Parsed, ParseError> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(ParseError::Unparsable)?;
    if message.parts.len() > MAX_PARTS {
        return Err(ParseError::TooManyParts);
    }
    // Depth: walk the part tree from the root without recursion.
    let mut stack = vec![(0u32, 1usize)];
    let mut seen = 0usize;
    while let Some((id, depth)) = stack.pop() {
        seen += 1;
        if depth > MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        if seen > MAX_PARTS {
            return Err(ParseError::TooManyParts);
        }
        if let Some(PartType::Multipart(children)) = message.parts.get(id as usize).map(|p| &p.body)
        {
            stack.extend(children.iter().map(|c| (*c, depth + 1)));
        }
    }

    let header_text = |name: &str| message.header_raw(name).map(|v| v.trim().to_owned());
    let auto_submitted = header_text("Auto-Submitted")
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|v| v != "no");
    let precedence = header_text("Precedence")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "bulk" | "list" | "junk"));
    let list =
        message.header_raw("List-Id").is_some() || message.header_raw("List-Unsubscribe").is_some();
    let content_type = message.root_part().content_type();
    let is_report = content_type.is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && c.attribute("report-type")
                .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
    });
    let null_sender = envelope_from.trim().trim_matches(['<', '>']).is_empty();
    let no_auto_answer = if is_report {
        Some(NoAutoAnswer::Report)
    } else if auto_submitted {
        Some(NoAutoAnswer::AutoSubmitted)
    } else if precedence {
        Some(NoAutoAnswer::Precedence)
    } else if list {
        Some(NoAutoAnswer::List)
    } else if null_sender {
        Some(NoAutoAnswer::NullSender)
    } else {
        None
    };
    let dsn = is_report.then(|| dsn(&message, raw));

    let text = match message.text_bodies().next() {
        Some(part) if !part.is_text_html() => part.text_contents().unwrap_or_default().to_owned(),
        _ => match message.body_html(0) {
            Some(html) => crate::html::to_text(&html),
            None => message
                .body_text(0)
                .map(Cow::into_owned)
                .unwrap_or_default(),
        },
    };

    let mut attachments = Vec::new();
    if !is_report {
        for part in message.attachments() {
            let declared = part
                .content_type()
                .map(|c| match c.subtype() {
                    Some(s) => format!("{}/{}", c.ctype(), s),
                    None => c.ctype().to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".to_owned())
                .to_ascii_lowercase();
            // A forwarded message is kept as a file like any other (and refused by its type).
            let bytes = match &part.body {
                PartType::Message(_) => raw
                    .get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)
                    .unwrap_or_default()
                    .to_vec(),
                _ => part.contents().to_vec(),
            };
            attachments.push(Attached {
                name: part.attachment_name().unwrap_or("attachment").to_owned(),
                declared,
                bytes,
            });
        }
    }

    let (from_name, from_address) = first_address(message.from());
    Ok(Parsed {
        message_id: message.message_id().map(str::to_owned),
        from_name,
        from_address,
        subject: message.subject().unwrap_or_default().trim().to_owned(),
        in_reply_to: texts(message.in_reply_to()),
        references: texts(message.references()),
        no_auto_answer,
        dsn,
        content_language: header_text("Content-Language"),
        authentication_results: header_text("Authentication-Results"),
        text,
        attachments,
    })
}

/// The recipients and original Message-IDs of a DSN, read from the raw parts (the
/// `message/delivery-status` part is plain header-like fields).
fn dsn(message: &mail_parser::Message<'_>, raw: &[u8]) -> Dsn {
    let mut recipients = Vec::new();
    let mut original_ids = Vec::new();
    for part in message.parts.iter().skip(1) {
        let body = raw
            .get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)
            .unwrap_or_default();
        let body = String::from_utf8_lossy(body);
        let is_status = part.content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("message")
                && c.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("delivery-status"))
        });
        if is_status {
            // Per-recipient blocks are separated by blank lines; the first is per-message.
            for block in body.replace("\r\n", "\n").split("\n\n") {
                let field = |name: &str| {
                    block.lines().find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.trim()
                            .eq_ignore_ascii_case(name)
                            .then(|| v.trim().to_owned())
                    })
                };
                let Some(recipient) =
                    field("Final-Recipient").or_else(|| field("Original-Recipient"))
                else {
                    continue;
                };
                let address = recipient
                    .split_once(';')
                    .map_or(recipient.as_str(), |(_, a)| a)
                    .trim()
                    .trim_matches(['<', '>'])
                    .to_owned();
                recipients.push(DsnRecipient {
                    address,
                    action: field("Action").unwrap_or_default().to_ascii_lowercase(),
                    status: field("Status").unwrap_or_default(),
                    diagnostic: field("Diagnostic-Code").unwrap_or_default(),
                });
            }
        } else {
            for line in body.lines() {
                if let Some((k, v)) = line.split_once(':')
                    && k.trim().eq_ignore_ascii_case("message-id")
                {
                    let id = v.trim().trim_matches(['<', '>']).to_owned();
                    if !id.is_empty() && !original_ids.contains(&id) {
                        original_ids.push(id);
                    }
                }
            }
        }
    }
    Dsn {
        recipients,
        original_ids,
    }
}

#[cfg(test)]
mod tests;
