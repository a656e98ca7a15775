//! The versioned taxonomy of consular request types: what a case can be, its default priority
//! and sensitivity, and what the portal form asks for each type.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::model::{Family, Localized, Priority, Sensitivity, TypeCode, parse_toml};

#[cfg(test)]
mod tests;

/// The taxonomy shipped with this build, `data/taxonomy-v1.toml`.
pub const TAXONOMY_V1: &str = include_str!("../data/taxonomy-v1.toml");

/// Why a taxonomy file was rejected. The message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxonomyError {
    /// Not TOML, an unknown key, a missing key or a value of the wrong kind.
    #[error("taxonomy line {line}: {message}")]
    Syntax { line: usize, message: String },
    /// Well-formed, but inconsistent: a duplicate code, a missing language, …
    #[error("taxonomy: {key}: {problem}")]
    Invalid { key: String, problem: String },
}

impl TaxonomyError {
    fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// A loaded, checked taxonomy.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    version: u32,
    groups: Vec<Group>,
    common_fields: Vec<FieldSpec>,
    types: Vec<CaseType>,
    index: HashMap<TypeCode, usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    #[serde(rename = "group")]
    groups: Vec<Group>,
    #[serde(rename = "common_field", default)]
    common_fields: Vec<FieldSpec>,
    #[serde(rename = "type")]
    types: Vec<CaseType>,
}

/// A top-level group of the taxonomy, `A` to `F`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The letter, `A` … `F`.
    pub code: String,
    /// Shown as a heading on the portal's type picker.
    pub name: Localized,
}

/// One request type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseType {
    pub code: TypeCode,
    pub family: Family,
    /// The priority a case of this type starts with; emergency words may raise it.
    pub priority: Priority,
    pub sensitivity: Sensitivity,
    /// Whether citizens can pick this type on the portal (crisis cases are opened by staff).
    #[serde(default = "yes")]
    pub on_portal: bool,
    pub name: Localized,
    /// One sentence under the name on the type picker.
    #[serde(default)]
    pub hint: Option<Localized>,
    /// The documents the portal asks the citizen to attach.
    #[serde(rename = "document", default)]
    pub documents: Vec<DocumentSpec>,
    /// The type's own form fields, asked after the common ones.
    #[serde(rename = "field", default)]
    pub fields: Vec<FieldSpec>,
}

fn yes() -> bool {
    true
}

/// A document the citizen is asked to attach.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSpec {
    /// Stable identifier, `[a-z][a-z0-9_]*`, stored as the attachment's document-type tag.
    pub key: String,
    #[serde(default)]
    pub required: bool,
    pub label: Localized,
}

/// A form field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Stable identifier, `[a-z][a-z0-9_]*`, the form's input name.
    pub key: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    pub label: Localized,
    #[serde(default)]
    pub help: Option<Localized>,
    /// The longest accepted value in characters; the portal applies its own default if unset.
    #[serde(default)]
    pub max_len: Option<u32>,
}

/// What a form field holds, which decides its input control and its validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    LongText,
    Date,
    DateTime,
    /// An ISO 3166-1 alpha-2 code.
    Country,
    City,
    /// Validated with [`crate::Cnp::parse`]; never shown back in full.
    Cnp,
    /// Validated with [`crate::PassportNo::parse`]; never shown back in full.
    Passport,
    Email,
    Phone,
    YesNo,
    Number,
}

impl Taxonomy {
    /// Parses and checks a taxonomy file. Unknown keys are errors.
    pub fn load(source: &str) -> Result<Self, TaxonomyError> {
        let file: File = parse_toml(source)
            .map_err(|(line, message)| TaxonomyError::Syntax { line, message })?;
        Self::check(file)
    }

