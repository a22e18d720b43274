//! The CMDB reads (issue 5) over the `assets` projection: the asset list with filters and
//! keyset paging (`GET /api/v1/assets`), an asset with its sources, relations from both ends,
//! linked tickets and incident state (`GET /api/v1/assets/{id}`, also `?as_of=`), its history,
//! what depends on it (`GET /api/v1/assets/{id}/impact`) and the import runs
//! (`GET /api/v1/imports`). Every role but `requester` may read assets; past states only the
//! auditor, administrator and asset manager.

use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use command_service::auth::Actor;
use command_service::error::{ApiError, Problem};
use domain::asset::{AssetError, Lifecycle};
use event_store::Cursor;
use projector::assets::{asset_as_of, AssetAsOf, AssetRow, ASSETS};
use projector::search::{tsquery, QUERY_CHARS_MAX};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::instant;
use crate::extract::{invalid, Params};
use crate::read_model::snapshot;
use crate::AppState;

/// Assets per page without `limit`.
pub const ASSET_PAGE_SIZE_DEFAULT: u32 = 50;
/// The largest `limit` of the asset list.
pub const ASSET_PAGE_SIZE_MAX: u32 = 200;
/// History entries per page without `limit`.
pub const HISTORY_PAGE_SIZE_DEFAULT: u32 = 100;
/// Dependency levels followed without `depth`.
pub const IMPACT_DEPTH_DEFAULT: u32 = 3;
/// The deepest `depth` of an impact analysis.
pub const IMPACT_DEPTH_MAX: u32 = 5;
/// Dependency paths an impact analysis follows at most (a dense graph stops here, `truncated`).
pub const IMPACT_PATHS_MAX: i64 = 10_000;
/// Open tickets an impact analysis lists at most.
pub const IMPACT_TICKETS_MAX: i64 = 200;
/// Tickets an asset's view lists at most (the newest).
pub const LINKED_TICKETS_MAX: i64 = 200;
/// Relations an asset's view lists at most per direction.
pub const RELATIONS_LISTED_MAX: i64 = 500;
/// Import runs listed.
pub const IMPORT_RUNS_LISTED_MAX: i64 = 50;
/// Attribute filters (`attr.<key>=`) one list request may carry.
const ATTRIBUTE_FILTERS_MAX: usize = 20;
/// Roles that may read an asset as of a past moment.
pub const AS_OF_ROLES: &[&str] = &["auditor", "admin", "asset_manager"];
/// The relations along which a failure spreads to the assets that have them (runs on, is
/// installed on, depends on, is connected to, uses a licence of the failed asset).
pub const IMPACT_RELATIONS: &[&str] = &[
    "runs_on",
    "installed_on",
    "depends_on",
    "connected_to",
    "uses_licence",
];
/// How often a read with `?after=` looks at the asset projection's checkpoint.
const CONSISTENCY_POLL: Duration = Duration::from_millis(10);
const LIST_PARAMETERS: &[&str] = &[
    "class",
    "lifecycle",
    "location",
    "user",
    "q",
    "missing",
    "limit",
    "cursor",
];
const ATTRIBUTE_PREFIX: &str = "attr.";

fn require_past_reader(actor: &Actor) -> Result<(), ApiError> {
    if AS_OF_ROLES.iter().any(|role| actor.has_role(role)) {
        Ok(())
    } else {
        Err(ApiError::ReadForbidden {
            resource: "past assets",
        })
    }
}

fn not_found() -> ApiError {
    ApiError::Asset(AssetError::NotRegistered)
}

fn unexpected(error: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Unexpected(anyhow::Error::new(error))
}

/// Waits until the asset projection passed the consistency token (nothing to wait for without
/// one); 503 with `Retry-After` after the configured wait.
async fn wait_for(state: &AppState, token: Option<Cursor>) -> Result<(), ApiError> {
    let Some(token) = token else {
        return Ok(());
    };
    let started = tokio::time::Instant::now();
    loop {
        let checkpoint = projector::checkpoint::active(&state.pool, ASSETS).await?;
        if checkpoint.is_some_and(|checkpoint| checkpoint.cursor >= token) {
            return Ok(());
        }
        if started.elapsed() >= state.limits.consistency_wait {
            let waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            return Err(ApiError::NotYetConsistent { waited_ms });
        }
        tokio::time::sleep(CONSISTENCY_POLL).await;
    }
}

/// The generation of the asset projection the query side reads, if it exists.
async fn generation(connection: &mut PgConnection) -> Result<Option<i32>, ApiError> {
    Ok(projector::checkpoint::active_generation(connection, ASSETS).await?)
}

fn private(body: impl Serialize) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}

/// The `{id}` path segment; one that is not a UUID names no asset.
#[derive(Clone, Copy, Debug)]
pub struct AssetPath(pub Option<Uuid>);

impl<S: Send + Sync> FromRequestParts<S> for AssetPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| not_found())?;
        Ok(AssetPath(text.parse().ok()))
    }
}

