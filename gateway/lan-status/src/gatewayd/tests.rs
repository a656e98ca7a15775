#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::time::Instant;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::*;

/// What gatewayd's `/status` says on an enrolled box with its tunnel up.
const UP: &str = r#"{"tunnel":"up","hub":"10.0.2.2:4433","hub_id":"hub-a","up_for_s":12,"rtt_ms":1.5,"enrollment":"enrolled","retry_in_s":null,"mission":"paris","appliance":"PAR-01","last_error":null}"#;

/// Serves each connection `answer`, once the request's head has arrived.
async fn admin_answering(answer: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 512];
                while !head.ends_with(b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(&answer).await;
            });
        }
    });
    addr
}

fn http(code: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.0 {code}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn a_running_gatewayd_is_read() {
    let admin = admin_answering(http("200 OK", UP)).await;
    let Gatewayd::Answered(status) = fetch(admin, Duration::from_secs(2)).await else {
        panic!("not answered")
    };
    assert!(status.tunnel_up());
    assert_eq!(status.appliance.as_deref(), Some("PAR-01"));
    assert_eq!(status.hub_id.as_deref(), Some("hub-a"));
}

#[tokio::test]
async fn the_real_admin_endpoint_is_read() {
    // gatewayd's own admin crate, answering what gatewayd answers while it waits for a code.
    let admin = admin::Admin::new(
        prometheus_client::registry::Registry::default(),
        std::sync::Arc::new(|| Err("not enrolled yet".into())),
        std::sync::Arc::new(
            || serde_json::json!({"tunnel": "down", "enrollment": "waiting_for_code", "last_error": null}),
        ),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(admin.serve(listener));
    let Gatewayd::Answered(status) = fetch(addr, Duration::from_secs(2)).await else {
        panic!("not answered")
    };
    assert_eq!(status.enrollment.as_deref(), Some("waiting_for_code"));
    assert!(!status.tunnel_up());
}

#[tokio::test]
async fn nothing_listening_is_not_running() {
    let free = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    match fetch(addr, Duration::from_secs(2)).await {
        Gatewayd::NotRunning(why) => assert!(why.contains("does not answer"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_hung_gatewayd_is_given_up_on_at_the_deadline() {
    // Accepts, then never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    let started = Instant::now();
    match fetch(addr, Duration::from_millis(300)).await {
        Gatewayd::NotRunning(why) => assert!(why.contains("did not answer within"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    held.abort();
}

#[tokio::test]
async fn nonsense_is_unreadable() {
    for answer in [
        http("500 Internal Server Error", "{}"),
        http("200 OK", "<html>not json</html>"),
        http("200 OK", r#"{"no":"tunnel field"}"#),
        b"SSH-2.0-OpenSSH_9.2\r\n".to_vec(),
        b"HTTP/1.0 200 OK\r\n\r\n".to_vec(),
    ] {
        let admin = admin_answering(answer.clone()).await;
        match fetch(admin, Duration::from_secs(2)).await {
            Gatewayd::Unreadable(_) => {}
            other => panic!("{:?} read as {other:?}", String::from_utf8_lossy(&answer)),
        }
    }
}

#[tokio::test]
async fn an_endless_answer_is_cut_off() {
    let mut answer = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    answer.extend(std::iter::repeat_n(b' ', MAX_ANSWER as usize + 10));
    let admin = admin_answering(answer).await;
    match fetch(admin, Duration::from_secs(2)).await {
        Gatewayd::Unreadable(why) => assert!(why.contains("larger than"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_status_line_is_checked_before_the_body() {
    assert!(parse_answer(b"HTTP/1.1 200 OK\r\nx: y\r\n\r\n{\"tunnel\":\"down\"}").is_ok());
    let err =
        parse_answer(b"HTTP/1.1 503 Service Unavailable\r\n\r\n{\"tunnel\":\"down\"}").unwrap_err();
    assert!(err.contains("503"), "{err}");
    assert!(parse_answer(b"no head at all").is_err());
}

#[test]
fn what_gatewayd_reports_is_what_the_page_reads() {
    use gatewayd::{Enrollment, Report};
    let report = Report::new(Enrollment::Enrolling, None);
    report.error("cannot reach the hub at 10.0.2.2:4433: no answer within 5 s");
    report.enrollment(Enrollment::Retrying, Some(Duration::from_secs(4)));
    let body = report.json(None).to_string();
    let status = parse_answer(http("200 OK", &body).as_slice()).unwrap();
    assert_eq!(status.enrollment.as_deref(), Some("retrying"));
    assert!(status.retry_in_s.is_some_and(|s| s <= 4));
    assert_eq!(
        status.last_error.map(|e| e.message).as_deref(),
        Some("cannot reach the hub at 10.0.2.2:4433: no answer within 5 s")
    );

    report.enrolled(Some(pki::ApplianceId::new("paris", "PAR-01").unwrap()));
    let body = report.json(None).to_string();
    let status = parse_answer(http("200 OK", &body).as_slice()).unwrap();
    assert_eq!(status.enrollment.as_deref(), Some("enrolled"));
    assert_eq!(status.mission.as_deref(), Some("paris"));
    assert_eq!(status.appliance.as_deref(), Some("PAR-01"));
    assert!(!status.tunnel_up());
}
