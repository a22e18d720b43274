//! The auditor's operator commands: `itsm audit verify|checkpoint|export|public-key` and
//! `itsm history show`. Every use is recorded as an `audit.accessed` event (actor `cli:<user>`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Subcommand;
use command_service::audit_log::{self, Access};
use event_store::audit::{self, CheckpointKey, Exporter, Selection};
use event_store::crypto::PersonalDataVault;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::cli::{master_key, Format};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify every event's hash, every stream's chain and every signed store checkpoint; exit 1
    /// and name the first broken link (stream, version, expected and found hash) if any.
    Verify {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Sign a store checkpoint over the events since the last one, now (`itsm serve` does this
    /// every `projector.audit_checkpoint_interval_s`).
    Checkpoint,
    /// Export history as JSON Lines with hash chain and checkpoints
    /// (schemas/audit-export.schema.json); without a selection: everything.
    Export {
        /// A ticket id or number (repeatable): its whole history.
        #[arg(long = "ticket")]
        tickets: Vec<String>,
        /// Only events recorded at or after this RFC 3339 time.
        #[arg(long)]
        from: Option<DateTime<Utc>>,
        /// Only events recorded before this RFC 3339 time.
        #[arg(long)]
        to: Option<DateTime<Utc>>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Print the public key (hex) the store checkpoints are signed with.
    PublicKey,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// A ticket as the store knew it at a past moment (default: now), rebuilt from its events.
    Show {
        /// Ticket id (UUID) or number (2026-000123).
        ticket: String,
        /// The moment (RFC 3339), e.g. 2026-11-23T14:05:00+01:00.
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
        /// Step through the events: each event with what it changed and the state after it.
        #[arg(long)]
        steps: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// The actor of a command-line use: `cli:<login name>`.
pub(crate) fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("cli:{user}")
}

async fn record(pool: &PgPool, access: Access) -> anyhow::Result<()> {
    audit_log::record(pool, &cli_actor(), "cli", Uuid::new_v4(), &access)
        .await
        .context("recording the use")
}

async fn ticket_stream(pool: &PgPool, text: &str) -> anyhow::Result<Uuid> {
    Ok(command_service::tickets::find_ticket(pool, text)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{text:?} names no ticket (expected an id or a number like 2026-000123)"
            )
        })?
        .as_uuid())
}

