//! Request extractors that turn every client mistake into a precise [`ApiError`]: JSON bodies
//! (media type, size, syntax, unknown or invalid fields by path) and the command headers.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use uuid::Uuid;

use crate::error::ApiError;
use crate::AppState;

/// A JSON request body deserialized into `T`, naming the offending field on error.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit_bytes = state.limits.body_bytes_max;
        let bytes = axum::body::to_bytes(request.into_body(), limit_bytes)
            .await
            .map_err(|_| ApiError::BodyTooLarge { limit_bytes })?;
        parse(&bytes).map(JsonBody)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserializes `bytes`: syntax errors are `400`, data errors (unknown field, wrong type, invalid
/// value) are `422` with the field's path.
pub fn parse<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            Category::Data => ApiError::InvalidField {
                field: field_path(&path, &inner),
                reason: without_position(&inner),
            },
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::MalformedJson(inner.to_string())
            }
        }
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::MalformedJson(error.to_string()))?;
    Ok(value)
}

/// The offending field's path. serde_path_to_error has already entered an unknown key of a plain
/// struct, but not one inside an internally tagged enum (whose content serde buffers), nor a
/// missing one; then the field's own name (quoted in the message) is appended.
fn field_path(path: &str, error: &serde_json::Error) -> String {
    let message = error.to_string();
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => "body".to_owned(),
        (parent, Some(name)) if parent == name || parent.ends_with(&format!(".{name}")) => {
            parent.to_owned()
        }
        (parent, Some(name)) => format!("{parent}.{name}"),
        (parent, None) => parent.to_owned(),
    }
}

fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    }
}

/// `If-Match: "<version>"`: the version the client last saw (optional).
#[derive(Clone, Copy, Debug)]
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = value
            .to_str()
            .map_err(|_| ApiError::InvalidHeader("If-Match"))?
            .trim();
        let text = text.strip_prefix("W/").unwrap_or(text);
        let version = text
            .trim_matches('"')
            .parse()
            .map_err(|_| ApiError::InvalidHeader("If-Match"))?;
        Ok(IfMatch(Some(version)))
    }
}

/// `Idempotency-Key`: retries with the same key (by the same user) apply the command once.
#[derive(Clone, Debug)]
pub struct IdempotencyKey(pub Option<String>);

/// Bound on the key's length.
const IDEMPOTENCY_KEY_CHARS_MAX: usize = 200;

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyKey(None));
        };
        let key = value
            .to_str()
            .map_err(|_| ApiError::InvalidHeader("Idempotency-Key"))?
            .trim()
            .to_owned();
        if key.is_empty() || key.chars().count() > IDEMPOTENCY_KEY_CHARS_MAX {
            return Err(ApiError::InvalidHeader("Idempotency-Key"));
        }
        Ok(IdempotencyKey(Some(key)))
    }
}

/// `X-Correlation-Id`: joins the events of one user action across services (new if absent).
#[derive(Clone, Copy, Debug)]
pub struct CorrelationId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for CorrelationId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("x-correlation-id") else {
            return Ok(CorrelationId(Uuid::new_v4()));
        };
        let id = value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .ok_or(ApiError::InvalidHeader("X-Correlation-Id"))?;
        Ok(CorrelationId(id))
    }
}

/// The `{ticket}` path segment; a segment that does not even decode is an unknown ticket.
#[derive(Clone, Debug)]
pub struct TicketPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for TicketPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(ticket) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::TicketNotFound)?;
        Ok(TicketPath(ticket))
    }
}
