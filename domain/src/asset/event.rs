//! Events of the asset aggregate, in the past tense. Type strings are written by hand and never
//! renamed. An inventory scan that finds nothing new writes nothing: `asset.updated` carries
//! exactly the fields and attributes that changed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lifecycle::Lifecycle;
use super::values::{AssetId, CoreField, RelationType, SourceKey, SourceName};

/// Something that happened to an asset. Who and when are in the event metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type")]
pub enum AssetEvent {
    /// An asset was recorded.
    #[serde(rename = "asset.registered")]
    Registered {
        id: AssetId,
        /// The asset class's name.
        class: String,
        /// The core fields that have a value (the name always has one).
        fields: BTreeMap<CoreField, String>,
        /// Checked attribute values of the class.
        attributes: BTreeMap<String, Value>,
        lifecycle: Lifecycle,
        /// The inventory source that delivered it, if an import did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<SourceKey>,
    },
    /// Fields or attributes changed: only those that changed, `null` for a value removed.
    #[serde(rename = "asset.updated")]
    Updated {
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        fields: BTreeMap<CoreField, Option<String>>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        attributes: BTreeMap<String, Option<Value>>,
        /// The inventory source whose import found the change; none for a manual change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<SourceName>,
    },
    /// The lifecycle state changed.
    #[serde(rename = "asset.lifecycle_changed")]
    LifecycleChanged {
        from: Lifecycle,
        to: Lifecycle,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A relation from this asset to another began.
    #[serde(rename = "asset.related")]
    Related {
        relation: RelationType,
        target: AssetId,
    },
    /// A relation from this asset to another ended.
    #[serde(rename = "asset.unrelated")]
    Unrelated {
        relation: RelationType,
        target: AssetId,
    },
    /// A source did not deliver the asset for `missed_runs` runs in a row.
    #[serde(rename = "asset.missing_flagged")]
    MissingFlagged {
        source: SourceName,
        missed_runs: u32,
    },
    /// A source delivers the asset again after it was flagged missing.
    #[serde(rename = "asset.missing_cleared")]
    MissingCleared { source: SourceName },
}

impl AssetEvent {
    /// Every event type with its current version.
    pub const TYPES: &'static [(&'static str, u32)] = &[
        ("asset.registered", 1),
        ("asset.updated", 1),
        ("asset.lifecycle_changed", 1),
        ("asset.related", 1),
        ("asset.unrelated", 1),
        ("asset.missing_flagged", 1),
        ("asset.missing_cleared", 1),
    ];

    /// The event's type string.
    pub fn event_type(&self) -> &'static str {
        match self {
            AssetEvent::Registered { .. } => "asset.registered",
            AssetEvent::Updated { .. } => "asset.updated",
            AssetEvent::LifecycleChanged { .. } => "asset.lifecycle_changed",
            AssetEvent::Related { .. } => "asset.related",
            AssetEvent::Unrelated { .. } => "asset.unrelated",
            AssetEvent::MissingFlagged { .. } => "asset.missing_flagged",
            AssetEvent::MissingCleared { .. } => "asset.missing_cleared",
        }
    }
}
