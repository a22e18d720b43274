//! Asset classes (issue 5 §1): versioned definitions of the typed attributes an asset of the
//! class carries. A class is a configuration item (`domain::config::Kind::AssetClass`), so an
//! administrator adds classes and attributes at run time, and every change is an event.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::config::catalog::Localized;
use crate::config::ConfigError;

/// Attributes one class may define.
pub const ATTRIBUTES_MAX: usize = 100;
/// Longest text attribute value, in characters.
pub const TEXT_CHARS_MAX: usize = 1_000;
/// Longest person or location reference, in characters.
pub const REFERENCE_CHARS_MAX: usize = 200;
/// Options one select attribute may offer.
pub const OPTIONS_MAX: usize = 200;

/// What an attribute holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeType {
    Text,
    Number,
    /// A calendar date, stored as `YYYY-MM-DD`.
    Date,
    Boolean,
    /// One of the attribute's `options`.
    Select,
    /// The id of another asset.
    AssetRef,
    /// A person's account name or personnel number.
    PersonRef,
    /// A location's code (the inventory number of an asset of class `location`).
    LocationRef,
}

/// One typed attribute of a class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeDefinition {
    /// The attribute's key: 1 to 64 of `a-z 0-9 _`, starting with a letter.
    pub key: String,
    #[serde(rename = "type")]
    pub attribute_type: AttributeType,
    pub label: Localized,
    /// Whether an asset of the class must carry it.
    #[serde(default)]
    pub required: bool,
    /// The allowed values of a select attribute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// An asset class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetClassDefinition {
    pub title: Localized,
    #[serde(default)]
    pub attributes: Vec<AttributeDefinition>,
}

/// Why an attribute value does not fit its class. The key names the attribute.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    #[error("the class has no attribute {key:?}")]
    Unknown { key: String },
    #[error("attribute {key:?} must be {expected}")]
    WrongType { key: String, expected: &'static str },
    #[error("attribute {key:?} must be one of its options; {value:?} is not")]
    NotAnOption { key: String, value: String },
    #[error("attribute {key:?} is required")]
    Required { key: String },
}

impl AttributeError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AttributeError::Unknown { .. } => "unknown_attribute",
            AttributeError::WrongType { .. } => "attribute_type_mismatch",
            AttributeError::NotAnOption { .. } => "attribute_not_an_option",
            AttributeError::Required { .. } => "attribute_required",
        }
    }

    /// The attribute concerned.
    pub fn key(&self) -> &str {
        match self {
            AttributeError::Unknown { key }
            | AttributeError::WrongType { key, .. }
            | AttributeError::NotAnOption { key, .. }
            | AttributeError::Required { key } => key,
        }
    }
}

fn valid_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .next()
            .is_some_and(|byte| byte.is_ascii_lowercase())
        && key
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

impl AssetClassDefinition {
    /// A title, distinct valid keys, options exactly for select attributes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.title.check("title", 200)?;
        let invalid = |reason: String| Err(ConfigError::Invalid { reason });
        if self.attributes.len() > ATTRIBUTES_MAX {
            return invalid(format!("a class has at most {ATTRIBUTES_MAX} attributes"));
        }
        let mut keys = BTreeSet::new();
        for attribute in &self.attributes {
            if !valid_key(&attribute.key) {
                return invalid(format!(
                    "attribute key {:?} must be 1 to 64 of a-z, 0-9 and _, starting with a letter",
                    attribute.key
                ));
            }
            if !keys.insert(attribute.key.as_str()) {
                return invalid(format!("attribute {:?} is defined twice", attribute.key));
            }
            attribute.label.check("label", 200)?;
            let select = attribute.attribute_type == AttributeType::Select;
            let options: BTreeSet<&String> = attribute.options.iter().collect();
            if select
                && (options.is_empty()
                    || options.len() != attribute.options.len()
                    || attribute.options.len() > OPTIONS_MAX
                    || attribute
                        .options
                        .iter()
                        .any(|option| option.trim().is_empty()))
            {
                return invalid(format!(
                    "select attribute {:?} needs 1 to {OPTIONS_MAX} distinct non-empty options",
                    attribute.key
                ));
            }
            if !select && !attribute.options.is_empty() {
                return invalid(format!(
                    "only select attributes have options; {:?} is not one",
                    attribute.key
                ));
            }
        }
        Ok(())
    }

    /// The attribute `key`.
    pub fn attribute(&self, key: &str) -> Option<&AttributeDefinition> {
        self.attributes
            .iter()
            .find(|attribute| attribute.key == key)
    }

    /// Checks one JSON value of attribute `key`; answers it normalized.
    pub fn check_value(&self, key: &str, value: &Value) -> Result<Value, AttributeError> {
        let attribute = self.attribute(key).ok_or_else(|| AttributeError::Unknown {
            key: key.to_owned(),
        })?;
        attribute.check_value(value)
    }

    /// Parses the text of a CSV cell for attribute `key`.
    pub fn parse_text(&self, key: &str, text: &str) -> Result<Value, AttributeError> {
        let attribute = self.attribute(key).ok_or_else(|| AttributeError::Unknown {
            key: key.to_owned(),
        })?;
        attribute.parse_text(text)
    }

    /// The first required attribute `attributes` lacks.
    pub fn check_required(
        &self,
        attributes: &BTreeMap<String, Value>,
    ) -> Result<(), AttributeError> {
        match self
            .attributes
            .iter()
            .find(|attribute| attribute.required && !attributes.contains_key(&attribute.key))
        {
            Some(missing) => Err(AttributeError::Required {
                key: missing.key.clone(),
            }),
            None => Ok(()),
        }
    }
}

