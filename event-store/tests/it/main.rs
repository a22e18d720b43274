//! Integration tests of the event store against a real PostgreSQL (a fresh database per test).

mod append;
mod append_only;
mod audit;
mod crypto;
mod ordering;

use chrono::{TimeZone, Utc};
use event_store::hash::GENESIS;
use event_store::{AppendRequest, Metadata, NewEvent};
use serde_json::{json, Value};
use uuid::Uuid;

/// Metadata for a test command.
pub fn metadata() -> Metadata {
    let id = Uuid::new_v4();
    Metadata::new(
        "k.meier".into(),
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0).unwrap(),
        "api".into(),
        id,
        id,
        id,
    )
}

/// A test event with the given payload.
pub fn event(event_type: &str, payload: Value) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: event_type.into(),
        event_version: 1,
        payload,
    }
}

/// A request appending `events` to a new stream.
pub fn new_stream<'a>(
    stream_id: Uuid,
    metadata: &'a Metadata,
    events: Vec<NewEvent>,
) -> AppendRequest<'a> {
    AppendRequest {
        stream_type: "ticket",
        stream_id,
        expected_version: 0,
        previous_hash: GENESIS,
        metadata,
        events,
        result: json!({}),
    }
}
