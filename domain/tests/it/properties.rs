//! Properties: any command sequence keeps the invariants, rehydrating the events gives the same
//! state, and every event survives a JSON round trip.

use std::collections::BTreeMap;

use chrono::Duration;
use domain::ticket::{
    decide, ArticleBody, Attachment, Channel, DecisionContext, Level, LinkType, PendingReason,
    Status, Ticket, TicketCommand, TicketError, TicketEvent, TicketId, TicketPolicy, Title,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

use crate::support::{open, start, OTHER, THIRD, TICKET};

fn level() -> impl Strategy<Value = Level> {
    select(vec![
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ])
}

fn ticket_id() -> impl Strategy<Value = TicketId> {
    select(vec![TICKET, OTHER, THIRD])
}

fn asset_id() -> impl Strategy<Value = domain::asset::AssetId> {
    (1u128..4).prop_map(|id| domain::asset::AssetId(uuid::Uuid::from_u128(id)))
}

fn link_type() -> impl Strategy<Value = LinkType> {
    select(vec![
        LinkType::RelatesTo,
        LinkType::DuplicateOf,
        LinkType::ParentOf,
        LinkType::ChildOf,
        LinkType::CausedBy,
    ])
}

fn text(choices: &[&str]) -> impl Strategy<Value = String> {
    select(
        choices
            .iter()
            .map(|choice| (*choice).to_owned())
            .collect::<Vec<_>>(),
    )
}

fn attachment() -> impl Strategy<Value = Attachment> {
    (
        select(vec!["ab".repeat(32), "AB".repeat(32)]),
        select(vec!["image/png", "png"]),
    )
        .prop_map(|(sha256, media_type)| Attachment {
            name: "a.png".into(),
            size_bytes: 10,
            sha256,
            media_type: media_type.into(),
        })
}

fn article_parts() -> impl Strategy<Value = (ArticleBody, Option<Channel>, Vec<Attachment>)> {
    let channel = proptest::option::of(select(vec![
        Channel::Email,
        Channel::Portal,
        Channel::AgentUi,
    ]));
    (
        Just(ArticleBody::parse("Text").unwrap()),
        channel,
        proptest::collection::vec(attachment(), 0..3),
    )
}

fn field_value() -> impl Strategy<Value = Value> {
    select(vec![
        json!(null),
        json!("4711"),
        json!(12),
        json!(1.5),
        json!("12.50"),
        json!("2026-02-30"),
        json!(true),
        json!(["berlin"]),
    ])
}

fn fields() -> impl Strategy<Value = BTreeMap<String, Value>> {
    let key = text(&[
        "cost_centre",
        "affected_users",
        "estimated_cost",
        "due_date",
        "affected_locations",
        "colour",
    ]);
    proptest::collection::btree_map(key, field_value(), 0..3)
}

fn lifecycle_command() -> impl Strategy<Value = TicketCommand> {
    prop_oneof![
        (
            text(&["k.meier", "a.schulz", ""]),
            proptest::option::of(text(&["network", ""]))
        )
            .prop_map(|(assignee, queue)| TicketCommand::Assign { assignee, queue }),
        Just(TicketCommand::StartWork {}),
        (
            select(vec![
                PendingReason::WaitingForRequester,
                PendingReason::WaitingForChange
            ]),
            proptest::option::of(0i64..100)
        )
            .prop_map(|(reason, hours)| TicketCommand::SetPending {
                reason,
                until: hours.map(|h| start() + Duration::hours(h))
            }),
        text(&["fixed", "", "workaround"]).prop_map(|code| TicketCommand::Resolve {
            code,
            text: ArticleBody::parse("Erledigt.").unwrap()
        }),
        text(&["Nein.", " "]).prop_map(|reason| TicketCommand::Reopen { reason }),
        Just(TicketCommand::Close {}),
        text(&["Doppelt.", ""]).prop_map(|reason| TicketCommand::Cancel { reason }),
        ticket_id().prop_map(|into| TicketCommand::Merge { into }),
        Just(open(Level::Low, Level::Low)),
    ]
}

fn other_command() -> impl Strategy<Value = TicketCommand> {
    prop_oneof![
        article_parts().prop_map(|(body, channel, attachments)| TicketCommand::AddReply {
            body,
            channel,
            attachments
        }),
        article_parts().prop_map(|(body, channel, attachments)| TicketCommand::AddNote {
            body,
            channel,
            attachments
        }),
        article_parts().prop_map(|(body, channel, attachments)| {
            TicketCommand::AddRequesterMessage {
                body,
                channel,
                attachments,
            }
        }),
        (level(), level())
            .prop_map(|(impact, urgency)| TicketCommand::SetPriority { impact, urgency }),
        fields().prop_map(|fields| TicketCommand::SetFields { fields }),
        proptest::collection::vec(text(&["vip", "printer", "b", ""]), 0..4)
            .prop_map(|tags| TicketCommand::SetTags { tags }),
        (link_type(), ticket_id())
            .prop_map(|(link_type, target)| TicketCommand::Link { link_type, target }),
        (link_type(), ticket_id())
            .prop_map(|(link_type, target)| TicketCommand::Unlink { link_type, target }),
        asset_id().prop_map(|asset_id| TicketCommand::LinkAsset { asset_id }),
        asset_id().prop_map(|asset_id| TicketCommand::UnlinkAsset { asset_id }),
    ]
}

/// A command and the hours that pass before it.
fn step() -> impl Strategy<Value = (TicketCommand, i64)> {
    (prop_oneof![lifecycle_command(), other_command()], 0i64..120)
}

/// The outcome of running a sequence: every event in order and the state after each step.
struct Run {
    events: Vec<TicketEvent>,
    state: Ticket,
}

/// Opens the ticket, then decides and applies each step, checking the invariants after each.
fn run(
    impact: Level,
    urgency: Level,
    steps: Vec<(TicketCommand, i64)>,
) -> Result<Run, TestCaseError> {
    let policy = TicketPolicy::default();
    let mut now = start();
    let mut state = Ticket::default();
    let mut events = decide(
        &state,
        open(impact, urgency),
        &DecisionContext {
            now,
            policy: &policy,
        },
    )
    .unwrap();
    events.iter().for_each(|event| state.apply(event));
    for (command, hours) in steps {
        now += Duration::hours(hours);
        let was_terminal = state.status().is_some_and(Status::is_terminal);
        let decision = decide(
            &state,
            command,
            &DecisionContext {
                now,
                policy: &policy,
            },
        );
        if was_terminal {
            let terminal = matches!(
                decision,
                Err(TicketError::AlreadyTerminal { .. } | TicketError::AlreadyOpened)
            );
            prop_assert!(terminal, "terminal ticket accepted a command: {decision:?}");
        }
        for event in decision.unwrap_or_default() {
            state.apply(&event);
            events.push(event);
        }
        check_invariants(&state, &events)?;
    }
    Ok(Run { events, state })
}

fn check_invariants(state: &Ticket, events: &[TicketEvent]) -> Result<(), TestCaseError> {
    let title = state.title().unwrap();
    prop_assert_eq!(Title::parse(title.as_str()), Ok(title.clone()));
    prop_assert_eq!(state.version(), events.len() as u64);
    let status = state.status().unwrap();
    prop_assert_eq!(
        status == Status::Resolved || status == Status::Closed,
        state.resolution().is_some()
    );
    prop_assert_eq!(status == Status::Pending, state.pending().is_some());
    if matches!(
        status,
        Status::Assigned | Status::InProgress | Status::Pending
    ) {
        prop_assert!(state.assignee().is_some());
    }
    prop_assert_eq!(status == Status::Merged, state.merged_into().is_some());
    let tags = state.tags();
    prop_assert!(tags.windows(2).all(|pair| pair[0] < pair[1]) && tags.len() <= 50);
    prop_assert!(state.links().iter().all(|link| link.target != TICKET));
    prop_assert!(state.assets().len() <= domain::ticket::decide::ASSETS_PER_TICKET_MAX);
    let article_ids: Vec<u32> = events
        .iter()
        .filter_map(|event| match event {
            TicketEvent::ArticleAdded { article_id, .. } => Some(*article_id),
            _ => None,
        })
        .collect();
    prop_assert!(article_ids
        .iter()
        .zip(1..)
        .all(|(id, expected)| *id == expected));
    prop_assert_eq!(state.article_count() as usize, article_ids.len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_command_sequence_keeps_the_invariants(
        impact in level(), urgency in level(), steps in proptest::collection::vec(step(), 0..40)
    ) {
        run(impact, urgency, steps)?;
    }

    #[test]
    fn rehydrating_the_events_gives_the_same_state(
        impact in level(), urgency in level(), steps in proptest::collection::vec(step(), 0..40)
    ) {
        let Run { events, state } = run(impact, urgency, steps)?;
        prop_assert_eq!(Ticket::from_events(&events), state.clone());
        let snapshot = serde_json::to_string(&state).unwrap();
        prop_assert_eq!(serde_json::from_str::<Ticket>(&snapshot).unwrap(), state);
    }

    #[test]
    fn every_event_survives_a_json_round_trip(
        impact in level(), urgency in level(), steps in proptest::collection::vec(step(), 0..40)
    ) {
        for event in run(impact, urgency, steps)?.events {
            let json = serde_json::to_value(&event).unwrap();
            prop_assert_eq!(json["event_type"].as_str(), Some(event.event_type()));
            prop_assert!(!contains_float(&json), "float in {}", json);
            prop_assert_eq!(serde_json::from_value::<TicketEvent>(json).unwrap(), event);
        }
    }
}

fn contains_float(json: &Value) -> bool {
    match json {
        Value::Number(number) => number.is_f64(),
        Value::Array(items) => items.iter().any(contains_float),
        Value::Object(entries) => entries.values().any(contains_float),
        _ => false,
    }
}

#[test]
fn generated_sequences_reach_every_status() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let sequences = proptest::collection::vec(step(), 0..40);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let steps = sequences.new_tree(&mut runner).unwrap().current();
        let state = run(Level::Medium, Level::Medium, steps).unwrap().state;
        seen.insert(format!("{:?}", state.status().unwrap()));
    }
    let all = [
        "Assigned",
        "Cancelled",
        "Closed",
        "InProgress",
        "Merged",
        "New",
        "Pending",
        "Resolved",
    ];
    assert_eq!(seen.iter().map(String::as_str).collect::<Vec<_>>(), all);
}
