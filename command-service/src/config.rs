//! Configuration (issue 4 §1): queues, catalog categories and services, business calendars and
//! SLA policies, each item a stream of its own (`domain::config`).
//!
//! `PUT /api/v1/config/{kind}/{name}` defines or changes an item, `DELETE` retires it (both for
//! administrators), `GET /api/v1/config/{kind}` and `GET /api/v1/config/{kind}/{name}` read it (any
//! authenticated caller: the portal shows the catalog). Configuration is small (hundreds of
//! items), so it is read straight from the event store through a partial index, always current:
//! no projection lag between changing a calendar and reading it back.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use domain::config::{
    decide, references_of, ConfigCommand, ConfigError, ConfigEvent, ConfigItem, ConfigName, Kind,
    References,
};
use event_store::hash::GENESIS;
use event_store::{AppendRequest, Cursor, Metadata, NewEvent, StoreError};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgPool, Row};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Actor;
use crate::error::{ApiError, Problem};
use crate::extract::{CorrelationId, IfMatch, JsonBody};
use crate::AppState;

/// Namespace of the configuration streams' ids: `uuid v5(NAMESPACE, "<stream type>/<name>")`.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2e4a_9b7d_4c1e_8a35_d2f0_4b6e_7c19);
/// Appends retried after a concurrent change of the same item.
const ATTEMPTS_MAX: usize = 5;

/// The stream of item `name` of `kind`.
pub fn stream_id(kind: Kind, name: &str) -> Uuid {
    Uuid::new_v5(
        &NAMESPACE,
        format!("{}/{name}", kind.stream_type()).as_bytes(),
    )
}

/// One item as stored: its state, its chain head and its last change.
#[derive(Clone, Debug)]
pub struct StoredItem {
    pub kind: Kind,
    pub name: String,
    pub item: ConfigItem,
    pub last_hash: [u8; 32],
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// Every configuration item, by kind and name.
#[derive(Clone, Debug, Default)]
pub struct Configuration {
    pub items: BTreeMap<(Kind, String), StoredItem>,
}

impl References for Configuration {
    fn exists(&self, kind: Kind, name: &str) -> bool {
        self.items
            .get(&(kind, name.to_owned()))
            .is_some_and(|stored| stored.item.is_active())
    }

    fn used_by(&self, kind: Kind, name: &str) -> Vec<(Kind, String)> {
        self.items
            .values()
            .filter(|stored| stored.item.is_active())
            .filter(|stored| {
                stored.item.definition.as_ref().is_some_and(|definition| {
                    references_of(stored.kind, definition)
                        .iter()
                        .any(|(target, target_name)| *target == kind && target_name == name)
                })
            })
            .map(|stored| (stored.kind, stored.name.clone()))
            .collect()
    }

