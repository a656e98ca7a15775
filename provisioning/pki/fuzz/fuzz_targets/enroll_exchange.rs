//! The hub's side of the enrollment exchange fed arbitrary appliance messages: `respond` on an
//! arbitrary PAKE message, then `check_finish` on an arbitrary `Finish`. Never panics, and a
//! forged `Finish` never passes the confirmation check.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pki::enroll::{EnrollCode, HubEnrollment, Message};

fuzz_target!(|data: &[u8]| {
    let Ok(code) = EnrollCode::from_parts("ABCD", "0123456789AB") else { return };
    let (pake, rest) = data.split_at(data.len().min(64));
    let pake = String::from_utf8_lossy(pake);
    let Ok((hub, _challenge)) = HubEnrollment::respond(&code, &pake) else { return };
    if let Ok(finish @ Message::Finish { .. }) = Message::decode(rest) {
        assert!(hub.check_finish(finish).is_err(), "a Finish made without the PAKE key passed");
    }
});
