//! Browser sessions: a random session id in an `HttpOnly; Secure; SameSite=Strict` cookie and a
//! random CSRF token for the client to echo, both stored only as SHA-256 hashes. A session ends
//! after `IDLE_TIMEOUT_S` without use, `ABSOLUTE_TIMEOUT_S` after login, or when revoked.

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "itsm_session";
/// A session not used for this long ends (BSI: 30 minutes).
pub const IDLE_TIMEOUT_S: i64 = 1800;
/// A session ends this long after login, used or not (one working day).
pub const ABSOLUTE_TIMEOUT_S: i64 = 43_200;
/// Random bytes of a session id and of a CSRF token.
const SECRET_BYTES: usize = 32;
/// Longest presented id or token looked at (43 characters are issued).
const PRESENTED_CHARS_MAX: usize = 64;

/// A session just created. The id and the token are shown once (cookie and login response).
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    pub session_id: String,
    pub csrf_token: String,
    pub absolute_expires_at: DateTime<Utc>,
}

/// Never prints the secrets.
impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("absolute_expires_at", &self.absolute_expires_at)
            .finish_non_exhaustive()
    }
}

/// The caller of a valid session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionActor {
    pub user: String,
    pub roles: Vec<String>,
    /// SHA-256 of the session's CSRF token, for [`check_csrf`].
    pub csrf_hash: [u8; 32],
}

fn random_secret() -> String {
    let mut secret = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    URL_SAFE_NO_PAD.encode(secret)
}

fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether two hashes are equal, in time independent of where they differ.
fn equal_in_constant_time(left: &[u8; 32], right: &[u8; 32]) -> bool {
    left.iter()
        .zip(right)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

/// Starts a session of `user` with `roles` at `now`.
pub async fn create(
    pool: &PgPool,
    user: &str,
    roles: &[String],
    now: DateTime<Utc>,
) -> Result<NewSession, sqlx::Error> {
    let session = NewSession {
        session_id: random_secret(),
        csrf_token: random_secret(),
        absolute_expires_at: now + Duration::seconds(ABSOLUTE_TIMEOUT_S),
    };
    sqlx::query(
        "INSERT INTO sessions (session_hash, csrf_hash, user_name, roles, created_at, \
         last_seen_at, absolute_expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(secret_hash(&session.session_id).as_slice())
    .bind(secret_hash(&session.csrf_token).as_slice())
    .bind(user)
    .bind(roles)
    .bind(now)
    .bind(session.absolute_expires_at)
    .execute(pool)
    .await?;
    Ok(session)
}

/// The caller of session `session_id` at `now`, marking it used; `None` when the session is
/// unknown, revoked, idle for `IDLE_TIMEOUT_S` or past its absolute expiry.
pub async fn authenticate(
    pool: &PgPool,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<SessionActor>, sqlx::Error> {
    if session_id.is_empty() || session_id.len() > PRESENTED_CHARS_MAX {
        return Ok(None);
    }
    let row = sqlx::query(
        "UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $2) \
         WHERE session_hash = $1 AND revoked_at IS NULL \
         AND last_seen_at > $2 - make_interval(secs => $3) AND absolute_expires_at > $2 \
         RETURNING user_name, roles, csrf_hash",
    )
    .bind(secret_hash(session_id).as_slice())
    .bind(now)
    .bind(IDLE_TIMEOUT_S as f64)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let csrf_hash: Vec<u8> = row.try_get("csrf_hash")?;
    let Ok(csrf_hash) = <[u8; 32]>::try_from(csrf_hash.as_slice()) else {
        return Ok(None);
    };
    Ok(Some(SessionActor {
        user: row.try_get("user_name")?,
        roles: row.try_get("roles")?,
        csrf_hash,
    }))
}

/// Whether `presented_token` is the CSRF token of `session`.
pub fn check_csrf(session: &SessionActor, presented_token: &str) -> bool {
    if presented_token.is_empty() || presented_token.len() > PRESENTED_CHARS_MAX {
        return false;
    }
    equal_in_constant_time(&secret_hash(presented_token), &session.csrf_hash)
}

/// Ends session `session_id` at once; whether a live session was ended.
pub async fn revoke(pool: &PgPool, session_id: &str) -> Result<bool, sqlx::Error> {
    if session_id.len() > PRESENTED_CHARS_MAX {
        return Ok(false);
    }
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = now() WHERE session_hash = $1 AND revoked_at IS NULL",
    )
    .bind(secret_hash(session_id).as_slice())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends every session of `user` at once; how many were live.
pub async fn revoke_all_of(pool: &PgPool, user: &str) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = now() WHERE user_name = $1 AND revoked_at IS NULL",
    )
    .bind(user)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Gives `user`'s live sessions the roles `roles` (after a role change, so that a revoked role
/// stops working at once).
pub async fn set_roles_of(pool: &PgPool, user: &str, roles: &[String]) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("UPDATE sessions SET roles = $2 WHERE user_name = $1 AND revoked_at IS NULL")
            .bind(user)
            .bind(roles)
            .execute(pool)
            .await?;
    Ok(done.rows_affected())
}

/// Deletes sessions that ended before `before` (revoked or expired); how many.
pub async fn purge_ended(pool: &PgPool, before: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM sessions WHERE revoked_at < $1 OR absolute_expires_at < $1 \
         OR last_seen_at < $1 - make_interval(secs => $2)",
    )
    .bind(before)
    .bind(IDLE_TIMEOUT_S as f64)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The `Set-Cookie` value carrying `session_id` for `max_age_s` seconds.
pub fn cookie(session_id: &str, max_age_s: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={session_id}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={max_age_s}"
    ))
    .expect("base64url ids and digits are valid header characters")
}

/// The `Set-Cookie` value that deletes the session cookie.
pub fn expired_cookie() -> HeaderValue {
    cookie("", 0)
}

/// The session id in the request's `Cookie` headers, if one is there.
pub fn session_id_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_http_only_secure_and_same_site_strict() {
        assert_eq!(
            cookie("abc", 43_200),
            "itsm_session=abc; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=43200"
        );
        assert_eq!(
            expired_cookie(),
            "itsm_session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0"
        );
    }

    #[test]
    fn the_session_id_is_read_from_any_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark"));
        assert_eq!(session_id_from(&headers), None);
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; itsm_session=xyz; b=2"),
        );
        assert_eq!(session_id_from(&headers).as_deref(), Some("xyz"));
    }

    #[test]
    fn the_csrf_token_must_match_exactly() {
        let token = random_secret();
        assert_eq!(token.len(), 43);
        let session = SessionActor {
            user: "k.meier".into(),
            roles: vec![],
            csrf_hash: secret_hash(&token),
        };
        assert!(check_csrf(&session, &token));
        assert!(!check_csrf(&session, &token[1..]));
        assert!(!check_csrf(&session, ""));
        assert_ne!(random_secret(), token);
    }
}
