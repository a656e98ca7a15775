//! `revocation_*`: how long a revoked appliance keeps its tunnel while it is in use.
//!
//! For each of [`REVOCATIONS`] appliances, one after the other: enrol it, start its gatewayd
//! with a `status` listener, keep an HTTP request going through that listener every
//! [`TRAFFIC_EVERY`], then run `legatura fleet revoke` and time, from the moment the command
//! starts, until the gateway's `/readyz` turns 503 or a request through it fails, whichever
//! comes first. Both moments are kept, and the gateway is then watched for [`STAY_OUT`] to
//! check that the hub does not let it back in.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::progress;
use crate::report::{Report, percentile};
use crate::system::{Binaries, GatewayFiles, Up, http_get, readyz};

/// Appliances revoked.
pub(crate) const REVOCATIONS: usize = 20;
/// Pause between two requests of the traffic thread.
const TRAFFIC_EVERY: Duration = Duration::from_millis(50);
/// Successful requests required before revoking.
const TRAFFIC_BEFORE: usize = 3;
/// Longest wait for both signs of the revocation; past it the sample is this long.
const GIVE_UP: Duration = Duration::from_secs(15);
/// How long a revoked gateway is watched for readiness coming back.
const STAY_OUT: Duration = Duration::from_millis(750);
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
    let (mut ready_down, mut traffic_down, mut cli) = (Vec::new(), Vec::new(), Vec::new());
    let (mut stayed_out, mut timeouts) = (true, 0usize);
    for i in 0..REVOCATIONS {
        up.check_running()?;
        let sample = revoke_one(binaries, up, scratch, &format!("R-{i:02}"))?;
        let earliest = match (sample.ready_down, sample.traffic_down) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => {
                timeouts += 1;
                GIVE_UP
            }
        };
        first.push(earliest.as_secs_f64());
        ready_down.push(sample.ready_down.unwrap_or(GIVE_UP).as_secs_f64());
        traffic_down.push(sample.traffic_down.unwrap_or(GIVE_UP).as_secs_f64());
        cli.push(sample.cli.as_secs_f64());
        stayed_out &= sample.stayed_out;
    }
    report.num("revocations", REVOCATIONS as f64);
    report.num("revocation_p50_s", percentile(&mut first, 50.0));
    report.num("revocation_p99_s", percentile(&mut first, 99.0));
    report.num("revocation_max_s", percentile(&mut first, 100.0));
    report.num("revocation_readyz_p99_s", percentile(&mut ready_down, 99.0));
    report.num(
        "revocation_traffic_p99_s",
        percentile(&mut traffic_down, 99.0),
    );
    report.num("revocation_cli_p50_s", percentile(&mut cli, 50.0));
    report.num("revocation_timeouts", timeouts as f64);
    report.flag("revoked_gateways_stayed_out", stayed_out);
    Ok(())
}

/// One revocation, timed from the start of `legatura fleet revoke`.
#[derive(Debug)]
struct Sample {
    ready_down: Option<Duration>,
    traffic_down: Option<Duration>,
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
    while traffic.successes_before(Instant::now()) < TRAFFIC_BEFORE {
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
    let (mut ready_down, mut traffic_down, mut cli) = (None, None, None);
    while ready_down.is_none() || traffic_down.is_none() || cli.is_none() {
        if ready_down.is_none() && readyz(files.admin_port) == Some(503) {
            ready_down = Some(revoked_at.elapsed());
        }
        if traffic_down.is_none() {
            traffic_down = traffic
                .first_failure_after(revoked_at)
                .map(|t| t - revoked_at);
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
    while revoked_at.elapsed() < GIVE_UP.min(STAY_OUT + Duration::from_secs(1)) {
        if readyz(files.admin_port) == Some(200) {
            back_in.push(format!(
                "/readyz 200 at {:.3} s",
                revoked_at.elapsed().as_secs_f64()
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    // A request already under way when the tunnel closed may still have finished well.
    let settled = [ready_down, traffic_down].into_iter().flatten().min();
    if let Some(settled) = settled {
        if let Some(at) = traffic.first_success_after(revoked_at + settled + IN_FLIGHT) {
            back_in.push(format!(
                "a request succeeded at {:.3} s",
                (at - revoked_at).as_secs_f64()
            ));
        }
    }
    let sample = Sample {
        ready_down,
        traffic_down,
        cli: cli.unwrap_or_else(|| revoked_at.elapsed()),
        stayed_out: back_in.is_empty(),
    };
    traffic.stop();
    drop(gateway);
    progress!(
        "revocation: {appliance}: readyz 503 after {}, requests failing after {}, CLI {:.3} s{}",
        seconds(sample.ready_down),
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

/// A thread sending `GET /` through a gateway's `status` listener every [`TRAFFIC_EVERY`],
/// recording when each request finished and whether it got a 200.
struct Traffic {
    results: Arc<Mutex<Vec<(Instant, bool)>>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Traffic {
    fn start(port: u16) -> Self {
        let results = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (results, stop) = (results.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    let ok = http_get(port, "/", Duration::from_secs(2)).is_ok_and(|s| s == 200);
                    results
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((Instant::now(), ok));
                    std::thread::sleep(TRAFFIC_EVERY);
                }
            }
        });
        Self {
            results,
            stop,
            thread,
        }
    }

    fn with_results<T>(&self, f: impl FnOnce(&[(Instant, bool)]) -> T) -> T {
        f(&self.results.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn successes_before(&self, t: Instant) -> usize {
        self.with_results(|r| r.iter().filter(|(at, ok)| *ok && *at < t).count())
    }

    fn first_success_after(&self, t: Instant) -> Option<Instant> {
        self.with_results(|r| r.iter().find(|(at, ok)| *ok && *at > t).map(|(at, _)| *at))
    }

    fn first_failure_after(&self, t: Instant) -> Option<Instant> {
        self.with_results(|r| {
            r.iter()
                .find(|(at, ok)| !*ok && *at >= t)
                .map(|(at, _)| *at)
        })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
