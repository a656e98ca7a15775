//! The per-case record queries and their row mappings, shared by the single reads (read.rs)
//! and the timeline, which gathers them all. Each query takes the case id as `?1` and reads
//! through the table's `case_id` index.

use rusqlite::Row;

use super::decode;
use crate::error::{DbResult as _, ReadError};
use crate::model::{
    Attachment, AttachmentId, Body, CaseId, ChangedField, Channel, Direction, FieldChange,
    FileName, Language, Link, LinkKind, MediaType, Message, MessageId, Note, Referral, ReferralId,
    ScanVerdict, Sha256, StatusChange, Visibility,
};

pub(crate) const MESSAGES: &str = "SELECT id, at, direction, channel, author, visibility,
    language, body FROM messages WHERE case_id = ?1 ORDER BY id";

pub(crate) fn message_row(r: &Row<'_>) -> Result<Message, ReadError> {
    let direction: String = r.get(2).db()?;
    let channel: String = r.get(3).db()?;
    let author: String = r.get(4).db()?;
    let visibility: String = r.get(5).db()?;
    Ok(Message {
        id: MessageId::from_raw(r.get(0).db()?),
        at: decode::time(r.get(1).db()?),
        direction: decode::code("direction", &direction, Direction::from_code)?,
        channel: decode::code("channel", &channel, Channel::from_code)?,
        author: decode::actor(&author)?,
        visibility: decode::code("visibility", &visibility, Visibility::from_code)?,
        language: decode::text(r.get(6).db()?, Language::new)?,
        body: decode::text(r.get(7).db()?, Body::new)?,
    })
}

pub(crate) const STATUS_HISTORY: &str = "SELECT at, from_status, to_status, actor, note
    FROM status_history WHERE case_id = ?1 ORDER BY id";

pub(crate) fn status_change_row(r: &Row<'_>) -> Result<StatusChange, ReadError> {
    let from: Option<String> = r.get(1).db()?;
    let to: String = r.get(2).db()?;
    let actor: String = r.get(3).db()?;
    Ok(StatusChange {
        at: decode::time(r.get(0).db()?),
        from: from.as_deref().map(decode::status).transpose()?,
        to: decode::status(&to)?,
        actor: decode::actor(&actor)?,
        note: decode::opt_text(r.get(4).db()?, Note::new)?,
    })
}

pub(crate) const CHANGES: &str = "SELECT at, field, from_value, to_value, actor, note
    FROM case_changes WHERE case_id = ?1 ORDER BY id";

pub(crate) fn field_change_row(r: &Row<'_>) -> Result<FieldChange, ReadError> {
    let field: String = r.get(1).db()?;
    let actor: String = r.get(4).db()?;
    Ok(FieldChange {
        at: decode::time(r.get(0).db()?),
        field: decode::code("changed field", &field, ChangedField::from_code)?,
        from: r.get(2).db()?,
        to: r.get(3).db()?,
        actor: decode::actor(&actor)?,
        note: decode::opt_text(r.get(5).db()?, Note::new)?,
    })
}

pub(crate) const ATTACHMENTS: &str = "SELECT id, message_id, sha256, size, media_type,
    file_name, verdict, verdict_at, created_at FROM attachments WHERE case_id = ?1 ORDER BY id";

pub(crate) fn attachment_row(r: &Row<'_>) -> Result<Attachment, ReadError> {
    let sha: Vec<u8> = r.get(2).db()?;
    let verdict: String = r.get(6).db()?;
    let file_name: String = r.get(5).db()?;
    Ok(Attachment {
        id: AttachmentId::from_raw(r.get(0).db()?),
        message: r.get::<_, Option<i64>>(1).db()?.map(MessageId::from_raw),
        sha256: Sha256(
            <[u8; 32]>::try_from(sha.as_slice())
                .map_err(|_| ReadError::Corrupt("attachment sha256".to_owned()))?,
        ),
        size: decode::count(r.get(3).db()?)?,
        media_type: decode::text(r.get(4).db()?, MediaType::new)?,
        file_name: FileName::sanitize(&file_name),
        verdict: decode::code("verdict", &verdict, ScanVerdict::from_code)?,
        verdict_at: decode::opt_time(r.get(7).db()?),
        created_at: decode::time(r.get(8).db()?),
    })
}

pub(crate) const LINKS: &str = "SELECT kind, 1, to_case, at, actor FROM case_links
    WHERE from_case = ?1
    UNION ALL
    SELECT kind, 0, from_case, at, actor FROM case_links WHERE to_case = ?1
    ORDER BY 4, 3";

pub(crate) fn link_row(r: &Row<'_>) -> Result<Link, ReadError> {
    let kind: String = r.get(0).db()?;
    let actor: String = r.get(4).db()?;
    Ok(Link {
        kind: decode::code("link kind", &kind, LinkKind::from_code)?,
        outgoing: r.get::<_, i64>(1).db()? == 1,
        other: CaseId::from_raw(r.get(2).db()?),
        at: decode::time(r.get(3).db()?),
        actor: decode::actor(&actor)?,
    })
}

pub(crate) const REFERRALS: &str = "SELECT id, body, sent_at, acknowledged_at, due_at, outcome,
    outcome_at, actor, recorded_at FROM referrals WHERE case_id = ?1 ORDER BY id";

pub(crate) fn referral_row(r: &Row<'_>) -> Result<Referral, ReadError> {
    let actor: Option<String> = r.get(7).db()?;
    Ok(Referral {
        id: ReferralId::from_raw(r.get(0).db()?),
        body: decode::text(r.get(1).db()?, Note::new)?,
        actor: actor.as_deref().map(decode::actor).transpose()?,
        recorded_at: decode::time(r.get(8).db()?),
        sent_at: decode::opt_time(r.get(2).db()?),
        acknowledged_at: decode::opt_time(r.get(3).db()?),
        due_at: decode::opt_time(r.get(4).db()?),
        outcome: decode::opt_text(r.get(5).db()?, Note::new)?,
        outcome_at: decode::opt_time(r.get(6).db()?),
    })
}
