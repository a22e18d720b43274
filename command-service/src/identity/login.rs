//! Password login: the same answer for an unknown user, a disabled user and a wrong password
//! (and the same work: an unknown user's password is checked against a dummy hash), a lockout
//! after `FAILURES_MAX` failures within `FAILURE_WINDOW_S`, and every outcome recorded in the
//! user name's `auth_log` stream (never the password, never an address).

use chrono::{DateTime, Duration, Utc};
use domain::identity::UserName;
use event_store::{Metadata, NewEvent, StoreError};
use serde::Serialize;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::passwords::{self, PASSWORD_CHARS_MAX};
use super::sessions::{self, NewSession};
use super::users;

/// Failed logins within `FAILURE_WINDOW_S` that lock the user name.
pub const FAILURES_MAX: i32 = 5;
/// The window failures are counted in, from the first.
pub const FAILURE_WINDOW_S: i64 = 900;
/// How long a locked user name refuses every login, even with the right password.
pub const LOCKOUT_S: i64 = 900;
/// The stream type of login records (one stream per user name, see [`auth_stream_id`]).
pub const STREAM_TYPE: &str = "auth_log";
/// Namespace of the login records' stream ids: `uuid v5(AUTH_LOG_STREAMS, "<user name>")`.
pub const AUTH_LOG_STREAMS: Uuid = Uuid::from_u128(0xc4e2_0b7a_5d19_4f63_8a0e_d71f_26b9_5c3a);
/// Actor of the records of failed logins: nobody was authenticated.
pub const ANONYMOUS: &str = "anonymous";
/// An Argon2id hash (default parameters) of a password no account has: an unknown user's
/// password is verified against it, so that the answer takes as long as for a known one.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$wCq8JFo20dbAkwS0Lqwnpw$gXKcLvpGj1L79RB9Z/iD91Xo9EX6TPOtnvA6YWIyYus";

/// A login that succeeded: the session to hand out.
#[derive(Debug)]
pub struct LoginGranted {
    pub user: String,
    pub roles: Vec<String>,
    pub session: NewSession,
}

/// A refused login.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, disabled user or wrong password: deliberately indistinguishable.
    #[error("user name or password is wrong")]
    InvalidCredentials,
    #[error("too many failed logins; retry in {retry_after_s} s")]
    Locked { retry_after_s: u32 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for LoginError {
    fn from(error: StoreError) -> Self {
        LoginError::Unexpected(error.into())
    }
}

impl From<sqlx::Error> for LoginError {
    fn from(error: sqlx::Error) -> Self {
        LoginError::Unexpected(error.into())
    }
}

/// Why a login failed, as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    InvalidCredentials,
    Locked,
    Disabled,
}

/// A login record (version 1 each). Holds the user name and instants only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event_type")]
pub enum AuthEvent {
    #[serde(rename = "auth.login_succeeded")]
    LoginSucceeded { user_name: String },
    #[serde(rename = "auth.login_failed")]
    LoginFailed {
        user_name: String,
        reason: FailureReason,
    },
    #[serde(rename = "auth.locked")]
    Locked {
        user_name: String,
        until: DateTime<Utc>,
    },
}

impl AuthEvent {
    /// Every record type with its current version.
    pub const TYPES: &'static [(&'static str, u32)] = &[
        ("auth.login_succeeded", 1),
        ("auth.login_failed", 1),
        ("auth.locked", 1),
    ];

    fn event_type(&self) -> &'static str {
        match self {
            AuthEvent::LoginSucceeded { .. } => "auth.login_succeeded",
            AuthEvent::LoginFailed { .. } => "auth.login_failed",
            AuthEvent::Locked { .. } => "auth.locked",
        }
    }

    fn encode(&self) -> NewEvent {
        let mut payload = serde_json::to_value(self).expect("login records serialize");
        payload
            .as_object_mut()
            .expect("login records are objects")
            .remove("event_type");
        NewEvent {
            event_id: Uuid::new_v4(),
            event_type: self.event_type().to_owned(),
            event_version: 1,
            payload,
        }
    }
}

/// The stream of `name`'s login records.
pub fn auth_stream_id(name: &UserName) -> Uuid {
    Uuid::new_v5(&AUTH_LOG_STREAMS, name.as_str().as_bytes())
}

/// A user name's recent failed logins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempts {
    pub failures: i32,
    pub first_failure_at: Option<DateTime<Utc>>,
    pub locked_until: Option<DateTime<Utc>>,
}

