//! The PKCS#11 backend against a real SoftHSM2 token.
//!
//! All PKCS#11 tests live in this one binary because SoftHSM reads `SOFTHSM2_CONF` from the
//! process environment at `C_Initialize`: the [`fixture`] points it at a private token directory
//! once, before the module is loaded, and initialises a token there with cryptoki. Tests that
//! take the token away, make the module re-initialise, or use a PKCS#11 session of their own
//! hold [`HSM`] for writing; the others hold it for reading, so they never see each other's
//! disruptions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use keys::{
    KeyRef, KeyRefError, KeyRole, OpenSignerError, PinSource, Pkcs11Error, Pkcs11Store, SignError,
    Signer, SoftwareStore, open_signer, verify,
};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKEN: &str = "legatura-test";
const SO_PIN: &str = "so-pin-8421";
const USER_PIN: &str = "user-pin-1357";

struct Fixture {
    _dir: tempfile::TempDir,
    tokens: PathBuf,
    backup: PathBuf,
    pin_file: PathBuf,
    /// The test's own handle on the module, for objects the crate would refuse to create.
    lib: Pkcs11,
    store: Pkcs11Store,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();
static HSM: RwLock<()> = RwLock::new(());

fn shared() -> (RwLockReadGuard<'static, ()>, &'static Fixture) {
    (
        HSM.read().unwrap_or_else(PoisonError::into_inner),
        fixture(),
    )
}

fn exclusive() -> (RwLockWriteGuard<'static, ()>, &'static Fixture) {
    (
        HSM.write().unwrap_or_else(PoisonError::into_inner),
        fixture(),
    )
}

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        assert!(
            Path::new(MODULE).exists(),
            "{MODULE} is missing: install softhsm2 (cargo xtask deps)"
        );
        // A static is never dropped, so this directory outlives the process: keep it under
        // cargo's per-target scratch directory rather than in /tmp.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let tokens = dir.path().join("tokens");
        let backup = dir.path().join("removed");
        std::fs::create_dir(&tokens).unwrap();
        std::fs::create_dir(&backup).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        let text = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        );
        std::fs::write(&conf, text).unwrap();
        set_softhsm_conf(&conf);

        let lib = Pkcs11::new(MODULE).unwrap();
        lib.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        let free = lib
            .get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|s| !lib.get_token_info(*s).unwrap().token_initialized())
            .expect("SoftHSM offers a free slot");
        let so_pin = AuthPin::from(SO_PIN);
        lib.init_token(free, &so_pin, TOKEN).unwrap();
        let session = test_session(&lib, UserType::So, SO_PIN);
        session.init_pin(&AuthPin::from(USER_PIN)).unwrap();
        session.close().unwrap();

        let pin_file = dir.path().join("user.pin");
        std::fs::write(&pin_file, format!("{USER_PIN}\n")).unwrap();
        std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let store = Pkcs11Store::open(MODULE, TOKEN, &PinSource::File(pin_file.clone())).unwrap();
        Fixture {
            _dir: dir,
            tokens,
            backup,
            pin_file,
            lib,
            store,
        }
    })
}

/// Rust 2024 makes `set_var` unsafe (it races C code reading the environment), and SoftHSM
/// has no other way to be pointed at a configuration file: hence the one `unsafe` here.
#[allow(unsafe_code)]
fn set_softhsm_conf(conf: &Path) {
    // SAFETY: this runs once, inside the OnceLock initialiser, before anything in this process
    // has loaded SoftHSM; every test calls `fixture()` before touching the environment or the
    // module, and std's own environment accesses take its environment lock.
    unsafe { std::env::set_var("SOFTHSM2_CONF", conf) };
}

/// A session of the test's own, on the test token, logged in as `user`.
fn test_session(lib: &Pkcs11, user: UserType, pin: &str) -> Session {
    let slot = lib
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| lib.get_token_info(*s).is_ok_and(|t| t.label() == TOKEN))
        .expect("test token present");
    let session = lib.open_rw_session(slot).unwrap();
    match session.login(user, Some(&AuthPin::from(pin))) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {
        }
        Err(e) => panic!("login: {e}"),
    }
    session
}

fn key_ref(f: &Fixture, object: &str) -> KeyRef {
    format!(
        "pkcs11:token={TOKEN};object={object};module={MODULE};pin-source=file:{}",
        f.pin_file.display()
    )
    .parse()
    .unwrap()
}

fn assert_signs(signer: &dyn Signer, message: &[u8]) {
    let signature = signer.sign(signer.role(), message).unwrap();
    assert!(
        verify(signer.public_key(), message, &signature),
        "signature does not verify"
    );
}

