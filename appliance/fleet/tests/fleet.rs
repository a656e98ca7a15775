//! The fleet manager without a network: codes, attempts, revocation seen by a second hub
//! instance, renewal refusals, and the audit trail each leaves.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fleet::{AuditSink, Fleet, FleetConfig};
use keys::{KeyRole, SoftwareStore};
use pki::enroll::{EnrollCode, GatewayEnrollment, Message, Refusal};
use pki::renew::{RenewRequest, RenewResponse};
use pki::{ApplianceId, Ca};
use tunnel::FleetHooks;

#[derive(Debug, Default)]
struct Recorded(Mutex<Vec<(String, String, String)>>);

impl AuditSink for Recorded {
    fn record(
        &self,
        kind: &str,
        _actor: &str,
        subject: &str,
        outcome: &str,
        _detail: serde_json::Value,
    ) {
        self.0
            .lock()
            .unwrap()
            .push((kind.to_owned(), subject.to_owned(), outcome.to_owned()));
    }
}

impl Recorded {
    fn has(&self, kind: &str, outcome: &str) -> bool {
        self.0
            .lock()
            .unwrap()
            .iter()
            .any(|(k, _, o)| k == kind && o == outcome)
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    root_pem: String,
    issuing_pem: String,
    store: SoftwareStore,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = SoftwareStore::open(dir.path().join("keys")).unwrap();
    let issuing = store.generate(KeyRole::FleetIssuing).unwrap();
    let root = Ca::generate_root("root", Duration::from_secs(86_400)).unwrap();
    let issuing_pem = root
        .issue_intermediate(issuing, "issuing", Duration::from_secs(86_400))
        .unwrap();
    Setup {
        dir: dir.path().to_owned(),
        root_pem: root.cert_pem(),
        issuing_pem,
        store,
        _dir: dir,
    }
}

fn open(s: &Setup, tweak: impl FnOnce(&mut FleetConfig)) -> (Arc<Fleet>, Arc<Recorded>) {
    let ca = Ca::with_signer(
        &s.issuing_pem,
        s.store.signer(KeyRole::FleetIssuing).unwrap(),
    )
    .unwrap();
    let mut config = FleetConfig::new(
        s.dir.join("fleet"),
        s.root_pem.clone(),
        s.issuing_pem.clone(),
    );
    tweak(&mut config);
    let audit = Arc::new(Recorded::default());
    (Fleet::open(config, ca, audit.clone()).unwrap(), audit)
}

fn remote() -> SocketAddr {
    "192.0.2.1:40000".parse().unwrap()
}

/// Runs the appliance's side of an enrollment against `fleet` in memory.
fn enroll(fleet: &Fleet, typed: &str) -> Result<pki::enroll::Enrolled, pki::enroll::EnrollError> {
    let code = EnrollCode::parse(typed).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (state, start) = GatewayEnrollment::start(&code, "test", now);
    let (reply, session) = fleet.enroll(remote(), &start.encode());
    let csr = pki::generate_key_and_csr(&ApplianceId::new("x", "y").unwrap()).unwrap();
    let (waiting, finish) = state.finish(Message::decode(&reply).unwrap(), &csr.csr_pem)?;
    let (reply, _) = session.expect("exchange continues").next(&finish.encode());
    waiting.accept(Message::decode(&reply).unwrap())
}

fn wrong(code: &str) -> String {
    let code = EnrollCode::parse(code).unwrap();
    let secret: String = code.secret().chars().rev().collect();
    let secret = if secret == code.secret() {
        "000000000001".to_owned()
    } else {
        secret
    };
    EnrollCode::from_parts(code.id(), &secret)
        .unwrap()
        .to_string()
}

#[test]
fn a_code_enrolls_once_with_the_identity_on_record() {
    let s = setup();
    let (fleet, audit) = open(&s, |_| {});
    let code = fleet
        .create_enrollment("paris", "PAR-01", "alice")
        .unwrap()
        .to_string();
    let enrolled = enroll(&fleet, &code).unwrap();
    assert_eq!(
        (enrolled.mission.as_str(), enrolled.appliance.as_str()),
        ("paris", "PAR-01")
    );
    let leaf = {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(enrolled.cert_pem.as_bytes()).unwrap()
    };
    assert_eq!(
        pki::appliance_id_from_cert(&leaf).unwrap().to_string(),
        "paris/PAR-01",
        "identity from the record, not the CSR"
    );
    assert_eq!(
        enroll(&fleet, &code),
        Err(pki::enroll::EnrollError::Refused(Refusal::AlreadyUsed))
    );
    let row = fleet
        .list()
        .into_iter()
        .find(|a| a.appliance == "PAR-01")
        .unwrap();
    assert_eq!(row.state, "active");
    assert!(row.cert_not_after.is_some());
    assert!(audit.has("cert.issued", "ok") && audit.has("enroll.attempt", "already_used"));
}

#[test]
fn five_wrong_attempts_exhaust_the_code() {
    let s = setup();
    let (fleet, audit) = open(&s, |_| {});
    let code = fleet
        .create_enrollment("paris", "PAR-01", "alice")
        .unwrap()
        .to_string();
    for _ in 0..5 {
        assert_eq!(
            enroll(&fleet, &wrong(&code)),
            Err(pki::enroll::EnrollError::Refused(Refusal::WrongCode))
        );
    }
    assert_eq!(
        enroll(&fleet, &code),
        Err(pki::enroll::EnrollError::Refused(Refusal::Exhausted))
    );
    assert!(audit.has("enroll.attempt", "wrong_code") && audit.has("enroll.attempt", "exhausted"));
    assert_eq!(fleet.list()[0].state, "pending", "nothing was issued");
}

#[test]
fn expired_codes_and_skewed_clocks_are_refused() {
    let s = setup();
    let (fleet, audit) = open(&s, |c| c.code_lifetime = Duration::from_secs(0));
    let code = fleet
        .create_enrollment("paris", "PAR-01", "alice")
        .unwrap()
        .to_string();
    assert_eq!(
        enroll(&fleet, &code),
        Err(pki::enroll::EnrollError::Refused(Refusal::Expired))
    );
    assert!(audit.has("enroll.attempt", "expired"));

    let second = setup();
    let (fleet, _) = open(&second, |_| {});
    let code = EnrollCode::parse(
        &fleet
            .create_enrollment("paris", "PAR-02", "alice")
            .unwrap()
            .to_string(),
    )
    .unwrap();
    let (_, start) = GatewayEnrollment::start(&code, "test", 1_000_000_000);
    let (reply, session) = fleet.enroll(remote(), &start.encode());
    assert!(session.is_none());
    assert_eq!(
        Message::decode(&reply).unwrap(),
        Message::Refused {
            reason: Refusal::ClockSkew
        }
    );
}

#[test]
fn a_revocation_at_one_instance_is_seen_by_another() {
    let s = setup();
    let (a, audit) = open(&s, |_| {});
    let (b, _) = open(&s, |_| {});
    let code = a
        .create_enrollment("paris", "PAR-01", "alice")
        .unwrap()
        .to_string();
    enroll(&a, &code).unwrap();
    let id = ApplianceId::new("paris", "PAR-01").unwrap();
    assert!(!b.is_revoked(&id));
    a.revoke("paris", "PAR-01", "alice").unwrap();
    assert!(a.is_revoked(&id));
    // Another instance learns on its next refresh (the hub refreshes every 250 ms).
    std::thread::sleep(Duration::from_millis(20));
    b.refresh().unwrap();
    assert!(b.is_revoked(&id));
    assert!(audit.has("appliance.revoked", "ok"));
    assert!(matches!(
        a.revoke("paris", "NOPE", "alice"),
        Err(fleet::FleetError::Unknown(_))
    ));

    let csr = pki::generate_key_and_csr(&id).unwrap();
    let reply = RenewResponse::decode(
        &b.renew(
            &id,
            &RenewRequest {
                csr_pem: csr.csr_pem,
            }
            .encode(),
        ),
    )
    .unwrap();
    assert!(
        matches!(reply, RenewResponse::Refused { retry: false, .. }),
        "{reply:?}"
    );
    let crl = a.crl_pem().unwrap();
    assert!(crl.contains("BEGIN X509 CRL"));
}

#[test]
fn renewal_issues_from_the_record_and_refuses_junk() {
    let s = setup();
    let (fleet, audit) = open(&s, |c| c.leaf_lifetime = Duration::from_secs(20));
    let code = fleet
        .create_enrollment("paris", "PAR-01", "alice")
        .unwrap()
        .to_string();
    enroll(&fleet, &code).unwrap();
    let id = ApplianceId::new("paris", "PAR-01").unwrap();
    // Renewing within a tenth of a lifetime of the last issue is refused: no signing loops.
    let csr = pki::generate_key_and_csr(&id).unwrap();
    let too_soon = RenewResponse::decode(
        &fleet.renew(
            &id,
            &RenewRequest {
                csr_pem: csr.csr_pem,
            }
            .encode(),
        ),
    )
    .unwrap();
    assert!(
        matches!(too_soon, RenewResponse::Refused { retry: true, .. }),
        "{too_soon:?}"
    );
    std::thread::sleep(Duration::from_millis(2100));
    let bad_csr = RenewResponse::decode(
        &fleet.renew(
            &id,
            &RenewRequest {
                csr_pem: "nope".into(),
            }
            .encode(),
        ),
    )
    .unwrap();
    assert!(matches!(
        bad_csr,
        RenewResponse::Refused { retry: false, .. }
    ));
    // The CSR claims another identity; the certificate still names the record.
    let csr = pki::generate_key_and_csr(&ApplianceId::new("berlin", "BER-99").unwrap()).unwrap();
    match RenewResponse::decode(
        &fleet.renew(
            &id,
            &RenewRequest {
                csr_pem: csr.csr_pem,
            }
            .encode(),
        ),
    )
    .unwrap()
    {
        RenewResponse::Issued {
            cert_pem,
            chain_pem,
        } => {
            use rustls_pki_types::pem::PemObject;
            let der =
                rustls_pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
            assert_eq!(pki::appliance_id_from_cert(&der).unwrap(), id);
            assert_eq!(chain_pem, s.issuing_pem);
        }
        other => panic!("{other:?}"),
    }
    assert!(audit.has("cert.renewed", "ok"));
    let junk = RenewResponse::decode(&fleet.renew(&id, b"{not json")).unwrap();
    assert!(matches!(junk, RenewResponse::Refused { .. }));
}

#[test]
fn an_active_appliance_needs_revoking_before_a_new_code() {
    let s = setup();
    let (fleet, _) = open(&s, |_| {});
    let code = fleet
        .create_enrollment("paris", "PAR-01", "alice")
        .unwrap()
        .to_string();
    enroll(&fleet, &code).unwrap();
    assert!(matches!(
        fleet.create_enrollment("paris", "PAR-01", "alice"),
        Err(fleet::FleetError::AlreadyActive(_))
    ));
    fleet.revoke("paris", "PAR-01", "alice").unwrap();
    assert!(fleet.create_enrollment("paris", "PAR-01", "alice").is_ok());
}

#[test]
fn an_operator_code_enrols_an_operator_not_an_appliance() {
    let s = setup();
    let (fleet, audit) = open(&s, |_| {});
    let code = fleet
        .create_operator_enrollment("alice", "noc")
        .unwrap()
        .to_string();
    let enrolled = enroll(&fleet, &code).unwrap();
    assert_eq!(enrolled.operator.as_deref(), Some("alice"));
    let der = {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(enrolled.cert_pem.as_bytes()).unwrap()
    };
    assert_eq!(pki::operator_from_cert(&der).as_deref(), Some("alice"));
    assert!(pki::appliance_id_from_cert(&der).is_err());
    assert!(fleet.list().is_empty(), "no appliance was created");
    assert!(audit.has("enroll.operator_code_created", "ok") && audit.has("cert.issued", "ok"));
    assert!(matches!(
        fleet.create_operator_enrollment("Alice Smith", "noc"),
        Err(fleet::FleetError::InvalidOperator(_))
    ));
}

#[test]
fn last_seen_is_kept_in_memory_then_written_and_overlapping_connections_count() {
    let s = setup();
    let (fleet, _) = open(&s, |_| {});
    let code = fleet
        .create_enrollment("paris", "PAR-01", "alice")
        .unwrap()
        .to_string();
    enroll(&fleet, &code).unwrap();
    let id = ApplianceId::new("paris", "PAR-01").unwrap();
    // A drain overlaps the old and the new connection for a moment.
    fleet.connected(&id, remote(), "gatewayd/1");
    fleet.connected(&id, remote(), "gatewayd/1");
    fleet.disconnected(&id);
    let row = fleet.list().into_iter().next().unwrap();
    assert!(row.connected, "one connection is still up");
    assert_eq!(row.software.as_deref(), Some("gatewayd/1"));
    // Another instance reading the records sees it only once written.
    let (other, _) = open(&s, |_| {});
    assert_eq!(other.list()[0].last_seen, None);
    fleet.flush_seen().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    other.refresh().unwrap();
    assert!(other.list()[0].last_seen.is_some());
    assert_eq!(other.list()[0].remote.as_deref(), Some("192.0.2.1:40000"));
    fleet.disconnected(&id);
    assert!(!fleet.list()[0].connected);
}
