//! Integration tests of the domain crate through its public API only.

mod access_config;
mod business_time;
mod config;
mod config_support;
mod holidays;
mod properties;
mod sla_clocks;
mod support;
mod wire;
