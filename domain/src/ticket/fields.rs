//! Dynamic ticket fields: typed definitions from the policy and values checked against them.

use chrono::{DateTime, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::FieldValueError;

/// Longest value of a text field in characters.
pub const TEXT_CHARS_MAX: usize = 1_000;
/// Longest value of a long-text field in characters.
pub const LONG_TEXT_CHARS_MAX: usize = 65_536;
/// Longest decimal in characters (sign, digits and point).
pub const DECIMAL_CHARS_MAX: usize = 40;
/// Longest user or asset reference in characters.
pub const REFERENCE_CHARS_MAX: usize = 200;

/// The type of a dynamic field and, for selections, the allowed options.
///
/// In configuration the kind is flattened into the definition:
/// `{"key": "contact", "kind": "single_select", "options": ["email", "phone"]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldKind {
    /// One line of text, at most 1,000 characters.
    Text,
    /// Free text, at most 65,536 characters.
    LongText,
    /// A whole number (JSON integer, 64 bit).
    Integer,
    /// A decimal number written as a string (`"12.50"`), never a float.
    Decimal,
    /// A calendar date `YYYY-MM-DD`.
    Date,
    /// An instant in RFC 3339 form.
    DateTime,
    /// True or false.
    Boolean,
    /// Exactly one of the options.
    SingleSelect {
        /// The allowed options.
        options: Vec<String>,
    },
    /// Any number of distinct options.
    MultiSelect {
        /// The allowed options.
        options: Vec<String>,
    },
    /// The id of a user.
    UserReference,
    /// The id of an asset.
    AssetReference,
}

/// A dynamic field a ticket may carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDefinition {
    /// Key of the field in `fields`.
    pub key: String,
    /// Type of its value.
    #[serde(flatten)]
    pub kind: FieldKind,
    /// Whether a ticket must have it from the start.
    #[serde(default)]
    pub required: bool,
}

/// A checked field value. It keeps the JSON shape; its meaning comes from the definition.
///
/// Decimals, dates, date-times, references and single selections are strings; there are no
/// floats, so stored events never lose precision.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// Boolean fields.
    Boolean(bool),
    /// Integer fields.
    Integer(i64),
    /// Every field written as a string.
    Text(String),
    /// Multi-select fields.
    Options(Vec<String>),
}

impl FieldKind {
    /// Checks a JSON value against this kind and returns the value to store.
    pub fn parse(&self, value: &Value) -> Result<FieldValue, FieldValueError> {
        let text = || value.as_str().ok_or(FieldValueError::ExpectedString);
        match self {
            Self::Integer => value
                .as_i64()
                .map(FieldValue::Integer)
                .ok_or(FieldValueError::ExpectedInteger),
            Self::Boolean => value
                .as_bool()
                .map(FieldValue::Boolean)
                .ok_or(FieldValueError::ExpectedBoolean),
            Self::MultiSelect { options } => parse_options(value, options),
            Self::Text => check_length(text()?, TEXT_CHARS_MAX),
            Self::LongText => check_length(text()?, LONG_TEXT_CHARS_MAX),
            Self::Decimal => check_decimal(text()?),
            Self::Date => check_date(text()?),
            Self::DateTime => check_date_time(text()?),
            Self::SingleSelect { options } => check_option(text()?, options),
            Self::UserReference | Self::AssetReference => check_reference(text()?),
        }
    }
}

/// Turns a checked string into the value to store.
fn checked_text(text: &str) -> FieldValue {
    FieldValue::Text(text.to_owned())
}

fn check_length(text: &str, max: usize) -> Result<FieldValue, FieldValueError> {
    if text.chars().count() > max {
        return Err(FieldValueError::TooLong { max });
    }
    Ok(checked_text(text))
}

/// `-?digits(.digits)?`, at most [`DECIMAL_CHARS_MAX`] characters.
fn check_decimal(text: &str) -> Result<FieldValue, FieldValueError> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    if text.len() > DECIMAL_CHARS_MAX || !digits(whole) || !digits(fraction) {
        return Err(FieldValueError::InvalidDecimal);
    }
    Ok(checked_text(text))
}

/// Exactly `YYYY-MM-DD` and a real day.
fn check_date(text: &str) -> Result<FieldValue, FieldValueError> {
    let shaped = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    if !shaped || NaiveDate::parse_from_str(text, "%Y-%m-%d").is_err() {
        return Err(FieldValueError::InvalidDate);
    }
    Ok(checked_text(text))
}

/// An RFC 3339 instant, kept as written.
fn check_date_time(text: &str) -> Result<FieldValue, FieldValueError> {
    DateTime::parse_from_rfc3339(text).map_err(|_| FieldValueError::InvalidDateTime)?;
    Ok(checked_text(text))
}

fn check_option(text: &str, options: &[String]) -> Result<FieldValue, FieldValueError> {
    if !options.iter().any(|option| option == text) {
        return Err(FieldValueError::UnknownOption {
            option: text.to_owned(),
        });
    }
    Ok(checked_text(text))
}

fn check_reference(text: &str) -> Result<FieldValue, FieldValueError> {
    if text.trim().is_empty() {
        return Err(FieldValueError::EmptyReference);
    }
    check_length(text, REFERENCE_CHARS_MAX)
}

