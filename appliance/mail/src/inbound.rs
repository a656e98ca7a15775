//! A received message becomes case work: a new case (classified and routed by `intake`, like a
//! web request), a reply added to its case, a new case linked to the one a stranger's reply
//! referred to, or a bounce noted on the case it returned from.
//!
//! Threading fails closed: a reply joins a case (through `[CSC-YYYY-NNNNNNN]` in the subject,
//! or `In-Reply-To`/`References` naming a mail of the case) only when its From address is a
//! verified e-mail contact of that case, the relay authenticated this message's sender (where
//! an `authserv_id` is configured), and the case is still open; otherwise it opens a new
//! case, linked (`related`) to the one it named, with an internal note saying why. A
//! Message-ID is taken in once. Attachments pass the portal's rules (PDF, JPEG, PNG by their
//! bytes, 10 MiB each, 25 MiB together) and clamd; refused ones are named in a note. clamd
//! unreachable means "try later" (451), never "accepted without a scan".

use std::sync::Arc;

use casestore as cs;
use intake::{Intake, Request};
use scan::documents::Refusal;
use tracing::{info, warn};

use crate::parse::{self, NoAutoAnswer, Parsed};
use crate::session::{Envelope, Reply};

/// Attachments are held to the portal's rules: the largest single one and the largest sum.
pub use scan::documents::{MAX_FILE, MAX_TOTAL};

/// An accepted recipient address and where its mail is routed (the circumscription table's
/// country and city, as a web form would give them).
#[derive(Debug, Clone, Default)]
pub struct Mailbox {
    pub address: String,
    pub country: String,
    pub city: String,
}

/// How mail is taken in.
#[derive(Debug, Clone)]
pub struct InboundSettings {
    pub mailboxes: Vec<Mailbox>,
    /// The language of a case when the mail does not say and the text does not tell.
    pub default_language: String,
    /// The relay's `authserv-id`: a From address counts as verified when the topmost
    /// `Authentication-Results` header is the relay's and says `dmarc=pass`.
    pub authserv_id: Option<String>,
    /// Take every From address as verified (the relay rejects unauthenticated mail itself).
    pub trust_sender: bool,
}

/// Where a message went, for the SMTP answer and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    Opened(cs::CaseNumber),
    Appended(cs::CaseNumber),
    Duplicate(cs::CaseNumber),
    Bounce {
        marked: usize,
    },
    /// A report that named none of our mail: dropped.
    Ignored,
}

/// What takes messages in.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub store: Arc<cs::Store>,
    pub files: Arc<cs::AttachmentStore>,
    pub intake: Arc<Intake>,
    pub clamd: Option<scan::Clamd>,
    pub settings: Arc<InboundSettings>,
}

/// A refused attachment, for the agent's note.
#[derive(Debug, Clone)]
struct Refused {
    name: String,
    why: String,
}

impl Inbound {
    /// Takes one message in and gives the SMTP answer.
    pub async fn take(&self, envelope: &Envelope) -> Reply {
        match self.take_inner(envelope).await {
            Ok(taken) => {
                let text = match &taken {
                    Taken::Opened(no) => format!("2.0.0 accepted: new case {no}"),
                    Taken::Appended(no) => format!("2.0.0 accepted: added to case {no}"),
                    Taken::Duplicate(no) => format!("2.0.0 already received as case {no}"),
                    Taken::Bounce { .. } | Taken::Ignored => "2.0.0 report received".to_owned(),
                };
                Reply::new(250, text)
            }
            Err(reply) => reply,
        }
    }

