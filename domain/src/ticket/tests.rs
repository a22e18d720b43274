//! Given/when/then tests of the ticket aggregate: one test per business rule.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::asset::AssetId;

const TICKET: TicketId = TicketId::new(Uuid::from_u128(0x1111));
const OTHER: TicketId = TicketId::new(Uuid::from_u128(0x2222));

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// The default policy with `cost_centre` required.
fn policy() -> TicketPolicy {
    let mut policy = TicketPolicy::default();
    let cost_centre = policy
        .field_definitions
        .iter_mut()
        .find(|d| d.key == "cost_centre")
        .unwrap();
    cost_centre.required = true;
    policy
}

/// Given these events, when this command is decided at [`now`], then this is the outcome.
#[track_caller]
fn check(
    given: Vec<TicketEvent>,
    when: TicketCommand,
    then: Result<Vec<TicketEvent>, TicketError>,
) {
    let policy = policy();
    let state = Ticket::from_events(&given);
    let ctx = DecisionContext {
        now: now(),
        policy: &policy,
    };
    assert_eq!(decide(&state, when, &ctx), then);
}

fn requester() -> Requester {
    Requester {
        name: "Erika Mustermann".into(),
        email: Some("erika@example.org".into()),
        phone: None,
        user_id: None,
    }
}

fn new_ticket() -> NewTicket {
    NewTicket {
        ticket_type: TicketType::Incident,
        title: Title::parse("Drucker im 2. OG druckt nicht").unwrap(),
        description: Description::parse("Seit heute früh.").unwrap(),
        requester: requester(),
        impact: Level::Medium,
        urgency: Level::High,
        service_id: Some("printing".into()),
        category_id: None,
        queue: Some("service-desk".into()),
        tags: vec!["printer".into(), "floor-2".into(), "printer".into()],
        fields: BTreeMap::from([("cost_centre".into(), json!("4711"))]),
        channel: Channel::Portal,
    }
}

fn open_with(ticket: NewTicket) -> TicketCommand {
    TicketCommand::Open {
        id: TICKET,
        number: TicketNumber::new(2026, 123),
        ticket,
    }
}

fn opened() -> TicketEvent {
    TicketEvent::Opened {
        id: TICKET,
        number: TicketNumber::new(2026, 123),
        ticket_type: TicketType::Incident,
        title: Title::parse("Drucker im 2. OG druckt nicht").unwrap(),
        description: Description::parse("Seit heute früh.").unwrap(),
        requester: requester(),
        service_id: Some("printing".into()),
        category_id: None,
        impact: Level::Medium,
        urgency: Level::High,
        priority: Priority::Medium,
        queue: Some("service-desk".into()),
        tags: vec!["floor-2".into(), "printer".into()],
        fields: BTreeMap::from([("cost_centre".into(), FieldValue::Text("4711".into()))]),
        channel: Channel::Portal,
    }
}

fn assigned(assignee: &str) -> TicketEvent {
    TicketEvent::Assigned {
        assignee: assignee.into(),
        queue: Some("service-desk".into()),
        previous_assignee: None,
    }
}

fn work_started() -> TicketEvent {
    TicketEvent::WorkStarted {
        from: Status::Assigned,
    }
}

fn pending() -> TicketEvent {
    TicketEvent::PendingSet {
        reason: PendingReason::WaitingForRequester,
        until: None,
    }
}

fn resolved_at(resolved_at: DateTime<Utc>) -> TicketEvent {
    TicketEvent::Resolved {
        code: "fixed".into(),
        text: body("Toner getauscht."),
        resolved_at,
    }
}

fn resolved() -> TicketEvent {
    resolved_at(now() - Duration::hours(1))
}

fn body(text: &str) -> ArticleBody {
    ArticleBody::parse(text).unwrap()
}

fn reply(text: &str) -> TicketCommand {
    TicketCommand::AddReply {
        body: body(text),
        channel: None,
        attachments: vec![],
    }
}

fn article(article_id: u32, kind: ArticleKind, channel: Channel, text: &str) -> TicketEvent {
    TicketEvent::ArticleAdded {
        article_id,
        kind,
        channel,
        body: body(text),
        attachments: vec![],
    }
}

fn attachment() -> Attachment {
    Attachment {
        name: "fehler.png".into(),
        size_bytes: 2_048,
        sha256: "0f".repeat(32),
        media_type: "image/png".into(),
    }
}

fn invalid(field: &str, error: ValueError) -> Result<Vec<TicketEvent>, TicketError> {
    Err(TicketError::invalid(field, error))
}

