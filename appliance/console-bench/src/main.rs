//! `console-bench`, run by `cargo xtask bench console`: the agents' console over a case store
//! of 1,000,000 cases, measured in one run on both paths staff take to it: **direct** (a
//! browser on the central network, straight to the console's central listener) and
//! **through the tunnel** (a browser on an embassy LAN, to the gateway's local listener, over
//! real QUIC with mutual TLS on loopback to an in-process hub, which writes the PROXY v2
//! header naming the appliance before the console's `OriginListener`).
//!
//! Parts, in order:
//! - **store**: casestore-bench's corpus (the same generator, compiled from its source) moved
//!   onto the consulates of the demo circumscription table, with sensitivities, repeat
//!   requesters, and the casework of the last months (agents' replies, citizens' answers,
//!   internal notes, resolutions, all at their own times), through
//!   [`casestore::Store::bulk_import`] and the store's ordinary update calls. Built once per
//!   (cases, schema version, generator) under `target/bench-data/` and reused; the build time
//!   is reported, not targeted ([`dataset`]).
//! - **stack**: the console with both listeners, and a `tunnel::Hub` plus a `tunnel::Gateway`
//!   whose appliance identity is `ro-emb-paris/PAR-01`, with a `console` service
//!   (`proxy_protocol: true`) ([`stack`]).
//! - **sessions**: an officer of `ro-emb-paris` signs in through the gateway, and again on the
//!   central network (an embassy account may); a central supervisor signs in centrally. One
//!   POST /login each, with a TOTP code.
//! - **load**: keep-alive HTTP/1.1 clients (hyper), a few per path, after a warm-up, in
//!   alternating blocks so that both paths see the same machine: queue pages
//!   (`/queues/consulate` and `/queues/unassigned`, three sorts, a few filters, 50-row pages,
//!   following `next` links), case views (`/cases/{number}` of random cases the officer may
//!   read), both on both paths with the same request sequence; the supervisor's dashboard
//!   over every consulate, direct only (central staff never sign in through an embassy)
//!   ([`load`]).
//!
//! Output: a table, `target/bench/console.json` (full-size runs only, so a quick run never
//! replaces a real one) and, last, `console: key=value …`. Targets, reported and never
//! enforced:
//! - `queue_page_p99_ok`: queue page p99 < 50 ms on both paths;
//! - `case_view_p99_ok`: case view p99 < 50 ms on both paths;
//! - `dashboard_p99_ok`: dashboard p99 < 200 ms;
//! - `tunnel_overhead_ok`: through-gateway p50 ÷ direct p50 over the officer's request mix
//!   < 1.5. The tunnel adds a fixed cost per request (two loopback hops, QUIC framing and
//!   encryption, the hub's and the gateway's copies: a fraction of a millisecond) while a
//!   console page costs milliseconds of SQLite and template work, so a ratio near 1 is
//!   expected and 1.5 means the tunnel costs half as much as the page itself. The p99 ratio
//!   and the added milliseconds are reported beside it, not targeted.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on the terminal"
)]

/// casestore-bench's corpus, compiled from its source so both benchmarks draw the same cases.
#[path = "../../casestore-bench/src"]
mod casestore_bench {
    #[allow(
        dead_code,
        unreachable_pub,
        reason = "shared source; this benchmark uses part of it"
    )]
    pub(crate) mod corpus;
}

mod dataset;
mod load;
mod report;
mod stack;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use crate::report::Report;

/// The size the targets are stated for.
const FULL: u64 = 1_000_000;
/// Samples per metric and path at full size.
const SAMPLES: usize = 2_000;
/// Keep-alive clients per path.
const CLIENTS: usize = 4;

/// When the benchmark started, for the timestamps of [`progress!`].
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Seconds since the benchmark started.
pub(crate) fn elapsed_s() -> f64 {
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// Progress on stderr, so stdout holds only the results.
macro_rules! progress {
    ($($arg:tt)*) => {
        eprintln!("console-bench [{:6.1} s] {}", $crate::elapsed_s(), format_args!($($arg)*))
    };
}
pub(crate) use progress;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) cases: u64,
    pub(crate) samples: usize,
    pub(crate) clients: usize,
    /// Build the store again even if a cached one exists.
    pub(crate) rebuild: bool,
}

