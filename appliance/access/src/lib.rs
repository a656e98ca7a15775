//! Who may do what in the agents' console: roles, tenancy by consulate, sensitivity,
//! break-glass and login paths, decided in one place.
//!
//! [`Policy::decide`] answers for one action on one case, [`Policy::may`] for console-wide
//! actions, [`Policy::queue_scope`] and [`Policy::dashboard_scope`] narrow lists and counts,
//! [`Policy::may_break_glass`] checks a break-glass request, [`Policy::may_log_in`] checks the
//! path a login came through. The rules are two tables (`reach.rs`: what each role reaches;
//! what each action needs beyond that) read by every one of these functions, so the console never
//! tests a role itself.
//!
//! Invariants: the crate is pure (no I/O, no clock: `now` is an argument); a case that
//! [`Policy::decide`] refuses to `Read` is never admitted by the staff member's
//! [`QueueScope`], so no page or count reveals it (tested over every combination); a refused
//! `Read` is answered as a missing case and its [`DenyReason`] goes only to logs.
//!
//! # Central staff
//!
//! Staff whose consulate is the one given to [`Policy::new`] (the central contact centre,
//! `ro-ccscrs` in the demo data) are central staff. The role alone decides reach; being central
//! matters for the login path.
//!
//! # Reach: what a role reads without break-glass
//!
//! | role | consulates | sensitivities | plus |
//! |---|---|---|---|
//! | Operator | every | normal | every case assigned to them |
//! | Officer | own | normal, sensitive | every case assigned to them |
//! | Consul | own | normal, sensitive, restricted | every case assigned to them |
//! | Supervisor | every | normal, sensitive | every case assigned to them |
//! | Administrator | none | none | nothing (separation of duties) |
//!
//! # Actions on a case within reach
//!
//! | action | Operator | Officer | Consul | Supervisor | Administrator |
//! |---|---|---|---|---|---|
//! | Read, Reply, Note, RequestDocuments, Refer, Link, ChangeStatus, Close, ChangeType, ChangePriority | yes | yes | yes | yes | — |
//! | Claim (take it oneself) | only if unassigned | only if unassigned | only if unassigned | only if unassigned | — |
//! | Assign (to others, reassign) | only if unassigned | no | own consulate only | yes | — |
//! | ChangeSensitivity | no | no | yes | yes | — |
//! | Merge, Unmerge | no | yes | yes | yes | — |
//!
//! Merge, Unmerge and Link involve two cases: the caller asks [`Policy::decide`] for each and
//! proceeds only if both are allowed.
//!
//! # Break-glass
//!
//! | | rule |
//! |---|---|
//! | who | a Consul only ([`DenyReason::Role`]) |
//! | which case | one outside their reach ([`DenyReason::NotNeeded`] otherwise) |
//! | reason | at least [`MIN_REASON_CHARS`] characters after trimming, at most [`MAX_REASON_CHARS`] |
//! | duration | more than zero, at most [`MAX_BREAK_GLASS`] (4 h); [`DEFAULT_BREAK_GLASS`] 1 h |
//! | active | while `now < expires_at`; afterwards [`DenyReason::GrantExpired`] |
//! | allows | Read, Note, Reply, RequestDocuments, Refer, Link — nothing else ([`DenyReason::NotThroughBreakGlass`]) |
//! | marks | every decision made through a grant is `via_break_glass: true` and audited |
//!
//! A grant is ignored for a case within reach (the ordinary decision applies) and for anyone
//! but a consul.
//!
//! # Audit
//!
//! An allowed action carries `audit: true` for every action but Read, for a Read of a restricted
//! case, and for anything done through break-glass.
//!
//! # Console-wide actions
//!
//! | action | Operator | Officer | Consul | Supervisor | Administrator |
//! |---|---|---|---|---|---|
//! | ViewQueues | yes | yes | yes | yes | no |
//! | ViewDashboard, ExportCsv, ViewBreakGlassLog | no | no | own consulate | every consulate | no |
//! | ManageStaff | no | no | no | no | yes |
//! | EditKnowledge | no | no | yes | yes | yes |
//! | ReadKnowledge | yes | yes | yes | yes | yes |
//! | BreakGlass | no | no | yes | no | no |
//!
//! # Queues
//!
//! [`Policy::queue_scope`] is the reach table without the assignment clause: every queue but
//! "assigned to me" shows exactly the cases [`QueueScope::admits`]; "assigned to me" shows all
//! of the staff member's assigned cases, which are readable by the table above. Administrators
//! have no queues (`None`).
//!
//! # Login paths
//!
//! | account | [`AccessPath::Central`] | appliance of its own mission | appliance of another mission |
//! |---|---|---|---|
//! | central staff (any role) | yes | no | no |
//! | staff of a mission (consulate id == mission id) | yes | yes | no |
//!
//! A session is bound to [`AccessPath::key`] (`central`, `appliance:ro-emb-paris/PAR-01`) and is
//! valid only on requests arriving by the same path.

mod action;
mod break_glass;
mod decision;
mod login;
mod policy;
mod reach;

pub use action::{CaseAction, StaffAction};
pub use break_glass::{
    DEFAULT_BREAK_GLASS, MAX_BREAK_GLASS, MAX_REASON_CHARS, MIN_REASON_CHARS, grant_expiry,
};
pub use decision::{Decision, DenyReason};
pub use login::{AccessPath, LoginDenied};
pub use policy::{CaseFacts, GrantFacts, Policy, Staff};
pub use reach::QueueScope;
