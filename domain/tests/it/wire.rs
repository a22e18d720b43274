//! What crosses the boundary: request bodies, commands and event JSON.

use domain::ticket::{
    decide, DecisionContext, Level, NewTicket, Ticket, TicketCommand, TicketEvent, TicketPolicy,
    TicketType,
};
use serde_json::{json, Value};

use crate::support::{open, start};

#[test]
fn new_ticket_reads_the_minimal_body_with_defaults() {
    let body = json!({
        "type": "incident",
        "title": "Drucker im 2. OG druckt nicht",
        "description": "…",
        "requester": {"name": "Erika Mustermann", "email": "erika@example.org"},
        "impact": "medium",
        "urgency": "high"
    });
    let ticket: NewTicket = serde_json::from_value(body).unwrap();
    assert_eq!(ticket.ticket_type, TicketType::Incident);
    assert_eq!(ticket.urgency, Level::High);
    assert_eq!(ticket.channel, domain::ticket::Channel::Api);
    assert!(ticket.tags.is_empty() && ticket.fields.is_empty() && ticket.queue.is_none());
}

fn minimal() -> Value {
    json!({
        "type": "incident",
        "title": "T",
        "requester": {"name": "E"},
        "impact": "low",
        "urgency": "low"
    })
}

#[test]
fn new_ticket_rejects_unknown_fields() {
    let mut body = minimal();
    body["priority"] = json!("critical");
    assert!(serde_json::from_value::<NewTicket>(body).is_err());
    let mut body = minimal();
    body["requester"]["department"] = json!("IT");
    assert!(serde_json::from_value::<NewTicket>(body).is_err());
    assert!(serde_json::from_value::<NewTicket>(minimal()).is_ok());
}

#[test]
fn new_ticket_rejects_an_empty_title() {
    let mut body = minimal();
    body["title"] = json!("  ");
    let error = serde_json::from_value::<NewTicket>(body)
        .unwrap_err()
        .to_string();
    assert!(error.contains("title is empty"), "{error}");
}

#[test]
fn commands_read_from_their_type_tag() {
    let command: TicketCommand =
        serde_json::from_value(json!({"type": "assign", "assignee": "k.meier"})).unwrap();
    assert_eq!(
        command,
        TicketCommand::Assign {
            assignee: "k.meier".into(),
            queue: None
        }
    );
    let command: TicketCommand = serde_json::from_value(json!({"type": "start_work"})).unwrap();
    assert_eq!(command, TicketCommand::StartWork {});
    let command: TicketCommand =
        serde_json::from_value(json!({"type": "set_fields", "fields": {"cost_centre": null}}))
            .unwrap();
    assert_eq!(command.name(), "set_fields");
}

#[test]
fn commands_cannot_open_a_ticket() {
    let id = "00000000-0000-0000-0000-000000001111";
    let body = json!({"type": "open", "id": id, "number": "2026-000001"});
    assert!(serde_json::from_value::<TicketCommand>(body).is_err());
}

#[test]
fn commands_reject_unknown_fields_and_types() {
    let extra = json!({"type": "assign", "assignee": "k.meier", "priority": "high"});
    assert!(serde_json::from_value::<TicketCommand>(extra).is_err());
    let extra = json!({"type": "close", "reason": "done"});
    assert!(serde_json::from_value::<TicketCommand>(extra).is_err());
    assert!(serde_json::from_value::<TicketCommand>(json!({"type": "delete"})).is_err());
    assert!(serde_json::from_value::<TicketCommand>(json!({"assignee": "k.meier"})).is_err());
}

fn opened_event() -> TicketEvent {
    let policy = TicketPolicy::default();
    let ctx = DecisionContext {
        now: start(),
        policy: &policy,
    };
    decide(&Ticket::default(), open(Level::High, Level::Critical), &ctx)
        .unwrap()
        .remove(0)
}

#[test]
fn opened_event_json_is_stable() {
    let expected = json!({
        "event_type": "ticket.opened",
        "id": "00000000-0000-0000-0000-000000001111",
        "number": "2026-000123",
        "ticket_type": "incident",
        "title": "Drucker im 2. OG druckt nicht",
        "description": "Seit heute früh.",
        "requester": {
            "name": "Erika Mustermann",
            "email": "erika@example.org",
            "phone": "+49 30 1234",
            "user_id": null
        },
        "service_id": "printing",
        "category_id": "hardware",
        "impact": "high",
        "urgency": "critical",
        "priority": "critical",
        "queue": null,
        "tags": ["printer"],
        "fields": {"affected_users": 3},
        "channel": "portal"
    });
    assert_eq!(serde_json::to_value(opened_event()).unwrap(), expected);
}

#[test]
fn personal_data_pointers_point_into_the_serialized_events() {
    let json = serde_json::to_value(opened_event()).unwrap();
    for pointer in TicketEvent::PERSONAL_DATA[0].1 {
        assert!(json.pointer(pointer).is_some(), "{pointer}");
    }
    for (event_type, _) in TicketEvent::PERSONAL_DATA {
        assert!(
            TicketEvent::EVENT_TYPES.contains(event_type),
            "{event_type}"
        );
    }
}

#[test]
fn closed_event_is_just_its_type() {
    let json = serde_json::to_value(TicketEvent::Closed {}).unwrap();
    assert_eq!(json, json!({"event_type": "ticket.closed"}));
    assert_eq!(
        serde_json::from_value::<TicketEvent>(json).unwrap(),
        TicketEvent::Closed {}
    );
}

#[cfg(feature = "openapi")]
#[test]
fn openapi_schema_documents_every_command_but_open() {
    use utoipa::PartialSchema;

    let schema = serde_json::to_value(TicketCommand::schema()).unwrap();
    let text = schema.to_string();
    for command in ["assign", "start_work", "add_requester_message", "unlink"] {
        assert!(
            text.contains(&format!("\"{command}\"")),
            "{command} missing"
        );
    }
    assert!(
        !text.contains("\"open\""),
        "open must not be documented: {text}"
    );
    let new_ticket = serde_json::to_value(NewTicket::schema()).unwrap();
    let title = &new_ticket["properties"]["title"]["$ref"];
    assert_eq!(title, &json!("#/components/schemas/Title"));
    let title = serde_json::to_value(domain::ticket::Title::schema()).unwrap();
    assert_eq!(
        (&title["minLength"], &title["maxLength"]),
        (&json!(1), &json!(200))
    );
}
