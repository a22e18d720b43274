//! The asset as its events leave it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::event::AssetEvent;
use super::lifecycle::Lifecycle;
use super::values::{AssetId, CoreField, RelationType, SourceName};

/// How an inventory source sees the asset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceStatus {
    pub external_id: String,
    /// Flagged as missing from the source's runs.
    pub missing: bool,
}

/// An asset's state. `Asset::default()` is "not registered".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Asset {
    pub id: Option<AssetId>,
    pub class: String,
    pub fields: BTreeMap<CoreField, String>,
    pub attributes: BTreeMap<String, Value>,
    pub lifecycle: Option<Lifecycle>,
    /// Relations from this asset (the other direction lives on the other asset).
    pub relations: BTreeSet<(RelationType, AssetId)>,
    pub sources: BTreeMap<SourceName, SourceStatus>,
    /// Events applied (the stream version).
    pub version: u64,
}

impl Asset {
    /// The state after `events`.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a AssetEvent>) -> Asset {
        events.into_iter().fold(Asset::default(), Asset::apply)
    }

    /// The state after one more event.
    pub fn apply(mut self, event: &AssetEvent) -> Asset {
        self.version += 1;
        match event {
            AssetEvent::Registered {
                id,
                class,
                fields,
                attributes,
                lifecycle,
                source,
            } => {
                self.id = Some(*id);
                self.class = class.clone();
                self.fields = fields.clone();
                self.attributes = attributes.clone();
                self.lifecycle = Some(*lifecycle);
                if let Some(source) = source {
                    self.sources.insert(
                        source.source.clone(),
                        SourceStatus {
                            external_id: source.external_id.clone(),
                            missing: false,
                        },
                    );
                }
            }
            AssetEvent::Updated {
                fields, attributes, ..
            } => {
                for (field, value) in fields {
                    match value {
                        Some(value) => self.fields.insert(*field, value.clone()),
                        None => self.fields.remove(field),
                    };
                }
                for (key, value) in attributes {
                    match value {
                        Some(value) => self.attributes.insert(key.clone(), value.clone()),
                        None => self.attributes.remove(key),
                    };
                }
            }
            AssetEvent::LifecycleChanged { to, .. } => self.lifecycle = Some(*to),
            AssetEvent::Related { relation, target } => {
                self.relations.insert((*relation, *target));
            }
            AssetEvent::Unrelated { relation, target } => {
                self.relations.remove(&(*relation, *target));
            }
            AssetEvent::MissingFlagged { source, .. } => {
                self.sources.entry(source.clone()).or_default().missing = true;
            }
            AssetEvent::MissingCleared { source } => {
                self.sources.entry(source.clone()).or_default().missing = false;
            }
        }
        self
    }

    /// Whether the asset has been registered.
    pub fn is_registered(&self) -> bool {
        self.id.is_some()
    }

    /// The value of a core field.
    pub fn field(&self, field: CoreField) -> Option<&str> {
        self.fields.get(&field).map(String::as_str)
    }
}
