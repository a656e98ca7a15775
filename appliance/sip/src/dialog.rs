//! Dialogs (RFC 3261 §12): identity from Call-ID and tags, local and remote CSeq, the route
//! set and the remote target, and the in-dialog requests built from them. Pure.

use bytes::Bytes;

use crate::header::{NameAddr, Uri, Via};
use crate::message::{Headers, Method, Request, Response};

/// `(Call-ID, local tag, remote tag)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

/// Whether the dialog was created by a provisional (early) or a 2xx (confirmed) response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
}

/// Why a dialog could not be made or a request was refused in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    #[error("{0}")]
    Missing(#[from] crate::message::MissingHeader),
    #[error("no Contact to use as remote target")]
    NoContact,
    #[error("no tag on the remote side")]
    NoRemoteTag,
    #[error("CSeq {got} is lower than the last remote CSeq {last}")]
    OutOfOrder { got: u32, last: u32 },
}

/// One dialog, seen from our side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: DialogId,
    pub state: DialogState,
    /// Our From (as UAC) or To (as UAS), with our tag.
    pub local: NameAddr,
    /// The peer's, with its tag.
    pub remote: NameAddr,
    pub local_seq: u32,
    pub remote_seq: Option<u32>,
    pub remote_target: Uri,
    /// Route header values in the order requests carry them.
    pub route_set: Vec<String>,
}

fn contact(headers: &Headers) -> Result<Uri, DialogError> {
    headers
        .get("Contact")
        .and_then(|c| NameAddr::parse(c).ok())
        .map(|c| c.uri)
        .ok_or(DialogError::NoContact)
}

impl Dialog {
    /// The UAS side, from a dialog-creating request and the tag we put in our To.
    pub fn as_uas(request: &Request, local_tag: &str) -> Result<Dialog, DialogError> {
        let e = request.essentials()?;
        let remote_tag = e.from.tag().ok_or(DialogError::NoRemoteTag)?.to_owned();
        Ok(Dialog {
            id: DialogId {
                call_id: e.call_id,
                local_tag: local_tag.to_owned(),
                remote_tag,
            },
            state: DialogState::Confirmed,
            local: e.to.with_tag(local_tag),
            remote: e.from,
            local_seq: 0,
            remote_seq: Some(e.cseq.seq),
            remote_target: contact(&request.headers)?,
            route_set: request
                .headers
                .get_all("Record-Route")
                .map(str::to_owned)
                .collect(),
        })
    }

