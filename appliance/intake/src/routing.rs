//! The consular circumscription table: which consulate owns a case, from the citizen's country
//! and city of residence.
//!
//! A country has a default mission (usually the embassy's consular section) and may give some
//! cities to other consulates. A country the table does not list goes to the fallback, the 24/7
//! contact centre, which forwards it by hand. City names match whatever their case, diacritics
//! or punctuation (`Saint-Étienne`, `saint etienne`); a city field that also holds a postcode or
//! a district (`69003 Lyon`) still matches the longest known name inside it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::fold;
use crate::model::{Localized, parse_toml};

#[cfg(test)]
mod tests;

/// The demo table shipped with this build, `data/circumscriptions.toml`.
pub const CIRCUMSCRIPTIONS_DEMO: &str = include_str!("../data/circumscriptions.toml");

/// The most words of a city field searched for a known name inside it; a longer field must
/// match exactly. Bounds the work on untrusted input.
const MAX_CITY_WORDS: usize = 8;

/// Why a circumscription table was rejected. The message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CircumscriptionError {
    /// Not TOML, an unknown key, a missing key or a value of the wrong kind.
    #[error("circumscriptions line {line}: {message}")]
    Syntax { line: usize, message: String },
    /// Well-formed, but inconsistent: an unknown consulate, a city listed twice, …
    #[error("circumscriptions: {key}: {problem}")]
    Invalid { key: String, problem: String },
}

impl CircumscriptionError {
    fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// A mission's identifier, e.g. `ro-cg-lyon`: lowercase ASCII letters, digits and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConsulateId(String);

/// Why a string is not a [`ConsulateId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a consulate id (expected 1-64 of a-z, 0-9 and `-`)")]
pub struct InvalidConsulateId;

impl ConsulateId {
    /// Parses an identifier.
    pub fn parse(s: &str) -> Result<Self, InvalidConsulateId> {
        let valid = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidConsulateId)
        }
    }

    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ConsulateId {
    type Error = InvalidConsulateId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ConsulateId> for String {
    fn from(id: ConsulateId) -> Self {
        id.0
    }
}

impl fmt::Display for ConsulateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of mission a consulate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissionKind {
    /// An embassy's consular section.
    Embassy,
    ConsulateGeneral,
    Consulate,
    HonoraryConsulate,
    /// A contact centre in Romania that serves every country.
    ContactCentre,
}

/// A mission that can own cases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consulate {
    pub id: ConsulateId,
    pub kind: MissionKind,
    /// ISO 3166-1 alpha-2 code of the country the mission is in.
    pub country: String,
    pub city: String,
    /// IANA time zone of the mission, for its office hours and deadlines.
    pub timezone: String,
    pub name: Localized,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    fallback: ConsulateId,
    #[serde(rename = "consulate")]
    consulates: Vec<Consulate>,
    #[serde(rename = "country", default)]
    countries: Vec<CountryEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountryEntry {
    code: String,
    default: ConsulateId,
    /// Consulate id → the cities it owns, overriding the country default.
    #[serde(default)]
    cities: BTreeMap<ConsulateId, Vec<String>>,
}

#[derive(Debug, Clone)]
struct CountryRule {
    default: usize,
    /// [`fold::key`] of a city name → index of the owning consulate.
    cities: HashMap<String, usize>,
}

/// How [`Circumscriptions::resolve`] chose the consulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteBasis {
    /// The city is in the table.
    City,
    /// The country is in the table, the city is not (or was not given).
    Country,
    /// The country is not in the table (or not a country code): the fallback centre.
    Fallback,
}

/// The result of a lookup: the owning consulate and why it was chosen.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    pub consulate: &'a Consulate,
    pub basis: RouteBasis,
}

/// A loaded, checked circumscription table.
#[derive(Debug, Clone)]
pub struct Circumscriptions {
    version: u32,
    consulates: Vec<Consulate>,
    fallback: usize,
    countries: HashMap<String, CountryRule>,
}

impl Circumscriptions {
    /// Parses and checks a table. Unknown keys are errors.
    pub fn load(source: &str) -> Result<Self, CircumscriptionError> {
        let file: File = parse_toml(source)
            .map_err(|(line, message)| CircumscriptionError::Syntax { line, message })?;
        Self::check(file)
    }

