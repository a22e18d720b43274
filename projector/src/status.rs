//! `itsm projection status`: every consumer's generation, state, position and lag.

use chrono::{DateTime, Utc};
use event_store::Cursor;
use sqlx::{PgPool, Row};

/// One consumer generation as the operator sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusRow {
    pub name: String,
    pub generation: i32,
    pub active: bool,
    pub version: i32,
    pub state: String,
    pub cursor: Cursor,
    pub events_applied: i64,
    /// Events stored after the cursor (below and above the read horizon).
    pub lag_events: i64,
    /// Age of the oldest event not yet applied (0 when caught up).
    pub lag_seconds: f64,
    pub leader: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// The status of every checkpoint.
pub async fn status(pool: &PgPool) -> Result<Vec<StatusRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.name, c.generation, c.version, c.state, c.last_tx, c.last_position, \
                c.events_applied, c.leader, c.lease_until, c.error, \
                (p.active_generation IS NOT DISTINCT FROM c.generation \
                   OR (p.name IS NULL AND c.state <> 'retired')) AS active, \
                (SELECT count(*) FROM events e \
                  WHERE (e.transaction_id, e.global_position) > ((c.last_tx::text)::xid8, c.last_position)) AS lag_events, \
                COALESCE((SELECT EXTRACT(epoch FROM clock_timestamp() - e.recorded_at) FROM events e \
                  WHERE (e.transaction_id, e.global_position) > ((c.last_tx::text)::xid8, c.last_position) \
                  ORDER BY e.transaction_id, e.global_position LIMIT 1), 0)::float8 AS lag_seconds \
         FROM projection_checkpoints c LEFT JOIN projections p ON p.name = c.name \
         ORDER BY c.name, c.generation",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StatusRow {
                name: row.try_get("name")?,
                generation: row.try_get("generation")?,
                active: row.try_get::<Option<bool>, _>("active")?.unwrap_or(false),
                version: row.try_get("version")?,
                state: row.try_get("state")?,
                cursor: Cursor {
                    transaction_id: row.try_get("last_tx")?,
                    global_position: row.try_get("last_position")?,
                },
                events_applied: row.try_get("events_applied")?,
                lag_events: row.try_get("lag_events")?,
                lag_seconds: row.try_get("lag_seconds")?,
                leader: row.try_get("leader")?,
                lease_until: row.try_get("lease_until")?,
                error: row.try_get("error")?,
            })
        })
        .collect()
}

/// A plain-text table of `rows`.
pub fn render(rows: &[StatusRow]) -> String {
    let mut out = format!(
        "{:<10} {:>4} {:<7} {:>3} {:<8} {:>22} {:>10} {:>9} {:>8}  {}\n",
        "NAME", "GEN", "ACTIVE", "VER", "STATE", "POSITION", "APPLIED", "LAG", "LAG_S", "LEADER"
    );
    for row in rows {
        out.push_str(&format!(
            "{:<10} {:>4} {:<7} {:>3} {:<8} {:>22} {:>10} {:>9} {:>8.1}  {}\n",
            row.name,
            row.generation,
            if row.active { "yes" } else { "no" },
            row.version,
            row.state,
            row.cursor.to_string(),
            row.events_applied,
            row.lag_events,
            row.lag_seconds,
            row.leader.as_deref().unwrap_or("-"),
        ));
        if let Some(error) = &row.error {
            out.push_str(&format!("           error: {error}\n"));
        }
    }
    out
}
