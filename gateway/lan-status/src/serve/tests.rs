#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::*;

async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

/// The page on a free port, its provisioning file in `dir`, gatewayd's admin endpoint on a
/// port where nothing listens.
async fn page(dir: &std::path::Path) -> SocketAddr {
    let nobody = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = nobody.local_addr().unwrap();
    drop(nobody);
    let page = Page::new(Sources {
        provision_file: dir.join("provision.json"),
        admin,
        admin_timeout: Duration::from_millis(500),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, page.router()).await });
    addr
}

#[tokio::test]
async fn html_and_json_of_the_same_state_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("provision.json"),
        r#"{"state":"not-configured","message":"FAILED: not configured: give the boot credentials legatura.hub and legatura.hub-ca (docs/install.md); retrying"}"#,
    )
    .unwrap();
    let addr = page(dir.path()).await;

    let (head, html) = get(addr, "/").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(html.contains("PROBLEM: FAILED: not configured"), "{html}");
    assert!(html.contains("gatewayd is not running"), "{html}");

    for path in ["/status.json", "/?format=json"] {
        let (head, body) = get(addr, path).await;
        assert!(
            head.contains("content-type: application/json"),
            "{path}: {head}"
        );
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["provision"]["state"], "not-configured", "{path}");
        assert_eq!(json["gatewayd"]["running"], false, "{path}");
    }
    for path in [
        "/metrics",
        "/status",
        "/provision.json",
        "/../run/legatura/provision.json",
    ] {
        let (head, _) = get(addr, path).await;
        assert!(head.starts_with("HTTP/1.1 404"), "{path}: {head}");
    }
    let (head, _) = get(addr, "/?format=xml").await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
}

#[tokio::test]
async fn a_file_that_changes_shows_within_a_second_and_a_broken_one_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let addr = page(dir.path()).await;
    let (_, body) = get(addr, "/status.json").await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["provision"]["state"], "missing");

    std::fs::write(dir.path().join("provision.json"), "{\"state\":").unwrap();
    tokio::time::sleep(FRESH + Duration::from_millis(100)).await;
    let (_, body) = get(addr, "/status.json").await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["provision"]["state"], "unreadable", "{json}");
    let (_, html) = get(addr, "/").await;
    assert!(html.contains("its status file is unreadable"), "{html}");
}

#[tokio::test]
async fn the_default_listener_answers_browsers_on_ipv4_and_ipv6() {
    let dir = tempfile::tempdir().unwrap();
    let listener = bind("[::]:0".parse().unwrap()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let page = Page::new(Sources {
        provision_file: dir.path().join("provision.json"),
        admin: "127.0.0.1:9".parse().unwrap(),
        admin_timeout: Duration::from_millis(200),
    });
    tokio::spawn(async move { axum::serve(listener, page.router()).await });
    for ip in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let (head, body) = get(SocketAddr::new(ip, port), "/status.json").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{ip}: {head}");
        assert!(body.contains("\"verdict\""), "{ip}: {body}");
    }
}
