//! The request form, driven by the taxonomy: which fields a type asks for, how each is shown,
//! and the checks a submission must pass. Errors are catalogue keys, shown next to their field.

use std::collections::BTreeMap;

use intake::{CaseType, FieldKind, FieldSpec, Taxonomy};
use serde::Serialize;

/// Default length limits where the taxonomy sets none.
const TEXT_MAX: usize = 200;
const LONG_TEXT_MAX: usize = 5000;

/// One field as the template shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FormField {
    pub key: String,
    pub kind: &'static str,
    pub input: &'static str,
    pub autocomplete: Option<&'static str>,
    pub label: String,
    pub help: Option<String>,
    pub required: bool,
    pub max_len: Option<u32>,
    /// What the citizen typed, to show back (never for identity numbers).
    pub value: String,
    pub error: Option<String>,
}

/// A document slot as the template shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DocSlot {
    pub key: String,
    pub label: String,
    pub required: bool,
    pub error: Option<String>,
}

fn kind_name(kind: FieldKind) -> (&'static str, &'static str, Option<&'static str>) {
    match kind {
        FieldKind::Text => ("text", "text", None),
        FieldKind::LongText => ("long_text", "text", None),
        FieldKind::Date => ("date", "date", None),
        FieldKind::DateTime => ("date_time", "datetime-local", None),
        FieldKind::Country => ("country", "text", Some("country")),
        FieldKind::City => ("city", "text", Some("address-level2")),
        FieldKind::Cnp => ("cnp", "text", Some("off")),
        FieldKind::Passport => ("passport", "text", Some("off")),
        FieldKind::Email => ("email", "email", Some("email")),
        FieldKind::Phone => ("phone", "tel", Some("tel")),
        FieldKind::YesNo => ("yes_no", "text", None),
        FieldKind::Number => ("number", "text", None),
    }
}

/// Every field the form for `ty` asks, common ones first.
pub(crate) fn specs<'a>(
    taxonomy: &'a Taxonomy,
    ty: &'a CaseType,
) -> impl Iterator<Item = &'a FieldSpec> {
    taxonomy.common_fields().iter().chain(ty.fields.iter())
}

/// The fields of the form for `ty` in `lang`, filled with `values` and `errors`; `t` turns an
/// error key into text.
pub(crate) fn fields(
    taxonomy: &Taxonomy,
    ty: &CaseType,
    lang: &str,
    values: &BTreeMap<String, String>,
    errors: &BTreeMap<String, &'static str>,
    t: &dyn Fn(&str) -> String,
) -> Vec<FormField> {
    specs(taxonomy, ty)
        .map(|f| {
            let (kind, input, autocomplete) = kind_name(f.kind);
            // Identity numbers are never shown back, even to correct them.
            let secret = matches!(f.kind, FieldKind::Cnp | FieldKind::Passport);
            FormField {
                key: f.key.clone(),
                kind,
                input,
                autocomplete,
                label: f.label.get(lang).to_owned(),
                help: f.help.as_ref().map(|h| h.get(lang).to_owned()),
                required: f.required,
                max_len: f.max_len,
                value: if secret {
                    String::new()
                } else {
                    values.get(&f.key).cloned().unwrap_or_default()
                },
                error: errors.get(&f.key).map(|k| t(k)),
            }
        })
        .collect()
}

/// The document slots of `ty` in `lang`.
pub(crate) fn documents(
    ty: &CaseType,
    lang: &str,
    errors: &BTreeMap<String, &'static str>,
    t: &dyn Fn(&str) -> String,
) -> Vec<DocSlot> {
    ty.documents
        .iter()
        .map(|d| DocSlot {
            key: d.key.clone(),
            label: d.label.get(lang).to_owned(),
            required: d.required,
            error: errors.get(&format!("doc_{}", d.key)).map(|k| t(k)),
        })
        .collect()
}

