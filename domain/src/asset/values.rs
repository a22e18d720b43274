//! Values of the asset aggregate, parsed once at the edge.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::AssetError;

/// Namespace of imported assets' ids: `uuid v5(IMPORT_NAMESPACE, "<source>/<external id>")`, so
/// the same row of the same source always names the same asset, in every run and every process.
pub const IMPORT_NAMESPACE: Uuid = Uuid::from_u128(0x2b7e_41d3_6c0a_4f85_9e12_a7c4_58d9_03f6);

/// An asset's id (also its stream id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetId(pub Uuid);

impl AssetId {
    /// The id of the asset a source delivers as `external_id`.
    pub fn imported(source: &SourceName, external_id: &str) -> AssetId {
        AssetId(Uuid::new_v5(
            &IMPORT_NAMESPACE,
            format!("{}/{external_id}", source.as_str()).as_bytes(),
        ))
    }
}

impl std::fmt::Display for AssetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The fixed fields every asset has, besides its class's attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoreField {
    Name,
    InventoryNumber,
    SerialNumber,
    /// The location's code.
    Location,
    /// Who uses it (account name or personnel number).
    User,
    /// Who is responsible for it.
    Owner,
    CostCentre,
}

impl CoreField {
    pub const ALL: [CoreField; 7] = [
        CoreField::Name,
        CoreField::InventoryNumber,
        CoreField::SerialNumber,
        CoreField::Location,
        CoreField::User,
        CoreField::Owner,
        CoreField::CostCentre,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CoreField::Name => "name",
            CoreField::InventoryNumber => "inventory_number",
            CoreField::SerialNumber => "serial_number",
            CoreField::Location => "location",
            CoreField::User => "user",
            CoreField::Owner => "owner",
            CoreField::CostCentre => "cost_centre",
        }
    }

    /// The field of a wire name.
    pub fn parse(text: &str) -> Option<CoreField> {
        CoreField::ALL
            .into_iter()
            .find(|field| field.as_str() == text)
    }

    /// The longest value, in characters.
    pub fn chars_max(self) -> usize {
        match self {
            CoreField::Name | CoreField::Location | CoreField::User | CoreField::Owner => 200,
            CoreField::SerialNumber => 128,
            CoreField::InventoryNumber | CoreField::CostCentre => 64,
        }
    }

    /// Checks a value (trimmed; empty means "none"); the name cannot be empty.
    pub fn check(self, value: Option<&str>) -> Result<Option<String>, AssetError> {
        let value = value.map(str::trim).filter(|text| !text.is_empty());
        let invalid = |expected| AssetError::InvalidField {
            field: self,
            expected,
        };
        match value {
            None if self == CoreField::Name => Err(invalid("a text of 1 to 200 characters")),
            None => Ok(None),
            Some(text) if text.chars().count() > self.chars_max() => Err(invalid(match self {
                CoreField::SerialNumber => "at most 128 characters",
                CoreField::InventoryNumber | CoreField::CostCentre => "at most 64 characters",
                _ => "at most 200 characters",
            })),
            Some(text) if text.chars().any(char::is_control) => {
                Err(invalid("a text without control characters"))
            }
            Some(text) => Ok(Some(text.to_owned())),
        }
    }
}

/// How two assets are related. A relation is recorded on its source asset and visible from both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RelationType {
    /// Software or a service runs on a server or computer.
    RunsOn,
    /// Physically or logically connected (a switch port, a docking station).
    ConnectedTo,
    /// Software installed on a device.
    InstalledOn,
    /// Needs the target to work.
    DependsOn,
    /// Uses a seat of a licence.
    UsesLicence,
    /// Stands at a location.
    LocatedIn,
}

impl RelationType {
    pub const ALL: [RelationType; 6] = [
        RelationType::RunsOn,
        RelationType::ConnectedTo,
        RelationType::InstalledOn,
        RelationType::DependsOn,
        RelationType::UsesLicence,
        RelationType::LocatedIn,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RelationType::RunsOn => "runs_on",
            RelationType::ConnectedTo => "connected_to",
            RelationType::InstalledOn => "installed_on",
            RelationType::DependsOn => "depends_on",
            RelationType::UsesLicence => "uses_licence",
            RelationType::LocatedIn => "located_in",
        }
    }
}

/// The name of an inventory source (`baramundi`, `procurement`): 1 to 64 of `a-z 0-9 - _ .`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourceName(String);

impl SourceName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A source name that is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a source name is 1 to 64 of a-z, 0-9, -, _ and ., starting with a letter or digit")]
pub struct InvalidSourceName;

impl TryFrom<String> for SourceName {
    type Error = InvalidSourceName;
    fn try_from(text: String) -> Result<SourceName, InvalidSourceName> {
        let valid = (1..=64).contains(&text.len())
            && text
                .bytes()
                .next()
                .is_some_and(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
            && text.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"-_.".contains(&byte)
            });
        if valid {
            Ok(SourceName(text))
        } else {
            Err(InvalidSourceName)
        }
    }
}

impl From<SourceName> for String {
    fn from(name: SourceName) -> String {
        name.0
    }
}

/// Where an imported asset comes from: the source and the source's own id of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SourceKey {
    pub source: SourceName,
    pub external_id: String,
}

/// Longest external id, in characters.
pub const EXTERNAL_ID_CHARS_MAX: usize = 200;