    /// The UAC side, from the request we sent and a response with a To tag.
    pub fn as_uac(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let e = request.essentials()?;
        let r = response.essentials()?;
        let remote_tag = r.to.tag().ok_or(DialogError::NoRemoteTag)?.to_owned();
        let mut route_set: Vec<String> = response
            .headers
            .get_all("Record-Route")
            .map(str::to_owned)
            .collect();
        route_set.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id: e.call_id,
                local_tag: e.from.tag().unwrap_or_default().to_owned(),
                remote_tag,
            },
            state: if response.is_success() {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local: e.from,
            remote: r.to,
            local_seq: e.cseq.seq,
            remote_seq: None,
            // A provisional response may lack Contact; the request URI stands in until the 2xx.
            remote_target: contact(&response.headers).unwrap_or_else(|_| request.uri.clone()),
            route_set,
        })
    }

    /// The identity a received in-dialog request would carry.
    pub fn id_of_request(request: &Request) -> Option<DialogId> {
        let e = request.essentials().ok()?;
        Some(DialogId {
            call_id: e.call_id,
            local_tag: e.to.tag()?.to_owned(),
            remote_tag: e.from.tag()?.to_owned(),
        })
    }

    /// A 2xx (or a later provisional) updates the target and confirms the dialog (§12.2.1.2).
    pub fn on_response(&mut self, response: &Response) {
        if let Ok(target) = contact(&response.headers) {
            self.remote_target = target;
        }
        if response.is_success() {
            self.state = DialogState::Confirmed;
        }
    }

    /// Checks a received in-dialog request's CSeq (§12.2.2) and a target refresh's Contact.
    pub fn on_request(&mut self, request: &Request) -> Result<(), DialogError> {
        let e = request.essentials()?;
        if request.method != Method::Ack && request.method != Method::Cancel {
            if let Some(last) = self.remote_seq
                && e.cseq.seq <= last
            {
                return Err(DialogError::OutOfOrder {
                    got: e.cseq.seq,
                    last,
                });
            }
            self.remote_seq = Some(e.cseq.seq);
        }
        if matches!(request.method, Method::Invite | Method::Update)
            && let Ok(target) = contact(&request.headers)
        {
            self.remote_target = target;
        }
        Ok(())
    }

    /// A new in-dialog request (§12.2.1.1), loose routing: the request URI is the remote
    /// target and the route set goes in Route. The CSeq is the next local one.
    pub fn request(&mut self, method: Method, via: &Via, contact: &Uri) -> Request {
        self.local_seq += 1;
        self.build(method, self.local_seq, via, contact)
    }

    /// The ACK of a 2xx to the INVITE with CSeq `seq` (§13.2.2.4).
    pub fn ack(&self, seq: u32, via: &Via) -> Request {
        let mut ack = self.build(Method::Ack, seq, via, &self.remote_target.clone());
        ack.headers.remove("Contact");
        ack
    }

    fn build(&self, method: Method, seq: u32, via: &Via, contact: &Uri) -> Request {
        let mut headers = Headers::new();
        headers.push("Via", via.to_string());
        headers.push("Max-Forwards", "70");
        for route in &self.route_set {
            headers.push("Route", route.as_str());
        }
        headers.push("From", self.local.to_string());
        headers.push("To", self.remote.to_string());
        headers.push("Call-ID", self.id.call_id.as_str());
        headers.push("CSeq", format!("{seq} {method}"));
        headers.push("Contact", format!("<{contact}>"));
        Request {
            method,
            uri: self.remote_target.clone(),
            headers,
            body: Bytes::new(),
        }
    }

    /// Where the next request goes: the first route's URI, else the remote target.
    pub fn next_hop(&self) -> Uri {
        self.route_set
            .first()
            .and_then(|r| NameAddr::parse(r).ok())
            .map_or_else(|| self.remote_target.clone(), |r| r.uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::parse::{Limits, parse_datagram};

    fn request(text: &str) -> Request {
        match parse_datagram(text.replace('\n', "\r\n").as_bytes(), &Limits::default()) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    const INVITE: &str = "INVITE sip:bob@192.0.2.4 SIP/2.0\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\n\
Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\n\
Max-Forwards: 70\n\
To: Bob <sip:bob@biloxi.com>\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\n\
Call-ID: a84b4c76e66710\n\
CSeq: 314159 INVITE\n\
Contact: <sip:alice@192.0.2.1:5070>\n\
Content-Length: 0\n\n";

    #[test]
    fn uas_dialog_routes_and_counts() {
        let invite = request(INVITE);
        let mut dialog = Dialog::as_uas(&invite, "our-tag").expect("dialog");
        assert_eq!(dialog.id.remote_tag, "1928301774");
        assert_eq!(dialog.route_set.len(), 2);
        assert_eq!(dialog.next_hop().host, "p2.example.com");
        let via = Via::new("UDP", "192.0.2.4:5060".parse().expect("addr"), "z9hG4bKx");
        let bye = dialog.request(Method::Bye, &via, &Uri::sip(None, "192.0.2.4", None));
        assert_eq!(bye.uri.to_string(), "sip:alice@192.0.2.1:5070");
        assert_eq!(bye.headers.get("CSeq"), Some("1 BYE"));
        assert_eq!(
            bye.headers.get_all("Route").collect::<Vec<_>>(),
            ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
        );
        let to = NameAddr::parse(bye.headers.get("To").expect("To")).expect("parses");
        assert_eq!(to.tag(), Some("1928301774"));
        let from = NameAddr::parse(bye.headers.get("From").expect("From")).expect("parses");
        assert_eq!(from.tag(), Some("our-tag"));
        // A request from the peer with an old CSeq is refused.
        let mut old = request(INVITE);
        old.method = Method::Bye;
        old.headers.set("CSeq", "314159 BYE");
        assert!(matches!(
            dialog.on_request(&old),
            Err(DialogError::OutOfOrder { .. })
        ));
        old.headers.set("CSeq", "314160 BYE");
        assert!(dialog.on_request(&old).is_ok());
    }

    #[test]
    fn uac_dialog_reverses_record_route() {
        let invite = request(INVITE);
        let mut ok = invite.response(200);
        ok.headers.set("To", "Bob <sip:bob@biloxi.com>;tag=b-tag");
        ok.headers.push("Record-Route", "<sip:p2.example.com;lr>");
        ok.headers.push("Record-Route", "<sip:p1.example.com;lr>");
        ok.headers.push("Contact", "<sip:bob@192.0.2.4:5090>");
        let dialog = Dialog::as_uac(&invite, &ok).expect("dialog");
        assert_eq!(dialog.state, DialogState::Confirmed);
        assert_eq!(dialog.route_set[0], "<sip:p1.example.com;lr>");
        assert_eq!(dialog.remote_target.port, Some(5090));
        let via = Via::new("UDP", "192.0.2.1:5060".parse().expect("addr"), "z9hG4bKy");
        let ack = dialog.ack(314159, &via);
        assert_eq!(ack.headers.get("CSeq"), Some("314159 ACK"));
        assert!(ack.headers.get("Contact").is_none());
    }
}
