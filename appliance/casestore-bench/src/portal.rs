//! `portal_submit_per_s`: citizens' requests (one small PDF each, scanned by a real clamd)
//! submitted over HTTP by 16 concurrent clients to the portal in front of the full store.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use casestore::Store;

use crate::report::Report;

const CLIENTS: usize = 16;
const RUN: Duration = Duration::from_secs(10);

/// A small but real PDF, about 20 KB.
fn pdf() -> Vec<u8> {
    let mut doc = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    doc.extend(std::iter::repeat_n(b'%', 20_000));
    doc.extend_from_slice(b"\ntrailer\n<<>>\n%%EOF\n");
    doc
}

fn request(addr: SocketAddr, n: u64, pdf: &[u8]) -> std::io::Result<u16> {
    let boundary = "----bench";
    let token = format!(
        "{:032x}",
        (u128::from(n) << 64) | u128::from(std::process::id())
    );
    let fields = [
        ("type", "A1.4"),
        ("idempotency_key", token.as_str()),
        ("surname", "Popescu"),
        ("given_names", "Ioana"),
        ("date_of_birth", "1990-05-17"),
        ("email", "ioana@example.org"),
        ("country", "IT"),
        ("city", "Milano"),
        (
            "description",
            "Mi-am pierdut pașaportul în tren; am declarația de la poliție.",
        ),
        ("document_kind", "pașaport"),
        ("lost_on", "2026-11-20"),
    ];
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"doc_police_report\"; filename=\"declaratie.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(pdf);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "POST /request?lang=ro HTTP/1.1\r\nHost: bench\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(&body)?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    Ok(std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

/// Serves the portal over `store` and measures accepted submissions per second.
pub(crate) fn submit(store: Arc<Store>, dir: &std::path::Path, report: &mut Report) -> Result<u64> {
    let clamd = scan::local::LocalClamd::start(&dir.join("clamd"), 32)
        .context("starting clamd (cargo xtask deps)")?;
    let files = Arc::new(casestore::AttachmentStore::open(dir.join("files"))?);
    let keys = keys::SoftwareStore::open(dir.join("keys"))?;
    let signer = keys.generate(keys::KeyRole::ReceiptSigning)?;
    let portal = Arc::new(portal::Portal::new(
        store,
        files,
        Arc::new(intake::Intake::default_v1()),
        clamd.client(),
        signer,
    )?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let app = portal
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    runtime.spawn(async move { axum::serve(listener, app).await });

    let pdf = Arc::new(pdf());
    let (ok, failed, next) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (ok, failed, next, pdf) = (ok.clone(), failed.clone(), next.clone(), pdf.clone());
            std::thread::spawn(move || {
                while started.elapsed() < RUN {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    match request(addr, n, &pdf) {
                        Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for c in clients {
        let _ = c.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    report.num(
        "portal_submit_per_s",
        ok.load(Ordering::Relaxed) as f64 / elapsed,
    );
    report.num(
        "portal_submit_failed",
        failed.load(Ordering::Relaxed) as f64,
    );
    report.num("portal_clients", CLIENTS as f64);
    drop(runtime);
    drop(clamd);
    Ok(ok.load(Ordering::Relaxed))
}
