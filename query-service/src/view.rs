//! `GET /api/v1/tickets/{ticket}`: the full ticket view (fields, requester, articles, links in
//! both directions, merges, the assets it names, a summary of the SLA clocks) with the command
//! side's `ETag`, read in one snapshot.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use command_service::auth::Actor;
use command_service::error::{ApiError, Problem};
use domain::access::{right_for_command, Scope};
use domain::ticket::{allowed_commands, Status};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::extract::{
    may_read, not_modified, visibility_of, with_etag, IfNoneMatch, Params, TicketPath, TicketRef,
    Visibility,
};
use crate::read_model::{active_generation, sla_due_at_sql, sla_state_sql, snapshot};
use crate::AppState;

/// Most articles one view carries (the newest; `articles_truncated` says when older ones exist).
pub const ARTICLES_IN_VIEW_MAX: i64 = 1_000;
/// Most links (both directions together) and merged tickets one view carries.
pub const LINKS_IN_VIEW_MAX: i64 = 1_000;
/// Most assets one view carries (all: a ticket names at most this many).
pub const ASSETS_IN_VIEW_MAX: i64 = domain::ticket::decide::ASSETS_PER_TICKET_MAX as i64;
/// The projection whose active generation has the assets' names, classes and lifecycles.
const ASSETS_PROJECTION: &str = "assets";

/// The ticket as the read model has it (also read from the projection's own row type, by its
/// JSON, for a past view).
#[derive(Debug, sqlx::FromRow, serde::Deserialize)]
pub struct TicketRow {
    pub ticket_id: Uuid,
    pub number: String,
    pub version: i64,
    pub ticket_type: String,
    pub title: String,
    pub description: String,
    pub requester_name: String,
    pub requester_email: Option<String>,
    pub requester_phone: Option<String>,
    pub requester_user_id: Option<String>,
    pub service_id: Option<String>,
    pub category_id: Option<String>,
    pub impact: String,
    pub urgency: String,
    pub priority: String,
    pub queue: Option<String>,
    pub status: String,
    pub is_open: bool,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub fields: serde_json::Value,
    pub channel: String,
    pub pending_reason: Option<String>,
    pub pending_until: Option<DateTime<Utc>>,
    pub resolution_code: Option<String>,
    pub resolution_text: Option<String>,
    pub merged_into: Option<Uuid>,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub last_tx: i64,
    pub last_position: i64,
}

/// Who reported the ticket. Personal data: "[gelöscht / erased]" if erased before it was
/// projected (existing read models keep the plaintext until a rebuild).
#[derive(Debug, Serialize, ToSchema)]
pub struct RequesterView {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The user id of a requester who reported through the portal.
    pub user_id: Option<String>,
}

/// Another ticket, as a view names it.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct RelatedTicket {
    #[sqlx(rename = "ticket_id")]
    pub id: Uuid,
    pub number: Option<String>,
    pub title: Option<String>,
    pub status: Option<String>,
    #[serde(skip)]
    pub requester_user_id: Option<String>,
    /// For the caller's queue rights only.
    #[serde(skip)]
    pub queue: Option<String>,
}

impl RelatedTicket {
    /// Whether `reader` may see this ticket named in a view.
    fn readable_by(&self, (actor, scope, visibility): Reader<'_>) -> bool {
        may_read(
            actor,
            scope,
            visibility,
            self.queue.as_deref(),
            self.requester_user_id.as_deref(),
        )
    }
}

/// The ticket this one was merged into.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeTarget {
    pub id: Uuid,
    pub number: Option<String>,
}

/// A link, seen from this ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkView {
    /// `outgoing`: stored on this ticket (this ticket `link_type` the other); `incoming`: stored
    /// on the other ticket (the other ticket `link_type` this one).
    pub direction: String,
    /// relates_to, duplicate_of, parent_of, child_of or caused_by, as stored on the source.
    pub link_type: String,
    pub ticket: RelatedTicket,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
