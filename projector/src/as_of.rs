//! A ticket exactly as the store knew it at a past moment, rebuilt from its events (upcast and
//! decrypted like the projection does) with the projection's own pure [`fold`]: the past view and
//! the live read model cannot drift apart.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use command_service::codec;
use domain::ticket::TicketEvent;
use event_store::crypto::PersonalDataVault;
use event_store::{RecordedEvent, StoreError};
use sqlx::PgPool;
use uuid::Uuid;

use crate::tickets::{fold, ArticleRow, FoldError, HistoryRow, LinkKey, TicketRow};

/// The state of one ticket after some of its events.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketAsOf {
    pub row: TicketRow,
    /// Oldest first.
    pub articles: Vec<ArticleRow>,
    /// The links this ticket held (links stored on other tickets are theirs), with who created
    /// them and when.
    pub links: BTreeMap<LinkKey, (String, DateTime<Utc>)>,
    /// The audit timeline up to here, oldest first.
    pub history: Vec<HistoryRow>,
    /// The stored event the state ends with.
    pub last_event: LastEvent,
}

/// Position and time of the last event a state reflects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub recorded_at: DateTime<Utc>,
}

/// Why a past state could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum AsOfError {
    /// A stored event does not decode or does not fit the ticket (the store is damaged).
    #[error("event {version} of the ticket cannot be replayed: {reason}")]
    Corrupt { version: u64, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The ticket's stored events recorded at or before `as_of` (all if `None`), decoded.
pub async fn events_until(
    pool: &PgPool,
    vault: &PersonalDataVault,
    ticket: Uuid,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<(RecordedEvent, TicketEvent)>, AsOfError> {
    let stored = event_store::read_stream(pool, ticket).await?;
    let mut decoded = Vec::with_capacity(stored.len());
    for event in stored {
        if event.stream_type != codec::STREAM_TYPE {
            break;
        }
        if as_of.is_some_and(|as_of| event.recorded_at > as_of) {
            break;
        }
        let ticket_event =
            codec::decode(pool, vault, &event)
                .await
                .map_err(|error| match error {
                    StoreError::Database(error) => AsOfError::Store(StoreError::Database(error)),
                    other => AsOfError::Corrupt {
                        version: event.stream_version,
                        reason: other.to_string(),
                    },
                })?;
        decoded.push((event, ticket_event));
    }
    Ok(decoded)
}

/// Folds `events` (one ticket's, in version order) into its state, calling `after_each` with
/// the state after every event; `None` for no events.
pub fn replay(
    events: &[(RecordedEvent, TicketEvent)],
    mut after_each: impl FnMut(&TicketAsOf),
) -> Result<Option<TicketAsOf>, AsOfError> {
    let mut state: Option<TicketAsOf> = None;
    for (stored, event) in events {
        let corrupt = |error: FoldError| AsOfError::Corrupt {
            version: stored.stream_version,
            reason: error.to_string(),
        };
        // The row moves into the fold and back: no copy per event.
        let previous = state
            .as_mut()
            .map(|current| std::mem::take(&mut current.row));
        let (row, effects) = fold(previous, event, stored).map_err(corrupt)?;
        let current = state.get_or_insert_with(|| TicketAsOf {
            row: row.clone(),
            articles: Vec::new(),
            links: BTreeMap::new(),
            history: Vec::new(),
            last_event: last_event(stored),
        });
        current.row = row;
        current.last_event = last_event(stored);
        if let Some(article) = effects.article {
            current.articles.push(article);
        }
        match effects.link {
            Some((key, true)) => {
                current.links.insert(
                    key,
                    (stored.metadata.actor.clone(), stored.metadata.occurred_at),
                );
            }
            Some((key, false)) => {
                current.links.remove(&key);
            }
            None => {}
        }
        if let Some(history) = effects.history {
            current.history.push(history);
        }
        after_each(current);
    }
    Ok(state)
}

fn last_event(stored: &RecordedEvent) -> LastEvent {
    LastEvent {
        event_id: stored.event_id,
        event_type: stored.event_type.clone(),
        recorded_at: stored.recorded_at,
    }
}
