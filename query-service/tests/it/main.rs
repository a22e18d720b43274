//! Integration tests of the query service: the real router on port 0, a fresh PostgreSQL
//! database per test seeded with read-model rows, HTTP through reqwest, and the real nats-server
//! for live updates.

mod assets;
mod audit;
mod consistency;
mod end_to_end;
mod errors;
mod helpers;
mod history;
mod live;
mod queues;
mod readers;
mod schemas;
mod search;
mod ui;
mod view;
mod worklist;
