//! The store's data types: events to append, stored events, metadata and the reader cursor.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Who caused an event, when, through which channel, and in answer to what (DESIGN §7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The authenticated user (token's user) who issued the command.
    pub actor: String,
    /// When the command was decided; truncated to microseconds (PostgreSQL's precision) so the
    /// hash computed before storing equals the one recomputed after reading.
    pub occurred_at: DateTime<Utc>,
    /// Channel the command came through (api, portal, email, …).
    pub origin: String,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    /// The command that produced the event; a retry with the same id appends nothing.
    pub command_id: Uuid,
}

impl Metadata {
    /// Metadata with `occurred_at` truncated to the store's precision.
    pub fn new(
        actor: String,
        occurred_at: DateTime<Utc>,
        origin: String,
        correlation_id: Uuid,
        causation_id: Uuid,
        command_id: Uuid,
    ) -> Self {
        Self {
            actor,
            occurred_at: occurred_at.trunc_subsecs(6),
            origin,
            correlation_id,
            causation_id,
            command_id,
        }
    }
}

/// An event about to be appended.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub event_version: u32,
    /// The payload as stored (personal data already encrypted).
    pub payload: Value,
}

/// An event as stored, with its position, transaction and hash chain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordedEvent {
    pub global_position: i64,
    pub transaction_id: i64,
    pub event_id: Uuid,
    pub stream_type: String,
    pub stream_id: Uuid,
    pub stream_version: u64,
    pub event_type: String,
    pub event_version: u32,
    pub payload: Value,
    pub metadata: Metadata,
    pub recorded_at: DateTime<Utc>,
    #[serde(with = "hex_bytes")]
    pub previous_hash: [u8; 32],
    #[serde(with = "hex_bytes")]
    pub hash: [u8; 32],
}

impl RecordedEvent {
    /// The reader cursor pointing at this event.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            transaction_id: self.transaction_id,
            global_position: self.global_position,
        }
    }
}

/// Position of a reader in the store: `(transaction_id, global_position)` (DESIGN §3).
/// Ordered lexicographically; `Cursor::START` precedes every event.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Cursor {
    pub transaction_id: i64,
    pub global_position: i64,
}

impl Cursor {
    /// Before the first event.
    pub const START: Cursor = Cursor {
        transaction_id: 0,
        global_position: 0,
    };
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.transaction_id, self.global_position)
    }
}

impl std::str::FromStr for Cursor {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (tx, pos) = s
            .split_once('.')
            .ok_or("expected <transaction>.<position>")?;
        let transaction_id = tx.parse().map_err(|_| "bad transaction id")?;
        let global_position = pos.parse().map_err(|_| "bad position")?;
        Ok(Cursor {
            transaction_id,
            global_position,
        })
    }
}

/// What a successful append (or an earlier identical one) produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredResult {
    pub stream_id: Uuid,
    pub last_version: u64,
    pub cursor: Cursor,
    /// Caller-defined data recorded with the command (e.g. the ticket number).
    pub result: Value,
}

mod hex_bytes {
    use serde::Serializer;
    pub fn serialize<S: Serializer>(bytes: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }
}
