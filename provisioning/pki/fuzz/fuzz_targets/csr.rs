//! The CA reading an arbitrary CSR (as PEM around arbitrary DER): never panics, and nothing is
//! issued from a CSR whose signature does not verify.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pki::{ApplianceId, Ca};

fn ca() -> &'static Ca {
    static CA: OnceLock<Ca> = OnceLock::new();
    CA.get_or_init(|| Ca::generate("fuzz", Duration::from_secs(3600)).expect("CA"))
}

fuzz_target!(|data: &[u8]| {
    let id = ApplianceId::new("fuzz", "F-01").expect("identity");
    let b64 = data.iter().map(|b| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[usize::from(b & 63)])).collect::<String>();
    let pem = format!("-----BEGIN CERTIFICATE REQUEST-----\n{b64}\n-----END CERTIFICATE REQUEST-----\n");
    let _ = ca().sign_appliance_csr(&pem, &id, Duration::from_secs(60));
    let raw = String::from_utf8_lossy(data);
    let _ = ca().sign_appliance_csr(&raw, &id, Duration::from_secs(60));
});
