//! The run, phase by phase. Every phase starts a fresh relay and a fresh phone, so that no
//! phase inherits another's transactions or memory.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use benchkit::percentile;

use crate::engine::{AGENT, EngineProcess, PASSWORD};
use crate::kamailio::Kamailio;
use crate::ramp::{self, Knee, Ramp};
use crate::report::Report;
use crate::sipp::{self, Sipp};
use crate::{Args, procs, progress, rtp};

/// The relay's media ports: two pairs per call, room for 2,500 calls.
const MEDIA_PORTS: (u16, u16) = (20_000, 29_999);

pub(crate) fn run(args: &Args) -> Result<()> {
    let mut report = Report::default();
    let mut notes = Vec::new();
    report.num(
        "cpus",
        std::thread::available_parallelism().map_or(0, |n| n.get()) as f64,
    );
    report.num("load_at_start", procs::loadavg());

    let wanted = |phase: &str| args.phases.iter().any(|p| p == phase);
    if wanted("dialogs") {
        dialogs(args, &mut report)?;
    }
    if wanted("100") {
        at_100(args, &mut report, &mut notes)?;
    }
    if wanted("ramp") {
        ramps(args, &mut report, &mut notes)?;
    }
    if wanted("rtp") {
        relay(args, &mut report, &mut notes)?;
    }
    report.num("load_at_end", procs::loadavg());
    report.num("total_s", crate::elapsed_s());
    report.finish(&notes)
}

/// The same ramp through each relay, Kamailio first.
fn ramps(args: &Args, report: &mut Report, notes: &mut Vec<String>) -> Result<()> {
    let ramp = Ramp {
        start: 100,
        step: 100,
        interval: 2,
        max: args.ramp_max,
        hold_ms: 1000,
    };
    let kam = kamailio_ramp(ramp)?;
    let ours = engine_ramp(ramp)?;
    report_knee(report, "kamailio_", &kam);
    report_knee(report, "", &ours);
    let ratio = ours.cps / kam.cps;
    report.num("knee_ratio_vs_kamailio", ratio);
    report.flag("knee_ratio_ok", ratio >= 0.5);
    if !kam.found || !ours.found {
        notes.push(format!(
            "a ramp reached {} calls/s without a failure: that knee is at least what is shown \
             (SIPp itself tops out near 2000–2500 calls/s on 2 cores)",
            args.ramp_max
        ));
    }
    if ours.server_errors > 0 {
        notes.push(format!(
            "our engine answered {} calls of its ramp with 5xx: it refused work (a table full, \
             see docs/telephony.md, Benchmark) rather than running out of CPU",
            ours.server_errors
        ));
    }
    let (load_kam, load_ours) = (kam.load_before, ours.load_before);
    if (load_kam - load_ours).abs() > 0.5 {
        notes.push(format!(
            "the machine's load differed between the ramps (1-minute load {load_kam:.1} before \
             Kamailio's, {load_ours:.1} before ours): other work on the machine may skew the ratio"
        ));
    }

    Ok(())
}

/// The phone of the signalling phases.
fn phone(name: &str) -> Result<(Sipp, u16)> {
    let port = procs::free_port()?;
    let script = sipp::scenario("uas.xml");
    let phone = Sipp::start(
        name,
        &sipp::at(port, &["-sf", script.to_str().unwrap_or_default()]),
    )?;
    Ok((phone, port))
}

/// Our engine with the phone registered as its agent.
fn engine_with_phone(
    media: Option<(u16, u16)>,
    phone_args: &[&str],
) -> Result<(EngineProcess, Sipp)> {
    let engine = EngineProcess::start(media)?;
    let port = procs::free_port()?;
    let script = sipp::scenario("uas.xml");
    let mut a = vec!["-sf", script.to_str().unwrap_or_default()];
    a.extend(phone_args);
    let phone = Sipp::start("phone", &sipp::at(port, &a))?;
    std::thread::sleep(Duration::from_millis(200));
    sipp::register(engine.addr, AGENT, PASSWORD, port)?;
    Ok((engine, phone))
}

/// The caller's arguments through `relay` to the agent, plus `rest`.
fn caller(relay: std::net::SocketAddr, rest: &[&str]) -> Result<Vec<String>> {
    let script = sipp::scenario("uac.xml");
    let target = relay.to_string();
    let mut a = vec![
        "-sf",
        script.to_str().unwrap_or_default(),
        target.as_str(),
        "-s",
        AGENT,
    ];
    a.push("-pause_msg_ign");
    a.extend(rest);
    Ok(sipp::at(procs::free_port()?, &a))
}

