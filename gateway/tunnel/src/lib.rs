//! The Legătura tunnel: QUIC with mutual TLS between embassy gateways and the hub.
//!
//! - [`hub`] accepts appliance connections, admits only certificates chained to the fleet CA,
//!   reads the appliance identity from the certificate, and routes every stream and UDP flow to
//!   the upstream of the service it names, if that appliance may use it (default deny).
//! - [`gateway`] dials the hubs, reconnects forever with jittered backoff, watches for a wedged
//!   connection, moves over gracefully when a hub drains, and forwards local TCP connections and
//!   UDP flows.
//!
//! Invariants: this crate owns every socket, timer and TLS setting of the tunnel and knows
//! nothing of cases, SIP or HTTP; every byte a peer sends is parsed by `tunnel-proto`'s bounded
//! decoders; a completed QUIC handshake is never taken as admission (the hub's `Welcome` is).

mod control;
mod forward;
pub mod gateway;
mod hooks;
pub mod hub;
mod log_limit;
pub mod metrics;
pub mod policy;
mod route;
mod rpc;
pub mod tls;
pub mod transport;
mod udp;

pub use control::ControlStreamError;
pub use rpc::RpcStreamError;
pub mod enroll;
pub use gateway::{ConnectError, Gateway, GatewayConfig, GatewayStatus, RenewError};
pub use hooks::{EnrollSession, FleetHooks, OpenFleet};
pub use hub::{ConnectionInfo, FlowOrigin, Hub, HubConfig, HubHandle, UdpRouter};
pub use metrics::Metrics;
pub use policy::{AllowRule, Protocol, Service, ServiceTable, Upstream};
pub use route::no_route;
pub use tls::Credentials;
pub use transport::TransportSettings;
pub use tunnel_proto::{ApplianceId, ErrorCode, ServiceName};

/// An error with its sources, on one line, for logs and messages to people.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}
