//! The Ticket aggregate: an incident or service request from opening to closing.
//!
//! [`decide`] turns a command into events (or names the broken rule); [`Ticket::apply`] evolves
//! the state by one event. Both are pure.

pub mod command;
pub mod decide;
pub mod error;
pub mod event;
pub mod fields;
pub mod lifecycle;
#[cfg(feature = "openapi")]
mod openapi;
pub mod policy;
pub mod priority;
pub mod state;
pub mod values;

#[cfg(test)]
mod tests;

pub use command::{NewTicket, TicketCommand};
pub use decide::decide;
pub use error::{FieldValueError, TicketError, ValueError};
pub use event::TicketEvent;
pub use fields::{FieldDefinition, FieldKind, FieldValue};
pub use lifecycle::{allowed_commands, Status, Target, PERSON_COMMANDS, TRANSITIONS};
pub use policy::{DecisionContext, TicketPolicy};
pub use priority::{Level, Priority, PriorityMatrix, UrgencyRow};
pub use state::{Link, Pending, Resolution, Ticket};
pub use values::{
    ArticleBody, ArticleKind, Attachment, Channel, Description, LinkType, PendingReason, Requester,
    TicketId, TicketNumber, TicketType, Title,
};
