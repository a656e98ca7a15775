//! Zero-touch enrollment end to end: the operator runs `legatura ca init` and `legatura fleet
//! enroll`, the person at the embassy types the code into `gatewayd enroll`, and the tunnel
//! comes up with the certificate the hub issued.
//!
//! The embassy sits behind a NAT-like box (a plain UDP relay on a "nat" host: the hub sees the
//! relay's address, never the embassy's) and listens on nothing but loopback: everything the
//! gateway does, enrollment included, is dialled out.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use system::{HUB_HOST, Impairment, Lab, Noc, Relay};

const START: Duration = Duration::from_secs(10);
const NO_IMPAIRMENT: Impairment = Impairment {
    delay: Duration::ZERO,
    loss: 0.0,
};

#[test]
fn enrollment_brings_the_tunnel_up() {
    let lab = Lab::new(&["embassy1", "nat", "embassy2"]).expect("topology");
    let noc = Noc::init(&lab.net.dir().join("noc")).expect("legatura ca init");
    let spec = lab
        .pki_hub_spec("hub-a", 4433, 9100, &noc, Some(9443))
        .expect("hub config");
    let mut hub = lab.start_hub_with("hub-a", spec).expect("start hubd");
    hub.wait_ready(START).expect("hubd ready");
    let hub_ns = lab.net.ns(HUB_HOST);
    let nat = Relay::start(
        lab.net.ns("nat"),
        SocketAddr::from((lab.net.ip("nat"), 4433)),
        hub.addr,
        NO_IMPAIRMENT,
    )
    .expect("start the NAT-like relay");

    let code = noc
        .enroll(hub_ns, "paris", "PAR-01")
        .expect("legatura fleet enroll");
    let row = noc.row(hub_ns, "paris", "PAR-01").expect("fleet ls");
    assert_eq!(row.state, "pending", "before enrollment: {row:?}");

    let spec = lab
        .enrolling_gateway_spec("embassy1", &noc.root(), &[nat.listen()])
        .expect("gateway config");
    let started = Instant::now();
    let out = lab
        .gatewayd_enroll("embassy1", &spec, &code)
        .expect("run gatewayd enroll");
    assert!(out.success(), "gatewayd enroll failed:\n{out}");
    assert!(
        out.stderr.contains("enrolled as paris/PAR-01"),
        "gatewayd enroll does not say who it is:\n{out}"
    );
    let mode = std::fs::metadata(&spec.tls.key)
        .expect("enrollment wrote the key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "key file mode is {:o}", mode & 0o777);
    let cert = std::fs::read_to_string(&spec.tls.cert).expect("enrollment wrote the certificate");
    assert_eq!(
        system::cert_identity(&cert).expect("an appliance certificate"),
        "paris/PAR-01"
    );

    let mut gw = lab.start_gateway("embassy1", spec).expect("start gatewayd");
    gw.wait_ready(START).expect("gatewayd ready");
    let enroll_s = started.elapsed().as_secs_f64();
    assert_eq!(
        gw.echo("bonjour").expect("request through the tunnel"),
        "echo: bonjour"
    );
    assert_eq!(
        hub.appliances().expect("hub /status"),
        ["paris/PAR-01"],
        "the hub admits the enrolled appliance"
    );

    let row = noc.row(hub_ns, "paris", "PAR-01").expect("fleet ls");
    assert_eq!(row.state, "active", "{row:?}");
    assert_eq!(row.transport, "quic", "{row:?}");
    assert_eq!(row.last_seen, "now", "{row:?}");
    assert!(
        row.cert_expires_in().is_some_and(|s| s > 3600),
        "a 24 h certificate: {row:?}"
    );
    // The hub only ever saw the NAT's address.
    assert!(
        row.from.starts_with(&format!("{}:", lab.net.ip("nat"))),
        "the hub should see the NAT's address: {row:?}"
    );
    // Nothing on the embassy is reachable from outside: every TCP listener is on loopback, and
    // the only other socket is the gateway's outgoing QUIC socket on an ephemeral port.
    let (all, exposed) = listeners(&gw.ns);
    assert!(
        all.iter().any(|l| l.contains("127.0.0.1:7000")),
        "ss does not show the gateway's own listener: {all:?}"
    );
    assert!(
        exposed.is_empty(),
        "the embassy listens beyond loopback: {exposed:?}"
    );

    // The other way in: provisioning leaves the code in a file beside the key, and the daemon,
    // started without a certificate, enrols with it, deletes it and brings the tunnel up.
    let code = noc
        .enroll(hub_ns, "berlin", "BER-01")
        .expect("legatura fleet enroll");
    let spec = lab
        .enrolling_gateway_spec("embassy2", &noc.root(), &[nat.listen()])
        .expect("gateway config");
    let code_file = spec.tls.key.with_file_name("enroll.code");
    std::fs::write(&code_file, format!("{code}\n")).expect("write the code file");
    let started = Instant::now();
    let mut berlin = lab.start_gateway("embassy2", spec).expect("start gatewayd");
    berlin
        .wait_ready(START)
        .expect("gatewayd enrolled from the code file");
    let code_file_s = started.elapsed().as_secs_f64();
    assert!(
        !code_file.exists(),
        "the code file must be deleted once read"
    );
    assert_eq!(
        berlin
            .echo("guten tag")
            .expect("request through the tunnel"),
        "echo: guten tag"
    );
    let row = noc.row(hub_ns, "berlin", "BER-01").expect("fleet ls");
    assert_eq!(row.state, "active", "{row:?}");

    #[allow(clippy::print_stdout)]
    {
        println!(
            "enroll_s={enroll_s:.3} (gatewayd enroll → /readyz 200); code file → /readyz 200 in \
             {code_file_s:.3} s"
        );
    }
}

/// Every listening socket in `ns` (as `ss` prints it), and those that could accept something
/// from the network: TCP listeners not on loopback, and UDP sockets not on loopback bound to a
/// port below the ephemeral range.
fn listeners(ns: &str) -> (Vec<String>, Vec<String>) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "ss", "-H", "-l", "-n", "-t", "-u"])
        .output()
        .expect("run ss");
    assert!(out.status.success(), "ss failed: {out:?}");
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap_or_else(|_| "32768 60999".into());
    let low: u16 = range
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(32768);
    let all: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let exposed = all
        .iter()
        .filter(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(proto), Some(local)) = (cols.first(), cols.get(4)) else {
                return false;
            };
            let Some((host, port)) = local.rsplit_once(':') else {
                return false;
            };
            if host.starts_with("127.") || host == "[::1]" {
                return false;
            }
            let ephemeral = port.parse::<u16>().is_ok_and(|p| p >= low);
            *proto == "tcp" || !ephemeral
        })
        .cloned()
        .collect();
    (all, exposed)
}