/// An array of distinct strings, each one of the options.
fn parse_options(value: &Value, options: &[String]) -> Result<FieldValue, FieldValueError> {
    let items = value.as_array().ok_or(FieldValueError::ExpectedArray)?;
    let mut chosen: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let text = item.as_str().ok_or(FieldValueError::ExpectedString)?;
        check_option(text, options)?;
        if chosen.iter().any(|seen| seen == text) {
            return Err(FieldValueError::DuplicateOption {
                option: text.to_owned(),
            });
        }
        chosen.push(text.to_owned());
    }
    Ok(FieldValue::Options(chosen))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(kind: FieldKind, value: Value) -> Result<FieldValue, FieldValueError> {
        kind.parse(&value)
    }

    fn select() -> Vec<String> {
        vec!["email".into(), "phone".into()]
    }

    #[test]
    fn text_fields_are_strings_of_limited_length() {
        assert_eq!(
            parse(FieldKind::Text, json!("4711")),
            Ok(FieldValue::Text("4711".into()))
        );
        assert_eq!(
            parse(FieldKind::Text, json!(4711)),
            Err(FieldValueError::ExpectedString)
        );
        let long = json!("x".repeat(1_001));
        assert_eq!(
            parse(FieldKind::Text, long.clone()),
            Err(FieldValueError::TooLong { max: 1_000 })
        );
        assert!(parse(FieldKind::LongText, long).is_ok());
    }

    #[test]
    fn integers_are_json_integers_not_floats() {
        assert_eq!(
            parse(FieldKind::Integer, json!(-3)),
            Ok(FieldValue::Integer(-3))
        );
        assert_eq!(
            parse(FieldKind::Integer, json!(1.5)),
            Err(FieldValueError::ExpectedInteger)
        );
        assert_eq!(
            parse(FieldKind::Integer, json!("3")),
            Err(FieldValueError::ExpectedInteger)
        );
    }

    #[test]
    fn decimals_are_strings_of_digits() {
        for good in ["12.50", "-0.5", "7"] {
            assert_eq!(
                parse(FieldKind::Decimal, json!(good)),
                Ok(FieldValue::Text(good.into()))
            );
        }
        for bad in ["12.", ".5", "1e3", "", "-", "1,5", "1.2.3"] {
            assert_eq!(
                parse(FieldKind::Decimal, json!(bad)),
                Err(FieldValueError::InvalidDecimal),
                "{bad}"
            );
        }
        assert_eq!(
            parse(FieldKind::Decimal, json!(12.5)),
            Err(FieldValueError::ExpectedString)
        );
    }

    #[test]
    fn dates_and_date_times_must_be_real() {
        assert!(parse(FieldKind::Date, json!("2026-02-28")).is_ok());
        for bad in ["2026-02-30", "2026-2-28", "28.02.2026"] {
            assert_eq!(
                parse(FieldKind::Date, json!(bad)),
                Err(FieldValueError::InvalidDate),
                "{bad}"
            );
        }
        assert!(parse(FieldKind::DateTime, json!("2026-02-28T10:00:00+01:00")).is_ok());
        let bad = parse(FieldKind::DateTime, json!("2026-02-28 10:00"));
        assert_eq!(bad, Err(FieldValueError::InvalidDateTime));
    }

    #[test]
    fn booleans_are_json_booleans() {
        assert_eq!(
            parse(FieldKind::Boolean, json!(true)),
            Ok(FieldValue::Boolean(true))
        );
        assert_eq!(
            parse(FieldKind::Boolean, json!("true")),
            Err(FieldValueError::ExpectedBoolean)
        );
    }

    #[test]
    fn selections_must_use_the_options() {
        let single = FieldKind::SingleSelect { options: select() };
        assert!(parse(single.clone(), json!("phone")).is_ok());
        let unknown = FieldValueError::UnknownOption {
            option: "fax".into(),
        };
        assert_eq!(parse(single, json!("fax")), Err(unknown));
        let multi = FieldKind::MultiSelect { options: select() };
        let both = FieldValue::Options(vec!["phone".into(), "email".into()]);
        assert_eq!(parse(multi.clone(), json!(["phone", "email"])), Ok(both));
        let duplicate = FieldValueError::DuplicateOption {
            option: "phone".into(),
        };
        assert_eq!(
            parse(multi.clone(), json!(["phone", "phone"])),
            Err(duplicate)
        );
        assert_eq!(
            parse(multi, json!("phone")),
            Err(FieldValueError::ExpectedArray)
        );
    }

    #[test]
    fn references_are_non_empty_ids() {
        assert!(parse(FieldKind::UserReference, json!("k.meier")).is_ok());
        assert_eq!(
            parse(FieldKind::AssetReference, json!(" ")),
            Err(FieldValueError::EmptyReference)
        );
    }

    #[test]
    fn definitions_read_from_flat_configuration() {
        let json =
            json!({"key": "contact", "kind": "single_select", "options": ["email", "phone"]});
        let definition: FieldDefinition = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(
            definition.kind,
            FieldKind::SingleSelect { options: select() }
        );
        assert!(!definition.required);
        let mut expected = json;
        expected["required"] = json!(false);
        assert_eq!(serde_json::to_value(&definition).unwrap(), expected);
    }
}
