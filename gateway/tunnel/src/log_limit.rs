//! Rate-limited logging for events an unauthenticated or misbehaving peer can trigger, so that
//! a flood of bad handshakes or headers cannot flood the journal.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Allows at most `burst` events per `window`; counts the rest.
#[derive(Debug)]
pub(crate) struct LogLimit {
    window: Duration,
    burst: u32,
    state: Mutex<(Instant, u32)>,
    suppressed: AtomicU64,
}

impl LogLimit {
    pub(crate) fn new(window: Duration, burst: u32) -> Self {
        Self {
            window,
            burst,
            state: Mutex::new((Instant::now(), 0)),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when this event may be logged (`n` events were suppressed since the last one
    /// logged), `None` when it must be dropped.
    pub(crate) fn allow(&self) -> Option<u64> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(state.0) >= self.window {
            *state = (now, 0);
        }
        if state.1 < self.burst {
            state.1 += 1;
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// Logs through a [`LogLimit`]: `limited!(LIMIT, warn!(...))`.
macro_rules! limited {
    ($limit:expr, $level:ident!($($arg:tt)*)) => {
        if let Some(suppressed) = $limit.allow() {
            tracing::$level!(suppressed, $($arg)*);
        }
    };
}
pub(crate) use limited;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_to_the_burst_and_counted() {
        let limit = LogLimit::new(Duration::from_secs(60), 3);
        let allowed = (0..100).filter(|_| limit.allow().is_some()).count();
        assert_eq!(allowed, 3);
        assert_eq!(limit.suppressed.load(Ordering::Relaxed), 97);
    }
}
