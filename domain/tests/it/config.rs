//! Configuration aggregates (queues, categories, services, calendars, SLA policies): given the
//! item's events and the rest of the configuration, when an administrator defines or retires it,
//! then these events or this refusal — through the public API only.

use domain::calendar::CalendarError;
use domain::config::sla::{SlaPolicyDefinition, TARGET_MINUTES_MAX};
use domain::config::{
    references_of, ConfigCommand, ConfigError, ConfigEvent, ConfigItem, ConfigName, Kind,
};
use domain::ticket::{Priority, TicketType};
use serde_json::{json, Value};

use crate::config_support::{defined, given, invalid, name, when, with, Configuration, NEW};

const CALENDAR: &str = "servicezeiten-berlin";
const QUEUE: &str = "it-servicedesk";
const CATEGORY: &str = "berechtigungen";
const POLICY: &str = "standard";
const SERVICE: &str = "fachverfahren-zugang";

/// Mon–Fri office hours of a Berlin Bürgeramt, Berlin holidays, closed 24 and 31 December.
fn calendar() -> Value {
    json!({
        "weekly_hours": {
            "mon": ["08:00-15:00"],
            "tue": ["08:00-12:00", "13:00-18:00"],
            "wed": ["08:00-13:00"],
            "thu": ["08:00-12:00", "13:00-18:00"],
            "fri": ["08:00-13:00"]
        },
        "state": "BE",
        "closing_days": ["12-24", "12-31"]
    })
}

fn queue() -> Value {
    json!({"title": {"de": "IT-Servicedesk", "en": "IT service desk"}})
}

fn category() -> Value {
    json!({"title": {"de": "Berechtigungen", "en": "Permissions"}})
}

/// Critical, then high, then service requests, then everything else.
fn policy() -> Value {
    json!({
        "title": "Standard-SLA Landesverwaltung",
        "calendar": CALENDAR,
        "targets": [
            {"priorities": ["critical"], "first_response_minutes": 30, "resolution_minutes": 240},
            {"priorities": ["high"], "first_response_minutes": 60, "resolution_minutes": 480},
            {"ticket_types": ["service_request"], "first_response_minutes": 240, "resolution_minutes": 2400},
            {"first_response_minutes": 480, "resolution_minutes": 4800}
        ]
    })
}

/// Access to a specialist application (Fachverfahren), with a request form.
fn service() -> Value {
    json!({
        "title": {"de": "Zugang zu einem Fachverfahren", "en": "Access to a specialist application"},
        "description": {"de": "Beantragen Sie Zugang und Rollen für ein Fachverfahren."},
        "category": CATEGORY,
        "default_queue": QUEUE,
        "default_ticket_type": "service_request",
        "sla_policy": POLICY,
        "form": [
            {"key": "fachverfahren", "label": {"de": "Fachverfahren"}, "kind": "select",
             "required": true, "options": ["eAkte", "VOIS", "OK.EWO"]},
            {"key": "rolle", "label": {"de": "Rolle"}, "kind": "text", "required": true},
            {"key": "befristet", "label": {"de": "Befristet?"}, "kind": "boolean"},
            {"key": "befristet_bis", "label": {"de": "Befristet bis"}, "kind": "date",
             "visible_if": {"field": "befristet", "equals": true}},
            {"key": "begruendung", "label": {"de": "Begründung"}, "kind": "long_text",
             "help": {"de": "Bitte die dienstliche Notwendigkeit angeben."}}
        ]
    })
}

/// The configuration of a Landesamt: one of each kind, the service referring to the rest.
fn landesamt() -> Configuration {
    Configuration(vec![
        (Kind::Calendar, CALENDAR.into(), calendar()),
        (Kind::Queue, QUEUE.into(), queue()),
        (Kind::Category, CATEGORY.into(), category()),
        (Kind::SlaPolicy, POLICY.into(), policy()),
        (Kind::Service, SERVICE.into(), service()),
    ])
}

fn retired(item: &str) -> ConfigEvent {
    ConfigEvent::Retired { name: name(item) }
}

fn define(definition: Value) -> ConfigCommand {
    ConfigCommand::Define { definition }
}

