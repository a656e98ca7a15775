//! One SMTP server session as a state machine without I/O or clock: bytes in
//! ([`Session::receive`]), [`Output`]s out ([`Session::poll_output`]). The driver (server.rs) owns the
//! socket, TLS and timers; it writes replies, upgrades the connection on
//! [`Output::StartTls`], and takes each complete message ([`Output::Deliver`]) to the store
//! before it answers with [`Session::delivered`].
//!
//! Bounds: a command line is at most [`MAX_LINE`] bytes, a message `max_size` bytes (the rest
//! is read and dropped, then refused with 552), the header section `max_header_bytes`, the
//! recipients `max_recipients`; after [`MAX_ERRORS`] refused commands the session closes. Input
//! buffered before STARTTLS is dropped with the upgrade, so nothing sent in clear can pose as
//! sent under TLS. Commands are parsed by `smtp-proto`; nothing here panics on any input
//! (property tests).

use std::collections::HashSet;
use std::sync::Arc;

use smtp_proto::request::receiver::DataReceiver;
use smtp_proto::{Error as ProtoError, Request};

/// The longest command line accepted, CRLF included (RFC 5321 asks for 512; extensions need
/// more).
pub const MAX_LINE: usize = 2048;
/// Refused commands after which the session is closed.
pub const MAX_ERRORS: u32 = 10;

/// What a session accepts.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Name in the greeting and EHLO answer.
    pub hostname: String,
    /// Accepted recipient addresses, lower-case.
    pub recipients: Arc<HashSet<String>>,
    /// Largest message, in bytes (announced with SIZE).
    pub max_size: usize,
    /// Largest header section.
    pub max_header_bytes: usize,
    pub max_recipients: usize,
    /// STARTTLS is offered (a certificate is configured).
    pub tls_available: bool,
    /// MAIL is refused until STARTTLS.
    pub require_tls: bool,
}

/// An SMTP reply: a code and one or more lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Self {
            code,
            lines: vec![text.into()],
        }
    }

    /// The reply on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            // A reply line never carries a CR or LF of its own.
            let clean: String = line.chars().filter(|c| !c.is_control()).collect();
            out.push_str(&format!("{}{sep}{clean}\r\n", self.code));
        }
        if self.lines.is_empty() {
            out.push_str(&format!("{} \r\n", self.code));
        }
        out.into_bytes()
    }

    pub fn is_positive(&self) -> bool {
        self.code < 400
    }
}

/// A message received in full, for the driver to take in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM, empty for the null sender `<>`.
    pub from: String,
    pub recipients: Vec<String>,
    pub data: Vec<u8>,
    /// The session was under TLS when the message came.
    pub tls: bool,
    /// The client's EHLO/HELO name.
    pub helo: String,
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write this reply.
    Reply(Reply),
    /// Write this reply, then start TLS and call [`Session::tls_started`].
    StartTls(Reply),
    /// Take this message in, then call [`Session::delivered`] with the answer.
    Deliver(Envelope),
    /// Write this reply and close.
    Close(Reply),
}

enum State {
    /// Waiting for EHLO/HELO.
    Fresh,
    /// Greeted, no transaction.
    Ready,
    /// MAIL accepted.
    Mail,
    /// At least one RCPT accepted.
    Rcpt,
    /// Receiving the message.
    Data {
        receiver: DataReceiver,
        too_big: bool,
    },
    /// A message is with the driver.
    Delivering,
    /// STARTTLS answered: nothing more until the handshake is done.
    StartingTls,
    Closed,
}

/// One session.
#[derive(Debug)]
pub struct Session {
    limits: SessionLimits,
    state: State,
    buf: Vec<u8>,
    /// A line longer than [`MAX_LINE`] is being dropped up to its end.
    skipping_line: bool,
    tls: bool,
    helo: String,
    from: String,
    rcpts: Vec<String>,
    data: Vec<u8>,
    errors: u32,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Fresh => "Fresh",
            State::Ready => "Ready",
            State::Mail => "Mail",
            State::Rcpt => "Rcpt",
            State::Data { .. } => "Data",
            State::Delivering => "Delivering",
            State::StartingTls => "StartingTls",
            State::Closed => "Closed",
        })
    }
}

impl Session {
    /// A session and its greeting.
    pub fn new(limits: SessionLimits) -> (Self, Reply) {
        let greeting = Reply::new(220, format!("{} ESMTP Legatura", limits.hostname));
        let session = Self {
            limits,
            state: State::Fresh,
            buf: Vec::new(),
            skipping_line: false,
            tls: false,
            helo: String::new(),
            from: String::new(),
            rcpts: Vec::new(),
            data: Vec::new(),
            errors: 0,
        };
        (session, greeting)
    }

