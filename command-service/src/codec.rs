//! Ticket events to and from the store: the payload is the event's JSON without its
//! `event_type` (a column of its own), personal data encrypted for the requester, old versions
//! upcast on read.

use domain::ticket::event::personal_data_of;
use domain::ticket::{Requester, TicketEvent, TicketId};
use event_store::crypto::{DataSubject, PersonalDataVault};
use event_store::upcast::{upcast, Upcaster};
use event_store::{NewEvent, RecordedEvent, StoreError};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// The stream type of tickets.
pub const STREAM_TYPE: &str = "ticket";
const TYPE_KEY: &str = "event_type";

/// Upcasters of ticket events (none yet: every type is at version 1). Add a step here, with a
/// golden fixture of the old version under `schemas/events/`, when an event type changes.
pub const UPCASTERS: &[Upcaster] = &[];

/// The identifier of the data subject whose key protects a ticket's personal data: the
/// requester's user id, else their e-mail address, else the ticket itself.
pub fn subject_identifier(requester: &Requester, ticket: TicketId) -> String {
    match (&requester.user_id, &requester.email) {
        (Some(user), _) => format!("user:{user}"),
        (None, Some(email)) => format!("email:{email}"),
        (None, None) => format!("ticket:{ticket}"),
    }
}

/// The plaintext payload of an event (without `event_type`).
pub fn payload_of(event: &TicketEvent) -> Value {
    let mut payload = serde_json::to_value(event).expect("ticket events serialize");
    payload
        .as_object_mut()
        .expect("ticket events are objects")
        .remove(TYPE_KEY);
    payload
}

/// The event decoded from a type, version and plaintext payload (upcasting old versions).
pub fn event_from(
    event_type: &str,
    event_version: u32,
    payload: Value,
) -> Result<TicketEvent, String> {
    let (_, mut payload) = upcast(UPCASTERS, event_type, event_version, payload);
    let object = payload.as_object_mut().ok_or("payload is not an object")?;
    object.insert(TYPE_KEY.to_owned(), Value::String(event_type.to_owned()));
    serde_json::from_value(payload).map_err(|error| error.to_string())
}

/// Encodes `events` for the store, encrypting personal data with `subject`'s key (which the
/// caller must supply when any event carries personal data).
pub fn encode(
    events: &[TicketEvent],
    vault: &PersonalDataVault,
    subject: Option<&DataSubject>,
) -> Result<Vec<NewEvent>, StoreError> {
    events
        .iter()
        .map(|event| {
            let event_id = Uuid::new_v4();
            let mut payload = payload_of(event);
            let pointers = event.personal_data();
            if !pointers.is_empty() {
                let subject =
                    subject.expect("a data subject is looked up for events with personal data");
                vault.encrypt_fields(&mut payload, pointers, subject, event_id)?;
            }
            Ok(NewEvent {
                event_id,
                event_type: event.event_type().to_owned(),
                event_version: event.event_version(),
                payload,
            })
        })
        .collect()
}

/// Decodes a stored event without its personal data: each personal-data field reads as erased
/// (`ERASED`), with no key lookup and no decryption. For readers that never use it (the SLA
/// clocks); three times faster than [`decode`] on a rebuild.
pub fn decode_without_personal_data(stored: &RecordedEvent) -> Result<TicketEvent, StoreError> {
    let mut payload = stored.payload.clone();
    for pointer in personal_data_of(&stored.event_type) {
        if let Some(field) = payload.pointer_mut(pointer) {
            if !field.is_null() {
                *field = serde_json::Value::String(event_store::crypto::ERASED.to_owned());
            }
        }
    }
    event_from(&stored.event_type, stored.event_version, payload).map_err(|reason| {
        StoreError::Corrupt {
            position: stored.global_position,
            reason,
        }
    })
}

/// Decodes a stored event, decrypting its personal data.
pub async fn decode(
    pool: &PgPool,
    vault: &PersonalDataVault,
    stored: &RecordedEvent,
) -> Result<TicketEvent, StoreError> {
    let mut payload = stored.payload.clone();
    vault
        .decrypt_fields(
            pool,
            &mut payload,
            personal_data_of(&stored.event_type),
            stored.event_id,
        )
        .await?;
    event_from(&stored.event_type, stored.event_version, payload).map_err(|reason| {
        StoreError::Corrupt {
            position: stored.global_position,
            reason,
        }
    })
}
