use proptest::prelude::*;

use super::*;

fn event(event: u8, end: bool, duration: u16) -> [u8; 4] {
    TelephoneEvent {
        event,
        end,
        volume: 10,
        duration,
    }
    .to_bytes()
}

#[test]
fn parses_rfc4733_payload() {
    // Key 5, end bit, volume 10, duration 800 (100 ms at 8 kHz).
    let parsed = TelephoneEvent::parse(&[5, 0x8a, 0x03, 0x20]).expect("parses");
    assert_eq!(
        parsed,
        TelephoneEvent {
            event: 5,
            end: true,
            volume: 10,
            duration: 800
        }
    );
    assert_eq!(parsed.digit(), Some('5'));
    assert_eq!(TelephoneEvent::parse(&[5, 0x8a, 0x03]), Err(EventError));
    assert_eq!(TelephoneEvent::parse(&[]), Err(EventError));
    assert_eq!(digit(10), Some('*'));
    assert_eq!(digit(11), Some('#'));
    assert_eq!(digit(15), Some('D'));
    assert_eq!(digit(16), None);
}

#[test]
fn one_key_press_is_reported_once_despite_three_end_packets() {
    let mut rx = Receiver::new();
    let mut keys = Vec::new();
    for (ts, payload) in [
        (1000, event(9, false, 160)),
        (1000, event(9, false, 320)),
        (1000, event(9, true, 480)),
        (1000, event(9, true, 480)),
        (1000, event(9, true, 480)),
        // The same key again is a new press: a new timestamp.
        (3000, event(9, false, 160)),
        (3000, event(9, true, 320)),
        (3000, event(9, true, 320)),
    ] {
        keys.extend(rx.receive(ts, &payload).into_iter().flatten());
    }
    assert_eq!(keys, ['9', '9']);
}

#[test]
fn a_press_whose_end_was_lost_is_reported_when_the_next_begins() {
    let mut rx = Receiver::new();
    assert_eq!(rx.receive(100, &event(1, false, 160)), [None, None]);
    assert_eq!(rx.receive(900, &event(2, false, 160)), [Some('1'), None]);
    assert_eq!(rx.receive(900, &event(2, true, 320)), [None, Some('2')]);
}

#[test]
fn non_dtmf_events_and_garbage_report_nothing() {
    let mut rx = Receiver::new();
    assert_eq!(rx.receive(1, &event(16, true, 100)), [None, None]);
    assert_eq!(rx.receive(2, b"xyz"), [None, None]);
}

proptest! {
    #[test]
    fn never_panics(packets in proptest::collection::vec(
        (0u32..4, proptest::collection::vec(any::<u8>(), 0..12)), 0..40)) {
        let mut rx = Receiver::new();
        let mut reported = 0;
        for (ts, payload) in &packets {
            reported += rx.receive(*ts, payload).iter().flatten().count();
        }
        // At most one report per distinct run of a timestamp, and never more than packets.
        prop_assert!(reported <= packets.len());
    }

    #[test]
    fn parse_round_trips(e: u8, end: bool, volume in 0u8..64, duration: u16) {
        let ev = TelephoneEvent { event: e, end, volume, duration };
        prop_assert_eq!(TelephoneEvent::parse(&ev.to_bytes()), Ok(ev));
    }
}
