//! What the read API reads: the ticket summary shared by worklist, search and live updates, the
//! vocabulary of statuses, the SQL of an SLA clock's state as read now, and the snapshot
//! transaction multi-statement reads run in.
//!
//! Every query reads only the active generation of the `tickets` projection (blue-green
//! rebuilds write the next generation beside it): single statements join `projections`, and
//! snapshot reads look the generation up first, inside the same REPEATABLE READ snapshot. SLA
//! clocks come from the active generation of the `sla` projection, which is independent of it.

use chrono::{DateTime, Utc};
use command_service::error::ApiError;
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

/// Every ticket status, in lifecycle order.
pub const STATUSES: &[&str] = &[
    "new",
    "assigned",
    "in_progress",
    "pending",
    "resolved",
    "closed",
    "cancelled",
    "merged",
];
/// The statuses of open tickets (`is_open`).
pub const OPEN_STATUSES: &[&str] = &["new", "assigned", "in_progress", "pending"];
/// Every priority, highest first (`priority_rank` 1…5).
pub const PRIORITIES: &[&str] = &["critical", "high", "medium", "low", "very_low"];
/// The queue name that stands for "no queue" in counts and filters.
pub const UNASSIGNED_QUEUE: &str = "unassigned";

/// The columns of [`TicketSummary`], for `concat!` (every query stays one literal).
macro_rules! summary_columns {
    () => {
        "t.ticket_id, t.number, t.version, t.ticket_type, t.title, t.status, t.priority, \
         t.priority_rank, t.impact, t.urgency, t.queue, t.assignee, t.service_id, t.category_id, \
         t.requester_name, t.tags, t.pending_until, t.opened_at, t.updated_at"
    };
}
pub(crate) use summary_columns;

/// The state of clock `$metric` (`first_response` or `resolution`) of the `rm_sla_clocks` row
/// `s` as read now, for `concat!`: `breached` as `reporting.sla_clocks` defines it (running past
/// its due time, or a running stretch ended after it: met, paused or stopped late), else the
/// stored state (running, paused, met or stopped). NULL without a row.
#[rustfmt::skip]
macro_rules! sla_state_sql {
    ($metric:literal) => {
        concat!(
            "CASE WHEN s.", $metric, "_late \
               OR (s.", $metric, "_state = 'running' AND s.", $metric, "_due_at < now()) \
             THEN 'breached' ELSE s.", $metric, "_state END"
        )
    };
}
pub(crate) use sla_state_sql;

/// The due time of clock `$metric` of the `rm_sla_clocks` row `s`, for `concat!`: set only
/// while the clock runs.
macro_rules! sla_due_at_sql {
    ($metric:literal) => {
        concat!(
            "CASE WHEN s.",
            $metric,
            "_state = 'running' THEN s.",
            $metric,
            "_due_at END"
        )
    };
}
pub(crate) use sla_due_at_sql;

/// The `rm_sla_clocks` row `s` of ticket `t` in the active generation of the SLA projection, for
/// `concat!` after `FROM rm_tickets t`: no row (NULL columns) for a ticket without clocks, and
/// for every ticket while the SLA projection does not exist.
macro_rules! sla_clocks_join {
    () => {
        " LEFT JOIN rm_sla_clocks s \
            ON s.generation = (SELECT active_generation FROM projections WHERE name = 'sla') \
           AND s.ticket_id = t.ticket_id "
    };
}
pub(crate) use sla_clocks_join;

/// One line of a worklist or search result.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct TicketSummary {
    /// The ticket's id.
    #[sqlx(rename = "ticket_id")]
    pub id: Uuid,
    #[schema(example = "2026-000123")]
    pub number: String,
    /// The ticket's version (its `ETag` is `"<version>"`).
    pub version: i64,
    /// incident, service_request, problem or change.
    pub ticket_type: String,
    pub title: String,
    /// new, assigned, in_progress, pending, resolved, closed, cancelled or merged.
    pub status: String,
    /// critical, high, medium, low or very_low.
    pub priority: String,
    #[serde(skip)]
    pub priority_rank: i16,
    pub impact: String,
    pub urgency: String,
    pub queue: Option<String>,
    pub assignee: Option<String>,
    pub service_id: Option<String>,
    pub category_id: Option<String>,
    /// The requester's name ("[gelöscht / erased]" when the key was erased before it was projected;
    /// read models built earlier keep the plaintext until a rebuild).
    pub requester_name: String,
    pub tags: Vec<String>,
    pub pending_until: Option<DateTime<Utc>>,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A REPEATABLE READ, READ ONLY transaction: the statements of one response see one state of
/// the read model (the ticket, its articles and its `ETag` agree) and cannot write.
pub async fn snapshot(pool: &PgPool) -> Result<Transaction<'static, Postgres>, ApiError> {
    let mut transaction = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *transaction)
        .await?;
    Ok(transaction)
}

/// The generation of the ticket projection the query side reads, if the projection exists.
pub async fn active_generation(connection: &mut PgConnection) -> Result<Option<i32>, ApiError> {
    Ok(projector::checkpoint::active_generation(connection, projector::TICKETS).await?)
}
