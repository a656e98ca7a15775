//! `enroll::Message::decode` on arbitrary bytes: never panics, and what it accepts re-encodes
//! to an equal message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pki::enroll::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::decode(data) {
        assert_eq!(Message::decode(&message.encode()).ok(), Some(message));
    }
});
