//! SLA benchmark (issue 4 §6): recompute the clocks of 1,000,000 tickets from their events, and
//! rebuild the SLA projection from the store, each beside the physical limit measured in the
//! same run.
//!
//! ```text
//! cargo bench --bench sla                     # full run: 1,000,000 tickets folded, 20,000 rebuilt
//! cargo bench --bench sla -- --quick          # smoke run: 100,000 tickets folded, 5,000 rebuilt
//! cargo bench --bench sla -- --no-db          # the fold only (no PostgreSQL needed)
//! cargo bench --bench sla -- --help           # every option
//! ```
//!
//! The configuration is what a German authority's service desk would run: calendar
//! `servicedesk-nrw` (Europe/Berlin, Mon–Fri 07:30–12:00 and 13:00–16:00, the public holidays of
//! North Rhine-Westphalia, closed every 24 and 31 December) and the policy `default` over it
//! (rows for critical, high and every other priority; warnings at 75 and 90 %; paused while
//! waiting for the requester; a reopen continues the resolution clock). No service names a
//! policy of its own, so every ticket gets `default`.
//!
//! Sections:
//! - **fold** (no database): every ticket is planned from a SplitMix64 seeded with its index:
//!   opened at a random instant of 2025-01-02 … 2026-10-31 (80 % in office hours, most weekend
//!   ones moved to Monday); assign, start work, an internal note, the first public reply; then a
//!   cancel (6 %), or a priority change (20 %), pending (waiting_for_requester, 15 %
//!   waiting_for_third_party), the requester's answer (which resumes a ticket waiting for the
//!   requester), start work (when waiting for the third party), a note, a reply, resolve, a
//!   reopen cycle (12 %) and the close 7 days later; new tags for 15 %; 15 % are cut short and
//!   still open. Its events are made by the domain's own `decide` + `Ticket::apply` at instants
//!   that follow the plan: an agent's step after business time (`BusinessCalendar::add`, minutes
//!   to two business days), a requester's after wall-clock time (minutes to six days), so pauses
//!   and running segments span nights, weekends and holidays. Chunks of 10,000 tickets are
//!   generated (not timed), then timed: `TicketClocks::apply` over every event of every ticket
//!   (the fold); the due times, warning instants and pending deadlines of each final state
//!   (`Clock::due_at`, `warnings_at`, `pending_deadlines`: what the projection stores); the
//!   clocks as JSON (the stored column). Every 100th ticket is also timed alone (p50/p99): folded;
//!   its final state's derived values; and folded with the projection's per-event work (after
//!   every event both due times, the earliest pending deadline and the clocks as JSON, as
//!   `projector::sla` computes its row). The limits, over the same events in the same run:
//!   `serde_json::from_value::<TicketEvent>` of each event's JSON (the decode the projection does
//!   before folding), and `BusinessCalendar::seconds_between` alone over the running segments
//!   the fold closed. Profiles on the sample split `apply` per event type into the two calendar
//!   computations of closing a running segment, repeated alone (`close`'s late check
//!   `Clock::due_at`, then `seconds_between`), and the projection's row into its parts (with
//!   `BusinessCalendar::add` alone for the same instants); one splits `seconds_between` per local
//!   day it visits (holiday rule, closing check, local → UTC conversions).
//! - **db** (skip with `--no-db`): a fresh database of its own (found like the tests find it:
//!   `ITSM_DATABASE__OWNER_URL` / `ITSM_DATABASE__URL`, else the checkout's `itsm.toml`), dropped
//!   at the end. The calendar and the policy are defined with `command_service::config::execute`;
//!   20,000 tickets of the same plans go through `TicketService::execute` (decide, encrypt
//!   personal data, append) from 8 concurrent tasks — their timestamps are the fill's, not the
//!   plan's; then `VACUUM (ANALYZE) events`. `Runner::rebuild` of `SlaProjection` (batches of
//!   1,000 events, the default) → tickets/s and events/s, beside `event_store::read_after` in
//!   batches of 1,000 over the same events (before and after). To split the rebuild, the same
//!   reads with the projection's decoding (`codec::decode_without_personal_data`), then also its
//!   fold in memory, then also its row after every event (no writes); and for comparison the
//!   decoding that decrypts personal data (`codec::decode`, a fresh vault).
//!
//! Output: tables on stdout (progress on stderr) and `target/bench/sla.json`. Latencies are per
//! ticket, sorted and read at nearest rank.

mod support;

use support::{
    cores, fresh_database, given_or, load_context, mean, number_arg, per_second, percentile,
    read_pass, remove, write_report, Pass,
};

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Result};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};
use command_service::auth::Actor;
use command_service::codec;
use command_service::metrics::Metrics;
use command_service::tickets::{CommandRequest, TicketService};
use domain::calendar::holidays::is_holiday;
use domain::calendar::{BusinessCalendar, CalendarDefinition, State};
use domain::config::sla::SlaPolicyDefinition;
use domain::config::{ConfigCommand, ConfigName, Kind};
use domain::sla::{ClockState, Metric, SlaConfiguration, TicketClocks, DEFAULT_POLICY};
use domain::ticket::{
    decide, ArticleBody, Channel, DecisionContext, Description, Level, NewTicket, PendingReason,
    Requester, Ticket, TicketCommand, TicketEvent, TicketId, TicketNumber, TicketPolicy,
    TicketType, Title,
};
use event_store::crypto::{MasterKey, PersonalDataVault};
use event_store::testing::TestDatabase;
use event_store::Cursor;
use projector::metrics::ProjectorMetrics;
use projector::runner::{Runner, RunnerSettings};
use projector::sla::SlaProjection;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use uuid::Uuid;

const USAGE: &str = "\
usage: cargo bench --bench sla [-- OPTIONS]
  --quick            smoke run: 100,000 tickets folded, 5,000 tickets in the database
  --tickets N        tickets folded in memory (default 1000000)
  --no-db            skip the database section
  --db-tickets N     tickets filled and rebuilt in the database (default 20000)";

/// Tickets generated, then folded, at a time (the fold never holds more).
const CHUNK_TICKETS: u64 = 10_000;
/// Every this many tickets one is also timed alone (the latency sample).
const SAMPLE_EVERY: u64 = 100;
/// Tickets whose events are turned into JSON at once for the decode limit (bounds memory).
const DECODE_TICKETS: usize = 1_000;
/// Events per chunk whose JSON length is measured (for the report only).
const JSON_SIZE_SAMPLE_EVENTS: usize = 200;
const SEED: u64 = 0x051A_2026;
const CALENDAR: &str = "servicedesk-nrw";
const CALENDAR_STATE: State = State::NW;
/// Opening days are drawn from 2025-01-02 and this many days after it (to 2026-10-31).
const OPEN_DAYS: u64 = 668;
const AGENTS: u64 = 300;
const QUEUES: u64 = 40;
const SERVICES: u64 = 25;
const REQUESTERS: u64 = 35_000;
const OFFICE_OPENING_SHARE: f64 = 0.80;
const WEEKEND_TO_MONDAY_SHARE: f64 = 0.60;
const INCIDENT_SHARE: f64 = 0.70;
const SERVICE_SHARE: f64 = 0.90;
const TAGS_SHARE: f64 = 0.15;
const CANCEL_SHARE: f64 = 0.06;
const PRIORITY_CHANGE_SHARE: f64 = 0.20;
const THIRD_PARTY_SHARE: f64 = 0.15;
const REOPEN_SHARE: f64 = 0.12;
const STILL_OPEN_SHARE: f64 = 0.15;
/// Impact and urgency, low to critical.
const IMPACT_WEIGHTS: [f64; 4] = [0.35, 0.40, 0.20, 0.05];
const URGENCY_WEIGHTS: [f64; 4] = [0.30, 0.45, 0.20, 0.05];
/// A business day of the calendar (07:30–12:00 and 13:00–16:00) in seconds.
const BUSINESS_DAY_S: i64 = 27_000;
const HOUR_S: i64 = 3_600;
const DAY_S: i64 = 86_400;
/// Tickets are closed this long after their resolution (the reopen window), plus up to an hour.
const CLOSE_AFTER_S: i64 = 7 * DAY_S;
/// Concurrent tasks filling the database.
const FILL_TASKS: u64 = 8;
/// Connections of the benchmark's application-role pool.
const DB_POOL_CONNECTIONS: u32 = 10;
/// The projector's default batch (`src/config.rs`): the rebuild's and the read limit's.
const PROJECTOR_BATCH: u32 = 1_000;
/// Projector settings as configured by default (`src/config.rs`).
const LEASE_TTL: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How often long steps report progress.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

const THINGS: [&str; 10] = [
    "Drucker",
    "Bildschirm",
    "Laptop",
    "Netzwerk",
    "Postfach",
    "Telefon",
    "Scanner",
    "VPN-Zugang",
    "Fachverfahren",
    "Anmeldung",
];
const PROBLEMS: [&str; 6] = [
    "druckt nicht",
    "startet nicht",
    "ist sehr langsam",
    "meldet einen Fehler",
    "reagiert nicht",
    "verbindet sich nicht",
];
const DESCRIPTION: &str = "Seit heute früh funktioniert es nicht mehr. Betroffen sind mehrere \
    Arbeitsplätze im Bürgerbüro, bitte zeitnah prüfen. Ein Neustart hat nicht geholfen.";
const NOTE: &str = "Interne Notiz: Treiberversion 4.2 prüfen, Ersatzgerät liegt im Lager bereit. \
    Rückfrage beim Hersteller läuft, Ticketnummer dort HD-88231.";
const FIRST_REPLY: &str = "Guten Tag, vielen Dank für Ihre Meldung. Wir haben den Fehler \
    nachvollzogen und prüfen die Ursache. Wir melden uns, sobald wir mehr wissen. Viele Grüße, \
    Ihr Service-Desk";
const QUESTION: &str = "Guten Tag, könnten Sie uns bitte mitteilen, seit wann der Fehler \
    auftritt und ob andere Kolleginnen und Kollegen ebenfalls betroffen sind? Viele Grüße, Ihr \
    Service-Desk";
const ANSWER: &str = "Danke für die schnelle Rückmeldung. Der Fehler tritt seit Montag auf, vor \
    allem morgens nach dem Anmelden. Die Kollegin am Nachbarplatz ist auch betroffen.";
