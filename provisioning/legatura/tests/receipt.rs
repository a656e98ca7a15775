//! `legatura receipt verify` as a citizen's lawyer would run it: a genuine receipt is accepted
//! and read back; a receipt with one changed document hash is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::process::Command;

use keys::{KeyRole, SoftwareStore};

fn verify(file: &std::path::Path, key: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_legatura"))
        .args(["receipt", "verify"])
        .arg(file)
        .arg("--key")
        .arg(key)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn genuine_receipts_verify_and_altered_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let signer = SoftwareStore::open(dir.path().join("keys"))
        .unwrap()
        .generate(KeyRole::ReceiptSigning)
        .unwrap();
    let key = dir.path().join("receipt.pub");
    std::fs::write(&key, hex::encode(signer.public_key())).unwrap();
    let receipt = receipts::Receipt {
        case_no: "CSC-2026-0000042".into(),
        tracking_code: "C01Y-P0WG-51EM-SRBW".into(),
        received_at: "2026-11-28T10:00:00Z".into(),
        request_type: "A1.4".into(),
        documents: vec![receipts::Document {
            name: "declaratie.pdf".into(),
            sha256: "ab".repeat(32),
            bytes: 20_480,
        }],
    };
    let file = dir.path().join("receipt.json");
    std::fs::write(&file, receipts::sign(&receipt, signer.as_ref()).unwrap()).unwrap();
    let (ok, out) = verify(&file, &key);
    assert!(
        ok && out.contains("receipt valid: case CSC-2026-0000042")
            && out.contains(&"ab".repeat(32)),
        "{out}"
    );

    let mut altered: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let mut forged = receipt.clone();
    forged.documents[0].sha256 = "cd".repeat(32);
    use base64::Engine;
    altered["payload"] = base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(&forged).unwrap())
        .into();
    std::fs::write(&file, serde_json::to_vec(&altered).unwrap()).unwrap();
    let (ok, out) = verify(&file, &key);
    assert!(!ok && out.contains("receipt NOT valid"), "{out}");
}