fn transition_error(command: &'static str, from: Status) -> Result<Vec<TicketEvent>, TicketError> {
    Err(TicketError::InvalidTransition { command, from })
}

fn fields(pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, serde_json::Value> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect()
}

/// One valid instance of every command except `Open`.
fn every_command_but_open() -> Vec<TicketCommand> {
    let link_type = LinkType::RelatesTo;
    let article = || (body("Hallo"), None, vec![]);
    vec![
        TicketCommand::Assign {
            assignee: "k.meier".into(),
            queue: None,
        },
        TicketCommand::StartWork {},
        TicketCommand::SetPending {
            reason: PendingReason::WaitingForRequester,
            until: None,
        },
        TicketCommand::Resolve {
            code: "fixed".into(),
            text: body("Erledigt."),
        },
        TicketCommand::Reopen {
            reason: "Bitte.".into(),
        },
        TicketCommand::Close {},
        TicketCommand::Cancel {
            reason: "Weg.".into(),
        },
        TicketCommand::Merge { into: OTHER },
        {
            let (body, channel, attachments) = article();
            TicketCommand::AddReply {
                body,
                channel,
                attachments,
            }
        },
        {
            let (body, channel, attachments) = article();
            TicketCommand::AddNote {
                body,
                channel,
                attachments,
            }
        },
        {
            let (body, channel, attachments) = article();
            TicketCommand::AddRequesterMessage {
                body,
                channel,
                attachments,
            }
        },
        TicketCommand::SetPriority {
            impact: Level::Low,
            urgency: Level::Low,
        },
        TicketCommand::SetFields {
            fields: fields(&[("affected_users", json!(2))]),
        },
        TicketCommand::SetTags {
            tags: vec!["vip".into()],
        },
        TicketCommand::Link {
            link_type,
            target: OTHER,
        },
        TicketCommand::Unlink {
            link_type,
            target: OTHER,
        },
        TicketCommand::LinkAsset { asset_id: PRINTER },
        TicketCommand::UnlinkAsset { asset_id: PRINTER },
    ]
}

// ---- open ----

#[test]
fn opening_records_the_ticket_with_the_priority_from_the_matrix() {
    check(vec![], open_with(new_ticket()), Ok(vec![opened()]));
}

#[test]
fn opening_an_opened_ticket_is_rejected() {
    check(
        vec![opened()],
        open_with(new_ticket()),
        Err(TicketError::AlreadyOpened),
    );
    check(
        vec![opened(), TicketEvent::Closed {}],
        open_with(new_ticket()),
        Err(TicketError::AlreadyOpened),
    );
}

#[test]
fn opening_problems_and_changes_is_not_supported_yet() {
    for ticket_type in [TicketType::Problem, TicketType::Change] {
        let ticket = NewTicket {
            ticket_type,
            ..new_ticket()
        };
        check(
            vec![],
            open_with(ticket),
            Err(TicketError::TicketTypeNotSupported),
        );
    }
}

#[test]
fn opening_a_service_request_is_accepted() {
    let ticket = NewTicket {
        ticket_type: TicketType::ServiceRequest,
        ..new_ticket()
    };
    let mut expected = opened();
    if let TicketEvent::Opened { ticket_type, .. } = &mut expected {
        *ticket_type = TicketType::ServiceRequest;
    }
    check(vec![], open_with(ticket), Ok(vec![expected]));
}

#[test]
fn opening_with_an_invalid_requester_names_the_field() {
    let nameless = Requester {
        name: " ".into(),
        ..requester()
    };
    let ticket = NewTicket {
        requester: nameless,
        ..new_ticket()
    };
    check(
        vec![],
        open_with(ticket),
        invalid("requester.name", ValueError::RequesterNameEmpty),
    );
    let unreachable = Requester {
        email: Some("erika".into()),
        ..requester()
    };
    let ticket = NewTicket {
        requester: unreachable,
        ..new_ticket()
    };
    check(
        vec![],
        open_with(ticket),
        invalid("requester.email", ValueError::EmailInvalid),
    );
}

#[test]
fn opening_with_an_empty_queue_is_rejected() {
    let ticket = NewTicket {
        queue: Some(String::new()),
        ..new_ticket()
    };
    check(
        vec![],
        open_with(ticket),
        invalid("queue", ValueError::IdentifierEmpty),
    );
}

#[test]
fn opening_without_a_required_field_is_rejected() {
    let ticket = NewTicket {
        fields: BTreeMap::new(),
        ..new_ticket()
    };
    let missing = TicketError::RequiredFieldMissing {
        key: "cost_centre".into(),
    };
    check(vec![], open_with(ticket), Err(missing.clone()));
    let ticket = NewTicket {
        fields: fields(&[("cost_centre", json!(null))]),
        ..new_ticket()
    };
    check(vec![], open_with(ticket), Err(missing));
}

