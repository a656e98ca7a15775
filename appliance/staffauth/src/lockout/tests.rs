use super::*;

const NOW: u64 = 1_700_000_000;

#[test]
fn the_fifth_failure_locks_for_fifteen_minutes() {
    let policy = LockoutPolicy::default();
    let mut state = LockoutState::default();
    for i in 0..4 {
        assert_eq!(policy.check(&state, NOW + i), Ok(()));
        state = policy.record_failure(state, NOW + i);
    }
    assert_eq!(state.failures, 4);
    assert_eq!(policy.check(&state, NOW + 4), Ok(()));
    state = policy.record_failure(state, NOW + 4);
    assert_eq!(
        policy.check(&state, NOW + 5),
        Err(Locked {
            retry_after_secs: 15 * 60 - 1
        })
    );
    assert_eq!(
        policy.check(&state, NOW + 4 + 15 * 60 - 1),
        Err(Locked {
            retry_after_secs: 1
        })
    );
    assert_eq!(policy.check(&state, NOW + 4 + 15 * 60), Ok(()));
}

#[test]
fn failures_while_locked_do_not_extend_the_lock() {
    let policy = LockoutPolicy::default();
    let locked = LockoutState {
        failures: 0,
        locked_until: Some(NOW + 60),
    };
    assert_eq!(policy.record_failure(locked, NOW + 30), locked);
    // After the lock the count starts from zero: one failure does not lock again.
    let after = policy.record_failure(locked, NOW + 60);
    assert_eq!(after.failures, 1);
    assert_eq!(policy.check(&after, NOW + 61), Ok(()));
}

#[test]
fn a_success_clears_the_count() {
    let policy = LockoutPolicy::default();
    let mut state = LockoutState::default();
    for _ in 0..4 {
        state = policy.record_failure(state, NOW);
    }
    state = policy.record_success();
    for _ in 0..4 {
        state = policy.record_failure(state, NOW);
    }
    assert_eq!(policy.check(&state, NOW), Ok(()));
}

#[test]
fn the_eleventh_attempt_in_a_burst_is_refused_and_time_restores_the_budget() {
    let limiter = AttemptLimiter::new(AttemptPolicy::default());
    let t0 = Instant::now();
    for i in 0..10 {
        assert!(
            limiter.check("gw-chisinau", t0),
            "attempt {} refused",
            i + 1
        );
    }
    assert!(!limiter.check("gw-chisinau", t0));
    assert!(!limiter.check("gw-chisinau", t0 + Duration::from_secs(5)));
    // Another source has its own budget.
    assert!(limiter.check("gw-roma", t0));
    // One attempt comes back every six seconds ...
    let t6 = t0 + Duration::from_secs(6);
    assert!(limiter.check("gw-chisinau", t6));
    assert!(!limiter.check("gw-chisinau", t6));
    // ... and a quiet minute restores the whole burst.
    let later = t6 + Duration::from_secs(60);
    for _ in 0..10 {
        assert!(limiter.check("gw-chisinau", later));
    }
    assert!(!limiter.check("gw-chisinau", later));
}

#[test]
fn refused_attempts_do_not_push_recovery_back() {
    let limiter = AttemptLimiter::new(AttemptPolicy::default());
    let t0 = Instant::now();
    for _ in 0..10 {
        limiter.check("k", t0);
    }
    for _ in 0..1000 {
        assert!(!limiter.check("k", t0 + Duration::from_secs(1)));
    }
    assert!(limiter.check("k", t0 + Duration::from_secs(6)));
}

#[test]
fn the_table_stays_bounded_and_forgets_refilled_sources_first() {
    let limiter = AttemptLimiter::new(AttemptPolicy {
        max_keys: 3,
        ..AttemptPolicy::default()
    });
    let t0 = Instant::now();
    // "busy" spends its budget; "a" and "b" try once.
    for _ in 0..10 {
        assert!(limiter.check("busy", t0));
    }
    assert!(limiter.check("a", t0));
    assert!(limiter.check("b", t0));
    for i in 0..100 {
        assert!(limiter.check(&format!("new{i}"), t0 + Duration::from_secs(10)));
        assert!(limiter.len() <= 3);
    }
    // "a" and "b" refilled after six seconds and were forgotten first, and each new source
    // refills sooner than "busy": "busy" is still held to its spent budget, one attempt back
    // after ten seconds, not ten.
    let t10 = t0 + Duration::from_secs(10);
    assert!(limiter.check("busy", t10));
    assert!(!limiter.check("busy", t10));
}

#[test]
fn zero_burst_refuses_everything() {
    let limiter = AttemptLimiter::new(AttemptPolicy {
        burst: 0,
        ..AttemptPolicy::default()
    });
    assert!(!limiter.check("k", Instant::now()));
}