/// Defining a new item [`NEW`] of `kind` in the [`landesamt`] appends exactly `then`.
#[track_caller]
fn check_defined(kind: Kind, definition: Value, then: Value) {
    assert_eq!(
        when(kind, NEW, &[], define(definition), &landesamt()),
        Ok(vec![defined(NEW, then)])
    );
}

/// Defining a new item [`NEW`] of `kind` in the [`landesamt`] is refused with `code`; answers
/// the error for a closer look.
#[track_caller]
fn refused(kind: Kind, definition: Value, code: &str) -> ConfigError {
    let error = when(kind, NEW, &[], define(definition), &landesamt())
        .expect_err("the definition should be refused");
    assert_eq!(error.code(), code, "{error}");
    error
}

/// Refused with exactly `expected` (and its code).
#[track_caller]
fn check_refused(kind: Kind, definition: Value, expected: ConfigError) {
    assert_eq!(refused(kind, definition, expected.code()), expected);
}

fn without(mut definition: Value, field: &str) -> Value {
    definition.as_object_mut().expect("an object").remove(field);
    definition
}

fn policy_with_targets(targets: Value) -> Value {
    with(policy(), "targets", targets)
}

fn policy_with_warnings(warning_percent: Value) -> Value {
    with(policy(), "warning_percent", warning_percent)
}

fn service_with_form(form: Value) -> Value {
    with(service(), "form", form)
}

fn field(key: &str, kind: &str) -> Value {
    json!({"key": key, "label": {"de": "Feld"}, "kind": kind})
}

// Defining each kind.

#[test]
fn defining_a_queue_records_its_definition() {
    check_defined(Kind::Queue, queue(), queue());
}

#[test]
fn defining_a_category_fills_in_its_order() {
    check_defined(
        Kind::Category,
        json!({"title": {"de": "Arbeitsplatz"}, "description": {"de": "PC, Drucker, Telefon"}}),
        json!({"title": {"de": "Arbeitsplatz"}, "description": {"de": "PC, Drucker, Telefon"}, "order": 0}),
    );
}

#[test]
fn defining_a_calendar_without_a_time_zone_counts_in_berlin() {
    let mut normalized = calendar();
    normalized["time_zone"] = json!("Europe/Berlin");
    normalized["one_off_days"] = json!([]);
    check_defined(Kind::Calendar, calendar(), normalized);
}

#[test]
fn defining_a_calendar_keeps_its_time_zone_and_one_off_days() {
    let definition = json!({
        "time_zone": "Europe/Vienna",
        "weekly_hours": {"mon": ["00:00-24:00"]},
        "one_off_days": ["2026-06-05"]
    });
    let mut normalized = definition.clone();
    normalized["state"] = Value::Null;
    normalized["closing_days"] = json!([]);
    check_defined(Kind::Calendar, definition, normalized);
}

#[test]
fn defining_a_policy_fills_in_warnings_pauses_and_reopen() {
    let mut normalized = policy();
    normalized["warning_percent"] = json!([75, 90]);
    normalized["pause_when_pending"] = json!(["waiting_for_requester"]);
    normalized["on_reopen"] = json!("continue");
    for target in normalized["targets"].as_array_mut().unwrap() {
        for list in ["ticket_types", "priorities"] {
            if target.get(list).is_none() {
                target[list] = json!([]);
            }
        }
    }
    check_defined(Kind::SlaPolicy, policy(), normalized);
}

#[test]
fn defining_a_policy_keeps_what_it_states() {
    let definition = json!({
        "title": "Rechenzentrum 24/7",
        "calendar": CALENDAR,
        "targets": [{"ticket_types": ["incident"], "priorities": ["critical", "high"],
                     "first_response_minutes": 15, "resolution_minutes": 120}],
        "warning_percent": [50, 80, 95],
        "pause_when_pending": ["waiting_for_requester", "waiting_for_third_party"],
        "on_reopen": "restart"
    });
    check_defined(Kind::SlaPolicy, definition.clone(), definition);
}

#[test]
fn defining_a_service_fills_in_optional_form_fields() {
    let mut normalized = service();
    for field in normalized["form"].as_array_mut().unwrap() {
        if field.get("required").is_none() {
            field["required"] = json!(false);
        }
    }
    check_defined(Kind::Service, service(), normalized);
}