    /// Whether the session ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether it waits for the rest of a message (the driver's timeout differs).
    pub fn in_data(&self) -> bool {
        matches!(self.state, State::Data { .. })
    }

    /// Bytes from the client. Commands are buffered up to one line; message data goes
    /// through as it comes.
    pub fn receive(&mut self, bytes: &[u8]) {
        if !self.is_closed() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// TLS is up: everything starts over (RFC 3207), and what was buffered is dropped.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.buf.clear();
        self.skipping_line = false;
        self.reset();
        self.helo.clear();
        self.state = State::Fresh;
    }

    /// The driver's answer to [`Output::Deliver`].
    pub fn delivered(&mut self, reply: Reply) -> Reply {
        self.reset();
        if matches!(self.state, State::Delivering) {
            self.state = State::Ready;
        }
        reply
    }

    /// The next thing to do, or `None` when more input is needed.
    pub fn poll_output(&mut self) -> Option<Output> {
        loop {
            match &mut self.state {
                State::Closed | State::Delivering | State::StartingTls => return None,
                State::Data { receiver, too_big } => {
                    if self.buf.is_empty() {
                        return None;
                    }
                    let input = std::mem::take(&mut self.buf);
                    let mut iter = input.iter();
                    let done = receiver.ingest(&mut iter, &mut self.data);
                    let rest = iter.as_slice().to_vec();
                    if self.data.len() > self.limits.max_size {
                        *too_big = true;
                        self.data.clear();
                    }
                    self.buf = rest;
                    if !done {
                        continue;
                    }
                    let too_big = *too_big;
                    return Some(self.end_of_data(too_big));
                }
                _ => {
                    let line = self.take_line()?;
                    match line {
                        Line::TooLong => {
                            if let Some(out) = self.refuse(500, "5.5.2 line too long") {
                                return Some(out);
                            }
                        }
                        Line::Complete(line) => {
                            if let Some(out) = self.command(&line) {
                                return Some(out);
                            }
                        }
                    }
                }
            }
        }
    }

    fn end_of_data(&mut self, too_big: bool) -> Output {
        if too_big {
            self.reset();
            self.state = State::Ready;
            return Output::Reply(Reply::new(
                552,
                format!(
                    "5.3.4 message larger than {} bytes refused",
                    self.limits.max_size
                ),
            ));
        }
        let header_len = header_section_len(&self.data);
        if header_len.is_none_or(|n| n > self.limits.max_header_bytes) {
            self.reset();
            self.state = State::Ready;
            return Output::Reply(Reply::new(
                552,
                format!(
                    "5.3.4 header section over {} bytes refused",
                    self.limits.max_header_bytes
                ),
            ));
        }
        self.state = State::Delivering;
        Output::Deliver(Envelope {
            from: std::mem::take(&mut self.from),
            recipients: std::mem::take(&mut self.rcpts),
            data: std::mem::take(&mut self.data),
            tls: self.tls,
            helo: self.helo.clone(),
        })
    }

