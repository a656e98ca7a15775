//! Templates (minijinja, auto-escaping every value) and the two static files.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value, context};

use crate::errors::Failure;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("queue.html", include_str!("../templates/queue.html")),
    ("rows.html", include_str!("../templates/rows.html")),
    ("case.html", include_str!("../templates/case.html")),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    (
        "break_glass.html",
        include_str!("../templates/break_glass.html"),
    ),
    ("kb.html", include_str!("../templates/kb.html")),
    ("dead.html", include_str!("../templates/dead.html")),
    (
        "templates.html",
        include_str!("../templates/templates.html"),
    ),
    ("article.html", include_str!("../templates/article.html")),
    ("chats.html", include_str!("../templates/chats.html")),
    (
        "chat_rows.html",
        include_str!("../templates/chat_rows.html"),
    ),
    ("chat.html", include_str!("../templates/chat.html")),
    ("phone.html", include_str!("../templates/phone.html")),
    (
        "phone_panel.html",
        include_str!("../templates/phone_panel.html"),
    ),
    (
        "phone_queues.html",
        include_str!("../templates/phone_queues.html"),
    ),
];

/// The page templates, parsed once.
pub(crate) struct Pages {
    env: Environment<'static>,
}

impl Pages {
    pub(crate) fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        env.add_filter("when", |ms: i64| crate::case_view::format_time(ms));
        Ok(Self { env })
    }

    /// Renders a whole page; a template error is an internal failure, logged.
    pub(crate) fn page(&self, status: StatusCode, name: &str, ctx: Value) -> Response {
        match self.render(name, ctx) {
            Ok(html) => (
                status,
                [
                    (header::CACHE_CONTROL, "no-store"),
                    (
                        header::CONTENT_SECURITY_POLICY,
                        "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
                    ),
                    (header::X_FRAME_OPTIONS, "DENY"),
                    // Not `no-referrer`: under it a browser sends `Origin: null` with the
                    // console's own form posts, and the same-origin check refuses them (over
                    // plain HTTP on a LAN address there is no `Sec-Fetch-Site` either).
                    // `same-origin` still sends nothing to other sites.
                    (header::REFERRER_POLICY, "same-origin"),
                ],
                Html(html),
            )
                .into_response(),
            Err(failure) => failure.into_response(),
        }
    }

    pub(crate) fn render(&self, name: &str, ctx: Value) -> Result<String, Failure> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(Failure::internal)
    }
}

/// The context every signed-in page shares.
pub(crate) fn base(policy: &access::Policy, agent: &crate::session::Agent) -> Value {
    // The menu offers what the policy allows, so that it never shows a page the role is
    // refused (or hides one it may use).
    let may = |action| policy.may(&agent.staff, action);
    context! {
        me => context! {
            id => agent.staff.id.as_str(),
            name => &agent.name,
            role => agent.staff.role.code(),
            consulate => agent.staff.consulate.as_str(),
            path => agent.path.to_string(),
        },
        menu => context! {
            dashboard => may(access::StaffAction::ViewDashboard),
            break_glass => may(access::StaffAction::ViewBreakGlassLog)
                || may(access::StaffAction::BreakGlass),
            outbox => crate::outbox::allowed(policy, agent),
            phone_queues => may(access::StaffAction::SuperviseCalls),
        },
        csrf => &agent.session.csrf,
    }
}

pub(crate) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../static/console.js"),
    )
        .into_response()
}

pub(crate) async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../static/console.css"),
    )
        .into_response()
}