#[test]
fn a_service_without_a_form_gets_an_empty_one() {
    check_defined(
        Kind::Service,
        without(service(), "form"),
        service_with_form(json!([])),
    );
}

// Defining again.

#[test]
fn defining_the_same_definition_again_appends_nothing() {
    let first = when(Kind::SlaPolicy, POLICY, &[], define(policy()), &landesamt()).unwrap();
    assert_eq!(first.len(), 1);
    // The stored definition has its defaults filled in; the submitted one does not.
    assert_eq!(
        when(
            Kind::SlaPolicy,
            POLICY,
            &first,
            define(policy()),
            &landesamt()
        ),
        Ok(vec![])
    );
}

#[test]
fn a_changed_definition_appends_one_defined_event() {
    let renamed = json!({"title": {"de": "Servicedesk IT", "en": "IT service desk"}});
    assert_eq!(
        when(
            Kind::Queue,
            QUEUE,
            &[defined(QUEUE, queue())],
            define(renamed.clone()),
            &landesamt()
        ),
        Ok(vec![defined(QUEUE, renamed)])
    );
}

#[test]
fn a_retired_item_can_be_defined_again() {
    let events = [defined(QUEUE, queue()), retired(QUEUE)];
    let then = when(Kind::Queue, QUEUE, &events, define(queue()), &landesamt()).unwrap();
    assert_eq!(then, vec![defined(QUEUE, queue())]);
    let item = given(&[events.as_slice(), then.as_slice()].concat());
    assert_eq!(
        item,
        ConfigItem {
            version: 3,
            definition: Some(queue()),
            retired: false,
        }
    );
    assert!(item.is_active());
}

// Names.

#[test]
fn names_are_lowercase_letters_digits_and_separators() {
    for text in [
        "a",
        "2nd-level",
        "it-servicedesk",
        "ref.42_b",
        &"x".repeat(64),
    ] {
        let parsed = ConfigName::try_from(text.to_owned()).expect(text);
        assert_eq!(parsed.as_str(), text);
        assert_eq!(parsed.to_string(), text);
    }
}

#[test]
fn invalid_names_are_refused_by_name() {
    for text in [
        "IT-Servicedesk",
        "Queue",
        "",
        &"x".repeat(65),
        "-queue",
        ".queue",
        "_queue",
        "a b",
        "a/b",
        "bürgeramt",
    ] {
        let error = ConfigName::try_from(text.to_owned()).expect_err(text);
        assert_eq!(error.code(), "invalid_name");
        assert_eq!(error, ConfigError::InvalidName(text.to_owned()));
    }
}

#[test]
fn an_event_naming_an_invalid_name_does_not_read() {
    let event = json!({"type": "retired", "name": "IT"});
    assert!(serde_json::from_value::<ConfigEvent>(event).is_err());
}

// Malformed definitions.

#[test]
fn an_unknown_field_is_malformed() {
    let error = refused(
        Kind::Queue,
        with(queue(), "colour", json!("blau")),
        "invalid_definition",
    );
    assert!(
        matches!(&error, ConfigError::Malformed { reason } if reason.contains("unknown field `colour`")),
        "{error:?}"
    );
}

#[test]
fn an_unknown_field_in_a_policy_target_is_malformed() {
    let targets =
        json!([{"priority": "critical", "first_response_minutes": 30, "resolution_minutes": 240}]);
    let error = refused(
        Kind::SlaPolicy,
        policy_with_targets(targets),
        "invalid_definition",
    );
    assert!(matches!(error, ConfigError::Malformed { .. }), "{error:?}");
}

#[test]
fn a_field_of_the_wrong_type_is_malformed() {
    let targets = json!([{"first_response_minutes": "30", "resolution_minutes": 240}]);
    for (kind, definition) in [
        (Kind::SlaPolicy, policy_with_targets(targets)),
        (Kind::SlaPolicy, policy_with_warnings(json!([75, 300]))),
        (Kind::SlaPolicy, with(policy(), "on_reopen", json!("reset"))),
        (Kind::Category, with(category(), "order", json!(-1))),
        (Kind::Queue, json!({"title": "IT-Servicedesk"})),
        (Kind::Queue, json!("it-servicedesk")),
        (Kind::Calendar, with(calendar(), "state", json!("XX"))),
        (
            Kind::Service,
            with(service(), "default_ticket_type", json!("bug")),
        ),
    ] {
        let error = refused(kind, definition, "invalid_definition");
        assert!(matches!(error, ConfigError::Malformed { .. }), "{error:?}");
    }
}

