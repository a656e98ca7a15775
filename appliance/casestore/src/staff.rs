//! Staff accounts: who may sign in to the console, with what role, where, and the sign-in
//! bookkeeping (failed attempts, lockout, the last accepted TOTP step).
//!
//! The store keeps what the sign-in code (`staffauth`) decides; it never hashes a password or
//! checks a code. What it does guarantee, inside one transaction each: a TOTP step is accepted
//! at most once per account (a replayed code is refused even when two sign-ins race), a locked
//! or disabled account never records a successful sign-in, and the failure count and lockout
//! move together. Account changes bump `version` and `updated_at`; sign-in bookkeeping does not,
//! so an administrator's edit never conflicts with someone signing in.

use rusqlite::{OptionalExtension as _, Row, params};

use crate::error::{DbError, DbResult as _, InvalidValue, ReadError, WriteError};
use crate::model::{
    AgentId, ConsulateId, Language, Name, PasswordHash, StaffRole, Timestamp, TotpSecret,
};
use crate::read::decode;
use crate::store::{Store, Tx};

/// At most this many languages per account.
pub const MAX_STAFF_LANGUAGES: usize = 16;

/// A new account.
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub id: AgentId,
    pub display_name: Name,
    pub role: StaffRole,
    pub consulate: ConsulateId,
    /// The languages the person works in, most fluent first; repeats are dropped.
    pub languages: Vec<Language>,
    pub password_phc: PasswordHash,
    /// `None` until the person enrols a second factor.
    pub totp_secret: Option<TotpSecret>,
}

/// An account as stored. `Debug` shows no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffAccount {
    pub id: AgentId,
    pub display_name: Name,
    pub role: StaffRole,
    pub consulate: ConsulateId,
    pub languages: Vec<Language>,
    pub password_phc: PasswordHash,
    pub totp_secret: Option<TotpSecret>,
    /// The last TOTP time step accepted; a code of this step or an earlier one is a replay.
    pub totp_last_step: Option<u64>,
    /// Failures since the last success or lockout.
    pub failed_logins: u32,
    pub locked_until: Option<Timestamp>,
    pub last_login_at: Option<Timestamp>,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// 1 at creation, one more for every account change.
    pub version: u64,
}

impl StaffAccount {
    /// Whether a lockout is in force at `now`.
    pub fn is_locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }
}

/// Where an account stands after a failed sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginState {
    /// Failures counted towards the next lockout (0 right after one).
    pub failures: u32,
    /// Set when the account is locked, until when.
    pub locked_until: Option<Timestamp>,
}

impl LoginState {
    pub fn is_locked(&self) -> bool {
        self.locked_until.is_some()
    }
}

/// Why a change to an account was refused or failed. A failed change left nothing behind.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("no staff account {0}")]
    NoSuchStaff(AgentId),
    /// The id, or one differing from it only in letter case, is taken.
    #[error("the staff id {0} is already taken")]
    Duplicate(AgentId),
    /// The one-time code is of a time step already used (or older): a replay.
    #[error("the one-time code was already used (step {step}, last accepted {last})")]
    ReplayedCode { step: u64, last: u64 },
    #[error("the account is disabled")]
    Disabled,
    #[error("the account is locked until {} (unix ms)", until.unix_ms())]
    Locked { until: Timestamp },
    /// Bad input, unreadable stored data, or the database.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl From<DbError> for StaffError {
    fn from(error: DbError) -> Self {
        Self::Write(error.into())
    }
}

impl From<ReadError> for StaffError {
    fn from(error: ReadError) -> Self {
        Self::Write(error.into())
    }
}

impl From<InvalidValue> for StaffError {
    fn from(error: InvalidValue) -> Self {
        Self::Write(error.into())
    }
}

/// The columns [`account_row`] reads, in order.
const STAFF_COLUMNS: &str = "id, display_name, role, consulate, languages, password_phc, \
     totp_secret, totp_last_step, failed_logins, locked_until, last_login_at, disabled, \
     created_at, updated_at, version";