impl Attempts {
    /// Until when the user name is locked, if it is at `now`.
    pub fn locked_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| *until > now)
    }

    /// The attempts after one more failure at `now`: a failure outside the window starts a new
    /// one; the `FAILURES_MAX`th within it locks for `LOCKOUT_S` and starts counting afresh.
    pub fn after_failure(self, now: DateTime<Utc>) -> Attempts {
        let window = Duration::seconds(FAILURE_WINDOW_S);
        let first = self.first_failure_at.filter(|first| now - *first < window);
        let failures = if first.is_some() {
            self.failures + 1
        } else {
            1
        };
        if failures >= FAILURES_MAX {
            return Attempts {
                failures: 0,
                first_failure_at: None,
                locked_until: Some(now + Duration::seconds(LOCKOUT_S)),
            };
        }
        Attempts {
            failures,
            first_failure_at: first.or(Some(now)),
            locked_until: None,
        }
    }
}

/// Whole seconds from `now` until `until`, at least 1.
fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> u32 {
    let milliseconds = (until - now).num_milliseconds().max(0);
    u32::try_from((milliseconds + 999) / 1000)
        .unwrap_or(u32::MAX)
        .max(1)
}

/// Checks `user_name`'s `password` at `now` and, when right, starts a session.
pub async fn login(
    pool: &PgPool,
    user_name: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<LoginGranted, LoginError> {
    let Ok(name) = UserName::parse(user_name) else {
        // No account can have this name. It may be a password typed into the wrong field, so it
        // is neither recorded nor counted; the same work is done as for a real name.
        verify(password, None).await?;
        return Err(LoginError::InvalidCredentials);
    };
    if let Some(until) = attempts(pool, &name).await?.locked_at(now) {
        let failed = failed(&name, FailureReason::Locked);
        record(pool, &name, ANONYMOUS, &[failed]).await?;
        let retry_after_s = seconds_until(until, now);
        return Err(LoginError::Locked { retry_after_s });
    }
    let account = users::roles_of(pool, &name).await?;
    let stored = passwords::stored_hash(pool, &name).await?;
    let password_right = verify(password, stored).await?;
    match account {
        Some((roles, false)) if password_right => succeed(pool, name, roles, now).await,
        Some((_, true)) if password_right => fail(pool, &name, FailureReason::Disabled, now).await,
        _ => fail(pool, &name, FailureReason::InvalidCredentials, now).await,
    }
}

/// Whether `password` matches `stored`; with nothing stored, checked against the dummy hash.
async fn verify(password: &str, stored: Option<String>) -> Result<bool, LoginError> {
    // No password this long can have been set; not hashing it bounds an attacker's work.
    if password.chars().count() > PASSWORD_CHARS_MAX {
        return Ok(false);
    }
    let known = stored.is_some();
    let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
    let matches = passwords::verify_blocking(password.to_owned(), phc)
        .await
        .map_err(anyhow::Error::new)?;
    Ok(known && matches)
}

async fn succeed(
    pool: &PgPool,
    name: UserName,
    roles: Vec<String>,
    now: DateTime<Utc>,
) -> Result<LoginGranted, LoginError> {
    sqlx::query("DELETE FROM login_attempts WHERE user_name = $1")
        .bind(name.as_str())
        .execute(pool)
        .await?;
    let succeeded = AuthEvent::LoginSucceeded {
        user_name: name.to_string(),
    };
    record(pool, &name, name.as_str(), &[succeeded]).await?;
    let session = sessions::create(pool, name.as_str(), &roles, now).await?;
    Ok(LoginGranted {
        user: name.into(),
        roles,
        session,
    })
}

fn failed(name: &UserName, reason: FailureReason) -> AuthEvent {
    AuthEvent::LoginFailed {
        user_name: name.to_string(),
        reason,
    }
}

async fn fail(
    pool: &PgPool,
    name: &UserName,
    reason: FailureReason,
    now: DateTime<Utc>,
) -> Result<LoginGranted, LoginError> {
    let after = count_failure(pool, name, now).await?;
    let mut events = vec![failed(name, reason)];
    if let Some(until) = after.locked_at(now) {
        let user_name = name.to_string();
        events.push(AuthEvent::Locked { user_name, until });
    }
    record(pool, name, ANONYMOUS, &events).await?;
    Err(LoginError::InvalidCredentials)
}

/// `name`'s failed logins as stored (none if no row).
async fn attempts(pool: &PgPool, name: &UserName) -> Result<Attempts, sqlx::Error> {
    let row = sqlx::query(
        "SELECT failures, first_failure_at, locked_until FROM login_attempts WHERE user_name = $1",
    )
    .bind(name.as_str())
    .fetch_optional(pool)
    .await?;
    row.map_or(Ok(Attempts::default()), |row| {
        Ok(Attempts {
            failures: row.try_get("failures")?,
            first_failure_at: row.try_get("first_failure_at")?,
            locked_until: row.try_get("locked_until")?,
        })
    })
}

/// Counts one failure of `name` at `now` (row-locked, so concurrent failures all count).
async fn count_failure(
    pool: &PgPool,
    name: &UserName,
    now: DateTime<Utc>,
) -> Result<Attempts, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    sqlx::query("INSERT INTO login_attempts (user_name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(name.as_str())
        .execute(&mut *transaction)
        .await?;
    let row = sqlx::query(
        "SELECT failures, first_failure_at, locked_until FROM login_attempts \
         WHERE user_name = $1 FOR UPDATE",
    )
    .bind(name.as_str())
    .fetch_one(&mut *transaction)
    .await?;
    let before = Attempts {
        failures: row.try_get("failures")?,
        first_failure_at: row.try_get("first_failure_at")?,
        locked_until: row.try_get("locked_until")?,
    };
    let after = before.after_failure(now);
    sqlx::query(
        "UPDATE login_attempts SET failures = $2, first_failure_at = $3, locked_until = $4 \
         WHERE user_name = $1",
    )
    .bind(name.as_str())
    .bind(after.failures)
    .bind(after.first_failure_at)
    .bind(after.locked_until)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(after)
}

/// Appends `events` to `name`'s login records, retrying after a concurrent append.
async fn record(
    pool: &PgPool,
    name: &UserName,
    actor: &str,
    events: &[AuthEvent],
) -> Result<(), StoreError> {
    let stream_id = auth_stream_id(name);
    let command_id = Uuid::new_v4();
    let metadata = Metadata::new(
        actor.to_owned(),
        Utc::now(),
        "api".to_owned(),
        command_id,
        command_id,
        command_id,
    );
    let events = events.iter().map(AuthEvent::encode).collect();
    event_store::append_to_log(pool, STREAM_TYPE, stream_id, &metadata, events)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHash;
    use argon2::{Argon2, Params};

    use serde_json::json;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600 + seconds, 0).unwrap()
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_costs() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        let params = Params::try_from(&parsed).unwrap();
        let default = Argon2::default().params().clone();
        let costs = |params: &Params| (params.m_cost(), params.t_cost(), params.p_cost());
        assert_eq!(costs(&params), costs(&default));
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
    }

    #[test]
    fn the_fifth_failure_within_the_window_locks() {
        let mut attempts = Attempts::default();
        for second in 0..4 {
            attempts = attempts.after_failure(at(second * 100));
            assert_eq!(attempts.locked_at(at(second * 100)), None);
        }
        let locked = attempts.after_failure(at(899));
        assert_eq!(locked.locked_at(at(899)), Some(at(899 + LOCKOUT_S)));
        assert_eq!(locked.locked_at(at(899 + LOCKOUT_S)), None);
    }

    #[test]
    fn failures_outside_the_window_start_counting_afresh() {
        let mut attempts = Attempts::default();
        for second in 0..4 {
            attempts = attempts.after_failure(at(second));
        }
        let later = attempts.after_failure(at(FAILURE_WINDOW_S));
        assert_eq!(later.failures, 1);
        assert_eq!(later.first_failure_at, Some(at(FAILURE_WINDOW_S)));
        assert_eq!(later.locked_until, None);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let now = at(0);
        assert_eq!(seconds_until(now + Duration::milliseconds(1500), now), 2);
        assert_eq!(seconds_until(now, now), 1);
    }

    #[test]
    fn login_records_carry_the_user_name_and_reason_only() {
        let name = UserName::parse("k.meier").unwrap();
        let event = failed(&name, FailureReason::Locked).encode();
        assert_eq!(event.event_type, "auth.login_failed");
        assert_eq!(
            event.payload,
            json!({"user_name": "k.meier", "reason": "locked"})
        );
    }
}
