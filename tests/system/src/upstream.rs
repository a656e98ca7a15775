//! The upstream service on the hub host, served by the test process from inside the hub's
//! namespace: a TCP line service and a UDP echo.
//!
//! TCP protocol, one line at a time, until the client closes:
//! - `blob <len> <seed>` → exactly `len` bytes of [`pattern`]`(seed, len)`, then the server
//!   closes (a download whose every byte the client can check);
//! - any other line `L` → `echo: L`.
//!
//! UDP: every datagram comes back prefixed with `echo: `.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::net::in_ns;

/// Running upstream servers; stopped on drop.
#[derive(Debug)]
pub struct Upstream {
    ns: String,
    tcp: SocketAddr,
    udp: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Upstream {
    /// Binds `tcp` and `udp` inside `ns` and serves them from background threads.
    pub fn start(ns: &str, tcp: SocketAddr, udp: SocketAddr) -> Result<Upstream> {
        let (listener, socket) = in_ns(ns, || {
            let listener =
                TcpListener::bind(tcp).with_context(|| format!("binding upstream {tcp}"))?;
            let socket =
                UdpSocket::bind(udp).with_context(|| format!("binding upstream {udp}/udp"))?;
            socket.set_read_timeout(Some(Duration::from_millis(100)))?;
            Ok((listener, socket))
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let (tcp_stop, udp_stop) = (stop.clone(), stop.clone());
        let threads = vec![
            std::thread::spawn(move || accept_loop(&listener, &tcp_stop)),
            std::thread::spawn(move || udp_echo(&socket, &udp_stop)),
        ];
        Ok(Upstream {
            ns: ns.to_owned(),
            tcp,
            udp,
            stop,
            threads,
        })
    }

    /// The TCP service's address (inside the hub's namespace).
    pub fn tcp(&self) -> SocketAddr {
        self.tcp
    }

    /// The UDP echo's address (inside the hub's namespace).
    pub fn udp(&self) -> SocketAddr {
        self.udp
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the blocking accept; if the namespace is already gone, so is the listener's use.
        let tcp = self.tcp;
        let _ = in_ns(&self.ns, || {
            Ok(TcpStream::connect_timeout(&tcp, Duration::from_secs(1))?)
        });
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool) {
    for conn in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            return;
        }
        if let Ok(conn) = conn {
            // Detached: a connection ends when its client (the hub) closes it.
            std::thread::spawn(move || serve(conn));
        }
    }
}

fn serve(conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut lines = BufReader::new(conn);
    let mut line = String::new();
    while matches!(lines.read_line(&mut line), Ok(n) if n > 0) {
        let text = line.trim_end_matches(['\r', '\n']);
        let mut words = text.split(' ');
        let reply = match (
            words.next(),
            words.next().and_then(|n| n.parse().ok()),
            words.next().and_then(|s| s.parse().ok()),
        ) {
            (Some("blob"), Some(len), Some(seed)) => {
                let _ = out.write_all(&pattern(seed, len));
                return;
            }
            _ => format!("echo: {text}\n"),
        };
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
        line.clear();
    }
}

fn udp_echo(socket: &UdpSocket, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Acquire) {
        if let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let mut reply = b"echo: ".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&reply, peer);
        }
    }
}

/// `len` pseudo-random bytes determined by `seed` (xorshift64): what `blob` sends.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
