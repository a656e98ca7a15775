//! The knowledge base: articles per country and topic, each in several languages (one row per
//! slug and language), the public ones shown on the citizens' portal.
//!
//! An article and its search-index row change in one transaction. Edits are guarded by the
//! article's version: whoever saves a stale copy gets [`ArticleError::Conflict`] instead of
//! overwriting someone else's work, and creating a slug and language that exist is the same
//! conflict. Search is in `knowledge/search.rs`.

mod search;

use rusqlite::{Connection, OptionalExtension as _, Row, params};

use crate::error::{DbError, DbResult as _, ReadError, WriteError};
use crate::model::{Actor, ArticleId, Body, CountryCode, Language, Slug, Timestamp, Title, Topic};
use crate::read::decode;
use crate::store::Store;

pub use search::{
    ArticleHit, ArticleQuery, MAX_ARTICLE_HITS, MAX_ARTICLE_QUERY_CHARS, Snippet, SnippetPart,
};

/// An article as an editor saves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArticle {
    /// Shared by the article's translations; with `language`, names the article.
    pub slug: Slug,
    /// `None`: about every country.
    pub country: Option<CountryCode>,
    pub topic: Topic,
    pub language: Language,
    pub title: Title,
    pub body: Body,
    /// Shown on the citizens' portal; otherwise for staff only.
    pub public: bool,
}

/// A stored article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    pub id: ArticleId,
    pub slug: Slug,
    pub country: Option<CountryCode>,
    pub topic: Topic,
    pub language: Language,
    pub title: Title,
    pub body: Body,
    pub public: bool,
    /// 1 when created, one more for every save.
    pub version: u64,
    pub updated_at: Timestamp,
    pub updated_by: Actor,
}

/// An article without its body, for lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleSummary {
    pub id: ArticleId,
    pub slug: Slug,
    pub country: Option<CountryCode>,
    pub topic: Topic,
    pub language: Language,
    pub title: Title,
    pub public: bool,
    pub version: u64,
    pub updated_at: Timestamp,
}

/// Why an article could not be saved or deleted. A failed change left nothing behind.
#[derive(Debug, thiserror::Error)]
pub enum ArticleError {
    /// The article is not at the version the editor started from (`None`: it did not exist,
    /// or should not have): reload and decide again.
    #[error(
        "article {slug} ({language}) changed meanwhile: expected version {}, it is at {}",
        version_text(*.expected), version_text(*.current)
    )]
    Conflict {
        slug: Slug,
        language: Language,
        expected: Option<u64>,
        current: Option<u64>,
    },
    #[error("no article {0}")]
    NoSuchArticle(ArticleId),
    /// Bad input, unreadable stored data, or the database.
    #[error(transparent)]
    Write(#[from] WriteError),
}

fn version_text(version: Option<u64>) -> String {
    version.map_or_else(|| "none (new)".to_owned(), |v| v.to_string())
}

impl From<DbError> for ArticleError {
    fn from(error: DbError) -> Self {
        Self::Write(error.into())
    }
}

impl From<ReadError> for ArticleError {
    fn from(error: ReadError) -> Self {
        Self::Write(error.into())
    }
}

/// The columns [`summary_row`] reads, then `body`, `updated_by` for [`article_row`].
const SUMMARY_COLUMNS: &str =
    "id, slug, country, topic, language, title, public, version, updated_at";
const ARTICLE_COLUMNS: &str =
    "id, slug, country, topic, language, title, public, version, updated_at, body, updated_by";

/// The stored country: '' for every country.
fn country_text(country: Option<&CountryCode>) -> &str {
    country.map_or("", CountryCode::as_str)
}

pub(crate) fn country(stored: String) -> Result<Option<CountryCode>, ReadError> {
    if stored.is_empty() {
        return Ok(None);
    }
    CountryCode::new(&stored)
        .map(Some)
        .map_err(|e| ReadError::Corrupt(e.to_string()))
}

fn summary_row(r: &Row<'_>) -> Result<ArticleSummary, ReadError> {
    Ok(ArticleSummary {
        id: ArticleId::from_raw(r.get(0).db()?),
        slug: decode::text(r.get(1).db()?, Slug::new)?,
        country: country(r.get(2).db()?)?,
        topic: decode::text(r.get(3).db()?, Topic::new)?,
        language: decode::text(r.get(4).db()?, Language::new)?,
        title: decode::text(r.get(5).db()?, Title::new)?,
        public: r.get::<_, i64>(6).db()? != 0,
        version: decode::count(r.get(7).db()?)?,
        updated_at: decode::time(r.get(8).db()?),
    })
}

