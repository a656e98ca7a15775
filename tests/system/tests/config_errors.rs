//! A typo in a daemon's configuration fails closed: exit 78 (EX_CONFIG) and one line on stderr
//! naming the key, so that systemd does not restart-loop a daemon that can never start.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use system::{Bin, GatewaySpec, HubSpec, ListenSpec, ServiceSpec, TlsFiles, bin_path};

const EX_CONFIG: i32 = 78;

/// Runs `bin --config <config> [--check]`: its exit code (`None` if it was still running after
/// 5 s, i.e. it accepted the file, and was killed) and its stderr.
fn run(bin: Bin, config: &Path, check: bool) -> (Option<i32>, String) {
    let mut cmd = Command::new(bin_path(bin));
    cmd.arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if check {
        cmd.arg("--check");
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.name()));
    let deadline = Instant::now() + Duration::from_secs(5);
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    (code, stderr)
}

/// Valid files for both daemons (`--check` only parses, so the TLS files need not exist).
/// Every address is on loopback with port 0: should a daemon wrongly accept a bad file, it
/// binds nothing in use and sends nowhere outside this host.
fn valid_configs(dir: &Path) -> [(Bin, String); 2] {
    let addr = |s: &str| {
        s.parse::<SocketAddr>()
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    };
    let tls = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("cert.key"),
    };
    let hub = HubSpec {
        hub_id: "hub-a".into(),
        listen: addr("127.0.0.1:0"),
        admin: addr("127.0.0.1:0"),
        state_dir: dir.join("state"),
        tls: tls.clone(),
        services: vec![ServiceSpec {
            name: "echo".into(),
            protocol: "tcp",
            upstream: addr("127.0.0.1:7007"),
        }],
        pki: None,
        noc: None,
    };
    let gateway = GatewaySpec {
        hubs: vec![addr("127.0.0.1:9")],
        admin: addr("127.0.0.1:0"),
        tls,
        listeners: vec![ListenSpec {
            service: "echo".into(),
            tcp: Some(addr("127.0.0.1:0")),
            udp: None,
        }],
        handshake_timeout: "1s",
    };
    [
        (Bin::Hubd, hub.to_toml()),
        (Bin::Gatewayd, gateway.to_toml()),
    ]
}

#[test]
fn config_errors_exit_78_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (bin, valid) in valid_configs(dir.path()) {
        let name = bin.name();
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, &valid).expect("write config");
        let (code, stderr) = run(bin, &path, true);
        assert_eq!(
            code,
            Some(0),
            "{name} --check rejected a valid file: {stderr}\n{valid}"
        );

        let typos = [
            (format!("frobnicate = true\n{valid}"), "frobnicate"),
            (valid.replace("keepalive", "keep_alive"), "keep_alive"),
        ];
        for (text, key) in typos {
            std::fs::write(&path, &text).expect("write config");
            for check in [true, false] {
                let (code, stderr) = run(bin, &path, check);
                assert_eq!(
                    code,
                    Some(EX_CONFIG),
                    "{name} (check: {check}) with `{key}`: {stderr}"
                );
                assert_eq!(
                    stderr.trim_end().lines().count(),
                    1,
                    "{name}: stderr must be one line: {stderr}"
                );
                assert!(
                    stderr.contains(key),
                    "{name}: stderr does not name `{key}`: {stderr}"
                );
                assert!(
                    stderr.contains(&path.display().to_string()),
                    "{name}: stderr does not name the file: {stderr}"
                );
            }
        }

        let missing = dir.path().join(format!("no-such-{name}.toml"));
        let (code, stderr) = run(bin, &missing, false);
        assert_eq!(
            code,
            Some(EX_CONFIG),
            "{name} with a missing file: {stderr}"
        );
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{name}: stderr must be one line: {stderr}"
        );
        assert!(
            stderr.contains(&missing.display().to_string()),
            "{name}: stderr does not name the file: {stderr}"
        );
    }
}
