//! Wiring of the citizens' portal: the case store, the attachment store, intake rules, clamd
//! and the receipt key.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use keys::{KeyRef, KeyRole};

use crate::config::PortalSection;

/// Opens the store and serves the portal until the task is dropped.
pub async fn start(section: &PortalSection) -> anyhow::Result<()> {
    let store = casestore::Store::open(&section.database, casestore::Options::default())
        .with_context(|| format!("opening the case store {}", section.database.display()))?;
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
        Arc::new(store),
        Arc::new(files),
        Arc::new(intake::Intake::default_v1()),
        scan::Clamd::unix(&section.clamd),
        signer,
    )
    .context("building the portal")?;
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
