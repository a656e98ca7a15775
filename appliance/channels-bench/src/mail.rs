//! The e-mail channel: the SMTP listener (as `mail::start` builds it, but without its worker,
//! so that mail in and the outbox are timed apart), senders speaking SMTP from their own
//! loopback addresses, then the outbox worker delivering the acknowledgements to a real
//! aiosmtpd relay (appliance/mail's `tests/fixtures/relay.py`), counted in the files it writes.

use std::collections::HashSet;
use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader as AsyncBufReader};
use tokio::net::{TcpSocket, TcpStream};

use crate::progress;

pub(crate) const TO: &str = "contact@mae.test";

/// aiosmtpd writing what it receives to a directory; killed by its PID on drop.
#[derive(Debug)]
pub(crate) struct Relay {
    child: Child,
    pub(crate) port: u16,
    pub(crate) dir: PathBuf,
}

impl Relay {
    pub(crate) fn start(dir: &Path) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let script = benchkit::workspace_root()?.join("appliance/mail/tests/fixtures/relay.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("/usr/bin/python3 with python3-aiosmtpd (cargo xtask deps)")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("relay stdout")?).read_line(&mut line)?;
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the aiosmtpd relay did not start (install python3-aiosmtpd)");
        }
        Ok(Self {
            child,
            port,
            dir: dir.to_owned(),
        })
    }

    /// Messages the relay has written whole (`.eml`, renamed from `.tmp` once complete).
    pub(crate) fn received(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The channel's configuration: appliance/mail's test configuration, with the shipped
/// limits left as they are.
pub(crate) fn config(relay_port: u16) -> mail::MailConfig {
    let mut c = mail::MailConfig::new(
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
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
    c
}

/// The SMTP listener exactly as `mail::start` builds it, minus the worker.
pub(crate) async fn listen(
    config: &mail::MailConfig,
    store: Arc<casestore::Store>,
    files: Arc<casestore::AttachmentStore>,
    clamd: Option<scan::Clamd>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let recipients: HashSet<String> = config
        .mailboxes
        .iter()
        .map(|m| m.address.trim().to_ascii_lowercase())
        .collect();
    let session = mail::SessionLimits {
        hostname: config.hostname.clone(),
        recipients: Arc::new(recipients),
        max_size: config.max_message_bytes,
        max_header_bytes: config.max_header_bytes,
        max_recipients: 20,
        tls_available: false,
        require_tls: false,
    };
    let inbound = mail::Inbound {
        store,
        files,
        intake: Arc::new(intake::Intake::default_v1()),
        clamd,
        settings: Arc::new(mail::InboundSettings {
            mailboxes: config.mailboxes.clone(),
            default_language: config.default_language.clone(),
            authserv_id: config.authserv_id.clone(),
            trust_sender: config.trust_sender,
        }),
    };
    let server = mail::Server::new(inbound, session, config.limits.clone(), None);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    Ok((addr, tokio::spawn(server.serve(listener))))
}

/// Mail `i` of the run: a citizen's first message, with a distinct sender and Message-ID;
/// every fourth carries a small attachment (which goes through clamd when it runs).
fn message(run: u64, i: usize) -> String {
    let head = format!(
        "From: Cetățean {i} <citizen{i}@example.org>\r\n\
         To: Legătura <{TO}>\r\n\
         Subject: Pașaport pierdut {i}\r\n\
         Date: Sat, 28 Nov 2026 06:00:00 +0000\r\n\
         Message-ID: <bench-{run}-{i}@example.org>\r\n\
         MIME-Version: 1.0\r\n"
    );
    let text = "Bună ziua, mi-am pierdut pașaportul la Paris săptămâna trecută. \
                Vă rog să-mi spuneți ce acte trebuie să aduc la consulat și dacă \
                pot primi un titlu de călătorie. Mulțumesc.";
    if i.is_multiple_of(4) {
        format!(
            "{head}Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n\
             --b{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n\
             --b{i}\r\nContent-Type: text/plain; name=\"declaratie.txt\"\r\n\
             Content-Disposition: attachment; filename=\"declaratie.txt\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n\
             RGVjbGFyIHBlIHByb3ByaWEgcsSDc3B1bmRlcmUgY8SDIG1pLWFtIHBpZXJkdXQgcGHImWFwb3J0dWwu\r\n\
             --b{i}--\r\n"
        )
    } else {
        format!(
            "{head}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n"
        )
    }
}

/// One SMTP connection.
struct Client {
    io: AsyncBufReader<TcpStream>,
}

impl Client {
    async fn connect(from: IpAddr, to: SocketAddr) -> Result<Self> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(from, 0))?;
        let stream = socket.connect(to).await?;
        stream.set_nodelay(true)?;
        let mut c = Self {
            io: AsyncBufReader::new(stream),
        };
        c.expect(220).await?;
        c.command("EHLO sender.example.org\r\n", 250).await?;
        Ok(c)
    }

    /// Reads one reply (all its lines); fails unless its code is `code`.
    async fn expect(&mut self, code: u16) -> Result<String> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.io.read_line(&mut line).await? == 0 {
                bail!("the server closed the connection after {all:?}");
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                break;
            }
        }
        if !all.starts_with(&code.to_string()) {
            bail!("expected {code}, got {}", all.trim_end());
        }
        Ok(all)
    }

    async fn command(&mut self, line: &str, code: u16) -> Result<String> {
        self.io.get_mut().write_all(line.as_bytes()).await?;
        self.expect(code).await
    }

    /// One mail; returns the time from the end of DATA to the 250, and the reply.
    async fn send(&mut self, sender: &str, body: &str) -> Result<(Duration, String)> {
        self.command(&format!("MAIL FROM:<{sender}>\r\n"), 250)
            .await?;
        self.command(&format!("RCPT TO:<{TO}>\r\n"), 250).await?;
        self.command("DATA\r\n", 354).await?;
        let mut data = String::with_capacity(body.len() + 8);
        for line in body.split_inclusive("\r\n") {
            if line.starts_with('.') {
                data.push('.');
            }
            data.push_str(line);
        }
        data.push_str(".\r\n");
        self.io.get_mut().write_all(data.as_bytes()).await?;
        let t = Instant::now();
        let reply = self.expect(250).await?;
        Ok((t.elapsed(), reply))
    }
}