    /// Takes one message in: where it went, or the SMTP refusal.
    pub async fn take_inner(&self, envelope: &Envelope) -> Result<Taken, Reply> {
        let parsed = match parse::parse(&envelope.data, &envelope.from) {
            Ok(p) => p,
            Err(e) => {
                return Err(Reply::new(554, format!("5.6.0 message refused: {e}")));
            }
        };
        if let Some(dsn) = &parsed.dsn {
            return self.bounce(&parsed, dsn).await;
        }
        let (kept, refused) = self.attachments(&parsed).await?;
        let this = self.clone();
        let recipients = envelope.recipients.clone();
        let stored = tokio::task::spawn_blocking(move || {
            this.store_mail(&parsed, &recipients, &kept, &refused)
        })
        .await
        .map_err(|_| Reply::new(451, "4.3.0 internal error, try again later"))?;
        stored.map_err(|e| {
            warn!(error = %e, "storing a mail failed");
            match e {
                StoreError::Write(cs::WriteError::Database(ref d)) if d.is_busy() => {
                    Reply::new(451, "4.3.0 busy, try again later")
                }
                StoreError::Value(_) => Reply::new(554, "5.6.0 message refused: unusable content"),
                _ => Reply::new(451, "4.3.0 cannot store the message now, try again later"),
            }
        })
    }

    async fn bounce(&self, parsed: &Parsed, dsn: &parse::Dsn) -> Result<Taken, Reply> {
        let this = self.clone();
        let parsed = parsed.clone();
        let dsn = dsn.clone();
        tokio::task::spawn_blocking(move || -> Result<Taken, cs::WriteError> {
            // Only a report naming a mail we sent counts: a forged bounce cannot mark anyone.
            let case = dsn.original_ids.iter().find_map(|id| {
                let id = cs::MailId::new(id).ok()?;
                let found = this.store.mail_lookup(&id).ok()??;
                (found.direction == cs::Direction::Out).then_some(found.case)
            });
            let Some(case) = case else {
                info!("a delivery report naming none of our mail was dropped");
                return Ok(Taken::Ignored);
            };
            let bounce_id = bounce_id(&parsed);
            let mut marked = 0;
            for r in dsn.recipients.iter().filter(|r| r.action == "failed") {
                let text = format!(
                    "Mail to {} could not be delivered ({}{}{}); the address is marked undeliverable.",
                    r.address,
                    r.status,
                    if r.diagnostic.is_empty() { "" } else { ": " },
                    r.diagnostic
                );
                let note = cs::Note::new(truncate(&text, 1900))?;
                let id = cs::MailId::new(&format!("{}.{}", bounce_id.as_str(), r.address))
                    .unwrap_or_else(|_| bounce_id.clone());
                marked += this.store.mark_undeliverable(case, &r.address, &id, &note)?;
            }
            Ok(Taken::Bounce { marked })
        })
        .await
        .map_err(|_| Reply::new(451, "4.3.0 internal error, try again later"))?
        .map_err(|e| {
            warn!(error = %e, "recording a bounce failed");
            Reply::new(451, "4.3.0 cannot record the report now, try again later")
        })
    }

