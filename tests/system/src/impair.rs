//! A user-space UDP relay that impairs a path the way a satellite WAN does: a fixed one-way
//! delay and random loss, each direction on its own. (tc netem would do this in the kernel, but
//! the test kernel lacks it.)
//!
//! Gateways are pointed at the relay instead of the hub. Each client address gets its own
//! upstream socket, so the hub sees one peer per gateway. Each direction is a FIFO delay line:
//! with a fixed delay, datagrams leave in the order they came, as on a real link.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rand::Rng;

use crate::net::enter;

/// What happens to datagrams in one direction.
#[derive(Debug, Clone, Copy)]
pub struct Impairment {
    /// One-way delay added to every datagram.
    pub delay: Duration,
    /// Probability that a datagram is dropped, 0.0–1.0.
    pub loss: f64,
}

/// Datagrams forwarded and dropped, per direction.
#[derive(Debug, Default)]
struct Counters {
    up: AtomicU64,
    up_lost: AtomicU64,
    down: AtomicU64,
    down_lost: AtomicU64,
}

/// A running relay; stopped on drop.
#[derive(Debug)]
pub struct Relay {
    listen: SocketAddr,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    threads: Vec<JoinHandle<()>>,
}

struct Datagram {
    due: Instant,
    socket: Arc<UdpSocket>,
    /// `None`: the socket is connected to its destination.
    to: Option<SocketAddr>,
    bytes: Vec<u8>,
}

impl Relay {
    /// Listens on `listen` inside `ns` and relays to `upstream`, impairing each direction.
    pub fn start(
        ns: &str,
        listen: SocketAddr,
        upstream: SocketAddr,
        each_way: Impairment,
    ) -> Result<Relay> {
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let (up_tx, up_line) = delay_line();
        let (down_tx, down_line) = delay_line();
        let (bound_tx, bound_rx) = sync_channel(1);
        let (ns, front_stop, front_counters) = (ns.to_owned(), stop.clone(), counters.clone());
        let front = std::thread::spawn(move || {
            let bound = enter(&ns).and_then(|()| {
                let socket =
                    UdpSocket::bind(listen).with_context(|| format!("binding relay {listen}"))?;
                socket.set_read_timeout(Some(Duration::from_millis(50)))?;
                Ok(Arc::new(socket))
            });
            let front = match bound {
                Ok(socket) => {
                    let _ = bound_tx.send(Ok(()));
                    socket
                }
                Err(error) => {
                    let _ = bound_tx.send(Err(error));
                    return;
                }
            };
            let relay = Front {
                front,
                upstream,
                each_way,
                stop: front_stop,
                counters: front_counters,
                up_tx,
                down_tx,
            };
            relay.run();
        });
        bound_rx.recv().context("relay thread died")??;
        Ok(Relay {
            listen,
            stop,
            counters,
            threads: vec![front, up_line, down_line],
        })
    }

    /// Where gateways should send.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// Datagrams dropped so far, both directions.
    pub fn dropped(&self) -> u64 {
        self.counters.up_lost.load(Ordering::Relaxed)
            + self.counters.down_lost.load(Ordering::Relaxed)
    }

    /// A one-line summary of what the relay forwarded and dropped.
    pub fn summary(&self) -> String {
        let c = &self.counters;
        format!(
            "to hub: {} forwarded, {} dropped; to gateway: {} forwarded, {} dropped",
            c.up.load(Ordering::Relaxed),
            c.up_lost.load(Ordering::Relaxed),
            c.down.load(Ordering::Relaxed),
            c.down_lost.load(Ordering::Relaxed)
        )
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The client-facing side: one thread in the relay's namespace.
struct Front {
    front: Arc<UdpSocket>,
    upstream: SocketAddr,
    each_way: Impairment,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    up_tx: Sender<Datagram>,
    down_tx: Sender<Datagram>,
}

impl Front {
    fn run(self) {
        let mut clients: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
        let readers = Mutex::new(Vec::new());
        let mut buf = vec![0u8; 65_536];
        while !self.stop.load(Ordering::Acquire) {
            let Ok((n, client)) = self.front.recv_from(&mut buf) else {
                continue;
            };
            let back = match clients.get(&client) {
                Some(back) => back.clone(),
                None => match self.open_back(client, &readers) {
                    Ok(back) => clients.entry(client).or_insert(back).clone(),
                    Err(_) => continue,
                },
            };
            if rand::thread_rng().gen_bool(self.each_way.loss) {
                self.counters.up_lost.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.counters.up.fetch_add(1, Ordering::Relaxed);
            let due = Instant::now() + self.each_way.delay;
            let _ = self.up_tx.send(Datagram {
                due,
                socket: back,
                to: None,
                bytes: buf[..n].to_vec(),
            });
        }
        for reader in readers.into_inner().unwrap_or_else(|e| e.into_inner()) {
            let _ = reader.join();
        }
    }

    /// A socket towards the hub for `client`, and a thread relaying what comes back.
    fn open_back(
        &self,
        client: SocketAddr,
        readers: &Mutex<Vec<JoinHandle<()>>>,
    ) -> Result<Arc<UdpSocket>> {
        // This thread is inside the relay's namespace, so the new socket is too.
        let back = UdpSocket::bind(("0.0.0.0", 0))?;
        back.connect(self.upstream)?;
        back.set_read_timeout(Some(Duration::from_millis(50)))?;
        let back = Arc::new(back);
        let (socket, front, tx) = (back.clone(), self.front.clone(), self.down_tx.clone());
        let (stop, counters, each_way) = (self.stop.clone(), self.counters.clone(), self.each_way);
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !stop.load(Ordering::Acquire) {
                let Ok(n) = socket.recv(&mut buf) else {
                    continue;
                };
                if rand::thread_rng().gen_bool(each_way.loss) {
                    counters.down_lost.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                counters.down.fetch_add(1, Ordering::Relaxed);
                let due = Instant::now() + each_way.delay;
                let _ = tx.send(Datagram {
                    due,
                    socket: front.clone(),
                    to: Some(client),
                    bytes: buf[..n].to_vec(),
                });
            }
        });
        readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(reader);
        Ok(back)
    }
}

/// A thread that sends each datagram when it is due, in arrival order; it ends when every
/// sender is gone.
fn delay_line() -> (Sender<Datagram>, JoinHandle<()>) {
    let (tx, rx): (Sender<Datagram>, Receiver<Datagram>) = channel();
    let line = std::thread::spawn(move || {
        for d in rx {
            if let Some(wait) = d.due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let _ = match d.to {
                Some(to) => d.socket.send_to(&d.bytes, to),
                None => d.socket.send(&d.bytes),
            };
        }
    });
    (tx, line)
}
