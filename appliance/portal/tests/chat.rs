//! The live chat's citizen side over a real WebSocket (tokio-tungstenite) against the portal
//! on 127.0.0.1 with a real SQLite store: a chat is a case at once, every message is stored
//! before `delivered`, bad frames are refused on their connection only, a returning citizen
//! resumes with case number and tracking code, and a chat nobody picks up is told so.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use keys::{KeyRole, SoftwareStore};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Site {
    addr: SocketAddr,
    store: Arc<casestore::Store>,
    hub: Arc<chat::Hub>,
    _dir: tempfile::TempDir,
}

async fn site(wait: Duration) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        casestore::Store::open(dir.path().join("cases.db"), casestore::Options::default()).unwrap(),
    );
    let files = Arc::new(casestore::AttachmentStore::open(dir.path().join("files")).unwrap());
    let keys = SoftwareStore::open(dir.path().join("keys")).unwrap();
    let signer = keys.generate(KeyRole::ReceiptSigning).unwrap();
    let hub = chat::Hub::new(chat::Settings {
        no_agent_wait: wait,
        ..chat::Settings::default()
    });
    let portal = Arc::new(
        portal::Portal::new(
            store.clone(),
            files,
            Arc::new(intake::Intake::default_v1()),
            // The chat never scans: no clamd behind this socket.
            scan::Clamd::unix(dir.path().join("no-clamd.sock")),
            signer,
        )
        .unwrap()
        .with_chat(hub.clone()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = portal
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Site {
        addr,
        store,
        hub,
        _dir: dir,
    }
}

async fn connect(site: &Site) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/chat/ws", site.addr))
        .await
        .unwrap();
    ws
}

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

/// The next JSON frame, within five seconds.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(text) = msg {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn start(ws: &mut Ws, email: &str, text: &str) -> (String, String) {
    send(
        ws,
        json!({"type": "start", "lang": "en", "name": "Ana Pop", "email": email, "text": text}),
    )
    .await;
    let started = next(ws).await;
    assert_eq!(started["type"], "started", "{started}");
    assert_eq!(started["history"][0]["text"], text);
    (
        started["case"].as_str().unwrap().to_owned(),
        started["code"].as_str().unwrap().to_owned(),
    )
}

fn case_of(site: &Site, case_no: &str) -> casestore::Case {
    let id = site
        .store
        .case_id(case_no.parse().unwrap())
        .unwrap()
        .unwrap();
    site.store.case(id).unwrap().unwrap()
}

#[tokio::test]
async fn a_chat_is_a_case_at_once_and_every_message_is_stored_before_delivered() {
    let site = site(Duration::from_secs(600)).await;
    let mut ws = connect(&site).await;
    let (case_no, code) = start(&mut ws, "ana@example.org", "My passport was stolen in Lyon").await;
    assert!(case_no.starts_with("CSC-"), "{case_no}");
    assert!(!code.is_empty());
    let case = case_of(&site, &case_no);
    assert_eq!(case.channel, casestore::Channel::Chat);
    assert_eq!(case.language.as_str(), "en");
    send(
        &mut ws,
        json!({"type": "message", "id": "m1", "text": "Are you there?"}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "delivered", "id": "m1"})
    );
    let messages = site.store.messages(case.id, None).unwrap();
    let bodies: Vec<_> = messages.iter().map(|m| m.body.to_string()).collect();
    assert_eq!(bodies, ["My passport was stolen in Lyon", "Are you there?"]);
    assert!(
        messages
            .iter()
            .all(|m| m.channel == casestore::Channel::Chat)
    );

    // An agent's message through the hub reaches the window, typing too.
    assert!(site.hub.is_live(case.id));
    site.hub.picked_up(case.id, "Maria");
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "joined", "name": "Maria"})
    );
    site.hub.to_citizen(case.id, chat::ToCitizen::Typing);
    assert_eq!(next(&mut ws).await["type"], "typing");
    drop(ws);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!site.hub.is_live(case.id), "a closed window is not live");
}

#[tokio::test]
async fn bad_frames_are_refused_on_their_connection_only() {
    let site = site(Duration::from_secs(600)).await;
    let mut ws = connect(&site).await;
    let mut other = connect(&site).await;
    start(&mut ws, "", "hello").await;
    start(&mut other, "", "hello from another citizen").await;

    // Over the size limit: refused with a clear message, the chat goes on.
    let big = json!({"type": "message", "id": "big", "text": "a".repeat(5 * 1024)});
    send(&mut ws, big).await;
    let refused = next(&mut ws).await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "too_large");
    assert!(
        refused["text"].as_str().unwrap().contains("too large"),
        "{refused}"
    );

    // Not JSON, an unknown type, a binary frame.
    ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(next(&mut ws).await["code"], "bad_frame");
    send(&mut ws, json!({"type": "shout"})).await;
    assert_eq!(next(&mut ws).await["code"], "bad_frame");
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(next(&mut ws).await["code"], "bad_frame");

    // Too fast: the start counted, so four more pass in the window and the rest are refused.
    for i in 0..6 {
        send(
            &mut ws,
            json!({"type": "message", "id": i.to_string(), "text": "quick"}),
        )
        .await;
    }
    let mut delivered = 0;
    let mut too_fast = 0;
    for _ in 0..6 {
        let f = next(&mut ws).await;
        match f["type"].as_str().unwrap() {
            "delivered" => delivered += 1,
            "error" if f["code"] == "too_fast" => too_fast += 1,
            _ => panic!("unexpected {f}"),
        }
    }
    assert_eq!((delivered, too_fast), (4, 2));

    // The other citizen was not slowed down or refused.
    send(
        &mut other,
        json!({"type": "message", "id": "x", "text": "still here"}),
    )
    .await;
    assert_eq!(
        next(&mut other).await,
        json!({"type": "delivered", "id": "x"})
    );

    // A message before the chat started is refused too.
    let mut fresh = connect(&site).await;
    send(
        &mut fresh,
        json!({"type": "message", "id": "1", "text": "hi"}),
    )
    .await;
    assert_eq!(next(&mut fresh).await["code"], "not_started");
}

