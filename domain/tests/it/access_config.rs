//! Access configuration (issue 6 §1): given the configuration, when an administrator defines or
//! retires a team or an organisation unit, then these events or this refusal — through the
//! public API only.

use domain::config::access::{OrgUnitDefinition, QueueRight, TeamDefinition};
use domain::config::{references_of, ConfigCommand, ConfigError, ConfigEvent, Kind};
use serde_json::{json, Value};

use crate::config_support::{self, defined, invalid, name, with, Configuration, NEW};

const SERVICEDESK: &str = "it-servicedesk";
const FACHVERFAHREN: &str = "fachverfahren";
const TEAM: &str = "servicedesk-1st-level";
const MINISTERIUM: &str = "ministerium";
const ABTEILUNG: &str = "abteilung-1";
const REFERAT: &str = "referat-11";

fn queue(title: &str) -> Value {
    json!({"title": {"de": title}})
}

fn unit(title: &str, parent: Option<&str>) -> Value {
    match parent {
        Some(parent) => json!({"title": {"de": title}, "parent": parent}),
        None => json!({"title": {"de": title}}),
    }
}

/// The 1st-level service desk: works its queue fully, reads the specialist queue.
fn team() -> Value {
    json!({
        "title": {"de": "Servicedesk 1st Level", "en": "Service desk 1st level"},
        "members": ["k.meier", "a.schulz"],
        "queues": {
            SERVICEDESK: ["read", "create", "update", "assign", "close"],
            FACHVERFAHREN: ["read"]
        }
    })
}

/// Two queues, the team, and a ministry with a department and a section below it.
fn landesamt() -> Configuration {
    Configuration(vec![
        (Kind::Queue, SERVICEDESK.into(), queue("IT-Servicedesk")),
        (Kind::Queue, FACHVERFAHREN.into(), queue("Fachverfahren")),
        (Kind::Team, TEAM.into(), team()),
        (Kind::OrgUnit, MINISTERIUM.into(), unit("Ministerium", None)),
        (
            Kind::OrgUnit,
            ABTEILUNG.into(),
            unit("Abteilung 1", Some(MINISTERIUM)),
        ),
        (
            Kind::OrgUnit,
            REFERAT.into(),
            unit("Referat 11", Some(ABTEILUNG)),
        ),
    ])
}

/// Decides `command` on item `item` of `kind` after `events`, against the [`landesamt`].
fn when(
    kind: Kind,
    item: &str,
    events: &[ConfigEvent],
    command: ConfigCommand,
) -> Result<Vec<ConfigEvent>, ConfigError> {
    config_support::when(kind, item, events, command, &landesamt())
}

/// Defining item `item` of `kind` (after its definition in the [`landesamt`], if any) appends
/// exactly `then`.
#[track_caller]
fn check_defined(kind: Kind, item: &str, definition: Value, then: Value) {
    let events = existing(kind, item);
    assert_eq!(
        when(kind, item, &events, ConfigCommand::Define { definition }),
        Ok(vec![defined(item, then)])
    );
}

/// Defining item `item` of `kind` is refused with exactly `expected`.
#[track_caller]
fn check_refused(kind: Kind, item: &str, definition: Value, expected: ConfigError) {
    let events = existing(kind, item);
    let error = when(kind, item, &events, ConfigCommand::Define { definition })
        .expect_err("the definition should be refused");
    assert_eq!(error.code(), expected.code(), "{error}");
    assert_eq!(error, expected);
}

/// Retiring item `item` of `kind` is refused as still used by `users`.
#[track_caller]
fn check_in_use(kind: Kind, item: &str, users: &str) {
    let events = existing(kind, item);
    let error = when(kind, item, &events, ConfigCommand::Retire).unwrap_err();
    assert_eq!(error.code(), "config_in_use");
    assert_eq!(
        error,
        ConfigError::InUse {
            users: users.into()
        }
    );
}

/// The event that defined `item` in the [`landesamt`], if it is there.
fn existing(kind: Kind, item: &str) -> Vec<ConfigEvent> {
    landesamt()
        .0
        .into_iter()
        .filter(|(k, n, _)| *k == kind && n == item)
        .map(|(_, n, definition)| defined(&n, definition))
        .collect()
}

fn team_with(field: &str, value: Value) -> Value {
    with(team(), field, value)
}

// Teams.

