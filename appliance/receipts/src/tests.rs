use super::*;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

#[derive(Debug)]
struct TestKey(EcdsaKeyPair, KeyRole);

impl TestKey {
    fn new(role: KeyRole) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("keygen");
        Self(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                .expect("key"),
            role,
        )
    }
}

impl Signer for TestKey {
    fn role(&self) -> KeyRole {
        self.1
    }
    fn public_key(&self) -> &[u8] {
        self.0.public_key().as_ref()
    }
    fn sign(&self, role: KeyRole, message: &[u8]) -> Result<Vec<u8>, SignError> {
        if role != self.1 {
            return Err(SignError::WrongRole {
                key: self.1,
                requested: role,
            });
        }
        Ok(self
            .0
            .sign(&SystemRandom::new(), message)
            .map_err(|_| SignError::Failed("ring".into()))?
            .as_ref()
            .to_vec())
    }
}

fn receipt() -> Receipt {
    Receipt {
        case_no: "CSC-2026-0001234".into(),
        tracking_code: "7K2Q-9XHF".into(),
        received_at: "2026-11-28T10:00:00Z".into(),
        request_type: "A1.1".into(),
        documents: vec![Document {
            name: "pașaport.pdf".into(),
            sha256: "ab".repeat(32),
            bytes: 12345,
        }],
    }
}

#[test]
fn a_signed_receipt_verifies_with_the_published_key() {
    let key = TestKey::new(KeyRole::ReceiptSigning);
    let file = sign(&receipt(), &key).expect("signs");
    assert_eq!(
        verify(file.as_bytes(), &[key.public_key().to_vec()]),
        Ok(receipt())
    );
}

#[test]
fn any_change_is_detected() {
    let key = TestKey::new(KeyRole::ReceiptSigning);
    let file = sign(&receipt(), &key).expect("signs");
    let mut parsed: serde_json::Value = serde_json::from_str(&file).expect("json");
    let mut altered = receipt();
    altered.documents[0].sha256 = "cd".repeat(32);
    parsed["payload"] = B64
        .encode(serde_json::to_vec(&altered).expect("json"))
        .into();
    let tampered = serde_json::to_vec(&parsed).expect("json");
    assert_eq!(
        verify(&tampered, &[key.public_key().to_vec()]),
        Err(VerifyError::BadSignature)
    );
    // A forger signing with their own key is not trusted.
    let forger = TestKey::new(KeyRole::ReceiptSigning);
    let forged = sign(&altered, &forger).expect("signs");
    assert_eq!(
        verify(forged.as_bytes(), &[key.public_key().to_vec()]),
        Err(VerifyError::UntrustedKey)
    );
    assert_eq!(verify(b"{}", &[]), Err(VerifyError::Malformed));
    assert_eq!(
        verify(&vec![b' '; MAX_RECEIPT + 1], &[]),
        Err(VerifyError::Malformed)
    );
}

#[test]
fn only_the_receipt_key_signs_receipts() {
    let audit = TestKey::new(KeyRole::AuditCheckpoint);
    assert!(matches!(
        sign(&receipt(), &audit),
        Err(SignReceiptError::WrongKey(KeyRole::AuditCheckpoint))
    ));
}
