//! Snapshots of what crosses a boundary, checked in under `schemas/`: the OpenAPI document, a
//! golden stored payload per event type and version, and a worked example of the hash chain.
//!
//! `UPDATE_SCHEMAS=1 cargo test -p command-service` rewrites the OpenAPI document and the
//! fixtures of the *current* event versions. Fixtures of older versions and the hash-chain
//! example are never rewritten: stored events depend on them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use command_service::codec::{event_from, payload_of};
use domain::ticket::{
    ArticleBody, ArticleKind, Attachment, Channel, Description, FieldValue, Level, LinkType,
    PendingReason, Priority, Requester, Status, TicketEvent, TicketId, TicketNumber, TicketType,
    Title,
};
use event_store::hash::{canonical_bytes, event_hash, verify_stream, GENESIS};
use event_store::{Metadata, RecordedEvent};
use serde_json::Value;
use uuid::Uuid;

/// The `schemas/` directory of the checkout.
fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("schemas")
}

/// Whether the run should rewrite snapshots instead of comparing them.
pub fn updating() -> bool {
    std::env::var("UPDATE_SCHEMAS").is_ok_and(|value| value == "1")
}

/// A checked-in file under `schemas/`.
pub fn read_schema(relative: &str) -> String {
    let path = schemas_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "{} ({error}); run UPDATE_SCHEMAS=1 cargo test -p command-service",
            path.display()
        )
    })
}

fn write_schema(relative: &str, text: &str) {
    let path = schemas_dir().join(relative);
    std::fs::create_dir_all(path.parent().expect("schema files live in a directory"))
        .expect("create schema directory");
    std::fs::write(&path, text).expect("write schema");
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON serializes");
    text.push('\n');
    text
}

#[test]
fn the_checked_in_openapi_document_is_the_generated_one() {
    let generated = command_service::openapi::document_json();
    let relative = "openapi/command-service.json";
    if updating() {
        write_schema(relative, &generated);
    }

    assert!(
        read_schema(relative) == generated,
        "schemas/{relative} differs from the code; review the change and run \
         UPDATE_SCHEMAS=1 cargo test -p command-service"
    );
}

const CURRENT_EVENT_VERSION: u32 = 1;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("RFC 3339 time")
}

fn ticket(id: u128) -> TicketId {
    TicketId::new(Uuid::from_u128(id))
}

