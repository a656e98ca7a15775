//! A daemon process started inside a namespace, its logs in files; killed on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{Bin, bin_path};

/// Lines of each log printed when a test fails.
const TAIL_LINES: usize = 40;

/// A running (or exited) daemon.
#[derive(Debug)]
pub struct Daemon {
    label: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    status: Option<ExitStatus>,
}

impl Daemon {
    /// Runs `ip netns exec NS <bin> --config <config>`; `ip` execs the binary in place, so the
    /// child's PID is the daemon's. Logs go to `<dir>/<label>.{stdout,stderr}`; a restarted
    /// daemon gets a new label (`hub-a.2`), so earlier logs survive.
    pub fn start(ns: &str, bin: Bin, config: &Path, dir: &Path, label: &str) -> Result<Daemon> {
        let path = bin_path(bin);
        let stdout = dir.join(format!("{label}.stdout"));
        let stderr = dir.join(format!("{label}.stderr"));
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(&path)
            .arg("--config")
            .arg(config)
            .env(
                "RUST_LOG",
                std::env::var("LEGATURA_SYSTEM_LOG").unwrap_or_else(|_| "info".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(
                File::create(&stdout).with_context(|| format!("creating {}", stdout.display()))?,
            )
            .stderr(
                File::create(&stderr).with_context(|| format!("creating {}", stderr.display()))?,
            )
            .spawn()
            .with_context(|| format!("starting {} in {ns}", path.display()))?;
        Ok(Daemon {
            label: label.to_owned(),
            child,
            stdout,
            stderr,
            status: None,
        })
    }

    /// The name its logs carry.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` (unless the process has already been reaped).
    pub fn signal(&mut self, signal: Signal) -> Result<()> {
        if self.try_status()?.is_some() {
            bail!("{} already exited ({:?})", self.label, self.status);
        }
        kill(Pid::from_raw(self.pid()), signal)
            .with_context(|| format!("sending {signal} to {}", self.label))
    }

    /// SIGTERM: a graceful stop (hubd drains).
    pub fn terminate(&mut self) -> Result<()> {
        self.signal(Signal::SIGTERM)
    }

    /// SIGKILL, then reaps the process.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.try_status()? {
            return Ok(status);
        }
        kill(Pid::from_raw(self.pid()), Signal::SIGKILL)
            .with_context(|| format!("killing {}", self.label))?;
        let status = self
            .child
            .wait()
            .with_context(|| format!("reaping {}", self.label))?;
        self.status = Some(status);
        Ok(status)
    }

    /// The exit status if the process has exited.
    pub fn try_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self
                .child
                .try_wait()
                .with_context(|| format!("checking on {}", self.label))?;
        }
        Ok(self.status)
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("{} did not exit within {timeout:?}", self.label);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Fails if the process has exited, quoting the end of its log.
    pub fn check_running(&mut self) -> Result<()> {
        match self.try_status()? {
            None => Ok(()),
            Some(status) => bail!(
                "{} exited early ({status}); its log ends:\n{}",
                self.label,
                tail(&self.stderr, 10)
            ),
        }
    }

    /// The whole stderr log (the daemons log there, JSON lines).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The log lines whose `message` is `message`, in order, with their timestamps.
    pub fn events(&self, message: &str) -> Vec<LogEvent> {
        self.log()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|v| v["message"] == message)
            .filter_map(|fields| {
                let at = parse_utc(fields["timestamp"].as_str()?)?;
                Some(LogEvent { at, fields })
            })
            .collect()
    }

    /// Prints the end of both logs (used when a test fails).
    pub fn print_logs(&self) {
        #[allow(clippy::print_stderr)]
        for path in [&self.stderr, &self.stdout] {
            let text = tail(path, TAIL_LINES);
            if !text.is_empty() {
                eprintln!(
                    "----- {} (last {TAIL_LINES} lines) -----\n{text}",
                    path.display()
                );
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Err(error) = self.kill() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("cannot stop {}: {error:#}", self.label);
            }
        }
        if std::thread::panicking() {
            self.print_logs();
        }
    }
}

/// One line of a daemon's JSON log.
#[derive(Debug, Clone)]
pub struct LogEvent {
    /// Its `timestamp`.
    pub at: SystemTime,
    /// The whole line.
    pub fields: serde_json::Value,
}

/// `2026-11-28T02:27:15.403818Z` (what the daemons log) as a time.
fn parse_utc(text: &str) -> Option<SystemTime> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    let nanos: u32 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
}

/// The last `lines` lines of a file, or "" if it cannot be read.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_timestamps_parse_to_the_right_instant() {
        let at = |s| {
            parse_utc(s)
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map(|d| (d.as_secs(), d.subsec_micros()))
        };
        assert_eq!(at("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            at("2026-11-28T02:27:15.403818Z"),
            Some((1_795_832_835, 403_818))
        );
        assert_eq!(at("2000-02-29T23:59:59Z"), Some((951_868_799, 0)));
        assert_eq!(at("yesterday"), None);
    }
}
