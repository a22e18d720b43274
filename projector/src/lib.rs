//! Projection framework, ticket read models and the relay to NATS JetStream (DESIGN §3–§5).
//!
//! - [`checkpoint`]: cursors, leases and the fenced advance shared by projections and the relay.
//! - [`runner`]: applies a [`runner::Projection`] in batches, exactly once, blue-green rebuilds.
//! - [`tickets`]: the ticket read models (view, worklist, articles, links, history, search).
//! - [`search`]: folding and query building shared with the query service.
//! - [`sla`]: the SLA clocks (configuration and ticket events folded with `domain::sla`).
//! - [`assets`]: the CMDB read models (assets, relations with validity, history, sources, imports).

pub mod as_of;
pub mod assets;
pub mod checkpoint;
pub mod identity;
pub mod metrics;
pub mod relay;
pub mod runner;
pub mod search;
pub mod sla;
pub mod sla_monitor;
pub mod status;
pub mod tickets;

/// Name of the ticket projection (ticket view, worklist, articles, links, history, search).
pub const TICKETS: &str = "tickets";
/// Name of the relay's checkpoint.
pub const RELAY: &str = "relay";
