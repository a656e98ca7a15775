//! The fleet PKI as an operator sets it up: `legatura ca init` writes the root, the issuing CA
//! (its key in the software key store), the hub's and the first operator's certificates; the
//! `legatura` CLI then talks to the hub's NOC API with the operator certificate.
//!
//! The data directory has the layout the CLI expects (`legatura fleet … --data DATA`):
//! `DATA/pki/{root.pem, operator.pem, operator.key, audit.pub, …}` and `DATA/noc-address`.
//! The CLI runs inside the hub's namespace, where the NOC API listens on loopback.

use std::ffi::OsStr;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{Bin, NocSpec, PkiSpec, TlsFiles, bin_path};

/// A CLI run that does not end within this is killed and fails the test.
const CLI_TIMEOUT: Duration = Duration::from_secs(15);

/// What a finished command printed, and how it exited.
#[derive(Debug, Clone)]
pub struct Output {
    /// The exit code; `None` if killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Fails unless it exited 0, quoting both streams.
    pub fn check(self, what: &str) -> Result<Output> {
        if !self.success() {
            bail!("{what} exited {:?}:\n{self}", self.code);
        }
        Ok(self)
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- stdout ---\n{}--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// Runs `bin ARGS…` to completion, inside namespace `ns` when given (through `ip netns exec`),
/// with `RUST_LOG` as the daemons get it. Killed after `timeout`.
pub fn run_bin(ns: Option<&str>, bin: Bin, args: &[&OsStr], timeout: Duration) -> Result<Output> {
    let path = bin_path(bin);
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(&path);
            c
        }
        None => Command::new(&path),
    };
    cmd.args(args)
        .env(
            "RUST_LOG",
            std::env::var("LEGATURA_SYSTEM_LOG").unwrap_or_else(|_| "info".to_owned()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running {}", path.display()))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let code = wait(&mut child, timeout);
    let out = Output {
        code: code.unwrap_or(None),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if code.is_none() {
        bail!(
            "`{} {}` did not finish within {timeout:?}; killed:\n{out}",
            bin.name(),
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    Ok(out)
}

/// Reads a pipe to its end on a thread, so a chatty child never blocks on a full pipe.
fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

/// `Some(exit code)` once the child has exited, `None` if it had to be killed.
fn wait(child: &mut Child, timeout: Duration) -> Option<Option<i32>> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status.code()),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// One row of `legatura fleet ls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetRow {
    pub mission: String,
    pub appliance: String,
    /// `pending`, `active`, `revoked`.
    pub state: String,
    /// `quic` while connected to the hub asked, else `-`.
    pub transport: String,
    /// `now`, `12s ago`, `never`.
    pub last_seen: String,
    /// `in 23h`, `in 44s`, `EXPIRED`, `-`.
    pub cert_expires: String,
    pub software: String,
    pub from: String,
}

impl FleetRow {
    /// `CERT EXPIRES` in seconds from now (`in 44s` → 44, `in 2m` → 120), `None` if there is no
    /// certificate or it expired.
    pub fn cert_expires_in(&self) -> Option<u64> {
        let rest = self.cert_expires.strip_prefix("in ")?;
        let split = rest.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = rest.split_at(split);
        let n: u64 = n.parse().ok()?;
        Some(match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86_400,
            _ => return None,
        })
    }
}

/// The columns of `legatura fleet ls` (fixed widths; see `provisioning/legatura/src/fleet.rs`).
const COLUMNS: [usize; 7] = [12, 12, 8, 10, 10, 14, 16];

/// Parses the table `legatura fleet ls` prints (a header line, then one row per appliance).
pub fn parse_fleet_table(text: &str) -> Result<Vec<FleetRow>> {
    let mut lines = text.lines();
    let header = lines.next().context("`fleet ls` printed nothing")?;
    if !header.starts_with("MISSION") {
        bail!("`fleet ls` header is {header:?}");
    }
    let mut rows = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let mut fields = Vec::new();
        let mut rest: &str = line;
        for width in COLUMNS {
            let (field, tail) = split_at_char(rest, width);
            fields.push(field.trim().to_owned());
            rest = tail.strip_prefix(' ').unwrap_or(tail);
        }
        fields.push(rest.trim().to_owned());
        let [
            mission,
            appliance,
            state,
            transport,
            last_seen,
            cert_expires,
            software,
            from,
        ] = <[String; 8]>::try_from(fields).map_err(|_| anyhow::anyhow!("bad row {line:?}"))?;
        rows.push(FleetRow {
            mission,
            appliance,
            state,
            transport,
            last_seen,
            cert_expires,
            software,
            from,
        });
    }
    Ok(rows)
}

fn split_at_char(s: &str, chars: usize) -> (&str, &str) {
    match s.char_indices().nth(chars) {
        Some((at, _)) => s.split_at(at),
        None => (s, ""),
    }
}

/// The code in what `legatura fleet enroll` printed: the one word that parses as a code.
pub fn parse_code(stdout: &str) -> Option<String> {
    stdout
        .split_whitespace()
        .find(|w| w.len() == 21 && pki::enroll::EnrollCode::parse(w).is_ok())
        .map(str::to_owned)
}

/// A PKI made by `legatura ca init`, and the operator's CLI bound to it.
#[derive(Debug, Clone)]
pub struct Noc {
    data: PathBuf,
}

impl Noc {
    /// Runs `legatura ca init --dir <data>/pki` (no namespace needed: it only writes files).
    pub fn init(data: &Path) -> Result<Noc> {
        let noc = Noc {
            data: data.to_owned(),
        };
        std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
        let dir = noc.pki_dir();
        run_bin(
            None,
            Bin::Legatura,
            &[
                OsStr::new("ca"),
                OsStr::new("init"),
                OsStr::new("--dir"),
                dir.as_os_str(),
            ],
            CLI_TIMEOUT,
        )?
        .check("legatura ca init")?;
        Ok(noc)
    }

