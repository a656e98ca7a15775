//! SIPp processes (Debian's `sip-tester`): the caller and the phone, each in its own temporary
//! directory with its statistics file, stopped by PID when dropped. And the two files the
//! bench reads back: the per-second statistics (`-trace_stat -fd 1`) and the response-time
//! samples (`-trace_rtt`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::procs;

/// Flags every SIPp of the bench gets: without the larger buffer and loop counts SIPp's own
/// socket overflows first, above a few hundred calls per second, and the bench would measure
/// SIPp (docs/telephony.md, *Benchmark*).
const COMMON: &[&str] = &[
    "-nostdin",
    "-buff_size",
    "4194304",
    "-max_recv_loops",
    "10000",
    "-max_sched_loops",
    "10000",
    "-trace_stat",
    "-fd",
    "1",
    "-stf",
    "stats.csv",
];

/// The bench's scenario files.
pub(crate) fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sipp")
        .join(name)
}

/// A running SIPp.
#[derive(Debug)]
pub(crate) struct Sipp {
    name: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Sipp {
    pub(crate) fn start(name: &str, args: &[String]) -> Result<Sipp> {
        let dir = tempfile::tempdir()?;
        let stderr = std::fs::File::create(dir.path().join("stderr.log"))?;
        let child = Command::new("sipp")
            .args(COMMON)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("sipp (Debian package sip-tester; `cargo xtask deps` installs it)")?;
        Ok(Sipp {
            name: name.to_owned(),
            child,
            dir,
        })
    }

    /// Waits for SIPp to end by itself.
    pub(crate) fn wait(&mut self, limit: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                procs::stop(&mut self.child, Duration::from_secs(2));
                bail!("{} did not finish within {limit:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops SIPp now (SIGTERM, then SIGKILL).
    pub(crate) fn stop(&mut self) {
        procs::stop(&mut self.child, Duration::from_secs(2));
    }

    /// The periods written so far.
    pub(crate) fn periods(&self) -> Vec<Period> {
        std::fs::read_to_string(self.dir.path().join("stats.csv"))
            .map(|text| parse_stats(&text))
            .unwrap_or_default()
    }

    /// INVITE-to-200 times in ms, one per call (`-trace_rtt -rtt_freq 1`).
    pub(crate) fn response_times_ms(&self) -> Vec<f64> {
        let mut samples = Vec::new();
        for entry in std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            if path.to_string_lossy().ends_with("_rtt.csv") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                samples.extend(parse_rtt(&text));
            }
        }
        samples
    }

    /// Responses 500–599 that ended a call, from the `-trace_err` log.
    pub(crate) fn server_errors(&self) -> u64 {
        let mut count = 0;
        for entry in std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            if path.to_string_lossy().ends_with("_errors.log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                count += text.matches("received 'SIP/2.0 5").count() as u64;
            }
        }
        count
    }

    /// The end of SIPp's stderr, for error messages.
    pub(crate) fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default();
        let start = text.len().saturating_sub(600);
        text.get(start..).unwrap_or_default().trim().to_owned()
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One `-fd 1` period of SIPp's statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Period {
    /// When the period ended, Unix seconds.
    pub(crate) at: f64,
    /// The rate SIPp aimed at (the ramp's step).
    pub(crate) target: f64,
    /// Calls created per second in the period.
    pub(crate) rate: f64,
    pub(crate) current: u64,
    pub(crate) successful: u64,
    pub(crate) failed: u64,
    pub(crate) retransmissions: u64,
    /// Cumulative: calls created, successful and failed since the start.
    pub(crate) created_total: u64,
    pub(crate) successful_total: u64,
    pub(crate) failed_total: u64,
    pub(crate) retransmissions_total: u64,
}