#[test]
fn opening_with_an_unknown_field_is_rejected() {
    let ticket = NewTicket {
        fields: fields(&[("cost_centre", json!("1")), ("colour", json!("red"))]),
        ..new_ticket()
    };
    check(
        vec![],
        open_with(ticket),
        Err(TicketError::UnknownField {
            key: "colour".into(),
        }),
    );
}

#[test]
fn opening_with_an_unknown_field_set_to_null_is_rejected() {
    let ticket = NewTicket {
        fields: fields(&[("cost_centre", json!("1")), ("colour", json!(null))]),
        ..new_ticket()
    };
    check(
        vec![],
        open_with(ticket),
        Err(TicketError::UnknownField {
            key: "colour".into(),
        }),
    );
}

#[test]
fn opening_with_a_wrongly_typed_field_is_rejected() {
    let ticket = NewTicket {
        fields: fields(&[("cost_centre", json!(4711))]),
        ..new_ticket()
    };
    let reason = FieldValueError::ExpectedString;
    check(
        vec![],
        open_with(ticket),
        Err(TicketError::InvalidFieldValue {
            key: "cost_centre".into(),
            reason,
        }),
    );
}

#[test]
fn opening_with_more_than_50_tags_is_rejected() {
    let tags = (0..51).map(|n| format!("tag-{n}")).collect();
    let ticket = NewTicket {
        tags,
        ..new_ticket()
    };
    check(
        vec![],
        open_with(ticket),
        invalid("tags", ValueError::TooManyTags { max: 50 }),
    );
}

#[test]
fn commands_on_a_ticket_never_opened_are_rejected() {
    for when in every_command_but_open() {
        check(vec![], when, Err(TicketError::NotOpened));
    }
}

// ---- assign ----

#[test]
fn assigning_a_new_ticket_keeps_its_queue() {
    let when = TicketCommand::Assign {
        assignee: "k.meier".into(),
        queue: None,
    };
    check(vec![opened()], when, Ok(vec![assigned("k.meier")]));
}

#[test]
fn reassigning_records_the_previous_assignee_and_the_new_queue() {
    let when = TicketCommand::Assign {
        assignee: "a.schulz".into(),
        queue: Some("network".into()),
    };
    let then = TicketEvent::Assigned {
        assignee: "a.schulz".into(),
        queue: Some("network".into()),
        previous_assignee: Some("k.meier".into()),
    };
    check(
        vec![opened(), assigned("k.meier"), work_started()],
        when,
        Ok(vec![then]),
    );
}

#[test]
fn assigning_the_same_assignee_again_changes_nothing() {
    let when = TicketCommand::Assign {
        assignee: "k.meier".into(),
        queue: None,
    };
    check(vec![opened(), assigned("k.meier")], when, Ok(vec![]));
}

#[test]
fn assigning_needs_an_assignee() {
    let when = TicketCommand::Assign {
        assignee: "".into(),
        queue: None,
    };
    check(
        vec![opened()],
        when,
        invalid("assignee", ValueError::IdentifierEmpty),
    );
}

#[test]
fn assigning_a_resolved_ticket_is_rejected() {
    let when = TicketCommand::Assign {
        assignee: "k.meier".into(),
        queue: None,
    };
    check(
        vec![opened(), resolved()],
        when,
        transition_error("assign", Status::Resolved),
    );
}

// ---- start_work ----

#[test]
fn starting_work_on_an_assigned_ticket_puts_it_in_progress() {
    check(
        vec![opened(), assigned("k.meier")],
        TicketCommand::StartWork {},
        Ok(vec![work_started()]),
    );
}

#[test]
fn starting_work_on_a_pending_ticket_resumes_it() {
    let given = vec![opened(), assigned("k.meier"), pending()];
    let then = TicketEvent::WorkStarted {
        from: Status::Pending,
    };
    check(given, TicketCommand::StartWork {}, Ok(vec![then]));
}

#[test]
fn starting_work_without_an_assignee_is_rejected() {
    check(
        vec![opened()],
        TicketCommand::StartWork {},
        Err(TicketError::AssigneeRequired),
    );
}

#[test]
fn starting_work_twice_is_rejected() {
    let given = vec![opened(), assigned("k.meier"), work_started()];
    check(
        given,
        TicketCommand::StartWork {},
        transition_error("start_work", Status::InProgress),
    );
}

// ---- set_pending ----

