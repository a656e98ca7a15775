//! Search over the knowledge base, best match first.
//!
//! `kb_fts` uses the tokenizer of the case search (`unicode61 remove_diacritics 2`) and text is
//! passed through [`normalize`] before it is indexed and before it is queried, so "pasaport"
//! finds "Pașaport" and "paşaport" alike. Citizens type questions rather than keywords, so a
//! query matches articles with *any* of its words, ranked by BM25 with the title weighing four
//! times the body; a word of four letters or more also matches as a prefix ("pasaport" finds
//! "pașaportul"), which stands in for stemming Romanian endings. Typed text is never FTS5
//! syntax: it is cut to [`MAX_ARTICLE_QUERY_CHARS`], split into at most 16 words, and each is quoted.

use rusqlite::{Connection, params};

use crate::error::{DbError, DbResult as _, ReadError};
use crate::model::{ArticleId, Body, CountryCode, Language, Slug, Title, Topic};
use crate::read::decode;
use crate::search::{normalize, quoted_terms};
use crate::store::Store;

/// The most hits one search returns.
pub const MAX_ARTICLE_HITS: u16 = 100;
/// Typed text beyond this many characters is ignored.
pub const MAX_ARTICLE_QUERY_CHARS: usize = 512;
/// Words at least this long also match as prefixes.
const PREFIX_MIN_CHARS: usize = 4;
/// Where a snippet's matched words start and end. Private-use characters, removed from the
/// indexed text, so an article cannot fake a highlight.
const MARK_START: char = '\u{E000}';
const MARK_END: char = '\u{E001}';

/// A search of the knowledge base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleQuery {
    /// What the person typed.
    pub text: String,
    /// Only articles in this language.
    pub language: Option<Language>,
    /// Only articles about this country and those about every country.
    pub country: Option<CountryCode>,
    /// Only articles shown on the citizens' portal.
    pub public_only: bool,
    /// At most this many hits; more than [`MAX_ARTICLE_HITS`] counts as that many.
    pub limit: u16,
}

impl ArticleQuery {
    /// The 20 best public articles for `text`, any language or country. Public by default so
    /// that forgetting to say otherwise never shows staff-only articles to a citizen.
    pub fn public(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            language: None,
            country: None,
            public_only: true,
            limit: 20,
        }
    }
}

/// A matching article, with where it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleHit {
    pub id: ArticleId,
    pub slug: Slug,
    pub title: Title,
    pub language: Language,
    pub country: Option<CountryCode>,
    pub topic: Topic,
    pub public: bool,
    /// A few words of the body around the best match, as indexed (cedillas shown as commas).
    pub snippet: Snippet,
}

/// A short excerpt in parts, the matched words marked, so that a page can escape every part
/// and highlight the matched ones without trusting markup in the article.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snippet {
    pub parts: Vec<SnippetPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnippetPart {
    pub text: String,
    pub matched: bool,
}

impl Snippet {
    /// The excerpt as plain text.
    pub fn text(&self) -> String {
        self.parts.iter().map(|p| p.text.as_str()).collect()
    }

    /// Splits snippet() output at the match markers.
    fn parse(marked: &str) -> Self {
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut matched = false;
        for c in marked.chars() {
            if c == MARK_START || c == MARK_END {
                if !current.is_empty() {
                    parts.push(SnippetPart {
                        text: std::mem::take(&mut current),
                        matched,
                    });
                }
                matched = c == MARK_START;
            } else {
                current.push(c);
            }
        }
        if !current.is_empty() {
            parts.push(SnippetPart {
                text: current,
                matched,
            });
        }
        Self { parts }
    }
}

/// Text as indexed: normalised, without the snippet markers.
fn indexed(text: &str) -> String {
    normalize(text).replace([MARK_START, MARK_END], "")
}

/// Indexes article `id` (the caller removed any earlier row).
pub(super) fn index(conn: &Connection, id: i64, title: &Title, body: &Body) -> Result<(), DbError> {
    conn.prepare_cached("INSERT INTO kb_fts (rowid, title, body) VALUES (?1, ?2, ?3)")
        .db()?
        .execute(params![id, indexed(title.as_str()), indexed(body.as_str())])
        .db()?;
    Ok(())
}

pub(super) fn unindex(conn: &Connection, id: i64) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM kb_fts WHERE rowid = ?1")
        .db()?
        .execute([id])
        .db()?;
    Ok(())
}

/// The FTS5 query for typed `text`: its words, quoted, any of them; `None` without words.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    let bounded: String = text.chars().take(MAX_ARTICLE_QUERY_CHARS).collect();
    let terms = quoted_terms(&normalize(&bounded), Some(PREFIX_MIN_CHARS));
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

/// The search statement: ?1 the FTS5 query, ?2 language, ?3 country, ?4 public only, ?5 and
/// ?6 the snippet markers, ?7 the limit. The index drives (CROSS JOIN), filters apply to its
/// matches, and BM25 weighs the title (column 0) four times the body.
const SEARCH_SQL: &str = "SELECT a.id, a.slug, a.title, a.language, a.country, a.topic, a.public,
        snippet(kb_fts, 1, ?5, ?6, '…', 16)
     FROM kb_fts CROSS JOIN kb_articles a ON a.id = kb_fts.rowid
     WHERE kb_fts MATCH ?1
       AND (?2 IS NULL OR a.language = ?2)
       AND (?3 IS NULL OR a.country = ?3 OR a.country = '')
       AND (?4 = 0 OR a.public = 1)
     ORDER BY bm25(kb_fts, 4.0, 1.0), a.id
     LIMIT ?7";

impl Store {
    /// Articles matching the query, best first; see the module documentation.
    pub fn search_articles(&self, query: &ArticleQuery) -> Result<Vec<ArticleHit>, ReadError> {
        let limit = query.limit.min(MAX_ARTICLE_HITS);
        let Some(fts) = fts_query(&query.text).filter(|_| limit > 0) else {
            return Ok(Vec::new());
        };
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(SEARCH_SQL).db()?;
            let mut rows = stmt
                .query(params![
                    fts,
                    query.language.as_ref().map(Language::as_str),
                    query.country.as_ref().map(CountryCode::as_str),
                    query.public_only,
                    MARK_START.to_string(),
                    MARK_END.to_string(),
                    limit
                ])
                .db()?;
            let mut hits = Vec::new();
            while let Some(r) = rows.next().db()? {
                let snippet: String = r.get(7).db()?;
                hits.push(ArticleHit {
                    id: ArticleId::from_raw(r.get(0).db()?),
                    slug: decode::text(r.get(1).db()?, Slug::new)?,
                    title: decode::text(r.get(2).db()?, Title::new)?,
                    language: decode::text(r.get(3).db()?, Language::new)?,
                    country: super::country(r.get(4).db()?)?,
                    topic: decode::text(r.get(5).db()?, Topic::new)?,
                    public: r.get::<_, i64>(6).db()? != 0,
                    snippet: Snippet::parse(&snippet),
                });
            }
            Ok(hits)
        })
    }
}
