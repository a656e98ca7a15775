//! DTMF received as RFC 4733 telephone-events: the 4-byte payload parsed without panicking,
//! and a receiver that reports each key press once although a sender repeats the event's
//! packets while the key is held and sends its end packet three times (§2.5.1.4).

/// One telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// 0–9, 10 `*`, 11 `#`, 12–15 `A`–`D`, 16 flash, others not DTMF.
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level in −dBm0 (0–63).
    pub volume: u8,
    /// In timestamp units since the event began.
    pub duration: u16,
}

/// Why a payload is not a telephone-event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("telephone-event payload is not a multiple of 4 bytes")]
pub struct EventError;

impl TelephoneEvent {
    /// Parses the first event block of an RTP payload. A payload that is not a whole number of
    /// 4-byte blocks is refused.
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, EventError> {
        if payload.is_empty() || !payload.len().is_multiple_of(4) {
            return Err(EventError);
        }
        let [event, flags, hi, lo, ..] = *payload else {
            return Err(EventError);
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([hi, lo]),
        })
    }

    /// Writes the 4-byte payload (for tests and for sending events).
    pub fn to_bytes(&self) -> [u8; 4] {
        let [hi, lo] = self.duration.to_be_bytes();
        let end = if self.end { 0x80 } else { 0 };
        [self.event, end | (self.volume & 0x3f), hi, lo]
    }

    /// The key this event stands for, if it is a DTMF key.
    pub fn digit(&self) -> Option<char> {
        digit(self.event)
    }
}

/// The DTMF key of event code `event`.
pub fn digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// Turns the telephone-event packets of one RTP stream into key presses, once each.
///
/// All packets of one event carry the same RTP timestamp (§2.5.1.2), so the timestamp and
/// the event code identify the key press. A press is reported at its first end packet; its repeated end
/// packets are ignored. A press whose end packets were all lost is reported when the next
/// event begins (§2.5.2.2: a new event ends the previous one).
#[derive(Debug, Default, Clone)]
pub struct Receiver {
    /// The event in progress: (timestamp, event code, key, already reported).
    current: Option<(u32, u8, Option<char>, bool)>,
}

impl Receiver {
    pub fn new() -> Receiver {
        Receiver::default()
    }

    /// Feeds one telephone-event packet's RTP timestamp and payload; returns up to two keys
    /// (a previous press whose end was lost, then this one), in order.
    pub fn receive(&mut self, timestamp: u32, payload: &[u8]) -> [Option<char>; 2] {
        let Ok(event) = TelephoneEvent::parse(payload) else {
            return [None, None];
        };
        let mut keys = [None, None];
        match self.current {
            Some((ts, code, _, _)) if ts == timestamp && code == event.event => {}
            previous => {
                if let Some((_, _, key, false)) = previous {
                    keys[0] = key;
                }
                self.current = Some((timestamp, event.event, event.digit(), false));
            }
        }
        if let Some((_, _, key, reported)) = self.current.as_mut()
            && event.end
            && !*reported
        {
            *reported = true;
            keys[1] = *key;
        }
        keys
    }
}

#[cfg(test)]
mod tests;
