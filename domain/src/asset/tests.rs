//! Given/when/then tests of the asset rules: one test per rule, named as the rule.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use uuid::Uuid;

use super::class::default_classes;
use super::*;

fn id(n: u128) -> AssetId {
    AssetId(Uuid::from_u128(n))
}

fn source() -> SourceName {
    SourceName::try_from("baramundi".to_owned()).unwrap()
}

fn computer_class() -> AssetClassDefinition {
    default_classes().remove(0).1
}

fn registered(lifecycle: Lifecycle) -> AssetEvent {
    AssetEvent::Registered {
        id: id(1),
        class: "computer".into(),
        fields: BTreeMap::from([(CoreField::Name, "PC-0001".into())]),
        attributes: BTreeMap::from([("ram_gb".into(), json!(16))]),
        lifecycle,
        source: Some(SourceKey {
            source: source(),
            external_id: "4711".into(),
        }),
    }
}

fn lifecycle_to(to: Lifecycle) -> AssetCommand {
    AssetCommand::ChangeLifecycle { to, reason: None }
}

fn update(
    fields: &[(CoreField, Option<&str>)],
    attributes: &[(&str, Option<Value>)],
) -> AssetCommand {
    AssetCommand::Update {
        fields: fields
            .iter()
            .map(|(field, value)| (*field, value.map(str::to_owned)))
            .collect(),
        attributes: attributes
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect(),
        source: None,
    }
}

#[track_caller]
fn check_with(
    given: Vec<AssetEvent>,
    context: AssetContext<'_>,
    when: AssetCommand,
    then: Result<Vec<AssetEvent>, AssetError>,
) {
    let state = Asset::from_events(&given);
    assert_eq!(decide(&state, when, &context), then);
}

#[track_caller]
fn check(given: Vec<AssetEvent>, when: AssetCommand, then: Result<Vec<AssetEvent>, AssetError>) {
    let class = computer_class();
    let context = AssetContext {
        class: Some(&class),
        relation_target: Some(Lifecycle::Deployed),
    };
    check_with(given, context, when, then);
}

#[test]
fn registering_records_the_checked_fields_and_attributes() {
    let when = AssetCommand::Register {
        id: id(1),
        class: "computer".into(),
        fields: BTreeMap::from([
            (CoreField::Name, " PC-0001 ".into()),
            (CoreField::Location, "".into()),
        ]),
        attributes: BTreeMap::from([("ram_gb".into(), json!("16"))]),
        lifecycle: Lifecycle::Deployed,
        source: Some(SourceKey {
            source: source(),
            external_id: "4711".into(),
        }),
    };
    check(vec![], when, Ok(vec![registered(Lifecycle::Deployed)]));
}

#[test]
fn registering_twice_is_refused() {
    let when = AssetCommand::Register {
        id: id(1),
        class: "computer".into(),
        fields: BTreeMap::from([(CoreField::Name, "PC".into())]),
        attributes: BTreeMap::new(),
        lifecycle: Lifecycle::InStock,
        source: None,
    };
    check(
        vec![registered(Lifecycle::InStock)],
        when,
        Err(AssetError::AlreadyRegistered),
    );
}

#[test]
fn registering_without_a_name_is_refused() {
    let when = AssetCommand::Register {
        id: id(1),
        class: "computer".into(),
        fields: BTreeMap::from([(CoreField::Name, "  ".into())]),
        attributes: BTreeMap::new(),
        lifecycle: Lifecycle::InStock,
        source: None,
    };
    let then = decide(
        &Asset::default(),
        when,
        &AssetContext {
            class: Some(&computer_class()),
            relation_target: None,
        },
    );
    assert_eq!(then.unwrap_err().code(), "invalid_field");
}

#[test]
fn registering_in_an_unknown_class_is_refused() {
    let when = AssetCommand::Register {
        id: id(1),
        class: "spaceship".into(),
        fields: BTreeMap::from([(CoreField::Name, "X".into())]),
        attributes: BTreeMap::new(),
        lifecycle: Lifecycle::InStock,
        source: None,
    };
    check_with(
        vec![],
        AssetContext::default(),
        when,
        Err(AssetError::UnknownClass("spaceship".into())),
    );
}