#[tokio::test]
async fn a_returning_citizen_resumes_with_number_and_code_and_nothing_else() {
    let site = site(Duration::from_secs(600)).await;
    let mut ws = connect(&site).await;
    let (case_no, code) = start(&mut ws, "", "first visit").await;
    drop(ws);

    let mut ws = connect(&site).await;
    send(
        &mut ws,
        json!({"type": "resume", "case": case_no, "code": "WRONG-CODE"}),
    )
    .await;
    let refused = next(&mut ws).await;
    assert_eq!(refused["code"], "not_found");
    send(
        &mut ws,
        json!({"type": "resume", "case": "CSC-2020-0000999", "code": code}),
    )
    .await;
    assert_eq!(next(&mut ws).await["code"], "not_found");
    send(
        &mut ws,
        json!({"type": "resume", "case": "nonsense", "code": code}),
    )
    .await;
    assert_eq!(next(&mut ws).await["code"], "not_found");
    send(
        &mut ws,
        json!({"type": "resume", "case": case_no, "code": code}),
    )
    .await;
    let resumed = next(&mut ws).await;
    assert_eq!(resumed["type"], "started", "{resumed}");
    assert_eq!(resumed["case"], case_no.as_str());
    assert_eq!(
        resumed["code"],
        Value::Null,
        "the code is never shown again"
    );
    assert_eq!(resumed["history"][0]["text"], "first visit");
    send(
        &mut ws,
        json!({"type": "message", "id": "2", "text": "back again"}),
    )
    .await;
    assert_eq!(next(&mut ws).await["type"], "delivered");

    // Guessing is rate-limited per address, like status lookups.
    let mut guesser = connect(&site).await;
    let mut limited = false;
    for _ in 0..12 {
        send(
            &mut guesser,
            json!({"type": "resume", "case": case_no, "code": "NOPE"}),
        )
        .await;
        if next(&mut guesser).await["code"] == "rate_limited" {
            limited = true;
            break;
        }
    }
    assert!(limited, "resume attempts are rate-limited");
}

#[tokio::test]
async fn nobody_picks_up_so_the_citizen_is_told_and_the_case_goes_on_by_email() {
    let site = site(Duration::from_secs(1)).await;
    let mut ws = connect(&site).await;
    let (case_no, _) = start(&mut ws, "ana@example.org", "Is anyone there?").await;
    let told = next(&mut ws).await;
    assert_eq!(told["type"], "no_agent", "{told}");
    assert!(
        told["text"].as_str().unwrap().contains("ana@example.org"),
        "{told}"
    );
    let case = case_of(&site, &case_no);
    let notes = site
        .store
        .messages(case.id, Some(casestore::Visibility::Internal))
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0]
            .body
            .as_str()
            .contains("by e-mail to ana@example.org"),
        "{:?}",
        notes[0]
    );
    let contacts = site.store.mail_contacts(case.id).unwrap();
    assert_eq!(contacts[0].address, "ana@example.org");
    // The chat itself goes on.
    send(&mut ws, json!({"type": "message", "id": "3", "text": "ok"})).await;
    assert_eq!(next(&mut ws).await["type"], "delivered");

    // Without an address the status page is named instead.
    let mut ws = connect(&site).await;
    start(&mut ws, "", "hello?").await;
    let told = next(&mut ws).await;
    assert_eq!(told["type"], "no_agent");
    assert!(
        told["text"].as_str().unwrap().contains("status page"),
        "{told}"
    );
}

#[tokio::test]
async fn a_chat_picked_up_in_time_hears_no_timeout() {
    let site = site(Duration::from_secs(1)).await;
    let mut ws = connect(&site).await;
    let (case_no, _) = start(&mut ws, "", "help").await;
    let case = case_of(&site, &case_no);
    site.hub.picked_up(case.id, "Ion");
    assert_eq!(next(&mut ws).await["type"], "joined");
    let quiet = tokio::time::timeout(Duration::from_millis(1800), ws.next()).await;
    assert!(quiet.is_err(), "no frame after the pickup: {quiet:?}");
}

#[tokio::test]
async fn the_page_works_without_javascript_by_offering_the_form() {
    let site = site(Duration::from_secs(600)).await;
    let body = reqwest_like_get(site.addr, "/chat?lang=en").await;
    assert!(body.contains("<noscript>"), "{body}");
    assert!(
        body.contains("href=\"/?lang=en\""),
        "the request form is offered"
    );
    assert!(
        body.contains("src=\"/static/chat.js\""),
        "the script is a file"
    );
    assert!(!body.contains("<script>"), "no inline script");
    let js = reqwest_like_get(site.addr, "/static/chat.js").await;
    assert!(js.contains("text/javascript"), "{js}");
}

async fn reqwest_like_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}
