//! The multilingual keyword classifier and the emergency words, both driven by one data file.
//!
//! **Classification.** Each `[[rule]]` gives a weight in (0, 1) to one taxonomy type when any
//! of its terms occurs in the text; a rule counts once however many of its terms occur, so a
//! message that says the same thing in Romanian and English is not counted twice. A type's
//! score combines its fired rules as independent evidence, `1 − Π(1 − wᵢ)`. The confidence is
//! the best score minus half the runner-up's, so two types that fit equally well are not
//! confident. Below the threshold the case goes to the human triage queue.
//!
//! **Emergency words.** Each `[[emergency]]` entry names a reason, a priority class (`P0` or
//! `P1`) and optionally a sensitivity class; any of its terms in the text raises the case to at
//! least that priority. [`Lexicon::assess`] never lowers the declared priority. The terms favour
//! recall: a passport "missing" from a form is raised too, and an officer lowers it by hand.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Deserialize;

use crate::matcher::{self, Matcher};
use crate::model::{Priority, Sensitivity, TypeCode, parse_toml};
use crate::taxonomy::Taxonomy;

#[cfg(test)]
mod tests;

/// The classifier rules and emergency words shipped with this build, `data/lexicon-v1.toml`.
pub const LEXICON_V1: &str = include_str!("../data/lexicon-v1.toml");

/// How many runner-up types a [`Classification`] lists for the triage agent.
const MAX_CANDIDATES: usize = 3;

/// Why a lexicon file was rejected. The message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexiconError {
    /// Not TOML, an unknown key, a missing key or a value of the wrong kind.
    #[error("lexicon line {line}: {message}")]
    Syntax { line: usize, message: String },
    /// Well-formed, but unusable: an unknown type, a weight out of range, a bad term, …
    #[error("lexicon: {key}: {problem}")]
    Invalid { key: String, problem: String },
}

impl LexiconError {
    fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    threshold: f64,
    #[serde(rename = "rule", default)]
    rules: Vec<RuleEntry>,
    #[serde(rename = "emergency", default)]
    emergencies: Vec<EmergencyEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    #[serde(rename = "type")]
    type_code: TypeCode,
    weight: f64,
    terms: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmergencyEntry {
    reason: String,
    priority: Priority,
    #[serde(default)]
    sensitivity: Option<Sensitivity>,
    terms: Vec<String>,
}

/// What a classifier term stands for.
#[derive(Debug, Clone)]
struct RuleTerm {
    rule: usize,
    term: String,
}

#[derive(Debug, Clone)]
struct Rule {
    type_code: TypeCode,
    weight: f64,
}

/// What an emergency term stands for.
#[derive(Debug, Clone)]
struct EmergencyTerm {
    reason: String,
    priority: Priority,
    sensitivity: Option<Sensitivity>,
    term: String,
}

/// The loaded classifier rules and emergency words.
#[derive(Debug, Clone)]
pub struct Lexicon {
    version: u32,
    threshold: f64,
    rules: Vec<Rule>,
    classifier: Matcher<RuleTerm>,
    emergency: Matcher<EmergencyTerm>,
}

/// The classifier's answer for one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// The best-scoring type, if any rule fired. Use it only when `triage` is false.
    pub type_code: Option<TypeCode>,
    /// In `[0, 1]`: the best score minus half the runner-up's.
    pub confidence: f64,
    /// True when `confidence` is below the threshold: a person picks the type.
    pub triage: bool,
    /// Every type that scored, best first (at most three), for the triage agent.
    pub candidates: Vec<(TypeCode, f64)>,
    /// The terms that matched, in text order.
    pub matched: Vec<MatchedTerm>,
}

/// A classifier term found in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedTerm {
    /// The term as written in the lexicon, e.g. `arest*`.
    pub term: String,
    /// The folded words of the text it matched, e.g. `arestat`.
    pub found: String,
    pub type_code: TypeCode,
    pub weight: f64,
}

