//! `channels-bench`, run by `cargo xtask bench channels` (issue #6): the citizens' channels
//! in one run on loopback, with real sockets and a real SQLite case store in a temp dir.
//!
//! - **mail in**: the SMTP listener (appliance/mail, as `mail::start` builds it, with clamd
//!   when it can be started, and the shipped limits), 8 senders speaking SMTP from their own
//!   loopback addresses, each mail a citizen's first message with its own sender and
//!   Message-ID (every fourth with a small attachment). `mail_in_per_s`: mails answered 250
//!   with a new case, per second of the whole phase; `mail_in_p99_ms`: end of DATA to 250.
//! - **outbox**: then the outbox worker starts and sends the acknowledgements of those mails
//!   to a real aiosmtpd relay; `outbox_per_s`: messages the relay wrote, per second until the
//!   last one.
//! - **chat**: the portal's `/chat/ws` with 200 citizens at once, each chat picked up and
//!   watched by an operator in the agents' console (its server-sent events over HTTP, as the
//!   agent's browser gets them); `chat_msg_p99_ms`: a citizen's message sent to it arriving
//!   on the agent's screen ([`chat`]).
//!
//! Output: a table, `target/bench/channels.json`, and last `channels: key=value …`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on the terminal"
)]

mod chat;
mod mail;
mod report;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use benchkit::percentile;

use crate::report::Report;

/// The longest the outbox phase runs, to keep the whole run under about two minutes; the
/// worker sends one event at a time, so this is a rate over a window, not a full drain.
const OUTBOX_LIMIT: Duration = Duration::from_secs(40);

/// When the benchmark started, for the timestamps of [`progress!`].
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