    /// The attachments that pass, stored; and those refused, with why.
    async fn attachments(
        &self,
        parsed: &Parsed,
    ) -> Result<(Vec<cs::NewAttachment>, Vec<Refused>), Reply> {
        let mut kept = Vec::new();
        let mut refused = Vec::new();
        let mut total = 0usize;
        for a in &parsed.attachments {
            let name = cs::FileName::sanitize(&a.name).as_str().to_owned();
            let refuse = |why: String| Refused {
                name: name.clone(),
                why,
            };
            let real = match scan::documents::check(&a.bytes, total) {
                Ok(real) => real,
                Err(Refusal::Size) => {
                    refused.push(refuse(format!("larger than {} MiB", MAX_FILE >> 20)));
                    continue;
                }
                Err(Refusal::Total) => {
                    refused.push(refuse(format!(
                        "the attachments together exceed {} MiB",
                        MAX_TOTAL >> 20
                    )));
                    continue;
                }
                Err(Refusal::Type) => {
                    refused.push(refuse(format!(
                        "type not accepted: declared {}, the content is {} (PDF, JPEG or PNG only)",
                        a.declared,
                        scan::documents::seen_type(&a.bytes)
                    )));
                    continue;
                }
            };
            let Some(clamd) = &self.clamd else {
                return Err(Reply::new(
                    451,
                    "4.3.0 attachments cannot be scanned now, try later",
                ));
            };
            match clamd.scan_bytes(&a.bytes).await {
                Ok(scan::Verdict::Clean) => {}
                Ok(scan::Verdict::Infected(signature)) => {
                    refused.push(refuse(format!("infected ({signature})")));
                    continue;
                }
                Err(scan::ScanError::SizeLimitExceeded { .. }) => {
                    refused.push(refuse("too large to scan".to_owned()));
                    continue;
                }
                Err(e) => {
                    warn!(error = %e, "clamd failed; the mail is deferred");
                    return Err(Reply::new(
                        451,
                        "4.3.0 attachments cannot be scanned now, try again later",
                    ));
                }
            }
            let files = self.files.clone();
            let bytes = a.bytes.clone();
            let stored = tokio::task::spawn_blocking(move || files.put(&bytes))
                .await
                .map_err(|_| Reply::new(451, "4.3.0 internal error, try again later"))?
                .map_err(|e| {
                    warn!(error = %e, "storing an attachment failed");
                    Reply::new(451, "4.3.0 cannot store attachments now, try again later")
                })?;
            total += a.bytes.len();
            kept.push(cs::NewAttachment {
                sha256: stored.sha256,
                size: a.bytes.len() as u64,
                media_type: cs::MediaType::new(real.media_type())
                    .map_err(|_| Reply::new(451, "4.3.0 internal error, try again later"))?,
                file_name: cs::FileName::sanitize(&a.name),
                verdict: cs::ScanVerdict::Clean,
            });
        }
        Ok((kept, refused))
    }

