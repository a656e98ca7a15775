//! `telephony-bench`, run by `cargo xtask bench telephony` (issue #7): the hub's SIP bridge
//! (appliance/telephony, in its own process as hubd runs it, real UDP sockets) against
//! Kamailio as a stateful relay (`kamailio/relay.cfg`: tm, record-route, a fixed destination),
//! both in front of the same SIPp phone (`sipp/uas.xml`) and driven by the same SIPp caller
//! (`sipp/uac.xml`), on loopback in one run so that machine load weighs on both alike.
//!
//! - `kib_per_dialog`: the engine process's RSS growth per established call, with thousands
//!   of calls held at once;
//! - `failed_calls_at_100cps`, `answer_p95_ms`: 3000 calls at 100 a second through our engine
//!   (INVITE to 200 as SIPp's `-trace_rtt` sees it, in whole milliseconds);
//! - `kamailio_cps_knee`, `cps_knee`, `knee_ratio_vs_kamailio`: the same ramp through each,
//!   until the first failed call or retransmission on either SIPp ([`ramp`]);
//! - `rtp_relay_calls`: the most concurrent G.711 calls relayed by appliance/media with no
//!   packet lost, in steps ([`rtp`]).
//!
//! Output: a table, `target/bench/telephony.json`, and last `telephony: key=value …`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on the terminal"
)]

mod engine;
mod kamailio;
mod phases;
mod procs;
mod ramp;
mod report;
mod rtp;
mod sipp;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

/// When the benchmark started, for the timestamps of [`progress!`].
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

pub(crate) fn elapsed_s() -> f64 {
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// Progress on stderr, so stdout holds only the results.
macro_rules! progress {
    ($($arg:tt)*) => {
        eprintln!("telephony-bench [{:6.1} s] {}", $crate::elapsed_s(), format_args!($($arg)*))
    };
}
pub(crate) use progress;

/// What to run, and how much.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) dialogs: u32,
    pub(crate) calls_at_100: u32,
    pub(crate) ramp_max: u32,
    pub(crate) rtp_steps: Vec<usize>,
    pub(crate) rtp_seconds: u32,
    /// Which phases run: `dialogs`, `100`, `ramp`, `rtp`.
    pub(crate) phases: Vec<String>,
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
    let result = if args.first().map(String::as_str) == Some("serve") {
        parse_media(&args[1..]).and_then(engine::serve)
    } else {
        match parse(&args) {
            Ok(Some(args)) => phases::run(&args),
            Ok(None) => {
                println!(
                    "usage: telephony-bench [--dialogs N] [--calls N] [--ramp-max CPS] \
                     [--rtp-steps N,N,…] [--rtp-seconds S] [--phases dialogs,100,ramp,rtp]"
                );
                println!(
                    "       defaults: 4000 held dialogs; 3000 calls at 100/s; ramps from 100 \
                     by 100 every 2 s to 2500; 200,400,800 relayed calls for 8 s each"
                );
                return ExitCode::SUCCESS;
            }
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("telephony-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `serve [--media FIRST-LAST]`, the engine process's arguments.
fn parse_media(args: &[String]) -> Result<Option<(u16, u16)>> {
    match args {
        [] => Ok(None),
        [flag, range] if flag == "--media" => {
            let (first, last) = range.split_once('-').context("--media FIRST-LAST")?;
            Ok(Some((first.parse()?, last.parse()?)))
        }
        _ => bail!("serve takes only --media FIRST-LAST"),
    }
}

fn parse(args: &[String]) -> Result<Option<Args>> {
    let mut a = Args {
        dialogs: 4_000,
        calls_at_100: 3_000,
        ramp_max: 2_500,
        rtp_steps: vec![200, 400, 800],
        rtp_seconds: 8,
        phases: ["dialogs", "100", "ramp", "rtp"].map(String::from).to_vec(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<String> {
            Ok(it
                .next()
                .with_context(|| format!("{name} takes a value"))?
                .replace('_', ""))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--dialogs" => a.dialogs = value("--dialogs")?.parse()?,
            "--calls" => a.calls_at_100 = value("--calls")?.parse()?,
            "--ramp-max" => a.ramp_max = value("--ramp-max")?.parse()?,
            "--rtp-seconds" => a.rtp_seconds = value("--rtp-seconds")?.parse()?,
            "--phases" => a.phases = value("--phases")?.split(',').map(String::from).collect(),
            "--rtp-steps" => {
                a.rtp_steps = value("--rtp-steps")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            other => bail!("unknown argument `{other}`; see --help"),
        }
    }
    // The engine refuses calls past `max_calls` (5000) with 503.
    if !(100..=4_900).contains(&a.dialogs) || a.calls_at_100 < 100 || a.ramp_max < 200 {
        bail!("--dialogs must be 100..=4900, --calls at least 100, --ramp-max at least 200");
    }
    if a.rtp_steps.is_empty() || a.rtp_steps.iter().any(|&n| !(1..=2_000).contains(&n)) {
        bail!("--rtp-steps: calls per step, 1..=2000 each");
    }
    Ok(Some(a))
}