struct LinkRow {
    direction: String,
    link_type: String,
    created_by: String,
    created_at: DateTime<Utc>,
    #[sqlx(flatten)]
    ticket: RelatedTicket,
}

/// An asset the ticket names, with its name, class and lifecycle as the CMDB has them now (null
/// while the assets projection does not know the asset, and in a view `as_of` a past time).
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct LinkedAsset {
    pub id: Uuid,
    pub name: Option<String>,
    pub class: Option<String>,
    pub lifecycle: Option<String>,
    /// When the ticket started naming it.
    pub linked_at: DateTime<Utc>,
}

/// An article: a public reply, an internal note (agents only) or a requester message.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct ArticleView {
    pub article_id: i32,
    /// public_reply, internal_note or requester_message.
    pub kind: String,
    pub channel: String,
    pub body: String,
    /// `[{name, size_bytes, sha256, media_type}]`
    #[schema(value_type = Vec<Object>)]
    pub attachments: serde_json::Value,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

/// One SLA clock in brief (`GET /api/v1/tickets/{ticket}/sla` explains it).
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct SlaSummary {
    /// first_response or resolution.
    pub metric: String,
    /// running, paused, met, stopped or breached (as read now: running past its due time, or
    /// met, paused or stopped after it).
    pub state: String,
    pub target_minutes: i64,
    /// Business minutes used as of the ticket's last event (a running clock has used more by
    /// now).
    pub elapsed_minutes: i64,
    /// While running: when the target is used up.
    pub due_at: Option<DateTime<Utc>>,
}

/// The full ticket view.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    pub id: Uuid,
    #[schema(example = "2026-000123")]
    pub number: String,
    /// The version; also the `ETag` (`"<version>"`), usable as `If-Match` for commands.
    pub version: i64,
    pub ticket_type: String,
    pub title: String,
    pub description: String,
    pub requester: RequesterView,
    pub service_id: Option<String>,
    pub category_id: Option<String>,
    pub impact: String,
    pub urgency: String,
    pub priority: String,
    pub queue: Option<String>,
    pub status: String,
    pub is_open: bool,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    /// The dynamic fields, by key.
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
    pub channel: String,
    pub pending_reason: Option<String>,
    pub pending_until: Option<DateTime<Utc>>,
    pub resolution_code: Option<String>,
    pub resolution_text: Option<String>,
    pub merged_into: Option<MergeTarget>,
    /// Tickets merged into this one (requesters see only their own).
    pub merged_from: Vec<RelatedTicket>,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Position of the last event this view reflects (`<transaction>.<position>`).
    pub consistency_token: String,
    /// Oldest first; internal notes only for agents; at most the newest 1,000.
    pub articles: Vec<ArticleView>,
    /// True when older articles were left out.
    pub articles_truncated: bool,
    /// Both directions, oldest first, at most 1,000 (requesters see only links to their own
    /// tickets).
    pub links: Vec<LinkView>,
    /// The assets the ticket names (affected devices, software, …), in the order they were
    /// linked.
    pub assets: Vec<LinkedAsset>,
    /// The SLA clocks, first response then resolution; empty when no policy applies, while the
    /// SLA projection does not exist, and in a view `as_of` a past time.
    pub sla: Vec<SlaSummary>,
    /// The commands the caller may send now: those the lifecycle allows in this status
    /// (`reopen` only within the reopen window) that the caller's role and queue rights permit,
    /// in the order a workspace offers them. Empty in a view `as_of` a past time.
    pub actions: Vec<String>,
}