    fn store_mail(
        &self,
        parsed: &Parsed,
        recipients: &[String],
        attachments: &[cs::NewAttachment],
        refused: &[Refused],
    ) -> Result<Taken, StoreError> {
        let store = &self.store;
        let mail_id = match parsed.message_id.as_deref().map(cs::MailId::new) {
            Some(Ok(id)) => id,
            // No usable Message-ID: the content names the mail, so a resend is still one case.
            _ => synthetic_id(parsed),
        };
        if let Some(seen) = store.mail_lookup(&mail_id)? {
            return Ok(Taken::Duplicate(case_no(store, seen.case)?));
        }
        let sender = parsed.from_address.clone().unwrap_or_default();
        let mut notes = Vec::new();
        for r in refused {
            notes.push(cs::Note::new(truncate(
                &format!("Attachment \"{}\" was refused: {}.", r.name, r.why),
                1900,
            ))?);
        }
        let body = cs::Body::new(body_text(parsed))?;
        let language = language_of(parsed, &self.settings.default_language);

        // Which case the mail names, if any.
        let named = self.named_case(parsed)?;
        let mut related_to = None;
        if let Some((case, how)) = named {
            let header = store.case(case)?.ok_or(cs::WriteError::NoSuchCase(case))?;
            let verified = !sender.is_empty() && store.is_verified_sender(case, &sender)?;
            // Where the relay authenticates senders, this very message must be vouched for
            // too: a forged From of a verified address does not join the case.
            let vouched =
                self.settings.authserv_id.is_none() || self.authenticated(parsed, &sender);
            let open = header.status.is_open() || header.status == cs::Status::Merged;
            if verified && vouched && open {
                let msg = cs::NewMessage {
                    direction: cs::Direction::In,
                    channel: cs::Channel::Email,
                    author: cs::Actor::Citizen,
                    visibility: cs::Visibility::External,
                    language: header.language.clone(),
                    body,
                    attachments: attachments.to_vec(),
                };
                return Ok(match store.append_mail(case, &msg, &mail_id, &notes)? {
                    cs::MailOutcome::Duplicate(r) => Taken::Duplicate(case_no(store, r.case)?),
                    _ => Taken::Appended(header.case_no),
                });
            }
            let why = if verified && !vouched {
                format!(
                    "This mail refers to case {} ({how}) and comes from its contact {sender}, but the relay did not authenticate the sender, so it was not added to that case.",
                    header.case_no
                )
            } else if verified {
                format!(
                    "This mail refers to case {} ({how}), which is {}; it was opened as a new case rather than reopening that one.",
                    header.case_no, header.status
                )
            } else {
                format!(
                    "This mail refers to case {} ({how}) but its sender {} is not a verified contact of that case, so it was not added to it.",
                    header.case_no,
                    if sender.is_empty() { "(none)" } else { &sender }
                )
            };
            notes.insert(0, cs::Note::new(truncate(&why, 1900))?);
            related_to = Some(case);
        }

        // A new case, decided as a web request would be.
        let mailbox = recipients
            .iter()
            .find_map(|r| {
                self.settings
                    .mailboxes
                    .iter()
                    .find(|m| m.address.eq_ignore_ascii_case(r))
            })
            .cloned()
            .unwrap_or_default();
        let text = format!("{}\n{}", parsed.subject, body.as_str());
        let decision = self.intake.decide(&Request {
            declared_type: None,
            declared_priority: None,
            text: &text,
            country: &mailbox.country,
            city: &mailbox.city,
        });
        let verification = if sender.is_empty() {
            cs::Verification::Unverified
        } else if self.authenticated(parsed, &sender) {
            cs::Verification::Verified
        } else {
            cs::Verification::Pending
        };
        let mut contacts = Vec::new();
        if let Ok(value) = cs::ContactValue::new(sender.clone()) {
            contacts.push(cs::NewContact {
                kind: cs::ContactKind::Email,
                value,
                verification,
            });
        }
        let (given, family) = names(parsed.from_name.as_deref(), &sender);
        let type_code = decision.case_type.as_ref().map_or("D1", |t| t.as_str());
        let new = cs::NewCase {
            idempotency_key: Some(cs::IdempotencyKey::new(mail_id.as_str())?),
            case_type: cs::CaseType {
                code: cs::TypeCode::new(type_code)?,
                subtype: None,
                taxonomy_version: decision.taxonomy_version,
                family: cs::Family::from_intake(decision.family),
            },
            priority: cs::Priority::from_code(decision.priority.as_str())
                .unwrap_or(cs::Priority::P3),
            sensitivity: decision.sensitivity.into(),
            consulate: cs::ConsulateId::new(decision.consulate.as_str())?,
            channel: cs::Channel::Email,
            language: cs::Language::new(language)?,
            needs_triage: decision.case_type.is_none(),
            subject: cs::NewPerson {
                family_name: cs::Name::new(family)?,
                given_names: cs::Name::new(given)?,
                birth_date: None,
                contacts,
                identifiers: Vec::new(),
            },
            requester: None,
            author: cs::Actor::Citizen,
            body,
            attachments: attachments.to_vec(),
        };
        if let Some(why) = parsed.no_auto_answer {
            info!(reason = why.reason(), "no acknowledgement for this mail");
        }
        let acknowledge = parsed.no_auto_answer.is_none() && !sender.is_empty();
        let outcome = store.open_mail_case(
            &new,
            &cs::MailCase {
                mail_id: &mail_id,
                acknowledge,
                related_to,
                notes: &notes,
            },
        )?;
        Ok(match outcome {
            cs::MailOutcome::Opened(c) => Taken::Opened(c.case_no),
            other => Taken::Duplicate(case_no(store, other.case())?),
        })
    }

    /// The case the subject's token or the reply headers name, and how.
    fn named_case(
        &self,
        parsed: &Parsed,
    ) -> Result<Option<(cs::CaseId, &'static str)>, StoreError> {
        if let Some(no) = token(&parsed.subject)
            && let Some(id) = self.store.case_id(no)?
        {
            return Ok(Some((id, "case number in the subject")));
        }
        for raw in parsed
            .in_reply_to
            .iter()
            .chain(parsed.references.iter().rev())
        {
            let Ok(id) = cs::MailId::new(raw) else {
                continue;
            };
            if let Some(found) = self.store.mail_lookup(&id)? {
                return Ok(Some((found.case, "In-Reply-To/References")));
            }
        }
        Ok(None)
    }