const REPLY: &str = "Guten Tag, wir haben den Treiber auf Ihrem Arbeitsplatz aktualisiert. Bitte \
    starten Sie das Gerät neu und melden Sie sich, falls das Problem weiterhin besteht. Viele \
    Grüße, Ihr Service-Desk";
const RESOLUTION: &str = "Treiber aktualisiert, Gerät neu gestartet, Funktion mit der \
    Anwenderin geprüft.";
const REOPEN_REASON: &str = "Der Fehler ist heute Morgen wieder aufgetreten.";
const CANCEL_REASON: &str = "Doppelt gemeldet, siehe das Ticket der Kollegin.";

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let Some(options) = Options::parse(std::env::args().skip(1))? else {
        return Ok(());
    };
    let started = Instant::now();
    let mut report = Report::default();
    println!(
        "sla benchmark{}: {} tickets folded; database: {}; {} cores",
        if options.quick { " (quick)" } else { "" },
        options.tickets,
        if options.db {
            format!("{} tickets", options.db_tickets)
        } else {
            "skipped".to_owned()
        },
        cores(),
    );
    let config = BenchConfig::new()?;
    fold_section(&options, &config, &mut report)?;
    if options.db {
        let db = fresh_database().await;
        let result = db_section(&options, &config, &db, &mut report).await;
        remove(db).await;
        result?;
    }
    println!();
    print_summary(&report.checks);
    println!("\ntotal run time {:.1} s", started.elapsed().as_secs_f64());
    write_json(&options, &report, started.elapsed())
}

// ---------------------------------------------------------------------------------------------
// Options.

#[derive(Debug)]
struct Options {
    quick: bool,
    tickets: u64,
    db: bool,
    db_tickets: u64,
}

impl Options {
    /// The options, or `None` after printing the usage.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Options>> {
        let mut quick = false;
        let mut db = true;
        let mut numbers: Vec<(String, f64)> = Vec::new();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                // `cargo bench` passes `--bench` to every `harness = false` target.
                "--bench" => {}
                "--quick" => quick = true,
                "--no-db" => db = false,
                "--tickets" | "--db-tickets" => {
                    let value = number_arg(args.next(), &arg)?;
                    ensure!(value >= 1.0, "{arg} must be at least 1");
                    numbers.push((arg, value));
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    return Ok(None);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        let number = |name: &str, full: f64, smoke: f64| {
            given_or(&numbers, name, if quick { smoke } else { full })
        };
        let options = Options {
            quick,
            tickets: number("--tickets", 1_000_000.0, 100_000.0) as u64,
            db,
            db_tickets: number("--db-tickets", 20_000.0, 5_000.0) as u64,
        };
        ensure!(
            (1..=100_000_000).contains(&options.tickets),
            "--tickets must be 1 to 100,000,000"
        );
        ensure!(
            (1..=1_000_000).contains(&options.db_tickets),
            "--db-tickets must be 1 to 1,000,000"
        );
        Ok(Some(options))
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces: a small random generator, percentiles, rates, the load on the machine.

/// SplitMix64: reproducible, and cheap enough not to show in the figures.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    /// The generator of ticket `index`: every section plans the same ticket alike.
    fn for_ticket(index: u64) -> Rng {
        Rng(SEED ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03))
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

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, share: f64) -> bool {
        self.unit() < share
    }

    /// Log-uniform in [min, max]: as many minutes-long as days-long delays per decade.
    fn log_uniform(&mut self, min: i64, max: i64) -> i64 {
        let (low, high) = ((min as f64).ln(), (max as f64).ln());
        (low + self.unit() * (high - low)).exp().round() as i64
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(
            ((u128::from(self.next()) << 64) | u128::from(self.next())).to_be_bytes(),
        )
        .into_uuid()
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// Microseconds per item.
fn micros_per(elapsed: Duration, count: u64) -> f64 {
    micros(elapsed) / count.max(1) as f64
}

fn latency_json(sorted: &[Duration]) -> Value {
    json!({
        "count": sorted.len(),
        "p50_us": micros(percentile(sorted, 0.50)),
        "p99_us": micros(percentile(sorted, 0.99)),
        "mean_us": micros(mean(sorted)),
        "max_us": micros(sorted.last().copied().unwrap_or_default()),
    })
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
    PerSecond,
    Microseconds,
    Ratio,
}

/// A figure of the summary (issue 4 §6 sets no target: the figures stand beside their limits).
#[derive(Debug)]
struct Check {
    name: String,
    value: f64,
    unit: Unit,
}

impl Check {
    fn format(&self) -> String {
        match self.unit {
            Unit::PerSecond => format!("{:.0}/s", self.value),
            Unit::Microseconds => format!("{:.2} µs", self.value),
            Unit::Ratio => format!("{:.2}×", self.value),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name.trim(),
            "value": self.value,
            "unit": match self.unit {
                Unit::PerSecond => "per_second",
                Unit::Microseconds => "us",
                Unit::Ratio => "ratio",
            },
        })
    }
}

fn check(checks: &mut Vec<Check>, name: &str, value: f64, unit: Unit) {
    checks.push(Check {
        name: name.to_owned(),
        value,
        unit,
    });
}

fn print_summary(checks: &[Check]) {
    println!("{:<62} {:>14}", "summary", "value");
    println!("{}", "-".repeat(77));
    for check in checks {
        println!("{:<62} {:>14}", check.name, check.format());
    }
}

fn write_json(options: &Options, report: &Report, run_time: Duration) -> Result<()> {
    let settings = json!({
        "quick": options.quick,
        "tickets": options.tickets,
        "db": options.db,
        "db_tickets": options.db_tickets,
        "chunk_tickets": CHUNK_TICKETS,
        "sample_every": SAMPLE_EVERY,
        "projector_batch": PROJECTOR_BATCH,
        "fill_tasks": FILL_TASKS,
        "calendar": calendar_definition(),
        "policy": policy_definition(),
    });
    write_report(
        "sla",
        settings,
        &report.sections,
        report.checks.iter().map(Check::to_json).collect(),
        run_time,
    )
}

// ---------------------------------------------------------------------------------------------
// The configuration: one calendar and the default policy, in memory and in the database alike.

fn calendar_definition() -> Value {
    let day = json!(["07:30-12:00", "13:00-16:00"]);
    json!({
        "time_zone": "Europe/Berlin",
        "weekly_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day},
        "state": CALENDAR_STATE.code(),
        "closing_days": ["12-24", "12-31"],
    })
}

/// Targets in business minutes (a business day is 450): critical 30 min / 4 h, high 2 h /
/// 2 days, the rest 1 day / 5 days.
fn policy_definition() -> Value {
    json!({
        "title": "Service-Desk Standard",
        "calendar": CALENDAR,
        "targets": [
            {"priorities": ["critical"], "first_response_minutes": 30, "resolution_minutes": 240},
            {"priorities": ["high"], "first_response_minutes": 120, "resolution_minutes": 900},
            {"first_response_minutes": 450, "resolution_minutes": 2250},
        ],
        "warning_percent": [75, 90],
        "pause_when_pending": ["waiting_for_requester"],
        "on_reopen": "continue",
    })
}

/// The configuration the clocks read, shaped like `projector::sla::ProjectedConfig` (whose
/// constructor is private): services → policy, current policies, every calendar version.
#[derive(Debug, Default)]
struct BenchConfig {
    services: HashMap<String, String>,
    policies: HashMap<String, (u64, SlaPolicyDefinition)>,
    calendars: HashMap<String, BTreeMap<u64, BusinessCalendar>>,
    current_calendar: HashMap<String, u64>,
}

impl SlaConfiguration for BenchConfig {
    fn policy_of_service(&self, service: &str) -> Option<String> {
        self.services.get(service).cloned()
    }

    fn policy(&self, name: &str) -> Option<(u64, &SlaPolicyDefinition)> {
        self.policies
            .get(name)
            .map(|(version, policy)| (*version, policy))
    }

    fn calendar(&self, name: &str) -> Option<(u64, &BusinessCalendar)> {
        let version = *self.current_calendar.get(name)?;
        Some((version, self.calendar_at(name, version)?))
    }

    fn calendar_at(&self, name: &str, version: u64) -> Option<&BusinessCalendar> {
        self.calendars.get(name)?.get(&version)
    }
}

impl BenchConfig {
    /// Version 1 of the calendar and of the policy, validated as the command side would.
    fn new() -> Result<BenchConfig> {
        let definition: CalendarDefinition = serde_json::from_value(calendar_definition())?;
        let calendar = BusinessCalendar::new(&definition)?;
        let policy: SlaPolicyDefinition = serde_json::from_value(policy_definition())?;
        policy
            .validate()
            .map_err(|error| anyhow!("policy: {error}"))?;
        let mut config = BenchConfig::default();
        config
            .calendars
            .entry(CALENDAR.to_owned())
            .or_default()
            .insert(1, calendar);
        config.current_calendar.insert(CALENDAR.to_owned(), 1);
        config
            .policies
            .insert(DEFAULT_POLICY.to_owned(), (1, policy));
        Ok(config)
    }

    fn business_calendar(&self) -> &BusinessCalendar {
        self.calendar_at(CALENDAR, 1).expect("defined in new")
    }
}

// ---------------------------------------------------------------------------------------------
// Ticket plans: the same commands for the fold (with planned instants) and the database.

/// When a step happens after the previous one.
#[derive(Clone, Copy, Debug)]
enum Delay {
    /// Business seconds of the calendar: agents work in office hours.
    Business(i64),
    /// Wall-clock seconds: requesters write at any time; the close job runs at night too.
    Wall(i64),
}

impl Delay {
    /// The instant of the step after one at `from` (always later).
    fn after(self, from: DateTime<Utc>, calendar: &BusinessCalendar) -> DateTime<Utc> {
        let at = match self {
            Delay::Business(seconds) => calendar
                .add(from, seconds)
                .unwrap_or(from + TimeDelta::seconds(seconds)),
            Delay::Wall(seconds) => from + TimeDelta::seconds(seconds),
        };
        at.max(from + TimeDelta::seconds(1))
    }
}

#[derive(Debug)]
struct Step {
    delay: Delay,
    command: TicketCommand,
}

impl Step {
    /// An agent's step, `min_s` to `max_s` business seconds after the previous one.
    fn agent(command: TicketCommand, rng: &mut Rng, min_s: i64, max_s: i64) -> Step {
        Step {
            delay: Delay::Business(rng.log_uniform(min_s, max_s)),
            command,
        }
    }

