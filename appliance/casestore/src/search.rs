//! Full-text search over messages, most recent first.
//!
//! The index is an FTS5 table with `unicode61 remove_diacritics 2`, which folds ă, â, î and
//! the rest to their bare letters. Romanian ș and ț exist in two encodings, comma below
//! (U+0219, U+021B, correct) and cedilla (U+015F, U+0163, common in older keyboards and
//! e-mail); [`normalize`] maps the cedilla forms to the comma forms and drops combining marks
//! (decomposed input) before text is indexed *and* before it is queried, so the result never
//! depends on how the tokenizer's tables treat either form.
//!
//! Recency: the index rowid is the message id, so walking a term's doclist backwards is
//! walking messages newest first; the query stops as soon as it has enough distinct cases
//! instead of ranking every match. A search within one consulate intersects the words with
//! the consulate's token in the `scope` column, inside the index. Typed text is never passed
//! to FTS5 as query syntax: it is split into words, each quoted, all required, all in the
//! `body` column (a trailing `*` makes a prefix search).

use std::collections::HashSet;

use crate::error::{DbResult as _, ReadError};
use crate::model::{Case, ConsulateId, MessageId, Timestamp};
use crate::queue::PageSize;
use crate::read::{CASE_COLUMN_COUNT, CASE_COLUMNS, case_row, decode};
use crate::store::Store;

/// At most this many words of a query are used.
const MAX_TERMS: usize = 16;
/// A longer word is cut to this many characters.
const MAX_TERM_CHARS: usize = 64;

/// How results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SearchOrder {
    /// Newest matching message first. Fast for any word, however common.
    #[default]
    Recency,
    /// Best BM25 match first. Ranks every match, so slower for common words.
    Relevance,
}

/// A search request.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// What the agent typed.
    pub text: String,
    /// Only cases owned by this consulate.
    pub consulate: Option<ConsulateId>,
    /// How many distinct cases to return.
    pub limit: PageSize,
    pub order: SearchOrder,
}

impl SearchQuery {
    /// The 50 most recent cases matching `text`, any consulate.
    pub fn recent(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            consulate: None,
            limit: PageSize::default(),
            order: SearchOrder::Recency,
        }
    }
}

/// A matching case and the message that matched it (the newest, or the best, per the order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub case: Case,
    pub message: MessageId,
    pub message_at: Timestamp,
}

/// The text as indexed and queried: cedilla ş/ţ become comma-below ș/ț, and combining marks
/// are dropped.
pub fn normalize(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\u{015F}' => Some('\u{0219}'),
            '\u{015E}' => Some('\u{0218}'),
            '\u{0163}' => Some('\u{021B}'),
            '\u{0162}' => Some('\u{021A}'),
            '\u{0300}'..='\u{036F}' => None,
            c => Some(c),
        })
        .collect()
}

/// The single token the `scope` column holds for `consulate`: `zc` and the hex of its bytes,
/// so that it is one alphanumeric token no typed word can collide with by accident.
pub(crate) fn scope_token(consulate: &str) -> String {
    let mut token = String::with_capacity(2 + 2 * consulate.len());
    token.push_str("zc");
    for b in consulate.bytes() {
        token.push_str(&format!("{b:02x}"));
    }
    token
}

/// The words of normalised `text` as quoted FTS5 terms, so no character the person typed is
/// FTS5 syntax: at most [`MAX_TERMS`] words of at most [`MAX_TERM_CHARS`] characters each. A
/// word followed by `*` is a prefix, and so, with `prefix_from`, is every word at least that
/// long.
pub(crate) fn quoted_terms(normalized: &str, prefix_from: Option<usize>) -> Vec<String> {
    let mut terms = Vec::new();
    let mut chars = normalized.chars().peekable();
    while terms.len() < MAX_TERMS {
        while chars.next_if(|c| !c.is_alphanumeric()).is_some() {}
        let word: String = std::iter::from_fn(|| chars.next_if(|c| c.is_alphanumeric()))
            .take(MAX_TERM_CHARS)
            .collect();
        if word.is_empty() {
            break;
        }
        while chars.next_if(|c| c.is_alphanumeric()).is_some() {}
        let prefix =
            chars.peek() == Some(&'*') || prefix_from.is_some_and(|n| word.chars().count() >= n);
        terms.push(format!("\"{word}\"{}", if prefix { "*" } else { "" }));
    }
    terms
}

/// The FTS5 query for typed `text`, restricted to one consulate's messages with `scope`, or
/// `None` when the text has no words.
pub(crate) fn fts_query(text: &str, scope: Option<&ConsulateId>) -> Option<String> {
    let terms = quoted_terms(&normalize(text), None);
    if terms.is_empty() {
        return None;
    }
    let terms = terms.join(" ");
    Some(match scope {
        Some(consulate) => format!(
            "{{body}} : ({terms}) AND {{scope}} : \"{}\"",
            scope_token(consulate.as_str())
        ),
        None => format!("{{body}} : ({terms})"),
    })
}

/// The search statement; `?1` is the FTS5 query.
pub(crate) fn search_sql(order: SearchOrder) -> String {
    let order = match order {
        SearchOrder::Recency => "f.rowid DESC",
        SearchOrder::Relevance => "f.rank, f.rowid DESC",
    };
    // CROSS JOIN fixes the loop order: the index drives, in the requested order, and each
    // match costs two primary-key look-ups.
    format!(
        "SELECT {CASE_COLUMNS}, m.id, m.at
         FROM message_fts f
         CROSS JOIN messages m ON m.id = f.rowid
         CROSS JOIN cases c ON c.id = m.case_id
         WHERE message_fts MATCH ?1
         ORDER BY {order}"
    )
}

impl Store {
    /// Cases with a message matching every word of the query; see the module documentation.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, ReadError> {
        let Some(fts) = fts_query(&query.text, query.consulate.as_ref()) else {
            return Ok(Vec::new());
        };
        let sql = search_sql(query.order);
        let want = usize::from(query.limit.get());
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt.query([&fts]).db()?;
            let mut seen = HashSet::new();
            let mut hits = Vec::new();
            while hits.len() < want {
                let Some(row) = rows.next().db()? else { break };
                let case_id: i64 = row.get(0).db()?;
                if !seen.insert(case_id) {
                    continue;
                }
                hits.push(SearchHit {
                    case: case_row(row)?,
                    message: MessageId::from_raw(row.get(CASE_COLUMN_COUNT).db()?),
                    message_at: decode::time(row.get(CASE_COLUMN_COUNT + 1).db()?),
                });
            }
            Ok(hits)
        })
    }
}

#[cfg(test)]
mod tests;
