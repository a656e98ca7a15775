//! `tunnel-bench`, run by `cargo xtask bench tunnel`: the Legătura tunnel measured side by side
//! with its baselines in one invocation, so that every figure is a ratio against something that
//! ran on the same machine a few seconds earlier. With no arguments the program re-executes
//! itself inside a fresh network namespace (`unshare -n`) whose loopback has MTU 1500, so that
//! plain TCP does not enjoy loopback's 64 KiB MTU while QUIC is capped at 1472-byte datagrams.
//! There it measures bulk throughput and added latency through our tunnel (an in-process
//! `tunnel::Hub` and `tunnel::Gateway`), through a stunnel4 pair (TLS 1.3, ECDSA P-256 from the
//! same fixture PKI, client certificates required) and over direct TCP; full mutual-TLS
//! handshakes; how many idle appliances one hub process holds and at what RSS each; and how fast
//! 400 appliances come back after the hub is killed. It prints each figure next to its target,
//! writes `target/bench/tunnel.json` (a flat object of numbers and booleans) and ends with one
//! `tunnel: key=value …` line. Targets are reported, never enforced: this is a benchmark, not a
//! timed test.
//!
//! Roles, identical for every path measured: the in-process hub and gateway each have their own
//! tokio runtime, as the two daemons do; the load generator (clients, sink and echo servers) is
//! a child process (`tunnel-bench loadgen`), so it cannot steal the tunnel's tokio
//! workers; the hub whose memory is measured is a child process (`tunnel-bench hub`), so its
//! RSS is its own.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod certs;
mod fleet;
mod loadgen;
mod netns;
mod pair;
mod report;
mod stunnel;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::loadgen::LoadGen;
use crate::report::Report;

/// Measured seconds of each throughput run, after its warm-up.
const MEASURE: Duration = Duration::from_millis(2500);
/// Warm-up of each throughput run: connections open, congestion windows open.
const WARMUP: Duration = Duration::from_millis(500);
/// Throughput runs per path and flow count; the median is reported.
const REPS: usize = 3;
/// Latency samples per path, after [`LATENCY_WARMUP`] unrecorded ones.
const LATENCY_SAMPLES: usize = 2000;
const LATENCY_WARMUP: usize = 200;
/// Sequential full handshakes timed.
const HANDSHAKES: usize = 1000;
/// Idle appliances connected to one hub process.
const FLEET: usize = 2000;
/// Appliances in the reconnect storm.
const STORM: usize = 400;

