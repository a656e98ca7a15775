use serde_json::json;

use super::*;

fn body_line(detail: &Map<String, Value>) -> Encoded {
    let prev = hex(&GENESIS);
    let body = Body {
        seq: 1,
        time: "2025-03-01T09:30:00Z",
        kind: "cert.issued",
        actor: "pki",
        subject: "ro-paris-01",
        outcome: "ok",
        detail,
        prev: &prev,
    };
    body.encode().unwrap()
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("not an object"),
    }
}

#[test]
fn line_has_the_documented_form_and_hash() {
    let detail = object(json!({"serial": "0a1b", "days": 90}));
    let encoded = body_line(&detail);
    let canonical = format!(
        "{{\"seq\":1,\"time\":\"2025-03-01T09:30:00Z\",\"kind\":\"cert.issued\",\"actor\":\"pki\",\
         \"subject\":\"ro-paris-01\",\"outcome\":\"ok\",\"detail\":{{\"days\":90,\"serial\":\"0a1b\"}},\
         \"prev\":\"{}\"}}",
        "0".repeat(64)
    );
    let hash = hex(&sha256(canonical.as_bytes()));
    let expected = format!(
        "{},\"hash\":\"{hash}\"}}\n",
        &canonical[..canonical.len() - 1]
    );
    assert_eq!(String::from_utf8(encoded.line.clone()).unwrap(), expected);
    assert_eq!(encoded.hash, hash);
    assert_eq!(encoded.digest, sha256(expected.trim_end().as_bytes()));
}

#[test]
fn decode_round_trips_and_checks_the_hash() {
    let detail = object(json!({"note": "é \"quoted\" \u{1}", "n": 1.5}));
    let encoded = body_line(&detail);
    let line = &encoded.line[..encoded.line.len() - 1];
    let entry = Entry::decode(line).unwrap();
    assert_eq!(entry.seq, 1);
    assert_eq!(entry.detail, detail);
    assert_eq!(entry.hash, encoded.hash);
    assert_eq!(link(&entry, None), Ok(()));

    let tampered = String::from_utf8(line.to_vec())
        .unwrap()
        .replace("ro-paris-01", "ro-paris-02");
    assert_eq!(Entry::decode(tampered.as_bytes()), Err(Fault::HashMismatch));
}

#[test]
fn decode_rejects_lines_not_ending_in_the_hash() {
    for line in [&b""[..], b"{}", b"[1,2,3]", b"{\"seq\":1}", &[b'{'; 200]] {
        assert!(
            matches!(Entry::decode(line), Err(Fault::Malformed(_))),
            "{line:?}"
        );
    }
    assert_eq!(
        Entry::decode(&vec![b'{'; MAX_LINE + 1]),
        Err(Fault::TooLong)
    );
}

#[test]
fn decode_rejects_unknown_members_even_with_a_matching_hash() {
    let canonical = format!(
        "{{\"seq\":1,\"time\":\"2025-03-01T09:30:00Z\",\"kind\":\"k\",\"actor\":\"a\",\"subject\":\"s\",\
         \"outcome\":\"ok\",\"detail\":{{}},\"prev\":\"{}\",\"extra\":1}}",
        "0".repeat(64)
    );
    let hash = hex(&sha256(canonical.as_bytes()));
    let line = format!(
        "{},\"hash\":\"{hash}\"}}",
        &canonical[..canonical.len() - 1]
    );
    assert!(matches!(
        Entry::decode(line.as_bytes()),
        Err(Fault::Malformed(_))
    ));
}

#[test]
fn link_names_gaps_and_broken_prev() {
    let encoded = body_line(&Map::new());
    let entry = Entry::decode(&encoded.line[..encoded.line.len() - 1]).unwrap();
    assert_eq!(
        link(&entry, Some((1, &GENESIS))),
        Err(Fault::SeqGap {
            expected: 2,
            found: 1
        })
    );
    assert_eq!(link(&entry, Some((0, &[1; 32]))), Err(Fault::BrokenLink));
    assert!(link(&entry, Some((u64::MAX, &GENESIS))).is_err());
}

#[test]
fn hex_round_trips_and_rejects_uppercase() {
    assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    assert_eq!(unhex("00abff"), Some(vec![0x00, 0xab, 0xff]));
    assert_eq!(unhex("00ABFF"), None);
    assert_eq!(unhex("abc"), None);
    assert_eq!(seq_hint(b"{\"seq\":42,\"time\""), Some(42));
    assert_eq!(seq_hint(b"{\"time\":1}"), None);
}

#[test]
fn checkpoint_message_is_domain_separated() {
    assert_eq!(
        checkpoint_message(7, "ab"),
        b"legatura-audit-checkpoint-v1\n7\nab".to_vec()
    );
}
