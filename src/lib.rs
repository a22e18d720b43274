//! The `itsm` binary's library: configuration, telemetry and the operator commands, so that
//! tests can drive them without spawning the binary.

pub mod audit_cli;
pub mod cli;
pub mod config;
pub mod serve;
pub mod telemetry;
