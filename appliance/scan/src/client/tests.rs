//! The client against fake clamd servers that misbehave in controlled ways; the real clamd is
//! exercised in `tests/clamd.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::Instant;

use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinHandle;

use super::*;

/// What a fake server received on one connection.
#[derive(Debug, Default)]
struct Received {
    command: Vec<u8>,
    chunks: Vec<Vec<u8>>,
    terminated: bool,
}

/// Reads a `zINSTREAM` exchange off `conn` the way clamd does.
async fn read_instream<S: AsyncRead + Unpin>(conn: &mut S) -> io::Result<Received> {
    let mut received = Received::default();
    let mut command = vec![0u8; protocol::INSTREAM.len()];
    conn.read_exact(&mut command).await?;
    received.command = command;
    loop {
        let len = conn.read_u32().await?;
        if len == 0 {
            received.terminated = true;
            return Ok(received);
        }
        let mut chunk = vec![0u8; len as usize];
        conn.read_exact(&mut chunk).await?;
        received.chunks.push(chunk);
    }
}

fn socket_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("clamd.sock")
}

/// A Unix-socket server that handles one connection with `serve`.
fn serve_once<F, Fut>(path: &std::path::Path, serve: F) -> JoinHandle<()>
where
    F: FnOnce(UnixStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        let (conn, _) = listener.accept().await.unwrap();
        serve(conn).await;
    })
}

#[tokio::test]
async fn the_stream_is_chunked_and_terminated() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let server = serve_once(&path, |mut conn| async move {
        let received = read_instream(&mut conn).await.unwrap();
        conn.write_all(b"stream: OK\0").await.unwrap();
        tx.send(received).unwrap();
    });
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let verdict = Clamd::unix(&path)
        .with_chunk_size(4096)
        .scan_bytes(&data)
        .await
        .unwrap();
    assert_eq!(verdict, Verdict::Clean);
    let received = rx.await.unwrap();
    server.await.unwrap();
    assert_eq!(received.command, b"zINSTREAM\0");
    assert!(received.terminated);
    assert!(
        received
            .chunks
            .iter()
            .all(|c| !c.is_empty() && c.len() <= 4096)
    );
    assert_eq!(received.chunks.concat(), data);
}

#[tokio::test]
async fn an_empty_document_is_just_the_terminator() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let _server = serve_once(&path, |mut conn| async move {
        let received = read_instream(&mut conn).await.unwrap();
        conn.write_all(b"stream: OK\0").await.unwrap();
        tx.send(received).unwrap();
    });
    assert!(Clamd::unix(&path).scan_bytes(b"").await.unwrap().is_clean());
    let received = rx.await.unwrap();
    assert!(received.terminated && received.chunks.is_empty());
}

#[tokio::test]
async fn tcp_works_too() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        read_instream(&mut conn).await.unwrap();
        conn.write_all(b"stream: Test.Sig FOUND\0").await.unwrap();
    });
    let verdict = Clamd::tcp(addr).scan_bytes(b"x").await.unwrap();
    assert_eq!(verdict, Verdict::Infected("Test.Sig".into()));
}

#[tokio::test]
async fn a_missing_socket_is_unreachable_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let error = Clamd::unix(socket_in(&dir)).ping().await.unwrap_err();
    assert!(matches!(error, ScanError::Unreachable { .. }), "{error:?}");
    assert!(start.elapsed() < Duration::from_millis(500));
    assert!(error.to_string().contains("clamd.sock"), "{error}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let _server = serve_once(&path, |mut conn| async move {
        let _ = read_instream(&mut conn).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let start = Instant::now();
    let error = Clamd::unix(&path)
        .with_io_timeout(Duration::from_millis(200))
        .scan_bytes(b"hello")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ScanError::Timeout {
                stage: "waiting for the reply",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_endless_reply_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let _server = serve_once(&path, |mut conn| async move {
        let mut command = [0u8; 6];
        let _ = conn.read_exact(&mut command).await;
        let noise = vec![b'A'; 64 * 1024];
        let _ = conn.write_all(&noise).await;
    });
    let error = Clamd::unix(&path).ping().await.unwrap_err();
    assert!(
        matches!(&error, ScanError::Protocol(m) if m.contains("longer than")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_closed_connection_without_reply_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let _server = serve_once(&path, |mut conn| async move {
        let _ = read_instream(&mut conn).await;
    });
    let error = Clamd::unix(&path).scan_bytes(b"data").await.unwrap_err();
    assert!(matches!(error, ScanError::ConnectionLost(_)), "{error:?}");
}

#[tokio::test]
async fn clamd_refusing_mid_stream_is_a_size_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    // Like clamd past StreamMaxLength: read a little, explain, close.
    let _server = serve_once(&path, |mut conn| async move {
        let mut some = vec![0u8; 1024];
        let _ = conn.read_exact(&mut some).await;
        let _ = conn
            .write_all(b"INSTREAM size limit exceeded. ERROR\0")
            .await;
    });
    let big = vec![7u8; 8 * 1024 * 1024];
    let error = Clamd::unix(&path).scan_bytes(&big).await.unwrap_err();
    assert!(
        matches!(error, ScanError::SizeLimitExceeded { limit: None }),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_local_limit_stops_before_sending_too_much() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let _server = serve_once(&path, |mut conn| async move {
        let _ = tx.send(read_instream(&mut conn).await);
    });
    let client = Clamd::unix(&path)
        .with_chunk_size(10)
        .with_max_stream_len(25);
    let error = client.scan_bytes(&[1u8; 26]).await.unwrap_err();
    assert!(
        matches!(error, ScanError::SizeLimitExceeded { limit: Some(25) }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("StreamMaxLength 25 bytes"),
        "{error}"
    );
    // The stream was abandoned unterminated, and never carried more than the limit.
    let received = rx.await.unwrap();
    assert!(
        received.is_err(),
        "the server saw a terminated stream: {received:?}"
    );
}

#[tokio::test]
async fn a_failing_reader_is_a_source_error() {
    struct Failing;
    impl AsyncRead for Failing {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Err(io::Error::other("disk on fire")))
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let _server = serve_once(&path, |mut conn| async move {
        let _ = read_instream(&mut conn).await;
    });
    let error = Clamd::unix(&path).scan_reader(Failing).await.unwrap_err();
    assert!(matches!(error, ScanError::Source(_)), "{error:?}");
}

#[tokio::test]
async fn health_checks() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_in(&dir);
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        for reply in [
            &b"PONG\0"[..],
            b"ClamAV 1.4.6/27500/Tue Dec 10 09:35:12 2024\0",
            b"PANG\0",
        ] {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut command = [0u8; 5];
            conn.read_exact(&mut command).await.unwrap();
            let mut rest = Vec::new();
            loop {
                let byte = conn.read_u8().await.unwrap();
                if byte == 0 {
                    break;
                }
                rest.push(byte);
            }
            conn.write_all(reply).await.unwrap();
        }
    });
    let client = Clamd::unix(&path);
    client.ping().await.unwrap();
    assert_eq!(
        client.version().await.unwrap(),
        "ClamAV 1.4.6/27500/Tue Dec 10 09:35:12 2024"
    );
    assert!(matches!(client.ping().await, Err(ScanError::Protocol(_))));
}

#[test]
fn chunk_sizes_are_clamped() {
    let client = Clamd::unix("/nonexistent");
    assert_eq!(client.clone().with_chunk_size(0).chunk_size, 1);
    assert_eq!(
        client.with_chunk_size(usize::MAX).chunk_size,
        MAX_CHUNK_SIZE
    );
}
