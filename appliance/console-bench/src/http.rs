//! A browser as far as the console can tell: one keep-alive HTTP/1.1 connection (hyper's
//! client connection, no pool), a session cookie, and sign-in with password and TOTP.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::stack::Account;

/// The console's session cookie.
const COOKIE: &str = "lg_console";

/// One connection.
#[derive(Debug)]
pub(crate) struct Client {
    send: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    cookie: Option<HeaderValue>,
    session: Option<String>,
}

/// A response, read to its end.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) set_cookie: Option<String>,
    pub(crate) body: Bytes,
}

impl Page {
    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr) -> Result<Self> {
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
    pub(crate) fn set_session(&mut self, value: &str) -> Result<()> {
        self.cookie = Some(HeaderValue::from_str(&format!("{COOKIE}={value}"))?);
        self.session = Some(value.to_owned());
        Ok(())
    }

    /// The session cookie's value, once signed in.
    pub(crate) fn session(&self) -> Option<String> {
        self.session.clone()
    }

    pub(crate) async fn get(&mut self, path: &str) -> Result<Page> {
        self.send(Method::GET, path, None).await
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<String>) -> Result<Page> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.host.clone())
            .header(header::ACCEPT, "text/html");
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
        let response = self
            .send
            .send_request(request)
            .await
            .with_context(|| format!("{path}: no response"))?;
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

    /// Signs in as `account` (one POST /login) and keeps the session cookie. `earlier` uses the
    /// TOTP code of the previous 30-second step, which the console still accepts, so one
    /// account can sign in twice within a step (a code is good for one sign-in only). A
    /// refused code (the step was used by a run a moment ago) is retried at the next step.
    pub(crate) async fn login(&mut self, account: &Account, earlier: bool) -> Result<()> {
        let mut earlier = earlier;
        for attempt in 0..3 {
            let now = unix_secs();
            let at = if earlier { now.saturating_sub(30) } else { now };
            let code = staffauth::totp_code(&account.totp, at);
            let form = format!(
                "account={}&password={}&code={code}",
                form_encode(&account.id),
                form_encode(&account.password)
            );
            let page = self.send(Method::POST, "/login", Some(form)).await?;
            match (page.status, page.set_cookie) {
                (StatusCode::SEE_OTHER, Some(cookie)) => return self.set_session(&cookie),
                (StatusCode::UNAUTHORIZED, _) if attempt < 2 => {
                    // Wait for a step no sign-in has used yet.
                    let wait = 31 - unix_secs() % 30;
                    crate::progress!(
                        "sign-in of {} refused (a used TOTP step); retrying in {wait} s",
                        account.id
                    );
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
pub(crate) fn excerpt(body: &[u8]) -> String {
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
    use super::form_encode;

    #[test]
    fn form_values_are_encoded_as_browsers_do() {
        assert_eq!(form_encode("bench.officer"), "bench.officer");
        assert_eq!(form_encode("a b&c=d/ț"), "a+b%26c%3Dd%2F%C8%9B");
    }
}
