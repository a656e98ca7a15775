//! Wiring of the citizens' portal: the case store, the attachment store, intake rules, clamd
//! and the receipt key.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use keys::{KeyRef, KeyRole};

use crate::config::PortalSection;

/// Case stores by file, so the portal and the console share one handle (and one writer)
/// when they name the same database.
#[derive(Debug, Default)]
pub struct Stores(HashMap<PathBuf, Arc<casestore::Store>>);

impl Stores {
    pub fn open(&mut self, path: &Path) -> anyhow::Result<Arc<casestore::Store>> {
        if let Some(store) = self.0.get(path) {
            return Ok(store.clone());
        }
        let store = casestore::Store::open(path, casestore::Options::default())
            .with_context(|| format!("opening the case store {}", path.display()))?;
        let store = Arc::new(store);
        self.0.insert(path.to_owned(), store.clone());
        Ok(store)
    }
}

/// Serves the portal on `store` until the task is dropped.
pub async fn start(
    section: &PortalSection,
    store: Arc<casestore::Store>,
    chat: Arc<::chat::Hub>,
) -> anyhow::Result<()> {
    let files = casestore::AttachmentStore::open(&section.attachments).with_context(|| {
        format!(
            "opening the attachment store {}",
            section.attachments.display()
        )
    })?;
    let key: KeyRef = section.receipt_key.parse().context("portal.receipt_key")?;
    let signer = keys::open_signer(&key, KeyRole::ReceiptSigning)
        .context("opening the receipt-signing key")?;
    let portal = portal::Portal::new(
        store,
        Arc::new(files),
        Arc::new(intake::Intake::default_v1()),
        scan::Clamd::unix(&section.clamd),
        signer,
    )
    .context("building the portal")?
    .with_chat(chat);
    let listener = tokio::net::TcpListener::bind(section.listen)
        .await
        .with_context(|| format!("binding the portal on {}", section.listen))?;
    tracing::info!(listen = %section.listen, "citizens' portal");
    let app = Arc::new(portal)
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(())
}
