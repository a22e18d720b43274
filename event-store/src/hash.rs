//! The per-stream hash chain: `hash = SHA-256(previous_hash ‖ canonical event bytes)`.
//!
//! The canonical bytes cover everything an auditor relies on: identity, position in the stream,
//! type, version, payload (as stored, i.e. with personal data encrypted, so erasure keeps the
//! chain intact) and metadata. The first event of a stream chains from [`GENESIS`].

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::{Metadata, RecordedEvent};

/// The `previous_hash` of a stream's first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// The fields of an event that the hash covers.
#[derive(Debug)]
pub struct HashInput<'a> {
    pub event_id: Uuid,
    pub stream_type: &'a str,
    pub stream_id: Uuid,
    pub stream_version: u64,
    pub event_type: &'a str,
    pub event_version: u32,
    pub payload: &'a Value,
    pub metadata: &'a Metadata,
}

/// The canonical bytes of an event (documented in `schemas/README.md`).
pub fn canonical_bytes(input: &HashInput<'_>) -> Vec<u8> {
    let metadata = input.metadata;
    let document = json!({
        "event_id": input.event_id,
        "stream_type": input.stream_type,
        "stream_id": input.stream_id,
        "stream_version": input.stream_version,
        "event_type": input.event_type,
        "event_version": input.event_version,
        "payload": input.payload,
        "actor": metadata.actor,
        "occurred_at": metadata.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "origin": metadata.origin,
        "correlation_id": metadata.correlation_id,
        "causation_id": metadata.causation_id,
        "command_id": metadata.command_id,
    });
    let mut out = Vec::with_capacity(512);
    crate::canonical::write(&document, &mut out);
    out
}

/// The chained hash of an event.
pub fn event_hash(previous_hash: &[u8; 32], input: &HashInput<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous_hash);
    hasher.update(canonical_bytes(input));
    hasher.finalize().into()
}

/// The first place where a stream's chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("stream {stream_id}: version {found} follows {previous} (expected {expected})")]
    VersionGap {
        stream_id: Uuid,
        previous: u64,
        expected: u64,
        found: u64,
    },
    #[error(
        "stream {stream_id} version {version}: previous_hash {found} does not link to {expected}"
    )]
    BrokenLink {
        stream_id: Uuid,
        version: u64,
        expected: String,
        found: String,
    },
    #[error("stream {stream_id} version {version}: stored hash {found}, recomputed {expected}")]
    HashMismatch {
        stream_id: Uuid,
        version: u64,
        expected: String,
        found: String,
    },
}

/// Checks a whole stream, read in version order; returns how many events it verified.
pub fn verify_stream(events: &[RecordedEvent]) -> Result<usize, ChainError> {
    let mut previous_hash = GENESIS;
    for (index, event) in events.iter().enumerate() {
        let expected_version = index as u64 + 1;
        if event.stream_version != expected_version {
            return Err(ChainError::VersionGap {
                stream_id: event.stream_id,
                previous: expected_version - 1,
                expected: expected_version,
                found: event.stream_version,
            });
        }
        verify_event(&previous_hash, event)?;
        previous_hash = event.hash;
    }
    Ok(events.len())
}

fn verify_event(previous_hash: &[u8; 32], event: &RecordedEvent) -> Result<(), ChainError> {
    if &event.previous_hash != previous_hash {
        return Err(ChainError::BrokenLink {
            stream_id: event.stream_id,
            version: event.stream_version,
            expected: hex::encode(previous_hash),
            found: hex::encode(event.previous_hash),
        });
    }
    let recomputed = event_hash(previous_hash, &hash_input(event));
    if recomputed != event.hash {
        return Err(ChainError::HashMismatch {
            stream_id: event.stream_id,
            version: event.stream_version,
            expected: hex::encode(recomputed),
            found: hex::encode(event.hash),
        });
    }
    Ok(())
}

/// The hash input of a stored event.
pub fn hash_input(event: &RecordedEvent) -> HashInput<'_> {
    HashInput {
        event_id: event.event_id,
        stream_type: &event.stream_type,
        stream_id: event.stream_id,
        stream_version: event.stream_version,
        event_type: &event.event_type,
        event_version: event.event_version,
        payload: &event.payload,
        metadata: &event.metadata,
    }
}
