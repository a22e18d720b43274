//! Integration tests of the projector crate against a real PostgreSQL (a fresh database per test)
//! and a real nats-server (a stream of its own per test).

mod as_of;
mod assets;
mod corpus;
mod identity;
mod nats;
mod projection;
mod relay;
mod sla;
mod sla_monitor;
mod support;
mod ticket_assets;
