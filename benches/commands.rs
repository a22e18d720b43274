//! Command API benchmark (issue 2 §5; DESIGN §5 and §8).
//!
//! ```text
//! cargo bench --bench commands                  # full run: 10 s per scenario after 1 s warm-up, ≈ 2½ min
//! cargo bench --bench commands -- --quick       # smoke run: 2 s per scenario after 0.5 s warm-up
//! cargo bench --bench commands -- --seconds 5   # options: --seconds N, --warmup N, --long-events N
//! ```
//!
//! It needs the PostgreSQL of the README's quick start and finds it like the tests do
//! (`ITSM_DATABASE__OWNER_URL` / `ITSM_DATABASE__URL`, else the checkout's `itsm.toml`). It creates a
//! fresh database of its own, serves the command API in this process on `127.0.0.1:<port 0>` and
//! sends real HTTP with one keep-alive `reqwest` client per client task. Every loop stops by time.
//!
//! Scenarios, each with 1, 4 and 16 concurrent clients (run interleaved per client count, so that
//! the ratios compare figures taken at the same moment on the same machine):
//! - **raw INSERT**: the physical limit — single-row `INSERT INTO events` autocommit transactions of
//!   the same event (a copy of a stored `add_note` event: encrypted body, 32-byte hashes, metadata)
//!   straight through sqlx on the owner pool, one stream per client;
//! - **distinct tickets**: each client sends `add_note` (≈ 200-byte body, no `If-Match`) to a ticket of
//!   its own;
//! - **hot ticket**: all clients send `add_note` to one ticket without `If-Match`; every command must
//!   succeed, and the ticket's final version must equal 1 + the commands that succeeded.
//!
//! Then the **long stream**: one ticket is filled to 10,000 events through the API (16 clients; the
//! setup time is reported); the app is restarted (new `AppState`, empty cache) and the first
//! command on that ticket is timed (the cold case); then 1 client on it is compared with 1 client
//! on a new ticket, in interleaved slices (A-B-B-A-A-B-B-A). The long ticket keeps growing while it
//! is measured (10,000 events and more), which only makes the comparison stricter.
//!
//! Output: tables on stdout (progress on stderr) and `target/bench/commands.json`. Throughput counts
//! commands completed inside the measured window; latency is per HTTP request (or per INSERT), as
//! seen by the client, sorted and read at nearest rank. The database is dropped at the end.

mod support;

use support::{http_client, load_context, ms, write_document, Server};

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use chrono::Utc;
use event_store::crypto::MasterKey;
use event_store::testing::TestDatabase;
use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use uuid::Uuid;

const USAGE: &str = "\
usage: cargo bench --bench commands [-- OPTIONS]
  --quick            short smoke run (--seconds 2 --warmup 0.5)
  --seconds N        measured seconds per scenario run (default 10)
  --warmup N         warm-up seconds before each run, not counted (default 1)
  --long-events N    events on the long-stream ticket (default 10000)";

const CLIENT_COUNTS: [usize; 3] = [1, 4, 16];
/// Connections of the service's pool (more than the most clients, so none waits for one).
const APP_POOL_CONNECTIONS: u32 = 32;
/// Clients that fill the long-stream ticket.
const FILL_CLIENTS: usize = 16;
/// Bound on filling the long-stream ticket.
const FILL_TIME_MAX: Duration = Duration::from_secs(300);
/// Warm-up of the later slices of the long-stream comparison (a new connection; the cache is warm).
const SLICE_WARMUP: Duration = Duration::from_millis(200);
/// Commands timed after the cold one, for the warm figure beside it.
const WARM_SAMPLES: usize = 20;

/// `add_note` with a 215-byte body (the text is personal data, so it is stored encrypted).
const NOTE_COMMAND: &str = r#"{"type":"add_note","body":"Rückmeldung vom Drucker-Team: Der Drucker im 2. OG wurde neu gestartet, die Druckwarteschlange geleert und der Treiber auf allen Arbeitsplätzen aktualisiert. Bitte erneut drucken und das Ergebnis hier kurz melden."}"#;
const OPEN_TICKET: &str = r#"{"type":"incident","title":"Drucker im 2. OG druckt nicht","description":"Seit heute früh kommt nichts mehr aus dem Drucker im 2. OG.","requester":{"name":"Erika Mustermann","email":"erika@example.org"},"impact":"medium","urgency":"high"}"#;