#[test]
fn a_missing_field_is_malformed() {
    for (kind, definition) in [
        (Kind::Queue, json!({})),
        (Kind::SlaPolicy, without(policy(), "calendar")),
        (Kind::Calendar, without(calendar(), "weekly_hours")),
        (Kind::Service, without(service(), "sla_policy")),
    ] {
        let error = refused(kind, definition, "invalid_definition");
        assert!(matches!(error, ConfigError::Malformed { .. }), "{error:?}");
    }
}

// Calendars.

fn calendar_with_hours(weekly_hours: Value) -> Value {
    with(calendar(), "weekly_hours", weekly_hours)
}

#[test]
fn overlapping_hours_are_refused() {
    check_refused(
        Kind::Calendar,
        calendar_with_hours(json!({"mon": ["11:30-15:00", "08:00-12:00"]})),
        ConfigError::Calendar(CalendarError::OverlappingIntervals {
            weekday: "mon".into(),
            first: "08:00-12:00".into(),
            second: "11:30-15:00".into(),
        }),
    );
}

#[test]
fn hours_that_end_before_they_start_are_refused() {
    check_refused(
        Kind::Calendar,
        calendar_with_hours(json!({"mon": ["16:00-08:00"]})),
        ConfigError::Calendar(CalendarError::InvertedInterval("16:00-08:00".into())),
    );
}

#[test]
fn malformed_hours_are_refused() {
    check_refused(
        Kind::Calendar,
        calendar_with_hours(json!({"mon": ["8-12"]})),
        ConfigError::Calendar(CalendarError::InvalidInterval("8-12".into())),
    );
}

#[test]
fn an_unknown_weekday_is_refused() {
    check_refused(
        Kind::Calendar,
        calendar_with_hours(json!({"mo": ["08:00-12:00"]})),
        ConfigError::Calendar(CalendarError::UnknownWeekday("mo".into())),
    );
}

#[test]
fn an_unknown_time_zone_is_refused() {
    check_refused(
        Kind::Calendar,
        with(calendar(), "time_zone", json!("Europe/Bonn")),
        ConfigError::Calendar(CalendarError::UnknownTimeZone("Europe/Bonn".into())),
    );
}

#[test]
fn a_calendar_that_is_never_open_is_refused() {
    for weekly_hours in [json!({}), json!({"mon": [], "fri": []})] {
        check_refused(
            Kind::Calendar,
            calendar_with_hours(weekly_hours),
            ConfigError::Calendar(CalendarError::NeverOpen),
        );
    }
}

#[test]
fn an_invalid_closing_day_is_refused() {
    check_refused(
        Kind::Calendar,
        with(calendar(), "closing_days", json!(["12-24", "02-30"])),
        ConfigError::Calendar(CalendarError::InvalidClosingDay("02-30".into())),
    );
}

// SLA policies.

fn row(first_response_minutes: u32, resolution_minutes: u32) -> Value {
    json!({"first_response_minutes": first_response_minutes, "resolution_minutes": resolution_minutes})
}

fn row_for(priorities: Value) -> Value {
    with(row(60, 480), "priorities", priorities)
}

#[test]
fn a_target_of_zero_minutes_is_refused() {
    check_refused(
        Kind::SlaPolicy,
        policy_with_targets(json!([row(60, 480), row(0, 480)])),
        invalid("targets[1].first_response_minutes must be 1 to 525600"),
    );
    check_refused(
        Kind::SlaPolicy,
        policy_with_targets(json!([row(60, 0)])),
        invalid("targets[0].resolution_minutes must be 1 to 525600"),
    );
}

#[test]
fn a_target_beyond_a_year_is_refused_and_a_year_is_accepted() {
    check_refused(
        Kind::SlaPolicy,
        policy_with_targets(json!([row(60, TARGET_MINUTES_MAX + 1)])),
        invalid("targets[0].resolution_minutes must be 1 to 525600"),
    );
    let year = policy_with_targets(json!([row(TARGET_MINUTES_MAX, TARGET_MINUTES_MAX)]));
    assert!(when(Kind::SlaPolicy, NEW, &[], define(year), &landesamt()).is_ok());
}

