//! The real peers of the e-mail tests: swaks (Debian) as the sending client, aiosmtpd
//! (Debian's python3-aiosmtpd, tests/fixtures/relay.py) as the relay, and the channel itself
//! in-process on a real case store. Everything binds loopback; every child is killed by PID.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use casestore as cs;

pub const TO: &str = "contact@mae.test";

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// aiosmtpd writing what it receives to a directory.
pub struct Relay {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Relay {
    pub fn start(port: u16, dir: &Path) -> Relay {
        Self::spawn(port, dir, None)
    }

    /// A relay that offers STARTTLS with this certificate and key and refuses mail in clear.
    pub fn start_tls(port: u16, dir: &Path, cert: &Path, key: &Path) -> Relay {
        Self::spawn(port, dir, Some((cert, key)))
    }

    fn spawn(port: u16, dir: &Path, tls: Option<(&Path, &Path)>) -> Relay {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/relay.py");
        // Debian's python3, where python3-aiosmtpd lives (not a pyenv shim).
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script).arg(port.to_string()).arg(dir);
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("/usr/bin/python3 with python3-aiosmtpd (cargo xtask deps)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("relay output");
        assert_eq!(
            line.trim(),
            "ready",
            "the aiosmtpd relay did not start (install python3-aiosmtpd)"
        );
        Relay {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    /// The messages received so far, oldest first.
    pub fn received(&self) -> Vec<mail_parser::Message<'static>> {
        received(&self.dir)
    }
}

pub fn received(dir: &Path) -> Vec<mail_parser::Message<'static>> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).expect("read");
            mail_parser::MessageParser::default()
                .parse(&bytes)
                .expect("parsable")
                .into_owned()
        })
        .collect()
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The channel on a fresh store.
pub struct Hub {
    pub dir: tempfile::TempDir,
    pub store: Arc<cs::Store>,
    pub running: mail::Running,
    pub smtp: u16,
}

pub fn config(relay_port: u16) -> mail::MailConfig {
    let mut c = mail::MailConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        "hub.mae.test",
        vec![mail::Mailbox {
            address: TO.to_owned(),
            country: "FR".to_owned(),
            city: "Paris".to_owned(),
        }],
        mail::RelaySpec::Smtp {
            host: "127.0.0.1".to_owned(),
            port: relay_port,
            starttls: false,
        },
        "Legătura <contact@mae.test>",
        "https://cetateni.mae.test",
    );
    c.authserv_id = Some("relay.mae.test".to_owned());
    c.backoff = Duration::from_millis(200);
    c.max_backoff = Duration::from_millis(400);
    c.max_attempts = 50;
    c
}

impl Hub {
    pub async fn start(config: mail::MailConfig, clamd: Option<scan::Clamd>) -> Hub {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(
            cs::Store::open(dir.path().join("cases.db"), cs::Options::default()).expect("store"),
        );
        let files = Arc::new(cs::AttachmentStore::open(dir.path().join("files")).expect("files"));
        let running = mail::start(
            &config,
            store.clone(),
            files,
            Arc::new(intake::Intake::default_v1()),
            clamd,
        )
        .await
        .expect("start");
        let smtp = running.local_addr.port();
        Hub {
            dir,
            store,
            running,
            smtp,
        }
    }

    /// Waits until the outbox is empty (everything delivered or finished).
    pub async fn drained(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.store.outbox_len().expect("outbox") > 0 {
            assert!(Instant::now() < deadline, "the outbox did not drain");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The case with this number.
    pub fn case(&self, no: &str) -> cs::Case {
        let id = self
            .store
            .case_id(no.parse().expect("case number"))
            .expect("read")
            .expect("case exists");
        self.store.case(id).expect("read").expect("case")
    }
}

/// What swaks printed and whether it succeeded.
#[derive(Debug)]
pub struct Sent {
    pub ok: bool,
    pub output: String,
}

impl Sent {
    /// The case number in the final 250 answer.
    pub fn case_no(&self) -> String {
        let at = self
            .output
            .rfind("CSC-")
            .unwrap_or_else(|| panic!("no case number in {}", self.output));
        self.output[at..at + 16].to_owned()
    }
}

/// Sends with swaks: `args` as swaks takes them (`--from`, `--header`, `--body`, `--data`).
pub async fn swaks(port: u16, args: &[&str]) -> Sent {
    let mut cmd = tokio::process::Command::new("swaks");
    cmd.args([
        "--server",
        &format!("127.0.0.1:{port}"),
        "--to",
        TO,
        "--timeout",
        "20",
    ])
    .args(args)
    .stdin(Stdio::null())
    .kill_on_drop(true);
    let out = cmd
        .output()
        .await
        .expect("swaks (cargo xtask deps installs it)");
    Sent {
        ok: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// A raw message in a file, for `swaks --data`.
pub fn data_file(dir: &Path, name: &str, raw: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, raw).expect("write");
    path.display().to_string()
}

/// The relay's `Authentication-Results` for a sender of `domain`.
pub fn authenticated(domain: &str) -> String {
    format!("Authentication-Results: relay.mae.test; dmarc=pass header.from={domain}")
}

/// Waits until `f` holds.
pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
