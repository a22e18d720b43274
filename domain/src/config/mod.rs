//! Configuration as event-sourced aggregates (issue 4 §1): queues, catalog categories and
//! services, business calendars and SLA policies, asset classes (issue 5), and teams and
//! organisation units (issue 6). Each item is a stream of its own, named by its
//! kind and name; every change records the complete new definition with who and when, so every
//! past SLA result can be reproduced with the configuration that was valid then (the stream
//! version is the item's version).
//!
//! [`decide`] validates a definition — on its own and against the names the configuration holds
//! ([`References`]) — and answers the events; a definition equal to the current one appends
//! nothing. Pure, like the ticket aggregate.

pub mod access;
pub mod catalog;
pub mod sla;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::asset::AssetClassDefinition;
use crate::calendar::{BusinessCalendar, CalendarDefinition};
use access::{OrgUnitDefinition, TeamDefinition};
use catalog::{CategoryDefinition, QueueDefinition, ServiceDefinition};
use sla::SlaPolicyDefinition;

/// The kinds of configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Queue,
    Category,
    Service,
    Calendar,
    SlaPolicy,
    /// A class of assets in the CMDB with its typed attributes (issue 5).
    AssetClass,
    /// An organisation unit, below its parent (issue 6).
    OrgUnit,
    /// A team with its members and rights per queue (issue 6).
    Team,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Queue,
        Kind::Category,
        Kind::Service,
        Kind::Calendar,
        Kind::SlaPolicy,
        Kind::AssetClass,
        Kind::OrgUnit,
        Kind::Team,
    ];

    /// The stream type of its items (also the prefix of its event types).
    pub fn stream_type(self) -> &'static str {
        match self {
            Kind::Queue => "queue",
            Kind::Category => "category",
            Kind::Service => "service",
            Kind::Calendar => "calendar",
            Kind::SlaPolicy => "sla_policy",
            Kind::AssetClass => "asset_class",
            Kind::OrgUnit => "org_unit",
            Kind::Team => "team",
        }
    }

    /// The URL segment of its collection (`/api/v1/config/<segment>/<name>`).
    pub fn segment(self) -> &'static str {
        match self {
            Kind::Queue => "queues",
            Kind::Category => "categories",
            Kind::Service => "services",
            Kind::Calendar => "calendars",
            Kind::SlaPolicy => "sla-policies",
            Kind::AssetClass => "asset-classes",
            Kind::OrgUnit => "org-units",
            Kind::Team => "teams",
        }
    }

    /// The kind of a URL segment.
    pub fn from_segment(segment: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.segment() == segment)
    }

    /// The kind of a stream type.
    pub fn from_stream_type(stream_type: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.stream_type() == stream_type)
    }

    /// `<stream type>.defined`.
    pub fn defined_event(self) -> &'static str {
        match self {
            Kind::Queue => "queue.defined",
            Kind::Category => "category.defined",
            Kind::Service => "service.defined",
            Kind::Calendar => "calendar.defined",
            Kind::SlaPolicy => "sla_policy.defined",
            Kind::AssetClass => "asset_class.defined",
            Kind::OrgUnit => "org_unit.defined",
            Kind::Team => "team.defined",
        }
    }

    /// `<stream type>.retired`.
    pub fn retired_event(self) -> &'static str {
        match self {
            Kind::Queue => "queue.retired",
            Kind::Category => "category.retired",
            Kind::Service => "service.retired",
            Kind::Calendar => "calendar.retired",
            Kind::SlaPolicy => "sla_policy.retired",
            Kind::AssetClass => "asset_class.retired",
            Kind::OrgUnit => "org_unit.retired",
            Kind::Team => "team.retired",
        }
    }
}

/// The name of a configuration item: 1 to 64 of `a-z 0-9 - _ .`, starting with a letter or digit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConfigName(String);

impl ConfigName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ConfigName {
    type Error = ConfigError;
    fn try_from(text: String) -> Result<ConfigName, ConfigError> {
        let valid = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .next()
                .is_some_and(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
            && text.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"-_.".contains(&byte)
            });
        if valid {
            Ok(ConfigName(text))
        } else {
            Err(ConfigError::InvalidName(text))
        }
    }
}

impl From<ConfigName> for String {
    fn from(name: ConfigName) -> String {
        name.0
    }
}

