//! `GET /api/v1/tickets/{ticket}/sla`: a ticket's SLA clocks, explained — state as read now
//! (running, paused, met, stopped, breached), target, used and remaining business minutes, due
//! time, warning thresholds, and the segments and target changes the elapsed time is made of, with
//! the policy and calendar versions used. And `GET /api/v1/reports/sla-compliance`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use command_service::auth::Actor;
use command_service::error::{ApiError, Problem};
use domain::sla::{Clock, ClockState, Segment, SlaConfiguration, TargetChange, TicketClocks};
use projector::sla::ProjectedConfig;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::extract::{invalid, visibility_of, Params, TicketPath};
use crate::read_model::snapshot;
use crate::view::find_visible;
use crate::AppState;

/// One warning threshold.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThresholdView {
    pub percent: u8,
    /// When it is (or was) reached, while the clock runs.
    pub at: Option<DateTime<Utc>>,
    pub reached: bool,
}

/// One stretch of a clock.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentView {
    pub from: DateTime<Utc>,
    /// `null` while open.
    pub to: Option<DateTime<Utc>>,
    pub running: bool,
    /// opened, resumed, reopened, reopened:restart, priority_changed, pending:<reason>.
    pub cause: String,
    pub calendar: String,
    pub calendar_version: u64,
    /// Business minutes counted (an open running segment: up to now).
    pub business_minutes: i64,
}

/// A change of target (priority change), elapsed time kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetChangeView {
    pub at: DateTime<Utc>,
    pub policy_version: u64,
    pub from_minutes: u32,
    pub to_minutes: u32,
    pub cause: String,
}

/// One clock, explained.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClockView {
    /// first_response or resolution.
    pub metric: String,
    /// running, paused, met, stopped or breached (as read now).
    pub state: String,
    pub policy: String,
    pub policy_version: u64,
    pub target_minutes: u32,
    /// Business minutes used (up to now while running).
    pub elapsed_minutes: i64,
    /// Target minus used; negative once breached.
    pub remaining_minutes: i64,
    /// While running: when the target is used up.
    pub due_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub thresholds: Vec<ThresholdView>,
    pub segments: Vec<SegmentView>,
    pub target_changes: Vec<TargetChangeView>,
}

/// A ticket's clocks.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaView {
    pub ticket: Uuid,
    /// The instant the clocks are read at.
    pub read_at: DateTime<Utc>,
    /// Empty when no policy applies to the ticket.
    pub clocks: Vec<ClockView>,
}

/// The SLA projection's calendars and policies as last loaded, with the generation and number of
/// `rm_sla_config` rows they were loaded at. A generation's rows are only ever inserted (one per
/// version), so the same count is the same configuration: a worklist page reloads and reparses
/// it only after a configuration event, not on every request.
#[derive(Debug, Default)]
pub(crate) struct ConfigCache {
    loaded: std::sync::Mutex<Option<(i32, i64, Arc<ProjectedConfig>)>>,
}

