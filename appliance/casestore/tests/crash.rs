//! Crash safety: a child process creates cases as fast as it can and reports each one the store
//! acknowledged; the parent kills it with SIGKILL at a random moment, three times over, and then
//! checks that every acknowledged case is present and whole, that no partial case is visible
//! anywhere (queues, counters, search, outbox), and that intake carries on.
//!
//! The child is this same test binary re-executed with `--ignored --exact crash_child` and the
//! database path in an environment variable.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use casestore::{
    Actor, Body, CaseId, CaseType, Channel, ConsulateId, ContactKind, ContactValue, EventKind,
    Family, FileName, IdempotencyKey, Language, MediaType, Name, NewAttachment, NewCase,
    NewContact, NewPerson, NewRequester, Options, PageSize, Priority, QueueKind, QueueQuery,
    Relationship, ScanVerdict, SearchQuery, Sensitivity, Sha256, Store, TypeCode, Verification,
};

const DB_ENV: &str = "CASESTORE_CRASH_CHILD_DB";
const ROUND_ENV: &str = "CASESTORE_CRASH_CHILD_ROUND";
const ROUNDS: u32 = 3;

fn person(family: &str, given: &str, email: &str) -> NewPerson {
    NewPerson {
        family_name: Name::new(family).unwrap(),
        given_names: Name::new(given).unwrap(),
        birth_date: None,
        contacts: vec![NewContact {
            kind: ContactKind::Email,
            value: ContactValue::new(email).unwrap(),
            verification: Verification::Unverified,
        }],
        identifiers: Vec::new(),
    }
}

/// The case the child creates under idempotency key `key`; its body holds `key` as a word.
fn case(key: &str) -> NewCase {
    NewCase {
        idempotency_key: Some(IdempotencyKey::new(key).unwrap()),
        case_type: CaseType {
            code: TypeCode::new("C3").unwrap(),
            subtype: None,
            taxonomy_version: 1,
            family: Family::Protection,
        },
        priority: Priority::P3,
        sensitivity: Sensitivity::Sensitive,
        consulate: ConsulateId::new("RO-ROM").unwrap(),
        channel: Channel::Web,
        language: Language::new("ro").unwrap(),
        needs_triage: false,
        subject: person("Ionescu", "Maria", "maria@example.ro"),
        requester: Some(NewRequester {
            person: person("Ionescu", "Petru", "petru@example.ro"),
            relationship: Relationship::Sibling,
        }),
        author: Actor::Citizen,
        body: Body::new(format!(
            "Sora mea este internată la spital în Roma. Referință {key}."
        ))
        .unwrap(),
        attachments: vec![NewAttachment {
            sha256: Sha256::of(key.as_bytes()),
            size: 1234,
            media_type: MediaType::new("application/pdf").unwrap(),
            file_name: FileName::sanitize("adeverinta.pdf"),
            verdict: ScanVerdict::Pending,
        }],
    }
}

#[test]
#[ignore = "the child half of killed_mid_stream_loses_nothing_acknowledged, which runs it"]
fn crash_child() {
    // Outside its parent (e.g. `--include-ignored`) there is nothing to do.
    let (Some(path), Some(round)) = (std::env::var_os(DB_ENV), std::env::var_os(ROUND_ENV)) else {
        return;
    };
    let round = round.to_string_lossy().into_owned();
    let store = Store::open(path, Options::default()).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let key = format!("r{round}x{i}");
        let created = store.create_case(&case(&key)).unwrap();
        writeln!(out, "ACK {key} {}", created.case_id.get()).unwrap();
        out.flush().unwrap();
    }
}

/// A small random number from the clock: enough to vary when the kill lands.
fn jitter(modulo: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos.wrapping_mul(2_654_435_761)) % modulo
}

/// Runs the child until it has acknowledged a random number of cases, kills it, and returns
/// every acknowledgement it printed in full.
fn run_and_kill(db: &Path, round: u32) -> Vec<(String, CaseId)> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB_ENV, db)
        .env(ROUND_ENV, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The harness may print `test crash_child ... ` before the first line.
            if let Some(rest) = line.split_once("ACK ").map(|(_, rest)| rest) {
                let (key, id) = rest.split_once(' ').unwrap();
                acks.push((key.to_owned(), CaseId::from_raw(id.parse().unwrap())));
                let _ = tx.send(());
            }
        }
        acks
    });
    let wanted = 20 + jitter(60);
    let deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..wanted {
        rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the child stopped acknowledging");
    }
    std::thread::sleep(Duration::from_micros(jitter(4000)));
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, no rollback runs in the child
    child.wait().unwrap();
    reader.join().unwrap()
}

#[test]
fn killed_mid_stream_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cases.db");
    let mut acknowledged = Vec::new();
    for round in 0..ROUNDS {
        let acks = run_and_kill(&db, round);
        assert!(
            acks.len() >= 20,
            "round {round}: {} acknowledgements",
            acks.len()
        );
        acknowledged.extend(acks);
    }

    let store = Store::open(&db, Options::default()).unwrap();
    // Every case in the store, through its queue (all are open and unassigned).
    let mut present = Vec::new();
    let mut query = QueueQuery {
        page_size: PageSize::new(200).unwrap(),
        ..QueueQuery::first(
            Some(ConsulateId::new("RO-ROM").unwrap()),
            QueueKind::Unassigned,
        )
    };
    loop {
        let page = store.queue(&query).unwrap();
        present.extend(page.cases.iter().map(|c| c.id));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    // Each killed child may have committed one case it did not live to report.
    let (acked, total) = (acknowledged.len(), present.len());
    assert!(
        acked <= total && total <= acked + ROUNDS as usize,
        "{acked} acknowledged, {total} present"
    );
    assert_eq!(store.case_count().unwrap(), total as u64);
    assert_eq!(
        store.check_counters().unwrap(),
        vec![],
        "counters match the cases after the crashes"
    );

    // No partial case: every case present has all its parts.
    let mut created_events = 0;
    let events = store.outbox_claim(10_000, Duration::from_secs(60)).unwrap();
    for id in &present {
        assert_eq!(store.persons(*id).unwrap().len(), 2, "case {id}");
        assert!(
            store
                .persons(*id)
                .unwrap()
                .iter()
                .all(|p| p.contacts.len() == 1),
            "case {id}"
        );
        assert_eq!(store.messages(*id, None).unwrap().len(), 1, "case {id}");
        assert_eq!(store.attachments(*id).unwrap().len(), 1, "case {id}");
        assert_eq!(store.status_history(*id).unwrap().len(), 1, "case {id}");
        let mine = events
            .iter()
            .filter(|e| e.case == *id && e.kind == EventKind::CaseCreated)
            .count();
        assert_eq!(mine, 1, "case {id} has its event");
        created_events += mine;
    }
    assert_eq!(events.len(), created_events, "no event without its case");

    // Every acknowledged case is there, findable, and its key still deduplicates.
    for (key, id) in &acknowledged {
        assert!(present.contains(id), "acknowledged case {id} ({key}) lost");
        let hits = store.search(&SearchQuery::recent(key.as_str())).unwrap();
        assert_eq!(
            hits.iter().map(|h| h.case.id).collect::<Vec<_>>(),
            vec![*id],
            "{key}"
        );
    }
    let (key, id) = &acknowledged[0];
    let again = store.create_case(&case(key)).unwrap();
    assert!(again.is_duplicate() && again.case_id == *id);
    assert!(
        !store
            .create_case(&case("after-the-crashes"))
            .unwrap()
            .is_duplicate()
    );
}
