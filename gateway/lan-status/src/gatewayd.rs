//! What gatewayd says about itself: `GET /status` on its loopback admin endpoint, with one
//! deadline for the whole exchange and a size limit on the answer. A daemon that is not
//! running, hangs or answers nonsense is a [`Gatewayd`] value, never an error or a panic.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// gatewayd's `/status` is a few hundred bytes.
pub const MAX_ANSWER: u64 = 64 * 1024;

/// gatewayd as seen from its admin endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum Gatewayd {
    /// Nothing answered (not started, restarting, stopped by provisioning): why.
    NotRunning(String),
    /// Something answered, but not a status document: why.
    Unreadable(String),
    Answered(Status),
}

/// gatewayd's `/status` document (gateway/gatewayd, `report.rs`). Fields it may lack are
/// optional, so an older or newer daemon still shows what it has.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Status {
    /// `up` or `down`.
    pub tunnel: String,
    /// The hub's address, while the tunnel is up.
    #[serde(default)]
    pub hub: Option<String>,
    /// The hub's name, while the tunnel is up.
    #[serde(default)]
    pub hub_id: Option<String>,
    #[serde(default)]
    pub up_for_s: Option<u64>,
    /// `waiting_for_code`, `enrolling`, `retrying`, `refused` or `enrolled`.
    #[serde(default)]
    pub enrollment: Option<String>,
    #[serde(default)]
    pub retry_in_s: Option<u64>,
    #[serde(default)]
    pub mission: Option<String>,
    #[serde(default)]
    pub appliance: Option<String>,
    #[serde(default)]
    pub last_error: Option<LastError>,
}

/// The last failure gatewayd noted.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LastError {
    pub message: String,
    #[serde(default)]
    pub ago_s: Option<u64>,
}

impl Status {
    /// Whether an admitted tunnel to a hub is up.
    pub fn tunnel_up(&self) -> bool {
        self.tunnel == "up"
    }
}

/// Asks the admin endpoint at `admin` for `/status`, giving up after `deadline`.
pub async fn fetch(admin: SocketAddr, deadline: Duration) -> Gatewayd {
    match tokio::time::timeout(deadline, exchange(admin)).await {
        Err(_) => Gatewayd::NotRunning(format!(
            "its admin endpoint {admin} did not answer within {} s",
            deadline.as_secs_f64()
        )),
        Ok(Err(Failed::Connect(e))) => {
            Gatewayd::NotRunning(format!("its admin endpoint {admin} does not answer: {e}"))
        }
        Ok(Err(Failed::Exchange(why))) => {
            Gatewayd::Unreadable(format!("its admin endpoint {admin}: {why}"))
        }
        Ok(Ok(raw)) => match parse_answer(&raw) {
            Ok(status) => Gatewayd::Answered(status),
            Err(why) => Gatewayd::Unreadable(format!("its admin endpoint {admin}: {why}")),
        },
    }
}

enum Failed {
    Connect(std::io::Error),
    Exchange(String),
}

async fn exchange(admin: SocketAddr) -> Result<Vec<u8>, Failed> {
    let mut stream = tokio::net::TcpStream::connect(admin)
        .await
        .map_err(Failed::Connect)?;
    // HTTP/1.0: the answer has a length or ends with the connection, never chunked.
    stream
        .write_all(b"GET /status HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\n\r\n")
        .await
        .map_err(|e| Failed::Exchange(format!("sending the request: {e}")))?;
    let mut raw = Vec::new();
    (&mut stream)
        .take(MAX_ANSWER + 1)
        .read_to_end(&mut raw)
        .await
        .map_err(|e| Failed::Exchange(format!("reading the answer: {e}")))?;
    if raw.len() as u64 > MAX_ANSWER {
        return Err(Failed::Exchange(format!(
            "the answer is larger than {MAX_ANSWER} bytes"
        )));
    }
    Ok(raw)
}

/// An HTTP answer to `GET /status`: 200 and a status document, or why not.
pub fn parse_answer(raw: &[u8]) -> Result<Status, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no HTTP head")?;
    let (head, body) = (&raw[..split], &raw[split + 4..]);
    let head = std::str::from_utf8(head).map_err(|_| "the answer's head is not text")?;
    let status_line = head.lines().next().unwrap_or_default();
    let code = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .ok_or_else(|| format!("not an HTTP answer: {:?}", cut(status_line, 80)))?;
    if code != "200" {
        return Err(format!("/status answered {}", cut(code, 16)));
    }
    serde_json::from_slice(body).map_err(|e| format!("/status is not a status document ({e})"))
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests;
