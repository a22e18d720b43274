//! What callers ask of an asset, in the imperative, and the facts a decision may use.

use std::collections::BTreeMap;

use serde_json::Value;

use super::class::AssetClassDefinition;
use super::lifecycle::Lifecycle;
use super::values::{AssetId, CoreField, RelationType, SourceKey, SourceName};

/// A command on one asset.
#[derive(Clone, Debug, PartialEq)]
pub enum AssetCommand {
    /// Record a new asset.
    Register {
        id: AssetId,
        class: String,
        /// Core field values as given (checked by the decision).
        fields: BTreeMap<CoreField, String>,
        /// Attribute values as given (checked against the class).
        attributes: BTreeMap<String, Value>,
        lifecycle: Lifecycle,
        source: Option<SourceKey>,
    },
    /// Set the given fields and attributes (`None` removes one); the others stay. Only what
    /// differs from the current values is recorded; nothing different, nothing recorded.
    Update {
        fields: BTreeMap<CoreField, Option<String>>,
        attributes: BTreeMap<String, Option<Value>>,
        source: Option<SourceName>,
    },
    /// Move the asset through its lifecycle.
    ChangeLifecycle {
        to: Lifecycle,
        reason: Option<String>,
    },
    /// Begin a relation from this asset to `target`.
    Relate {
        relation: RelationType,
        target: AssetId,
    },
    /// End a relation from this asset to `target`.
    Unrelate {
        relation: RelationType,
        target: AssetId,
    },
    /// Record that `source` missed the asset `missed_runs` runs in a row (once, until cleared).
    FlagMissing {
        source: SourceName,
        missed_runs: u32,
    },
    /// Record that `source` delivers the asset again (if it was flagged).
    ClearMissing { source: SourceName },
}

/// Facts looked up before deciding (the aggregate sees one asset).
#[derive(Clone, Copy, Debug, Default)]
pub struct AssetContext<'a> {
    /// The active definition of the asset's class (of the command's class for `Register`);
    /// `None` when the class does not exist or is retired.
    pub class: Option<&'a AssetClassDefinition>,
    /// For `Relate`: the target's lifecycle state, `None` when it does not exist.
    pub relation_target: Option<Lifecycle>,
}

/// Longest lifecycle change reason, in characters.
pub const REASON_CHARS_MAX: usize = 1_000;
