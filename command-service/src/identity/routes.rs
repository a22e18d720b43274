//! The HTTP handlers of identity: login and logout with a session cookie, and the administrators'
//! user management (register, change roles or profile, disable, enable, set a password).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use domain::identity::{
    DisplayName, Email, OrgUnit, Role, TicketVisibility, UserCommand, UserName,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::login::{self, LoginError};
use super::passwords;
use super::sessions::{self, ABSOLUTE_TIMEOUT_S};
use super::users::{self, Executed};
use crate::auth::Actor;
use crate::error::{ApiError, Problem};
use crate::extract::{CorrelationId, JsonBody};
use crate::AppState;

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => ApiError::InvalidCredentials,
            LoginError::Locked { retry_after_s } => ApiError::TooManyAttempts { retry_after_s },
            LoginError::Unexpected(error) => ApiError::Unexpected(error),
        }
    }
}

/// Absent is `None`, `null` is `Some(None)`: "leave as is" and "remove" differ.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Credentials of a login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The user name (`k.meier`).
    pub user: String,
    pub password: String,
}

/// Never prints the password.
impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").finish_non_exhaustive()
    }
}

/// A granted login. The session id travels only in the `itsm_session` cookie.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub user: String,
    pub roles: Vec<String>,
    /// Send it back as `X-CSRF-Token` with every state-changing request of this session.
    pub csrf_token: String,
    /// When the session ends at the latest (it ends earlier after 30 minutes unused).
    pub expires_at: DateTime<Utc>,
}

/// Never prints the token.
impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("user", &self.user)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// Password checks one process runs at once; a login beyond them is refused with 429 and
/// `Retry-After: 1` (each check costs tens of milliseconds of CPU by design).
pub const LOGINS_IN_FLIGHT_MAX: usize = 8;

/// Log in with user name and password.
#[utoipa::path(
    post,
    path = "/api/v1/login",
    tag = "identity",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; the session id is in the `Set-Cookie` header (`itsm_session`, HttpOnly, Secure, SameSite=Strict)", body = LoginResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "User name or password wrong (also for unknown and disabled users)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or missing field", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins; locked for `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let _permit = state
        .logins
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyAttempts { retry_after_s: 1 })?;
    let granted = login::login(&state.pool, &request.user, &request.password, Utc::now()).await?;
    let body = LoginResponse {
        user: granted.user,
        roles: granted.roles,
        csrf_token: granted.session.csrf_token,
        expires_at: granted.session.absolute_expires_at,
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    let cookie = sessions::cookie(&granted.session.session_id, ABSOLUTE_TIMEOUT_S);
    headers.insert(header::SET_COOKIE, cookie);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// End the session of the `itsm_session` cookie.
#[utoipa::path(
    post,
    path = "/api/v1/logout",
    tag = "identity",
    responses(
        (status = 204, description = "Session ended (if there was one); the cookie is deleted"),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(session_id) = sessions::session_id_from(&headers) {
        sessions::revoke(&state.pool, &session_id).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cookie = sessions::expired_cookie();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    // What the browser kept of this session's reads goes with it (a shared PC).
    response.headers_mut().insert(
        HeaderName::from_static("clear-site-data"),
        HeaderValue::from_static("\"cache\""),
    );
    Ok(response)
}

/// A new user account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The user name: 1 to 100 of a-z, 0-9, `.`, `_` and `-`.
    pub user: String,
    pub display_name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// At least one.
    pub roles: Vec<Role>,
    /// The organisational unit.
    #[serde(default)]
    pub org_unit: Option<String>,
    /// Whose tickets the user sees as a requester: `own` (the default) or `unit` (also those of
    /// every requester in their organisation unit or below it).
    #[serde(default)]
    pub ticket_visibility: TicketVisibility,
    /// An initial password (12 to 128 characters); without one the user cannot log in yet.
    #[serde(default)]
    pub password: Option<String>,
}

/// Never prints the password.
impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("user", &self.user)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl NewUser {
    /// The user name and the command registering it.
    fn into_command(self) -> Result<(UserName, UserCommand), ApiError> {
        let user_name = UserName::parse(&self.user).map_err(ApiError::Identity)?;
        let command = UserCommand::Register {
            user_name: user_name.clone(),
            display_name: DisplayName::parse(&self.display_name).map_err(ApiError::Identity)?,
            email: self.email.as_deref().map(email).transpose()?,
            roles: self.roles.into_iter().collect(),
            org_unit: self.org_unit.as_deref().map(org_unit).transpose()?,
        };
        Ok((user_name, command))
    }
}

fn email(text: &str) -> Result<Email, ApiError> {
    Email::parse(text).map_err(ApiError::Identity)
}

fn org_unit(text: &str) -> Result<OrgUnit, ApiError> {
    OrgUnit::parse(text).map_err(ApiError::Identity)
}

/// `Some(None)` (remove) stays, `Some(Some(text))` is parsed.
fn optional<T>(
    value: Option<Option<String>>,
    parse: fn(&str) -> Result<T, ApiError>,
) -> Result<Option<Option<T>>, ApiError> {
    value
        .map(|inner| inner.as_deref().map(parse).transpose())
        .transpose()
}

/// A command on a user account.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum UserCommandRequest {
    /// Replace the roles (at least one); the user's live sessions get the new roles at once.
    ChangeRoles { roles: Vec<Role> },
    /// Set profile fields; a field left out stays, `null` removes `email` or `org_unit`. Only
    /// what differs is recorded.
    ChangeProfile {
        #[serde(default)]
        display_name: Option<String>,
        #[serde(default, deserialize_with = "present")]
        #[schema(value_type = Option<String>)]
        email: Option<Option<String>>,
        #[serde(default, deserialize_with = "present")]
        #[schema(value_type = Option<String>)]
        org_unit: Option<Option<String>>,
    },
    /// Refuse every login and end the user's sessions.
    Disable,
    /// Allow logins again.
    Enable,
    /// Set a new password (12 to 128 characters); ends the user's sessions.
    SetPassword { password: String },
    /// Whose tickets the user sees as a requester: `own`, or `unit` (also those of every
    /// requester in their organisation unit or below it). Setting the current value records
    /// nothing.
    SetTicketVisibility { visibility: TicketVisibility },
}