    fn take_line(&mut self) -> Option<Line> {
        loop {
            match self.buf.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    let line: Vec<u8> = self.buf.drain(..=end).collect();
                    if self.skipping_line {
                        self.skipping_line = false;
                        continue;
                    }
                    if line.len() > MAX_LINE {
                        return Some(Line::TooLong);
                    }
                    return Some(Line::Complete(line));
                }
                None if self.buf.len() > MAX_LINE => {
                    self.buf.clear();
                    if self.skipping_line {
                        return None;
                    }
                    self.skipping_line = true;
                    return Some(Line::TooLong);
                }
                None => return None,
            }
        }
    }

    fn reset(&mut self) {
        self.from.clear();
        self.rcpts.clear();
        self.data.clear();
    }

    /// A refused command: the reply, or the close after too many.
    fn refuse(&mut self, code: u16, text: &str) -> Option<Output> {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.state = State::Closed;
            return Some(Output::Close(Reply::new(
                421,
                "4.7.0 too many errors, closing",
            )));
        }
        Some(Output::Reply(Reply::new(code, text)))
    }

    fn command(&mut self, line: &[u8]) -> Option<Output> {
        let parsed = Request::parse(&mut line.iter());
        let request = match parsed {
            Ok(r) => r,
            Err(ProtoError::NeedsMoreData { .. }) => {
                return self.refuse(500, "5.5.2 syntax error");
            }
            Err(ProtoError::UnknownCommand) => {
                return self.refuse(500, "5.5.1 command not recognised");
            }
            Err(ProtoError::InvalidSenderAddress) => {
                return self.refuse(553, "5.1.7 bad sender address");
            }
            Err(ProtoError::InvalidRecipientAddress) => {
                return self.refuse(553, "5.1.3 bad recipient address");
            }
            Err(_) => return self.refuse(501, "5.5.4 invalid arguments"),
        };
        match request {
            Request::Ehlo { host } => {
                self.reset();
                self.helo = host.chars().take(255).collect();
                self.state = State::Ready;
                let mut lines = vec![
                    format!("{} greets {}", self.limits.hostname, self.helo),
                    format!("SIZE {}", self.limits.max_size),
                    "8BITMIME".to_owned(),
                    "ENHANCEDSTATUSCODES".to_owned(),
                ];
                if self.limits.tls_available && !self.tls {
                    lines.push("STARTTLS".to_owned());
                }
                Some(Output::Reply(Reply { code: 250, lines }))
            }
            Request::Helo { host } => {
                self.reset();
                self.helo = host.chars().take(255).collect();
                self.state = State::Ready;
                Some(Output::Reply(Reply::new(250, self.limits.hostname.clone())))
            }
            Request::StartTls => {
                if !self.limits.tls_available || self.tls {
                    return self.refuse(502, "5.5.1 STARTTLS not available");
                }
                if matches!(self.state, State::Fresh) {
                    return self.refuse(503, "5.5.1 EHLO first");
                }
                // Whatever came after STARTTLS in clear is dropped (RFC 3207, CVE-2011-0411).
                self.buf.clear();
                self.state = State::StartingTls;
                Some(Output::StartTls(Reply::new(
                    220,
                    "2.0.0 ready to start TLS",
                )))
            }
            Request::Mail { from } => {
                match self.state {
                    State::Fresh => return self.refuse(503, "5.5.1 EHLO first"),
                    State::Ready => {}
                    _ => return self.refuse(503, "5.5.1 nested MAIL"),
                }
                if self.limits.require_tls && !self.tls {
                    return self.refuse(530, "5.7.0 STARTTLS first");
                }
                if from.size > self.limits.max_size {
                    return self.refuse(
                        552,
                        &format!("5.3.4 message larger than {} bytes", self.limits.max_size),
                    );
                }
                let address = from.address.trim();
                if address.len() > 320 {
                    return self.refuse(553, "5.1.7 sender address too long");
                }
                self.from = address.to_owned();
                self.state = State::Mail;
                Some(Output::Reply(Reply::new(250, "2.1.0 sender ok")))
            }
            Request::Rcpt { to } => {
                if !matches!(self.state, State::Mail | State::Rcpt) {
                    return self.refuse(503, "5.5.1 MAIL first");
                }
                if self.rcpts.len() >= self.limits.max_recipients {
                    return Some(Output::Reply(Reply::new(452, "4.5.3 too many recipients")));
                }
                let address = to.address.trim().to_ascii_lowercase();
                if !self.limits.recipients.contains(&address) {
                    return self.refuse(550, "5.1.1 no such recipient here");
                }
                if !self.rcpts.contains(&address) {
                    self.rcpts.push(address);
                }
                self.state = State::Rcpt;
                Some(Output::Reply(Reply::new(250, "2.1.5 recipient ok")))
            }
            Request::Data => {
                if !matches!(self.state, State::Rcpt) {
                    return self.refuse(503, "5.5.1 RCPT first");
                }
                self.data.clear();
                self.state = State::Data {
                    receiver: DataReceiver::new(),
                    too_big: false,
                };
                Some(Output::Reply(Reply::new(
                    354,
                    "end data with <CR><LF>.<CR><LF>",
                )))
            }
            Request::Bdat { .. } => self.refuse(502, "5.5.1 BDAT not supported"),
            Request::Rset => {
                self.reset();
                if !matches!(self.state, State::Fresh) {
                    self.state = State::Ready;
                }
                Some(Output::Reply(Reply::new(250, "2.0.0 reset")))
            }
            Request::Noop { .. } => Some(Output::Reply(Reply::new(250, "2.0.0 ok"))),
            Request::Quit => {
                self.state = State::Closed;
                Some(Output::Close(Reply::new(221, "2.0.0 bye")))
            }
            Request::Vrfy { .. } | Request::Expn { .. } => {
                Some(Output::Reply(Reply::new(252, "2.5.0 not verified")))
            }
            Request::Help { .. } => Some(Output::Reply(Reply::new(214, "2.0.0 see RFC 5321"))),
            Request::Auth { .. } => self.refuse(502, "5.5.1 AUTH not offered"),
            _ => self.refuse(502, "5.5.1 command not implemented"),
        }
    }
}

enum Line {
    Complete(Vec<u8>),
    TooLong,
}

/// The length of the header section (up to and including the blank line), or the whole
/// message when it has no body; `None` never happens for a bounded message but keeps the
/// caller honest.
pub(crate) fn header_section_len(data: &[u8]) -> Option<usize> {
    let crlf = find(data, b"\r\n\r\n").map(|i| i + 4);
    let lf = find(data, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) => Some(data.len()),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests;
