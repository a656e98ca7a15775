//! The hub's audit log after real enrollments: `legatura audit verify` accepts it as written
//! (signed checkpoint included), and names the first broken entry of a tampered copy: a byte
//! flipped inside the second entry's detail breaks line 2; a deleted line breaks the line
//! that now stands in its place.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use std::time::Duration;

use system::{HUB_HOST, Lab, Noc, audit_entries};

const START: Duration = Duration::from_secs(10);

#[test]
fn tampered_audit_log_is_named_at_its_first_broken_entry() {
    let lab = Lab::new(&["embassy1"]).expect("topology");
    let noc = Noc::init(&lab.net.dir().join("noc")).expect("legatura ca init");
    let spec = lab
        .pki_hub_spec("hub-a", 4433, 9100, &noc, Some(9443))
        .expect("hub config");
    let log = spec
        .pki
        .as_ref()
        .map(|p| p.audit_log.clone())
        .expect("[pki]");
    let mut hub = lab.start_hub_with("hub-a", spec).expect("start hubd");
    hub.wait_ready(START).expect("hubd ready");
    let hub_ns = lab.net.ns(HUB_HOST);

    // Some history: codes for two appliances, one wrong attempt, one enrollment, a revocation.
    let code = noc
        .enroll(hub_ns, "paris", "PAR-01")
        .expect("code for PAR-01");
    noc.enroll(hub_ns, "paris", "PAR-02")
        .expect("code for PAR-02");
    let gw = lab
        .enrolling_gateway_spec("embassy1", &noc.root(), &[hub.addr])
        .expect("gateway config");
    let wrong = system::forge_code(&code, 0).expect("forge a code");
    let out = lab
        .gatewayd_enroll("embassy1", &gw, &wrong)
        .expect("run gatewayd enroll");
    assert_eq!(out.code, Some(1), "{out}");
    let out = lab
        .gatewayd_enroll("embassy1", &gw, &code)
        .expect("run gatewayd enroll");
    assert!(out.success(), "{out}");
    noc.revoke(hub_ns, "paris/PAR-02").expect("revoke PAR-02");
    // A graceful stop seals the log with a signed checkpoint.
    hub.daemon.terminate().expect("SIGTERM hubd");
    let status = hub.daemon.wait_exit(START).expect("hubd stops");
    assert!(status.success(), "hubd exited {status}");

    let entries = audit_entries(&log).expect("audit log");
    let kinds: Vec<&str> = entries.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(
        entries.len() >= 6 && kinds.last() == Some(&"checkpoint"),
        "expected a history sealed by a checkpoint: {kinds:?}"
    );

    let intact = noc.audit_verify(&log).expect("run audit verify");
    assert!(intact.success(), "the untouched log must verify:\n{intact}");
    assert!(
        intact.stdout.contains("intact") && intact.stdout.contains("1 signed checkpoints"),
        "{intact}"
    );

    let text = std::fs::read(&log).expect("read the audit log");
    let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();

    // One byte flipped inside the second entry's detail.
    let mut flipped = lines
        .clone()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect::<Vec<_>>();
    let second = &mut flipped[1];
    let detail = find(second, b"\"detail\":{").expect("entry 2 has a detail") + 10;
    let end = detail + find(&second[detail..], b"}").expect("detail ends");
    let at = (detail..end)
        .find(|i| second[*i].is_ascii_alphanumeric())
        .expect("a character inside the detail");
    second[at] = if second[at] == b'1' { b'2' } else { b'1' };
    let copy = lab.net.dir().join("audit-flipped.log");
    std::fs::write(&copy, flipped.concat()).expect("write the tampered copy");
    let out = noc.audit_verify(&copy).expect("run audit verify");
    assert!(!out.success(), "a flipped byte must not verify:\n{out}");
    assert!(
        out.stderr.contains("line 2 "),
        "the verifier must name line 2:\n{out}"
    );
    #[allow(clippy::print_stdout)]
    {
        println!("byte flipped in entry 2: {}", out.stderr.trim());
    }

    // A line deleted: the one after it now stands at its line number and breaks there.
    for deleted in [3, lines.len() - 1] {
        let mut shortened: Vec<&[u8]> = lines.clone();
        shortened.remove(deleted - 1);
        let copy = lab.net.dir().join(format!("audit-without-{deleted}.log"));
        std::fs::write(&copy, shortened.concat()).expect("write the tampered copy");
        let out = noc.audit_verify(&copy).expect("run audit verify");
        assert!(
            !out.success(),
            "a log without line {deleted} must not verify:\n{out}"
        );
        assert!(
            out.stderr.contains(&format!("line {deleted} ")),
            "the verifier must name line {deleted}:\n{out}"
        );
        #[allow(clippy::print_stdout)]
        {
            println!("without line {deleted}: {}", out.stderr.trim());
        }
    }

    // The original is untouched and still verifies.
    let again = noc.audit_verify(&log).expect("run audit verify");
    assert!(again.success(), "{again}");
    assert_eq!(
        std::fs::read(&log).expect("read the audit log"),
        text,
        "verifying must not change the log"
    );
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
