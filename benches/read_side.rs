//! Read-side benchmark (DESIGN §3–§5 and §8, ADR 0006): rebuild rate, projection lag,
//! worklist and search latency, each beside the physical limit measured in the same run.
//!
//! ```text
//! cargo bench --bench read_side                        # full run, ≈ 10–15 min on 2 cores
//! cargo bench --bench read_side -- --quick             # smoke run, ≈ 2 min
//! cargo bench --bench read_side -- --only lag          # one section; repeatable
//! cargo bench --bench read_side -- --help              # every option
//! ```
//!
//! It needs the PostgreSQL of the README's quick start and finds it like the tests do
//! (`ITSM_DATABASE__OWNER_URL` / `ITSM_DATABASE__URL`, else the checkout's `itsm.toml`). Every
//! section runs in a fresh database of its own making (rebuild and lag share one), dropped at
//! the end; the services run in this process on `127.0.0.1:<port 0>`. Every loop stops by time.
//!
//! Sections:
//! - **rebuild**: 1,000,000 events (50,000 tickets × 20: opened, assigned, seven articles,
//!   priority, tags, fields, link, pending, resolve, and a close / reopen / cancel ending) are
//!   encoded like the command service does (`codec::encode`: personal data encrypted per
//!   requester, 35,000 requesters) and appended with `event_store::append` (hash chain, one
//!   statement per `--events-per-append` events, 16 writers with 8 tickets each in flight, so
//!   the streams interleave in cursor order). Then `Runner::rebuild` builds a new generation
//!   from the first event and swaps it in → events/s. The physical limit: one `COPY … FROM STDIN
//!   (FORMAT csv)` of as many rows into a scratch table shaped like `events` (same columns,
//!   defaults and indexes; payloads copied from a random sample of the stored events), once
//!   before and once after the rebuild → rows/s; the ratio uses their mean.
//! - **lag**: the command API and the projector (`Runner::run`, woken by the command service's
//!   `appended()` notify, as in `itsm serve`) in this process; an open-loop load of 500
//!   commands/s (20 % open, 50 % add_reply, 30 % assign on the tickets opened so far) for 60 s;
//!   a watcher reads the active checkpoint every ~1 ms. The lag of a command is the first
//!   reading with a cursor ≥ its consistency token minus the arrival of its response (0 when
//!   the projection was there first). The floor, measured by the same readings: the gap-free
//!   horizon (`pg_snapshot_xmin`) passing the token's transaction — no reader of DESIGN §3 can
//!   see an event earlier. The watcher also samples the oldest writing transaction (what holds
//!   the horizon back), and the projector's metrics give its batches. After the rebuild section
//!   the load runs on that store (its events and rebuilt generation); `--only lag` runs it on an
//!   empty one.
//! - **worklist**: 1,000,000 `rm_tickets` rows written with one `INSERT … SELECT … FROM
//!   generate_series` (in two parts, one per core): 40 queues, ~30 % open, German titles with
//!   one word (`Dockingstation`) in 1 % of them, the search vector computed as the projection
//!   does. Then 32 clients for 10 s each: the worklist page (one queue, 50 rows, by priority)
//!   and the search (`q=Dockingstation`, 20 hits) over HTTP, and the same SQL the query
//!   service runs straight on 32 connections (copied from `query-service/src/worklist.rs` and
//!   `search.rs`; keep them in step). SQL and HTTP run in interleaved slices (S-H-H-S).
//!
//! Output: tables on stdout (progress on stderr) and `target/bench/read_side.json`. Latencies
//! are per request as seen by the client, sorted and read at nearest rank.

mod support;

use support::{
    cores, given_or, http_client, load_context, ms, number_arg, percentile, pool_of, print_summary,
    remove, write_report, Server, SummaryColumns, SummaryRow, Target,
};

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use command_service::codec;
use domain::ticket::TicketEvent;
use event_store::crypto::{MasterKey, PersonalDataVault};
use event_store::testing::TestDatabase;
use event_store::{AppendRequest, Cursor, Metadata, NewEvent};
use projector::metrics::ProjectorMetrics;
use projector::runner::{Runner, RunnerSettings};
use projector::tickets::TicketProjection;
use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};
use sqlx::{PgPool, Row};
use tokio::sync::{watch, Semaphore};
use tokio::time::MissedTickBehavior;
use uuid::Uuid;

const USAGE: &str = "\
usage: cargo bench --bench read_side [-- OPTIONS]
  --quick                 smoke run: 50,000 events, 10 s of load, 100,000 rows, 3 s per read run
  --only SECTION          rebuild, lag or worklist; repeatable (default: all three)
  --events N              events generated and rebuilt, a multiple of 20 (default 1000000)
  --events-per-append N   events per append statement while generating (default 4)
  --batch-size N          projector batch size (default 1000, as configured by default)
  --lag-rate N            commands per second of the open-loop load (default 500)
  --lag-seconds N         seconds of open-loop load (default 60)
  --rows N                read-model rows for worklist and search (default 1000000)
  --seconds N             measured seconds per read scenario and side (default 10)
  --clients N             concurrent clients of the read scenarios (default 32)";

/// Events of one generated ticket's lifecycle.
const EVENTS_PER_TICKET: u64 = 20;
/// Concurrent writers (connections) while generating events.
const WRITERS: usize = 16;
/// Tickets each writer appends to in turn, so streams interleave in cursor order.
const TICKETS_IN_FLIGHT_PER_WRITER: usize = 8;
/// Requesters (data subjects) of the generated tickets (DESIGN §8).
const REQUESTERS: u64 = 35_000;
const AGENTS: u64 = 300;
const QUEUES: u64 = 40;
/// Rows sampled from `events` for the payloads of the COPY limit.
const COPY_SAMPLE_ROWS: i64 = 2_000;
/// Bytes per COPY message.
const COPY_CHUNK_BYTES: usize = 1 << 20;
/// How often long setup steps report progress.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);
/// Projector settings as configured by default (`src/config.rs`), except the batch size option.
const LEASE_TTL: Duration = Duration::from_millis(5_000);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Connections of the in-process services' pool (command API and projector; query API).
const SERVICE_POOL_CONNECTIONS: u32 = 32;
/// Tickets opened through the API before the open-loop load starts.
const LAG_SEED_TICKETS: usize = 200;
/// Clients opening the seed tickets.
const LAG_SEED_CLIENTS: usize = 16;
/// Commands of the open-loop load that may be awaiting their answer; beyond it a send is skipped.
const IN_FLIGHT_MAX: usize = 2_000;
/// The watcher's reading interval.
const WATCH_INTERVAL: Duration = Duration::from_millis(1);
/// Readings of the watcher between two samples of the oldest writing transactions.
const TRANSACTION_SAMPLE_READINGS: u64 = 50;
/// Bound on the projection catching up after the load.
const CATCH_UP_TIME_MAX: Duration = Duration::from_secs(60);
/// Parts of the read-model insert, run concurrently (one per core).
const INSERT_PARTS: u64 = 2;
/// The word in 1 % of the titles (no other generated word starts with it).
const SEARCH_WORD: &str = "Dockingstation";
const WORKLIST_PAGE_ROWS: u32 = 50;
const SEARCH_HITS: u32 = 20;
/// Bound on the projector's shutdown.
const RUNNER_STOP_TIME_MAX: Duration = Duration::from_secs(10);

const OPEN_STATUSES: [&str; 4] = ["new", "assigned", "in_progress", "pending"];
const LEVELS: [&str; 4] = ["low", "medium", "high", "critical"];
/// The default priority matrix, `[impact][urgency]` from low to critical (`domain::ticket::priority`).
const PRIORITY_MATRIX: [[&str; 4]; 4] = [
    ["very_low", "low", "low", "medium"],
    ["low", "medium", "medium", "high"],
    ["low", "medium", "high", "critical"],
    ["medium", "high", "critical", "critical"],
];
const THINGS: [&str; 12] = [
    "Drucker",
    "Bildschirm",
    "Laptop",
    "Tastatur",
    "Netzwerk",
    "Postfach",
    "Telefon",
    "Scanner",
    "Headset",
    "Kalender",
    "Freigabe",
    "Anmeldung",
];
const PROBLEMS: [&str; 8] = [
    "druckt nicht",
    "startet nicht",
    "ist sehr langsam",
    "meldet einen Fehler",
    "fällt ständig aus",
    "reagiert nicht",
    "ist gesperrt",
    "verbindet sich nicht",
];
const PLACES: [&str; 6] = [
    "im Büro",
    "im Lager",
    "in der Filiale Köln",
    "im Homeoffice",
    "im 2. OG",
    "im Besprechungsraum",
];
const REPLY: &str = "Guten Tag, wir haben den Fehler nachgestellt und den Treiber auf Ihrem \
    Arbeitsplatz aktualisiert. Bitte starten Sie das Gerät neu und melden Sie sich, falls das \
    Problem weiterhin besteht. Viele Grüße, Ihr Service-Desk";

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let Some(options) = Options::parse(std::env::args().skip(1))? else {
        return Ok(());
    };
    let started = Instant::now();
    let mut report = Report::default();
    println!(
        "read-side benchmark{}: sections {:?}; {} cores",
        if options.quick { " (quick)" } else { "" },
        options.sections,
        cores(),
    );
    if options.runs(Section::Rebuild) || options.runs(Section::Lag) {
        let db = fresh_database().await;
        let result = write_side(&options, &db, &mut report).await;
        remove(db).await;
        result?;
    }
    if options.runs(Section::Worklist) {
        let db = fresh_database().await;
        let result = read_side(&options, &db, &mut report).await;
        remove(db).await;
        result?;
    }
    println!();
    print_summary(&report.checks, SUMMARY_COLUMNS);
    println!("\ntotal run time {:.1} s", started.elapsed().as_secs_f64());
    write_json(&options, &report, started.elapsed())
}

/// A new migrated database of the benchmark's own.
async fn fresh_database() -> TestDatabase {
    eprintln!("creating a fresh database …");
    let db = TestDatabase::create().await;
    // The benchmark makes its own pools with explicit sizes.
    db.app_pool.close().await;
    db
}

// ---------------------------------------------------------------------------------------------
// Options.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Rebuild,
    Lag,
    Worklist,
}

#[derive(Debug)]
struct Options {
    quick: bool,
    sections: Vec<Section>,
    events: u64,
    events_per_append: usize,
    batch_size: u32,
    lag_rate: f64,
    lag_run: Duration,
    rows: u64,
    read_run: Duration,
    read_warmup: Duration,
    clients: usize,
}