    /// A requester's step, `min_s` to `max_s` wall-clock seconds after the previous one.
    fn requester(command: TicketCommand, rng: &mut Rng, min_s: i64, max_s: i64) -> Step {
        Step {
            delay: Delay::Wall(rng.log_uniform(min_s, max_s)),
            command,
        }
    }
}

/// One ticket's life, planned from its index alone.
#[derive(Debug)]
struct Plan {
    id: TicketId,
    /// The local (Europe/Berlin) opening day and minute of the day.
    opened_on: NaiveDate,
    opened_minute: u32,
    ticket: NewTicket,
    steps: Vec<Step>,
}

fn plan(index: u64) -> Result<Plan> {
    let mut rng = Rng::for_ticket(index);
    let id = TicketId::new(rng.uuid());
    let (opened_on, opened_minute) = opening(&mut rng);
    let ticket = new_ticket(&mut rng)?;
    let mut steps = work_steps(&mut rng)?;
    if rng.chance(STILL_OPEN_SHARE) {
        let kept = 1 + rng.below(steps.len() as u64 - 1) as usize;
        steps.truncate(kept);
    }
    Ok(Plan {
        id,
        opened_on,
        opened_minute,
        ticket,
        steps,
    })
}

/// A local opening instant: mostly in 07:00–17:00, the rest at any hour; most weekend ones
/// moved to Monday (portal and e-mail tickets still come in on weekends).
fn opening(rng: &mut Rng) -> (NaiveDate, u32) {
    let first = NaiveDate::from_ymd_opt(2025, 1, 2).expect("a valid date");
    let mut day = first + TimeDelta::days(rng.below(OPEN_DAYS) as i64);
    let minute = if rng.chance(OFFICE_OPENING_SHARE) {
        7 * 60 + rng.below(10 * 60)
    } else {
        rng.below(24 * 60)
    } as u32;
    if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && rng.chance(WEEKEND_TO_MONDAY_SHARE) {
        while day.weekday() != Weekday::Mon {
            day = day.succ_opt().expect("dates do not run out");
        }
    }
    (day, minute)
}

fn level(rng: &mut Rng, weights: [f64; 4]) -> Level {
    let mut draw = rng.unit();
    for (level, weight) in [Level::Low, Level::Medium, Level::High, Level::Critical]
        .into_iter()
        .zip(weights)
    {
        if draw < weight {
            return level;
        }
        draw -= weight;
    }
    Level::Critical
}

fn new_ticket(rng: &mut Rng) -> Result<NewTicket> {
    let requester = rng.below(REQUESTERS);
    let (thing, problem) = (rng.pick(&THINGS), rng.pick(&PROBLEMS));
    let ticket_type = if rng.chance(INCIDENT_SHARE) {
        TicketType::Incident
    } else {
        TicketType::ServiceRequest
    };
    let service_id = rng
        .chance(SERVICE_SHARE)
        .then(|| format!("service-{:02}", rng.below(SERVICES)));
    Ok(NewTicket {
        ticket_type,
        title: Title::parse(format!("{thing} {problem}"))?,
        description: Description::parse(DESCRIPTION)?,
        requester: Requester {
            name: format!("Erika Mustermann {requester}"),
            email: Some(format!("e.mustermann{requester}@example.org")),
            phone: Some("+49 211 1234567".to_owned()),
            user_id: Some(format!("u{requester}")),
        },
        impact: level(rng, IMPACT_WEIGHTS),
        urgency: level(rng, URGENCY_WEIGHTS),
        service_id,
        category_id: Some("hardware".to_owned()),
        queue: Some(format!("queue-{:02}", rng.below(QUEUES))),
        tags: Vec::new(),
        fields: BTreeMap::new(),
        channel: rng.pick(&[Channel::Portal, Channel::Email, Channel::Phone]),
    })
}

fn article(body: &str) -> Result<ArticleBody> {
    Ok(ArticleBody::parse(body)?)
}

fn note() -> Result<TicketCommand> {
    Ok(TicketCommand::AddNote {
        body: article(NOTE)?,
        channel: Some(Channel::AgentUi),
        attachments: Vec::new(),
    })
}

fn reply(body: &str) -> Result<TicketCommand> {
    Ok(TicketCommand::AddReply {
        body: article(body)?,
        channel: Some(Channel::Email),
        attachments: Vec::new(),
    })
}

fn resolve() -> Result<TicketCommand> {
    Ok(TicketCommand::Resolve {
        code: "fixed".to_owned(),
        text: article(RESOLUTION)?,
    })
}

/// The steps after opening (see the module documentation for the shares).
fn work_steps(rng: &mut Rng) -> Result<Vec<Step>> {
    let mut steps = Vec::with_capacity(18);
    let assignee = format!("agent{:03}", rng.below(AGENTS));
    let assign = TicketCommand::Assign {
        assignee,
        queue: None,
    };
    steps.push(Step::agent(assign, rng, 120, 4 * HOUR_S));
    if rng.chance(TAGS_SHARE) {
        let tags = vec!["vor-ort".to_owned(), format!("standort-{}", rng.below(12))];
        steps.push(Step::agent(TicketCommand::SetTags { tags }, rng, 10, 600));
    }
    steps.push(Step::agent(
        TicketCommand::StartWork {},
        rng,
        60,
        2 * HOUR_S,
    ));
    steps.push(Step::agent(note()?, rng, 120, HOUR_S));
    steps.push(Step::agent(reply(FIRST_REPLY)?, rng, 300, BUSINESS_DAY_S));
    if rng.chance(CANCEL_SHARE) {
        let reason = CANCEL_REASON.to_owned();
        let cancel = TicketCommand::Cancel { reason };
        steps.push(Step::requester(cancel, rng, 600, 2 * DAY_S));
        return Ok(steps);
    }
    if rng.chance(PRIORITY_CHANGE_SHARE) {
        let (impact, urgency) = (level(rng, IMPACT_WEIGHTS), level(rng, URGENCY_WEIGHTS));
        let change = TicketCommand::SetPriority { impact, urgency };
        steps.push(Step::agent(change, rng, 300, 4 * HOUR_S));
    }
    let reason = if rng.chance(THIRD_PARTY_SHARE) {
        PendingReason::WaitingForThirdParty
    } else {
        PendingReason::WaitingForRequester
    };
    let question = reply(QUESTION)?;
    steps.push(Step::agent(question, rng, 600, BUSINESS_DAY_S));
    let pending = TicketCommand::SetPending {
        reason,
        until: None,
    };
    steps.push(Step::agent(pending, rng, 10, 120));
    let answer = TicketCommand::AddRequesterMessage {
        body: article(ANSWER)?,
        channel: Some(Channel::Email),
        attachments: Vec::new(),
    };
    steps.push(Step::requester(answer, rng, 15 * 60, 6 * DAY_S));
    // The requester's answer resumes a ticket waiting for them; the third party's needs an agent.
    if reason == PendingReason::WaitingForThirdParty {
        steps.push(Step::agent(
            TicketCommand::StartWork {},
            rng,
            300,
            4 * HOUR_S,
        ));
    }
    steps.push(Step::agent(note()?, rng, 300, 2 * HOUR_S));
    steps.push(Step::agent(reply(REPLY)?, rng, 600, 2 * BUSINESS_DAY_S));
    steps.push(Step::agent(resolve()?, rng, 60, HOUR_S));
    if rng.chance(REOPEN_SHARE) {
        let reopen = TicketCommand::Reopen {
            reason: REOPEN_REASON.to_owned(),
        };
        steps.push(Step::requester(reopen, rng, HOUR_S, 5 * DAY_S));
        steps.push(Step::agent(
            TicketCommand::StartWork {},
            rng,
            300,
            4 * HOUR_S,
        ));
        steps.push(Step::agent(reply(REPLY)?, rng, 600, BUSINESS_DAY_S));
        steps.push(Step::agent(resolve()?, rng, 60, HOUR_S));
    }
    steps.push(Step {
        delay: Delay::Wall(CLOSE_AFTER_S + rng.below(HOUR_S as u64) as i64),
        command: TicketCommand::Close {},
    });
    Ok(steps)
}

/// An event with its `occurred_at`.
type Timed = (TicketEvent, DateTime<Utc>);

/// A chunk of generated tickets: every event with its instant, and where each ticket's begin.
#[derive(Debug, Default)]
struct Chunk {
    events: Vec<Timed>,
    /// Index of each ticket's first event, and the end of the last.
    starts: Vec<usize>,
}

impl Chunk {
    fn fill(
        &mut self,
        tickets: std::ops::Range<u64>,
        calendar: &BusinessCalendar,
        policy: &TicketPolicy,
    ) -> Result<()> {
        self.events.clear();
        self.starts.clear();
        for index in tickets {
            self.starts.push(self.events.len());
            events_of(plan(index)?, index, calendar, policy, &mut self.events)?;
        }
        self.starts.push(self.events.len());
        Ok(())
    }

    fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    fn ticket(&self, index: usize) -> &[Timed] {
        &self.events[self.starts[index]..self.starts[index + 1]]
    }

    fn tickets(&self) -> impl Iterator<Item = &[Timed]> {
        (0..self.len()).map(|index| self.ticket(index))
    }
}

/// The local instant as UTC (a time skipped in spring is taken an hour later).
fn local_instant(calendar: &BusinessCalendar, day: NaiveDate, minute: u32) -> DateTime<Utc> {
    let local = day
        .and_hms_opt(minute / 60, minute % 60, 0)
        .expect("a valid time of day");
    let zone = calendar.time_zone();
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(local + TimeDelta::hours(1)))
                .earliest()
        })
        .expect("an hour after a gap exists")
        .with_timezone(&Utc)
}

/// The events of `plan` as the domain decides them, at the plan's instants.
fn events_of(
    plan: Plan,
    index: u64,
    calendar: &BusinessCalendar,
    policy: &TicketPolicy,
    out: &mut Vec<Timed>,
) -> Result<()> {
    let mut at = local_instant(calendar, plan.opened_on, plan.opened_minute);
    let number = TicketNumber::new(at.year(), (index % 999_999) as u32 + 1);
    let mut ticket = Ticket::default();
    let open = TicketCommand::Open {
        id: plan.id,
        number,
        ticket: plan.ticket,
    };
    decide_at(&mut ticket, open, at, policy, out)?;
    for step in plan.steps {
        at = step.delay.after(at, calendar);
        decide_at(&mut ticket, step.command, at, policy, out)?;
    }
    Ok(())
}