#[test]
fn setting_pending_records_reason_and_until() {
    let until = Some(now() + Duration::days(2));
    let reason = PendingReason::WaitingForThirdParty;
    let when = TicketCommand::SetPending { reason, until };
    let given = vec![opened(), assigned("k.meier"), work_started()];
    check(
        given,
        when,
        Ok(vec![TicketEvent::PendingSet { reason, until }]),
    );
}

#[test]
fn setting_pending_on_a_new_ticket_is_rejected() {
    let when = TicketCommand::SetPending {
        reason: PendingReason::WaitingForRequester,
        until: None,
    };
    check(
        vec![opened()],
        when,
        transition_error("set_pending", Status::New),
    );
}

// ---- resolve ----

#[test]
fn resolving_records_code_text_and_time() {
    let when = TicketCommand::Resolve {
        code: "fixed".into(),
        text: body("Toner getauscht."),
    };
    check(
        vec![opened(), assigned("k.meier"), pending()],
        when,
        Ok(vec![resolved_at(now())]),
    );
}

#[test]
fn resolving_a_resolved_ticket_is_rejected() {
    let when = TicketCommand::Resolve {
        code: "fixed".into(),
        text: body("Nochmal."),
    };
    check(
        vec![opened(), resolved()],
        when,
        transition_error("resolve", Status::Resolved),
    );
}

#[test]
fn resolving_needs_a_resolution_code_of_at_most_64_characters() {
    let when = |code: String| TicketCommand::Resolve {
        code,
        text: body("Erledigt."),
    };
    check(
        vec![opened()],
        when("".into()),
        invalid("code", ValueError::ResolutionCodeEmpty),
    );
    let too_long = ValueError::ResolutionCodeTooLong { max: 64 };
    check(
        vec![opened()],
        when("x".repeat(65)),
        invalid("code", too_long),
    );
}

// ---- reopen ----

#[test]
fn reopening_within_the_reopen_window_returns_to_the_assignee() {
    let given = vec![
        opened(),
        assigned("k.meier"),
        resolved_at(now() - Duration::days(7)),
    ];
    let when = TicketCommand::Reopen {
        reason: "Druckt wieder nicht.".into(),
    };
    let then = TicketEvent::Reopened {
        reason: "Druckt wieder nicht.".into(),
        to: Status::Assigned,
    };
    check(given, when, Ok(vec![then]));
}

#[test]
fn reopening_an_unassigned_ticket_makes_it_new() {
    let when = TicketCommand::Reopen {
        reason: "Nein.".into(),
    };
    let then = TicketEvent::Reopened {
        reason: "Nein.".into(),
        to: Status::New,
    };
    check(vec![opened(), resolved()], when, Ok(vec![then]));
}

#[test]
fn reopening_after_the_reopen_window_is_rejected() {
    let late = now() - Duration::days(7) - Duration::seconds(1);
    let when = TicketCommand::Reopen {
        reason: "Zu spät.".into(),
    };
    check(
        vec![opened(), resolved_at(late)],
        when,
        Err(TicketError::ReopenWindowExpired),
    );
}

#[test]
fn reopening_an_unresolved_ticket_is_rejected() {
    let when = TicketCommand::Reopen {
        reason: "Warum?".into(),
    };
    check(
        vec![opened()],
        when,
        transition_error("reopen", Status::New),
    );
}

#[test]
fn reopening_needs_a_reason() {
    let when = TicketCommand::Reopen {
        reason: "  ".into(),
    };
    check(
        vec![opened(), resolved()],
        when,
        invalid("reason", ValueError::ReasonEmpty),
    );
}

// ---- close ----

#[test]
fn closing_a_resolved_ticket_is_accepted() {
    check(
        vec![opened(), resolved()],
        TicketCommand::Close {},
        Ok(vec![TicketEvent::Closed {}]),
    );
}

#[test]
fn closing_an_unresolved_ticket_is_rejected() {
    let given = vec![opened(), assigned("k.meier")];
    check(
        given,
        TicketCommand::Close {},
        transition_error("close", Status::Assigned),
    );
}

// ---- cancel ----

#[test]
fn cancelling_records_the_reason() {
    let when = TicketCommand::Cancel {
        reason: "Doppelt gemeldet.".into(),
    };
    let then = TicketEvent::Cancelled {
        reason: "Doppelt gemeldet.".into(),
    };
    check(
        vec![opened(), assigned("k.meier"), pending()],
        when,
        Ok(vec![then]),
    );
}

#[test]
fn cancelling_a_resolved_ticket_is_rejected() {
    let when = TicketCommand::Cancel {
        reason: "Egal.".into(),
    };
    check(
        vec![opened(), resolved()],
        when,
        transition_error("cancel", Status::Resolved),
    );
}

