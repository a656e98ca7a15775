//! Word-boundary matching of folded terms against folded text.
//!
//! A term is one or more words (`trafic de persoane`); a word ending in `*` matches any word
//! that starts with it (`arest*` matches `arestat`, `arestată`, `arestul`), so Romanian
//! inflections need one entry. Terms and text are folded alike ([`crate::fold`]), so `reținut`,
//! `reţinut` and `retinut` are one term. A stem must be at least [`MIN_STEM`] characters, so a
//! typo such as `a*` cannot match half the language.
//!
//! Lookup is by the term's first word: exact words through a hash map, stems through a map keyed
//! by their first [`MIN_STEM`] characters, so matching is linear in the text, whatever its size.

use std::collections::HashMap;

use crate::fold;

/// The shortest stem a `*` word may have, in characters.
pub(crate) const MIN_STEM: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    Exact(String),
    Prefix(String),
}

impl Word {
    fn matches(&self, token: &str) -> bool {
        match self {
            Self::Exact(w) => token == w,
            Self::Prefix(stem) => token.starts_with(stem.as_str()),
        }
    }
}

/// Parses a term from a data file; the error says why it cannot be used.
pub(crate) fn parse_term(text: &str) -> Result<Vec<WordSpec>, String> {
    let mut out = Vec::new();
    for chunk in text.split_whitespace() {
        let (body, prefix) = match chunk.strip_suffix('*') {
            Some(body) => (body, true),
            None => (chunk, false),
        };
        if body.contains('*') {
            return Err(format!("`{text}`: `*` may only end a word"));
        }
        let mut words = fold::words(body);
        let Some(last) = words.pop() else {
            return Err(format!("`{text}`: a word has no letters or digits"));
        };
        out.extend(words.into_iter().map(Word::Exact));
        if prefix {
            if last.chars().count() < MIN_STEM {
                return Err(format!(
                    "`{text}`: a stem before `*` needs at least {MIN_STEM} letters"
                ));
            }
            out.push(Word::Prefix(last));
        } else {
            out.push(Word::Exact(last));
        }
    }
    if out.is_empty() {
        return Err("a term is empty".to_owned());
    }
    Ok(out.into_iter().map(WordSpec).collect())
}

/// One parsed word of a term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WordSpec(Word);

/// Where a term matched: the term's index in the matcher and the first word and word count in
/// the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) term: usize,
    pub(crate) start: usize,
    pub(crate) len: usize,
}

/// A set of terms, each with a payload `T`, to find in folded text.
#[derive(Debug, Clone)]
pub(crate) struct Matcher<T> {
    terms: Vec<(Vec<Word>, T)>,
    exact: HashMap<String, Vec<usize>>,
    prefix: HashMap<String, Vec<usize>>,
}

impl<T> Matcher<T> {
    pub(crate) fn new() -> Self {
        Self {
            terms: Vec::new(),
            exact: HashMap::new(),
            prefix: HashMap::new(),
        }
    }

    pub(crate) fn add(&mut self, words: Vec<WordSpec>, payload: T) {
        let words: Vec<Word> = words.into_iter().map(|w| w.0).collect();
        let index = self.terms.len();
        match words.first() {
            Some(Word::Exact(w)) => self.exact.entry(w.clone()).or_default().push(index),
            Some(Word::Prefix(stem)) => self
                .prefix
                .entry(head(stem).to_owned())
                .or_default()
                .push(index),
            None => return,
        }
        self.terms.push((words, payload));
    }

    pub(crate) fn payload(&self, term: usize) -> Option<&T> {
        self.terms.get(term).map(|(_, payload)| payload)
    }

    /// Every place any term matches `tokens` (folded words), in text order.
    pub(crate) fn find(&self, tokens: &[&str]) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (start, token) in tokens.iter().enumerate() {
            let exact = self.exact.get(*token).into_iter().flatten();
            let prefix = self.prefix.get(head(token)).into_iter().flatten();
            for &term in exact.chain(prefix) {
                let Some((words, _)) = self.terms.get(term) else {
                    continue;
                };
                let Some(window) = tokens.get(start..start + words.len()) else {
                    continue;
                };
                if words.iter().zip(window).all(|(w, t)| w.matches(t)) {
                    hits.push(Hit {
                        term,
                        start,
                        len: words.len(),
                    });
                }
            }
        }
        hits
    }
}

/// The first [`MIN_STEM`] characters of a word (all of it if shorter).
fn head(word: &str) -> &str {
    match word.char_indices().nth(MIN_STEM) {
        Some((end, _)) => &word[..end],
        None => word,
    }
}

/// Splits folded text into words, for [`Matcher::find`].
pub(crate) fn tokens(folded: &str) -> Vec<&str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(terms: &[&str]) -> Matcher<usize> {
        let mut m = Matcher::new();
        for (i, t) in terms.iter().enumerate() {
            m.add(parse_term(t).unwrap_or_default(), i);
        }
        m
    }

    fn found(m: &Matcher<usize>, text: &str) -> Vec<usize> {
        let folded = fold::fold(text);
        let tokens = tokens(&folded);
        m.find(&tokens)
            .iter()
            .filter_map(|h| m.payload(h.term).copied())
            .collect()
    }

    #[test]
    fn words_match_on_boundaries_only() {
        let m = matcher(&["dead", "arest*", "trafic de persoane"]);
        assert_eq!(found(&m, "He is dead."), [0]);
        assert!(found(&m, "the deadline is Monday").is_empty());
        assert_eq!(found(&m, "Fiul meu a fost ARESTAT ieri"), [1]);
        assert!(found(&m, "un prearestat").is_empty());
        assert_eq!(
            found(&m, "victimă a traficului... nu: trafic de persoane!"),
            [2]
        );
        assert!(found(&m, "trafic de mașini").is_empty());
    }

    #[test]
    fn terms_fold_like_text() {
        let m = matcher(&["reținut*"]);
        assert_eq!(found(&m, "a fost reţinut"), [0]);
        assert_eq!(found(&m, "a fost retinuta"), [0]);
        assert_eq!(found(&m, "A FOST REȚINUȚI"), [0]);
    }

    #[test]
    fn bad_terms_are_rejected() {
        assert!(parse_term("").is_err());
        assert!(parse_term("  ").is_err());
        assert!(parse_term("a*").is_err());
        assert!(parse_term("ar*est").is_err());
        assert!(parse_term("!!!").is_err());
        assert_eq!(parse_term("eu-etd").map(|w| w.len()), Ok(2));
    }
}
