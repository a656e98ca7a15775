//! Text folding: the one normalisation that the classifier, the emergency words and the city
//! lookup share, so that a term written once in a data file matches every spelling a citizen
//! may type.
//!
//! Folding lowercases, drops diacritics (both the comma-below `ș ț` and the cedilla `ş ţ` that
//! older keyboards produce, `ă â î`, and the Latin letters of the host countries), and drops
//! combining marks so decomposed input folds like composed input. Words are maximal runs of
//! letters and digits; everything else separates them.

/// Folds `text`: lowercase, without diacritics. Characters that are not letters keep their
/// place, so word boundaries survive.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        for lower in c.to_lowercase() {
            push_folded(lower, &mut out);
        }
    }
    out
}

/// The folded words of `text`, in order.
pub fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The folded words of `text` joined by single spaces: the key under which a city is looked up.
pub(crate) fn key(text: &str) -> String {
    words(text).join(" ")
}

fn push_folded(c: char, out: &mut String) {
    let folded = match c {
        // Combining diacritical marks, from decomposed input ("s\u{326}" is "ș").
        '\u{0300}'..='\u{036f}' => return,
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' | 'đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ĥ' | 'ħ' => 'h',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => 'i',
        'ĵ' => 'j',
        'ķ' => 'k',
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        // Comma below (ș, the correct Romanian letter) and cedilla (ş, the legacy one).
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => 's',
        'ţ' | 'ť' | 'ŧ' | 'ț' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ŵ' => 'w',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        'ß' => {
            out.push_str("ss");
            return;
        }
        'æ' => {
            out.push_str("ae");
            return;
        }
        'œ' => {
            out.push_str("oe");
            return;
        }
        // Typographic apostrophes and dashes behave like their ASCII forms: separators.
        other => other,
    };
    out.push(folded);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn romanian_letters_fold_in_both_spellings() {
        assert_eq!(fold("Reținut"), "retinut");
        assert_eq!(fold("Reţinut"), "retinut");
        assert_eq!(fold("ȘANTAJ şi ŞOC"), "santaj si soc");
        assert_eq!(fold("ĂÂÎăâî"), "aaiaai");
        // Decomposed: s + combining comma below, t + combining cedilla.
        assert_eq!(fold("s\u{326}t\u{327}"), "st");
    }

    #[test]
    fn host_country_letters_fold() {
        assert_eq!(fold("Saint-Étienne"), "saint-etienne");
        assert_eq!(fold("München Straße"), "munchen strasse");
        assert_eq!(fold("Łódź"), "lodz");
        assert_eq!(fold("İstanbul"), "istanbul");
    }

    #[test]
    fn words_split_on_everything_but_letters_and_digits() {
        assert_eq!(
            words("Mi-a dispărut fiul!!! (de 3 zile)"),
            ["mi", "a", "disparut", "fiul", "de", "3", "zile"]
        );
        assert_eq!(key("  Saint–Étienne "), "saint etienne");
        assert!(words("  ... ").is_empty());
    }
}