/// The emergency check of one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The priority before the check.
    pub declared: Priority,
    /// The declared priority, raised by any emergency word; never less urgent than `declared`.
    pub priority: Priority,
    /// True when any emergency word occurs: the case goes to the emergency queue and the duty
    /// officer is told.
    pub emergency: bool,
    /// The strictest sensitivity class the matched words call for, if any.
    pub sensitivity: Option<Sensitivity>,
    /// Each emergency word found, in text order, once per term.
    pub reasons: Vec<EmergencyReason>,
}

/// One emergency word found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyReason {
    /// The entry's reason, e.g. `detention`.
    pub reason: String,
    pub priority: Priority,
    /// The term as written in the lexicon, e.g. `reținut*`.
    pub term: String,
    /// The folded words of the text it matched, e.g. `retinuta`.
    pub found: String,
}

impl Lexicon {
    /// Parses and checks a lexicon against the taxonomy its rules name.
    pub fn load(source: &str, taxonomy: &Taxonomy) -> Result<Self, LexiconError> {
        let file: File =
            parse_toml(source).map_err(|(line, message)| LexiconError::Syntax { line, message })?;
        if file.version == 0 {
            return Err(LexiconError::invalid("version", "must be 1 or more"));
        }
        check_threshold(file.threshold)?;
        let mut rules = Vec::with_capacity(file.rules.len());
        let mut classifier = Matcher::new();
        for (i, entry) in file.rules.into_iter().enumerate() {
            let key = format!("rule[{i}]");
            if taxonomy.get(&entry.type_code).is_none() {
                return Err(LexiconError::invalid(
                    key + ".type",
                    format!(
                        "{} is not in taxonomy version {}",
                        entry.type_code,
                        taxonomy.version()
                    ),
                ));
            }
            if !(entry.weight > 0.0 && entry.weight < 1.0) {
                return Err(LexiconError::invalid(
                    key + ".weight",
                    "must be above 0 and below 1",
                ));
            }
            add_terms(&key, &entry.terms, |words, term| {
                classifier.add(words, RuleTerm { rule: i, term });
            })?;
            rules.push(Rule {
                type_code: entry.type_code,
                weight: entry.weight,
            });
        }
        let mut emergency = Matcher::new();
        for (i, entry) in file.emergencies.into_iter().enumerate() {
            let key = format!("emergency[{i}]");
            let slug = entry
                .reason
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_');
            if entry.reason.is_empty() || !slug {
                return Err(LexiconError::invalid(key + ".reason", "must match [a-z_]+"));
            }
            if entry.priority > Priority::P1 {
                return Err(LexiconError::invalid(
                    key + ".priority",
                    "emergency words raise to P0 or P1",
                ));
            }
            add_terms(&key, &entry.terms, |words, term| {
                let payload = EmergencyTerm {
                    reason: entry.reason.clone(),
                    priority: entry.priority,
                    sensitivity: entry.sensitivity,
                    term,
                };
                emergency.add(words, payload);
            })?;
        }
        Ok(Self {
            version: file.version,
            threshold: file.threshold,
            rules,
            classifier,
            emergency,
        })
    }