/// Parses SIPp's `;`-separated statistics by column name (the order changes between
/// versions). A line that is cut short (SIPp still writing it) is skipped.
pub(crate) fn parse_stats(text: &str) -> Vec<Period> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let names: Vec<&str> = header.split(';').collect();
    let col = |name: &str| names.iter().position(|n| *n == name);
    let cols = [
        "CurrentTime",
        "TargetRate",
        "CallRate(P)",
        "CurrentCall",
        "SuccessfulCall(P)",
        "FailedCall(P)",
        "Retransmissions(P)",
        "TotalCallCreated",
        "SuccessfulCall(C)",
        "FailedCall(C)",
        "Retransmissions(C)",
    ]
    .map(col);
    let Some(cols) = cols.into_iter().collect::<Option<Vec<usize>>>() else {
        return Vec::new();
    };
    lines
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(';').collect();
            if fields.len() < names.len() - 1 {
                return None;
            }
            let num = |i: usize| {
                fields
                    .get(cols[i])
                    .and_then(|v| v.trim().parse::<f64>().ok())
            };
            let count = |i: usize| num(i).map(|v| v as u64);
            // "2026-11-28\t08:09:44.608074\t1795853384.608074": the last field is Unix time.
            let at = fields
                .get(cols[0])?
                .split_whitespace()
                .last()?
                .parse()
                .ok()?;
            Some(Period {
                at,
                target: num(1)?,
                rate: num(2)?,
                current: count(3)?,
                successful: count(4)?,
                failed: count(5)?,
                retransmissions: count(6)?,
                created_total: count(7)?,
                successful_total: count(8)?,
                failed_total: count(9)?,
                retransmissions_total: count(10)?,
            })
        })
        .collect()
}

/// `Date_ms;response_time_ms;rtd_no` lines; SIPp writes whole milliseconds.
pub(crate) fn parse_rtt(text: &str) -> Vec<f64> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split(';').nth(1)?.trim().parse().ok())
        .collect()
}

/// The arguments of a SIPp at `port` on loopback.
pub(crate) fn at(port: u16, rest: &[&str]) -> Vec<String> {
    let port = port.to_string();
    ["-i", "127.0.0.1", "-p", port.as_str()]
        .iter()
        .chain(rest)
        .map(|s| (*s).to_owned())
        .collect()
}

/// Registers the phone listening on `phone_port` as agent `user` at `bridge`, with digest.
pub(crate) fn register(
    bridge: SocketAddr,
    user: &str,
    password: &str,
    phone_port: u16,
) -> Result<()> {
    let script = scenario("register.xml");
    let phone = phone_port.to_string();
    let target = bridge.to_string();
    let mut args = vec!["-sf", script.to_str().unwrap_or_default(), target.as_str()];
    args.extend(["-s", user, "-au", user, "-ap", password, "-m", "1"]);
    args.extend(["-key", "contact_port", &phone, "-key", "expires", "3600"]);
    args.extend(["-timeout", "10", "-timeout_error"]);
    let mut sipp = Sipp::start("REGISTER", &at(procs::free_port()?, &args))?;
    let status = sipp.wait(Duration::from_secs(15))?;
    if !status.success() {
        bail!(
            "the phone could not register ({status}): {}",
            sipp.stderr_tail()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_read_by_column_name_and_cut_lines_skipped() {
        let text = "StartTime;CurrentTime;TargetRate;CallRate(P);CurrentCall;SuccessfulCall(P);\
FailedCall(P);Retransmissions(P);TotalCallCreated;SuccessfulCall(C);FailedCall(C);Retransmissions(C);\n\
x;2026-11-28\t08:09:44.6\t1795853384.5;200;199.5;10;190;0;0;400;380;0;0;\n\
x;2026-11-28\t08:09:45.6\t1795853385.5;300;299;12;280;2;5;700;660;2;5;\n\
x;2026-11-28\t08:09:46.6";
        let p = parse_stats(text);
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].at, p[0].target, p[0].rate),
            (1795853384.5, 200.0, 199.5)
        );
        assert_eq!(
            (p[1].failed, p[1].retransmissions, p[1].created_total),
            (2, 5, 700)
        );
    }

    #[test]
    fn response_times_are_the_second_column() {
        assert_eq!(
            parse_rtt("Date_ms;response_time_ms;rtd_no\n16.0;4;1\n24.0;0;1\n"),
            [4.0, 0.0]
        );
    }
}