impl Options {
    /// The options, or `None` after printing the usage.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Options>> {
        let mut quick = false;
        let mut sections = Vec::new();
        let mut numbers: Vec<(String, f64)> = Vec::new();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                // `cargo bench` passes `--bench` to every `harness = false` target.
                "--bench" => {}
                "--quick" => quick = true,
                "--only" => sections.push(section_arg(args.next())?),
                "--events"
                | "--events-per-append"
                | "--batch-size"
                | "--lag-rate"
                | "--lag-seconds"
                | "--rows"
                | "--seconds"
                | "--clients" => {
                    let value = number_arg(args.next(), &arg)?;
                    numbers.push((arg, value));
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    return Ok(None);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        if sections.is_empty() {
            sections = vec![Section::Rebuild, Section::Lag, Section::Worklist];
        }
        let number = |name: &str, full: f64, smoke: f64| {
            given_or(&numbers, name, if quick { smoke } else { full })
        };
        let options = Options {
            quick,
            sections,
            events: number("--events", 1_000_000.0, 50_000.0) as u64,
            events_per_append: number("--events-per-append", 4.0, 4.0) as usize,
            batch_size: number("--batch-size", 1_000.0, 1_000.0) as u32,
            lag_rate: number("--lag-rate", 500.0, 500.0),
            lag_run: Duration::from_secs_f64(number("--lag-seconds", 60.0, 10.0)),
            rows: number("--rows", 1_000_000.0, 100_000.0) as u64,
            read_run: Duration::from_secs_f64(number("--seconds", 10.0, 3.0)),
            read_warmup: Duration::from_secs_f64(if quick { 0.5 } else { 1.0 }),
            clients: number("--clients", 32.0, 32.0) as usize,
        };
        options.check()?;
        Ok(Some(options))
    }

    fn check(&self) -> Result<()> {
        ensure!(
            self.events >= 2 * EVENTS_PER_TICKET && self.events % EVENTS_PER_TICKET == 0,
            "--events must be a multiple of {EVENTS_PER_TICKET}, at least {}",
            2 * EVENTS_PER_TICKET
        );
        ensure!(
            self.events <= 20_000_000,
            "--events must be at most 20,000,000"
        );
        ensure!(
            (1..=EVENTS_PER_TICKET as usize).contains(&self.events_per_append),
            "--events-per-append must be 1 to {EVENTS_PER_TICKET}"
        );
        ensure!(self.batch_size >= 1, "--batch-size must be at least 1");
        ensure!(
            (1.0..=10_000.0).contains(&self.lag_rate),
            "--lag-rate must be 1 to 10,000"
        );
        ensure!(
            (1_000..=5_000_000).contains(&self.rows),
            "--rows must be 1,000 to 5,000,000"
        );
        ensure!(
            (1..=200).contains(&self.clients),
            "--clients must be 1 to 200"
        );
        Ok(())
    }

    fn runs(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }

    fn tickets(&self) -> u64 {
        self.events / EVENTS_PER_TICKET
    }
}

fn section_arg(value: Option<String>) -> Result<Section> {
    match value.as_deref() {
        Some("rebuild") => Ok(Section::Rebuild),
        Some("lag") => Ok(Section::Lag),
        Some("worklist") => Ok(Section::Worklist),
        other => bail!("--only needs rebuild, lag or worklist, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces: pools, a small random generator, servers, percentiles.

/// SplitMix64: reproducible, and cheap enough not to show in the figures.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(
            ((u128::from(self.next()) << 64) | u128::from(self.next())).to_be_bytes(),
        )
        .into_uuid()
    }
}

fn runner_settings(pool: &PgPool, batch_size: u32, role: &str) -> RunnerSettings {
    let random = Uuid::new_v4().simple().to_string();
    RunnerSettings {
        pool: pool.clone(),
        batch_size,
        lease_ttl: LEASE_TTL,
        poll_interval: POLL_INTERVAL,
        worker: format!("read-side-bench-{role}-{}", &random[..8]),
    }
}

// ---------------------------------------------------------------------------------------------
// Report.

#[derive(Debug, Default)]
struct Report {
    sections: serde_json::Map<String, Value>,
    checks: Vec<Check>,
}

#[derive(Clone, Copy, Debug)]
enum Unit {
    Percent,
    Milliseconds,
}

/// A figure of the summary, with its target when it has one.
#[derive(Debug)]
struct Check {
    name: String,
    value: f64,
    unit: Unit,
    target: Option<Target>,
}

/// The summary table's column widths.
const SUMMARY_COLUMNS: SummaryColumns = SummaryColumns {
    name: 46,
    value: 11,
    target: 10,
    rule: 78,
};

impl Check {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "value": self.value,
            "unit": match self.unit { Unit::Percent => "ratio", Unit::Milliseconds => "ms" },
            "target": self.target_text(),
            "met": self.met(),
        })
    }
}

impl SummaryRow for Check {
    fn name(&self) -> &str {
        &self.name
    }

    fn value(&self) -> f64 {
        self.value
    }

    fn target(&self) -> Option<Target> {
        self.target
    }

    fn format(&self, value: f64) -> String {
        match self.unit {
            Unit::Percent => format!("{:.1} %", value * 100.0),
            Unit::Milliseconds => format!("{value:.1} ms"),
        }
    }
}

fn check(name: &str, value: f64, unit: Unit, target: Option<Target>) -> Check {
    Check {
        name: name.to_owned(),
        value,
        unit,
        target,
    }
}

fn write_json(options: &Options, report: &Report, run_time: Duration) -> Result<()> {
    let settings = json!({
        "quick": options.quick,
        "events": options.events,
        "events_per_append": options.events_per_append,
        "batch_size": options.batch_size,
        "lag_rate": options.lag_rate,
        "lag_seconds": options.lag_run.as_secs_f64(),
        "rows": options.rows,
        "read_seconds": options.read_run.as_secs_f64(),
        "read_warmup_seconds": options.read_warmup.as_secs_f64(),
        "clients": options.clients,
    });
    write_report(
        "read_side",
        settings,
        &report.sections,
        report.checks.iter().map(Check::to_json).collect(),
        run_time,
    )
}

// ---------------------------------------------------------------------------------------------
// Write side: the rebuild and the lag sections share one database.

async fn write_side(options: &Options, db: &TestDatabase, report: &mut Report) -> Result<()> {
    let postgres: String = sqlx::query_scalar(
        "SELECT current_setting('server_version') || ', synchronous_commit=' || current_setting('synchronous_commit')",
    )
    .fetch_one(&db.owner_pool)
    .await?;
    println!("PostgreSQL {postgres}; database {}", db.name);
    let master_key = MasterKey::generate();
    let app_pool = pool_of(&db.app_options, SERVICE_POOL_CONNECTIONS).await?;
    master_key.check_against(&app_pool).await?;
    if options.runs(Section::Rebuild) {
        rebuild_section(options, db, &app_pool, &master_key, report).await?;
    }
    if options.runs(Section::Lag) {
        lag_section(options, db, &app_pool, &master_key, report).await?;
    }
    app_pool.close().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Section 1: rebuild rate against COPY.

async fn rebuild_section(
    options: &Options,
    db: &TestDatabase,
    app_pool: &PgPool,
    master_key: &MasterKey,
    report: &mut Report,
) -> Result<()> {
    println!("\n== rebuild: {} events ==", options.events);
    println!("load before: {}", load_context(&db.owner_pool).await);
    let generated = generate_events(options, app_pool, master_key).await?;
    let stored = StoredEvents::measure(&db.owner_pool, options.events).await?;
    println!(
        "generated {} events ({} tickets, {} append statements of ≤ {} events) in {:.1} s \
         ({:.0} events/s); payload {:.0} bytes as JSON text on average; events table {:.0} MiB",
        options.events,
        options.tickets(),
        generated.appends,
        options.events_per_append,
        generated.elapsed.as_secs_f64(),
        options.events as f64 / generated.elapsed.as_secs_f64(),
        stored.payload_bytes_avg,
        stored.table_bytes as f64 / 1_048_576.0,
    );
    let sample = CopySample::take(&db.owner_pool).await?;
    let copy_before = copy_limit(&db.owner_pool, options.events, &sample).await?;
    let rebuilt = rebuild(options, app_pool, master_key).await?;
    let copy_after = copy_limit(&db.owner_pool, options.events, &sample).await?;
    let load_after = load_context(&db.owner_pool).await;

    let copy_rate = (copy_before.rate() + copy_after.rate()) / 2.0;
    let rebuild_rate = options.events as f64 / rebuilt.elapsed.as_secs_f64();
    println!();
    println!(
        "{:<44} {:>10} {:>9} {:>12}",
        "rebuild", "rows", "seconds", "rows/s"
    );
    println!("{}", "-".repeat(78));
    let line = |name: &str, rows: u64, elapsed: Duration| {
        println!(
            "{:<44} {:>10} {:>9.1} {:>12.0}",
            name,
            rows,
            elapsed.as_secs_f64(),
            rows as f64 / elapsed.as_secs_f64()
        );
    };
    line(
        "COPY into a scratch `events` (before)",
        copy_before.rows,
        copy_before.elapsed,
    );
    line(
        "Runner::rebuild (events → new generation)",
        options.events,
        rebuilt.elapsed,
    );
    line(
        "COPY into a scratch `events` (after)",
        copy_after.rows,
        copy_after.elapsed,
    );
    println!(
        "COPY rows: {:.0} bytes of CSV each on average (payload sample {:.0} bytes as JSON text)",
        copy_before.bytes as f64 / copy_before.rows as f64,
        sample.payload_bytes_avg,
    );
    println!(
        "rebuilt generation {}: {} tickets, {} articles, {} links, {} history rows; batch size {}",
        rebuilt.generation,
        rebuilt.tickets,
        rebuilt.articles,
        rebuilt.links,
        rebuilt.history,
        options.batch_size
    );
    println!(
        "projector (rebuild): {:.0} batches of {:.0} events, {:.1} ms each on average \
         (read, apply, commit); the rest of the rebuild's time is outside batches",
        rebuilt.batches.batches,
        rebuilt.batches.events_per_batch(),
        rebuilt.batches.milliseconds_per_batch(),
    );
    println!(
        "rebuild / COPY: {:.1} % (COPY mean {copy_rate:.0} rows/s)",
        100.0 * rebuild_rate / copy_rate
    );
    println!("load after: {load_after}");
    ensure!(
        rebuilt.history == options.events as i64 && rebuilt.tickets == options.tickets() as i64,
        "the rebuilt read model has {} history rows and {} tickets, expected {} and {}",
        rebuilt.history,
        rebuilt.tickets,
        options.events,
        options.tickets()
    );

    report.checks.push(check(
        "rebuild events/s / COPY rows/s",
        rebuild_rate / copy_rate,
        Unit::Percent,
        Some(Target::AtLeast(0.30)),
    ));
    report.sections.insert(
        "rebuild".into(),
        json!({
            "events": options.events,
            "tickets": options.tickets(),
            "generation_seconds": generated.elapsed.as_secs_f64(),
            "append_statements": generated.appends,
            "payload_json_bytes_avg": stored.payload_bytes_avg,
            "events_table_bytes": stored.table_bytes,
            "rebuild_seconds": rebuilt.elapsed.as_secs_f64(),
            "rebuild_events_per_second": rebuild_rate,
            "copy_before_rows_per_second": copy_before.rate(),
            "copy_after_rows_per_second": copy_after.rate(),
            "copy_csv_bytes_per_row": copy_before.bytes as f64 / copy_before.rows as f64,
            "ratio": rebuild_rate / copy_rate,
            "projector_batches": rebuilt.batches.to_json(),
            "read_model": {
                "tickets": rebuilt.tickets, "articles": rebuilt.articles,
                "links": rebuilt.links, "history": rebuilt.history,
            },
            "load_after": load_after,
        }),
    );
    Ok(())
}

#[derive(Debug)]
struct Generated {
    appends: u64,
    elapsed: Duration,
}

/// Appends `options.events` events of `options.tickets()` tickets with [`WRITERS`] writers.
async fn generate_events(
    options: &Options,
    pool: &PgPool,
    master_key: &MasterKey,
) -> Result<Generated> {
    let tickets = options.tickets();
    let ids: Arc<Vec<Uuid>> = Arc::new((0..tickets).map(|_| Uuid::new_v4()).collect());
    let vault = Arc::new(PersonalDataVault::new(master_key));
    let appended = Arc::new(AtomicU64::new(0));
    eprintln!("  generating {} events …", options.events);
    let started = Instant::now();
    let progress = spawn_progress("generated", "events", appended.clone(), options.events);
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let context = WriterContext {
            pool: pool.clone(),
            vault: vault.clone(),
            ids: ids.clone(),
            events_per_append: options.events_per_append,
            appended: appended.clone(),
        };
        writers.push(tokio::spawn(write_tickets(writer, context)));
    }
    let mut results = Vec::new();
    for writer in writers {
        results.push(writer.await);
    }
    progress.abort();
    let mut appends = 0;
    for result in results {
        appends += result.context("writer panicked")??;
    }
    Ok(Generated {
        appends,
        elapsed: started.elapsed(),
    })
}

