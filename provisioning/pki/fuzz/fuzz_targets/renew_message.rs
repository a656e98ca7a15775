//! Renewal messages on arbitrary bytes: never panic; accepted messages round-trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pki::renew::{RenewRequest, RenewResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = RenewRequest::decode(data) {
        assert_eq!(RenewRequest::decode(&request.encode()).ok(), Some(request));
    }
    if let Ok(response) = RenewResponse::decode(data) {
        assert_eq!(RenewResponse::decode(&response.encode()).ok(), Some(response));
    }
});
