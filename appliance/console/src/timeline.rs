//! How the case page shows people and the timeline: one list across channels and across the
//! cases merged into this one, each entry saying what it is, who did it and, for entries of
//! a merged case, which case it came from.

use std::collections::HashMap;

use casestore::{Actor, CaseId, CaseNumber, Merge, Person, ScanVerdict, TimelineItem, Visibility};
use minijinja::{Value, context};

/// Case numbers of the ids an entry mentions, for the cases the viewer may open.
pub(crate) type Numbers = HashMap<CaseId, CaseNumber>;

/// A case the viewer may not open is not named, not even by its internal id.
fn number(numbers: &Numbers, id: CaseId) -> String {
    numbers
        .get(&id)
        .map_or_else(|| "another case".to_owned(), ToString::to_string)
}

fn who(actor: &Actor) -> String {
    match actor {
        Actor::Citizen => "the citizen".to_owned(),
        Actor::System => "the system".to_owned(),
        Actor::Agent(id) => id.to_string(),
    }
}

pub(crate) fn person(p: &Person) -> Value {
    context! {
        role => p.role.code(),
        relationship => p.relationship.code(),
        family_name => p.family_name.as_str(),
        given_names => p.given_names.as_str(),
        contacts => p.contacts.iter().map(|c| context! {
            kind => c.kind.code(),
            value => c.value.as_str(),
            verification => c.verification.code(),
        }).collect::<Vec<_>>(),
        identifiers => p.identifiers.iter().map(|i| context! {
            kind => i.kind().code(),
            masked => i.masked(),
        }).collect::<Vec<_>>(),
    }
}

pub(crate) fn merge(m: &Merge, numbers: &Numbers) -> Value {
    context! {
        id => m.id.get(),
        source => number(numbers, m.source),
        into => number(numbers, m.into),
        at => m.at.unix_ms(),
        by => who(&m.actor),
        reason => m.reason.as_str(),
        undone => m.undone.is_some(),
        // Un-merging changes both cases, so it is offered only to who may open both.
        both_readable => numbers.contains_key(&m.source) && numbers.contains_key(&m.into),
    }
}

pub(crate) fn referral(r: &casestore::Referral) -> Value {
    context! {
        id => r.id.get(),
        body => r.body.as_str(),
        sent_at => r.sent_at.map(|t| t.unix_ms()),
        due_at => r.due_at.map(|t| t.unix_ms()),
        acknowledged_at => r.acknowledged_at.map(|t| t.unix_ms()),
        outcome => r.outcome.as_ref().map(|o| o.as_str().to_owned()),
    }
}

/// One timeline entry; `this` is the case being viewed.
pub(crate) fn item(entry: &TimelineItem, this: CaseId, numbers: &Numbers) -> Value {
    let origin = (entry.case() != this).then(|| number(numbers, entry.case()));
    let (kind, title, text, internal) = match entry {
        TimelineItem::Message { message, .. } => {
            let internal = message.visibility == Visibility::Internal;
            let title = if internal {
                format!("Internal note by {}", who(&message.author))
            } else {
                format!(
                    "{} {} by {} ({})",
                    if message.direction == casestore::Direction::In {
                        "Message from"
                    } else {
                        "Reply sent by"
                    },
                    message.channel.code(),
                    who(&message.author),
                    message.language
                )
            };
            (
                "message",
                title,
                Some(message.body.as_str().to_owned()),
                internal,
            )
        }
        TimelineItem::StatusChange { change, .. } => (
            "status",
            format!(
                "Status {} → {} by {}",
                change.from.map_or("—", |s| s.code()),
                change.to.code(),
                who(&change.actor)
            ),
            change.note.as_ref().map(|n| n.as_str().to_owned()),
            false,
        ),
        TimelineItem::FieldChange { change, .. } => (
            "field",
            format!(
                "{} {} → {} by {}",
                change.field.code(),
                change.from.as_deref().unwrap_or("—"),
                change.to.as_deref().unwrap_or("—"),
                who(&change.actor)
            ),
            change.note.as_ref().map(|n| n.as_str().to_owned()),
            false,
        ),
        TimelineItem::Attachment { attachment, .. } => (
            "attachment",
            format!(
                "Document {} ({}, {} bytes): {}",
                attachment.file_name,
                attachment.media_type,
                attachment.size,
                match attachment.verdict {
                    ScanVerdict::Clean => "scanned clean",
                    ScanVerdict::Pending => "waiting for the virus scan",
                    _ => "refused by the virus scan",
                }
            ),
            Some(format!("SHA-256 {}", attachment.sha256)),
            false,
        ),
        TimelineItem::Referral { referral, .. } => (
            "referral",
            format!(
                "Referred to {}{}{}",
                referral.body.as_str(),
                if referral.acknowledged_at.is_some() {
                    ", acknowledged"
                } else {
                    ""
                },
                referral
                    .due_at
                    .map(|d| format!(
                        ", answer due {}",
                        crate::case_view::format_time(d.unix_ms())
                    ))
                    .unwrap_or_default()
            ),
            referral
                .outcome
                .as_ref()
                .map(|o| format!("Outcome: {}", o.as_str())),
            false,
        ),
        TimelineItem::Link { link, .. } => (
            "link",
            format!(
                "{} {} {} by {}",
                if link.outgoing {
                    "Linked as"
                } else {
                    "Linked from"
                },
                link.kind.code(),
                number(numbers, link.other),
                who(&link.actor)
            ),
            None,
            false,
        ),
        TimelineItem::Merge { merge, .. } => (
            "merge",
            format!(
                "{} merged into {} by {}",
                number(numbers, merge.source),
                number(numbers, merge.into),
                who(&merge.actor)
            ),
            Some(merge.reason.as_str().to_owned()),
            false,
        ),
        TimelineItem::Unmerge { merge, .. } => (
            "unmerge",
            format!(
                "{} un-merged from {}{}",
                number(numbers, merge.source),
                number(numbers, merge.into),
                merge
                    .undone
                    .as_ref()
                    .map(|u| format!(" by {}", who(&u.actor)))
                    .unwrap_or_default()
            ),
            merge.undone.as_ref().map(|u| u.reason.as_str().to_owned()),
            false,
        ),
    };
    context! {
        kind => kind,
        at => entry.at().unix_ms(),
        origin => origin,
        title => title,
        text => text,
        internal => internal,
    }
}

/// Every case id the entries mention, to look their numbers up once.
pub(crate) fn mentioned(items: &[TimelineItem], merges: &[Merge]) -> Vec<CaseId> {
    let mut ids: Vec<CaseId> = items.iter().map(TimelineItem::case).collect();
    for entry in items {
        match entry {
            TimelineItem::Link { link, .. } => ids.push(link.other),
            TimelineItem::Merge { merge, .. } | TimelineItem::Unmerge { merge, .. } => {
                ids.extend([merge.source, merge.into]);
            }
            _ => {}
        }
    }
    for m in merges {
        ids.extend([m.source, m.into]);
    }
    ids.sort_by_key(|id| id.get());
    ids.dedup();
    ids
}
