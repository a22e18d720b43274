//! Golden stored payloads of the CMDB's events (issue 5), checked in under `schemas/events/`:
//! one per asset event type and version, and one of the import record `asset_import.completed`.
//! The ticket events' fixtures are checked in `schemas.rs`; this module owns every directory
//! whose type starts with `asset`.
//!
//! `UPDATE_SCHEMAS=1 cargo test -p command-service` rewrites the fixtures of the *current*
//! versions. Released versions are never edited: a change adds v2 and an upcaster in
//! `command-service/src/assets/codec.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use command_service::assets::codec::{
    encode, encode_import, event_from, import_from, IMPORT_COMPLETED,
};
use domain::asset::{
    AssetEvent, AssetId, CoreField, ImportCompleted, Lifecycle, RejectedRow, RelationType,
    SourceKey, SourceName,
};
use event_store::NewEvent;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::schemas::{read_schema, updating};

/// The version of the import record the code writes.
const IMPORT_COMPLETED_VERSION: u32 = 1;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("schemas")
        .join("events")
}

fn fixture_path(event_type: &str, version: u32) -> String {
    format!("events/{event_type}/v{version}.json")
}

/// Writes a fixture unless it already holds `payload`: the other test of this module reads the
/// fixtures at the same time and must not see one half written.
fn write_fixture(relative: &str, payload: &Value) {
    let path = events_dir().join("..").join(relative);
    let mut text = serde_json::to_string_pretty(payload).expect("JSON serializes");
    text.push('\n');
    if std::fs::read_to_string(&path).is_ok_and(|stored| stored == text) {
        return;
    }
    std::fs::create_dir_all(path.parent().expect("fixtures live in a directory"))
        .expect("create fixture directory");
    std::fs::write(&path, text).expect("write fixture");
}

fn asset(id: u128) -> AssetId {
    AssetId(Uuid::from_u128(id))
}

fn baramundi() -> SourceName {
    SourceName::try_from("baramundi".to_owned()).expect("a valid source name")
}

/// The notebook most samples are about, a laptop of the Landratsamt's building authority.
const NOTEBOOK: u128 = 0x0193_5e20_11aa_7b5c_9d3e_4f60_a1b2_c3d4;
/// The file server it works against.
const SERVER: u128 = 0x0193_5e20_22bb_7c6d_8e4f_5a71_b2c3_d4e5;
/// A licence of the specialist software for building permits.
const LICENCE: u128 = 0x0193_5e20_33cc_7d7e_9f50_6b82_c3d4_e5f6;
/// A scanner of the registration office no inventory scan has seen lately.
const SCANNER: u128 = 0x0193_5e20_44dd_7e8f_a061_7c93_d4e5_f607;

/// A realistic asset event of `event_type`.
fn sample(event_type: &str) -> AssetEvent {
    match event_type {
        "asset.registered" => AssetEvent::Registered {
            id: asset(NOTEBOOK),
            class: "notebook".into(),
            fields: BTreeMap::from([
                (CoreField::Name, "NB-BAUAMT-0421".to_owned()),
                (CoreField::InventoryNumber, "INV-2026-00421".to_owned()),
                (CoreField::SerialNumber, "5CG4211XKQ".to_owned()),
                (CoreField::Location, "LRA-HAUS-B-2.14".to_owned()),
                (CoreField::User, "k.meier".to_owned()),
                (CoreField::Owner, "Sachgebiet 12 – IT-Service".to_owned()),
                (CoreField::CostCentre, "6300-120".to_owned()),
            ]),
            attributes: BTreeMap::from([
                ("manufacturer".to_owned(), json!("HP")),
                ("model".to_owned(), json!("EliteBook 840 G10")),
                ("purchase_date".to_owned(), json!("2026-03-16")),
                ("warranty_until".to_owned(), json!("2029-03-15")),
                (
                    "operating_system".to_owned(),
                    json!("Windows 11 Enterprise 23H2"),
                ),
                ("ram_gb".to_owned(), json!(16)),
                ("disk_gb".to_owned(), json!(512)),
                ("encrypted".to_owned(), json!(true)),
            ]),
            lifecycle: Lifecycle::Deployed,
            source: Some(SourceKey {
                source: baramundi(),
                external_id: "BMS-000421".into(),
            }),
        },
        "asset.updated" => AssetEvent::Updated {
            fields: BTreeMap::from([
                (CoreField::Location, Some("LRA-HAUS-A-0.07".to_owned())),
                (CoreField::User, None),
            ]),
            attributes: BTreeMap::from([
                ("ram_gb".to_owned(), Some(json!(32))),
                ("ip_address".to_owned(), None),
            ]),
            source: Some(baramundi()),
        },
        "asset.lifecycle_changed" => AssetEvent::LifecycleChanged {
            from: Lifecycle::Deployed,
            to: Lifecycle::InRepair,
            reason: Some("Display defekt, Einsendung an den Hersteller (Garantiefall)".into()),
        },
        "asset.related" => AssetEvent::Related {
            relation: RelationType::DependsOn,
            target: asset(SERVER),
        },
        "asset.unrelated" => AssetEvent::Unrelated {
            relation: RelationType::UsesLicence,
            target: asset(LICENCE),
        },
        "asset.missing_flagged" => AssetEvent::MissingFlagged {
            source: baramundi(),
            missed_runs: 3,
        },
        "asset.missing_cleared" => AssetEvent::MissingCleared {
            source: baramundi(),
        },
        unknown => panic!("no sample event for {unknown}: add one here and a fixture"),
    }
}

