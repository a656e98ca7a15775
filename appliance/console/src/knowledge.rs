//! The knowledge base: articles per country and topic in several languages, searched without
//! regard to diacritics, inserted into replies from the case page; the public ones are also
//! on the citizens' portal.

use access::StaffAction;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use casestore::{
    ArticleError, ArticleId, ArticleQuery, Body, CountryCode, Language, NewArticle, Slug, Title,
    Topic, WriteError,
};
use minijinja::context;
use serde::Deserialize;

use crate::errors::Failure;
use crate::forms::{check_csrf, given, text};
use crate::login::spawn;
use crate::session::Agent;
use crate::{App, render};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Search {
    q: Option<String>,
    language: Option<String>,
    /// Articles about this country (ISO code) and those about every country.
    country: Option<String>,
    topic: Option<String>,
    /// The case a search was started from, to insert an article into its reply.
    case: Option<String>,
}

pub(crate) async fn index(
    State(app): State<App>,
    agent: Agent,
    Query(search): Query<Search>,
) -> Result<Response, Failure> {
    let language = match given(search.language.as_deref()) {
        Some(code) => Some(Language::new(code).map_err(|e| Failure::BadRequest(e.to_string()))?),
        None => None,
    };
    let wanted_country = match given(search.country.as_deref()) {
        Some(code) => Some(
            CountryCode::new(&code.to_ascii_uppercase())
                .map_err(|e| Failure::BadRequest(e.to_string()))?,
        ),
        None => None,
    };
    let topic = match given(search.topic.as_deref()) {
        Some(t) => Some(Topic::new(t).map_err(|e| Failure::BadRequest(e.to_string()))?),
        None => None,
    };
    let q = search.q.clone().unwrap_or_default();
    if q.len() > 200 {
        return Err(Failure::BadRequest(
            "The search is longer than 200 bytes.".to_owned(),
        ));
    }
    let store = app.store.clone();
    // Knowledge bases hold hundreds of articles, not millions: the topic (and, for the plain
    // list, the country) narrow what the store returned.
    let search_country = wanted_country.clone();
    let about = move |c: Option<&CountryCode>, t: &Topic| {
        wanted_country
            .as_ref()
            .is_none_or(|want| c.is_none_or(|c| c == want))
            && topic.as_ref().is_none_or(|want| want == t)
    };
    let hits = spawn(move || {
        if q.trim().is_empty() {
            return store.list_articles(language.as_ref(), false).map(|list| {
                list.into_iter()
                    .filter(|a| about(a.country.as_ref(), &a.topic))
                    .map(|a| {
                        context! { id => a.id.get(), title => a.title.as_str(),
                        language => a.language.as_str(), country => country(a.country.as_ref()),
                        topic => a.topic.as_str(), public => a.public }
                    })
                    .collect::<Vec<_>>()
            });
        }
        let query = ArticleQuery {
            text: q,
            language,
            country: search_country,
            public_only: false,
            limit: 50,
        };
        store.search_articles(&query).map(|hits| {
            hits.into_iter()
                .filter(|a| about(a.country.as_ref(), &a.topic))
                .map(|a| {
                    context! { id => a.id.get(), title => a.title.as_str(),
                    language => a.language.as_str(), country => country(a.country.as_ref()),
                    topic => a.topic.as_str(), public => a.public,
                    snippet => a.snippet.parts.iter()
                        .map(|p| context! { text => &p.text, matched => p.matched })
                        .collect::<Vec<_>>() }
                })
                .collect::<Vec<_>>()
        })
    })
    .await??;
    let ctx = context! {
        ..render::base(&app.policy, &agent),
        ..context! {
            hits => hits,
            q => search.q,
            language => search.language,
            country => search.country,
            topic => search.topic,
            case => search.case,
            may_edit => app.policy.may(&agent.staff, StaffAction::EditKnowledge),
        }
    };
    Ok(app.pages.page(StatusCode::OK, "kb.html", ctx))
}

pub(crate) async fn article(
    State(app): State<App>,
    agent: Agent,
    Path(id): Path<i64>,
    Query(search): Query<Search>,
) -> Result<Response, Failure> {
    let store = app.store.clone();
    let article = spawn(move || store.article(ArticleId::from_raw(id)))
        .await??
        .ok_or(Failure::NotFound)?;
    let ctx = context! {
        ..render::base(&app.policy, &agent),
        ..context! {
            article => context! {
                id => article.id.get(), slug => article.slug.as_str(),
                title => article.title.as_str(), body => article.body.as_str(),
                language => article.language.as_str(),
                country => country(article.country.as_ref()), topic => article.topic.as_str(),
                public => article.public, version => article.version,
            },
            case => search.case,
            may_edit => app.policy.may(&agent.staff, StaffAction::EditKnowledge),
        }
    };
    Ok(app.pages.page(StatusCode::OK, "article.html", ctx))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ArticleForm {
    csrf: Option<String>,
    slug: Option<String>,
    language: Option<String>,
    country: Option<String>,
    topic: Option<String>,
    title: Option<String>,
    body: Option<String>,
    public: Option<String>,
    version: Option<u64>,
}

pub(crate) async fn save(
    State(app): State<App>,
    agent: Agent,
    Form(form): Form<ArticleForm>,
) -> Result<Response, Failure> {
    check_csrf(&agent, form.csrf.as_deref())?;
    if !app.policy.may(&agent.staff, StaffAction::EditKnowledge) {
        return Err(Failure::Forbidden("Your role cannot edit articles."));
    }
    let bad = |e: casestore::InvalidValue| Failure::BadRequest(e.to_string());
    let country = form.country.as_deref().map(str::trim).unwrap_or_default();
    let article = NewArticle {
        slug: Slug::new(text(form.slug.as_deref(), "A slug")?).map_err(bad)?,
        language: Language::new(text(form.language.as_deref(), "A language")?).map_err(bad)?,
        country: if country.is_empty() {
            None
        } else {
            Some(CountryCode::new(&country.to_uppercase()).map_err(bad)?)
        },
        topic: Topic::new(text(form.topic.as_deref(), "A topic")?).map_err(bad)?,
        title: Title::new(text(form.title.as_deref(), "A title")?).map_err(bad)?,
        body: Body::new(text(form.body.as_deref(), "The text")?).map_err(bad)?,
        public: form.public.is_some(),
    };
    let store = app.store.clone();
    let actor = agent.actor();
    let version = form.version;
    let saved = spawn(move || store.put_article(&article, &actor, version)).await?;
    let id = match saved {
        Ok(id) => id,
        Err(ArticleError::Conflict { .. }) if version.is_none() => {
            return Err(Failure::Conflict(
                "An article with this slug and language exists already; nothing was saved. \
                 Open it and edit it, or choose another slug.",
            ));
        }
        Err(ArticleError::Conflict { .. }) => {
            return Err(Failure::Conflict(
                "Someone changed this article while you were editing it; nothing was saved. \
                 Open it again and reapply your change.",
            ));
        }
        Err(ArticleError::Write(WriteError::Invalid(e))) => {
            return Err(Failure::BadRequest(e.to_string()));
        }
        Err(other) => return Err(Failure::internal(other)),
    };
    app.audit(
        audit::Event::new(
            "console.kb.save",
            agent.audit_actor(),
            format!("kb:{}", id.get()),
            "ok",
        )
        .with("slug", form.slug.unwrap_or_default()),
    );
    Ok(Redirect::to(&format!("/kb/{}", id.get())).into_response())
}

fn country(code: Option<&CountryCode>) -> String {
    code.map(|c| c.as_str().to_owned()).unwrap_or_default()
}