/// The full view of a ticket.
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{ticket}",
    tag = "tickets",
    params(
        ("ticket" = String, Path, description = "Ticket id (UUID) or number (`2026-000123`)"),
        ("after" = Option<String>, Query, description = "Consistency token of a command: wait until the view reflects it"),
        ("as_of" = Option<String>, Query, description = "Auditors and administrators: the ticket as the store knew it at this RFC 3339 time, rebuilt from its events (answers `TicketAsOfView`; the use is recorded)"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` held; 304 when the ticket is unchanged"),
    ),
    responses(
        (status = 200, description = "The ticket (with `as_of`: a `TicketAsOfView`)", body = TicketView, headers(("ETag" = String, description = "`\"<version>\"`"))),
        (status = 304, description = "Unchanged since the `If-None-Match` version"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`as_of` without the auditor or administrator role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket, or not the caller's (with `as_of`: none at that time)", body = Problem, content_type = "application/problem+json"),
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
) -> Result<Response, ApiError> {
    params.allow_only(&["as_of"])?;
    if let Some(as_of) = crate::audit::instant(&params, "as_of")? {
        let ticket = ticket.ok_or(ApiError::TicketNotFound)?;
        return crate::audit::as_of(&state, &actor, &ticket, as_of).await;
    }
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
    let version = row.version;
    let reader = (&actor, &*scope, &visibility);
    let actions = actions(&row, reader, state.limits.reopen_window, Utc::now());
    let mut view = assemble(&mut transaction, generation, row, reader).await?;
    view.actions = actions;
    transaction.commit().await?;
    Ok(with_etag(Json(view).into_response(), version))
}

/// The ticket `reference` names in the active generation, if `actor` may read it (tickets
/// outside their `visibility` are "not found" to requesters: their existence is not revealed).
pub async fn find_visible(
    connection: &mut PgConnection,
    reference: &TicketRef,
    actor: &Actor,
    scope: &Scope,
    visibility: &Visibility,
) -> Result<Option<(i32, TicketRow)>, ApiError> {
    let Some(generation) = active_generation(connection).await? else {
        return Ok(None);
    };
    let row: Option<TicketRow> = sqlx::query_as(
        "SELECT ticket_id, number, version, ticket_type, title, description, requester_name, \
         requester_email, requester_phone, requester_user_id, service_id, category_id, impact, \
         urgency, priority, queue, status, is_open, assignee, tags, fields, channel, \
         pending_reason, pending_until, resolution_code, resolution_text, merged_into, \
         opened_by, opened_at, updated_at, first_response_at, resolved_at, closed_at, last_tx, \
         last_position \
         FROM rm_tickets WHERE generation = $1 AND (ticket_id = $2 OR number = $3)",
    )
    .bind(generation)
    .bind(reference.id())
    .bind(reference.number())
    .fetch_optional(connection)
    .await?;
    Ok(row
        .filter(|row| {
            may_read(
                actor,
                scope,
                visibility,
                row.queue.as_deref(),
                row.requester_user_id.as_deref(),
            )
        })
        .map(|row| (generation, row)))
}

/// Who reads: the caller, their queue rights and whose tickets they read as a requester.
type Reader<'a> = (&'a Actor, &'a Scope, &'a Visibility);

async fn assemble(
    connection: &mut PgConnection,
    generation: i32,
    row: TicketRow,
    reader: Reader<'_>,
) -> Result<TicketView, ApiError> {
    let (articles, articles_truncated) =
        articles(connection, generation, row.ticket_id, reader.0.is_agent()).await?;
    let links = links(connection, generation, row.ticket_id, reader).await?;
    let assets = assets(connection, generation, row.ticket_id).await?;
    let sla = sla_summaries(connection, row.ticket_id).await?;
    let merged_from = merged_from(connection, generation, row.ticket_id, reader).await?;
    let merged_into = match row.merged_into {
        Some(id) => Some(merge_target(connection, generation, id).await?),
        None => None,
    };
    Ok(TicketView {
        merged_into,
        merged_from,
        articles,
        articles_truncated,
        links,
        assets,
        sla,
        ..TicketView::of(row)
    })
}

