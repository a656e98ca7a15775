//! `revocation_*`: how long a revoked appliance keeps its tunnel while it is in use.
//!
//! For each of [`REVOCATIONS`] appliances, one after the other: enrol it, start its gatewayd
//! with a `status` listener, keep an HTTP request going through that listener every
//! [`TRAFFIC_EVERY`], then run `legatura fleet revoke` and time, from the moment the command
//! starts, until the gateway's `/readyz` turns 503 or a request through it is seen to fail,
//! whichever comes first (`revocation_*_s`). Both moments are kept. A local connection the
//! gateway accepts while it has no tunnel waits for one (`wait_for_link`, 5 s by default), so a
//! request cut off by the revocation is seen to fail only at the client's [`REQUEST_TIMEOUT`];
//! hence also `revocation_traffic_cut_p99_s`, the start of the first request that did not get
//! through (to within [`TRAFFIC_EVERY`]). Each revoked gateway is then watched for
//! [`STAY_OUT`]: neither its `/readyz` nor a request may succeed again.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::progress;
use benchkit::percentile;

use crate::report::Report;
use crate::system::{Binaries, GatewayFiles, Up, http_get, readyz};

/// Appliances revoked.
pub(crate) const REVOCATIONS: usize = 20;
/// Pause between two requests of the traffic thread.
const TRAFFIC_EVERY: Duration = Duration::from_millis(50);
/// How long a request through the gateway may take before it counts as failed (a request that
/// gets through takes milliseconds on loopback).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// Successful requests required before revoking.
const TRAFFIC_BEFORE: usize = 3;
/// Longest wait for the signs of the revocation; past it the sample is this long.
const GIVE_UP: Duration = Duration::from_secs(15);
/// How long a revoked gateway is watched for readiness coming back: a few reconnection
/// attempts at the gateway's default backoff (250 ms base).
const STAY_OUT: Duration = Duration::from_secs(1);
/// Longest a request in flight at the revocation may take to finish well.
const IN_FLIGHT: Duration = Duration::from_millis(200);
const MISSION: &str = "bench";

/// Runs the revocations and reports their durations.
pub(crate) fn revocations(
    binaries: &Binaries,
    up: &mut Up,
    scratch: &Path,
    report: &mut Report,
) -> Result<()> {
    progress!("revocation: {REVOCATIONS} appliances, each revoked under traffic");
    let mut first = Vec::new();
    let (mut ready_down, mut traffic_down) = (Vec::new(), Vec::new());
    let (mut traffic_cut, mut cli) = (Vec::new(), Vec::new());
    let (mut stayed_out, mut timeouts) = (true, 0usize);
    let secs = |d: Option<Duration>| d.unwrap_or(GIVE_UP).as_secs_f64();
    for i in 0..REVOCATIONS {
        up.check_running()?;
        let sample = revoke_one(binaries, up, scratch, &format!("R-{i:02}"))?;
        let earliest = [sample.ready_down, sample.traffic_down]
            .into_iter()
            .flatten()
            .min();
        timeouts += usize::from(earliest.is_none());
        first.push(secs(earliest));
        ready_down.push(secs(sample.ready_down));
        traffic_down.push(secs(sample.traffic_down));
        traffic_cut.push(secs(sample.traffic_cut));
        cli.push(sample.cli.as_secs_f64());
        stayed_out &= sample.stayed_out;
    }
    report.num("revocations", REVOCATIONS as f64);
    report.num("revocation_p50_s", percentile(&mut first, 50.0));
    report.num("revocation_p99_s", percentile(&mut first, 99.0));
    report.num("revocation_max_s", percentile(&mut first, 100.0));
    report.num("revocation_readyz_p99_s", percentile(&mut ready_down, 99.0));
    report.num(
        "revocation_traffic_fail_seen_p99_s",
        percentile(&mut traffic_down, 99.0),
    );
    report.num(
        "revocation_traffic_cut_p99_s",
        percentile(&mut traffic_cut, 99.0),
    );
    report.num("revocation_cli_p50_s", percentile(&mut cli, 50.0));
    report.num(
        "revocation_request_timeout_s",
        REQUEST_TIMEOUT.as_secs_f64(),
    );
    report.num("revocation_timeouts", timeouts as f64);
    report.flag("revoked_gateways_stayed_out", stayed_out);
    Ok(())
}

/// One revocation, timed from the start of `legatura fleet revoke`.
#[derive(Debug)]
struct Sample {
    /// Until `/readyz` answered 503.
    ready_down: Option<Duration>,
    /// Until a request was seen to fail.
    traffic_down: Option<Duration>,
    /// Until the start of the first request that failed (zero if it started before).
    traffic_cut: Option<Duration>,
    /// How long the CLI took to return.
    cli: Duration,
    stayed_out: bool,
}

