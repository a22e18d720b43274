//! Every use of the auditor functions (past state, verification, export) is itself recorded
//! (issue 8 §4): one `audit.accessed` event in a stream of its own, so concurrent auditors never
//! contend, and the record is as tamper-evident as the history it was about.

use chrono::Utc;
use event_store::hash::GENESIS;
use event_store::{AppendRequest, Metadata, NewEvent, StoreError};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

/// The stream type of access records.
pub const STREAM_TYPE: &str = "audit_access";
/// The event type of an access record (version 1).
pub const ACCESSED: &str = "audit.accessed";

/// What an auditor did. Holds ids, instants and counts only, never personal data.
#[derive(Clone, Debug, Serialize)]
pub struct Access {
    /// `as_of`, `history`, `verify`, `verify_store`, `export`, `checkpoint`.
    pub action: &'static str,
    /// The ticket looked at, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Uuid>,
    /// Action-specific parameters and outcome (the instant asked for, the selection, counts).
    pub details: Value,
}

/// Appends the access record of `actor` through `origin` (`api`, `cli`).
pub async fn record(
    pool: &PgPool,
    actor: &str,
    origin: &str,
    correlation_id: Uuid,
    access: &Access,
) -> Result<(), StoreError> {
    let command_id = Uuid::new_v4();
    let metadata = Metadata::new(
        actor.to_owned(),
        Utc::now(),
        origin.to_owned(),
        correlation_id,
        command_id,
        command_id,
    );
    event_store::append(
        pool,
        AppendRequest {
            stream_type: STREAM_TYPE,
            stream_id: Uuid::new_v4(),
            expected_version: 0,
            previous_hash: GENESIS,
            metadata: &metadata,
            events: vec![NewEvent {
                event_id: Uuid::new_v4(),
                event_type: ACCESSED.to_owned(),
                event_version: 1,
                payload: serde_json::to_value(access).unwrap_or_else(|_| json!({})),
            }],
            result: json!({}),
        },
    )
    .await?;
    Ok(())
}