    fn parent_of(&self, name: &str) -> Option<String> {
        self.definition(Kind::OrgUnit, name)
            .and_then(|definition| definition.get("parent"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

impl Configuration {
    /// The active definition of `name` of `kind`.
    pub fn definition(&self, kind: Kind, name: &str) -> Option<&Value> {
        self.items
            .get(&(kind, name.to_owned()))
            .filter(|stored| stored.item.is_active())
            .and_then(|stored| stored.item.definition.as_ref())
    }
}

/// Loads every configuration item (all kinds) from the store.
pub async fn load(pool: &PgPool) -> Result<Configuration, StoreError> {
    load_recorded_until(pool, None).await
}

/// Every configuration item (all kinds) as the events recorded until `at` left it: the
/// configuration in effect then (for the auditor's "who could read this ticket then").
pub async fn load_until(pool: &PgPool, at: DateTime<Utc>) -> Result<Configuration, StoreError> {
    load_recorded_until(pool, Some(at)).await
}

async fn load_recorded_until(
    pool: &PgPool,
    at: Option<DateTime<Utc>>,
) -> Result<Configuration, StoreError> {
    // The literal list matches the partial index `events_config_v3_idx` (migration 0009).
    let rows = sqlx::query(
        "SELECT global_position, stream_type, stream_version, event_type, payload, actor, \
         occurred_at, hash FROM events \
         WHERE stream_type IN ('queue', 'category', 'service', 'calendar', 'sla_policy', 'asset_class', \
         'org_unit', 'team') AND ($1::timestamptz IS NULL OR recorded_at <= $1) \
         ORDER BY stream_type, stream_id, stream_version",
    )
    .bind(at)
    .fetch_all(pool)
    .await?;
    fold_items(rows)
}

/// Folds configuration events, ordered by stream and version, into their items.
fn fold_items(rows: Vec<sqlx::postgres::PgRow>) -> Result<Configuration, StoreError> {
    let mut configuration = Configuration::default();
    for row in rows {
        let position: i64 = row.try_get("global_position")?;
        let stream_type: String = row.try_get("stream_type")?;
        let event_type: String = row.try_get("event_type")?;
        let payload: Value = row.try_get("payload")?;
        let corrupt = |reason: String| StoreError::Corrupt { position, reason };
        let kind = Kind::from_stream_type(&stream_type)
            .ok_or_else(|| corrupt(format!("unknown configuration stream type {stream_type}")))?;
        let event = decode_event(&event_type, payload).map_err(corrupt)?;
        let name = match &event {
            ConfigEvent::Defined { name, .. } | ConfigEvent::Retired { name } => name.to_string(),
        };
        let hash: Vec<u8> = row.try_get("hash")?;
        let entry = configuration
            .items
            .entry((kind, name.clone()))
            .or_insert_with(|| StoredItem {
                kind,
                name,
                item: ConfigItem::default(),
                last_hash: GENESIS,
                updated_at: DateTime::<Utc>::MIN_UTC,
                updated_by: String::new(),
            });
        entry.item = std::mem::take(&mut entry.item).apply(&event);
        entry.last_hash = hash
            .try_into()
            .map_err(|_| corrupt("hash has the wrong length".into()))?;
        entry.updated_at = row.try_get("occurred_at")?;
        entry.updated_by = row.try_get("actor")?;
    }
    Ok(configuration)
}

fn decode_event(event_type: &str, mut payload: Value) -> Result<ConfigEvent, String> {
    let tag = if event_type.ends_with(".retired") {
        "retired"
    } else if event_type.ends_with(".defined") {
        "defined"
    } else {
        return Err(format!("unknown configuration event {event_type}"));
    };
    if let Some(object) = payload.as_object_mut() {
        object.insert("type".to_owned(), json!(tag));
    }
    serde_json::from_value(payload).map_err(|error| error.to_string())
}

/// What a configuration command did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigChanged {
    /// `queues`, `categories`, `services`, `calendars`, `sla-policies` or `asset-classes`.
    pub kind: String,
    pub name: String,
    /// The item's version after the command (`ETag`).
    pub version: u64,
    /// 0 when the definition was already the current one.
    pub events_appended: usize,
    pub consistency_token: Option<String>,
}

/// Decides `command` on item `name` of `kind` and appends its events (retrying after a
/// concurrent change of the same item, unless `expected_version` pins it).
pub async fn execute(
    pool: &PgPool,
    actor: &Actor,
    kind: Kind,
    name: &ConfigName,
    command: ConfigCommand,
    expected_version: Option<u64>,
    correlation_id: Uuid,
) -> Result<ConfigChanged, ApiError> {
    for _ in 0..ATTEMPTS_MAX {
        let configuration = load(pool).await?;
        let stored = configuration.items.get(&(kind, name.to_string()));
        let current = stored.map(|stored| stored.item.clone()).unwrap_or_default();
        if let Some(expected) = expected_version {
            if expected != current.version {
                return Err(ApiError::StaleVersion {
                    expected,
                    current: current.version,
                });
            }
        }
        let events =
            decide(kind, name, &current, &command, &configuration).map_err(ApiError::Config)?;
        let changed = |version, appended, cursor: Option<Cursor>| ConfigChanged {
            kind: kind.segment().to_owned(),
            name: name.to_string(),
            version,
            events_appended: appended,
            consistency_token: cursor.map(|cursor| cursor.to_string()),
        };
        if events.is_empty() {
            return Ok(changed(current.version, 0, None));
        }
        let command_id = Uuid::new_v4();
        let metadata = Metadata::new(
            actor.user.clone(),
            Utc::now(),
            "api".to_owned(),
            correlation_id,
            command_id,
            command_id,
        );
        let appended = events.len();
        let new_events = events
            .iter()
            .map(|event| {
                let (event_type, mut payload) = match event {
                    ConfigEvent::Defined { .. } => (kind.defined_event(), json!(event)),
                    ConfigEvent::Retired { .. } => (kind.retired_event(), json!(event)),
                };
                if let Some(object) = payload.as_object_mut() {
                    object.remove("type");
                }
                NewEvent {
                    event_id: Uuid::new_v4(),
                    event_type: event_type.to_owned(),
                    event_version: 1,
                    payload,
                }
            })
            .collect();
        let outcome = event_store::append(
            pool,
            AppendRequest {
                stream_type: kind.stream_type(),
                stream_id: stream_id(kind, name.as_str()),
                expected_version: current.version,
                previous_hash: stored.map_or(GENESIS, |stored| stored.last_hash),
                metadata: &metadata,
                events: new_events,
                result: json!({}),
            },
        )
        .await;
        match outcome {
            Ok(outcome) => {
                return Ok(changed(
                    outcome.stored.last_version,
                    appended,
                    Some(outcome.stored.cursor),
                ))
            }
            Err(StoreError::VersionConflict { .. }) if expected_version.is_none() => continue,
            Err(StoreError::VersionConflict { .. }) => {
                let current = load(pool)
                    .await?
                    .items
                    .get(&(kind, name.to_string()))
                    .map_or(0, |stored| stored.item.version);
                return Err(ApiError::StaleVersion {
                    expected: expected_version.unwrap_or_default(),
                    current,
                });
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Contention)
}

fn kind_of(segment: &str) -> Result<Kind, ApiError> {
    Kind::from_segment(segment).ok_or(ApiError::RouteNotFound)
}

fn name_of(text: String) -> Result<ConfigName, ApiError> {
    ConfigName::try_from(text).map_err(ApiError::Config)
}

fn with_version(status: StatusCode, body: impl Serialize, version: u64) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header"),
    );
    response
}

/// Define or change a configuration item (administrators).
#[utoipa::path(
    put,
    path = "/api/v1/config/{kind}/{name}",
    tag = "configuration",
    params(
        ("kind" = String, Path, description = "queues, categories, services, calendars, sla-policies or asset-classes"),
        ("name" = String, Path, description = "1 to 64 of a-z, 0-9, -, _ and ."),
        ("If-Match" = Option<String>, Header, description = "The version the change is based on; 412 if it moved on"),
        ("X-Correlation-Id" = Option<uuid::Uuid>, Header, description = "Correlation id recorded with the events"),
    ),
    request_body(content = Object, description = "The complete definition (see schemas/README.md, Configuration)"),
    responses(
        (status = 201, description = "Created", body = ConfigChanged),
        (status = 200, description = "Changed, or already this definition (events_appended 0)", body = ConfigChanged),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown kind", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name or definition: the problem's code names what (e.g. overlapping_hours, policy_never_matches, missing_reference)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn define(
    State(state): State<AppState>,
    actor: Actor,
    Path((kind, name)): Path<(String, String)>,
    IfMatch(expected_version): IfMatch,
    CorrelationId(correlation_id): CorrelationId,
    JsonBody(definition): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let (kind, name) = (kind_of(&kind)?, name_of(name)?);
    let changed = execute(
        &state.pool,
        &actor,
        kind,
        &name,
        ConfigCommand::Define { definition },
        expected_version,
        correlation_id,
    )
    .await?;
    state.directory.invalidate().await;
    let status = if changed.events_appended > 0 && changed.version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let version = changed.version;
    Ok(with_version(status, changed, version))
}

/// Retire a configuration item (administrators); refused while another item uses it.
#[utoipa::path(
    delete,
    path = "/api/v1/config/{kind}/{name}",
    tag = "configuration",
    params(
        ("kind" = String, Path, description = "queues, categories, services, calendars, sla-policies or asset-classes"),
        ("name" = String, Path, description = "The item's name"),
        ("If-Match" = Option<String>, Header, description = "The version the change is based on; 412 if it moved on"),
    ),
    responses(
        (status = 200, description = "Retired", body = ConfigChanged),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such item (config_not_found) or kind", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still used by another item (config_in_use)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn retire(
    State(state): State<AppState>,
    actor: Actor,
    Path((kind, name)): Path<(String, String)>,
    IfMatch(expected_version): IfMatch,
    CorrelationId(correlation_id): CorrelationId,
) -> Result<Response, ApiError> {
    let (kind, name) = (kind_of(&kind)?, name_of(name)?);
    let changed = execute(
        &state.pool,
        &actor,
        kind,
        &name,
        ConfigCommand::Retire,
        expected_version,
        correlation_id,
    )
    .await?;
    state.directory.invalidate().await;
    let version = changed.version;
    Ok(with_version(StatusCode::OK, changed, version))
}

/// A configuration item as read.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigView {
    pub name: String,
    pub version: u64,
    pub retired: bool,
    #[schema(value_type = Object)]
    pub definition: Value,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl From<&StoredItem> for ConfigView {
    fn from(stored: &StoredItem) -> ConfigView {
        ConfigView {
            name: stored.name.clone(),
            version: stored.item.version,
            retired: stored.item.retired,
            definition: stored.item.definition.clone().unwrap_or(Value::Null),
            updated_at: stored.updated_at,
            updated_by: stored.updated_by.clone(),
        }
    }
}

/// Every item of a kind (retired ones too, marked).
#[utoipa::path(
    get,
    path = "/api/v1/config/{kind}",
    tag = "configuration",
    params(("kind" = String, Path, description = "queues, categories, services, calendars, sla-policies or asset-classes")),
    responses(
        (status = 200, description = "The items, by name", body = Vec<ConfigView>),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown kind", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    _actor: Actor,
    Path(kind): Path<String>,
) -> Result<Json<Vec<ConfigView>>, ApiError> {
    let kind = kind_of(&kind)?;
    let configuration = load(&state.pool).await?;
    Ok(Json(
        configuration
            .items
            .values()
            .filter(|stored| stored.kind == kind && stored.item.definition.is_some())
            .map(ConfigView::from)
            .collect(),
    ))
}

/// One item.
#[utoipa::path(
    get,
    path = "/api/v1/config/{kind}/{name}",
    tag = "configuration",
    params(
        ("kind" = String, Path, description = "queues, categories, services, calendars, sla-policies or asset-classes"),
        ("name" = String, Path, description = "The item's name"),
    ),
    responses(
        (status = 200, description = "The item", body = ConfigView, headers(("ETag" = String, description = "`\"<version>\"`"))),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such item or kind", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    _actor: Actor,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let kind = kind_of(&kind)?;
    let configuration = load(&state.pool).await?;
    let stored = configuration
        .items
        .get(&(kind, name.clone()))
        .filter(|stored| stored.item.definition.is_some())
        .ok_or(ApiError::Config(ConfigError::NotDefined {
            kind: kind.stream_type(),
            name,
        }))?;
    Ok(with_version(
        StatusCode::OK,
        ConfigView::from(stored),
        stored.item.version,
    ))
}