/// A realistic event of `event_type`.
fn sample(event_type: &str) -> TicketEvent {
    let fields = BTreeMap::from([
        (
            "affected_locations".to_owned(),
            FieldValue::Options(vec!["berlin".into(), "bonn".into()]),
        ),
        ("affected_users".to_owned(), FieldValue::Integer(25)),
        ("cost_centre".to_owned(), FieldValue::Text("4711".into())),
        (
            "estimated_cost".to_owned(),
            FieldValue::Text("1200.50".into()),
        ),
    ]);
    match event_type {
        "ticket.opened" => TicketEvent::Opened {
            id: ticket(0x0193_5e1a_7c2b_7d40_9a61_3f0c_2b8e_41d7),
            number: TicketNumber::new(2026, 123),
            ticket_type: TicketType::Incident,
            title: Title::parse("Drucker im 2. OG druckt nicht").unwrap(),
            description: Description::parse(
                "Seit heute Morgen meldet der Drucker Papierstau, obwohl kein Papier feststeckt.",
            )
            .unwrap(),
            requester: Requester {
                name: "Erika Mustermann".into(),
                email: Some("erika@example.org".into()),
                phone: Some("+49 30 1234567".into()),
                user_id: None,
            },
            service_id: Some("printing".into()),
            category_id: Some("hardware".into()),
            impact: Level::Medium,
            urgency: Level::High,
            priority: Priority::Medium,
            queue: Some("service-desk".into()),
            tags: vec!["drucker".into(), "og-2".into()],
            fields: fields.clone(),
            channel: Channel::Portal,
        },
        "ticket.assigned" => TicketEvent::Assigned {
            assignee: "k.meier".into(),
            queue: Some("2nd-level".into()),
            previous_assignee: Some("j.schmidt".into()),
        },
        "ticket.work_started" => TicketEvent::WorkStarted { from: Status::Assigned },
        "ticket.pending_set" => TicketEvent::PendingSet {
            reason: PendingReason::WaitingForThirdParty,
            until: Some(at("2026-11-27T12:00:00Z")),
        },
        "ticket.resolved" => TicketEvent::Resolved {
            code: "fixed".into(),
            text: ArticleBody::parse("Fixiereinheit getauscht, Testseite gedruckt.").unwrap(),
            resolved_at: at("2026-11-24T15:42:07.318204Z"),
        },
        "ticket.reopened" => TicketEvent::Reopened {
            reason: "Der Papierstau ist wieder da.".into(),
            to: Status::Assigned,
        },
        "ticket.closed" => TicketEvent::Closed {},
        "ticket.cancelled" => TicketEvent::Cancelled {
            reason: "Hat sich erledigt, Drucker wird ausgetauscht.".into(),
        },
        "ticket.merged" => TicketEvent::Merged {
            into: ticket(0x0193_5e1b_0a44_7e12_8c0d_55aa_90f1_2c3e),
        },
        "ticket.article_added" => TicketEvent::ArticleAdded {
            article_id: 3,
            kind: ArticleKind::PublicReply,
            channel: Channel::Email,
            body: ArticleBody::parse(
                "Guten Tag Frau Mustermann,\n\nder Techniker kommt morgen um 10 Uhr.\n\nViele Grüße\nKarin Meier",
            )
            .unwrap(),
            attachments: vec![Attachment {
                name: "fehlerseite.pdf".into(),
                size_bytes: 48_213,
                sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                media_type: "application/pdf".into(),
            }],
        },
        "ticket.priority_changed" => TicketEvent::PriorityChanged {
            impact: Level::High,
            urgency: Level::Critical,
            priority: Priority::Critical,
            previous: Priority::Medium,
        },
        "ticket.fields_changed" => TicketEvent::FieldsChanged {
            set: fields,
            removed: vec!["due_date".into()],
        },
        "ticket.tags_changed" => TicketEvent::TagsChanged {
            tags: vec!["drucker".into(), "hardware".into(), "og-2".into()],
        },
        "ticket.linked" => TicketEvent::Linked {
            link_type: LinkType::CausedBy,
            target: ticket(0x0193_5e19_4f00_7a3b_b1c2_0d9e_6a5f_7788),
        },
        "ticket.unlinked" => TicketEvent::Unlinked {
            link_type: LinkType::RelatesTo,
            target: ticket(0x0193_5e19_4f00_7a3b_b1c2_0d9e_6a5f_7788),
        },
        "ticket.sla_warning_reached" => TicketEvent::SlaWarningReached {
            metric: domain::sla::Metric::Resolution,
            percent: 75,
            reached_at: chrono::DateTime::parse_from_rfc3339("2026-11-24T10:15:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            policy: "standard".into(),
        },
        "ticket.sla_breached" => TicketEvent::SlaBreached {
            metric: domain::sla::Metric::FirstResponse,
            due_at: chrono::DateTime::parse_from_rfc3339("2026-11-23T15:30:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            policy: "standard".into(),
        },
        "ticket.asset_linked" => TicketEvent::AssetLinked {
            asset_id: domain::asset::AssetId(Uuid::from_u128(
                0x0193_5e20_11aa_7b5c_9d3e_4f60_a1b2_c3d4,
            )),
        },
        "ticket.asset_unlinked" => TicketEvent::AssetUnlinked {
            asset_id: domain::asset::AssetId(Uuid::from_u128(
                0x0193_5e20_11aa_7b5c_9d3e_4f60_a1b2_c3d4,
            )),
        },
        unknown => panic!("no sample event for {unknown}: add one here and a fixture"),
    }
}

fn fixture_path(event_type: &str, version: u32) -> String {
    format!("events/{event_type}/v{version}.json")
}

#[test]
fn every_event_type_has_a_golden_fixture_of_its_stored_payload() {
    for event_type in TicketEvent::EVENT_TYPES {
        let event = sample(event_type);
        assert_eq!(event.event_type(), *event_type);
        assert_eq!(event.event_version(), CURRENT_EVENT_VERSION);
        let relative = fixture_path(event_type, CURRENT_EVENT_VERSION);
        if updating() {
            write_schema(&relative, &pretty(&payload_of(&event)));
        }

        let fixture: Value =
            serde_json::from_str(&read_schema(&relative)).expect("fixture is JSON");

        assert_eq!(
            payload_of(&event),
            fixture,
            "schemas/{relative}: the stored form of {event_type} changed. Released versions are \
             never edited: add v{} and an upcaster in command-service/src/codec.rs",
            CURRENT_EVENT_VERSION + 1
        );
        let decoded = event_from(event_type, CURRENT_EVENT_VERSION, fixture);
        assert_eq!(
            decoded.as_ref(),
            Ok(&event),
            "schemas/{relative} decodes to the sample"
        );
    }
}

#[test]
fn every_fixture_names_a_known_event_type_and_version_and_decodes() {
    let known: BTreeSet<&str> = TicketEvent::EVENT_TYPES.iter().copied().collect();
    let directory = schemas_dir().join("events");
    for entry in std::fs::read_dir(&directory).expect("schemas/events exists") {
        let entry = entry.expect("directory entry");
        let event_type = entry.file_name().into_string().expect("UTF-8 name");
        if event_type.starts_with("asset") {
            continue; // The CMDB's fixtures are checked in `asset_schemas.rs`.
        }
        assert!(
            known.contains(event_type.as_str()),
            "schemas/events/{event_type}: unknown event type"
        );
        for file in std::fs::read_dir(entry.path()).expect("fixture directory") {
            let name = file
                .expect("fixture entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name");
            let version: u32 = name
                .strip_prefix('v')
                .and_then(|rest| rest.strip_suffix(".json"))
                .and_then(|digits| digits.parse().ok())
                .unwrap_or_else(|| {
                    panic!("schemas/events/{event_type}/{name}: expected v<N>.json")
                });
            assert!(
                (1..=CURRENT_EVENT_VERSION).contains(&version),
                "schemas/events/{event_type}/{name}: no such version"
            );
            let fixture: Value =
                serde_json::from_str(&read_schema(&fixture_path(&event_type, version)))
                    .expect("fixture is JSON");
            // Older versions must still decode: through the upcasters to the current event.
            let decoded = event_from(&event_type, version, fixture);
            assert!(
                decoded.is_ok(),
                "schemas/events/{event_type}/{name}: {decoded:?}"
            );
        }
    }
}

/// A stored event as written out in `schemas/hash-chain/example.json`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainExample {
    event_id: Uuid,
    stream_type: String,
    stream_id: Uuid,
    stream_version: u64,
    event_type: String,
    event_version: u32,
    payload: Value,
    actor: String,
    occurred_at: String,
    origin: String,
    correlation_id: Uuid,
    causation_id: Uuid,
    command_id: Uuid,
    previous_hash: String,
    canonical: String,
    hash: String,
}

impl ChainExample {
    fn recorded(&self, position: i64) -> RecordedEvent {
        RecordedEvent {
            global_position: position,
            transaction_id: position,
            event_id: self.event_id,
            stream_type: self.stream_type.clone(),
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            event_type: self.event_type.clone(),
            event_version: self.event_version,
            payload: self.payload.clone(),
            metadata: Metadata {
                actor: self.actor.clone(),
                occurred_at: at(&self.occurred_at),
                origin: self.origin.clone(),
                correlation_id: self.correlation_id,
                causation_id: self.causation_id,
                command_id: self.command_id,
            },
            recorded_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 1).unwrap(),
            previous_hash: hex32(&self.previous_hash),
            hash: hex32(&self.hash),
        }
    }
}

fn hex32(text: &str) -> [u8; 32] {
    let bytes = hex::decode(text).expect("hex digits");
    bytes.try_into().expect("32 bytes")
}

#[test]
fn the_documented_hash_chain_example_verifies() {
    let document: Value =
        serde_json::from_str(&read_schema("hash-chain/example.json")).expect("JSON");
    let examples: Vec<ChainExample> =
        serde_json::from_value(document["events"].clone()).expect("example events");
    let mut previous_hash = GENESIS;
    let mut recorded = Vec::new();
    for (index, example) in examples.iter().enumerate() {
        let event = example.recorded(index as i64 + 1);
        let input = event_store::hash::hash_input(&event);
        assert_eq!(event.previous_hash, previous_hash, "event {}", index + 1);
        assert_eq!(
            String::from_utf8(canonical_bytes(&input)).expect("UTF-8"),
            example.canonical,
            "event {}: the canonical form changed, which breaks every stored hash chain",
            index + 1
        );
        assert_eq!(
            event_hash(&previous_hash, &input),
            event.hash,
            "event {}",
            index + 1
        );
        previous_hash = event.hash;
        recorded.push(event);
    }

    assert_eq!(verify_stream(&recorded), Ok(examples.len()));
}