impl std::fmt::Display for ConfigName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What happened to a configuration item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConfigEvent {
    /// Created, changed or reactivated: the complete definition now valid.
    Defined { name: ConfigName, definition: Value },
    /// No longer offered; kept for the history and for the tickets that use it.
    Retired { name: ConfigName },
}

/// What an administrator asks.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigCommand {
    Define { definition: Value },
    Retire,
}

/// A configuration item as its events leave it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigItem {
    pub version: u64,
    pub definition: Option<Value>,
    pub retired: bool,
}

impl ConfigItem {
    /// The item after one more event.
    pub fn apply(mut self, event: &ConfigEvent) -> ConfigItem {
        self.version += 1;
        match event {
            ConfigEvent::Defined { definition, .. } => {
                self.definition = Some(definition.clone());
                self.retired = false;
            }
            ConfigEvent::Retired { .. } => self.retired = true,
        }
        self
    }

    /// Whether the item exists and is not retired.
    pub fn is_active(&self) -> bool {
        self.definition.is_some() && !self.retired
    }
}

/// Which other items exist (active), for the references a definition makes.
pub trait References {
    fn exists(&self, kind: Kind, name: &str) -> bool;
    /// The active items (of any kind) that refer to `name` of `kind` (to refuse retiring what is
    /// in use).
    fn used_by(&self, kind: Kind, name: &str) -> Vec<(Kind, String)>;
    /// The parent of the active organisation unit `name`, if it has one (to refuse cycles).
    fn parent_of(&self, _name: &str) -> Option<String> {
        None
    }
}

/// Why a configuration command is refused. Nothing is appended.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "invalid name {0:?}: 1 to 64 of a-z, 0-9, -, _ and ., starting with a letter or digit"
    )]
    InvalidName(String),
    #[error("the definition does not fit: {reason}")]
    Malformed { reason: String },
    #[error("{reason}")]
    Invalid { reason: String },
    #[error("{0}")]
    Calendar(#[from] crate::calendar::CalendarError),
    #[error("{reason}")]
    NeverMatches { reason: String },
    #[error("{field} names the {kind} {name:?}, which does not exist")]
    MissingReference {
        field: &'static str,
        kind: &'static str,
        name: String,
    },
    #[error("{kind} {name:?} is not defined")]
    NotDefined { kind: &'static str, name: String },
    #[error("still used by {users}")]
    InUse { users: String },
}

impl ConfigError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::InvalidName(_) => "invalid_name",
            ConfigError::Malformed { .. } => "invalid_definition",
            ConfigError::Invalid { .. } => "invalid_definition",
            ConfigError::Calendar(error) => error.code(),
            ConfigError::NeverMatches { .. } => "policy_never_matches",
            ConfigError::MissingReference { .. } => "missing_reference",
            ConfigError::NotDefined { .. } => "config_not_found",
            ConfigError::InUse { .. } => "config_in_use",
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(definition: &Value) -> Result<T, ConfigError> {
    serde_json::from_value(definition.clone()).map_err(|error| ConfigError::Malformed {
        reason: error.to_string(),
    })
}

/// Checks a definition of item `name` of `kind` on its own and against `references`; answers it
/// normalized (defaults filled in), as it will be stored.
pub fn validate(
    kind: Kind,
    name: &ConfigName,
    definition: &Value,
    references: &dyn References,
) -> Result<Value, ConfigError> {
    let require = |field: &'static str, target: Kind, name: &str| {
        if references.exists(target, name) {
            Ok(())
        } else {
            Err(ConfigError::MissingReference {
                field,
                kind: target.stream_type(),
                name: name.to_owned(),
            })
        }
    };
    let normalized = match kind {
        Kind::Queue => {
            let queue: QueueDefinition = parse(definition)?;
            queue.validate()?;
            serde_json::to_value(queue)
        }
        Kind::Category => {
            let category: CategoryDefinition = parse(definition)?;
            category.validate()?;
            serde_json::to_value(category)
        }
        Kind::Calendar => {
            let calendar: CalendarDefinition = parse(definition)?;
            BusinessCalendar::new(&calendar)?;
            serde_json::to_value(calendar)
        }
        Kind::SlaPolicy => {
            let policy: SlaPolicyDefinition = parse(definition)?;
            policy.validate()?;
            require("calendar", Kind::Calendar, &policy.calendar)?;
            serde_json::to_value(policy)
        }
        Kind::AssetClass => {
            let class: AssetClassDefinition = parse(definition)?;
            class.validate()?;
            serde_json::to_value(class)
        }
        Kind::Service => {
            let service: ServiceDefinition = parse(definition)?;
            service.validate()?;
            require("category", Kind::Category, &service.category)?;
            require("default_queue", Kind::Queue, &service.default_queue)?;
            require("sla_policy", Kind::SlaPolicy, &service.sla_policy)?;
            serde_json::to_value(service)
        }
        Kind::OrgUnit => {
            let unit: OrgUnitDefinition = parse(definition)?;
            unit.validate()?;
            if let Some(parent) = &unit.parent {
                require("parent", Kind::OrgUnit, parent)?;
                refuse_cycle(name, parent, references)?;
            }
            serde_json::to_value(unit)
        }
        Kind::Team => {
            let team = parse::<TeamDefinition>(definition)?.validate()?;
            for queue in team.queues.keys() {
                require("queues", Kind::Queue, queue)?;
            }
            serde_json::to_value(team)
        }
    };
    normalized.map_err(|error| ConfigError::Malformed {
        reason: error.to_string(),
    })
}

