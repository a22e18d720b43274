//! Why an asset command is refused: one variant per broken rule. Nothing is appended.

use super::class::AttributeError;
use super::lifecycle::Lifecycle;
use super::values::{CoreField, RelationType};

/// A refused asset command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssetError {
    #[error("the asset does not exist")]
    NotRegistered,
    #[error("the asset exists already")]
    AlreadyRegistered,
    #[error("the asset is disposed of and accepts no change")]
    Disposed,
    #[error("an asset cannot change from {from:?} to {to:?}")]
    TransitionNotAllowed { from: Lifecycle, to: Lifecycle },
    #[error("the asset class {0:?} does not exist")]
    UnknownClass(String),
    #[error("{0}")]
    Attribute(#[from] AttributeError),
    #[error("{field:?} must be {expected}")]
    InvalidField {
        field: CoreField,
        expected: &'static str,
    },
    #[error("an asset cannot be related to itself")]
    RelationToItself,
    #[error("the relation {0:?} to this asset exists already")]
    RelationExists(RelationType),
    #[error("there is no relation {0:?} to this asset")]
    RelationNotFound(RelationType),
    #[error("the related asset does not exist")]
    UnknownTarget,
    #[error("the related asset is disposed of")]
    TargetDisposed,
    #[error("the asset is not known to the source {0:?}")]
    UnknownSource(String),
    #[error("the reason must be at most 1000 characters")]
    ReasonTooLong,
    #[error("an external id must be 1 to 200 characters")]
    InvalidExternalId,
}

impl AssetError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AssetError::NotRegistered => "asset_not_found",
            AssetError::AlreadyRegistered => "asset_exists",
            AssetError::Disposed => "asset_disposed",
            AssetError::TransitionNotAllowed { .. } => "lifecycle_transition_not_allowed",
            AssetError::UnknownClass(_) => "unknown_asset_class",
            AssetError::Attribute(error) => error.code(),
            AssetError::InvalidField { .. } => "invalid_field",
            AssetError::RelationToItself => "relation_to_itself",
            AssetError::RelationExists(_) => "relation_exists",
            AssetError::RelationNotFound(_) => "relation_not_found",
            AssetError::UnknownTarget => "relation_target_not_found",
            AssetError::TargetDisposed => "relation_target_disposed",
            AssetError::UnknownSource(_) => "unknown_source",
            AssetError::ReasonTooLong => "reason_too_long",
            AssetError::InvalidExternalId => "invalid_external_id",
        }
    }

    /// The field or attribute concerned, if one is.
    pub fn field(&self) -> Option<String> {
        match self {
            AssetError::Attribute(error) => Some(format!("attributes.{}", error.key())),
            AssetError::InvalidField { field, .. } => Some(field.as_str().to_owned()),
            AssetError::UnknownClass(_) => Some("class".to_owned()),
            _ => None,
        }
    }
}
