//! Help articles: the knowledge base's public articles in the citizen's language, searched
//! without regard to diacritics (the same articles agents insert into their replies).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use casestore::{ArticleQuery, Language};
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::Portal;
use crate::pages::{pick_lang, render};

/// The longest search the page accepts.
const MAX_QUERY: usize = 200;

#[derive(Debug, Deserialize)]
pub(crate) struct HelpQuery {
    lang: Option<String>,
    q: Option<String>,
}

#[derive(Serialize)]
struct Shown {
    title: String,
    body: String,
    topic: String,
}

pub(crate) async fn help(
    State(portal): State<Arc<Portal>>,
    Query(query): Query<HelpQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = pick_lang(&portal, query.lang.as_deref(), &headers);
    let text: String = query
        .q
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_QUERY)
        .collect();
    let store = portal.store.clone();
    let search = text.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<Vec<Shown>, casestore::ReadError> {
        let language = Language::new(lang).ok();
        let ids: Vec<_> = if search.is_empty() {
            store
                .list_articles(language.as_ref(), true)?
                .into_iter()
                .map(|a| a.id)
                .collect()
        } else {
            store
                .search_articles(&ArticleQuery {
                    text: search,
                    language,
                    country: None,
                    public_only: true,
                    limit: 20,
                })?
                .into_iter()
                .map(|a| a.id)
                .collect()
        };
        let mut shown = Vec::new();
        for id in ids.into_iter().take(50) {
            if let Some(a) = store.article(id)?.filter(|a| a.public) {
                shown.push(Shown {
                    title: a.title.to_string(),
                    body: a.body.as_str().to_owned(),
                    topic: a.topic.to_string(),
                });
            }
        }
        Ok(shown)
    })
    .await;
    let articles = match found {
        Ok(Ok(articles)) => articles,
        Ok(Err(error)) => {
            tracing::error!(%error, "help articles");
            Vec::new()
        }
        Err(error) => {
            tracing::error!(%error, "help articles task");
            Vec::new()
        }
    };
    render(
        &portal,
        StatusCode::OK,
        "help.html",
        lang,
        context! { articles => articles, q => text },
    )
}