fn decide_at(
    ticket: &mut Ticket,
    command: TicketCommand,
    now: DateTime<Utc>,
    policy: &TicketPolicy,
    out: &mut Vec<Timed>,
) -> Result<()> {
    let name = command.name();
    let events = decide(ticket, command, &DecisionContext { now, policy })
        .map_err(|error| anyhow!("planned {name} refused: {error}"))?;
    for event in events {
        ticket.apply(&event);
        out.push((event, now));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Section 1: the fold of 1,000,000 tickets, against decoding their events and the calendar.

fn fold_section(options: &Options, config: &BenchConfig, report: &mut Report) -> Result<()> {
    println!(
        "\n== fold: {} tickets in chunks of {CHUNK_TICKETS}, every {SAMPLE_EVERY}th also timed alone ==",
        options.tickets
    );
    let measured = measure_fold(options, config)?;
    measured.print();
    measured.add_checks(&mut report.checks);
    report.sections.insert("fold".into(), measured.to_json());
    Ok(())
}

/// Sums over all chunks (timings) and the per-ticket samples.
#[derive(Debug, Default)]
struct FoldMeasured {
    tickets: u64,
    events: u64,
    generate: Duration,
    fold: Duration,
    derive: Duration,
    derived: Derived,
    clocks_json: Duration,
    decode: Duration,
    decode_events: u64,
    json_bytes: u64,
    json_sized_events: u64,
    calendar: Duration,
    running_spans: u64,
    span_days: u64,
    paused_segments: u64,
    sample_fold: Vec<Duration>,
    sample_derive: Vec<Duration>,
    sample_projection: Vec<Duration>,
    sample_events: u64,
    projection_rows: u64,
    mix: BTreeMap<&'static str, u64>,
    clock_states: BTreeMap<String, u64>,
    tickets_without_clocks: u64,
    segments: u64,
    profile: CalendarProfile,
    row_profile: RowProfile,
}

/// What the projection stores beyond the fold, counted over the final states.
#[derive(Clone, Copy, Debug, Default)]
struct Derived {
    clocks: u64,
    running: u64,
    due_times: u64,
    warning_instants: u64,
    pending_deadlines: u64,
}

impl Derived {
    fn add(&mut self, other: Derived) {
        self.clocks += other.clocks;
        self.running += other.running;
        self.due_times += other.due_times;
        self.warning_instants += other.warning_instants;
        self.pending_deadlines += other.pending_deadlines;
    }
}

/// Each clock's due time, warning instants and pending deadlines (`ClockRow::new` keeps the due
/// times and the earliest deadline).
fn derive(clocks: &TicketClocks, config: &dyn SlaConfiguration) -> Derived {
    let mut derived = Derived::default();
    for clock in &clocks.clocks {
        derived.clocks += 1;
        derived.running += u64::from(clock.state == ClockState::Running);
        derived.due_times += u64::from(black_box(clock.due_at(config)).is_some());
        derived.warning_instants += black_box(clock.warnings_at(config)).len() as u64;
        derived.pending_deadlines += black_box(clock.pending_deadlines(config)).len() as u64;
    }
    derived
}

fn fold_ticket(events: &[Timed], config: &dyn SlaConfiguration) -> TicketClocks {
    let mut clocks = TicketClocks::default();
    for (event, at) in events {
        clocks.apply(event, *at, config);
    }
    clocks
}

/// The fold as `projector::sla` runs it: after every event its row is computed (both due times,
/// the earliest unrecorded deadline, the clocks as JSON), though only the last row of a ticket
/// in a batch is written. The rows computed.
fn fold_as_projection(events: &[Timed], config: &dyn SlaConfiguration) -> Result<u64> {
    let mut clocks = TicketClocks::default();
    let mut rows = 0;
    for (event, at) in events {
        clocks.apply(event, *at, config);
        if black_box(clock_row(&clocks, config)?).is_some() {
            rows += 1;
        }
    }
    Ok(rows)
}

/// What `ClockRow::new` (`projector/src/sla.rs`) computes beyond the fold; keep in step: the
/// first response's and the resolution's due time, the next deadline, the clocks as JSON.
type RowValues = (
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Value,
);

/// Both due times, the earliest unrecorded deadline (past ones included) and the clocks as
/// JSON; `None` without both clocks, like `ClockRow::new`.
fn clock_row(clocks: &TicketClocks, config: &dyn SlaConfiguration) -> Result<Option<RowValues>> {
    let clock = |metric| clocks.clocks.iter().find(|clock| clock.metric == metric);
    let (Some(first), Some(resolution)) = (clock(Metric::FirstResponse), clock(Metric::Resolution))
    else {
        return Ok(None);
    };
    let next_deadline_at = clocks
        .clocks
        .iter()
        .flat_map(|clock| clock.pending_deadlines(config))
        .map(|(deadline, _)| deadline)
        .min();
    Ok(Some((
        first.due_at(config),
        resolution.due_at(config),
        next_deadline_at,
        serde_json::to_value(clocks)?,
    )))
}

fn measure_fold(options: &Options, config: &BenchConfig) -> Result<FoldMeasured> {
    let calendar = config.business_calendar();
    let policy = TicketPolicy::default();
    let mut measured = FoldMeasured::default();
    let mut chunk = Chunk::default();
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut first = 0;
    while first < options.tickets {
        let end = (first + CHUNK_TICKETS).min(options.tickets);
        let generating = Instant::now();
        chunk.fill(first..end, calendar, &policy)?;
        measured.generate += generating.elapsed();
        measured.measure_chunk(&chunk, config)?;
        first = end;
        if last_progress.elapsed() >= PROGRESS_INTERVAL {
            last_progress = Instant::now();
            eprintln!(
                "  {first} of {} tickets ({:.0} s; fold so far {:.0} tickets/s)",
                options.tickets,
                started.elapsed().as_secs_f64(),
                per_second(measured.tickets, measured.fold)
            );
        }
    }
    measured.sample_fold.sort_unstable();
    measured.sample_derive.sort_unstable();
    measured.sample_projection.sort_unstable();
    Ok(measured)
}

impl FoldMeasured {
    /// Times every step over one chunk, one after the other, so that drift in the machine's load
    /// falls on all alike.
    fn measure_chunk(&mut self, chunk: &Chunk, config: &BenchConfig) -> Result<()> {
        let states = self.fold_chunk(chunk, config);
        self.derive_chunk(&states, config);
        self.clocks_json_chunk(&states)?;
        self.sample_chunk(chunk, config)?;
        self.calendar_chunk(&states, config)?;
        self.decode_chunk(chunk)?;
        self.count_chunk(chunk, &states);
        Ok(())
    }

    fn fold_chunk(&mut self, chunk: &Chunk, config: &BenchConfig) -> Vec<TicketClocks> {
        let mut states = Vec::with_capacity(chunk.len());
        let started = Instant::now();
        for events in chunk.tickets() {
            states.push(fold_ticket(events, config));
        }
        self.fold += started.elapsed();
        self.tickets += chunk.len() as u64;
        self.events += chunk.events.len() as u64;
        states
    }

    fn derive_chunk(&mut self, states: &[TicketClocks], config: &BenchConfig) {
        let mut derived = Derived::default();
        let started = Instant::now();
        for state in states {
            derived.add(derive(state, config));
        }
        self.derive += started.elapsed();
        self.derived.add(derived);
    }

    fn clocks_json_chunk(&mut self, states: &[TicketClocks]) -> Result<()> {
        let started = Instant::now();
        for state in states {
            black_box(serde_json::to_value(state)?);
        }
        self.clocks_json += started.elapsed();
        Ok(())
    }

    /// Every `SAMPLE_EVERY`th ticket alone: fold, derived values, fold as the projection runs it.
    fn sample_chunk(&mut self, chunk: &Chunk, config: &BenchConfig) -> Result<()> {
        for index in (0..chunk.len()).step_by(SAMPLE_EVERY as usize) {
            let events = chunk.ticket(index);
            let started = Instant::now();
            let clocks = fold_ticket(events, config);
            let folded = Instant::now();
            black_box(derive(&clocks, config));
            let derived = Instant::now();
            self.projection_rows += fold_as_projection(events, config)?;
            let projected = Instant::now();
            self.sample_fold.push(folded - started);
            self.sample_derive.push(derived - folded);
            self.sample_projection.push(projected - derived);
            self.sample_events += events.len() as u64;
            self.row_profile.measure(events, config)?;
        }
        Ok(())
    }

    /// The limit: `seconds_between` over the running segments the fold closed, which must give
    /// the same business seconds.
    fn calendar_chunk(&mut self, states: &[TicketClocks], config: &BenchConfig) -> Result<()> {
        let calendar = config.business_calendar();
        let mut spans = Vec::new();
        let mut expected = 0;
        for clock in states.iter().flat_map(|state| &state.clocks) {
            for segment in &clock.segments {
                match segment.to {
                    Some(to) if segment.running => {
                        spans.push((segment.from, to));
                        expected += segment.business_seconds;
                    }
                    Some(_) => self.paused_segments += 1,
                    None => {}
                }
            }
        }
        let started = Instant::now();
        let mut total = 0;
        for (from, to) in &spans {
            total += calendar.seconds_between(*from, *to);
        }
        self.calendar += started.elapsed();
        ensure!(
            black_box(total) == expected,
            "seconds_between gave {total} business seconds, the fold {expected}"
        );
        self.running_spans += spans.len() as u64;
        self.span_days += spans
            .iter()
            .map(|(from, to)| local_days(calendar, *from, *to))
            .sum::<u64>();
        if self.profile.spans < CalendarProfile::SPANS_MAX {
            self.profile.measure(calendar, &spans);
        }
        Ok(())
    }

    /// The limit: each event's JSON decoded, a thousand tickets' events at a time.
    fn decode_chunk(&mut self, chunk: &Chunk) -> Result<()> {
        let mut begin = 0;
        while begin < chunk.len() {
            let end = (begin + DECODE_TICKETS).min(chunk.len());
            let events = &chunk.events[chunk.starts[begin]..chunk.starts[end]];
            let values = events
                .iter()
                .map(|(event, _)| serde_json::to_value(event))
                .collect::<Result<Vec<Value>, _>>()?;
            if begin == 0 {
                for value in values.iter().take(JSON_SIZE_SAMPLE_EVENTS) {
                    self.json_bytes += value.to_string().len() as u64;
                    self.json_sized_events += 1;
                }
            }
            let started = Instant::now();
            for value in values {
                black_box(serde_json::from_value::<TicketEvent>(value)?);
            }
            self.decode += started.elapsed();
            self.decode_events += events.len() as u64;
            begin = end;
        }
        Ok(())
    }

    fn count_chunk(&mut self, chunk: &Chunk, states: &[TicketClocks]) {
        for (event, _) in &chunk.events {
            *self.mix.entry(event.event_type()).or_default() += 1;
        }
        for state in states {
            self.tickets_without_clocks += u64::from(state.clocks.is_empty());
            for clock in &state.clocks {
                let key = format!("{} {}", clock.metric.name(), state_name(clock.state));
                *self.clock_states.entry(key).or_default() += 1;
                self.segments += clock.segments.len() as u64;
            }
        }
    }

    fn print(&self) {
        println!(
            "{} tickets, {} events ({:.2} per ticket), generated in {:.1} s (not timed); JSON of an \
             event {:.0} bytes on average",
            self.tickets,
            self.events,
            self.events as f64 / self.tickets.max(1) as f64,
            self.generate.as_secs_f64(),
            self.json_bytes as f64 / self.json_sized_events.max(1) as f64,
        );
        println!(
            "events: {}",
            self.mix
                .iter()
                .map(|(name, count)| format!("{} {count}", name.trim_start_matches("ticket.")))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "final clocks: {}; tickets without clocks {}; {:.2} segments per clock",
            self.clock_states
                .iter()
                .map(|(state, count)| format!("{state} {count}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.tickets_without_clocks,
            self.segments as f64 / self.derived.clocks.max(1) as f64,
        );
        self.print_rates();
        self.print_samples();
        self.row_profile.print();
        self.profile.print();
    }

    fn print_rates(&self) {
        println!();
        println!(
            "{:<58} {:>8} {:>11} {:>11} {:>9} {:>8} {:>7}",
            "all tickets, summed over chunks",
            "seconds",
            "tickets/s",
            "events/s",
            "µs/tick.",
            "µs/ev.",
            "/ fold"
        );
        println!("{}", "-".repeat(118));
        let fold = self.fold.as_secs_f64();
        let line = |name: &str, elapsed: Duration, events: u64| {
            println!(
                "{:<58} {:>8.2} {:>11.0} {:>11.0} {:>9.2} {:>8.3} {:>6.2}×",
                name,
                elapsed.as_secs_f64(),
                per_second(self.tickets, elapsed),
                per_second(events, elapsed),
                micros_per(elapsed, self.tickets),
                micros_per(elapsed, events),
                elapsed.as_secs_f64() / fold.max(1e-9),
            );
        };
        line(
            "TicketClocks::apply over every event (the fold)",
            self.fold,
            self.events,
        );
        line(
            "due_at + warnings_at + pending_deadlines (final state)",
            self.derive,
            self.events,
        );
        line(
            "clocks → JSON (serde_json::to_value, the stored column)",
            self.clocks_json,
            self.events,
        );
        line(
            "limit: serde_json::from_value::<TicketEvent> (decode)",
            self.decode,
            self.decode_events,
        );
        line(
            "limit: BusinessCalendar::seconds_between, same segments",
            self.calendar,
            self.events,
        );
        let decode_rate = per_second(self.decode_events, self.decode);
        let fold_rate = per_second(self.events, self.fold);
        println!(
            "decode / fold time: {:.2}× ({} dominates); seconds_between alone is {:.1} % of the fold \
             ({} running segments over {} local days, {:.3} µs per day); derived values of the final \
             state: {} clocks, {} running, {} due times, {} warning instants, {} pending deadlines",
            fold_rate / decode_rate,
            if decode_rate < fold_rate { "decoding" } else { "folding" },
            100.0 * self.calendar.as_secs_f64() / fold.max(1e-9),
            self.running_spans,
            self.span_days,
            micros_per(self.calendar, self.span_days),
            self.derived.clocks,
            self.derived.running,
            self.derived.due_times,
            self.derived.warning_instants,
            self.derived.pending_deadlines,
        );
    }

    fn print_samples(&self) {
        println!();
        println!(
            "{:<58} {:>8} {:>8} {:>8} {:>9} {:>6} {:>8}",
            format!("every {SAMPLE_EVERY}th ticket alone, µs per ticket"),
            "p50",
            "p99",
            "mean",
            "max",
            "count",
            "µs/ev."
        );
        println!("{}", "-".repeat(112));
        let line = |name: &str, sorted: &[Duration]| {
            println!(
                "{:<58} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>6} {:>8.3}",
                name,
                micros(percentile(sorted, 0.50)),
                micros(percentile(sorted, 0.99)),
                micros(mean(sorted)),
                micros(sorted.last().copied().unwrap_or_default()),
                sorted.len(),
                micros_per(sorted.iter().sum(), self.sample_events),
            );
        };
        line("fold", &self.sample_fold);
        line("derived values of the final state", &self.sample_derive);
        line(
            "fold + the projection's row after every event",
            &self.sample_projection,
        );
        println!(
            "the projection's per-event row costs {:.1}× the fold alone on the same tickets ({} rows)",
            self.sample_projection.iter().sum::<Duration>().as_secs_f64()
                / self.sample_fold.iter().sum::<Duration>().as_secs_f64().max(1e-9),
            self.projection_rows,
        );
    }

    fn add_checks(&self, checks: &mut Vec<Check>) {
        check(
            checks,
            "fold tickets/s",
            per_second(self.tickets, self.fold),
            Unit::PerSecond,
        );
        check(
            checks,
            "fold events/s",
            per_second(self.events, self.fold),
            Unit::PerSecond,
        );
        check(
            checks,
            "fold µs per ticket (mean over all)",
            micros_per(self.fold, self.tickets),
            Unit::Microseconds,
        );
        check(
            checks,
            "fold µs per ticket p50 (sample)",
            micros(percentile(&self.sample_fold, 0.50)),
            Unit::Microseconds,
        );
        check(
            checks,
            "fold µs per ticket p99 (sample)",
            micros(percentile(&self.sample_fold, 0.99)),
            Unit::Microseconds,
        );
        check(
            checks,
            "derived values µs per ticket (mean over all)",
            micros_per(self.derive, self.tickets),
            Unit::Microseconds,
        );
        check(
            checks,
            "  decode events/s (limit, same run)",
            per_second(self.decode_events, self.decode),
            Unit::PerSecond,
        );
        check(
            checks,
            "  seconds_between alone, µs per ticket (same run)",
            micros_per(self.calendar, self.tickets),
            Unit::Microseconds,
        );
        check(
            checks,
            "fold events/s / decode events/s",
            per_second(self.events, self.fold) / per_second(self.decode_events, self.decode),
            Unit::Ratio,
        );
    }

    fn to_json(&self) -> Value {
        let pass = |elapsed: Duration, events: u64| {
            json!({
                "seconds": elapsed.as_secs_f64(),
                "tickets_per_second": per_second(self.tickets, elapsed),
                "events_per_second": per_second(events, elapsed),
                "us_per_ticket": micros_per(elapsed, self.tickets),
                "us_per_event": micros_per(elapsed, events),
            })
        };
        json!({
            "tickets": self.tickets,
            "events": self.events,
            "generate_seconds": self.generate.as_secs_f64(),
            "event_mix": self.mix,
            "clock_states": self.clock_states,
            "tickets_without_clocks": self.tickets_without_clocks,
            "segments": self.segments,
            "json_bytes_per_event": self.json_bytes as f64 / self.json_sized_events.max(1) as f64,
            "fold": pass(self.fold, self.events),
            "derived_final_state": pass(self.derive, self.events),
            "derived_counts": {
                "clocks": self.derived.clocks,
                "running": self.derived.running,
                "due_times": self.derived.due_times,
                "warning_instants": self.derived.warning_instants,
                "pending_deadlines": self.derived.pending_deadlines,
            },
            "clocks_json": pass(self.clocks_json, self.events),
            "decode_limit": pass(self.decode, self.decode_events),
            "seconds_between_limit": pass(self.calendar, self.events),
            "running_segments": self.running_spans,
            "paused_segments": self.paused_segments,
            "local_days_counted": self.span_days,
            "sample": {
                "every": SAMPLE_EVERY,
                "events": self.sample_events,
                "fold": latency_json(&self.sample_fold),
                "derived_final_state": latency_json(&self.sample_derive),
                "fold_with_projection_rows": latency_json(&self.sample_projection),
                "projection_rows": self.projection_rows,
            },
            "calendar_profile": self.profile.to_json(),
            "row_profile": self.row_profile.to_json(),
        })
    }
}

fn state_name(state: ClockState) -> &'static str {
    match state {
        ClockState::Running => "running",
        ClockState::Paused => "paused",
        ClockState::Met => "met",
        ClockState::Stopped => "stopped",
    }
}

/// The local dates `seconds_between` visits for a span (both ends included).
fn local_days(calendar: &BusinessCalendar, from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    if to <= from {
        return 0;
    }
    let zone = calendar.time_zone();
    let (first, last) = (
        from.with_timezone(&zone).date_naive(),
        to.with_timezone(&zone).date_naive(),
    );
    (last - first).num_days() as u64 + 1
}

/// Where `seconds_between` spends its time, per local day it visits, over the spans of the
/// first chunks: the day's closing check alone (holidays of the state, closing days), the
/// holiday rule alone, and the whole day (`open_on`: closing check, then each interval's ends
/// converted from local time to UTC, into a new `Vec`).
#[derive(Debug, Default)]
struct CalendarProfile {
    spans: u64,
    days: u64,
    closed_days: u64,
    is_holiday: Duration,
    is_closed_day: Duration,
    open_on: Duration,
    seconds_between: Duration,
}

impl CalendarProfile {
    /// Spans profiled (the first chunks' are enough for a split).
    const SPANS_MAX: u64 = 200_000;

    fn measure(&mut self, calendar: &BusinessCalendar, spans: &[(DateTime<Utc>, DateTime<Utc>)]) {
        let zone = calendar.time_zone();
        let mut days = Vec::new();
        for (from, to) in spans.iter().filter(|(from, to)| to > from) {
            let mut day = from.with_timezone(&zone).date_naive();
            let last = to.with_timezone(&zone).date_naive();
            while day <= last {
                days.push(day);
                day = day.succ_opt().expect("dates do not run out");
            }
        }
        let time = |work: &dyn Fn(NaiveDate) -> usize| {
            let started = Instant::now();
            let total: usize = days.iter().map(|day| work(*day)).sum();
            (started.elapsed(), black_box(total))
        };
        let (is_holiday, _) = time(&|day| usize::from(is_holiday(CALENDAR_STATE, day)));
        let (is_closed_day, closed) = time(&|day| usize::from(calendar.is_closed_day(day)));
        let (open_on, _) = time(&|day| calendar.open_on(day).len());
        let started = Instant::now();
        for (from, to) in spans {
            black_box(calendar.seconds_between(*from, *to));
        }
        self.seconds_between += started.elapsed();
        self.is_holiday += is_holiday;
        self.is_closed_day += is_closed_day;
        self.open_on += open_on;
        self.spans += spans.len() as u64;
        self.days += days.len() as u64;
        self.closed_days += closed as u64;
    }

    fn print(&self) {
        println!();
        println!(
            "{:<66} {:>9} {:>10} {:>8}",
            format!(
                "profile: seconds_between over {} spans, {} local days",
                self.spans, self.days
            ),
            "seconds",
            "ns/day",
            "share"
        );
        println!("{}", "-".repeat(96));
        let whole = self.seconds_between.as_secs_f64().max(1e-9);
        let line = |name: &str, elapsed: Duration| {
            println!(
                "{:<66} {:>9.3} {:>10.1} {:>7.1} %",
                name,
                elapsed.as_secs_f64(),
                1e9 * elapsed.as_secs_f64() / self.days.max(1) as f64,
                100.0 * elapsed.as_secs_f64() / whole
            );
        };
        line("seconds_between (all of it)", self.seconds_between);
        line(
            "  open_on per day (closing check, local → UTC, Vec)",
            self.open_on,
        );
        line(
            "    of which is_closed_day (one-off, closing days, holidays)",
            self.is_closed_day,
        );
        line(
            "      of which holidays::is_holiday (the year's list built)",
            self.is_holiday,
        );
        line(
            "    the rest: intervals' ends local → UTC (chrono-tz), Vec",
            self.open_on.saturating_sub(self.is_closed_day),
        );
        line(
            "  the rest: span ends to local dates, clipping, sums",
            self.seconds_between.saturating_sub(self.open_on),
        );
        println!(
            "closed days among them: {} ({:.1} %)",
            self.closed_days,
            100.0 * self.closed_days as f64 / self.days.max(1) as f64
        );
    }

    fn to_json(&self) -> Value {
        let seconds = |elapsed: Duration| elapsed.as_secs_f64();
        json!({
            "spans": self.spans,
            "local_days": self.days,
            "closed_days": self.closed_days,
            "seconds": {
                "seconds_between": seconds(self.seconds_between),
                "open_on": seconds(self.open_on),
                "is_closed_day": seconds(self.is_closed_day),
                "is_holiday": seconds(self.is_holiday),
            },
        })
    }
}

/// The calendar work of closing running segments, repeated alone after an event.
#[derive(Clone, Copy, Debug, Default)]
struct Closes {
    closes: u64,
    late_check: Duration,
    seconds_between: Duration,
}

impl Closes {
    fn add(&mut self, other: Closes) {
        self.closes += other.closes;
        self.late_check += other.late_check;
        self.seconds_between += other.seconds_between;
    }

    /// For each clock whose running segment the event closed (open in `before`, closed in
    /// `after`): the late check `close` makes first (`due_at` of the clock as it was), then the
    /// segment's business seconds.
    fn again(before: &TicketClocks, after: &TicketClocks, config: &BenchConfig) -> Closes {
        let mut closed = Vec::new();
        for (clock, now) in before.clocks.iter().zip(&after.clocks) {
            let Some(last) = clock.segments.len().checked_sub(1) else {
                continue;
            };
            let (was, is) = (&clock.segments[last], now.segments.get(last));
            if let (true, None, Some(to)) = (was.running, was.to, is.and_then(|is| is.to)) {
                closed.push((clock, was.from, to));
            }
        }
        if closed.is_empty() {
            return Closes::default();
        }
        let started = Instant::now();
        for (clock, _, _) in &closed {
            black_box(clock.due_at(config));
        }
        let checked = Instant::now();
        let calendar = config.business_calendar();
        for (_, from, to) in &closed {
            black_box(calendar.seconds_between(*from, *to));
        }
        Closes {
            closes: closed.len() as u64,
            late_check: checked - started,
            seconds_between: checked.elapsed(),
        }
    }
}

/// Where the time goes on the sample tickets, event by event: `TicketClocks::apply` per event
/// type, and the projection's row after each event split into its parts, with
/// `BusinessCalendar::add` alone for the same instants (each `instant_of` is one `add` from the
/// open segment's start).
#[derive(Debug, Default)]
struct RowProfile {
    events: u64,
    rows: u64,
    /// Per event type: events, time in `apply`, and repeated alone for the running segments
    /// the event closed: `close`'s late check (`Clock::due_at` before closing) and
    /// `seconds_between` (the segment's business seconds).
    apply_by_type: BTreeMap<&'static str, (u64, Duration, Closes)>,
    apply: Duration,
    due_at: Duration,
    pending_deadlines: Duration,
    clocks_json: Duration,
    add: Duration,
    add_calls: u64,
    add_days: u64,
}

impl RowProfile {
    fn measure(&mut self, events: &[Timed], config: &BenchConfig) -> Result<()> {
        let mut clocks = TicketClocks::default();
        for (event, at) in events {
            let before = clocks.clone();
            let started = Instant::now();
            clocks.apply(event, *at, config);
            let applied = Instant::now();
            let closes = Closes::again(&before, &clocks, config);
            let entry = self.apply_by_type.entry(event.event_type()).or_default();
            entry.0 += 1;
            entry.1 += applied - started;
            entry.2.add(closes);
            self.apply += applied - started;
            self.events += 1;
            let clock = |metric| clocks.clocks.iter().find(|clock| clock.metric == metric);
            let (Some(first), Some(resolution)) =
                (clock(Metric::FirstResponse), clock(Metric::Resolution))
            else {
                continue;
            };
            let rowing = Instant::now();
            let due = (first.due_at(config), resolution.due_at(config));
            let dued = Instant::now();
            let next_deadline_at = clocks
                .clocks
                .iter()
                .flat_map(|clock| clock.pending_deadlines(config))
                .map(|(deadline, _)| deadline)
                .min();
            let deadlined = Instant::now();
            let stored = serde_json::to_value(&clocks)?;
            let serialized = Instant::now();
            black_box((due, next_deadline_at, stored));
            self.due_at += dued - rowing;
            self.pending_deadlines += deadlined - dued;
            self.clocks_json += serialized - deadlined;
            self.rows += 1;
            self.add_alone(&clocks, config.business_calendar());
        }
        Ok(())
    }

    /// Per running clock the row asks for four instants: its due time (the row's column), and
    /// in `pending_deadlines` each warning threshold and the breach (the due time again).
    fn add_alone(&mut self, clocks: &TicketClocks, calendar: &BusinessCalendar) {
        let mut calls = Vec::new();
        for clock in clocks
            .clocks
            .iter()
            .filter(|clock| clock.state == ClockState::Running)
        {
            let Some(segment) = clock.segments.last() else {
                continue;
            };
            let target = clock.target_seconds();
            let warnings = clock
                .warning_percent
                .iter()
                .map(|percent| (target * i64::from(*percent) + 99) / 100);
            for seconds in [target, target].into_iter().chain(warnings) {
                let left = seconds - clock.elapsed_seconds;
                if left > 0 {
                    calls.push((segment.from, left));
                }
            }
        }
        let started = Instant::now();
        let instants: Vec<Option<DateTime<Utc>>> = calls
            .iter()
            .map(|(from, left)| calendar.add(*from, *left))
            .collect();
        self.add += started.elapsed();
        self.add_calls += calls.len() as u64;
        for ((from, _), instant) in calls.iter().zip(black_box(instants)) {
            // `add` starts on the local day before `from`'s.
            self.add_days += instant.map_or(0, |at| local_days(calendar, *from, at) + 1);
        }
    }

    fn print(&self) {
        println!();
        println!(
            "{:<66} {:>9} {:>10} {:>8} {:>6} {:>12} {:>12}",
            format!(
                "profile: the sample's {} events, TicketClocks::apply by type",
                self.events
            ),
            "events",
            "ns/event",
            "share",
            "closes",
            "late ns/ev.",
            "s_b ns/ev."
        );
        println!("{}", "-".repeat(126));
        let apply = self.apply.as_secs_f64().max(1e-9);
        let per_event =
            |elapsed: Duration, count: u64| 1e9 * elapsed.as_secs_f64() / count.max(1) as f64;
        let mut total = Closes::default();
        for (name, (count, elapsed, closes)) in &self.apply_by_type {
            println!(
                "{:<66} {:>9} {:>10.0} {:>7.1} % {:>6} {:>12.0} {:>12.0}",
                name.trim_start_matches("ticket."),
                count,
                per_event(*elapsed, *count),
                100.0 * elapsed.as_secs_f64() / apply,
                closes.closes,
                per_event(closes.late_check, *count),
                per_event(closes.seconds_between, *count),
            );
            total.add(*closes);
        }
        println!(
            "of apply: {:.1} % close's late check (Clock::due_at: BusinessCalendar::add from the \
             segment's start up to the due time, {:.0} ns per close), {:.1} % seconds_between ({:.0} ns \
             per close); the rest, {:.0} ns per event, is the fold's own bookkeeping",
            100.0 * total.late_check.as_secs_f64() / apply,
            per_event(total.late_check, total.closes),
            100.0 * total.seconds_between.as_secs_f64() / apply,
            per_event(total.seconds_between, total.closes),
            per_event(
                self.apply.saturating_sub(total.late_check + total.seconds_between),
                self.events
            ),
        );
        println!();
        println!(
            "{:<66} {:>9} {:>10} {:>8}",
            format!(
                "profile: fold + the projection's row after each of {} events",
                self.events
            ),
            "seconds",
            "µs/event",
            "share"
        );
        println!("{}", "-".repeat(96));
        let whole = self.apply + self.due_at + self.pending_deadlines + self.clocks_json;
        let line = |name: &str, elapsed: Duration| {
            println!(
                "{:<66} {:>9.3} {:>10.3} {:>7.1} %",
                name,
                elapsed.as_secs_f64(),
                micros_per(elapsed, self.events),
                100.0 * elapsed.as_secs_f64() / whole.as_secs_f64().max(1e-9)
            );
        };
        line("TicketClocks::apply (the fold)", self.apply);
        line("due_at of both clocks (the row's columns)", self.due_at);
        line(
            "pending_deadlines of each clock (next_deadline_at)",
            self.pending_deadlines,
        );
        line("clocks → JSON (serde_json::to_value)", self.clocks_json);
        line("sum", whole);
        line(
            "  BusinessCalendar::add alone for the same instants",
            self.add,
        );
        println!(
            "rows {}; add calls {} ({:.1} per row), {:.1} local days visited per call, {:.0} ns per day",
            self.rows,
            self.add_calls,
            self.add_calls as f64 / self.rows.max(1) as f64,
            self.add_days as f64 / self.add_calls.max(1) as f64,
            1e9 * self.add.as_secs_f64() / self.add_days.max(1) as f64,
        );
    }

    fn to_json(&self) -> Value {
        let seconds = |elapsed: Duration| elapsed.as_secs_f64();
        let by_type: BTreeMap<&str, Value> = self
            .apply_by_type
            .iter()
            .map(|(name, (count, elapsed, closes))| {
                let value = json!({"events": count, "seconds": seconds(*elapsed),
                                   "running_segments_closed": closes.closes,
                                   "late_check_seconds": seconds(closes.late_check),
                                   "seconds_between_seconds": seconds(closes.seconds_between)});
                (*name, value)
            })
            .collect();
        json!({
            "events": self.events,
            "rows": self.rows,
            "apply_by_type": by_type,
            "seconds": {
                "apply": seconds(self.apply),
                "due_at": seconds(self.due_at),
                "pending_deadlines": seconds(self.pending_deadlines),
                "clocks_json": seconds(self.clocks_json),
                "calendar_add_alone": seconds(self.add),
            },
            "add_calls": self.add_calls,
            "add_local_days": self.add_days,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Section 2: the SLA projection rebuilt from PostgreSQL, against reading the same events.

async fn db_section(
    options: &Options,
    config: &BenchConfig,
    db: &TestDatabase,
    report: &mut Report,
) -> Result<()> {
    println!(
        "\n== db: {} tickets through TicketService::execute, then Runner::rebuild of SlaProjection ==",
        options.db_tickets
    );
    let postgres: String = sqlx::query_scalar(
        "SELECT current_setting('server_version') || ', shared_buffers=' || current_setting('shared_buffers')",
    )
    .fetch_one(&db.owner_pool)
    .await?;
    println!("PostgreSQL {postgres}; database {}", db.name);
    let pool = PgPoolOptions::new()
        .max_connections(DB_POOL_CONNECTIONS)
        .connect_with(db.app_options.clone())
        .await?;
    let result = db_in(options, config, db, &pool, report).await;
    pool.close().await;
    result
}

async fn db_in(
    options: &Options,
    config: &BenchConfig,
    db: &TestDatabase,
    pool: &PgPool,
    report: &mut Report,
) -> Result<()> {
    let master_key = MasterKey::generate();
    master_key.check_against(pool).await?;
    define(pool, Kind::Calendar, CALENDAR, calendar_definition()).await?;
    define(pool, Kind::SlaPolicy, DEFAULT_POLICY, policy_definition()).await?;
    let filled = fill(pool, &master_key, options.db_tickets).await?;
    let vacuum_started = Instant::now();
    sqlx::raw_sql("VACUUM (ANALYZE) events")
        .execute(&db.owner_pool)
        .await?;
    let vacuum = vacuum_started.elapsed();
    let stored = Stored::count(pool).await?;
    filled.print(&stored, vacuum);
    let load_before = load_context(pool).await;
    println!("load before: {load_before}");
    let read_before = read_pass(pool, PROJECTOR_BATCH).await?;
    let decrypted = decrypt_pass(pool, &master_key).await?;
    let decoded = decode_pass(pool, config).await?;
    let rebuilt = rebuild(pool, stored.events).await?;
    let read_after = read_pass(pool, PROJECTOR_BATCH).await?;
    let load_after = load_context(pool).await;
    let rows = ClockRows::count(pool, rebuilt.generation).await?;
    ensure!(
        rows.rows == stored.tickets,
        "the rebuild wrote {} clock rows for {} tickets",
        rows.rows,
        stored.tickets
    );
    let measured = DbMeasured {
        filled,
        stored,
        read_before,
        decrypted,
        decoded,
        rebuilt,
        read_after,
        rows,
    };
    measured.print();
    println!("load after: {load_after}");
    measured.add_checks(&mut report.checks);
    let mut json = measured.to_json();
    json["vacuum_seconds"] = json!(vacuum.as_secs_f64());
    json["load_before"] = load_before;
    json["load_after"] = load_after;
    report.sections.insert("db".into(), json);
    Ok(())
}

async fn define(pool: &PgPool, kind: Kind, name: &str, definition: Value) -> Result<()> {
    let admin = Actor {
        user: "admin".to_owned(),
        roles: vec!["admin".to_owned()],
    };
    let config_name =
        ConfigName::try_from(name.to_owned()).map_err(|error| anyhow!("{name}: {error}"))?;
    command_service::config::execute(
        pool,
        &admin,
        kind,
        &config_name,
        ConfigCommand::Define { definition },
        None,
        Uuid::new_v4(),
    )
    .await
    .map_err(|error| anyhow!("defining {name}: {error}"))?;
    Ok(())
}

#[derive(Debug)]
struct Filled {
    tickets: u64,
    commands: u64,
    events: u64,
    elapsed: Duration,
    first_at: DateTime<Utc>,
}

impl Filled {
    fn print(&self, stored: &Stored, vacuum: Duration) {
        println!(
            "filled {} tickets in {:.1} s by {FILL_TASKS} tasks ({} commands, {:.0} commands/s, {} \
             events appended); store: {} events, {} of them ticket events; vacuumed in {:.1} s",
            self.tickets,
            self.elapsed.as_secs_f64(),
            self.commands,
            per_second(self.commands, self.elapsed),
            self.events,
            stored.events,
            stored.ticket_events,
            vacuum.as_secs_f64(),
        );
        println!(
            "note: the stored timestamps are the fill's ({} onwards, seconds apart), not the \
             plan's, so the calendar work per event is not the fold section's",
            self.first_at.format("%Y-%m-%d %H:%M UTC")
        );
    }
}

async fn fill(pool: &PgPool, master_key: &MasterKey, tickets: u64) -> Result<Filled> {
    eprintln!("  filling {tickets} tickets …");
    let service = Arc::new(TicketService::new(
        pool.clone(),
        PersonalDataVault::new(master_key),
        TicketPolicy::default(),
        Arc::new(Metrics::default()),
    ));
    let done = Arc::new(AtomicU64::new(0));
    let first_at = Utc::now();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..FILL_TASKS {
        let (service, done) = (service.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            fill_task(&service, task, tickets, &done).await
        }));
    }
    let progress = {
        let done = done.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROGRESS_INTERVAL).await;
                let done = done.load(Ordering::Relaxed);
                eprintln!(
                    "  filled {done} of {tickets} tickets ({:.0}/s)",
                    per_second(done, started.elapsed())
                );
            }
        })
    };
    let (mut commands, mut events) = (0, 0);
    for task in tasks {
        let (task_commands, task_events) = task.await??;
        commands += task_commands;
        events += task_events;
    }
    progress.abort();
    Ok(Filled {
        tickets,
        commands,
        events,
        elapsed: started.elapsed(),
        first_at,
    })
}

/// Tickets `task`, `task + FILL_TASKS`, …: each opened and worked through its plan in order.
async fn fill_task(
    service: &TicketService,
    task: u64,
    tickets: u64,
    done: &AtomicU64,
) -> Result<(u64, u64)> {
    let (mut commands, mut events) = (0, 0);
    for index in (task..tickets).step_by(FILL_TASKS as usize) {
        let plan = plan(index)?;
        let number = service
            .next_ticket_number()
            .await
            .map_err(|error| anyhow!("ticket number: {error}"))?;
        let open = TicketCommand::Open {
            id: plan.id,
            number,
            ticket: plan.ticket,
        };
        events += execute(service, plan.id, open).await?;
        commands += 1;
        for step in plan.steps {
            events += execute(service, plan.id, step.command).await?;
            commands += 1;
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    Ok((commands, events))
}

async fn execute(service: &TicketService, ticket: TicketId, command: TicketCommand) -> Result<u64> {
    let name = command.name();
    let outcome = service
        .execute(CommandRequest {
            ticket,
            command,
            actor: Actor {
                user: "a.agentin".to_owned(),
                roles: vec!["agent".to_owned()],
            },
            expected_version: None,
            idempotency_key: None,
            correlation_id: Uuid::new_v4(),
            origin: "api".to_owned(),
            scope: None,
        })
        .await
        .map_err(|error| anyhow!("{name} on {ticket} failed: {error}"))?;
    Ok(outcome.events_appended as u64)
}

#[derive(Debug)]
struct Stored {
    events: u64,
    ticket_events: u64,
    tickets: u64,
}

impl Stored {
    async fn count(pool: &PgPool) -> Result<Stored> {
        let row = sqlx::query(
            "SELECT count(*) AS events, count(*) FILTER (WHERE stream_type = 'ticket') AS ticket_events, \
                    count(DISTINCT stream_id) FILTER (WHERE stream_type = 'ticket') AS tickets \
             FROM events",
        )
        .fetch_one(pool)
        .await?;
        Ok(Stored {
            events: row.try_get::<i64, _>("events")? as u64,
            ticket_events: row.try_get::<i64, _>("ticket_events")? as u64,
            tickets: row.try_get::<i64, _>("tickets")? as u64,
        })
    }
}

/// The projection's work without its writes, split: reads and decoding (without personal data,
/// as `SlaProjection` decodes), the fold in memory, the row after every event.
#[derive(Clone, Copy, Debug)]
struct Decoded {
    events: u64,
    elapsed: Duration,
    fold: Duration,
    rows: Duration,
}

impl Decoded {
    fn read_and_decode(&self) -> Pass {
        Pass {
            events: self.events,
            elapsed: self.elapsed.saturating_sub(self.fold + self.rows),
        }
    }

    fn with_fold(&self) -> Pass {
        Pass {
            events: self.events,
            elapsed: self.elapsed.saturating_sub(self.rows),
        }
    }

    fn with_rows(&self) -> Pass {
        Pass {
            events: self.events,
            elapsed: self.elapsed,
        }
    }
}

/// `read_after` in the projector's batches, each ticket event decoded as the projection does
/// (`codec::decode_without_personal_data`), folded into its ticket's clocks (the same
/// configuration, in memory), then the row computed.
async fn decode_pass(pool: &PgPool, config: &BenchConfig) -> Result<Decoded> {
    eprintln!("  read + decode + fold pass …");
    let mut clocks: HashMap<Uuid, TicketClocks> = HashMap::new();
    let (mut fold, mut rows) = (Duration::ZERO, Duration::ZERO);
    let started = Instant::now();
    let mut cursor = Cursor::START;
    let mut events = 0;
    loop {
        let batch = event_store::read_after(pool, cursor, PROJECTOR_BATCH).await?;
        let Some(last) = batch.last() else { break };
        cursor = last.cursor();
        events += batch.len() as u64;
        for stored in batch
            .iter()
            .filter(|stored| stored.stream_type == codec::STREAM_TYPE)
        {
            let event = codec::decode_without_personal_data(stored)?;
            let folding = Instant::now();
            let state = clocks.entry(stored.stream_id).or_default();
            state.apply(&event, stored.metadata.occurred_at, config);
            let folded = Instant::now();
            black_box(clock_row(state, config)?);
            fold += folded - folding;
            rows += folded.elapsed();
        }
    }
    Ok(Decoded {
        events,
        elapsed: started.elapsed(),
        fold,
        rows,
    })
}

/// For comparison: reads and the decoding that decrypts personal data (`codec::decode`, a
/// fresh vault: one key lookup per data subject), as readers that need personal data decode.
async fn decrypt_pass(pool: &PgPool, master_key: &MasterKey) -> Result<Pass> {
    eprintln!("  read + decrypting decode pass …");
    let vault = PersonalDataVault::new(master_key);
    let started = Instant::now();
    let mut cursor = Cursor::START;
    let mut events = 0;
    loop {
        let batch = event_store::read_after(pool, cursor, PROJECTOR_BATCH).await?;
        let Some(last) = batch.last() else { break };
        cursor = last.cursor();
        events += batch.len() as u64;
        for stored in batch
            .iter()
            .filter(|stored| stored.stream_type == codec::STREAM_TYPE)
        {
            black_box(codec::decode(pool, &vault, stored).await?);
        }
    }
    Ok(Pass {
        events,
        elapsed: started.elapsed(),
    })
}

#[derive(Debug)]
struct Rebuilt {
    generation: i32,
    pass: Pass,
}

/// `Runner::rebuild` of the SLA projection, timed from start to swap.
async fn rebuild(pool: &PgPool, events: u64) -> Result<Rebuilt> {
    let random = Uuid::new_v4().simple().to_string();
    let runner = Runner::new(
        RunnerSettings {
            pool: pool.clone(),
            batch_size: PROJECTOR_BATCH,
            lease_ttl: LEASE_TTL,
            poll_interval: POLL_INTERVAL,
            worker: format!("sla-bench-rebuild-{}", &random[..8]),
        },
        Arc::new(SlaProjection::new()),
        Arc::new(ProjectorMetrics::default()),
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
                    "  rebuilt {} of {events} events ({:.0}/s)",
                    checkpoint.events_applied,
                    checkpoint.events_applied as f64 / started.elapsed().as_secs_f64()
                );
            }
        })
        .await?;
    let elapsed = started.elapsed();
    let applied: i64 = sqlx::query_scalar(
        "SELECT events_applied FROM projection_checkpoints WHERE name = 'sla' AND generation = $1",
    )
    .bind(generation)
    .fetch_one(pool)
    .await?;
    ensure!(
        applied as u64 == events,
        "the rebuild applied {applied} events of {events}"
    );
    Ok(Rebuilt {
        generation,
        pass: Pass {
            events: applied as u64,
            elapsed,
        },
    })
}

