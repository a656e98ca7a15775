//! The bounded decoder: bytes from a datagram or a stream become a [`Message`] or a
//! [`ParseError`], never a panic. Limits are checked before any work proportional to the input.

use bytes::Bytes;

use crate::header::{Uri, is_token, split_outside_quotes};
use crate::message::{HeaderName, Headers, Message, Method, Request, Response};

/// Bounds on what a peer can make us hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Whole message, head and body (a UDP datagram cannot exceed 65,507 bytes anyway).
    pub max_message: usize,
    /// Header entries after comma lists are split.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message: 64 * 1024,
            max_headers: 128,
        }
    }
}

/// Why bytes are not a SIP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("more than {limit} headers")]
    TooManyHeaders { limit: usize },
    #[error("message incomplete")]
    Incomplete,
    #[error("message head is not UTF-8")]
    NotUtf8,
    #[error("malformed start line")]
    StartLine,
    #[error("malformed header line")]
    HeaderLine,
    #[error("malformed Content-Length")]
    ContentLength,
    #[error("Content-Length larger than the datagram")]
    Truncated,
}

/// Parses one whole datagram. Bytes after a Content-Length's worth of body are ignored
/// (§18.3); without Content-Length the body is the rest of the datagram.
pub fn parse_datagram(bytes: &[u8], limits: &Limits) -> Result<Message, ParseError> {
    if bytes.len() > limits.max_message {
        return Err(ParseError::TooLarge {
            limit: limits.max_message,
        });
    }
    let (head_len, body_start) = head_end(bytes).ok_or(ParseError::Incomplete)?;
    let (message, content_length) = parse_head(&bytes[..head_len], limits)?;
    let available = &bytes[body_start..];
    let body = match content_length {
        Some(n) if n > available.len() => return Err(ParseError::Truncated),
        Some(n) => &available[..n],
        None => available,
    };
    Ok(with_body(message, Bytes::copy_from_slice(body)))
}

/// Stream framing (TCP, and later QUIC streams): the length of the first complete message in
/// `buf`, `None` while it is incomplete. Leading CRLFs (keep-alives, RFC 5626 §3.5.1) count
/// as a zero-length "message" the caller skips by the returned length and parses nothing.
/// Content-Length is mandatory on streams (§18.3).
pub fn frame(buf: &[u8], limits: &Limits) -> Result<Option<Frame>, ParseError> {
    let keepalive = buf
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    if keepalive > 0 {
        return Ok(Some(Frame::KeepAlive(keepalive)));
    }
    let Some((head_len, body_start)) = head_end(buf) else {
        if buf.len() > limits.max_message {
            return Err(ParseError::TooLarge {
                limit: limits.max_message,
            });
        }
        return Ok(None);
    };
    if head_len > limits.max_message {
        return Err(ParseError::TooLarge {
            limit: limits.max_message,
        });
    }
    let (_, content_length) = parse_head(&buf[..head_len], limits)?;
    let total = body_start + content_length.ok_or(ParseError::ContentLength)?;
    if total > limits.max_message {
        return Err(ParseError::TooLarge {
            limit: limits.max_message,
        });
    }
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some(Frame::Message(total)))
}

/// What [`frame`] found at the front of a stream buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// This many CR/LF bytes to skip.
    KeepAlive(usize),
    /// A whole message of this many bytes, for [`parse_datagram`].
    Message(usize),
}

fn with_body(message: Message, body: Bytes) -> Message {
    match message {
        Message::Request(mut r) => {
            r.body = body;
            Message::Request(r)
        }
        Message::Response(mut r) => {
            r.body = body;
            Message::Response(r)
        }
    }
}

/// Where the head ends (excluding the blank line) and the body starts.
fn head_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            // "\n\n" or "\n\r\n" ends the head.
            match bytes.get(i + 1..) {
                Some([b'\n', ..]) => return Some((i, i + 2)),
                Some([b'\r', b'\n', ..]) => return Some((i, i + 3)),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Parses the head (start line and headers, without the blank line).
fn parse_head(head: &[u8], limits: &Limits) -> Result<(Message, Option<usize>), ParseError> {
    let head = std::str::from_utf8(head).map_err(|_| ParseError::NotUtf8)?;
    let mut lines = unfold(head);
    let start = lines.next().ok_or(ParseError::StartLine)?;
    let mut headers = Headers::new();
    let mut content_length = None;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(ParseError::HeaderLine)?;
        let name = name.trim_end_matches([' ', '\t']);
        if !is_token(name) {
            return Err(ParseError::HeaderLine);
        }
        let name = HeaderName::new(name);
        let value = value.trim_matches([' ', '\t']);
        if name.is("Content-Length") {
            let n: usize = value.parse().map_err(|_| ParseError::ContentLength)?;
            if content_length.is_some_and(|c| c != n) || n > limits.max_message {
                return Err(ParseError::ContentLength);
            }
            content_length = Some(n);
            // Framing, not content: printing computes it from the body.
            continue;
        }
        let values = if name.is_list() && value != "*" {
            split_outside_quotes(value, ',')
        } else {
            vec![value]
        };
        for value in values {
            if headers.len() >= limits.max_headers {
                return Err(ParseError::TooManyHeaders {
                    limit: limits.max_headers,
                });
            }
            headers.push_name(name.clone(), value.trim().to_owned());
        }
    }
    let message = start_line(start, headers)?;
    Ok((message, content_length))
}

/// Header lines with folding (CRLF followed by whitespace) joined by a single space. The
/// iterator borrows from `head`; folded lines are rebuilt into owned strings.
fn unfold(head: &str) -> impl Iterator<Item = String> + '_ {
    let mut raw = head
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .peekable();
    std::iter::from_fn(move || {
        let mut line = raw.next()?.to_owned();
        while let Some(next) = raw.peek() {
            if next.starts_with([' ', '\t']) {
                line.push(' ');
                line.push_str(next.trim_start_matches([' ', '\t']));
                raw.next();
            } else {
                break;
            }
        }
        Some(line)
    })
}

fn start_line(line: String, headers: Headers) -> Result<Message, ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code: u16 = code.parse().map_err(|_| ParseError::StartLine)?;
        if !(100..=699).contains(&code) {
            return Err(ParseError::StartLine);
        }
        return Ok(Message::Response(Response {
            code,
            reason: reason.trim().to_owned(),
            headers,
            body: Bytes::new(),
        }));
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some("SIP/2.0"), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::StartLine);
    };
    if !is_token(method) {
        return Err(ParseError::StartLine);
    }
    let uri = Uri::parse(uri).map_err(|_| ParseError::StartLine)?;
    Ok(Message::Request(Request {
        method: Method::from_token(method),
        uri,
        headers,
        body: Bytes::new(),
    }))
}

#[cfg(test)]
mod tests;
