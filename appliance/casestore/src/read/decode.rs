//! Turning stored values back into model types. A value the model would refuse means the
//! database was changed behind the store's back: it is reported as corrupt, never guessed at.

use crate::error::{InvalidValue, ReadError};
use crate::model::{Actor, Priority, Status, Timestamp};

/// Decodes one stored text code with `from_code`, naming `what` on failure.
pub(crate) fn code<T>(
    what: &str,
    value: &str,
    from_code: fn(&str) -> Option<T>,
) -> Result<T, ReadError> {
    from_code(value).ok_or_else(|| ReadError::Corrupt(format!("{what} {value:?}")))
}

pub(crate) fn status(value: &str) -> Result<Status, ReadError> {
    code("status", value, Status::from_code)
}

pub(crate) fn priority(rank: i64) -> Result<Priority, ReadError> {
    Priority::from_rank(rank).ok_or_else(|| ReadError::Corrupt(format!("priority {rank}")))
}

pub(crate) fn actor(value: &str) -> Result<Actor, ReadError> {
    code("actor", value, Actor::from_code)
}

/// Re-validates a stored text value through its model constructor.
pub(crate) fn text<T>(
    value: String,
    new: fn(String) -> Result<T, InvalidValue>,
) -> Result<T, ReadError> {
    new(value).map_err(|e| ReadError::Corrupt(e.to_string()))
}

pub(crate) fn opt_text<T>(
    value: Option<String>,
    new: fn(String) -> Result<T, InvalidValue>,
) -> Result<Option<T>, ReadError> {
    value.map(|v| text(v, new)).transpose()
}

pub(crate) fn time(ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(ms)
}

pub(crate) fn opt_time(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_unix_ms)
}

pub(crate) fn count(n: i64) -> Result<u64, ReadError> {
    u64::try_from(n).map_err(|_| ReadError::Corrupt(format!("negative count {n}")))
}
