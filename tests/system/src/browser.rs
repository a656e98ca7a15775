//! Browser scripts in a namespace: `node` runs a Playwright script from `tests/system/browser`
//! inside a host's network namespace (`ip netns exec`), and the headless Chromium it launches
//! (Debian's `/usr/bin/chromium`, never a downloaded one) lives there too, so the browser sees
//! exactly the network that host sees.
//!
//! Playwright gives Chromium a new, empty profile under `TMPDIR`, which is set to a directory of
//! this run: every Chromium process of the run names it on its command line, and is killed by
//! PID when the script ends, however it ends.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// The only browser the scripts launch.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Where the scripts and their `node_modules` are.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Checks that Chromium, `node` and the scripts' packages are there.
///
/// # Panics
///
/// When one is missing, naming it and `cargo xtask deps`, which installs them.
pub fn require_browser() {
    let hint = "run `cargo xtask deps` (it installs Debian's chromium and runs `npm ci` in \
                tests/system/browser)";
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: {hint}"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").is_dir(),
        "{}/node_modules is missing: {hint}",
        browser_dir().display()
    );
    assert!(
        Command::new("node")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
        "`node` is not on PATH: install Node.js 20 or later, then {hint}"
    );
}

/// How a script ended.
#[derive(Debug, Clone)]
pub struct ScriptRun {
    /// It exited 0 within its time.
    pub ok: bool,
    pub stdout: String,
    /// Its progress log, plus a line from the harness if it was killed or left Chromium behind.
    pub stderr: String,
    pub elapsed: Duration,
}

impl ScriptRun {
    /// The last line of stdout that is a JSON object: the script's answer.
    pub fn answer(&self) -> Result<serde_json::Value> {
        let line = self
            .stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .with_context(|| format!("no JSON line from the script:\n{}", self.stdout))?;
        serde_json::from_str(line).with_context(|| format!("the script's answer {line:?}"))
    }
}

/// Runs `node <browser_dir>/<script>` inside `ns` with `env` (plus `OUT_DIR` = `work`, for
/// screenshots, and `CHROMIUM`), its output in `work/<script>.{out,err}`. Killed, with its
/// browser, after `timeout`.
pub fn run_script(
    ns: &str,
    script: &str,
    env: &[(&str, String)],
    work: &Path,
    timeout: Duration,
) -> Result<ScriptRun> {
    let tmp = work.join("browser-tmp");
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let (out, err) = (
        work.join(format!("{script}.out")),
        work.join(format!("{script}.err")),
    );
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", ns, "node"])
        .arg(browser_dir().join(script))
        .current_dir(browser_dir())
        .env("TMPDIR", &tmp)
        .env("OUT_DIR", work)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .stdout(File::create(&out).with_context(|| format!("creating {}", out.display()))?)
        .stderr(File::create(&err).with_context(|| format!("creating {}", err.display()))?);
    for (key, value) in env {
        command.env(key, value);
    }
    let started = Instant::now();
    // `ip netns exec` execs node in place: the child's PID is node's.
    let node = command.spawn().context("starting node in the namespace")?;
    let mut run = Running { node, tmp };
    let status = loop {
        if let Some(status) = run.node.try_wait().context("waiting for node")? {
            break Some(status);
        }
        if started.elapsed() > timeout {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    if status.is_some() {
        // Playwright closes Chromium as the script ends; give it a moment, then make sure.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !processes_naming(&run.tmp).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let leftover = run.kill_chromium();
    drop(run);
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    let mut stderr = std::fs::read_to_string(&err).unwrap_or_default();
    if leftover > 0 {
        stderr += &format!("\n(harness: killed {leftover} Chromium processes left running)\n");
    }
    if status.is_none() {
        stderr += &format!("\n(harness: node killed after {}s)\n", timeout.as_secs());
    }
    Ok(ScriptRun {
        ok: status.is_some_and(|s| s.success()),
        stdout,
        stderr,
        elapsed,
    })
}

/// Node and the Chromium processes of one run; all killed by PID on drop.
struct Running {
    node: Child,
    tmp: PathBuf,
}

impl Running {
    fn kill_chromium(&self) -> usize {
        use nix::sys::signal::{Signal, kill, killpg};
        use nix::unistd::{Pid, getpgid, getpgrp};
        let pids = processes_naming(&self.tmp);
        for &pid in &pids {
            let pid = Pid::from_raw(pid);
            // Chromium's main process leads its own group; never signal the test's group.
            if getpgid(Some(pid)).is_ok_and(|group| group == pid && group != getpgrp()) {
                let _ = killpg(pid, Signal::SIGKILL);
            }
            let _ = kill(pid, Signal::SIGKILL);
        }
        pids.len()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.node.kill();
        let _ = self.node.wait();
        self.kill_chromium();
    }
}

/// The processes whose command line names `dir`: the Chromium processes of one run, whose
/// profile Playwright made there.
fn processes_naming(dir: &Path) -> Vec<i32> {
    let needle = dir.as_os_str().as_encoded_bytes();
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}
