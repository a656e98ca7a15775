//! The agents' console end to end, in real headless Chromium, through a real gateway.
//!
//! A hub (hubd with `[pki]`, `[portal]`, `[console]` and a `console` service with
//! `proxy_protocol = true`) and two embassies, Paris (`ro-emb-paris/PAR-01`) and Berlin
//! (`ro-emb-berlin/BER-01`), whose gateways enrol with one-time codes and offer the console on
//! their LAN address. In the Paris embassy's namespace, Chromium (`browser/console.mjs`) holds
//! two people:
//! - the Paris officer is refused at the Berlin appliance with the console's message, signs in
//!   through the Paris one (password and TOTP) and watches the unassigned queue;
//! - a citizen asks the portal, at the hub's address, a question in English; the new case
//!   appears in the officer's queue without a reload (server-sent events);
//! - the officer opens it and replies; the citizen's status page shows the reply;
//! - a second request of the same citizen is merged into the first (the first's timeline then
//!   carries its message) and un-merged (both cases as before).
//!
//! The store and the audit log are checked afterwards: the reply is an external outbound
//! message of the case written by the officer, the second case is back to its status with the
//! merge on record as undone, and the log holds the sign-ins (refused and accepted, with the
//! appliance each came through) and the changes, and verifies.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use casestore::{
    Actor, AgentId, CaseNumber, ConsulateId, Direction, Language, Name, NewStaff, PasswordHash,
    StaffRole, Status, Store, TimelineItem, Visibility,
};
use system::{GatewayNode, HUB_HOST, Lab, ListenSpec, Noc, audit_entries, http_get, poll};

const START: Duration = Duration::from_secs(10);
/// The whole browser visit, Chromium's start included.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);
/// Where each gateway offers the console on its embassy's LAN.
const CONSOLE_PORT: u16 = 8080;
const PORTAL_PORT: u16 = 8000;
const OFFICER: &str = "off.popescu";

/// A console account's sign-in secrets.
struct Login {
    password: String,
    totp: staffauth::TotpSecret,
}

/// Creates the Paris officer in the case store the hub will open.
fn create_officer(store: &Store) -> Login {
    let password = "correct horse battery staple, Paris".to_owned();
    let totp = staffauth::TotpSecret::generate().expect("a TOTP secret");
    store
        .create_staff(&NewStaff {
            id: AgentId::new(OFFICER).expect("account id"),
            display_name: Name::new("Andrei Popescu").expect("name"),
            role: StaffRole::Officer,
            consulate: ConsulateId::new("ro-emb-paris").expect("consulate"),
            languages: vec![
                Language::new("ro").expect("language"),
                Language::new("fr").expect("language"),
                Language::new("en").expect("language"),
            ],
            password_phc: PasswordHash::new(staffauth::hash_password(&password).expect("argon2id"))
                .expect("PHC string"),
            totp_secret: Some(
                casestore::TotpSecret::new(totp.as_bytes().to_vec()).expect("TOTP secret"),
            ),
        })
        .expect("create the officer");
    Login { password, totp }
}

/// Enrols `mission/appliance` on `host` with a code from the NOC (left in the code file, as
/// provisioning does), with the console offered on the host's LAN address; starts it.
fn start_embassy(
    lab: &Lab,
    noc: &Noc,
    hub: SocketAddr,
    host: &str,
    mission: &str,
    appliance: &str,
) -> GatewayNode {
    let code = noc
        .enroll(lab.net.ns(HUB_HOST), mission, appliance)
        .expect("legatura fleet enroll");
    let mut spec = lab
        .enrolling_gateway_spec(host, &noc.root(), &[hub])
        .expect("gateway config");
    spec.listeners.push(ListenSpec {
        service: "console".into(),
        tcp: Some(console_addr(lab, host)),
        udp: None,
    });
    std::fs::write(
        spec.tls.key.with_file_name("enroll.code"),
        format!("{code}\n"),
    )
    .expect("write the code file");
    lab.start_gateway(host, spec).expect("start gatewayd")
}

fn console_addr(lab: &Lab, host: &str) -> SocketAddr {
    SocketAddr::from((lab.net.ip(host), CONSOLE_PORT))
}