const RAW_INSERT_SQL: &str = "\
INSERT INTO events (event_id, stream_type, stream_id, stream_version, event_type, event_version,
                    payload, actor, occurred_at, origin, correlation_id, causation_id, command_id,
                    previous_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let Some(options) = Options::parse(std::env::args().skip(1))? else {
        return Ok(());
    };
    let started = Instant::now();
    eprintln!("creating a fresh database …");
    let db = TestDatabase::create().await;
    db.app_pool.close().await;
    let result = run(&options, &db, started).await;
    let name = db.name.clone();
    if let Err(error) = db.remove().await {
        eprintln!("warning: could not drop database {name}: {error:#}");
    }
    result?;
    println!("\ntotal run time {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

#[derive(Debug)]
struct Options {
    run: Duration,
    warmup: Duration,
    long_events: u64,
    quick: bool,
}

impl Options {
    /// The options, or `None` after printing the usage.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Options>> {
        let mut quick = false;
        let (mut seconds, mut warmup, mut long_events) = (None, None, None);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                // `cargo bench` passes `--bench` to every `harness = false` target.
                "--bench" => {}
                "--quick" => quick = true,
                "--seconds" => seconds = Some(seconds_arg(&mut args, "--seconds")?),
                "--warmup" => warmup = Some(seconds_arg(&mut args, "--warmup")?),
                "--long-events" => {
                    let text = args.next().context("--long-events needs a number")?;
                    let events: u64 = text.parse().context("--long-events needs a number")?;
                    ensure!(events >= 2, "--long-events must be at least 2");
                    long_events = Some(events);
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    return Ok(None);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        let (run_default, warmup_default) = if quick { (2.0, 0.5) } else { (10.0, 1.0) };
        Ok(Some(Options {
            run: Duration::from_secs_f64(seconds.unwrap_or(run_default)),
            warmup: Duration::from_secs_f64(warmup.unwrap_or(warmup_default)),
            long_events: long_events.unwrap_or(10_000),
            quick,
        }))
    }
}

fn seconds_arg(args: &mut impl Iterator<Item = String>, name: &str) -> Result<f64> {
    let text = args
        .next()
        .with_context(|| format!("{name} needs seconds"))?;
    let seconds: f64 = text
        .parse()
        .with_context(|| format!("{name} needs seconds, got {text:?}"))?;
    ensure!(
        seconds.is_finite() && (0.0..=600.0).contains(&seconds),
        "{name} must be between 0 and 600"
    );
    Ok(seconds)
}

async fn run(options: &Options, db: &TestDatabase, started: Instant) -> Result<()> {
    let app_pool = PgPoolOptions::new()
        .max_connections(APP_POOL_CONNECTIONS)
        .connect_with(db.app_options.clone())
        .await
        .context("connecting the service's pool")?;
    let master_key = MasterKey::generate();
    let server = start_server(&app_pool, &master_key).await?;
    let token = command_service::auth::issue_token(&app_pool, "bench", &["agent".into()], None)
        .await
        .context("issuing a token")?;
    let api = Api {
        base: server.base.clone(),
        token: token.into(),
    };
    let postgres: String = sqlx::query_scalar(
        "SELECT current_setting('server_version') || ', synchronous_commit=' || current_setting('synchronous_commit')",
    )
    .fetch_one(&db.owner_pool)
    .await?;
    let cores = std::thread::available_parallelism().map_or(0, |cores| cores.get());
    let load_before = load_context(&db.owner_pool).await;
    println!(
        "commands benchmark{}: {:.1} s measured after {:.1} s warm-up per run; clients {CLIENT_COUNTS:?}; \
         {cores} cores; PostgreSQL {postgres}; database {}",
        if options.quick { " (quick)" } else { "" },
        options.run.as_secs_f64(),
        options.warmup.as_secs_f64(),
        db.name,
    );
    println!("load before: {load_before}");

    // Tickets of their own for the distinct-ticket clients, and the event the raw inserts copy.
    let setup_client = http_client()?;
    let mut distinct = Vec::new();
    for _ in 0..CLIENT_COUNTS[CLIENT_COUNTS.len() - 1] {
        distinct.push(api.open_ticket(&setup_client).await?);
    }
    post_note(&setup_client, &api.note_url(distinct[0]), &api.token)
        .await
        .map_err(|error| anyhow!("first add_note failed: {error}"))?;
    let template = Arc::new(RawEvent::copy_of(&db.owner_pool, distinct[0], 2).await?);
    println!(
        "event: {} v{}, payload {} bytes as JSON text ({} bytes stored), note body {} bytes",
        template.event_type,
        template.event_version,
        template.payload_text_bytes,
        template.payload_stored_bytes,
        note_body_bytes(),
    );

    let mut raw = Vec::new();
    let mut http = Vec::new();
    let mut hot = Vec::new();
    let mut hot_checks = Vec::new();
    for clients in CLIENT_COUNTS {
        let ops = (0..clients)
            .map(|_| Op::Insert {
                pool: db.owner_pool.clone(),
                stream_id: Uuid::new_v4(),
                version: 0,
                template: template.clone(),
            })
            .collect();
        raw.push(measure("raw INSERT, 1 event/tx", ops, options).await?);

        let ops = distinct[..clients]
            .iter()
            .map(|&ticket| api.note_op(ticket))
            .collect::<Result<_>>()?;
        http.push(measure("HTTP distinct tickets", ops, options).await?);

        let ticket = api.open_ticket(&setup_client).await?;
        let ops = (0..clients)
            .map(|_| api.note_op(ticket))
            .collect::<Result<_>>()?;
        let measured = measure("HTTP hot ticket", ops, options).await?;
        let version = stream_version(&db.owner_pool, ticket).await?;
        let expected = 1 + measured.ok_total as i64;
        hot_checks.push(json!({
            "clients": clients,
            "ticket": ticket,
            "final_version": version,
            "expected_version": expected,
            "consistent": version == expected,
        }));
        if version != expected {
            eprintln!(
                "SUSPICIOUS: hot ticket {ticket} has version {version}, expected {expected} \
                 (1 open + {} successful add_note)",
                measured.ok_total
            );
        }
        hot.push(measured);
    }

    drop(setup_client);
    let filled = fill_long_ticket(options, &api, &db.owner_pool).await?;
    // Restart: a new AppState has no cached tickets or keys. Tokens live in the database.
    server.stop().await?;
    let server = start_server(&app_pool, &master_key).await?;
    let api = Api {
        base: server.base.clone(),
        token: api.token.clone(),
    };
    let cold = cold_first_command(&api, filled.ticket, &db.owner_pool).await?;
    let (new, long) = compare_with_new(options, &api, filled.ticket).await?;
    server.stop().await?;
    app_pool.close().await;

    // Report.
    let mut scenarios: Vec<&Measurement> = Vec::new();
    scenarios.extend(raw.iter());
    scenarios.extend(http.iter());
    scenarios.extend(hot.iter());
    scenarios.push(&new);
    scenarios.push(&long);
    println!();
    print_table(&scenarios);

    let last = CLIENT_COUNTS.len() - 1;
    let mut summary = Vec::new();
    for (index, clients) in CLIENT_COUNTS.iter().enumerate() {
        summary.push(Ratio {
            name: format!("HTTP distinct@{clients} / raw INSERT@{clients}"),
            value: http[index].rate() / raw[index].rate(),
            target: (index == last).then_some(Target::AtLeast(0.30)),
        });
    }
    for (index, clients) in CLIENT_COUNTS.iter().enumerate() {
        summary.push(Ratio {
            name: format!("hot@{clients} / distinct@{clients}"),
            value: hot[index].rate() / http[index].rate(),
            target: (index == last).then_some(Target::AtLeast(0.25)),
        });
    }
    summary.push(Ratio {
        name: "long stream slowdown vs new, by cmds/s".into(),
        value: new.rate() / long.rate() - 1.0,
        target: Some(Target::AtMost(0.20)),
    });
    summary.push(Ratio {
        name: "long stream slowdown vs new, by p50".into(),
        value: long.percentile(0.50).as_secs_f64() / new.percentile(0.50).as_secs_f64() - 1.0,
        target: None,
    });
    summary.push(Ratio {
        name: "long stream slowdown vs new, by p99".into(),
        value: long.percentile(0.99).as_secs_f64() / new.percentile(0.99).as_secs_f64() - 1.0,
        target: None,
    });
    println!();
    print_summary(&summary);
    println!(
        "\nlong-stream setup: {} events through the API with {FILL_CLIENTS} clients on one ticket in {:.1} s \
         ({:.0} commands/s, {} errors)",
        options.long_events,
        filled.setup.as_secs_f64(),
        (options.long_events - 1) as f64 / filled.setup.as_secs_f64(),
        filled.errors,
    );
    println!(
        "cold start: first command on the {}-event ticket after a restart (empty cache) {:.2} ms; \
         the next {WARM_SAMPLES} commands p50 {:.2} ms, max {:.2} ms",
        cold.stream_events,
        ms(cold.first),
        ms(cold.warm_p50),
        ms(cold.warm_max),
    );
    let load_after = load_context(&db.owner_pool).await;
    println!("load after: {load_after}");
    let errors: u64 = scenarios.iter().map(|measured| measured.errors).sum();
    for measured in scenarios.iter().filter(|measured| measured.errors > 0) {
        println!(
            "ERRORS in {} @{}: {} (first: {})",
            measured.scenario,
            measured.clients,
            measured.errors,
            measured.first_error.as_deref().unwrap_or("?")
        );
    }
    if errors == 0 {
        println!(
            "errors: none (every command answered 200; hot-ticket versions consistent: {})",
            hot_checks.iter().all(|check| check["consistent"] == true)
        );
    }

    let report = json!({
        "benchmark": "commands",
        "recorded_at": Utc::now(),
        "machine": { "cores": cores, "postgres": postgres },
        "load_before": load_before,
        "load_after": load_after,
        "settings": {
            "quick": options.quick,
            "measured_seconds": options.run.as_secs_f64(),
            "warmup_seconds": options.warmup.as_secs_f64(),
            "client_counts": CLIENT_COUNTS,
            "app_pool_connections": APP_POOL_CONNECTIONS,
            "long_events": options.long_events,
        },
        "event": {
            "type": template.event_type,
            "version": template.event_version,
            "payload_json_bytes": template.payload_text_bytes,
            "payload_stored_bytes": template.payload_stored_bytes,
            "note_body_bytes": note_body_bytes(),
        },
        "scenarios": scenarios.iter().map(|measured| measured.to_json()).collect::<Vec<_>>(),
        "hot_ticket_checks": hot_checks,
        "long_stream": {
            "events": options.long_events,
            "setup_seconds": filled.setup.as_secs_f64(),
            "setup_clients": FILL_CLIENTS,
            "setup_errors": filled.errors,
            "new": new.to_json(),
            "long": long.to_json(),
            "cold_first_command_ms": ms(cold.first),
            "cold_stream_events": cold.stream_events,
            "warm_after_cold_p50_ms": ms(cold.warm_p50),
            "warm_after_cold_max_ms": ms(cold.warm_max),
        },
        "summary": summary.iter().map(Ratio::to_json).collect::<Vec<_>>(),
        "errors": errors,
        "run_seconds": started.elapsed().as_secs_f64(),
    });
    write_document("commands", &report)
}

// ---------------------------------------------------------------------------------------------
// The service under test.

/// The command API with a new `AppState` (empty caches) on `127.0.0.1:<free port>`.
async fn start_server(pool: &PgPool, master_key: &MasterKey) -> Result<Server> {
    let state = command_service::AppState::new(command_service::Settings {
        pool: pool.clone(),
        master_key: master_key.clone(),
        policy: domain::ticket::TicketPolicy::default(),
        body_bytes_max: command_service::BODY_BYTES_MAX_DEFAULT,
    });
    Server::start(command_service::app(state)).await
}

#[derive(Clone, Debug)]
struct Api {
    base: String,
    token: Arc<str>,
}

impl Api {
    async fn open_ticket(&self, client: &reqwest::Client) -> Result<Uuid> {
        let response = client
            .post(format!("{}/api/v1/tickets", self.base))
            .bearer_auth(&self.token)
            .header(CONTENT_TYPE, "application/json")
            .body(OPEN_TICKET)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        ensure!(status.as_u16() == 201, "opening a ticket: {status} {body}");
        let id = body["id"].as_str().context("no id in the answer")?;
        Ok(id.parse()?)
    }

    fn note_url(&self, ticket: Uuid) -> String {
        format!("{}/api/v1/tickets/{ticket}/commands", self.base)
    }

    /// A client of its own sending `add_note` to `ticket`.
    fn note_op(&self, ticket: Uuid) -> Result<Op> {
        Ok(Op::Note {
            client: http_client()?,
            url: self.note_url(ticket),
            token: self.token.clone(),
        })
    }
}

/// Sends one `add_note`; `Err` with status and body unless the answer is `200`.
async fn post_note(client: &reqwest::Client, url: &str, token: &str) -> Result<(), String> {
    let response = client
        .post(url)
        .bearer_auth(token)
        .header(CONTENT_TYPE, "application/json")
        .body(NOTE_COMMAND)
        .send()
        .await
        .map_err(|error| format!("transport: {error}"))?;
    let status = response.status();
    // Reading the body to its end keeps the connection for the next request.
    let body = response
        .bytes()
        .await
        .map_err(|error| format!("reading the answer: {error}"))?;
    if status.as_u16() == 200 {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&body);
        Err(format!(
            "{status}: {}",
            text.chars().take(300).collect::<String>()
        ))
    }
}

