use proptest::prelude::*;

use super::*;

/// Valid CNPs, checked against an independent implementation of the algorithm, with what each
/// one exercises.
const VALID: &[(&str, &str)] = &[
    ("1630615123457", "python-stdnum's example"),
    ("1070504429315", "male, 1907"),
    ("2700116065277", "female, 1970"),
    (
        "4910527475018",
        "female, 1891, county 47 (former Bucharest sector 7)",
    ),
    ("5000101400012", "male, 2000, county 40"),
    ("6000229401231", "female, 29 February 2000"),
    ("5000229400019", "male, 29 February 2000"),
    ("1960529460012", "Bucharest sector 6"),
    ("2851231123454", "31 December"),
    ("3001012050506", "male, 1800"),
    ("1991231513452", "county 51 (Călărași)"),
    ("7001231701231", "foreign resident, county 70"),
    (
        "9000229400016",
        "foreign person, 29 February of a year 00 (valid in 2000)",
    ),
    ("8000229709997", "serial 999"),
    ("1850505100061", "sum ≡ 10 (mod 11): check digit 1"),
];

/// Invalid CNPs and the error each must give.
const INVALID: &[(&str, CnpError)] = &[
    ("1630615123458", CnpError::CheckDigit),
    ("2701116065271", CnpError::CheckDigit),
    ("1850505100060", CnpError::CheckDigit),
    ("0800101221142", CnpError::Sex),
    ("1980010141006", CnpError::Date),
    ("2701316065277", CnpError::Date),
    ("2701135065277", CnpError::Date),
    ("1000229400011", CnpError::Date),
    ("1850431120015", CnpError::Date),
    ("1850505490018", CnpError::County(49)),
    ("1850505530019", CnpError::County(53)),
    ("1850505000014", CnpError::County(0)),
    ("1850505120005", CnpError::Serial),
    ("27001160C5277", CnpError::NotDigit(9)),
    ("163061512345", CnpError::Length(12)),
    ("16306151234570", CnpError::Length(14)),
    ("", CnpError::Length(0)),
    ("1630615 123457", CnpError::Length(14)),
    ("16306151234５7", CnpError::NotDigit(12)),
];

#[test]
fn valid_cnps_parse() {
    for (cnp, why) in VALID {
        assert!(Cnp::parse(cnp).is_ok(), "{why}: {:?}", Cnp::parse(cnp));
    }
    assert!(
        Cnp::parse("  1630615123457\n").is_ok(),
        "surrounding whitespace is ignored"
    );
}

#[test]
fn invalid_cnps_name_the_problem() {
    for (cnp, error) in INVALID {
        assert_eq!(Cnp::parse(cnp), Err(*error), "{cnp}");
    }
}

#[test]
fn cnp_fields() {
    let cnp = Cnp::parse("2851231123454").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cnp.sex(), Some(Sex::Female));
    assert_eq!(cnp.birth_date(), Some((1985, 12, 31)));
    assert_eq!(cnp.county(), 12);
    let resident = Cnp::parse("7001231701231").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resident.sex(), Some(Sex::Male));
    assert_eq!(resident.birth_date(), None, "the century is not encoded");
    let foreign = Cnp::parse("9000229400016").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(foreign.sex(), None);
}

#[test]
fn a_cnp_is_never_shown_in_full() {
    let cnp = Cnp::parse("1630615123457").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cnp.masked(), "1*********457");
    assert_eq!(format!("{cnp}"), "1*********457");
    assert_eq!(format!("{cnp:?}"), "Cnp(1*********457)");
    assert_eq!(cnp.expose(), "1630615123457");
    // Errors never carry the input.
    for (input, _) in INVALID {
        let message = Cnp::parse(input)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            input.len() < 6 || !message.contains(&input[..6]),
            "{message}"
        );
    }
}