fn account_row(r: &Row<'_>) -> Result<StaffAccount, ReadError> {
    let role: String = r.get(2).db()?;
    let languages: String = r.get(4).db()?;
    let secret: Option<Vec<u8>> = r.get(6).db()?;
    let corrupt = |e: InvalidValue| ReadError::Corrupt(e.to_string());
    Ok(StaffAccount {
        id: decode::text(r.get(0).db()?, AgentId::new)?,
        display_name: decode::text(r.get(1).db()?, Name::new)?,
        role: decode::code("staff role", &role, StaffRole::from_code)?,
        consulate: decode::text(r.get(3).db()?, ConsulateId::new)?,
        languages: languages
            .split_whitespace()
            .map(|l| Language::new(l).map_err(corrupt))
            .collect::<Result<_, _>>()?,
        password_phc: decode::text(r.get(5).db()?, PasswordHash::new)?,
        totp_secret: secret.map(TotpSecret::new).transpose().map_err(corrupt)?,
        totp_last_step: r
            .get::<_, Option<i64>>(7)
            .db()?
            .map(decode::count)
            .transpose()?,
        failed_logins: small_count(r.get(8).db()?)?,
        locked_until: decode::opt_time(r.get(9).db()?),
        last_login_at: decode::opt_time(r.get(10).db()?),
        disabled: r.get::<_, i64>(11).db()? != 0,
        created_at: decode::time(r.get(12).db()?),
        updated_at: decode::time(r.get(13).db()?),
        version: decode::count(r.get(14).db()?)?,
    })
}

fn small_count(n: i64) -> Result<u32, ReadError> {
    u32::try_from(n).map_err(|_| ReadError::Corrupt(format!("failed sign-in count {n}")))
}

/// The stored form of a language list: tags separated by single spaces, repeats dropped.
fn languages_text(languages: &[Language]) -> Result<String, InvalidValue> {
    let mut seen: Vec<&str> = Vec::with_capacity(languages.len());
    for language in languages {
        if !seen.contains(&language.as_str()) {
            seen.push(language.as_str());
        }
    }
    if seen.len() > MAX_STAFF_LANGUAGES {
        return Err(InvalidValue {
            what: "staff languages",
            reason: "are more than 16",
        });
    }
    Ok(seen.join(" "))
}

/// A TOTP step as stored (SQLite integers are signed).
fn step_value(step: u64) -> Result<i64, InvalidValue> {
    i64::try_from(step).map_err(|_| InvalidValue {
        what: "totp step",
        reason: "is out of range",
    })
}

