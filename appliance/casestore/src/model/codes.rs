//! The closed vocabularies of the case model, each stored as a short lowercase code.
//!
//! Codes are what the database and the outbox carry, so they never change once released: a new
//! variant gets a new code, an old code keeps its meaning.

use std::fmt;

/// Declares an enum whose every variant has a stable text code.
macro_rules! codes {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $var:ident = $code:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $var,)+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var,)+];

            /// The stable code stored in the database and sent in events.
            pub fn code(self) -> &'static str {
                match self { $($name::$var => $code,)+ }
            }

            /// The variant with this code, if any.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$var),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

codes! {
    /// The family of a request type (Law 62/2019 for the first three).
    pub enum Family {
        Service = "service",
        Assistance = "assistance",
        Protection = "protection",
        Info = "info",
        Complaint = "complaint",
        Crisis = "crisis",
    }
}

impl Family {
    /// The family of a case the intake classified; [`Family::Info`] when it could not say.
    pub fn from_intake(family: Option<intake::Family>) -> Family {
        match family {
            Some(intake::Family::Service) => Family::Service,
            Some(intake::Family::Assistance) => Family::Assistance,
            Some(intake::Family::Protection) => Family::Protection,
            Some(intake::Family::Complaint) => Family::Complaint,
            Some(intake::Family::Crisis) => Family::Crisis,
            Some(intake::Family::Info) | None => Family::Info,
        }
    }
}

codes! {
    /// Urgency class: P0 life at risk now … P4 information. Orders most urgent first.
    pub enum Priority {
        P0 = "P0",
        P1 = "P1",
        P2 = "P2",
        P3 = "P3",
        P4 = "P4",
    }
}

impl Priority {
    /// 0 for P0 … 4 for P4; the stored and sorted form.
    pub fn rank(self) -> u8 {
        match self {
            Priority::P0 => 0,
            Priority::P1 => 1,
            Priority::P2 => 2,
            Priority::P3 => 3,
            Priority::P4 => 4,
        }
    }

    /// The priority of rank `rank` (0–4).
    pub fn from_rank(rank: i64) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|p| i64::from(p.rank()) == rank)
    }

    /// P0 and P1: the case belongs in the emergency queue and raised a `case.emergency` event.
    pub fn is_emergency(self) -> bool {
        self <= Priority::P1
    }
}

codes! {
    /// Who may see a case: restricted covers detention, minors, sexual violence, trafficking.
    pub enum Sensitivity {
        Normal = "normal",
        Sensitive = "sensitive",
        Restricted = "restricted",
    }
}

impl From<intake::Sensitivity> for Sensitivity {
    fn from(s: intake::Sensitivity) -> Sensitivity {
        match s {
            intake::Sensitivity::Normal => Sensitivity::Normal,
            intake::Sensitivity::Sensitive => Sensitivity::Sensitive,
            intake::Sensitivity::Restricted => Sensitivity::Restricted,
        }
    }
}

codes! {
    /// A staff member's role in the console. What each may do is decided in one place, the
    /// `access` crate; the store only keeps the role with the account.
    pub enum StaffRole {
        /// The 24/7 contact centre's first line.
        Operator = "operator",
        /// A consular officer at an embassy or consulate.
        Officer = "officer",
        /// The head of a consular section.
        Consul = "consul",
        /// The central centre's supervisor.
        Supervisor = "supervisor",
        /// Manages accounts and the knowledge base; reads no case.
        Administrator = "administrator",
    }
}

codes! {
    /// Where a case stands. `Resolved`, `Closed` and `Merged` are not open; everything else is.
    pub enum Status {
        New = "new",
        Triage = "triage",
        InProgress = "in_progress",
        WaitingCitizen = "waiting_citizen",
        Referred = "referred",
        Resolved = "resolved",
        Closed = "closed",
        /// Merged into another case, whose timeline now shows this one's; undone only by
        /// un-merging (`Store::unmerge`), which restores the status it had.
        Merged = "merged",
    }
}

impl Status {
    /// Whether the case still needs work (and so sits in queues).
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Resolved | Status::Closed | Status::Merged)
    }

    /// Whether an agent may move a case from `self` to `to`. Staying put is not a change;
    /// `New` is reachable only from `Triage` (a triaged case handed to the normal queue); a
    /// closed case can only be reopened into `InProgress`. Nothing moves into or out of
    /// `Merged` this way: only a merge and its un-merge do, so the merge record and the
    /// status can never disagree.
    pub fn can_become(self, to: Status) -> bool {
        match (self, to) {
            (a, b) if a == b => false,
            (Status::Merged, _) | (_, Status::Merged) => false,
            (_, Status::New) => self == Status::Triage,
            (Status::Closed, to) => to == Status::InProgress,
            _ => true,
        }
    }

    /// Resolved or closed: the first move into one of these sets the resolution time.
    pub fn is_resolution(self) -> bool {
        matches!(self, Status::Resolved | Status::Closed)
    }
}

codes! {
    /// The channel a case or a message came in or went out by.
    pub enum Channel {
        Web = "web",
        Email = "email",
        Chat = "chat",
        Phone = "phone",
        Im = "im",
        WalkIn = "walk_in",
        Api = "api",
    }
}

