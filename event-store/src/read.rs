//! Reading the store: one stream in version order, or all streams after a cursor without ever
//! skipping an event that commits later (DESIGN §3).

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::StoreError;
use crate::model::{Cursor, Metadata, RecordedEvent};

// A macro, not a const, so every query is one `concat!`ed literal: no SQL is built at run time.
macro_rules! columns {
    () => {
        "global_position, transaction_id::text::bigint AS transaction_id, event_id, stream_type, \
    stream_id, stream_version, event_type, event_version, payload, actor, occurred_at, origin, correlation_id, \
    causation_id, command_id, recorded_at, previous_hash, hash"
    };
}

/// All events of a stream, in version order.
pub async fn read_stream(pool: &PgPool, stream_id: Uuid) -> Result<Vec<RecordedEvent>, StoreError> {
    read_stream_after(pool, stream_id, 0).await
}

/// The events of a stream after `after_version`, in version order (catching up a cached state).
pub async fn read_stream_after(
    pool: &PgPool,
    stream_id: Uuid,
    after_version: u64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM events WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version"
    );
    let rows = sqlx::query(sql)
        .bind(stream_id)
        .bind(after_version as i64)
        .fetch_all(pool)
        .await?;
    rows.iter().map(decode).collect()
}

/// Up to `limit` events after `cursor`, in `(transaction_id, global_position)` order, only from
/// transactions below the snapshot's xmin: every such transaction has finished, so no event can
/// later appear behind the returned ones. A long-running writer delays events, never loses them.
pub async fn read_after(
    pool: &PgPool,
    cursor: Cursor,
    limit: u32,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM events \
         WHERE (transaction_id, global_position) > (($1::bigint)::text::xid8, $2) \
           AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY events.transaction_id, events.global_position LIMIT $3"
    );
    let rows = sqlx::query(sql)
        .bind(cursor.transaction_id)
        .bind(cursor.global_position)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.iter().map(decode).collect()
}

/// Like [`read_after`], restricted to events recorded in `[from, to)` (either bound optional).
pub async fn read_recorded_between_after(
    pool: &PgPool,
    cursor: Cursor,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    limit: u32,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM events \
         WHERE (transaction_id, global_position) > (($1::bigint)::text::xid8, $2) \
           AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
           AND ($3::timestamptz IS NULL OR recorded_at >= $3) \
           AND ($4::timestamptz IS NULL OR recorded_at < $4) \
         ORDER BY events.transaction_id, events.global_position LIMIT $5"
    );
    let rows = sqlx::query(sql)
        .bind(cursor.transaction_id)
        .bind(cursor.global_position)
        .bind(from)
        .bind(to)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.iter().map(decode).collect()
}

/// The naive reader (`global_position > checkpoint`) that skips events whose transaction commits
/// after a later position became visible. Kept only so a test can demonstrate the bug.
#[doc(hidden)]
pub async fn read_after_naive(
    pool: &PgPool,
    position: i64,
    limit: u32,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2"
    );
    let rows = sqlx::query(sql)
        .bind(position)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.iter().map(decode).collect()
}

/// The version and hash of a stream's last event, or `None` for an empty stream.
pub async fn stream_head(
    pool: &PgPool,
    stream_id: Uuid,
) -> Result<Option<(u64, [u8; 32])>, StoreError> {
    let row = sqlx::query("SELECT stream_version, hash FROM events WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1")
        .bind(stream_id)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let version: i64 = row.try_get("stream_version")?;
    let hash: Vec<u8> = row.try_get("hash")?;
    Ok(Some((version as u64, to_hash(&hash, 0)?)))
}

/// The stream of the ticket with this human-readable number (`2026-000123`).
pub async fn find_stream_by_ticket_number(
    pool: &PgPool,
    number: &str,
) -> Result<Option<Uuid>, StoreError> {
    let row = sqlx::query("SELECT stream_id FROM events WHERE event_type = 'ticket.opened' AND payload ->> 'number' = $1")
        .bind(number)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|row| row.try_get("stream_id")).transpose()?)
}

fn decode(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let global_position: i64 = row.try_get("global_position")?;
    let previous_hash: Vec<u8> = row.try_get("previous_hash")?;
    let hash: Vec<u8> = row.try_get("hash")?;
    Ok(RecordedEvent {
        global_position,
        transaction_id: row.try_get("transaction_id")?,
        event_id: row.try_get("event_id")?,
        stream_type: row.try_get("stream_type")?,
        stream_id: row.try_get("stream_id")?,
        stream_version: row.try_get::<i64, _>("stream_version")? as u64,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get::<i32, _>("event_version")? as u32,
        payload: row.try_get("payload")?,
        metadata: Metadata {
            actor: row.try_get("actor")?,
            occurred_at: row.try_get("occurred_at")?,
            origin: row.try_get("origin")?,
            correlation_id: row.try_get("correlation_id")?,
            causation_id: row.try_get("causation_id")?,
            command_id: row.try_get("command_id")?,
        },
        recorded_at: row.try_get("recorded_at")?,
        previous_hash: to_hash(&previous_hash, global_position)?,
        hash: to_hash(&hash, global_position)?,
    })
}

fn to_hash(bytes: &[u8], position: i64) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt {
        position,
        reason: format!("hash has {} bytes", bytes.len()),
    })
}
