//! SIP messages as the rest of the bridge sees them: a start line, an ordered header list with
//! canonical names (compact forms expanded, comma lists split one value per entry), and a body.
//! Typed views of single headers live in [`crate::header`]; parsing in [`crate::parse`].

use std::fmt;

use bytes::Bytes;

use crate::header::{CSeq, NameAddr, Uri, Via};

/// A SIP method. Unknown extension methods are kept by name (RFC 3261 §8.2.1 answers them 501).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Update,
    Refer,
    Notify,
    Subscribe,
    Message,
    Prack,
    Publish,
    /// An extension method token, as received.
    Other(String),
}

impl Method {
    /// The method named by a token, case-sensitively as RFC 3261 §7.1 says.
    pub fn from_token(token: &str) -> Method {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "REFER" => Method::Refer,
            "NOTIFY" => Method::Notify,
            "SUBSCRIBE" => Method::Subscribe,
            "MESSAGE" => Method::Message,
            "PRACK" => Method::Prack,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Refer => "REFER",
            Method::Notify => "NOTIFY",
            Method::Subscribe => "SUBSCRIBE",
            Method::Message => "MESSAGE",
            Method::Prack => "PRACK",
            Method::Publish => "PUBLISH",
            Method::Other(name) => name,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compact forms (RFC 3261 §7.3.3 and extensions) and the canonical spelling we print.
const CANONICAL: &[(&str, Option<&str>)] = &[
    ("Via", Some("v")),
    ("From", Some("f")),
    ("To", Some("t")),
    ("Call-ID", Some("i")),
    ("CSeq", None),
    ("Contact", Some("m")),
    ("Content-Length", Some("l")),
    ("Content-Type", Some("c")),
    ("Content-Encoding", Some("e")),
    ("Subject", Some("s")),
    ("Supported", Some("k")),
    ("Refer-To", Some("r")),
    ("Referred-By", Some("b")),
    ("Event", Some("o")),
    ("Allow-Events", Some("u")),
    ("Session-Expires", Some("x")),
    ("Max-Forwards", None),
    ("Route", None),
    ("Record-Route", None),
    ("Expires", None),
    ("WWW-Authenticate", None),
    ("Authorization", None),
    ("Proxy-Authenticate", None),
    ("Proxy-Authorization", None),
    ("Allow", None),
    ("Accept", None),
    ("Require", None),
    ("Unsupported", None),
    ("User-Agent", None),
    ("Server", None),
    ("Min-Expires", None),
    ("Retry-After", None),
];

/// Headers whose comma-separated values are split into one entry each when parsed.
const LIST_HEADERS: &[&str] = &["Via", "Route", "Record-Route", "Contact"];

/// A header name: the canonical spelling for the ones we know (`v` and `VIA` become `Via`),
/// otherwise the token as received. Comparison ignores ASCII case.
#[derive(Debug, Clone)]
pub struct HeaderName(String);

impl HeaderName {
    pub fn new(name: &str) -> HeaderName {
        for (canonical, compact) in CANONICAL {
            if canonical.eq_ignore_ascii_case(name)
                || compact.is_some_and(|c| c.eq_ignore_ascii_case(name))
            {
                return HeaderName((*canonical).to_owned());
            }
        }
        HeaderName(name.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is(&self, name: &str) -> bool {
        self.0.eq_ignore_ascii_case(name)
    }

    pub(crate) fn is_list(&self) -> bool {
        LIST_HEADERS.iter().any(|h| self.is(h))
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for HeaderName {}

/// The ordered header list of a message. Lookups take canonical names (`"Call-ID"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(HeaderName, String)>,
}

impl Headers {
    pub fn new() -> Headers {
        Headers::default()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.is(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.is(name))
            .map(|(_, v)| v.as_str())
    }

    /// Appends a value (after any existing values of the same name).
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.entries.push((HeaderName::new(name), value.into()));
    }

    /// Inserts a value before every other header (a new top Via).
    pub fn push_front(&mut self, name: &str, value: impl Into<String>) {
        self.entries
            .insert(0, (HeaderName::new(name), value.into()));
    }

    /// Replaces every value of `name` with one value, kept where the first one was.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let position = self.entries.iter().position(|(n, _)| n.is(name));
        self.remove(name);
        let entry = (HeaderName::new(name), value.into());
        match position {
            Some(i) if i <= self.entries.len() => self.entries.insert(i, entry),
            _ => self.entries.push(entry),
        }
    }

    /// Removes every value of `name`; true if there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| !n.is(name));
        before != self.entries.len()
    }

    /// Removes the first value of `name` and returns it.
    pub fn remove_first(&mut self, name: &str) -> Option<String> {
        let i = self.entries.iter().position(|(n, _)| n.is(name))?;
        Some(self.entries.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub(crate) fn push_name(&mut self, name: HeaderName, value: String) {
        self.entries.push((name, value));
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: Headers,
    pub body: Bytes,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Bytes,
}

/// Either kind of SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

/// What every request and response must carry for the transaction and dialog layers, read
/// once. Missing or malformed, the message is dropped (or a request answered 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Essentials {
    pub via: Via,
    pub cseq: CSeq,
    pub call_id: String,
    pub from: NameAddr,
    pub to: NameAddr,
}

/// Why a message lacks one of its [`Essentials`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("missing or malformed {0} header")]
pub struct MissingHeader(pub &'static str);

fn essentials(headers: &Headers) -> Result<Essentials, MissingHeader> {
    let via = headers
        .get("Via")
        .and_then(|v| Via::parse(v).ok())
        .ok_or(MissingHeader("Via"))?;
    let cseq = headers
        .get("CSeq")
        .and_then(|v| CSeq::parse(v).ok())
        .ok_or(MissingHeader("CSeq"))?;
    let call_id = headers
        .get("Call-ID")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(MissingHeader("Call-ID"))?
        .to_owned();
    let from = headers
        .get("From")
        .and_then(|v| NameAddr::parse(v).ok())
        .ok_or(MissingHeader("From"))?;
    let to = headers
        .get("To")
        .and_then(|v| NameAddr::parse(v).ok())
        .ok_or(MissingHeader("To"))?;
    Ok(Essentials {
        via,
        cseq,
        call_id,
        from,
        to,
    })
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: Uri) -> Request {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    pub fn essentials(&self) -> Result<Essentials, MissingHeader> {
        essentials(&self.headers)
    }

    /// A response to this request (§8.2.6.2): Via, From, To, Call-ID and CSeq copied, the
    /// record-route kept for 2xx/1xx by the caller if it wants one.
    pub fn response(&self, code: u16) -> Response {
        let mut headers = Headers::new();
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            for value in self.headers.get_all(name) {
                headers.push(name, value);
            }
        }
        Response {
            code,
            reason: reason_phrase(code).to_owned(),
            headers,
            body: Bytes::new(),
        }
    }

    /// The whole message on the wire, with a Content-Length computed from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let start = format!("{} {} SIP/2.0\r\n", self.method, self.uri);
        encode(start, &self.headers, &self.body)
    }
}

impl Response {
    pub fn essentials(&self) -> Result<Essentials, MissingHeader> {
        essentials(&self.headers)
    }

    pub fn is_provisional(&self) -> bool {
        self.code < 200
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The whole message on the wire, with a Content-Length computed from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let start = format!("SIP/2.0 {} {}\r\n", self.code, self.reason);
        encode(start, &self.headers, &self.body)
    }
}

impl Message {
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

fn encode(start: String, headers: &Headers, body: &[u8]) -> Vec<u8> {
    let mut out = start.into_bytes();
    for (name, value) in headers.iter() {
        if name.eq_ignore_ascii_case("Content-Length") {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// The RFC 3261 §21 reason phrase of a status code ("" for codes it does not name).
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "",
    }
}
