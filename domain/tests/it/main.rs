//! Integration tests of the domain crate through its public API only.

mod properties;
mod support;
mod wire;
