//! The automatic messages, as data: one TOML file per language (`templates/LANG.toml`, shipped
//! in the binary, or a directory of such files that replaces them), each with a subject and a
//! body per [`Kind`] as minijinja templates, and the words for each status.
//!
//! A language is chosen along a fallback chain: the citizen's tag (`ro-MD`), its primary
//! language (`ro`), the configured default, then Romanian and English. Every template is
//! rendered with a sample when loaded, with undefined variables an error, so a typo in an
//! edited file fails at start-up rather than in a citizen's mail.

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

/// Every automatic message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A new case opened by mail: number, tracking code and link.
    Acknowledgement,
    /// An agent's external message.
    AgentReply,
    /// The case waits for the citizen's information or documents.
    RequestDocuments,
    /// Another change of status.
    StatusChange,
    /// Resolved or closed.
    Closure,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Acknowledgement,
        Kind::AgentReply,
        Kind::RequestDocuments,
        Kind::StatusChange,
        Kind::Closure,
    ];

    /// The table name in the template files.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Acknowledgement => "acknowledgement",
            Kind::AgentReply => "agent_reply",
            Kind::RequestDocuments => "request_documents",
            Kind::StatusChange => "status_change",
            Kind::Closure => "closure",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Sent without a person writing it, so it carries `Auto-Submitted: auto-replied`.
    pub fn is_automatic(self) -> bool {
        self != Kind::AgentReply
    }
}

/// The values a template may use.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub case_no: String,
    pub tracking_code: String,
    pub tracking_url: String,
    pub name: String,
    /// A status code (`in_progress`); shown through the file's `[status]` words.
    pub status: String,
    pub reply: String,
    pub emergency: bool,
    pub consulate: String,
}

impl Default for Sample {
    fn default() -> Self {
        Self {
            case_no: "CSC-2026-0001234".to_owned(),
            tracking_code: "K7QX-9M2P-TR4W".to_owned(),
            tracking_url: "https://cetateni.example/status".to_owned(),
            name: "Ana Popescu".to_owned(),
            status: "in_progress".to_owned(),
            reply: "Bună ziua, vă rugăm să ne trimiteți o copie a pașaportului.".to_owned(),
            emergency: false,
            consulate: "ro-emb-paris".to_owned(),
        }
    }
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The language whose template was used.
    pub language: String,
    pub subject: String,
    pub body: String,
}

/// Why the templates could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("reading {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: [{kind}] is missing")]
    Missing { file: String, kind: &'static str },
    #[error("{file}: [{kind}].{field} does not render: {source}")]
    Render {
        file: String,
        kind: &'static str,
        field: &'static str,
        source: minijinja::Error,
    },
    #[error("no templates for any language")]
    Empty,
}

#[derive(Debug, Deserialize)]
struct Text {
    subject: String,
    body: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    acknowledgement: Option<Text>,
    agent_reply: Option<Text>,
    request_documents: Option<Text>,
    status_change: Option<Text>,
    closure: Option<Text>,
    #[serde(default)]
    status: BTreeMap<String, String>,
}

#[derive(Debug)]
struct Language {
    texts: BTreeMap<Kind, Text>,
    status: BTreeMap<String, String>,
}

/// The templates of every language.
#[derive(Debug)]
pub struct Templates {
    languages: BTreeMap<String, Language>,
    default_language: String,
}

const SHIPPED: &[(&str, &str)] = &[
    ("ro", include_str!("../templates/ro.toml")),
    ("en", include_str!("../templates/en.toml")),
];

impl Templates {
    /// The templates shipped with the crate.
    pub fn shipped(default_language: &str) -> Result<Self, TemplateError> {
        Self::from_files(
            SHIPPED
                .iter()
                .map(|(l, t)| (l.to_string(), t.to_string(), format!("templates/{l}.toml"))),
            default_language,
        )
    }

