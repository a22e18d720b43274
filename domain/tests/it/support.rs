//! Fixtures shared by the integration tests.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use domain::ticket::{
    Channel, Description, Level, NewTicket, Requester, TicketCommand, TicketId, TicketNumber,
    TicketType, Title,
};
use serde_json::json;
use uuid::Uuid;

/// The ticket under test.
pub const TICKET: TicketId = TicketId::new(Uuid::from_u128(0x1111));
/// Another ticket, to link and merge into.
pub const OTHER: TicketId = TicketId::new(Uuid::from_u128(0x2222));
/// A third ticket.
pub const THIRD: TicketId = TicketId::new(Uuid::from_u128(0x3333));

/// A fixed start time.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// A valid new incident.
pub fn new_ticket(impact: Level, urgency: Level) -> NewTicket {
    NewTicket {
        ticket_type: TicketType::Incident,
        title: Title::parse("Drucker im 2. OG druckt nicht").unwrap(),
        description: Description::parse("Seit heute früh.").unwrap(),
        requester: Requester {
            name: "Erika Mustermann".into(),
            email: Some("erika@example.org".into()),
            phone: Some("+49 30 1234".into()),
            user_id: None,
        },
        impact,
        urgency,
        service_id: Some("printing".into()),
        category_id: Some("hardware".into()),
        queue: None,
        tags: vec!["printer".into()],
        fields: BTreeMap::from([("affected_users".into(), json!(3))]),
        channel: Channel::Portal,
    }
}

/// The command that opens [`TICKET`].
pub fn open(impact: Level, urgency: Level) -> TicketCommand {
    TicketCommand::Open {
        id: TICKET,
        number: TicketNumber::new(2026, 123),
        ticket: new_ticket(impact, urgency),
    }
}
