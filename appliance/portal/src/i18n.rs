//! Message catalogues and the choice of language: an explicit choice (`?lang=` or the `lang`
//! cookie) first, then `Accept-Language`, then Romanian. More languages are more catalogues.

use std::collections::BTreeMap;

/// A language's texts, by key.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub lang: &'static str,
    texts: BTreeMap<String, String>,
}

/// Every catalogue, in preference order for fallback.
#[derive(Debug, Clone)]
pub struct Catalogs {
    all: Vec<Catalog>,
}

/// A catalogue that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalogue {lang}: {source}")]
    Syntax {
        lang: &'static str,
        source: toml::de::Error,
    },
    #[error("catalogue {lang} lacks key {key:?} that {other} has")]
    Missing {
        lang: &'static str,
        key: String,
        other: &'static str,
    },
}

const EMBEDDED: [(&str, &str); 2] = [
    ("ro", include_str!("../i18n/ro.toml")),
    ("en", include_str!("../i18n/en.toml")),
];

impl Catalogs {
    /// The catalogues built into this binary, checked to have the same keys.
    pub fn embedded() -> Result<Self, CatalogError> {
        let mut all = Vec::new();
        for (lang, text) in EMBEDDED {
            let texts: BTreeMap<String, String> =
                toml::from_str(text).map_err(|source| CatalogError::Syntax { lang, source })?;
            all.push(Catalog { lang, texts });
        }
        for a in &all {
            for b in &all {
                if let Some(key) = b.texts.keys().find(|k| !a.texts.contains_key(*k)) {
                    return Err(CatalogError::Missing {
                        lang: a.lang,
                        key: key.clone(),
                        other: b.lang,
                    });
                }
            }
        }
        Ok(Self { all })
    }

    /// The languages offered, as codes.
    pub fn languages(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.all.iter().map(|c| c.lang)
    }

    /// The catalogue for `lang`, or the first (Romanian).
    pub fn get(&self, lang: &str) -> &Catalog {
        self.all
            .iter()
            .find(|c| c.lang == lang)
            .unwrap_or(&self.all[0])
    }

    /// Picks the language: an explicit choice if offered, else the best `Accept-Language`
    /// match, else the default.
    pub fn negotiate(&self, explicit: Option<&str>, accept_language: Option<&str>) -> &'static str {
        if let Some(lang) = explicit.and_then(|l| self.all.iter().find(|c| c.lang == l)) {
            return lang.lang;
        }
        // `en-GB` asks for English: compare primary subtags, in the browser's order of preference.
        accept_language
            .map(accept_language::parse)
            .unwrap_or_default()
            .iter()
            .filter_map(|tag| tag.split('-').next())
            .find_map(|primary| {
                self.all
                    .iter()
                    .find(|c| c.lang.eq_ignore_ascii_case(primary))
            })
            .map_or(self.all[0].lang, |c| c.lang)
    }
}

impl Catalog {
    /// The text for `key`; a missing key shows the key itself, so a gap is visible, not fatal.
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.texts.get(key).map(String::as_str).unwrap_or(key)
    }

    /// Every text, for the templates.
    pub fn texts(&self) -> &BTreeMap<String, String> {
        &self.texts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_load_and_agree_on_keys() {
        let c = Catalogs::embedded().expect("embedded catalogues are complete");
        assert_eq!(c.languages().collect::<Vec<_>>(), ["ro", "en"]);
        assert_eq!(c.get("en").t("form_submit"), "Send request");
        assert_eq!(c.get("ro").t("form_submit"), "Trimite solicitarea");
        assert_eq!(c.get("xx").lang, "ro");
    }

    #[test]
    fn explicit_choice_beats_the_browser_which_beats_the_default() {
        let c = Catalogs::embedded().expect("catalogues");
        assert_eq!(c.negotiate(None, Some("en-GB,en;q=0.9,ro;q=0.5")), "en");
        assert_eq!(c.negotiate(None, Some("en-GB")), "en");
        assert_eq!(c.negotiate(None, Some("de-DE,ro;q=0.4,en;q=0.3")), "ro");
        assert_eq!(c.negotiate(None, Some("ro-RO,ro;q=0.9,en;q=0.8")), "ro");
        assert_eq!(c.negotiate(Some("ro"), Some("en-GB")), "ro");
        assert_eq!(c.negotiate(Some("de"), Some("fr-FR,de")), "ro");
        assert_eq!(c.negotiate(None, None), "ro");
    }
}