#[test]
fn a_policy_without_targets_is_refused() {
    check_refused(
        Kind::SlaPolicy,
        policy_with_targets(json!([])),
        invalid("a policy needs at least one target"),
    );
}

#[test]
fn warning_thresholds_must_lie_strictly_between_0_and_100() {
    check_refused(
        Kind::SlaPolicy,
        policy_with_warnings(json!([0, 90])),
        invalid("warning_percent 0 is outside 1 to 99"),
    );
    check_refused(
        Kind::SlaPolicy,
        policy_with_warnings(json!([75, 100])),
        invalid("warning_percent 100 is outside 1 to 99"),
    );
    let edges = policy_with_warnings(json!([1, 99]));
    assert!(when(Kind::SlaPolicy, NEW, &[], define(edges), &landesamt()).is_ok());
}

#[test]
fn warning_thresholds_must_ascend() {
    for warnings in [json!([90, 75]), json!([75, 75])] {
        check_refused(
            Kind::SlaPolicy,
            policy_with_warnings(warnings),
            invalid("warning_percent must ascend"),
        );
    }
}

#[test]
fn empty_warnings_and_pauses_are_kept() {
    let mut definition = policy_with_targets(json!([row(60, 480)]));
    definition["warning_percent"] = json!([]);
    definition["pause_when_pending"] = json!([]);
    let mut normalized = with(definition.clone(), "on_reopen", json!("continue"));
    normalized["targets"][0]["ticket_types"] = json!([]);
    normalized["targets"][0]["priorities"] = json!([]);
    check_defined(Kind::SlaPolicy, definition, normalized);
}

#[test]
fn a_policy_without_a_title_is_refused() {
    for title in ["", "   ", &"T".repeat(201)] {
        check_refused(
            Kind::SlaPolicy,
            with(policy(), "title", json!(title)),
            invalid("title must be 1 to 200 characters"),
        );
    }
}

#[test]
fn a_row_after_a_catch_all_row_never_matches() {
    check_refused(
        Kind::SlaPolicy,
        policy_with_targets(json!([row(480, 4800), row_for(json!(["critical"]))])),
        ConfigError::NeverMatches {
            reason: "targets[1] can never apply: targets[0] takes every ticket it names".into(),
        },
    );
}

#[test]
fn a_row_whose_priorities_an_earlier_row_takes_never_matches() {
    check_refused(
        Kind::SlaPolicy,
        policy_with_targets(json!([
            row_for(json!(["low"])),
            row_for(json!(["critical", "high"])),
            row_for(json!(["critical"])),
        ])),
        ConfigError::NeverMatches {
            reason: "targets[2] can never apply: targets[1] takes every ticket it names".into(),
        },
    );
}

#[test]
fn a_row_whose_types_and_priorities_an_earlier_row_takes_never_matches() {
    let earlier = with(
        row_for(json!(["critical"])),
        "ticket_types",
        json!(["incident"]),
    );
    let later = with(earlier.clone(), "first_response_minutes", json!(15));
    check_refused(
        Kind::SlaPolicy,
        policy_with_targets(json!([earlier, later])),
        ConfigError::NeverMatches {
            reason: "targets[1] can never apply: targets[0] takes every ticket it names".into(),
        },
    );
}

#[test]
fn a_row_that_still_takes_some_tickets_is_accepted() {
    for targets in [
        // High still reaches the second row.
        json!([
            row_for(json!(["critical"])),
            row_for(json!(["critical", "high"]))
        ]),
        // Every priority except critical reaches the catch-all.
        json!([row_for(json!(["critical"])), row(480, 4800)]),
        // Service requests reach the second row.
        json!([
            with(row(60, 480), "ticket_types", json!(["incident"])),
            with(
                row_for(json!(["critical"])),
                "ticket_types",
                json!(["incident", "service_request"])
            ),
        ]),
    ] {
        let definition = policy_with_targets(targets);
        assert!(
            when(
                Kind::SlaPolicy,
                NEW,
                &[],
                define(definition.clone()),
                &landesamt()
            )
            .is_ok(),
            "{definition}"
        );
    }
}