#[test]
fn an_attribute_the_class_does_not_have_is_refused() {
    let when = update(&[], &[("colour", Some(json!("red")))]);
    check(
        vec![registered(Lifecycle::Deployed)],
        when,
        Err(AssetError::Attribute(AttributeError::Unknown {
            key: "colour".into(),
        })),
    );
}

#[test]
fn a_required_attribute_cannot_be_removed() {
    let mut class = computer_class();
    class
        .attributes
        .iter_mut()
        .find(|attribute| attribute.key == "ram_gb")
        .unwrap()
        .required = true;
    let context = AssetContext {
        class: Some(&class),
        relation_target: None,
    };
    check_with(
        vec![registered(Lifecycle::Deployed)],
        context,
        update(&[], &[("ram_gb", None)]),
        Err(AssetError::Attribute(AttributeError::Required {
            key: "ram_gb".into(),
        })),
    );
}

#[test]
fn an_update_records_only_what_changed() {
    let when = update(
        &[
            (CoreField::Name, Some("PC-0001")),
            (CoreField::Location, Some("RH-2.114")),
        ],
        &[
            ("ram_gb", Some(json!(32))),
            ("cpu", Some(json!("i5"))),
            ("disk_gb", None),
        ],
    );
    check(
        vec![registered(Lifecycle::Deployed)],
        when,
        Ok(vec![AssetEvent::Updated {
            fields: BTreeMap::from([(CoreField::Location, Some("RH-2.114".into()))]),
            attributes: BTreeMap::from([
                ("cpu".into(), Some(json!("i5"))),
                ("ram_gb".into(), Some(json!(32))),
            ]),
            source: None,
        }]),
    );
}

#[test]
fn an_update_that_changes_nothing_records_nothing() {
    let when = update(
        &[(CoreField::Name, Some("PC-0001"))],
        &[("ram_gb", Some(json!("16")))],
    );
    check(vec![registered(Lifecycle::Deployed)], when, Ok(vec![]));
}

#[test]
fn removing_a_value_records_null() {
    let when = update(&[(CoreField::User, None)], &[("ram_gb", None)]);
    let given = vec![
        registered(Lifecycle::Deployed),
        AssetEvent::Updated {
            fields: BTreeMap::from([(CoreField::User, Some("mmueller".into()))]),
            attributes: BTreeMap::new(),
            source: None,
        },
    ];
    check(
        given,
        when,
        Ok(vec![AssetEvent::Updated {
            fields: BTreeMap::from([(CoreField::User, None)]),
            attributes: BTreeMap::from([("ram_gb".into(), None)]),
            source: None,
        }]),
    );
}

#[test]
fn the_name_cannot_be_cleared() {
    let then = decide(
        &Asset::from_events(&[registered(Lifecycle::Deployed)]),
        update(&[(CoreField::Name, Some(""))], &[]),
        &AssetContext::default(),
    );
    assert_eq!(
        then,
        Err(AssetError::InvalidField {
            field: CoreField::Name,
            expected: "a text of 1 to 200 characters"
        })
    );
}

#[test]
fn a_command_on_an_unregistered_asset_is_refused() {
    check(
        vec![],
        lifecycle_to(Lifecycle::Deployed),
        Err(AssetError::NotRegistered),
    );
}

#[test]
fn every_allowed_transition_is_recorded_and_every_other_is_refused() {
    for from in Lifecycle::ALL
        .into_iter()
        .filter(|state| !state.is_terminal())
    {
        for to in Lifecycle::ALL {
            let then = if lifecycle::allowed(from, to) {
                Ok(vec![AssetEvent::LifecycleChanged {
                    from,
                    to,
                    reason: None,
                }])
            } else {
                Err(AssetError::TransitionNotAllowed { from, to })
            };
            check(vec![registered(from)], lifecycle_to(to), then);
        }
    }
}

#[test]
fn deploying_a_planned_asset_is_refused() {
    check(
        vec![registered(Lifecycle::Planned)],
        lifecycle_to(Lifecycle::Deployed),
        Err(AssetError::TransitionNotAllowed {
            from: Lifecycle::Planned,
            to: Lifecycle::Deployed,
        }),
    );
}

