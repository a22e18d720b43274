//! CMDB import benchmark (issue 5 §4): import 50,000 assets from one CSV file, re-import it
//! unchanged, then with 1 % of the rows changed; time, events written and peak memory of each
//! run, beside the physical limits measured in the same run.
//!
//! ```text
//! cargo bench --bench cmdb                    # 50,000 assets
//! cargo bench --bench cmdb -- --quick         # 5,000 assets (smoke run)
//! cargo bench --bench cmdb -- --assets 20000  # any size
//! ```
//!
//! The file is what an inventory tool such as baramundi exports: `;`-separated, one row per
//! device with external id, class (60 % computer, 25 % notebook, 10 % monitor, 5 % printer),
//! name, inventory and serial number, location (600 sites), user, cost centre and 7 to 9
//! attributes (manufacturer, model, operating system, CPU, RAM, disk, IP and MAC address,
//! encryption) — about 200 bytes a row. Every run goes through `command_service::assets::import::run`,
//! the function behind `POST /api/v1/imports` and `itsm import assets`, against a fresh database
//! of its own (found like the tests find it), dropped at the end.
//!
//! Limits, same run, same database: **raw INSERT** — single-row `INSERT INTO events` of as many
//! `asset.registered` payloads as the first import wrote (stream type `bench_raw`, so the asset
//! streams stay as the imports left them), 16 in flight (the import's own concurrency); **read
//! assets** — `import::load_assets` alone (the read and fold every re-import starts with).
//! Peak memory: the process's resident high-water mark (`VmHWM`), reset before each run by
//! writing `5` to `/proc/self/clear_refs`; the file itself is part of it.
//!
//! Output: a table on stdout and `target/bench/cmdb.json`.

mod support;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use chrono::Utc;
use command_service::assets::import::{self, ImportReport, ImportSettings};
use command_service::assets::rows::Format;
use command_service::assets::service::Origin;
use futures_util::StreamExt;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use support::{cores, fresh_database, load_context, number_arg, per_second, pool_of, remove};

const USAGE: &str = "usage: cargo bench --bench cmdb -- [--quick] [--assets N]";
/// Targets of the issue.
const FIRST_IMPORT_S_MAX: f64 = 60.0;
const UNCHANGED_IMPORT_S_MAX: f64 = 15.0;
/// Connections of the benchmark's pool: the import's appends in flight, its lock, one spare.
const POOL_CONNECTIONS: u32 = import::APPENDS_IN_FLIGHT_MAX as u32 + 2;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut assets = 50_000u64;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--quick" => assets = 5_000,
            "--assets" => {
                let value = number_arg(args.next(), "--assets")?;
                ensure!(value >= 100.0, "--assets must be at least 100");
                assets = value as u64;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    println!("cmdb benchmark: {assets} assets, {} cores", cores());
    let db = fresh_database().await;
    let result = run(&db, assets).await;
    remove(db).await;
    let report = result?;
    std::fs::create_dir_all("target/bench")?;
    std::fs::write(
        "target/bench/cmdb.json",
        serde_json::to_string_pretty(&report)?,
    )?;
    println!("\nwritten to target/bench/cmdb.json");
    Ok(())
}

async fn run(db: &event_store::testing::TestDatabase, assets: u64) -> Result<Value> {
    let pool = pool_of(&db.app_options, POOL_CONNECTIONS).await?;
    command_service::assets::seed_default_classes(&pool)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let first_file = inventory(assets, |_| false);
    let changed_file = inventory(assets, |index| index % 100 == 7);
    println!(
        "file: {} rows, {:.1} MB",
        assets,
        first_file.len() as f64 / 1e6
    );
    let context_before = load_context(&pool).await;
    let mut runs = Vec::new();
    for (name, file) in [
        ("first import", &first_file),
        ("unchanged re-import", &first_file),
        ("1 % changed", &changed_file),
    ] {
        let run = timed_import(&pool, name, file).await?;
        runs.push(run);
    }
    let first_events = runs[0].report.events_written;
    let raw = raw_inserts(&pool, first_events).await?;
    let read = timed_read(&pool).await?;
    print_table(&runs, raw, read, first_events);
    let checks = checks(&runs, assets);
    for (check, passed) in &checks {
        println!("{} {check}", if *passed { "PASS" } else { "FAIL" });
    }
    Ok(json!({
        "assets": assets,
        "file_bytes": first_file.len(),
        "cores": cores(),
        "machine": context_before,
        "runs": runs.iter().map(Run::json).collect::<Vec<_>>(),
        "raw_insert": {"events": first_events, "seconds": raw.as_secs_f64(), "events_per_s": per_second(first_events, raw)},
        "read_assets": {"seconds": read.as_secs_f64()},
        "checks": checks.iter().map(|(check, passed)| json!({"check": check, "passed": passed})).collect::<Vec<_>>(),
    }))
}