fn main() -> ExitCode {
    let _ = elapsed_s();
    init_logs();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match parse(&args) {
        Ok(Some(args)) => run(&args),
        Ok(None) => {
            println!("usage: console-bench [--cases N] [--samples N] [--clients N] [--rebuild]");
            println!(
                "       defaults: {FULL} cases (the only size that writes the JSON), \
                 {SAMPLES} samples per metric and path, {CLIENTS} clients per path"
            );
            println!(
                "       quick: --cases 20000 (samples default to 1000 below full size); the store \
                 is cached in target/bench-data/"
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("console-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<Option<Args>> {
    let (mut cases, mut samples, mut clients, mut rebuild) = (FULL, None, CLIENTS, false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64> {
            let v = it
                .next()
                .with_context(|| format!("{name} takes a number"))?;
            v.replace('_', "")
                .parse()
                .with_context(|| format!("{name} {v}"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--cases" => cases = value("--cases")?,
            "--samples" => samples = Some(usize::try_from(value("--samples")?)?),
            "--clients" => clients = usize::try_from(value("--clients")?)?,
            "--rebuild" => rebuild = true,
            other => bail!("unknown argument `{other}`; see --help"),
        }
    }
    if cases < 1_000 {
        bail!("--cases must be at least 1000");
    }
    if !(1..=64).contains(&clients) {
        bail!("--clients must be between 1 and 64");
    }
    let samples = samples.unwrap_or(if cases >= FULL { SAMPLES } else { 1_000 });
    if samples < 100 {
        bail!("--samples must be at least 100");
    }
    Ok(Some(Args {
        cases,
        samples,
        clients,
        rebuild,
    }))
}

fn run(args: &Args) -> Result<()> {
    let mut report = Report::default();
    report.num("cases", args.cases as f64);
    report.num("samples_per_metric", args.samples as f64);
    report.num("clients_per_path", args.clients as f64);
    report.num(
        "cpus",
        std::thread::available_parallelism().map_or(0, |n| n.get()) as f64,
    );
    report.num("load_avg_1m_before", load_average());

    let data = dataset::prepare(args.cases, args.rebuild)?;
    report.num("store_build_s", data.build_s);
    report.flag("store_reused", data.reused);
    report.num(
        "store_bytes_per_case",
        data.bytes as f64 / args.cases as f64,
    );
    dataset::warm_page_cache(&data.db)?;

    // The console, the hub and the gateway share one multi-thread runtime, as in hubd and
    // gatewayd; the load generator runs on its own thread and runtime (load.rs), so its
    // clients never wait in the servers' task queues.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("servers")
        .build()
        .context("the servers' runtime")?;
    let stack = runtime.block_on(stack::Stack::start(&data.db))?;
    let targets = load::Targets::pick(&stack.store, args.samples)?;
    report.num("readable_cases_drawn", targets.distinct_cases as f64);
    let endpoints = load::Endpoints {
        central: stack.central,
        gateway: stack.gateway,
        officer: stack.officer.clone(),
        supervisor: stack.supervisor.clone(),
    };
    let settings = args.clone();
    let measured = std::thread::Builder::new()
        .name("load".to_owned())
        .spawn(move || load::run(&settings, &endpoints, &targets))
        .context("the load thread")?
        .join();
    let origin = stack.origin_counters();
    runtime.block_on(stack.shutdown());
    let measured = match measured {
        Ok(result) => result?,
        Err(_) => bail!("the load generator panicked"),
    };
    measured.into_report(&mut report);
    report.num("origin_connections_accepted", origin.0 as f64);
    report.num("origin_connections_refused", origin.1 as f64);
    report.num("load_avg_1m_after", load_average());
    report.finish(args.cases == FULL)
}

/// The 1-minute load average, to judge how busy the (shared) machine was; `NaN` if unknown.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,tunnel::gateway=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
