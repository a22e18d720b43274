//! Fixtures shared by the configuration tests (`config`, `access_config`): an in-memory
//! configuration to decide against, and the given/when steps of a configuration item.

use domain::config::{
    decide, references_of, ConfigCommand, ConfigError, ConfigEvent, ConfigItem, ConfigName, Kind,
    References,
};
use serde_json::Value;

/// The item under test when its kind's usual name would clash with the configuration.
pub const NEW: &str = "neu";

/// An in-memory configuration: the active items, as `(kind, name, definition)`.
pub struct Configuration(pub Vec<(Kind, String, Value)>);

impl References for Configuration {
    fn exists(&self, kind: Kind, name: &str) -> bool {
        self.0.iter().any(|(k, n, _)| *k == kind && n == name)
    }

    fn used_by(&self, kind: Kind, name: &str) -> Vec<(Kind, String)> {
        let target = (kind, name.to_owned());
        self.0
            .iter()
            .filter(|(k, _, definition)| references_of(*k, definition).contains(&target))
            .map(|(k, n, _)| (*k, n.clone()))
            .collect()
    }

    fn parent_of(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, n, _)| *k == Kind::OrgUnit && n == name)
            .and_then(|(_, _, definition)| definition.get("parent")?.as_str().map(str::to_owned))
    }
}

pub fn name(text: &str) -> ConfigName {
    ConfigName::try_from(text.to_owned()).expect("valid name")
}

pub fn defined(item: &str, definition: Value) -> ConfigEvent {
    ConfigEvent::Defined {
        name: name(item),
        definition,
    }
}

/// The item its events leave.
pub fn given(events: &[ConfigEvent]) -> ConfigItem {
    events
        .iter()
        .fold(ConfigItem::default(), |item, event| item.apply(event))
}

/// Decides `command` on item `item` of `kind` after `events`, against `configuration`.
pub fn when(
    kind: Kind,
    item: &str,
    events: &[ConfigEvent],
    command: ConfigCommand,
    configuration: &Configuration,
) -> Result<Vec<ConfigEvent>, ConfigError> {
    decide(kind, &name(item), &given(events), &command, configuration)
}

pub fn invalid(reason: &str) -> ConfigError {
    ConfigError::Invalid {
        reason: reason.into(),
    }
}

/// `definition` with `field` set to `value`.
pub fn with(mut definition: Value, field: &str, value: Value) -> Value {
    definition[field] = value;
    definition
}
