//! The service catalog: queues, categories and services with their request forms.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::ticket::TicketType;

/// A text in German, and optionally English (shown in German where English is missing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub de: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl Localized {
    pub(crate) fn check(&self, field: &str, max: usize) -> Result<(), ConfigError> {
        for text in std::iter::once(&self.de).chain(self.en.as_ref()) {
            if text.trim().is_empty() || text.chars().count() > max {
                return Err(ConfigError::Invalid {
                    reason: format!("{field} must be 1 to {max} characters in each language"),
                });
            }
        }
        Ok(())
    }
}

/// A queue tickets wait in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDefinition {
    pub title: Localized,
}

impl QueueDefinition {
    /// A title in each language given.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.title.check("title", 200)
    }
}

/// A group of services in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryDefinition {
    pub title: Localized,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Localized>,
    /// Display order within the catalog (ascending).
    #[serde(default)]
    pub order: u16,
}

impl CategoryDefinition {
    /// A title, and a description if given, in each language given.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.title.check("title", 200)?;
        if let Some(description) = &self.description {
            description.check("description", 4_000)?;
        }
        Ok(())
    }
}

/// The kind of a request form field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormFieldKind {
    Text,
    LongText,
    Number,
    Date,
    Boolean,
    Select,
}

/// Show a field only when an earlier field has a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisibleIf {
    pub field: String,
    pub equals: serde_json::Value,
}

/// One field of a service's request form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// The dynamic field the answer is stored in.
    pub key: String,
    pub label: Localized,
    pub kind: FormFieldKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<Localized>,
    /// For `select`: the choices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_if: Option<VisibleIf>,
}

/// A service of the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDefinition {
    pub title: Localized,
    pub description: Localized,
    pub category: String,
    pub default_queue: String,
    pub default_ticket_type: TicketType,
    /// The SLA policy of its tickets.
    pub sla_policy: String,
    /// The request form, in display order.
    #[serde(default)]
    pub form: Vec<FormField>,
}

/// Most fields one form shows.
pub const FORM_FIELDS_MAX: usize = 50;

impl ServiceDefinition {
    /// Checks what the service alone can tell (its references are checked against the
    /// configuration): texts, unique field keys, select fields with options, and conditions that
    /// refer to an earlier field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid { reason };
        self.title.check("title", 200)?;
        self.description.check("description", 4_000)?;
        if !matches!(
            self.default_ticket_type,
            TicketType::Incident | TicketType::ServiceRequest
        ) {
            return Err(invalid(
                "default_ticket_type must be incident or service_request".into(),
            ));
        }
        if self.form.len() > FORM_FIELDS_MAX {
            return Err(invalid(format!(
                "a form has at most {FORM_FIELDS_MAX} fields"
            )));
        }
        let mut keys = BTreeSet::new();
        for (index, field) in self.form.iter().enumerate() {
            let key_ok = !field.key.is_empty()
                && field.key.len() <= 64
                && field
                    .key
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
            if !key_ok {
                return Err(invalid(format!(
                    "form[{index}].key must be 1 to 64 of a-z, 0-9 and _"
                )));
            }
            field.label.check(&format!("form[{index}].label"), 200)?;
            if let Some(help) = &field.help {
                help.check(&format!("form[{index}].help"), 1_000)?;
            }
            match (field.kind, field.options.is_empty()) {
                (FormFieldKind::Select, true) => {
                    return Err(invalid(format!(
                        "form[{index}] is a select without options"
                    )))
                }
                (FormFieldKind::Select, false) => {
                    let distinct: BTreeSet<&str> =
                        field.options.iter().map(String::as_str).collect();
                    if distinct.len() != field.options.len()
                        || field.options.iter().any(|option| option.trim().is_empty())
                    {
                        return Err(invalid(format!(
                            "form[{index}].options must be distinct and not empty"
                        )));
                    }
                }
                (_, false) => {
                    return Err(invalid(format!(
                        "form[{index}] has options but is not a select"
                    )))
                }
                (_, true) => {}
            }
            if let Some(condition) = &field.visible_if {
                if !keys.contains(condition.field.as_str()) {
                    return Err(invalid(format!(
                        "form[{index}].visible_if names {:?}, which is not an earlier field",
                        condition.field
                    )));
                }
            }
            if !keys.insert(field.key.as_str()) {
                return Err(invalid(format!(
                    "form[{index}].key {:?} is used twice",
                    field.key
                )));
            }
        }
        Ok(())
    }
}
