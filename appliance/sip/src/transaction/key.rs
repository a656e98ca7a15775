//! Transaction identity (RFC 3261 §17.1.3 and §17.2.3).

use crate::message::{Essentials, Method};

/// Which side of a transaction we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Client,
    Server,
}

/// Identifies a transaction: the top Via branch and the CSeq method (ACK folded onto INVITE),
/// plus the sent-by for server transactions. A request without an RFC 3261 branch gets a key
/// built from Call-ID, From tag, CSeq number and the whole top Via (the RFC 2543 rule, in
/// short).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub role: Role,
    pub branch: String,
    pub sent_by: String,
    pub method: String,
}

impl Key {
    /// The key of a server transaction for a received request.
    pub fn server(essentials: &Essentials) -> Key {
        let method = match essentials.cseq.method {
            Method::Ack => Method::Invite,
            ref other => other.clone(),
        };
        let branch = if essentials.via.is_rfc3261() {
            essentials.via.branch().unwrap_or_default().to_owned()
        } else {
            format!(
                "2543;{};{};{};{}",
                essentials.call_id,
                essentials.from.tag().unwrap_or_default(),
                essentials.cseq.seq,
                essentials.via
            )
        };
        Key {
            role: Role::Server,
            branch,
            sent_by: essentials.via.sent_by().to_ascii_lowercase(),
            method: method.to_string(),
        }
    }

    /// The key of a client transaction, for the request we send or a response we receive.
    pub fn client(essentials: &Essentials) -> Key {
        let method = match essentials.cseq.method {
            Method::Ack => Method::Invite,
            ref other => other.clone(),
        };
        Key {
            role: Role::Client,
            branch: essentials.via.branch().unwrap_or_default().to_owned(),
            sent_by: String::new(),
            method: method.to_string(),
        }
    }

    /// The INVITE transaction a CANCEL with this key targets (§9.2: same branch and sent-by).
    pub fn invite_of_cancel(&self) -> Key {
        Key {
            method: Method::Invite.to_string(),
            ..self.clone()
        }
    }

    pub fn is_invite(&self) -> bool {
        self.method == "INVITE"
    }
}
