//! Live updates: one watcher notices committed writes to the case store (from the portal,
//! the channels, other agents) and every open console hears `changed` over server-sent
//! events. The event carries nothing about any case: the browser fetches its own queue page
//! again, through the same authorisation as any other request.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use casestore::Store;
use futures::Stream;
use tokio::sync::watch;

use crate::App;
use crate::session::Agent;

pub(crate) struct Live {
    store: Weak<Store>,
    poll: Duration,
    tx: OnceLock<watch::Sender<u64>>,
}

impl Live {
    pub(crate) fn new(store: Arc<Store>, poll: Duration) -> Self {
        Self {
            store: Arc::downgrade(&store),
            poll,
            tx: OnceLock::new(),
        }
    }

    /// Subscribes, starting the watcher on first use (inside the runtime).
    fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx
            .get_or_init(|| {
                // Start from the store's present generation: the first subscriber must not be
                // told about changes made before it arrived.
                let start = self.store.upgrade().map_or(0, |store| store.generation());
                let (tx, _) = watch::channel(start);
                let (store, poll, sender) = (self.store.clone(), self.poll, tx.clone());
                tokio::spawn(async move {
                    let mut ticker = tokio::time::interval(poll);
                    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        ticker.tick().await;
                        let Some(store) = store.upgrade() else { return };
                        let generation = store.generation();
                        sender.send_if_modified(|seen| {
                            let changed = *seen != generation;
                            *seen = generation;
                            changed
                        });
                    }
                });
                tx
            })
            .subscribe()
    }
}

/// Only a signed-in agent may listen (the extractor refuses anyone else); the stream itself
/// names no case.
pub(crate) async fn events(
    State(app): State<App>,
    _signed_in: Agent,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = app.live.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let generation = *rx.borrow_and_update();
        Some((
            Ok(Event::default()
                .event("changed")
                .data(generation.to_string())),
            rx,
        ))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
