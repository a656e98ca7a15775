//! Reply templates in the citizen's language, with placeholders, and knowledge-base articles,
//! either of which an agent can start a reply from. Plain text: the engine does not
//! HTML-escape these (names without `.html`); the case page escapes the result when shown.

use casestore::Case;
use minijinja::{Environment, context};

use crate::App;
use crate::errors::Failure;
use crate::login::spawn;

/// Template name, then its text per language; `en` is the fallback.
const TEMPLATES: &[(&str, &[(&str, &str)])] = &[
    (
        "acknowledge",
        &[
            (
                "ro",
                "Bună ziua{% if citizen %}, {{ citizen }}{% endif %},\n\nAm primit solicitarea dumneavoastră {{ case_no }} și o analizăm. Vă vom răspunde cât mai curând.\n\nCu stimă,\n{{ agent }}",
            ),
            (
                "en",
                "Hello{% if citizen %} {{ citizen }}{% endif %},\n\nWe have received your request {{ case_no }} and are looking into it. We will answer as soon as we can.\n\nKind regards,\n{{ agent }}",
            ),
        ],
    ),
    (
        "documents",
        &[
            (
                "ro",
                "Bună ziua{% if citizen %}, {{ citizen }}{% endif %},\n\nPentru a continua solicitarea {{ case_no }} avem nevoie de următoarele documente:\n- \n\nLe puteți încărca pe portal cu numărul cazului și codul de urmărire.\n\nCu stimă,\n{{ agent }}",
            ),
            (
                "en",
                "Hello{% if citizen %} {{ citizen }}{% endif %},\n\nTo continue with your request {{ case_no }} we need the following documents:\n- \n\nYou can upload them on the portal with your case number and tracking code.\n\nKind regards,\n{{ agent }}",
            ),
        ],
    ),
    (
        "closing",
        &[
            (
                "ro",
                "Bună ziua{% if citizen %}, {{ citizen }}{% endif %},\n\nSolicitarea {{ case_no }} a fost rezolvată. Dacă mai aveți nevoie de ajutor, răspundeți la acest mesaj.\n\nCu stimă,\n{{ agent }}",
            ),
            (
                "en",
                "Hello{% if citizen %} {{ citizen }}{% endif %},\n\nYour request {{ case_no }} has been resolved. If you need anything else, just reply to this message.\n\nKind regards,\n{{ agent }}",
            ),
        ],
    ),
];

/// The names offered on the case page.
pub(crate) const TEMPLATE_NAMES: &[&str] = &["acknowledge", "documents", "closing"];

/// The text a reply box starts with: a template or an article, or nothing.
pub(crate) async fn prefill(
    app: &App,
    case: &Case,
    template: &Option<String>,
    article: Option<i64>,
    agent_name: &str,
) -> Result<String, Failure> {
    if let Some(name) = template.as_deref().filter(|s| !s.is_empty()) {
        // A reply goes to whoever asked: the requester when someone asked on the subject's
        // behalf, else the subject.
        let store = app.store.clone();
        let id = case.id;
        let persons = spawn(move || store.persons(id)).await??;
        let citizen = persons
            .iter()
            .find(|p| p.role == casestore::Role::Requester)
            .or_else(|| persons.first())
            .map(|p| format!("{} {}", p.given_names.as_str(), p.family_name.as_str()));
        return fill(name, case, citizen.as_deref(), agent_name);
    }
    let Some(id) = article else {
        return Ok(String::new());
    };
    let store = app.store.clone();
    let found = spawn(move || store.article(casestore::ArticleId::from_raw(id))).await??;
    Ok(found
        .map(|a| a.body.as_str().to_owned())
        .unwrap_or_default())
}

fn fill(
    name: &str,
    case: &Case,
    citizen: Option<&str>,
    agent_name: &str,
) -> Result<String, Failure> {
    let (_, texts) = TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| Failure::BadRequest(format!("no reply template {name:?}")))?;
    let language = case.language.as_str();
    let text = texts
        .iter()
        .find(|(lang, _)| *lang == language)
        .or_else(|| texts.iter().find(|(lang, _)| *lang == "en"))
        .map(|(_, text)| *text)
        .unwrap_or_default();
    Environment::new()
        .render_str(
            text,
            context! {
                case_no => case.case_no.to_string(),
                citizen => citizen,
                agent => agent_name,
            },
        )
        .map_err(Failure::internal)
}