fn note_body_bytes() -> usize {
    let command: Value = serde_json::from_str(NOTE_COMMAND).expect("valid JSON");
    command["body"].as_str().map_or(0, str::len)
}

// ---------------------------------------------------------------------------------------------
// The raw PostgreSQL limit.

/// A stored `add_note` event whose columns the raw inserts copy.
#[derive(Debug)]
struct RawEvent {
    event_type: String,
    event_version: i32,
    payload: Value,
    actor: String,
    origin: String,
    payload_text_bytes: i32,
    payload_stored_bytes: i32,
}

impl RawEvent {
    async fn copy_of(pool: &PgPool, stream_id: Uuid, version: i64) -> Result<RawEvent> {
        let row = sqlx::query(
            "SELECT event_type, event_version, payload, actor, origin, \
                    octet_length(payload::text) AS text_bytes, pg_column_size(payload) AS stored_bytes \
             FROM events WHERE stream_id = $1 AND stream_version = $2",
        )
        .bind(stream_id)
        .bind(version)
        .fetch_one(pool)
        .await
        .context("reading the template event")?;
        Ok(RawEvent {
            event_type: row.try_get("event_type")?,
            event_version: row.try_get("event_version")?,
            payload: row.try_get("payload")?,
            actor: row.try_get("actor")?,
            origin: row.try_get("origin")?,
            payload_text_bytes: row.try_get("text_bytes")?,
            payload_stored_bytes: row.try_get("stored_bytes")?,
        })
    }
}

