#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `otpauth://` URI, read back the way an authenticator app reads it.

use std::collections::HashMap;

use percent_encoding::percent_decode_str;
use staffauth::{TotpSecret, totp_code};

struct Parsed {
    label_issuer: String,
    account: String,
    params: HashMap<String, String>,
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8().unwrap().into_owned()
}

fn parse(uri: &str) -> Parsed {
    let rest = uri
        .strip_prefix("otpauth://totp/")
        .expect("otpauth://totp/ prefix");
    let (label, query) = rest.split_once('?').expect("a query");
    // The separator is the one literal colon; colons inside the names are encoded.
    let (issuer, account) = label.split_once(':').expect("issuer:account label");
    assert!(!account.contains(':'));
    let params = query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (decode(k), decode(v))
        })
        .collect();
    Parsed {
        label_issuer: decode(issuer),
        account: decode(account),
        params,
    }
}

#[test]
fn the_uri_carries_the_secret_issuer_and_parameters() {
    let secret = TotpSecret::generate().unwrap();
    let uri = secret.otpauth_uri("Legătura MAE", "ana.pop@mae.ro");
    let parsed = parse(&uri);
    assert_eq!(parsed.label_issuer, "Legătura MAE");
    assert_eq!(parsed.account, "ana.pop@mae.ro");
    assert_eq!(parsed.params["issuer"], "Legătura MAE");
    assert_eq!(parsed.params["secret"], secret.to_base32());
    assert_eq!(parsed.params["algorithm"], "SHA1");
    assert_eq!(parsed.params["digits"], "6");
    assert_eq!(parsed.params["period"], "30");
    // What the app decodes from the URI computes the same codes as the console.
    let decoded = data_encoding::BASE32_NOPAD
        .decode(parsed.params["secret"].as_bytes())
        .unwrap();
    let app_secret = TotpSecret::from_bytes(&decoded).unwrap();
    assert_eq!(
        totp_code(&app_secret, 1_700_000_000),
        totp_code(&secret, 1_700_000_000)
    );
}

#[test]
fn names_cannot_break_out_of_their_component() {
    let secret = TotpSecret::from_bytes(&[0; 20]).unwrap();
    let uri = secret.otpauth_uri("Evil:Issuer&secret=AAAA", "x?y#z/w %");
    assert!(uri.is_ascii());
    assert!(!uri.contains(' ') && !uri.contains('#'));
    let parsed = parse(&uri);
    assert_eq!(parsed.label_issuer, "Evil:Issuer&secret=AAAA");
    assert_eq!(parsed.account, "x?y#z/w %");
    assert_eq!(parsed.params["issuer"], "Evil:Issuer&secret=AAAA");
    assert_eq!(parsed.params["secret"], secret.to_base32());
    assert_eq!(parsed.params.len(), 5);
}
