//! Loading an asset from its stream, deciding a command on it and appending the events.

use chrono::Utc;
use domain::asset::{decide, Asset, AssetClassDefinition, AssetCommand, AssetContext, AssetId};
use domain::config::Kind;
use event_store::hash::GENESIS;
use event_store::{AppendRequest, Cursor, Metadata, StoreError};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::codec::{self, STREAM_TYPE};
use crate::config::Configuration;
use crate::error::ApiError;

/// Appends retried after a concurrent change of the same asset.
const ATTEMPTS_MAX: usize = 5;

/// An asset as its stream leaves it, with the chain head to append after.
#[derive(Clone, Debug, Default)]
pub struct LoadedAsset {
    pub state: Asset,
    pub last_hash: Option<[u8; 32]>,
}

impl LoadedAsset {
    /// The hash to chain the next event to.
    pub fn previous_hash(&self) -> [u8; 32] {
        self.last_hash.unwrap_or(GENESIS)
    }
}

/// The asset `id` as stored (the default state when it does not exist).
pub async fn load(pool: &PgPool, id: AssetId) -> Result<LoadedAsset, StoreError> {
    let mut loaded = LoadedAsset::default();
    for recorded in event_store::read_stream(pool, id.0).await? {
        if recorded.stream_type != STREAM_TYPE {
            return Ok(LoadedAsset::default());
        }
        let event = codec::event_from(
            &recorded.event_type,
            recorded.event_version,
            recorded.payload,
        )
        .map_err(|reason| StoreError::Corrupt {
            position: recorded.global_position,
            reason,
        })?;
        loaded.state = std::mem::take(&mut loaded.state).apply(&event);
        loaded.last_hash = Some(recorded.hash);
    }
    Ok(loaded)
}

/// The active definition of asset class `name`.
pub fn class_of(configuration: &Configuration, name: &str) -> Option<AssetClassDefinition> {
    configuration
        .definition(Kind::AssetClass, name)
        .and_then(|definition| serde_json::from_value(definition.clone()).ok())
}

/// Who asks, and why, for the events' metadata.
#[derive(Clone, Debug)]
pub struct Origin {
    pub actor: String,
    /// `api`, `import` or `cli`.
    pub origin: &'static str,
    pub correlation_id: Uuid,
}

impl Origin {
    /// Metadata for one command.
    pub fn metadata(&self) -> Metadata {
        let command_id = Uuid::new_v4();
        Metadata::new(
            self.actor.clone(),
            Utc::now(),
            self.origin.to_owned(),
            self.correlation_id,
            command_id,
            command_id,
        )
    }
}

/// What a command did.
#[derive(Clone, Debug, PartialEq)]
pub struct Executed {
    pub version: u64,
    pub events_appended: usize,
    pub cursor: Option<Cursor>,
}

/// Decides `command` on asset `id` and appends its events, retrying after a concurrent change
/// unless `expected_version` pins the version (then `412`).
pub async fn execute(
    pool: &PgPool,
    origin: &Origin,
    id: AssetId,
    command: AssetCommand,
    expected_version: Option<u64>,
) -> Result<Executed, ApiError> {
    // Only registering and setting attributes check values against the class; the
    // configuration is read once, not per attempt, and not for the other commands.
    let needs_class = match &command {
        AssetCommand::Register { .. } => true,
        AssetCommand::Update { attributes, .. } => !attributes.is_empty(),
        _ => false,
    };
    let configuration = match needs_class {
        true => Some(crate::config::load(pool).await?),
        false => None,
    };
    for _ in 0..ATTEMPTS_MAX {
        let loaded = load(pool, id).await?;
        if let Some(expected) = expected_version {
            if expected != loaded.state.version {
                return Err(ApiError::StaleVersion {
                    expected,
                    current: loaded.state.version,
                });
            }
        }
        let class_name = match &command {
            AssetCommand::Register { class, .. } => class,
            _ => &loaded.state.class,
        };
        let class = configuration
            .as_ref()
            .and_then(|configuration| class_of(configuration, class_name));
        let relation_target = match &command {
            AssetCommand::Relate { target, .. } => load(pool, *target).await?.state.lifecycle,
            _ => None,
        };
        let context = AssetContext {
            class: class.as_ref(),
            relation_target,
        };
        let events = decide(&loaded.state, command.clone(), &context).map_err(ApiError::Asset)?;
        match append(pool, origin, id, &loaded, &events).await {
            Ok(executed) => return Ok(executed),
            Err(StoreError::VersionConflict { .. }) if expected_version.is_none() => continue,
            Err(StoreError::VersionConflict { .. }) => {
                return Err(ApiError::StaleVersion {
                    expected: loaded.state.version,
                    current: load(pool, id).await?.state.version,
                })
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Contention)
}

/// Appends `events` after `loaded` (nothing for no events).
pub async fn append(
    pool: &PgPool,
    origin: &Origin,
    id: AssetId,
    loaded: &LoadedAsset,
    events: &[domain::asset::AssetEvent],
) -> Result<Executed, StoreError> {
    if events.is_empty() {
        return Ok(Executed {
            version: loaded.state.version,
            events_appended: 0,
            cursor: None,
        });
    }
    let metadata = origin.metadata();
    let outcome = event_store::append(
        pool,
        AppendRequest {
            stream_type: STREAM_TYPE,
            stream_id: id.0,
            expected_version: loaded.state.version,
            previous_hash: loaded.previous_hash(),
            metadata: &metadata,
            events: events.iter().map(codec::encode).collect(),
            result: json!({}),
        },
    )
    .await?;
    Ok(Executed {
        version: outcome.stored.last_version,
        events_appended: events.len(),
        cursor: Some(outcome.stored.cursor),
    })
}
