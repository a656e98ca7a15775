//! SIP for the telephony bridge. Messages are parsed by ezk-sip-types and ezk-sdp-types
//! behind our own types ([`Request`], [`Response`], [`header`], [`sdp`]), so the parser can
//! be swapped; the transaction layer ([`transaction`], RFC 3261 §17) and the dialog layer
//! ([`dialog`], §12) are ours and sans-IO: no sockets, no clock, time is an argument.
//!
//! Invariants:
//! - **Bounded decoding.** [`parse::parse_datagram`] and [`parse::frame`] check the
//!   message size and header count before work proportional to the input, return a
//!   [`parse::ParseError`] on anything malformed and never panic (property tests and the
//!   `sip_message` fuzz target).
//! - **Time is an input.** Every transaction input carries `now`; timers are deadlines the
//!   caller polls, so tests run RFC 3261's 32-second timers in microseconds.
//! - **Retransmission only over unreliable transports**, and the "wait" timers (D, I, J, K)
//!   are zero over reliable ones.
//! - **No password is ever needed**: digest credentials are checked against a stored HA1.

pub mod dialog;
pub mod digest;
pub mod header;
pub mod message;
pub mod parse;
pub mod sdp;
pub mod transaction;

pub use header::{CSeq, NameAddr, Uri, Via};
pub use message::{Essentials, Headers, Message, Method, Request, Response, reason_phrase};
pub use parse::{Limits, ParseError, parse_datagram};
pub use transaction::{Key, Output, Peer, Timers, Transactions, Transport};
