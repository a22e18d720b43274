//! Integration tests of the command service: the real router on port 0, a fresh PostgreSQL
//! database per test, HTTP through reqwest.

mod asset_schemas;
mod assets;
mod concurrency;
mod config;
mod cross_checks;
mod helpers;
mod identity;
mod lifecycle;
mod open;
mod operations;
mod rejections;
mod schemas;
mod service_forms;
mod tickets_assets;
mod tokens;
