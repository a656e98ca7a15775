use super::*;

const GOOD: &str = r#"
hubs = ["hub-a.example:4433", "10.0.0.2:4433"]
server_name = "hub.legatura"

[tls]
hub_ca = "hub-ca.pem"
cert = "gateway.pem"
key = "gateway.key"

[transport]
keepalive = "5s"
idle_timeout = "30s"

[[listen]]
service = "console"
tcp = "127.0.0.1:8080"

[[listen]]
service = "sip"
udp = "0.0.0.0:5060"
"#;

#[test]
fn a_complete_file_parses() {
    let c = Config::parse(GOOD, "gatewayd.toml").expect("valid");
    assert_eq!(c.hubs.len(), 2);
    assert_eq!(c.services().len(), 2);
    assert_eq!(c.transport.keepalive, Duration::from_secs(5));
    assert_eq!(c.admin.port(), 9101);
}

#[test]
fn typos_fail_closed_naming_the_key() {
    let cases = [
        (
            GOOD.replace("server_name", "servername"),
            "unknown field `servername`",
        ),
        (
            GOOD.replace("keepalive", "keep_alive"),
            "unknown field `keep_alive`",
        ),
        (GOOD.replace("tcp = ", "tpc = "), "unknown field `tpc`"),
        (
            GOOD.replace("service = \"sip\"", "service = \"SIP\""),
            "listen[1].service",
        ),
        (
            GOOD.replace("\"10.0.0.2:4433\"", "\"10.0.0.2\""),
            "invalid `hubs`",
        ),
        (
            GOOD.replace("udp = \"0.0.0.0:5060\"", ""),
            "invalid `listen[1]`",
        ),
        (
            GOOD.replace("hub_ca = \"hub-ca.pem\"\n", ""),
            "missing field `hub_ca`",
        ),
    ];
    for (text, expected) in cases {
        let err = Config::parse(&text, "gatewayd.toml")
            .expect_err(expected)
            .to_string();
        assert!(err.contains(expected), "{err} should mention {expected}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn the_sandbox_is_on_by_default_and_its_section_fails_closed() {
    let c = Config::parse(GOOD, "gatewayd.toml").expect("valid");
    assert_eq!(c.sandbox, sandbox::Settings::default());
    assert!(c.sandbox.enabled);
    assert_eq!(c.sandbox.landlock, sandbox::LandlockMode::Required);
    let text =
        format!("{GOOD}\n[sandbox]\nlandlock = \"best_effort\"\nread_only = [\"/etc/hsm\"]\n");
    let c = Config::parse(&text, "gatewayd.toml").expect("valid");
    assert_eq!(c.sandbox.landlock, sandbox::LandlockMode::BestEffort);
    assert_eq!(c.sandbox.read_only, [PathBuf::from("/etc/hsm")]);
    for (extra, expected) in [
        ("enabeld = false", "unknown field `enabeld`"),
        ("landlock = \"maybe\"", "unknown variant `maybe`"),
        ("enabled = \"no\"", "expected a boolean"),
    ] {
        let text = format!("{GOOD}\n[sandbox]\n{extra}\n");
        let err = Config::parse(&text, "gatewayd.toml")
            .expect_err(extra)
            .to_string();
        assert!(err.contains(expected), "{err} should mention {expected}");
        assert!(err.contains("line "), "{err} names the line");
    }
}

#[test]
fn a_udp_listener_may_advertise_the_address_clients_send_to() {
    let c = Config::parse(GOOD, "gatewayd.toml").expect("valid");
    assert!(c.services().iter().all(|l| l.advertise.is_none()));
    let text = GOOD.replace(
        "udp = \"0.0.0.0:5060\"",
        "udp = \"0.0.0.0:5060\"\nadvertise = \"192.168.1.1:5060\"",
    );
    let c = Config::parse(&text, "gatewayd.toml").expect("valid");
    let sip = c
        .services()
        .into_iter()
        .find(|l| l.service.as_str() == "sip")
        .expect("sip");
    assert_eq!(sip.udp, Some("0.0.0.0:5060".parse().expect("addr")));
    assert_eq!(
        sip.advertise,
        Some("192.168.1.1:5060".parse().expect("addr"))
    );
}

#[test]
fn a_wildcard_unparsable_or_misplaced_advertise_fails_closed_naming_the_key() {
    let sip = |advertise: &str| {
        GOOD.replace(
            "udp = \"0.0.0.0:5060\"",
            &format!("udp = \"0.0.0.0:5060\"\nadvertise = {advertise}"),
        )
    };
    let cases = [
        (sip("\"0.0.0.0:5060\""), "invalid `listen[1].advertise`"),
        (sip("\"[::]:5060\""), "invalid `listen[1].advertise`"),
        (sip("\"192.168.1.1:0\""), "invalid `listen[1].advertise`"),
        (sip("\"192.168.1.1\""), "invalid `listen[1].advertise`"),
        (
            sip("\"phones.embassy:5060\""),
            "invalid `listen[1].advertise`",
        ),
        (sip("5060"), "expected a string"),
        (
            GOOD.replace(
                "tcp = \"127.0.0.1:8080\"",
                "tcp = \"127.0.0.1:8080\"\nadvertise = \"192.168.1.1:8080\"",
            ),
            "invalid `listen[0].advertise`",
        ),
        (
            sip("\"192.168.1.1:5060\"").replace("advertise", "advertize"),
            "unknown field `advertize`",
        ),
    ];
    for (text, expected) in cases {
        let err = Config::parse(&text, "gatewayd.toml")
            .expect_err(expected)
            .to_string();
        assert!(err.contains(expected), "{err} should mention {expected}");
        assert!(!err.contains('\n'), "{err}");
    }
}