#[test]
fn defining_a_team_records_it_with_read_added_and_rights_in_order() {
    let definition = team_with(
        "queues",
        json!({SERVICEDESK: ["close", "assign"], FACHVERFAHREN: ["update"]}),
    );
    let normalized = team_with(
        "queues",
        json!({SERVICEDESK: ["read", "assign", "close"], FACHVERFAHREN: ["read", "update"]}),
    );
    check_defined(Kind::Team, NEW, definition, normalized);
}

#[test]
fn a_normalized_team_reads_back_as_its_definition() {
    let read: TeamDefinition = serde_json::from_value(team()).unwrap();
    assert_eq!(read.queues[FACHVERFAHREN], vec![QueueRight::Read]);
    assert!(read.has_member("a.schulz"));
    assert_eq!(serde_json::to_value(&read).unwrap(), team());
}

#[test]
fn defining_the_same_team_again_appends_nothing() {
    assert_eq!(
        when(
            Kind::Team,
            TEAM,
            &[defined(TEAM, team())],
            ConfigCommand::Define { definition: team() }
        ),
        Ok(vec![])
    );
}

#[test]
fn a_team_naming_a_missing_queue_is_refused_naming_it() {
    check_refused(
        Kind::Team,
        NEW,
        team_with(
            "queues",
            json!({SERVICEDESK: ["read"], "poststelle": ["read"]}),
        ),
        ConfigError::MissingReference {
            field: "queues",
            kind: "queue",
            name: "poststelle".into(),
        },
    );
}

#[test]
fn a_team_s_rights_on_a_queue_must_be_distinct_and_not_empty() {
    for rights in [json!([]), json!(["read", "update", "read"])] {
        check_refused(
            Kind::Team,
            NEW,
            team_with("queues", json!({SERVICEDESK: rights})),
            invalid("queues.it-servicedesk must list distinct rights, at least one"),
        );
    }
}

#[test]
fn an_unknown_right_is_malformed() {
    let error = when(
        Kind::Team,
        NEW,
        &[],
        ConfigCommand::Define {
            definition: team_with("queues", json!({SERVICEDESK: ["delete"]})),
        },
    )
    .unwrap_err();
    assert!(matches!(error, ConfigError::Malformed { .. }), "{error:?}");
}

#[test]
fn a_team_has_one_to_five_hundred_distinct_members() {
    let crowd: Vec<String> = (0..501).map(|i| format!("user.{i}")).collect();
    for members in [json!([]), json!(crowd)] {
        check_refused(
            Kind::Team,
            NEW,
            team_with("members", members),
            invalid("a team has 1 to 500 members"),
        );
    }
    check_refused(
        Kind::Team,
        NEW,
        team_with("members", json!(["k.meier", "a.schulz", "k.meier"])),
        invalid("members[2] \"k.meier\" is listed twice"),
    );
    let full: Vec<String> = (0..500).map(|i| format!("user.{i}")).collect();
    let definition = team_with("members", json!(full));
    check_defined(Kind::Team, NEW, definition.clone(), definition);
}

#[test]
fn a_member_is_a_user_name_of_lowercase_letters_digits_and_separators() {
    for member in ["K.Meier", "", "k meier", "müller", &"k".repeat(101)] {
        check_refused(
            Kind::Team,
            NEW,
            team_with("members", json!(["a.schulz", member])),
            invalid("members[1] must be 1 to 100 of a-z, 0-9, ., _ and -"),
        );
    }
    let definition = team_with("members", json!(["k_meier-2.extern", "k".repeat(100)]));
    check_defined(Kind::Team, NEW, definition.clone(), definition);
}

#[test]
fn a_team_needs_a_title() {
    check_refused(
        Kind::Team,
        NEW,
        team_with("title", json!({"de": " "})),
        invalid("title must be 1 to 200 characters in each language"),
    );
}

#[test]
fn retiring_a_queue_a_team_names_is_refused() {
    check_in_use(Kind::Queue, FACHVERFAHREN, "team servicedesk-1st-level");
}

#[test]
fn retiring_a_team_is_allowed() {
    assert_eq!(
        when(
            Kind::Team,
            TEAM,
            &existing(Kind::Team, TEAM),
            ConfigCommand::Retire
        ),
        Ok(vec![ConfigEvent::Retired { name: name(TEAM) }])
    );
}

// Organisation units.

