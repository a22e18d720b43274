//! `GET /api/v1/tickets`: the worklist. Filters (the SLA state of the resolution clock among
//! them), five sort orders, keyset pagination with an opaque cursor, and the same query as CSV
//! (`Accept: text/csv`). Requesters only ever get their own tickets — and, granted `unit`
//! visibility, those of the requesters in their organisation unit and below — whatever they
//! filter.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, TimeZone, Utc};
use command_service::auth::Actor;
use command_service::error::{ApiError, Problem};
use domain::access::{QueueRight, Scope};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::extract::{invalid, visibility_of, wants_csv, Params, Visibility};
use crate::read_model::{
    sla_clocks_join, sla_due_at_sql, sla_state_sql, summary_columns, TicketSummary, OPEN_STATUSES,
    PRIORITIES, STATUSES,
};
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
    /// User id of the requester. Requesters always see only the tickets visible to them (their
    /// own, and their unit's if granted); for them it narrows to one of those requesters.
    requester: Option<String>,
    /// Priorities (repeatable or comma-separated): critical, high, medium, low, very_low.
    priority: Option<String>,
    /// Service id.
    service: Option<String>,
    /// Tags the ticket must all carry (repeatable or comma-separated).
    tag: Option<String>,
    /// The state of the resolution clock as read now (the item's `sla_state`): `running`,
    /// `paused`, `met`, `stopped` or `breached` (running past its due time, or a running stretch
    /// ended after it: met, paused or stopped late); `warning`: running, not breached, and due within a
    /// quarter of its target from now (wall-clock time, so every such ticket has used at least
    /// 75 % of its target; one whose last quarter spans a night or weekend shows up later);
    /// `none`: no SLA clocks.
    sla: Option<String>,
    /// `priority` (default: priority, then oldest first), `age` (oldest first), `-age` (newest
    /// first), `updated` (most recently changed first) or `due` (resolution due time, soonest
    /// first; tickets without a running resolution clock last, by id).
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
    "sla",
    "sort",
    "cursor",
    "limit",
];

/// The values of `sla`.
const SLA_FILTERS: &[&str] = &[
    "running", "paused", "met", "stopped", "breached", "warning", "none",
];

/// One line of the worklist: the ticket and its resolution clock.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct WorklistItem {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub ticket: TicketSummary,
    /// The resolution clock as read now: running, paused, met, stopped or breached (running past
    /// its due time, or met, paused or stopped after it); null without SLA clocks.
    pub sla_state: Option<String>,
    /// While the resolution clock runs: when its target is used up (null otherwise).
    pub due_at: Option<DateTime<Utc>>,
    /// While the resolution clock runs: from when it counts as close to its due time (a quarter
    /// of the target before `due_at`, as the `sla=warning` filter has it; null otherwise).
    pub warning_at: Option<DateTime<Utc>>,
    /// While the resolution clock runs or is paused: the business minutes left as read now
    /// (target minus used, in its calendar's service hours; negative once breached). Not in CSV.
    #[sqlx(skip)]
    pub remaining_minutes: Option<i64>,
}

/// One page of the worklist.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorklistPage {
    pub items: Vec<WorklistItem>,
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
    /// Tickets with a running resolution clock by its due time, then the others; ticket_id
    /// (ascending).
    Due,
}

impl Sort {
    fn parse(text: Option<&str>) -> Result<Sort, ApiError> {
        match text {
            None | Some("priority") => Ok(Sort::Priority),
            Some("age") => Ok(Sort::Age),
            Some("-age") => Ok(Sort::AgeDescending),
            Some("updated") => Ok(Sort::Updated),
            Some("due") => Ok(Sort::Due),
            Some(_) => Err(invalid(
                "sort",
                "expected priority, age, -age, updated or due",
            )),
        }
    }

    fn code(self) -> &'static str {
        match self {
            Sort::Priority => "p",
            Sort::Age => "a",
            Sort::AgeDescending => "d",
            Sort::Updated => "u",
            Sort::Due => "s",
        }
    }

    fn descending(self) -> bool {
        matches!(self, Sort::AgeDescending | Sort::Updated)
    }
}