async fn insert_raw(
    pool: &PgPool,
    stream_id: Uuid,
    version: i64,
    event: &RawEvent,
) -> Result<(), sqlx::Error> {
    sqlx::query(RAW_INSERT_SQL)
        .bind(Uuid::new_v4())
        .bind("ticket")
        .bind(stream_id)
        .bind(version)
        .bind(&event.event_type)
        .bind(event.event_version)
        .bind(&event.payload)
        .bind(&event.actor)
        .bind(Utc::now())
        .bind(&event.origin)
        .bind(Uuid::new_v4())
        .bind(Uuid::new_v4())
        .bind(Uuid::new_v4())
        .bind(random_hash())
        .bind(random_hash())
        .execute(pool)
        .await?;
    Ok(())
}

/// 32 random bytes (the hash columns' size; computing a real SHA-256 costs microseconds).
fn random_hash() -> Vec<u8> {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    bytes
}

async fn stream_version(pool: &PgPool, stream_id: Uuid) -> Result<i64> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT max(stream_version) FROM events WHERE stream_id = $1")
            .bind(stream_id)
            .fetch_one(pool)
            .await?;
    Ok(version.unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/// What one client does in a loop.
#[derive(Debug)]
enum Op {
    Note {
        client: reqwest::Client,
        url: String,
        token: Arc<str>,
    },
    Insert {
        pool: PgPool,
        stream_id: Uuid,
        version: i64,
        template: Arc<RawEvent>,
    },
}

impl Op {
    async fn run(&mut self) -> Result<(), String> {
        match self {
            Op::Note { client, url, token } => post_note(client, url, token).await,
            Op::Insert {
                pool,
                stream_id,
                version,
                template,
            } => {
                *version += 1;
                insert_raw(pool, *stream_id, *version, template)
                    .await
                    .map_err(|error| error.to_string())
            }
        }
    }
}

#[derive(Debug, Default)]
struct ClientStats {
    latencies: Vec<Duration>,
    ok_total: u64,
    errors: u64,
    first_error: Option<String>,
}

#[derive(Debug)]
struct Measurement {
    scenario: String,
    clients: usize,
    /// Length of the measured window(s).
    window: Duration,
    /// Latencies of the commands completed inside the window, sorted.
    latencies: Vec<Duration>,
    /// Successful commands including warm-up and the ones finishing after the window.
    ok_total: u64,
    /// Failed commands in the whole run, warm-up included.
    errors: u64,
    first_error: Option<String>,
}

impl Measurement {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.window.as_secs_f64()
    }

    /// Nearest-rank percentile.
    fn percentile(&self, p: f64) -> Duration {
        let count = self.latencies.len();
        if count == 0 {
            return Duration::ZERO;
        }
        let rank = (p * count as f64).ceil() as usize;
        self.latencies[rank.clamp(1, count) - 1]
    }

    fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }

    fn mean(&self) -> Duration {
        let count = self.latencies.len().max(1) as u32;
        self.latencies.iter().sum::<Duration>() / count
    }

    fn merge(parts: Vec<Measurement>, scenario: &str) -> Measurement {
        let mut merged = Measurement {
            scenario: scenario.to_owned(),
            clients: parts.first().map_or(0, |part| part.clients),
            window: Duration::ZERO,
            latencies: Vec::new(),
            ok_total: 0,
            errors: 0,
            first_error: None,
        };
        for part in parts {
            merged.window += part.window;
            merged.latencies.extend(part.latencies);
            merged.ok_total += part.ok_total;
            merged.errors += part.errors;
            merged.first_error = merged.first_error.or(part.first_error);
        }
        merged.latencies.sort_unstable();
        merged
    }

    fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "clients": self.clients,
            "seconds": self.window.as_secs_f64(),
            "commands": self.latencies.len(),
            "commands_per_second": self.rate(),
            "p50_ms": ms(self.percentile(0.50)),
            "p99_ms": ms(self.percentile(0.99)),
            "max_ms": ms(self.max()),
            "mean_ms": ms(self.mean()),
            "errors": self.errors,
            "first_error": self.first_error,
        })
    }
}