/// Prints `done` of `total` every [`PROGRESS_INTERVAL`] on stderr until aborted.
fn spawn_progress(
    what: &'static str,
    unit: &'static str,
    done: Arc<AtomicU64>,
    total: u64,
) -> tokio::task::JoinHandle<()> {
    let started = Instant::now();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PROGRESS_INTERVAL).await;
            let done = done.load(Ordering::Relaxed);
            eprintln!(
                "  {what} {done} of {total} {unit} ({:.0}/s)",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    })
}

#[derive(Clone, Debug)]
struct WriterContext {
    pool: PgPool,
    vault: Arc<PersonalDataVault>,
    ids: Arc<Vec<Uuid>>,
    events_per_append: usize,
    appended: Arc<AtomicU64>,
}

/// Writes the tickets `writer`, `writer + WRITERS`, …, appending to a few of them in turn; the
/// number of append statements.
async fn write_tickets(writer: usize, context: WriterContext) -> Result<u64> {
    let mut next = writer;
    let mut in_flight: VecDeque<TicketStream> = VecDeque::new();
    let mut appends = 0;
    loop {
        while in_flight.len() < TICKETS_IN_FLIGHT_PER_WRITER && next < context.ids.len() {
            in_flight.push_back(TicketStream::prepare(next, &context).await?);
            next += WRITERS;
        }
        let Some(mut stream) = in_flight.pop_front() else {
            return Ok(appends);
        };
        let events = stream.append_next(&context.pool).await?;
        context.appended.fetch_add(events, Ordering::Relaxed);
        appends += 1;
        if !stream.chunks.is_empty() {
            in_flight.push_back(stream);
        }
    }
}

/// One generated ticket's encoded events, in the append statements still to send.
#[derive(Debug)]
struct TicketStream {
    stream_id: Uuid,
    chunks: VecDeque<Chunk>,
    version: u64,
    last_hash: [u8; 32],
}

#[derive(Debug)]
struct Chunk {
    metadata: Metadata,
    events: Vec<NewEvent>,
    result: Value,
}

impl TicketStream {
    async fn prepare(index: usize, context: &WriterContext) -> Result<TicketStream> {
        let tickets = context.ids.len();
        let stream_id = context.ids[index];
        let link_target = context.ids[(index + tickets - 1) % tickets];
        let lifecycle = Lifecycle::new(index as u64, tickets as u64, stream_id, link_target);
        let events = lifecycle.events()?;
        let subject = context
            .vault
            .subject_for(&context.pool, &format!("user:{}", lifecycle.user_id()))
            .await?;
        let encoded = codec::encode(&events, &context.vault, Some(&subject))?;
        let mut chunks = VecDeque::new();
        let mut encoded = encoded.into_iter().peekable();
        let mut chunk_index: i64 = 0;
        while encoded.peek().is_some() {
            let events: Vec<NewEvent> = encoded.by_ref().take(context.events_per_append).collect();
            let command_id = Uuid::new_v4();
            chunks.push_back(Chunk {
                metadata: Metadata::new(
                    lifecycle.agent(),
                    lifecycle.opened_at + chrono::Duration::hours(3 * chunk_index),
                    "api".to_owned(),
                    Uuid::new_v4(),
                    command_id,
                    command_id,
                ),
                events,
                result: json!({ "number": (chunk_index == 0).then(|| lifecycle.number()), "request": null }),
            });
            chunk_index += 1;
        }
        Ok(TicketStream {
            stream_id,
            chunks,
            version: 0,
            last_hash: event_store::hash::GENESIS,
        })
    }

    /// Appends the next chunk; the events appended.
    async fn append_next(&mut self, pool: &PgPool) -> Result<u64> {
        let chunk = self.chunks.pop_front().context("no chunk left")?;
        let count = chunk.events.len() as u64;
        let outcome = event_store::append(
            pool,
            AppendRequest {
                stream_type: codec::STREAM_TYPE,
                stream_id: self.stream_id,
                expected_version: self.version,
                previous_hash: self.last_hash,
                metadata: &chunk.metadata,
                events: chunk.events,
                result: chunk.result,
            },
        )
        .await?;
        self.version = outcome.stored.last_version;
        self.last_hash = outcome.last_hash;
        Ok(count)
    }
}

/// The twenty events of generated ticket `index`: a realistic mix of what agents and
/// requesters do, ending closed, reopened (open), closed after an unlink, or cancelled.
#[derive(Debug)]
struct Lifecycle {
    index: u64,
    tickets: u64,
    id: Uuid,
    link_target: Uuid,
    opened_at: DateTime<Utc>,
}

impl Lifecycle {
    fn new(index: u64, tickets: u64, id: Uuid, link_target: Uuid) -> Lifecycle {
        // Spread over the five years before 2026 (DESIGN §8: 1,000,000 tickets in five years).
        let span_seconds = 5 * 365 * 86_400;
        let opened_at = Utc.with_ymd_and_hms(2021, 1, 1, 8, 0, 0).unwrap()
            + chrono::Duration::seconds((index * span_seconds / tickets) as i64);
        Lifecycle {
            index,
            tickets,
            id,
            link_target,
            opened_at,
        }
    }

    fn user_id(&self) -> String {
        format!("u{}", self.index.wrapping_mul(7_919) % REQUESTERS)
    }

    fn agent(&self) -> String {
        format!("agent{}", self.index % AGENTS)
    }

    /// Numbers of the years 2021–2025, so they never meet the API's numbers of this year.
    fn number(&self) -> String {
        let per_year = self.tickets.div_ceil(5);
        format!(
            "{:04}-{:06}",
            2021 + self.index / per_year,
            self.index % per_year + 1
        )
    }

    fn events(&self) -> Result<Vec<TicketEvent>> {
        let mut values = self.opening();
        values.extend(self.middle());
        values.extend(self.ending());
        ensure!(values.len() as u64 == EVENTS_PER_TICKET);
        values
            .into_iter()
            .map(|value| {
                serde_json::from_value(value.clone())
                    .with_context(|| format!("generated event does not parse: {value}"))
            })
            .collect()
    }

    fn opening(&self) -> Vec<Value> {
        let i = self.index as usize;
        let (impact, urgency) = (i % 4, (i / 4) % 4);
        let thing = THINGS[i % THINGS.len()];
        let title = format!(
            "{thing} {} {}",
            PROBLEMS[(i / 3) % PROBLEMS.len()],
            PLACES[(i / 7) % PLACES.len()]
        );
        let user = self.user_id();
        vec![json!({
            "event_type": "ticket.opened", "id": self.id, "number": self.number(),
            "ticket_type": if i % 3 == 0 { "service_request" } else { "incident" },
            "title": title,
            "description": format!("Seit heute früh: {title}. Betroffen ist Arbeitsplatz {}, \
                                    bitte zeitnah prüfen und kurz Rückmeldung geben.", i % 5_000),
            "requester": {"name": format!("Erika Mustermann {user}"),
                          "email": format!("{user}@example.org"), "phone": "+49 30 1234567",
                          "user_id": user},
            "service_id": format!("service-{}", i % 250), "category_id": "hardware",
            "impact": LEVELS[impact], "urgency": LEVELS[urgency],
            "priority": PRIORITY_MATRIX[impact][urgency],
            "queue": format!("queue-{:02}", i as u64 % QUEUES),
            "tags": [thing.to_lowercase()], "fields": {}, "channel": "portal",
        })]
    }

    fn middle(&self) -> Vec<Value> {
        let i = self.index as usize;
        let first = format!("agent{}", self.index % AGENTS);
        let second = format!("agent{}", (self.index + 1) % AGENTS);
        let (impact, urgency) = (i % 4, (i / 4) % 4);
        let article = |id: u32, kind: &str, channel: &str, body: &str| {
            json!({"event_type": "ticket.article_added", "article_id": id, "kind": kind,
                   "channel": channel, "body": body, "attachments": []})
        };
        vec![
            json!({"event_type": "ticket.assigned", "assignee": first,
                   "queue": format!("queue-{:02}", i as u64 % QUEUES), "previous_assignee": null}),
            article(1, "public_reply", "email", REPLY),
            json!({"event_type": "ticket.work_started", "from": "assigned"}),
            article(2, "internal_note", "agent_ui", "Interne Notiz: Treiberversion 4.2 prüfen, Ersatzgerät liegt im Lager bereit."),
            json!({"event_type": "ticket.priority_changed", "impact": "high", "urgency": LEVELS[urgency],
                   "priority": PRIORITY_MATRIX[2][urgency], "previous": PRIORITY_MATRIX[impact][urgency]}),
            json!({"event_type": "ticket.tags_changed", "tags": ["hardware", "og-2"]}),
            article(3, "requester_message", "email", "Danke für die schnelle Rückmeldung. Der Fehler tritt leider weiterhin auf, vor allem morgens."),
            json!({"event_type": "ticket.linked", "link_type": "relates_to", "target": self.link_target}),
            article(4, "public_reply", "email", REPLY),
            json!({"event_type": "ticket.pending_set", "reason": "waiting_for_requester", "until": null}),
            article(5, "requester_message", "portal", "Ich habe das Gerät neu gestartet, jetzt funktioniert es wieder."),
            json!({"event_type": "ticket.work_started", "from": "pending"}),
            json!({"event_type": "ticket.fields_changed", "set": {"affected_users": 1 + i % 30, "cost_centre": "4711"}, "removed": []}),
            article(6, "internal_note", "agent_ui", "Ursache: veralteter Treiber. Rollout der neuen Version für die Abteilung angestoßen."),
            json!({"event_type": "ticket.assigned", "assignee": second,
                   "queue": format!("queue-{:02}", (i as u64 + 1) % QUEUES), "previous_assignee": first}),
            article(7, "public_reply", "email", REPLY),
            json!({"event_type": "ticket.resolved", "code": "fixed",
                   "text": "Treiber aktualisiert, Testseite gedruckt, Anwenderin bestätigt.",
                   "resolved_at": self.opened_at + chrono::Duration::days(2)}),
        ]
    }

