//! The cqrs-es `Aggregate` adapter: a thin shell over the pure `domain::ticket::decide` and
//! `Ticket::apply`. Time comes in the command; the policy is the aggregate's service.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use domain::ticket::{
    decide, DecisionContext, Ticket, TicketCommand, TicketError, TicketEvent, TicketPolicy,
};
use serde::{Deserialize, Serialize};

/// The ticket state as a cqrs-es aggregate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketAggregate(pub Ticket);

/// A command with the time it is decided at (the domain reads no clock).
#[derive(Debug)]
pub struct Decide {
    pub command: TicketCommand,
    pub now: DateTime<Utc>,
}

/// A ticket event as a cqrs-es domain event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketDomainEvent(pub TicketEvent);

impl DomainEvent for TicketDomainEvent {
    fn event_type(&self) -> String {
        self.0.event_type().to_owned()
    }

    fn event_version(&self) -> String {
        self.0.event_version().to_string()
    }
}

impl Aggregate for TicketAggregate {
    const TYPE: &'static str = "ticket";
    type Command = Decide;
    type Event = TicketDomainEvent;
    type Error = TicketError;
    type Services = TicketPolicy;

    async fn handle(
        &mut self,
        command: Decide,
        policy: &TicketPolicy,
        sink: &EventSink<Self>,
    ) -> Result<(), TicketError> {
        let context = DecisionContext {
            now: command.now,
            policy,
        };
        for event in decide(&self.0, command.command, &context)? {
            sink.write(TicketDomainEvent(event), self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: TicketDomainEvent) {
        self.0.apply(&event.0);
    }
}

/// Decides `command` on a copy of `state`; returns the events and the state after them.
pub async fn decide_on(
    state: &TicketAggregate,
    command: Decide,
    policy: &TicketPolicy,
) -> Result<(Vec<TicketEvent>, TicketAggregate), TicketError> {
    let mut next = state.clone();
    let sink = EventSink::default();
    next.handle(command, policy, &sink).await?;
    let events = sink
        .collect()
        .await
        .into_iter()
        .map(|event| event.0)
        .collect();
    Ok((events, next))
}