#[test]
fn cancelling_needs_a_reason_of_at_most_1000_characters() {
    let when = TicketCommand::Cancel {
        reason: "x".repeat(1_001),
    };
    check(
        vec![opened()],
        when,
        invalid("reason", ValueError::ReasonTooLong { max: 1_000 }),
    );
}

// ---- merge ----

#[test]
fn merging_into_another_ticket_is_accepted() {
    let when = TicketCommand::Merge { into: OTHER };
    check(
        vec![opened()],
        when,
        Ok(vec![TicketEvent::Merged { into: OTHER }]),
    );
}

#[test]
fn merging_into_itself_is_rejected() {
    let when = TicketCommand::Merge { into: TICKET };
    check(
        vec![opened()],
        when,
        Err(TicketError::CannotMergeIntoItself),
    );
}

#[test]
fn merging_a_resolved_ticket_is_rejected() {
    let when = TicketCommand::Merge { into: OTHER };
    check(
        vec![opened(), resolved()],
        when,
        transition_error("merge", Status::Resolved),
    );
}

// ---- terminal states ----

#[test]
fn terminal_tickets_accept_no_command() {
    let endings = [
        (vec![resolved(), TicketEvent::Closed {}], Status::Closed),
        (
            vec![TicketEvent::Cancelled {
                reason: "Weg.".into(),
            }],
            Status::Cancelled,
        ),
        (vec![TicketEvent::Merged { into: OTHER }], Status::Merged),
    ];
    for (ending, status) in endings {
        let given: Vec<_> = std::iter::once(opened()).chain(ending).collect();
        let commands = every_command_but_open();
        for when in commands {
            check(
                given.clone(),
                when,
                Err(TicketError::AlreadyTerminal { status }),
            );
        }
    }
}

// ---- articles ----

#[test]
fn articles_are_numbered_from_one_per_ticket() {
    check(
        vec![opened()],
        reply("Wir sehen nach."),
        Ok(vec![article(
            1,
            ArticleKind::PublicReply,
            Channel::Api,
            "Wir sehen nach.",
        )]),
    );
    let given = vec![
        opened(),
        article(1, ArticleKind::PublicReply, Channel::Api, "Wir sehen nach."),
    ];
    let when = TicketCommand::AddNote {
        body: body("Toner leer."),
        channel: Some(Channel::AgentUi),
        attachments: vec![],
    };
    check(
        given,
        when,
        Ok(vec![article(
            2,
            ArticleKind::InternalNote,
            Channel::AgentUi,
            "Toner leer.",
        )]),
    );
}

#[test]
fn requester_messages_keep_their_channel_and_attachments() {
    let when = TicketCommand::AddRequesterMessage {
        body: body("Foto anbei."),
        channel: Some(Channel::Email),
        attachments: vec![attachment()],
    };
    let then = TicketEvent::ArticleAdded {
        article_id: 1,
        kind: ArticleKind::RequesterMessage,
        channel: Channel::Email,
        body: body("Foto anbei."),
        attachments: vec![attachment()],
    };
    check(vec![opened(), assigned("k.meier")], when, Ok(vec![then]));
}

fn requester_message(text: &str) -> TicketCommand {
    TicketCommand::AddRequesterMessage {
        body: body(text),
        channel: None,
        attachments: vec![],
    }
}

fn pending_for(reason: PendingReason) -> TicketEvent {
    TicketEvent::PendingSet {
        reason,
        until: Some(now() + Duration::days(3)),
    }
}

#[test]
fn a_requester_message_resumes_a_ticket_waiting_for_the_requester() {
    let given = vec![opened(), assigned("k.meier"), work_started(), pending()];
    let then = vec![
        article(
            1,
            ArticleKind::RequesterMessage,
            Channel::Api,
            "Geht wieder.",
        ),
        TicketEvent::WorkStarted {
            from: Status::Pending,
        },
    ];
    check(
        given.clone(),
        requester_message("Geht wieder."),
        Ok(then.clone()),
    );

    let ticket = Ticket::from_events(given.iter().chain(&then));
    assert_eq!(ticket.status(), Some(Status::InProgress));
    assert_eq!(ticket.pending(), None);
    assert_eq!(ticket.assignee(), Some("k.meier"));
}

#[test]
fn a_requester_message_leaves_a_ticket_waiting_for_a_third_party_or_a_change_pending() {
    for reason in [
        PendingReason::WaitingForThirdParty,
        PendingReason::WaitingForChange,
    ] {
        let given = vec![opened(), assigned("k.meier"), pending_for(reason)];
        let then = article(1, ArticleKind::RequesterMessage, Channel::Api, "Und?");
        check(
            given.clone(),
            requester_message("Und?"),
            Ok(vec![then.clone()]),
        );

        let ticket = Ticket::from_events(given.iter().chain([&then]));
        assert_eq!(ticket.status(), Some(Status::Pending), "{reason:?}");
        assert_eq!(ticket.pending().map(|pending| pending.reason), Some(reason));
    }
}