/// The parts of the benchmark, in the order they run.
const PARTS: [&str; 5] = ["throughput", "latency", "handshake", "fleet", "reconnect"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None => bench(&PARTS),
        Some("--only") => match args.get(1) {
            Some(list) => match list
                .split(',')
                .map(|p| PARTS.iter().find(|k| **k == p).copied().ok_or(p))
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(parts) => bench(&parts),
                Err(p) => Err(anyhow::anyhow!(
                    "unknown part `{p}`; parts: {}",
                    PARTS.join(",")
                )),
            },
            None => Err(anyhow::anyhow!(
                "--only takes a comma-separated list of: {}",
                PARTS.join(",")
            )),
        },
        Some("hub") => fleet::hub_main(&args[1..]),
        Some("loadgen") => loadgen::child_main(),
        Some("-h" | "--help") => {
            println!(
                "usage: tunnel-bench                 the whole benchmark; writes target/bench/tunnel.json"
            );
            println!(
                "       tunnel-bench --only PARTS    some of {} (comma-separated); writes no JSON",
                PARTS.join(",")
            );
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!(
            "unknown argument `{other}`; see `tunnel-bench --help`"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tunnel-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// When the benchmark started, for the timestamps of [`progress!`].
static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Seconds since the benchmark started.
pub(crate) fn elapsed_s() -> f64 {
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

/// Progress on stderr, so that stdout carries only results.
macro_rules! progress {
    ($($arg:tt)*) => { eprintln!("tunnel-bench [{:6.1} s] {}", $crate::elapsed_s(), format_args!($($arg)*)) };
}
pub(crate) use progress;

fn bench(parts: &[&str]) -> Result<()> {
    if !netns::inside() {
        return netns::reexec();
    }
    let _ = elapsed_s();
    let run = |part: &str| parts.contains(&part);
    init_logs();
    let ns = netns::setup()?;
    stunnel::check_installed()?;
    fleet::raise_nofile(FLEET + 512)?;
    let mut report = Report::default();
    report.flag("in_netns", ns.in_netns);
    report.flag("lo_mtu_1500", ns.lo_mtu == 1500);
    report.num("rmem_max_kib", ns.rmem_max as f64 / 1024.0);
    report.num("wmem_max_kib", ns.wmem_max as f64 / 1024.0);
    report.num("gateway_connections", pair::connections() as f64);
    if !ns.in_netns || ns.lo_mtu != 1500 {
        bail!(
            "not inside a fresh network namespace with loopback MTU 1500 (in_netns={}, lo mtu={})",
            ns.in_netns,
            ns.lo_mtu
        );
    }

    let fleet_pki = pki::fixture::fleet().context("cannot create the fixture PKI")?;
    let dir = tempfile::Builder::new()
        .prefix("tunnel-bench.")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let files = certs::write(&fleet_pki, dir.path())?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let _rt = rt.enter();
    // The in-process hub gets a runtime of its own, as `hubd` and `gatewayd` each have one: on
    // the real deployment the two ends never share worker threads.
    let hub_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hub-worker")
        .build()
        .context("cannot start the hub's tokio runtime")?;

    if run("throughput") || run("latency") || run("handshake") {
        let mut load = LoadGen::spawn()?;
        let ours = rt.block_on(pair::TunnelPair::start(
            &fleet_pki,
            hub_rt.handle(),
            load.sink,
            load.echo,
        ))?;
        let theirs = stunnel::StunnelPair::start(&files, dir.path(), load.sink, load.echo)?;
        if run("throughput") {
            throughput(&mut load, &ours, &theirs, &mut report)?;
            // The tunnel samples path statistics every 5 s; let the last sample land.
            std::thread::sleep(Duration::from_millis(5200));
            report.num("tunnel_lost_packets", ours.lost_packets() as f64);
        }
        if run("latency") {
            latency(&mut load, &ours, &theirs, &mut report)?;
        }
        drop(theirs);
        if run("handshake") {
            progress!("handshakes: {HANDSHAKES} full mutual-TLS handshakes, one at a time");
            let shakes = rt.block_on(pair::handshakes(&fleet_pki, ours.hub_addr, HANDSHAKES))?;
            report.num("handshake_p50_ms", shakes.full_p50_ms);
            report.num("handshake_p99_ms", shakes.full_p99_ms);
            report.num("handshakes", HANDSHAKES as f64);
            report.num("handshake_same_gateway_p50_ms", shakes.same_gateway_p50_ms);
        }
        rt.block_on(ours.shutdown());
    }

    if run("fleet") || run("reconnect") {
        progress!("issuing {FLEET} appliance certificates");
        let appliances = certs::appliances(&fleet_pki, FLEET)?;
        if run("fleet") {
            progress!("scale: {FLEET} idle appliances on one hub process");
            let held = fleet::held(&rt, &files, &appliances)?;
            report.num("gateways_held", held.held as f64);
            report.num("gateways_attempted", FLEET as f64);
            report.num("kib_per_idle_connection", held.kib_per_connection);
            report.num("hub_rss_idle_kib", held.rss_before_kib as f64);
            report.num("hub_rss_loaded_kib", held.rss_after_kib as f64);
            report.num("fleet_connect_s", held.connect_s);
            report.num("fleet_keepalive_s", fleet::FLEET_KEEPALIVE.as_secs_f64());
        }
        if run("reconnect") {
            progress!(
                "reconnect: {STORM} appliances, hub SIGKILLed and restarted on the same port and reset key"
            );
            let storm = fleet::reconnect(&rt, &files, &appliances[..STORM])?;
            report.num("reconnect_400_s", storm.from_restart_s);
            report.num("reconnect_400_from_kill_s", storm.from_kill_s);
            report.num("reconnected", storm.reconnected as f64);
            report.num(
                "reconnect_keepalive_s",
                fleet::STORM_KEEPALIVE.as_secs_f64(),
            );
            report.num(
                "reconnect_idle_timeout_s",
                fleet::STORM_IDLE_TIMEOUT.as_secs_f64(),
            );
        }
    }

    report.finish(parts.len() == PARTS.len())
}

fn throughput(
    load: &mut LoadGen,
    ours: &pair::TunnelPair,
    theirs: &stunnel::StunnelPair,
    report: &mut Report,
) -> Result<()> {
    progress!(
        "throughput: {REPS} × (direct TCP, stunnel4, tunnel) × (1, 8 flows), {:.1} s each",
        (WARMUP + MEASURE).as_secs_f64()
    );
    // The processes doing each path's tunnelling work, for CPU seconds per GiB. Direct TCP has
    // none; the load generator is the same for every path and is left out.
    let paths = [
        ("direct_tcp", load.sink, vec![]),
        ("stunnel", theirs.sink, theirs.pids()),
        ("tunnel", ours.sink, vec![std::process::id()]),
    ];
    for flows in [1usize, 8] {
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
        for _ in 0..REPS {
            for (i, (name, target, pids)) in paths.iter().enumerate() {
                let cpu_before = report::cpu_seconds(pids)?;
                let run = load
                    .throughput(*target, flows, WARMUP, MEASURE)
                    .with_context(|| format!("{name} throughput, {flows} flows"))?;
                let cpu_s = report::cpu_seconds(pids)? - cpu_before;
                progress!(
                    "  {name:<10} {flows} flow(s): {:8.1} MiB/s, {:.2} CPU-s per GiB",
                    run.mib_s,
                    cpu_s / run.total_gib
                );
                rates[i].push(run.mib_s);
                cpu[i].push(cpu_s / run.total_gib);
            }
        }
        let suffix = if flows == 1 { "" } else { "_8flows" };
        let medians: Vec<f64> = rates.iter().map(|r| report::median(r)).collect();
        for ((name, _, _), (m, r)) in paths.iter().zip(medians.iter().zip(&rates)) {
            report.num_owned(format!("{name}_mib_s{suffix}"), *m);
            report.num_owned(format!("{name}_spread_pct{suffix}"), report::spread_pct(r));
        }
        report.num_owned(
            format!("throughput_ratio_vs_stunnel{suffix}"),
            medians[2] / medians[1],
        );
        report.num_owned(
            format!("throughput_ratio_vs_direct_tcp{suffix}"),
            medians[2] / medians[0],
        );
        let (ours_cpu, theirs_cpu) = (report::median(&cpu[2]), report::median(&cpu[1]));
        report.num_owned(format!("tunnel_cpu_s_per_gib{suffix}"), ours_cpu);
        report.num_owned(format!("stunnel_cpu_s_per_gib{suffix}"), theirs_cpu);
        report.num_owned(
            format!("cpu_per_gib_ratio_vs_stunnel{suffix}"),
            ours_cpu / theirs_cpu,
        );
    }
    Ok(())
}

fn latency(
    load: &mut LoadGen,
    ours: &pair::TunnelPair,
    theirs: &stunnel::StunnelPair,
    report: &mut Report,
) -> Result<()> {
    progress!(
        "latency: 1 KiB request/response on a new TCP connection, {LATENCY_SAMPLES} samples per path"
    );
    // Each tunnel takes turns with direct TCP, exchange by exchange, so that load from outside
    // the benchmark falls on both alike. The two tunnels are not interleaved with each other,
    // so that stunnel's work after each connection (TLS close, thread exit) cannot land on our
    // tunnel's next exchange, or the other way round.
    let mut against_direct = |via: SocketAddr| -> Result<(loadgen::Latency, loadgen::Latency)> {
        let got = load.latency(&[load.echo, via], LATENCY_WARMUP, LATENCY_SAMPLES)?;
        let [direct, through] = got[..] else {
            bail!("expected two paths, got {}", got.len())
        };
        Ok((direct, through))
    };
    let (direct, tunnel) = against_direct(ours.echo).context("tunnel latency")?;
    let (direct_s, stunnel) = against_direct(theirs.echo).context("stunnel latency")?;
    report.num("direct_tcp_latency_p50_us", direct.p50_us);
    report.num("direct_tcp_latency_p99_us", direct.p99_us);
    report.num("tunnel_latency_p50_us", tunnel.p50_us);
    report.num("tunnel_latency_p99_us", tunnel.p99_us);
    report.num("stunnel_latency_p50_us", stunnel.p50_us);
    report.num("stunnel_latency_p99_us", stunnel.p99_us);
    report.num("added_latency_p50_us", tunnel.p50_us - direct.p50_us);
    report.num("added_latency_p99_us", tunnel.p99_us - direct.p99_us);
    report.num(
        "stunnel_added_latency_p50_us",
        stunnel.p50_us - direct_s.p50_us,
    );
    report.num(
        "stunnel_added_latency_p99_us",
        stunnel.p99_us - direct_s.p99_us,
    );
    report.num(
        "added_latency_ratio_vs_stunnel_new_conn",
        (tunnel.p50_us - direct.p50_us) / (stunnel.p50_us - direct_s.p50_us),
    );
    report.num("latency_samples", LATENCY_SAMPLES as f64);
    Ok(())
}

pub(crate) fn init_logs() {
    // The gateways' per-connection warnings ("tunnel lost") are expected by the hundred in the
    // reconnect storm; errors still show.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,tunnel::gateway=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