/// The rebuilt generation's clock rows.
#[derive(Debug)]
struct ClockRows {
    rows: u64,
    by_resolution_state: BTreeMap<String, u64>,
    with_next_deadline: u64,
}

impl ClockRows {
    async fn count(pool: &PgPool, generation: i32) -> Result<ClockRows> {
        let states: Vec<(String, i64)> = sqlx::query_as(
            "SELECT resolution_state, count(*) FROM rm_sla_clocks WHERE generation = $1 \
             GROUP BY 1 ORDER BY 1",
        )
        .bind(generation)
        .fetch_all(pool)
        .await?;
        let with_next_deadline: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM rm_sla_clocks WHERE generation = $1 AND next_deadline_at IS NOT NULL",
        )
        .bind(generation)
        .fetch_one(pool)
        .await?;
        let by_resolution_state: BTreeMap<String, u64> = states
            .into_iter()
            .map(|(state, count)| (state, count as u64))
            .collect();
        Ok(ClockRows {
            rows: by_resolution_state.values().sum(),
            by_resolution_state,
            with_next_deadline: with_next_deadline as u64,
        })
    }
}

#[derive(Debug)]
struct DbMeasured {
    filled: Filled,
    stored: Stored,
    read_before: Pass,
    decrypted: Pass,
    decoded: Decoded,
    rebuilt: Rebuilt,
    read_after: Pass,
    rows: ClockRows,
}

