use super::*;

const GOOD: &str = r#"
hub_id = "hub-1"
listen = "0.0.0.0:4433"
state_dir = "state"
drain_grace = "20s"

[tls]
fleet_ca = "fleet-ca.pem"
cert = "hub.pem"
key = "hub.key"

[limits]
max_concurrent_handshakes = 128

[status_page]
listen = "127.0.0.1:9180"

[[service]]
name = "status"
upstream = "127.0.0.1:9180"
allow = ["*"]

[[service]]
name = "sip"
protocol = "udp"
upstream = "127.0.0.1:5060"
allow = ["paris/*", "*/BER-01"]
"#;

#[test]
fn a_complete_file_parses() {
    let c = Config::parse(GOOD, "hubd.toml").expect("valid");
    assert_eq!(c.hub_id, "hub-1");
    assert_eq!(c.drain_grace, Duration::from_secs(20));
    assert_eq!(c.limits.max_concurrent_handshakes, 128);
    assert_eq!(
        c.service_table("hubd.toml").expect("table").iter().count(),
        2
    );
}

#[test]
fn typos_and_bad_values_fail_closed_naming_the_key() {
    let cases = [
        (
            GOOD.replace("drain_grace", "drain_grase"),
            "unknown field `drain_grase`",
        ),
        (
            GOOD.replace("protocol = \"udp\"", "protocol = \"sctp\""),
            "service[1].protocol",
        ),
        (
            GOOD.replace("\"*/BER-01\"", "\"berlin\""),
            "service[1].allow",
        ),
        (
            GOOD.replace("upstream = \"127.0.0.1:5060\"", "upstream = \"localhost\""),
            "service[1].upstream",
        ),
        (
            GOOD.replace("name = \"sip\"", "name = \"status\""),
            "defined twice",
        ),
        (
            GOOD.replace("upstream = \"127.0.0.1:9180\"", "upstream = \"routed\""),
            "service[0].upstream",
        ),
        (
            GOOD.replace("upstream = \"127.0.0.1:5060\"", "upstream = \"routd\""),
            "service[1].upstream",
        ),
        (
            GOOD.replace(
                "max_concurrent_handshakes = 128",
                "max_concurrent_handshakes = 0",
            ),
            "limits.max_concurrent_handshakes",
        ),
        (
            GOOD.replace("listen = \"0.0.0.0:4433\"", "listen = \"nowhere\""),
            "line 3",
        ),
    ];
    for (text, expected) in cases {
        let err = Config::parse(&text, "hubd.toml")
            .expect_err(expected)
            .to_string();
        assert!(err.contains(expected), "{err} should mention {expected}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn a_udp_service_may_be_routed() {
    let text = GOOD.replace("upstream = \"127.0.0.1:5060\"", "upstream = \"routed\"");
    let c = Config::parse(&text, "hubd.toml").expect("valid");
    let table = c.service_table("hubd.toml").expect("table");
    let sip = table
        .iter()
        .find(|s| s.name.as_str() == "sip")
        .expect("sip");
    assert_eq!(sip.upstream, Upstream::Routed);
    let status = table
        .iter()
        .find(|s| s.name.as_str() == "status")
        .expect("status");
    assert_eq!(status.upstream, Upstream::Address("127.0.0.1:9180".into()));
}