    fn ending(&self) -> Vec<Value> {
        let reopened = json!({"event_type": "ticket.reopened", "reason": "Der Fehler ist wieder da.", "to": "assigned"});
        match self.index % 4 {
            0 => vec![
                json!({"event_type": "ticket.article_added", "article_id": 8, "kind": "requester_message",
                       "channel": "email", "body": "Vielen Dank, alles funktioniert.", "attachments": []}),
                json!({"event_type": "ticket.closed"}),
            ],
            1 => vec![
                reopened,
                json!({"event_type": "ticket.article_added", "article_id": 8, "kind": "public_reply",
                       "channel": "email", "body": REPLY, "attachments": []}),
            ],
            2 => vec![
                json!({"event_type": "ticket.unlinked", "link_type": "relates_to", "target": self.link_target}),
                json!({"event_type": "ticket.closed"}),
            ],
            _ => vec![
                reopened,
                json!({"event_type": "ticket.cancelled", "reason": "Doppelt gemeldet."}),
            ],
        }
    }
}

#[derive(Debug)]
struct StoredEvents {
    payload_bytes_avg: f64,
    table_bytes: i64,
}

impl StoredEvents {
    async fn measure(pool: &PgPool, expected: u64) -> Result<StoredEvents> {
        let row = sqlx::query(
            "SELECT count(*) AS events, avg(octet_length(payload::text))::float8 AS payload_bytes, \
                    pg_total_relation_size('events') AS table_bytes FROM events",
        )
        .fetch_one(pool)
        .await?;
        let events: i64 = row.try_get("events")?;
        ensure!(
            events as u64 == expected,
            "{events} events stored, expected {expected}"
        );
        Ok(StoredEvents {
            payload_bytes_avg: row.try_get("payload_bytes")?,
            table_bytes: row.try_get("table_bytes")?,
        })
    }
}

/// Stored events whose columns the COPY rows repeat (as CSV, from `event_type` to `origin`).
#[derive(Debug)]
struct CopySample {
    middles: Vec<String>,
    payload_bytes_avg: f64,
}

impl CopySample {
    async fn take(pool: &PgPool) -> Result<CopySample> {
        let rows = sqlx::query(
            "SELECT event_type, event_version, payload::text AS payload, actor, \
                    occurred_at::text AS occurred_at, origin \
             FROM events ORDER BY random() LIMIT $1",
        )
        .bind(COPY_SAMPLE_ROWS)
        .fetch_all(pool)
        .await?;
        let mut middles = Vec::with_capacity(rows.len());
        let mut payload_bytes = 0;
        for row in &rows {
            let payload: String = row.try_get("payload")?;
            payload_bytes += payload.len();
            middles.push(format!(
                "{},{},{},{},{},{}",
                csv_field(row.try_get("event_type")?),
                row.try_get::<i32, _>("event_version")?,
                csv_field(&payload),
                csv_field(row.try_get("actor")?),
                csv_field(row.try_get("occurred_at")?),
                csv_field(row.try_get("origin")?),
            ));
        }
        ensure!(!middles.is_empty(), "no events to sample");
        Ok(CopySample {
            payload_bytes_avg: payload_bytes as f64 / middles.len() as f64,
            middles,
        })
    }
}

fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The scratch table: `events`' columns, defaults, identity and checks, and the same indexes
/// (the ticket-number index not unique: the sampled payloads repeat).
const CREATE_COPY_TABLE: &str = "\
DROP TABLE IF EXISTS bench_copy;
CREATE TABLE bench_copy (LIKE events INCLUDING ALL EXCLUDING INDEXES);
ALTER TABLE bench_copy ADD PRIMARY KEY (global_position), ADD UNIQUE (event_id),
    ADD UNIQUE (stream_id, stream_version);
CREATE INDEX ON bench_copy (transaction_id, global_position);
CREATE INDEX ON bench_copy ((payload ->> 'number')) WHERE event_type = 'ticket.opened';";

const COPY_SQL: &str = "\
COPY bench_copy (event_id, stream_type, stream_id, stream_version, event_type, event_version,
    payload, actor, occurred_at, origin, correlation_id, causation_id, command_id,
    previous_hash, hash) FROM STDIN WITH (FORMAT csv)";

#[derive(Debug)]
struct CopyMeasure {
    rows: u64,
    bytes: u64,
    elapsed: Duration,
}

impl CopyMeasure {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

/// The physical limit: `rows` rows like the stored events in one COPY on one connection
/// (the rebuild runs on one connection too). The clock includes making the CSV.
async fn copy_limit(pool: &PgPool, rows: u64, sample: &CopySample) -> Result<CopyMeasure> {
    sqlx::raw_sql(CREATE_COPY_TABLE).execute(pool).await?;
    eprintln!("  COPY of {rows} rows …");
    let mut connection = pool.acquire().await?;
    let mut rng = Rng::new(rows);
    let started = Instant::now();
    let mut copy = connection.copy_in_raw(COPY_SQL).await?;
    let mut buffer = String::with_capacity(COPY_CHUNK_BYTES + 8_192);
    let mut bytes = 0u64;
    let mut stream_id = rng.uuid();
    for row in 0..rows {
        let version = row % EVENTS_PER_TICKET + 1;
        if version == 1 {
            stream_id = rng.uuid();
        }
        let middle = &sample.middles[(row % sample.middles.len() as u64) as usize];
        let _ = writeln!(
            buffer,
            "{},ticket,{stream_id},{version},{middle},{},{},{},\\x{:016x}{:016x}{:016x}{:016x},\\x{:016x}{:016x}{:016x}{:016x}",
            rng.uuid(),
            rng.uuid(),
            rng.uuid(),
            rng.uuid(),
            rng.next(), rng.next(), rng.next(), rng.next(),
            rng.next(), rng.next(), rng.next(), rng.next(),
        );
        if buffer.len() >= COPY_CHUNK_BYTES {
            bytes += buffer.len() as u64;
            let full =
                std::mem::replace(&mut buffer, String::with_capacity(COPY_CHUNK_BYTES + 8_192));
            copy.send(full.into_bytes()).await?;
        }
    }
    bytes += buffer.len() as u64;
    copy.send(buffer.into_bytes()).await?;
    let copied = copy.finish().await?;
    let elapsed = started.elapsed();
    drop(connection);
    sqlx::query("DROP TABLE bench_copy").execute(pool).await?;
    ensure!(copied == rows, "COPY wrote {copied} rows of {rows}");
    eprintln!("  COPY: {rows} rows in {:.1} s", elapsed.as_secs_f64());
    Ok(CopyMeasure {
        rows,
        bytes,
        elapsed,
    })
}

#[derive(Debug)]
struct Rebuilt {
    generation: i32,
    elapsed: Duration,
    batches: BatchTotals,
    tickets: i64,
    articles: i64,
    links: i64,
    history: i64,
}

/// `Runner::rebuild` with a fresh vault (no cached keys), timed from start to swap.
async fn rebuild(options: &Options, pool: &PgPool, master_key: &MasterKey) -> Result<Rebuilt> {
    let projection = TicketProjection::new(pool.clone(), PersonalDataVault::new(master_key));
    let metrics = Arc::new(ProjectorMetrics::default());
    let runner = Runner::new(
        runner_settings(pool, options.batch_size, "rebuild"),
        Arc::new(projection),
        metrics.clone(),
    )
    .await?;
    eprintln!("  rebuilding …");
    let started = Instant::now();
    let last_report = Mutex::new(Instant::now());
    let generation = runner
        .rebuild(|checkpoint| {
            let mut last = last_report.lock().expect("progress lock");
            if last.elapsed() >= PROGRESS_INTERVAL {
                *last = Instant::now();
                eprintln!(
                    "  rebuilt {} of {} events ({:.0}/s)",
                    checkpoint.events_applied,
                    options.events,
                    checkpoint.events_applied as f64 / started.elapsed().as_secs_f64()
                );
            }
        })
        .await?;
    let elapsed = started.elapsed();
    let row = sqlx::query(
        "SELECT (SELECT count(*) FROM rm_tickets WHERE generation = $1) AS tickets, \
                (SELECT count(*) FROM rm_articles WHERE generation = $1) AS articles, \
                (SELECT count(*) FROM rm_links WHERE generation = $1) AS links, \
                (SELECT count(*) FROM rm_history WHERE generation = $1) AS history",
    )
    .bind(generation)
    .fetch_one(pool)
    .await?;
    Ok(Rebuilt {
        generation,
        elapsed,
        batches: BatchTotals::of(&metrics, "rebuild"),
        tickets: row.try_get("tickets")?,
        articles: row.try_get("articles")?,
        links: row.try_get("links")?,
        history: row.try_get("history")?,
    })
}

/// The projector's applied batches of one mode, from its Prometheus histograms.
#[derive(Clone, Copy, Debug, Default)]
struct BatchTotals {
    batches: f64,
    events: f64,
    seconds: f64,
}

impl BatchTotals {
    /// The totals of `mode` ("live" or "rebuild") so far.
    fn of(metrics: &ProjectorMetrics, mode: &str) -> BatchTotals {
        let mut registry = prometheus_client::registry::Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &registry).is_err() {
            return BatchTotals::default();
        }
        let label = format!("mode=\"{mode}\"");
        let total = |name: &str| -> f64 {
            text.lines()
                .filter(|line| line.starts_with(name) && line.contains(&label))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        BatchTotals {
            batches: total("itsm_projector_batch_events_count"),
            events: total("itsm_projector_batch_events_sum"),
            seconds: total("itsm_projector_batch_seconds_sum"),
        }
    }

    fn since(&self, earlier: &BatchTotals) -> BatchTotals {
        BatchTotals {
            batches: self.batches - earlier.batches,
            events: self.events - earlier.events,
            seconds: self.seconds - earlier.seconds,
        }
    }

    fn events_per_batch(&self) -> f64 {
        self.events / self.batches.max(1.0)
    }

    fn milliseconds_per_batch(&self) -> f64 {
        1000.0 * self.seconds / self.batches.max(1.0)
    }

