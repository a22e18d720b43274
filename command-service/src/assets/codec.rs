//! Asset events and import records to and from the store: the payload is the event's JSON
//! without its `event_type` (a column of its own), like ticket events. Every type is at
//! version 1; an upcaster goes here, with a golden fixture, when one changes.

use domain::asset::{AssetEvent, ImportCompleted};
use event_store::upcast::{upcast, Upcaster};
use event_store::NewEvent;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// The stream type of assets (one stream per asset, its id the asset id).
pub const STREAM_TYPE: &str = "asset";
/// The stream type of import runs (one stream per source, see [`import_stream_id`]).
pub const IMPORT_STREAM_TYPE: &str = "asset_import";
/// The type of the import record.
pub const IMPORT_COMPLETED: &str = "asset_import.completed";
/// Namespace of the import streams' ids: `uuid v5(IMPORT_STREAMS, "<source>")`.
pub const IMPORT_STREAMS: Uuid = Uuid::from_u128(0x9d3a_57c2_1e4b_4a6f_b0c8_6e2d_f1a9_47b3);
const TYPE_KEY: &str = "event_type";
/// Upcasters of asset events and import records (none yet).
pub const UPCASTERS: &[Upcaster] = &[];

/// The stream of `source`'s import runs.
pub fn import_stream_id(source: &str) -> Uuid {
    Uuid::new_v5(&IMPORT_STREAMS, source.as_bytes())
}

fn payload<T: Serialize>(value: &T) -> Value {
    let mut payload = serde_json::to_value(value).expect("asset events serialize");
    payload
        .as_object_mut()
        .expect("asset events are objects")
        .remove(TYPE_KEY);
    payload
}

fn decode<T: DeserializeOwned>(
    event_type: &str,
    event_version: u32,
    payload: Value,
) -> Result<T, String> {
    let (_, mut payload) = upcast(UPCASTERS, event_type, event_version, payload);
    let object = payload.as_object_mut().ok_or("payload is not an object")?;
    object.insert(TYPE_KEY.to_owned(), Value::String(event_type.to_owned()));
    serde_json::from_value(payload).map_err(|error| error.to_string())
}

/// The asset event of a stored type, version and payload.
pub fn event_from(
    event_type: &str,
    event_version: u32,
    payload: Value,
) -> Result<AssetEvent, String> {
    decode(event_type, event_version, payload)
}

/// The import record of a stored payload.
pub fn import_from(event_version: u32, payload: Value) -> Result<ImportCompleted, String> {
    decode(IMPORT_COMPLETED, event_version, payload)
}

/// An asset event ready to append.
pub fn encode(event: &AssetEvent) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: event.event_type().to_owned(),
        event_version: 1,
        payload: payload(event),
    }
}

/// An import record ready to append.
pub fn encode_import(record: &ImportCompleted) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: IMPORT_COMPLETED.to_owned(),
        event_version: 1,
        payload: payload(record),
    }
}
