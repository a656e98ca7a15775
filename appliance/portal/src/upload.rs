//! Uploaded documents: size limits, the real type from the bytes (never the name or the
//! browser's claim), and a file name safe to show and store.

/// Largest single document.
pub const MAX_FILE: usize = 10 << 20;
/// Largest sum of documents in one request.
pub const MAX_TOTAL: usize = 25 << 20;

/// Accepted document types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocType {
    Pdf,
    Jpeg,
    Png,
}

impl DocType {
    pub(crate) fn media_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }
}

/// Why a document was refused; each maps to a catalogue message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UploadError {
    /// Not PDF, JPEG or PNG, whatever its name says.
    Type,
    /// Over [`MAX_FILE`].
    Size,
    /// The request's documents together exceed [`MAX_TOTAL`].
    Total,
}

impl UploadError {
    /// The catalogue key of the message shown next to the field.
    pub(crate) fn message_key(self) -> &'static str {
        match self {
            Self::Type => "error_file_type",
            Self::Size => "error_file_size",
            Self::Total => "error_files_total",
        }
    }
}

/// The document type the bytes really are.
pub(crate) fn sniff(bytes: &[u8]) -> Option<DocType> {
    match infer::get(bytes)?.mime_type() {
        "application/pdf" => Some(DocType::Pdf),
        "image/jpeg" => Some(DocType::Jpeg),
        "image/png" => Some(DocType::Png),
        _ => None,
    }
}

/// Checks one document against the limits and its type.
pub(crate) fn check(bytes: &[u8], total_so_far: usize) -> Result<DocType, UploadError> {
    if bytes.len() > MAX_FILE {
        return Err(UploadError::Size);
    }
    if total_so_far.saturating_add(bytes.len()) > MAX_TOTAL {
        return Err(UploadError::Total);
    }
    sniff(bytes).ok_or(UploadError::Type)
}

/// A file name safe to store and show: no directories, no control or markup characters, at most
/// 80 characters, with the extension of the real type. Diacritics are kept.
pub(crate) fn safe_name(claimed: &str, kind: DocType) -> String {
    let base = claimed.rsplit(['/', '\\']).next().unwrap_or_default();
    let stem = base.rsplit_once('.').map_or(base, |(stem, _)| stem);
    let cleaned: String = stem
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | ' ' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed: String = cleaned
        .trim_matches(|c: char| c == '_' || c == ' ')
        .chars()
        .take(80)
        .collect();
    let stem = if trimmed.is_empty() {
        "document".to_owned()
    } else {
        trimmed
    };
    format!("{stem}.{}", kind.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";
    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];
    const JPEG: &[u8] = &[0xff, 0xd8, 0xff, 0xe0, 0, 0x10, b'J', b'F', b'I', b'F', 0];

    #[test]
    fn the_bytes_decide_the_type_not_the_name() {
        assert_eq!(check(PDF, 0), Ok(DocType::Pdf));
        assert_eq!(check(PNG, 0), Ok(DocType::Png));
        assert_eq!(check(JPEG, 0), Ok(DocType::Jpeg));
        assert_eq!(
            check(b"MZ\x90\x00 pretending to be a pdf", 0),
            Err(UploadError::Type)
        );
        assert_eq!(
            check(b"<html><script>alert(1)</script>", 0),
            Err(UploadError::Type)
        );
        assert_eq!(check(b"", 0), Err(UploadError::Type));
    }

    #[test]
    fn limits_per_file_and_per_request() {
        let mut big = PDF.to_vec();
        big.resize(MAX_FILE + 1, b' ');
        assert_eq!(check(&big, 0), Err(UploadError::Size));
        assert_eq!(check(PDF, MAX_TOTAL), Err(UploadError::Total));
    }

    #[test]
    fn names_lose_paths_controls_and_markup() {
        assert_eq!(safe_name("../../etc/passwd", DocType::Pdf), "passwd.pdf");
        assert_eq!(
            safe_name("C:\\Users\\ion\\pașaport scan.PDF", DocType::Pdf),
            "pașaport scan.pdf"
        );
        assert_eq!(
            safe_name("a\u{0}b\nc<script>.png", DocType::Png),
            "abc_script.png"
        );
        assert_eq!(safe_name("", DocType::Jpeg), "document.jpg");
        assert_eq!(safe_name(&"x".repeat(300), DocType::Pdf).len(), 84);
    }
}