    /// Whether the relay vouches for the From address.
    fn authenticated(&self, parsed: &Parsed, sender: &str) -> bool {
        if self.settings.trust_sender {
            return true;
        }
        let (Some(authserv), Some(results)) =
            (&self.settings.authserv_id, &parsed.authentication_results)
        else {
            return false;
        };
        let mut parts = results.split(';');
        let id = parts.next().unwrap_or_default().trim();
        if !id
            .split_whitespace()
            .next()
            .is_some_and(|i| i.eq_ignore_ascii_case(authserv))
        {
            return false;
        }
        let domain = sender.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
        parts.any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p.starts_with("dmarc=pass")
                && domain
                    .as_ref()
                    .is_some_and(|d| p.contains(&format!("header.from={d}")))
        })
    }
}

/// Why a mail could not be stored.
#[derive(Debug, thiserror::Error)]
enum StoreError {
    #[error(transparent)]
    Value(#[from] cs::InvalidValue),
    #[error(transparent)]
    Write(#[from] cs::WriteError),
    #[error(transparent)]
    Read(#[from] cs::ReadError),
}

fn case_no(store: &cs::Store, case: cs::CaseId) -> Result<cs::CaseNumber, StoreError> {
    Ok(store
        .case(case)?
        .ok_or(cs::WriteError::NoSuchCase(case))?
        .case_no)
}

/// The case number in `[CSC-YYYY-NNNNNNN]` in a subject.
pub fn token(subject: &str) -> Option<cs::CaseNumber> {
    let mut rest = subject;
    while let Some(start) = rest.find('[') {
        let after = &rest[start + 1..];
        if let Some(end) = after.find(']')
            && let Ok(no) = after[..end].parse::<cs::CaseNumber>()
        {
            return Some(no);
        }
        rest = after;
    }
    None
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect()
}

/// The case message: the subject, then the text, cut to the store's limit.
fn body_text(parsed: &Parsed) -> String {
    let mut text = String::new();
    if !parsed.subject.is_empty() {
        text.push_str(&format!("Subject: {}\n\n", parsed.subject));
    }
    text.push_str(parsed.text.trim());
    let text = text.replace('\0', "");
    if text.trim().is_empty() {
        return "(an e-mail without text)".to_owned();
    }
    let limit = cs::MAX_BODY_BYTES - 64;
    if text.len() <= limit {
        return text;
    }
    let mut cut = limit;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n[… cut: the e-mail was longer]", &text[..cut])
}

/// A Message-ID for a mail without one, from its sender, subject and text.
fn synthetic_id(parsed: &Parsed) -> cs::MailId {
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [
        parsed.from_address.as_deref().unwrap_or_default(),
        &parsed.subject,
        &parsed.text,
    ] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    let hex: String = h
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // 64 hex digits and a fixed domain always make a valid id.
    cs::MailId::new(&format!("{hex}@no-message-id.invalid")).unwrap_or_else(|_| unreachable_id())
}

fn unreachable_id() -> cs::MailId {
    // `MailId::new` accepts any short token without spaces; this literal is one.
    match cs::MailId::new("x@no-message-id.invalid") {
        Ok(id) => id,
        Err(_) => unreachable!("a constant Message-ID is valid"),
    }
}

fn bounce_id(parsed: &Parsed) -> cs::MailId {
    match parsed.message_id.as_deref().map(cs::MailId::new) {
        Some(Ok(id)) => id,
        _ => synthetic_id(parsed),
    }
}

/// Given names and family name from From's display name, or the address.
fn names(display: Option<&str>, address: &str) -> (String, String) {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect::<String>()
            .trim()
            .to_owned()
    };
    let display = display.map(clean).filter(|d| !d.is_empty());
    match display {
        Some(d) => match d.rsplit_once(' ') {
            Some((given, family)) if !given.trim().is_empty() => {
                (given.trim().to_owned(), family.trim().to_owned())
            }
            _ => ("-".to_owned(), d),
        },
        None => {
            let local = clean(address.split('@').next().unwrap_or_default());
            (
                "-".to_owned(),
                if local.is_empty() {
                    "(e-mail)".to_owned()
                } else {
                    local
                },
            )
        }
    }
}

/// The case's language: `Content-Language`, else Romanian or English from the words, else the
/// default.
fn language_of(parsed: &Parsed, default: &str) -> String {
    if let Some(tag) = parsed
        .content_language
        .as_deref()
        .and_then(|l| l.split(',').next())
        .map(str::trim)
        && cs::Language::new(tag).is_ok()
    {
        return tag.to_ascii_lowercase();
    }
    let text = format!("{} {}", parsed.subject, parsed.text).to_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(2000)
        .collect();
    const RO: &[&str] = &[
        "și",
        "si",
        "să",
        "sa",
        "este",
        "pentru",
        "nu",
        "am",
        "vă",
        "va",
        "cu",
        "de",
        "la",
        "bună",
        "buna",
        "ziua",
        "mulțumesc",
        "multumesc",
        "pașaport",
        "pasaport",
        "meu",
        "mea",
        "în",
    ];
    const EN: &[&str] = &[
        "the", "and", "is", "for", "my", "i", "to", "of", "please", "hello", "thank", "you",
        "passport", "have", "with", "in",
    ];
    let ro = words.iter().filter(|w| RO.contains(w)).count()
        + text
            .chars()
            .filter(|c| "ăâîșțş ţ".contains(*c) && *c != ' ')
            .count();
    let en = words.iter().filter(|w| EN.contains(w)).count();
    if ro > en {
        "ro".to_owned()
    } else if en > ro {
        "en".to_owned()
    } else {
        default.to_owned()
    }
}

/// Why the mail gets no automatic answer, for logs and tests.
pub fn no_auto_answer(parsed: &Parsed) -> Option<NoAutoAnswer> {
    parsed.no_auto_answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_anywhere_in_the_subject() {
        let no = |s: &str| token(s).map(|n| n.to_string());
        assert_eq!(
            no("Re: [CSC-2026-0000042] Am primit").as_deref(),
            Some("CSC-2026-0000042")
        );
        assert_eq!(
            no("[x] [csc-2026-0000042]").as_deref(),
            Some("CSC-2026-0000042")
        );
        assert_eq!(no("CSC-2026-0000042 without brackets"), None);
        assert_eq!(no("[[[["), None);
    }

    #[test]
    fn names_and_languages() {
        assert_eq!(
            names(Some("Ana Maria Popescu"), "a@b"),
            ("Ana Maria".to_owned(), "Popescu".to_owned())
        );
        assert_eq!(
            names(None, "ion.pop@x"),
            ("-".to_owned(), "ion.pop".to_owned())
        );
        let p = |subject: &str, text: &str| Parsed {
            message_id: None,
            from_name: None,
            from_address: None,
            subject: subject.to_owned(),
            in_reply_to: vec![],
            references: vec![],
            no_auto_answer: None,
            dsn: None,
            content_language: None,
            authentication_results: None,
            text: text.to_owned(),
            attachments: vec![],
        };
        assert_eq!(
            language_of(
                &p("Pașaport pierdut", "Bună ziua, am pierdut pașaportul"),
                "en"
            ),
            "ro"
        );
        assert_eq!(
            language_of(&p("Lost passport", "Hello, I have lost my passport"), "ro"),
            "en"
        );
        assert_eq!(language_of(&p("?", "..."), "ro"), "ro");
        let mut tagged = p("x", "y");
        tagged.content_language = Some("en-GB".to_owned());
        assert_eq!(language_of(&tagged, "ro"), "en-gb");
    }
}
