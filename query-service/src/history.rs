//! `GET /api/v1/tickets/{ticket}/history`: the audit timeline of a ticket: every event with who,
//! when, through which channel, what changed, and a readable summary (German or English).
//! Requesters see their own tickets' timelines without the internal-note entries.

mod summary;

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use command_service::auth::Actor;
use command_service::error::{ApiError, Problem};
use command_service::i18n::Language;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::extract::{
    invalid, not_modified, visibility_of, with_etag, IfNoneMatch, Params, TicketPath,
};
use crate::read_model::snapshot;
use crate::view::find_visible;
use crate::AppState;

/// Most entries of one page of the timeline (and the default).
pub const HISTORY_PAGE_MAX: u32 = 1_000;

/// The timeline's parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documents the parameters; parsing is in `show`")]
pub struct HistoryParams {
    /// Only entries after this version (`next_from_version` of the previous page).
    from_version: Option<i64>,
    /// Entries per page, 1 to 1,000 (default 1,000).
    limit: Option<u32>,
    /// Consistency token of a command: wait until the timeline reflects it.
    after: Option<String>,
}

/// One field an event changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Change {
    /// `status`, `queue`, `assignee`, `priority`, `tags`, `fields.<key>`, …
    pub field: String,
    /// The value before (any JSON; null when there was none).
    #[serde(default)]
    #[schema(required = true)]
    pub from: Value,
    /// The value after (any JSON).
    #[serde(default)]
    #[schema(required = true)]
    pub to: Value,
}

/// One event of the timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub version: i64,
    pub event_id: Uuid,
    /// e.g. `ticket.assigned`.
    pub event_type: String,
    /// The user whose command caused the event.
    pub actor: String,
    pub occurred_at: DateTime<Utc>,
    /// The channel the command came through (api, portal, email, …).
    pub channel: String,
    pub correlation_id: Uuid,
    pub changes: Vec<Change>,
    /// The entry as a sentence, in the language of `Accept-Language` (German by default).
    #[schema(example = "Zugewiesen an anna (vorher: niemand)")]
    pub summary: String,
}

/// One page of a ticket's timeline, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    pub ticket: Uuid,
    pub number: String,
    /// The ticket's version (also the `ETag`).
    pub version: i64,
    pub entries: Vec<HistoryEntry>,
    /// Pass as `from_version` for the next page; absent on the last page.
    pub next_from_version: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
struct HistoryRow {
    version: i64,
    event_id: Uuid,
    event_type: String,
    actor: String,
    occurred_at: DateTime<Utc>,
    origin: String,
    correlation_id: Uuid,
    changes: Value,
}

