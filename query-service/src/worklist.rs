//! `GET /api/v1/tickets`: the worklist. Filters, four sort orders, keyset pagination with an
//! opaque cursor, and the same query as CSV (`Accept: text/csv`). Requesters only ever get
//! their own tickets, whatever they filter.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, TimeZone, Utc};
use command_service::auth::Actor;
use command_service::error::{ApiError, Problem};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::extract::{invalid, wants_csv, Params};
use crate::read_model::{summary_columns, TicketSummary, OPEN_STATUSES, PRIORITIES, STATUSES};
use crate::AppState;

/// Page size without `limit`.
pub const PAGE_SIZE_DEFAULT: u32 = 50;
/// Most rows of a CSV export without `limit`.
pub const CSV_ROWS_MAX: u32 = 10_000;
/// Most tags one filter may require.
const TAG_FILTERS_MAX: usize = 50;
/// Header naming the cursor of the rows after a CSV export (only when there are more).
pub const NEXT_CURSOR_HEADER: &str = "itsm-next-cursor";

/// The worklist's parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "documents the parameters; parsing is in Query::parse"
)]
pub struct WorklistParams {
    /// Queue key; `unassigned` means tickets without a queue.
    queue: Option<String>,
    /// Statuses (repeatable or comma-separated); `open` (the default: new, assigned,
    /// in_progress, pending) and `all` stand for groups.
    status: Option<String>,
    /// User name of the assignee; `me` is the caller, `none` means unassigned.
    assignee: Option<String>,
    /// User id of the requester (agents only; requesters always see their own tickets).
    requester: Option<String>,
    /// Priorities (repeatable or comma-separated): critical, high, medium, low, very_low.
    priority: Option<String>,
    /// Service id.
    service: Option<String>,
    /// Tags the ticket must all carry (repeatable or comma-separated).
    tag: Option<String>,
    /// `priority` (default: priority, then oldest first), `age` (oldest first), `-age` (newest
    /// first) or `updated` (most recently changed first).
    sort: Option<String>,
    /// `next_cursor` of the previous page (same filters and sort).
    cursor: Option<String>,
    /// Page size, 1 to the configured maximum (200 by default); default 50. For CSV: without
    /// `limit` every row up to 10,000.
    limit: Option<u32>,
    /// Consistency token of a command: wait until the worklist reflects it.
    after: Option<String>,
}

const PARAMETERS: &[&str] = &[
    "queue",
    "status",
    "assignee",
    "requester",
    "priority",
    "service",
    "tag",
    "sort",
    "cursor",
    "limit",
];

/// One page of the worklist.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorklistPage {
    pub items: Vec<TicketSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The order of a worklist; each ends with the ticket id, so the order is total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// priority_rank, opened_at, ticket_id (ascending).
    Priority,
    /// opened_at, ticket_id (ascending).
    Age,
    /// opened_at, ticket_id (descending).
    AgeDescending,
    /// updated_at, ticket_id (descending).
    Updated,
}

impl Sort {
    fn parse(text: Option<&str>) -> Result<Sort, ApiError> {
        match text {
            None | Some("priority") => Ok(Sort::Priority),
            Some("age") => Ok(Sort::Age),
            Some("-age") => Ok(Sort::AgeDescending),
            Some("updated") => Ok(Sort::Updated),
            Some(_) => Err(invalid("sort", "expected priority, age, -age or updated")),
        }
    }

    fn code(self) -> &'static str {
        match self {
            Sort::Priority => "p",
            Sort::Age => "a",
            Sort::AgeDescending => "d",
            Sort::Updated => "u",
        }
    }

    fn descending(self) -> bool {
        matches!(self, Sort::AgeDescending | Sort::Updated)
    }
}