// ---------------------------------------------------------------------------------------------
// The list

/// The asset list's parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "documents the parameters; parsing is in ListQuery::parse"
)]
pub struct AssetListParams {
    /// Asset class (exact).
    class: Option<String>,
    /// Lifecycle state: planned, ordered, in_stock, deployed, in_repair, retired or disposed.
    lifecycle: Option<String>,
    /// Location code (exact).
    location: Option<String>,
    /// User (account name or personnel number, exact).
    user: Option<String>,
    /// Words in name, inventory or serial number, location, user, owner or a text attribute
    /// (each a prefix, all required, umlauts optional); up to 200 characters.
    q: Option<String>,
    /// `true`: only assets a source has flagged missing.
    missing: Option<bool>,
    /// `attr.<key>=<value>` (repeatable for different keys, up to 20): the attribute has this
    /// value — a number or `true`/`false` when the value parses as one, else the text.
    #[param(rename = "attr.<key>")]
    attr: Option<String>,
    /// Page size, 1 to 200; default 50.
    limit: Option<u32>,
    /// `next_cursor` of the previous page (same filters).
    cursor: Option<String>,
    /// Consistency token of a command: wait until the asset projection reflects it.
    after: Option<String>,
}

/// What the caller asked for, parsed once.
#[derive(Debug)]
struct ListQuery {
    class: Option<String>,
    lifecycle: Option<String>,
    location: Option<String>,
    user: Option<String>,
    words: Option<String>,
    missing: bool,
    attributes: Value,
    cursor: Option<Uuid>,
    limit: u32,
}

impl ListQuery {
    fn parse(params: &Params, uri: &Uri) -> Result<ListQuery, ApiError> {
        let attribute_names = attribute_names(uri)?;
        let mut known: Vec<&str> = LIST_PARAMETERS.to_vec();
        known.extend(attribute_names.iter().map(String::as_str));
        params.allow_only(&known)?;
        let lifecycle = match params.one("lifecycle")? {
            Some(text) => Some(
                Lifecycle::parse(text)
                    .ok_or_else(|| invalid("lifecycle", "unknown lifecycle state"))?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let missing = match params.one("missing")? {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(invalid("missing", "expected true or false")),
        };
        let cursor = params
            .one("cursor")?
            .map(|text| {
                text.parse::<Uuid>()
                    .map_err(|_| invalid("cursor", "not a cursor of the asset list"))
            })
            .transpose()?;
        Ok(ListQuery {
            class: params.one("class")?.map(str::to_owned),
            lifecycle,
            location: params.one("location")?.map(str::to_owned),
            user: params.one("user")?.map(str::to_owned),
            words: words(params)?,
            missing,
            attributes: attribute_filter(params, &attribute_names)?,
            cursor,
            limit: params.limit(ASSET_PAGE_SIZE_DEFAULT, ASSET_PAGE_SIZE_MAX)?,
        })
    }
}

/// The distinct `attr.<key>` parameter names of the query string.
fn attribute_names(uri: &Uri) -> Result<Vec<String>, ApiError> {
    let axum::extract::Query(pairs) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|_| invalid("query", "the query string is not form-encoded"))?;
    let mut names: Vec<String> = pairs
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with(ATTRIBUTE_PREFIX))
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.len() > ATTRIBUTE_FILTERS_MAX {
        return Err(invalid(
            "attr",
            &format!("at most {ATTRIBUTE_FILTERS_MAX} attribute filters"),
        ));
    }
    Ok(names)
}

fn valid_attribute_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .next()
            .is_some_and(|byte| byte.is_ascii_lowercase())
        && key
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// The containment document of the `attr.<key>=<value>` filters.
fn attribute_filter(params: &Params, names: &[String]) -> Result<Value, ApiError> {
    let mut filter = Map::new();
    for name in names {
        let key = &name[ATTRIBUTE_PREFIX.len()..];
        if !valid_attribute_key(key) {
            return Err(invalid(
                name,
                "an attribute key is 1 to 64 of a-z, 0-9 and _, starting with a letter",
            ));
        }
        let Some(text) = params.one(name)? else {
            continue;
        };
        filter.insert(key.to_owned(), attribute_value(text));
    }
    Ok(Value::Object(filter))
}

/// A filter value as it parses: a boolean, a number, else the text.
fn attribute_value(text: &str) -> Value {
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => serde_json::from_str::<serde_json::Number>(text)
            .map_or_else(|_| Value::String(text.to_owned()), Value::Number),
    }
}

fn words(params: &Params) -> Result<Option<String>, ApiError> {
    let Some(text) = params.one("q")? else {
        return Ok(None);
    };
    if text.chars().count() > QUERY_CHARS_MAX {
        return Err(invalid(
            "q",
            &format!("at most {QUERY_CHARS_MAX} characters"),
        ));
    }
    tsquery(text)
        .map(Some)
        .ok_or_else(|| invalid("q", "contains no word to search for"))
}

