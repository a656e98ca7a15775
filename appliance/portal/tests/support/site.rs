//! The portal served in-process on 127.0.0.1:0 for the integration tests, with a real SQLite
//! case store, a private clamd and a receipt key from the software key store, all in one
//! temporary directory that lives as long as the [`Site`].
//!
//! Each file in `tests/` is its own crate, so each includes this one with
//! `#[path = "support/site.rs"] mod site;` and uses what it needs of it.

use std::net::SocketAddr;
use std::sync::Arc;

use keys::{KeyRole, SoftwareStore};
use portal::Portal;

/// A running portal and what a test looks at behind it.
pub(crate) struct Site {
    pub(crate) addr: SocketAddr,
    pub(crate) store: Arc<casestore::Store>,
    pub(crate) files: Arc<casestore::AttachmentStore>,
    pub(crate) receipt_key: Vec<u8>,
    pub(crate) files_dir: std::path::PathBuf,
    _clamd: scan::local::LocalClamd,
    _dir: tempfile::TempDir,
}

/// Starts a portal; needs clamd installed (`cargo xtask deps`) and a tokio runtime.
pub(crate) async fn site() -> Site {
    site_with(None).await
}

/// Starts a portal whose live chat runs on a hub with these settings (no agent ever watches).
pub(crate) async fn site_with(chat: Option<chat::Settings>) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let clamd = scan::local::LocalClamd::start(&dir.path().join("clamd"), 32)
        .unwrap_or_else(|e| panic!("{e} (cargo xtask deps)"));
    let store = Arc::new(
        casestore::Store::open(dir.path().join("cases.db"), casestore::Options::default()).unwrap(),
    );
    let files_dir = dir.path().join("files");
    let files = Arc::new(casestore::AttachmentStore::open(&files_dir).unwrap());
    let keys = SoftwareStore::open(dir.path().join("keys")).unwrap();
    let signer = keys.generate(KeyRole::ReceiptSigning).unwrap();
    let receipt_key = signer.public_key().to_vec();
    let mut portal = Portal::new(
        store.clone(),
        files.clone(),
        Arc::new(intake::Intake::default_v1()),
        clamd.client(),
        signer,
    )
    .unwrap();
    if let Some(settings) = chat {
        portal = portal.with_chat(chat::Hub::new(settings));
    }
    let portal = Arc::new(portal);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = portal
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Site {
        addr,
        store,
        files,
        receipt_key,
        files_dir,
        _clamd: clamd,
        _dir: dir,
    }
}
