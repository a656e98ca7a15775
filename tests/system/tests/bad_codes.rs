//! Every way an enrollment code can be bad gets its own words at the embassy and its own entry
//! in the hub's audit log: a mistyped code is caught by its check character before anything is
//! sent; a wrong secret, an expired code, a code used twice and a code burnt by five wrong
//! attempts are each refused by the hub with a distinct reason. No attempt leaves a key or a
//! certificate behind, and the audit log still verifies afterwards.
//!
//! Two hub instances share the fleet records: `hub-a` issues codes valid for 14 days and
//! handles every enrollment; `hub-short` issues codes valid for one second (the expired case).

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use pki::enroll::{EnrollCode, Refusal};
use system::{HUB_HOST, Lab, Noc, Output, audit_entries};

const START: Duration = Duration::from_secs(10);
const NOC_A: u16 = 9443;
const NOC_SHORT: u16 = 9444;

/// What `gatewayd enroll` prints when the hub refuses for `reason`.
fn refused(reason: Refusal) -> String {
    format!("enrollment failed: hub refused: {}", reason.explain())
}

/// `code` with its secret replaced: well formed, same code id, wrong secret.
fn forge(code: &str, n: u8) -> String {
    system::forge_code(code, n).expect("forge a code")
}

/// `code` with one character changed, check character left as it was.
fn mistype(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    chars[6] = if chars[6] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

fn code_id(code: &str) -> String {
    EnrollCode::parse(code)
        .expect("a real code")
        .id()
        .to_owned()
}

#[test]
fn every_bad_code_gets_its_own_error_and_an_audit_entry() {
    let lab = Lab::new(&["embassy1", "embassy2"]).expect("topology");
    let noc = Noc::init(&lab.net.dir().join("noc")).expect("legatura ca init");
    let spec = lab
        .pki_hub_spec("hub-a", 4433, 9100, &noc, Some(NOC_A))
        .expect("hub-a config");
    let audit_log = spec
        .pki
        .as_ref()
        .map(|p| p.audit_log.clone())
        .expect("[pki]");
    let mut hub = lab.start_hub_with("hub-a", spec).expect("start hub-a");
    let mut spec = lab
        .pki_hub_spec("hub-short", 4434, 9110, &noc, Some(NOC_SHORT))
        .expect("hub-short config");
    if let Some(pki) = &mut spec.pki {
        pki.code_lifetime = "1s".into();
    }
    let short_audit_log = spec
        .pki
        .as_ref()
        .map(|p| p.audit_log.clone())
        .expect("[pki]");
    let mut short = lab
        .start_hub_with("hub-short", spec)
        .expect("start hub-short");
    hub.wait_ready(START).expect("hub-a ready");
    short.wait_ready(START).expect("hub-short ready");
    let hub_ns = lab.net.ns(HUB_HOST);
    let at = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));

    // The appliance that never gets in, and one that enrols properly.
    let unlucky = lab
        .enrolling_gateway_spec("embassy1", &noc.root(), &[hub.addr])
        .expect("embassy1 config");
    let lucky = lab
        .enrolling_gateway_spec("embassy2", &noc.root(), &[hub.addr])
        .expect("embassy2 config");
    let attempt = |code: &str| -> Output {
        let out = lab
            .gatewayd_enroll("embassy1", &unlucky, code)
            .expect("run gatewayd enroll");
        assert_eq!(
            out.code,
            Some(1),
            "gatewayd enroll {code} must fail:\n{out}"
        );
        assert!(
            !unlucky.tls.cert.exists() && !unlucky.tls.key.exists(),
            "a failed enrollment left a certificate or key behind:\n{out}"
        );
        out
    };

    noc.set_address(at(NOC_A)).expect("point the CLI at hub-a");
    let wrong = noc
        .enroll(hub_ns, "paris", "PAR-01")
        .expect("code for PAR-01");
    let reused = noc
        .enroll(hub_ns, "paris", "PAR-02")
        .expect("code for PAR-02");
    let burnt = noc
        .enroll(hub_ns, "paris", "PAR-03")
        .expect("code for PAR-03");
    noc.set_address(at(NOC_SHORT))
        .expect("point the CLI at hub-short");
    let expired = noc
        .enroll(hub_ns, "paris", "PAR-04")
        .expect("code for PAR-04");
    let expired_from = std::time::Instant::now();

    // Mistyped: caught locally, the hub never hears of it.
    let before = audit_entries(&audit_log).expect("audit log").len();
    let hub_log_before = hub.daemon.log().matches("enrollment connection").count();
    let out = attempt(&mistype(&wrong));
    assert!(
        out.stderr.contains("mistyped"),
        "a mistyped code must be named as such:\n{out}"
    );
    assert_eq!(
        audit_entries(&audit_log).expect("audit log").len(),
        before,
        "a mistyped code reached the hub's audit log"
    );
    assert_eq!(
        hub.daemon.log().matches("enrollment connection").count(),
        hub_log_before,
        "a mistyped code reached the hub"
    );
    let mistyped_text = last_line(&out);

    // Wrong secret.
    let out = attempt(&forge(&wrong, 0));
    assert!(out.stderr.contains(&refused(Refusal::WrongCode)), "{out}");
    let wrong_text = last_line(&out);

    // Used twice: once properly from embassy2, then again from embassy1.
    let ok = lab
        .gatewayd_enroll("embassy2", &lucky, &reused)
        .expect("run gatewayd enroll");
    assert!(
        ok.success() && ok.stderr.contains("enrolled as paris/PAR-02"),
        "{ok}"
    );
    let out = attempt(&reused);
    assert!(out.stderr.contains(&refused(Refusal::AlreadyUsed)), "{out}");
    let reused_text = last_line(&out);

    // Five wrong attempts burn the code: the right one is refused after them.
    for n in 0..5 {
        let out = attempt(&forge(&burnt, n));
        assert!(
            out.stderr.contains(&refused(Refusal::WrongCode)),
            "wrong attempt {}: {out}",
            n + 1
        );
    }
    let out = attempt(&burnt);
    assert!(out.stderr.contains(&refused(Refusal::Exhausted)), "{out}");
    let burnt_text = last_line(&out);

    // Expired: a one-second code, two seconds later.
    if let Some(wait) = Duration::from_secs(2).checked_sub(expired_from.elapsed()) {
        std::thread::sleep(wait);
    }
    let out = attempt(&expired);
    assert!(out.stderr.contains(&refused(Refusal::Expired)), "{out}");
    let expired_text = last_line(&out);

    let texts = [
        &mistyped_text,
        &wrong_text,
        &reused_text,
        &burnt_text,
        &expired_text,
    ];
    assert_eq!(
        texts.iter().collect::<BTreeSet<_>>().len(),
        texts.len(),
        "each bad code needs its own message: {texts:#?}"
    );
    #[allow(clippy::print_stdout)]
    {
        println!("what the embassy reads:\n{texts:#?}");
    }

    // The audit log verifies and holds one attempt entry per refusal, of the right code.
    for log in [&audit_log, &short_audit_log] {
        let verified = noc.audit_verify(log).expect("run legatura audit verify");
        assert!(
            verified.success(),
            "audit log {} does not verify:\n{verified}",
            log.display()
        );
    }
    let attempts: Vec<(String, String, String)> = audit_entries(&audit_log)
        .expect("audit log")
        .into_iter()
        .filter(|e| e["kind"] == "enroll.attempt")
        .map(|e| {
            let code = e["detail"]["code_id"]
                .as_str()
                .or(e["subject"].as_str())
                .unwrap_or_default()
                .to_owned();
            let subject = e["subject"].as_str().unwrap_or_default().to_owned();
            let outcome = e["outcome"].as_str().unwrap_or_default().to_owned();
            (code, subject, outcome)
        })
        .collect();
    let count = |code: &str, outcome: &str| {
        attempts
            .iter()
            .filter(|(c, s, o)| (c == code || s == code) && o == outcome)
            .count()
    };
    let expected = [
        (code_id(&wrong), "wrong_code", 1),
        (code_id(&reused), "already_used", 1),
        (code_id(&burnt), "wrong_code", 5),
        (code_id(&burnt), "exhausted", 1),
        (code_id(&expired), "expired", 1),
    ];
    for (code, outcome, n) in expected {
        assert_eq!(
            count(&code, outcome),
            n,
            "audit entries enroll.attempt/{outcome} for code {code}; all attempts: {attempts:#?}"
        );
    }
    // Nobody got in with a bad code.
    let rows = noc.ls(hub_ns).expect("fleet ls");
    let states: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.appliance.clone(), r.state.clone()))
        .collect();
    assert_eq!(
        states,
        [
            ("PAR-01".to_owned(), "pending".to_owned()),
            ("PAR-02".to_owned(), "active".to_owned()),
            ("PAR-03".to_owned(), "pending".to_owned()),
            ("PAR-04".to_owned(), "pending".to_owned()),
        ],
        "fleet states after the bad codes"
    );
}

/// The message gatewayd ends with (its last stderr line).
fn last_line(out: &Output) -> String {
    out.stderr
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}
