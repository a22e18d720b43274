//! Audit benchmark (issue 8; DESIGN §7 and §8): a ticket as of a past moment, and the
//! verification of the whole store, each beside the physical limit measured in the same run.
//!
//! ```text
//! cargo bench --bench audit                      # full run: 1,000,000 events verified
//! cargo bench --bench audit -- --quick           # smoke run: 100,000 events, 50 iterations
//! cargo bench --bench audit -- --only verify     # one section (as-of or verify); repeatable
//! cargo bench --bench audit -- --help            # every option
//! ```
//!
//! It needs the PostgreSQL of the README's quick start and finds it like the tests do
//! (`ITSM_DATABASE__OWNER_URL` / `ITSM_DATABASE__URL`, else the checkout's `itsm.toml`). Each
//! section runs in a fresh database of its own, dropped at the end.
//!
//! Sections:
//! - **as-of** (target ≤ 10 ms): one ticket is opened and worked through the command service's
//!   own code (`TicketService::execute`: decide, encrypt personal data, append) until it has
//!   1,000 events — assign, replies, notes and requester messages, start work, pending,
//!   priority, fields and tags in a cycle, so the fold does real work. Then, interleaved per
//!   iteration (200 after 20 of warm-up): `projector::as_of::events_until` (read, decrypt,
//!   upcast, decode) followed by `projector::as_of::replay` with `as_of` = the last event's
//!   `recorded_at`, once with a fresh `PersonalDataVault` (cold: the subject key is read and
//!   unwrapped) and once with a vault kept across iterations (warm). The physical limit:
//!   `event_store::read_stream` of the same 1,000 rows alone (and, to split it, the same
//!   statement's rows fetched without decoding them).
//! - **verify** (target ≥ 100,000 events/s): 1,000,000 events (50,000 ticket streams × 20:
//!   opened, assigned, seven articles, priority, tags, fields, link, pending, resolve, close)
//!   are encoded like the command service does (`codec::encode`: personal data encrypted for one
//!   of 1,000 requesters), hash-chained with `event_store::hash::event_hash` and inserted by the
//!   owner with `INSERT … SELECT * FROM unnest(…)` of 10,000 rows: 2,000 streams at a time,
//!   their versions 1–5, 6–10, … in four transactions, each in version order, so streams
//!   interleave in cursor order and every stream's versions follow each other in it. Then
//!   `VACUUM (ANALYZE) events` (what autovacuum would have done), one signed checkpoint with
//!   `audit::write_checkpoint` (the checkpointer's rate), and `audit::verify_store` with the
//!   installation's public key, which must find every event and no problem. The physical
//!   limit, before and after: all events through `event_store::read_after` in batches of
//!   10,000 without hashing, and a raw `SELECT count(*), sum(length(payload::text))` scan.
//!   A profile pass then splits the verifier's work per batch: the SQL fetch, decoding rows
//!   into `RecordedEvent`s (a copy of `event-store/src/read.rs`), the canonical bytes alone,
//!   the full hash recomputation over the events already in memory, and the walk (stream
//!   heads and running root).
//!
//! Output: tables on stdout (progress on stderr) and `target/bench/audit.json`. Latencies are
//! per iteration, sorted and read at nearest rank.

mod support;

use support::{
    cores, fresh_database, given_or, load_context, mean, ms, number_arg, per_second, percentile,
    pool_of, print_summary, read_pass, remove, write_report, Pass, SummaryColumns, SummaryRow,
    Target,
};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use command_service::auth::Actor;
use command_service::codec;
use command_service::metrics::Metrics;
use command_service::tickets::{CommandOutcome, CommandRequest, TicketService};
use domain::ticket::{NewTicket, TicketCommand, TicketEvent, TicketId, TicketPolicy};
use event_store::audit::{self, CheckpointKey};
use event_store::crypto::{DataSubject, MasterKey, PersonalDataVault};
use event_store::hash::{canonical_bytes, event_hash, hash_input, HashInput, GENESIS};
use event_store::testing::TestDatabase;
use event_store::{Cursor, Metadata, RecordedEvent};
use serde_json::{json, Value};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

const USAGE: &str = "\
usage: cargo bench --bench audit [-- OPTIONS]
  --quick              smoke run: 100,000 events verified, 50 as-of iterations
  --only SECTION       as-of or verify; repeatable (default: both)
  --events N           events filled and verified, a multiple of 20 (default 1000000)
  --iterations N       timed as-of iterations per variant (default 200)
  --ticket-events N    events of the as-of ticket (default 1000)";

/// Target of issue 8: a ticket with 1,000 events as of a past moment.
const AS_OF_TARGET_MS: f64 = 10.0;
/// Target of issue 8: verification rate.
const VERIFY_TARGET_EVENTS_PER_SECOND: f64 = 100_000.0;
/// Events of one generated ticket stream of the verify section.
const EVENTS_PER_STREAM: u64 = 20;
/// Streams generated and inserted together.
const STREAMS_PER_GROUP: u64 = 2_000;
/// Versions of a group's streams inserted in one statement (one transaction).
const VERSIONS_PER_INSERT: u64 = 5;
/// Generated groups waiting for the inserter.
const GROUPS_IN_FLIGHT: usize = 2;
/// Requesters (data subjects) of the generated streams.
const REQUESTERS: u64 = 1_000;
const AGENTS: u64 = 300;
const QUEUES: u64 = 40;
/// Events per read in the limit and profile passes: the verifier's batch.
const READ_BATCH: u32 = audit::BATCH;
/// Connections of the benchmark's application-role pool (every step runs on one at a time).
const APP_POOL_CONNECTIONS: u32 = 4;
/// Bound on waiting for the gap-free horizon to pass the filled events.
const HORIZON_WAIT_MAX: Duration = Duration::from_secs(120);
/// How often long setup steps report progress.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);
/// Commands tried on the as-of ticket beyond its events before giving up.
const FILL_COMMANDS_EXTRA_MAX: u64 = 100;

const LEVELS: [&str; 4] = ["low", "medium", "high", "critical"];
/// The default priority matrix, `[impact][urgency]` from low to critical (`domain::ticket::priority`).
const PRIORITY_MATRIX: [[&str; 4]; 4] = [
    ["very_low", "low", "low", "medium"],
    ["low", "medium", "medium", "high"],
    ["low", "medium", "high", "critical"],
    ["medium", "high", "critical", "critical"],
];
const THINGS: [&str; 8] = [
    "Drucker",
    "Bildschirm",
    "Laptop",
    "Netzwerk",
    "Postfach",
    "Telefon",
    "Scanner",
    "Anmeldung",
];
const REPLY: &str = "Guten Tag, wir haben den Fehler nachgestellt und den Treiber auf Ihrem \
    Arbeitsplatz aktualisiert. Bitte starten Sie das Gerät neu und melden Sie sich, falls das \
    Problem weiterhin besteht. Viele Grüße, Ihr Service-Desk";
const NOTE: &str = "Interne Notiz: Treiberversion 4.2 prüfen, Ersatzgerät liegt im Lager bereit. \
    Rückfrage beim Hersteller läuft, Ticketnummer dort HD-88231.";