/// The sort key of a row: where the next page starts (exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub rank: i16,
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Key {
    /// A key before every row in `sort`'s order.
    fn start(sort: Sort) -> Key {
        if sort.descending() {
            Key {
                rank: i16::MAX,
                at: Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap(),
                id: Uuid::max(),
            }
        } else {
            Key {
                rank: 0,
                at: Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
                id: Uuid::nil(),
            }
        }
    }

    fn of(sort: Sort, row: &TicketSummary) -> Key {
        let at = match sort {
            Sort::Updated => row.updated_at,
            _ => row.opened_at,
        };
        Key {
            rank: row.priority_rank,
            at,
            id: row.id,
        }
    }

    /// The opaque cursor: hex of `<sort>:<rank>:<microseconds>:<id>`.
    pub fn encode(self, sort: Sort) -> String {
        let text = format!(
            "{}:{}:{}:{}",
            sort.code(),
            self.rank,
            self.at.timestamp_micros(),
            self.id.simple()
        );
        text.bytes().map(|byte| format!("{byte:02x}")).collect()
    }

    /// The key a cursor of `sort` carries; `None` when it is malformed or of another sort.
    pub fn decode(cursor: &str, sort: Sort) -> Option<Key> {
        if cursor.len() > 200 || cursor.len() % 2 != 0 {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..cursor.len())
            .step_by(2)
            .map(|index| u8::from_str_radix(cursor.get(index..index + 2)?, 16).ok())
            .collect();
        let text = String::from_utf8(bytes?).ok()?;
        let mut parts = text.split(':');
        let (code, rank, micros, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || code != sort.code() {
            return None;
        }
        Some(Key {
            rank: rank.parse().ok()?,
            at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
}

/// What the caller asked for, parsed once.
#[derive(Debug)]
struct Query {
    statuses: Vec<String>,
    queue: Option<String>,
    assignee: Option<String>,
    unassigned: bool,
    requester: Option<String>,
    priorities: Vec<String>,
    service: Option<String>,
    tags: Vec<String>,
    sort: Sort,
    start: Key,
}

impl Query {
    fn parse(params: &Params, actor: &Actor) -> Result<Query, ApiError> {
        params.allow_only(PARAMETERS)?;
        let sort = Sort::parse(params.one("sort")?)?;
        let start = match params.one("cursor")? {
            Some(cursor) => Key::decode(cursor, sort)
                .ok_or_else(|| invalid("cursor", "not a cursor of this worklist and sort order"))?,
            None => Key::start(sort),
        };
        let (assignee, unassigned) = match params.one("assignee")? {
            Some("me") => (Some(actor.user.clone()), false),
            Some("none") => (None, true),
            other => (other.map(str::to_owned), false),
        };
        let requester = if actor.is_agent() {
            params.one("requester")?.map(str::to_owned)
        } else {
            // "My tickets": a requester's filter never reaches beyond their own.
            Some(actor.user.clone())
        };
        Ok(Query {
            statuses: statuses(params)?,
            queue: params.one("queue")?.map(str::to_owned),
            assignee,
            unassigned,
            requester,
            priorities: priorities(params)?,
            service: params.one("service")?.map(str::to_owned),
            tags: tags(params)?,
            sort,
            start,
        })
    }

    fn open_only(&self) -> bool {
        self.statuses
            .iter()
            .all(|status| OPEN_STATUSES.contains(&status.as_str()))
    }
}

fn statuses(params: &Params) -> Result<Vec<String>, ApiError> {
    let asked = params.list("status");
    if asked.is_empty() {
        return Ok(OPEN_STATUSES.iter().map(|s| (*s).to_owned()).collect());
    }
    let mut statuses: Vec<String> = Vec::new();
    for status in asked {
        let members: Vec<&str> = match status {
            "open" => OPEN_STATUSES.to_vec(),
            "all" => STATUSES.to_vec(),
            known if STATUSES.contains(&known) => vec![known],
            _ => return Err(invalid("status", &format!("unknown status {status:?}"))),
        };
        for member in members {
            if !statuses.iter().any(|held| held == member) {
                statuses.push(member.to_owned());
            }
        }
    }
    Ok(statuses)
}

fn priorities(params: &Params) -> Result<Vec<String>, ApiError> {
    params
        .list("priority")
        .into_iter()
        .map(|priority| {
            if PRIORITIES.contains(&priority) {
                Ok(priority.to_owned())
            } else {
                Err(invalid(
                    "priority",
                    &format!("unknown priority {priority:?}"),
                ))
            }
        })
        .collect()
}

fn tags(params: &Params) -> Result<Vec<String>, ApiError> {
    let tags = params.list("tag");
    if tags.len() > TAG_FILTERS_MAX {
        return Err(invalid("tag", &format!("at most {TAG_FILTERS_MAX} tags")));
    }
    Ok(tags.into_iter().map(str::to_owned).collect())
}

/// One literal per (sort, open-only) pair: the open-only form lets the planner use the partial
/// `WHERE is_open` indexes. `$9, $10, $11` are the start key (rank, time, id), `$12` the limit.
macro_rules! worklist_sql {
    ($open:literal, $keyset:literal, $order:literal) => {
        concat!(
            "SELECT ",
            summary_columns!(),
            " FROM rm_tickets t \
             WHERE t.generation = (SELECT active_generation FROM projections WHERE name = 'tickets') \
               AND ",
            $open,
            " AND t.status = ANY($1) \
             AND ($2::text IS NULL OR t.queue = $2 OR ($2 = 'unassigned' AND t.queue IS NULL)) \
             AND ($3::text IS NULL OR t.assignee = $3) \
             AND (NOT $4 OR t.assignee IS NULL) \
             AND ($5::text IS NULL OR t.requester_user_id = $5) \
             AND (cardinality($6::text[]) = 0 OR t.priority = ANY($6)) \
             AND ($7::text IS NULL OR t.service_id = $7) \
             AND t.tags @> $8 \
             AND ",
            $keyset,
            " ORDER BY ",
            $order,
            " LIMIT $12"
        )
    };
}

macro_rules! worklist_sorts {
    ($open:literal) => {
        [
            worklist_sql!(
                $open,
                "(t.priority_rank, t.opened_at, t.ticket_id) > ($9, $10, $11)",
                "t.priority_rank, t.opened_at, t.ticket_id"
            ),
            worklist_sql!(
                $open,
                "(t.opened_at, t.ticket_id) > ($10, $11)",
                "t.opened_at, t.ticket_id"
            ),
            worklist_sql!(
                $open,
                "(t.opened_at, t.ticket_id) < ($10, $11)",
                "t.opened_at DESC, t.ticket_id DESC"
            ),
            worklist_sql!(
                $open,
                "(t.updated_at, t.ticket_id) < ($10, $11)",
                "t.updated_at DESC, t.ticket_id DESC"
            ),
        ]
    };
}

pub(crate) const OPEN_SQL: [&str; 4] = worklist_sorts!("t.is_open");
const ANY_SQL: [&str; 4] = worklist_sorts!("true");

fn sql(sort: Sort, open_only: bool) -> &'static str {
    let index = match sort {
        Sort::Priority => 0,
        Sort::Age => 1,
        Sort::AgeDescending => 2,
        Sort::Updated => 3,
    };
    if open_only {
        OPEN_SQL[index]
    } else {
        ANY_SQL[index]
    }
}

/// Up to `limit` rows from the query's start key, plus whether more follow.
async fn fetch(
    state: &AppState,
    query: &Query,
    limit: u32,
) -> Result<(Vec<TicketSummary>, bool), ApiError> {
    let mut rows: Vec<TicketSummary> = sqlx::query_as(sql(query.sort, query.open_only()))
        .bind(&query.statuses)
        .bind(&query.queue)
        .bind(&query.assignee)
        .bind(query.unassigned)
        .bind(&query.requester)
        .bind(&query.priorities)
        .bind(&query.service)
        .bind(&query.tags)
        .bind(query.start.rank)
        .bind(query.start.at)
        .bind(query.start.id)
        .bind(i64::from(limit) + 1)
        .fetch_all(&state.pool)
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

/// The worklist: tickets matching the filters, one page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/tickets",
    tag = "tickets",
    params(WorklistParams),
    responses(
        (status = 200, description = "One page (JSON), or every row up to 10,000 as CSV (`Accept: text/csv`; header `Itsm-Next-Cursor` when more rows follow)", content(
            (WorklistPage = "application/json"),
            (String = "text/csv"),
        )),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid parameter (named in `field`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read model did not reach `after` in time (`Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let query = Query::parse(&params, &actor)?;
    let csv = wants_csv(&headers);
    let default_limit = if csv { CSV_ROWS_MAX } else { PAGE_SIZE_DEFAULT };
    let max_limit = if csv {
        CSV_ROWS_MAX
    } else {
        state.limits.page_size_max
    };
    let limit = params.limit(default_limit, max_limit)?;
    let after = params.after()?;
    state
        .consistency
        .wait(after, state.limits.consistency_wait)
        .await?;
    let (rows, more) = fetch(&state, &query, limit).await?;
    let next_cursor = more
        .then(|| {
            rows.last()
                .map(|row| Key::of(query.sort, row).encode(query.sort))
        })
        .flatten();
    if csv {
        return Ok(csv_response(&rows, next_cursor));
    }
    let page = WorklistPage {
        items: rows,
        next_cursor,
    };
    let mut response = Json(page).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(response)
}

const CSV_COLUMNS: &[&str] = &[
    "number",
    "title",
    "status",
    "priority",
    "impact",
    "urgency",
    "ticket_type",
    "queue",
    "assignee",
    "service_id",
    "category_id",
    "requester_name",
    "tags",
    "opened_at",
    "updated_at",
    "pending_until",
    "version",
    "id",
];

fn csv_response(rows: &[TicketSummary], next_cursor: Option<String>) -> Response {
    let mut body = String::with_capacity(256 * (rows.len() + 1));
    crate::csv::write_record(&mut body, CSV_COLUMNS.iter().copied());
    for row in rows {
        let cells = csv_cells(row);
        crate::csv::write_record(&mut body, cells.iter().map(String::as_str));
    }
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"tickets.csv\""),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Some(value) = next_cursor.and_then(|cursor| HeaderValue::from_str(&cursor).ok()) {
        headers.insert(NEXT_CURSOR_HEADER, value);
    }
    response
}

fn csv_cells(row: &TicketSummary) -> Vec<String> {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    vec![
        row.number.clone(),
        row.title.clone(),
        row.status.clone(),
        row.priority.clone(),
        row.impact.clone(),
        row.urgency.clone(),
        row.ticket_type.clone(),
        text(&row.queue),
        text(&row.assignee),
        text(&row.service_id),
        text(&row.category_id),
        row.requester_name.clone(),
        row.tags.join(", "),
        row.opened_at.to_rfc3339(),
        row.updated_at.to_rfc3339(),
        row.pending_until
            .map(|at| at.to_rfc3339())
            .unwrap_or_default(),
        row.version.to_string(),
        row.id.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_belong_to_their_sort() {
        let key = Key {
            rank: 3,
            at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: Uuid::from_u128(0x0193_5e1a_7c2b_7d40_9a61_3f0c_2b8e_41d7),
        };
        let cursor = key.encode(Sort::Priority);
        assert_eq!(Key::decode(&cursor, Sort::Priority), Some(key));
        assert_eq!(Key::decode(&cursor, Sort::Age), None);
        assert_eq!(Key::decode("zz", Sort::Priority), None);
        assert_eq!(Key::decode("abc", Sort::Priority), None);
        assert_eq!(Key::decode("", Sort::Priority), None);
        assert_eq!(Key::decode(&"ab".repeat(300), Sort::Priority), None);
    }

    #[test]
    fn status_groups_expand_and_unknown_statuses_are_refused() {
        let parse = |text: &str| statuses(&Params::of(&[("status", text)]));
        assert_eq!(parse("open").unwrap(), OPEN_STATUSES);
        assert_eq!(parse("all").unwrap(), STATUSES);
        assert_eq!(parse("resolved,new,new").unwrap(), ["resolved", "new"]);
        assert!(parse("done").is_err());
        assert_eq!(statuses(&Params::default()).unwrap(), OPEN_STATUSES);
    }
}
