//! The service catalog: queues, categories and services with their request forms.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ConfigError;
use crate::ticket::fields::FieldKind;
use crate::ticket::{FieldValueError, TicketType};

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

/// Why the answers to a service's request form are refused; names the form field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// A shown field that must be answered has no answer (missing, `null` or blank).
    #[error("field {key:?} is required")]
    RequiredFieldMissing {
        /// The field's key.
        key: String,
    },
    /// The form has no field with this key.
    #[error("the form has no field {key:?}")]
    UnknownField {
        /// The key answered.
        key: String,
    },
    /// The field is not shown with these answers (its `visible_if` does not hold), so it
    /// cannot be answered.
    #[error("field {key:?} is not shown with these answers")]
    FieldNotVisible {
        /// The field's key.
        key: String,
    },
    /// The answer does not fit the field's kind or options.
    #[error("field {key:?}: {reason}")]
    InvalidFieldValue {
        /// The field's key.
        key: String,
        /// What is wrong with the answer.
        reason: AnswerError,
    },
}

/// What is wrong with one answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The field needs a number.
    #[error("expected a number")]
    ExpectedNumber,
    /// The answer does not fit the text, date, boolean or select kind.
    #[error(transparent)]
    Value(#[from] FieldValueError),
}

impl FormError {
    /// The form field the refusal is about.
    pub fn key(&self) -> &str {
        match self {
            FormError::RequiredFieldMissing { key }
            | FormError::UnknownField { key }
            | FormError::FieldNotVisible { key }
            | FormError::InvalidFieldValue { key, .. } => key,
        }
    }

    /// Stable snake_case name of the broken rule (the ticket's own codes where they mean the
    /// same).
    pub const fn code(&self) -> &'static str {
        match self {
            FormError::RequiredFieldMissing { .. } => "required_field_missing",
            FormError::UnknownField { .. } => "unknown_field",
            FormError::FieldNotVisible { .. } => "field_not_visible",
            FormError::InvalidFieldValue { .. } => "invalid_field_value",
        }
    }
}

impl ServiceDefinition {
    /// Checks the answers to the request form (a new ticket's `fields`), first refusal wins.
    ///
    /// A field is shown when it has no `visible_if`, or when its controlling field is shown and
    /// answered with exactly `equals`. `null` and blank text count as no answer. Every key must
    /// be a field of the form, and only shown fields may be answered; every shown required field
    /// must be answered; an answer fits the field's kind (text and long text: strings within their lengths; number:
    /// a JSON number; date: `YYYY-MM-DD`; boolean: `true`/`false`; select: one of the options).
    pub fn check_answers(&self, answers: &BTreeMap<String, Value>) -> Result<(), FormError> {
        if let Some(key) = answers
            .keys()
            .find(|key| !self.form.iter().any(|field| &field.key == *key))
        {
            return Err(FormError::UnknownField { key: key.clone() });
        }
        let mut shown = BTreeSet::new();
        for field in &self.form {
            let answer = answers.get(&field.key).filter(|answer| is_answer(answer));
            let visible = field.visible_if.as_ref().is_none_or(|condition| {
                shown.contains(condition.field.as_str())
                    && answers.get(&condition.field) == Some(&condition.equals)
            });
            let key = || field.key.clone();
            match (visible, answer) {
                (false, Some(_)) => return Err(FormError::FieldNotVisible { key: key() }),
                (false, None) => continue,
                (true, None) if field.required => {
                    return Err(FormError::RequiredFieldMissing { key: key() })
                }
                (true, None) => {}
                (true, Some(answer)) => field
                    .check(answer)
                    .map_err(|reason| FormError::InvalidFieldValue { key: key(), reason })?,
            }
            shown.insert(field.key.as_str());
        }
        Ok(())
    }
}

