//! The command line: `serve`, `migrate`, `token issue`, `events`, `projection`, `audit`,
//! `history`, `openapi`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Duration, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use command_service::codec::payload_of;
use event_store::crypto::{MasterKey, PersonalDataVault};
use event_store::hash::verify_stream;
use event_store::RecordedEvent;

use crate::config::{Config, CONFIG_HELP};
use crate::serve::Component;
use projector::metrics::ProjectorMetrics;
use std::sync::Arc;

/// ITSM backend: event-sourced tickets for public administrations.
#[derive(Debug, Parser)]
#[command(name = "itsm", version, after_long_help = CONFIG_HELP, after_help = "Run `itsm --help` for the configuration settings.")]
pub struct Cli {
    /// Configuration file (default: $ITSM_CONFIG, else ./itsm.toml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the command API, query API, projector and relay (all, or the `--only` ones) until
    /// Ctrl-C or SIGTERM.
    Serve {
        /// Run only this component (repeatable): command, query, projector, relay.
        #[arg(long, value_enum)]
        only: Vec<Component>,
        /// Listen on this address instead of `server.listen`.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Inspect and manage projections (read models).
    #[command(subcommand)]
    Projection(ProjectionCommand),
    /// Apply pending database migrations (as the owner role).
    Migrate,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print a ticket's event stream with metadata and verify its hash chain (exit 1 if broken).
    Events {
        /// Ticket id (UUID) or number (2026-000123).
        ticket: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Show personal data in plaintext instead of as stored (encrypted).
        #[arg(long)]
        decrypt: bool,
    },
    /// Auditors: verify the store, sign a checkpoint, export history, show the signing key.
    #[command(subcommand)]
    Audit(crate::audit_cli::AuditCommand),
    /// A ticket as it was at a past moment, or step by step through its events.
    #[command(subcommand)]
    History(crate::audit_cli::HistoryCommand),
    /// Business calendars: German public holidays per state.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Print the OpenAPI document of the whole HTTP API (commands and queries).
    Openapi,
    /// Import an inventory file into the CMDB.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Local user accounts (the first administrator, passwords).
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account with roles; with --password-stdin it can log in at once.
    Add {
        /// The login name (a-z 0-9 . _ -).
        name: String,
        /// Role(s): requester, agent, supervisor, asset_manager, auditor, admin.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The name shown (default: the login name).
        #[arg(long)]
        display_name: Option<String>,
        /// The organisation unit (an org-units configuration item).
        #[arg(long)]
        org_unit: Option<String>,
        /// Read the initial password (12 to 128 characters) from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set an account's password from the first line of stdin (ends its sessions).
    SetPassword { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import assets from a CSV or JSON file as one run of an inventory source: only real
    /// changes are written; prints the run's report (created, updated, unchanged, rejected rows).
    Assets {
        /// The file (`.json` is read as JSON, anything else as CSV).
        file: PathBuf,
        /// The inventory source (e.g. baramundi); the source owns the columns it delivers.
        #[arg(long)]
        source: String,
        /// Output format of the report.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectionCommand {
    /// Each projection's and the relay's generation, state, position and lag.
    Status,
    /// Build a new generation of a projection beside the serving one and swap it in when it has
    /// caught up (no downtime).
    Rebuild {
        /// The projection: tickets, sla, assets or identity.
        name: String,
    },
    /// Let a projection stopped at a poison event run again (after fixing the cause).
    Resume {
        /// The projection: tickets, sla, assets or identity.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Print a state's statutory public holidays of a year, one `YYYY-MM-DD name` per line.
    Holidays {
        /// The state: BW BY BE BB HB HH HE MV NI NW RP SL SN ST SH TH.
        #[arg(long)]
        state: domain::calendar::State,
        /// The year (1991 to 2399).
        #[arg(long)]
        year: i32,
    },
    /// Print the business minutes of a stored calendar between two instants (whole minutes).
    BusinessTime {
        /// The calendar's name (`PUT /api/v1/config/calendars/NAME`).
        #[arg(long)]
        calendar: String,
        /// From this RFC 3339 instant, e.g. 2026-11-23T08:00:00+01:00.
        #[arg(long)]
        from: chrono::DateTime<chrono::Utc>,
        /// To this RFC 3339 instant.
        #[arg(long)]
        to: chrono::DateTime<chrono::Utc>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token and print it (once; only its hash is stored).
    Issue {
        /// The user the token acts as (the actor of every event it causes).
        #[arg(long)]
        user: String,
        /// Role(s): requester, agent, supervisor, asset_manager, auditor, admin.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Days until the token expires, 1 to 3650 (default: never).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=TOKEN_DAYS_MAX))]
        expires_in_days: Option<u16>,
    },
    /// List tokens (id, user, roles, created, expires, revoked), newest first; never secrets.
    List {
        /// Only this user's tokens.
        #[arg(long)]
        user: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Revoke a token by its id (from `list`); it stops working at once.
    Revoke {
        /// The token's id.
        id: uuid::Uuid,
    },
}

/// Longest validity of a token, in days (ten years).
const TOKEN_DAYS_MAX: i64 = 3650;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Runs one command.
pub async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { only, listen } => {
            let master_key = master_key(&config)?;
            crate::serve::serve(config, master_key, only, listen, shutdown_signal()).await
        }
        Command::Projection(command) => projection(&config, command).await,
        Command::Migrate => migrate(&config).await,
        Command::Token(TokenCommand::Issue {
            user,
            roles,
            expires_in_days,
        }) => issue(&config, &user, &roles, expires_in_days).await,
        Command::Token(TokenCommand::List { user, format }) => {
            list_tokens(&config, user.as_deref(), format).await
        }
        Command::Token(TokenCommand::Revoke { id }) => revoke_token(&config, id).await,
        Command::Events {
            ticket,
            format,
            decrypt,
        } => events(&config, &ticket, format, decrypt).await,
        Command::Audit(command) => crate::audit_cli::audit(&config, command).await,
        Command::History(command) => crate::audit_cli::history(&config, command).await,
        Command::Calendar(CalendarCommand::Holidays { state, year }) => {
            let mut out = std::io::stdout().lock();
            for holiday in domain::calendar::holidays(state, year)? {
                writeln!(out, "{} {}", holiday.date, holiday.name)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Calendar(CalendarCommand::BusinessTime { calendar, from, to }) => {
            business_time(&config, &calendar, from, to).await
        }
        Command::Import(ImportCommand::Assets {
            file,
            source,
            format,
        }) => import_assets(&config, &file, &source, format).await,
        Command::User(command) => user(&config, command).await,
        Command::Openapi => {
            println!("{}", crate::serve::openapi().to_pretty_json()?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn projection(config: &Config, command: ProjectionCommand) -> anyhow::Result<ExitCode> {
    let pool = config
        .app_pool()
        .await
        .context("connecting to PostgreSQL")?;
    match command {
        ProjectionCommand::Status => {
            let rows = projector::status::status(&pool).await?;
            print!("{}", projector::status::render(&rows));
            Ok(ExitCode::SUCCESS)
        }
        ProjectionCommand::Rebuild { name } => {
            let master_key = master_key(config)?;
            master_key.check_against(&pool).await?;
            let metrics = Arc::new(ProjectorMetrics::default());
            let runner =
                crate::serve::runner_of(&name, config, pool.clone(), &master_key, metrics).await?;
            let started = std::time::Instant::now();
            let generation = runner
                .rebuild(|checkpoint| {
                    eprintln!(
                        "generation {}: {} events applied, at {}",
                        checkpoint.generation, checkpoint.events_applied, checkpoint.cursor
                    );
                })
                .await?;
            println!(
                "{name}: generation {generation} is active (rebuilt in {:.1} s)",
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        ProjectionCommand::Resume { name } => {
            let failed: Vec<i32> = projector::checkpoint::all(&pool)
                .await?
                .into_iter()
                .filter(|checkpoint| {
                    checkpoint.name == name
                        && checkpoint.state == projector::checkpoint::State::Failed
                })
                .map(|checkpoint| checkpoint.generation)
                .collect();
            if failed.is_empty() {
                println!("{name}: nothing is stopped");
            }
            for generation in failed {
                projector::checkpoint::resume(&pool, &name, generation).await?;
                println!("{name}: generation {generation} resumed");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn business_time(
    config: &Config,
    name: &str,
    from: chrono::DateTime<Utc>,
    to: chrono::DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    use domain::calendar::{BusinessCalendar, CalendarDefinition};
    use domain::config::Kind;
    anyhow::ensure!(from <= to, "--to must not be before --from");
    let pool = config
        .app_pool()
        .await
        .context("connecting to PostgreSQL")?;
    let configuration = command_service::config::load(&pool).await?;
    let definition = configuration
        .definition(Kind::Calendar, name)
        .ok_or_else(|| anyhow::anyhow!("no calendar {name:?} is defined"))?;
    let definition: CalendarDefinition = serde_json::from_value(definition.clone())
        .with_context(|| format!("calendar {name:?} as stored"))?;
    let calendar = BusinessCalendar::new(&definition)?;
    println!("{}", calendar.seconds_between(from, to) / 60);
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let interrupt = async { tokio::signal::ctrl_c().await.ok() };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}

pub(crate) fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    anyhow::ensure!(
        !config.crypto.master_key.expose().is_empty(),
        "crypto.master_key is not set (see `itsm --help`)"
    );
    MasterKey::from_base64(config.crypto.master_key.expose()).context("crypto.master_key")
}

async fn migrate(config: &Config) -> anyhow::Result<ExitCode> {
    let pool = config
        .owner_pool()
        .await
        .context("connecting to PostgreSQL as the owner")?;
    event_store::MIGRATOR
        .run(&pool)
        .await
        .context("migrating")?;
    println!("migrations applied");
    let defined = command_service::assets::seed_default_classes(&pool)
        .await
        .map_err(|error| anyhow::anyhow!("defining the default asset classes: {error}"))?;
    if defined > 0 {
        println!("{defined} default asset classes defined");
    }
    Ok(ExitCode::SUCCESS)
}

async fn import_assets(
    config: &Config,
    file: &std::path::Path,
    source: &str,
    format: Format,
) -> anyhow::Result<ExitCode> {
    use command_service::assets::{import, rows, service::Origin};
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let file_format = match file.extension().and_then(|extension| extension.to_str()) {
        Some(extension) if extension.eq_ignore_ascii_case("json") => rows::Format::Json,
        _ => rows::Format::Csv,
    };
    let pool = config.app_pool().await?;
    let source = import::source_name(source).map_err(|error| anyhow::anyhow!("{error}"))?;
    let origin = Origin {
        actor: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "operator".into())
        ),
        origin: "import",
        correlation_id: uuid::Uuid::new_v4(),
    };
    let report = import::run(
        &pool,
        config.cmdb.imports(),
        &origin,
        &source,
        file_format,
        &bytes,
    )
    .await
    .map_err(|error| anyhow::anyhow!("{}: {error}", error.code()))?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => {
            println!(
                "run {} of {}: {} rows, {} created, {} updated, {} unchanged, {} rejected, {} events written, {} missing ({} flagged)",
                report.run, report.source, report.rows, report.created, report.updated,
                report.unchanged, report.rejected, report.events_written, report.missing, report.flagged
            );
            for row in &report.rejected_rows {
                println!("  line {}: {} ({})", row.line, row.reason, row.code);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn issue(
    config: &Config,
    user: &str,
    roles: &[String],
    expires_in_days: Option<u16>,
) -> anyhow::Result<ExitCode> {
    // Operator commands other than `migrate` use the application role: least privilege.
    let pool = config
        .app_pool()
        .await
        .context("connecting to PostgreSQL")?;
    let expires_at = expires_in_days.map(|days| Utc::now() + Duration::days(i64::from(days)));
    let issued =
        command_service::tokens::issue(&pool, &operator(), user, roles, expires_at).await?;
    println!("{}", issued.token);
    Ok(ExitCode::SUCCESS)
}

/// The actor of an operator command: `cli:<login name>`.
fn operator() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "operator".into())
    )
}

fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn user(config: &Config, command: UserCommand) -> anyhow::Result<ExitCode> {
    use command_service::identity::{passwords, users};
    use domain::identity::{DisplayName, OrgUnit, Role, UserName};
    let pool = config
        .app_pool()
        .await
        .context("connecting to PostgreSQL")?;
    let problem =
        |error: command_service::error::ApiError| anyhow::anyhow!("{}: {error}", error.code());
    match command {
        UserCommand::Add {
            name,
            roles,
            display_name,
            org_unit,
            password_stdin,
        } => {
            let user_name = UserName::parse(&name).map_err(|error| anyhow::anyhow!("{error}"))?;
            let password = if password_stdin {
                let password = password_from_stdin()?;
                passwords::check(&password).map_err(|error| anyhow::anyhow!("{error}"))?;
                Some(password)
            } else {
                None
            };
            let roles = roles
                .iter()
                .map(|role| Role::parse(role))
                .collect::<Result<_, _>>()
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let command = domain::identity::UserCommand::Register {
                user_name: user_name.clone(),
                display_name: DisplayName::parse(display_name.as_deref().unwrap_or(&name))
                    .map_err(|error| anyhow::anyhow!("{error}"))?,
                email: None,
                roles,
                org_unit: org_unit
                    .as_deref()
                    .map(OrgUnit::parse)
                    .transpose()
                    .map_err(|error| anyhow::anyhow!("{error}"))?,
            };
            users::execute(
                &pool,
                &operator(),
                uuid::Uuid::new_v4(),
                &user_name,
                command,
            )
            .await
            .map_err(problem)?;
            if let Some(password) = password {
                passwords::set_password(&pool, &operator(), &user_name, &password)
                    .await
                    .map_err(problem)?;
            }
            println!("user {name} created");
        }
        UserCommand::SetPassword { name } => {
            let user_name = UserName::parse(&name).map_err(|error| anyhow::anyhow!("{error}"))?;
            let password = password_from_stdin()?;
            passwords::set_password(&pool, &operator(), &user_name, &password)
                .await
                .map_err(problem)?;
            println!("password of {name} set");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn list_tokens(
    config: &Config,
    user: Option<&str>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let pool = config
        .app_pool()
        .await
        .context("connecting to PostgreSQL")?;
    let tokens = command_service::tokens::list(&pool, user).await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&tokens)?),
        Format::Text => {
            for token in tokens {
                let state = match (token.revoked_at, token.expires_at) {
                    (Some(at), _) => format!("revoked {}", at.to_rfc3339()),
                    (None, Some(at)) if at <= Utc::now() => format!("expired {}", at.to_rfc3339()),
                    (None, Some(at)) => format!("expires {}", at.to_rfc3339()),
                    (None, None) => "no expiry".to_owned(),
                };
                println!(
                    "{}  {}  {}  {}",
                    token.id,
                    token.user,
                    token.roles.join(","),
                    state
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn revoke_token(config: &Config, id: uuid::Uuid) -> anyhow::Result<ExitCode> {
    let pool = config
        .app_pool()
        .await
        .context("connecting to PostgreSQL")?;
    let revoked = command_service::tokens::revoke(&pool, &operator(), id)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    if revoked {
        println!("token {id} revoked");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("no active token {id}");
        Ok(ExitCode::from(1))
    }
}

async fn events(
    config: &Config,
    ticket: &str,
    format: Format,
    decrypt: bool,
) -> anyhow::Result<ExitCode> {
    let pool = config
        .app_pool()
        .await
        .context("connecting to PostgreSQL")?;
    let stream = command_service::tickets::find_ticket(&pool, ticket)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{ticket:?} names no ticket (expected an id or a number like 2026-000123)"
            )
        })?
        .as_uuid();
    let mut events = event_store::read_stream(&pool, stream).await?;
    anyhow::ensure!(!events.is_empty(), "ticket {ticket} not found");
    let verdict = verify_stream(&events);
    command_service::audit_log::record(
        &pool,
        &crate::audit_cli::cli_actor(),
        "cli",
        uuid::Uuid::new_v4(),
        &command_service::audit_log::Access {
            action: "events",
            ticket: Some(stream),
            details: serde_json::json!({ "decrypt": decrypt, "events": events.len() }),
        },
    )
    .await
    .context("recording the use")?;
    if decrypt {
        let master_key = master_key(config)?;
        master_key.check_against(&pool).await?;
        let vault = PersonalDataVault::new(&master_key);
        for event in &mut events {
            let decoded = command_service::codec::decode(&pool, &vault, event).await?;
            event.payload = payload_of(&decoded);
        }
    }
    let mut out = std::io::stdout().lock();
    for event in &events {
        if let Err(error) = print_event(&mut out, event, format) {
            // `itsm events … | head` closes the pipe early: stop printing, still report the chain.
            let closed = error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
            if !closed {
                return Err(error);
            }
            break;
        }
    }
    match verdict {
        Ok(count) => {
            eprintln!("hash chain verified: {count} events");
            Ok(ExitCode::SUCCESS)
        }
        Err(broken) => {
            eprintln!("HASH CHAIN BROKEN: {broken}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_event(out: &mut impl Write, event: &RecordedEvent, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string(event)?)?,
        Format::Text => {
            let meta = &event.metadata;
            writeln!(
                out,
                "#{} {} v{}  {}  by {} via {}  at {}",
                event.stream_version,
                event.event_type,
                event.event_version,
                event.event_id,
                meta.actor,
                meta.origin,
                meta.occurred_at.to_rfc3339()
            )?;
            writeln!(
                out,
                "    position {}.{}  correlation {}  command {}",
                event.transaction_id, event.global_position, meta.correlation_id, meta.command_id
            )?;
            writeln!(
                out,
                "    hash {}  previous {}",
                hex_short(&event.hash),
                hex_short(&event.previous_hash)
            )?;
            writeln!(out, "    {}", serde_json::to_string(&event.payload)?)?;
        }
    }
    Ok(())
}

fn hex_short(hash: &[u8; 32]) -> String {
    hash.iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect::<String>()
        + "…"
}