struct Run {
    name: &'static str,
    elapsed: Duration,
    peak_rss_kib: Option<u64>,
    report: ImportReport,
}

impl Run {
    fn json(&self) -> Value {
        json!({
            "run": self.name,
            "seconds": self.elapsed.as_secs_f64(),
            "peak_rss_mib": self.peak_rss_kib.map(|kib| kib as f64 / 1024.0),
            "rows_per_s": per_second(self.report.rows, self.elapsed),
            "created": self.report.created,
            "updated": self.report.updated,
            "unchanged": self.report.unchanged,
            "rejected": self.report.rejected,
            "events_written": self.report.events_written,
        })
    }
}

async fn timed_import(pool: &PgPool, name: &'static str, file: &str) -> Result<Run> {
    eprintln!("{name} …");
    let origin = Origin {
        actor: "bench".to_owned(),
        origin: "import",
        correlation_id: Uuid::new_v4(),
    };
    let source = import::source_name("baramundi").map_err(|error| anyhow::anyhow!("{error}"))?;
    let reset = reset_peak_rss();
    let started = Instant::now();
    let report = import::run(
        pool,
        ImportSettings {
            missing_runs_flag: 3,
        },
        &origin,
        &source,
        Format::Csv,
        file.as_bytes(),
    )
    .await
    .map_err(|error| anyhow::anyhow!("{name}: {error}"))?;
    let elapsed = started.elapsed();
    Ok(Run {
        name,
        elapsed,
        peak_rss_kib: reset.then(peak_rss_kib).flatten(),
        report,
    })
}

/// Resets the resident high-water mark (Linux ≥ 4.0); false where that is not allowed.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The inventory file; rows for which `changed` holds differ in RAM or location.
fn inventory(assets: u64, changed: impl Fn(u64) -> bool) -> String {
    let mut file = String::with_capacity(assets as usize * 220);
    file.push_str("external_id;class;name;inventory_number;serial_number;location;user;cost_centre;manufacturer;model;operating_system;cpu;ram_gb;disk_gb;ip_address;mac_address;encrypted\n");
    for index in 0..assets {
        let mix = index % 20;
        let (class, prefix) = match mix {
            0..=11 => ("computer", "PC"),
            12..=16 => ("notebook", "NB"),
            17..=18 => ("monitor", "MON"),
            _ => ("printer", "DR"),
        };
        let computing = matches!(class, "computer" | "notebook");
        let bump = changed(index);
        let ram = if bump { 64 } else { 8 << (index % 3) };
        let site = (index * 7919) % 600;
        let location = if bump && index % 200 == 7 {
            format!("S{site:03}-NEU")
        } else {
            format!("S{site:03}-R{:03}", index % 250)
        };
        let computing_cells = if computing {
            format!(
                "Windows 11 Enterprise;Intel Core i5-{};{ram};{};10.{}.{}.{};00:1A:2B:{:02X}:{:02X}:{:02X};ja",
                10_000 + index % 4_000,
                256 << (index % 2),
                index / 65_536 % 256,
                index / 256 % 256,
                index % 256,
                index / 65_536 % 256,
                index / 256 % 256,
                index % 256,
            )
        } else {
            ";;;;;;".to_owned()
        };
        file.push_str(&format!(
            "BM-{index:07};{class};{prefix}-{index:06};INV-{index:07};SN{:010};{location};user{:05};KST-{:04};Fujitsu;Esprimo Q{};{computing_cells}\n",
            index * 2_654_435_761 % 10_000_000_000,
            index % 32_000,
            index % 250,
            900 + index % 100,
        ));
    }
    file
}