/// Runs each op in a task of its own: warm-up, then the measured window; every loop stops by
/// time. Counts the commands that complete inside the window.
async fn measure(scenario: &str, ops: Vec<Op>, options: &Options) -> Result<Measurement> {
    let clients = ops.len();
    let warm_until = Instant::now() + options.warmup;
    let end = warm_until + options.run;
    let tasks: Vec<_> = ops
        .into_iter()
        .map(|mut op| {
            tokio::spawn(async move {
                let mut stats = ClientStats::default();
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    let result = op.run().await;
                    let done = Instant::now();
                    match result {
                        Ok(()) => {
                            stats.ok_total += 1;
                            if done >= warm_until && done <= end {
                                stats.latencies.push(done - sent);
                            }
                        }
                        Err(error) => {
                            stats.errors += 1;
                            stats.first_error.get_or_insert(error);
                        }
                    }
                }
                stats
            })
        })
        .collect();
    let mut measured = Measurement {
        scenario: scenario.to_owned(),
        clients,
        window: options.run,
        latencies: Vec::new(),
        ok_total: 0,
        errors: 0,
        first_error: None,
    };
    for task in tasks {
        let stats = task.await.context("client task panicked")?;
        measured.latencies.extend(stats.latencies);
        measured.ok_total += stats.ok_total;
        measured.errors += stats.errors;
        measured.first_error = measured.first_error.or(stats.first_error);
    }
    measured.latencies.sort_unstable();
    eprintln!(
        "  {:<32} {:>2} clients: {:>8.0} cmds/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
        measured.scenario,
        clients,
        measured.rate(),
        ms(measured.percentile(0.50)),
        ms(measured.percentile(0.99)),
        measured.errors
    );
    Ok(measured)
}

