//! What a citizen's document must be before it is scanned, whatever channel brought it (a
//! portal upload or an e-mail attachment): PDF, JPEG or PNG as the bytes say (never the name
//! or the sender's claim), within the per-file and per-request limits, and stored under a name
//! safe to show.

/// Largest single document.
pub const MAX_FILE: usize = 10 << 20;
/// Largest sum of documents in one request or one message.
pub const MAX_TOTAL: usize = 25 << 20;

/// Accepted document types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocType {
    Pdf,
    Jpeg,
    Png,
}

impl DocType {
    pub fn media_type(self) -> &'static str {
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

/// Why a document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not PDF, JPEG or PNG, whatever its name says.
    Type,
    /// Over [`MAX_FILE`].
    Size,
    /// The request's documents together exceed [`MAX_TOTAL`].
    Total,
}

/// The document type the bytes really are, if it is one we accept.
pub fn sniff(bytes: &[u8]) -> Option<DocType> {
    match infer::get(bytes)?.mime_type() {
        "application/pdf" => Some(DocType::Pdf),
        "image/jpeg" => Some(DocType::Jpeg),
        "image/png" => Some(DocType::Png),
        _ => None,
    }
}

/// What the bytes look like, accepted or not, for a refusal message ("unknown" when nothing
/// is recognised).
pub fn seen_type(bytes: &[u8]) -> &'static str {
    infer::get(bytes).map_or("unknown", |t| t.mime_type())
}

/// Checks one document against the limits and its type; `total_so_far` is the size of the
/// documents of the same request already accepted.
pub fn check(bytes: &[u8], total_so_far: usize) -> Result<DocType, Refusal> {
    if bytes.len() > MAX_FILE {
        return Err(Refusal::Size);
    }
    if total_so_far.saturating_add(bytes.len()) > MAX_TOTAL {
        return Err(Refusal::Total);
    }
    sniff(bytes).ok_or(Refusal::Type)
}

/// A file name safe to store and show: no directories, no control or markup characters, at most
/// 80 characters, with the extension of the real type. Diacritics are kept.
pub fn safe_name(claimed: &str, kind: DocType) -> String {
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
            Err(Refusal::Type)
        );
        assert_eq!(
            check(b"<html><script>alert(1)</script>", 0),
            Err(Refusal::Type)
        );
        assert_eq!(check(b"", 0), Err(Refusal::Type));
        assert_eq!(
            seen_type(b"MZ\x90\x00\x03\x00"),
            "application/vnd.microsoft.portable-executable"
        );
        assert_eq!(seen_type(b""), "unknown");
    }

    #[test]
    fn limits_per_file_and_per_request() {
        let mut big = PDF.to_vec();
        big.resize(MAX_FILE + 1, b' ');
        assert_eq!(check(&big, 0), Err(Refusal::Size));
        assert_eq!(check(PDF, MAX_TOTAL), Err(Refusal::Total));
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
