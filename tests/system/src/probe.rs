//! Probes run from inside a namespace: HTTP GETs on a daemon's loopback admin endpoint, and
//! one-line requests through a gateway's local listener.
//!
//! The admin endpoints stay on `127.0.0.1` as in production; the probe reaches them by entering
//! the daemon's namespace (see [`crate::in_ns`]), not by exposing them on the bridge.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::in_ns;
use crate::net::enter;

/// Admin probes: the daemon is on the same host, it answers at once or not at all.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Requests through a tunnel may wait for a reconnection (gatewayd waits up to 5 s for a link).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET path` on `addr` from inside `ns`: the status code and the body.
pub fn http_get(ns: &str, addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    http_get_within(ns, addr, path, ADMIN_TIMEOUT)
}

/// [`http_get`] with `timeout` for the connection and each read and write.
pub(crate) fn http_get_within(
    ns: &str,
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(u16, String)> {
    in_ns(ns, || {
        let mut s = connect(addr, timeout)?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)
            .with_context(|| format!("reading the answer to GET {path}"))?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .with_context(|| format!("no HTTP head in {text:?}"))?;
        let code = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .with_context(|| format!("no HTTP status in {head:?}"))?;
        Ok((code, body.to_owned()))
    })
}

/// The admin `/status` document.
pub fn status(ns: &str, admin: SocketAddr) -> Result<serde_json::Value> {
    let (code, body) = http_get(ns, admin, "/status")?;
    if code != 200 {
        bail!("/status answered {code}: {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("/status is not JSON: {body}"))
}

/// Polls `/readyz` until it answers 200; returns how long that took.
pub fn wait_ready(ns: &str, admin: SocketAddr, timeout: Duration) -> Result<Duration> {
    let started = Instant::now();
    let mut last = String::from("no answer yet");
    while started.elapsed() < timeout {
        match http_get(ns, admin, "/readyz") {
            Ok((200, _)) => return Ok(started.elapsed()),
            Ok((code, body)) => last = format!("{code} {}", body.trim()),
            Err(error) => last = format!("{error:#}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("{admin} in {ns} not ready after {timeout:?}; last answer: {last}")
}

/// One request on a new TCP connection to `addr` inside `ns`: sends `line`, returns the reply
/// line (without its newline).
pub fn request_line(ns: &str, addr: SocketAddr, line: &str) -> Result<String> {
    in_ns(ns, || exchange(addr, line))
}

/// As [`request_line`], from a thread already inside the namespace.
pub(crate) fn exchange(addr: SocketAddr, line: &str) -> Result<String> {
    let mut s = connect(addr, REQUEST_TIMEOUT)?;
    s.write_all(format!("{line}\n").as_bytes())
        .with_context(|| format!("sending to {addr}"))?;
    let mut reply = String::new();
    BufReader::new(s)
        .read_line(&mut reply)
        .with_context(|| format!("reading the reply from {addr}"))?;
    match reply.strip_suffix('\n') {
        Some(reply) => Ok(reply.to_owned()),
        None => bail!("connection to {addr} closed without a reply line (got {reply:?})"),
    }
}

pub(crate) fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    Ok(s)
}

/// What a [`RequestLoop`] saw.
#[derive(Debug, Default)]
pub struct LoopReport {
    pub ok: u64,
    /// Each failed request: when (since the loop started) and why.
    pub failures: Vec<String>,
    /// The slowest successful request.
    pub slowest: Duration,
    /// When the last successful request was answered.
    pub last_ok: Option<Instant>,
    /// When the first failed request was sent.
    pub first_failure: Option<Instant>,
}

/// Sequential one-line requests, each on a new connection, from a thread inside a namespace,
/// until [`RequestLoop::finish`]. Request `n` is `req <n>` and must be answered `echo: req <n>`.
#[derive(Debug)]
pub struct RequestLoop {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<LoopReport>>>,
}

impl RequestLoop {
    /// Starts requesting `addr` from inside `ns`.
    pub fn start(ns: &str, addr: SocketAddr) -> RequestLoop {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let (ns, thread_stop, thread_ok) = (ns.to_owned(), stop.clone(), ok.clone());
        let thread = std::thread::spawn(move || {
            enter(&ns)?;
            let started = Instant::now();
            let mut report = LoopReport::default();
            for n in 0u64.. {
                if thread_stop.load(Ordering::Acquire) {
                    break;
                }
                let sent = Instant::now();
                let expected = format!("echo: req {n}");
                match exchange(addr, &format!("req {n}")) {
                    Ok(reply) if reply == expected => {
                        report.ok += 1;
                        report.slowest = report.slowest.max(sent.elapsed());
                        report.last_ok = Some(Instant::now());
                        thread_ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(reply) => {
                        report.first_failure.get_or_insert(sent);
                        report.failures.push(format!(
                            "{:?}: req {n}: wrong reply {reply:?}",
                            sent - started
                        ));
                    }
                    Err(error) => {
                        report.first_failure.get_or_insert(sent);
                        report
                            .failures
                            .push(format!("{:?}: req {n}: {error:#}", sent - started));
                    }
                }
            }
            Ok(report)
        });
        RequestLoop {
            stop,
            ok,
            thread: Some(thread),
        }
    }

    /// Requests answered correctly so far.
    pub fn ok_so_far(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Stops after the request in flight and reports.
    pub fn finish(mut self) -> Result<LoopReport> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(report)) => report,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => bail!("request loop already finished"),
        }
    }
}

impl Drop for RequestLoop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