#[test]
fn a_policy_naming_a_missing_calendar_is_refused() {
    check_refused(
        Kind::SlaPolicy,
        with(policy(), "calendar", json!("servicezeiten-hamburg")),
        ConfigError::MissingReference {
            field: "calendar",
            kind: "calendar",
            name: "servicezeiten-hamburg".into(),
        },
    );
}

#[test]
fn the_first_matching_row_gives_the_targets() {
    let policy: SlaPolicyDefinition = serde_json::from_value(policy()).unwrap();
    let minutes = |ticket_type, priority| {
        policy
            .target(ticket_type, priority)
            .map(|target| (target.first_response_minutes, target.resolution_minutes))
    };
    assert_eq!(
        minutes(TicketType::ServiceRequest, Priority::Critical),
        Some((30, 240))
    );
    assert_eq!(
        minutes(TicketType::Incident, Priority::High),
        Some((60, 480))
    );
    assert_eq!(
        minutes(TicketType::ServiceRequest, Priority::Low),
        Some((240, 2400))
    );
    assert_eq!(
        minutes(TicketType::Incident, Priority::Low),
        Some((480, 4800))
    );
}

#[test]
fn no_target_when_no_row_matches() {
    let definition = policy_with_targets(json!([with(
        row_for(json!(["critical", "high"])),
        "ticket_types",
        json!(["incident"])
    ),]));
    let policy: SlaPolicyDefinition = serde_json::from_value(definition).unwrap();
    assert_eq!(policy.target(TicketType::Incident, Priority::Medium), None);
    assert_eq!(
        policy.target(TicketType::ServiceRequest, Priority::High),
        None
    );
    assert_eq!(
        policy
            .target(TicketType::Incident, Priority::High)
            .map(|target| target.resolution_minutes),
        Some(480)
    );
}

// Services.

#[test]
fn a_service_naming_a_missing_item_is_refused_by_field() {
    for (field, kind) in [
        ("category", "category"),
        ("default_queue", "queue"),
        ("sla_policy", "sla_policy"),
    ] {
        check_refused(
            Kind::Service,
            with(service(), field, json!("gibt-es-nicht")),
            ConfigError::MissingReference {
                field,
                kind,
                name: "gibt-es-nicht".into(),
            },
        );
    }
}

#[test]
fn a_service_cannot_name_an_item_of_another_kind() {
    // The queue's name as a category: names are per kind.
    check_refused(
        Kind::Service,
        with(service(), "category", json!(QUEUE)),
        ConfigError::MissingReference {
            field: "category",
            kind: "category",
            name: QUEUE.into(),
        },
    );
}

