//! Application error codes carried in QUIC `RESET_STREAM`, `STOP_SENDING` and `CONNECTION_CLOSE`.

use std::fmt;

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $text:literal;)*) => {
        /// A named application error code. Unknown values survive a round trip as `Other`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
            /// A code this version does not know.
            Other(u32),
        }

        impl ErrorCode {
            /// The value on the wire.
            pub fn to_u32(self) -> u32 {
                match self { $(Self::$name => $value,)* Self::Other(v) => v }
            }

            /// Decodes a wire value; anything unknown becomes `Other`.
            pub fn from_u64(v: u64) -> Self {
                match v { $($value => Self::$name,)* other => Self::Other(u32::try_from(other).unwrap_or(u32::MAX)) }
            }

            /// A stable snake_case name, used in logs and metric labels.
            pub fn name(self) -> &'static str {
                match self { $(Self::$name => $text,)* Self::Other(_) => "other" }
            }
        }
    };
}

codes! {
    /// Orderly close.
    NoError = 0x0, "no_error";
    /// The stream named a service the hub does not have.
    UnknownService = 0x101, "unknown_service";
    /// The service exists but this appliance may not use it.
    Forbidden = 0x102, "forbidden";
    /// The hub could not reach the service's upstream.
    UpstreamUnreachable = 0x103, "upstream_unreachable";
    /// The stream header was malformed, truncated or oversized.
    BadHeader = 0x104, "bad_header";
    /// The hub is draining; open the stream on another connection.
    Draining = 0x105, "draining";
    /// A per-connection or per-service limit was reached.
    Limit = 0x106, "limit";
    /// Something failed inside the peer.
    Internal = 0x107, "internal";
    /// The local side of the forwarded connection went away.
    Cancelled = 0x108, "cancelled";
    /// The stream header did not arrive in time.
    HeaderTimeout = 0x109, "header_timeout";
    /// Connection: the hub is shutting down; reconnect elsewhere.
    GoingAway = 0x201, "going_away";
    /// Connection: the peer broke the protocol.
    ProtocolViolation = 0x202, "protocol_violation";
    /// Connection: the appliance's identity has been revoked.
    Revoked = 0x203, "revoked";
    /// Connection: the watchdog gave up on an unresponsive connection.
    Wedged = 0x204, "wedged";
    /// Connection: the gateway is shutting down.
    Shutdown = 0x205, "shutdown";
    /// Connection: replaced by a newer connection after a drain.
    Replaced = 0x206, "replaced";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:x})", self.name(), self.to_u32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_round_trip_and_unknown_ones_survive() {
        for c in [
            ErrorCode::UnknownService,
            ErrorCode::Forbidden,
            ErrorCode::GoingAway,
        ] {
            assert_eq!(ErrorCode::from_u64(u64::from(c.to_u32())), c);
        }
        assert_eq!(ErrorCode::from_u64(0x9999), ErrorCode::Other(0x9999));
        assert_eq!(ErrorCode::Forbidden.to_string(), "forbidden (0x102)");
    }
}
