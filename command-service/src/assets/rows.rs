//! Reading an inventory file (CSV or JSON) into rows, each with its line number, before any
//! rule is applied. A file that cannot be read at all is refused whole; a row that cannot be read
//! is refused alone, with its line and reason.
//!
//! CSV: a header line naming the columns; `external_id` is required, `class` and `name` are
//! needed for new assets, `lifecycle` applies to new assets only, the other core fields by their
//! names, and every other column is an attribute of the row's class. The separator is `;`
//! (German spreadsheet exports) when the header has one and no comma, else `,`. An empty cell
//! removes the value: the source owns what it delivers. JSON: an array of objects with the same
//! keys and an `attributes` object; a key left out is not delivered, `null` removes the value.

use std::collections::BTreeMap;

use domain::asset::{CoreField, RejectedRow};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;

/// Data rows one file may hold.
pub const ROWS_MAX: usize = 200_000;
/// Columns one CSV file may have.
const COLUMNS_MAX: usize = 200;

/// A cell as delivered: text from CSV, a JSON value from JSON; `None` removes the value.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Json(Value),
}

/// One data row as read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub line: u64,
    pub external_id: String,
    pub class: Option<String>,
    pub lifecycle: Option<String>,
    pub fields: BTreeMap<CoreField, Option<String>>,
    pub attributes: BTreeMap<String, Option<Cell>>,
}

/// The format of an inventory file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

fn unreadable(reason: impl Into<String>) -> ApiError {
    ApiError::Import {
        code: "import_unreadable",
        reason: reason.into(),
    }
}

fn refused(line: u64, code: &str, field: Option<&str>, reason: impl Into<String>) -> RejectedRow {
    RejectedRow {
        line,
        external_id: None,
        code: code.to_owned(),
        field: field.map(str::to_owned),
        reason: reason.into(),
    }
}

/// The rows of `bytes`, or the whole file refused.
pub fn read(format: Format, bytes: &[u8]) -> Result<Vec<Result<Row, RejectedRow>>, ApiError> {
    let rows = match format {
        Format::Csv => read_csv(bytes)?,
        Format::Json => read_json(bytes)?,
    };
    if rows.len() > ROWS_MAX {
        return Err(ApiError::Import {
            code: "import_too_many_rows",
            reason: format!("a file may hold at most {ROWS_MAX} rows; split it"),
        });
    }
    Ok(rows)
}

fn separator(bytes: &[u8]) -> u8 {
    let header = bytes
        .split(|byte| *byte == b'\n')
        .next()
        .unwrap_or_default();
    if header.contains(&b';') && !header.contains(&b',') {
        b';'
    } else {
        b','
    }
}

fn read_csv(bytes: &[u8]) -> Result<Vec<Result<Row, RejectedRow>>, ApiError> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator(bytes))
        .flexible(true)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|error| unreadable(format!("the header line cannot be read: {error}")))?
        .iter()
        .map(|name| name.trim().to_owned())
        .collect();
    if header.len() > COLUMNS_MAX {
        return Err(unreadable(format!("at most {COLUMNS_MAX} columns")));
    }
    if !header.iter().any(|name| name == "external_id") {
        return Err(ApiError::Import {
            code: "import_missing_column",
            reason: "the header line has no column external_id".to_owned(),
        });
    }
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        if rows.len() > ROWS_MAX {
            break;
        }
        let line = record
            .as_ref()
            .ok()
            .and_then(|record| record.position())
            .map_or(index as u64 + 2, |position| position.line());
        rows.push(match record {
            Err(error) => Err(refused(line, "malformed_row", None, error.to_string())),
            Ok(record) if record.len() != header.len() => Err(refused(
                line,
                "malformed_row",
                None,
                format!("{} cells, the header has {}", record.len(), header.len()),
            )),
            Ok(record) => Ok(csv_row(line, &header, &record)),
        });
    }
    Ok(rows)
}

fn csv_row(line: u64, header: &[String], record: &csv::StringRecord) -> Row {
    let mut row = Row {
        line,
        ..Row::default()
    };
    for (name, cell) in header.iter().zip(record.iter()) {
        let cell = cell.trim();
        let value = (!cell.is_empty()).then(|| cell.to_owned());
        match name.as_str() {
            "external_id" => row.external_id = cell.to_owned(),
            "class" => row.class = value,
            "lifecycle" => row.lifecycle = value,
            other => match CoreField::parse(other) {
                Some(field) => {
                    row.fields.insert(field, value);
                }
                None => {
                    row.attributes
                        .insert(other.to_owned(), value.map(Cell::Text));
                }
            },
        }
    }
    row
}

