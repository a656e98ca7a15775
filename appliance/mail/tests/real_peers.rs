//! The e-mail channel between real SMTP peers: swaks sends mail in, aiosmtpd is the relay mail
//! goes out through, and the case store is a real SQLite file. Threading, loops, bounces,
//! retries, crashes and bad input, as the citizen, the agent and the relay would see them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

#[path = "support/peers.rs"]
mod peers;

use std::time::Duration;

use casestore as cs;
use peers::{Hub, Relay, authenticated, config, data_file, free_port, swaks, until};

fn header(m: &mail_parser::Message<'_>, name: &str) -> String {
    m.header_raw(name)
        .map(str::trim)
        .unwrap_or_default()
        .to_owned()
}

/// The tracking code in an acknowledgement's text.
fn tracking_code(body: &str) -> String {
    let marker = ["codul de urmărire ", "tracking code "]
        .iter()
        .find_map(|m| body.find(m).map(|i| i + m.len()))
        .expect("a tracking code in the acknowledgement");
    body[marker..]
        .split(|c: char| c.is_whitespace() || c == '.')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_mail_opens_a_case_and_the_relay_gets_the_acknowledgement() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(free_port(), &tmp.path().join("relay"));
    let hub = Hub::start(config(relay.port), None).await;
    let sent = swaks(
        hub.smtp,
        &[
            "--from",
            "ana@example.org",
            "--header",
            "From: Ana Popescu <ana@example.org>",
            "--header",
            "Subject: Pașaport pierdut",
            "--header",
            "Message-Id: <first@example.org>",
            "--body",
            "Bună ziua, mi-am pierdut pașaportul la Paris. Vă rog să mă ajutați.",
        ],
    )
    .await;
    assert!(sent.ok, "{}", sent.output);
    assert!(
        sent.output.contains("accepted: new case"),
        "{}",
        sent.output
    );
    let no = sent.case_no();
    let case = hub.case(&no);
    assert_eq!(case.channel, cs::Channel::Email);
    assert_eq!(case.language.as_str(), "ro");
    assert_eq!(
        case.consulate.as_str(),
        "ro-emb-paris",
        "routed by the mailbox's city"
    );

    hub.drained().await;
    let got = relay.received();
    assert_eq!(got.len(), 1, "one acknowledgement");
    let ack = &got[0];
    assert!(header(ack, "X-Envelope-To").contains("ana@example.org"));
    assert!(ack.subject().unwrap().contains(&format!("[{no}]")));
    assert_eq!(header(ack, "Auto-Submitted"), "auto-replied");
    assert_eq!(header(ack, "In-Reply-To"), "<first@example.org>");
    assert!(header(ack, "References").contains("<first@example.org>"));
    let body = ack.body_text(0).unwrap();
    let code = tracking_code(&body);
    assert_eq!(
        hub.store
            .verify_tracking(no.parse().unwrap(), &code)
            .unwrap(),
        Some(case.id),
        "the code in the mail opens the case on the portal"
    );
    assert!(body.contains("https://cetateni.mae.test/status"));
    assert_eq!(
        hub.store.mail_ack_code(case.id).unwrap(),
        None,
        "the code is forgotten once sent"
    );
    hub.running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_thread_by_token_and_headers_and_strangers_get_a_linked_case() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(free_port(), &tmp.path().join("relay"));
    let hub = Hub::start(config(relay.port), None).await;
    let auth = authenticated("example.org");
    let sent = swaks(
        hub.smtp,
        &[
            "--from",
            "ion@example.org",
            "--header",
            "Subject: Lost passport",
            "--header",
            "Message-Id: <m1@example.org>",
            "--add-header",
            &auth,
            "--body",
            "Hello, I have lost my passport in Rome.",
        ],
    )
    .await;
    let no = sent.case_no();
    let case = hub.case(&no);
    assert_eq!(case.language.as_str(), "en");
    hub.drained().await;
    let ack_id = header(&relay.received()[0], "Message-ID").to_owned();

    // By the token in the subject.
    let by_token = swaks(
        hub.smtp,
        &[
            "--from",
            "ion@example.org",
            "--header",
            &format!("Subject: Re: [{no}] documents"),
            "--header",
            "Message-Id: <m2@example.org>",
            "--add-header",
            &auth,
            "--body",
            "Here is more information.",
        ],
    )
    .await;
    assert!(
        by_token.output.contains(&format!("added to case {no}")),
        "{}",
        by_token.output
    );
    // By In-Reply-To alone.
    let by_header = swaks(
        hub.smtp,
        &[
            "--from",
            "ion@example.org",
            "--header",
            "Subject: Re: your message",
            "--header",
            "Message-Id: <m3@example.org>",
            "--header",
            &format!("In-Reply-To: {ack_id}"),
            "--add-header",
            &auth,
            "--body",
            "And one more thing.",
        ],
    )
    .await;
    assert!(
        by_header.output.contains(&format!("added to case {no}")),
        "{}",
        by_header.output
    );
    // The same Message-ID again: one message.
    let again = swaks(
        hub.smtp,
        &[
            "--from",
            "ion@example.org",
            "--header",
            &format!("Subject: Re: [{no}] documents"),
            "--header",
            "Message-Id: <m2@example.org>",
            "--add-header",
            &auth,
            "--body",
            "Here is more information.",
        ],
    )
    .await;
    assert!(
        again
            .output
            .contains(&format!("already received as case {no}")),
        "{}",
        again.output
    );
    let external = hub
        .store
        .messages(case.id, Some(cs::Visibility::External))
        .unwrap();
    assert_eq!(
        external.len(),
        3,
        "the first mail and two replies, once each"
    );

    // A stranger using the token: a new case, linked, with the agent told why.
    let stranger = swaks(
        hub.smtp,
        &[
            "--from",
            "eve@evil.example",
            "--header",
            &format!("Subject: Re: [{no}] change my address"),
            "--header",
            "Message-Id: <e1@evil.example>",
            "--add-header",
            &authenticated("evil.example"),
            "--body",
            "Please send everything to my new address.",
        ],
    )
    .await;
    let other = stranger.case_no();
    assert_ne!(other, no, "{}", stranger.output);
    let other = hub.case(&other);
    let links = hub.store.links(other.id).unwrap();
    assert_eq!(
        (links[0].kind, links[0].other),
        (cs::LinkKind::Related, case.id)
    );
    let notes = hub
        .store
        .messages(other.id, Some(cs::Visibility::Internal))
        .unwrap();
    assert!(
        notes[0].body.as_str().contains("not a verified contact"),
        "{:?}",
        notes
    );
    assert_eq!(
        hub.store
            .messages(case.id, Some(cs::Visibility::External))
            .unwrap()
            .len(),
        3,
        "nothing of the stranger's mail reached the case"
    );
    // A sender the relay did not vouch for is not verified, even from the same address.
    let unvouched = swaks(
        hub.smtp,
        &[
            "--from",
            "ion@example.org",
            "--header",
            &format!("Subject: Re: [{no}]"),
            "--header",
            "Message-Id: <m4@example.org>",
            "--body",
            "spoofed?",
        ],
    )
    .await;
    assert!(
        unvouched.output.contains("new case"),
        "{}",
        unvouched.output
    );

    // The agent's reply threads in the citizen's mail client.
    hub.drained().await;
    let before = relay.received().len();
    hub.store
        .add_message(
            case.id,
            &cs::NewMessage {
                direction: cs::Direction::Out,
                channel: cs::Channel::Email,
                author: cs::Actor::Agent(cs::AgentId::new("ana").unwrap()),
                visibility: cs::Visibility::External,
                language: cs::Language::new("en").unwrap(),
                body: cs::Body::new("Please send a scan of your ID card.").unwrap(),
                attachments: vec![],
            },
            cs::Expect::Any,
        )
        .unwrap();
    hub.drained().await;
    let got = relay.received();
    assert_eq!(got.len(), before + 1);
    let reply = got.last().unwrap();
    assert!(reply.body_text(0).unwrap().contains("scan of your ID card"));
    assert_eq!(header(reply, "In-Reply-To"), "<m3@example.org>");
    assert!(header(reply, "References").contains(&ack_id));
    assert_eq!(header(reply, "Auto-Submitted"), "", "a person wrote it");
    hub.running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_list_bulk_and_bounce_mail_gets_no_answer_and_acks_are_rate_limited() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(free_port(), &tmp.path().join("relay"));
    let mut c = config(relay.port);
    c.acks_per_hour = 2;
    let hub = Hub::start(c, None).await;
    for (i, (from, extra)) in [
        ("a1@example.org", "Auto-Submitted: auto-replied"),
        ("a2@example.org", "Auto-Submitted: auto-generated"),
        ("a3@example.org", "Precedence: bulk"),
        ("a4@example.org", "Precedence: list"),
        ("a5@example.org", "Precedence: junk"),
        ("a6@example.org", "List-Id: <news.example.org>"),
        (
            "a7@example.org",
            "List-Unsubscribe: <mailto:leave@example.org>",
        ),
        ("<>", "X-Null-Sender: yes"),
    ]
    .iter()
    .enumerate()
    {
        let id = format!("Message-Id: <auto{i}@example.org>");
        let sent = swaks(
            hub.smtp,
            &[
                "--from",
                from,
                "--header",
                "From: x@example.org",
                "--header",
                &id,
                "--add-header",
                extra,
                "--body",
                "Out of office until Monday.",
            ],
        )
        .await;
        assert!(sent.output.contains("new case"), "{extra}: {}", sent.output);
    }
    hub.drained().await;
    assert_eq!(
        relay.received().len(),
        0,
        "no automatic answer to automatic mail"
    );

    for i in 0..4 {
        let id = format!("Message-Id: <many{i}@example.org>");
        swaks(
            hub.smtp,
            &[
                "--from",
                "busy@example.org",
                "--header",
                &id,
                "--body",
                "cerere",
            ],
        )
        .await;
    }
    hub.drained().await;
    assert_eq!(
        relay.received().len(),
        2,
        "two acknowledgements per hour per address"
    );
    hub.running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounce_marks_the_contact_undeliverable_and_shows_in_the_case() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(free_port(), &tmp.path().join("relay"));
    let hub = Hub::start(config(relay.port), None).await;
    let sent = swaks(
        hub.smtp,
        &[
            "--from",
            "gone@example.org",
            "--header",
            "Message-Id: <b1@example.org>",
            "--body",
            "cerere",
        ],
    )
    .await;
    let case = hub.case(&sent.case_no());
    hub.drained().await;
    let ack_id = header(&relay.received()[0], "Message-ID").to_owned();
    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@relay.mae.test>\r\nTo: contact@mae.test\r\n\
Subject: Undelivered Mail Returned to Sender\r\nMessage-Id: <dsn1@relay.mae.test>\r\nAuto-Submitted: auto-replied\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n\r\n\
--BB\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\r\n\
--BB\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.mae.test\r\n\r\n\
Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected\r\n\r\n\
--BB\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {ack_id}\r\nSubject: x\r\n\r\n--BB--\r\n"
    );
    let file = data_file(tmp.path(), "dsn.eml", dsn.as_bytes());
    let bounce = swaks(hub.smtp, &["--from", "<>", "--data", &file]).await;
    assert!(
        bounce.output.contains("report received"),
        "{}",
        bounce.output
    );
    let contacts = hub.store.mail_contacts(case.id).unwrap();
    assert!(contacts[0].undeliverable_at.is_some());
    let notes = hub
        .store
        .messages(case.id, Some(cs::Visibility::Internal))
        .unwrap();
    assert!(
        notes.iter().any(|n| n.body.as_str().contains("5.1.1")),
        "{notes:?}"
    );

    // A forged report naming no mail of ours changes nothing.
    let forged = dsn
        .replace(&ack_id, "<made-up@relay.mae.test>")
        .replace("dsn1@", "dsn2@");
    let file = data_file(tmp.path(), "forged.eml", forged.as_bytes());
    swaks(hub.smtp, &["--from", "<>", "--data", &file]).await;
    // Nothing more goes to the dead address, and no answer went to the bounce.
    hub.store
        .change_status(
            case.id,
            cs::Status::InProgress,
            &cs::Actor::Agent(cs::AgentId::new("ana").unwrap()),
            None,
            cs::Expect::Any,
        )
        .unwrap();
    hub.drained().await;
    assert_eq!(relay.received().len(), 1);
    hub.running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_down_then_back_gets_exactly_one_mail_and_the_last_retry_dead_letters() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let hub = Hub::start(config(port), None).await;
    let sent = swaks(
        hub.smtp,
        &[
            "--from",
            "wait@example.org",
            "--header",
            "Message-Id: <r1@example.org>",
            "--body",
            "cerere",
        ],
    )
    .await;
    assert!(sent.ok, "{}", sent.output);
    // Several attempts fail while the relay is down; the event stays.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hub.store.outbox_len().unwrap(), 1);
    let relay = Relay::start(port, &tmp.path().join("relay"));
    hub.drained().await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        relay.received().len(),
        1,
        "delivered once after the relay came back"
    );
    hub.running.stop();

    // With no relay and two attempts, the event is given up and the agent sees why.
    let mut c = config(free_port());
    c.max_attempts = 2;
    let hub = Hub::start(c, None).await;
    let sent = swaks(
        hub.smtp,
        &["--from", "never@example.org", "--body", "cerere"],
    )
    .await;
    let case = hub.case(&sent.case_no());
    hub.drained().await;
    let dead = hub.store.dead_letters(Some(case.id), 10).unwrap();
    assert_eq!(
        (dead.len(), dead[0].kind, dead[0].attempts),
        (1, cs::EventKind::CaseCreated, 2)
    );
    let notes = hub
        .store
        .messages(case.id, Some(cs::Visibility::Internal))
        .unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.body.as_str().contains("could not be delivered"))
    );
    assert_eq!(hub.store.dead_letters(None, 10).unwrap().len(), 1);
    hub.running.stop();
}

