//! Append-only, hash-chained PostgreSQL event store with a gap-free reader cursor (DESIGN §3, §7).
//!
//! The store knows nothing about tickets: it stores streams of JSON events with their metadata,
//! chains each stream with SHA-256, encrypts personal data per data subject, and lets readers
//! tail all streams in an order that never skips a committed event.

mod append;
pub mod audit;
mod canonical;
pub mod crypto;
mod error;
pub mod hash;
mod model;
mod read;
pub mod upcast;

pub use append::{append, append_to_log, processed_command, AppendOutcome, AppendRequest};
pub use error::StoreError;
pub use model::{Cursor, Metadata, NewEvent, RecordedEvent, StoredResult};
pub use read::{
    find_stream_by_ticket_number, read_after, read_after_naive, read_recorded_between_after,
    read_stream, read_stream_after, stream_head,
};

/// The store's schema migrations (forward-only, embedded in the binary).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Name of the role the services connect as: it may SELECT and INSERT events, nothing else.
pub const APPLICATION_ROLE: &str = "itsm_app";

#[cfg(feature = "testing")]
pub mod testing;