    fn to_json(self) -> Value {
        json!({"batches": self.batches, "events": self.events, "seconds": self.seconds})
    }
}

// ---------------------------------------------------------------------------------------------
// Section 2: projection lag under an open-loop command load.

async fn lag_section(
    options: &Options,
    db: &TestDatabase,
    app_pool: &PgPool,
    master_key: &MasterKey,
    report: &mut Report,
) -> Result<()> {
    println!(
        "\n== lag: {:.0} commands/s for {:.0} s ==",
        options.lag_rate,
        options.lag_run.as_secs_f64()
    );
    println!("load before: {}", load_context(&db.owner_pool).await);
    let state = command_service::AppState::new(command_service::Settings {
        pool: app_pool.clone(),
        master_key: master_key.clone(),
        policy: domain::ticket::TicketPolicy::default(),
        body_bytes_max: command_service::BODY_BYTES_MAX_DEFAULT,
    });
    let wake = state.tickets.appended();
    let server = Server::start(command_service::app(state)).await?;
    let projection = TicketProjection::new(app_pool.clone(), PersonalDataVault::new(master_key));
    let metrics = Arc::new(ProjectorMetrics::default());
    let runner = Runner::new(
        runner_settings(app_pool, options.batch_size, "lag"),
        Arc::new(projection),
        metrics.clone(),
    )
    .await?;
    let (stop_runner, runner_stopped) = watch::channel(false);
    let runner_task = tokio::spawn(async move { runner.run(wake, runner_stopped).await });
    let token = command_service::auth::issue_token(app_pool, "bench", &["agent".into()], None)
        .await
        .context("issuing a token")?;
    let api = CommandApi {
        client: http_client()?,
        base: server.base.clone(),
        token: token.into(),
    };

    let watcher_pool = pool_of(&db.owner_options, 1).await?;
    let measured = measure_lag(options, &api, &watcher_pool, &metrics).await;
    let _ = stop_runner.send(true);
    let stopped = tokio::time::timeout(RUNNER_STOP_TIME_MAX, runner_task).await;
    server.stop().await?;
    watcher_pool.close().await;
    let measured = measured?;
    stopped.context("the projector did not stop in time")??;
    let load_after = load_context(&db.owner_pool).await;
    measured.print(options);
    println!("load after: {load_after}");

    report.checks.push(check(
        "projection lag p99",
        ms(measured.lag.p99),
        Unit::Milliseconds,
        Some(Target::AtMost(100.0)),
    ));
    report.checks.push(check(
        "  gap-free horizon p99 (floor, same run)",
        ms(measured.horizon.p99),
        Unit::Milliseconds,
        None,
    ));
    report.checks.push(check(
        "achieved commands/s / offered",
        measured.achieved_rate() / options.lag_rate,
        Unit::Percent,
        None,
    ));
    let mut section = measured.to_json(options);
    section["load_after"] = load_after;
    report.sections.insert("lag".into(), section);
    Ok(())
}

#[derive(Clone, Debug)]
struct CommandApi {
    client: reqwest::Client,
    base: String,
    token: Arc<str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CommandKind {
    Open,
    AddReply,
    Assign,
}

/// A command's answer, as far as the lag needs it.
#[derive(Debug)]
struct Accepted {
    ticket: Uuid,
    token: Option<Cursor>,
    events_appended: u64,
}

/// One command of the load: when it was sent, when its answer arrived, what it said.
#[derive(Debug)]
struct Sent {
    kind: CommandKind,
    sent: Instant,
    done: Instant,
    outcome: Result<Accepted, String>,
}

impl CommandApi {
    /// Sends one command and reads the whole answer; `done` is when the answer had arrived.
    async fn send(&self, kind: CommandKind, ticket: Option<Uuid>, body: String) -> Sent {
        let url = match ticket {
            Some(ticket) => format!("{}/api/v1/tickets/{ticket}/commands", self.base),
            None => format!("{}/api/v1/tickets", self.base),
        };
        let sent = Instant::now();
        let answer = self
            .client
            .post(url)
            .bearer_auth(&self.token)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let answer = match answer {
            Ok(response) => {
                let status = response.status();
                response.bytes().await.map(|body| (status, body))
            }
            Err(error) => Err(error),
        };
        let done = Instant::now();
        let outcome = match answer {
            Ok((status, body)) if status.is_success() => accepted(&body),
            Ok((status, body)) => Err(format!(
                "{status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            )),
            Err(error) => Err(format!("transport: {error}")),
        };
        Sent {
            kind,
            sent,
            done,
            outcome,
        }
    }
}

fn accepted(body: &[u8]) -> Result<Accepted, String> {
    let value: Value = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let ticket = value["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .ok_or("no id in the answer")?;
    let token = value["consistency_token"]
        .as_str()
        .map(|token| token.parse::<Cursor>())
        .transpose()
        .map_err(|error| format!("bad consistency token: {error}"))?;
    Ok(Accepted {
        ticket,
        token,
        events_appended: value["events_appended"].as_u64().unwrap_or(0),
    })
}

fn command_body(kind: CommandKind, rng: &mut Rng) -> String {
    let queue = format!("queue-{:02}", rng.below(QUEUES));
    match kind {
        CommandKind::Open => {
            let user = rng.below(REQUESTERS);
            let thing = THINGS[rng.below(THINGS.len() as u64) as usize];
            let problem = PROBLEMS[rng.below(PROBLEMS.len() as u64) as usize];
            json!({
                "type": "incident",
                "title": format!("{thing} {problem}"),
                "description": format!("Seit heute früh: {thing} {problem}. Bitte zeitnah prüfen."),
                "requester": {"name": format!("Erika Mustermann {user}"),
                              "email": format!("u{user}@example.org"), "user_id": format!("u{user}")},
                "impact": LEVELS[rng.below(4) as usize], "urgency": LEVELS[rng.below(4) as usize],
                "queue": queue, "tags": [thing.to_lowercase()], "channel": "portal",
            })
        }
        CommandKind::AddReply => json!({"type": "add_reply", "body": REPLY}),
        CommandKind::Assign => json!({
            "type": "assign", "assignee": format!("agent{}", rng.below(AGENTS)), "queue": queue,
        }),
    }
    .to_string()
}

/// A reading of the watcher: the active checkpoint's cursor and the gap-free horizon.
#[derive(Clone, Copy, Debug)]
struct Observation {
    at: Instant,
    cursor: Cursor,
    /// `pg_snapshot_xmin(pg_current_snapshot())`: every transaction below it has finished.
    horizon: i64,
}

const WATCH_SQL: &str = "\
SELECT c.last_tx, c.last_position, pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon
FROM projection_checkpoints c
JOIN projections p ON p.name = c.name AND p.active_generation = c.generation
WHERE c.name = 'tickets'";

/// The age of the oldest open transaction holding a transaction id (which holds back the
/// horizon of every gap-free reader in the cluster, DESIGN §3), in this database and in others.
const TRANSACTION_AGES_SQL: &str = "\
SELECT COALESCE(EXTRACT(epoch FROM max(clock_timestamp() - xact_start)
                FILTER (WHERE datname = current_database())), 0)::float8 AS own,
       COALESCE(EXTRACT(epoch FROM max(clock_timestamp() - xact_start)
                FILTER (WHERE datname IS DISTINCT FROM current_database())), 0)::float8 AS others
FROM pg_stat_activity WHERE backend_xid IS NOT NULL";

/// What the watcher saw.
#[derive(Debug, Default)]
struct Watched {
    observations: Vec<Observation>,
    /// Oldest writing transaction ages: (this database, other databases).
    transaction_ages: Vec<(Duration, Duration)>,
}

/// Reads the active checkpoint every [`WATCH_INTERVAL`] until `stop`, and every
/// [`TRANSACTION_SAMPLE_READINGS`] readings the oldest writing transactions.
async fn watch_checkpoint(pool: PgPool, stop: Arc<AtomicBool>) -> Result<Watched> {
    let mut ticker = tokio::time::interval(WATCH_INTERVAL);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut watched = Watched {
        observations: Vec::with_capacity(100_000),
        transaction_ages: Vec::new(),
    };
    let mut readings = 0u64;
    while !stop.load(Ordering::Relaxed) {
        ticker.tick().await;
        readings += 1;
        if readings % TRANSACTION_SAMPLE_READINGS == 0 {
            let row = sqlx::query(TRANSACTION_AGES_SQL).fetch_one(&pool).await?;
            let age = |column: &str| -> Result<Duration> {
                Ok(Duration::from_secs_f64(
                    row.try_get::<f64, _>(column)?.max(0.0),
                ))
            };
            watched.transaction_ages.push((age("own")?, age("others")?));
        }
        let Some(row) = sqlx::query(WATCH_SQL).fetch_optional(&pool).await? else {
            continue;
        };
        let observations = &mut watched.observations;
        observations.push(Observation {
            at: Instant::now(),
            cursor: Cursor {
                transaction_id: row.try_get("last_tx")?,
                global_position: row.try_get("last_position")?,
            },
            horizon: row.try_get("horizon")?,
        });
    }
    Ok(watched)
}

#[derive(Debug, Default)]
struct Spread {
    p50: Duration,
    p99: Duration,
    max: Duration,
    count: usize,
}

impl Spread {
    fn of(mut values: Vec<Duration>) -> Spread {
        values.sort_unstable();
        Spread {
            p50: percentile(&values, 0.50),
            p99: percentile(&values, 0.99),
            max: values.last().copied().unwrap_or_default(),
            count: values.len(),
        }
    }

    fn to_json(&self) -> Value {
        json!({"p50_ms": ms(self.p50), "p99_ms": ms(self.p99), "max_ms": ms(self.max), "count": self.count})
    }
}

#[derive(Debug)]
struct LagMeasured {
    window: Duration,
    sent: usize,
    ok: usize,
    skipped: u64,
    errors: usize,
    first_error: Option<String>,
    by_kind: [usize; 3],
    latency: Spread,
    lag: Spread,
    horizon: Spread,
    before_response: usize,
    unchanged: usize,
    unreached: usize,
    observations: usize,
    watch_interval_mean: Duration,
    catch_up: Duration,
    /// Readings whose cursor differed from the one before (about the batches committed).
    advances: usize,
    batches: BatchTotals,
    own_transactions: Spread,
    other_transactions: Spread,
}

impl LagMeasured {
    fn achieved_rate(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }

    fn print(&self, options: &Options) {
        println!();
        println!(
            "{:<40} {:>9} {:>9} {:>9} {:>8}",
            "lag", "p50 ms", "p99 ms", "max ms", "count"
        );
        println!("{}", "-".repeat(78));
        for (name, spread) in [
            ("command latency (HTTP)", &self.latency),
            ("projection lag (checkpoint ≥ token)", &self.lag),
            ("gap-free horizon passes token (floor)", &self.horizon),
        ] {
            println!(
                "{:<40} {:>9.2} {:>9.2} {:>9.2} {:>8}",
                name,
                ms(spread.p50),
                ms(spread.p99),
                ms(spread.max),
                spread.count
            );
        }
        println!(
            "offered {:.0} commands/s for {:.1} s; sent {} (open {}, add_reply {}, assign {}), \
             {} answered 2xx = {:.1} commands/s; {} errors; {} not sent (over {IN_FLIGHT_MAX} in flight)",
            options.lag_rate,
            self.window.as_secs_f64(),
            self.sent,
            self.by_kind[0],
            self.by_kind[1],
            self.by_kind[2],
            self.ok,
            self.achieved_rate(),
            self.errors,
            self.skipped,
        );
        if let Some(error) = &self.first_error {
            println!("first error: {error}");
        }
        println!(
            "projection already there when the answer arrived: {} of {}; commands that changed \
             nothing (excluded): {}; never reached: {}; watcher: {} readings, one every {:.2} ms; \
             caught up {:.0} ms after the last answer",
            self.before_response,
            self.lag.count,
            self.unchanged,
            self.unreached,
            self.observations,
            ms(self.watch_interval_mean),
            ms(self.catch_up),
        );
        println!(
            "projector (live): {:.0} batches, {:.1} events and {:.1} ms each on average; \
             the watcher saw the checkpoint advance {} times",
            self.batches.batches,
            self.batches.events_per_batch(),
            self.batches.milliseconds_per_batch(),
            self.advances,
        );
        println!(
            "oldest writing transaction (sampled {} times): this database p50 {:.0} ms, p99 {:.0} ms, \
             max {:.0} ms; other databases p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            self.own_transactions.count,
            ms(self.own_transactions.p50),
            ms(self.own_transactions.p99),
            ms(self.own_transactions.max),
            ms(self.other_transactions.p50),
            ms(self.other_transactions.p99),
            ms(self.other_transactions.max),
        );
    }