    /// The lexicon shipped with this build ([`LEXICON_V1`]), for the taxonomy shipped with it.
    #[allow(
        clippy::expect_used,
        reason = "the embedded files are checked by the unit tests; they cannot change at run time"
    )]
    pub fn default_v1() -> Self {
        Self::load(LEXICON_V1, &Taxonomy::default_v1())
            .expect("the embedded lexicon-v1.toml is valid")
    }

    /// The file's `version`.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The confidence below which a classification goes to triage.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The same lexicon with another triage threshold, in `[0, 1]`.
    pub fn with_threshold(mut self, threshold: f64) -> Result<Self, LexiconError> {
        check_threshold(threshold)?;
        self.threshold = threshold;
        Ok(self)
    }

    /// Classifies free text (an e-mail, a chat message, a call note) into a taxonomy type.
    pub fn classify(&self, text: &str) -> Classification {
        let folded = crate::fold::fold(text);
        let tokens = matcher::tokens(&folded);
        let mut fired = BTreeSet::new();
        let mut seen = HashSet::new();
        let mut matched = Vec::new();
        for hit in self.classifier.find(&tokens) {
            let Some(payload) = self.classifier.payload(hit.term) else {
                continue;
            };
            let Some(rule) = self.rules.get(payload.rule) else {
                continue;
            };
            fired.insert(payload.rule);
            if seen.insert(hit.term) {
                matched.push(MatchedTerm {
                    term: payload.term.clone(),
                    found: found(&tokens, hit),
                    type_code: rule.type_code.clone(),
                    weight: rule.weight,
                });
            }
        }
        // Per type, the product of (1 − w) over its fired rules.
        let mut miss: BTreeMap<&TypeCode, f64> = BTreeMap::new();
        for rule in fired.iter().filter_map(|&i| self.rules.get(i)) {
            *miss.entry(&rule.type_code).or_insert(1.0) *= 1.0 - rule.weight;
        }
        let mut scores: Vec<(TypeCode, f64)> = miss
            .into_iter()
            .map(|(code, miss)| (code.clone(), 1.0 - miss))
            .collect();
        // Best first; ties keep taxonomy-code order (the map was sorted by code).
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        let best = scores.first().map_or(0.0, |s| s.1);
        let second = scores.get(1).map_or(0.0, |s| s.1);
        let confidence = (best - second / 2.0).clamp(0.0, 1.0);
        scores.truncate(MAX_CANDIDATES);
        Classification {
            type_code: scores.first().map(|s| s.0.clone()),
            confidence,
            triage: scores.is_empty() || confidence < self.threshold,
            candidates: scores,
            matched,
        }
    }

    /// Checks free text for emergency words and raises `declared` accordingly; never lowers it.
    pub fn assess(&self, text: &str, declared: Priority) -> Assessment {
        let folded = crate::fold::fold(text);
        let tokens = matcher::tokens(&folded);
        let mut seen = HashSet::new();
        let mut reasons = Vec::new();
        let mut priority = declared;
        let mut sensitivity = None;
        for hit in self.emergency.find(&tokens) {
            let Some(term) = self.emergency.payload(hit.term) else {
                continue;
            };
            priority = priority.most_urgent(term.priority);
            sensitivity = sensitivity.max(term.sensitivity);
            if seen.insert(hit.term) {
                reasons.push(EmergencyReason {
                    reason: term.reason.clone(),
                    priority: term.priority,
                    term: term.term.clone(),
                    found: found(&tokens, hit),
                });
            }
        }
        Assessment {
            declared,
            priority,
            emergency: !reasons.is_empty(),
            sensitivity,
            reasons,
        }
    }
}

fn check_threshold(threshold: f64) -> Result<(), LexiconError> {
    if (0.0..=1.0).contains(&threshold) {
        Ok(())
    } else {
        Err(LexiconError::invalid(
            "threshold",
            "must be between 0 and 1",
        ))
    }
}

fn add_terms(
    key: &str,
    terms: &[String],
    mut add: impl FnMut(Vec<matcher::WordSpec>, String),
) -> Result<(), LexiconError> {
    if terms.is_empty() {
        return Err(LexiconError::invalid(format!("{key}.terms"), "is empty"));
    }
    for (j, term) in terms.iter().enumerate() {
        let words = matcher::parse_term(term)
            .map_err(|p| LexiconError::invalid(format!("{key}.terms[{j}]"), p))?;
        add(words, term.clone());
    }
    Ok(())
}

fn found(tokens: &[&str], hit: matcher::Hit) -> String {
    tokens
        .get(hit.start..hit.start + hit.len)
        .map(|words| words.join(" "))
        .unwrap_or_default()
}
