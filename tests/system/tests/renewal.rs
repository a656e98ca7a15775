//! Certificate renewal over the live tunnel: with 45 s leaves the gateway renews at about two
//! thirds of the lifetime, writes the new certificate, and swaps it in for the next connection
//! while a long-lived stream through the tunnel carries on untouched. After a restart, once
//! the first certificate has expired, the gateway connects with the new one.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use system::{HUB_HOST, Lab, Noc, audit_entries, poll};

const START: Duration = Duration::from_secs(10);
const LEAF: Duration = Duration::from_secs(45);

#[test]
fn renewal_swaps_the_certificate_without_dropping_streams() {
    let lab = Lab::new(&["embassy1"]).expect("topology");
    let noc = Noc::init(&lab.net.dir().join("noc")).expect("legatura ca init");
    let mut spec = lab
        .pki_hub_spec("hub-a", 4433, 9100, &noc, Some(9443))
        .expect("hub config");
    if let Some(pki) = &mut spec.pki {
        pki.leaf_lifetime = format!("{}s", LEAF.as_secs());
    }
    let audit_log = spec
        .pki
        .as_ref()
        .map(|p| p.audit_log.clone())
        .expect("[pki]");
    let mut hub = lab.start_hub_with("hub-a", spec).expect("start hubd");
    hub.wait_ready(START).expect("hubd ready");
    let hub_ns = lab.net.ns(HUB_HOST);

    let code = noc
        .enroll(hub_ns, "paris", "PAR-01")
        .expect("legatura fleet enroll");
    let spec = lab
        .enrolling_gateway_spec("embassy1", &noc.root(), &[hub.addr])
        .expect("gateway config");
    let out = lab
        .gatewayd_enroll("embassy1", &spec, &code)
        .expect("run gatewayd enroll");
    assert!(out.success(), "gatewayd enroll failed:\n{out}");
    let enrolled_at = Instant::now();
    let first_pem = std::fs::read_to_string(&spec.tls.cert).expect("certificate");
    let first = pki::cert_info(&first_pem).expect("certificate info");
    let cert_path = spec.tls.cert.clone();

    let mut gw = lab.start_gateway("embassy1", spec).expect("start gatewayd");
    gw.wait_ready(START).expect("gatewayd ready");
    let before = noc.row(hub_ns, "paris", "PAR-01").expect("fleet ls");
    let before_expiry = absolute(before.cert_expires_in().expect("cert expiry before"));

    // One TCP connection through the tunnel for the whole renewal: a line every second.
    let stream = lab
        .net
        .run_in("embassy1", || Ok(TcpStream::connect(gw.echo)?))
        .expect("connect the long-lived stream");
    let ticker = Ticker::start(stream);

    let changed = poll(LEAF, || {
        std::fs::read_to_string(&cert_path)
            .ok()
            .filter(|pem| *pem != first_pem)
    });
    let renewed_after = enrolled_at.elapsed();
    assert!(
        changed.is_some(),
        "the gateway did not renew its certificate within the leaf lifetime ({LEAF:?})"
    );
    // Keep the stream going a little after the swap.
    std::thread::sleep(Duration::from_secs(3));
    let ticks = ticker.finish();
    assert!(
        ticks.failure.is_none(),
        "the long-lived stream broke after {} lines: {:?}",
        ticks.ok,
        ticks.failure
    );
    assert!(
        ticks.ok >= renewed_after.as_secs().saturating_sub(2),
        "only {} lines in {renewed_after:?}",
        ticks.ok
    );

    let renewed = std::fs::read_to_string(&cert_path).expect("certificate");
    let second = pki::cert_info(&renewed).expect("renewed certificate info");
    assert_ne!(
        second.serial, first.serial,
        "the renewed certificate has the same serial"
    );
    assert!(
        second.not_after > first.not_after,
        "not_after did not move: {} → {}",
        first.not_after,
        second.not_after
    );
    assert_eq!(
        system::cert_identity(&renewed).expect("an appliance certificate"),
        "paris/PAR-01"
    );
    let after = noc.row(hub_ns, "paris", "PAR-01").expect("fleet ls");
    let after_expiry = absolute(after.cert_expires_in().expect("cert expiry after"));
    assert!(
        after_expiry > before_expiry,
        "`fleet ls` cert expiry did not move: {before:?} → {after:?}"
    );

    // Restart once the first certificate has expired: only a renewed one can get in.
    let expired_at = SystemTime::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(first.not_after.unix_timestamp()).expect("time"));
    if let Ok(wait) = expired_at.duration_since(SystemTime::now()) {
        std::thread::sleep(wait + Duration::from_secs(1));
    }
    gw.daemon.kill().expect("stop gatewayd");
    gw.restart().expect("restart gatewayd");
    gw.wait_ready(START)
        .expect("gatewayd ready with the renewed certificate");
    assert_eq!(
        gw.echo("after restart").expect("request after the restart"),
        "echo: after restart"
    );
    let current = std::fs::read_to_string(&cert_path).expect("certificate");
    let current = pki::cert_info(&current).expect("certificate info");
    assert!(
        current.serial != first.serial
            && current.not_after.unix_timestamp() > i64::try_from(absolute(0)).expect("time"),
        "the gateway must be running on a renewed, unexpired certificate"
    );

    // Renewal is meant for about 2/3 of the lifetime (± 5 %): once so far, not in a loop, and
    // not at once after start.
    let renewals = audit_entries(&audit_log)
        .expect("audit log")
        .iter()
        .filter(|e| e["kind"] == "cert.renewed")
        .count();
    #[allow(clippy::print_stdout)]
    {
        println!(
            "first renewal {:.1} s after enrollment (leaf {} s); {renewals} renewals in the audit \
             log after {:.0} s; {} lines on the long stream",
            renewed_after.as_secs_f64(),
            LEAF.as_secs(),
            enrolled_at.elapsed().as_secs_f64(),
            ticks.ok
        );
    }
    assert!(
        renewed_after >= LEAF / 2 && (1..=2).contains(&renewals),
        "renewal is due at about 2/3 of the {LEAF:?} lifetime, but the first came {renewed_after:?} \
         after enrollment and the hub has renewed {renewals} times"
    );
}

/// `in` seconds from now, as seconds since the epoch.
fn absolute(seconds_from_now: u64) -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + seconds_from_now
}

/// What the ticker saw.
#[derive(Debug)]
struct Ticks {
    ok: u64,
    failure: Option<String>,
}

/// Sends `tick <n>` every second on one connection and checks each echo.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Ticks>,
}

impl Ticker {
    fn start(stream: TcpStream) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut ticks = Ticks {
                ok: 0,
                failure: None,
            };
            let result = (|| -> anyhow::Result<()> {
                stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                let mut out = stream.try_clone()?;
                let mut lines = BufReader::new(stream);
                let started = Instant::now();
                for n in 0u64.. {
                    if flag.load(Ordering::Acquire) {
                        return Ok(());
                    }
                    out.write_all(format!("tick {n}\n").as_bytes())?;
                    let mut reply = String::new();
                    lines.read_line(&mut reply)?;
                    if reply != format!("echo: tick {n}\n") {
                        anyhow::bail!("{:?}: tick {n}: got {reply:?}", started.elapsed());
                    }
                    ticks.ok += 1;
                    std::thread::sleep(Duration::from_secs(1));
                }
                Ok(())
            })();
            ticks.failure = result.err().map(|e| format!("{e:#}"));
            ticks
        });
        Ticker { stop, thread }
    }

    fn finish(self) -> Ticks {
        self.stop.store(true, Ordering::Release);
        match self.thread.join() {
            Ok(ticks) => ticks,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}
