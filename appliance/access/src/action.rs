//! What a staff member asks to do: an action on one case, or an action on the console itself.

use std::fmt;

/// Declares an action enum with `ALL` and a stable code for audit entries and logs.
macro_rules! actions {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $var:ident = $code:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $var,)+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var,)+];

            /// The stable code written to the audit log; it never changes once released.
            pub fn code(self) -> &'static str {
                match self { $($name::$var => $code,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

actions! {
    /// An action on one case. Every action but [`CaseAction::Read`] changes the case, so every
    /// allowed one is audited.
    pub enum CaseAction {
        /// Open the case: its page, messages, people, attachments.
        Read = "read",
        /// Take the case for oneself.
        Claim = "claim",
        /// Assign the case to someone else, or reassign it.
        Assign = "assign",
        ChangeType = "change_type",
        ChangePriority = "change_priority",
        /// Move the case between normal, sensitive and restricted.
        ChangeSensitivity = "change_sensitivity",
        ChangeStatus = "change_status",
        /// Write to the citizen.
        Reply = "reply",
        /// Add an internal note.
        Note = "note",
        /// Ask the citizen for documents.
        RequestDocuments = "request_documents",
        /// Refer the case to an external body.
        Refer = "refer",
        /// Link the case to another (the caller checks the other case too).
        Link = "link",
        /// Merge a duplicate into this case (the caller checks both cases).
        Merge = "merge",
        /// Undo a merge (the caller checks both cases).
        Unmerge = "unmerge",
        Close = "close",
    }
}

impl CaseAction {
    /// The actions a consul may take through an active break-glass grant: look, write down
    /// what was done, and help the citizen — nothing that takes the case over or reshapes it,
    /// since it still belongs to another consulate.
    pub fn allowed_through_break_glass(self) -> bool {
        matches!(
            self,
            CaseAction::Read
                | CaseAction::Note
                | CaseAction::Reply
                | CaseAction::RequestDocuments
                | CaseAction::Refer
                | CaseAction::Link
        )
    }
}

actions! {
    /// An action on the console rather than on one case.
    pub enum StaffAction {
        /// See the work queues (their contents are narrowed by [`crate::QueueScope`]).
        ViewQueues = "view_queues",
        /// See the dashboard (narrowed by [`crate::Policy::dashboard_scope`]).
        ViewDashboard = "view_dashboard",
        /// Export case lists as CSV (same scope as the dashboard).
        ExportCsv = "export_csv",
        /// Create, change and disable staff accounts.
        ManageStaff = "manage_staff",
        EditKnowledge = "edit_knowledge",
        ReadKnowledge = "read_knowledge",
        /// See the log of break-glass grants.
        ViewBreakGlassLog = "view_break_glass_log",
        /// Ask for break-glass access to a case (checked per case by
        /// [`crate::Policy::may_break_glass`]).
        BreakGlass = "break_glass",
        /// Answer calls from the phone queues: log in and out, ready and not ready, the
        /// screen pop (whose case still needs [`CaseAction::Read`]).
        UsePhone = "use_phone",
        /// See the phone queues, their waiting callers and every agent's phone state
        /// (narrowed by [`crate::Policy::dashboard_scope`]).
        SuperviseCalls = "supervise_calls",
    }
}
