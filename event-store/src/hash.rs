//! The per-stream hash chain: `hash = SHA-256(previous_hash ‖ canonical event bytes)`.
//!
//! The canonical bytes cover everything an auditor relies on: identity, position in the stream,
//! type, version, payload (as stored, i.e. with personal data encrypted, so erasure keeps the
//! chain intact) and metadata. The first event of a stream chains from [`GENESIS`].

use serde_json::Value;
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

/// The canonical bytes of an event (documented in `schemas/README.md`): the canonical JSON of
/// the object below, written directly (its keys are constant, so their sorted order is too)
/// instead of building and sorting a `Value` — verification hashes every stored event.
pub fn canonical_bytes(input: &HashInput<'_>) -> Vec<u8> {
    use crate::canonical::{write, write_str};
    let metadata = input.metadata;
    let mut out = Vec::with_capacity(512);
    let mut uuid = Uuid::encode_buffer();
    let field = |key: &str, out: &mut Vec<u8>| {
        out.push(if out.is_empty() { b'{' } else { b',' });
        write_str(key, out);
        out.push(b':');
    };
    // Keys in bytewise order: actor, causation_id, command_id, correlation_id, event_id,
    // event_type, event_version, occurred_at, origin, payload, stream_id, stream_type,
    // stream_version.
    field("actor", &mut out);
    write_str(&metadata.actor, &mut out);
    for (key, id) in [
        ("causation_id", metadata.causation_id),
        ("command_id", metadata.command_id),
        ("correlation_id", metadata.correlation_id),
        ("event_id", input.event_id),
    ] {
        field(key, &mut out);
        write_str(id.hyphenated().encode_lower(&mut uuid), &mut out);
    }
    field("event_type", &mut out);
    write_str(input.event_type, &mut out);
    field("event_version", &mut out);
    out.extend_from_slice(input.event_version.to_string().as_bytes());
    field("occurred_at", &mut out);
    write_str(
        &metadata
            .occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        &mut out,
    );
    field("origin", &mut out);
    write_str(&metadata.origin, &mut out);
    field("payload", &mut out);
    write(input.payload, &mut out);
    field("stream_id", &mut out);
    write_str(
        input.stream_id.hyphenated().encode_lower(&mut uuid),
        &mut out,
    );
    field("stream_type", &mut out);
    write_str(input.stream_type, &mut out);
    field("stream_version", &mut out);
    out.extend_from_slice(input.stream_version.to_string().as_bytes());
    out.push(b'}');
    out
}

/// The canonical bytes built the obvious way (a `Value`, sorted by `canonical::write`): the
/// oracle [`canonical_bytes`] is tested against.
#[cfg(test)]
fn canonical_bytes_via_value(input: &HashInput<'_>) -> Vec<u8> {
    let metadata = input.metadata;
    let document = serde_json::json!({
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

/// Checks a whole stream, read in version order; returns how many events it verified, or the
/// first place its chain does not hold (the same walk as [`crate::audit::verify_one_stream`]).
pub fn verify_stream(events: &[RecordedEvent]) -> Result<usize, ChainError> {
    let report = crate::audit::verify_one_stream(events);
    match report.problems.into_iter().next() {
        Some(crate::audit::Problem::Chain(broken)) => Err(broken),
        _ => Ok(events.len()),
    }
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    proptest! {
        #[test]
        fn the_direct_writer_equals_the_value_oracle(
            actor in "\\PC{0,20}",
            origin in "[a-z\"\\\\\n]{0,8}",
            event_type in "[a-z._]{1,20}",
            text in "\\PC{0,40}",
            key in "\\PC{0,10}",
            number in any::<i64>(),
            version in 1u64..u64::MAX,
            event_version in 1u32..u32::MAX,
            ids in any::<[u128; 5]>(),
            micros in 0i64..4_000_000_000_000_000,
        ) {
            let metadata = Metadata::new(
                actor,
                chrono::Utc.timestamp_micros(micros).unwrap(),
                origin,
                Uuid::from_u128(ids[0]),
                Uuid::from_u128(ids[1]),
                Uuid::from_u128(ids[2]),
            );
            let payload = json!({ "b": [text.clone(), number, null, true], "a": { key: text } });
            let input = HashInput {
                event_id: Uuid::from_u128(ids[3]),
                stream_type: "ticket",
                stream_id: Uuid::from_u128(ids[4]),
                stream_version: version,
                event_type: &event_type,
                event_version,
                payload: &payload,
                metadata: &metadata,
            };
            prop_assert_eq!(
                String::from_utf8(canonical_bytes(&input)).unwrap(),
                String::from_utf8(canonical_bytes_via_value(&input)).unwrap()
            );
        }
    }
}
