//! The case store (work in progress).