// ---------------------------------------------------------------------------------------------
// Long stream and cold start.

#[derive(Debug)]
struct Filled {
    ticket: Uuid,
    setup: Duration,
    errors: u64,
}

/// Opens a ticket and fills it to `options.long_events` events through the API.
async fn fill_long_ticket(options: &Options, api: &Api, owner_pool: &PgPool) -> Result<Filled> {
    let ticket = api.open_ticket(&http_client()?).await?;
    eprintln!(
        "  filling ticket {ticket} to {} events with {FILL_CLIENTS} clients …",
        options.long_events
    );
    let started = Instant::now();
    let deadline = started + FILL_TIME_MAX;
    // The open event is version 1; each add_note adds one.
    let remaining = Arc::new(AtomicI64::new(options.long_events as i64 - 1));
    let tasks: Vec<_> = (0..FILL_CLIENTS)
        .map(|_| {
            let remaining = remaining.clone();
            let url = api.note_url(ticket);
            let token = api.token.clone();
            let client = http_client();
            tokio::spawn(async move {
                let client = client.map_err(|error| error.to_string())?;
                let mut errors = 0u64;
                let mut first_error = None;
                while Instant::now() < deadline {
                    if remaining.fetch_sub(1, Ordering::Relaxed) <= 0 {
                        break;
                    }
                    if let Err(error) = post_note(&client, &url, &token).await {
                        remaining.fetch_add(1, Ordering::Relaxed);
                        errors += 1;
                        first_error.get_or_insert(error);
                    }
                }
                Ok::<_, String>((errors, first_error))
            })
        })
        .collect();
    let mut setup_errors = 0;
    for task in tasks {
        let (errors, first_error) = task
            .await
            .context("fill task panicked")?
            .map_err(|error| anyhow!(error))?;
        setup_errors += errors;
        if let Some(error) = first_error {
            eprintln!("  error while filling: {error}");
        }
    }
    let setup = started.elapsed();
    let version = stream_version(owner_pool, ticket).await?;
    ensure!(
        version == options.long_events as i64,
        "the long-stream ticket reached version {version} of {} in {:.0} s",
        options.long_events,
        setup.as_secs_f64()
    );
    eprintln!("  filled in {:.1} s", setup.as_secs_f64());
    Ok(Filled {
        ticket,
        setup,
        errors: setup_errors,
    })
}

