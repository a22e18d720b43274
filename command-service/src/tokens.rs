//! API tokens for integrations and reporting jobs (issue 6 §2): scoped to roles, expiring,
//! revocable, stored as SHA-256 hashes (`api_tokens`, checked on every request, so a revoked
//! token stops working at once). Issuing and revoking are recorded as events (`token.issued`,
//! `token.revoked`, stream type `api_token`, one stream per token) with who and when; the secret
//! never is. `GET/POST /api/v1/tokens`, `DELETE /api/v1/tokens/{id}` (administrators) and
//! `itsm token issue|list|revoke`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use event_store::{Metadata, NewEvent, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgPool, Row};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{insert_token, Actor, TokenError};
use crate::error::{ApiError, Problem};
use crate::extract::{CorrelationId, JsonBody};
use crate::AppState;

/// The stream type of token records.
pub const STREAM_TYPE: &str = "api_token";
/// Longest validity of a token issued over HTTP, in days (ten years).
pub const TOKEN_DAYS_MAX: i64 = 3650;
/// Tokens listed at most.
const LISTED_MAX: i64 = 1_000;

/// A token as the administrator sees it (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: Uuid,
    pub user: String,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token just issued: the secret is shown this once.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IssuedToken {
    pub id: Uuid,
    pub token: String,
    pub expires_at: Option<DateTime<Utc>>,
}

async fn record(
    pool: &PgPool,
    actor: &str,
    correlation_id: Uuid,
    token_id: Uuid,
    event_type: &str,
    payload: serde_json::Value,
) -> Result<(), StoreError> {
    let command_id = Uuid::new_v4();
    let metadata = Metadata::new(
        actor.to_owned(),
        Utc::now(),
        "api".to_owned(),
        correlation_id,
        command_id,
        command_id,
    );
    let event = NewEvent {
        event_id: Uuid::new_v4(),
        event_type: event_type.to_owned(),
        event_version: 1,
        payload,
    };
    event_store::append_to_log(pool, STREAM_TYPE, token_id, &metadata, vec![event]).await?;
    Ok(())
}

/// Issues a token for `user` with `roles` and records `token.issued` by `issued_by`.
pub async fn issue(
    pool: &PgPool,
    issued_by: &str,
    user: &str,
    roles: &[String],
    expires_at: Option<DateTime<Utc>>,
) -> Result<IssuedToken, TokenError> {
    let (id, token) = insert_token(pool, user, roles, expires_at).await?;
    let payload =
        json!({"token_id": id, "user_name": user.trim(), "roles": roles, "expires_at": expires_at});
    if let Err(error) = record(pool, issued_by, Uuid::new_v4(), id, "token.issued", payload).await {
        // Unrecorded tokens must not work: take it back.
        sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1")
            .bind(id)
            .execute(pool)
            .await?;
        return Err(TokenError::Unrecorded(error.to_string()));
    }
    Ok(IssuedToken {
        id,
        token,
        expires_at,
    })
}

/// Revokes token `id` (at once: every request checks the table); `false` when it does not
/// exist or was revoked before.
pub async fn revoke(pool: &PgPool, revoked_by: &str, id: Uuid) -> Result<bool, ApiError> {
    let revoked = sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected()
        == 1;
    if revoked {
        record(
            pool,
            revoked_by,
            Uuid::new_v4(),
            id,
            "token.revoked",
            json!({"token_id": id}),
        )
        .await?;
    }
    Ok(revoked)
}

/// The tokens (of `user`, if given), newest first.
pub async fn list(pool: &PgPool, user: Option<&str>) -> Result<Vec<TokenInfo>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT token_id, user_name, roles, created_at, expires_at, revoked_at FROM api_tokens \
         WHERE ($1::text IS NULL OR user_name = $1) ORDER BY created_at DESC LIMIT $2",
    )
    .bind(user)
    .bind(LISTED_MAX)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(TokenInfo {
                id: row.try_get("token_id")?,
                user: row.try_get("user_name")?,
                roles: row.try_get("roles")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        })
        .collect()
}

/// A token to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// The user the token acts as.
    pub user: String,
    /// requester, agent, supervisor, asset_manager, auditor, admin.
    pub roles: Vec<String>,
    /// Days until it expires (1 to 3650); never when left out.
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

/// Issue an API token (administrators).
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "access",
    request_body = NewToken,
    responses(
        (status = 201, description = "Issued; the secret is shown this once", body = IssuedToken),
        (status = 401, description = "Missing or invalid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown role, invalid user name or validity", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    CorrelationId(_correlation_id): CorrelationId,
    JsonBody(request): JsonBody<NewToken>,
) -> Result<Response, ApiError> {
    let expires_at = match request.expires_in_days {
        None => None,
        Some(days) if (1..=TOKEN_DAYS_MAX).contains(&days) => {
            Some(Utc::now() + Duration::days(days))
        }
        Some(_) => {
            return Err(ApiError::InvalidField {
                field: "expires_in_days".to_owned(),
                reason: format!("1 to {TOKEN_DAYS_MAX} days"),
            })
        }
    };
    let issued = issue(
        &state.pool,
        &actor.user,
        &request.user,
        &request.roles,
        expires_at,
    )
    .await
    .map_err(|error| match error {
        TokenError::Database(error) => ApiError::from(error),
        TokenError::Unrecorded(reason) => ApiError::Unexpected(anyhow::anyhow!(reason)),
        other => ApiError::InvalidField {
            field: match other {
                TokenError::UnknownRole(_) => "roles".to_owned(),
                _ => "user".to_owned(),
            },
            reason: other.to_string(),
        },
    })?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// List API tokens (administrators; never their secrets).
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "access",
    responses(
        (status = 200, description = "The newest 1,000 tokens", body = Vec<TokenInfo>),
        (status = 401, description = "Missing or invalid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn index(
    State(state): State<AppState>,
    _actor: Actor,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(list(&state.pool, None).await?))
}

/// Revoke an API token (administrators); it stops working at once.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "access",
    params(("id" = Uuid, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing or invalid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such token, or revoked before", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::RouteNotFound)?;
    if revoke(&state.pool, &actor.user, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::RouteNotFound)
    }
}