#[test]
fn replies_and_notes_leave_a_ticket_waiting_for_the_requester_pending() {
    let given = vec![opened(), assigned("k.meier"), pending()];
    let then = article(1, ArticleKind::PublicReply, Channel::Api, "Noch da?");
    check(given, reply("Noch da?"), Ok(vec![then]));
}

#[test]
fn a_requester_message_does_not_put_a_pending_ticket_without_an_assignee_in_progress() {
    // Not reachable through `decide` (pending needs assigned or in progress); events are facts.
    let then = article(1, ArticleKind::RequesterMessage, Channel::Api, "Hallo?");
    check(
        vec![opened(), pending()],
        requester_message("Hallo?"),
        Ok(vec![then]),
    );
}

#[test]
fn articles_can_be_added_to_resolved_tickets() {
    let then = article(1, ArticleKind::PublicReply, Channel::Api, "Danke!");
    check(vec![opened(), resolved()], reply("Danke!"), Ok(vec![then]));
}

#[test]
fn articles_with_an_invalid_attachment_are_rejected() {
    let broken = Attachment {
        sha256: "not-a-hash".into(),
        ..attachment()
    };
    let when = TicketCommand::AddReply {
        body: body("Anbei."),
        channel: None,
        attachments: vec![attachment(), broken],
    };
    check(
        vec![opened()],
        when,
        invalid("attachments[1].sha256", ValueError::Sha256Invalid),
    );
}

#[test]
fn articles_with_more_than_20_attachments_are_rejected() {
    let when = TicketCommand::AddNote {
        body: body("Viel."),
        channel: None,
        attachments: vec![attachment(); 21],
    };
    check(
        vec![opened()],
        when,
        invalid("attachments", ValueError::TooManyAttachments { max: 20 }),
    );
}

// ---- priority ----

#[test]
fn changing_impact_or_urgency_recomputes_the_priority() {
    let when = TicketCommand::SetPriority {
        impact: Level::Critical,
        urgency: Level::High,
    };
    let then = TicketEvent::PriorityChanged {
        impact: Level::Critical,
        urgency: Level::High,
        priority: Priority::Critical,
        previous: Priority::Medium,
    };
    check(vec![opened()], when, Ok(vec![then]));
}

#[test]
fn setting_the_same_impact_and_urgency_changes_nothing() {
    let when = TicketCommand::SetPriority {
        impact: Level::Medium,
        urgency: Level::High,
    };
    check(vec![opened()], when, Ok(vec![]));
}

// ---- dynamic fields ----

#[test]
fn setting_fields_records_only_what_changes() {
    let when = TicketCommand::SetFields {
        fields: fields(&[
            ("cost_centre", json!("4711")),
            ("estimated_cost", json!("12.50")),
        ]),
    };
    let set = BTreeMap::from([(
        "estimated_cost".to_owned(),
        FieldValue::Text("12.50".into()),
    )]);
    check(
        vec![opened()],
        when,
        Ok(vec![TicketEvent::FieldsChanged {
            set,
            removed: vec![],
        }]),
    );
}

#[test]
fn a_null_field_value_removes_the_field() {
    let given = vec![
        opened(),
        TicketEvent::FieldsChanged {
            set: BTreeMap::from([("affected_users".to_owned(), FieldValue::Integer(12))]),
            removed: vec![],
        },
    ];
    let when = TicketCommand::SetFields {
        fields: fields(&[("affected_users", json!(null)), ("due_date", json!(null))]),
    };
    let then = TicketEvent::FieldsChanged {
        set: BTreeMap::new(),
        removed: vec!["affected_users".into()],
    };
    check(given, when, Ok(vec![then]));
}

#[test]
fn setting_an_unknown_field_is_rejected() {
    let when = TicketCommand::SetFields {
        fields: fields(&[("colour", json!("red"))]),
    };
    check(
        vec![opened()],
        when,
        Err(TicketError::UnknownField {
            key: "colour".into(),
        }),
    );
}

#[test]
fn setting_a_field_to_a_value_of_the_wrong_kind_is_rejected() {
    let when = TicketCommand::SetFields {
        fields: fields(&[("estimated_cost", json!(12.5))]),
    };
    let reason = FieldValueError::ExpectedString;
    check(
        vec![opened()],
        when,
        Err(TicketError::InvalidFieldValue {
            key: "estimated_cost".into(),
            reason,
        }),
    );
}