    /// Every `LANG.toml` in `dir`, instead of the shipped ones.
    pub fn from_dir(dir: &Path, default_language: &str) -> Result<Self, TemplateError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
                path: path.display().to_string(),
                source,
            })
        };
        let mut files = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|source| TemplateError::Read {
            path: dir.display().to_string(),
            source,
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml")
                && let Some(lang) = path.file_stem().and_then(|s| s.to_str())
            {
                files.push((lang.to_owned(), read(&path)?, path.display().to_string()));
            }
        }
        Self::from_files(files.into_iter(), default_language)
    }

    fn from_files(
        files: impl Iterator<Item = (String, String, String)>,
        default_language: &str,
    ) -> Result<Self, TemplateError> {
        let mut languages = BTreeMap::new();
        for (lang, text, name) in files {
            let file: File = toml::from_str(&text).map_err(|e| TemplateError::Syntax {
                file: name.clone(),
                message: e.to_string(),
            })?;
            let mut texts = BTreeMap::new();
            for (kind, t) in [
                (Kind::Acknowledgement, file.acknowledgement),
                (Kind::AgentReply, file.agent_reply),
                (Kind::RequestDocuments, file.request_documents),
                (Kind::StatusChange, file.status_change),
                (Kind::Closure, file.closure),
            ] {
                let t = t.ok_or(TemplateError::Missing {
                    file: name.clone(),
                    kind: kind.code(),
                })?;
                texts.insert(kind, t);
            }
            let language = Language {
                texts,
                status: file.status,
            };
            for kind in Kind::ALL {
                render_one(&language, kind, &Sample::default(), &lang).map_err(
                    |(field, source)| TemplateError::Render {
                        file: name.clone(),
                        kind: kind.code(),
                        field,
                        source,
                    },
                )?;
            }
            languages.insert(lang.to_ascii_lowercase(), language);
        }
        if languages.is_empty() {
            return Err(TemplateError::Empty);
        }
        Ok(Self {
            languages,
            default_language: default_language.to_ascii_lowercase(),
        })
    }

    /// The languages available.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.languages.keys().map(String::as_str)
    }

    /// The language used for a citizen whose language tag is `tag`.
    pub fn pick(&self, tag: &str) -> &str {
        let tag = tag.trim().to_ascii_lowercase();
        let primary = tag.split('-').next().unwrap_or_default().to_owned();
        let chain = [
            tag,
            primary,
            self.default_language.clone(),
            "ro".into(),
            "en".into(),
        ];
        for candidate in chain {
            if let Some((key, _)) = self.languages.get_key_value(&candidate) {
                return key;
            }
        }
        self.languages.keys().next().map_or("ro", String::as_str)
    }

    /// Renders `kind` for a citizen whose language is `language`.
    pub fn render(
        &self,
        kind: Kind,
        language: &str,
        values: &Sample,
    ) -> Result<Rendered, minijinja::Error> {
        let lang = self.pick(language).to_owned();
        let Some(language) = self.languages.get(&lang) else {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::TemplateNotFound,
                "no templates",
            ));
        };
        let (subject, body) = render_one(language, kind, values, &lang).map_err(|(_, e)| e)?;
        Ok(Rendered {
            language: lang,
            subject,
            body,
        })
    }

    /// What the console shows when an administrator previews a template: `kind` (its code) in
    /// `language`, with `sample` or the built-in sample.
    pub fn render_preview(
        &self,
        kind: &str,
        language: &str,
        sample: Option<&Sample>,
    ) -> Result<Rendered, minijinja::Error> {
        let kind = Kind::from_code(kind).ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::TemplateNotFound,
                "no such message kind",
            )
        })?;
        self.render(kind, language, sample.unwrap_or(&Sample::default()))
    }
}

fn render_one(
    language: &Language,
    kind: Kind,
    values: &Sample,
    lang: &str,
) -> Result<(String, String), (&'static str, minijinja::Error)> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let Some(text) = language.texts.get(&kind) else {
        return Err((
            "subject",
            minijinja::Error::new(minijinja::ErrorKind::TemplateNotFound, "missing"),
        ));
    };
    let status = language
        .status
        .get(&values.status)
        .cloned()
        .unwrap_or_else(|| values.status.clone());
    let ctx = minijinja::context! {
        case_no => values.case_no,
        tracking_code => values.tracking_code,
        tracking_url => values.tracking_url,
        name => values.name,
        status => status,
        reply => values.reply,
        emergency => values.emergency,
        consulate => values.consulate,
        language => lang,
    };
    let subject = env
        .render_str(&text.subject, &ctx)
        .map_err(|e| ("subject", e))?;
    let body = env.render_str(&text.body, &ctx).map_err(|e| ("body", e))?;
    // A subject is one line.
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok((subject, body.trim().to_owned() + "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_renders_in_both_languages_with_the_fallback_chain() {
        let t = Templates::shipped("ro").unwrap();
        assert_eq!(t.pick("ro-MD"), "ro");
        assert_eq!(t.pick("EN-gb"), "en");
        assert_eq!(t.pick("fr"), "ro", "the default");
        let en = Templates::shipped("en").unwrap();
        assert_eq!(en.pick("it"), "en");
        for kind in Kind::ALL {
            for lang in ["ro", "en"] {
                let r = t.render(kind, lang, &Sample::default()).unwrap();
                assert_eq!(r.language, lang);
                assert!(!r.subject.is_empty() && !r.subject.contains('\n'));
                assert!(r.body.contains("CSC-2026-0001234") || kind == Kind::AgentReply);
            }
        }
        let ack = t
            .render(Kind::Acknowledgement, "ro", &Sample::default())
            .unwrap();
        assert!(ack.body.contains("K7QX-9M2P-TR4W"));
        assert!(!ack.body.contains("URGENT"));
        let urgent = Sample {
            emergency: true,
            ..Sample::default()
        };
        let ack = t.render(Kind::Acknowledgement, "en", &urgent).unwrap();
        assert!(ack.body.contains("URGENT"));
        let status = t.render_preview("status_change", "ro", None).unwrap();
        assert_eq!(status.subject, "Cazul dumneavoastră: în lucru");
        assert!(t.render_preview("nonsense", "ro", None).is_err());
    }

    #[test]
    fn an_edited_file_with_a_typo_fails_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let good = include_str!("../templates/en.toml");
        std::fs::write(dir.path().join("en.toml"), good).unwrap();
        assert!(Templates::from_dir(dir.path(), "en").is_ok());
        std::fs::write(
            dir.path().join("en.toml"),
            good.replace("{{ case_no }}", "{{ case_number }}"),
        )
        .unwrap();
        let err = Templates::from_dir(dir.path(), "en")
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not render"), "{err}");
        std::fs::write(
            dir.path().join("en.toml"),
            "[acknowledgement]\nsubject = \"x\"\nbody = \"y\"\n",
        )
        .unwrap();
        let err = Templates::from_dir(dir.path(), "en")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[agent_reply] is missing"), "{err}");
    }
}