/// One line of the asset list.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct AssetSummary {
    #[sqlx(rename = "asset_id")]
    pub id: Uuid,
    pub name: String,
    pub class: String,
    /// planned, ordered, in_stock, deployed, in_repair, retired or disposed.
    pub lifecycle: String,
    pub inventory_number: Option<String>,
    pub serial_number: Option<String>,
    pub location: Option<String>,
    #[sqlx(rename = "user_name")]
    pub user: Option<String>,
    pub owner: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: Value,
    /// A source has flagged it missing.
    pub missing: bool,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// One page of the asset list, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetPage {
    pub items: Vec<AssetSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

const LIST_SQL: &str = "\
SELECT a.asset_id, a.name, a.class, a.lifecycle, a.inventory_number, a.serial_number,
    a.location, a.user_name, a.owner, a.attributes, a.missing, a.version, a.updated_at
FROM rm_assets a
WHERE a.generation = $1
  AND ($2::text IS NULL OR a.class = $2)
  AND ($3::text IS NULL OR a.lifecycle = $3)
  AND ($4::text IS NULL OR a.location = $4)
  AND ($5::text IS NULL OR a.user_name = $5)
  AND a.attributes @> $6
  AND ($7::text IS NULL OR a.search @@ to_tsquery('german', $7))
  AND (NOT $8 OR a.missing)
  AND (a.name, a.asset_id) > ($9, $10)
ORDER BY a.name, a.asset_id
LIMIT $11";

/// Assets, filtered, by name.
#[utoipa::path(
    get,
    path = "/api/v1/assets",
    tag = "assets",
    params(AssetListParams),
    responses(
        (status = 200, description = "One page, by name", body = AssetPage),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A requester", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid parameter (named in `field`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The asset projection did not reach `after` in time (`Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    _actor: Actor,
    params: Params,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(&params, &uri)?;
    wait_for(&state, params.after()?).await?;
    let mut transaction = snapshot(&state.pool).await?;
    let Some(generation) = generation(&mut transaction).await? else {
        return Ok(private(AssetPage {
            items: Vec::new(),
            next_cursor: None,
        }));
    };
    let start = match query.cursor {
        None => (String::new(), Uuid::nil()),
        Some(id) => {
            let name: Option<String> = sqlx::query_scalar(
                "SELECT name FROM rm_assets WHERE generation = $1 AND asset_id = $2",
            )
            .bind(generation)
            .bind(id)
            .fetch_optional(&mut *transaction)
            .await?;
            (
                name.ok_or_else(|| invalid("cursor", "not a cursor of the asset list"))?,
                id,
            )
        }
    };
    let mut items: Vec<AssetSummary> = sqlx::query_as(LIST_SQL)
        .bind(generation)
        .bind(&query.class)
        .bind(&query.lifecycle)
        .bind(&query.location)
        .bind(&query.user)
        .bind(&query.attributes)
        .bind(&query.words)
        .bind(query.missing)
        .bind(&start.0)
        .bind(start.1)
        .bind(i64::from(query.limit) + 1)
        .fetch_all(&mut *transaction)
        .await?;
    let more = items.len() > query.limit as usize;
    items.truncate(query.limit as usize);
    let next_cursor = more
        .then(|| items.last().map(|item| item.id.to_string()))
        .flatten();
    Ok(private(AssetPage { items, next_cursor }))
}

// ---------------------------------------------------------------------------------------------
// One asset

/// How one inventory source sees the asset.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceView {
    pub source: String,
    pub external_id: String,
    /// Flagged missing by the source's runs.
    pub missing: bool,
    /// When a run of the source last delivered it (its registration before the first run);
    /// null in a past view.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The run that last delivered it (0: none completed since it was registered).
    pub last_seen_run: Option<i64>,
    /// Runs in a row that have not delivered it.
    pub missed_runs: Option<i32>,
}

/// A relation seen from one end: the other asset and how they are related.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct RelationView {
    /// runs_on, connected_to, installed_on, depends_on, uses_licence or located_in.
    pub relation: String,
    /// The other asset: the target of an outgoing relation, the source of an incoming one.
    pub asset_id: Uuid,
    /// Its current name.
    pub name: Option<String>,
    pub since: DateTime<Utc>,
}

/// The relations of an asset, from both ends.
#[derive(Debug, Serialize, ToSchema)]
pub struct RelationsView {
    /// This asset → another (`this runs_on asset_id`).
    pub outgoing: Vec<RelationView>,
    /// Another → this asset (`asset_id runs_on this`).
    pub incoming: Vec<RelationView>,
}

/// A ticket that names the asset.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct LinkedTicket {
    #[sqlx(rename = "ticket_id")]
    pub id: Uuid,
    pub number: String,
    /// Null for a caller who does not read tickets (asset managers, auditors).
    pub title: Option<String>,
    pub status: String,
    pub ticket_type: String,
}