/// `kib_per_dialog`: calls held for two minutes, set up at 500 a second.
fn dialogs(args: &Args, report: &mut Report) -> Result<()> {
    progress!("held calls: {} through our engine", args.dialogs);
    let (mut engine, _phone) = engine_with_phone(None, &[])?;
    std::thread::sleep(Duration::from_millis(300));
    let before = procs::rss_kib(engine.pid()).context("the engine's RSS")?;
    let n = args.dialogs.to_string();
    let mut calls = Sipp::start(
        "held calls",
        &caller(
            engine.addr,
            &["-r", "500", "-m", &n, "-l", &n, "-d", "120000"],
        )?,
    )?;
    let deadline = Instant::now() + Duration::from_secs(u64::from(args.dialogs / 500) + 20);
    let mut active = 0;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        active = engine.stats()?.active_calls;
        if active >= u64::from(args.dialogs) {
            break;
        }
    }
    // Let the last ACKs land.
    std::thread::sleep(Duration::from_secs(1));
    active = engine.stats()?.active_calls.max(active);
    let after = procs::rss_kib(engine.pid()).context("the engine's RSS")?;
    calls.stop();
    if active == 0 {
        bail!(
            "no call was established through our engine: {}",
            calls.stderr_tail()
        );
    }
    let per = (after.saturating_sub(before)) as f64 / active as f64;
    progress!("held calls: {active} established, RSS {before} → {after} KiB, {per:.1} KiB each");
    report.num("held_dialogs", active as f64);
    report.num("engine_rss_idle_kib", before as f64);
    report.num("engine_rss_held_kib", after as f64);
    report.num("kib_per_dialog", per);
    Ok(())
}

/// `failed_calls_at_100cps` and `answer_p95_ms`.
fn at_100(args: &Args, report: &mut Report, notes: &mut Vec<String>) -> Result<()> {
    progress!("{} calls at 100/s through our engine", args.calls_at_100);
    let (engine, phone) = engine_with_phone(None, &[])?;
    let m = args.calls_at_100.to_string();
    let cpu_before = procs::cpu_ms_with_children(engine.pid());
    let mut calls = Sipp::start(
        "100 calls/s",
        &caller(
            engine.addr,
            &[
                "-r",
                "100",
                "-m",
                &m,
                "-l",
                "1000",
                "-d",
                "1000",
                "-trace_rtt",
                "-rtt_freq",
                "1",
            ],
        )?,
    )?;
    let status = calls.wait(Duration::from_secs(u64::from(args.calls_at_100 / 100) + 60))?;
    let cpu = procs::cpu_ms_with_children(engine.pid()) - cpu_before;
    let last = calls
        .periods()
        .last()
        .copied()
        .context("no statistics from SIPp")?;
    let phone_retrans = phone
        .periods()
        .last()
        .map_or(0, |p| p.retransmissions_total);
    let failed = u64::from(args.calls_at_100).saturating_sub(last.successful_total);
    let mut rtt = calls.response_times_ms();
    report.num("calls_at_100cps", f64::from(args.calls_at_100));
    report.num("failed_calls_at_100cps", failed as f64);
    report.flag("failed_calls_at_100cps_ok", failed == 0 && status.success());
    report.num(
        "retransmissions_at_100cps",
        (last.retransmissions_total + phone_retrans) as f64,
    );
    report.num(
        "engine_cpu_ms_per_call_at_100cps",
        cpu / f64::from(args.calls_at_100),
    );
    report.num("answer_samples", rtt.len() as f64);
    report.num("answer_p50_ms", percentile(&mut rtt, 50.0));
    report.num("answer_p95_ms", percentile(&mut rtt, 95.0));
    report.num("answer_p99_ms", percentile(&mut rtt, 99.0));
    if !status.success() {
        notes.push(format!(
            "the 100 calls/s run's caller exited {status}: {}",
            calls.stderr_tail()
        ));
    }
    progress!("100 calls/s: {} ok, {failed} failed", last.successful_total);
    Ok(())
}

fn kamailio_ramp(ramp: Ramp) -> Result<Knee> {
    progress!("ramp through Kamailio");
    let (phone, port) = phone("phone behind Kamailio")?;
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], procs::free_port()?));
    let kamailio = Kamailio::start(listen, ([127, 0, 0, 1], port).into())?;
    ramp::run("kamailio", listen, kamailio.pid(), &phone, ramp)
}

