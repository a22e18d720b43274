//! `ApiError`: every failure of the command API as RFC 9457 problem+json, in German or English.
//!
//! Client mistakes get a precise 4xx with a stable `code` (and the offending `field` or broken
//! `rule`); anything unexpected is a 500 without internals, logged once here.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::asset::AssetError;
use domain::config::catalog::FormError;
use domain::config::ConfigError;
use domain::identity::UserError;
use domain::ticket::TicketError;
use event_store::StoreError;
use serde::Serialize;

use crate::i18n::{message, Language};
use crate::identity::passwords::PasswordError;

/// Problem types are URNs (RFC 9457 allows non-resolvable URIs): `urn:itsm:problem:<code>`.
const PROBLEM_TYPE_BASE: &str = "urn:itsm:problem:";

/// What went wrong, with enough detail for a precise status and a machine-readable body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("invalid field {field}: {reason}")]
    InvalidField { field: String, reason: String },
    #[error("body larger than {limit_bytes} bytes")]
    BodyTooLarge { limit_bytes: usize },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("invalid header {0}")]
    InvalidHeader(&'static str),
    #[error("authentication required")]
    Unauthenticated,
    #[error("missing right for {command}")]
    Forbidden { command: &'static str },
    #[error("ticket not found")]
    TicketNotFound,
    #[error("route not found")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("ticket is at version {current}, not {expected}")]
    StaleVersion { expected: u64, current: u64 },
    #[error("ticket changed concurrently too often")]
    Contention,
    #[error(transparent)]
    Rule(#[from] TicketError),
    #[error("the Idempotency-Key was used before for a different request")]
    IdempotencyKeyReused,
    #[error("the ticket named in {field} does not exist")]
    TargetTicketNotFound { field: &'static str },
    #[error("the ticket to merge into is already closed, cancelled or merged")]
    MergeTargetFinished,
    #[error("the asset named in {field} does not exist")]
    TargetAssetNotFound { field: &'static str },
    #[error("the service {service:?} is not in the catalog (unknown or retired)")]
    ServiceNotFound { service: String },
    #[error("the answers do not fit the service's request form: {0}")]
    Form(FormError),
    #[error("service unavailable")]
    Unavailable,
    #[error("the request took too long and was abandoned")]
    Timeout,
    #[error("unknown query parameter {parameter}")]
    UnknownParameter { parameter: String },
    #[error("invalid query parameter {parameter}: {reason}")]
    InvalidParameter { parameter: String, reason: String },
    #[error("missing right to read {resource}")]
    ReadForbidden { resource: &'static str },
    #[error("the read model has not reached the consistency token within {waited_ms} ms")]
    NotYetConsistent { waited_ms: u64 },
    #[error("projection {name} stopped at an event it cannot apply")]
    ProjectionFailed { name: String },
    #[error("live updates are not configured")]
    LiveUpdatesUnavailable,
    #[error("more than {limit} live update streams are open")]
    TooManyStreams { limit: usize },
    #[error(transparent)]
    Config(domain::config::ConfigError),
    #[error(transparent)]
    Asset(AssetError),
    #[error("{reason}")]
    Import { code: &'static str, reason: String },
    #[error(transparent)]
    Identity(UserError),
    #[error(transparent)]
    InvalidPassword(PasswordError),
    #[error("user name or password is wrong")]
    InvalidCredentials,
    #[error("too many failed logins; retry in {retry_after_s} s")]
    TooManyAttempts { retry_after_s: u32 },
    #[error("a state-changing request of a browser session needs its CSRF token in X-CSRF-Token")]
    CsrfTokenInvalid,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A failed read-model query: a technical failure (500), logged once at the boundary.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::Unexpected(anyhow::Error::new(error))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Unexpected(anyhow::Error::new(error))
    }
}

/// The RFC 9457 body, with our extension members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// URI identifying the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short, human-readable summary (German by default, English with `Accept-Language: en`).
    pub title: String,
    pub status: u16,
    /// Human-readable explanation of this occurrence.
    pub detail: String,
    /// Stable machine-readable code, e.g. `invalid_transition`.
    pub code: String,
    /// The request field the problem is about, as a path (`requester.name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The ticket's current version (for `stale_version`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) | ApiError::InvalidHeader(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidField { .. }
            | ApiError::UnknownParameter { .. }
            | ApiError::InvalidParameter { .. }
            | ApiError::IdempotencyKeyReused
            | ApiError::TargetTicketNotFound { .. }
            | ApiError::TargetAssetNotFound { .. }
            | ApiError::ServiceNotFound { .. }
            | ApiError::Form(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::MergeTargetFinished => StatusCode::CONFLICT,
            ApiError::Timeout
            | ApiError::NotYetConsistent { .. }
            | ApiError::ProjectionFailed { .. }
            | ApiError::LiveUpdatesUnavailable
            | ApiError::TooManyStreams { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. }
            | ApiError::ReadForbidden { .. }
            | ApiError::CsrfTokenInvalid => StatusCode::FORBIDDEN,
            ApiError::TicketNotFound | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::StaleVersion { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::Contention => StatusCode::CONFLICT,
            ApiError::Rule(TicketError::NotOpened) => StatusCode::NOT_FOUND,
            ApiError::Rule(rule) if rule.is_validation() => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Rule(_) => StatusCode::CONFLICT,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Config(ConfigError::NotDefined { .. }) => StatusCode::NOT_FOUND,
            ApiError::Config(ConfigError::InUse { .. }) => StatusCode::CONFLICT,
            ApiError::Config(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Asset(AssetError::NotRegistered) => StatusCode::NOT_FOUND,
            ApiError::Asset(
                AssetError::UnknownClass(_)
                | AssetError::Attribute(_)
                | AssetError::InvalidField { .. }
                | AssetError::UnknownTarget
                | AssetError::ReasonTooLong
                | AssetError::InvalidExternalId,
            )
            | ApiError::Import { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Asset(_) => StatusCode::CONFLICT,
            ApiError::Identity(UserError::UserNotFound) => StatusCode::NOT_FOUND,
            ApiError::Identity(error) if error.is_validation() => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Identity(_) => StatusCode::CONFLICT,
            ApiError::InvalidPassword(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::InvalidField { .. } => "invalid_field",
            ApiError::BodyTooLarge { .. } => "body_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::InvalidHeader(_) => "invalid_header",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::Forbidden { .. } | ApiError::ReadForbidden { .. } => "missing_right",
            ApiError::TicketNotFound | ApiError::Rule(TicketError::NotOpened) => "ticket_not_found",
            ApiError::RouteNotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::StaleVersion { .. } => "stale_version",
            ApiError::Contention => "contention",
            ApiError::Rule(rule) => rule.code(),
            ApiError::Unavailable => "unavailable",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::TargetTicketNotFound { .. } => "target_ticket_not_found",
            ApiError::MergeTargetFinished => "merge_target_finished",
            ApiError::TargetAssetNotFound { .. } => "asset_not_found",
            ApiError::ServiceNotFound { .. } => "service_not_found",
            ApiError::Form(error) => error.code(),
            ApiError::Timeout => "timeout",
            ApiError::UnknownParameter { .. } => "unknown_parameter",
            ApiError::InvalidParameter { .. } => "invalid_parameter",
            ApiError::NotYetConsistent { .. } => "not_yet_consistent",
            ApiError::ProjectionFailed { .. } => "projection_failed",
            ApiError::LiveUpdatesUnavailable => "live_updates_unavailable",
            ApiError::TooManyStreams { .. } => "too_many_streams",
            ApiError::Config(error) => error.code(),
            ApiError::Asset(error) => error.code(),
            ApiError::Import { code, .. } => code,
            ApiError::Identity(error) => error.code(),
            ApiError::InvalidPassword(_) => "invalid_password",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::CsrfTokenInvalid => "csrf_token_invalid",
            ApiError::Unexpected(_) => "internal",
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            ApiError::InvalidField { field, .. } => Some(field.clone()),
            ApiError::InvalidHeader(name) => Some((*name).to_owned()),
            ApiError::TargetTicketNotFound { field } | ApiError::TargetAssetNotFound { field } => {
                Some((*field).to_owned())
            }
            ApiError::UnknownParameter { parameter }
            | ApiError::InvalidParameter { parameter, .. } => Some(parameter.clone()),
            ApiError::ServiceNotFound { .. } => Some("service_id".to_owned()),
            ApiError::Form(error) => Some(format!("fields.{}", error.key())),
            ApiError::Rule(rule) => rule.field(),
            ApiError::Config(ConfigError::MissingReference { field, .. }) => {
                Some((*field).to_owned())
            }
            ApiError::Asset(error) => error.field(),
            ApiError::Identity(error) => error.field(),
            ApiError::InvalidPassword(_) => Some("password".to_owned()),
            _ => None,
        }
    }

    /// The problem document in `language`.
    pub fn problem(&self, language: Language) -> Problem {
        let status = self.status();
        let code = self.code();
        let detail = match self {
            // Internals stay in the log; the client learns only that it was not their fault.
            ApiError::Unexpected(_) => message(language, "internal_detail").to_owned(),
            other => other.to_string(),
        };
        Problem {
            problem_type: format!("{PROBLEM_TYPE_BASE}{code}"),
            title: message(language, code).to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
            field: self.field(),
            current_version: match self {
                ApiError::StaleVersion { current, .. } => Some(*current),
                _ => None,
            },
        }
    }

    /// Seconds after which a retry may succeed (`Retry-After`), for passing conditions.
    pub fn retry_after_s(&self) -> Option<u32> {
        match self {
            ApiError::NotYetConsistent { .. } | ApiError::TooManyStreams { .. } => Some(1),
            ApiError::TooManyAttempts { retry_after_s } => Some(*retry_after_s),
            _ => None,
        }
    }

    /// The response in `language`; logs server-side failures once.
    pub fn render(&self, language: Language) -> Response {
        if let ApiError::Unexpected(error) = self {
            tracing::error!(error = format!("{error:#}"), "unexpected error");
        }
        let status = self.status();
        let mut response = (status, axum::Json(self.problem(language))).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(language.tag()),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after_s() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// An error waiting in a response's extensions to be rendered in the caller's language by
/// [`render_problems`]; handlers and extractors do not see the request's `Accept-Language`.
#[derive(Clone, Debug)]
struct PendingProblem(Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response
            .extensions_mut()
            .insert(PendingProblem(Arc::new(self)));
        response
    }
}

/// Middleware: renders every [`ApiError`] as problem+json in the language the caller asked for.
pub async fn render_problems(request: Request, next: Next) -> Response {
    let language = Language::from_headers(request.headers());
    let response = next.run(request).await;
    match response.extensions().get::<PendingProblem>() {
        Some(PendingProblem(error)) => error.render(language),
        None => response,
    }
}