#[test]
fn passports() {
    let ro = PassportNo::parse_romanian("05 123 4567").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ro.expose(), "051234567");
    assert_eq!(ro.masked(), "*******67");
    assert_eq!(format!("{ro:?}"), "PassportNo(*******67)");
    assert!(PassportNo::parse_romanian("12345678").is_ok());
    assert_eq!(
        PassportNo::parse_romanian("1234567"),
        Err(PassportError::Length {
            min: 8,
            max: 9,
            found: 7
        })
    );
    assert_eq!(
        PassportNo::parse_romanian("05123456A"),
        Err(PassportError::NotDigit(9))
    );

    let fr = PassportNo::parse("19ab12345").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fr.expose(), "19AB12345");
    assert_eq!(PassportNo::parse("ABCDEFG"), Err(PassportError::NoDigit));
    assert_eq!(
        PassportNo::parse("AB-12345"),
        Err(PassportError::Character(3))
    );
    assert_eq!(
        PassportNo::parse("1234567890"),
        Err(PassportError::Length {
            min: 6,
            max: 9,
            found: 10
        })
    );
    assert_eq!(
        PassportNo::parse("ÄB12345"),
        Err(PassportError::Character(1))
    );
}

#[test]
fn mask_shapes() {
    assert_eq!(mask(""), "");
    assert_eq!(mask("12345"), "*****");
    assert_eq!(mask("123456"), "****56");
    assert_eq!(mask("1234567890"), "1******890");
    assert_eq!(mask("ăîșțâ1234567"), "ă********567");
}

/// A valid CNP from arbitrary parts.
fn valid_cnp() -> impl Strategy<Value = String> {
    (
        1u8..=6,
        0u8..=99,
        1u8..=12,
        1u8..=28,
        prop::sample::select(vec![1u8, 12, 40, 46, 51, 52, 70]),
        1u16..=999,
    )
        .prop_map(|(s, yy, mm, dd, jj, nnn)| {
            let first12 = format!("{s}{yy:02}{mm:02}{dd:02}{jj:02}{nnn:03}");
            let mut digits = [0u8; 12];
            for (d, b) in digits.iter_mut().zip(first12.bytes()) {
                *d = b - b'0';
            }
            format!("{first12}{}", cnp_check_digit(&digits))
        })
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,20}") {
        let _ = Cnp::parse(&s);
        let _ = PassportNo::parse(&s);
        let _ = PassportNo::parse_romanian(&s);
        let _ = mask(&s);
    }

    #[test]
    fn digit_strings_never_panic(s in "[0-9]{13}") {
        if let Ok(cnp) = Cnp::parse(&s) {
            prop_assert_eq!(cnp.expose(), s.as_str());
        }
    }

    #[test]
    fn generated_cnps_are_valid(cnp in valid_cnp()) {
        prop_assert!(Cnp::parse(&cnp).is_ok(), "{}", cnp);
    }

    /// Changing any one digit is caught, except between the two sums that both give check
    /// digit 1 (remainders 1 and 10), which the algorithm cannot tell apart.
    #[test]
    fn one_wrong_digit_is_caught(cnp in valid_cnp(), position in 0usize..13, delta in 1u8..=9) {
        let mut bytes = cnp.clone().into_bytes();
        bytes[position] = b'0' + (bytes[position] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).unwrap_or_default();
        if let Ok(parsed) = Cnp::parse(&changed) {
            prop_assert_eq!(&cnp[12..], "1", "{} → {} accepted", cnp, parsed.expose());
            prop_assert!(position < 12);
        }
    }

    #[test]
    fn mask_hides_more_than_half(s in "[0-9A-Z]{0,20}") {
        let masked = mask(&s);
        prop_assert_eq!(masked.chars().count(), s.chars().count());
        let shown = masked.chars().filter(|&c| c != '*').count();
        prop_assert!(s.is_empty() || shown * 2 < s.chars().count());
        if s.len() >= 4 {
            prop_assert_ne!(masked, s);
        }
    }
}