/// An asset with its sources, relations and tickets.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetView {
    pub id: Uuid,
    pub version: i64,
    pub class: String,
    pub name: String,
    pub inventory_number: Option<String>,
    pub serial_number: Option<String>,
    pub location: Option<String>,
    pub user: Option<String>,
    pub owner: Option<String>,
    pub cost_centre: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: Value,
    pub lifecycle: String,
    /// Any source has flagged it missing.
    pub missing: bool,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sources: Vec<SourceView>,
    pub relations: RelationsView,
    /// Tickets naming the asset, newest first (always as read now, also with `as_of`).
    pub tickets: Vec<LinkedTicket>,
    /// `affected` while an open incident names the asset, else `operational` (as read now).
    pub incident_state: String,
    /// The instant of a past view; absent for the current state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
}

impl AssetView {
    fn new(row: AssetRow, sources: Vec<SourceView>, relations: RelationsView) -> AssetView {
        AssetView {
            id: row.asset_id,
            version: row.version,
            class: row.class,
            name: row.name,
            inventory_number: row.inventory_number,
            serial_number: row.serial_number,
            location: row.location,
            user: row.user_name,
            owner: row.owner,
            cost_centre: row.cost_centre,
            attributes: row.attributes,
            lifecycle: row.lifecycle,
            missing: row.missing,
            registered_at: row.registered_at,
            updated_at: row.updated_at,
            sources,
            relations,
            tickets: Vec::new(),
            incident_state: "operational".to_owned(),
            as_of: None,
        }
    }
}

/// An asset view's parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documents the parameters; parsing is in `show`")]
pub struct AssetParams {
    /// An RFC 3339 instant: the asset and its relations as they were then (auditors,
    /// administrators and asset managers).
    as_of: Option<String>,
    /// Consistency token of a command: wait until the asset projection reflects it.
    after: Option<String>,
}

async fn load_row(
    connection: &mut PgConnection,
    generation: i32,
    id: Uuid,
) -> Result<Option<AssetRow>, ApiError> {
    let row: Option<Value> = sqlx::query_scalar(
        "SELECT to_jsonb(a) - 'generation' - 'search' FROM rm_assets a \
         WHERE generation = $1 AND asset_id = $2",
    )
    .bind(generation)
    .bind(id)
    .fetch_optional(connection)
    .await?;
    row.map(serde_json::from_value)
        .transpose()
        .map_err(unexpected)
}

async fn current_sources(
    connection: &mut PgConnection,
    generation: i32,
    row: &AssetRow,
) -> Result<Vec<SourceView>, ApiError> {
    let seen: Vec<(String, DateTime<Utc>, i64, i32)> = sqlx::query_as(
        "SELECT source, last_seen_at, last_seen_run, missed_runs FROM rm_asset_sources \
         WHERE generation = $1 AND asset_id = $2",
    )
    .bind(generation)
    .bind(row.asset_id)
    .fetch_all(connection)
    .await?;
    let mut sources = sources_of(&row.sources);
    for source in &mut sources {
        if let Some((_, at, run, missed)) = seen.iter().find(|seen| seen.0 == source.source) {
            source.last_seen_at = Some(*at);
            source.last_seen_run = Some(*run);
            source.missed_runs = Some(*missed);
        }
    }
    Ok(sources)
}

/// The sources of an `rm_assets.sources` document (name → external id, missing).
fn sources_of(document: &Value) -> Vec<SourceView> {
    let Value::Object(sources) = document else {
        return Vec::new();
    };
    sources
        .iter()
        .map(|(name, entry)| SourceView {
            source: name.clone(),
            external_id: entry["external_id"].as_str().unwrap_or_default().to_owned(),
            missing: entry["missing"].as_bool().unwrap_or(false),
            last_seen_at: None,
            last_seen_run: None,
            missed_runs: None,
        })
        .collect()
}

const CURRENT_RELATIONS_SQL: [&str; 2] = [
    "SELECT r.relation, r.target_id AS asset_id, a.name, r.valid_from AS since \
     FROM rm_asset_relations r LEFT JOIN rm_assets a \
       ON a.generation = r.generation AND a.asset_id = r.target_id \
     WHERE r.generation = $1 AND r.source_id = $2 AND r.valid_to IS NULL \
     ORDER BY r.relation, a.name, r.target_id LIMIT $3",
    "SELECT r.relation, r.source_id AS asset_id, a.name, r.valid_from AS since \
     FROM rm_asset_relations r LEFT JOIN rm_assets a \
       ON a.generation = r.generation AND a.asset_id = r.source_id \
     WHERE r.generation = $1 AND r.target_id = $2 AND r.valid_to IS NULL \
     ORDER BY r.relation, a.name, r.source_id LIMIT $3",
];

