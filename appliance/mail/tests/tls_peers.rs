//! STARTTLS on both sides of the hub, with real peers: swaks sends in over STARTTLS and checks
//! the hub's certificate against the test CA; aiosmtpd, offering STARTTLS with its own
//! certificate and refusing mail in clear, is the relay the outbox worker must verify.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

#[path = "support/peers.rs"]
mod peers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use peers::{Hub, Relay, config, free_port, swaks, until};

/// A CA and a certificate it signed for 127.0.0.1, as PEM files in `dir`.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn pki(dir: &Path, name: &str) -> Pki {
    std::fs::create_dir_all(dir).unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} test CA"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let out = Pki {
        ca: dir.join(format!("{name}-ca.pem")),
        cert: dir.join(format!("{name}-cert.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&out.ca, ca.pem()).unwrap();
    std::fs::write(&out.cert, leaf.pem()).unwrap();
    std::fs::write(&out.key, key.serialize_pem()).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_comes_in_over_starttls_and_clear_text_is_refused_when_tls_is_required() {
    let tmp = tempfile::tempdir().unwrap();
    let hub_pki = pki(&tmp.path().join("pki"), "hub");
    let relay = Relay::start(free_port(), &tmp.path().join("relay"));
    let mut c = config(relay.port);
    c.tls = Some((hub_pki.cert.clone(), hub_pki.key.clone()));
    c.require_tls = true;
    let hub = Hub::start(c, None).await;
    let ca = hub_pki.ca.display().to_string();

    let sent = swaks(
        hub.smtp,
        &[
            "--tls",
            "--tls-verify",
            "--tls-ca-path",
            &ca,
            "--from",
            "ana@example.org",
            "--header",
            "Subject: Pașaport pierdut",
            "--body",
            "Bună ziua, mi-am pierdut pașaportul la Paris.",
        ],
    )
    .await;
    assert!(sent.ok, "{}", sent.output);
    assert!(
        sent.output.contains("TLS started with cipher TLSv1.3"),
        "the session is TLS 1.3: {}",
        sent.output
    );
    assert!(
        sent.output.contains("accepted: new case"),
        "{}",
        sent.output
    );
    let no = sent.case_no();
    assert_eq!(hub.case(&no).channel, casestore::Channel::Email);

    let clear = swaks(
        hub.smtp,
        &[
            "--from",
            "ion@example.org",
            "--header",
            "Subject: fără TLS",
            "--body",
            "text",
        ],
    )
    .await;
    assert!(!clear.ok, "mail in clear was taken: {}", clear.output);
    assert!(
        clear.output.contains("530"),
        "refused with 530 (STARTTLS first): {}",
        clear.output
    );

    // A client that trusts another CA gives up on the hub's certificate.
    let other = pki(&tmp.path().join("other"), "other");
    let other_ca = other.ca.display().to_string();
    let mistrusted = swaks(
        hub.smtp,
        &[
            "--tls",
            "--tls-verify",
            "--tls-ca-path",
            &other_ca,
            "--from",
            "eva@example.org",
            "--body",
            "text",
        ],
    )
    .await;
    assert!(!mistrusted.ok, "{}", mistrusted.output);
    hub.drained().await;
    assert_eq!(
        relay.received().len(),
        1,
        "only the first mail made a case (one acknowledgement at the relay)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_out_over_starttls_only_to_a_relay_with_the_configured_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let relay_pki = pki(&tmp.path().join("pki"), "relay");
    let relay = Relay::start_tls(
        free_port(),
        &tmp.path().join("relay"),
        &relay_pki.cert,
        &relay_pki.key,
    );
    let mut c = config(relay.port);
    c.relay = mail::RelaySpec::Smtp {
        host: "127.0.0.1".to_owned(),
        port: relay.port,
        starttls: true,
    };
    c.relay_ca = Some(relay_pki.ca.clone());
    let hub = Hub::start(c, None).await;
    let sent = swaks(
        hub.smtp,
        &[
            "--from",
            "ana@example.org",
            "--header",
            "Subject: Certificat de naștere",
            "--body",
            "Am nevoie de un certificat de naștere.",
        ],
    )
    .await;
    assert!(sent.ok, "{}", sent.output);
    hub.drained().await;
    let got = relay.received();
    assert_eq!(got.len(), 1, "one acknowledgement at the relay");
    let tls = got[0].header_raw("X-Relay-TLS").unwrap_or_default().trim();
    assert!(
        tls.starts_with("TLSv1."),
        "the mail crossed TLS, not {tls:?}"
    );
    assert!(got[0].subject().unwrap().contains(&sent.case_no()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_whose_certificate_does_not_chain_to_the_ca_gets_nothing_and_the_case_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let trusted = pki(&tmp.path().join("trusted"), "trusted");
    let impostor = pki(&tmp.path().join("impostor"), "impostor");
    let relay = Relay::start_tls(
        free_port(),
        &tmp.path().join("relay"),
        &impostor.cert,
        &impostor.key,
    );
    let mut c = config(relay.port);
    c.relay = mail::RelaySpec::Smtp {
        host: "127.0.0.1".to_owned(),
        port: relay.port,
        starttls: true,
    };
    c.relay_ca = Some(trusted.ca.clone());
    c.max_attempts = 2;
    c.backoff = Duration::from_millis(100);
    let hub = Hub::start(c, None).await;
    let sent = swaks(
        hub.smtp,
        &[
            "--from",
            "ana@example.org",
            "--header",
            "Subject: Viză",
            "--body",
            "Întrebare despre viză.",
        ],
    )
    .await;
    assert!(sent.ok, "{}", sent.output);
    let store = hub.store.clone();
    until("the acknowledgement to be dead-lettered", || {
        !store.dead_letters(None, 10).unwrap().is_empty()
    })
    .await;
    let dead = hub.store.dead_letters(None, 10).unwrap();
    let error = &dead[0].last_error;
    assert!(
        error.to_lowercase().contains("certificate"),
        "the dead letter names the certificate: {error}"
    );
    assert!(relay.received().is_empty(), "nothing reached the impostor");
}
