//! The telephony bridge.