/// The timeline of a ticket.
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{ticket}/history",
    tag = "tickets",
    params(
        ("ticket" = String, Path, description = "Ticket id (UUID) or number (`2026-000123`)"),
        HistoryParams,
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` held; 304 when the ticket is unchanged"),
        ("Accept-Language" = Option<String>, Header, description = "`en` for English summaries; German otherwise"),
    ),
    responses(
        (status = 200, description = "The timeline", body = HistoryPage, headers(("ETag" = String, description = "`\"<version>\"`"))),
        (status = 304, description = "Unchanged since the `If-None-Match` version"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read model did not reach `after` in time (`Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    TicketPath(ticket): TicketPath,
    params: Params,
    if_none_match: IfNoneMatch,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    params.allow_only(&["from_version", "limit"])?;
    let from_version = from_version(&params)?;
    let limit = params.limit(HISTORY_PAGE_MAX, HISTORY_PAGE_MAX)?;
    let after = params.after()?;
    state
        .consistency
        .wait(after, state.limits.consistency_wait)
        .await?;
    let ticket = ticket.ok_or(ApiError::TicketNotFound)?;
    let scope = state.directory.scope_of(&actor).await?;
    let visibility = visibility_of(&state, &actor).await?;
    let mut transaction = snapshot(&state.pool).await?;
    let (generation, row) = find_visible(&mut transaction, &ticket, &actor, &scope, &visibility)
        .await?
        .ok_or(ApiError::TicketNotFound)?;
    if if_none_match.matches(row.version) {
        return Ok(not_modified(row.version));
    }
    let scope = Scope {
        generation,
        ticket: row.ticket_id,
        with_internal_notes: actor.is_agent(),
    };
    let (rows, more) = entries(&mut transaction, &scope, from_version, limit).await?;
    let numbers = referenced_numbers(&mut transaction, generation, &rows).await?;
    transaction.commit().await?;
    let language = Language::from_headers(&headers);
    let writer = summary::Writer {
        language,
        numbers: &numbers,
    };
    let entries: Vec<HistoryEntry> = rows.into_iter().map(|row| entry(&writer, row)).collect();
    let next_from_version = more
        .then(|| entries.last().map(|entry| entry.version))
        .flatten();
    let page = HistoryPage {
        ticket: row.ticket_id,
        number: row.number,
        version: row.version,
        entries,
        next_from_version,
    };
    let mut response = with_etag(Json(page).into_response(), row.version);
    response.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(language.tag()),
    );
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    Ok(response)
}

fn from_version(params: &Params) -> Result<i64, ApiError> {
    match params.one("from_version")? {
        None => Ok(0),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|version| *version >= 0)
            .ok_or_else(|| invalid("from_version", "not a version (a whole number from 0)")),
    }
}

/// Whose entries a page reads.
#[derive(Debug)]
struct Scope {
    generation: i32,
    ticket: Uuid,
    with_internal_notes: bool,
}

/// Up to `limit` entries after `from_version`, plus whether more follow. Without internal
/// notes, `article_added` entries whose changes name the kind `internal_note` are left out.
async fn entries(
    connection: &mut PgConnection,
    scope: &Scope,
    from_version: i64,
    limit: u32,
) -> Result<(Vec<HistoryRow>, bool), ApiError> {
    let mut rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT version, event_id, event_type, actor, occurred_at, origin, correlation_id, changes \
         FROM rm_history \
         WHERE generation = $1 AND ticket_id = $2 AND version > $3 \
           AND ($4 OR NOT (event_type = 'ticket.article_added' \
                           AND jsonb_path_exists(changes, '$.** ? (@ == \"internal_note\")'))) \
         ORDER BY version LIMIT $5",
    )
    .bind(scope.generation)
    .bind(scope.ticket)
    .bind(from_version)
    .bind(scope.with_internal_notes)
    .bind(i64::from(limit) + 1)
    .fetch_all(connection)
    .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

/// The projection whose active generation has the assets' names.
const ASSETS_PROJECTION: &str = "assets";

/// Numbers of the tickets that merges and links in `rows` refer to by id, and names of the
/// assets that asset links refer to (as the assets projection knows them; none while it has no
/// active generation).
async fn referenced_numbers(
    connection: &mut PgConnection,
    generation: i32,
    rows: &[HistoryRow],
) -> Result<HashMap<Uuid, String>, ApiError> {
    let (mut tickets, mut assets): (Vec<Uuid>, Vec<Uuid>) = (Vec::new(), Vec::new());
    for row in rows {
        collect_ids(&row.changes, &["merged_into", "links"], &mut tickets);
        collect_ids(&row.changes, &["assets"], &mut assets);
    }
    let mut names = HashMap::new();
    if !tickets.is_empty() {
        tickets.sort_unstable();
        tickets.dedup();
        let pairs: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT ticket_id, number FROM rm_tickets WHERE generation = $1 AND ticket_id = ANY($2)",
        )
        .bind(generation)
        .bind(&tickets)
        .fetch_all(&mut *connection)
        .await?;
        names.extend(pairs);
    }
    if !assets.is_empty() {
        assets.sort_unstable();
        assets.dedup();
        let pairs: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT asset_id, name FROM rm_assets WHERE asset_id = ANY($2) \
             AND generation = (SELECT active_generation FROM projections WHERE name = $1)",
        )
        .bind(ASSETS_PROJECTION)
        .bind(&assets)
        .fetch_all(&mut *connection)
        .await?;
        names.extend(pairs);
    }
    Ok(names)
}

/// Ids in the changes of `fields` (plain, or inside an object such as a link's `target`).
fn collect_ids(changes: &Value, fields: &[&str], ids: &mut Vec<Uuid>) {
    /// Bound on the ids one page looks up.
    const IDS_MAX: usize = 1_000;
    fn walk(value: &Value, ids: &mut Vec<Uuid>) {
        match value {
            Value::String(text) => ids.extend(text.parse::<Uuid>().ok()),
            Value::Array(items) => items.iter().for_each(|item| walk(item, ids)),
            Value::Object(object) => object.values().for_each(|item| walk(item, ids)),
            _ => {}
        }
    }
    for change in changes.as_array().into_iter().flatten() {
        let field = change.get("field").and_then(Value::as_str);
        if field.is_some_and(|field| fields.contains(&field)) && ids.len() < IDS_MAX {
            walk(change.get("from").unwrap_or(&Value::Null), ids);
            walk(change.get("to").unwrap_or(&Value::Null), ids);
        }
    }
}

fn entry(writer: &summary::Writer<'_>, row: HistoryRow) -> HistoryEntry {
    let changes = parse_changes(row.changes);
    HistoryEntry {
        summary: writer.summary(&row.event_type, &changes),
        version: row.version,
        event_id: row.event_id,
        event_type: row.event_type,
        actor: row.actor,
        occurred_at: row.occurred_at,
        channel: row.origin,
        correlation_id: row.correlation_id,
        changes,
    }
}

/// The stored `[{field, from, to}]`; entries of another shape are skipped.
fn parse_changes(value: Value) -> Vec<Change> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        _ => Vec::new(),
    }
}
