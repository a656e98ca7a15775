use super::*;

const MIN: Duration = Duration::from_secs(60);

fn sessions() -> Sessions {
    Sessions::new(SessionPolicy::default())
}

#[test]
fn a_new_session_opens_with_its_csrf_token() {
    let s = sessions();
    let t0 = Instant::now();
    let new = s.create("ana", "gw-chisinau", t0);
    assert_eq!(new.cookie.len(), TOKEN_CHARS);
    assert_eq!(new.csrf.len(), TOKEN_CHARS);
    assert_eq!(URL_SAFE_NO_PAD.decode(&new.cookie).unwrap().len(), 32);
    assert_ne!(new.cookie, new.csrf);
    let view = s.get(&new.cookie, "gw-chisinau", t0 + MIN).unwrap();
    assert_eq!(view.staff, "ana");
    assert_eq!(view.path_key, "gw-chisinau");
    assert_eq!(view.created, t0);
    assert_eq!(view.csrf, new.csrf);
    assert!(csrf_matches(&view, &new.csrf));
    assert!(!csrf_matches(&view, ""));
    assert!(!csrf_matches(&view, &new.cookie));
    assert!(!csrf_matches(&view, &new.csrf[..42]));
}

#[test]
fn the_table_holds_no_cookie() {
    let s = sessions();
    let new = s.create("ana", "p", Instant::now());
    let map = s.lock();
    let (key, session) = map.iter().next().unwrap();
    assert_eq!(*key, token_key(&new.cookie));
    assert_ne!(key.as_slice(), new.cookie.as_bytes());
    assert_ne!(session.csrf.as_str(), new.cookie);
    drop(map);
    assert!(!format!("{s:?} {new:?}").contains(&new.cookie));
    assert!(!format!("{new:?}").contains(&new.csrf));
}

#[test]
fn an_idle_session_expires_and_use_keeps_it_alive() {
    let s = sessions();
    let t0 = Instant::now();
    let a = s.create("ana", "p", t0);
    let b = s.create("ion", "p", t0);
    // Used every 14 minutes, `a` lives past the idle limit measured from its creation.
    for i in 1..=3 {
        assert!(s.get(&a.cookie, "p", t0 + 14 * MIN * i).is_ok());
    }
    assert_eq!(
        s.get(&b.cookie, "p", t0 + 15 * MIN),
        Err(SessionError::IdleExpired)
    );
    // Gone for good, not just refused once.
    assert_eq!(s.get(&b.cookie, "p", t0), Err(SessionError::Unknown));
    assert_eq!(
        s.get(&a.cookie, "p", t0 + 42 * MIN + 15 * MIN),
        Err(SessionError::IdleExpired)
    );
}

#[test]
fn a_busy_session_still_ends_at_its_absolute_lifetime() {
    let s = sessions();
    let t0 = Instant::now();
    let a = s.create("ana", "p", t0);
    let mut t = t0;
    while t + 10 * MIN < t0 + 8 * 60 * MIN {
        t += 10 * MIN;
        assert!(s.get(&a.cookie, "p", t).is_ok(), "refused at {:?}", t - t0);
    }
    assert_eq!(
        s.get(&a.cookie, "p", t0 + 8 * 60 * MIN),
        Err(SessionError::Expired)
    );
    assert_eq!(s.len(), 0);
}

#[test]
fn a_cookie_through_another_path_is_refused_and_revoked() {
    let s = sessions();
    let t0 = Instant::now();
    let a = s.create("ana", "gw-chisinau", t0);
    assert_eq!(
        s.get(&a.cookie, "gw-roma", t0),
        Err(SessionError::WrongPath)
    );
    // The owner, on the right path, has lost the session too: the cookie is taken as stolen.
    assert_eq!(
        s.get(&a.cookie, "gw-chisinau", t0),
        Err(SessionError::Unknown)
    );
}

#[test]
fn forged_and_foreign_cookies_are_unknown() {
    let s = sessions();
    let other = sessions();
    let t0 = Instant::now();
    let mine = s.create("ana", "p", t0);
    let theirs = other.create("ana", "p", t0);
    assert_eq!(s.get(&theirs.cookie, "p", t0), Err(SessionError::Unknown));
    let forged = URL_SAFE_NO_PAD.encode(random::bytes::<32>(&SystemRandom::new()).unwrap());
    for cookie in [
        forged.as_str(),
        "",
        "x",
        mine.csrf.as_str(),
        &mine.cookie[..42],
        &format!("{}A", mine.cookie),
        "ă".repeat(43).as_str(),
    ] {
        assert_eq!(
            s.get(cookie, "p", t0),
            Err(SessionError::Unknown),
            "{cookie:?}"
        );
    }
    // None of those disturbed the real session.
    assert!(s.get(&mine.cookie, "p", t0).is_ok());
}

