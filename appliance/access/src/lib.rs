//! Who may do what: the attribute rules of the agents' console (roles, tenancy, sensitivity, break-glass, login paths) in one place.