impl Tx<'_> {
    /// The sign-in state of account `id`: failures, lockout, last step, disabled.
    fn sign_in_state(
        &self,
        id: &AgentId,
    ) -> Result<(u32, Option<Timestamp>, Option<u64>, bool), StaffError> {
        let row = self
            .sql
            .prepare_cached(
                "SELECT failed_logins, locked_until, totp_last_step, disabled FROM staff
                 WHERE id = ?1",
            )
            .db()?
            .query_row([id.as_str()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .optional()
            .db()?;
        let Some((failures, locked, step, disabled)) = row else {
            return Err(StaffError::NoSuchStaff(id.clone()));
        };
        Ok((
            small_count(failures)?,
            decode::opt_time(locked),
            step.map(decode::count).transpose()?,
            disabled != 0,
        ))
    }

    /// Applies an administrator's change to account `id` (`set` assigns ?2) and bumps its
    /// version.
    fn change_account(
        &mut self,
        id: &AgentId,
        set: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<(), StaffError> {
        let sql =
            format!("UPDATE staff SET {set}, updated_at = ?3, version = version + 1 WHERE id = ?1");
        let changed = self
            .sql
            .prepare_cached(&sql)
            .db()?
            .execute(params![id.as_str(), value, self.now.unix_ms()])
            .db()?;
        if changed == 0 {
            return Err(StaffError::NoSuchStaff(id.clone()));
        }
        Ok(())
    }
}

impl Store {
    /// Creates an account. An id already taken, also in another letter case, is refused.
    pub fn create_staff(&self, new: &NewStaff) -> Result<(), StaffError> {
        let languages = languages_text(&new.languages)?;
        self.write(|tx| {
            let added = tx
                .sql
                .prepare_cached(
                    "INSERT INTO staff (id, display_name, role, consulate, languages, password_phc,
                         totp_secret, created_at, updated_at, version)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 1) ON CONFLICT DO NOTHING",
                )
                .db()?
                .execute(params![
                    new.id.as_str(),
                    new.display_name.as_str(),
                    new.role.code(),
                    new.consulate.as_str(),
                    languages,
                    new.password_phc.as_str(),
                    new.totp_secret.as_ref().map(TotpSecret::as_bytes),
                    tx.now.unix_ms()
                ])
                .db()?;
            if added == 0 {
                return Err(StaffError::Duplicate(new.id.clone()));
            }
            Ok(())
        })
    }

    /// The account `id` (exactly; ids are case-sensitive).
    pub fn staff(&self, id: &AgentId) -> Result<Option<StaffAccount>, ReadError> {
        self.read(|conn| {
            let sql = format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = ?1");
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt.query([id.as_str()]).db()?;
            rows.next().db()?.map(account_row).transpose()
        })
    }

    /// Every account, by id.
    pub fn list_staff(&self) -> Result<Vec<StaffAccount>, ReadError> {
        self.read(|conn| {
            let sql = format!("SELECT {STAFF_COLUMNS} FROM staff ORDER BY id");
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt.query([]).db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().db()? {
                out.push(account_row(row)?);
            }
            Ok(out)
        })
    }

    /// Counts a failed sign-in at `now`. The `max_failures`-th failure in a row locks the
    /// account until `now + lock_for_ms` and starts the count again. While a lockout is in
    /// force, failures are not counted and the lockout is not extended, so nobody can keep
    /// another person locked out for longer than one lockout at a time.
    pub fn login_failed(
        &self,
        id: &AgentId,
        now: Timestamp,
        max_failures: u32,
        lock_for_ms: i64,
    ) -> Result<LoginState, StaffError> {
        if max_failures == 0 || lock_for_ms <= 0 {
            return Err(InvalidValue {
                what: "lockout policy",
                reason: "needs at least one failure and a positive duration",
            }
            .into());
        }
        self.write(|tx| {
            let (failures, locked_until, _, _) = tx.sign_in_state(id)?;
            if let Some(until) = locked_until.filter(|until| now < *until) {
                return Ok(LoginState {
                    failures,
                    locked_until: Some(until),
                });
            }
            let failures = failures.saturating_add(1);
            let state = if failures >= max_failures {
                LoginState {
                    failures: 0,
                    locked_until: Some(now.plus_ms(lock_for_ms)),
                }
            } else {
                LoginState {
                    failures,
                    locked_until: None,
                }
            };
            tx.sql
                .prepare_cached(
                    "UPDATE staff SET failed_logins = ?2, locked_until = ?3 WHERE id = ?1",
                )
                .db()?
                .execute(params![
                    id.as_str(),
                    state.failures,
                    state.locked_until.map(Timestamp::unix_ms)
                ])
                .db()?;
            Ok(state)
        })
    }

    /// Records a successful sign-in at `now` with a TOTP code of time step `totp_step`: the
    /// step becomes the last accepted one and the failure count and any expired lockout are
    /// cleared. Refused, changing nothing, when the step is not later than the last accepted
    /// one ([`StaffError::ReplayedCode`]), or the account is disabled or locked.
    pub fn login_succeeded(
        &self,
        id: &AgentId,
        totp_step: u64,
        now: Timestamp,
    ) -> Result<(), StaffError> {
        let step = step_value(totp_step)?;
        self.write(|tx| {
            let (_, locked_until, last_step, disabled) = tx.sign_in_state(id)?;
            if disabled {
                return Err(StaffError::Disabled);
            }
            if let Some(until) = locked_until.filter(|until| now < *until) {
                return Err(StaffError::Locked { until });
            }
            if let Some(last) = last_step.filter(|last| totp_step <= *last) {
                return Err(StaffError::ReplayedCode {
                    step: totp_step,
                    last,
                });
            }
            tx.sql
                .prepare_cached(
                    "UPDATE staff SET totp_last_step = ?2, failed_logins = 0, locked_until = NULL,
                     last_login_at = ?3 WHERE id = ?1",
                )
                .db()?
                .execute(params![id.as_str(), step, now.unix_ms()])
                .db()?;
            Ok(())
        })
    }

    /// Replaces the password hash.
    pub fn set_password(&self, id: &AgentId, password: &PasswordHash) -> Result<(), StaffError> {
        self.write(|tx| tx.change_account(id, "password_phc = ?2", &password.as_str()))
    }

    /// Enrols a new TOTP secret, or with `None` removes the second factor so that the person
    /// enrols again. The last accepted step stays: steps are time, so a code of an earlier
    /// step is stale whatever secret made it.
    pub fn set_totp(&self, id: &AgentId, secret: Option<&TotpSecret>) -> Result<(), StaffError> {
        let bytes = secret.map(TotpSecret::as_bytes);
        self.write(|tx| tx.change_account(id, "totp_secret = ?2", &bytes))
    }

    /// Disables or re-enables the account. A disabled account keeps its history but cannot
    /// sign in or break the glass.
    pub fn set_disabled(&self, id: &AgentId, disabled: bool) -> Result<(), StaffError> {
        self.write(|tx| tx.change_account(id, "disabled = ?2", &disabled))
    }
}

#[cfg(test)]
pub(crate) mod tests;
