//! A browser as far as the console can tell: one keep-alive HTTP/1.1 connection (hyper's
//! client connection, no pool), a session cookie, sign-in with password and TOTP, forms sent
//! with the page's CSRF token, and server-sent events read as the console streams them.
//!
//! The benchmarks that measure the console (`console-bench`) and the chat on the agent's
//! screen (`channels-bench`) drive it through this client, so what they time is what a
//! browser would wait for.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub use hyper::StatusCode;

/// The console's session cookie.
const COOKIE: &str = "lg_console";

/// The largest server-sent event this client holds; the console's are far smaller.
const MAX_EVENT: usize = 1 << 20;

/// A staff account the client signs in as.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub password: String,
    pub totp: staffauth::TotpSecret,
}

/// One connection.
#[derive(Debug)]
pub struct Client {
    send: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    cookie: Option<HeaderValue>,
    session: Option<String>,
}

/// A response, read to its end.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub set_cookie: Option<String>,
    pub body: Bytes,
}

impl Page {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }

    /// The value of the first `<input name="NAME" value="…">` on the page.
    pub fn input(&self, name: &str) -> Option<String> {
        let text = self.text();
        let at = text.find(&format!("name=\"{name}\""))?;
        let tag_end = at + text[at..].find('>')?;
        let tag_start = text[..at].rfind('<')?;
        let tag = &text[tag_start..tag_end];
        let value = tag.split("value=\"").nth(1)?;
        Some(value.split('"').next()?.to_owned())
    }
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(conn);
        Ok(Self {
            send,
            host: HeaderValue::from_str(&addr.to_string())?,
            cookie: None,
            session: None,
        })
    }

    /// Sends the session cookie `value` from now on.
    pub fn set_session(&mut self, value: &str) -> Result<()> {
        self.cookie = Some(HeaderValue::from_str(&format!("{COOKIE}={value}"))?);
        self.session = Some(value.to_owned());
        Ok(())
    }

    /// The session cookie's value, once signed in.
    pub fn session(&self) -> Option<String> {
        self.session.clone()
    }

    pub async fn get(&mut self, path: &str) -> Result<Page> {
        self.send(Method::GET, path, None).await
    }

    /// Posts a form: `fields` as name and value, encoded as browsers do.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Result<Page> {
        let form = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(Method::POST, path, Some(form)).await
    }

    async fn request(
        &mut self,
        method: Method,
        path: &str,
        accept: &'static str,
        form: Option<String>,
    ) -> Result<hyper::Response<Incoming>> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.host.clone())
            .header(header::ACCEPT, accept);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie.clone());
        }
        let body = match form {
            Some(form) => {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(form))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request.body(body)?;
        self.send.ready().await.context("the connection closed")?;
        self.send
            .send_request(request)
            .await
            .with_context(|| format!("{path}: no response"))
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<String>) -> Result<Page> {
        let response = self.request(method, path, "text/html", form).await?;
        let status = response.status();
        let set_cookie = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                let (pair, _) = v.split_once(';').unwrap_or((v, ""));
                let (name, value) = pair.trim().split_once('=')?;
                (name == COOKIE && !value.is_empty()).then(|| value.to_owned())
            });
        let body = response
            .into_body()
            .collect()
            .await
            .with_context(|| format!("{path}: the body"))?
            .to_bytes();
        Ok(Page {
            status,
            set_cookie,
            body,
        })
    }

    /// Opens a server-sent event stream; the connection carries nothing else from then on.
    pub async fn events(mut self, path: &str) -> Result<Events> {
        let response = self
            .request(Method::GET, path, "text/event-stream", None)
            .await?;
        if response.status() != StatusCode::OK {
            bail!("{path}: {}", response.status());
        }
        Ok(Events {
            body: response.into_body(),
            buffer: BytesMut::new(),
        })
    }

    /// Signs in as `account` (one POST /login) and keeps the session cookie. `earlier` uses the
    /// TOTP code of the previous 30-second step, which the console still accepts, so one
    /// account can sign in twice within a step (a code is good for one sign-in only). A
    /// refused code (the step was used by a run a moment ago) is retried at the next step.
    pub async fn login(&mut self, account: &Account, earlier: bool) -> Result<()> {
        let mut earlier = earlier;
        for attempt in 0..3 {
            let now = unix_secs();
            let at = if earlier { now.saturating_sub(30) } else { now };
            let code = staffauth::totp_code(&account.totp, at).to_string();
            let page = self
                .post(
                    "/login",
                    &[
                        ("account", &account.id),
                        ("password", &account.password),
                        ("code", &code),
                    ],
                )
                .await?;
            match (page.status, page.set_cookie) {
                (StatusCode::SEE_OTHER, Some(cookie)) => return self.set_session(&cookie),
                (StatusCode::UNAUTHORIZED, _) if attempt < 2 => {
                    // Wait for a step no sign-in has used yet.
                    let wait = 31 - unix_secs() % 30;
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                    earlier = false;
                }
                (status, _) => bail!(
                    "sign-in of {} refused with {status}: {}",
                    account.id,
                    excerpt(page.body.as_ref())
                ),
            }
        }
        bail!("sign-in of {} refused three times", account.id)
    }
}

