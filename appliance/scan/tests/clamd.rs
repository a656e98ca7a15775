//! The client against a real clamd started by each test with a signature database the test
//! generates (EICAR by hash and by body). Fails, naming the package, when clamd is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/clamd.rs"]
mod support;

use std::time::{Duration, Instant};

use scan::{ScanError, Verdict};
use support::{BODY_SIGNATURE, HASH_SIGNATURE, STREAM_MAX_LEN, TestClamd, eicar};

/// A small but well-formed PDF, the kind of file the portal receives.
fn pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    pdf.extend_from_slice(
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
          2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n\
          3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >> endobj\n\
          4 0 obj << /Length 44 >> stream\nBT /F1 12 Tf 72 770 Td (Cerere de pasaport) Tj ET\nendstream endobj\n\
          trailer << /Root 1 0 R >>\n%%EOF\n",
    );
    pdf
}

fn unofficial(name: &str) -> String {
    format!("{name}.UNOFFICIAL")
}

#[tokio::test]
async fn health_checks_answer() {
    let clamd = TestClamd::start();
    clamd.client().ping().await.unwrap();
    clamd.tcp_client().ping().await.unwrap();
    let version = clamd.client().version().await.unwrap();
    assert!(version.starts_with("ClamAV "), "{version}");
}

#[tokio::test]
async fn clean_documents_are_clean() {
    let clamd = TestClamd::start();
    assert_eq!(
        clamd.client().scan_bytes(&pdf()).await.unwrap(),
        Verdict::Clean
    );
    // Several chunks, just under the limit, over TCP too.
    let mut big = pdf();
    big.resize(STREAM_MAX_LEN as usize, b' ');
    assert_eq!(
        clamd.client().scan_bytes(&big).await.unwrap(),
        Verdict::Clean
    );
    assert_eq!(
        clamd.tcp_client().scan_bytes(&big).await.unwrap(),
        Verdict::Clean
    );
    assert_eq!(
        clamd.client().scan_bytes(b"").await.unwrap(),
        Verdict::Clean
    );
}

#[tokio::test]
async fn eicar_is_infected_with_our_signature() {
    let clamd = TestClamd::start();
    let ours = [unofficial(HASH_SIGNATURE), unofficial(BODY_SIGNATURE)];
    for client in [
        clamd.client(),
        clamd.tcp_client(),
        clamd.client().with_chunk_size(7),
    ] {
        match client.scan_bytes(&eicar()).await.unwrap() {
            Verdict::Infected(name) => assert!(ours.contains(&name), "{name}"),
            Verdict::Clean => panic!("EICAR passed as clean:\n{}", clamd.logs()),
        }
    }
}

#[tokio::test]
async fn eicar_inside_a_pdf_is_found_by_the_body_signature() {
    let clamd = TestClamd::start();
    let mut infected = pdf();
    let at = infected.len() / 2;
    infected.splice(at..at, eicar());
    let verdict = clamd.client().scan_bytes(&infected).await.unwrap();
    assert_eq!(verdict, Verdict::Infected(unofficial(BODY_SIGNATURE)));
    // A near miss is clean: the signatures are exact.
    let mut almost = eicar();
    almost[0] = b'Y';
    assert_eq!(
        clamd.client().scan_bytes(&almost).await.unwrap(),
        Verdict::Clean
    );
}

#[tokio::test]
async fn a_stream_over_stream_max_length_is_a_size_error() {
    let clamd = TestClamd::start();
    let too_big = vec![b'a'; STREAM_MAX_LEN as usize + 64 * 1024];
    // clamd's own refusal.
    let error = clamd.client().scan_bytes(&too_big).await.unwrap_err();
    assert!(
        matches!(error, ScanError::SizeLimitExceeded { limit: None }),
        "{error:?}"
    );
    assert!(error.to_string().contains("StreamMaxLength"), "{error}");
    // The client's copy of the limit stops it first.
    let limited = clamd.client().with_max_stream_len(STREAM_MAX_LEN);
    let error = limited.scan_bytes(&too_big).await.unwrap_err();
    assert!(
        matches!(
            error,
            ScanError::SizeLimitExceeded {
                limit: Some(STREAM_MAX_LEN)
            }
        ),
        "{error:?}"
    );
    // clamd is still fine afterwards.
    assert!(limited.scan_bytes(&pdf()).await.unwrap().is_clean());
}

#[tokio::test]
async fn concurrent_scans_share_one_client() {
    let clamd = TestClamd::start();
    let client = clamd.client();
    let scans = (0..8).map(|i| {
        let client = client.clone();
        async move {
            let data = if i % 2 == 0 { pdf() } else { eicar() };
            (i, client.scan_bytes(&data).await.unwrap())
        }
    });
    for (i, verdict) in join_all(scans).await {
        assert_eq!(verdict.is_clean(), i % 2 == 0, "scan {i}");
    }
}

async fn join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_killed_clamd_is_unreachable_quickly() {
    let mut clamd = TestClamd::start();
    let client = clamd.client();
    let tcp = clamd.tcp_client();
    assert!(client.scan_bytes(&pdf()).await.unwrap().is_clean());
    clamd.kill();
    for client in [client, tcp] {
        let start = Instant::now();
        let error = client.scan_bytes(&pdf()).await.unwrap_err();
        assert!(matches!(error, ScanError::Unreachable { .. }), "{error:?}");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "took {:?}",
            start.elapsed()
        );
        assert!(matches!(
            client.ping().await,
            Err(ScanError::Unreachable { .. })
        ));
    }
}