/// Run only as the child of `a_killed_worker_delivers_after_restart_exactly_once`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of a_killed_worker_delivers_after_restart_exactly_once"]
async fn child_worker() {
    let db = std::env::var("MAIL_TEST_DB").expect("MAIL_TEST_DB");
    let port: u16 = std::env::var("MAIL_TEST_RELAY").unwrap().parse().unwrap();
    let store = std::sync::Arc::new(cs::Store::open(db, cs::Options::default()).unwrap());
    let worker = short_lease(mail::worker(&config(port), store).unwrap());
    println!("worker up");
    worker.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_delivers_after_restart_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    // The listener takes a mail in; its worker is stopped, so the event waits in the outbox.
    let hub = Hub::start(config(port), None).await;
    hub.running.stop();
    // A claim the stopped worker had already handed to a blocking thread still runs; on a
    // loaded machine it could take the event below with a two-minute lease. Let it finish on
    // the empty outbox first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let db = hub.dir.path().join("cases.db");
    // A case opened by mail, as the listener writes it.
    let created = hub
        .store
        .open_mail_case(
            &{
                let mut n = new_mail_case();
                n.idempotency_key = Some(cs::IdempotencyKey::new("k1@example.org").unwrap());
                n
            },
            &cs::MailCase {
                mail_id: &cs::MailId::new("<k1@example.org>").unwrap(),
                acknowledge: true,
                related_to: None,
                notes: &[],
            },
        )
        .unwrap();
    assert_eq!(hub.store.outbox_len().unwrap(), 1);

    // A worker in its own process claims the event (the relay is down), and is killed.
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["child_worker", "--exact", "--ignored", "--nocapture"])
        .env("MAIL_TEST_DB", &db)
        .env("MAIL_TEST_RELAY", port.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        hub.store.outbox_len().unwrap(),
        1,
        "the event survived the kill"
    );

    // After the restart, with the relay up: delivered exactly once.
    let relay = Relay::start(port, &tmp.path().join("relay"));
    let worker = short_lease(mail::worker(&config(port), hub.store.clone()).unwrap());
    let task = tokio::spawn(worker.run());
    hub.drained().await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    task.abort();
    let got = relay.received();
    assert_eq!(got.len(), 1, "exactly one acknowledgement");
    assert!(got[0].subject().unwrap().contains(&created_no(&created)));
}