pub(crate) fn elapsed_s() -> f64 {
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// Progress on stderr, so stdout holds only the results.
macro_rules! progress {
    ($($arg:tt)*) => {
        eprintln!("channels-bench [{:6.1} s] {}", $crate::elapsed_s(), format_args!($($arg)*))
    };
}
pub(crate) use progress;

#[derive(Debug, Clone)]
struct Args {
    mails: usize,
    senders: usize,
    chats: usize,
    chat_messages: usize,
    no_clamd: bool,
}

fn main() -> ExitCode {
    let _ = elapsed_s();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match parse(&args) {
        Ok(Some(args)) => run(&args),
        Ok(None) => {
            println!(
                "usage: channels-bench [--mails N] [--senders N] [--chats N] \
                 [--chat-messages N] [--no-clamd]"
            );
            println!(
                "       defaults: 2000 mails from 8 senders; 200 chats of 4 messages each \
                 (the hub's default limit is 5 frames per 10 s, the start included)"
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("channels-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<Option<Args>> {
    let mut a = Args {
        mails: 2_000,
        senders: 8,
        chats: 200,
        chat_messages: 4,
        no_clamd: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<usize> {
            let v = it
                .next()
                .with_context(|| format!("{name} takes a number"))?;
            v.replace('_', "")
                .parse()
                .with_context(|| format!("{name} {v}"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--mails" => a.mails = value("--mails")?,
            "--senders" => a.senders = value("--senders")?,
            "--chats" => a.chats = value("--chats")?,
            "--chat-messages" => a.chat_messages = value("--chat-messages")?,
            "--no-clamd" => a.no_clamd = true,
            other => bail!("unknown argument `{other}`; see --help"),
        }
    }
    if !(1..=250).contains(&a.senders) || a.mails < a.senders {
        bail!("--senders must be 1..=250 and at most --mails");
    }
    if !(1..=10_000).contains(&a.chats) || a.chat_messages == 0 {
        bail!("--chats must be 1..=10000 and --chat-messages at least 1");
    }
    Ok(Some(a))
}

fn run(args: &Args) -> Result<()> {
    let mut report = Report::default();
    let mut notes = Vec::new();
    report.num(
        "cpus",
        std::thread::available_parallelism().map_or(0, |n| n.get()) as f64,
    );

    let tmp = tempfile::tempdir().context("temp dir")?;
    let store = Arc::new(casestore::Store::open(
        tmp.path().join("cases.db"),
        casestore::Options::default(),
    )?);
    let files = Arc::new(casestore::AttachmentStore::open(tmp.path().join("files"))?);
    let clamd = if args.no_clamd {
        None
    } else {
        match scan::local::LocalClamd::start(&tmp.path().join("clamd"), 16) {
            Ok(c) => Some(c),
            Err(e) => {
                progress!("clamd could not be started ({e}); mail in runs without it");
                None
            }
        }
    };
    report.flag("clamd", clamd.is_some());
    if clamd.is_none() {
        notes.push("clamd absent: attachments were not scanned".to_owned());
    }
    let relay = mail::Relay::start(&tmp.path().join("relay"))?;
    let config = mail::config(relay.port);

    // The servers on one multi-thread runtime, the load on another, so that the clients
    // never wait in the servers' task queues.
    let servers = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("servers")
        .build()?;
    let load = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("load")
        .build()?;

    // Mail in.
    let (smtp, listener) = servers.block_on(mail::listen(
        &config,
        store.clone(),
        files.clone(),
        clamd.as_ref().map(scan::local::LocalClamd::client),
    ))?;
    let mut mail_in = load.block_on(mail::send_all(smtp, args.senders, args.mails))?;
    listener.abort();
    let wall = mail_in.wall.as_secs_f64();
    report.num("mails", mail_in.mails as f64);
    report.num("mail_senders", args.senders as f64);
    report.num("mail_new_cases", mail_in.new_cases as f64);
    report.flag("mail_all_new_cases", mail_in.new_cases == mail_in.mails);
    report.num("mail_in_s", wall);
    report.num("mail_in_per_s", mail_in.new_cases as f64 / wall);
    report.num(
        "mail_in_p50_ms",
        percentile(&mut mail_in.latencies_ms, 50.0),
    );
    report.num(
        "mail_in_p99_ms",
        percentile(&mut mail_in.latencies_ms, 99.0),
    );
    report.num(
        "mail_in_max_ms",
        percentile(&mut mail_in.latencies_ms, 100.0),
    );

    // The outbox: the acknowledgements of those mails.
    let queued = usize::try_from(store.outbox_len()?)?;
    report.num("outbox_queued", queued as f64);
    let (delivered, took, left) = load.block_on(mail::drain_outbox(
        servers.handle(),
        &config,
        store.clone(),
        &relay,
        queued,
        OUTBOX_LIMIT,
    ))?;
    report.num("outbox_delivered", delivered as f64);
    report.num("outbox_events_left", left as f64);
    report.flag("outbox_drained", left == 0);
    report.num("outbox_s", took.as_secs_f64());
    if delivered > 0 {
        report.num("outbox_per_s", delivered as f64 / took.as_secs_f64());
    }
    // Events handled: sent, or finished without a mail (not every event is one).
    report.num(
        "outbox_events_per_s",
        (queued as f64 - left as f64) / took.as_secs_f64(),
    );
    if left > 0 {
        notes.push(format!(
            "outbox: timed over the first {:.0} s only ({left} events still queued); \
             outbox_per_s is the rate over that window",
            took.as_secs_f64()
        ));
    }

    // Chat.
    let site = servers.block_on(chat::site(tmp.path(), store, files))?;
    match load.block_on(chat::run(site, args.chats, args.chat_messages)) {
        Ok(mut c) => {
            report.flag("chat_measured", true);
            report.flag("chat_agent_via_console_sse", true);
            report.num("chats", c.chats as f64);
            report.num("chat_messages_per_chat", args.chat_messages as f64);
            report.num("chat_samples", c.latencies_ms.len() as f64);
            report.num(
                "chat_msg_per_s",
                c.latencies_ms.len() as f64 / c.wall.as_secs_f64(),
            );
            report.num("chat_msg_p50_ms", percentile(&mut c.latencies_ms, 50.0));
            report.num("chat_msg_p99_ms", percentile(&mut c.latencies_ms, 99.0));
            report.num("chat_msg_max_ms", percentile(&mut c.latencies_ms, 100.0));
        }
        Err(e) => {
            progress!("chat could not be measured: {e:#}");
            report.flag("chat_measured", false);
            notes.push(format!("chat NOT measured: {e:#}"));
        }
    }
    drop(relay);
    load.shutdown_timeout(Duration::from_secs(1));
    servers.shutdown_timeout(Duration::from_secs(1));
    report.num("total_s", elapsed_s());
    report.finish(&notes)
}
