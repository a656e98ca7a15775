//! Text scanning for tidy: just enough Rust lexing to ignore comments and literals.

use std::fmt;

/// What follows an `unsafe` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnsafeKind {
    /// `unsafe { … }`: needs a `// SAFETY:` comment.
    Block,
    /// `unsafe impl`: needs a `// SAFETY:` comment.
    Impl,
    /// `unsafe fn`, `unsafe trait`, `unsafe extern`, `#[unsafe(…)]`: documented by `# Safety`
    /// docs instead, but still `unsafe` code.
    Other,
}

impl fmt::Display for UnsafeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Block => "unsafe block",
            Self::Impl => "unsafe impl",
            Self::Other => "unsafe item",
        })
    }
}

/// One `unsafe` keyword in code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UnsafeSite {
    /// 1-based.
    pub(super) line: usize,
    pub(super) kind: UnsafeKind,
    /// A `// SAFETY:` comment is within reach above, or the site needs none.
    pub(super) documented: bool,
}

/// Every `unsafe` keyword outside comments and literals in `src`; a block or impl counts as
/// documented when `// SAFETY:` appears on its line or one of the `reach` lines above.
pub(super) fn find_unsafe(src: &str, reach: usize) -> Vec<UnsafeSite> {
    let code = code_only(src);
    let raw_lines: Vec<&str> = src.lines().collect();
    let mut sites = Vec::new();
    for (at, _) in code.match_indices("unsafe") {
        let before = code[..at].chars().next_back();
        let after = &code[at + "unsafe".len()..];
        if before.is_some_and(is_ident) || after.chars().next().is_some_and(is_ident) {
            continue;
        }
        let next = after.trim_start();
        let kind = if next.starts_with('{') {
            UnsafeKind::Block
        } else if next.starts_with("impl") && !next[4..].starts_with(is_ident) {
            UnsafeKind::Impl
        } else {
            UnsafeKind::Other
        };
        let line = code[..at].matches('\n').count();
        let documented = kind == UnsafeKind::Other
            || raw_lines[line.saturating_sub(reach)..=line.min(raw_lines.len().saturating_sub(1))]
                .iter()
                .any(|l| l.contains("// SAFETY:"));
        sites.push(UnsafeSite {
            line: line + 1,
            kind,
            documented,
        });
    }
    sites
}

/// `src` with comments, string and char literals blanked to spaces; lines keep their numbers.
pub(super) fn code_only(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let end = if c == '/' && next == Some('/') {
            chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |n| i + n)
        } else if c == '/' && next == Some('*') {
            block_comment_end(&chars, i)
        } else if c == '"' {
            string_end(&chars, i + 1, None)
        } else if let Some(hashes) = raw_string_hashes(&chars, i) {
            string_end(&chars, i + hashes + 2, Some(hashes))
        } else if c == '\'' {
            char_literal_end(&chars, i).unwrap_or(i)
        } else {
            i
        };
        if end == i {
            out.push(c);
            i += 1;
        } else {
            for &c in &chars[i..end] {
                blank(&mut out, c);
            }
            i = end;
        }
    }
    out
}

/// Index just past the block comment starting at `start`; block comments nest.
fn block_comment_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('*')) => {
                depth += 1;
                i += 2;
            }
            ('*', Some('/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    chars.len()
}

/// Index just past the closing quote of a string whose body starts at `body`: an ordinary
/// string (with backslash escapes) for `None`, else a raw string closed by `"` and that many `#`s.
fn string_end(chars: &[char], body: usize, raw_hashes: Option<usize>) -> usize {
    let mut i = body;
    while i < chars.len() {
        match (chars[i], raw_hashes) {
            ('\\', None) => i += 2,
            ('"', None) => return i + 1,
            ('"', Some(n)) if chars[i + 1..].iter().take(n).filter(|&&c| c == '#').count() == n => {
                return i + 1 + n;
            }
            _ => i += 1,
        }
    }
    chars.len()
}

/// `Some(n)` when a raw string `r#…#"` with `n` hashes starts at `i` (also `br"`, `cr"`).
fn raw_string_hashes(chars: &[char], i: usize) -> Option<usize> {
    let starts_token = |j: usize| j == 0 || !is_ident(chars[j - 1]);
    let prefixed = i >= 1 && matches!(chars[i - 1], 'b' | 'c') && starts_token(i - 1);
    if chars[i] != 'r' || !(starts_token(i) || prefixed) {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
    (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

/// Index just past a char literal starting at `i`, or `None` for a lifetime such as `'a`.
fn char_literal_end(chars: &[char], i: usize) -> Option<usize> {
    if chars.get(i + 1) == Some(&'\\') {
        // `'\n'`, `'\''`, `'\u{10ffff}'`: the escaped character, then up to the quote.
        let close = (i + 3..chars.len().min(i + 14)).find(|&j| chars[j] == '\'')?;
        return Some(close + 1);
    }
    (chars.get(i + 2) == Some(&'\'')).then_some(i + 3)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The crate names in `cargo tree --prefix none` output: the first word of each line.
pub(super) fn tree_crate_names(tree: &str) -> impl Iterator<Item = &str> {
    tree.lines()
        .filter_map(|line| line.split_whitespace().next())
}

/// Whether the first non-blank line of `src` is a `//!` line with text on it.
pub(super) fn opens_with_doc_paragraph(src: &str) -> bool {
    src.lines()
        .find(|line| !line.trim().is_empty())
        .and_then(|line| line.trim_start().strip_prefix("//!"))
        .is_some_and(|text| !text.trim().is_empty())
}