/// The sort key of a row: where the next page starts (exclusive). `rank` is the priority rank,
/// or in the `due` order 0 for a running resolution clock and 1 for none (`at` then
/// [`no_due_at`]).
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

    fn of(sort: Sort, item: &WorklistItem) -> Key {
        let row = &item.ticket;
        let (rank, at) = match (sort, item.due_at) {
            (Sort::Due, Some(due_at)) => (0, due_at),
            (Sort::Due, None) => (1, no_due_at()),
            (Sort::Updated, _) => (row.priority_rank, row.updated_at),
            _ => (row.priority_rank, row.opened_at),
        };
        Key {
            rank,
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

/// The `at` of a ticket without a running resolution clock in the `due` order (the instant of
/// `due_key_sql!`'s `coalesce`).
fn no_due_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap()
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
    sla: Option<String>,
    sort: Sort,
    start: Key,
    /// Queues whose tickets the caller may not read (`$13`; team rights, issue 6).
    denied_queues: Vec<String>,
    /// The requesters whose tickets a caller without agent rights reads (`$14`; their own, and
    /// their unit's if granted); `None` for agents, who read by queue.
    visible_requesters: Option<Vec<String>>,
}

impl Query {
    fn parse(
        params: &Params,
        actor: &Actor,
        scope: &Scope,
        visibility: &Visibility,
    ) -> Result<Query, ApiError> {
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
        let asked_requester = params.one("requester")?;
        let requester = if actor.is_agent() {
            asked_requester.map(str::to_owned)
        } else {
            // A requester's filter never reaches beyond the requesters visible to them.
            asked_requester
                .filter(|requester| visibility.includes(requester))
                .map(str::to_owned)
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
            sla: sla(params)?,
            sort,
            start,
            denied_queues: if actor.is_agent() {
                scope.denied_queues(QueueRight::Read)
            } else {
                Vec::new()
            },
            visible_requesters: (!actor.is_agent()).then(|| visibility.all()),
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

fn sla(params: &Params) -> Result<Option<String>, ApiError> {
    match params.one("sla")? {
        None => Ok(None),
        Some(state) if SLA_FILTERS.contains(&state) => Ok(Some(state.to_owned())),
        Some(state) => Err(invalid(
            "sla",
            &format!(
                "unknown SLA state {state:?}: expected running, paused, met, stopped, breached, \
                 warning or none"
            ),
        )),
    }
}

/// From when the resolution clock of `s` counts as close to its due time `x.due_at` (the lateral
/// of the page macros): a quarter of its target before it. NULL while the clock does not run.
/// The worklist's `warning_at` and the `sla=warning` filter.
macro_rules! warning_at_sql {
    () => {
        "(x.due_at - s.resolution_target_s * interval '1 second' / 4)"
    };
}

/// The `sla` filter (`$15`, never NULL) over the lateral `x` of the page macros. `warning`:
/// running, not yet due, and past its `warning_at_sql!`.
macro_rules! sla_filter_sql {
    () => {
        concat!(
            "(coalesce(x.sla_state, 'none') = $15 \
              OR ($15 = 'warning' AND x.sla_state = 'running' AND ",
            warning_at_sql!(),
            " <= now()))"
        )
    };
}

/// The worklist's filters over ticket `t`: `$open` and `$sla` are SQL conditions, `$1`…`$8` the
/// parameters, `$13` the queues denied, `$14` the visible requesters (NULL for agents), `$keyset`
/// the start of the page. Every form references `$1`…`$14`, so they bind alike.
macro_rules! filters_sql {
    ($open:literal, $sla:expr, $keyset:expr) => {
        concat!(
            " WHERE t.generation = (SELECT active_generation FROM projections WHERE name = 'tickets') \
               AND ",
            $open,
            " AND ",
            $sla,
            " AND t.status = ANY($1) \
             AND ($2::text IS NULL OR t.queue = $2 OR ($2 = 'unassigned' AND t.queue IS NULL)) \
             AND ($3::text IS NULL OR t.assignee = $3) \
             AND (NOT $4 OR t.assignee IS NULL) \
             AND ($5::text IS NULL OR t.requester_user_id = $5) \
             AND (cardinality($6::text[]) = 0 OR t.priority = ANY($6)) \
             AND ($7::text IS NULL OR t.service_id = $7) \
             AND t.tags @> $8 \
             AND (t.queue IS NULL OR NOT (t.queue = ANY($13))) \
             AND ($14::text[] IS NULL OR t.requester_user_id = ANY($14)) \
             AND ",
            $keyset
        )
    };
}

/// A page whose filter or order needs the clocks: tickets joined with their clocks, then sorted
/// and cut. `s` is the ticket's `rm_sla_clocks` row, `x` the resolution clock's state as read
/// now and its due time (both NULL without clocks). The clock SQL is written out here and in
/// `page_then_clocks_sql!`: a macro nesting `concat!` around the imported macros does not
/// resolve.
macro_rules! clocks_then_page_sql {
    ($open:literal, $sla:expr, $keyset:expr, $order:expr) => {
        concat!(
            "SELECT ",
            summary_columns!(),
            ", x.sla_state, x.due_at, ",
            warning_at_sql!(),
            " AS warning_at FROM rm_tickets t",
            sla_clocks_join!(),
            "CROSS JOIN LATERAL (SELECT ",
            sla_state_sql!("resolution"),
            " AS sla_state, ",
            sla_due_at_sql!("resolution"),
            " AS due_at) x",
            filters_sql!($open, $sla, $keyset),
            " ORDER BY ",
            $order,
            " LIMIT $12"
        )
    };
}

/// A page by ticket columns alone (`$sla` is `true`: `x` is not in scope): cut first, then the
/// page's rows joined with their clocks, so the planner keeps its bounded top-N sort or ordered
/// index scan (a join below the limit would sort every matching ticket).
macro_rules! page_then_clocks_sql {
    ($open:literal, $sla:expr, $keyset:expr, $order:expr) => {
        concat!(
            "SELECT ",
            summary_columns!(),
            ", x.sla_state, x.due_at, ",
            warning_at_sql!(),
            " AS warning_at FROM (SELECT ",
            summary_columns!(),
            " FROM rm_tickets t",
            filters_sql!($open, $sla, $keyset),
            " ORDER BY ",
            $order,
            " LIMIT $12) t",
            sla_clocks_join!(),
            "CROSS JOIN LATERAL (SELECT ",
            sla_state_sql!("resolution"),
            " AS sla_state, ",
            sla_due_at_sql!("resolution"),
            " AS due_at) x",
            " ORDER BY ",
            $order
        )
    };
}

/// The `due` order's key over the lateral `x` of the page macros: (0, due time) for a running
/// resolution clock, (1, [`no_due_at`]) for none; then the id.
macro_rules! due_key_sql {
    () => {
        "(x.due_at IS NULL)::int, coalesce(x.due_at, timestamptz '0001-01-01 00:00:00+00'), \
         t.ticket_id"
    };
}

/// One literal per sort, in [`sql`]'s order; `$by_ticket` builds those ordered by ticket
/// columns (`page_then_clocks_sql` only without the `sla` filter). `$9, $10, $11` are the start
/// key (rank, time, id), `$12` the limit, `$15` the `sla` filter.
macro_rules! worklist_sorts {
    ($open:literal, $by_ticket:ident, $sla:expr) => {
        [
            $by_ticket!(
                $open,
                $sla,
                "(t.priority_rank, t.opened_at, t.ticket_id) > ($9, $10, $11)",
                "t.priority_rank, t.opened_at, t.ticket_id"
            ),
            $by_ticket!(
                $open,
                $sla,
                "(t.opened_at, t.ticket_id) > ($10, $11)",
                "t.opened_at, t.ticket_id"
            ),
            $by_ticket!(
                $open,
                $sla,
                "(t.opened_at, t.ticket_id) < ($10, $11)",
                "t.opened_at DESC, t.ticket_id DESC"
            ),
            $by_ticket!(
                $open,
                $sla,
                "(t.updated_at, t.ticket_id) < ($10, $11)",
                "t.updated_at DESC, t.ticket_id DESC"
            ),
            clocks_then_page_sql!(
                $open,
                $sla,
                concat!("(", due_key_sql!(), ") > ($9, $10, $11)"),
                due_key_sql!()
            ),
        ]
    };
}

/// One literal per (sort, open-only, SLA-filtered) triple: the open-only form lets the planner
/// use the partial `WHERE is_open` indexes; the unfiltered form takes no `$15` (the benchmark
/// runs the default worklist's literal without the `sla` parameter) and joins the clocks after
/// the page is cut.
pub(crate) const OPEN_SQL: [&str; 5] = worklist_sorts!("t.is_open", page_then_clocks_sql, "true");
const ANY_SQL: [&str; 5] = worklist_sorts!("true", page_then_clocks_sql, "true");
const OPEN_SLA_SQL: [&str; 5] =
    worklist_sorts!("t.is_open", clocks_then_page_sql, sla_filter_sql!());
const ANY_SLA_SQL: [&str; 5] = worklist_sorts!("true", clocks_then_page_sql, sla_filter_sql!());

fn sql(sort: Sort, open_only: bool, sla_filtered: bool) -> &'static str {
    let index = match sort {
        Sort::Priority => 0,
        Sort::Age => 1,
        Sort::AgeDescending => 2,
        Sort::Updated => 3,
        Sort::Due => 4,
    };
    let sorts = match (open_only, sla_filtered) {
        (true, false) => &OPEN_SQL,
        (false, false) => &ANY_SQL,
        (true, true) => &OPEN_SLA_SQL,
        (false, true) => &ANY_SLA_SQL,
    };
    sorts[index]
}

/// Up to `limit` rows from the query's start key, plus whether more follow.
async fn fetch(
    state: &AppState,
    query: &Query,
    limit: u32,
) -> Result<(Vec<WorklistItem>, bool), ApiError> {
    let sql = sql(query.sort, query.open_only(), query.sla.is_some());
    let mut statement = sqlx::query_as(sql)
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
        .bind(&query.denied_queues)
        .bind(&query.visible_requesters);
    if let Some(sla) = &query.sla {
        statement = statement.bind(sla);
    }
    let mut rows: Vec<WorklistItem> = statement.fetch_all(&state.pool).await?;
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
    let scope = state.directory.scope_of(&actor).await?;
    let visibility = visibility_of(&state, &actor).await?;
    let query = Query::parse(&params, &actor, &scope, &visibility)?;
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
    let mut rows = rows;
    let ids: Vec<Uuid> = rows
        .iter()
        .filter(|row| row.sla_state.is_some())
        .map(|row| row.ticket.id)
        .collect();
    let remaining =
        crate::sla::remaining_resolution_minutes(&state.pool, &state.sla_config, &ids, Utc::now())
            .await?;
    for row in &mut rows {
        row.remaining_minutes = remaining.get(&row.ticket.id).copied();
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
    "sla_state",
    "due_at",
];

fn csv_response(rows: &[WorklistItem], next_cursor: Option<String>) -> Response {
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

fn csv_cells(item: &WorklistItem) -> Vec<String> {
    let row = &item.ticket;
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
        text(&item.sla_state),
        item.due_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
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
        let none_due = Key {
            rank: 1,
            at: no_due_at(),
            id: key.id,
        };
        let cursor = none_due.encode(Sort::Due);
        assert_eq!(Key::decode(&cursor, Sort::Due), Some(none_due));
        assert_eq!(Key::decode(&cursor, Sort::Priority), None);
        assert_eq!(Key::start(Sort::Due).at, no_due_at());
    }

    #[test]
    fn every_literal_reads_the_sla_projection_and_only_filtered_ones_take_the_sla_parameter() {
        let sla_generation = format!("WHERE name = '{}'", projector::sla::SLA);
        // Every form binds `$1`…`$14` alike; only the SLA-filtered ones take `$15`.
        for sql in OPEN_SQL.iter().chain(&ANY_SQL) {
            assert!(sql.contains(&sla_generation), "{sql}");
            assert!(sql.contains("$13") && sql.contains("$14"), "{sql}");
            assert!(!sql.contains("$15"), "{sql}");
        }
        for sql in OPEN_SLA_SQL.iter().chain(&ANY_SLA_SQL) {
            assert!(sql.contains(&sla_generation), "{sql}");
            assert!(sql.contains("$13") && sql.contains("$14"), "{sql}");
            assert!(sql.contains("$15"), "{sql}");
        }
        assert!(due_key_sql!().contains(&no_due_at().format("%Y-%m-%d %H:%M:%S+00").to_string()));
    }

    #[test]
    fn sla_filters_are_the_states_warning_and_none() {
        let parse = |text: &str| sla(&Params::of(&[("sla", text)]));
        for state in SLA_FILTERS {
            assert_eq!(parse(state).unwrap().as_deref(), Some(*state));
        }
        assert!(parse("late").is_err());
        assert_eq!(sla(&Params::default()).unwrap(), None);
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