/// `Some(None)` for an explicit `null`, `None` (by `default`) for a key left out.
fn delivered<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRow {
    external_id: String,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    lifecycle: Option<String>,
    #[serde(default, deserialize_with = "delivered")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "delivered")]
    inventory_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "delivered")]
    serial_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "delivered")]
    location: Option<Option<String>>,
    #[serde(default, deserialize_with = "delivered")]
    user: Option<Option<String>>,
    #[serde(default, deserialize_with = "delivered")]
    owner: Option<Option<String>>,
    #[serde(default, deserialize_with = "delivered")]
    cost_centre: Option<Option<String>>,
    #[serde(default)]
    attributes: BTreeMap<String, Value>,
}

fn read_json(bytes: &[u8]) -> Result<Vec<Result<Row, RejectedRow>>, ApiError> {
    let elements: Vec<Value> = serde_json::from_slice(bytes)
        .map_err(|error| unreadable(format!("not a JSON array of rows: {error}")))?;
    Ok(elements
        .into_iter()
        .enumerate()
        .map(|(index, element)| json_row(index as u64 + 1, element))
        .collect())
}

fn json_row(line: u64, element: Value) -> Result<Row, RejectedRow> {
    let external_id = element
        .get("external_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let parsed: JsonRow = serde_json::from_value(element).map_err(|error| RejectedRow {
        external_id: external_id.clone(),
        ..refused(line, "malformed_row", None, error.to_string())
    })?;
    let fields = [
        (CoreField::Name, parsed.name),
        (CoreField::InventoryNumber, parsed.inventory_number),
        (CoreField::SerialNumber, parsed.serial_number),
        (CoreField::Location, parsed.location),
        (CoreField::User, parsed.user),
        (CoreField::Owner, parsed.owner),
        (CoreField::CostCentre, parsed.cost_centre),
    ]
    .into_iter()
    .filter_map(|(field, value)| value.map(|value| (field, value)))
    .collect();
    let attributes = parsed
        .attributes
        .into_iter()
        .map(|(key, value)| {
            let cell = match value {
                Value::Null => None,
                Value::String(text) if text.trim().is_empty() => None,
                other => Some(Cell::Json(other)),
            };
            (key, cell)
        })
        .collect();
    Ok(Row {
        line,
        external_id: parsed.external_id,
        class: parsed.class,
        lifecycle: parsed.lifecycle,
        fields,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_semicolon_file_with_a_bom_is_read_with_its_line_numbers() {
        let file = "\u{feff}external_id;class;name;ram_gb;location\n1;computer;PC 1;16;\n2;computer;\"PC; 2\";8;RH\n";
        let rows = read(Format::Csv, file.as_bytes()).unwrap();
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.line, 2);
        assert_eq!(first.fields[&CoreField::Location], None);
        assert_eq!(first.attributes["ram_gb"], Some(Cell::Text("16".into())));
        let second = rows[1].as_ref().unwrap();
        assert_eq!(second.line, 3);
        assert_eq!(second.fields[&CoreField::Name], Some("PC; 2".into()));
    }

    #[test]
    fn a_row_with_the_wrong_number_of_cells_is_refused_alone() {
        let file = "external_id,name\n1,a\n2,b,c\n3,d\n";
        let rows = read(Format::Csv, file.as_bytes()).unwrap();
        assert!(rows[0].is_ok() && rows[2].is_ok());
        let refused = rows[1].as_ref().unwrap_err();
        assert_eq!((refused.line, refused.code.as_str()), (3, "malformed_row"));
    }

    #[test]
    fn a_csv_file_without_external_id_is_refused_whole() {
        let error = read(Format::Csv, b"name,class\na,b\n").unwrap_err();
        assert_eq!(error.code(), "import_missing_column");
    }

    #[test]
    fn json_distinguishes_a_key_left_out_from_null() {
        let file = json!([
            {"external_id": "1", "name": "PC", "user": null, "attributes": {"ram_gb": 16, "cpu": null}},
            {"external_id": "2", "colour": "red"}
        ]);
        let rows = read(Format::Json, file.to_string().as_bytes()).unwrap();
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.fields.get(&CoreField::User), Some(&None));
        assert_eq!(first.fields.get(&CoreField::Owner), None);
        assert_eq!(first.attributes["ram_gb"], Some(Cell::Json(json!(16))));
        assert_eq!(first.attributes["cpu"], None);
        let refused = rows[1].as_ref().unwrap_err();
        assert_eq!(
            (refused.line, refused.external_id.as_deref()),
            (2, Some("2"))
        );
    }

    #[test]
    fn a_file_that_is_not_json_is_refused_whole() {
        assert_eq!(
            read(Format::Json, b"{oops").unwrap_err().code(),
            "import_unreadable"
        );
    }
}
