//! Typed views of the headers the transaction, dialog and registrar layers read: URIs,
//! name-addr values (From, To, Contact, Route), Via and CSeq. The grammar is ezk-sip-types';
//! these types own their strings so nothing of the parser crate leaks out.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use ezk_sip_types::host::{Host, HostPort};
use ezk_sip_types::uri::{SipUri, SipUriUserPart};

use crate::message::Method;

/// Why a header value did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {0}")]
pub struct HeaderError(pub &'static str);

/// Header parameters: `;name=value;flag`, in order.
pub type Params = Vec<(String, Option<String>)>;

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    pub sips: bool,
    pub user: Option<String>,
    /// The host as printed: a name, an IPv4 address or `[v6]`.
    pub host: String,
    pub port: Option<u16>,
    /// URI parameters (`transport`, `lr`, …), in order.
    pub params: Params,
}

fn host_text(host: &Host) -> String {
    match host {
        Host::IP4(ip) => ip.to_string(),
        Host::IP6(ip) => format!("[{ip}]"),
        Host::Name(name) => name.to_string(),
    }
}

impl Uri {
    /// `sip:user@host:port`.
    pub fn sip(user: Option<&str>, host: &str, port: Option<u16>) -> Uri {
        Uri {
            sips: false,
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
            params: Vec::new(),
        }
    }

    /// `sip:user@ip:port` for a socket address.
    pub fn for_addr(user: Option<&str>, addr: SocketAddr) -> Uri {
        let host = match addr.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        Uri::sip(user, &host, Some(addr.port()))
    }

    pub fn parse(text: &str) -> Result<Uri, HeaderError> {
        let uri: SipUri = text.trim().parse().map_err(|_| HeaderError("URI"))?;
        Uri::from_ezk(&uri, text)
    }

    fn from_ezk(uri: &SipUri, text: &str) -> Result<Uri, HeaderError> {
        let user = match &uri.user_part {
            SipUriUserPart::Empty => None,
            SipUriUserPart::User(user) => Some(user.to_string()),
            SipUriUserPart::UserPw(pw) => Some(pw.user.to_string()),
        };
        // ezk keeps URI parameters without an iterator; read them from the text after the
        // host part, which the grammar has already accepted.
        let params = text
            .split_once('?')
            .map_or(text, |(before, _)| before)
            .split(';')
            .skip(1)
            .map(param)
            .collect();
        Ok(Uri {
            sips: uri.sips,
            user,
            host: host_text(&uri.host_port.host),
            port: uri.host_port.port,
            params,
        })
    }

    /// The parameter's value (`Some(None)` for a flag such as `lr`).
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    pub fn with_param(mut self, name: &str, value: Option<&str>) -> Uri {
        self.params
            .push((name.to_owned(), value.map(str::to_owned)));
        self
    }

    /// The `transport=` parameter, lower-cased.
    pub fn transport(&self) -> Option<String> {
        self.param("transport")
            .flatten()
            .map(str::to_ascii_lowercase)
    }

    /// The socket address when the host is an IP literal (no DNS here, §19.1.2 port 5060).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = host.parse().ok()?;
        Some(SocketAddr::new(ip, self.port.unwrap_or(5060)))
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.sips { "sips:" } else { "sip:" })?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write_params(f, &self.params)
    }
}

fn write_params(f: &mut fmt::Formatter<'_>, params: &Params) -> fmt::Result {
    for (name, value) in params {
        match value {
            Some(value) => write!(f, ";{name}={value}")?,
            None => write!(f, ";{name}")?,
        }
    }
    Ok(())
}

fn param(text: &str) -> (String, Option<String>) {
    match text.split_once('=') {
        Some((name, value)) => (name.trim().to_owned(), Some(value.trim().to_owned())),
        None => (text.trim().to_owned(), None),
    }
}

fn find_param<'a>(params: &'a Params, name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref())
}

/// Splits `;a=b;c;d="x;y"` into parameters, honouring quoted strings.
fn parse_header_params(text: &str) -> Result<Params, HeaderError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = text.strip_prefix(';') else {
        return Err(HeaderError("parameters"));
    };
    let mut params = Vec::new();
    for piece in split_outside_quotes(rest, ';') {
        let (name, value) = param(piece);
        if name.is_empty() {
            return Err(HeaderError("parameters"));
        }
        params.push((name, value));
    }
    Ok(params)
}