codes! {
    /// Whether a message came from outside (`In`) or was written by staff (`Out`).
    pub enum Direction {
        In = "in",
        Out = "out",
    }
}

codes! {
    /// Whether the citizen may see a message.
    pub enum Visibility {
        Internal = "internal",
        External = "external",
    }
}

codes! {
    /// The antivirus verdict on an attachment; a file is quarantined while `Pending`.
    pub enum ScanVerdict {
        Pending = "pending",
        Clean = "clean",
        Infected = "infected",
    }
}

codes! {
    /// A person's role in a case.
    pub enum Role {
        Subject = "subject",
        Requester = "requester",
    }
}

codes! {
    /// What the requester is to the subject of a case.
    pub enum Relationship {
        /// The subject asks for themselves (the only relationship a subject has).
        Myself = "self",
        Parent = "parent",
        Child = "child",
        Spouse = "spouse",
        Sibling = "sibling",
        Relative = "relative",
        Friend = "friend",
        Lawyer = "lawyer",
        Ngo = "ngo",
        Employer = "employer",
        Authority = "authority",
        Other = "other",
    }
}

codes! {
    /// How a person can be reached.
    pub enum ContactKind {
        Email = "email",
        Phone = "phone",
        Im = "im",
    }
}

codes! {
    /// How far a contact point has been proven to belong to the person.
    pub enum Verification {
        Unverified = "unverified",
        Pending = "pending",
        Verified = "verified",
        Failed = "failed",
    }
}

codes! {
    /// A typed link from one case to another.
    pub enum LinkKind {
        DuplicateOf = "duplicate_of",
        Related = "related",
        SameFamily = "same_family",
        SameIncident = "same_incident",
        CrisisGroup = "crisis_group",
        SplitFrom = "split_from",
    }
}

codes! {
    /// A work queue. A case is in every queue whose rule it meets (see
    /// [`QueueKind::contains`]), so queues overlap.
    pub enum QueueKind {
        /// Every open case.
        Open = "open",
        /// Open and nobody assigned: new work to pick up.
        Unassigned = "unassigned",
        /// Open, P0 or P1.
        Emergency = "emergency",
        /// Open, P0 or P1, and nobody assigned: an emergency nobody has taken yet.
        UnassignedEmergency = "unassigned_emergency",
        /// Status `triage`: the classifier was not sure.
        Triage = "triage",
        /// Status `waiting_citizen`.
        WaitingCitizen = "waiting_citizen",
        /// Status `referred`: waiting on an external body.
        Referred = "referred",
        /// Open and assigned to one agent: that agent's own queue.
        Assigned = "assigned",
    }
}

impl QueueKind {
    /// Whether a case with this status, priority and assignee belongs in the queue.
    pub fn contains(self, status: Status, priority: Priority, assigned: bool) -> bool {
        let open = status.is_open();
        match self {
            QueueKind::Open => open,
            QueueKind::Unassigned => open && !assigned,
            QueueKind::Emergency => open && priority.is_emergency(),
            QueueKind::UnassignedEmergency => open && priority.is_emergency() && !assigned,
            QueueKind::Triage => status == Status::Triage,
            QueueKind::WaitingCitizen => status == Status::WaitingCitizen,
            QueueKind::Referred => status == Status::Referred,
            QueueKind::Assigned => open && assigned,
        }
    }
}

codes! {
    /// What an outbox event announces.
    pub enum EventKind {
        CaseCreated = "case.created",
        /// A case became P0/P1 (at intake or later): the duty officer is paged.
        CaseEmergency = "case.emergency",
        MessageAdded = "case.message",
        StatusChanged = "case.status",
        Assigned = "case.assigned",
        PriorityChanged = "case.priority",
        AttachmentAdded = "case.attachment",
        AttachmentScanned = "case.scan",
        ContactChanged = "case.contact",
        Linked = "case.link",
        ReferralChanged = "case.referral",
        TypeChanged = "case.type",
        SensitivityChanged = "case.sensitivity",
        /// The case was merged into another (sent for both cases).
        Merged = "case.merged",
        /// A merge was undone (sent for both cases).
        Unmerged = "case.unmerged",
    }
}

codes! {
    /// A kind of identity document number kept for a person.
    pub enum IdKind {
        /// The Romanian personal numeric code, 13 digits.
        Cnp = "cnp",
        /// A passport number (ICAO 9303 document number: 6–9 letters and digits).
        Passport = "passport",
    }
}

codes! {
    /// Why another case is suggested as related: what the two share.
    pub enum MatchedOn {
        Cnp = "cnp",
        Passport = "passport",
        Email = "email",
        Phone = "phone",
    }
}

codes! {
    /// A duration the store keeps statistics of, measured from the case's creation.
    pub enum StatMetric {
        /// Until the first external message an agent sent.
        FirstResponse = "first_response",
        /// Until the first move to resolved or closed.
        Resolution = "resolution",
    }
}

codes! {
    /// A field of a case header whose changes are kept in the case's change log.
    pub enum ChangedField {
        Priority = "priority",
        Type = "type",
        Sensitivity = "sensitivity",
        Assignee = "assignee",
    }
}