impl AttributeDefinition {
    fn wrong(&self, expected: &'static str) -> AttributeError {
        AttributeError::WrongType {
            key: self.key.clone(),
            expected,
        }
    }

    /// Checks a JSON value; answers it normalized (trimmed text, canonical date and id).
    pub fn check_value(&self, value: &Value) -> Result<Value, AttributeError> {
        match (self.attribute_type, value) {
            (_, Value::String(text)) => self.parse_text(text),
            (AttributeType::Number, Value::Number(number)) => number
                .as_f64()
                .filter(|number| number.is_finite())
                .map(number_value)
                .ok_or_else(|| self.wrong("a number")),
            (AttributeType::Number, _) => Err(self.wrong("a number")),
            (AttributeType::Boolean, Value::Bool(_)) => Ok(value.clone()),
            (AttributeType::Boolean, _) => Err(self.wrong("true or false")),
            _ => Err(self.wrong(self.expected())),
        }
    }

    fn expected(&self) -> &'static str {
        match self.attribute_type {
            AttributeType::Text => "a text of 1 to 1000 characters",
            AttributeType::Number => "a number",
            AttributeType::Date => "a date (YYYY-MM-DD or DD.MM.YYYY)",
            AttributeType::Boolean => "true or false",
            AttributeType::Select => "one of its options",
            AttributeType::AssetRef => "an asset id (UUID)",
            AttributeType::PersonRef | AttributeType::LocationRef => {
                "a reference of 1 to 200 characters"
            }
        }
    }

    /// Parses text (a CSV cell, or a JSON string) into the attribute's value.
    pub fn parse_text(&self, text: &str) -> Result<Value, AttributeError> {
        let text = text.trim();
        let bounded = |max: usize| !text.is_empty() && text.chars().count() <= max;
        let parsed = match self.attribute_type {
            AttributeType::Text => bounded(TEXT_CHARS_MAX).then(|| json!(text)),
            AttributeType::PersonRef | AttributeType::LocationRef => {
                bounded(REFERENCE_CHARS_MAX).then(|| json!(text))
            }
            AttributeType::Number => parse_number(text).map(number_value),
            AttributeType::Boolean => parse_boolean(text).map(|flag| json!(flag)),
            AttributeType::Date => parse_date(text).map(|date| json!(date.to_string())),
            AttributeType::AssetRef => Uuid::parse_str(text).ok().map(|id| json!(id)),
            AttributeType::Select => {
                if self.options.iter().any(|option| option == text) {
                    Some(json!(text))
                } else {
                    return Err(AttributeError::NotAnOption {
                        key: self.key.clone(),
                        value: text.chars().take(REFERENCE_CHARS_MAX).collect(),
                    });
                }
            }
        };
        parsed.ok_or_else(|| self.wrong(self.expected()))
    }
}

/// One form per number, so that `16`, `16.0` and `"16"` compare equal (no change recorded).
fn number_value(number: f64) -> Value {
    const EXACT_INTEGER_MAX: f64 = 9_007_199_254_740_992.0;
    if number.fract() == 0.0 && number.abs() < EXACT_INTEGER_MAX {
        json!(number as i64)
    } else {
        json!(number)
    }
}

/// `16`, `-2.5`, and the German decimal comma `2,5`.
fn parse_number(text: &str) -> Option<f64> {
    let normalized = text.replace(',', ".");
    normalized
        .parse::<f64>()
        .ok()
        .filter(|number| number.is_finite())
}