    fn to_json(&self, options: &Options) -> Value {
        json!({
            "offered_per_second": options.lag_rate,
            "seconds": self.window.as_secs_f64(),
            "sent": self.sent,
            "ok": self.ok,
            "achieved_per_second": self.achieved_rate(),
            "errors": self.errors,
            "first_error": self.first_error,
            "not_sent_over_in_flight_max": self.skipped,
            "open_add_reply_assign": self.by_kind,
            "command_latency": self.latency.to_json(),
            "projection_lag": self.lag.to_json(),
            "horizon_floor": self.horizon.to_json(),
            "visible_before_answer": self.before_response,
            "unchanged_excluded": self.unchanged,
            "never_reached": self.unreached,
            "watcher_readings": self.observations,
            "watcher_interval_mean_ms": ms(self.watch_interval_mean),
            "catch_up_after_load_ms": ms(self.catch_up),
            "checkpoint_advances_seen": self.advances,
            "projector_batches": self.batches.to_json(),
            "oldest_writing_transaction_this_database": self.own_transactions.to_json(),
            "oldest_writing_transaction_other_databases": self.other_transactions.to_json(),
        })
    }
}

async fn measure_lag(
    options: &Options,
    api: &CommandApi,
    watcher: &PgPool,
    metrics: &ProjectorMetrics,
) -> Result<LagMeasured> {
    let tickets = seed_tickets(api).await?;
    let seeded_to = tickets.iter().filter_map(|(_, token)| *token).max();
    wait_for_projection(watcher, seeded_to, CATCH_UP_TIME_MAX).await?;
    let tickets: Arc<Mutex<Vec<Uuid>>> =
        Arc::new(Mutex::new(tickets.into_iter().map(|(id, _)| id).collect()));
    let batches_before = BatchTotals::of(metrics, "live");
    let stop = Arc::new(AtomicBool::new(false));
    let watcher_task = tokio::spawn(watch_checkpoint(watcher.clone(), stop.clone()));
    eprintln!("  open-loop load …");
    let load = open_loop(options, api, tickets).await;
    let last_answer = Instant::now();
    let highest = load
        .as_ref()
        .ok()
        .and_then(|load| load.sent.iter().filter_map(token_of).max());
    let caught_up = wait_for_projection(watcher, highest, CATCH_UP_TIME_MAX).await;
    let catch_up = last_answer.elapsed();
    // A few more readings, so the last catch-up is in the timeline.
    tokio::time::sleep(WATCH_INTERVAL * 5).await;
    stop.store(true, Ordering::Relaxed);
    let watched = watcher_task.await.context("watcher panicked")??;
    let batches = BatchTotals::of(metrics, "live").since(&batches_before);
    let load = load?;
    caught_up?;
    let mut measured = evaluate(load, &watched.observations, catch_up);
    measured.batches = batches;
    measured.own_transactions =
        Spread::of(watched.transaction_ages.iter().map(|ages| ages.0).collect());
    measured.other_transactions =
        Spread::of(watched.transaction_ages.iter().map(|ages| ages.1).collect());
    Ok(measured)
}

fn token_of(sent: &Sent) -> Option<Cursor> {
    sent.outcome
        .as_ref()
        .ok()
        .and_then(|accepted| accepted.token)
}

/// Opens [`LAG_SEED_TICKETS`] tickets through the API; their ids and tokens.
async fn seed_tickets(api: &CommandApi) -> Result<Vec<(Uuid, Option<Cursor>)>> {
    let mut tasks = Vec::new();
    for client in 0..LAG_SEED_CLIENTS {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(1_000 + client as u64);
            let mut opened = Vec::new();
            for _ in (client..LAG_SEED_TICKETS).step_by(LAG_SEED_CLIENTS) {
                let sent = api
                    .send(
                        CommandKind::Open,
                        None,
                        command_body(CommandKind::Open, &mut rng),
                    )
                    .await;
                let accepted = sent
                    .outcome
                    .map_err(|error| anyhow::anyhow!("seed open: {error}"))?;
                opened.push((accepted.ticket, accepted.token));
            }
            Ok::<_, anyhow::Error>(opened)
        }));
    }
    let mut tickets = Vec::new();
    for task in tasks {
        tickets.extend(task.await.context("seed task panicked")??);
    }
    Ok(tickets)
}

/// Waits until the active checkpoint reaches `token` (if any), at most `limit`.
async fn wait_for_projection(pool: &PgPool, token: Option<Cursor>, limit: Duration) -> Result<()> {
    let Some(token) = token else { return Ok(()) };
    let deadline = Instant::now() + limit;
    loop {
        let active = projector::checkpoint::active(pool, projector::TICKETS).await?;
        if active.is_some_and(|checkpoint| checkpoint.cursor >= token) {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the projection did not reach {token} within {} s",
            limit.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[derive(Debug)]
struct Load {
    window: Duration,
    sent: Vec<Sent>,
    skipped: u64,
}

/// Sends commands at `options.lag_rate` per second for `options.lag_run`, whatever the answers
/// do (open loop), each in a task of its own.
async fn open_loop(
    options: &Options,
    api: &CommandApi,
    tickets: Arc<Mutex<Vec<Uuid>>>,
) -> Result<Load> {
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / options.lag_rate));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT_MAX));
    let mut rng = Rng::new(42);
    let mut tasks = Vec::new();
    let mut skipped = 0;
    let started = Instant::now();
    let end = started + options.lag_run;
    loop {
        ticker.tick().await;
        if Instant::now() >= end {
            break;
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            skipped += 1;
            continue;
        };
        let kind = match rng.below(10) {
            0 | 1 => CommandKind::Open,
            2..=6 => CommandKind::AddReply,
            _ => CommandKind::Assign,
        };
        let ticket = (kind != CommandKind::Open).then(|| {
            let tickets = tickets.lock().expect("tickets lock");
            tickets[rng.below(tickets.len() as u64) as usize]
        });
        let body = command_body(kind, &mut rng);
        let (api, tickets) = (api.clone(), tickets.clone());
        tasks.push(tokio::spawn(async move {
            let sent = api.send(kind, ticket, body).await;
            if let (CommandKind::Open, Ok(accepted)) = (kind, &sent.outcome) {
                tickets.lock().expect("tickets lock").push(accepted.ticket);
            }
            drop(permit);
            sent
        }));
    }
    let window = started.elapsed();
    let mut sent = Vec::with_capacity(tasks.len());
    for task in tasks {
        sent.push(task.await.context("command task panicked")?);
    }
    Ok(Load {
        window,
        sent,
        skipped,
    })
}

/// Lags from the answers and the watcher's timeline (made monotonic: a later reading never
/// counts as less advanced than an earlier one).
fn evaluate(load: Load, observations: &[Observation], catch_up: Duration) -> LagMeasured {
    let mut timeline = observations.to_vec();
    for index in 1..timeline.len() {
        let previous = timeline[index - 1];
        let current = &mut timeline[index];
        current.cursor = current.cursor.max(previous.cursor);
        current.horizon = current.horizon.max(previous.horizon);
    }
    let mut latencies = Vec::new();
    let (mut lags, mut horizons) = (Vec::new(), Vec::new());
    let (mut before_response, mut unchanged, mut unreached, mut errors) = (0, 0, 0, 0);
    let mut first_error = None;
    let mut by_kind = [0usize; 3];
    for sent in &load.sent {
        by_kind[sent.kind as usize] += 1;
        let accepted = match &sent.outcome {
            Ok(accepted) => accepted,
            Err(error) => {
                errors += 1;
                first_error.get_or_insert_with(|| error.clone());
                continue;
            }
        };
        latencies.push(sent.done - sent.sent);
        let Some(token) = accepted.token.filter(|_| accepted.events_appended > 0) else {
            unchanged += 1;
            continue;
        };
        let reached = timeline.partition_point(|seen| seen.cursor < token);
        let Some(seen) = timeline.get(reached) else {
            unreached += 1;
            continue;
        };
        if seen.at <= sent.done {
            before_response += 1;
        }
        lags.push(seen.at.saturating_duration_since(sent.done));
        let passed = timeline.partition_point(|seen| seen.horizon <= token.transaction_id);
        if let Some(seen) = timeline.get(passed) {
            horizons.push(seen.at.saturating_duration_since(sent.done));
        }
    }
    let advances = timeline
        .windows(2)
        .filter(|pair| pair[1].cursor != pair[0].cursor)
        .count();
    let watch_interval_mean = match (timeline.first(), timeline.last()) {
        (Some(first), Some(last)) if timeline.len() > 1 => {
            (last.at - first.at) / (timeline.len() as u32 - 1)
        }
        _ => Duration::ZERO,
    };
    LagMeasured {
        window: load.window,
        sent: load.sent.len(),
        ok: latencies.len(),
        skipped: load.skipped,
        errors,
        first_error,
        by_kind,
        latency: Spread::of(latencies),
        lag: Spread::of(lags),
        horizon: Spread::of(horizons),
        before_response,
        unchanged,
        unreached,
        observations: timeline.len(),
        watch_interval_mean,
        catch_up,
        advances,
        batches: BatchTotals::default(),
        own_transactions: Spread::default(),
        other_transactions: Spread::default(),
    }
}

// ---------------------------------------------------------------------------------------------
// Section 3: worklist and search, HTTP against the same SQL straight.

/// The SQL the query service runs, measured directly beside the HTTP API.
const WORKLIST_SQL: &str = query_service::sql::WORKLIST_OPEN_BY_PRIORITY;
const SEARCH_SQL: &str = query_service::sql::SEARCH;

/// The search's rank of an exact ticket-number match (`NUMBER_MATCH_RANK`).
const NUMBER_MATCH_RANK: f64 = 10.0;