impl TicketView {
    /// The view of a row alone: no articles, links, merged tickets or clocks yet, and the merge
    /// target by id only.
    fn of(row: TicketRow) -> TicketView {
        TicketView {
            id: row.ticket_id,
            consistency_token: format!("{}.{}", row.last_tx, row.last_position),
            requester: RequesterView {
                name: row.requester_name,
                email: row.requester_email,
                phone: row.requester_phone,
                user_id: row.requester_user_id,
            },
            number: row.number,
            version: row.version,
            ticket_type: row.ticket_type,
            title: row.title,
            description: row.description,
            service_id: row.service_id,
            category_id: row.category_id,
            impact: row.impact,
            urgency: row.urgency,
            priority: row.priority,
            queue: row.queue,
            status: row.status,
            is_open: row.is_open,
            assignee: row.assignee,
            tags: row.tags,
            fields: row.fields,
            channel: row.channel,
            pending_reason: row.pending_reason,
            pending_until: row.pending_until,
            resolution_code: row.resolution_code,
            resolution_text: row.resolution_text,
            merged_into: row.merged_into.map(|id| MergeTarget { id, number: None }),
            merged_from: Vec::new(),
            opened_by: row.opened_by,
            opened_at: row.opened_at,
            updated_at: row.updated_at,
            first_response_at: row.first_response_at,
            resolved_at: row.resolved_at,
            closed_at: row.closed_at,
            articles: Vec::new(),
            articles_truncated: false,
            links: Vec::new(),
            assets: Vec::new(),
            sla: Vec::new(),
            actions: Vec::new(),
        }
    }
}

/// The commands `reader` may send on the ticket of `row` at `now` (issue 7: a client offers
/// exactly these and decides nothing itself).
fn actions(
    row: &TicketRow,
    (actor, scope, _): Reader<'_>,
    reopen_window: chrono::Duration,
    now: DateTime<Utc>,
) -> Vec<String> {
    let Ok(status) = serde_json::from_value::<Status>(serde_json::Value::from(row.status.as_str()))
    else {
        return Vec::new();
    };
    let within_window = row
        .resolved_at
        .is_some_and(|resolved_at| now <= resolved_at + reopen_window);
    let allowed = allowed_commands(status, row.assignee.is_some(), within_window);
    let own = row.requester_user_id.as_deref() == Some(actor.user.as_str());
    allowed
        .into_iter()
        .filter(|command| {
            if actor.is_agent() {
                scope.may(right_for_command(command), row.queue.as_deref())
            } else {
                own && actor.has_role("requester") && *command == "add_requester_message"
            }
        })
        .map(str::to_owned)
        .collect()
}

/// The newest `ARTICLES_IN_VIEW_MAX` articles the caller may see, oldest first.
async fn articles(
    connection: &mut PgConnection,
    generation: i32,
    ticket: Uuid,
    with_internal_notes: bool,
) -> Result<(Vec<ArticleView>, bool), ApiError> {
    let mut articles: Vec<ArticleView> = sqlx::query_as(
        "SELECT * FROM ( \
           SELECT article_id, kind, channel, body, attachments, author, created_at \
           FROM rm_articles WHERE generation = $1 AND ticket_id = $2 \
             AND ($3 OR kind <> 'internal_note') \
           ORDER BY article_id DESC LIMIT $4 \
         ) newest ORDER BY article_id",
    )
    .bind(generation)
    .bind(ticket)
    .bind(with_internal_notes)
    .bind(ARTICLES_IN_VIEW_MAX + 1)
    .fetch_all(connection)
    .await?;
    let truncated = articles.len() as i64 > ARTICLES_IN_VIEW_MAX;
    if truncated {
        articles.remove(0);
    }
    Ok((articles, truncated))
}