const REQUESTER_MESSAGE: &str = "Danke für die schnelle Rückmeldung. Der Fehler tritt leider \
    weiterhin auf, vor allem morgens nach dem Anmelden.";

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let Some(options) = Options::parse(std::env::args().skip(1))? else {
        return Ok(());
    };
    let started = Instant::now();
    let mut report = Report::default();
    println!(
        "audit benchmark{}: sections {:?}; {} cores",
        if options.quick { " (quick)" } else { "" },
        options.sections,
        cores(),
    );
    if options.runs(Section::AsOf) {
        let db = fresh_database().await;
        let result = as_of_section(&options, &db, &mut report).await;
        remove(db).await;
        result?;
    }
    if options.runs(Section::Verify) {
        let db = fresh_database().await;
        let result = verify_section(&options, &db, &mut report).await;
        remove(db).await;
        result?;
    }
    println!();
    print_summary(&report.checks, SUMMARY_COLUMNS);
    println!("\ntotal run time {:.1} s", started.elapsed().as_secs_f64());
    write_json(&options, &report, started.elapsed())
}

// ---------------------------------------------------------------------------------------------
// Options.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    AsOf,
    Verify,
}

#[derive(Debug)]
struct Options {
    quick: bool,
    sections: Vec<Section>,
    events: u64,
    iterations: usize,
    warmup_iterations: usize,
    ticket_events: u64,
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
                "--events" | "--iterations" | "--ticket-events" => {
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
            sections = vec![Section::AsOf, Section::Verify];
        }
        let number = |name: &str, full: f64, smoke: f64| {
            given_or(&numbers, name, if quick { smoke } else { full })
        };
        let options = Options {
            quick,
            sections,
            events: number("--events", 1_000_000.0, 100_000.0) as u64,
            iterations: number("--iterations", 200.0, 50.0) as usize,
            warmup_iterations: if quick { 10 } else { 20 },
            ticket_events: number("--ticket-events", 1_000.0, 1_000.0) as u64,
        };
        options.check()?;
        Ok(Some(options))
    }

    fn check(&self) -> Result<()> {
        ensure!(
            self.events >= EVENTS_PER_STREAM && self.events % EVENTS_PER_STREAM == 0,
            "--events must be a positive multiple of {EVENTS_PER_STREAM}"
        );
        ensure!(
            self.events <= 20_000_000,
            "--events must be at most 20,000,000"
        );
        ensure!(
            (1..=100_000).contains(&self.iterations),
            "--iterations must be 1 to 100,000"
        );
        ensure!(
            (2..=20_000).contains(&self.ticket_events),
            "--ticket-events must be 2 to 20,000"
        );
        Ok(())
    }

    fn runs(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }

    fn streams(&self) -> u64 {
        self.events / EVENTS_PER_STREAM
    }
}

fn section_arg(value: Option<String>) -> Result<Section> {
    match value.as_deref() {
        Some("as-of") => Ok(Section::AsOf),
        Some("verify") => Ok(Section::Verify),
        other => bail!("--only needs as-of or verify, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces: pools, a small random generator, percentiles, the load on the machine.

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

    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(
            ((u128::from(self.next()) << 64) | u128::from(self.next())).to_be_bytes(),
        )
        .into_uuid()
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
    Milliseconds,
    PerSecond,
    Ratio,
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
    name: 50,
    value: 12,
    target: 12,
    rule: 86,
};

impl Check {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name.trim(),
            "value": self.value,
            "unit": match self.unit {
                Unit::Milliseconds => "ms",
                Unit::PerSecond => "per_second",
                Unit::Ratio => "ratio",
            },
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
            Unit::Milliseconds => format!("{value:.2} ms"),
            Unit::PerSecond => format!("{value:.0}/s"),
            Unit::Ratio => format!("{:.1} %", value * 100.0),
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
        "iterations": options.iterations,
        "warmup_iterations": options.warmup_iterations,
        "ticket_events": options.ticket_events,
        "read_batch": READ_BATCH,
    });
    write_report(
        "audit",
        settings,
        &report.sections,
        report.checks.iter().map(Check::to_json).collect(),
        run_time,
    )
}

// ---------------------------------------------------------------------------------------------
// Section 1: a ticket with 1,000 events as of its last event, against reading its rows.

