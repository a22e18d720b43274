//! The HTTP handlers of the CMDB's command side: register an asset, execute a command on one,
//! import an inventory file. Asset managers and administrators only.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::asset::{AssetCommand, AssetId, CoreField, Lifecycle, RelationType};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::import::{self, ImportReport};
use super::rows::Format;
use super::service::{self, Executed, Origin};
use crate::auth::Actor;
use crate::error::{ApiError, Problem};
use crate::extract::{CorrelationId, IfMatch, JsonBody};
use crate::AppState;

/// Bound on an inventory file sent over HTTP.
pub const IMPORT_BYTES_MAX: usize = 64 * 1024 * 1024;

/// A new asset.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAsset {
    /// The asset class (`computer`, `server`, … or one an administrator defined).
    pub class: String,
    pub name: String,
    #[serde(default)]
    pub inventory_number: Option<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
    /// The location's code.
    #[serde(default)]
    pub location: Option<String>,
    /// Who uses it (account name or personnel number).
    #[serde(default)]
    pub user: Option<String>,
    /// Who is responsible for it.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub cost_centre: Option<String>,
    /// Values of the class's attributes, by key.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, Value>,
    /// Where it starts; `in_stock` if left out.
    #[serde(default)]
    pub lifecycle: Option<Lifecycle>,
}

/// A command on an asset.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum AssetCommandRequest {
    /// Set fields and attributes (`null` removes one); the others stay. Only what differs is
    /// recorded.
    Update {
        /// Core fields by name (`name`, `inventory_number`, `serial_number`, `location`, `user`,
        /// `owner`, `cost_centre`).
        #[serde(default)]
        #[schema(value_type = Object)]
        fields: BTreeMap<String, Option<String>>,
        #[serde(default)]
        #[schema(value_type = Object)]
        attributes: BTreeMap<String, Option<Value>>,
    },
    /// Move the asset through its lifecycle (see the transition table).
    ChangeLifecycle {
        to: Lifecycle,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Begin a relation from this asset to `target`.
    Relate {
        relation: RelationType,
        target: Uuid,
    },
    /// End a relation from this asset to `target`.
    Unrelate {
        relation: RelationType,
        target: Uuid,
    },
}

impl AssetCommandRequest {
    fn into_command(self) -> Result<AssetCommand, ApiError> {
        Ok(match self {
            AssetCommandRequest::Update { fields, attributes } => AssetCommand::Update {
                fields: fields
                    .into_iter()
                    .map(|(name, value)| {
                        CoreField::parse(&name)
                            .map(|field| (field, value))
                            .ok_or_else(|| ApiError::InvalidField {
                                field: format!("fields.{name}"),
                                reason: "not a field of an asset".to_owned(),
                            })
                    })
                    .collect::<Result<_, _>>()?,
                attributes,
                source: None,
            },
            AssetCommandRequest::ChangeLifecycle { to, reason } => {
                AssetCommand::ChangeLifecycle { to, reason }
            }
            AssetCommandRequest::Relate { relation, target } => AssetCommand::Relate {
                relation,
                target: AssetId(target),
            },
            AssetCommandRequest::Unrelate { relation, target } => AssetCommand::Unrelate {
                relation,
                target: AssetId(target),
            },
        })
    }
}

/// The result of an asset command.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetAccepted {
    pub id: Uuid,
    /// The asset's version after the command (`ETag`; send it back as `If-Match`).
    pub version: u64,
    /// 0 when the command changed nothing.
    pub events_appended: usize,
    /// Position of the last event (`<transaction>.<position>`), for `?after=` on reads.
    pub consistency_token: Option<String>,
}

fn accepted(status: StatusCode, id: AssetId, executed: Executed) -> Response {
    let body = AssetAccepted {
        id: id.0,
        version: executed.version,
        events_appended: executed.events_appended,
        consistency_token: executed.cursor.map(|cursor| cursor.to_string()),
    };
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{}\"", executed.version)).expect("digits"),
    );
    if status == StatusCode::CREATED {
        let location = format!("/api/v1/assets/{id}");
        headers.insert(
            header::LOCATION,
            HeaderValue::from_str(&location).expect("uuid"),
        );
    }
    response
}

fn origin(actor: &Actor, correlation_id: Uuid, origin: &'static str) -> Origin {
    Origin {
        actor: actor.user.clone(),
        origin,
        correlation_id,
    }
}

