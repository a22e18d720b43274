//! Pieces every benchmark shares: its own database, pools, command-line numbers, percentiles and
//! rates, and the load on the machine beside the figures. (`benches/support/` is no bench target
//! of its own; each bench includes it with `mod support;`.)

#![allow(dead_code, reason = "each bench uses a different subset")]

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use event_store::testing::TestDatabase;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// A new migrated database of the benchmark's own.
pub async fn fresh_database() -> TestDatabase {
    eprintln!("creating a fresh database …");
    let db = TestDatabase::create().await;
    // The benchmark makes its own pools with explicit sizes.
    db.app_pool.close().await;
    db
}

/// Drops the database, waiting for it (also after a failed section).
pub async fn remove(db: TestDatabase) {
    let name = db.name.clone();
    if let Err(error) = db.remove().await {
        eprintln!("warning: could not drop database {name}: {error:#}");
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, |cores| cores.get())
}

pub async fn pool_of(options: &PgConnectOptions, connections: u32) -> Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(connections)
        .connect_with(options.clone())
        .await?)
}

/// A positive number after option `name` (`_` and `,` allowed as separators).
pub fn number_arg(value: Option<String>, name: &str) -> Result<f64> {
    let text = value.with_context(|| format!("{name} needs a number"))?;
    let number: f64 = text
        .replace(['_', ','], "")
        .parse()
        .with_context(|| format!("{name} needs a number, got {text:?}"))?;
    ensure!(
        number.is_finite() && number > 0.0,
        "{name} must be positive"
    );
    Ok(number)
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn mean(values: &[Duration]) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.iter().sum::<Duration>() / values.len() as u32
}

pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Other work on the machine (another engineer's builds or tests may share it).
pub async fn load_context(pool: &PgPool) -> Value {
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned));
    let other_sessions: Option<i64> = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE state = 'active' AND datname IS DISTINCT FROM current_database()",
    )
    .fetch_one(pool)
    .await
    .ok();
    json!({ "load_average_1min": load_average, "other_active_postgres_sessions": other_sessions })
}

/// Events and time of one pass over the store.
#[derive(Clone, Copy, Debug)]
pub struct Pass {
    pub events: u64,
    pub elapsed: Duration,
}

impl Pass {
    pub fn rate(&self) -> f64 {
        per_second(self.events, self.elapsed)
    }

    pub fn to_json(self) -> Value {
        json!({"events": self.events, "seconds": self.elapsed.as_secs_f64(),
               "events_per_second": self.rate()})
    }
}

/// The readers' limit: `read_after` in batches of `batch` until the end, nothing else.
pub async fn read_pass(pool: &PgPool, batch: u32) -> Result<Pass> {
    eprintln!("  read_after pass …");
    let started = std::time::Instant::now();
    let mut cursor = event_store::Cursor::START;
    let mut events = 0;
    loop {
        let rows = event_store::read_after(pool, cursor, batch).await?;
        let Some(last) = rows.last() else { break };
        cursor = last.cursor();
        events += rows.len() as u64;
    }
    Ok(Pass {
        events,
        elapsed: started.elapsed(),
    })
}
