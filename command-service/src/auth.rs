//! API tokens: issued by the operator (`itsm token issue`), stored as SHA-256 hashes, presented
//! as `Authorization: Bearer <token>`. The token's user is the actor of every event it causes.
//! Full accounts, sessions and per-queue rights come with the access-control issue.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::ApiError;

/// Every token starts with this, so secret scanners recognise leaked ones.
const TOKEN_PREFIX: &str = "itsm_";
const TOKEN_SECRET_BYTES: usize = 32;
/// Roles a token may carry (the access-control issue gives them their full meaning).
pub const ROLES: &[&str] = &[
    "requester",
    "agent",
    "supervisor",
    "asset_manager",
    "auditor",
    "admin",
];

/// Roles that may issue agent commands on any ticket (per-queue rights come later).
pub const AGENT_ROLES: &[&str] = &["agent", "supervisor", "admin"];
/// Longest user name a token may carry.
const USER_NAME_CHARS_MAX: usize = 100;

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user: String,
    pub roles: Vec<String>,
}

impl Actor {
    /// Whether the actor holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| held == role)
    }

    /// Whether the actor may act as an agent (on any ticket, for now).
    pub fn is_agent(&self) -> bool {
        AGENT_ROLES.iter().any(|role| self.has_role(role))
    }
}

/// Errors of issuing a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("unknown role {0:?}; known roles: {known}", known = ROLES.join(", "))]
    UnknownRole(String),
    #[error("user name must be 1 to {USER_NAME_CHARS_MAX} characters")]
    InvalidUser,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("the token could not be recorded: {0}")]
    Unrecorded(String),
}

/// Creates a token for `user` with `roles`, valid until `expires_at` (if given), and records
/// `token.issued` by the operator; returns the secret, which is shown once and stored only as a
/// hash.
pub async fn issue_token(
    pool: &PgPool,
    user: &str,
    roles: &[String],
    expires_at: Option<DateTime<Utc>>,
) -> Result<String, TokenError> {
    crate::tokens::issue(pool, "operator", user, roles, expires_at)
        .await
        .map(|issued| issued.token)
}

/// Stores a new token (unrecorded; [`crate::tokens::issue`] records it); its id and secret.
pub(crate) async fn insert_token(
    pool: &PgPool,
    user: &str,
    roles: &[String],
    expires_at: Option<DateTime<Utc>>,
) -> Result<(Uuid, String), TokenError> {
    if user.trim().is_empty() || user.chars().count() > USER_NAME_CHARS_MAX {
        return Err(TokenError::InvalidUser);
    }
    if let Some(unknown) = roles.iter().find(|role| !ROLES.contains(&role.as_str())) {
        return Err(TokenError::UnknownRole(unknown.clone()));
    }
    let mut secret = [0u8; TOKEN_SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO api_tokens (token_id, token_hash, user_name, roles, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(token_hash(&token).as_slice())
        .bind(user.trim())
        .bind(roles)
        .bind(expires_at)
        .execute(pool)
        .await?;
    Ok((id, token))
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Looks up a presented token; `None` when unknown, revoked or expired. A token of a registered
/// user acts with at most the user's current roles, and not at all once the user is disabled
/// (as the `identity` projection has them: within its lag, milliseconds); a token of a name
/// without an account keeps its own roles (integrations, installations without accounts). One
/// query: the account is joined, not read from its stream.
pub async fn authenticate(pool: &PgPool, token: &str) -> Result<Option<Actor>, sqlx::Error> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT t.user_name, t.roles, u.roles AS account_roles, u.disabled FROM api_tokens t \
         LEFT JOIN rm_users u ON u.user_name = t.user_name AND u.generation = \
           (SELECT active_generation FROM projections WHERE name = 'identity') \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
           AND (t.expires_at IS NULL OR t.expires_at > now())",
    )
    .bind(token_hash(token).as_slice())
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let roles: Vec<String> = row.try_get("roles")?;
    let account_roles: Option<Vec<String>> = row.try_get("account_roles")?;
    let roles = match (account_roles, row.try_get::<Option<bool>, _>("disabled")?) {
        (_, Some(true)) => return Ok(None),
        (Some(account_roles), _) => roles
            .into_iter()
            .filter(|role| account_roles.contains(role))
            .collect(),
        (None, _) => roles,
    };
    Ok(Some(Actor {
        user: row.try_get("user_name")?,
        roles,
    }))
}

/// Header a browser session must send with every state-changing request (the token `POST
/// /api/v1/login` answered): a cross-site form cannot set it.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The caller a request proves: a bearer token (integrations, reporting jobs, the CLI's tokens),
/// else the browser session cookie — which, for any method but GET and HEAD, must come with the
/// session's CSRF token in [`CSRF_HEADER`]. `None` without valid credentials.
pub async fn authenticate_headers(
    pool: &PgPool,
    method: &axum::http::Method,
    headers: &axum::http::HeaderMap,
) -> Result<Option<Actor>, ApiError> {
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
    {
        return authenticate(pool, token)
            .await
            .map_err(|error| ApiError::Unexpected(error.into()));
    }
    let Some(session_id) = crate::identity::sessions::session_id_from(headers) else {
        return Ok(None);
    };
    let Some(session) = crate::identity::sessions::authenticate(pool, &session_id, Utc::now())
        .await
        .map_err(|error| ApiError::Unexpected(error.into()))?
    else {
        return Ok(None);
    };
    let safe = matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD);
    if !safe {
        let presented = headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if !crate::identity::sessions::check_csrf(&session, presented) {
            return Err(ApiError::CsrfTokenInvalid);
        }
    }
    Ok(Some(Actor {
        user: session.user,
        roles: session.roles,
    }))
}

/// Any service state that holds the database pool authenticates with it.
impl<S> FromRequestParts<S> for Actor
where
    S: Send + Sync,
    PgPool: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Authenticated once by the policy middleware (`crate::policy::enforce`).
        if let Some(actor) = parts.extensions.get::<Actor>() {
            return Ok(actor.clone());
        }
        let pool = PgPool::from_ref(state);
        authenticate_headers(&pool, &parts.method, &parts.headers)
            .await?
            .ok_or(ApiError::Unauthenticated)
    }
}