#[test]
fn generate_sign_verify_and_reopen_by_reference() {
    let (_hsm, f) = shared();
    let signer = f
        .store
        .generate_labeled(KeyRole::ConfigSigning, "gen-config")
        .unwrap();
    assert_eq!(signer.role(), KeyRole::ConfigSigning);
    assert_eq!(signer.public_key().len(), 65);
    assert_signs(&*signer, b"bundle v1");
    let signature = signer.sign(KeyRole::ConfigSigning, b"bundle v2").unwrap();
    assert!(!verify(signer.public_key(), b"bundle v3", &signature));

    let again = open_signer(&key_ref(f, "gen-config"), KeyRole::ConfigSigning).unwrap();
    assert_eq!(again.public_key(), signer.public_key());
    assert_signs(&*again, b"bundle v4");

    let e = f
        .store
        .generate_labeled(KeyRole::ConfigSigning, "gen-config")
        .unwrap_err();
    assert!(matches!(e, Pkcs11Error::AlreadyExists { .. }), "{e}");
    let e = f
        .store
        .signer_labeled("no-such-key", KeyRole::Root)
        .unwrap_err();
    assert!(matches!(e, Pkcs11Error::KeyNotFound { .. }), "{e}");
}

#[test]
fn default_labels_per_role() {
    let (_hsm, f) = shared();
    let made = f.store.generate(KeyRole::AuditCheckpoint).unwrap();
    let found = f.store.signer(KeyRole::AuditCheckpoint).unwrap();
    assert_eq!(made.public_key(), found.public_key());
    assert_signs(&*found, b"checkpoint 12");
}

#[test]
fn wrong_role_is_refused_when_signing_and_when_opening() {
    let (_hsm, f) = shared();
    let signer = f
        .store
        .generate_labeled(KeyRole::ReceiptSigning, "role-receipts")
        .unwrap();
    let e = signer
        .sign(KeyRole::FleetIssuing, b"tbs certificate")
        .unwrap_err();
    assert!(matches!(
        e,
        SignError::WrongRole {
            key: KeyRole::ReceiptSigning,
            requested: KeyRole::FleetIssuing
        }
    ));
    let e = f
        .store
        .signer_labeled("role-receipts", KeyRole::FleetIssuing)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Pkcs11Error::WrongRole {
                bound: KeyRole::ReceiptSigning,
                requested: KeyRole::FleetIssuing,
                ..
            }
        ),
        "{e}"
    );
    let e = open_signer(&key_ref(f, "role-receipts"), KeyRole::Root).unwrap_err();
    assert!(
        matches!(e, OpenSignerError::Pkcs11(Pkcs11Error::WrongRole { .. })),
        "{e}"
    );
}