fn engine_ramp(ramp: Ramp) -> Result<Knee> {
    progress!("ramp through our engine");
    let (engine, phone) = engine_with_phone(None, &[])?;
    ramp::run("engine", engine.addr, engine.pid(), &phone, ramp)
}

fn report_knee(report: &mut Report, prefix: &str, knee: &Knee) {
    report.num(&format!("{prefix}cps_knee"), knee.cps);
    report.num(&format!("{prefix}knee_step"), knee.step);
    report.flag(&format!("{prefix}knee_found"), knee.found);
    report.num(&format!("{prefix}ramp_calls"), knee.calls as f64);
    report.num(
        &format!("{prefix}cpu_ms_per_call_ramp"),
        knee.cpu_ms_per_call,
    );
    report.num(&format!("{prefix}load_before_ramp"), knee.load_before);
    report.num(&format!("{prefix}ramp_5xx"), knee.server_errors as f64);
    report.num(
        &format!("{prefix}ramp_udp_rcvbuf_errors"),
        knee.rcvbuf_errors as f64,
    );
    report.num(
        &format!("{prefix}ramp_drops_at_relay_socket"),
        knee.relay_drops as f64,
    );
}

/// `rtp_relay_calls`: steps of concurrent calls, each with a fresh engine and phone, until
/// one loses a packet.
fn relay(args: &Args, report: &mut Report, notes: &mut Vec<String>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut best = 0;
    for &calls in &args.rtp_steps {
        progress!(
            "RTP: {calls} calls for {} s through the relay",
            args.rtp_seconds
        );
        let echo = procs::free_port()?.to_string();
        let (mut engine, _phone) = engine_with_phone(
            Some(MEDIA_PORTS),
            &["-mi", "127.0.0.1", "-mp", &echo, "-rtp_echo"],
        )?;
        let rcvbuf_before = procs::udp_rcvbuf_errors();
        let relayed = runtime.block_on(rtp::run(engine.addr, calls, args.rtp_seconds))?;
        let rcvbuf = procs::udp_rcvbuf_errors().saturating_sub(rcvbuf_before);
        let dropped = engine.stats()?.media_dropped;
        // Whose socket overflowed: the relay's, the echoing phone's, or the callers'.
        let echo_port: u16 = echo.parse()?;
        let (mut relay_drops, mut phone_drops, mut other_drops) = (0, 0, 0);
        for (port, drops) in procs::udp_drops_by_port() {
            if (MEDIA_PORTS.0..=MEDIA_PORTS.1).contains(&port) {
                relay_drops += drops;
            } else if port == echo_port {
                phone_drops += drops;
            } else {
                other_drops += drops;
            }
        }
        let lost = relayed.sent.saturating_sub(relayed.received);
        progress!(
            "RTP: {}/{calls} calls up, {} packets sent, {lost} lost ({} calls lossy), {dropped} dropped by the relay",
            relayed.established,
            relayed.sent,
            relayed.lossy_calls
        );
        report.num(
            &format!("rtp_{calls}_established"),
            relayed.established as f64,
        );
        report.num(&format!("rtp_{calls}_packets_sent"), relayed.sent as f64);
        report.num(&format!("rtp_{calls}_packets_lost"), lost as f64);
        report.num(
            &format!("rtp_{calls}_calls_lossy"),
            relayed.lossy_calls as f64,
        );
        report.num(&format!("rtp_{calls}_udp_rcvbuf_errors"), rcvbuf as f64);
        report.num(
            &format!("rtp_{calls}_drops_relay_sockets"),
            relay_drops as f64,
        );
        report.num(&format!("rtp_{calls}_drops_phone_echo"), phone_drops as f64);
        report.num(
            &format!("rtp_{calls}_drops_other_open_sockets"),
            other_drops as f64,
        );
        let clean = relayed.established == calls && lost == 0 && relayed.sent > 0;
        if !clean {
            notes.push(format!(
                "RTP with {calls} calls: {lost} packets lost in {} calls; the kernel dropped {rcvbuf} \
                 UDP datagrams on full receive buffers meanwhile (a receiver short of CPU; 1-minute \
                 load {:.1})",
                relayed.lossy_calls,
                procs::loadavg()
            ));
            break;
        }
        best = calls;
    }
    report.num("rtp_relay_calls", best as f64);
    report.flag("rtp_relay_ok", best >= 200);
    Ok(())
}
