//! One-time enrollment codes a person can read over the phone and type.
//!
//! `K7QF-2M9X-HT4A-W8RC-J`: Crockford base32 (no I, L, O, U; case and those look-alikes are
//! forgiven when typed). The first group is the code's public id, which tells the hub which
//! enrollment it is; the next three groups are the 60-bit secret, used only as the PAKE
//! password; the last character is a Luhn mod 32 check character that catches every single
//! typo and most swaps before anything is sent.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ID_LEN: usize = 4;
const SECRET_LEN: usize = 12;
/// Bits of secret entropy: 12 base32 characters.
pub const SECRET_BITS: u32 = 60;

/// An enrollment code.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollCode {
    id: String,
    secret: String,
}

/// A typed code that cannot be right, found before contacting the hub.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error(
        "an enrollment code has {expected} characters (not counting dashes); this one has {found}"
    )]
    Length { expected: usize, found: usize },
    #[error("{0:?} cannot appear in an enrollment code")]
    Character(char),
    #[error("the code does not check out: a character is mistyped")]
    Check,
    #[error("system random number generator failed")]
    Random,
}

impl EnrollCode {
    /// A fresh random code.
    pub fn generate() -> Result<Self, CodeError> {
        let mut raw = [0u8; ID_LEN + SECRET_LEN];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| CodeError::Random)?;
        let chars: String = raw
            .iter()
            .map(|b| ALPHABET[usize::from(b & 31)] as char)
            .collect();
        let (id, secret) = chars.split_at(ID_LEN);
        Ok(Self {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// Parses what a person typed: dashes and spaces ignored, any case, `O`→`0`, `I`/`L`→`1`.
    pub fn parse(typed: &str) -> Result<Self, CodeError> {
        let mut digits = Vec::with_capacity(ID_LEN + SECRET_LEN + 1);
        for c in typed.chars().filter(|c| !matches!(c, '-' | ' ' | '\t')) {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            let value = ALPHABET
                .iter()
                .position(|a| *a as char == c)
                .ok_or(CodeError::Character(c))?;
            digits.push(value);
        }
        let expected = ID_LEN + SECRET_LEN + 1;
        if digits.len() != expected {
            return Err(CodeError::Length {
                expected,
                found: digits.len(),
            });
        }
        let (body, check) = digits.split_at(ID_LEN + SECRET_LEN);
        if luhn32(body) != check[0] {
            return Err(CodeError::Check);
        }
        let chars: String = body.iter().map(|d| ALPHABET[*d] as char).collect();
        let (id, secret) = chars.split_at(ID_LEN);
        Ok(Self {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// The public part: which enrollment this code is for.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret part: the PAKE password. Never logged.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Rebuilds a code from its stored parts (hub side).
    pub fn from_parts(id: &str, secret: &str) -> Result<Self, CodeError> {
        let found = id.len() + secret.len();
        if id.len() != ID_LEN || secret.len() != SECRET_LEN {
            return Err(CodeError::Length {
                expected: ID_LEN + SECRET_LEN,
                found,
            });
        }
        if let Some(c) = id
            .chars()
            .chain(secret.chars())
            .find(|c| !ALPHABET.contains(&(*c as u8)) || !c.is_ascii())
        {
            return Err(CodeError::Character(c));
        }
        Ok(Self {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }
}

impl fmt::Display for EnrollCode {
    /// The grouped form with its check character, for printing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = format!("{}{}", self.id, self.secret);
        let digits: Vec<usize> = body
            .bytes()
            .filter_map(|b| ALPHABET.iter().position(|a| *a == b))
            .collect();
        let check = ALPHABET[luhn32(&digits)] as char;
        let groups: Vec<&str> = [&body[..4], &body[4..8], &body[8..12], &body[12..16]].into();
        write!(f, "{}-{check}", groups.join("-"))
    }
}

impl fmt::Debug for EnrollCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnrollCode({}-****)", self.id)
    }
}

/// The Luhn mod N check character for base-32 digits.
fn luhn32(digits: &[usize]) -> usize {
    const N: usize = 32;
    let mut factor = 2;
    let mut sum = 0;
    for d in digits.iter().rev() {
        let addend = factor * d;
        sum += addend / N + addend % N;
        factor = if factor == 2 { 1 } else { 2 };
    }
    (N - sum % N) % N
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_codes_parse_back_forgiving_case_and_look_alikes() {
        for _ in 0..200 {
            let code = EnrollCode::generate().expect("rng");
            let printed = code.to_string();
            assert_eq!(printed.len(), 4 * 4 + 4 + 1);
            assert_eq!(EnrollCode::parse(&printed), Ok(code.clone()));
            let sloppy = printed
                .to_lowercase()
                .replace('-', " ")
                .replace('0', "o")
                .replace('1', "l");
            assert_eq!(EnrollCode::parse(&sloppy), Ok(code));
        }
    }

    #[test]
    fn every_single_typo_is_caught_before_sending() {
        let code = EnrollCode::generate().expect("rng").to_string();
        let chars: Vec<char> = code.chars().collect();
        for (i, c) in chars.iter().enumerate().filter(|(_, c)| **c != '-') {
            for &replacement in ALPHABET.iter() {
                if replacement as char == *c {
                    continue;
                }
                let mut typo = chars.clone();
                typo[i] = replacement as char;
                let typo: String = typo.into_iter().collect();
                assert_eq!(EnrollCode::parse(&typo), Err(CodeError::Check), "{typo}");
            }
        }
    }

    #[test]
    fn wrong_length_and_alien_characters_say_so() {
        assert!(matches!(
            EnrollCode::parse("ABCD-EFGH"),
            Err(CodeError::Length { found: 8, .. })
        ));
        assert_eq!(
            EnrollCode::parse("ABCD-EFGH-JKMN-PQRS-U"),
            Err(CodeError::Character('U'))
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let code = EnrollCode::generate().expect("rng");
        assert!(!format!("{code:?}").contains(code.secret()));
    }

    #[test]
    fn entropy_is_at_least_fifty_bits() {
        const { assert!(SECRET_BITS >= 50) };
        assert_eq!(SECRET_LEN * 5, SECRET_BITS as usize);
    }
}