async fn as_of_section(options: &Options, db: &TestDatabase, report: &mut Report) -> Result<()> {
    println!(
        "\n== as-of: one ticket with {} events, {} iterations per variant after {} of warm-up ==",
        options.ticket_events, options.iterations, options.warmup_iterations
    );
    let master_key = MasterKey::generate();
    let pool = pool_of(&db.app_options, APP_POOL_CONNECTIONS).await?;
    master_key.check_against(&pool).await?;
    let service = TicketService::new(
        pool.clone(),
        PersonalDataVault::new(&master_key),
        TicketPolicy::default(),
        Arc::new(Metrics::default()),
    );
    let filled = fill_ticket(&service, options.ticket_events).await?;
    let stored = event_store::read_stream(&pool, filled.ticket.as_uuid()).await?;
    ensure!(
        stored.len() as u64 == options.ticket_events,
        "the ticket has {} events, expected {}",
        stored.len(),
        options.ticket_events
    );
    let as_of = stored.last().context("no events")?.recorded_at;
    let mix = event_mix(&stored);
    let payload_bytes_avg = stored
        .iter()
        .map(|event| event.payload.to_string().len())
        .sum::<usize>() as f64
        / stored.len() as f64;
    println!(
        "filled through TicketService::execute in {:.1} s ({} commands); payload {payload_bytes_avg:.0} \
         bytes as JSON on average; events: {}",
        filled.elapsed.as_secs_f64(),
        filled.commands,
        mix.iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("load before: {}", load_context(&pool).await);
    let target = AsOfTarget {
        pool: &pool,
        master_key: &master_key,
        ticket: filled.ticket.as_uuid(),
        as_of,
        events: options.ticket_events,
    };
    let measured = measure_as_of(options, &target).await?;
    let load_after = load_context(&pool).await;
    pool.close().await;
    measured.print(options.ticket_events);
    println!("load after: {load_after}");
    measured.add_checks(&mut report.checks);
    report.sections.insert(
        "as_of".into(),
        json!({
            "ticket_events": options.ticket_events,
            "fill_seconds": filled.elapsed.as_secs_f64(),
            "fill_commands": filled.commands,
            "event_mix": mix,
            "payload_json_bytes_avg": payload_bytes_avg,
            "iterations": options.iterations,
            "warmup_iterations": options.warmup_iterations,
            "sql_rows_only": latency_json(&measured.rows.total),
            "read_stream": latency_json(&measured.read_stream.total),
            "cold_vault": measured.cold.to_json(),
            "warm_vault": measured.warm.to_json(),
            "load_after": load_after,
        }),
    );
    Ok(())
}

#[derive(Debug)]
struct FilledTicket {
    ticket: TicketId,
    commands: u64,
    elapsed: Duration,
}

/// Opens a ticket and works it until it has `events` events, one command per event.
async fn fill_ticket(service: &TicketService, events: u64) -> Result<FilledTicket> {
    eprintln!("  filling one ticket to {events} events …");
    let started = Instant::now();
    let ticket = TicketId::new(Uuid::new_v4());
    let number = service
        .next_ticket_number()
        .await
        .map_err(|error| anyhow!("ticket number: {error}"))?;
    let new_ticket: NewTicket = serde_json::from_value(json!({
        "type": "incident",
        "title": "Drucker im 2. OG druckt nicht",
        "description": "Seit heute früh kommt nichts mehr aus dem Drucker im 2. OG. Betroffen \
                        sind alle Arbeitsplätze der Buchhaltung, bitte zeitnah prüfen.",
        "requester": {"name": "Erika Mustermann", "email": "erika.mustermann@example.org",
                      "phone": "+49 30 1234567", "user_id": "u4711"},
        "impact": "medium", "urgency": "high", "service_id": "service-17",
        "category_id": "hardware", "queue": "first-level", "tags": ["drucker"],
        "channel": "portal",
    }))?;
    let command = TicketCommand::Open {
        id: ticket,
        number,
        ticket: new_ticket,
    };
    let mut version = execute(service, ticket, command, 0).await?.version;
    let mut commands = 1;
    while version < events {
        ensure!(
            commands < events + FILL_COMMANDS_EXTRA_MAX,
            "the ticket did not reach {events} events"
        );
        let step = commands - 1;
        let command: TicketCommand = serde_json::from_value(ticket_step(step))
            .with_context(|| format!("step {step} does not parse"))?;
        let outcome = execute(service, ticket, command, step).await?;
        ensure!(
            outcome.events_appended == 1,
            "step {step} ({}) appended {} events",
            ticket_step(step),
            outcome.events_appended
        );
        version = outcome.version;
        commands += 1;
    }
    Ok(FilledTicket {
        ticket,
        commands,
        elapsed: started.elapsed(),
    })
}

async fn execute(
    service: &TicketService,
    ticket: TicketId,
    command: TicketCommand,
    step: u64,
) -> Result<CommandOutcome> {
    let name = command.name();
    service
        .execute(CommandRequest {
            ticket,
            command,
            actor: Actor {
                user: format!("agent{}", step % 3),
                roles: vec!["agent".to_owned()],
            },
            expected_version: None,
            idempotency_key: None,
            correlation_id: Uuid::new_v4(),
            origin: "api".to_owned(),
            scope: None,
        })
        .await
        .map_err(|error| anyhow!("{name} (step {step}) failed: {error}"))
}

/// Command `step` of the cycle that works the as-of ticket; each appends one event
/// (the status moves new/in progress → assigned → in progress → pending → in progress).
fn ticket_step(step: u64) -> Value {
    let cycle = step / 12;
    let agent = format!("agent{}", cycle % 7);
    match step % 12 {
        0 => {
            json!({"type": "assign", "assignee": agent, "queue": format!("queue-{:02}", cycle % QUEUES)})
        }
        1 | 8 => json!({"type": "add_reply", "body": REPLY, "channel": "email"}),
        2 | 9 => json!({"type": "start_work"}),
        3 | 10 => json!({"type": "add_note", "body": NOTE, "channel": "agent_ui"}),
        4 => json!({"type": "set_priority", "impact": LEVELS[(cycle % 4) as usize],
                     "urgency": LEVELS[(cycle / 4 % 4) as usize]}),
        5 => json!({"type": "set_fields", "fields": {"affected_users": cycle + 1,
                     "cost_centre": format!("KST-{}", 4711 + cycle % 5)}}),
        6 => {
            json!({"type": "add_requester_message", "body": REQUESTER_MESSAGE, "channel": "email"})
        }
        7 => json!({"type": "set_pending", "reason": "waiting_for_requester"}),
        _ => json!({"type": "set_tags", "tags": ["drucker", format!("welle-{cycle}")]}),
    }
}

fn event_mix(events: &[RecordedEvent]) -> BTreeMap<String, u64> {
    let mut mix = BTreeMap::new();
    for event in events {
        let name = event.event_type.trim_start_matches("ticket.").to_owned();
        *mix.entry(name).or_insert(0) += 1;
    }
    mix
}

#[derive(Debug)]
struct AsOfTarget<'a> {
    pool: &'a PgPool,
    master_key: &'a MasterKey,
    ticket: Uuid,
    as_of: DateTime<Utc>,
    events: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AsOfVariant {
    Rows,
    ReadStream,
    Cold,
    Warm,
}

/// Latencies of one variant: the whole, and (for as-of) its two steps.
#[derive(Debug, Default)]
struct Timings {
    total: Vec<Duration>,
    events_until: Vec<Duration>,
    replay: Vec<Duration>,
}

impl Timings {
    fn push(&mut self, sample: (Duration, Duration)) {
        self.events_until.push(sample.0);
        self.replay.push(sample.1);
        self.total.push(sample.0 + sample.1);
    }

    fn sort(&mut self) {
        self.total.sort_unstable();
        self.events_until.sort_unstable();
        self.replay.sort_unstable();
    }

    fn to_json(&self) -> Value {
        json!({
            "total": latency_json(&self.total),
            "events_until": latency_json(&self.events_until),
            "replay": latency_json(&self.replay),
        })
    }
}

fn latency_json(sorted: &[Duration]) -> Value {
    json!({
        "count": sorted.len(),
        "p50_ms": ms(percentile(sorted, 0.50)),
        "p99_ms": ms(percentile(sorted, 0.99)),
        "mean_ms": ms(mean(sorted)),
        "max_ms": ms(sorted.last().copied().unwrap_or_default()),
    })
}

#[derive(Debug)]
struct AsOfMeasured {
    rows: Timings,
    read_stream: Timings,
    cold: Timings,
    warm: Timings,
}

/// Warm-up, then `options.iterations` rounds of the four variants, rotated per round so that
/// drift in the machine's load falls on all alike.
async fn measure_as_of(options: &Options, target: &AsOfTarget<'_>) -> Result<AsOfMeasured> {
    let warm_vault = PersonalDataVault::new(target.master_key);
    let variants = [
        AsOfVariant::Rows,
        AsOfVariant::ReadStream,
        AsOfVariant::Cold,
        AsOfVariant::Warm,
    ];
    eprintln!("  as-of iterations …");
    for _ in 0..options.warmup_iterations {
        for variant in variants {
            run_variant(target, variant, &warm_vault).await?;
        }
    }
    let mut measured = AsOfMeasured {
        rows: Timings::default(),
        read_stream: Timings::default(),
        cold: Timings::default(),
        warm: Timings::default(),
    };
    for iteration in 0..options.iterations {
        for offset in 0..variants.len() {
            let variant = variants[(iteration + offset) % variants.len()];
            let sample = run_variant(target, variant, &warm_vault).await?;
            match variant {
                AsOfVariant::Rows => measured.rows.push(sample),
                AsOfVariant::ReadStream => measured.read_stream.push(sample),
                AsOfVariant::Cold => measured.cold.push(sample),
                AsOfVariant::Warm => measured.warm.push(sample),
            }
        }
    }
    measured.rows.sort();
    measured.read_stream.sort();
    measured.cold.sort();
    measured.warm.sort();
    Ok(measured)
}

/// `event_store::read_stream`'s statement (`event-store/src/read.rs`); keep in step.
const READ_STREAM_SQL: &str = "\
SELECT global_position, transaction_id::text::bigint AS transaction_id, event_id, stream_type,
    stream_id, stream_version, event_type, event_version, payload, actor, occurred_at, origin,
    correlation_id, causation_id, command_id, recorded_at, previous_hash, hash
FROM events WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version";

/// One timed run: (reading, folding); the reads alone have no fold.
async fn run_variant(
    target: &AsOfTarget<'_>,
    variant: AsOfVariant,
    warm_vault: &PersonalDataVault,
) -> Result<(Duration, Duration)> {
    if variant == AsOfVariant::Rows {
        let started = Instant::now();
        let rows = sqlx::query(READ_STREAM_SQL)
            .bind(target.ticket)
            .bind(0i64)
            .fetch_all(target.pool)
            .await?;
        let elapsed = started.elapsed();
        ensure!(rows.len() as u64 == target.events, "the rows were short");
        return Ok((elapsed, Duration::ZERO));
    }
    if variant == AsOfVariant::ReadStream {
        let started = Instant::now();
        let events = event_store::read_stream(target.pool, target.ticket).await?;
        let elapsed = started.elapsed();
        ensure!(
            events.len() as u64 == target.events,
            "read_stream was short"
        );
        return Ok((elapsed, Duration::ZERO));
    }
    let cold_vault;
    let vault = if variant == AsOfVariant::Cold {
        cold_vault = PersonalDataVault::new(target.master_key);
        &cold_vault
    } else {
        warm_vault
    };
    let started = Instant::now();
    let events =
        projector::as_of::events_until(target.pool, vault, target.ticket, Some(target.as_of))
            .await?;
    let read = started.elapsed();
    let state = projector::as_of::replay(&events, |_| {})?;
    let total = started.elapsed();
    let state = state.context("no state")?;
    ensure!(
        state.row.version == target.events as i64,
        "as-of state at version {}, expected {}",
        state.row.version,
        target.events
    );
    Ok((read, total - read))
}

impl AsOfMeasured {
    fn print(&self, events: u64) {
        println!();
        println!(
            "{:<50} {:>8} {:>8} {:>8} {:>8} {:>6}",
            format!("ticket with {events} events"),
            "p50 ms",
            "p99 ms",
            "mean ms",
            "max ms",
            "count"
        );
        println!("{}", "-".repeat(94));
        let line = |name: &str, sorted: &[Duration]| {
            println!(
                "{:<50} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>6}",
                name,
                ms(percentile(sorted, 0.50)),
                ms(percentile(sorted, 0.99)),
                ms(mean(sorted)),
                ms(sorted.last().copied().unwrap_or_default()),
                sorted.len()
            );
        };
        line(
            "SQL rows only, not decoded (same statement)",
            &self.rows.total,
        );
        line(
            "read_stream alone (physical limit)",
            &self.read_stream.total,
        );
        for (name, timings) in [("cold vault", &self.cold), ("warm vault", &self.warm)] {
            line(
                &format!("as-of, {name}: events_until + replay"),
                &timings.total,
            );
            line(
                "  of which events_until (read, decrypt, decode)",
                &timings.events_until,
            );
            line("  of which replay (fold)", &timings.replay);
        }
        println!(
            "as-of p50 / read_stream p50: cold {:.1}×, warm {:.1}×",
            self.ratio_to_limit(&self.cold),
            self.ratio_to_limit(&self.warm)
        );
    }

    fn ratio_to_limit(&self, timings: &Timings) -> f64 {
        percentile(&timings.total, 0.50).as_secs_f64()
            / percentile(&self.read_stream.total, 0.50)
                .as_secs_f64()
                .max(1e-9)
    }

    fn add_checks(&self, checks: &mut Vec<Check>) {
        for (name, timings) in [("cold vault", &self.cold), ("warm vault", &self.warm)] {
            checks.push(check(
                &format!("as-of 1,000-event ticket p50, {name}"),
                ms(percentile(&timings.total, 0.50)),
                Unit::Milliseconds,
                Some(Target::AtMost(AS_OF_TARGET_MS)),
            ));
            checks.push(check(
                &format!("as-of 1,000-event ticket p99, {name}"),
                ms(percentile(&timings.total, 0.99)),
                Unit::Milliseconds,
                Some(Target::AtMost(AS_OF_TARGET_MS)),
            ));
        }
        checks.push(check(
            "  read_stream p50 (limit, same run)",
            ms(percentile(&self.read_stream.total, 0.50)),
            Unit::Milliseconds,
            None,
        ));
        checks.push(check(
            "  read_stream p99 (limit, same run)",
            ms(percentile(&self.read_stream.total, 0.99)),
            Unit::Milliseconds,
            None,
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Section 2: verification of the whole store, against reading it.

async fn verify_section(options: &Options, db: &TestDatabase, report: &mut Report) -> Result<()> {
    println!(
        "\n== verify: {} events ({} streams × {EVENTS_PER_STREAM}) ==",
        options.events,
        options.streams()
    );
    let postgres: String = sqlx::query_scalar(
        "SELECT current_setting('server_version') || ', shared_buffers=' || current_setting('shared_buffers')",
    )
    .fetch_one(&db.owner_pool)
    .await?;
    println!("PostgreSQL {postgres}; database {}", db.name);
    let master_key = MasterKey::generate();
    let app_pool = pool_of(&db.app_options, APP_POOL_CONNECTIONS).await?;
    master_key.check_against(&app_pool).await?;
    let result = verify_in(options, db, &app_pool, &master_key, report).await;
    app_pool.close().await;
    result
}

async fn verify_in(
    options: &Options,
    db: &TestDatabase,
    app_pool: &PgPool,
    master_key: &MasterKey,
    report: &mut Report,
) -> Result<()> {
    let filled = fill_store(options, &db.owner_pool, app_pool, master_key).await?;
    let vacuum_started = Instant::now();
    sqlx::raw_sql("VACUUM (ANALYZE) events")
        .execute(&db.owner_pool)
        .await?;
    let vacuum = vacuum_started.elapsed();
    wait_for_horizon(app_pool).await?;
    let stored = StoredEvents::measure(&db.owner_pool, options.events).await?;
    println!(
        "filled {} events in {:.1} s ({:.0} events/s: generate, encrypt, hash, insert), vacuumed in \
         {:.1} s; {} insert statements; payload {:.0} bytes as JSON text on average; events table \
         {:.0} MiB with indexes",
        options.events,
        filled.elapsed.as_secs_f64(),
        per_second(options.events, filled.elapsed),
        vacuum.as_secs_f64(),
        filled.statements,
        stored.payload_bytes_avg,
        stored.table_bytes as f64 / 1_048_576.0,
    );
    println!("load before: {}", load_context(app_pool).await);

    let scan_before = raw_scan(app_pool).await?;
    let read_before = read_pass(app_pool, READ_BATCH).await?;
    let key = CheckpointKey::derive(master_key);
    let checkpointed = write_checkpoints(app_pool, &key).await?;
    let verified = verify(app_pool, &key, options.events).await?;
    let profile = profile_pass(app_pool).await?;
    let read_after = read_pass(app_pool, READ_BATCH).await?;
    let scan_after = raw_scan(app_pool).await?;
    let load_after = load_context(app_pool).await;

    let measured = VerifyMeasured {
        events: options.events,
        scan_before,
        scan_after,
        read_before,
        read_after,
        checkpointed,
        verified,
        profile,
    };
    for (name, count) in [
        ("raw scan (before)", measured.scan_before.events),
        ("raw scan (after)", measured.scan_after.events),
        ("read_after (before)", measured.read_before.events),
        ("read_after (after)", measured.read_after.events),
        ("profile pass", measured.profile.events),
    ] {
        ensure!(
            count == options.events,
            "{name} saw {count} events, expected {}",
            options.events
        );
    }
    measured.print();
    println!("load after: {load_after}");
    measured.add_checks(&mut report.checks);
    let mut section = measured.to_json();
    section["fill_seconds"] = json!(filled.elapsed.as_secs_f64());
    section["insert_statements"] = json!(filled.statements);
    section["vacuum_seconds"] = json!(vacuum.as_secs_f64());
    section["payload_json_bytes_avg"] = json!(stored.payload_bytes_avg);
    section["events_table_bytes"] = json!(stored.table_bytes);
    section["load_after"] = load_after;
    report.sections.insert("verify".into(), section);
    Ok(())
}

// --- Filling the store.

#[derive(Debug)]
struct Filled {
    statements: u64,
    elapsed: Duration,
}

/// One insert statement's rows, column by column, in the order they are inserted.
#[derive(Debug, Default)]
struct Columns {
    event_id: Vec<Uuid>,
    stream_type: Vec<String>,
    stream_id: Vec<Uuid>,
    stream_version: Vec<i64>,
    event_type: Vec<String>,
    event_version: Vec<i32>,
    payload: Vec<Value>,
    actor: Vec<String>,
    occurred_at: Vec<DateTime<Utc>>,
    origin: Vec<String>,
    correlation_id: Vec<Uuid>,
    causation_id: Vec<Uuid>,
    command_id: Vec<Uuid>,
    previous_hash: Vec<[u8; 32]>,
    hash: Vec<[u8; 32]>,
}

/// A generated event with its chain, before it is stored.
#[derive(Debug)]
struct Generated {
    event_id: Uuid,
    stream_id: Uuid,
    version: u64,
    event_type: String,
    event_version: u32,
    payload: Value,
    metadata: Metadata,
    previous_hash: [u8; 32],
    hash: [u8; 32],
}

impl Columns {
    fn push(&mut self, event: &Generated) {
        self.event_id.push(event.event_id);
        self.stream_type.push(codec::STREAM_TYPE.to_owned());
        self.stream_id.push(event.stream_id);
        self.stream_version.push(event.version as i64);
        self.event_type.push(event.event_type.clone());
        self.event_version.push(event.event_version as i32);
        self.payload.push(event.payload.clone());
        self.actor.push(event.metadata.actor.clone());
        self.occurred_at.push(event.metadata.occurred_at);
        self.origin.push(event.metadata.origin.clone());
        self.correlation_id.push(event.metadata.correlation_id);
        self.causation_id.push(event.metadata.causation_id);
        self.command_id.push(event.metadata.command_id);
        self.previous_hash.push(event.previous_hash);
        self.hash.push(event.hash);
    }

    fn len(&self) -> usize {
        self.event_id.len()
    }
}

const INSERT_SQL: &str = "\
INSERT INTO events (event_id, stream_type, stream_id, stream_version, event_type, event_version,
    payload, actor, occurred_at, origin, correlation_id, causation_id, command_id,
    previous_hash, hash)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::bigint[], $5::text[], $6::int[],
    $7::jsonb[], $8::text[], $9::timestamptz[], $10::text[], $11::uuid[], $12::uuid[],
    $13::uuid[], $14::bytea[], $15::bytea[])";

async fn insert(pool: &PgPool, columns: Columns) -> Result<u64> {
    let rows = columns.len() as u64;
    let done = sqlx::query(INSERT_SQL)
        .bind(columns.event_id)
        .bind(columns.stream_type)
        .bind(columns.stream_id)
        .bind(columns.stream_version)
        .bind(columns.event_type)
        .bind(columns.event_version)
        .bind(columns.payload)
        .bind(columns.actor)
        .bind(columns.occurred_at)
        .bind(columns.origin)
        .bind(columns.correlation_id)
        .bind(columns.causation_id)
        .bind(columns.command_id)
        .bind(columns.previous_hash)
        .bind(columns.hash)
        .execute(pool)
        .await?;
    ensure!(
        done.rows_affected() == rows,
        "inserted {} rows of {rows}",
        done.rows_affected()
    );
    Ok(rows)
}

/// Generates the streams on a thread of its own (one core) while this task inserts them
/// (PostgreSQL on the other core).
async fn fill_store(
    options: &Options,
    owner_pool: &PgPool,
    app_pool: &PgPool,
    master_key: &MasterKey,
) -> Result<Filled> {
    let vault = Arc::new(PersonalDataVault::new(master_key));
    let mut subjects = Vec::with_capacity(REQUESTERS as usize);
    for requester in 0..REQUESTERS {
        subjects.push(
            vault
                .subject_for(app_pool, &format!("user:u{requester}"))
                .await?,
        );
    }
    eprintln!("  filling {} events …", options.events);
    let started = Instant::now();
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<Columns>>(GROUPS_IN_FLIGHT);
    let streams = options.streams();
    let generator = std::thread::spawn(move || generate_groups(streams, &vault, &subjects, sender));
    let mut statements = 0;
    let mut inserted = 0;
    let mut last_report = Instant::now();
    let mut failure = None;
    while let Some(group) = receiver.recv().await {
        for columns in group {
            match insert(owner_pool, columns).await {
                Ok(rows) => inserted += rows,
                Err(error) => failure = Some(error),
            }
            statements += 1;
        }
        if failure.is_some() {
            break;
        }
        if last_report.elapsed() >= PROGRESS_INTERVAL {
            last_report = Instant::now();
            eprintln!(
                "  filled {inserted} of {} events ({:.0}/s)",
                options.events,
                per_second(inserted, started.elapsed())
            );
        }
    }
    drop(receiver);
    let generated = generator
        .join()
        .map_err(|_| anyhow!("the generator panicked"))?;
    if let Some(error) = failure {
        return Err(error);
    }
    generated?;
    ensure!(
        inserted == options.events,
        "inserted {inserted} events of {}",
        options.events
    );
    Ok(Filled {
        statements,
        elapsed: started.elapsed(),
    })
}

/// Generates groups of [`STREAMS_PER_GROUP`] streams, each as [`VERSIONS_PER_INSERT`]-version
/// slices in version order; stops early when the inserter is gone.
fn generate_groups(
    streams: u64,
    vault: &PersonalDataVault,
    subjects: &[DataSubject],
    sender: tokio::sync::mpsc::Sender<Vec<Columns>>,
) -> Result<()> {
    let ids: Vec<Uuid> = {
        let mut rng = Rng::new(streams);
        (0..streams).map(|_| rng.uuid()).collect()
    };
    let mut rng = Rng::new(7);
    let mut first = 0;
    while first < streams {
        let last = (first + STREAMS_PER_GROUP).min(streams);
        let mut group = Vec::with_capacity((last - first) as usize);
        for index in first..last {
            let stream = StreamPlan::new(index, streams, &ids);
            let subject = &subjects[(index.wrapping_mul(7_919) % REQUESTERS) as usize];
            group.push(stream.generate(vault, subject, &mut rng)?);
        }
        if sender.blocking_send(slices(&group)).is_err() {
            return Ok(());
        }
        first = last;
    }
    Ok(())
}

/// A group's events as insert statements: versions 1–5 of every stream, then 6–10, …; within a
/// statement in version order, so each stream's versions follow each other in cursor order.
fn slices(group: &[Vec<Generated>]) -> Vec<Columns> {
    let mut statements = Vec::new();
    let mut first_version = 1;
    while first_version <= EVENTS_PER_STREAM {
        let last_version = (first_version + VERSIONS_PER_INSERT - 1).min(EVENTS_PER_STREAM);
        let mut columns = Columns::default();
        for version in first_version..=last_version {
            for stream in group {
                columns.push(&stream[(version - 1) as usize]);
            }
        }
        statements.push(columns);
        first_version = last_version + 1;
    }
    statements
}

/// One generated ticket stream: who, when, and the twenty events of its lifecycle.
#[derive(Debug)]
struct StreamPlan {
    index: u64,
    streams: u64,
    id: Uuid,
    link_target: Uuid,
    opened_at: DateTime<Utc>,
}

impl StreamPlan {
    fn new(index: u64, streams: u64, ids: &[Uuid]) -> StreamPlan {
        // Spread over the five years before 2026 (DESIGN §8: 1,000,000 tickets in five years).
        let span_seconds = 5 * 365 * 86_400;
        let opened_at = Utc.with_ymd_and_hms(2021, 1, 1, 8, 0, 0).unwrap()
            + chrono::Duration::seconds((index * span_seconds / streams) as i64);
        StreamPlan {
            index,
            streams,
            id: ids[index as usize],
            link_target: ids[((index + streams - 1) % streams) as usize],
            opened_at,
        }
    }

    fn user(&self) -> String {
        format!("u{}", self.index.wrapping_mul(7_919) % REQUESTERS)
    }

    /// Numbers of the years 2021–2025, unique per stream.
    fn number(&self) -> String {
        let per_year = self.streams.div_ceil(5);
        format!(
            "{:04}-{:06}",
            2021 + self.index / per_year,
            self.index % per_year + 1
        )
    }

    /// Encodes the events as the command service does and chains them.
    fn generate(
        &self,
        vault: &PersonalDataVault,
        subject: &DataSubject,
        rng: &mut Rng,
    ) -> Result<Vec<Generated>> {
        let events = self.events()?;
        let encoded = codec::encode(&events, vault, Some(subject))?;
        let mut previous_hash = GENESIS;
        let mut generated = Vec::with_capacity(encoded.len());
        for (offset, (event, new)) in events.iter().zip(encoded).enumerate() {
            let version = offset as u64 + 1;
            let metadata = self.metadata(event, version, rng);
            let hash = event_hash(
                &previous_hash,
                &HashInput {
                    event_id: new.event_id,
                    stream_type: codec::STREAM_TYPE,
                    stream_id: self.id,
                    stream_version: version,
                    event_type: &new.event_type,
                    event_version: new.event_version,
                    payload: &new.payload,
                    metadata: &metadata,
                },
            );
            generated.push(Generated {
                event_id: new.event_id,
                stream_id: self.id,
                version,
                event_type: new.event_type,
                event_version: new.event_version,
                payload: new.payload,
                metadata,
                previous_hash,
                hash,
            });
            previous_hash = hash;
        }
        Ok(generated)
    }

    /// Metadata as one command per event writes it: requesters through the portal or e-mail,
    /// agents through the API, a few hours apart.
    fn metadata(&self, event: &TicketEvent, version: u64, rng: &mut Rng) -> Metadata {
        let from_requester = match event {
            TicketEvent::Opened { .. } => true,
            TicketEvent::ArticleAdded { kind, .. } => {
                serde_json::to_value(kind).ok() == Some(json!("requester_message"))
            }
            _ => false,
        };
        let (actor, origin) = if from_requester {
            (self.user(), if version == 1 { "portal" } else { "email" })
        } else {
            (
                format!("agent{}", (self.index + version / 8) % AGENTS),
                "api",
            )
        };
        let command_id = rng.uuid();
        Metadata::new(
            actor,
            self.opened_at + chrono::Duration::minutes(97 * (version as i64 - 1)),
            origin.to_owned(),
            rng.uuid(),
            command_id,
            command_id,
        )
    }

    fn events(&self) -> Result<Vec<TicketEvent>> {
        let values = self.values();
        ensure!(values.len() as u64 == EVENTS_PER_STREAM);
        values
            .into_iter()
            .map(|value| {
                serde_json::from_value(value.clone())
                    .with_context(|| format!("generated event does not parse: {value}"))
            })
            .collect()
    }

    fn values(&self) -> Vec<Value> {
        let i = self.index as usize;
        let (impact, urgency) = (i % 4, (i / 4) % 4);
        let thing = THINGS[i % THINGS.len()];
        let title = format!("{thing} fällt ständig aus");
        let user = self.user();
        let first = format!("agent{}", self.index % AGENTS);
        let second = format!("agent{}", (self.index + 1) % AGENTS);
        let queue = format!("queue-{:02}", self.index % QUEUES);
        let article = |id: u32, kind: &str, channel: &str, body: &str| {
            json!({"event_type": "ticket.article_added", "article_id": id, "kind": kind,
                   "channel": channel, "body": body, "attachments": []})
        };
        vec![
            json!({
                "event_type": "ticket.opened", "id": self.id, "number": self.number(),
                "ticket_type": if i % 3 == 0 { "service_request" } else { "incident" },
                "title": title,
                "description": format!("Seit heute früh: {title}. Betroffen ist Arbeitsplatz {}, \
                                        bitte zeitnah prüfen.", i % 5_000),
                "requester": {"name": format!("Erika Mustermann {user}"),
                              "email": format!("{user}@example.org"), "phone": "+49 30 1234567",
                              "user_id": user},
                "service_id": format!("service-{}", i % 250), "category_id": "hardware",
                "impact": LEVELS[impact], "urgency": LEVELS[urgency],
                "priority": PRIORITY_MATRIX[impact][urgency],
                "queue": queue, "tags": [thing.to_lowercase()], "fields": {}, "channel": "portal",
            }),
            json!({"event_type": "ticket.assigned", "assignee": first, "queue": queue,
                   "previous_assignee": null}),
            article(1, "public_reply", "email", REPLY),
            json!({"event_type": "ticket.work_started", "from": "assigned"}),
            article(2, "internal_note", "agent_ui", NOTE),
            json!({"event_type": "ticket.priority_changed", "impact": "high", "urgency": LEVELS[urgency],
                   "priority": PRIORITY_MATRIX[2][urgency], "previous": PRIORITY_MATRIX[impact][urgency]}),
            json!({"event_type": "ticket.tags_changed", "tags": ["hardware", "og-2"]}),
            article(3, "requester_message", "email", REQUESTER_MESSAGE),
            json!({"event_type": "ticket.linked", "link_type": "relates_to", "target": self.link_target}),
            article(4, "public_reply", "email", REPLY),
            json!({"event_type": "ticket.pending_set", "reason": "waiting_for_requester", "until": null}),
            article(
                5,
                "requester_message",
                "portal",
                "Ich habe das Gerät neu gestartet, jetzt funktioniert es wieder.",
            ),
            json!({"event_type": "ticket.work_started", "from": "pending"}),
            json!({"event_type": "ticket.fields_changed", "set": {"affected_users": 1 + i % 30, "cost_centre": "4711"}, "removed": []}),
            article(
                6,
                "internal_note",
                "agent_ui",
                "Ursache: veralteter Treiber. Rollout der neuen Version angestoßen.",
            ),
            json!({"event_type": "ticket.assigned", "assignee": second,
                   "queue": format!("queue-{:02}", (self.index + 1) % QUEUES), "previous_assignee": first}),
            article(7, "public_reply", "email", REPLY),
            json!({"event_type": "ticket.resolved", "code": "fixed",
                   "text": "Treiber aktualisiert, Testseite gedruckt, Anwenderin bestätigt.",
                   "resolved_at": self.opened_at + chrono::Duration::days(2)}),
            article(
                8,
                "requester_message",
                "email",
                "Vielen Dank, alles funktioniert.",
            ),
            json!({"event_type": "ticket.closed"}),
        ]
    }
}

/// Waits until every filled transaction is below the gap-free horizon (another database's
/// long transaction could hold it back), so the readers see every event.
async fn wait_for_horizon(pool: &PgPool) -> Result<()> {
    let deadline = Instant::now() + HORIZON_WAIT_MAX;
    loop {
        let passed: bool = sqlx::query_scalar(
            "SELECT COALESCE((SELECT transaction_id FROM events ORDER BY transaction_id DESC LIMIT 1) \
                             < pg_snapshot_xmin(pg_current_snapshot()), true)",
        )
        .fetch_one(pool)
        .await?;
        if passed {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the gap-free horizon did not pass the filled events within {} s",
            HORIZON_WAIT_MAX.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
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

// --- The measured passes.

/// PostgreSQL alone: one sequential scan that touches every payload.
async fn raw_scan(pool: &PgPool) -> Result<Pass> {
    eprintln!("  raw scan …");
    let started = Instant::now();
    let row = sqlx::query(
        "SELECT count(*) AS events, sum(length(payload::text))::bigint AS bytes FROM events",
    )
    .fetch_one(pool)
    .await?;
    let elapsed = started.elapsed();
    let events: i64 = row.try_get("events")?;
    Ok(Pass {
        events: events as u64,
        elapsed,
    })
}

#[derive(Debug)]
struct Checkpointed {
    pass: Pass,
    checkpoints: u64,
}

/// The checkpointer: signed checkpoints until nothing is left to cover.
async fn write_checkpoints(pool: &PgPool, key: &CheckpointKey) -> Result<Checkpointed> {
    eprintln!("  writing checkpoints …");
    let started = Instant::now();
    let mut checkpoints = 0;
    let mut events = 0;
    while let Some(checkpoint) = audit::write_checkpoint(pool, key, Utc::now()).await? {
        checkpoints += 1;
        events = checkpoint.event_count as u64;
    }
    Ok(Checkpointed {
        pass: Pass {
            events,
            elapsed: started.elapsed(),
        },
        checkpoints,
    })
}

#[derive(Debug)]
struct Verified {
    pass: Pass,
    report: audit::VerifyReport,
}

async fn verify(pool: &PgPool, key: &CheckpointKey, expected: u64) -> Result<Verified> {
    eprintln!("  verifying …");
    let public_key = key.public_key();
    let started = Instant::now();
    let report = audit::verify_store(pool, Some(&public_key), |_| {}).await?;
    let elapsed = started.elapsed();
    ensure!(
        report.events == expected && report.intact(),
        "verification found {} events (expected {expected}) and {} problems, first: {:?}",
        report.events,
        report.problem_count,
        report.problems.first()
    );
    ensure!(
        report.unanchored_events == 0 && report.checkpoints >= 1,
        "verification left {} events unanchored ({} checkpoints)",
        report.unanchored_events,
        report.checkpoints
    );
    Ok(Verified {
        pass: Pass {
            events: report.events,
            elapsed,
        },
        report,
    })
}

/// `event_store::read_after`'s statement (`event-store/src/read.rs`); keep in step.
const READ_AFTER_SQL: &str = "\
SELECT global_position, transaction_id::text::bigint AS transaction_id, event_id, stream_type,
    stream_id, stream_version, event_type, event_version, payload, actor, occurred_at, origin,
    correlation_id, causation_id, command_id, recorded_at, previous_hash, hash
FROM events
WHERE (transaction_id, global_position) > (($1::bigint)::text::xid8, $2)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY events.transaction_id, events.global_position LIMIT $3";

/// `decode` of `event-store/src/read.rs`; keep in step.
fn decode(row: &PgRow) -> Result<RecordedEvent> {
    let hash = |column: &str| -> Result<[u8; 32]> {
        let bytes: Vec<u8> = row.try_get(column)?;
        bytes
            .try_into()
            .map_err(|_| anyhow!("{column} is not 32 bytes"))
    };
    Ok(RecordedEvent {
        global_position: row.try_get("global_position")?,
        transaction_id: row.try_get("transaction_id")?,
        event_id: row.try_get("event_id")?,
        stream_type: row.try_get("stream_type")?,
        stream_id: row.try_get("stream_id")?,
        stream_version: row.try_get::<i64, _>("stream_version")? as u64,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get::<i32, _>("event_version")? as u32,
        payload: row.try_get("payload")?,
        metadata: Metadata {
            actor: row.try_get("actor")?,
            occurred_at: row.try_get("occurred_at")?,
            origin: row.try_get("origin")?,
            correlation_id: row.try_get("correlation_id")?,
            causation_id: row.try_get("causation_id")?,
            command_id: row.try_get("command_id")?,
        },
        recorded_at: row.try_get("recorded_at")?,
        previous_hash: hash("previous_hash")?,
        hash: hash("hash")?,
    })
}

/// Where one verification pass spends its time, step by step per batch.
#[derive(Debug, Default)]
struct Profile {
    events: u64,
    fetch: Duration,
    decode: Duration,
    canonical: Duration,
    hash: Duration,
    walk: Duration,
    canonical_bytes: u64,
    mismatches: u64,
}

impl Profile {
    fn total(&self) -> Duration {
        self.fetch + self.decode + self.hash + self.walk
    }
}

/// The verifier's work split up: fetch the rows, decode them, then over the events in memory
/// the canonical bytes alone, the full hash recomputation, and the walk (heads and root).
async fn profile_pass(pool: &PgPool) -> Result<Profile> {
    eprintln!("  profile pass …");
    let mut profile = Profile::default();
    let mut heads: HashMap<Uuid, (u64, [u8; 32])> = HashMap::new();
    let mut root = audit::ROOT_GENESIS;
    let mut cursor = Cursor::START;
    loop {
        let started = Instant::now();
        let rows = sqlx::query(READ_AFTER_SQL)
            .bind(cursor.transaction_id)
            .bind(cursor.global_position)
            .bind(i64::from(READ_BATCH))
            .fetch_all(pool)
            .await?;
        let fetched = Instant::now();
        let events = rows.iter().map(decode).collect::<Result<Vec<_>>>()?;
        drop(rows);
        let decoded = Instant::now();
        let Some(last) = events.last() else { break };
        cursor = last.cursor();
        for event in &events {
            profile.canonical_bytes += canonical_bytes(&hash_input(event)).len() as u64;
        }
        let canonical = Instant::now();
        for event in &events {
            let recomputed = event_hash(&event.previous_hash, &hash_input(event));
            profile.mismatches += u64::from(recomputed != event.hash);
        }
        let hashed = Instant::now();
        for event in &events {
            heads.insert(event.stream_id, (event.stream_version, event.hash));
            root = audit::fold_root(&root, &event.hash);
        }
        let walked = Instant::now();
        profile.fetch += fetched - started;
        profile.decode += decoded - fetched;
        profile.canonical += canonical - decoded;
        profile.hash += hashed - canonical;
        profile.walk += walked - hashed;
        profile.events += events.len() as u64;
    }
    ensure!(
        profile.mismatches == 0,
        "{} recomputed hashes differ",
        profile.mismatches
    );
    Ok(profile)
}

#[derive(Debug)]
struct VerifyMeasured {
    events: u64,
    scan_before: Pass,
    scan_after: Pass,
    read_before: Pass,
    read_after: Pass,
    checkpointed: Checkpointed,
    verified: Verified,
    profile: Profile,
}

impl VerifyMeasured {
    /// The limit: the mean rate of the `read_after` passes before and after.
    fn read_rate(&self) -> f64 {
        (self.read_before.rate() + self.read_after.rate()) / 2.0
    }

    fn scan_rate(&self) -> f64 {
        (self.scan_before.rate() + self.scan_after.rate()) / 2.0
    }

    fn print(&self) {
        println!();
        println!(
            "{:<54} {:>10} {:>9} {:>12} {:>10}",
            format!("{} events", self.events),
            "events",
            "seconds",
            "events/s",
            "/ read"
        );
        println!("{}", "-".repeat(99));
        let read_rate = self.read_rate();
        let line = |name: &str, pass: &Pass| {
            println!(
                "{:<54} {:>10} {:>9.2} {:>12.0} {:>9.1} %",
                name,
                pass.events,
                pass.elapsed.as_secs_f64(),
                pass.rate(),
                100.0 * pass.rate() / read_rate
            );
        };
        line(
            "raw scan: count(*), sum(length(payload::text)) (before)",
            &self.scan_before,
        );
        line(
            "read_after, batches of 10,000, no hashing (before)",
            &self.read_before,
        );
        line(
            "audit::write_checkpoint (checkpointer)",
            &self.checkpointed.pass,
        );
        line("audit::verify_store", &self.verified.pass);
        line(
            "read_after, batches of 10,000, no hashing (after)",
            &self.read_after,
        );
        line(
            "raw scan: count(*), sum(length(payload::text)) (after)",
            &self.scan_after,
        );
        let report = &self.verified.report;
        println!(
            "verify_store: {} events, {} streams, {} checkpoint(s) ({} written), {} unanchored, {} \
             problems; read_after mean {:.0} events/s, raw scan mean {:.0} events/s",
            report.events,
            report.streams,
            report.checkpoints,
            self.checkpointed.checkpoints,
            report.unanchored_events,
            report.problem_count,
            read_rate,
            self.scan_rate(),
        );
        self.print_profile();
    }

    fn print_profile(&self) {
        let profile = &self.profile;
        let total = profile.total().as_secs_f64();
        println!();
        println!(
            "{:<54} {:>9} {:>10} {:>8}",
            "profile: one verification pass, split per batch", "seconds", "µs/event", "share"
        );
        println!("{}", "-".repeat(86));
        let line = |name: &str, elapsed: Duration| {
            println!(
                "{:<54} {:>9.2} {:>10.2} {:>7.1} %",
                name,
                elapsed.as_secs_f64(),
                1e6 * elapsed.as_secs_f64() / profile.events.max(1) as f64,
                100.0 * elapsed.as_secs_f64() / total
            );
        };
        line("SQL fetch (PostgreSQL, wire, sqlx rows)", profile.fetch);
        line(
            "decode rows into RecordedEvent (jsonb → Value, …)",
            profile.decode,
        );
        line("event_hash over events in memory (all of it)", profile.hash);
        line(
            "  of which canonical bytes (hash::canonical_bytes)",
            profile.canonical,
        );
        line(
            "  of which SHA-256 (the rest)",
            profile.hash.saturating_sub(profile.canonical),
        );
        line("walk: stream heads and running root", profile.walk);
        line("sum (fetch + decode + hash + walk)", profile.total());
        let reading = profile.fetch + profile.decode;
        let computing = profile.hash + profile.walk;
        println!(
            "canonical bytes {:.0} per event on average; hashing alone {:.0} events/s; reading \
             alone {:.0} events/s; if the next batch were fetched while one is hashed: ≤ {:.0} events/s",
            profile.canonical_bytes as f64 / profile.events.max(1) as f64,
            per_second(profile.events, computing),
            per_second(profile.events, reading),
            per_second(profile.events, reading.max(computing)),
        );
    }

    fn add_checks(&self, checks: &mut Vec<Check>) {
        checks.push(check(
            "verify_store events/s",
            self.verified.pass.rate(),
            Unit::PerSecond,
            Some(Target::AtLeast(VERIFY_TARGET_EVENTS_PER_SECOND)),
        ));
        checks.push(check(
            "  read_after events/s (limit, same run)",
            self.read_rate(),
            Unit::PerSecond,
            None,
        ));
        checks.push(check(
            "  raw scan events/s (same run)",
            self.scan_rate(),
            Unit::PerSecond,
            None,
        ));
        checks.push(check(
            "verify_store / read_after",
            self.verified.pass.rate() / self.read_rate(),
            Unit::Ratio,
            None,
        ));
        checks.push(check(
            "write_checkpoint events/s",
            self.checkpointed.pass.rate(),
            Unit::PerSecond,
            None,
        ));
    }

    fn to_json(&self) -> Value {
        let profile = &self.profile;
        let seconds = |elapsed: Duration| elapsed.as_secs_f64();
        json!({
            "events": self.events,
            "raw_scan_before": self.scan_before.to_json(),
            "raw_scan_after": self.scan_after.to_json(),
            "read_after_before": self.read_before.to_json(),
            "read_after_after": self.read_after.to_json(),
            "read_after_events_per_second_mean": self.read_rate(),
            "raw_scan_events_per_second_mean": self.scan_rate(),
            "write_checkpoint": self.checkpointed.pass.to_json(),
            "checkpoints_written": self.checkpointed.checkpoints,
            "verify_store": self.verified.pass.to_json(),
            "verify_report": {
                "events": self.verified.report.events,
                "streams": self.verified.report.streams,
                "checkpoints": self.verified.report.checkpoints,
                "unanchored_events": self.verified.report.unanchored_events,
                "problem_count": self.verified.report.problem_count,
            },
            "verify_over_read_after": self.verified.pass.rate() / self.read_rate(),
            "profile_seconds": {
                "fetch": seconds(profile.fetch),
                "decode": seconds(profile.decode),
                "hash": seconds(profile.hash),
                "canonical_bytes_only": seconds(profile.canonical),
                "walk": seconds(profile.walk),
            },
            "canonical_bytes_per_event": profile.canonical_bytes as f64 / profile.events.max(1) as f64,
        })
    }
}