#[test]
fn a_form_key_used_twice_is_refused() {
    check_refused(
        Kind::Service,
        service_with_form(json!([field("rolle", "text"), field("rolle", "long_text")])),
        invalid(r#"form[1].key "rolle" is used twice"#),
    );
}

#[test]
fn a_select_without_options_is_refused() {
    check_refused(
        Kind::Service,
        service_with_form(json!([
            field("rolle", "text"),
            field("fachverfahren", "select")
        ])),
        invalid("form[1] is a select without options"),
    );
}

#[test]
fn options_on_a_field_that_is_not_a_select_are_refused() {
    check_refused(
        Kind::Service,
        service_with_form(json!([with(
            field("rolle", "text"),
            "options",
            json!(["Leser", "Bearbeiter"])
        )])),
        invalid("form[0] has options but is not a select"),
    );
}

#[test]
fn a_condition_on_a_later_unknown_or_its_own_field_is_refused() {
    let conditional = |on: &str| {
        with(
            field("befristet_bis", "date"),
            "visible_if",
            json!({"field": on, "equals": true}),
        )
    };
    for (form, index, on) in [
        (
            json!([conditional("befristet"), field("befristet", "boolean")]),
            0,
            "befristet",
        ),
        (
            json!([field("befristet", "boolean"), conditional("unbefristet")]),
            1,
            "unbefristet",
        ),
        (json!([conditional("befristet_bis")]), 0, "befristet_bis"),
    ] {
        check_refused(
            Kind::Service,
            service_with_form(form),
            invalid(&format!(
                "form[{index}].visible_if names {on:?}, which is not an earlier field"
            )),
        );
    }
}

#[test]
fn a_form_key_outside_lowercase_digits_and_underscore_is_refused() {
    for key in [
        "Rolle",
        "rolle-neu",
        "rolle neu",
        "",
        "größe",
        &"k".repeat(65),
    ] {
        check_refused(
            Kind::Service,
            service_with_form(json!([field("rolle", "text"), field(key, "text")])),
            invalid("form[1].key must be 1 to 64 of a-z, 0-9 and _"),
        );
    }
}

#[test]
fn a_form_of_more_than_fifty_fields_is_refused() {
    let form: Vec<Value> = (0..51)
        .map(|i| field(&format!("feld_{i}"), "text"))
        .collect();
    check_refused(
        Kind::Service,
        service_with_form(Value::Array(form)),
        invalid("a form has at most 50 fields"),
    );
}

#[test]
fn a_service_without_a_title_or_description_is_refused() {
    for (field, title) in [
        ("title", json!({"de": ""})),
        ("title", json!({"de": "  "})),
        ("title", json!({"de": "Zugang", "en": ""})),
        ("title", json!({"de": "Z".repeat(201)})),
        ("description", json!({"de": ""})),
    ] {
        let limit = if field == "title" { 200 } else { 4_000 };
        check_refused(
            Kind::Service,
            with(service(), field, title),
            invalid(&format!(
                "{field} must be 1 to {limit} characters in each language"
            )),
        );
    }
}

#[test]
fn a_form_label_must_not_be_empty() {
    let unlabelled = with(field("rolle", "text"), "label", json!({"de": ""}));
    check_refused(
        Kind::Service,
        service_with_form(json!([unlabelled])),
        invalid("form[0].label must be 1 to 200 characters in each language"),
    );
}

#[test]
fn a_queue_or_category_with_an_empty_title_is_refused() {
    for kind in [Kind::Queue, Kind::Category] {
        let untitled = json!({"title": {"de": " "}});
        let error = when(kind, NEW, &[], define(untitled), &landesamt()).unwrap_err();
        assert_eq!(error.code(), "invalid_definition");
        assert_eq!(
            error,
            ConfigError::Invalid {
                reason: "title must be 1 to 200 characters in each language".into()
            }
        );
    }
}

#[test]
fn select_options_must_be_distinct_and_the_default_type_supported() {
    let mut service = json!({
        "title": {"de": "Zugang"}, "description": {"de": "Zugang zu einem Fachverfahren"},
        "category": "berechtigungen", "default_queue": "it-servicedesk",
        "default_ticket_type": "service_request", "sla_policy": "standard",
        "form": [{"key": "art", "label": {"de": "Art"}, "kind": "select", "options": ["Lesen", "Lesen"]}],
    });
    let error = when(
        Kind::Service,
        NEW,
        &[],
        define(service.clone()),
        &landesamt(),
    )
    .unwrap_err();
    assert_eq!(error.code(), "invalid_definition", "{error}");
    service["form"][0]["options"] = json!(["Lesen", "Schreiben"]);
    service["default_ticket_type"] = json!("change");
    let error = when(
        Kind::Service,
        NEW,
        &[],
        define(service.clone()),
        &landesamt(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        ConfigError::Invalid {
            reason: "default_ticket_type must be incident or service_request".into()
        }
    );
    service["default_ticket_type"] = json!("incident");
    assert!(when(Kind::Service, NEW, &[], define(service), &landesamt()).is_ok());
}

// Retiring.

#[test]
fn retiring_an_undefined_item_is_refused() {
    let error = when(Kind::Queue, NEW, &[], ConfigCommand::Retire, &landesamt()).unwrap_err();
    assert_eq!(error.code(), "config_not_found");
    assert_eq!(
        error,
        ConfigError::NotDefined {
            kind: "queue",
            name: NEW.into(),
        }
    );
}

#[test]
fn retiring_a_retired_item_is_refused() {
    let events = [defined(NEW, queue()), retired(NEW)];
    let error = when(
        Kind::Queue,
        NEW,
        &events,
        ConfigCommand::Retire,
        &landesamt(),
    )
    .unwrap_err();
    assert_eq!(error.code(), "config_not_found");
}

#[test]
fn retiring_a_calendar_an_active_policy_counts_in_is_refused() {
    let events = [defined(CALENDAR, calendar())];
    let error = when(
        Kind::Calendar,
        CALENDAR,
        &events,
        ConfigCommand::Retire,
        &landesamt(),
    )
    .unwrap_err();
    assert_eq!(error.code(), "config_in_use");
    assert_eq!(
        error,
        ConfigError::InUse {
            users: "sla_policy standard".into(),
        }
    );
}

#[test]
fn retiring_refuses_naming_every_user() {
    let mut configuration = landesamt();
    let mut second = service();
    second["title"] = json!({"de": "Neues Fachverfahren"});
    configuration
        .0
        .push((Kind::Service, "fachverfahren-neu".into(), second));
    let error = when(
        Kind::Queue,
        QUEUE,
        &[defined(QUEUE, queue())],
        ConfigCommand::Retire,
        &configuration,
    )
    .unwrap_err();
    assert_eq!(
        error,
        ConfigError::InUse {
            users: "service fachverfahren-zugang, service fachverfahren-neu".into(),
        }
    );
}

#[test]
fn retiring_an_unused_item_appends_one_retired_event() {
    assert_eq!(
        when(
            Kind::Service,
            SERVICE,
            &[defined(SERVICE, service())],
            ConfigCommand::Retire,
            &landesamt()
        ),
        Ok(vec![retired(SERVICE)])
    );
}

#[test]
fn a_retired_item_keeps_its_definition_and_version() {
    let item = given(&[
        defined(QUEUE, queue()),
        defined(QUEUE, json!({"title": {"de": "Servicedesk"}})),
        retired(QUEUE),
    ]);
    assert_eq!(
        item,
        ConfigItem {
            version: 3,
            definition: Some(json!({"title": {"de": "Servicedesk"}})),
            retired: true,
        }
    );
    assert!(!item.is_active());
    assert!(!ConfigItem::default().is_active());
}

#[test]
fn references_name_what_a_definition_depends_on() {
    assert_eq!(
        references_of(Kind::Service, &service()),
        vec![
            (Kind::Category, CATEGORY.to_owned()),
            (Kind::Queue, QUEUE.to_owned()),
            (Kind::SlaPolicy, POLICY.to_owned()),
        ]
    );
    assert_eq!(
        references_of(Kind::SlaPolicy, &policy()),
        vec![(Kind::Calendar, CALENDAR.to_owned())]
    );
    for kind in [Kind::Queue, Kind::Category, Kind::Calendar] {
        assert_eq!(references_of(kind, &calendar()), vec![]);
    }
}

// What crosses the boundary.

#[test]
fn events_carry_their_type_and_read_back() {
    let events = [
        (
            defined(QUEUE, queue()),
            json!({"type": "defined", "name": QUEUE, "definition": queue()}),
        ),
        (retired(QUEUE), json!({"type": "retired", "name": QUEUE})),
    ];
    for (event, wire) in events {
        assert_eq!(serde_json::to_value(&event).unwrap(), wire);
        assert_eq!(serde_json::from_value::<ConfigEvent>(wire).unwrap(), event);
    }
}

#[test]
fn kinds_name_their_streams_events_and_segments() {
    let table = [
        (Kind::Queue, "queue", "queues"),
        (Kind::Category, "category", "categories"),
        (Kind::Service, "service", "services"),
        (Kind::Calendar, "calendar", "calendars"),
        (Kind::SlaPolicy, "sla_policy", "sla-policies"),
    ];
    for (kind, stream_type, segment) in table {
        assert_eq!(kind.stream_type(), stream_type);
        assert_eq!(kind.segment(), segment);
        assert_eq!(Kind::from_stream_type(stream_type), Some(kind));
        assert_eq!(Kind::from_segment(segment), Some(kind));
        assert_eq!(kind.defined_event(), format!("{stream_type}.defined"));
        assert_eq!(kind.retired_event(), format!("{stream_type}.retired"));
    }
    assert_eq!(Kind::from_segment("sla_policy"), None);
    assert_eq!(Kind::from_stream_type("sla-policies"), None);
}