/// `rows` tickets of generation 1 in `$1..$2` (of `$3` in all): 40 queues, ~30 % open,
/// the search vector as the projection builds it (umlauts folded, number and title weight A,
/// description and tags weight B).
const INSERT_TICKETS: &str = "\
INSERT INTO rm_tickets (generation, ticket_id, number, version, ticket_type, title, description,
    requester_name, requester_email, requester_phone, requester_user_id, service_id, category_id,
    impact, urgency, priority, priority_rank, queue, status, is_open, assignee, tags, fields,
    channel, pending_reason, pending_until, resolution_code, resolution_text, merged_into,
    article_count, opened_by, opened_at, updated_at, first_response_at, resolved_at, closed_at,
    last_tx, last_position, search)
SELECT 1, h.m::uuid, c.number, 2 + r.r3 / 64 % 12 + r.r2 % 8,
    CASE WHEN g.i % 3 = 0 THEN 'service_request' ELSE 'incident' END,
    c.title, c.description,
    (ARRAY['Erika','Max','Anna','Jonas','Leonie','Lukas','Marie','Paul'])[r.r3 / 16 % 8 + 1] || ' ' ||
      (ARRAY['Mustermann','Schmidt','Müller','Schneider','Fischer','Weber','Meyer','Wagner'])[r.r3 / 128 % 8 + 1],
    'u' || r.r4 % 35000 || '@example.org', NULL, 'u' || r.r4 % 35000,
    'service-' || r.r1 / 40 % 250,
    (ARRAY['hardware','software','network','access','other'])[r.r4 / 1600 % 5 + 1],
    c.impact, c.urgency, c.priority,
    CASE c.priority WHEN 'critical' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 WHEN 'low' THEN 4 ELSE 5 END,
    'queue-' || lpad((r.r1 % 40)::text, 2, '0'),
    c.status, c.status IN ('new', 'assigned', 'in_progress', 'pending'),
    CASE WHEN c.status <> 'new' THEN 'agent' || r.r1 / 10000 % 300 END,
    ARRAY[c.tag], '{}'::jsonb,
    (ARRAY['portal','email','phone','agent_ui'])[r.r4 / 8000 % 4 + 1],
    CASE WHEN c.status = 'pending' THEN 'waiting_for_requester' END, NULL,
    CASE WHEN c.status IN ('resolved', 'closed') THEN 'fixed' END,
    CASE WHEN c.status IN ('resolved', 'closed') THEN 'Treiber aktualisiert, Testseite gedruckt.' END,
    NULL, r.r3 / 64 % 12, 'agent' || r.r2 % 300,
    c.opened_at, c.opened_at + interval '3 hours' * (1 + r.r3 % 40),
    c.opened_at + interval '25 minutes',
    CASE WHEN c.status IN ('resolved', 'closed') THEN c.opened_at + interval '2 days' END,
    CASE WHEN c.status IN ('closed', 'cancelled') THEN c.opened_at + interval '3 days' END,
    1, g.i,
    setweight(to_tsvector('german', replace(translate(lower(replace(c.number, '-', ' ') || ' ' || c.title), 'äöü', 'aou'), 'ß', 'ss')), 'A')
    || setweight(to_tsvector('german', replace(translate(lower(c.description || ' ' || c.tag), 'äöü', 'aou'), 'ß', 'ss')), 'B')
FROM generate_series($1::bigint, $2::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT md5(g.i::text) AS m) h
CROSS JOIN LATERAL (SELECT ('x' || substr(h.m, 1, 7))::bit(28)::int AS r1,
                           ('x' || substr(h.m, 8, 7))::bit(28)::int AS r2,
                           ('x' || substr(h.m, 15, 7))::bit(28)::int AS r3,
                           ('x' || substr(h.m, 22, 7))::bit(28)::int AS r4) r
CROSS JOIN LATERAL (SELECT
    (ARRAY['Drucker','Bildschirm','Laptop','Tastatur','Netzwerk','Postfach','Telefon','Scanner',
           'Headset','Kalender','Freigabe','Anmeldung'])[r.r4 % 12 + 1] AS thing,
    (ARRAY['druckt nicht','startet nicht','ist sehr langsam','meldet einen Fehler',
           'fällt ständig aus','reagiert nicht','ist gesperrt','verbindet sich nicht'])[r.r4 / 12 % 8 + 1] AS problem,
    (ARRAY['im Büro','im Lager','in der Filiale Köln','im Homeoffice','im 2. OG',
           'im Besprechungsraum'])[r.r4 / 96 % 6 + 1] AS place,
    CASE WHEN r.r2 % 100 < 30
         THEN (ARRAY['new','assigned','in_progress','pending'])[r.r2 / 100 % 4 + 1]
         ELSE (ARRAY['resolved','closed','closed','closed','cancelled'])[r.r2 / 100 % 5 + 1] END AS status,
    (ARRAY['low','medium','high','critical'])[r.r3 % 4 + 1] AS impact,
    (ARRAY['low','medium','high','critical'])[r.r3 / 4 % 4 + 1] AS urgency,
    (ARRAY['very_low','low','low','medium','low','medium','medium','high','low','medium','high',
           'critical','medium','high','critical','critical'])[r.r3 % 4 * 4 + r.r3 / 4 % 4 + 1] AS priority,
    format('%s-%s', 2021 + (g.i - 1) * 5 / $3, lpad(((g.i - 1) % ($3 / 5 + 1) + 1)::text, 6, '0')) AS number,
    timestamptz '2021-01-01 08:00:00+00' + make_interval(secs => (g.i * (157680000.0 / $3))::float8) AS opened_at
) b
CROSS JOIN LATERAL (SELECT b.status, b.impact, b.urgency, b.priority, b.number, b.opened_at,
    lower(b.thing) AS tag,
    concat_ws(' ', b.thing, b.problem, b.place, CASE WHEN g.i % 100 = 7 THEN 'Dockingstation' END) AS title,
    format('Seit heute früh: %s %s %s. Betroffen ist Arbeitsplatz %s, bitte zeitnah prüfen und kurz Rückmeldung geben.',
           b.thing, b.problem, b.place, g.i % 5000) AS description
) c";

async fn read_side(options: &Options, db: &TestDatabase, report: &mut Report) -> Result<()> {
    println!(
        "\n== worklist and search: {} read-model rows, {} clients, {:.1} s per side ==",
        options.rows,
        options.clients,
        options.read_run.as_secs_f64()
    );
    println!("database {}", db.name);
    let setup = fill_read_model(&db.owner_pool, options.rows).await?;
    let service_pool = pool_of(&db.app_options, SERVICE_POOL_CONNECTIONS).await?;
    let sql_pool = pool_of(&db.app_options, options.clients as u32).await?;
    let token = command_service::auth::issue_token(&service_pool, "bench", &["agent".into()], None)
        .await
        .context("issuing a token")?;
    let state = query_service::AppState::new(query_service::Settings::new(service_pool.clone()));
    let server = Server::start(query_service::app(state)).await?;
    let target = ReadTarget {
        base: server.base.clone(),
        token: token.into(),
        sql_pool: sql_pool.clone(),
    };
    println!("load before: {}", load_context(&db.owner_pool).await);
    let result = compare_reads(options, &target, &setup).await;
    server.stop().await?;
    sql_pool.close().await;
    service_pool.close().await;
    let comparisons = result?;
    let load_after = load_context(&db.owner_pool).await;
    print_reads(&comparisons);
    println!("load after: {load_after}");
    for comparison in &comparisons {
        comparison.add_checks(&mut report.checks);
    }
    report.sections.insert(
        "worklist_and_search".into(),
        json!({
            "rows": options.rows,
            "setup": setup.to_json(),
            "clients": options.clients,
            "scenarios": comparisons.iter().map(Comparison::to_json).collect::<Vec<_>>(),
            "load_after": load_after,
        }),
    );
    Ok(())
}

#[derive(Debug)]
struct ReadSetup {
    elapsed: Duration,
    open: i64,
    open_in_queue_min: i64,
    search_matches: i64,
    table_bytes: i64,
}

impl ReadSetup {
    fn to_json(&self) -> Value {
        json!({
            "seconds": self.elapsed.as_secs_f64(),
            "open_tickets": self.open,
            "open_in_smallest_queue": self.open_in_queue_min,
            "search_word": SEARCH_WORD,
            "search_matches": self.search_matches,
            "rm_tickets_bytes": self.table_bytes,
        })
    }
}

/// Writes `rows` tickets as generation 1 (in [`INSERT_PARTS`] concurrent statements), makes
/// generation 1 active with a checkpoint, and vacuums and analyses the table.
async fn fill_read_model(pool: &PgPool, rows: u64) -> Result<ReadSetup> {
    eprintln!("  writing {rows} read-model rows …");
    let started = Instant::now();
    let part = rows.div_ceil(INSERT_PARTS);
    let mut inserts = Vec::new();
    for index in 0..INSERT_PARTS {
        let (first, last) = (index * part + 1, ((index + 1) * part).min(rows));
        let pool = pool.clone();
        inserts.push(tokio::spawn(async move {
            sqlx::query(INSERT_TICKETS)
                .bind(first as i64)
                .bind(last as i64)
                .bind(rows as i64)
                .execute(&pool)
                .await
        }));
    }
    for insert in inserts {
        insert.await.context("insert task panicked")??;
    }
    sqlx::query("INSERT INTO projections (name, active_generation) VALUES ('tickets', 1)")
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO projection_checkpoints (name, generation, version, system_identifier, last_tx, last_position) \
         SELECT 'tickets', 1, $1, system_identifier, 1, $2 FROM pg_control_system()",
    )
    .bind(projector::tickets::VERSION)
    .bind(rows as i64)
    .execute(pool)
    .await?;
    // Alone: VACUUM refuses to run in a multi-statement string.
    sqlx::raw_sql("VACUUM (ANALYZE) rm_tickets")
        .execute(pool)
        .await?;
    let elapsed = started.elapsed();
    let row = sqlx::query(
        "SELECT (SELECT count(*) FROM rm_tickets WHERE is_open) AS open, \
                (SELECT min(n) FROM (SELECT count(*) AS n FROM rm_tickets WHERE is_open GROUP BY queue) q) AS open_in_queue_min, \
                (SELECT count(*) FROM rm_tickets WHERE search @@ to_tsquery('german', $1)) AS matches, \
                pg_total_relation_size('rm_tickets') AS table_bytes",
    )
    .bind(projector::search::tsquery(SEARCH_WORD))
    .fetch_one(pool)
    .await?;
    let setup = ReadSetup {
        elapsed,
        open: row.try_get("open")?,
        open_in_queue_min: row.try_get("open_in_queue_min")?,
        search_matches: row.try_get("matches")?,
        table_bytes: row.try_get("table_bytes")?,
    };
    println!(
        "read model: {rows} tickets written, vacuumed and analysed in {:.1} s; {} open \
         (smallest queue {}); {:?} in {} titles ({:.2} %); rm_tickets {:.0} MiB",
        elapsed.as_secs_f64(),
        setup.open,
        setup.open_in_queue_min,
        SEARCH_WORD,
        setup.search_matches,
        100.0 * setup.search_matches as f64 / rows as f64,
        setup.table_bytes as f64 / 1_048_576.0,
    );
    Ok(setup)
}

