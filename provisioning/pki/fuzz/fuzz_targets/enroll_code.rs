//! `EnrollCode::parse` on arbitrary text: never panics, and an accepted code prints back to a
//! form that parses to the same code.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pki::enroll::EnrollCode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(code) = EnrollCode::parse(text) {
        assert_eq!(EnrollCode::parse(&code.to_string()).ok(), Some(code));
    }
});
