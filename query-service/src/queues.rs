//! `GET /api/v1/queues`: open tickets per queue and status, for agents. The same counts go to
//! agents' live streams as `event: queues`.

use axum::extract::State;
use axum::Json;
use command_service::auth::Actor;
use command_service::error::{ApiError, Problem};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::extract::Params;
use crate::read_model::UNASSIGNED_QUEUE;
use crate::AppState;

/// Most (queue, status) groups counted; more queues than this quarter are not expected.
const GROUPS_MAX: i64 = 10_000;

/// Open tickets of one queue by status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusCounts {
    pub new: i64,
    pub assigned: i64,
    pub in_progress: i64,
    pub pending: i64,
}

/// One queue's open tickets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct QueueCounts {
    /// The queue key; `unassigned` for tickets without a queue.
    pub queue: String,
    pub counts: StatusCounts,
    pub total: i64,
}

/// Open tickets of every queue that has any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct QueueOverview {
    /// By queue key.
    pub queues: Vec<QueueCounts>,
    /// Open tickets in all queues.
    pub total: i64,
}

/// Counts of open tickets per queue and status (agents only).
#[utoipa::path(
    get,
    path = "/api/v1/queues",
    tag = "queues",
    params(
        ("after" = Option<String>, Query, description = "Consistency token of a command: wait until the counts reflect it"),
    ),
    responses(
        (status = 200, description = "Open tickets per queue and status", body = QueueOverview),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an agent", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read model did not reach `after` in time (`Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    params: Params,
) -> Result<Json<QueueOverview>, ApiError> {
    if !actor.is_agent() {
        return Err(ApiError::ReadForbidden { resource: "queues" });
    }
    params.allow_only(&[])?;
    let after = params.after()?;
    state
        .consistency
        .wait(after, state.limits.consistency_wait)
        .await?;
    Ok(Json(overview(&state.pool).await?))
}

/// The counts of the active generation.
pub async fn overview(pool: &PgPool) -> Result<QueueOverview, ApiError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT coalesce(t.queue, $1) AS queue, t.status, count(*) AS tickets \
         FROM rm_tickets t \
         WHERE t.generation = (SELECT active_generation FROM projections WHERE name = 'tickets') \
           AND t.is_open GROUP BY 1, 2 ORDER BY 1, 2 LIMIT $2",
    )
    .bind(UNASSIGNED_QUEUE)
    .bind(GROUPS_MAX)
    .fetch_all(pool)
    .await?;
    Ok(fold(rows))
}

/// Groups `(queue, status, count)` rows ordered by queue into per-queue counts.
fn fold(rows: Vec<(String, String, i64)>) -> QueueOverview {
    let mut overview = QueueOverview::default();
    for (queue, status, tickets) in rows {
        if overview
            .queues
            .last()
            .is_none_or(|last| last.queue != queue)
        {
            overview.queues.push(QueueCounts {
                queue,
                counts: StatusCounts::default(),
                total: 0,
            });
        }
        let entry = overview.queues.last_mut().expect("pushed above");
        match status.as_str() {
            "new" => entry.counts.new += tickets,
            "assigned" => entry.counts.assigned += tickets,
            "in_progress" => entry.counts.in_progress += tickets,
            "pending" => entry.counts.pending += tickets,
            // `is_open` and the status disagree: counted in the totals only.
            _ => {}
        }
        entry.total += tickets;
        overview.total += tickets;
    }
    overview
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_fold_into_queues_with_totals() {
        let rows = vec![
            ("a".to_owned(), "new".to_owned(), 2),
            ("a".to_owned(), "pending".to_owned(), 1),
            ("unassigned".to_owned(), "new".to_owned(), 4),
        ];
        let overview = fold(rows);
        assert_eq!(overview.total, 7);
        assert_eq!(overview.queues.len(), 2);
        assert_eq!(overview.queues[0].counts.new, 2);
        assert_eq!(overview.queues[0].counts.pending, 1);
        assert_eq!(overview.queues[0].total, 3);
        assert_eq!(overview.queues[1].queue, "unassigned");
        assert_eq!(overview.queues[1].total, 4);
    }
}
