//! The SLA monitor (issue 4 §4): records `ticket.sla_warning_reached` and `ticket.sla_breached`
//! on tickets through the command path when a running clock's threshold or due time has come.
//!
//! The instants come from the clock (business time, calendar, holidays), never from midnight
//! jobs. Each record's idempotency key names the ticket, the clock, the threshold and the clock's
//! restart count, so a retry, a second monitor process or a restart in the middle of a run appends
//! it once (`processed_commands`); once projected, the clock no longer lists it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use command_service::auth::Actor;
use command_service::error::ApiError;
use command_service::tickets::{CommandRequest, TicketService};
use domain::sla::{Clock, Deadline, TicketClocks};
use domain::ticket::{TicketCommand, TicketError, TicketId};
use sqlx::{PgPool, Row};
use tokio::sync::watch;
use uuid::Uuid;

use crate::sla::{ProjectedConfig, SLA};

/// The monitor's actor on the events it records.
pub const MONITOR_USER: &str = "system:sla-monitor";
/// Tickets looked at per round.
pub const TICKETS_PER_ROUND: i64 = 500;

/// The idempotency key of one record: ticket, metric, deadline and restart count.
pub fn idempotency_key(ticket: Uuid, clock: &Clock, deadline: Deadline) -> String {
    let restarts = clock
        .segments
        .iter()
        .filter(|segment| segment.cause == "reopened:restart")
        .count();
    let what = match deadline {
        Deadline::Warning { percent } => format!("warning-{percent}"),
        Deadline::Breach => "breach".to_owned(),
    };
    format!("sla:{ticket}:{}:{what}:{restarts}", clock.metric.name())
}

/// Records every deadline that has come by `now`; the number of records appended.
pub async fn round(
    tickets: &TicketService,
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let mut connection = pool.acquire().await?;
    let Some(generation) = crate::checkpoint::active_generation(&mut *connection, SLA).await?
    else {
        return Ok(0);
    };
    let rows = sqlx::query(
        "SELECT ticket_id, clocks FROM rm_sla_clocks \
         WHERE generation = $1 AND next_deadline_at <= $2 \
         ORDER BY next_deadline_at LIMIT $3",
    )
    .bind(generation)
    .bind(now)
    .bind(TICKETS_PER_ROUND)
    .fetch_all(&mut *connection)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let config = ProjectedConfig::load(&mut connection, generation).await?;
    drop(connection);
    let actor = Actor {
        user: MONITOR_USER.to_owned(),
        roles: vec!["agent".to_owned()],
    };
    let mut appended = 0;
    for row in rows {
        let ticket: Uuid = row.try_get("ticket_id")?;
        let clocks: TicketClocks = serde_json::from_value(row.try_get("clocks")?)
            .map_err(|error| ApiError::Unexpected(anyhow::Error::new(error)))?;
        for clock in &clocks.clocks {
            for (at, deadline) in clock.pending_deadlines(&config) {
                // Strictly after: at the due instant itself the target is used, not exceeded.
                if at >= now {
                    break;
                }
                let command = match deadline {
                    Deadline::Warning { percent } => TicketCommand::RecordSlaWarning {
                        metric: clock.metric,
                        percent,
                        reached_at: at,
                        policy: clock.policy.clone(),
                    },
                    Deadline::Breach => TicketCommand::RecordSlaBreach {
                        metric: clock.metric,
                        due_at: at,
                        policy: clock.policy.clone(),
                    },
                };
                let outcome = tickets
                    .execute(CommandRequest {
                        ticket: TicketId::new(ticket),
                        command,
                        actor: actor.clone(),
                        expected_version: None,
                        idempotency_key: Some(idempotency_key(ticket, clock, deadline)),
                        correlation_id: Uuid::new_v4(),
                        origin: "sla-monitor".to_owned(),
                        scope: None,
                    })
                    .await;
                match outcome {
                    Ok(outcome) => appended += outcome.events_appended,
                    // Closed meanwhile, or recorded before with another instant: nothing to do.
                    Err(ApiError::Rule(TicketError::AlreadyTerminal { .. }))
                    | Err(ApiError::IdempotencyKeyReused) => {}
                    Err(error) => return Err(error),
                }
            }
        }
    }
    Ok(appended)
}

/// Runs rounds every `interval` until `shutdown` turns true.
pub async fn run(
    tickets: Arc<TicketService>,
    pool: PgPool,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*shutdown.borrow() {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.changed() => continue,
        }
        match round(&tickets, &pool, Utc::now()).await {
            Ok(0) => {}
            Ok(recorded) => tracing::info!(recorded, "SLA warnings and breaches recorded"),
            Err(error) => tracing::warn!(%error, "SLA monitor round failed; retrying"),
        }
    }
}