/// Decides a command on item `name` of `kind` in state `current`.
pub fn decide(
    kind: Kind,
    name: &ConfigName,
    current: &ConfigItem,
    command: &ConfigCommand,
    references: &dyn References,
) -> Result<Vec<ConfigEvent>, ConfigError> {
    match command {
        ConfigCommand::Define { definition } => {
            let definition = validate(kind, name, definition, references)?;
            if current.is_active() && current.definition.as_ref() == Some(&definition) {
                return Ok(Vec::new());
            }
            Ok(vec![ConfigEvent::Defined {
                name: name.clone(),
                definition,
            }])
        }
        ConfigCommand::Retire => {
            if !current.is_active() {
                return Err(ConfigError::NotDefined {
                    kind: kind.stream_type(),
                    name: name.to_string(),
                });
            }
            let users = references.used_by(kind, name.as_str());
            if !users.is_empty() {
                return Err(ConfigError::InUse {
                    users: users
                        .iter()
                        .map(|(kind, name)| format!("{} {name}", kind.stream_type()))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            Ok(vec![ConfigEvent::Retired { name: name.clone() }])
        }
    }
}

/// Refuses org unit `name` below `parent` if it would become its own ancestor.
fn refuse_cycle(
    name: &ConfigName,
    parent: &str,
    references: &dyn References,
) -> Result<(), ConfigError> {
    let mut chain = vec![name.to_string()];
    let mut next = Some(parent.to_owned());
    while let Some(ancestor) = next {
        // A chain that closes on something other than `name` was stored before; not ours to refuse.
        let known = chain.contains(&ancestor);
        chain.push(ancestor.clone());
        if ancestor == name.as_str() {
            return Err(ConfigError::Invalid {
                reason: format!(
                    "parent: org unit {name} would be its own ancestor ({})",
                    chain.join(" → ")
                ),
            });
        }
        if known {
            break;
        }
        next = references.parent_of(&ancestor);
    }
    Ok(())
}

/// The names a definition of `kind` refers to, as `(kind, name)` (for [`References::used_by`]).
pub fn references_of(kind: Kind, definition: &Value) -> Vec<(Kind, String)> {
    let text = |field: &str| {
        definition
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut out = Vec::new();
    match kind {
        Kind::SlaPolicy => out.extend(text("calendar").map(|name| (Kind::Calendar, name))),
        Kind::Service => {
            out.extend(text("category").map(|name| (Kind::Category, name)));
            out.extend(text("default_queue").map(|name| (Kind::Queue, name)));
            out.extend(text("sla_policy").map(|name| (Kind::SlaPolicy, name)));
        }
        Kind::OrgUnit => out.extend(text("parent").map(|name| (Kind::OrgUnit, name))),
        Kind::Team => out.extend(
            definition
                .get("queues")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|queues| queues.keys())
                .map(|queue| (Kind::Queue, queue.clone())),
        ),
        Kind::Queue | Kind::Category | Kind::Calendar | Kind::AssetClass => {}
    }
    out
}