#[test]
fn defining_a_unit_below_an_existing_one_records_it() {
    let definition = unit("Referat 12", Some(ABTEILUNG));
    check_defined(Kind::OrgUnit, NEW, definition.clone(), definition);
    let top = json!({"title": {"de": "Landesamt", "en": "State office"}});
    check_defined(Kind::OrgUnit, NEW, top.clone(), top);
    let read: OrgUnitDefinition = serde_json::from_value(unit("Referat", Some(ABTEILUNG))).unwrap();
    assert_eq!(read.parent.as_deref(), Some(ABTEILUNG));
}

#[test]
fn a_unit_below_a_missing_parent_is_refused_naming_it() {
    check_refused(
        Kind::OrgUnit,
        NEW,
        unit("Referat 99", Some("abteilung-9")),
        ConfigError::MissingReference {
            field: "parent",
            kind: "org_unit",
            name: "abteilung-9".into(),
        },
    );
}

#[test]
fn a_unit_cannot_be_its_own_parent() {
    check_refused(
        Kind::OrgUnit,
        ABTEILUNG,
        unit("Abteilung 1", Some(ABTEILUNG)),
        invalid(
            "parent: org unit abteilung-1 would be its own ancestor (abteilung-1 → abteilung-1)",
        ),
    );
}

#[test]
fn a_unit_cannot_move_below_its_own_descendant() {
    check_refused(
        Kind::OrgUnit,
        MINISTERIUM,
        unit("Ministerium", Some(REFERAT)),
        invalid(
            "parent: org unit ministerium would be its own ancestor \
             (ministerium → referat-11 → abteilung-1 → ministerium)",
        ),
    );
}

#[test]
fn a_unit_can_move_below_a_unit_outside_its_subtree() {
    let moved = unit("Referat 11", Some(MINISTERIUM));
    check_defined(Kind::OrgUnit, REFERAT, moved.clone(), moved);
}

#[test]
fn a_unit_with_an_unknown_field_is_malformed() {
    let error = when(
        Kind::OrgUnit,
        NEW,
        &[],
        ConfigCommand::Define {
            definition: json!({"title": {"de": "Referat"}, "leitung": "k.meier"}),
        },
    )
    .unwrap_err();
    assert!(matches!(error, ConfigError::Malformed { .. }), "{error:?}");
}

#[test]
fn retiring_a_unit_that_is_still_a_parent_is_refused() {
    check_in_use(Kind::OrgUnit, ABTEILUNG, "org_unit referat-11");
    check_in_use(Kind::OrgUnit, MINISTERIUM, "org_unit abteilung-1");
}

#[test]
fn retiring_a_unit_without_children_is_allowed() {
    assert_eq!(
        when(
            Kind::OrgUnit,
            REFERAT,
            &existing(Kind::OrgUnit, REFERAT),
            ConfigCommand::Retire
        ),
        Ok(vec![ConfigEvent::Retired {
            name: name(REFERAT)
        }])
    );
}

// What crosses the boundary.

#[test]
fn references_name_a_team_s_queues_and_a_unit_s_parent() {
    assert_eq!(
        references_of(Kind::Team, &team()),
        vec![
            (Kind::Queue, FACHVERFAHREN.to_owned()),
            (Kind::Queue, SERVICEDESK.to_owned()),
        ]
    );
    assert_eq!(
        references_of(Kind::OrgUnit, &unit("Referat 11", Some(ABTEILUNG))),
        vec![(Kind::OrgUnit, ABTEILUNG.to_owned())]
    );
    assert_eq!(
        references_of(Kind::OrgUnit, &unit("Ministerium", None)),
        vec![]
    );
}

#[test]
fn the_new_kinds_name_their_streams_events_and_segments() {
    for (kind, stream_type, segment) in [
        (Kind::OrgUnit, "org_unit", "org-units"),
        (Kind::Team, "team", "teams"),
    ] {
        assert_eq!(kind.stream_type(), stream_type);
        assert_eq!(kind.segment(), segment);
        assert_eq!(Kind::from_stream_type(stream_type), Some(kind));
        assert_eq!(Kind::from_segment(segment), Some(kind));
        assert_eq!(kind.defined_event(), format!("{stream_type}.defined"));
        assert_eq!(kind.retired_event(), format!("{stream_type}.retired"));
    }
}

#[test]
fn rights_have_their_wire_names() {
    assert_eq!(
        serde_json::to_value(QueueRight::ALL).unwrap(),
        json!(["read", "create", "update", "assign", "close"])
    );
}
