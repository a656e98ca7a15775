//! The portal over real HTTP on 127.0.0.1, with a real SQLite case store, a real clamd and the
//! receipt key from the software key store: what a citizen sees for every path and error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

#[allow(dead_code)] // each test crate uses a part of the shared set-up
#[path = "support/site.rs"]
mod site;

use site::site;

/// One HTTP/1.1 exchange; returns (status, headers+body as text).
fn http(addr: SocketAddr, request: Vec<u8>) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

fn get(addr: SocketAddr, path: &str, lang: &str) -> (u16, String) {
    http(
        addr,
        format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Language: {lang}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
    )
}

fn post_form(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    http(
        addr,
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// A multipart request from text fields and (field, file name, bytes) files.
fn post_multipart(
    addr: SocketAddr,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> (u16, String) {
    let boundary = "----legatura-test-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (k, name, bytes) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut request = format!(
        "POST /request?lang=en HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    http(addr, request)
}

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n";
const TYPE: &str = "A1.4";

fn citizen<'a>(token: &'a str, description: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("type", TYPE),
        ("document_kind", "pașaport"),
        ("lost_on", "2026-11-20"),
        ("idempotency_key", token),
        ("surname", "Popescu"),
        ("given_names", "Ioana"),
        ("date_of_birth", "1990-05-17"),
        ("email", "ioana@example.org"),
        ("country", "FR"),
        ("city", "Lyon"),
        ("description", description),
    ]
}

/// Regular files anywhere under `dir`.
fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    if e.path().is_dir() {
                        files_in(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_form_speaks_the_citizens_language_and_lists_the_documents() {
    let s = site().await;
    let (status, ro) = get(s.addr, "/", "ro-RO,ro;q=0.9");
    assert_eq!(status, 200);
    assert!(
        ro.contains("Cu ce vă putem ajuta?") && ro.contains("lang=\"ro\""),
        "{ro}"
    );
    let (_, en) = get(s.addr, "/", "en-GB");
    assert!(en.contains("How can we help?"), "{en}");
    let (status, form) = get(s.addr, &format!("/request?type={TYPE}&lang=en"), "ro");
    assert_eq!(status, 200);
    assert!(
        form.contains("<label for=\"f-surname\">") && form.contains("type=\"file\""),
        "{form}"
    );
    assert_eq!(get(s.addr, "/request?type=Z9", "en").0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_with_a_document_gets_a_signed_receipt_and_a_status_page() {
    let s = site().await;
    let token = "0123456789abcdef0123456789abcdef";
    let mut fields = citizen(token, "Mi-am pierdut pașaportul la Lyon.");
    fields.push(("cnp", "2900517400010"));
    let (status, page) = post_multipart(
        s.addr,
        &fields,
        &[("doc_police_report", "../../declaratie.pdf", PDF)],
    );
    assert_eq!(status, 200, "{page}");
    let case_no = between(&page, "id=\"case-no\">", "<")
        .expect("case number shown")
        .to_owned();
    let code = between(&page, "id=\"tracking-code\">", "<")
        .expect("tracking code shown")
        .to_owned();
    assert!(case_no.starts_with("CSC-"), "{case_no}");
    // The CNP is kept with the person, so agents are shown the citizen's other cases.
    let id = s.store.case_id(case_no.parse().unwrap()).unwrap().unwrap();
    let subject = &s.store.persons(id).unwrap()[0];
    assert_eq!(subject.identifiers[0].value(), "2900517400010");
    let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, PDF).as_ref());
    assert!(page.contains(&sha), "receipt lists the document's SHA-256");
    assert!(
        page.contains("declaratie.pdf") && !page.contains("../"),
        "file name sanitised"
    );

    // The signed receipt verifies offline with the published key and says the same.
    let (status, json) = get(
        s.addr,
        &format!("/receipt/{case_no}.json?code={code}"),
        "en",
    );
    assert_eq!(status, 200);
    let body = &json[json.find("\r\n\r\n").unwrap() + 4..];
    let receipt = receipts::verify(body.as_bytes(), std::slice::from_ref(&s.receipt_key))
        .expect("receipt verifies");
    assert_eq!(receipt.case_no, case_no);
    assert_eq!(receipt.documents[0].sha256, sha);
    assert_eq!(
        get(s.addr, &format!("/receipt/{case_no}.json?code=WRONG"), "en").0,
        404
    );

    // Status: the right pair shows the case; a wrong code and a wrong number read the same.
    let (_, ok) = post_form(
        s.addr,
        "/status?lang=en",
        &format!("case={case_no}&code={code}"),
    );
    assert!(
        ok.contains("id=\"status\"") && ok.contains("Received, waiting to be assigned"),
        "{ok}"
    );
    assert!(
        ok.contains("Next deadline"),
        "a new case shows when the consulate owes an answer: {ok}"
    );
    let (_, wrong_code) = post_form(
        s.addr,
        "/status?lang=en",
        &format!("case={case_no}&code=XXXX"),
    );
    let (_, wrong_case) = post_form(
        s.addr,
        "/status?lang=en",
        &format!("case=CSC-2026-9999999&code={code}"),
    );
    let msg = "We found no request with this case number and tracking code";
    assert!(wrong_code.contains(msg) && wrong_case.contains(msg));

    // A second submission of the same form is the same case.
    let (status, again) = post_multipart(
        s.addr,
        &fields,
        &[("doc_police_report", "declaratie.pdf", PDF)],
    );
    assert_eq!(status, 200);
    assert!(again.contains(&case_no), "{again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn infected_and_disguised_files_are_refused_and_nothing_is_kept() {
    let s = site().await;
    let token = "11111111111111111111111111111111";
    let fields = citizen(token, "Trimit documentele.");
    // A PDF carrying the EICAR test file: the type is right, the content is not.
    let mut infected = PDF.to_vec();
    infected.extend_from_slice(&scan::local::eicar());
    let (status, page) = post_multipart(
        s.addr,
        &fields,
        &[("doc_police_report", "scan.pdf", &infected)],
    );
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("failed the virus check"), "{page}");
    let (status, page) = post_multipart(
        s.addr,
        &fields,
        &[(
            "doc_police_report",
            "scan.pdf",
            b"MZ\x90\x00this is a program",
        )],
    );
    assert_eq!(status, 422);
    assert!(page.contains("Only PDF, JPEG and PNG"), "{page}");
    assert_eq!(
        files_in(&s.files_dir),
        0,
        "nothing of a refused file is stored"
    );
    assert!(
        s.store
            .outbox_claim(10, Duration::from_secs(1))
            .unwrap()
            .is_empty(),
        "no case was created"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_come_back_next_to_their_fields_with_the_input_escaped() {
    let s = site().await;
    let mut fields = citizen(
        "22222222222222222222222222222222",
        "<script>alert('x')</script>",
    );
    fields.retain(|(k, _)| *k != "surname");
    fields.push(("cnp", "1234567890123"));
    fields.push(("email", "ioana at example"));
    let (status, page) = post_multipart(s.addr, &fields, &[]);
    assert_eq!(status, 422);
    assert!(
        page.contains("id=\"e-surname\"") && page.contains("This field is required."),
        "{page}"
    );
    assert!(page.contains("not a valid personal numeric code"));
    assert!(
        page.contains("&lt;script&gt;") && !page.contains("<script>alert"),
        "input escaped"
    );
    assert!(
        !page.contains("1234567890123"),
        "identity numbers are never shown back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn emergency_words_raise_the_case_and_alert_the_duty_officer() {
    let s = site().await;
    let mut fields = citizen(
        "33333333333333333333333333333333",
        "Fratele meu a fost arestat aseară și este reținut la poliție.",
    );
    // An information request, raised by what the text says.
    fields[0] = ("type", "D1");
    let (status, page) = post_multipart(s.addr, &fields, &[]);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("marked as urgent"), "{page}");
    let events = s.store.outbox_claim(10, Duration::from_secs(1)).unwrap();
    assert!(
        events.iter().any(|e| e.kind.code() == "case.emergency"),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_get_413_and_status_guessing_is_rate_limited() {
    let s = site().await;
    let big = vec![b'%'; portal::MAX_TOTAL + (2 << 20)];
    let (status, _) = post_multipart(
        s.addr,
        &citizen("44444444444444444444444444444444", "x"),
        &[("doc_police_report", "big.pdf", &big)],
    );
    assert_eq!(status, 413);
    let mut last = 0;
    for _ in 0..11 {
        last = post_form(s.addr, "/status?lang=en", "case=CSC-2026-0000001&code=AAAA").0;
    }
    assert_eq!(last, 429);
}

#[tokio::test(flavor = "multi_thread")]
async fn help_shows_public_articles_in_the_citizens_language_found_without_diacritics() {
    use casestore::{Actor, Body, Language, NewArticle, Slug, Title, Topic};
    let s = site().await;
    let article = |slug: &str, lang: &str, title: &str, body: &str, public: bool| NewArticle {
        slug: Slug::new(slug).unwrap(),
        country: None,
        topic: Topic::new("passports").unwrap(),
        language: Language::new(lang).unwrap(),
        title: Title::new(title).unwrap(),
        body: Body::new(body).unwrap(),
        public,
    };
    for a in [
        article(
            "renewal",
            "ro",
            "Reînnoirea pașaportului",
            "Aduceți pașaportul vechi.",
            true,
        ),
        article(
            "renewal",
            "en",
            "Renewing a passport",
            "Bring the old passport.",
            true,
        ),
        article(
            "internal",
            "ro",
            "Pașapoarte: procedură internă",
            "Doar pentru personal.",
            false,
        ),
    ] {
        s.store.put_article(&a, &Actor::System, None).unwrap();
    }
    let (status, page) = get(s.addr, "/help?lang=ro&q=pasaport", "ro");
    assert_eq!(status, 200);
    assert!(page.contains("Reînnoirea pașaportului"), "{page}");
    assert!(
        !page.contains("procedură internă"),
        "a staff-only article leaked: {page}"
    );
    assert!(
        !page.contains("Renewing a passport"),
        "wrong language: {page}"
    );
    let (_, en) = get(s.addr, "/help?lang=en", "en");
    assert!(
        en.contains("Renewing a passport") && !en.contains("Reînnoirea"),
        "{en}"
    );
    let (_, none) = get(s.addr, "/help?lang=en&q=%3Cscript%3Ezzzz", "en");
    assert!(
        none.contains("No answer matches") && !none.contains("<script>zzzz"),
        "{none}"
    );
}
