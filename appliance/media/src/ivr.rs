//! The menu a caller hears before the call is queued, as a sans-IO state machine: time is an
//! argument, keys come from the DTMF receiver, and the outcome is an [`IvrResult`] the
//! routing layer reads (language, emergency, a case number typed on the keypad).
//!
//! The menu: `1` Romanian, `2` English, `9` emergency (in the default language). A key
//! interrupts the prompt. After a language choice the caller may type a case number ended by
//! `#` (or by a pause of `digit_timeout`). No choice within `choice_timeout` of the prompt's
//! end: the default language, marked `defaulted`.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The caller's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Ro,
    En,
}

/// What the menu learnt about a call: a plain value for the routing layer and the call
/// record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IvrResult {
    pub language: Language,
    /// The caller pressed 9: route ahead of every other call.
    pub emergency: bool,
    /// Keys typed after the choice, without the closing `#` (a case number); at most
    /// [`MAX_KEYS`].
    pub digits: String,
    /// Nothing was chosen in time: `language` is the default.
    pub defaulted: bool,
    /// Every key received, in order, for the call record.
    pub keys: String,
}

/// Keys kept per call; a caller holding the keypad cannot grow the record.
pub const MAX_KEYS: usize = 32;

/// The menu's timing and default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvrSettings {
    /// From the end of the prompt to the default choice.
    pub choice_timeout: Duration,
    /// After the choice (or a typed digit), how long to wait for another digit.
    pub digit_timeout: Duration,
    pub default_language: Language,
}

impl Default for IvrSettings {
    fn default() -> IvrSettings {
        IvrSettings {
            choice_timeout: Duration::from_secs(5),
            digit_timeout: Duration::from_secs(3),
            default_language: Language::Ro,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The prompt plays (no deadline) or has ended (deadline for the default).
    Choosing(Option<Instant>),
    /// A language was chosen; digits until `#` or the deadline.
    Digits(Instant),
    Done,
}

/// One caller's pass through the menu.
#[derive(Debug, Clone)]
pub struct Ivr {
    settings: IvrSettings,
    state: State,
    result: IvrResult,
}

impl Ivr {
    pub fn new(settings: IvrSettings) -> Ivr {
        Ivr {
            settings,
            state: State::Choosing(None),
            result: IvrResult {
                language: settings.default_language,
                emergency: false,
                digits: String::new(),
                defaulted: false,
                keys: String::new(),
            },
        }
    }

    /// The prompt ended (or was interrupted): the choice timer starts.
    pub fn prompt_finished(&mut self, now: Instant) {
        if self.state == State::Choosing(None) {
            self.state = State::Choosing(Some(now + self.settings.choice_timeout));
        }
    }

    /// A key from the caller. Returns whether the prompt should stop (any key barges in).
    pub fn on_key(&mut self, now: Instant, key: char) -> bool {
        if self.state == State::Done {
            return false;
        }
        if self.result.keys.len() < MAX_KEYS {
            self.result.keys.push(key);
        }
        match self.state {
            State::Choosing(_) => match key {
                '1' | '2' => {
                    self.result.language = if key == '1' {
                        Language::Ro
                    } else {
                        Language::En
                    };
                    self.state = State::Digits(now + self.settings.digit_timeout);
                }
                '9' => {
                    // An emergency does not wait for anything else.
                    self.result.emergency = true;
                    self.state = State::Done;
                }
                // Any other key: the menu keeps waiting for a valid choice.
                _ => self.prompt_finished(now),
            },
            State::Digits(_) => match key {
                '#' => self.state = State::Done,
                '0'..='9' if self.result.digits.len() < MAX_KEYS => {
                    self.result.digits.push(key);
                    self.state = State::Digits(now + self.settings.digit_timeout);
                }
                _ => {}
            },
            State::Done => {}
        }
        true
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Choosing(deadline) => deadline,
            State::Digits(deadline) => Some(deadline),
            State::Done => None,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Choosing(Some(deadline)) if now >= deadline => {
                self.result.defaulted = true;
                self.state = State::Done;
            }
            State::Digits(deadline) if now >= deadline => self.state = State::Done,
            _ => {}
        }
    }

    /// The outcome, once the menu is done.
    pub fn result(&self) -> Option<&IvrResult> {
        (self.state == State::Done).then_some(&self.result)
    }
}

#[cfg(test)]
mod tests;