impl FormField {
    /// Whether a given answer fits the field's kind (and options).
    fn check(&self, answer: &Value) -> Result<(), AnswerError> {
        let as_ticket_field = match self.kind {
            FormFieldKind::Number if answer.is_number() => return Ok(()),
            FormFieldKind::Number => return Err(AnswerError::ExpectedNumber),
            FormFieldKind::Text => FieldKind::Text,
            FormFieldKind::LongText => FieldKind::LongText,
            FormFieldKind::Date => FieldKind::Date,
            FormFieldKind::Boolean => FieldKind::Boolean,
            FormFieldKind::Select => FieldKind::SingleSelect {
                options: self.options.clone(),
            },
        };
        as_ticket_field.parse(answer)?;
        Ok(())
    }
}

/// `null` and blank text are no answer; anything else (`false` and `0` too) is one.
fn is_answer(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.trim().is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The printer service: which device (a copier asks for its inventory number and whether it
    /// is leased), how many pages, since when, and free text.
    fn printers() -> ServiceDefinition {
        let field = |key: &str, kind: &str| json!({"key": key, "label": {"de": key}, "kind": kind});
        let mut device = field("device", "select");
        device["required"] = json!(true);
        device["options"] = json!(["Drucker", "Kopierer"]);
        let mut inventory_number = field("inventory_number", "text");
        inventory_number["required"] = json!(true);
        inventory_number["visible_if"] = json!({"field": "device", "equals": "Kopierer"});
        let mut leased = field("leased", "boolean");
        leased["visible_if"] = json!({"field": "device", "equals": "Kopierer"});
        let definition = json!({
            "title": {"de": "Drucker"},
            "description": {"de": "Störungen an Druckern und Kopierern"},
            "category": "arbeitsplatz",
            "default_queue": "first-level",
            "default_ticket_type": "incident",
            "sla_policy": "standard",
            "form": [device, inventory_number, leased, field("pages", "number"),
                     field("since", "date"), field("details", "long_text")],
        });
        let service: ServiceDefinition = serde_json::from_value(definition).unwrap();
        service.validate().unwrap();
        service
    }

    fn answers(pairs: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(pairs).unwrap()
    }

    /// Given the printer form, when these answers come, then this outcome.
    #[track_caller]
    fn check(when: Value, then: Result<(), FormError>) {
        assert_eq!(printers().check_answers(&answers(when)), then);
    }

    fn invalid(key: &str, reason: impl Into<AnswerError>) -> Result<(), FormError> {
        Err(FormError::InvalidFieldValue {
            key: key.into(),
            reason: reason.into(),
        })
    }

    #[test]
    fn answers_to_every_shown_field_are_accepted() {
        check(
            json!({"device": "Kopierer", "inventory_number": "INV-4711", "leased": false,
                   "pages": 12.5, "since": "2026-03-02", "details": "Papierstau\nim Fach 2"}),
            Ok(()),
        );
    }

    #[test]
    fn optional_fields_may_be_left_out_or_null() {
        check(json!({"device": "Drucker"}), Ok(()));
        check(
            json!({"device": "Drucker", "pages": null, "since": ""}),
            Ok(()),
        );
    }

    #[test]
    fn a_shown_required_field_needs_an_answer() {
        let missing = |key: &str| Err(FormError::RequiredFieldMissing { key: key.into() });
        check(json!({}), missing("device"));
        check(json!({"device": null}), missing("device"));
        check(json!({"device": "Kopierer"}), missing("inventory_number"));
        check(
            json!({"device": "Kopierer", "inventory_number": "  "}),
            missing("inventory_number"),
        );
    }

    #[test]
    fn false_and_zero_are_answers() {
        let mut service = printers();
        service.form[2].required = true;
        service.form[3].required = true;
        let given = answers(json!({"device": "Kopierer", "inventory_number": "INV-1",
                                   "leased": false, "pages": 0}));
        assert_eq!(service.check_answers(&given), Ok(()));
    }

    #[test]
    fn a_hidden_field_cannot_be_answered() {
        let hidden = |key: &str| Err(FormError::FieldNotVisible { key: key.into() });
        check(
            json!({"device": "Drucker", "inventory_number": "INV-4711"}),
            hidden("inventory_number"),
        );
        check(
            json!({"device": "Drucker", "leased": true}),
            hidden("leased"),
        );
        // Hidden and required: not required, and no answer is no answer.
        check(json!({"device": "Drucker", "inventory_number": ""}), Ok(()));
    }

    #[test]
    fn a_field_below_a_hidden_field_is_hidden_too() {
        let mut service = printers();
        // Shown when the (hidden for printers) inventory number is left blank.
        let mut label = service.form[1].clone();
        label.key = "label_text".into();
        label.visible_if = Some(VisibleIf {
            field: "inventory_number".into(),
            equals: json!(""),
        });
        service.form.push(label);
        service.validate().unwrap();

        let printer = answers(json!({"device": "Drucker", "inventory_number": ""}));
        assert_eq!(service.check_answers(&printer), Ok(()));
        let copier = answers(json!({"device": "Kopierer", "inventory_number": ""}));
        assert_eq!(
            service.check_answers(&copier),
            Err(FormError::RequiredFieldMissing {
                key: "inventory_number".into()
            })
        );
    }

    #[test]
    fn a_key_the_form_does_not_have_is_refused() {
        check(
            json!({"device": "Drucker", "cost_centre": "4711"}),
            Err(FormError::UnknownField {
                key: "cost_centre".into(),
            }),
        );
        check(
            json!({"device": "Drucker", "colour": null}),
            Err(FormError::UnknownField {
                key: "colour".into(),
            }),
        );
    }

    #[test]
    fn a_select_answer_must_be_one_of_the_options() {
        check(
            json!({"device": "Scanner"}),
            invalid(
                "device",
                FieldValueError::UnknownOption {
                    option: "Scanner".into(),
                },
            ),
        );
        check(
            json!({"device": 1}),
            invalid("device", FieldValueError::ExpectedString),
        );
    }

    #[test]
    fn answers_must_fit_the_fields_kind() {
        let device = |pairs: Value| {
            let mut all = json!({"device": "Kopierer", "inventory_number": "INV-1"});
            all.as_object_mut()
                .unwrap()
                .extend(pairs.as_object().unwrap().clone());
            all
        };
        check(
            device(json!({"inventory_number": 4711})),
            invalid("inventory_number", FieldValueError::ExpectedString),
        );
        check(
            device(json!({"inventory_number": "x".repeat(1_001)})),
            invalid("inventory_number", FieldValueError::TooLong { max: 1_000 }),
        );
        check(
            device(json!({"leased": "ja"})),
            invalid("leased", FieldValueError::ExpectedBoolean),
        );
        check(
            device(json!({"pages": "12"})),
            invalid("pages", AnswerError::ExpectedNumber),
        );
        check(
            device(json!({"since": "2026-02-30"})),
            invalid("since", FieldValueError::InvalidDate),
        );
        check(
            device(json!({"since": "2.3.2026"})),
            invalid("since", FieldValueError::InvalidDate),
        );
        check(
            device(json!({"details": ["a"]})),
            invalid("details", FieldValueError::ExpectedString),
        );
    }

    #[test]
    fn every_refusal_names_its_field_and_a_stable_code() {
        let key = || "device".to_owned();
        let refusals = [
            (
                FormError::RequiredFieldMissing { key: key() },
                "required_field_missing",
            ),
            (FormError::UnknownField { key: key() }, "unknown_field"),
            (
                FormError::FieldNotVisible { key: key() },
                "field_not_visible",
            ),
            (
                FormError::InvalidFieldValue {
                    key: key(),
                    reason: AnswerError::ExpectedNumber,
                },
                "invalid_field_value",
            ),
        ];
        for (error, code) in refusals {
            assert_eq!((error.key(), error.code()), ("device", code));
        }
    }
}
