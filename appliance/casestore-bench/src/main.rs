//! `casestore-bench` (work in progress).
fn main() {}