/// Links stored on this ticket and links other tickets hold to it, with the other ticket's
/// number, title and status.
async fn links(
    connection: &mut PgConnection,
    generation: i32,
    ticket: Uuid,
    reader: Reader<'_>,
) -> Result<Vec<LinkView>, ApiError> {
    let rows: Vec<LinkRow> = sqlx::query_as(
        "SELECT 'outgoing' AS direction, l.link_type, l.created_by, l.created_at, \
                l.target_id AS ticket_id, o.number, o.title, o.status, o.requester_user_id, o.queue \
         FROM rm_links l LEFT JOIN rm_tickets o \
           ON o.generation = l.generation AND o.ticket_id = l.target_id \
         WHERE l.generation = $1 AND l.ticket_id = $2 \
         UNION ALL \
         SELECT 'incoming', l.link_type, l.created_by, l.created_at, \
                l.ticket_id, o.number, o.title, o.status, o.requester_user_id, o.queue \
         FROM rm_links l LEFT JOIN rm_tickets o \
           ON o.generation = l.generation AND o.ticket_id = l.ticket_id \
         WHERE l.generation = $1 AND l.target_id = $2 \
         ORDER BY created_at, direction, ticket_id LIMIT $3",
    )
    .bind(generation)
    .bind(ticket)
    .bind(LINKS_IN_VIEW_MAX)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|row| row.ticket.readable_by(reader))
        .map(|row| LinkView {
            direction: row.direction,
            link_type: row.link_type,
            ticket: row.ticket,
            created_by: row.created_by,
            created_at: row.created_at,
        })
        .collect())
}

/// The assets ticket `$2` names in generation `$1`, with what the active generation of the assets
/// projection (`$3`) knows of them; none of it while that projection has no active generation.
const ASSETS_SQL: &str = "\
    SELECT t.asset_id AS id, a.name, a.class, a.lifecycle, t.linked_at \
    FROM rm_ticket_assets t \
    LEFT JOIN rm_assets a ON a.asset_id = t.asset_id \
      AND a.generation = (SELECT active_generation FROM projections WHERE name = $3) \
    WHERE t.generation = $1 AND t.ticket_id = $2 \
    ORDER BY t.linked_at, t.asset_id LIMIT $4";

async fn assets(
    connection: &mut PgConnection,
    generation: i32,
    ticket: Uuid,
) -> Result<Vec<LinkedAsset>, ApiError> {
    let rows = sqlx::query_as(ASSETS_SQL)
        .bind(generation)
        .bind(ticket)
        .bind(ASSETS_PROJECTION)
        .bind(ASSETS_IN_VIEW_MAX)
        .fetch_all(connection)
        .await?;
    Ok(rows)
}

/// The clocks of ticket `$1` in the active generation of the SLA projection, one row each.
const SLA_SUMMARIES_SQL: &str = concat!(
    "SELECT v.metric, v.state, v.target_s / 60 AS target_minutes, \
       v.elapsed_s / 60 AS elapsed_minutes, v.due_at \
     FROM rm_sla_clocks s \
     CROSS JOIN LATERAL (VALUES \
       (1, 'first_response', ",
    sla_state_sql!("first_response"),
    ", s.first_response_target_s, s.first_response_elapsed_s, ",
    sla_due_at_sql!("first_response"),
    "), (2, 'resolution', ",
    sla_state_sql!("resolution"),
    ", s.resolution_target_s, s.resolution_elapsed_s, ",
    sla_due_at_sql!("resolution"),
    ")) AS v(ordinal, metric, state, target_s, elapsed_s, due_at) \
     WHERE s.generation = (SELECT active_generation FROM projections WHERE name = 'sla') \
       AND s.ticket_id = $1 \
     ORDER BY v.ordinal"
);

async fn sla_summaries(
    connection: &mut PgConnection,
    ticket: Uuid,
) -> Result<Vec<SlaSummary>, ApiError> {
    let rows = sqlx::query_as(SLA_SUMMARIES_SQL)
        .bind(ticket)
        .fetch_all(connection)
        .await?;
    Ok(rows)
}

