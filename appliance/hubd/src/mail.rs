//! Wiring of the e-mail channel: the case store (shared with the portal and the console when
//! they name the same file), the attachment store, intake rules, clamd, the SMTP listener and
//! the outbox worker.

use std::sync::Arc;

use anyhow::Context;

use crate::config::MailSection;

/// Starts the SMTP listener and the outbox worker on `store`; they run until the runtime
/// stops.
pub async fn start(
    section: &MailSection,
    store: Arc<casestore::Store>,
    chat: Arc<::chat::Hub>,
) -> anyhow::Result<mail::Running> {
    let files = casestore::AttachmentStore::open(&section.attachments).with_context(|| {
        format!(
            "opening the attachment store {}",
            section.attachments.display()
        )
    })?;
    let mut config = section
        .to_mail_config()
        .map_err(|e| anyhow::anyhow!("mail.relay: {e}"))?;
    // A chat whose citizen has left the window is answered by e-mail.
    config.chat_presence = Some(mail::ChatPresence(Arc::new(move |case| chat.is_live(case))));
    let running = mail::start(
        &config,
        store,
        Arc::new(files),
        Arc::new(intake::Intake::default_v1()),
        Some(scan::Clamd::unix(&section.clamd)),
    )
    .await
    .context("starting the e-mail channel")?;
    tracing::info!(
        listen = %running.local_addr,
        relay = %section.relay,
        "e-mail channel (SMTP in, outbox worker out)"
    );
    Ok(running)
}
