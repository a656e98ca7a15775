//! Identity numbers: the Romanian personal numeric code (CNP) and passport numbers.
//!
//! Both are validated when they enter the system and are never shown back in full: `Debug` and
//! `Display` print the masked form, errors never contain the input, and the full value is only
//! reachable through an explicit `expose()`, for storage.
//!
//! A CNP is `S YY MM DD JJ NNN C`: `S` sex and century (1/2 born 1900–1999, 3/4 1800–1899,
//! 5/6 2000–2099, 7/8 foreign residents, 9 foreign persons), the birth date, `JJ` the county
//! (01–46, Bucharest sectors 41–46, the former sectors 47–48, 51–52, and 70 for registrations not
//! tied to a county), `NNN` a serial 001–999, and `C` the check digit: the first twelve digits
//! times `279146358279`, summed, modulo 11, with 10 written as 1. The date is checked as a
//! calendar date; whether it lies in the future needs a clock, which this crate does not have.

use std::fmt;

#[cfg(test)]
mod tests;

/// The weights of the CNP check digit.
const CNP_WEIGHTS: [u32; 12] = [2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9];

/// Why a text is not a valid CNP. No variant holds the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CnpError {
    #[error("a CNP has 13 digits, not {0}")]
    Length(usize),
    #[error("a CNP has only digits (character {0} is not one)")]
    NotDigit(usize),
    #[error("the first digit of a CNP is 1 to 9")]
    Sex,
    #[error("the birth date in the CNP is not a calendar date")]
    Date,
    #[error("{0:02} is not a county code")]
    County(u8),
    #[error("the serial number in the CNP cannot be 000")]
    Serial,
    #[error("the check digit does not match (mistyped digit?)")]
    CheckDigit,
}

/// Sex as encoded in the first digit of a CNP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

/// A validated CNP. `Debug` and `Display` show it masked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cnp([u8; 13]);

impl Cnp {
    /// Validates a CNP. Surrounding whitespace is ignored; nothing else is.
    pub fn parse(text: &str) -> Result<Self, CnpError> {
        let text = text.trim();
        let count = text.chars().count();
        if count != 13 {
            return Err(CnpError::Length(count));
        }
        let mut digits = [0u8; 13];
        for (i, (slot, b)) in digits.iter_mut().zip(text.bytes()).enumerate() {
            if !b.is_ascii_digit() {
                return Err(CnpError::NotDigit(i + 1));
            }
            *slot = b - b'0';
        }
        let [s, y1, y2, m1, m2, d1, d2, j1, j2, n1, n2, n3, check] = digits;
        if s == 0 {
            return Err(CnpError::Sex);
        }
        let (yy, month, day) = (y1 * 10 + y2, m1 * 10 + m2, d1 * 10 + d2);
        let valid_date = match century(s) {
            Some(base) => is_date(base + u16::from(yy), month, day),
            // Residents and foreigners: the century is not encoded; either may be meant.
            None => {
                is_date(1900 + u16::from(yy), month, day)
                    || is_date(2000 + u16::from(yy), month, day)
            }
        };
        if !valid_date {
            return Err(CnpError::Date);
        }
        let county = j1 * 10 + j2;
        if !is_county(county) {
            return Err(CnpError::County(county));
        }
        if n1 == 0 && n2 == 0 && n3 == 0 {
            return Err(CnpError::Serial);
        }
        let mut first12 = [0u8; 12];
        first12.copy_from_slice(&digits[..12]);
        if cnp_check_digit(&first12) != check {
            return Err(CnpError::CheckDigit);
        }
        Ok(Self(digits.map(|d| d + b'0')))
    }

    /// Sex, for codes 1–8; `None` for 9 (foreign persons), which does not encode it.
    pub fn sex(&self) -> Option<Sex> {
        match self.0[0] - b'0' {
            9 => None,
            s if s % 2 == 1 => Some(Sex::Male),
            _ => Some(Sex::Female),
        }
    }

    /// `(year, month, day)` of birth, when the first digit encodes the century (1–6).
    pub fn birth_date(&self) -> Option<(u16, u8, u8)> {
        let d = |i: usize| self.0[i] - b'0';
        let base = century(d(0))?;
        Some((
            base + u16::from(d(1) * 10 + d(2)),
            d(3) * 10 + d(4),
            d(5) * 10 + d(6),
        ))
    }

