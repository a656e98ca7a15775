//! The telephony bridge: SIP over UDP and TCP for the hub, a registrar for agents' phones
//! (digest authentication against stored HA1s) and a B2BUA that answers every inbound call
//! by calling a registered agent, with a call detail record per call.
//!
//! Layers: [`engine`] is sans-IO (the `sip` crate's transactions and dialogs, the
//! [`registrar`], the [`b2bua`]) and runs under simulated time in tests; [`server`] owns the
//! sockets and the clock and does nothing else.
//!
//! Invariants:
//! - Every byte from the network goes through `sip`'s bounded decoder; malformed messages are
//!   counted and dropped, never answered with a panic.
//! - Transactions, calls, bindings, nonces, TCP connections and call records are all bounded;
//!   past a bound new work is refused (503) and work in progress keeps going.
//! - No password is stored or logged: the registrar checks digests against HA1s.

pub mod acd;
mod admission;
pub mod anchor;
pub mod b2bua;
pub mod cdr;
pub mod credentials;
pub mod engine;
mod keepalive;
pub mod origin;
pub mod queueing;
pub mod registrar;
pub mod server;
mod shutdown;
mod transfer;
pub mod tunnelled;

pub use acd::{AgentState, IvrResult, QueueConfig, QueueStats};
pub use anchor::MediaSettings;
pub use cdr::{AgentLeg, CallRecord, Outcome, Side};
pub use engine::{Engine, EngineConfig, Registration, Stats};
pub use origin::{Gateway, Origins};
pub use queueing::{AgentError, AgentView, CallEvent, QueueView, WaitingView};
pub use registrar::{Account, Expiry};
pub use server::{ServerConfig, StartError, Telephony};
pub use tunnelled::MediaRoutes;
