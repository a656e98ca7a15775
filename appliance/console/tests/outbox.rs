//! Undelivered messages and the automatic messages' texts, as supervisors and consuls see them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use std::time::Duration;

use casestore::{Note, Sensitivity, StaffRole};
use support::{BERLIN, CENTRAL, Env, PARIS, Route};

/// Gives every pending outbox event up, as the worker does after its last retry.
fn give_up(env: &Env) {
    for event in env
        .store
        .outbox_claim(1000, Duration::from_secs(1))
        .unwrap()
    {
        env.store
            .outbox_dead_letter(
                event.id,
                "relay refused: 550 mailbox unavailable",
                &Note::new("could not be delivered").unwrap(),
            )
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consul_sees_and_resends_what_was_not_delivered_in_their_consulate_only() {
    let env = Env::start().await;
    let paris = env.case(PARIS, Sensitivity::Normal);
    let berlin = env.case(BERLIN, Sensitivity::Normal);
    give_up(&env);
    let consul = env.account("cons.maria", StaffRole::Consul, PARIS);
    let session = env.login(&consul, &Route::paris()).await;

    let page = session.get("/outbox/dead").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&paris.number.to_string()),
        "{}",
        page.body
    );
    assert!(page.body.contains("550 mailbox unavailable"));
    assert!(
        !page.body.contains(&berlin.number.to_string()),
        "another consulate's case leaked"
    );

    // Berlin's dead letter is not the consul's to resend: not found, nothing moves.
    let berlin_dead = env.store.dead_letters(Some(berlin.id), 10).unwrap()[0].id;
    let refused = session
        .post(&format!("/outbox/dead/{berlin_dead}/requeue"), &[])
        .await;
    assert_eq!(refused.status, 404);
    assert_eq!(
        env.store.dead_letters(Some(berlin.id), 10).unwrap().len(),
        1
    );

    let paris_dead = env.store.dead_letters(Some(paris.id), 10).unwrap()[0].id;
    let resent = session
        .post(&format!("/outbox/dead/{paris_dead}/requeue"), &[])
        .await;
    assert_eq!(resent.status, 303);
    assert!(
        env.store
            .dead_letters(Some(paris.id), 10)
            .unwrap()
            .is_empty()
    );
    assert!(
        env.store
            .outbox_claim(1000, Duration::from_secs(1))
            .unwrap()
            .iter()
            .any(|e| e.case == paris.id),
        "the event is back in the outbox"
    );
    assert_eq!(env.audit_of("console.outbox.requeue").len(), 1);

    // An officer has no such page.
    let officer = env.account("off.ion", StaffRole::Officer, PARIS);
    let officer = env.login(&officer, &Route::paris()).await;
    assert_eq!(officer.get("/outbox/dead").await.status, 403);
    let _ = CENTRAL;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_automatic_message_can_be_previewed_in_romanian_and_english() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;
    let page = session.get("/templates").await;
    assert_eq!(page.status, 200);
    for kind in [
        "acknowledgement",
        "agent_reply",
        "request_documents",
        "status_change",
        "closure",
    ] {
        for lang in ["ro", "en"] {
            assert!(
                page.body
                    .contains(&format!("data-kind=\"{kind}\" data-language=\"{lang}\"")),
                "no {kind} in {lang}"
            );
        }
    }
    assert!(
        page.body.contains("CSC-2026-0001234"),
        "the sample values are filled in"
    );
}