/// Register an asset.
#[utoipa::path(
    post,
    path = "/api/v1/assets",
    tag = "assets",
    request_body = NewAsset,
    responses(
        (status = 201, description = "Asset registered", body = AssetAccepted),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an asset manager or administrator", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown class, unknown or invalid field or attribute", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn register(
    State(state): State<AppState>,
    actor: Actor,
    CorrelationId(correlation_id): CorrelationId,
    JsonBody(asset): JsonBody<NewAsset>,
) -> Result<Response, ApiError> {
    let id = AssetId(Uuid::new_v4());
    let fields = [
        (CoreField::Name, Some(asset.name)),
        (CoreField::InventoryNumber, asset.inventory_number),
        (CoreField::SerialNumber, asset.serial_number),
        (CoreField::Location, asset.location),
        (CoreField::User, asset.user),
        (CoreField::Owner, asset.owner),
        (CoreField::CostCentre, asset.cost_centre),
    ]
    .into_iter()
    .filter_map(|(field, value)| value.map(|value| (field, value)))
    .collect();
    let command = AssetCommand::Register {
        id,
        class: asset.class,
        fields,
        attributes: asset.attributes,
        lifecycle: asset.lifecycle.unwrap_or(Lifecycle::InStock),
        source: None,
    };
    let origin = origin(&actor, correlation_id, "api");
    let executed = service::execute(&state.pool, &origin, id, command, Some(0)).await?;
    Ok(accepted(StatusCode::CREATED, id, executed))
}

/// Execute a command on an asset.
#[utoipa::path(
    post,
    path = "/api/v1/assets/{id}/commands",
    tag = "assets",
    request_body = AssetCommandRequest,
    params(
        ("id" = Uuid, Path, description = "The asset's id"),
        ("If-Match" = Option<String>, Header, description = "The version the client saw; 412 if the asset moved on"),
    ),
    responses(
        (status = 200, description = "Command applied (or changed nothing)", body = AssetAccepted),
        (status = 400, description = "Malformed JSON or header", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an asset manager or administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown asset", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Lifecycle or relation rule broken (named in `code`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid field or attribute", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn execute(
    State(state): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
    IfMatch(expected_version): IfMatch,
    CorrelationId(correlation_id): CorrelationId,
    JsonBody(request): JsonBody<AssetCommandRequest>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id)
        .map(AssetId)
        .map_err(|_| ApiError::Asset(domain::asset::AssetError::NotRegistered))?;
    let command = request.into_command()?;
    let origin = origin(&actor, correlation_id, "api");
    let executed = service::execute(&state.pool, &origin, id, command, expected_version).await?;
    Ok(accepted(StatusCode::OK, id, executed))
}

/// Which source an import run is of.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportParameters {
    /// The inventory source (`baramundi`): 1 to 64 of a-z, 0-9, -, _ and .
    pub source: String,
}

/// Import an inventory file (CSV or JSON).
#[utoipa::path(
    post,
    path = "/api/v1/imports",
    tag = "assets",
    params(ImportParameters),
    request_body(content = String, description = "CSV (`text/csv`, header line with `external_id`, `class`, `name`, core fields and attribute keys; `,` or `;`) or JSON (`application/json`, an array of rows)", content_type = "text/csv"),
    responses(
        (status = 200, description = "The run's report: created, updated, unchanged, rejected rows with line and reason", body = ImportReport),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an asset manager or administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An import of this source is running", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "File larger than 64 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither text/csv nor application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file cannot be read at all, or the source name is invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn import_file(
    State(state): State<AppState>,
    actor: Actor,
    CorrelationId(correlation_id): CorrelationId,
    parameters: Result<Query<ImportParameters>, QueryRejection>,
    request: Request,
) -> Result<Json<ImportReport>, ApiError> {
    let Query(parameters) = parameters.map_err(|rejection| ApiError::InvalidParameter {
        parameter: "source".to_owned(),
        reason: rejection.body_text(),
    })?;
    let source = import::source_name(&parameters.source)?;
    let format = format_of(request.headers())?;
    let bytes = axum::body::to_bytes(request.into_body(), IMPORT_BYTES_MAX)
        .await
        .map_err(|_| ApiError::BodyTooLarge {
            limit_bytes: IMPORT_BYTES_MAX,
        })?;
    let origin = origin(&actor, correlation_id, "import");
    // The run goes on in a task of its own: a client that gives up, or the request time limit,
    // does not cut it off between its asset events and its record.
    let run = tokio::spawn(async move {
        import::run(&state.pool, state.imports, &origin, &source, format, &bytes).await
    });
    let report = run
        .await
        .map_err(|error| ApiError::Unexpected(anyhow::anyhow!("import task failed: {error}")))??;
    Ok(Json(report))
}

fn format_of(headers: &axum::http::HeaderMap) -> Result<Format, ApiError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("text/csv") => Ok(Format::Csv),
        Some("application/json") => Ok(Format::Json),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}