/// Runs `itsm audit …`.
pub async fn audit(config: &Config, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let master_key = master_key(config)?;
    let key = CheckpointKey::derive(&master_key);
    if let AuditCommand::PublicKey = command {
        println!("{}", hex::encode(key.public_key()));
        return Ok(ExitCode::SUCCESS);
    }
    let pool = config
        .app_pool()
        .await
        .context("connecting to PostgreSQL")?;
    master_key.check_against(&pool).await?;
    match command {
        AuditCommand::PublicKey => unreachable!("answered above"),
        AuditCommand::Verify { format } => {
            let started = std::time::Instant::now();
            let report = audit::verify_store(&pool, Some(&key.public_key()), |events| {
                if events % 1_000_000 < u64::from(audit::BATCH) {
                    eprintln!("{events} events verified …");
                }
            })
            .await?;
            let seconds = started.elapsed().as_secs_f64();
            record(
                &pool,
                Access {
                    action: "verify_store",
                    ticket: None,
                    details: json!({ "events": report.events, "problems": report.problem_count }),
                },
            )
            .await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                Format::Text => {
                    println!(
                        "{} events in {} streams, {} signed checkpoints, in {seconds:.1} s",
                        report.events, report.streams, report.checkpoints
                    );
                    match &report.anchored_through {
                        Some(cursor) => println!(
                            "anchored through {cursor}; {} events after the last checkpoint are chained per stream only",
                            report.unanchored_events
                        ),
                        None => println!("no checkpoint yet: `itsm audit checkpoint` signs one"),
                    }
                    for problem in &report.problems {
                        println!("BROKEN: {problem}");
                    }
                    if report.problem_count > report.problems.len() as u64 {
                        println!(
                            "… and {} more",
                            report.problem_count - report.problems.len() as u64
                        );
                    }
                }
            }
            if report.intact() {
                eprintln!("intact");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("TAMPERING DETECTED: {} problems", report.problem_count);
                Ok(ExitCode::FAILURE)
            }
        }
        AuditCommand::Checkpoint => {
            match audit::write_checkpoint(&pool, &key, Utc::now()).await? {
                Some(checkpoint) => println!(
                    "checkpoint {} signed: {} events through {}, root {}",
                    checkpoint.sequence,
                    checkpoint.event_count,
                    checkpoint.cursor(),
                    hex::encode(checkpoint.root_hash)
                ),
                None => println!("no new events since the last checkpoint"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export {
            tickets,
            from,
            to,
            output,
        } => {
            if let (Some(from), Some(to)) = (from, to) {
                anyhow::ensure!(from < to, "--to must be later than --from");
            }
            let mut streams = Vec::with_capacity(tickets.len());
            for ticket in &tickets {
                streams.push(ticket_stream(&pool, ticket).await?);
            }
            let selection = Selection { streams, from, to };
            record(
                &pool,
                Access {
                    action: "export",
                    ticket: None,
                    details: json!({ "selection": selection }),
                },
            )
            .await?;
            let mut exporter = Exporter::new(
                pool.clone(),
                selection,
                &cli_actor(),
                &key.public_key(),
                Utc::now(),
            )
            .await?;
            let mut out: Box<dyn Write> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            while let Some(chunk) = exporter.next_chunk().await? {
                out.write_all(&chunk)?;
            }
            out.flush()?;
            eprintln!("{} events exported", exporter.events());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs `itsm history …`.
pub async fn history(config: &Config, command: HistoryCommand) -> anyhow::Result<ExitCode> {
    let HistoryCommand::Show {
        ticket,
        as_of,
        steps,
        format,
    } = command;
    let master_key = master_key(config)?;
    let pool = config
        .app_pool()
        .await
        .context("connecting to PostgreSQL")?;
    master_key.check_against(&pool).await?;
    let stream = ticket_stream(&pool, &ticket).await?;
    let vault = PersonalDataVault::new(&master_key);
    let events = projector::as_of::events_until(&pool, &vault, stream, as_of).await?;
    record(
        &pool,
        Access {
            action: if steps { "history" } else { "as_of" },
            ticket: Some(stream),
            details: json!({ "as_of": as_of, "events": events.len() }),
        },
    )
    .await?;
    let mut out = std::io::stdout().lock();
    let mut failed: Option<std::io::Error> = None;
    let past = projector::as_of::replay(&events, |state| {
        if !steps || failed.is_some() {
            return;
        }
        if let Err(error) = print_step(&mut out, state, format) {
            failed = Some(error);
        }
    })?;
    if let Some(error) = failed {
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(error.into());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(past) = past else {
        anyhow::bail!(
            "ticket {ticket} did not exist{}",
            as_of.map_or(String::new(), |at| format!(" at {}", at.to_rfc3339()))
        );
    };
    if !steps {
        match format {
            Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&state_json(&past))?)?,
            Format::Text => print_state(&mut out, &past)?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn state_json(state: &projector::as_of::TicketAsOf) -> serde_json::Value {
    json!({
        "version": state.row.version,
        "last_event": {
            "event_id": state.last_event.event_id,
            "event_type": state.last_event.event_type,
            "recorded_at": state.last_event.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        },
        "ticket": state.row,
        "articles": state.articles.len(),
        "links": state.links.keys().collect::<Vec<_>>(),
    })
}

fn print_step(
    out: &mut impl Write,
    state: &projector::as_of::TicketAsOf,
    format: Format,
) -> std::io::Result<()> {
    match format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string(&state_json(state)).map_err(std::io::Error::other)?
        ),
        Format::Text => {
            let entry = state.history.last();
            writeln!(
                out,
                "#{} {}  by {} via {}  at {}",
                state.row.version,
                state.last_event.event_type,
                entry.map_or("?", |entry| entry.actor.as_str()),
                entry.map_or("?", |entry| entry.origin.as_str()),
                state
                    .last_event
                    .recorded_at
                    .to_rfc3339_opts(SecondsFormat::Millis, true)
            )?;
            if let Some(changes) = entry.and_then(|entry| entry.changes.as_array()) {
                for change in changes {
                    writeln!(
                        out,
                        "    {}: {} → {}",
                        change["field"].as_str().unwrap_or("?"),
                        change["from"],
                        change["to"]
                    )?;
                }
            }
            writeln!(
                out,
                "    now: status {}, priority {}, queue {}, assignee {}",
                state.row.status,
                state.row.priority,
                state.row.queue.as_deref().unwrap_or("-"),
                state.row.assignee.as_deref().unwrap_or("-")
            )
        }
    }
}

fn print_state(out: &mut impl Write, state: &projector::as_of::TicketAsOf) -> std::io::Result<()> {
    let row = &state.row;
    writeln!(
        out,
        "{} v{}  (last event {} at {})",
        row.number,
        row.version,
        state.last_event.event_type,
        state
            .last_event
            .recorded_at
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    )?;
    let optional = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    for (label, value) in [
        ("title", row.title.clone()),
        ("type", row.ticket_type.clone()),
        ("status", row.status.clone()),
        ("priority", row.priority.clone()),
        ("queue", optional(&row.queue)),
        ("assignee", optional(&row.assignee)),
        ("requester", row.requester_name.clone()),
        ("service", optional(&row.service_id)),
        ("tags", row.tags.join(", ")),
        ("articles", state.articles.len().to_string()),
        ("links", state.links.len().to_string()),
    ] {
        writeln!(out, "  {label:<10} {value}")?;
    }
    Ok(())
}