    /// The county code `JJ`.
    pub fn county(&self) -> u8 {
        (self.0[7] - b'0') * 10 + (self.0[8] - b'0')
    }

    /// The CNP masked for display: `1*********123`.
    pub fn masked(&self) -> String {
        mask(self.expose())
    }

    /// The full 13 digits, for storage. Never show this to a person or write it to a log.
    pub fn expose(&self) -> &str {
        // Always ASCII digits: built from validated input above.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Cnp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cnp({})", self.masked())
    }
}

impl fmt::Display for Cnp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// The check digit for the first twelve digits (each 0–9) of a CNP.
pub fn cnp_check_digit(first12: &[u8; 12]) -> u8 {
    let sum: u32 = first12
        .iter()
        .zip(CNP_WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    match sum % 11 {
        10 => 1,
        // `sum % 11` is below 10 here.
        r => r as u8,
    }
}

fn century(s: u8) -> Option<u16> {
    match s {
        1 | 2 => Some(1900),
        3 | 4 => Some(1800),
        5 | 6 => Some(2000),
        _ => None,
    }
}

fn is_county(code: u8) -> bool {
    matches!(code, 1..=48 | 51 | 52 | 70)
}

fn is_date(year: u16, month: u8, day: u8) -> bool {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Why a text is not a valid passport number. No variant holds the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PassportError {
    #[error("a passport number has {min} to {max} characters, not {found}")]
    Length {
        min: usize,
        max: usize,
        found: usize,
    },
    #[error("a passport number has only letters A-Z and digits (character {0} is not one)")]
    Character(usize),
    #[error("a Romanian passport number has only digits (character {0} is not one)")]
    NotDigit(usize),
    #[error("a passport number has at least one digit")]
    NoDigit,
}

/// A passport number that passed a format check (not a check against any register).
/// `Debug` and `Display` show it masked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PassportNo(String);

impl PassportNo {
    /// Checks the ICAO 9303 document-number format any country may use: 6 to 9 letters A-Z and
    /// digits, at least one digit. Spaces are dropped and letters upper-cased first.
    pub fn parse(text: &str) -> Result<Self, PassportError> {
        let normalized = normalize(text);
        check_length(&normalized, 6, 9)?;
        if let Some(i) = normalized
            .chars()
            .position(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit()))
        {
            return Err(PassportError::Character(i + 1));
        }
        if !normalized.bytes().any(|b| b.is_ascii_digit()) {
            return Err(PassportError::NoDigit);
        }
        Ok(Self(normalized))
    }

    /// Checks a Romanian passport number: 8 digits (older and temporary passports) or 9
    /// (electronic passports). Spaces are dropped first.
    pub fn parse_romanian(text: &str) -> Result<Self, PassportError> {
        let normalized = normalize(text);
        check_length(&normalized, 8, 9)?;
        if let Some(i) = normalized.chars().position(|c| !c.is_ascii_digit()) {
            return Err(PassportError::NotDigit(i + 1));
        }
        Ok(Self(normalized))
    }

    /// The number masked for display: `*******89`.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }

    /// The full number, for storage. Never show this to a person or write it to a log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn check_length(s: &str, min: usize, max: usize) -> Result<(), PassportError> {
    let found = s.chars().count();
    if (min..=max).contains(&found) {
        Ok(())
    } else {
        Err(PassportError::Length { min, max, found })
    }
}

impl fmt::Debug for PassportNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PassportNo({})", self.masked())
    }
}

impl fmt::Display for PassportNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Masks an identifier for display, keeping its length: 10 or more characters show the first
/// and the last three (`1*********123`), 6 to 9 show the last two (`*******89`), shorter ones
/// show nothing. More than half of the characters are always hidden.
pub fn mask(identifier: &str) -> String {
    let chars: Vec<char> = identifier.chars().collect();
    let n = chars.len();
    let (head, tail) = match n {
        10.. => (1, 3),
        6..=9 => (0, 2),
        _ => (0, 0),
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| if i < head || i >= n - tail { c } else { '*' })
        .collect()
}
