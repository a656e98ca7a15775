//! A small HTTP/1.1 client over a fresh TCP connection per request, as a browser behind an
//! appliance (the PROXY v2 header the hub writes comes first) or on the central network.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

/// The `Host` every request names; a same-origin `Origin` is `http://console.test`.
pub(crate) const HOST: &str = "console.test";

/// Long enough for argon2 in a debug build on a busy machine; short enough that a hang fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Where requests go: the central listener, or the tunnel listener with a header naming an
/// appliance.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    /// The PROXY v2 header the hub would write, if this is the tunnel.
    pub(crate) proxy: Option<Vec<u8>>,
}

/// A whole response.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: hyper::HeaderMap,
    pub(crate) body: String,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Where a redirect points.
    pub(crate) fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// Whether this is a redirect to the sign-in page.
    pub(crate) fn is_sign_in(&self) -> bool {
        self.status.is_redirection() && self.location() == Some("/login")
    }
}

/// One request as a browser would send it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Req {
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Req {
    pub(crate) fn get(path: impl Into<String>) -> Self {
        Self {
            method: "GET",
            path: path.into(),
            ..Self::default()
        }
    }

    /// A form post, `application/x-www-form-urlencoded`.
    pub(crate) fn form(path: impl Into<String>, fields: &[(&str, &str)]) -> Self {
        Self::post_raw(path, form_encode(fields).into_bytes())
    }

    pub(crate) fn post_raw(path: impl Into<String>, body: Vec<u8>) -> Self {
        Self {
            method: "POST",
            path: path.into(),
            headers: vec![(
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body,
        }
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

impl Target {
    /// Sends `req` and reads the whole response.
    pub(crate) async fn send(&self, req: Req) -> Response {
        let what = format!("{} {}", req.method, req.path);
        tokio::time::timeout(REQUEST_TIMEOUT, async {
            let response = self.open(req).await;
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await.unwrap().to_bytes();
            Response {
                status: parts.status,
                headers: parts.headers,
                body: String::from_utf8(bytes.to_vec()).unwrap(),
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {REQUEST_TIMEOUT:?}"))
    }

    /// Sends `req` and returns as soon as the headers are in; the body streams (for SSE).
    pub(crate) async fn open(&self, req: Req) -> hyper::Response<Incoming> {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        if let Some(header) = &self.proxy {
            stream.write_all(header).await.unwrap();
        }
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let mut builder = Request::builder()
            .method(req.method)
            .uri(&req.path)
            .header("host", HOST);
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder.body(Full::new(Bytes::from(req.body))).unwrap();
        sender.send_request(request).await.unwrap()
    }
}

/// `application/x-www-form-urlencoded`, as a browser encodes a form.
pub(crate) fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but unreserved characters; space as `+`.
pub(crate) fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Reads a streaming body until `needle` shows up or `within` passes; returns what was read.
pub(crate) async fn read_until(
    body: &mut Incoming,
    needle: &str,
    within: Duration,
) -> (bool, String) {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if seen.contains(needle) {
            return (true, seen);
        }
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) | Ok(None) => return (false, seen),
            Ok(Some(frame)) => frame.unwrap(),
        };
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
}
