//! Projection framework, ticket read models and the relay to NATS JetStream (DESIGN §3–§5).
//!
//! - [`checkpoint`]: cursors, leases and the fenced advance shared by projections and the relay.

pub mod checkpoint;

/// Name of the ticket projection (ticket view, worklist, articles, links, history, search).
pub const TICKETS: &str = "tickets";
/// Name of the relay's checkpoint.
pub const RELAY: &str = "relay";