/// Never prints a password.
impl std::fmt::Debug for UserCommandRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl UserCommandRequest {
    fn name(&self) -> &'static str {
        match self {
            UserCommandRequest::ChangeRoles { .. } => "change_roles",
            UserCommandRequest::ChangeProfile { .. } => "change_profile",
            UserCommandRequest::Disable => "disable_user",
            UserCommandRequest::Enable => "enable_user",
            UserCommandRequest::SetPassword { .. } => "set_password",
            UserCommandRequest::SetTicketVisibility { .. } => "set_ticket_visibility",
        }
    }
}

/// The result of a user command.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAccepted {
    pub user: String,
    /// The account's version after the command.
    pub version: u64,
    /// 0 when the command changed nothing.
    pub events_appended: usize,
}

fn accepted(status: StatusCode, name: &UserName, executed: Executed) -> Response {
    let body = UserAccepted {
        user: name.to_string(),
        version: executed.version,
        events_appended: executed.events_appended,
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::CREATED {
        let location = HeaderValue::from_str(&format!("/api/v1/users/{name}"))
            .expect("user names are valid header characters");
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Register a user (administrators only).
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "identity",
    request_body = NewUser,
    responses(
        (status = 201, description = "User registered", body = UserAccepted),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user exists already", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid user name, profile field, role or password, or no role", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn register_user(
    State(state): State<AppState>,
    actor: Actor,
    CorrelationId(correlation_id): CorrelationId,
    JsonBody(mut request): JsonBody<NewUser>,
) -> Result<Response, ApiError> {
    let password = request.password.take();
    if let Some(password) = &password {
        passwords::check(password).map_err(ApiError::InvalidPassword)?;
    }
    let visibility = request.ticket_visibility;
    let (name, command) = request.into_command()?;
    let pool = &state.pool;
    let mut executed = users::execute(pool, &actor.user, correlation_id, &name, command).await?;
    if visibility != TicketVisibility::default() {
        // A separate event: `user.registered` stays as it is (events are never changed).
        let command = UserCommand::SetTicketVisibility { visibility };
        let granted = users::execute(pool, &actor.user, correlation_id, &name, command).await?;
        executed = Executed {
            version: granted.version,
            events_appended: executed.events_appended + granted.events_appended,
        };
    }
    if let Some(password) = password {
        let changed = passwords::set_password(pool, &actor.user, &name, &password).await?;
        executed = Executed {
            version: changed.version,
            events_appended: executed.events_appended + changed.events_appended,
        };
    }
    Ok(accepted(StatusCode::CREATED, &name, executed))
}

/// Execute a command on a user account (administrators only).
#[utoipa::path(
    post,
    path = "/api/v1/users/{name}/commands",
    tag = "identity",
    request_body = UserCommandRequest,
    params(("name" = String, Path, description = "The user name")),
    responses(
        (status = 200, description = "Command applied (or changed nothing)", body = UserAccepted),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Rule broken (named in `code`, e.g. `user_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, role or password, or no role", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn execute(
    State(state): State<AppState>,
    Path(name): Path<String>,
    actor: Actor,
    CorrelationId(correlation_id): CorrelationId,
    JsonBody(request): JsonBody<UserCommandRequest>,
) -> Result<Response, ApiError> {
    let name = users::existing_name(&name)?;
    let executed = match request {
        UserCommandRequest::SetPassword { password } => {
            return set_password(&state, &actor, &name, &password).await;
        }
        other => {
            let command = into_command(other)?;
            let after = side_effect(&command);
            let executed =
                users::execute(&state.pool, &actor.user, correlation_id, &name, command).await?;
            after.run(&state, &name).await?;
            executed
        }
    };
    Ok(accepted(StatusCode::OK, &name, executed))
}

fn into_command(request: UserCommandRequest) -> Result<UserCommand, ApiError> {
    Ok(match request {
        UserCommandRequest::ChangeRoles { roles } => UserCommand::ChangeRoles {
            roles: roles.into_iter().collect(),
        },
        UserCommandRequest::ChangeProfile {
            display_name,
            email,
            org_unit,
        } => UserCommand::ChangeProfile {
            display_name: display_name
                .as_deref()
                .map(DisplayName::parse)
                .transpose()
                .map_err(ApiError::Identity)?,
            email: optional(email, self::email)?,
            org_unit: optional(org_unit, self::org_unit)?,
        },
        UserCommandRequest::Disable => UserCommand::Disable,
        UserCommandRequest::Enable => UserCommand::Enable,
        UserCommandRequest::SetPassword { .. } => UserCommand::RecordPasswordChange,
        UserCommandRequest::SetTicketVisibility { visibility } => {
            UserCommand::SetTicketVisibility { visibility }
        }
    })
}

/// What the sessions need after a command succeeded.
enum SessionEffect {
    None,
    SetRoles(Vec<String>),
    RevokeAll,
}

fn side_effect(command: &UserCommand) -> SessionEffect {
    match command {
        UserCommand::ChangeRoles { roles } => {
            SessionEffect::SetRoles(roles.iter().map(|role| role.as_str().to_owned()).collect())
        }
        UserCommand::Disable => SessionEffect::RevokeAll,
        _ => SessionEffect::None,
    }
}

impl SessionEffect {
    async fn run(self, state: &AppState, name: &UserName) -> Result<(), ApiError> {
        match self {
            SessionEffect::None => {}
            SessionEffect::SetRoles(roles) => {
                sessions::set_roles_of(&state.pool, name.as_str(), &roles).await?;
            }
            SessionEffect::RevokeAll => {
                sessions::revoke_all_of(&state.pool, name.as_str()).await?;
            }
        }
        Ok(())
    }
}

/// Sets the password (which ends the user's sessions, `passwords::set_password`).
async fn set_password(
    state: &AppState,
    actor: &Actor,
    name: &UserName,
    password: &str,
) -> Result<Response, ApiError> {
    let executed = passwords::set_password(&state.pool, &actor.user, name, password).await?;
    Ok(accepted(StatusCode::OK, name, executed))
}
