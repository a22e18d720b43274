//! Executing ticket commands: load (or take from the cache), decide, append, retry.
//!
//! Commands on one ticket are serialised in this process by a per-ticket lock, and the ticket's
//! state, version and last hash stay cached after each append. So a hot ticket (a major incident
//! that many agents update at once) costs one append per command instead of a storm of
//! load-decide-conflict loops, and a ticket with 10,000 events is not re-read per command.
//! Other processes may still append; their writes surface as a version conflict (or, before a
//! refusal or no-op is answered, as newer events), after which the cached state catches up with
//! the newer events only and the command is decided again (bounded by `APPEND_ATTEMPTS_MAX`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{Datelike, Duration, Utc};
use domain::access::{right_for_command, QueueRight, Scope};
use domain::asset::AssetId;
use domain::ticket::{Ticket, TicketCommand, TicketId, TicketNumber, TicketPolicy};
use event_store::crypto::PersonalDataVault;
use event_store::hash::GENESIS;
use event_store::{
    append, processed_command, read_stream_after, AppendRequest, Cursor, Metadata, StoreError,
    StoredResult,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::aggregate::{decide_on, Decide, TicketAggregate};
use crate::auth::Actor;
use crate::codec::{self, STREAM_TYPE};
use crate::error::ApiError;
use crate::metrics::{CommandLabels, Metrics};

/// How often a command is decided again after losing a race against another process. Each lost
/// race means another process applied a command to this ticket, and each process applies its
/// queued commands on the ticket one after the other with a warm cache while the loser reloads;
/// so the bound must exceed the commands the other processes may have queued on one hot ticket
/// (two processes with 16 concurrent commands each lose up to ~16 times in a row).
const APPEND_ATTEMPTS_MAX: usize = 64;
/// Tickets whose state stays cached; idle ones are evicted beyond this.
const CACHED_TICKETS_MAX: usize = 50_000;
/// The head of an asset's stream: an asset exists when its stream has an event.
const ASSET_VERSION_SQL: &str = "SELECT stream_version FROM events \
     WHERE stream_type = 'asset' AND stream_id = $1 ORDER BY stream_version DESC LIMIT 1";
/// Namespace of command ids derived from `Idempotency-Key`s.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6f0c_5d1e_9a4b_4c7e_8d21_3b5a_7e90_c412);

/// A command as it arrives from the API, with who sent it and under which conditions.
#[derive(Debug)]
pub struct CommandRequest {
    pub ticket: TicketId,
    pub command: TicketCommand,
    pub actor: Actor,
    pub expected_version: Option<u64>,
    pub idempotency_key: Option<String>,
    pub correlation_id: Uuid,
    pub origin: String,
    /// The caller's rights per queue (`crate::access`); `None` for the system's own commands.
    pub scope: Option<std::sync::Arc<domain::access::Scope>>,
}

/// What a command did.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandOutcome {
    pub ticket: TicketId,
    pub number: Option<TicketNumber>,
    pub version: u64,
    /// Position of the last event written (or of the state the command saw, if it changed nothing).
    pub cursor: Option<Cursor>,
    pub events_appended: usize,
    /// True when this was a retry of a command applied before.
    pub replayed: bool,
}

#[derive(Clone, Debug)]
struct Loaded {
    state: TicketAggregate,
    version: u64,
    last_hash: [u8; 32],
}