/// A worker whose claims run out after a second, so a killed one's events come back soon.
fn short_lease(mut worker: mail::Worker) -> mail::Worker {
    let mut settings = (*worker.settings).clone();
    settings.lease = Duration::from_secs(1);
    worker.settings = std::sync::Arc::new(settings);
    worker
}

fn created_no(outcome: &cs::MailOutcome) -> String {
    match outcome {
        cs::MailOutcome::Opened(c) => c.case_no.to_string(),
        other => panic!("{other:?}"),
    }
}

fn new_mail_case() -> cs::NewCase {
    cs::NewCase {
        idempotency_key: None,
        case_type: cs::CaseType {
            code: cs::TypeCode::new("A1.1").unwrap(),
            subtype: None,
            taxonomy_version: 1,
            family: cs::Family::Service,
        },
        priority: cs::Priority::P3,
        sensitivity: cs::Sensitivity::Normal,
        consulate: cs::ConsulateId::new("ro-emb-paris").unwrap(),
        channel: cs::Channel::Email,
        language: cs::Language::new("ro").unwrap(),
        needs_triage: false,
        subject: cs::NewPerson {
            family_name: cs::Name::new("Popescu").unwrap(),
            given_names: cs::Name::new("Ana").unwrap(),
            birth_date: None,
            contacts: vec![cs::NewContact {
                kind: cs::ContactKind::Email,
                value: cs::ContactValue::new("ana@example.org").unwrap(),
                verification: cs::Verification::Verified,
            }],
            identifiers: vec![],
        },
        requester: None,
        author: cs::Actor::Citizen,
        body: cs::Body::new("cerere").unwrap(),
        attachments: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_clearly_and_others_are_unaffected() {
    let tmp = tempfile::tempdir().unwrap();
    let clamd = scan::local::LocalClamd::start(&tmp.path().join("clamd"), 16)
        .expect("clamd (cargo xtask deps installs clamav-daemon)");
    let relay = Relay::start(free_port(), &tmp.path().join("relay"));
    let mut c = config(relay.port);
    c.limits.messages_per_sender_per_hour = 3;
    c.max_header_bytes = 16 << 10;
    let hub = Hub::start(c, Some(clamd.client())).await;

    // Nested multiparts thousands deep: refused whole, quickly.
    let mut nested = b"From: deep@example.org\r\nSubject: deep\r\n".to_vec();
    for i in 0..3000 {
        nested.extend(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").bytes(),
        );
    }
    nested.extend(b"Content-Type: text/plain\r\n\r\nx\r\n");
    let file = data_file(tmp.path(), "nested.eml", &nested);
    let sent = swaks(hub.smtp, &["--from", "deep@example.org", "--data", &file]).await;
    assert!(sent.output.contains("554 5.6.0"), "{}", sent.output);

    // Huge headers: refused at the end of DATA.
    let mut huge = b"From: big@example.org\r\n".to_vec();
    for i in 0..400 {
        huge.extend(format!("X-Filler-{i}: {}\r\n", "h".repeat(60)).bytes());
    }
    huge.extend(b"\r\nbody\r\n");
    let file = data_file(tmp.path(), "huge.eml", &huge);
    let sent = swaks(hub.smtp, &["--from", "big@example.org", "--data", &file]).await;
    assert!(sent.output.contains("552 5.3.4"), "{}", sent.output);

    // 8-bit headers and an unknown charset: read, not refused.
    let eight = "From: Ștefan Țăranu <stefan@example.org>\r\nSubject: Cerere urgentă: pașaport\r\n\
Content-Type: text/plain; charset=x-unknown\r\n\r\nAm nevoie de un pașaport nou.\r\n";
    let file = data_file(tmp.path(), "eight.eml", eight.as_bytes());
    let sent = swaks(hub.smtp, &["--from", "stefan@example.org", "--data", &file]).await;
    let case = hub.case(&sent.case_no());
    let persons = hub.store.persons(case.id).unwrap();
    assert_eq!(persons[0].family_name.as_str(), "Țăranu");

    // A program calling itself a PDF, and EICAR in a real PDF wrapper: refused and noted; the
    // clean PDF is kept.
    let exe = base64(b"MZ\x90\x00\x03\x00\x00\x00 this program cannot be run in DOS mode");
    let mut infected_pdf = b"%PDF-1.4\n".to_vec();
    infected_pdf.extend(scan::local::eicar());
    let infected = base64(&infected_pdf);
    let clean = base64(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n");
    let mixed = format!(
        "From: docs@example.org\r\nSubject: documente\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=ZZ\r\n\r\n--ZZ\r\nContent-Type: text/plain\r\n\r\nvedeți atașat\r\n\
--ZZ\r\nContent-Type: application/pdf; name=pasaport.pdf\r\nContent-Disposition: attachment; filename=pasaport.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{exe}\r\n\
--ZZ\r\nContent-Type: application/pdf; name=act.pdf\r\nContent-Disposition: attachment; filename=act.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{infected}\r\n\
--ZZ\r\nContent-Type: application/pdf; name=bun.pdf\r\nContent-Disposition: attachment; filename=bun.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{clean}\r\n--ZZ--\r\n"
    );
    let file = data_file(tmp.path(), "mixed.eml", mixed.as_bytes());
    let sent = swaks(hub.smtp, &["--from", "docs@example.org", "--data", &file]).await;
    let case = hub.case(&sent.case_no());
    let files = hub.store.attachments(case.id).unwrap();
    assert_eq!(files.len(), 1, "only the clean PDF is kept");
    assert_eq!(files[0].file_name.as_str(), "bun.pdf");
    let notes: Vec<String> = hub
        .store
        .messages(case.id, Some(cs::Visibility::Internal))
        .unwrap()
        .into_iter()
        .map(|m| m.body.as_str().to_owned())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("pasaport.pdf") && n.contains("type not accepted")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("act.pdf") && n.contains("infected")),
        "{notes:?}"
    );

    // A mail bomb from one address: the first three pass, the rest are told to wait; another
    // sender is unaffected.
    let mut codes = Vec::new();
    for i in 0..6 {
        let id = format!("Message-Id: <bomb{i}@example.org>");
        let s = swaks(
            hub.smtp,
            &[
                "--from",
                "bomb@example.org",
                "--header",
                &id,
                "--body",
                "spam",
            ],
        )
        .await;
        codes.push(s.output.contains("new case"));
        if !s.output.contains("new case") {
            assert!(s.output.contains("451 4.7.1"), "{}", s.output);
        }
    }
    assert_eq!(codes, vec![true, true, true, false, false, false]);
    let other = swaks(
        hub.smtp,
        &["--from", "calm@example.org", "--body", "cerere"],
    )
    .await;
    assert!(other.output.contains("new case"), "{}", other.output);
    // An unknown recipient is refused at RCPT.
    let wrong = swaks(
        hub.smtp,
        &[
            "--from",
            "calm@example.org",
            "--to",
            "root@mae.test",
            "--body",
            "x",
        ],
    )
    .await;
    assert!(
        !wrong.ok && wrong.output.contains("550 5.1.1"),
        "{}",
        wrong.output
    );
    until("the outbox to drain", || {
        hub.store.outbox_len().unwrap() == 0
    })
    .await;
    hub.running.stop();
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_whose_citizen_left_is_answered_by_mail_and_an_open_one_is_not() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let relay = Relay::start(port, &tmp.path().join("relay"));
    let in_window = Arc::new(AtomicBool::new(true));
    let mut c = config(port);
    let present = in_window.clone();
    c.chat_presence = Some(mail::ChatPresence(Arc::new(move |_| {
        present.load(Ordering::SeqCst)
    })));
    let hub = Hub::start(c, None).await;
    let mut chat = new_mail_case();
    chat.channel = cs::Channel::Chat;
    let created = hub.store.create_case(&chat).unwrap();
    let reply = |text: &str| cs::NewMessage {
        direction: cs::Direction::Out,
        channel: cs::Channel::Chat,
        author: cs::Actor::Agent(cs::AgentId::new("off.ana").unwrap()),
        visibility: cs::Visibility::External,
        language: cs::Language::new("ro").unwrap(),
        body: cs::Body::new(text).unwrap(),
        attachments: vec![],
    };
    // While the citizen is in the chat window, answers go there: no mail, not even the
    // acknowledgement (the chat showed the tracking code).
    hub.store
        .add_message(
            created.case_id,
            &reply("Vă răspundem aici."),
            cs::Expect::Any,
        )
        .unwrap();
    hub.drained().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(relay.received().len(), 0);
    // Once they have left, the next answer comes by e-mail.
    in_window.store(false, Ordering::SeqCst);
    let text = "Vă trimitem răspunsul și pe e-mail.";
    hub.store
        .add_message(created.case_id, &reply(text), cs::Expect::Any)
        .unwrap();
    hub.drained().await;
    until("the mailed chat answer", || relay.received().len() == 1).await;
    let got = relay.received();
    let body = got[0].body_text(0).unwrap_or_default().to_string();
    assert!(body.contains(text), "{body}");
    assert!(header(&got[0], "To").contains("ana@example.org"));
    hub.running.stop();
}