async fn current_relations(
    connection: &mut PgConnection,
    generation: i32,
    id: Uuid,
) -> Result<RelationsView, ApiError> {
    let mut directions = Vec::with_capacity(2);
    for sql in CURRENT_RELATIONS_SQL {
        let relations: Vec<RelationView> = sqlx::query_as(sql)
            .bind(generation)
            .bind(id)
            .bind(RELATIONS_LISTED_MAX)
            .fetch_all(&mut *connection)
            .await?;
        directions.push(relations);
    }
    let incoming = directions.pop().unwrap_or_default();
    let outgoing = directions.pop().unwrap_or_default();
    Ok(RelationsView { outgoing, incoming })
}

/// How a caller sees the tickets an asset is named in, by the ticket read rule
/// (`extract::may_read`): an agent not those of the queues their teams may not read; asset
/// managers and auditors, who do not read tickets, every one by number, status and type, but
/// not its title.
struct ReadableTickets {
    titles: bool,
    denied_queues: Vec<String>,
}

impl ReadableTickets {
    async fn of(state: &AppState, actor: &Actor) -> Result<ReadableTickets, ApiError> {
        if !actor.is_agent() {
            return Ok(ReadableTickets {
                titles: false,
                denied_queues: Vec::new(),
            });
        }
        let scope = state.directory.scope_of(actor).await?;
        Ok(ReadableTickets {
            titles: true,
            denied_queues: scope.denied_queues(domain::access::QueueRight::Read),
        })
    }
}

/// The tickets naming `id` (newest first) and whether an open incident is among them, from the
/// active generation of the ticket projection.
async fn tickets_of(
    connection: &mut PgConnection,
    id: Uuid,
    readable: &ReadableTickets,
) -> Result<(Vec<LinkedTicket>, bool), ApiError> {
    let tickets: Vec<LinkedTicket> = sqlx::query_as(
        "SELECT t.ticket_id, t.number, CASE WHEN $3 THEN t.title END AS title, t.status, t.ticket_type \
         FROM rm_ticket_assets l JOIN rm_tickets t \
           ON t.generation = l.generation AND t.ticket_id = l.ticket_id \
         WHERE l.generation = (SELECT active_generation FROM projections WHERE name = 'tickets') \
           AND l.asset_id = $1 AND (t.queue IS NULL OR NOT (t.queue = ANY($4))) \
         ORDER BY t.opened_at DESC, t.ticket_id LIMIT $2",
    )
    .bind(id)
    .bind(LINKED_TICKETS_MAX)
    .bind(readable.titles)
    .bind(&readable.denied_queues)
    .fetch_all(&mut *connection)
    .await?;
    let affected: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM rm_ticket_assets l JOIN rm_tickets t \
           ON t.generation = l.generation AND t.ticket_id = l.ticket_id \
         WHERE l.generation = (SELECT active_generation FROM projections WHERE name = 'tickets') \
           AND l.asset_id = $1 AND t.is_open AND t.ticket_type = 'incident')",
    )
    .bind(id)
    .fetch_one(connection)
    .await?;
    Ok((tickets, affected))
}

/// The current names of `ids`.
async fn names(
    connection: &mut PgConnection,
    generation: i32,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT asset_id, name FROM rm_assets WHERE generation = $1 AND asset_id = ANY($2)",
    )
    .bind(generation)
    .bind(ids)
    .fetch_all(connection)
    .await?)
}

/// The view of a past state: its sources without run data, relations that held then (with the
/// other ends' current names).
async fn past_view(
    connection: &mut PgConnection,
    generation: i32,
    past: AssetAsOf,
) -> Result<AssetView, ApiError> {
    let ends: Vec<Uuid> = past
        .outgoing
        .iter()
        .map(|relation| relation.target_id)
        .chain(past.incoming.iter().map(|relation| relation.source_id))
        .collect();
    let names = names(connection, generation, &ends).await?;
    let name_of = |id: Uuid| {
        names
            .iter()
            .find(|(known, _)| *known == id)
            .map(|(_, name)| name.clone())
    };
    let view = |relation: &projector::assets::RelationRow, other: Uuid| RelationView {
        relation: relation.relation.clone(),
        asset_id: other,
        name: name_of(other),
        since: relation.valid_from,
    };
    let relations = RelationsView {
        outgoing: past.outgoing.iter().map(|r| view(r, r.target_id)).collect(),
        incoming: past.incoming.iter().map(|r| view(r, r.source_id)).collect(),
    };
    let sources = sources_of(&past.row.sources);
    Ok(AssetView::new(past.row, sources, relations))
}

