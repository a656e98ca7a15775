//! A case's timeline: everything that happened to it, oldest first, in one list, including
//! what happened to the cases currently merged into it (each entry names its case).
//!
//! Each kind of record is read through its table's `case_id` index (read/records.rs), for the
//! case and for each current merge source, then sorted by time. Equal times keep a fixed order
//! (status, field changes, messages, attachments, referrals, links, merges), so the list is
//! the same on every read.

use std::collections::HashSet;

use rusqlite::Connection;

use crate::error::ReadError;
use crate::merge::merges_of;
use crate::model::{CaseId, TimelineItem};
use crate::read::records::{
    ATTACHMENTS, CHANGES, LINKS, MESSAGES, REFERRALS, STATUS_HISTORY, attachment_row,
    field_change_row, link_row, message_row, referral_row, status_change_row,
};
use crate::read::rows;
use crate::store::Store;

impl Store {
    /// The timeline of `case`; see the module documentation. Empty for an unknown case.
    pub fn timeline(&self, case: CaseId) -> Result<Vec<TimelineItem>, ReadError> {
        self.read(|conn| timeline(conn, case))
    }
}

fn timeline(conn: &Connection, case: CaseId) -> Result<Vec<TimelineItem>, ReadError> {
    let merges = merges_of(conn, case)?;
    let mut cases = vec![case];
    cases.extend(
        merges
            .iter()
            .filter(|m| m.into == case && m.undone.is_none())
            .map(|m| m.source),
    );
    let mut items = Vec::new();
    let mut merges_seen = HashSet::new();
    for &c in &cases {
        let id = c.get();
        for change in rows(conn, STATUS_HISTORY, id, status_change_row)? {
            items.push(TimelineItem::StatusChange { case: c, change });
        }
        for change in rows(conn, CHANGES, id, field_change_row)? {
            items.push(TimelineItem::FieldChange { case: c, change });
        }
        for message in rows(conn, MESSAGES, id, message_row)? {
            items.push(TimelineItem::Message { case: c, message });
        }
        for attachment in rows(conn, ATTACHMENTS, id, attachment_row)? {
            items.push(TimelineItem::Attachment {
                case: c,
                attachment,
            });
        }
        for referral in rows(conn, REFERRALS, id, referral_row)? {
            items.push(TimelineItem::Referral { case: c, referral });
        }
        for link in rows(conn, LINKS, id, link_row)? {
            items.push(TimelineItem::Link { case: c, link });
        }
        let own = if c == case {
            merges.clone()
        } else {
            merges_of(conn, c)?
        };
        // The merge joining a source to this case is listed once, as this case's.
        for merge in own {
            if !merges_seen.insert(merge.id) {
                continue;
            }
            if merge.undone.is_some() {
                items.push(TimelineItem::Unmerge {
                    case: c,
                    merge: merge.clone(),
                });
            }
            items.push(TimelineItem::Merge { case: c, merge });
        }
    }
    items.sort_by_key(|item| (item.at(), rank(item)));
    Ok(items)
}

/// The order of entries that happened at the same millisecond.
fn rank(item: &TimelineItem) -> u8 {
    match item {
        TimelineItem::StatusChange { .. } => 0,
        TimelineItem::FieldChange { .. } => 1,
        TimelineItem::Message { .. } => 2,
        TimelineItem::Attachment { .. } => 3,
        TimelineItem::Referral { .. } => 4,
        TimelineItem::Link { .. } => 5,
        TimelineItem::Merge { .. } => 6,
        TimelineItem::Unmerge { .. } => 7,
    }
}

#[cfg(test)]
mod tests;