#[derive(Debug)]
struct Cold {
    stream_events: i64,
    first: Duration,
    warm_p50: Duration,
    warm_max: Duration,
}

/// Times the first command on `ticket` sent to a just-started service (no cached tickets or keys:
/// it reads, decrypts and folds the whole stream), then a few more. The connection is opened
/// before the clock starts.
async fn cold_first_command(api: &Api, ticket: Uuid, owner_pool: &PgPool) -> Result<Cold> {
    let stream_events = stream_version(owner_pool, ticket).await?;
    let client = http_client()?;
    let health = client.get(format!("{}/healthz", api.base)).send().await?;
    ensure!(health.status().is_success(), "healthz: {}", health.status());
    health.bytes().await?;
    let url = api.note_url(ticket);
    let started = Instant::now();
    post_note(&client, &url, &api.token)
        .await
        .map_err(|error| anyhow!("cold add_note failed: {error}"))?;
    let first = started.elapsed();
    let mut warm = Vec::with_capacity(WARM_SAMPLES);
    for _ in 0..WARM_SAMPLES {
        let started = Instant::now();
        post_note(&client, &url, &api.token)
            .await
            .map_err(|error| anyhow!("add_note after the cold one failed: {error}"))?;
        warm.push(started.elapsed());
    }
    warm.sort_unstable();
    eprintln!(
        "  cold first command on {stream_events} events: {:.2} ms",
        ms(first)
    );
    Ok(Cold {
        stream_events,
        first,
        warm_p50: warm[warm.len() / 2],
        warm_max: warm[warm.len() - 1],
    })
}