    /// The demo table shipped with this build ([`CIRCUMSCRIPTIONS_DEMO`]).
    #[allow(
        clippy::expect_used,
        reason = "the embedded file is checked by the unit tests; it cannot change at run time"
    )]
    pub fn default_demo() -> Self {
        Self::load(CIRCUMSCRIPTIONS_DEMO).expect("the embedded circumscriptions.toml is valid")
    }

    fn check(file: File) -> Result<Self, CircumscriptionError> {
        if file.version == 0 {
            return Err(CircumscriptionError::invalid(
                "version",
                "must be 1 or more",
            ));
        }
        let mut by_id = HashMap::new();
        for (i, consulate) in file.consulates.iter().enumerate() {
            let key = format!("consulate[{}]", consulate.id);
            if by_id.insert(consulate.id.clone(), i).is_some() {
                return Err(CircumscriptionError::invalid(key + ".id", "listed twice"));
            }
            if !is_country_code(&consulate.country) {
                return Err(CircumscriptionError::invalid(
                    key + ".country",
                    "must be an ISO 3166-1 alpha-2 code in capitals, e.g. FR",
                ));
            }
            if !is_timezone(&consulate.timezone) {
                return Err(CircumscriptionError::invalid(
                    key + ".timezone",
                    "must be an IANA time zone such as Europe/Paris",
                ));
            }
            if consulate.city.trim().is_empty() {
                return Err(CircumscriptionError::invalid(key + ".city", "is empty"));
            }
            consulate
                .name
                .check()
                .map_err(|p| CircumscriptionError::invalid(key + ".name", p))?;
        }
        let find = |key: &str, id: &ConsulateId| {
            by_id.get(id).copied().ok_or_else(|| {
                CircumscriptionError::invalid(key, format!("no [[consulate]] with id `{id}`"))
            })
        };
        let fallback = find("fallback", &file.fallback)?;
        let mut countries = HashMap::new();
        for entry in &file.countries {
            let key = format!("country[{}]", entry.code);
            if !is_country_code(&entry.code) {
                return Err(CircumscriptionError::invalid(
                    key + ".code",
                    "must be an ISO 3166-1 alpha-2 code in capitals, e.g. FR",
                ));
            }
            let default = find(&format!("{key}.default"), &entry.default)?;
            let mut cities = HashMap::new();
            let mut owners: HashMap<String, &ConsulateId> = HashMap::new();
            for (id, names) in &entry.cities {
                let owner = find(&format!("{key}.cities.{id}"), id)?;
                for name in names {
                    let city_key = fold::key(name);
                    if city_key.is_empty() {
                        return Err(CircumscriptionError::invalid(
                            format!("{key}.cities.{id}"),
                            format!("`{name}` has no letters"),
                        ));
                    }
                    if let Some(first) = owners.insert(city_key.clone(), id) {
                        return Err(CircumscriptionError::invalid(
                            format!("{key}.cities.{id}"),
                            format!("`{name}` is already listed under {first}"),
                        ));
                    }
                    cities.insert(city_key, owner);
                }
            }
            let rule = CountryRule { default, cities };
            if countries.insert(entry.code.clone(), rule).is_some() {
                return Err(CircumscriptionError::invalid(key, "listed twice"));
            }
        }
        Ok(Self {
            version: file.version,
            consulates: file.consulates,
            fallback,
            countries,
        })
    }

    /// The file's `version`.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The consulate owning cases of residents of `country` (an ISO alpha-2 code, any case)
    /// and `city` (free text, may be empty).
    pub fn route(&self, country: &str, city: &str) -> &ConsulateId {
        &self.resolve(country, city).consulate.id
    }

    /// Like [`Self::route`], with the consulate's details and the basis of the choice.
    pub fn resolve(&self, country: &str, city: &str) -> Route<'_> {
        let code = country.trim().to_ascii_uppercase();
        let Some(rule) = self.countries.get(&code) else {
            return self.route_to(self.fallback, RouteBasis::Fallback);
        };
        match find_city(&rule.cities, city) {
            Some(i) => self.route_to(i, RouteBasis::City),
            None => self.route_to(rule.default, RouteBasis::Country),
        }
    }

    fn route_to(&self, index: usize, basis: RouteBasis) -> Route<'_> {
        // Indices come from `check`, which only stores indices into `consulates`.
        let consulate = &self.consulates[index];
        Route { consulate, basis }
    }

    /// The consulate with this id.
    pub fn consulate(&self, id: &ConsulateId) -> Option<&Consulate> {
        self.consulates.iter().find(|c| &c.id == id)
    }

    /// Every consulate, in file order.
    pub fn consulates(&self) -> &[Consulate] {
        &self.consulates
    }

    /// The consulate for countries the table does not list.
    pub fn fallback(&self) -> &Consulate {
        &self.consulates[self.fallback]
    }
}

/// The consulate of the longest known city name in `city`: the whole field first, then runs of
/// its words, longest and leftmost first.
fn find_city(cities: &HashMap<String, usize>, city: &str) -> Option<usize> {
    let words = fold::words(city);
    if words.is_empty() {
        return None;
    }
    if let Some(&i) = cities.get(&words.join(" ")) {
        return Some(i);
    }
    if words.len() > MAX_CITY_WORDS {
        return None;
    }
    for len in (1..words.len()).rev() {
        for window in words.windows(len) {
            if let Some(&i) = cities.get(&window.join(" ")) {
                return Some(i);
            }
        }
    }
    None
}

fn is_country_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

fn is_timezone(s: &str) -> bool {
    s == "UTC"
        || (s.contains('/')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b)))
}