fn parse_boolean(text: &str) -> Option<bool> {
    match text.to_lowercase().as_str() {
        "true" | "ja" | "yes" | "1" | "wahr" => Some(true),
        "false" | "nein" | "no" | "0" | "falsch" => Some(false),
        _ => None,
    }
}

/// `2026-11-30` or the German `30.11.2026`.
fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d.%m.%Y"))
        .ok()
}

fn attribute(
    key: &str,
    attribute_type: AttributeType,
    de: &str,
    en: &str,
    options: &[&str],
) -> AttributeDefinition {
    AttributeDefinition {
        key: key.to_owned(),
        attribute_type,
        label: Localized {
            de: de.to_owned(),
            en: Some(en.to_owned()),
        },
        required: false,
        options: options.iter().map(|option| (*option).to_owned()).collect(),
    }
}

fn class(de: &str, en: &str, attributes: Vec<AttributeDefinition>) -> AssetClassDefinition {
    AssetClassDefinition {
        title: Localized {
            de: de.to_owned(),
            en: Some(en.to_owned()),
        },
        attributes,
    }
}

/// The classes a new installation starts with, by name: computer, notebook, monitor, printer,
/// phone, mobile device, server, network device, software, licence and location.
pub fn default_classes() -> Vec<(&'static str, AssetClassDefinition)> {
    use AttributeType::{AssetRef, Boolean, Date, Number, Select, Text};
    let hardware = || {
        vec![
            attribute("manufacturer", Text, "Hersteller", "Manufacturer", &[]),
            attribute("model", Text, "Modell", "Model", &[]),
            attribute("purchase_date", Date, "Kaufdatum", "Purchase date", &[]),
            attribute(
                "warranty_until",
                Date,
                "Garantie bis",
                "Warranty until",
                &[],
            ),
        ]
    };
    let computing = || {
        let mut attributes = hardware();
        attributes.extend([
            attribute(
                "operating_system",
                Text,
                "Betriebssystem",
                "Operating system",
                &[],
            ),
            attribute("cpu", Text, "Prozessor", "CPU", &[]),
            attribute("ram_gb", Number, "Arbeitsspeicher (GB)", "Memory (GB)", &[]),
            attribute("disk_gb", Number, "Speicher (GB)", "Disk (GB)", &[]),
            attribute("ip_address", Text, "IP-Adresse", "IP address", &[]),
            attribute("mac_address", Text, "MAC-Adresse", "MAC address", &[]),
            attribute("encrypted", Boolean, "Verschlüsselt", "Encrypted", &[]),
        ]);
        attributes
    };
    let with = |mut base: Vec<AttributeDefinition>, extra: Vec<AttributeDefinition>| {
        base.extend(extra);
        base
    };
    vec![
        (
            "computer",
            class("Arbeitsplatzrechner", "Computer", computing()),
        ),
        ("notebook", class("Notebook", "Notebook", computing())),
        (
            "monitor",
            class(
                "Monitor",
                "Monitor",
                with(
                    hardware(),
                    vec![attribute(
                        "size_inch",
                        Number,
                        "Diagonale (Zoll)",
                        "Size (inch)",
                        &[],
                    )],
                ),
            ),
        ),
        (
            "printer",
            class(
                "Drucker",
                "Printer",
                with(
                    hardware(),
                    vec![
                        attribute("ip_address", Text, "IP-Adresse", "IP address", &[]),
                        attribute("colour", Boolean, "Farbe", "Colour", &[]),
                    ],
                ),
            ),
        ),
        (
            "phone",
            class(
                "Telefon",
                "Phone",
                with(
                    hardware(),
                    vec![attribute("extension", Text, "Durchwahl", "Extension", &[])],
                ),
            ),
        ),
        (
            "mobile_device",
            class(
                "Mobilgerät",
                "Mobile device",
                with(
                    hardware(),
                    vec![
                        attribute("imei", Text, "IMEI", "IMEI", &[]),
                        attribute("phone_number", Text, "Rufnummer", "Phone number", &[]),
                        attribute(
                            "operating_system",
                            Text,
                            "Betriebssystem",
                            "Operating system",
                            &[],
                        ),
                    ],
                ),
            ),
        ),
        ("server", class("Server", "Server", computing())),
        (
            "network_device",
            class(
                "Netzwerkgerät",
                "Network device",
                with(
                    hardware(),
                    vec![
                        attribute("ip_address", Text, "IP-Adresse", "IP address", &[]),
                        attribute("ports", Number, "Anschlüsse", "Ports", &[]),
                        attribute(
                            "device_type",
                            Select,
                            "Gerätetyp",
                            "Device type",
                            &["switch", "router", "firewall", "access_point", "other"],
                        ),
                    ],
                ),
            ),
        ),
        (
            "software",
            class(
                "Software",
                "Software",
                vec![
                    attribute("vendor", Text, "Hersteller", "Vendor", &[]),
                    attribute("version", Text, "Version", "Version", &[]),
                ],
            ),
        ),
        (
            "licence",
            class(
                "Lizenz",
                "Licence",
                vec![
                    attribute("software", AssetRef, "Software", "Software", &[]),
                    attribute("seats", Number, "Anzahl Plätze", "Seats", &[]),
                    attribute("valid_until", Date, "Gültig bis", "Valid until", &[]),
                    attribute(
                        "licence_type",
                        Select,
                        "Lizenzart",
                        "Licence type",
                        &["per_device", "per_user", "site", "subscription"],
                    ),
                ],
            ),
        ),
        (
            "location",
            class(
                "Standort",
                "Location",
                vec![
                    attribute("address", Text, "Anschrift", "Address", &[]),
                    attribute("building", Text, "Gebäude", "Building", &[]),
                    attribute("room", Text, "Raum", "Room", &[]),
                ],
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn computer() -> AssetClassDefinition {
        default_classes().remove(0).1
    }

    #[test]
    fn every_default_class_is_valid() {
        for (name, class) in default_classes() {
            assert_eq!(class.validate(), Ok(()), "{name}");
        }
        assert_eq!(default_classes().len(), 11);
    }

    #[test]
    fn cells_are_parsed_by_the_attribute_type() {
        let class = computer();
        assert_eq!(class.parse_text("ram_gb", " 16 "), Ok(json!(16)));
        assert_eq!(class.check_value("ram_gb", &json!(16.0)), Ok(json!(16)));
        assert_eq!(class.parse_text("ram_gb", "2,5"), Ok(json!(2.5)));
        assert_eq!(class.parse_text("encrypted", "ja"), Ok(json!(true)));
        assert_eq!(
            class.parse_text("purchase_date", "30.11.2026"),
            Ok(json!("2026-11-30"))
        );
        assert_eq!(
            class.parse_text("purchase_date", "2026-11-30"),
            Ok(json!("2026-11-30"))
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_attribute() {
        let class = computer();
        let error = class.parse_text("ram_gb", "viel").unwrap_err();
        assert_eq!(error.code(), "attribute_type_mismatch");
        assert_eq!(error.key(), "ram_gb");
        assert_eq!(
            class
                .check_value("encrypted", &json!("vielleicht"))
                .unwrap_err()
                .code(),
            "attribute_type_mismatch"
        );
        assert_eq!(
            class
                .check_value("encrypted", &json!(1))
                .unwrap_err()
                .code(),
            "attribute_type_mismatch"
        );
        assert_eq!(
            class
                .check_value("ram_gb", &json!(true))
                .unwrap_err()
                .code(),
            "attribute_type_mismatch"
        );
        assert_eq!(
            class
                .parse_text("purchase_date", "31.02.2026")
                .unwrap_err()
                .code(),
            "attribute_type_mismatch"
        );
    }

    #[test]
    fn an_unknown_attribute_is_refused() {
        assert_eq!(
            computer().parse_text("colour", "rot"),
            Err(AttributeError::Unknown {
                key: "colour".into()
            })
        );
    }

    #[test]
    fn a_select_value_must_be_an_option() {
        let (_, class) = default_classes()
            .into_iter()
            .find(|(name, _)| *name == "network_device")
            .unwrap();
        assert_eq!(
            class.parse_text("device_type", "switch"),
            Ok(json!("switch"))
        );
        assert_eq!(
            class.parse_text("device_type", "hub").unwrap_err().code(),
            "attribute_not_an_option"
        );
    }

    #[test]
    fn a_class_with_a_duplicate_key_or_stray_options_is_refused() {
        let mut class = computer();
        class.attributes.push(class.attributes[0].clone());
        assert!(class.validate().is_err());
        let mut class = computer();
        class.attributes[0].options = vec!["x".into()];
        assert!(class.validate().is_err());
        let mut class = computer();
        class.attributes[0].key = "Bad Key".into();
        assert!(class.validate().is_err());
    }

    #[test]
    fn a_required_attribute_must_be_present() {
        let mut class = computer();
        class.attributes[0].required = true;
        assert_eq!(
            class.check_required(&BTreeMap::new()),
            Err(AttributeError::Required {
                key: "manufacturer".into()
            })
        );
    }
}