    /// The data directory (`--data`).
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// What `ca init` wrote.
    pub fn pki_dir(&self) -> PathBuf {
        self.data.join("pki")
    }

    /// The root CA: the hub's `fleet_ca`, `hub_ca` and `operator_ca`, and what gateways pin.
    pub fn root(&self) -> PathBuf {
        self.pki_dir().join("root.pem")
    }

    /// The audit-checkpoint public key (hex).
    pub fn audit_pub(&self) -> PathBuf {
        self.pki_dir().join("audit.pub")
    }

    /// The hub's `[tls]`: the root as fleet CA, `hub.pem` (chain) and `hub.key`.
    pub fn hub_tls(&self) -> TlsFiles {
        let dir = self.pki_dir();
        TlsFiles {
            ca: dir.join("root.pem"),
            cert: dir.join("hub.pem"),
            key: dir.join("hub.key"),
        }
    }

    /// A hub's `[pki]` with the fleet records in `fleet_dir` and its own `audit_log`.
    pub fn pki_spec(
        &self,
        fleet_dir: &Path,
        audit_log: &Path,
        leaf_lifetime: &str,
        code_lifetime: &str,
    ) -> PkiSpec {
        let dir = self.pki_dir();
        PkiSpec {
            keys_dir: dir.join("keys"),
            issuing_cert: dir.join("issuing.pem"),
            hub_ca: dir.join("root.pem"),
            fleet_dir: fleet_dir.to_owned(),
            audit_log: audit_log.to_owned(),
            leaf_lifetime: leaf_lifetime.to_owned(),
            code_lifetime: code_lifetime.to_owned(),
        }
    }

    /// A hub's `[noc]` on `listen`; the CLI is pointed at it (`DATA/noc-address`).
    pub fn noc_spec(&self, listen: SocketAddr) -> Result<NocSpec> {
        self.set_address(listen)?;
        Ok(NocSpec {
            listen,
            operator_ca: self.root(),
        })
    }

    /// Points the CLI at the NOC API on `listen` (writes `DATA/noc-address`).
    pub fn set_address(&self, listen: SocketAddr) -> Result<()> {
        std::fs::write(self.data.join("noc-address"), format!("{listen}\n"))
            .context("writing noc-address")
    }

