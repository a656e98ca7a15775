//! The appliance's status page on the embassy LAN (`legatura-lan-status`, `http://<box>:8080/`):
//! read-only, plain HTML that embassy IT can read out over the phone, and the same as JSON
//! (`/status.json`, `/?format=json`) for scripts.
//!
//! It says what the serial console says, in one place: what `gateway-provision` last wrote to
//! its status file ([`provision`]: no configuration, a bad credential, no code, a full state
//! partition, enrolling, enrolled) and what gatewayd reports on its loopback admin endpoint
//! ([`gatewayd`]: where enrollment stands, the appliance's identity, the tunnel, the last
//! error), or that gatewayd is not running. [`page`] turns both into a verdict and what to do.
//!
//! Invariants:
//! - it shows no secret: neither source holds the enrollment code or a key, and it serves
//!   nothing else (no `/metrics`, no files);
//! - bounded: the status file is read up to 16 KiB, gatewayd's answer up to 64 KiB within a
//!   deadline, and the sources are asked at most once a second whatever the number of clients;
//! - it never panics on what it reads: a missing, unreadable or malformed source is shown as
//!   such on the page.

pub mod gatewayd;
pub mod page;
pub mod provision;
pub mod serve;

pub use page::{Level, Snapshot, Verdict};
pub use serve::{Page, Sources};