fn article_row(r: &Row<'_>) -> Result<Article, ReadError> {
    let s = summary_row(r)?;
    let updated_by: String = r.get(10).db()?;
    Ok(Article {
        id: s.id,
        slug: s.slug,
        country: s.country,
        topic: s.topic,
        language: s.language,
        title: s.title,
        body: decode::text(r.get(9).db()?, Body::new)?,
        public: s.public,
        version: s.version,
        updated_at: s.updated_at,
        updated_by: decode::actor(&updated_by)?,
    })
}

/// The first article `sql` finds with `args`.
fn one_article(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Option<Article>, ReadError> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(args).db()?;
    rows.next().db()?.map(article_row).transpose()
}

impl Store {
    /// Creates (`expect_version: None`) or updates (`Some(version)` as last read) the article
    /// named by its slug and language, as `actor`. Either way the article must be where the
    /// editor expects it, or nothing is written and [`ArticleError::Conflict`] says where it is.
    pub fn put_article(
        &self,
        article: &NewArticle,
        actor: &Actor,
        expect_version: Option<u64>,
    ) -> Result<ArticleId, ArticleError> {
        self.write(|tx| {
            let existing: Option<(i64, i64)> = tx
                .sql
                .prepare_cached(
                    "SELECT id, version FROM kb_articles WHERE slug = ?1 AND language = ?2",
                )
                .db()?
                .query_row([article.slug.as_str(), article.language.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .db()?;
            let current = existing.map(|(_, v)| decode::count(v)).transpose()?;
            if current != expect_version {
                return Err(ArticleError::Conflict {
                    slug: article.slug.clone(),
                    language: article.language.clone(),
                    expected: expect_version,
                    current,
                });
            }
            let by = actor.code();
            let row = params![
                article.slug.as_str(),
                article.language.as_str(),
                country_text(article.country.as_ref()),
                article.topic.as_str(),
                article.title.as_str(),
                article.body.as_str(),
                article.public,
                tx.now.unix_ms(),
                by
            ];
            let id = match existing {
                None => {
                    tx.sql
                        .prepare_cached(
                            "INSERT INTO kb_articles (slug, language, country, topic, title, body,
                                 public, updated_at, updated_by, version)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)",
                        )
                        .db()?
                        .execute(row)
                        .db()?;
                    tx.sql.last_insert_rowid()
                }
                Some((id, _)) => {
                    tx.sql
                        .prepare_cached(
                            "UPDATE kb_articles SET country = ?3, topic = ?4, title = ?5,
                                 body = ?6, public = ?7, updated_at = ?8, updated_by = ?9,
                                 version = version + 1
                             WHERE slug = ?1 AND language = ?2",
                        )
                        .db()?
                        .execute(row)
                        .db()?;
                    search::unindex(&tx.sql, id)?;
                    id
                }
            };
            search::index(&tx.sql, id, &article.title, &article.body)?;
            Ok(ArticleId::from_raw(id))
        })
    }

    /// The article with id `id`.
    pub fn article(&self, id: ArticleId) -> Result<Option<Article>, ReadError> {
        let sql = format!("SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE id = ?1");
        self.read(|conn| one_article(conn, &sql, [id.get()]))
    }

    /// The article `slug` in `language`.
    pub fn article_by_slug(
        &self,
        slug: &Slug,
        language: &Language,
    ) -> Result<Option<Article>, ReadError> {
        let sql =
            format!("SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE slug = ?1 AND language = ?2");
        self.read(|conn| one_article(conn, &sql, [slug.as_str(), language.as_str()]))
    }

    /// Every article (only the public ones with `public_only`), in one language or all, by
    /// country (general ones first), topic, slug and language.
    pub fn list_articles(
        &self,
        language: Option<&Language>,
        public_only: bool,
    ) -> Result<Vec<ArticleSummary>, ReadError> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM kb_articles
             WHERE (?1 IS NULL OR language = ?1) AND (?2 = 0 OR public = 1)
             ORDER BY country, topic, slug, language"
        );
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt
                .query(params![language.map(Language::as_str), public_only])
                .db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().db()? {
                out.push(summary_row(row)?);
            }
            Ok(out)
        })
    }

    /// Deletes one article (one language of a slug) and its search-index row.
    pub fn delete_article(&self, id: ArticleId) -> Result<(), ArticleError> {
        self.write(|tx| {
            let deleted = tx
                .sql
                .prepare_cached("DELETE FROM kb_articles WHERE id = ?1")
                .db()?
                .execute([id.get()])
                .db()?;
            if deleted == 0 {
                return Err(ArticleError::NoSuchArticle(id));
            }
            search::unindex(&tx.sql, id.get())?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