impl Loaded {
    fn empty() -> Loaded {
        Loaded {
            state: TicketAggregate::default(),
            version: 0,
            last_hash: GENESIS,
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Loaded>>>;

/// Decides and appends ticket commands.
#[derive(Debug)]
pub struct TicketService {
    pool: PgPool,
    vault: PersonalDataVault,
    policy: TicketPolicy,
    slots: Mutex<HashMap<TicketId, Slot>>,
    metrics: Arc<Metrics>,
    /// Notified after every append, so that a projector or relay in this process wakes at once.
    appended: Arc<tokio::sync::Notify>,
}

impl TicketService {
    /// A service appending to `pool`'s store.
    pub fn new(
        pool: PgPool,
        vault: PersonalDataVault,
        policy: TicketPolicy,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            pool,
            vault,
            policy,
            slots: Mutex::new(HashMap::new()),
            metrics,
            appended: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Notified after every append (wakes the projector and relay of an all-in-one process).
    pub fn appended(&self) -> Arc<tokio::sync::Notify> {
        self.appended.clone()
    }

    /// Executes a command, measuring it.
    #[tracing::instrument(skip_all, fields(ticket.id = %request.ticket, command = request.command.name()))]
    pub async fn execute(&self, request: CommandRequest) -> Result<CommandOutcome, ApiError> {
        let started = Instant::now();
        let command = request.command.name();
        let result = self.execute_unmeasured(request).await;
        self.metrics
            .command_duration_seconds
            .observe(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(outcome) if outcome.replayed => "replayed",
            Ok(_) => "ok",
            Err(error) => error.code(),
        };
        self.metrics
            .commands
            .get_or_create(&CommandLabels { command, outcome })
            .inc();
        result
    }

    async fn execute_unmeasured(
        &self,
        request: CommandRequest,
    ) -> Result<CommandOutcome, ApiError> {
        let identity = CommandIdentity::of(&request);
        let slot = self.slot(request.ticket);
        let mut cached = slot.lock().await;
        // Checked under the lock, so a concurrent retry that waited for it sees the first result.
        if let Some(outcome) = self.applied_before(&identity).await? {
            return Ok(outcome);
        }
        self.check_target(&request.command).await?;
        for _ in 0..APPEND_ATTEMPTS_MAX {
            let loaded = match cached.take() {
                Some(loaded) => loaded,
                None => self.catch_up(&request, Loaded::empty()).await?,
            };
            match self
                .attempt(&request, &identity, loaded, &mut cached)
                .await?
            {
                Attempt::Done(outcome) => return Ok(outcome),
                Attempt::Conflict(stale) => {
                    self.metrics.version_conflicts.inc();
                    *cached = Some(self.catch_up(&request, *stale).await?);
                }
            }
        }
        Err(ApiError::Contention)
    }

    /// The first result of a command sent again with the same `Idempotency-Key`; a different
    /// request under the same key is refused.
    async fn applied_before(
        &self,
        identity: &CommandIdentity,
    ) -> Result<Option<CommandOutcome>, ApiError> {
        if identity.fingerprint.is_none() {
            // A command without an Idempotency-Key has a fresh random id: never applied before.
            return Ok(None);
        }
        match processed_command(&self.pool, identity.command_id).await? {
            Some(stored) => replayed(stored, identity).map(Some),
            None => Ok(None),
        }
    }

    /// The ticket a `merge` or `link` points at must exist; a merge target must still be open.
    /// The asset a `link_asset` names must exist.
    async fn check_target(&self, command: &TicketCommand) -> Result<(), ApiError> {
        let (target, merging) = match command {
            TicketCommand::Merge { into } => (*into, true),
            TicketCommand::Link { target, .. } => (*target, false),
            TicketCommand::LinkAsset { asset_id } => return self.check_asset(*asset_id).await,
            _ => return Ok(()),
        };
        let target = self.catch_up_stream(target, Loaded::empty()).await?;
        match target.state.0.status() {
            None => Err(ApiError::TargetTicketNotFound {
                field: if merging { "into" } else { "target" },
            }),
            Some(status) if merging && status.is_terminal() => Err(ApiError::MergeTargetFinished),
            Some(_) => Ok(()),
        }
    }

    /// An asset exists when its stream (of type `asset`) has an event. Unlinking needs no such
    /// check: the ticket knows which assets it names.
    async fn check_asset(&self, asset: AssetId) -> Result<(), ApiError> {
        let head: Option<i64> = sqlx::query_scalar(ASSET_VERSION_SQL)
            .bind(asset.0)
            .fetch_optional(&self.pool)
            .await?;
        match head {
            Some(_) => Ok(()),
            None => Err(ApiError::TargetAssetNotFound { field: "asset_id" }),
        }
    }

    /// One decide-and-append round; leaves the new state in `cached` on success, hands the
    /// stale state back after a conflict, and leaves nothing (forcing a reload) after a failure.
    async fn attempt(
        &self,
        request: &CommandRequest,
        identity: &CommandIdentity,
        loaded: Loaded,
        cached: &mut Option<Loaded>,
    ) -> Result<Attempt, ApiError> {
        let loaded = self.check_expected_version(request, loaded).await?;
        let now = Utc::now();
        let command = Decide {
            command: request.command.clone(),
            now,
        };
        let decided = match authorize_on(request, &loaded.state.0) {
            Ok(()) => decide_on(&loaded.state, command, &self.policy)
                .await
                .map_err(ApiError::Rule),
            Err(error) => Err(error),
        };
        let (events, next) = match decided {
            Ok((events, next)) if !events.is_empty() => (events, next),
            refused_or_unchanged => {
                return self
                    .settle_without_append(request, identity, loaded, refused_or_unchanged, cached)
                    .await
            }
        };
        // The data subject's key is looked up only when an event carries personal data.
        let subject = match events.iter().any(|event| !event.personal_data().is_empty()) {
            true => Some(
                self.vault
                    .subject_for(&self.pool, &subject_identifier(request, &next.0))
                    .await?,
            ),
            false => None,
        };
        let actor = request.actor.user.clone();
        let command_id = identity.command_id;
        let metadata = Metadata::new(
            actor,
            now,
            request.origin.clone(),
            request.correlation_id,
            command_id,
            command_id,
        );
        let number = next.0.number();
        let append_request = AppendRequest {
            stream_type: STREAM_TYPE,
            stream_id: request.ticket.as_uuid(),
            expected_version: loaded.version,
            previous_hash: loaded.last_hash,
            metadata: &metadata,
            events: codec::encode(&events, &self.vault, subject.as_ref())?,
            result: json!({ "number": number.map(|number| number.to_string()), "request": identity.fingerprint }),
        };
        match append(&self.pool, append_request).await {
            Ok(appended) => {
                self.metrics.events_appended.inc_by(events.len() as u64);
                self.appended.notify_waiters();
                let (version, cursor) = (appended.stored.last_version, appended.stored.cursor);
                *cached = Some(Loaded {
                    state: next,
                    version,
                    last_hash: appended.last_hash,
                });
                let events_appended = events.len();
                let outcome = CommandOutcome {
                    ticket: request.ticket,
                    number,
                    version,
                    cursor: Some(cursor),
                    events_appended,
                    replayed: false,
                };
                Ok(Attempt::Done(outcome))
            }
            Err(error) => {
                self.append_failed(request, identity, loaded, error, cached)
                    .await
            }
        }
    }

    /// A refusal or a no-op decided on a cached state is only final if the state is current:
    /// another process may have appended meanwhile (then decide again), or applied this very
    /// command (then answer with its first result).
    async fn settle_without_append(
        &self,
        request: &CommandRequest,
        identity: &CommandIdentity,
        loaded: Loaded,
        decided: Result<(Vec<domain::ticket::TicketEvent>, TicketAggregate), ApiError>,
        cached: &mut Option<Loaded>,
    ) -> Result<Attempt, ApiError> {
        let version = loaded.version;
        let fresh = self.catch_up(request, loaded).await?;
        if fresh.version != version {
            return Ok(Attempt::Conflict(Box::new(fresh)));
        }
        let outcome = unchanged(request.ticket, &fresh);
        *cached = Some(fresh);
        if let Some(outcome) = self.applied_before(identity).await? {
            return Ok(Attempt::Done(outcome));
        }
        decided.map(|_| Attempt::Done(outcome))
    }

    /// After a failed append: a lost race is retried (or, with `If-Match`, a 412); a duplicate
    /// command id answers with the first result; anything else is a failure.
    async fn append_failed(
        &self,
        request: &CommandRequest,
        identity: &CommandIdentity,
        loaded: Loaded,
        error: StoreError,
        cached: &mut Option<Loaded>,
    ) -> Result<Attempt, ApiError> {
        match error {
            StoreError::VersionConflict { .. } if request.expected_version.is_some() => {
                let expected = loaded.version;
                let fresh = self.catch_up(request, loaded).await?;
                let current = fresh.version;
                *cached = Some(fresh);
                Err(ApiError::StaleVersion { expected, current })
            }
            StoreError::VersionConflict { .. } => Ok(Attempt::Conflict(Box::new(loaded))),
            StoreError::DuplicateCommand(stored) => replayed(*stored, identity).map(Attempt::Done),
            error => Err(error.into()),
        }
    }

    /// With `If-Match`, the command applies only to the version the client saw. A cached state
    /// that disagrees may be stale (another process appended), so it catches up once first.
    async fn check_expected_version(
        &self,
        request: &CommandRequest,
        loaded: Loaded,
    ) -> Result<Loaded, ApiError> {
        let Some(expected) = request.expected_version else {
            return Ok(loaded);
        };
        if expected == loaded.version {
            return Ok(loaded);
        }
        let fresh = self.catch_up(request, loaded).await?;
        match fresh.version {
            0 => Err(ApiError::TicketNotFound),
            current if current == expected => Ok(fresh),
            current => Err(ApiError::StaleVersion { expected, current }),
        }
    }

    /// The request's ticket brought up to date; a ticket being opened has no stream to read.
    async fn catch_up(&self, request: &CommandRequest, loaded: Loaded) -> Result<Loaded, ApiError> {
        if matches!(request.command, TicketCommand::Open { .. }) {
            return Ok(loaded);
        }
        self.catch_up_stream(request.ticket, loaded).await
    }

    /// `loaded` brought up to the stream's head by applying only the events after its version
    /// (all of them for an empty state). Events that do not chain onto `loaded`'s last hash
    /// mean the cached state is not this stream's history: it is rebuilt from the start.
    async fn catch_up_stream(
        &self,
        ticket: TicketId,
        mut loaded: Loaded,
    ) -> Result<Loaded, ApiError> {
        let newer = read_stream_after(&self.pool, ticket.as_uuid(), loaded.version).await?;
        if newer
            .first()
            .is_some_and(|first| first.previous_hash != loaded.last_hash)
        {
            tracing::warn!("cached ticket state does not chain onto the stream; rebuilding it");
            return Box::pin(self.catch_up_stream(ticket, Loaded::empty())).await;
        }
        for event in &newer {
            let decoded = codec::decode(&self.pool, &self.vault, event).await?;
            loaded.state.0.apply(&decoded);
            loaded.version = event.stream_version;
            loaded.last_hash = event.hash;
        }
        Ok(loaded)
    }

    fn slot(&self, ticket: TicketId) -> Slot {
        let mut slots = self.slots.lock().expect("slot map lock");
        if slots.len() >= CACHED_TICKETS_MAX && !slots.contains_key(&ticket) {
            // Evict idle tickets (nobody holds their lock); busy ones stay.
            slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        let slot = slots.entry(ticket).or_default().clone();
        self.metrics.cached_tickets.set(slots.len() as i64);
        slot
    }

    /// Allocates the next ticket number of the current year. Numbers are unique and increasing;
    /// an open that fails afterwards leaves a gap, which keeps the counter's lock short.
    pub async fn next_ticket_number(&self) -> Result<TicketNumber, ApiError> {
        // German time is UTC+1 at every new year (no daylight saving in winter), so this is the
        // year in Europe/Berlin without a time-zone database.
        let year = (Utc::now() + Duration::hours(1)).year();
        let sequence: i32 = sqlx::query_scalar(
            "INSERT INTO ticket_number_counters (year, last_value) VALUES ($1, 1) \
             ON CONFLICT (year) DO UPDATE SET last_value = ticket_number_counters.last_value + 1 RETURNING last_value",
        )
        .bind(year)
        .fetch_one(&self.pool)
        .await
        .map_err(|error| ApiError::Unexpected(error.into()))?;
        Ok(TicketNumber::new(year, sequence as u32))
    }
}

enum Attempt {
    Done(CommandOutcome),
    /// Another process appended first; carries the state the command was decided on.
    Conflict(Box<Loaded>),
}

/// The ticket a user names by id (UUID) or number (`2026-000123`); `None` when the text is
/// neither or no ticket has that number. An id is not looked up: commands on it find out.
pub async fn find_ticket(pool: &PgPool, text: &str) -> Result<Option<TicketId>, StoreError> {
    if let Ok(id) = text.parse::<Uuid>() {
        return Ok(Some(TicketId::new(id)));
    }
    let Ok(number) = text.parse::<TicketNumber>() else {
        return Ok(None);
    };
    let stream = event_store::find_stream_by_ticket_number(pool, &number.to_string()).await?;
    Ok(stream.map(TicketId::new))
}

/// The id a command is stored under and the fingerprint of what it asked for.
#[derive(Debug)]
struct CommandIdentity {
    command_id: Uuid,
    /// SHA-256 of the request, only when an Idempotency-Key makes a replay possible.
    fingerprint: Option<String>,
}

impl CommandIdentity {
    /// With an `Idempotency-Key`, the id is derived from the user, the target (a new ticket or
    /// this ticket) and the key, so the same key elsewhere is a different command; without one
    /// it is random. The fingerprint is the SHA-256 of the request as the client sent it.
    fn of(request: &CommandRequest) -> CommandIdentity {
        let Some(key) = &request.idempotency_key else {
            return CommandIdentity {
                command_id: Uuid::new_v4(),
                fingerprint: None,
            };
        };
        let (scope, asked) = match &request.command {
            TicketCommand::Open { ticket, .. } => ("open".to_owned(), serde_json::to_vec(ticket)),
            command => (
                format!("ticket:{}", request.ticket),
                serde_json::to_vec(command),
            ),
        };
        let name = format!("{}\n{scope}\n{key}", request.actor.user);
        CommandIdentity {
            command_id: Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, name.as_bytes()),
            fingerprint: Some(hex::encode(Sha256::digest(
                asked.expect("commands serialize"),
            ))),
        }
    }
}

/// Until per-queue rights arrive: someone who is only a requester writes only to their own
/// tickets.
fn authorize_on(request: &CommandRequest, state: &Ticket) -> Result<(), ApiError> {
    let agent = request.actor.is_agent();
    let own = state
        .requester()
        .and_then(|requester| requester.user_id.as_deref())
        == Some(request.actor.user.as_str());
    match (&request.command, agent || own || !state.is_opened()) {
        (TicketCommand::Open { .. }, _) | (_, true) => {}
        (command, false) => {
            return Err(ApiError::Forbidden {
                command: command.name(),
            })
        }
    }
    match &request.scope {
        Some(scope) if agent => authorize_queue(scope, &request.command, state),
        _ => Ok(()),
    }
}

/// An agent's per-queue right (`domain::access::right_for_command`) on the ticket's queue, and
/// for an assignment into another queue, the right to assign there too.
fn authorize_queue(scope: &Scope, command: &TicketCommand, state: &Ticket) -> Result<(), ApiError> {
    let name = command.name();
    let right = right_for_command(name);
    let queue = match command {
        TicketCommand::Open { ticket, .. } => ticket.queue.as_deref(),
        _ => state.queue(),
    };
    let target = match command {
        TicketCommand::Assign {
            queue: Some(target),
            ..
        } => Some(target.as_str()),
        _ => None,
    };
    let permitted = scope.may(right, queue)
        && target.is_none_or(|target| scope.may(QueueRight::Assign, Some(target)));
    if permitted {
        Ok(())
    } else {
        Err(ApiError::Forbidden { command: name })
    }
}

fn subject_identifier(request: &CommandRequest, state: &Ticket) -> String {
    match (&request.command, state.requester()) {
        (TicketCommand::Open { ticket, .. }, _) => {
            codec::subject_identifier(&ticket.requester, request.ticket)
        }
        (_, Some(requester)) => codec::subject_identifier(requester, request.ticket),
        (_, None) => format!("ticket:{}", request.ticket),
    }
}

fn unchanged(ticket: TicketId, loaded: &Loaded) -> CommandOutcome {
    CommandOutcome {
        ticket,
        number: loaded.state.0.number(),
        version: loaded.version,
        cursor: None,
        events_appended: 0,
        replayed: false,
    }
}

fn replayed(stored: StoredResult, identity: &CommandIdentity) -> Result<CommandOutcome, ApiError> {
    let asked_before = stored
        .result
        .get("request")
        .and_then(|request| request.as_str());
    if asked_before.is_some_and(|fingerprint| Some(fingerprint) != identity.fingerprint.as_deref())
    {
        return Err(ApiError::IdempotencyKeyReused);
    }
    let number = stored
        .result
        .get("number")
        .and_then(|number| number.as_str())
        .and_then(|text| text.parse().ok());
    Ok(CommandOutcome {
        ticket: TicketId::new(stored.stream_id),
        number,
        version: stored.last_version,
        cursor: Some(stored.cursor),
        events_appended: 0,
        replayed: true,
    })
}
