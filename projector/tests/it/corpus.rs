//! A generated corpus of ticket commands through the real command service code (decide,
//! encrypt, append), so that projections see exactly what production stores.

use std::sync::Arc;

use command_service::auth::Actor;
use command_service::metrics::Metrics;
use command_service::tickets::{CommandRequest, TicketService};
use domain::ticket::{NewTicket, TicketCommand, TicketId, TicketPolicy};
use event_store::crypto::{MasterKey, PersonalDataVault};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

/// The command service's ticket logic over `pool`.
pub fn service(pool: &PgPool, master_key: &MasterKey) -> Arc<TicketService> {
    Arc::new(TicketService::new(
        pool.clone(),
        PersonalDataVault::new(master_key),
        TicketPolicy::default(),
        Arc::new(Metrics::default()),
    ))
}

fn agent() -> Actor {
    Actor {
        user: "a.agentin".to_owned(),
        roles: vec!["agent".to_owned()],
    }
}

async fn execute(service: &TicketService, ticket: TicketId, command: TicketCommand) -> usize {
    let outcome = service
        .execute(CommandRequest {
            ticket,
            command,
            actor: agent(),
            expected_version: None,
            idempotency_key: None,
            correlation_id: Uuid::new_v4(),
            origin: "api".to_owned(),
            scope: None,
        })
        .await
        .expect("corpus command is valid");
    outcome.events_appended
}

fn command(value: Value) -> TicketCommand {
    serde_json::from_value(value).expect("corpus command parses")
}

/// Opens ticket `index` and gives its id and the events appended.
pub async fn open(service: &TicketService, index: usize) -> (TicketId, usize) {
    let id = TicketId::new(Uuid::new_v4());
    let number = service.next_ticket_number().await.expect("ticket number");
    let ticket: NewTicket = serde_json::from_value(json!({
        "type": if index % 3 == 0 { "service_request" } else { "incident" },
        "title": format!("Drücker {index} im Büro defekt"),
        "description": format!("Seit heute früh druckt der Drücker in Raum {index} nicht mehr."),
        "requester": {"name": format!("Erika Mustermann {index}"), "email": format!("e{index}@example.org"),
                      "user_id": format!("user{}", index % 50)},
        "impact": (["low", "medium", "high", "critical"][index % 4]),
        "urgency": (["low", "medium", "high"][index % 3]),
        "queue": (["first-level", "second-level", "network"][index % 3]),
        "service_id": format!("service-{}", index % 25),
        "tags": if index % 2 == 0 { vec!["drucker"] } else { vec![] },
        "channel": (["portal", "email", "phone"][index % 3]),
    }))
    .expect("new ticket parses");
    let events = execute(service, id, TicketCommand::Open { id, number, ticket }).await;
    (id, events)
}

/// Runs a lifecycle of about ten events on an opened ticket; `other` is a ticket to link to.
pub async fn work(service: &TicketService, id: TicketId, index: usize, other: TicketId) -> usize {
    let mut events = 0;
    let steps = vec![
        json!({"type": "assign", "assignee": format!("agent{}", index % 7), "queue": (["first-level", "second-level"][index % 2])}),
        json!({"type": "start_work"}),
        json!({"type": "add_reply", "body": format!("Wir kümmern uns um Ticket {index}.")}),
        json!({"type": "add_note", "body": "Interne Notiz: Toner prüfen"}),
        json!({"type": "set_priority", "impact": "high", "urgency": (["low", "critical"][index % 2])}),
        json!({"type": "set_tags", "tags": ["drucker", format!("raum-{}", index % 10)]}),
        json!({"type": "link", "link_type": "relates_to", "target": other.as_uuid()}),
        json!({"type": "set_pending", "reason": "waiting_for_requester"}),
        json!({"type": "add_requester_message", "body": "Danke, es geht wieder."}),
    ];
    for step in steps {
        events += execute(service, id, command(step)).await;
    }
    let ending = match index % 4 {
        0 => vec![
            json!({"type": "resolve", "code": "fixed", "text": "Toner getauscht"}),
            json!({"type": "close"}),
        ],
        1 => vec![json!({"type": "unlink", "link_type": "relates_to", "target": other.as_uuid()})],
        2 => vec![
            json!({"type": "resolve", "code": "fixed", "text": "Neu gestartet"}),
            json!({"type": "reopen", "reason": "Wieder kaputt"}),
        ],
        _ => vec![json!({"type": "cancel", "reason": "Doppelt gemeldet"})],
    };
    for step in ending {
        events += execute(service, id, command(step)).await;
    }
    events
}

/// Generates `tickets` tickets with about ten events each, `tasks` at a time; the events
/// appended in all.
pub async fn generate(service: Arc<TicketService>, tickets: usize, tasks: usize) -> usize {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let service = service.clone();
        handles.push(tokio::spawn(async move {
            let mut events = 0;
            let mut previous: Option<TicketId> = None;
            for index in (task..tickets).step_by(tasks) {
                let (id, opened) = open(&service, index).await;
                events += opened;
                let other = previous.unwrap_or(id);
                if other != id {
                    events += work(&service, id, index, other).await;
                } else {
                    let (second, opened) = open(&service, index + tickets).await;
                    events += opened + work(&service, id, index, second).await;
                }
                previous = Some(id);
            }
            events
        }));
    }
    let mut total = 0;
    for handle in handles {
        total += handle.await.expect("corpus task");
    }
    total
}
