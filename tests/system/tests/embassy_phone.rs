//! An embassy desk phone through its gateway: SIPp in the embassy's namespace registers with
//! the hub's bridge over the gateway's SIP port (a UDP service of the tunnel), the hub records
//! the mission from the tunnel's certificate, the phone calls an agent on the hub's network,
//! and an agent's call reaches the phone back through the tunnel although its Contact names
//! an address only the embassy's LAN can reach. The embassy phone's audio rides the tunnel
//! too: the hub's answer sends it to the gateway's media service, whose datagrams the hub
//! routes to the call's relay port, and the agent's echo comes back the same way.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use system::{Bin, Daemon, HUB_HOST, Lab, ListenSpec, ServiceSpec, poll, status, wait_ready};

const START: Duration = Duration::from_secs(10);
const SIP: &str = "127.0.0.1:5060";

/// The gateway's media service in the embassy (RTP; RTCP on the next port).
const GATEWAY_RTP: u16 = 5062;

fn system_file(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn scenario(name: &str) -> String {
    format!(
        "{}/../../appliance/telephony/tests/sipp/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn ha1(user: &str, password: &str) -> String {
    let out = Command::new("sh")
        .args([
            "-c",
            &format!("printf %s '{user}:legatura:{password}' | md5sum"),
        ])
        .output()
        .expect("md5sum");
    String::from_utf8(out.stdout).unwrap()[..32].to_owned()
}

/// SIPp in namespace `ns` with `args`, its messages logged in the test directory.
fn sipp(ns: &str, args: &[&str]) -> Command {
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", ns, "sipp"])
        .args(args)
        .args(["-nostdin", "-timeout", "15s", "-timeout_error"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn register(ns: &str, user: &str, port: &str, contact_port: &str) {
    let ok = sipp(
        ns,
        &[
            "-sf",
            &scenario("register.xml"),
            SIP,
            "-i",
            "127.0.0.1",
            "-p",
            port,
            "-m",
            "1",
            "-s",
            user,
            "-au",
            user,
            "-ap",
            "secret-pw",
            "-key",
            "contact_port",
            contact_port,
            "-key",
            "expires",
            "600",
        ],
    )
    .status()
    .expect("sipp runs (Debian package sip-tester)");
    assert!(ok.success(), "{user} could not register from {ns}");
}

struct Phone(Child);

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A phone that answers one call on `port` and waits for the caller's BYE.
fn answering_phone(ns: &str, port: &str) -> Phone {
    Phone(
        sipp(
            ns,
            &["-sn", "uas", "-i", "127.0.0.1", "-p", port, "-m", "1"],
        )
        .spawn()
        .expect("sipp"),
    )
}

fn call(ns: &str, port: &str, dialled: &str) -> bool {
    sipp(
        ns,
        &[
            "-sn",
            "uac",
            SIP,
            "-i",
            "127.0.0.1",
            "-p",
            port,
            "-s",
            dialled,
            "-m",
            "1",
            "-d",
            "500",
        ],
    )
    .status()
    .expect("sipp")
    .success()
}

fn answered(phone: &mut Phone) -> bool {
    poll(Duration::from_secs(15), || {
        phone.0.try_wait().ok().flatten()
    })
    .is_some_and(|s| s.success())
}

#[test]
fn an_embassy_phone_registers_and_calls_through_its_gateway() {
    let lab = Lab::new(&["paris"]).expect("topology");
    let dir = lab.net.dir().to_owned();
    let hub_ns = lab.net.ns(HUB_HOST).to_owned();
    let paris_ns = lab.net.ns("paris").to_owned();

    let agents = dir.join("sip-agents.toml");
    std::fs::write(
        &agents,
        format!(
            "realm = \"legatura\"\n\n[[agent]]\nusername = \"agent1\"\nha1_md5 = \"{}\"\n\
             extension = \"101\"\n\n[[agent]]\nusername = \"paris1\"\nha1_md5 = \"{}\"\n\
             extension = \"301\"\n",
            ha1("agent1", "secret-pw"),
            ha1("paris1", "secret-pw")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&agents, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut spec = lab.hub_spec("hub-a", 4433, 9100).expect("hub config");
    spec.services.push(ServiceSpec {
        name: "sip".into(),
        protocol: "udp",
        upstream: SIP.parse().unwrap(),
    });
    // The phones' audio: routed per datagram to the relay port of the phone's call.
    let routed = ["rtp", "rtcp"].map(|name| {
        format!("[[service]]\nname = \"{name}\"\nprotocol = \"udp\"\nupstream = \"routed\"\nallow = [\"*\"]\n\n")
    });
    let text = spec.to_toml()
        + &routed.concat()
        + &format!(
            "[telephony]\nlisten = \"{SIP}\"\nagents = \"{}\"\n\n\
             [telephony.media]\nivr = false\ngateway_rtp_port = {GATEWAY_RTP}\n",
            agents.display()
        );
    let config = dir.join("hub-a.toml");
    std::fs::write(&config, text).unwrap();
    let mut hubd = Daemon::start(&hub_ns, Bin::Hubd, &config, &dir, "hub-a").expect("hubd");
    if let Err(error) = wait_ready(&hub_ns, spec.admin, START) {
        hubd.print_logs();
        panic!("hubd not ready: {error:#}");
    }

    let hub = SocketAddr::from((lab.net.ip(HUB_HOST), 4433));
    let mut gw_spec = lab
        .gateway_spec("ro-emb-paris", "PAR-01", &[hub])
        .expect("gateway config");
    gw_spec.listeners.push(ListenSpec {
        service: "sip".into(),
        tcp: None,
        udp: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 5060))),
    });
    for (service, port) in [("rtp", GATEWAY_RTP), ("rtcp", GATEWAY_RTP + 1)] {
        gw_spec.listeners.push(ListenSpec {
            service: service.into(),
            tcp: None,
            udp: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
        });
    }
    let mut gw = lab.start_gateway("paris", gw_spec).expect("gatewayd");
    gw.wait_ready(START).expect("gatewayd ready");

    // The agent's phone on the hub's network, and the embassy phone through the gateway
    // (its Contact, 127.0.0.1 in the embassy, is nothing the hub could reach itself).
    register(&hub_ns, "agent1", "5070", "5071");
    register(&paris_ns, "paris1", "5080", "5080");
    let phones = status(&hub_ns, spec.admin).expect("hub status")["phones"].clone();
    let appliance_of = |user: &str| {
        phones
            .as_array()
            .expect("phones listed")
            .iter()
            .find(|p| p["username"] == user)
            .unwrap_or_else(|| panic!("{user} not registered: {phones}"))["appliance"]
            .clone()
    };
    assert_eq!(appliance_of("paris1"), "ro-emb-paris/PAR-01");
    assert!(appliance_of("agent1").is_null(), "{phones}");

    // The embassy phone calls the agent: answered, and hung up by the embassy phone.
    let mut agent = answering_phone(&hub_ns, "5071");
    assert!(call(&paris_ns, "5081", "101"), "the embassy's call failed");
    assert!(
        answered(&mut agent),
        "the agent's phone saw no complete call"
    );

    // A call from the hub's side to the embassy phone: the INVITE and the caller's BYE reach
    // it through the tunnel flow it registered over.
    let mut desk = answering_phone(&paris_ns, "5080");
    assert!(
        call(&hub_ns, "5072", "301"),
        "the call to the embassy phone failed"
    );
    assert!(
        answered(&mut desk),
        "the embassy phone saw no complete call"
    );

    // Audio: the embassy phone calls the agent, whose phone echoes every RTP packet. The
    // phone is told to send to the gateway (the scenario fails on the hub's own address);
    // what it sends there must come back echoed, through the tunnel both ways.
    let mut agent = Phone(
        sipp(
            &hub_ns,
            &[
                "-sn",
                "uas",
                "-i",
                "127.0.0.1",
                "-p",
                "5071",
                "-m",
                "1",
                "-rtp_echo",
                "-mp",
                "6100",
            ],
        )
        .spawn()
        .expect("sipp"),
    );
    let probe = Command::new("ip")
        .args(["netns", "exec", &paris_ns, "python3"])
        .arg(system_file("scripts/rtp_echo_probe.py"))
        .args(["5090", "127.0.0.1", &GATEWAY_RTP.to_string()])
        .args(["1.0", "100", "4.5"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let talked = sipp(
        &paris_ns,
        &[
            "-sf",
            &system_file("sipp/embassy_call_media.xml"),
            SIP,
            "-i",
            "127.0.0.1",
            "-p",
            "5082",
            "-s",
            "101",
            "-key",
            "rtp",
            "5090",
            "-key",
            "caller",
            "paris1",
            "-m",
            "1",
            "-d",
            "4000",
        ],
    )
    .status()
    .expect("sipp");
    let echoed = probe.wait_with_output().expect("probe");
    let echoed: u32 = String::from_utf8_lossy(&echoed.stdout)
        .trim()
        .parse()
        .expect("the probe prints a count");
    eprintln!("{echoed} of 100 RTP packets came back through the tunnel");
    assert!(
        talked.success(),
        "the embassy phone's call failed, or its answer did not name the gateway's media service"
    );
    assert!(
        answered(&mut agent),
        "the agent's phone saw no complete call"
    );
    assert!(
        echoed >= 80,
        "{echoed} of 100 RTP packets came back through the tunnel"
    );

    // The hub stops in the middle of a call from the embassy: both phones are hung up (the
    // embassy phone's BYE through the tunnel, before the hub drains it), not left with dead
    // air. Both SIPp wait for the bridge's BYE and fail without it.
    let mut agent = answering_phone(&hub_ns, "5071");
    let mut desk = Phone(
        sipp(
            &paris_ns,
            &[
                "-sf",
                &scenario("uac_wait_bye.xml"),
                SIP,
                "-i",
                "127.0.0.1",
                "-p",
                "5083",
                "-s",
                "101",
                "-m",
                "1",
            ],
        )
        .spawn()
        .expect("sipp"),
    );
    std::thread::sleep(Duration::from_secs(2));
    hubd.terminate().ok();
    assert!(
        answered(&mut desk),
        "the embassy phone was not hung up when the hub stopped"
    );
    assert!(
        answered(&mut agent),
        "the agent's phone was not hung up when the hub stopped"
    );
    gw.daemon.terminate().ok();
}