fn revoke_one(binaries: &Binaries, up: &Up, scratch: &Path, appliance: &str) -> Result<Sample> {
    let code = binaries.enrollment_code(&up.data, MISSION, appliance)?;
    let files = GatewayFiles::create(up, &scratch.join(appliance))?;
    files.enroll(binaries, &code)?;
    let mut gateway = files.start(binaries, &format!("gatewayd {appliance}"))?;
    files.wait_ready(&mut gateway)?;

    let traffic = Traffic::start(files.listen_port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while traffic.successes() < TRAFFIC_BEFORE {
        if Instant::now() > deadline {
            bail!(
                "no traffic through {appliance}'s gateway before revoking it; its log ends:\n{}",
                gateway.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    let revoked_at = Instant::now();
    let mut revoke = Command::new(&binaries.legatura)
        .args(["fleet", "revoke", "--data"])
        .arg(&up.data)
        .arg(format!("{MISSION}/{appliance}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running legatura fleet revoke")?;
    let (mut ready_down, mut failed, mut cli) = (None, None, None);
    while ready_down.is_none() || failed.is_none() || cli.is_none() {
        if ready_down.is_none() && readyz(files.admin_port) == Some(503) {
            ready_down = Some(revoked_at.elapsed());
        }
        if failed.is_none() {
            failed = traffic.first_failure_seen_after(revoked_at);
        }
        if cli.is_none() && revoke.try_wait()?.is_some() {
            cli = Some(revoked_at.elapsed());
        }
        if revoked_at.elapsed() > GIVE_UP {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = revoke.wait()?;
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut pipe) = revoke.stderr.take() {
            use std::io::Read as _;
            let _ = pipe.read_to_string(&mut stderr);
        }
        bail!("legatura fleet revoke {MISSION}/{appliance} failed ({status}): {stderr}");
    }

    // The gateway keeps trying to reconnect; the hub must keep refusing it.
    let mut back_in = Vec::new();
    let watch_from = Instant::now();
    while watch_from.elapsed() < STAY_OUT {
        if readyz(files.admin_port) == Some(200) {
            let at = revoked_at.elapsed().as_secs_f64();
            back_in.push(format!("/readyz 200 at {at:.3} s"));
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let traffic_down = failed.map(|r| r.end - revoked_at);
    let settled = [ready_down, traffic_down].into_iter().flatten().min();
    // A request already under way when the tunnel closed may still have finished well.
    let late = settled.and_then(|d| traffic.first_success_after(revoked_at + d + IN_FLIGHT));
    if let Some(at) = late {
        let at = (at - revoked_at).as_secs_f64();
        back_in.push(format!("a request succeeded at {at:.3} s"));
    }
    drop(traffic);
    drop(gateway);

    let sample = Sample {
        ready_down,
        traffic_down,
        traffic_cut: failed.map(|r| r.start.saturating_duration_since(revoked_at)),
        cli: cli.unwrap_or_else(|| revoked_at.elapsed()),
        stayed_out: back_in.is_empty(),
    };
    progress!(
        "revocation: {appliance}: /readyz 503 after {}; traffic cut after {} (failure seen after \
         {}); CLI {:.3} s{}",
        seconds(sample.ready_down),
        seconds(sample.traffic_cut),
        seconds(sample.traffic_down),
        sample.cli.as_secs_f64(),
        if back_in.is_empty() {
            String::new()
        } else {
            format!("; BACK IN: {}", back_in.join(", "))
        }
    );
    Ok(sample)
}

fn seconds(d: Option<Duration>) -> String {
    d.map_or_else(|| "never".into(), |d| format!("{:.3} s", d.as_secs_f64()))
}

/// One request of the traffic thread.
#[derive(Debug, Clone, Copy)]
struct Request {
    start: Instant,
    end: Instant,
    ok: bool,
}

/// A thread sending `GET /` through a gateway's `status` listener every [`TRAFFIC_EVERY`],
/// recording each request. Stopped and joined when dropped.
struct Traffic {
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Traffic {
    fn start(port: u16) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (requests, stop) = (requests.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    let ok = http_get(port, "/", REQUEST_TIMEOUT).is_ok_and(|s| s == 200);
                    let end = Instant::now();
                    requests
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(Request { start, end, ok });
                    std::thread::sleep(TRAFFIC_EVERY);
                }
            }
        });
        Self {
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn with_requests<T>(&self, f: impl FnOnce(&[Request]) -> T) -> T {
        f(&self.requests.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn successes(&self) -> usize {
        self.with_requests(|r| r.iter().filter(|r| r.ok).count())
    }

    fn first_success_after(&self, t: Instant) -> Option<Instant> {
        self.with_requests(|r| r.iter().find(|r| r.ok && r.end > t).map(|r| r.end))
    }

    /// The first request that failed and finished at or after `t`.
    fn first_failure_seen_after(&self, t: Instant) -> Option<Request> {
        self.with_requests(|r| r.iter().find(|r| !r.ok && r.end >= t).copied())
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