#[test]
fn an_officer_answers_a_citizen_live_through_the_paris_gateway_in_chromium() {
    system::require_browser();
    let started = Instant::now();
    let lab = Lab::new(&["paris", "berlin"]).expect("topology");
    let noc = Noc::init(&lab.net.dir().join("noc")).expect("legatura ca init");
    let spec = lab
        .pki_hub_spec("hub-a", 4433, 9100, &noc, Some(9443))
        .expect("hub config");
    let audit_log = spec.pki.as_ref().expect("[pki]").audit_log.clone();
    let apps = lab.apps_spec(&noc, PORTAL_PORT, 9210);
    let database = apps.console.as_ref().expect("[console]").database.clone();

    // The account exists before the hub opens the store, as `legatura up` seeds it.
    let login = {
        let store = Store::open(&database, casestore::Options::default()).expect("case store");
        create_officer(&store)
    };

    let mut hub = lab
        .start_hub_with_apps("hub-a", spec, &apps)
        .expect("start hubd");
    hub.wait_ready(START).expect("hubd ready");
    let mut paris = start_embassy(&lab, &noc, hub.addr, "paris", "ro-emb-paris", "PAR-01");
    let mut berlin = start_embassy(&lab, &noc, hub.addr, "berlin", "ro-emb-berlin", "BER-01");
    paris
        .wait_ready(START)
        .expect("Paris gateway enrolled and ready");
    berlin
        .wait_ready(START)
        .expect("Berlin gateway enrolled and ready");
    // The console answers through each gateway before the browser starts, so a broken path
    // fails here, naming itself, rather than as a browser timeout.
    for host in ["paris", "berlin"] {
        let addr = console_addr(&lab, host);
        let answered = poll(START, || {
            http_get(lab.net.ns(host), addr, "/login")
                .ok()
                .filter(|(code, _)| *code == 200)
        });
        assert!(
            answered.is_some(),
            "the console's /login does not answer through the {host} gateway at {addr}"
        );
    }
    let ready_s = started.elapsed().as_secs_f64();

    let now = 1_000_000_000;
    let run = system::run_script(
        lab.net.ns("paris"),
        "console.mjs",
        &[
            (
                "PORTAL_URL",
                format!("http://{}:{PORTAL_PORT}", lab.net.ip(HUB_HOST)),
            ),
            (
                "CONSOLE_URL",
                format!("http://{}", console_addr(&lab, "paris")),
            ),
            (
                "BERLIN_CONSOLE_URL",
                format!("http://{}", console_addr(&lab, "berlin")),
            ),
            ("ACCOUNT", OFFICER.to_owned()),
            ("PASSWORD", login.password.clone()),
            ("TOTP_SECRET", hex(login.totp.as_bytes())),
            (
                "TOTP_CHECK",
                format!("{now}:{}", staffauth::totp_code(&login.totp, now)),
            ),
        ],
        lab.net.dir(),
        SCRIPT_TIMEOUT,
    )
    .expect("run the browser script");
    #[allow(clippy::print_stderr)]
    {
        eprintln!("--- the browser script's log\n{}", run.stderr);
    }
    assert!(
        run.ok,
        "the browser script failed (screenshots failure-*.png in {})\n--- stdout\n{}\n--- stderr\n{}",
        lab.net.dir().display(),
        run.stdout,
        run.stderr
    );
    let answer = run.answer().expect("the script's answer");
    let text = |v: &serde_json::Value| v.as_str().expect("a string in the answer").to_owned();
    let first: CaseNumber = text(&answer["first"]["case_no"])
        .parse()
        .expect("a case number");
    let second: CaseNumber = text(&answer["second"]["case_no"])
        .parse()
        .expect("a case number");
    let reply = text(&answer["reply"]);
    let second_text = text(&answer["second"]["text"]);
    assert_eq!(
        answer["second"]["status_merged"], "merged",
        "the source of a merge shows as merged: {answer}"
    );

    // The store, once the hub has stopped (a graceful stop seals the audit log).
    paris.daemon.kill().expect("stop the Paris gateway");
    berlin.daemon.kill().expect("stop the Berlin gateway");
    hub.daemon.terminate().expect("SIGTERM hubd");
    let status = hub.daemon.wait_exit(START).expect("hubd stops");
    assert!(status.success(), "hubd exited {status}");
    let store = Store::open(&database, casestore::Options::default()).expect("case store");
    let id = |no: CaseNumber| {
        store
            .case_id(no)
            .expect("read")
            .unwrap_or_else(|| panic!("{no} is not in the store"))
    };
    let (first_id, second_id) = (id(first), id(second));
    let case = store.case(first_id).expect("read").expect("the first case");
    assert_eq!(case.consulate.as_str(), "ro-emb-paris", "{case:?}");
    assert_eq!(case.language.as_str(), "en", "{case:?}");
    let outbound: Vec<_> = store
        .messages(first_id, Some(Visibility::External))
        .expect("messages")
        .into_iter()
        .filter(|m| m.direction == Direction::Out)
        .collect();
    assert_eq!(outbound.len(), 1, "one reply: {outbound:?}");
    assert_eq!(outbound[0].body.as_str(), reply);
    assert_eq!(
        outbound[0].author,
        Actor::Agent(AgentId::new(OFFICER).expect("id"))
    );
    // The first case's timeline (which spans the cases merged into it) is its own again.
    let carried: Vec<_> = store
        .timeline(first_id)
        .expect("timeline")
        .into_iter()
        .filter(|item| match item {
            TimelineItem::Message { message, .. } => message.body.as_str() == second_text,
            _ => false,
        })
        .collect();
    assert!(
        carried.is_empty(),
        "the un-merge took the second request's message back: {carried:?}"
    );
    let back = store
        .case(second_id)
        .expect("read")
        .expect("the second case");
    assert_eq!(back.status, Status::New, "{back:?}");
    let merges = store.merges_of(second_id).expect("merges");
    assert!(
        merges.len() == 1 && merges[0].into == first_id && merges[0].undone.is_some(),
        "one merge into the first case, undone: {merges:?}"
    );

    // The chat is a case of its own: the citizen's question and the officer's answer are its
    // transcript, and the officer who picked it up holds it.
    let chat: CaseNumber = text(&answer["chat"]["case_no"])
        .parse()
        .expect("the chat's case number");
    let chat_id = store.case_id(chat).expect("read").expect("the chat's case");
    let chat_case = store.case(chat_id).expect("read").expect("the chat's case");
    assert_eq!(chat_case.channel, casestore::Channel::Chat);
    assert_eq!(
        chat_case
            .assignee
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some(OFFICER)
    );
    let transcript: Vec<(Direction, String)> = store
        .messages(chat_id, Some(Visibility::External))
        .expect("messages")
        .into_iter()
        .map(|m| (m.direction, m.body.as_str().to_owned()))
        .collect();
    assert_eq!(
        transcript,
        [
            (Direction::In, text(&answer["chat"]["question"])),
            (Direction::Out, text(&answer["chat"]["answer"])),
        ],
        "the chat's transcript is the case's messages"
    );

    // The audit log: who signed in where, what changed, and the chain verifies.
    let entries = audit_entries(&audit_log).expect("audit log");
    let logins: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e["kind"] == "console.login" && e["actor"] == format!("staff:{OFFICER}"))
        .map(|e| (text(&e["subject"]), text(&e["outcome"])))
        .collect();
    assert_eq!(
        logins,
        [
            (
                "appliance:ro-emb-berlin/BER-01".to_owned(),
                "wrong_path".to_owned()
            ),
            ("appliance:ro-emb-paris/PAR-01".to_owned(), "ok".to_owned()),
        ],
        "the sign-ins as audited"
    );
    let actor = format!("staff:{OFFICER}@appliance:ro-emb-paris/PAR-01");
    let changes: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e["kind"] == "console.case.change" && e["actor"] == actor.as_str())
        .map(|e| (text(&e["subject"]), text(&e["detail"]["action"])))
        .collect();
    assert_eq!(
        changes,
        [
            (first.to_string(), "reply".to_owned()),
            (second.to_string(), "merge".to_owned()),
            (first.to_string(), "unmerge".to_owned()),
            (chat.to_string(), "chat.pickup".to_owned()),
            (chat.to_string(), "chat.send".to_owned()),
        ],
        "the changes as audited"
    );
    let verified = noc.audit_verify(&audit_log).expect("run audit verify");
    assert!(verified.success(), "the audit log must verify:\n{verified}");

    #[allow(clippy::print_stdout)]
    {
        println!(
            "ready in {ready_s:.1} s; browser script {:.1} s (new case in the queue {} ms after \
             the receipt); whole test {:.1} s",
            run.elapsed.as_secs_f64(),
            answer["live_ms"],
            started.elapsed().as_secs_f64()
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