const RAW_INSERT_SQL: &str = "INSERT INTO events (event_id, stream_type, stream_id, stream_version, event_type, \
    event_version, payload, actor, occurred_at, origin, correlation_id, causation_id, command_id, \
    previous_hash, hash) VALUES ($1, 'bench_raw', $2, 1, 'asset.registered', 1, $3, 'bench', $4, 'import', $5, $5, $5, $6, $6)";

/// Single-row inserts of `events` copies of a stored `asset.registered`, 16 in flight.
async fn raw_inserts(pool: &PgPool, events: u64) -> Result<Duration> {
    eprintln!("raw inserts …");
    let payload: Value = sqlx::query_scalar(
        "SELECT payload FROM events WHERE event_type = 'asset.registered' LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .context("a template event")?;
    let started = Instant::now();
    let results: Vec<Result<(), sqlx::Error>> = futures_util::stream::iter(0..events)
        .map(|_| {
            let payload = payload.clone();
            async move {
                let id = Uuid::new_v4();
                sqlx::query(RAW_INSERT_SQL)
                    .bind(id)
                    .bind(Uuid::new_v4())
                    .bind(payload)
                    .bind(Utc::now())
                    .bind(Uuid::new_v4())
                    .bind([7u8; 32].as_slice())
                    .execute(pool)
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(import::APPENDS_IN_FLIGHT_MAX)
        .collect()
        .await;
    let elapsed = started.elapsed();
    results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(elapsed)
}

async fn timed_read(pool: &PgPool) -> Result<Duration> {
    let started = Instant::now();
    import::load_assets(pool).await?;
    Ok(started.elapsed())
}

fn print_table(runs: &[Run], raw: Duration, read: Duration, raw_events: u64) {
    println!(
        "\n{:<22} {:>9} {:>10} {:>8} {:>8} {:>10} {:>9} {:>7} {:>10}",
        "run",
        "seconds",
        "rows/s",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "events",
        "peak MiB"
    );
    for run in runs {
        println!(
            "{:<22} {:>9.2} {:>10.0} {:>8} {:>8} {:>10} {:>9} {:>7} {:>10}",
            run.name,
            run.elapsed.as_secs_f64(),
            per_second(run.report.rows, run.elapsed),
            run.report.created,
            run.report.updated,
            run.report.unchanged,
            run.report.rejected,
            run.report.events_written,
            run.peak_rss_kib.map_or("n/a".to_owned(), |kib| format!(
                "{:.0}",
                kib as f64 / 1024.0
            )),
        );
    }
    println!(
        "limit: raw INSERT of {raw_events} events {:.2} s ({:.0} events/s); first import {:.0} % of it",
        raw.as_secs_f64(),
        per_second(raw_events, raw),
        100.0 * raw.as_secs_f64() / runs[0].elapsed.as_secs_f64(),
    );
    println!(
        "limit: reading and folding every asset alone {:.2} s; unchanged re-import {:.2} s",
        read.as_secs_f64(),
        runs[1].elapsed.as_secs_f64(),
    );
}

fn checks(runs: &[Run], assets: u64) -> Vec<(String, bool)> {
    let changed = assets.div_ceil(100);
    vec![
        (
            format!("first import ≤ {FIRST_IMPORT_S_MAX} s ({:.2} s)", runs[0].elapsed.as_secs_f64()),
            runs[0].elapsed.as_secs_f64() <= FIRST_IMPORT_S_MAX && runs[0].report.created == assets,
        ),
        (
            format!(
                "unchanged re-import ≤ {UNCHANGED_IMPORT_S_MAX} s with 0 events ({:.2} s, {} events)",
                runs[1].elapsed.as_secs_f64(),
                runs[1].report.events_written
            ),
            runs[1].elapsed.as_secs_f64() <= UNCHANGED_IMPORT_S_MAX
                && runs[1].report.events_written == 0,
        ),
        (
            format!(
                "1 % changed writes one event per changed asset ({} of {changed})",
                runs[2].report.events_written
            ),
            runs[2].report.events_written == changed && runs[2].report.updated == changed,
        ),
    ]
}