/// A server-sent event stream.
#[derive(Debug)]
pub struct Events {
    body: Incoming,
    buffer: BytesMut,
}

/// One server-sent event: its `event:` name (`message` when none) and its `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    pub data: String,
}

impl Events {
    /// The next event with data; `None` when the server ended the stream. Comments
    /// (keep-alives) are skipped.
    pub async fn next(&mut self) -> Result<Option<Event>> {
        loop {
            if let Some(end) = find_blank_line(&self.buffer) {
                let block = self.buffer.split_to(end.0 + end.1);
                if let Some(event) = parse_event(&block[..end.0]) {
                    return Ok(Some(event));
                }
                continue;
            }
            if self.buffer.len() > MAX_EVENT {
                bail!("a server-sent event longer than {MAX_EVENT} bytes");
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(frame) => {
                    if let Ok(data) = frame.context("the event stream")?.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}

/// Where the first event ends: (its length, the length of the blank line after it).
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    [&b"\r\n\r\n"[..], b"\n\n", b"\r\r"]
        .iter()
        .filter_map(|sep| {
            buf.windows(sep.len())
                .position(|w| w == *sep)
                .map(|at| (at, sep.len()))
        })
        .min()
}

fn parse_event(block: &[u8]) -> Option<Event> {
    let text = String::from_utf8_lossy(block);
    let mut name = "message".to_owned();
    let mut data: Vec<&str> = Vec::new();
    for line in text.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = value.to_owned(),
            "data" => data.push(value),
            _ => {}
        }
    }
    (!data.is_empty()).then(|| Event {
        name,
        data: data.join("\n"),
    })
}

/// `application/x-www-form-urlencoded` for one value.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The start of a body, on one line, for an error message.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    flat.chars().take(300).collect()
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_encoded_as_browsers_do() {
        assert_eq!(form_encode("bench.officer"), "bench.officer");
        assert_eq!(form_encode("a b&c=d/ț"), "a+b%26c%3Dd%2F%C8%9B");
    }

    #[test]
    fn events_are_split_on_blank_lines_and_comments_skipped() {
        let stream = b": keep-alive\n\nevent: chat\ndata: {\"a\":1}\n\ndata: x\ndata: y\r\n\r\n";
        let mut buf = BytesMut::from(&stream[..]);
        let mut got = Vec::new();
        while let Some((len, sep)) = find_blank_line(&buf) {
            let block = buf.split_to(len + sep);
            got.extend(parse_event(&block[..len]));
        }
        assert_eq!(
            got,
            vec![
                Event {
                    name: "chat".into(),
                    data: "{\"a\":1}".into()
                },
                Event {
                    name: "message".into(),
                    data: "x\ny".into()
                },
            ]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn a_form_input_is_found_by_name() {
        let page = Page {
            status: StatusCode::OK,
            set_cookie: None,
            body: Bytes::from_static(
                b"<form><input type=\"hidden\" name=\"csrf\" value=\"t0k\">\
                  <input name=\"version\" type=\"hidden\" value=\"7\"></form>",
            ),
        };
        assert_eq!(page.input("csrf").as_deref(), Some("t0k"));
        assert_eq!(page.input("version").as_deref(), Some("7"));
        assert_eq!(page.input("missing"), None);
    }
}
