use super::*;

fn ivr() -> (Ivr, Instant) {
    (Ivr::new(IvrSettings::default()), Instant::now())
}

#[test]
fn english_with_a_case_number() {
    let (mut ivr, t0) = ivr();
    assert!(ivr.on_key(t0, '2'), "a key interrupts the prompt");
    assert_eq!(ivr.result(), None);
    for key in "12345".chars() {
        ivr.on_key(t0 + Duration::from_secs(1), key);
    }
    ivr.on_key(t0 + Duration::from_secs(2), '#');
    let result = ivr.result().expect("done");
    assert_eq!(result.language, Language::En);
    assert_eq!(result.digits, "12345");
    assert!(!result.emergency && !result.defaulted);
    assert_eq!(result.keys, "212345#");
}

#[test]
fn romanian_ends_after_the_digit_pause() {
    let (mut ivr, t0) = ivr();
    ivr.on_key(t0, '1');
    ivr.handle_timeout(t0 + Duration::from_millis(2_999));
    assert_eq!(ivr.result(), None);
    assert_eq!(ivr.poll_timeout(), Some(t0 + Duration::from_secs(3)));
    ivr.handle_timeout(t0 + Duration::from_secs(3));
    let result = ivr.result().expect("done");
    assert_eq!(result.language, Language::Ro);
    assert_eq!(result.digits, "");
}

#[test]
fn nine_is_an_emergency_at_once() {
    let (mut ivr, t0) = ivr();
    ivr.on_key(t0, '9');
    let result = ivr.result().expect("done at once");
    assert!(result.emergency);
    assert_eq!(result.language, Language::Ro);
    assert!(!ivr.on_key(t0, '2'), "keys after the end change nothing");
    assert_eq!(ivr.result().expect("done").language, Language::Ro);
}

#[test]
fn no_choice_takes_the_default_after_the_prompt() {
    let mut ivr = Ivr::new(IvrSettings {
        default_language: Language::En,
        ..IvrSettings::default()
    });
    let t0 = Instant::now();
    assert_eq!(
        ivr.poll_timeout(),
        None,
        "no deadline while the prompt plays"
    );
    ivr.prompt_finished(t0);
    ivr.on_key(t0, '7');
    ivr.handle_timeout(t0 + Duration::from_secs(5));
    let result = ivr.result().expect("done");
    assert!(result.defaulted);
    assert_eq!(result.language, Language::En);
    assert_eq!(result.keys, "7");
}

#[test]
fn a_held_keypad_is_bounded() {
    let (mut ivr, t0) = ivr();
    ivr.on_key(t0, '1');
    for _ in 0..1000 {
        ivr.on_key(t0, '5');
    }
    ivr.on_key(t0, '#');
    let result = ivr.result().expect("done");
    assert_eq!(result.digits.len(), MAX_KEYS);
    assert!(result.keys.len() <= MAX_KEYS);
}
