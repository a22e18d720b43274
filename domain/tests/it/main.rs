//! Integration tests of the domain crate through its public API only.

mod business_time;
mod config;
mod holidays;
mod properties;
mod support;
mod wire;
