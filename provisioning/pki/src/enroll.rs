//! Zero-touch enrollment: a one-time code typed at the embassy, a PAKE keyed by it, and a
//! certificate issued from the hub's own record of the appliance.
//!
//! The appliance opens a server-authenticated connection (it pins the hub CA, has no client
//! certificate yet) and runs SPAKE2 with the hub, the code's secret as password. A captured
//! transcript therefore cannot be brute-forced offline: each guess costs one online attempt,
//! and the hub allows five. Both confirmation MACs are keyed from the PAKE output and bound to
//! the transcript, the CSR (so the certificate goes to the key that ran the PAKE) and the
//! issued certificate (so the appliance knows it came from the hub that knew the code).
//!
//! Sans-IO: these types turn messages into messages; the tunnel carries them.

mod code;
mod message;
mod pake;

pub use code::{CodeError, EnrollCode, SECRET_BITS};
pub use message::{DecodeError, MAX_MESSAGE, Message, Refusal};
pub use pake::{EnrollError, Enrolled, GatewayAwaitingIssue, GatewayEnrollment, HubEnrollment};
