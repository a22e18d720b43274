//! Pieces every benchmark shares: its own database, pools, command-line numbers, percentiles and
//! rates, the load on the machine beside the figures, an in-process HTTP server and its client,
//! and the summary table and JSON report. (`benches/support/` is no bench target
//! of its own; each bench includes it with `mod support;`.)

#![allow(dead_code, reason = "each bench uses a different subset")]

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use axum::Router;
use chrono::Utc;
use event_store::testing::TestDatabase;
use serde_json::{json, Map, Value};
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

/// The value given last for option `name` in `numbers`, or `default`.
pub fn given_or(numbers: &[(String, f64)], name: &str, default: f64) -> f64 {
    numbers
        .iter()
        .rev()
        .find(|(given, _)| given == name)
        .map_or(default, |(_, value)| *value)
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

/// Bound on one HTTP request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on a server's graceful shutdown.
pub const SHUTDOWN_TIME_MAX: Duration = Duration::from_secs(10);

/// An axum router served on `127.0.0.1:<free port>` until stopped.
#[derive(Debug)]
pub struct Server {
    pub base: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(router: Router) -> Result<Server> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(command_service::serve(listener, router, async move {
            let _ = stopped.await;
        }));
        Ok(Server {
            base: format!("http://{address}"),
            shutdown,
            task,
        })
    }

    pub async fn stop(self) -> Result<()> {
        let _ = self.shutdown.send(());
        tokio::time::timeout(SHUTDOWN_TIME_MAX, self.task)
            .await
            .context("server did not stop in time")???;
        Ok(())
    }
}

/// A client for the in-process server: no proxy, each request bounded by [`REQUEST_TIMEOUT`].
pub fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()?)
}

/// Column widths of a summary table with targets, and the length of the rule under its header.
#[derive(Clone, Copy, Debug)]
pub struct SummaryColumns {
    pub name: usize,
    pub value: usize,
    pub target: usize,
    pub rule: usize,
}

/// The bound a figure of the summary should keep.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
}

/// A figure of a summary table, with its target when it has one.
pub trait SummaryRow {
    fn name(&self) -> &str;
    fn value(&self) -> f64;
    fn target(&self) -> Option<Target>;
    /// `value` in the figure's unit.
    fn format(&self, value: f64) -> String;

    /// Whether the figure met its target (`None`: it has none).
    fn met(&self) -> Option<bool> {
        let value = self.value();
        self.target().map(|target| match target {
            Target::AtLeast(bound) => value >= bound,
            Target::AtMost(bound) => value <= bound,
        })
    }

    /// The target as text, empty when the figure has none.
    fn target_text(&self) -> String {
        match self.target() {
            Some(Target::AtLeast(bound)) => format!("≥ {}", self.format(bound)),
            Some(Target::AtMost(bound)) => format!("≤ {}", self.format(bound)),
            None => String::new(),
        }
    }
}

/// The summary table on stdout: a header, a rule, then one line a figure.
pub fn print_summary(rows: &[impl SummaryRow], columns: SummaryColumns) {
    let SummaryColumns {
        name: name_width,
        value: value_width,
        target: target_width,
        rule,
    } = columns;
    println!(
        "{:<name_width$} {:>value_width$} {:>target_width$}  result",
        "summary", "value", "target"
    );
    println!("{}", "-".repeat(rule));
    for row in rows {
        let result = match row.met() {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        println!(
            "{:<name_width$} {:>value_width$} {:>target_width$}  {}",
            row.name(),
            row.format(row.value()),
            row.target_text(),
            result
        );
    }
}

/// The run's report as `target/bench/<benchmark>.json`: when, on how many cores, with which
/// settings, the sections' figures, the summary and the run time.
pub fn write_report(
    benchmark: &str,
    settings: Value,
    sections: &Map<String, Value>,
    summary: Vec<Value>,
    run_time: Duration,
) -> Result<()> {
    let document = json!({
        "benchmark": benchmark,
        "recorded_at": Utc::now(),
        "cores": cores(),
        "settings": settings,
        "sections": sections,
        "summary": summary,
        "run_seconds": run_time.as_secs_f64(),
    });
    write_document(benchmark, &document)
}

/// `document` as `target/bench/<benchmark>.json`, pretty-printed.
pub fn write_document(benchmark: &str, document: &Value) -> Result<()> {
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    let path = directory.join(format!("{benchmark}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(document)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("JSON written to {}", path.display());
    Ok(())
}
