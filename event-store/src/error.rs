//! Errors of the event store, split the cqrs-es way: conflict, duplicate, technical failure.

use crate::model::StoredResult;

/// What can go wrong when talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream moved on since the caller loaded it (optimistic concurrency).
    #[error("stream {stream_id} is not at the expected version {expected_version}")]
    VersionConflict {
        stream_id: uuid::Uuid,
        expected_version: u64,
    },
    /// The command id was applied before; nothing was appended.
    #[error("command was already applied to stream {}", .0.stream_id)]
    DuplicateCommand(Box<StoredResult>),
    /// A ticket number was taken twice (should never happen; numbers come from a counter).
    #[error("ticket number already in use")]
    DuplicateTicketNumber,
    /// A stored event could not be decoded.
    #[error("stored event {position} is corrupt: {reason}")]
    Corrupt { position: i64, reason: String },
    /// Encryption or decryption of personal data failed.
    #[error("personal data crypto failed: {0}")]
    Crypto(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}
