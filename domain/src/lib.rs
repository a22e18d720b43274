//! The pure ITSM domain: aggregates, their commands, events and rules.
//!
//! Architecture invariant: this crate does no I/O, has no async code, reads no clock and uses no
//! randomness. Time and configuration come in through [`ticket::DecisionContext`]; everything a
//! command needs from elsewhere (ids, ticket numbers) is resolved before and put into the command.

pub mod access;
pub mod asset;
pub mod calendar;
pub mod config;
pub mod identity;
pub mod sla;
pub mod ticket;