#[derive(Clone, Debug)]
struct ReadTarget {
    base: String,
    token: Arc<str>,
    sql_pool: PgPool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadQuery {
    Worklist,
    Search,
}

impl ReadQuery {
    fn name(self) -> &'static str {
        match self {
            ReadQuery::Worklist => "worklist (1 queue, 50, by priority)",
            ReadQuery::Search => "search (1 % word, 20 hits)",
        }
    }

    /// Rows a full answer has (the worklist reads one more to know whether a page follows).
    fn rows(self, http: bool) -> usize {
        match (self, http) {
            (ReadQuery::Worklist, true) => WORKLIST_PAGE_ROWS as usize,
            (ReadQuery::Worklist, false) => WORKLIST_PAGE_ROWS as usize + 1,
            (ReadQuery::Search, _) => SEARCH_HITS as usize,
        }
    }
}

/// One client of a read scenario.
#[derive(Debug)]
enum ReadOp {
    Http {
        client: reqwest::Client,
        target: ReadTarget,
        query: ReadQuery,
        rng: Rng,
    },
    Sql {
        target: ReadTarget,
        query: ReadQuery,
        rng: Rng,
    },
}

impl ReadOp {
    /// One request; the rows it returned.
    async fn run(&mut self) -> Result<usize, String> {
        match self {
            ReadOp::Http {
                client,
                target,
                query,
                rng,
            } => http_read(client, target, *query, rng).await,
            ReadOp::Sql { target, query, rng } => sql_read(&target.sql_pool, *query, rng)
                .await
                .map_err(|error| error.to_string()),
        }
    }
}

fn random_queue(rng: &mut Rng) -> String {
    format!("queue-{:02}", rng.below(QUEUES))
}

async fn http_read(
    client: &reqwest::Client,
    target: &ReadTarget,
    query: ReadQuery,
    rng: &mut Rng,
) -> Result<usize, String> {
    let url = match query {
        ReadQuery::Worklist => format!(
            "{}/api/v1/tickets?queue={}&limit={WORKLIST_PAGE_ROWS}",
            target.base,
            random_queue(rng)
        ),
        ReadQuery::Search => format!(
            "{}/api/v1/search?q={SEARCH_WORD}&limit={SEARCH_HITS}",
            target.base
        ),
    };
    let response = client
        .get(url)
        .bearer_auth(&target.token)
        .send()
        .await
        .map_err(|error| format!("transport: {error}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|error| format!("reading the answer: {error}"))?;
    if status.as_u16() != 200 {
        let text = String::from_utf8_lossy(&body);
        return Err(format!(
            "{status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|error| error.to_string())?;
    Ok(value["items"].as_array().map_or(0, Vec::len))
}

async fn sql_read(pool: &PgPool, query: ReadQuery, rng: &mut Rng) -> Result<usize, sqlx::Error> {
    let rows = match query {
        ReadQuery::Worklist => {
            let statuses: Vec<String> = OPEN_STATUSES.iter().map(|s| (*s).to_owned()).collect();
            sqlx::query(WORKLIST_SQL)
                .bind(statuses)
                .bind(Some(random_queue(rng)))
                .bind(None::<String>)
                .bind(false)
                .bind(None::<String>)
                .bind(Vec::<String>::new())
                .bind(None::<String>)
                .bind(Vec::<String>::new())
                .bind(0i16)
                .bind(Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap())
                .bind(Uuid::nil())
                .bind(i64::from(WORKLIST_PAGE_ROWS) + 1)
                // No queue hidden by team rights, no colleagues' tickets (an agent's view).
                .bind(Vec::<String>::new())
                .bind(None::<Vec<String>>)
                .fetch_all(pool)
                .await?
        }
        ReadQuery::Search => {
            sqlx::query(SEARCH_SQL)
                .bind(projector::search::tsquery(SEARCH_WORD))
                .bind(None::<&str>)
                .bind(true)
                .bind("bench")
                .bind(i64::from(SEARCH_HITS))
                .bind(NUMBER_MATCH_RANK)
                .bind(Vec::<String>::new())
                .bind(Vec::<String>::new())
                .fetch_all(pool)
                .await?
        }
    };
    Ok(rows.len())
}

#[derive(Debug)]
struct ReadMeasurement {
    window: Duration,
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
    short_answers: u64,
}

impl ReadMeasurement {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.window.as_secs_f64()
    }

    fn merge(parts: Vec<ReadMeasurement>) -> ReadMeasurement {
        let mut merged = ReadMeasurement {
            window: Duration::ZERO,
            latencies: Vec::new(),
            errors: 0,
            first_error: None,
            short_answers: 0,
        };
        for part in parts {
            merged.window += part.window;
            merged.latencies.extend(part.latencies);
            merged.errors += part.errors;
            merged.short_answers += part.short_answers;
            merged.first_error = merged.first_error.or(part.first_error);
        }
        merged.latencies.sort_unstable();
        merged
    }

    fn to_json(&self) -> Value {
        json!({
            "seconds": self.window.as_secs_f64(),
            "requests": self.latencies.len(),
            "requests_per_second": self.rate(),
            "p50_ms": ms(percentile(&self.latencies, 0.50)),
            "p99_ms": ms(percentile(&self.latencies, 0.99)),
            "max_ms": ms(self.latencies.last().copied().unwrap_or_default()),
            "errors": self.errors,
            "first_error": self.first_error,
            "short_answers": self.short_answers,
        })
    }
}

/// Runs every op in a task of its own, `warmup` then `run`; gives the ops back for the next
/// slice (their connections stay open).
async fn measure_reads(
    ops: Vec<ReadOp>,
    expected_rows: usize,
    warmup: Duration,
    run: Duration,
) -> Result<(ReadMeasurement, Vec<ReadOp>)> {
    let warm_until = Instant::now() + warmup;
    let end = warm_until + run;
    let tasks: Vec<_> = ops
        .into_iter()
        .map(|mut op| {
            tokio::spawn(async move {
                let mut stats = ReadMeasurement {
                    window: run,
                    latencies: Vec::new(),
                    errors: 0,
                    first_error: None,
                    short_answers: 0,
                };
                while Instant::now() < end {
                    let sent = Instant::now();
                    let result = op.run().await;
                    let done = Instant::now();
                    match result {
                        Ok(rows) if done >= warm_until && done <= end => {
                            stats.latencies.push(done - sent);
                            stats.short_answers += u64::from(rows < expected_rows);
                        }
                        Ok(_) => {}
                        Err(error) => {
                            stats.errors += 1;
                            stats.first_error.get_or_insert(error);
                        }
                    }
                }
                (stats, op)
            })
        })
        .collect();
    let mut parts = Vec::new();
    let mut ops = Vec::new();
    for task in tasks {
        let (stats, op) = task.await.context("read client panicked")?;
        parts.push(stats);
        ops.push(op);
    }
    let mut merged = ReadMeasurement::merge(parts);
    merged.window = run;
    Ok((merged, ops))
}

#[derive(Debug)]
struct Comparison {
    query: ReadQuery,
    http: ReadMeasurement,
    sql: ReadMeasurement,
}

impl Comparison {
    fn add_checks(&self, checks: &mut Vec<Check>) {
        let name = match self.query {
            ReadQuery::Worklist => "worklist",
            ReadQuery::Search => "search",
        };
        checks.push(check(
            &format!("{name} HTTP p99"),
            ms(percentile(&self.http.latencies, 0.99)),
            Unit::Milliseconds,
            Some(Target::AtMost(20.0)),
        ));
        checks.push(check(
            &format!("  {name} SQL p99 (same run)"),
            ms(percentile(&self.sql.latencies, 0.99)),
            Unit::Milliseconds,
            None,
        ));
        checks.push(check(
            &format!("{name} HTTP req/s / SQL req/s"),
            self.http.rate() / self.sql.rate(),
            Unit::Percent,
            Some(Target::AtLeast(0.50)),
        ));
    }

    fn to_json(&self) -> Value {
        json!({
            "scenario": self.query.name(),
            "http": self.http.to_json(),
            "sql": self.sql.to_json(),
            "rate_ratio": self.http.rate() / self.sql.rate(),
        })
    }
}

/// Worklist and search, each SQL and HTTP in slices S-H-H-S of half the run, so that drift in
/// the machine's load falls on both alike.
async fn compare_reads(
    options: &Options,
    target: &ReadTarget,
    setup: &ReadSetup,
) -> Result<Vec<Comparison>> {
    ensure!(
        setup.open_in_queue_min > i64::from(WORKLIST_PAGE_ROWS)
            && setup.search_matches > i64::from(SEARCH_HITS),
        "the read model is too small for full pages: {setup:?}"
    );
    let mut comparisons = Vec::new();
    for query in [ReadQuery::Worklist, ReadQuery::Search] {
        let mut http_ops = Vec::new();
        let mut sql_ops = Vec::new();
        for client in 0..options.clients {
            let seed = 7_000 + client as u64;
            http_ops.push(ReadOp::Http {
                client: http_client()?,
                target: target.clone(),
                query,
                rng: Rng::new(seed),
            });
            sql_ops.push(ReadOp::Sql {
                target: target.clone(),
                query,
                rng: Rng::new(seed),
            });
        }
        let half = options.read_run / 2;
        let mut http_parts = Vec::new();
        let mut sql_parts = Vec::new();
        for (slice, http) in [false, true, true, false].into_iter().enumerate() {
            let first_of_side = slice < 2;
            let warmup = if first_of_side {
                options.read_warmup
            } else {
                options.read_warmup / 4
            };
            let ops = std::mem::take(if http { &mut http_ops } else { &mut sql_ops });
            let (measured, ops) = measure_reads(ops, query.rows(http), warmup, half).await?;
            eprintln!(
                "  {:<38} {:<4} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
                query.name(),
                if http { "HTTP" } else { "SQL" },
                measured.rate(),
                ms(percentile(&measured.latencies, 0.50)),
                ms(percentile(&measured.latencies, 0.99)),
                measured.errors
            );
            if http {
                http_ops = ops;
                http_parts.push(measured);
            } else {
                sql_ops = ops;
                sql_parts.push(measured);
            }
        }
        comparisons.push(Comparison {
            query,
            http: ReadMeasurement::merge(http_parts),
            sql: ReadMeasurement::merge(sql_parts),
        });
    }
    Ok(comparisons)
}

fn print_reads(comparisons: &[Comparison]) {
    println!();
    println!(
        "{:<38} {:<5} {:>9} {:>8} {:>8} {:>8} {:>7} {:>6}",
        "scenario", "side", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "short"
    );
    println!("{}", "-".repeat(96));
    for comparison in comparisons {
        for (side, measured) in [("SQL", &comparison.sql), ("HTTP", &comparison.http)] {
            println!(
                "{:<38} {:<5} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>6}",
                comparison.query.name(),
                side,
                measured.rate(),
                ms(percentile(&measured.latencies, 0.50)),
                ms(percentile(&measured.latencies, 0.99)),
                ms(measured.latencies.last().copied().unwrap_or_default()),
                measured.errors,
                measured.short_answers,
            );
            if let Some(error) = &measured.first_error {
                println!("  first error: {error}");
            }
        }
    }
}
