//! Reconnect pacing: capped full-jitter exponential backoff, reset after a stable period.
//!
//! Pure: the caller supplies elapsed time and randomness, so the schedule is testable without
//! a clock.

use std::time::Duration;

/// Full-jitter exponential backoff (AWS architecture blog, "Exponential Backoff and Jitter").
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    /// A connection that stayed up this long resets the schedule.
    stable: Duration,
    attempt: u32,
}

impl Backoff {
    /// A schedule from `base` doubling to `cap`.
    pub fn new(base: Duration, cap: Duration, stable: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
            stable,
            attempt: 0,
        }
    }

    /// The ceiling for the next wait: `min(cap, base · 2^attempt)`.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The next wait, given `unit` drawn uniformly from [0, 1). Advances the schedule.
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Records that a connection ended after being up for `uptime`; a stable one resets the
    /// schedule so the next attempt comes quickly.
    pub fn connection_ended(&mut self, uptime: Duration) {
        if uptime >= self.stable {
            self.attempt = 0;
        }
    }

    /// Attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_from_base_to_cap_and_never_gives_up() {
        let mut b = Backoff::new(250 * MS, 30_000 * MS, 60_000 * MS);
        let ceilings: Vec<_> = (0..10)
            .map(|_| {
                let c = b.ceiling();
                b.next_delay(0.5);
                c
            })
            .collect();
        assert_eq!(ceilings[..4], [250 * MS, 500 * MS, 1000 * MS, 2000 * MS]);
        assert_eq!(ceilings[9], 30_000 * MS);
        for _ in 0..10_000 {
            b.next_delay(0.99);
        }
        assert_eq!(b.ceiling(), 30_000 * MS);
        assert!(b.next_delay(1.0) <= 30_000 * MS);
    }

    #[test]
    fn jitter_spans_zero_to_ceiling() {
        let mut b = Backoff::new(250 * MS, 30_000 * MS, 60_000 * MS);
        assert_eq!(b.next_delay(0.0), Duration::ZERO);
        assert_eq!(b.next_delay(1.0), 500 * MS);
    }

    #[test]
    fn only_a_stable_connection_resets_the_schedule() {
        let mut b = Backoff::new(250 * MS, 30_000 * MS, 60_000 * MS);
        for _ in 0..5 {
            b.next_delay(0.5);
        }
        b.connection_ended(59_000 * MS);
        assert_eq!(b.attempts(), 5);
        b.connection_ended(60_000 * MS);
        assert_eq!(b.attempts(), 0);
        assert_eq!(b.ceiling(), 250 * MS);
    }
}