impl DbMeasured {
    /// The limit: the mean rate of the `read_after` passes before and after.
    fn read_rate(&self) -> f64 {
        (self.read_before.rate() + self.read_after.rate()) / 2.0
    }

    fn rebuild_tickets_per_second(&self) -> f64 {
        per_second(self.stored.tickets, self.rebuilt.pass.elapsed)
    }

    fn print(&self) {
        println!();
        println!(
            "{:<62} {:>9} {:>8} {:>11} {:>10} {:>8}",
            format!(
                "{} events, {} tickets",
                self.stored.events, self.stored.tickets
            ),
            "events",
            "seconds",
            "events/s",
            "tickets/s",
            "/ read"
        );
        println!("{}", "-".repeat(113));
        let read_rate = self.read_rate();
        let line = |name: &str, pass: &Pass| {
            println!(
                "{:<62} {:>9} {:>8.2} {:>11.0} {:>10.0} {:>6.1} %",
                name,
                pass.events,
                pass.elapsed.as_secs_f64(),
                pass.rate(),
                per_second(self.stored.tickets, pass.elapsed),
                100.0 * pass.rate() / read_rate
            );
        };
        line("read_after, batches of 1,000 (before)", &self.read_before);
        line(
            "read_after + codec::decode_without_personal_data (as SLA)",
            &self.decoded.read_and_decode(),
        );
        line(
            "  + TicketClocks::apply (in memory)",
            &self.decoded.with_fold(),
        );
        line(
            "  + the projection's row after every event (no writes)",
            &self.decoded.with_rows(),
        );
        line(
            "Runner::rebuild of SlaProjection (read, decode, fold, write)",
            &self.rebuilt.pass,
        );
        line("read_after, batches of 1,000 (after)", &self.read_after);
        line(
            "for comparison: read_after + codec::decode (decrypting)",
            &self.decrypted,
        );
        println!(
            "rm_sla_clocks generation {}: {} rows; resolution clocks {}; {} with a next deadline; \
             read_after mean {read_rate:.0} events/s",
            self.rebuilt.generation,
            self.rows.rows,
            self.rows
                .by_resolution_state
                .iter()
                .map(|(state, count)| format!("{state} {count}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.rows.with_next_deadline,
        );
    }

    fn add_checks(&self, checks: &mut Vec<Check>) {
        check(
            checks,
            "SLA rebuild tickets/s (database)",
            self.rebuild_tickets_per_second(),
            Unit::PerSecond,
        );
        check(
            checks,
            "SLA rebuild events/s (database)",
            self.rebuilt.pass.rate(),
            Unit::PerSecond,
        );
        check(
            checks,
            "  read_after events/s (limit, same run)",
            self.read_rate(),
            Unit::PerSecond,
        );
        check(
            checks,
            "  read_after + decode (as SLA) events/s (same run)",
            self.decoded.read_and_decode().rate(),
            Unit::PerSecond,
        );
        check(
            checks,
            "SLA rebuild / read_after",
            self.rebuilt.pass.rate() / self.read_rate(),
            Unit::Ratio,
        );
    }

    fn to_json(&self) -> Value {
        json!({
            "tickets": self.stored.tickets,
            "events": self.stored.events,
            "ticket_events": self.stored.ticket_events,
            "fill": {
                "tickets": self.filled.tickets,
                "commands": self.filled.commands,
                "events_appended": self.filled.events,
                "seconds": self.filled.elapsed.as_secs_f64(),
                "tasks": FILL_TASKS,
                "first_at": self.filled.first_at,
            },
            "read_after_before": self.read_before.to_json(),
            "read_after_after": self.read_after.to_json(),
            "read_after_events_per_second_mean": self.read_rate(),
            "read_and_decrypting_decode": self.decrypted.to_json(),
            "read_and_decode": self.decoded.read_and_decode().to_json(),
            "read_decode_fold": self.decoded.with_fold().to_json(),
            "read_decode_fold_rows": self.decoded.with_rows().to_json(),
            "rebuild": self.rebuilt.pass.to_json(),
            "rebuild_tickets_per_second": self.rebuild_tickets_per_second(),
            "rebuild_over_read_after": self.rebuilt.pass.rate() / self.read_rate(),
            "generation": self.rebuilt.generation,
            "clock_rows": self.rows.rows,
            "resolution_states": self.rows.by_resolution_state,
            "rows_with_next_deadline": self.rows.with_next_deadline,
        })
    }
}