#[test]
fn a_sixth_session_evicts_that_staff_members_oldest() {
    let s = sessions();
    let t0 = Instant::now();
    let ana: Vec<NewSession> = (0..5).map(|i| s.create("ana", "p", t0 + MIN * i)).collect();
    let ion = s.create("ion", "p", t0);
    // The oldest is used most recently: age, not use, decides.
    assert!(s.get(&ana[0].cookie, "p", t0 + 6 * MIN).is_ok());
    let sixth = s.create("ana", "p", t0 + 7 * MIN);
    assert_eq!(s.len(), 6);
    assert_eq!(
        s.get(&ana[0].cookie, "p", t0 + 7 * MIN),
        Err(SessionError::Unknown)
    );
    for new in ana[1..].iter().chain([&sixth, &ion]) {
        assert!(s.get(&new.cookie, "p", t0 + 7 * MIN).is_ok());
    }
}

#[test]
fn a_full_table_evicts_the_least_recently_used() {
    let s = Sessions::new(SessionPolicy {
        max_sessions: 3,
        ..SessionPolicy::default()
    });
    let t0 = Instant::now();
    let a = s.create("a", "p", t0);
    let b = s.create("b", "p", t0 + MIN);
    let c = s.create("c", "p", t0 + 2 * MIN);
    // `a` is the oldest but was just used; `b` is now the least recently used.
    assert!(s.get(&a.cookie, "p", t0 + 3 * MIN).is_ok());
    let d = s.create("d", "p", t0 + 4 * MIN);
    assert_eq!(s.len(), 3);
    assert_eq!(
        s.get(&b.cookie, "p", t0 + 4 * MIN),
        Err(SessionError::Unknown)
    );
    for new in [&a, &c, &d] {
        assert!(s.get(&new.cookie, "p", t0 + 4 * MIN).is_ok());
    }
}

#[test]
fn a_full_table_drops_expired_sessions_before_live_ones() {
    let s = Sessions::new(SessionPolicy {
        max_sessions: 3,
        ..SessionPolicy::default()
    });
    let t0 = Instant::now();
    let _stale = s.create("a", "p", t0);
    let b = s.create("b", "p", t0 + 10 * MIN);
    let _stale2 = s.create("c", "p", t0 + MIN);
    let d = s.create("d", "p", t0 + 20 * MIN);
    // Both stale sessions went (idle 15 min), not the live `b`.
    assert_eq!(s.len(), 2);
    assert!(s.get(&b.cookie, "p", t0 + 20 * MIN).is_ok());
    assert!(s.get(&d.cookie, "p", t0 + 20 * MIN).is_ok());
}

#[test]
fn sweep_drops_only_expired_sessions() {
    let s = sessions();
    let t0 = Instant::now();
    s.create("a", "p", t0);
    s.create("b", "p", t0 + 5 * MIN);
    let live = s.create("c", "p", t0 + 10 * MIN);
    assert_eq!(s.sweep(t0 + 14 * MIN), 0);
    assert_eq!(s.sweep(t0 + 20 * MIN), 2);
    assert_eq!(s.len(), 1);
    assert!(s.get(&live.cookie, "p", t0 + 20 * MIN).is_ok());
    assert_eq!(s.sweep(t0 + 60 * MIN), 1);
    assert!(s.is_empty());
}

#[test]
fn revoke_ends_one_session_and_revoke_staff_all_of_theirs() {
    let s = sessions();
    let t0 = Instant::now();
    let a1 = s.create("ana", "p", t0);
    let a2 = s.create("ana", "q", t0);
    let a3 = s.create("ana", "r", t0);
    let ion = s.create("ion", "p", t0);
    s.revoke(&a1.cookie);
    s.revoke("not a cookie");
    assert_eq!(s.get(&a1.cookie, "p", t0), Err(SessionError::Unknown));
    assert_eq!(s.revoke_staff("ana"), 2);
    assert_eq!(s.get(&a2.cookie, "q", t0), Err(SessionError::Unknown));
    assert_eq!(s.get(&a3.cookie, "r", t0), Err(SessionError::Unknown));
    assert!(s.get(&ion.cookie, "p", t0).is_ok());
    assert_eq!(s.revoke_staff("ana"), 0);
}

#[test]
fn sessions_are_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Sessions>();
    let s = std::sync::Arc::new(sessions());
    let t0 = Instant::now();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let s = std::sync::Arc::clone(&s);
            std::thread::spawn(move || {
                let new = s.create(&format!("staff{i}"), "p", t0);
                s.get(&new.cookie, "p", t0).unwrap().staff
            })
        })
        .collect();
    let mut staff: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    staff.sort();
    assert_eq!(staff, ["staff0", "staff1", "staff2", "staff3"]);
    assert_eq!(s.len(), 4);
}
