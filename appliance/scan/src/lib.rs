//! Scan: clamd client (work in progress).