/// A realistic import record: a nightly baramundi run with two refused rows and one scanner
/// flagged missing.
fn sample_import() -> ImportCompleted {
    ImportCompleted {
        source: baramundi(),
        run: 42,
        format: "csv".into(),
        rows: 1_250,
        created: 3,
        updated: 17,
        unchanged: 1_228,
        rejected_count: 2,
        rejected: vec![
            RejectedRow {
                line: 318,
                external_id: Some("BMS-000977".into()),
                code: "attribute_type_mismatch".into(),
                field: Some("attributes.ram_gb".into()),
                reason: "attribute \"ram_gb\" must be a number".into(),
            },
            RejectedRow {
                line: 1_104,
                external_id: None,
                code: "malformed_row".into(),
                field: None,
                reason: "9 cells, the header has 12".into(),
            },
        ],
        events_written: 21,
        missing: vec![asset(NOTEBOOK), asset(SCANNER)],
        flagged: vec![asset(SCANNER)],
    }
}

/// Compares `encoded` with its checked-in fixture (rewriting it first when updating) and
/// returns the fixture.
#[track_caller]
fn check_fixture(encoded: &NewEvent, version: u32) -> Value {
    let event_type = encoded.event_type.as_str();
    assert_eq!(encoded.event_version, version, "{event_type}");
    let relative = fixture_path(event_type, version);
    if updating() {
        write_fixture(&relative, &encoded.payload);
    }
    let fixture: Value = serde_json::from_str(&read_schema(&relative)).expect("fixture is JSON");
    assert_eq!(
        encoded.payload,
        fixture,
        "schemas/{relative}: the stored form of {event_type} changed. Released versions are never \
         edited: add v{} and an upcaster in command-service/src/assets/codec.rs",
        version + 1
    );
    fixture
}

#[test]
fn every_asset_event_type_and_the_import_record_have_a_golden_fixture_of_their_stored_payload() {
    for (event_type, version) in AssetEvent::TYPES {
        let event = sample(event_type);
        assert_eq!(event.event_type(), *event_type);
        let fixture = check_fixture(&encode(&event), *version);

        let decoded = event_from(event_type, *version, fixture);
        assert_eq!(
            decoded.as_ref(),
            Ok(&event),
            "schemas/{} decodes to the sample",
            fixture_path(event_type, *version)
        );
    }

    let record = sample_import();
    let fixture = check_fixture(&encode_import(&record), IMPORT_COMPLETED_VERSION);
    assert_eq!(
        import_from(IMPORT_COMPLETED_VERSION, fixture),
        Ok(record),
        "schemas/{} decodes to the sample",
        fixture_path(IMPORT_COMPLETED, IMPORT_COMPLETED_VERSION)
    );
}

/// The known asset types with their current versions, the import record among them.
fn known_types() -> BTreeMap<&'static str, u32> {
    AssetEvent::TYPES
        .iter()
        .copied()
        .chain([(IMPORT_COMPLETED, IMPORT_COMPLETED_VERSION)])
        .collect()
}

/// The version a fixture file's name states (`v<N>.json`).
fn version_of(event_type: &str, name: &str) -> u32 {
    name.strip_prefix('v')
        .and_then(|rest| rest.strip_suffix(".json"))
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("schemas/events/{event_type}/{name}: expected v<N>.json"))
}

/// Decodes a fixture of any released version, through the upcasters.
fn decodes(event_type: &str, version: u32, fixture: Value) -> Result<(), String> {
    if event_type == IMPORT_COMPLETED {
        import_from(version, fixture).map(drop)
    } else {
        event_from(event_type, version, fixture).map(drop)
    }
}

#[test]
fn every_asset_fixture_names_a_known_event_type_and_version_and_decodes() {
    let known = known_types();
    let mut checked = 0;
    for entry in std::fs::read_dir(events_dir()).expect("schemas/events exists") {
        let entry = entry.expect("directory entry");
        let event_type = entry.file_name().into_string().expect("UTF-8 name");
        if !event_type.starts_with("asset") {
            continue;
        }
        let current = *known
            .get(event_type.as_str())
            .unwrap_or_else(|| panic!("schemas/events/{event_type}: unknown event type"));
        for file in std::fs::read_dir(entry.path()).expect("fixture directory") {
            let name = file
                .expect("fixture entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name");
            let version = version_of(&event_type, &name);
            assert!(
                (1..=current).contains(&version),
                "schemas/events/{event_type}/{name}: no such version"
            );
            let fixture: Value =
                serde_json::from_str(&read_schema(&fixture_path(&event_type, version)))
                    .expect("fixture is JSON");
            let decoded = decodes(&event_type, version, fixture);
            assert!(
                decoded.is_ok(),
                "schemas/events/{event_type}/{name}: {decoded:?}"
            );
            checked += 1;
        }
    }

    assert!(
        checked >= known.len(),
        "{checked} asset fixtures for {} types",
        known.len()
    );
}