/// What the senders measured.
#[derive(Debug)]
pub(crate) struct MailIn {
    pub(crate) mails: usize,
    pub(crate) new_cases: usize,
    pub(crate) wall: Duration,
    pub(crate) latencies_ms: Vec<f64>,
}

/// `senders` connections, each from its own loopback address (127.2.0.N), sharing `mails`.
pub(crate) async fn send_all(to: SocketAddr, senders: usize, mails: usize) -> Result<MailIn> {
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..senders {
        let from = IpAddr::V4(Ipv4Addr::new(127, 2, 0, u8::try_from(s + 1)?));
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(from, to).await?;
            let mut lat = Vec::new();
            let mut new_cases = 0;
            for i in (s..mails).step_by(senders) {
                let (t, reply) = client
                    .send(&format!("citizen{i}@example.org"), &message(run, i))
                    .await
                    .with_context(|| format!("mail {i}"))?;
                if reply.contains("new case") {
                    new_cases += 1;
                }
                lat.push(t.as_secs_f64() * 1e3);
            }
            let _ = client.command("QUIT\r\n", 221).await;
            anyhow::Ok((lat, new_cases))
        }));
    }
    let mut out = MailIn {
        mails,
        new_cases: 0,
        wall: Duration::ZERO,
        latencies_ms: Vec::with_capacity(mails),
    };
    for t in tasks {
        let (lat, n) = t.await??;
        out.latencies_ms.extend(lat);
        out.new_cases += n;
    }
    out.wall = started.elapsed();
    progress!(
        "mail in: {} mails, {} new cases in {:.1} s",
        out.mails,
        out.new_cases,
        out.wall.as_secs_f64()
    );
    Ok(out)
}

/// Runs the outbox worker (on `servers`) until the outbox is empty, the relay holds
/// `expected` messages, or `limit` passes; returns how many arrived, how long it took, and
/// the events left in the outbox.
pub(crate) async fn drain_outbox(
    servers: &tokio::runtime::Handle,
    config: &mail::MailConfig,
    store: Arc<casestore::Store>,
    relay: &Relay,
    expected: usize,
    limit: Duration,
) -> Result<(usize, Duration, u64)> {
    let worker = mail::worker(config, store.clone())?;
    let started = Instant::now();
    let task = servers.spawn(worker.run());
    let mut got = relay.received();
    let mut left = store.outbox_len()?;
    while got < expected && left > 0 && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
        got = relay.received();
        left = store.outbox_len()?;
    }
    let took = started.elapsed();
    task.abort();
    progress!(
        "outbox: {got} messages at the relay in {:.1} s, {left} of {expected} events left",
        took.as_secs_f64()
    );
    Ok((got, took, left))
}