/// Creates a key pair with the test's own session, bypassing the crate's safe template.
fn create_raw_key(f: &Fixture, label: &str, params: &[u8], extractable: bool, id: &[u8]) {
    let session = test_session(&f.lib, UserType::User, USER_PIN);
    let common = |private: bool| {
        vec![
            Attribute::Token(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
            Attribute::Private(private),
        ]
    };
    let mut public = common(false);
    public.extend([
        Attribute::Verify(true),
        Attribute::EcParams(params.to_vec()),
    ]);
    let mut private = common(true);
    private.extend([
        Attribute::Sign(true),
        Attribute::Sensitive(!extractable),
        Attribute::Extractable(extractable),
    ]);
    session
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
        .unwrap();
}

#[test]
fn extractable_unbound_and_non_p256_keys_are_refused() {
    // Exclusive: the test's own session must not race the crate's (see `Module::exclusive`).
    let (_hsm, f) = exclusive();
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    create_raw_key(
        f,
        "raw-extractable",
        P256,
        true,
        b"legatura:receipt-signing",
    );
    create_raw_key(f, "raw-unbound", P256, false, b"\x01\x02");
    create_raw_key(f, "raw-p384", P384, false, b"legatura:receipt-signing");

    let e = f
        .store
        .signer_labeled("raw-extractable", KeyRole::ReceiptSigning)
        .unwrap_err();
    assert!(matches!(e, Pkcs11Error::KeyRejected { .. }), "{e}");
    assert!(e.to_string().contains("never leave the backend"), "{e}");
    let e = f
        .store
        .signer_labeled("raw-unbound", KeyRole::ReceiptSigning)
        .unwrap_err();
    assert!(matches!(e, Pkcs11Error::Unbound { .. }), "{e}");
    let e = f
        .store
        .signer_labeled("raw-p384", KeyRole::ReceiptSigning)
        .unwrap_err();
    assert!(e.to_string().contains("not a P-256 key"), "{e}");
}

#[test]
fn pin_value_in_a_key_reference_is_refused() {
    let e = format!("pkcs11:token={TOKEN};object=x;pin-value={USER_PIN}")
        .parse::<KeyRef>()
        .unwrap_err();
    assert_eq!(e, KeyRefError::InlinePin);
    assert!(e.to_string().contains("pin-source=file:"), "{e}");
}

#[test]
fn wrong_pin_and_missing_token_are_clear_errors() {
    // Both make the module re-initialise (the crate's answer to a token it cannot find).
    let (_hsm, f) = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.pin");
    std::fs::write(&wrong, "not-the-pin").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = Pkcs11Store::open(MODULE, TOKEN, &PinSource::File(wrong)).unwrap_err();
    assert!(matches!(e, Pkcs11Error::PinRefused { .. }), "{e}");
    let e = Pkcs11Store::open(
        MODULE,
        "no-such-token",
        &PinSource::File(f.pin_file.clone()),
    )
    .unwrap_err();
    assert!(
        matches!(e, Pkcs11Error::TokenNotFound { .. }) && e.is_unavailable(),
        "{e}"
    );
    let e = Pkcs11Store::open(
        "/nonexistent/pkcs11.so",
        TOKEN,
        &PinSource::File(f.pin_file.clone()),
    )
    .unwrap_err();
    assert!(matches!(e, Pkcs11Error::Module { .. }), "{e}");
}

fn move_entries(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::rename(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Pulls the token out from under running signers by moving its files away (SoftHSM's view of
/// an unplugged HSM), checks that signing fails quickly with `Unavailable` and never panics,
/// then puts the files back and checks that the very next call signs again, with the same key,
/// on both signers, without reopening anything by hand.
///
/// SoftHSM2 2.6.1 marks the token invalid when its files go and never rescans its directory:
/// after the files return, old handles still fail and searches still find nothing until the
/// module is finalised and initialised again. The crate does exactly that when it cannot find
/// the token; with that re-initialisation disabled, this test fails at the first sign "after".
#[test]
fn hsm_removed_mid_run_and_restored() {
    let (_hsm, f) = exclusive();
    let first = f
        .store
        .generate_labeled(KeyRole::FleetIssuing, "removal-issuing")
        .unwrap();
    let second = f
        .store
        .generate_labeled(KeyRole::AuditCheckpoint, "removal-audit")
        .unwrap();
    assert_signs(&*first, b"before");
    assert_signs(&*second, b"before");

    move_entries(&f.tokens, &f.backup);
    let mut slowest = Duration::ZERO;
    for signer in [&first, &second, &first, &first] {
        let started = Instant::now();
        let e = signer.sign(signer.role(), b"while removed").unwrap_err();
        slowest = slowest.max(started.elapsed());
        assert!(matches!(e, SignError::Unavailable(_)), "{e}");
    }
    println!("sign while the token is absent: Unavailable in at most {slowest:?}");
    assert!(
        slowest < Duration::from_secs(2),
        "Unavailable took {slowest:?}"
    );
    let e = f
        .store
        .signer_labeled("removal-issuing", KeyRole::FleetIssuing)
        .unwrap_err();
    assert!(e.is_unavailable(), "{e}");

    move_entries(&f.backup, &f.tokens);
    let started = Instant::now();
    assert_signs(&*first, b"after");
    println!(
        "first sign after the token returned: {:?}",
        started.elapsed()
    );
    assert_signs(&*second, b"after");
    assert_signs(
        &*f.store
            .signer_labeled("removal-issuing", KeyRole::FleetIssuing)
            .unwrap(),
        b"x",
    );
}

#[test]
fn many_threads_sign_concurrently() {
    let (_hsm, f) = shared();
    let a = f
        .store
        .generate_labeled(KeyRole::FleetIssuing, "threads-issuing")
        .unwrap();
    let b = f
        .store
        .generate_labeled(KeyRole::ConfigSigning, "threads-config")
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let signer = Arc::clone(if t % 2 == 0 { &a } else { &b });
            std::thread::spawn(move || {
                for i in 0..100 {
                    let message = format!("thread {t} message {i}");
                    let signature = signer.sign(signer.role(), message.as_bytes()).unwrap();
                    assert!(verify(signer.public_key(), message.as_bytes(), &signature));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// Signatures per second of all `signers` together, each driven by its own thread.
fn signatures_per_second(signers: &[&Arc<dyn Signer>]) -> f64 {
    let window = Duration::from_millis(700);
    let started = Instant::now();
    let total: usize = std::thread::scope(|s| {
        let workers: Vec<_> = signers
            .iter()
            .map(|signer| {
                s.spawn(move || {
                    let mut n = 0;
                    while started.elapsed() < window {
                        signer.sign(signer.role(), b"throughput probe").unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}

/// Not a benchmark (those are programs, see `cargo xtask bench`): a printout of the order of
/// magnitude of both backends, and a check that neither is absurdly slow.
#[test]
fn signing_rates_printout() {
    // Exclusive: another test's key generation holds the module for ~100 ms at a time.
    let (_hsm, f) = exclusive();
    let hsm = f
        .store
        .generate_labeled(KeyRole::Root, "rate-root")
        .unwrap();
    let hsm_2 = f
        .store
        .generate_labeled(KeyRole::Root, "rate-root-2")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let software = SoftwareStore::open(dir.path())
        .unwrap()
        .generate(KeyRole::Root)
        .unwrap();
    let hsm_rate = signatures_per_second(&[&hsm]);
    let hsm_shared = signatures_per_second(&[&hsm, &hsm]);
    let hsm_parallel = signatures_per_second(&[&hsm, &hsm_2]);
    let software_rate = signatures_per_second(&[&software]);
    println!(
        "hsm_signatures_per_s={hsm_rate:.0} software_signatures_per_s={software_rate:.0} \
         (hsm, 2 threads on one signer: {hsm_shared:.0}; on two signers: {hsm_parallel:.0})"
    );
    assert!(hsm_rate > 50.0 && software_rate > 50.0);
}