    /// The taxonomy shipped with this build ([`TAXONOMY_V1`]).
    #[allow(
        clippy::expect_used,
        reason = "the embedded file is checked by the unit tests; it cannot change at run time"
    )]
    pub fn default_v1() -> Self {
        Self::load(TAXONOMY_V1).expect("the embedded taxonomy-v1.toml is valid")
    }

    fn check(file: File) -> Result<Self, TaxonomyError> {
        if file.version == 0 {
            return Err(TaxonomyError::invalid("version", "must be 1 or more"));
        }
        let mut letters = HashSet::new();
        for group in &file.groups {
            let key = format!("group[{}]", group.code);
            let valid = group.code.len() == 1 && ('A'..='F').any(|c| group.code.starts_with(c));
            if !valid {
                return Err(TaxonomyError::invalid(
                    key + ".code",
                    "must be one letter A-F",
                ));
            }
            if !letters.insert(group.code.clone()) {
                return Err(TaxonomyError::invalid(key, "listed twice"));
            }
            group
                .name
                .check()
                .map_err(|p| TaxonomyError::invalid(key + ".name", p))?;
        }
        let mut common_keys = HashSet::new();
        for field in &file.common_fields {
            check_field(
                &format!("common_field[{}]", field.key),
                field,
                &mut common_keys,
            )?;
        }
        if file.types.is_empty() {
            return Err(TaxonomyError::invalid(
                "type",
                "at least one type is needed",
            ));
        }
        let mut index = HashMap::new();
        for (i, case_type) in file.types.iter().enumerate() {
            let key = format!("type[{}]", case_type.code);
            if !letters.contains(&case_type.code.group().to_string()) {
                return Err(TaxonomyError::invalid(
                    key + ".code",
                    format!("no [[group]] with code {}", case_type.code.group()),
                ));
            }
            if index.insert(case_type.code.clone(), i).is_some() {
                return Err(TaxonomyError::invalid(key + ".code", "listed twice"));
            }
            case_type
                .name
                .check()
                .map_err(|p| TaxonomyError::invalid(format!("{key}.name"), p))?;
            if let Some(hint) = &case_type.hint {
                hint.check()
                    .map_err(|p| TaxonomyError::invalid(format!("{key}.hint"), p))?;
            }
            let mut doc_keys = HashSet::new();
            for doc in &case_type.documents {
                let doc_key = format!("{key}.document[{}]", doc.key);
                check_identifier(&doc_key, &doc.key)?;
                if !doc_keys.insert(doc.key.as_str()) {
                    return Err(TaxonomyError::invalid(doc_key, "listed twice"));
                }
                doc.label
                    .check()
                    .map_err(|p| TaxonomyError::invalid(doc_key + ".label", p))?;
            }
            let mut field_keys = common_keys.clone();
            for field in &case_type.fields {
                check_field(
                    &format!("{key}.field[{}]", field.key),
                    field,
                    &mut field_keys,
                )?;
            }
        }
        Ok(Self {
            version: file.version,
            groups: file.groups,
            common_fields: file.common_fields,
            types: file.types,
            index,
        })
    }

    /// The file's `version`, stored with every case as `taxonomy_version`.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The type with this code.
    pub fn get(&self, code: &TypeCode) -> Option<&CaseType> {
        self.index.get(code).and_then(|&i| self.types.get(i))
    }

    /// The type with this code, from untrusted text (a form value).
    pub fn lookup(&self, code: &str) -> Option<&CaseType> {
        TypeCode::parse(code).ok().and_then(|code| self.get(&code))
    }

    /// Every type, in file order.
    pub fn types(&self) -> &[CaseType] {
        &self.types
    }

    /// The types a citizen can pick on the portal, in file order.
    pub fn portal_types(&self) -> impl Iterator<Item = &CaseType> {
        self.types.iter().filter(|t| t.on_portal)
    }

    /// The groups `A` … `F`, in file order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The fields every request form asks for, before the type's own.
    pub fn common_fields(&self) -> &[FieldSpec] {
        &self.common_fields
    }
}

fn check_field(
    key: &str,
    field: &FieldSpec,
    seen: &mut HashSet<String>,
) -> Result<(), TaxonomyError> {
    check_identifier(key, &field.key)?;
    if !seen.insert(field.key.clone()) {
        return Err(TaxonomyError::invalid(
            key,
            "key used twice in one form (common fields included)",
        ));
    }
    field
        .label
        .check()
        .map_err(|p| TaxonomyError::invalid(format!("{key}.label"), p))?;
    if let Some(help) = &field.help {
        help.check()
            .map_err(|p| TaxonomyError::invalid(format!("{key}.help"), p))?;
    }
    if field.max_len == Some(0) {
        return Err(TaxonomyError::invalid(
            format!("{key}.max_len"),
            "must be 1 or more",
        ));
    }
    Ok(())
}

fn check_identifier(key: &str, id: &str) -> Result<(), TaxonomyError> {
    let mut bytes = id.bytes();
    let valid = bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && id.len() <= 64;
    if valid {
        Ok(())
    } else {
        Err(TaxonomyError::invalid(
            format!("{key}.key"),
            "must match [a-z][a-z0-9_]* (at most 64 characters)",
        ))
    }
}