/// An asset: fields, attributes, lifecycle, sources, relations from both ends, the tickets
/// naming it and whether an open incident affects it.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}",
    tag = "assets",
    params(("id" = Uuid, Path, description = "Asset id"), AssetParams),
    responses(
        (status = 200, description = "The asset (as of `as_of` when given)", body = AssetView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A requester; or `as_of` without the auditor, admin or asset_manager role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such asset (at `as_of`: not yet registered then)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid parameter (named in `field`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The asset projection did not reach `after` in time (`Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    AssetPath(id): AssetPath,
    params: Params,
) -> Result<Response, ApiError> {
    params.allow_only(&["as_of"])?;
    let as_of = instant(&params, "as_of")?;
    if as_of.is_some() {
        require_past_reader(&actor)?;
    }
    let id = id.ok_or_else(not_found)?;
    wait_for(&state, params.after()?).await?;
    let mut transaction = snapshot(&state.pool).await?;
    let generation = generation(&mut transaction).await?.ok_or_else(not_found)?;
    let mut view = match as_of {
        Some(at) => {
            let past = asset_as_of(&state.pool, id, at)
                .await
                .map_err(unexpected)?
                .ok_or_else(not_found)?;
            let mut view = past_view(&mut transaction, generation, past).await?;
            view.as_of = Some(at);
            view
        }
        None => {
            let row = load_row(&mut transaction, generation, id)
                .await?
                .ok_or_else(not_found)?;
            let sources = current_sources(&mut transaction, generation, &row).await?;
            let relations = current_relations(&mut transaction, generation, id).await?;
            AssetView::new(row, sources, relations)
        }
    };
    let readable = ReadableTickets::of(&state, &actor).await?;
    let (tickets, affected) = tickets_of(&mut transaction, id, &readable).await?;
    view.tickets = tickets;
    if affected {
        "affected".clone_into(&mut view.incident_state);
    }
    Ok(private(view))
}

// ---------------------------------------------------------------------------------------------
// History

/// One change of an asset.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct AssetHistoryEntry {
    pub version: i64,
    pub event_type: String,
    pub actor: String,
    pub occurred_at: DateTime<Utc>,
    /// What changed: for `asset.updated` `changes` (each `field` or `attribute` with `from` and
    /// `to`) and `source`; for a lifecycle change `from`, `to`, `reason`; for relations
    /// `relation` and `target`; for registration the initial values.
    #[schema(value_type = Object)]
    pub change: Value,
}

/// An asset's history, oldest first, one page at a time.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetHistoryPage {
    pub items: Vec<AssetHistoryEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// An asset history's parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "documents the parameters; parsing is in `history`"
)]
pub struct AssetHistoryParams {
    /// Entries, 1 to the configured page maximum (200 by default); default 100.
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Consistency token of a command: wait until the asset projection reflects it.
    after: Option<String>,
}

async fn exists(
    connection: &mut PgConnection,
    generation: i32,
    id: Uuid,
) -> Result<bool, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM rm_assets WHERE generation = $1 AND asset_id = $2)",
    )
    .bind(generation)
    .bind(id)
    .fetch_one(connection)
    .await?)
}

/// An asset's changes in version order.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/history",
    tag = "assets",
    params(("id" = Uuid, Path, description = "Asset id"), AssetHistoryParams),
    responses(
        (status = 200, description = "One page of changes, oldest first", body = AssetHistoryPage),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A requester", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such asset", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid parameter (named in `field`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn history(
    State(state): State<AppState>,
    _actor: Actor,
    AssetPath(id): AssetPath,
    params: Params,
) -> Result<Response, ApiError> {
    params.allow_only(&["limit", "cursor"])?;
    let limit = params.limit(HISTORY_PAGE_SIZE_DEFAULT, state.limits.page_size_max)?;
    let after_version: i64 = match params.one("cursor")? {
        Some(text) => text
            .parse()
            .ok()
            .filter(|version| *version > 0)
            .ok_or_else(|| invalid("cursor", "not a cursor of this history"))?,
        None => 0,
    };
    let id = id.ok_or_else(not_found)?;
    wait_for(&state, params.after()?).await?;
    let mut transaction = snapshot(&state.pool).await?;
    let generation = generation(&mut transaction).await?.ok_or_else(not_found)?;
    if !exists(&mut transaction, generation, id).await? {
        return Err(not_found());
    }
    let mut items: Vec<AssetHistoryEntry> = sqlx::query_as(
        "SELECT version, event_type, actor, occurred_at, change FROM rm_asset_history \
         WHERE generation = $1 AND asset_id = $2 AND version > $3 ORDER BY version LIMIT $4",
    )
    .bind(generation)
    .bind(id)
    .bind(after_version)
    .bind(i64::from(limit) + 1)
    .fetch_all(&mut *transaction)
    .await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = more
        .then(|| items.last().map(|item| item.version.to_string()))
        .flatten();
    Ok(private(AssetHistoryPage { items, next_cursor }))
}

// ---------------------------------------------------------------------------------------------
// Impact

/// An asset that depends on the analysed one, directly or through others.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct ImpactedAsset {
    #[sqlx(rename = "asset_id")]
    pub id: Uuid,
    pub name: String,
    pub class: String,
    pub lifecycle: String,
    /// 1: related to the analysed asset itself; 2: to an asset of depth 1; …
    pub depth: i32,
    /// The relation from this asset to `via` (`runs_on`, …).
    pub relation: String,
    /// The asset this one depends on, on the shortest path to the analysed asset.
    pub via: Uuid,
}

/// An open ticket naming an impacted asset.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct ImpactTicket {
    #[sqlx(rename = "ticket_id")]
    pub id: Uuid,
    pub number: String,
    /// Null for a caller who does not read tickets (asset managers, auditors).
    pub title: Option<String>,
    pub status: String,
    pub ticket_type: String,
    /// The impacted asset the ticket names.
    pub asset_id: Uuid,
}

/// What depends on an asset.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImpactView {
    pub asset: Uuid,
    pub depth: u32,
    /// The relations held at this instant; absent: as they hold now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
    /// By depth, then name; each asset once, at its smallest depth.
    pub impacted: Vec<ImpactedAsset>,
    /// Open tickets naming an impacted asset (as read now).
    pub open_tickets: Vec<ImpactTicket>,
    /// True when the dependency paths exceeded the bound (10,000) and deeper ones were not
    /// followed.
    pub truncated: bool,
}

/// An impact analysis's parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documents the parameters; parsing is in `impact`")]
pub struct ImpactParams {
    /// Dependency levels to follow, 1 to 5; default 3.
    depth: Option<u32>,
    /// An RFC 3339 instant: the relations as they held then (auditors, administrators and
    /// asset managers).
    as_of: Option<String>,
    /// Consistency token of a command: wait until the asset projection reflects it.
    after: Option<String>,
}

/// Follows relations against their direction (who points at the asset) level by level, each
/// path without repeating an asset, up to `$5` levels and `$6` paths. A relation counts when it
/// held at `$4` (or, without `$4`, holds now).
const IMPACT_SQL: &str = "\
WITH RECURSIVE paths(asset_id, depth, relation, via, path) AS (
    SELECT r.source_id, 1, r.relation, r.target_id, ARRAY[r.target_id, r.source_id]
    FROM rm_asset_relations r
    WHERE r.generation = $1 AND r.target_id = $2 AND r.relation = ANY($3)
      AND r.source_id <> $2
      AND (($4::timestamptz IS NULL AND r.valid_to IS NULL)
           OR (r.valid_from <= $4 AND (r.valid_to IS NULL OR r.valid_to > $4)))
  UNION ALL
    SELECT r.source_id, p.depth + 1, r.relation, r.target_id, p.path || r.source_id
    FROM paths p JOIN rm_asset_relations r
      ON r.generation = $1 AND r.target_id = p.asset_id
    WHERE p.depth < $5 AND r.relation = ANY($3) AND NOT r.source_id = ANY(p.path)
      AND (($4::timestamptz IS NULL AND r.valid_to IS NULL)
           OR (r.valid_from <= $4 AND (r.valid_to IS NULL OR r.valid_to > $4)))
), bounded AS (
    SELECT * FROM paths LIMIT $6
), nearest AS (
    SELECT DISTINCT ON (asset_id) asset_id, depth, relation, via
    FROM bounded ORDER BY asset_id, depth, relation, via
)
SELECT n.asset_id, a.name, a.class, a.lifecycle, n.depth, n.relation, n.via,
    (SELECT count(*) FROM bounded) AS paths
FROM nearest n JOIN rm_assets a ON a.generation = $1 AND a.asset_id = n.asset_id
ORDER BY n.depth, a.name, n.asset_id";

#[derive(sqlx::FromRow)]
struct ImpactRow {
    #[sqlx(flatten)]
    asset: ImpactedAsset,
    paths: i64,
}

fn depth(params: &Params) -> Result<u32, ApiError> {
    let Some(text) = params.one("depth")? else {
        return Ok(IMPACT_DEPTH_DEFAULT);
    };
    text.parse()
        .ok()
        .filter(|depth| (1..=IMPACT_DEPTH_MAX).contains(depth))
        .ok_or_else(|| {
            invalid(
                "depth",
                &format!("expected a whole number from 1 to {IMPACT_DEPTH_MAX}"),
            )
        })
}

async fn impact_tickets(
    connection: &mut PgConnection,
    ids: &[Uuid],
    readable: &ReadableTickets,
) -> Result<Vec<ImpactTicket>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT t.ticket_id, t.number, CASE WHEN $3 THEN t.title END AS title, t.status, t.ticket_type, \
                l.asset_id \
         FROM rm_ticket_assets l JOIN rm_tickets t \
           ON t.generation = l.generation AND t.ticket_id = l.ticket_id \
         WHERE l.generation = (SELECT active_generation FROM projections WHERE name = 'tickets') \
           AND l.asset_id = ANY($1) AND t.is_open \
           AND (t.queue IS NULL OR NOT (t.queue = ANY($4))) \
         ORDER BY t.priority_rank, t.opened_at, t.ticket_id, l.asset_id LIMIT $2",
    )
    .bind(ids)
    .bind(IMPACT_TICKETS_MAX)
    .bind(readable.titles)
    .bind(&readable.denied_queues)
    .fetch_all(connection)
    .await?)
}

/// What depends on an asset, transitively: the assets that run on, are installed on, depend
/// on, are connected to or use a licence of it, then theirs, up to `depth` levels.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/impact",
    tag = "assets",
    params(("id" = Uuid, Path, description = "Asset id"), ImpactParams),
    responses(
        (status = 200, description = "The dependants and their open tickets", body = ImpactView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A requester; or `as_of` without the auditor, admin or asset_manager role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such asset", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid parameter (named in `field`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn impact(
    State(state): State<AppState>,
    actor: Actor,
    AssetPath(id): AssetPath,
    params: Params,
) -> Result<Response, ApiError> {
    params.allow_only(&["depth", "as_of"])?;
    let depth = depth(&params)?;
    let as_of = instant(&params, "as_of")?;
    if as_of.is_some() {
        require_past_reader(&actor)?;
    }
    let id = id.ok_or_else(not_found)?;
    wait_for(&state, params.after()?).await?;
    let mut transaction = snapshot(&state.pool).await?;
    let generation = generation(&mut transaction).await?.ok_or_else(not_found)?;
    if !exists(&mut transaction, generation, id).await? {
        return Err(not_found());
    }
    let rows: Vec<ImpactRow> = sqlx::query_as(IMPACT_SQL)
        .bind(generation)
        .bind(id)
        .bind(IMPACT_RELATIONS)
        .bind(as_of)
        .bind(depth as i32)
        .bind(IMPACT_PATHS_MAX)
        .fetch_all(&mut *transaction)
        .await?;
    let truncated = rows
        .first()
        .is_some_and(|row| row.paths >= IMPACT_PATHS_MAX);
    let impacted: Vec<ImpactedAsset> = rows.into_iter().map(|row| row.asset).collect();
    let ids: Vec<Uuid> = impacted.iter().map(|asset| asset.id).collect();
    let readable = ReadableTickets::of(&state, &actor).await?;
    let open_tickets = impact_tickets(&mut transaction, &ids, &readable).await?;
    Ok(private(ImpactView {
        asset: id,
        depth,
        as_of,
        impacted,
        open_tickets,
        truncated,
    }))
}

// ---------------------------------------------------------------------------------------------
// Import runs

/// One run of an inventory source.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct ImportRun {
    pub source: String,
    pub run: i64,
    /// Who started it.
    pub actor: String,
    pub occurred_at: DateTime<Utc>,
    /// The run's record: format, rows, created, updated, unchanged, rejected_count, rejected
    /// (the first 1,000 with line, code, field and reason), events_written, missing, flagged.
    #[schema(value_type = Object)]
    pub report: Value,
}

/// Recent import runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRuns {
    pub items: Vec<ImportRun>,
}

/// The import list's parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "documents the parameters; parsing is in `imports`"
)]
pub struct ImportParams {
    /// Only this source's runs.
    source: Option<String>,
    /// Consistency token of a command: wait until the asset projection reflects it.
    after: Option<String>,
}

/// The most recent 50 import runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/imports",
    tag = "assets",
    params(ImportParams),
    responses(
        (status = 200, description = "Recent runs, newest first", body = ImportRuns),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A requester", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid parameter (named in `field`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn imports(
    State(state): State<AppState>,
    _actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    params.allow_only(&["source"])?;
    let source = params.one("source")?;
    wait_for(&state, params.after()?).await?;
    let mut transaction = snapshot(&state.pool).await?;
    let Some(generation) = generation(&mut transaction).await? else {
        return Ok(private(ImportRuns { items: Vec::new() }));
    };
    let items: Vec<ImportRun> = sqlx::query_as(
        "SELECT source, run, actor, occurred_at, report FROM rm_asset_imports \
         WHERE generation = $1 AND ($2::text IS NULL OR source = $2) \
         ORDER BY occurred_at DESC, source, run DESC LIMIT $3",
    )
    .bind(generation)
    .bind(source)
    .bind(IMPORT_RUNS_LISTED_MAX)
    .fetch_all(&mut *transaction)
    .await?;
    Ok(private(ImportRuns { items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values_are_matched_as_they_parse() {
        assert_eq!(attribute_value("true"), Value::Bool(true));
        assert_eq!(attribute_value("16"), serde_json::json!(16));
        assert_eq!(attribute_value("1.5"), serde_json::json!(1.5));
        assert_eq!(attribute_value("Win 11"), serde_json::json!("Win 11"));
    }

    #[test]
    fn attribute_keys_follow_the_class_rules() {
        assert!(valid_attribute_key("ram_gb"));
        assert!(!valid_attribute_key("RAM"));
        assert!(!valid_attribute_key("1x"));
        assert!(!valid_attribute_key(""));
    }
}
