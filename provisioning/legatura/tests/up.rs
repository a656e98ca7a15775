//! `legatura up` as a person runs it: it starts, prints where to go, the status page answers
//! through the gateway and names the demo appliance, and Ctrl-C stops it cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn up_serves_the_hub_status_page_through_the_gateway_and_stops_on_ctrl_c() {
    let data = tempfile::tempdir().expect("tempdir");
    // Fifteen ports from a base below the kernel's ephemeral range (32768 and up by default),
    // so that no outgoing connection, the daemons' own included, can be holding one of them.
    let base = 10_000 + (std::process::id() % 22_000) as u16 / 16 * 16;
    let (up, printed) = start(data.path(), base);
    let console = format!("http://127.0.0.1:{}/", base + 4);
    assert!(printed.contains("Legătura is up."), "{printed}");
    assert!(printed.contains(&console), "{printed}");
    // What a person dials, and that the menu answers it.
    assert!(
        printed.contains(&format!("dial sip:200@127.0.0.1:{}", base + 11))
            && printed.contains("press 1 for Romanian"),
        "{printed}"
    );
    // Embassy desk phones reach the bridge through the gateway's SIP port: an OPTIONS sent
    // there crosses the tunnel and the bridge answers it.
    assert!(
        printed.contains(&format!("outbound proxy 127.0.0.1:{} (UDP)", base + 12)),
        "{printed}"
    );
    let phone = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    phone
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let me = phone.local_addr().expect("addr");
    let options = format!(
        "OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKup1\r\n\
         From: <sip:desk@paris>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: up-options\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let mut answer = [0u8; 2048];
    let answered = (0..20).find_map(|_| {
        phone
            .send_to(options.as_bytes(), ("127.0.0.1", base + 12))
            .ok()?;
        let n = phone.recv(&mut answer).ok()?;
        Some(String::from_utf8_lossy(&answer[..n]).into_owned())
    });
    assert!(
        answered.is_some_and(|a| a.starts_with("SIP/2.0 200")),
        "no 200 to OPTIONS through the gateway's SIP port"
    );

    // The citizens' portal answers in the language the browser asks for.
    let portal = get(base + 6, "/").expect("portal");
    assert!(
        portal.starts_with("HTTP/1.1 200") && portal.contains("Centrul de Contact"),
        "{portal}"
    );

    let page = get(base + 9, "/").expect("status page through the gateway");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.contains("PAR-01") && page.contains("ro-emb-paris"),
        "the demo appliance is not listed: {page}"
    );

    // The agents' console through the same gateway: its sign-in page, and demo accounts for
    // every role printed with their TOTP secrets.
    let login = get(base + 4, "/login").expect("console through the gateway");
    assert!(
        login.starts_with("HTTP/1.1 200") && login.contains("Sign in to the console"),
        "{login}"
    );
    for role in [
        "operator",
        "officer",
        "consul",
        "supervisor",
        "administrator",
    ] {
        assert!(printed.contains(role), "no demo {role} account: {printed}");
    }
    assert!(printed.contains("otpauth://totp/"), "{printed}");

    // Keys are private to their owner.
    use std::os::unix::fs::PermissionsExt;
    for key in [
        "pki/root.key",
        "pki/hub.key",
        "pki/operator.key",
        "gateway/gateway.key",
        "pki/keys/fleet-issuing.key",
    ] {
        let mode = std::fs::metadata(data.path().join(key))
            .expect(key)
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }

    // The gateway enrolled with a one-time code: the NOC sees it active, and the audit log
    // that recorded it verifies.
    let legatura = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_legatura"))
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let data_arg = data.path().to_str().expect("utf-8 path");
    let (ok, ls) = legatura(&["fleet", "ls", "--data", data_arg]);
    assert!(ok, "{ls}");
    let row = ls
        .lines()
        .find(|l| l.contains("PAR-01"))
        .unwrap_or_else(|| panic!("no PAR-01 in {ls}"));
    assert!(row.contains("active") && row.contains("now"), "{row}");
    let log = data.path().join("hub/audit.log");
    let key = data.path().join("pki/audit.pub");
    let (ok, verdict) = legatura(&[
        "audit",
        "verify",
        log.to_str().expect("utf-8"),
        "--key",
        key.to_str().expect("utf-8"),
    ]);
    assert!(ok && verdict.contains("audit log intact"), "{verdict}");

    // A second operator enrols with a one-time code, like an appliance, and can then use the
    // NOC API with the certificate it got.
    let (ok, out) = legatura(&[
        "fleet",
        "operator-enroll",
        "--name",
        "alice",
        "--data",
        data_arg,
    ]);
    assert!(ok, "{out}");
    let code = out
        .split_whitespace()
        .find(|w| w.len() == 21 && w.matches('-').count() == 4)
        .expect("a code")
        .to_owned();
    let alice = tempfile::tempdir().expect("tempdir");
    let alice_arg = alice.path().to_str().expect("utf-8");
    let hub = format!("127.0.0.1:{base}");
    let noc = format!("127.0.0.1:{}", base + 5);
    let root = data.path().join("pki/root.pem");
    let (ok, out) = legatura(&[
        "operator",
        "enroll",
        &code,
        "--hub",
        &hub,
        "--hub-ca",
        root.to_str().expect("utf-8"),
        "--noc",
        &noc,
        "--data",
        alice_arg,
    ]);
    assert!(
        ok && out.contains("enrolled as NOC operator alice"),
        "{out}"
    );
    let (ok, ls) = legatura(&["fleet", "ls", "--data", alice_arg]);
    assert!(
        ok && ls.contains("PAR-01"),
        "alice's certificate opens the NOC API: {ls}"
    );
    let (ok, again) = legatura(&[
        "operator",
        "enroll",
        &code,
        "--hub",
        &hub,
        "--hub-ca",
        root.to_str().expect("utf-8"),
        "--noc",
        &noc,
        "--data",
        alice_arg,
    ]);
    assert!(
        !ok && again.contains("already used"),
        "a code works once: {again}"
    );

    stop(up);
    assert!(
        get(base + 4, "/").is_err(),
        "the gateway listener outlived the process"
    );

    // A second start on the same data shows no secret again, only where they are kept.
    let (again, printed) = start(data.path(), base);
    assert!(printed.contains("Legătura is up."), "{printed}");
    assert!(!printed.contains("otpauth://"), "{printed}");
    assert!(printed.contains("demo-accounts.txt"), "{printed}");
    let kept = std::fs::read_to_string(data.path().join("demo-accounts.txt")).expect("kept");
    assert!(kept.contains("otpauth://totp/"), "{kept}");
    stop(again);
}

/// Starts `legatura up` and reads its banner up to the Ctrl-C line.
fn start(data: &std::path::Path, base: u16) -> (Running, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_legatura"))
        .args(["up", "--data"])
        .arg(data)
        .args(["--port-base", &base.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("legatura starts");
    let mut up = Running(child);
    let stdout = up.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    let mut printed = String::new();
    while let Some(Ok(line)) = lines.next() {
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("Press Ctrl-C") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no banner yet: {printed}"
        );
    }
    // Whatever it prints later is read too, so that it never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (up, printed)
}

/// Ctrl-C, and a clean exit within 15 s.
fn stop(mut up: Running) {
    kill(Pid::from_raw(up.0.id() as i32), Signal::SIGINT).expect("signal");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = up.0.try_wait().expect("wait") {
            assert!(status.success(), "exit status {status}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "did not stop within 15 s of Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