    /// `legatura ARGS… --data DATA` inside `ns` (the hub's namespace).
    pub fn cli(&self, ns: &str, args: &[&str]) -> Result<Output> {
        let mut all: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        all.push(OsStr::new("--data"));
        all.push(self.data.as_os_str());
        run_bin(Some(ns), Bin::Legatura, &all, CLI_TIMEOUT)
    }

    /// `legatura fleet enroll`: the one-time code it printed.
    pub fn enroll(&self, ns: &str, mission: &str, appliance: &str) -> Result<String> {
        let out = self
            .cli(
                ns,
                &[
                    "fleet",
                    "enroll",
                    "--mission",
                    mission,
                    "--appliance",
                    appliance,
                ],
            )?
            .check("legatura fleet enroll")?;
        parse_code(&out.stdout).with_context(|| format!("no enrollment code printed:\n{out}"))
    }

    /// `legatura fleet revoke TARGET`.
    pub fn revoke(&self, ns: &str, target: &str) -> Result<Output> {
        self.cli(ns, &["fleet", "revoke", target])?
            .check("legatura fleet revoke")
    }

    /// `legatura fleet ls`, parsed.
    pub fn ls(&self, ns: &str) -> Result<Vec<FleetRow>> {
        let out = self.cli(ns, &["fleet", "ls"])?.check("legatura fleet ls")?;
        parse_fleet_table(&out.stdout).with_context(|| format!("parsing `fleet ls`:\n{out}"))
    }

    /// The `fleet ls` row of `mission/appliance`.
    pub fn row(&self, ns: &str, mission: &str, appliance: &str) -> Result<FleetRow> {
        self.ls(ns)?
            .into_iter()
            .find(|r| r.mission == mission && r.appliance == appliance)
            .with_context(|| format!("`fleet ls` has no {mission}/{appliance}"))
    }

    /// `legatura audit verify LOG --key DATA/pki/audit.pub` (no namespace), whatever it exits.
    pub fn audit_verify(&self, log: &Path) -> Result<Output> {
        let key = self.audit_pub();
        run_bin(
            None,
            Bin::Legatura,
            &[
                OsStr::new("audit"),
                OsStr::new("verify"),
                log.as_os_str(),
                OsStr::new("--key"),
                key.as_os_str(),
            ],
            CLI_TIMEOUT,
        )
    }
}

/// The entries of an audit log (JSON lines), in order.
pub fn audit_entries(log: &Path) -> Result<Vec<serde_json::Value>> {
    let text =
        std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{} line {}: not JSON", log.display(), i + 1))
        })
        .collect()
}

/// The DER of the first certificate in `pem`.
pub fn first_cert_der(pem: &str) -> Result<Vec<u8>> {
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = pem.find(begin).context("no certificate in the PEM")? + begin.len();
    let end = pem[start..]
        .find("-----END CERTIFICATE-----")
        .context("unterminated PEM certificate")?;
    base64_decode(&pem[start..start + end]).context("PEM body is not base64")
}

/// The appliance a certificate (PEM, leaf first) names, as `mission/appliance`.
pub fn cert_identity(pem: &str) -> Result<String> {
    let der = first_cert_der(pem)?;
    Ok(pki::appliance_id_from_cert(&der)
        .context("not an appliance certificate")?
        .to_string())
}

/// Standard base64 with padding, whitespace ignored.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A well-formed code (its check character right) with the id of `code` and a different
/// secret: what someone guessing gets to send. `n` picks one of 31 different secrets.
pub fn forge_code(code: &str, n: u8) -> Result<String> {
    const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let real = pki::enroll::EnrollCode::parse(code).context("not a code")?;
    let mut secret: Vec<char> = real.secret().chars().collect();
    let at = ALPHABET.find(secret[0]).context("not in the alphabet")?;
    let shift = 1 + usize::from(n) % 31;
    secret[0] = ALPHABET
        .chars()
        .nth((at + shift) % 32)
        .context("alphabet")?;
    let secret: String = secret.into_iter().collect();
    Ok(pki::enroll::EnrollCode::from_parts(real.id(), &secret)
        .context("forging a code")?
        .to_string())
}
