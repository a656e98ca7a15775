//! Uploaded documents. What is accepted (type from the bytes, size limits, a safe name) is
//! `scan::documents`, shared with the e-mail channel; here only the message each refusal
//! shows next to the field.

use scan::documents::Refusal;

pub use scan::documents::{MAX_FILE, MAX_TOTAL};

/// The catalogue key of the message shown next to the field.
pub(crate) fn message_key(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::Type => "error_file_type",
        Refusal::Size => "error_file_size",
        Refusal::Total => "error_files_total",
    }
}