/// Splits on `sep` where it is outside double quotes and angle brackets.
pub(crate) fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            c if c == sep && !quoted && !angle => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A `name-addr` or `addr-spec` with header parameters: From, To, Contact, Route, Record-Route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Vec::new(),
        }
    }

    pub fn parse(text: &str) -> Result<NameAddr, HeaderError> {
        let text = text.trim();
        // `name-addr` ends at its `>`; an `addr-spec` cannot carry URI parameters, so its
        // header parameters start at the first `;` (§20.10).
        let (addr, params) = match text.find('>') {
            Some(close) => text.split_at(close + 1),
            None => text.split_at(text.find(';').unwrap_or(text.len())),
        };
        let parsed: ezk_sip_types::uri::NameAddr =
            addr.parse().map_err(|_| HeaderError("name-addr"))?;
        let uri_text = match (addr.find('<'), addr.rfind('>')) {
            (Some(open), Some(close)) if open < close => &addr[open + 1..close],
            _ => addr,
        };
        Ok(NameAddr {
            display: parsed
                .name
                .map(|n| n.trim_matches('"').to_string())
                .filter(|n| !n.is_empty()),
            uri: Uri::from_ezk(&parsed.uri, uri_text)?,
            params: parse_header_params(params)?,
        })
    }

    pub fn tag(&self) -> Option<&str> {
        self.param("tag").flatten()
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// The same value with `tag` set (replacing any tag).
    pub fn with_tag(mut self, tag: &str) -> NameAddr {
        self.params.retain(|(n, _)| !n.eq_ignore_ascii_case("tag"));
        self.params.push(("tag".to_owned(), Some(tag.to_owned())));
        self
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(display) = &self.display {
            write!(f, "\"{}\" ", display.replace(['"', '\\'], ""))?;
        }
        write!(f, "<{}>", self.uri)?;
        write_params(f, &self.params)
    }
}

/// One Via value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `UDP`, `TCP`, … upper-cased.
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

/// RFC 3261 §8.1.1.7: branches of compliant implementations start with this cookie.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

impl Via {
    pub fn new(transport: &str, sent_by: SocketAddr, branch: &str) -> Via {
        let host = match sent_by.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        Via {
            transport: transport.to_ascii_uppercase(),
            host,
            port: Some(sent_by.port()),
            params: vec![
                ("branch".to_owned(), Some(branch.to_owned())),
                ("rport".to_owned(), None),
            ],
        }
    }

    pub fn parse(text: &str) -> Result<Via, HeaderError> {
        let src = Bytes::copy_from_slice(text.trim().as_bytes());
        let input = std::str::from_utf8(&src).map_err(|_| HeaderError("Via"))?;
        let (rest, via) =
            <ezk_sip_types::header::typed::Via as ezk_sip_types::header::HeaderParse>::parse(
                &src, input,
            )
            .map_err(|_| HeaderError("Via"))?;
        if !rest.trim().is_empty() {
            return Err(HeaderError("Via"));
        }
        let HostPort { host, port } = &via.sent_by;
        // Parameters: everything after the sent-by, which the grammar accepted.
        let params_text = input.find(';').map_or("", |i| &input[i..]);
        Ok(Via {
            transport: via.transport.to_ascii_uppercase(),
            host: host_text(host),
            port: *port,
            params: parse_header_params(params_text)?,
        })
    }

    pub fn branch(&self) -> Option<&str> {
        find_param(&self.params, "branch").flatten()
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// `host:port` as the transaction key uses it (§17.2.3 compares sent-by).
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// Whether the branch carries the RFC 3261 magic cookie.
    pub fn is_rfc3261(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// Adds `received` and fills `rport` (RFC 3581) with where the request really came from.
    pub fn stamp_source(&mut self, source: SocketAddr) {
        let ip = source.ip().to_string();
        self.params
            .retain(|(n, _)| !n.eq_ignore_ascii_case("received"));
        self.params.push(("received".to_owned(), Some(ip)));
        if let Some(entry) = self
            .params
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case("rport"))
        {
            entry.1 = Some(source.port().to_string());
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write_params(f, &self.params)
    }
}

/// `CSeq: 1 INVITE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(text: &str) -> Result<CSeq, HeaderError> {
        let mut parts = text.split_whitespace();
        let seq = parts
            .next()
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|s| *s < 1 << 31)
            .ok_or(HeaderError("CSeq"))?;
        let method = parts
            .next()
            .filter(|m| is_token(m))
            .ok_or(HeaderError("CSeq"))?;
        if parts.next().is_some() {
            return Err(HeaderError("CSeq"));
        }
        Ok(CSeq {
            seq,
            method: Method::from_token(method),
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// RFC 3261 §25.1 `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                )
        })
}

#[cfg(test)]
mod tests;