/// Checks a submission's fields; returns the error key of each bad field.
pub(crate) fn validate(
    taxonomy: &Taxonomy,
    ty: &CaseType,
    values: &BTreeMap<String, String>,
) -> BTreeMap<String, &'static str> {
    let mut errors = BTreeMap::new();
    for f in specs(taxonomy, ty) {
        let value = values.get(&f.key).map(|v| v.trim()).unwrap_or_default();
        if value.is_empty() {
            if f.required {
                errors.insert(f.key.clone(), "error_required");
            }
            continue;
        }
        let max = f.max_len.map_or(
            if f.kind == FieldKind::LongText {
                LONG_TEXT_MAX
            } else {
                TEXT_MAX
            },
            |m| m as usize,
        );
        if value.chars().count() > max {
            errors.insert(f.key.clone(), "error_too_long");
            continue;
        }
        if let Some(key) = check_kind(f.kind, value) {
            errors.insert(f.key.clone(), key);
        }
    }
    errors
}

fn check_kind(kind: FieldKind, value: &str) -> Option<&'static str> {
    let ok = match kind {
        FieldKind::Cnp => return intake::Cnp::parse(value).err().map(|_| "error_cnp"),
        FieldKind::Passport => {
            return intake::PassportNo::parse(value)
                .err()
                .map(|_| "error_passport");
        }
        FieldKind::Email => plausible_email(value),
        FieldKind::Date => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            return time::Date::parse(value, &format)
                .err()
                .map(|_| "error_date");
        }
        FieldKind::Country => value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()),
        FieldKind::Number => value.bytes().all(|b| b.is_ascii_digit()),
        FieldKind::YesNo => matches!(value, "yes" | "no"),
        FieldKind::Phone => {
            value
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()".contains(c))
                && value.chars().any(|c| c.is_ascii_digit())
        }
        FieldKind::Text | FieldKind::LongText | FieldKind::City | FieldKind::DateTime => !value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t'),
    };
    if ok {
        None
    } else {
        Some(match kind {
            FieldKind::Email => "error_email",
            FieldKind::Country => "error_country",
            _ => "error_too_long",
        })
    }
}

/// A sanity check, not RFC 5322: one `@`, something on each side, a dot in the domain, no
/// spaces. Deliverability is proven by the acknowledgement mail.
fn plausible_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !v.contains(char::is_whitespace)
        && !domain.contains('@')
        && v.len() <= 254
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> (Taxonomy, String) {
        let tax = Taxonomy::default_v1();
        let code = tax
            .portal_types()
            .next()
            .expect("a portal type")
            .code
            .as_str()
            .to_owned();
        (tax, code)
    }

    fn good() -> BTreeMap<String, String> {
        [
            ("surname", "Popescu"),
            ("given_names", "Ioana Ștefania"),
            ("date_of_birth", "1990-05-17"),
            ("email", "ioana@example.org"),
            ("country", "FR"),
            ("city", "Lyon"),
            ("description", "Am pierdut pașaportul."),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn missing_and_malformed_fields_are_named() {
        let (tax, code) = form();
        let ty = tax.lookup(&code).expect("type");
        let mut v = good();
        v.remove("surname");
        v.insert("email".into(), "not-an-address".into());
        v.insert("cnp".into(), "1234567890123".into());
        v.insert("date_of_birth".into(), "17/05/1990".into());
        let errors = validate(&tax, ty, &v);
        assert_eq!(errors.get("surname"), Some(&"error_required"));
        assert_eq!(errors.get("email"), Some(&"error_email"));
        assert_eq!(errors.get("cnp"), Some(&"error_cnp"));
        assert_eq!(errors.get("date_of_birth"), Some(&"error_date"));
    }

    #[test]
    fn identity_numbers_are_never_shown_back() {
        let (tax, code) = form();
        let ty = tax.lookup(&code).expect("type");
        let mut v = good();
        v.insert("cnp".into(), "1900517123456".into());
        let shown = fields(&tax, ty, "en", &v, &BTreeMap::new(), &|k| k.to_owned());
        let cnp = shown.iter().find(|f| f.key == "cnp").expect("cnp field");
        assert!(cnp.value.is_empty());
        let surname = shown
            .iter()
            .find(|f| f.key == "surname")
            .expect("surname field");
        assert_eq!(surname.value, "Popescu");
    }

    #[test]
    fn overlong_text_is_refused() {
        let (tax, code) = form();
        let ty = tax.lookup(&code).expect("type");
        let mut v = good();
        v.insert("description".into(), "x".repeat(LONG_TEXT_MAX + 1));
        assert_eq!(
            validate(&tax, ty, &v).get("description"),
            Some(&"error_too_long")
        );
    }
}