#[test]
fn removing_a_required_field_is_rejected() {
    let when = TicketCommand::SetFields {
        fields: fields(&[("cost_centre", json!(null))]),
    };
    check(
        vec![opened()],
        when,
        Err(TicketError::RequiredFieldMissing {
            key: "cost_centre".into(),
        }),
    );
}

// ---- tags ----

#[test]
fn setting_tags_sorts_and_deduplicates_them() {
    let when = TicketCommand::SetTags {
        tags: vec!["vip".into(), "printer".into(), "vip".into()],
    };
    let then = TicketEvent::TagsChanged {
        tags: vec!["printer".into(), "vip".into()],
    };
    check(vec![opened()], when, Ok(vec![then]));
}

#[test]
fn setting_the_same_tags_changes_nothing() {
    let when = TicketCommand::SetTags {
        tags: vec!["printer".into(), "floor-2".into()],
    };
    check(vec![opened()], when, Ok(vec![]));
}

#[test]
fn tags_longer_than_64_characters_are_rejected() {
    let when = TicketCommand::SetTags {
        tags: vec!["ok".into(), "x".repeat(65)],
    };
    check(
        vec![opened()],
        when,
        invalid("tags[1]", ValueError::TagTooLong { max: 64 }),
    );
}

// ---- links ----

fn linked() -> TicketEvent {
    TicketEvent::Linked {
        link_type: LinkType::CausedBy,
        target: OTHER,
    }
}

#[test]
fn linking_to_another_ticket_is_recorded() {
    let when = TicketCommand::Link {
        link_type: LinkType::CausedBy,
        target: OTHER,
    };
    check(vec![opened()], when, Ok(vec![linked()]));
    let other_type = TicketCommand::Link {
        link_type: LinkType::RelatesTo,
        target: OTHER,
    };
    let then = TicketEvent::Linked {
        link_type: LinkType::RelatesTo,
        target: OTHER,
    };
    check(vec![opened(), linked()], other_type, Ok(vec![then]));
}

#[test]
fn linking_to_itself_is_rejected() {
    let when = TicketCommand::Link {
        link_type: LinkType::RelatesTo,
        target: TICKET,
    };
    check(vec![opened()], when, Err(TicketError::CannotLinkToItself));
}

#[test]
fn linking_twice_is_rejected() {
    let when = TicketCommand::Link {
        link_type: LinkType::CausedBy,
        target: OTHER,
    };
    check(
        vec![opened(), linked()],
        when,
        Err(TicketError::AlreadyLinked),
    );
}

#[test]
fn unlinking_removes_an_existing_link() {
    let when = TicketCommand::Unlink {
        link_type: LinkType::CausedBy,
        target: OTHER,
    };
    let then = TicketEvent::Unlinked {
        link_type: LinkType::CausedBy,
        target: OTHER,
    };
    check(vec![opened(), linked()], when, Ok(vec![then]));
}

#[test]
fn unlinking_a_missing_link_is_rejected() {
    let when = TicketCommand::Unlink {
        link_type: LinkType::CausedBy,
        target: OTHER,
    };
    let given = vec![
        opened(),
        linked(),
        TicketEvent::Unlinked {
            link_type: LinkType::CausedBy,
            target: OTHER,
        },
    ];
    check(given, when, Err(TicketError::NotLinked));
}

// ---- assets ----

const PRINTER: AssetId = AssetId(Uuid::from_u128(0xa55e7));

fn asset(index: u128) -> AssetId {
    AssetId(Uuid::from_u128(0xa000 + index))
}

fn asset_linked(asset_id: AssetId) -> TicketEvent {
    TicketEvent::AssetLinked { asset_id }
}

#[test]
fn linking_an_asset_is_recorded_in_every_open_status() {
    let statuses = [
        vec![opened()],
        vec![opened(), assigned("k.meier")],
        vec![opened(), assigned("k.meier"), work_started()],
        vec![opened(), assigned("k.meier"), pending()],
        vec![opened(), resolved()],
    ];
    for given in statuses {
        let when = TicketCommand::LinkAsset { asset_id: PRINTER };
        check(given, when, Ok(vec![asset_linked(PRINTER)]));
    }
}

#[test]
fn linking_an_asset_twice_is_rejected() {
    let when = TicketCommand::LinkAsset { asset_id: PRINTER };
    let given = vec![opened(), asset_linked(PRINTER)];
    check(given, when, Err(TicketError::AssetAlreadyLinked));
}

