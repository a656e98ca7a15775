//! Helpers shared by the integration tests: an in-memory P-256 signer whose availability can be
//! switched off like a removed HSM, and tools to read, tamper with and re-hash log files.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use audit::{AuditLog, Event};
use keys::{KeyRole, SignError, Signer};
use ring::digest::{SHA256, digest};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

/// A software P-256 key for one role.
#[derive(Debug)]
pub(crate) struct TestSigner {
    pair: EcdsaKeyPair,
    role: KeyRole,
    available: AtomicBool,
    pub(crate) signatures: AtomicUsize,
}

impl TestSigner {
    pub(crate) fn new() -> Arc<Self> {
        Self::with_role(KeyRole::AuditCheckpoint)
    }

    pub(crate) fn with_role(role: KeyRole) -> Arc<Self> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Arc::new(Self {
            pair,
            role,
            available: AtomicBool::new(true),
            signatures: AtomicUsize::new(0),
        })
    }

    /// Simulates pulling the HSM out (`false`) and plugging it back in (`true`).
    pub(crate) fn set_available(&self, available: bool) {
        self.available.store(available, Ordering::SeqCst);
    }

    pub(crate) fn public_key_vec(&self) -> Vec<u8> {
        self.public_key().to_vec()
    }

    pub(crate) fn trusted(&self) -> Vec<Vec<u8>> {
        vec![self.public_key_vec()]
    }
}

impl Signer for TestSigner {
    fn role(&self) -> KeyRole {
        self.role
    }

    fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    fn sign(&self, role: KeyRole, message: &[u8]) -> Result<Vec<u8>, SignError> {
        if role != self.role {
            return Err(SignError::WrongRole {
                key: self.role,
                requested: role,
            });
        }
        if !self.available.load(Ordering::SeqCst) {
            return Err(SignError::Unavailable("token removed".to_owned()));
        }
        self.signatures.fetch_add(1, Ordering::SeqCst);
        let sig = self
            .pair
            .sign(&SystemRandom::new(), message)
            .map_err(|e| SignError::Failed(e.to_string()))?;
        Ok(sig.as_ref().to_vec())
    }
}

pub(crate) fn event(n: u64) -> Event {
    Event::new("cert.issued", "pki", format!("ro-paris-{n:02}"), "ok")
        .with("serial", format!("{n:04x}"))
}

pub(crate) fn append_events(log: &AuditLog, n: u64) {
    for i in 0..n {
        log.append(event(i)).unwrap();
    }
}

/// The log's lines, without their `\n`.
pub(crate) fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub(crate) fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest(&SHA256, bytes).as_ref())
}

/// Recomputes a line's `hash` as a forger would, straight from the documented canonical form.
pub(crate) fn rehash(line: &str) -> String {
    let cut = line.rfind(",\"hash\":\"").unwrap();
    let canonical = format!("{}}}", &line[..cut]);
    format!(
        "{},\"hash\":\"{}\"}}",
        &line[..cut],
        sha256_hex(canonical.as_bytes())
    )
}

/// Sets a line's `prev` to the hash of `previous` and re-hashes it.
pub(crate) fn relink(line: &str, previous: &str) -> String {
    let at = line.rfind(",\"prev\":\"").unwrap() + ",\"prev\":\"".len();
    let mut out = line.to_owned();
    out.replace_range(at..at + 64, &sha256_hex(previous.as_bytes()));
    rehash(&out)
}

/// Re-links and re-hashes every line from index `from` on: a forger rewriting the chain.
pub(crate) fn rechain(lines: &mut [String], from: usize) {
    if from == 0 {
        lines[0] = rehash(&lines[0]);
    }
    for i in from.max(1)..lines.len() {
        lines[i] = relink(&lines[i], &lines[i - 1]);
    }
}
