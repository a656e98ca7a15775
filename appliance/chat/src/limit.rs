//! A per-connection sliding-window rate limit, with time as an argument.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// At most `max` events in any `window`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    max: usize,
    window: Duration,
    seen: VecDeque<Instant>,
}

impl RateLimit {
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            seen: VecDeque::with_capacity(max),
        }
    }

    /// Whether one more event may happen at `now`; a refused event does not count.
    pub fn allow(&mut self, now: Instant) -> bool {
        while self
            .seen
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.seen.pop_front();
        }
        if self.seen.len() >= self.max {
            return false;
        }
        self.seen.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_in_ten_seconds_then_refused_until_the_window_moves() {
        let start = Instant::now();
        let mut limit = RateLimit::new(5, Duration::from_secs(10));
        assert!((0..5).all(|i| limit.allow(start + Duration::from_millis(i))));
        assert!(!limit.allow(start + Duration::from_secs(5)));
        assert!(limit.allow(start + Duration::from_secs(10)));
        assert!(!limit.allow(start + Duration::from_secs(10)));
    }
}