/// One client on a new ticket and on the long one, in slices ordered A-B-B-A-A-B-B-A so that
/// drift in the machine's load (other work shares it) falls on both alike; returns (new, long).
/// The first slice of each gets the full warm-up, the others only enough for the connection.
async fn compare_with_new(
    options: &Options,
    api: &Api,
    long_ticket: Uuid,
) -> Result<(Measurement, Measurement)> {
    const PATTERN: &[u8] = b"ABBAABBA";
    let fresh = api.open_ticket(&http_client()?).await?;
    let slice = |warmup| Options {
        run: options.run / 4,
        warmup,
        long_events: options.long_events,
        quick: options.quick,
    };
    let (mut new, mut long) = (Vec::new(), Vec::new());
    for &kind in PATTERN {
        let (ticket, parts, name) = if kind == b'A' {
            (fresh, &mut new, "HTTP new ticket (¼)")
        } else {
            (long_ticket, &mut long, "HTTP long ticket (¼)")
        };
        let warmup = if parts.is_empty() {
            options.warmup
        } else {
            SLICE_WARMUP.min(options.warmup)
        };
        parts.push(measure(name, vec![api.note_op(ticket)?], &slice(warmup)).await?);
    }
    Ok((
        Measurement::merge(new, "HTTP new ticket"),
        Measurement::merge(long, &format!("HTTP ≥{}-event ticket", options.long_events)),
    ))
}

// ---------------------------------------------------------------------------------------------
// Reporting.

fn print_table(scenarios: &[&Measurement]) {
    println!(
        "{:<34} {:>7} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "scenario", "clients", "cmds/s", "p50 ms", "p99 ms", "max ms", "errors"
    );
    println!("{}", "-".repeat(91));
    for measured in scenarios {
        println!(
            "{:<34} {:>7} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>7}",
            measured.scenario,
            measured.clients,
            measured.rate(),
            ms(measured.percentile(0.50)),
            ms(measured.percentile(0.99)),
            ms(measured.max()),
            measured.errors
        );
    }
}

#[derive(Clone, Copy, Debug)]
enum Target {
    AtLeast(f64),
    AtMost(f64),
}

#[derive(Debug)]
struct Ratio {
    name: String,
    value: f64,
    target: Option<Target>,
}

impl Ratio {
    fn met(&self) -> Option<bool> {
        self.target.map(|target| match target {
            Target::AtLeast(bound) => self.value >= bound,
            Target::AtMost(bound) => self.value <= bound,
        })
    }

    fn target_text(&self) -> String {
        match self.target {
            Some(Target::AtLeast(bound)) => format!("≥ {:.0} %", bound * 100.0),
            Some(Target::AtMost(bound)) => format!("≤ {:.0} %", bound * 100.0),
            None => String::new(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "value": self.value,
            "target": self.target_text(),
            "met": self.met(),
        })
    }
}

fn print_summary(summary: &[Ratio]) {
    println!("{:<40} {:>9} {:>8}  result", "summary", "value", "target");
    println!("{}", "-".repeat(68));
    for ratio in summary {
        let result = match ratio.met() {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        println!(
            "{:<40} {:>7.1} % {:>8}  {}",
            ratio.name,
            ratio.value * 100.0,
            ratio.target_text(),
            result
        );
    }
}
