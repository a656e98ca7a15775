//! Intake: what a new consular case is, how urgent, how sensitive, and which consulate owns it.
//!
//! - [`Taxonomy`]: the versioned taxonomy of request types (codes `A1.1` … `F`, family, default
//!   priority `P0`–`P4`, sensitivity, the portal form's fields and documents per type), from
//!   `data/taxonomy-v1.toml`.
//! - [`Circumscriptions`]: the consular circumscription table, country and city of residence →
//!   owning consulate, from `data/circumscriptions.toml` (demo data).
//! - [`Lexicon`]: the multilingual keyword classifier ([`Lexicon::classify`]) and the emergency
//!   words ([`Lexicon::assess`]), from `data/lexicon-v1.toml`.
//! - [`Cnp`], [`PassportNo`], [`mask`]: identity numbers, validated and never shown in full.
//! - [`Intake::decide`]: all of the above for one request.
//!
//! Invariants: the crate is pure, with no I/O, clock or randomness (data files are strings, the
//! shipped ones embedded with `include_str!`); every function that takes untrusted text returns
//! an answer or an error and never panics, whatever the input (property tests); data files are
//! strict, so a typo fails to load with an error naming the key; emergency words only ever raise
//! a priority, never lower it; an identity number's full value appears only through `expose()`.

mod decide;
mod fold;
mod identity;
mod lexicon;
mod matcher;
mod model;
mod routing;
mod taxonomy;

pub use decide::{Decision, Intake, Queue, Request, UNTYPED_PRIORITY};
pub use fold::{fold, words};
pub use identity::{Cnp, CnpError, PassportError, PassportNo, Sex, cnp_check_digit, mask};
pub use lexicon::{
    Assessment, Classification, EmergencyReason, LEXICON_V1, Lexicon, LexiconError, MatchedTerm,
};
pub use model::{
    Family, InvalidTypeCode, Localized, Priority, REQUIRED_LANGUAGES, Sensitivity, TypeCode,
};
pub use routing::{
    CIRCUMSCRIPTIONS_DEMO, CircumscriptionError, Circumscriptions, Consulate, ConsulateId,
    InvalidConsulateId, MissionKind, Route, RouteBasis,
};
pub use taxonomy::{
    CaseType, DocumentSpec, FieldKind, FieldSpec, Group, TAXONOMY_V1, Taxonomy, TaxonomyError,
};