impl ConfigCache {
    /// The configuration of `generation` holding at least `config_rows` rows: the cached one if
    /// it was loaded at that count, else a fresh load (never older than the count).
    async fn config(
        &self,
        pool: &sqlx::PgPool,
        generation: i32,
        config_rows: i64,
    ) -> Result<Arc<ProjectedConfig>, ApiError> {
        if let Some((cached_generation, cached_rows, config)) = self.lock().as_ref() {
            if (*cached_generation, *cached_rows) == (generation, config_rows) {
                return Ok(config.clone());
            }
        }
        let config =
            Arc::new(ProjectedConfig::load(&mut *pool.acquire().await?, generation).await?);
        *self.lock() = Some((generation, config_rows, config.clone()));
        Ok(config)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(i32, i64, Arc<ProjectedConfig>)>> {
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The page's clocks in the SLA projection's active generation, with that generation and its
/// number of `rm_sla_config` rows, in one statement (one snapshot).
const PAGE_CLOCKS_SQL: &str = "\
WITH active AS (\
    SELECT p.active_generation AS generation, \
           (SELECT count(*) FROM rm_sla_config c WHERE c.generation = p.active_generation) AS config_rows \
    FROM projections p WHERE p.name = $1) \
SELECT s.ticket_id, s.clocks, a.generation, a.config_rows \
FROM active a JOIN rm_sla_clocks s ON s.generation = a.generation AND s.ticket_id = ANY($2)";

/// The business minutes left on the resolution clocks of `tickets` as read at `now` (target
/// minus used; negative once breached), for the clocks still running or paused: the worklist's
/// `remaining_minutes`. One read of the page's clocks; the calendars and policies come from
/// `cache`, loaded again only when they changed. A configuration loaded after the clocks were
/// read is never older than they are (calendar versions are kept), so their times stay exact.
pub(crate) async fn remaining_resolution_minutes(
    pool: &sqlx::PgPool,
    cache: &ConfigCache,
    tickets: &[Uuid],
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, i64>, ApiError> {
    let mut remaining = HashMap::new();
    if tickets.is_empty() {
        return Ok(remaining);
    }
    let rows: Vec<(Uuid, serde_json::Value, i32, i64)> = sqlx::query_as(PAGE_CLOCKS_SQL)
        .bind(projector::sla::SLA)
        .bind(tickets)
        .fetch_all(pool)
        .await?;
    let Some((_, _, generation, config_rows)) = rows.first() else {
        return Ok(remaining);
    };
    let config = cache.config(pool, *generation, *config_rows).await?;
    for (ticket, stored, _, _) in rows {
        let clocks: TicketClocks = serde_json::from_value(stored)
            .map_err(|error| ApiError::Unexpected(anyhow::Error::new(error)))?;
        let open = clocks.clocks.iter().find(|clock| {
            clock.metric.name() == "resolution"
                && matches!(clock.state, ClockState::Running | ClockState::Paused)
        });
        if let Some(clock) = open {
            let used = clock.elapsed_at(now, &*config);
            remaining.insert(ticket, domain::sla::minutes(clock.target_seconds() - used));
        }
    }
    Ok(remaining)
}

/// One clock explained as read at `now`.
pub(crate) fn explain(clock: &Clock, now: DateTime<Utc>, config: &ProjectedConfig) -> ClockView {
    let elapsed = clock.elapsed_at(now, config);
    let breached = clock.breached_at(now, config);
    let state = match (clock.state, breached) {
        (_, true) => "breached",
        (ClockState::Running, false) => "running",
        (ClockState::Paused, false) => "paused",
        (ClockState::Met, false) => "met",
        (ClockState::Stopped, false) => "stopped",
    };
    let warnings = clock.warnings_at(config);
    let thresholds = clock
        .warning_percent
        .iter()
        .map(|percent| {
            let at = warnings
                .iter()
                .find(|(threshold, _)| threshold == percent)
                .map(|(_, at)| *at);
            ThresholdView {
                percent: *percent,
                at,
                reached: elapsed * 100 >= clock.target_seconds() * i64::from(*percent),
            }
        })
        .collect();
    let segment = |segment: &Segment| SegmentView {
        from: segment.from,
        to: segment.to,
        running: segment.running,
        cause: segment.cause.clone(),
        calendar: segment.calendar.clone(),
        calendar_version: segment.calendar_version,
        business_minutes: if segment.to.is_none() && segment.running {
            domain::sla::minutes(
                config
                    .calendar_at(&segment.calendar, segment.calendar_version)
                    .map_or(0, |calendar| calendar.seconds_between(segment.from, now)),
            )
        } else {
            domain::sla::minutes(segment.business_seconds)
        },
    };
    let change = |change: &TargetChange| TargetChangeView {
        at: change.at,
        policy_version: change.policy_version,
        from_minutes: change.from_minutes,
        to_minutes: change.to_minutes,
        cause: change.cause.clone(),
    };
    ClockView {
        metric: clock.metric.name().to_owned(),
        state: state.to_owned(),
        policy: clock.policy.clone(),
        policy_version: clock.policy_version,
        target_minutes: clock.target_minutes,
        elapsed_minutes: domain::sla::minutes(elapsed),
        remaining_minutes: domain::sla::minutes(clock.target_seconds() - elapsed),
        due_at: clock.due_at(config),
        stopped_at: clock.stopped_at,
        thresholds,
        segments: clock.segments.iter().map(segment).collect(),
        target_changes: clock.target_changes.iter().map(change).collect(),
    }
}

/// A ticket's SLA clocks with their explanation.
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{ticket}/sla",
    tag = "tickets",
    params(("ticket" = String, Path, description = "Ticket id (UUID) or number (`2026-000123`)")),
    responses(
        (status = 200, description = "The clocks (empty when no policy applies)", body = SlaView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket, or not the caller's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    TicketPath(ticket): TicketPath,
    params: Params,
) -> Result<Response, ApiError> {
    params.allow_only(&[])?;
    let ticket = ticket.ok_or(ApiError::TicketNotFound)?;
    let scope = state.directory.scope_of(&actor).await?;
    let visibility = visibility_of(&state, &actor).await?;
    let mut transaction = snapshot(&state.pool).await?;
    let (_, row) = find_visible(&mut transaction, &ticket, &actor, &scope, &visibility)
        .await?
        .ok_or(ApiError::TicketNotFound)?;
    let now = Utc::now();
    let mut view = SlaView {
        ticket: row.ticket_id,
        read_at: now,
        clocks: Vec::new(),
    };
    if let Some(generation) =
        projector::checkpoint::active_generation(&mut *transaction, projector::sla::SLA).await?
    {
        let stored: Option<serde_json::Value> = sqlx::query_scalar(
            "SELECT clocks FROM rm_sla_clocks WHERE generation = $1 AND ticket_id = $2",
        )
        .bind(generation)
        .bind(row.ticket_id)
        .fetch_optional(&mut *transaction)
        .await?;
        if let Some(stored) = stored {
            let clocks: TicketClocks = serde_json::from_value(stored)
                .map_err(|error| ApiError::Unexpected(anyhow::Error::new(error)))?;
            let config = ProjectedConfig::load(&mut transaction, generation).await?;
            view.clocks = clocks
                .clocks
                .iter()
                .map(|clock| explain(clock, now, &config))
                .collect();
        }
    }
    transaction.commit().await?;
    Ok(Json(view).into_response())
}

/// SLA compliance of one service, queue and month.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct ComplianceRow {
    /// `YYYY-MM` of the ticket's opening (Europe/Berlin).
    pub month: String,
    pub service: Option<String>,
    pub queue: Option<String>,
    /// first_response or resolution.
    pub metric: String,
    /// Clocks that stopped (met) in that month's tickets.
    pub met: i64,
    /// Of those, met within target.
    pub met_in_time: i64,
    /// Clocks running or paused past their due time now, or met late.
    pub breached: i64,
    /// met_in_time / (met + breached running), in percent; null without finished clocks.
    pub compliance_percent: Option<f64>,
}

/// SLA compliance per month, service and queue (the `reporting.sla_compliance` view).
#[utoipa::path(
    get,
    path = "/api/v1/reports/sla-compliance",
    tag = "reports",
    params(
        ("month" = Option<String>, Query, description = "Only this month, `YYYY-MM`"),
        ("service" = Option<String>, Query, description = "Only this service"),
        ("queue" = Option<String>, Query, description = "Only this queue"),
    ),
    responses(
        (status = 200, description = "One row per month, service, queue and metric", body = Vec<ComplianceRow>),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Requesters may not read reports", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn compliance(
    State(state): State<AppState>,
    actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    params.allow_only(&["month", "service", "queue"])?;
    if !(actor.is_agent() || actor.has_role("auditor")) {
        return Err(ApiError::ReadForbidden {
            resource: "reports",
        });
    }
    let month = params.one("month")?;
    if month.is_some_and(|month| {
        month.len() != 7
            || chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_err()
    }) {
        return Err(invalid("month", "expected YYYY-MM"));
    }
    let rows: Vec<ComplianceRow> = sqlx::query_as(
        "SELECT month, service, queue, metric, met, met_in_time, breached, compliance_percent \
         FROM reporting.sla_compliance \
         WHERE ($1::text IS NULL OR month = $1) AND ($2::text IS NULL OR service = $2) \
           AND ($3::text IS NULL OR queue = $3) \
         ORDER BY month, service NULLS FIRST, queue NULLS FIRST, metric",
    )
    .bind(month)
    .bind(params.one("service")?)
    .bind(params.one("queue")?)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows).into_response())
}
