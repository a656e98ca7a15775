use proptest::prelude::*;

use super::*;

#[test]
fn headers_text_and_charsets() {
    let raw = b"From: =?iso-8859-2?Q?Ana_=BAtefan?= <ana@example.org>\r\n\
Message-ID: <m1@example.org>\r\nIn-Reply-To: <out1@hub>\r\nReferences: <a@x> <out1@hub>\r\n\
Subject: =?utf-8?B?UGHImWFwb3J0?=\r\nContent-Type: text/plain; charset=windows-1250\r\n\r\n\
Bun\xe3 ziua, pa\xbaaportul\r\n";
    let p = parse(raw, "ana@example.org").unwrap();
    assert_eq!(p.message_id.as_deref(), Some("m1@example.org"));
    assert_eq!(p.from_address.as_deref(), Some("ana@example.org"));
    assert_eq!(p.from_name.as_deref(), Some("Ana ştefan"));
    assert_eq!(p.subject, "Pașaport");
    assert_eq!(p.in_reply_to, vec!["out1@hub"]);
    assert_eq!(p.references, vec!["a@x", "out1@hub"]);
    assert!(p.text.starts_with("Bună ziua, paşaportul"), "{}", p.text);
    assert_eq!(p.no_auto_answer, None);
}

#[test]
fn eight_bit_headers_are_read_not_refused() {
    let raw =
        "From: Ioana Țîră <ioana@example.org>\r\nSubject: Cerere pașaport \u{fffd}\r\n\r\ntext\r\n";
    let mut bytes = raw.as_bytes().to_vec();
    bytes.extend(b"\xff\xfe\r\n");
    let p = parse(&bytes, "ioana@example.org").unwrap();
    assert_eq!(p.from_name.as_deref(), Some("Ioana Țîră"));
    assert!(p.subject.starts_with("Cerere pașaport"));
}

#[test]
fn every_kind_of_automatic_mail_is_recognised() {
    let base = "From: a@b.example\r\nSubject: x\r\n";
    for (header, from, expected) in [
        (
            "Auto-Submitted: auto-replied\r\n",
            "a@b",
            Some(NoAutoAnswer::AutoSubmitted),
        ),
        ("Auto-Submitted: no\r\n", "a@b", None),
        (
            "Precedence: bulk\r\n",
            "a@b",
            Some(NoAutoAnswer::Precedence),
        ),
        (
            "Precedence: junk\r\n",
            "a@b",
            Some(NoAutoAnswer::Precedence),
        ),
        ("List-Id: <l.example>\r\n", "a@b", Some(NoAutoAnswer::List)),
        (
            "List-Unsubscribe: <mailto:u@l>\r\n",
            "a@b",
            Some(NoAutoAnswer::List),
        ),
        ("", "", Some(NoAutoAnswer::NullSender)),
        ("", "<>", Some(NoAutoAnswer::NullSender)),
    ] {
        let raw = format!("{base}{header}\r\nbody\r\n");
        assert_eq!(
            parse(raw.as_bytes(), from).unwrap().no_auto_answer,
            expected,
            "{header:?} {from:?}"
        );
    }
}

#[test]
fn html_only_mail_becomes_text() {
    let raw = b"From: a@b\r\nContent-Type: text/html\r\n\r\n<p>Salut<script>x()</script></p><p>Ana</p>\r\n";
    assert_eq!(parse(raw, "a@b").unwrap().text, "Salut\nAna");
}

#[test]
fn attachments_and_reports() {
    let raw = b"From: a@b\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n\
Content-Type: text/plain\r\n\r\nsee file\r\n--XX\r\nContent-Type: application/pdf; name=\"p.pdf\"\r\n\
Content-Disposition: attachment; filename=\"p.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
JVBERi0xLjcK\r\n--XX--\r\n";
    let p = parse(raw, "a@b").unwrap();
    assert_eq!(p.text.trim(), "see file");
    assert_eq!(p.attachments.len(), 1);
    assert_eq!(p.attachments[0].name, "p.pdf");
    assert_eq!(p.attachments[0].declared, "application/pdf");
    assert_eq!(p.attachments[0].bytes, b"%PDF-1.7\n");

    let dsn = b"From: MAILER-DAEMON@relay\r\nMessage-ID: <dsn1@relay>\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay\r\n\r\n\
Final-Recipient: rfc822; ana@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n\
--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <CSC-2026-0000001.abc@hub>\r\nSubject: x\r\n\r\n\
--B--\r\n";
    let p = parse(dsn, "").unwrap();
    assert_eq!(p.no_auto_answer, Some(NoAutoAnswer::Report));
    let d = p.dsn.unwrap();
    assert_eq!(d.recipients.len(), 1);
    assert_eq!(d.recipients[0].address, "ana@example.org");
    assert_eq!(d.recipients[0].action, "failed");
    assert_eq!(d.recipients[0].status, "5.1.1");
    assert_eq!(d.original_ids, vec!["CSC-2026-0000001.abc@hub"]);
    assert!(p.attachments.is_empty());
}

fn nested(depth: usize) -> Vec<u8> {
    let mut raw = b"From: a@b\r\n".to_vec();
    for i in 0..depth {
        raw.extend(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").bytes(),
        );
    }
    raw.extend(b"Content-Type: text/plain\r\n\r\ndeep\r\n");
    for i in (0..depth).rev() {
        raw.extend(format!("--b{i}--\r\n").bytes());
    }
    raw
}

#[test]
fn nesting_thousands_deep_is_refused_quickly() {
    assert!(parse(&nested(5), "a@b").is_ok());
    let started = std::time::Instant::now();
    let err = parse(&nested(5000), "a@b").unwrap_err();
    assert!(
        matches!(err, ParseError::TooManyParts | ParseError::TooDeep),
        "{err:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(
        parse(&nested(MAX_DEPTH + 2), "a@b").unwrap_err(),
        ParseError::TooDeep
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_bytes_parse_or_fail_without_panic(raw in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = parse(&raw, "a@b");
    }

    #[test]
    fn mime_like_input_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("Content-Type: multipart/mixed; boundary=Q\r\n\r\n".to_owned()),
                Just("--Q\r\n".to_owned()),
                Just("--Q--\r\n".to_owned()),
                Just("Content-Type: multipart/report; report-type=delivery-status; boundary=Q\r\n".to_owned()),
                Just("Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; x\r\nAction: failed\r\n".to_owned()),
                Just("Content-Transfer-Encoding: base64\r\n\r\n%%%=\r\n".to_owned()),
                Just("Content-Type: message/rfc822\r\n\r\n".to_owned()),
                Just("Subject: =?utf-8?B?////?=\r\n".to_owned()),
                "[ -~]{0,40}\r\n",
            ],
            0..40,
        )
    ) {
        let raw = parts.concat();
        let _ = parse(raw.as_bytes(), "");
    }
}