#[test]
fn a_disposed_asset_accepts_no_change() {
    let given = vec![
        registered(Lifecycle::Retired),
        AssetEvent::LifecycleChanged {
            from: Lifecycle::Retired,
            to: Lifecycle::Disposed,
            reason: None,
        },
    ];
    check(
        given.clone(),
        lifecycle_to(Lifecycle::InStock),
        Err(AssetError::Disposed),
    );
    check(
        given,
        update(&[(CoreField::Location, Some("X"))], &[]),
        Err(AssetError::Disposed),
    );
}

#[test]
fn a_lifecycle_reason_is_kept_trimmed() {
    check(
        vec![registered(Lifecycle::Deployed)],
        AssetCommand::ChangeLifecycle {
            to: Lifecycle::InRepair,
            reason: Some(" Display defekt ".into()),
        },
        Ok(vec![AssetEvent::LifecycleChanged {
            from: Lifecycle::Deployed,
            to: Lifecycle::InRepair,
            reason: Some("Display defekt".into()),
        }]),
    );
}

#[test]
fn relating_to_an_existing_asset_is_recorded_once() {
    let relate = AssetCommand::Relate {
        relation: RelationType::RunsOn,
        target: id(2),
    };
    let related = AssetEvent::Related {
        relation: RelationType::RunsOn,
        target: id(2),
    };
    check(
        vec![registered(Lifecycle::Deployed)],
        relate.clone(),
        Ok(vec![related.clone()]),
    );
    check(
        vec![registered(Lifecycle::Deployed), related],
        relate,
        Err(AssetError::RelationExists(RelationType::RunsOn)),
    );
}

#[test]
fn a_relation_of_another_type_to_the_same_asset_is_its_own() {
    let given = vec![
        registered(Lifecycle::Deployed),
        AssetEvent::Related {
            relation: RelationType::RunsOn,
            target: id(2),
        },
    ];
    check(
        given,
        AssetCommand::Relate {
            relation: RelationType::DependsOn,
            target: id(2),
        },
        Ok(vec![AssetEvent::Related {
            relation: RelationType::DependsOn,
            target: id(2),
        }]),
    );
}

#[test]
fn relating_to_itself_is_refused() {
    check(
        vec![registered(Lifecycle::Deployed)],
        AssetCommand::Relate {
            relation: RelationType::ConnectedTo,
            target: id(1),
        },
        Err(AssetError::RelationToItself),
    );
}

#[test]
fn relating_to_a_missing_or_disposed_asset_is_refused() {
    let class = computer_class();
    let relate = AssetCommand::Relate {
        relation: RelationType::DependsOn,
        target: id(2),
    };
    check_with(
        vec![registered(Lifecycle::Deployed)],
        AssetContext {
            class: Some(&class),
            relation_target: None,
        },
        relate.clone(),
        Err(AssetError::UnknownTarget),
    );
    check_with(
        vec![registered(Lifecycle::Deployed)],
        AssetContext {
            class: Some(&class),
            relation_target: Some(Lifecycle::Disposed),
        },
        relate,
        Err(AssetError::TargetDisposed),
    );
}

#[test]
fn ending_a_relation_that_does_not_exist_is_refused() {
    let unrelate = AssetCommand::Unrelate {
        relation: RelationType::LocatedIn,
        target: id(3),
    };
    check(
        vec![registered(Lifecycle::Deployed)],
        unrelate.clone(),
        Err(AssetError::RelationNotFound(RelationType::LocatedIn)),
    );
    let given = vec![
        registered(Lifecycle::Deployed),
        AssetEvent::Related {
            relation: RelationType::LocatedIn,
            target: id(3),
        },
    ];
    check(
        given,
        unrelate,
        Ok(vec![AssetEvent::Unrelated {
            relation: RelationType::LocatedIn,
            target: id(3),
        }]),
    );
}

#[test]
fn a_missing_asset_is_flagged_once_and_cleared_once() {
    let flag = AssetCommand::FlagMissing {
        source: source(),
        missed_runs: 3,
    };
    let flagged = AssetEvent::MissingFlagged {
        source: source(),
        missed_runs: 3,
    };
    check(
        vec![registered(Lifecycle::Deployed)],
        flag.clone(),
        Ok(vec![flagged.clone()]),
    );
    check(
        vec![registered(Lifecycle::Deployed), flagged.clone()],
        flag,
        Ok(vec![]),
    );
    let clear = AssetCommand::ClearMissing { source: source() };
    check(
        vec![registered(Lifecycle::Deployed)],
        clear.clone(),
        Ok(vec![]),
    );
    check(
        vec![registered(Lifecycle::Deployed), flagged],
        clear,
        Ok(vec![AssetEvent::MissingCleared { source: source() }]),
    );
}