async fn merged_from(
    connection: &mut PgConnection,
    generation: i32,
    ticket: Uuid,
    reader: Reader<'_>,
) -> Result<Vec<RelatedTicket>, ApiError> {
    let rows: Vec<RelatedTicket> = sqlx::query_as(
        "SELECT ticket_id, number, title, status, requester_user_id, queue FROM rm_tickets \
         WHERE generation = $1 AND merged_into = $2 ORDER BY opened_at, ticket_id LIMIT $3",
    )
    .bind(generation)
    .bind(ticket)
    .bind(LINKS_IN_VIEW_MAX)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|row| row.readable_by(reader))
        .collect())
}

async fn merge_target(
    connection: &mut PgConnection,
    generation: i32,
    id: Uuid,
) -> Result<MergeTarget, ApiError> {
    let number: Option<String> = sqlx::query_scalar(
        "SELECT number FROM rm_tickets WHERE generation = $1 AND ticket_id = $2",
    )
    .bind(generation)
    .bind(id)
    .fetch_optional(connection)
    .await?;
    Ok(MergeTarget { id, number })
}

/// The view of a ticket rebuilt from its events (`?as_of=`): every article (auditors see
/// internal notes), the links stored on this ticket, the assets it named (from its timeline);
/// related tickets and assets carry only their id.
pub fn from_past(past: &projector::as_of::TicketAsOf) -> Result<TicketView, ApiError> {
    // The projection's row and the read model's row are the same columns.
    let row: TicketRow = serde_json::to_value(&past.row)
        .and_then(serde_json::from_value)
        .map_err(|error| ApiError::Unexpected(anyhow::Error::new(error)))?;
    let related = |id: Uuid| RelatedTicket {
        id,
        number: None,
        title: None,
        status: None,
        requester_user_id: None,
        queue: None,
    };
    Ok(TicketView {
        articles: past
            .articles
            .iter()
            .map(|article| ArticleView {
                article_id: article.article_id,
                kind: article.kind.clone(),
                channel: article.channel.clone(),
                body: article.body.clone(),
                attachments: article.attachments.clone(),
                author: article.author.clone(),
                created_at: article.created_at,
            })
            .collect(),
        links: past
            .links
            .iter()
            .map(|(key, (created_by, created_at))| LinkView {
                direction: "outgoing".to_owned(),
                link_type: key.link_type.clone(),
                ticket: related(key.target_id),
                created_by: created_by.clone(),
                created_at: *created_at,
            })
            .collect(),
        assets: assets_in(&past.history),
        ..TicketView::of(row)
    })
}

/// The assets a timeline leaves linked, by their id only: each `ticket.asset_linked` entry's
/// `assets` change names the asset in `to`, each `ticket.asset_unlinked` entry's in `from`.
fn assets_in(history: &[projector::tickets::HistoryRow]) -> Vec<LinkedAsset> {
    let mut linked: Vec<LinkedAsset> = Vec::new();
    for entry in history {
        let change = entry
            .changes
            .as_array()
            .into_iter()
            .flatten()
            .find(|change| {
                change.get("field").and_then(serde_json::Value::as_str) == Some("assets")
            });
        let Some(change) = change else { continue };
        let named = |key: &str| {
            change
                .get(key)
                .and_then(serde_json::Value::as_str)
                .and_then(|text| text.parse::<Uuid>().ok())
        };
        match (entry.event_type.as_str(), named("to"), named("from")) {
            ("ticket.asset_linked", Some(id), _) => linked.push(LinkedAsset {
                id,
                name: None,
                class: None,
                lifecycle: None,
                linked_at: entry.occurred_at,
            }),
            ("ticket.asset_unlinked", _, Some(id)) => linked.retain(|asset| asset.id != id),
            _ => {}
        }
    }
    linked.sort_by_key(|asset| (asset.linked_at, asset.id));
    linked
}
