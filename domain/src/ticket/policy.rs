//! Configurable ticket rules (priority matrix, reopen window, field definitions) and the
//! context a decision is made in.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fields::{FieldDefinition, FieldKind};
use super::priority::PriorityMatrix;

/// Default reopen window: seven days.
pub const REOPEN_WINDOW_DEFAULT_S: i64 = 7 * 24 * 60 * 60;

/// The rules an organisation configures. Missing keys take their defaults.
///
/// ```json
/// {"priority_matrix": {…}, "reopen_window_s": 604800,
///  "field_definitions": [{"key": "cost_centre", "kind": "text"}]}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TicketPolicy {
    /// Impact × urgency → priority.
    pub priority_matrix: PriorityMatrix,
    /// How long after resolution a ticket can be reopened; seconds in configuration.
    #[serde(rename = "reopen_window_s", with = "seconds")]
    pub reopen_window: Duration,
    /// The dynamic fields tickets may carry.
    pub field_definitions: Vec<FieldDefinition>,
}

impl TicketPolicy {
    /// The definition of a dynamic field, if the policy has one.
    pub fn field_definition(&self, key: &str) -> Option<&FieldDefinition> {
        self.field_definitions
            .iter()
            .find(|definition| definition.key == key)
    }
}

impl Default for TicketPolicy {
    fn default() -> Self {
        Self {
            priority_matrix: PriorityMatrix::default(),
            reopen_window: Duration::seconds(REOPEN_WINDOW_DEFAULT_S),
            field_definitions: example_field_definitions(),
        }
    }
}

/// A few optional fields that show each kind of definition.
fn example_field_definitions() -> Vec<FieldDefinition> {
    let optional = |key: &str, kind| FieldDefinition {
        key: key.to_owned(),
        kind,
        required: false,
    };
    let options = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect();
    vec![
        optional("cost_centre", FieldKind::Text),
        optional("affected_users", FieldKind::Integer),
        optional("estimated_cost", FieldKind::Decimal),
        optional("due_date", FieldKind::Date),
        optional(
            "contact_preference",
            FieldKind::SingleSelect {
                options: options(&["email", "phone"]),
            },
        ),
        optional(
            "affected_locations",
            FieldKind::MultiSelect {
                options: options(&["berlin", "bonn", "hamburg"]),
            },
        ),
        optional("affected_asset", FieldKind::AssetReference),
    ]
}

/// `Duration` as whole, non-negative seconds.
mod seconds {
    use super::{Deserialize, Deserializer, Duration, Serializer};

    pub(super) fn serialize<S: Serializer>(
        duration: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(duration.num_seconds())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let seconds = u32::deserialize(deserializer)?;
        Ok(Duration::seconds(i64::from(seconds)))
    }
}

/// What a decision may know besides the state and the command: the time and the rules.
#[derive(Clone, Copy, Debug)]
pub struct DecisionContext<'a> {
    /// The current time, read by the caller.
    pub now: DateTime<Utc>,
    /// The rules in force.
    pub policy: &'a TicketPolicy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_reads_partial_configuration_with_defaults() {
        let policy: TicketPolicy = serde_json::from_str(r#"{"reopen_window_s": 3600}"#).unwrap();
        assert_eq!(policy.reopen_window, Duration::hours(1));
        assert_eq!(policy.priority_matrix, PriorityMatrix::default());
        assert!(serde_json::from_str::<TicketPolicy>(r#"{"reopen_window_s": -1}"#).is_err());
        assert!(serde_json::from_str::<TicketPolicy>(r#"{"reopen_window": 1}"#).is_err());
    }

    #[test]
    fn policy_round_trips_through_json() {
        let policy = TicketPolicy::default();
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(serde_json::from_str::<TicketPolicy>(&json).unwrap(), policy);
        assert_eq!(policy.reopen_window, Duration::days(7));
    }
}