#[test]
fn an_import_update_names_a_source_the_asset_has() {
    let other = SourceName::try_from("procurement".to_owned()).unwrap();
    check(
        vec![registered(Lifecycle::Deployed)],
        AssetCommand::Update {
            fields: BTreeMap::new(),
            attributes: BTreeMap::from([("ram_gb".into(), Some(json!(8)))]),
            source: Some(other),
        },
        Err(AssetError::UnknownSource("procurement".into())),
    );
}

#[test]
fn imported_ids_are_stable_per_source_and_external_id() {
    let other = SourceName::try_from("procurement".to_owned()).unwrap();
    assert_eq!(
        AssetId::imported(&source(), "4711"),
        AssetId::imported(&source(), "4711")
    );
    assert_ne!(
        AssetId::imported(&source(), "4711"),
        AssetId::imported(&other, "4711")
    );
    assert_ne!(
        AssetId::imported(&source(), "4711"),
        AssetId::imported(&source(), "4712")
    );
}

#[test]
fn events_round_trip_through_json() {
    let events = vec![
        registered(Lifecycle::Deployed),
        AssetEvent::Updated {
            fields: BTreeMap::from([(CoreField::User, None)]),
            attributes: BTreeMap::from([("ram_gb".into(), Some(json!(8)))]),
            source: Some(source()),
        },
        AssetEvent::LifecycleChanged {
            from: Lifecycle::Deployed,
            to: Lifecycle::InRepair,
            reason: None,
        },
        AssetEvent::Related {
            relation: RelationType::UsesLicence,
            target: id(9),
        },
        AssetEvent::MissingFlagged {
            source: source(),
            missed_runs: 3,
        },
    ];
    for event in events {
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["event_type"], event.event_type());
        assert_eq!(serde_json::from_value::<AssetEvent>(json).unwrap(), event);
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn command() -> impl Strategy<Value = AssetCommand> {
        prop_oneof![
            (0..7usize).prop_map(|index| lifecycle_to(Lifecycle::ALL[index])),
            (0u8..4, proptest::option::of(1u32..64)).prop_map(|(location, ram)| {
                AssetCommand::Update {
                    fields: BTreeMap::from([(CoreField::Location, Some(format!("L{location}")))]),
                    attributes: BTreeMap::from([("ram_gb".into(), ram.map(|ram| json!(ram)))]),
                    source: None,
                }
            }),
            (0usize..6, 2u128..5).prop_map(|(relation, target)| AssetCommand::Relate {
                relation: RelationType::ALL[relation],
                target: id(target),
            }),
            (0usize..6, 2u128..5).prop_map(|(relation, target)| AssetCommand::Unrelate {
                relation: RelationType::ALL[relation],
                target: id(target),
            }),
        ]
    }

    proptest! {
        /// Any command sequence: the state rebuilt from the events equals the state evolved step
        /// by step, the lifecycle only moves along the table, and a repeated update is a no-op.
        #[test]
        fn any_command_sequence_keeps_the_invariants(commands in proptest::collection::vec(command(), 0..40)) {
            let class = computer_class();
            let context = AssetContext { class: Some(&class), relation_target: Some(Lifecycle::Deployed) };
            let mut events = vec![registered(Lifecycle::InStock)];
            let mut state = Asset::from_events(&events);
            for command in commands {
                let before = state.lifecycle.unwrap();
                if let Ok(new_events) = decide(&state, command.clone(), &context) {
                    for event in &new_events {
                        state = state.apply(event);
                    }
                    events.extend(new_events);
                    let after = state.lifecycle.unwrap();
                    prop_assert!(before == after || lifecycle::allowed(before, after));
                    if matches!(command, AssetCommand::Update { .. }) {
                        prop_assert_eq!(decide(&state, command, &context), Ok(vec![]));
                    }
                }
            }
            prop_assert_eq!(Asset::from_events(&events), state);
        }
    }
}