#[test]
fn linking_more_than_100_assets_is_rejected() {
    let given: Vec<TicketEvent> = std::iter::once(opened())
        .chain((0..100).map(|index| asset_linked(asset(index))))
        .collect();
    let when = TicketCommand::LinkAsset { asset_id: PRINTER };
    check(given, when, Err(TicketError::TooManyAssets { max: 100 }));
}

#[test]
fn unlinking_a_linked_asset_is_recorded() {
    let when = TicketCommand::UnlinkAsset { asset_id: PRINTER };
    let then = TicketEvent::AssetUnlinked { asset_id: PRINTER };
    check(vec![opened(), asset_linked(PRINTER)], when, Ok(vec![then]));
}

#[test]
fn unlinking_an_asset_not_linked_is_rejected() {
    let when = TicketCommand::UnlinkAsset { asset_id: PRINTER };
    let given = vec![
        opened(),
        asset_linked(PRINTER),
        TicketEvent::AssetUnlinked { asset_id: PRINTER },
    ];
    check(given, when, Err(TicketError::AssetNotLinked));
}

#[test]
fn asset_errors_name_the_asset_field_and_break_business_rules() {
    for error in [TicketError::AssetAlreadyLinked, TicketError::AssetNotLinked] {
        assert_eq!(error.field().as_deref(), Some("asset_id"));
        assert!(!error.is_validation());
    }
    assert_eq!(
        TicketError::AssetAlreadyLinked.code(),
        "asset_already_linked"
    );
    assert_eq!(TicketError::AssetNotLinked.code(), "asset_not_linked");
    assert_eq!(
        TicketError::TooManyAssets { max: 100 }.code(),
        "too_many_assets"
    );
}

#[test]
fn asset_commands_and_events_keep_their_wire_names() {
    let id = "00000000-0000-0000-0000-0000000a55e7";
    let command: TicketCommand =
        serde_json::from_value(json!({"type": "link_asset", "asset_id": id})).unwrap();
    assert_eq!(command, TicketCommand::LinkAsset { asset_id: PRINTER });
    assert_eq!(command.name(), "link_asset");
    let command: TicketCommand =
        serde_json::from_value(json!({"type": "unlink_asset", "asset_id": id})).unwrap();
    assert_eq!(command.name(), "unlink_asset");
    let event = serde_json::to_value(asset_linked(PRINTER)).unwrap();
    assert_eq!(
        event,
        json!({"event_type": "ticket.asset_linked", "asset_id": id})
    );
    let event = TicketEvent::AssetUnlinked { asset_id: PRINTER };
    assert_eq!(event.event_type(), "ticket.asset_unlinked");
    assert!(event.personal_data().is_empty());
}

// ---- state ----

#[test]
fn state_follows_the_events() {
    let events = [
        opened(),
        assigned("k.meier"),
        work_started(),
        pending(),
        resolved(),
        linked(),
        asset_linked(asset(2)),
        asset_linked(PRINTER),
        asset_linked(asset(1)),
        TicketEvent::AssetUnlinked { asset_id: asset(2) },
    ];
    let ticket = Ticket::from_events(&events);
    assert_eq!(ticket.version(), 10);
    assert_eq!(
        ticket.assets().iter().copied().collect::<Vec<_>>(),
        [asset(1), PRINTER]
    );
    assert_eq!(ticket.status(), Some(Status::Resolved));
    assert_eq!(ticket.assignee(), Some("k.meier"));
    assert_eq!(ticket.pending(), None);
    assert_eq!(ticket.resolved_at(), Some(now() - Duration::hours(1)));
    assert_eq!(
        ticket.links(),
        &[Link {
            link_type: LinkType::CausedBy,
            target: OTHER
        }]
    );
    assert_eq!(
        ticket.number().map(|number| number.to_string()).as_deref(),
        Some("2026-000123")
    );
}

#[test]
fn a_ticket_never_opened_has_no_data() {
    let ticket = Ticket::default();
    assert_eq!(
        (ticket.version(), ticket.status(), ticket.id()),
        (0, None, None)
    );
    assert!(ticket.links().is_empty() && ticket.tags().is_empty());
    assert!(ticket.assets().is_empty());
}

#[test]
fn the_transition_table_names_real_commands() {
    let names = [
        "assign",
        "start_work",
        "set_pending",
        "resolve",
        "reopen",
        "close",
        "cancel",
        "merge",
    ];
    let table: Vec<&str> = TRANSITIONS.iter().map(|(name, _, _)| *name).collect();
    assert_eq!(table, names);
    assert_eq!(TicketCommand::StartWork {}.name(), "start_work");
    assert_eq!(open_with(new_ticket()).name(), "open");
}
