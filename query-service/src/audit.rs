//! The auditor's reads (issue 8): a ticket exactly as it was at a past moment
//! (`GET /api/v1/tickets/{ticket}?as_of=`), verification of one ticket's hash chain
//! (`GET /api/v1/audit/verify?ticket=`) and the export of history as JSON Lines
//! (`GET /api/v1/audit/export`), and who could read a ticket at a past moment
//! (`GET /api/v1/audit/readers`). Only auditors and administrators may use them, and every use is
//! recorded as an `audit.accessed` event — the one append the query side makes.

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use command_service::audit_log::{self, Access};
use command_service::auth::{Actor, AGENT_ROLES};
use command_service::error::{ApiError, Problem};
use command_service::identity::users;
use domain::access::{scope, Directory, QueueRight};
use domain::config::access::TeamDefinition;
use domain::config::Kind;
use domain::identity::{TicketVisibility, User};
use event_store::audit::{self as store_audit, Exporter, Problem as ChainProblem, Selection};
use event_store::crypto::PersonalDataVault;
use event_store::StoreError;
use futures_util::TryStreamExt;
use serde::{Deserialize as _, Serialize};
use serde_json::json;
use sqlx::Row;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::extract::{invalid, Params, TicketRef};
use crate::view::{self, TicketView};
use crate::AppState;

/// Roles that may use the auditor functions.
pub const AUDIT_ROLES: &[&str] = &["auditor", "admin"];
/// Most tickets one export request names.
pub const EXPORT_TICKETS_MAX: usize = 1_000;

/// What the auditor functions need beside the pool: the vault that decrypts personal data for a
/// past view, and the installation's checkpoint public key for export headers.
pub struct Auditing {
    pub vault: PersonalDataVault,
    pub public_key: [u8; 32],
}

impl std::fmt::Debug for Auditing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditing")
            .field("public_key", &hex_key(&self.public_key))
            .finish_non_exhaustive()
    }
}

fn hex_key(key: &[u8; 32]) -> String {
    key.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn require_auditor(actor: &Actor) -> Result<(), ApiError> {
    if AUDIT_ROLES.iter().any(|role| actor.has_role(role)) {
        Ok(())
    } else {
        Err(ApiError::ReadForbidden { resource: "audit" })
    }
}

fn auditing(state: &AppState) -> Result<&Auditing, ApiError> {
    state.auditing.as_deref().ok_or(ApiError::Unavailable)
}

/// An RFC 3339 instant from the query string.
pub fn instant(params: &Params, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    params
        .one(name)?
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|_| {
                    invalid(
                        name,
                        "expected an RFC 3339 time such as 2026-11-23T14:05:00Z",
                    )
                })
        })
        .transpose()
}

async fn stream_of(state: &AppState, reference: &TicketRef) -> Result<Option<Uuid>, ApiError> {
    match reference {
        TicketRef::Id(id) => Ok(Some(*id)),
        TicketRef::Number(number) => {
            Ok(event_store::find_stream_by_ticket_number(&state.pool, number).await?)
        }
    }
}

async fn record(state: &AppState, actor: &Actor, access: Access) -> Result<(), ApiError> {
    Ok(audit_log::record(&state.pool, &actor.user, "api", Uuid::new_v4(), &access).await?)
}

/// The last event a past view reflects.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastEventView {
    pub event_id: Uuid,
    pub event_type: String,
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
}

/// A ticket as the store knew it at `as_of`: the ticket view rebuilt from the events recorded
/// until then. Links are those stored on this ticket; related tickets carry only their id.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketAsOfView {
    pub as_of: DateTime<Utc>,
    pub last_event: LastEventView,
    pub ticket: TicketView,
    /// The SLA clocks as they stood at `as_of`: the ticket's events and the configuration
    /// recorded until then, folded like the SLA projection folds them, read at `as_of`.
    pub sla: Vec<crate::sla::ClockView>,
}

/// `GET /api/v1/tickets/{ticket}?as_of=`: called by the ticket view when `as_of` is given.
pub async fn as_of(
    state: &AppState,
    actor: &Actor,
    reference: &TicketRef,
    as_of: DateTime<Utc>,
) -> Result<Response, ApiError> {
    require_auditor(actor)?;
    let auditing = auditing(state)?;
    let stream = stream_of(state, reference)
        .await?
        .ok_or(ApiError::TicketNotFound)?;
    let events = projector::as_of::events_until(&state.pool, &auditing.vault, stream, Some(as_of))
        .await
        .map_err(|error| ApiError::Unexpected(anyhow::Error::new(error)))?;
    let past = projector::as_of::replay(&events, |_| {})
        .map_err(|error| ApiError::Unexpected(anyhow::Error::new(error)))?
        .ok_or(ApiError::TicketNotFound)?;
    let (clocks, config) = projector::sla::clocks_as_of(&state.pool, &events, as_of).await?;
    let sla = clocks
        .clocks
        .iter()
        .map(|clock| crate::sla::explain(clock, as_of, &config))
        .collect();
    record(
        state,
        actor,
        Access {
            action: "as_of",
            ticket: Some(stream),
            details: json!({ "as_of": as_of, "version": past.row.version }),
        },
    )
    .await?;
    let body = TicketAsOfView {
        as_of,
        last_event: LastEventView {
            event_id: past.last_event.event_id,
            event_type: past.last_event.event_type.clone(),
            version: past.row.version,
            recorded_at: past.last_event.recorded_at,
        },
        ticket: view::from_past(&past)?,
        sla,
    };
    Ok(Json(body).into_response())
}

/// The verdict on one ticket's hash chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketVerification {
    pub ticket: Uuid,
    /// Events in the ticket's stream.
    pub events: u64,
    /// True when every event's hash matches its content and links to its predecessor.
    pub intact: bool,
    /// What is wrong, first the earliest (stream, version, expected and found hash).
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<ChainProblem>,
    /// The newest store checkpoint, if any; `covered` tells whether it covers the ticket's last
    /// event (then removing that event is detected by `itsm audit verify`).
    #[schema(value_type = Option<Object>)]
    pub checkpoint: Option<serde_json::Value>,
}

/// Verifies one ticket's hash chain.
#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "audit",
    params(("ticket" = String, Query, description = "Ticket id (UUID) or number (`2026-000123`)")),
    responses(
        (status = 200, description = "The verdict (also when the chain is broken: see `intact`)", body = TicketVerification),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an auditor or administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing, unknown or invalid parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn verify(
    State(state): State<AppState>,
    actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    require_auditor(&actor)?;
    params.allow_only(&["ticket"])?;
    let text = params
        .one("ticket")?
        .ok_or_else(|| invalid("ticket", "required: a ticket id or number"))?;
    let reference = TicketRef::parse(text).ok_or(ApiError::TicketNotFound)?;
    let stream = stream_of(&state, &reference)
        .await?
        .ok_or(ApiError::TicketNotFound)?;
    let events = event_store::read_stream(&state.pool, stream).await?;
    if events.is_empty() {
        return Err(ApiError::TicketNotFound);
    }
    let report = store_audit::verify_one_stream(&events);
    let checkpoint = store_audit::checkpoints(&state.pool)
        .await?
        .pop()
        .map(|checkpoint| {
            let covered = events
                .last()
                .is_some_and(|event| event.cursor() <= checkpoint.cursor());
            json!({
                "sequence": checkpoint.sequence,
                "cursor": checkpoint.cursor().to_string(),
                "created_at": checkpoint.created_at,
                "covered": covered,
            })
        });
    record(
        &state,
        &actor,
        Access {
            action: "verify",
            ticket: Some(stream),
            details: json!({ "events": report.events, "intact": report.intact() }),
        },
    )
    .await?;
    Ok(Json(TicketVerification {
        ticket: stream,
        events: report.events,
        intact: report.intact(),
        problems: report.problems,
        checkpoint,
    })
    .into_response())
}

/// Exports history as JSON Lines (`schemas/audit-export.schema.json`).
#[utoipa::path(
    get,
    path = "/api/v1/audit/export",
    tag = "audit",
    params(
        ("ticket" = Option<Vec<String>>, Query, description = "Ticket ids or numbers (repeatable, at most 1,000); none: every stream"),
        ("from" = Option<String>, Query, description = "Only events recorded at or after this RFC 3339 time"),
        ("to" = Option<String>, Query, description = "Only events recorded before this RFC 3339 time"),
    ),
    responses(
        (status = 200, description = "JSON Lines: an `export` header, `event` and `checkpoint` records, an `end` record", content_type = "application/x-ndjson"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an auditor or administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A named ticket does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn export(
    State(state): State<AppState>,
    actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    require_auditor(&actor)?;
    params.allow_only(&["ticket", "from", "to"])?;
    let auditing = auditing(&state)?;
    let named = params.list("ticket");
    if named.len() > EXPORT_TICKETS_MAX {
        return Err(invalid("ticket", "at most 1000 tickets per export"));
    }
    let mut streams = Vec::with_capacity(named.len());
    for text in named {
        let reference = TicketRef::parse(text).ok_or(ApiError::TicketNotFound)?;
        streams.push(
            stream_of(&state, &reference)
                .await?
                .ok_or(ApiError::TicketNotFound)?,
        );
    }
    let selection = Selection {
        streams,
        from: instant(&params, "from")?,
        to: instant(&params, "to")?,
    };
    if let (Some(from), Some(to)) = (selection.from, selection.to) {
        if from >= to {
            return Err(invalid("to", "must be later than from"));
        }
    }
    record(
        &state,
        &actor,
        Access {
            action: "export",
            ticket: None,
            details: json!({ "selection": selection }),
        },
    )
    .await?;
    let exporter = Exporter::new(
        state.pool.clone(),
        selection,
        &actor.user,
        &auditing.public_key,
        Utc::now(),
    )
    .await?;
    let chunks = futures_util::stream::try_unfold(exporter, |mut exporter| async move {
        let chunk = exporter.next_chunk().await?;
        Ok::<_, event_store::StoreError>(chunk.map(|chunk| (chunk, exporter)))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"itsm-audit-export.jsonl\"",
            ),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}

/// Roles that read every ticket, in the order `via` names them.
const READ_EVERYWHERE_ROLES: [&str; 3] = ["admin", "supervisor", "auditor"];

/// A registered user who could read the ticket, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReaderView {
    pub user: String,
    /// The user's roles at `at`.
    pub roles: Vec<String>,
    /// `role:<role>`, `team:<team>`, `unowned_queue`, `requester` or `unit:<unit>` (granted
    /// `unit` visibility of a unit the requester belongs to, or one above it).
    pub via: String,
}

/// An API token of a name without an account that could read the ticket, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenReaderView {
    pub token_id: Uuid,
    pub user: String,
    /// The token's roles.
    pub roles: Vec<String>,
    /// `role:<role>`, `team:<team>`, `unowned_queue` or `requester`.
    pub via: String,
}

/// Who could read a ticket at `at`, rebuilt from the events recorded until then: the ticket's
/// queue and requester, the teams, and every user's roles and disabled flag then.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadersView {
    pub ticket: Uuid,
    pub number: String,
    pub at: DateTime<Utc>,
    /// The ticket's queue at `at`.
    pub queue: Option<String>,
    /// The requester's user name at `at`, if the requester has one.
    pub requester_user_id: Option<String>,
    /// Enabled users, sorted by name.
    pub readers: Vec<ReaderView>,
    /// Valid tokens of names without an account (a registered user's token acts with at most
    /// the user's roles, so the user's entry covers it), sorted by name.
    pub tokens: Vec<TokenReaderView>,
}

/// The access rules at one moment: teams and units, and the ticket's queue and requester then.
struct ReadRule {
    directory: Directory,
    teams: Vec<(String, TeamDefinition)>,
    queue: Option<String>,
    requester_user_id: Option<String>,
    /// The requester's organisation unit then (for readers granted `unit` visibility).
    requester_unit: Option<String>,
}

impl ReadRule {
    /// Why `user` with `roles` could read the ticket, or `None`: by queue (the rule of
    /// `domain::access::scope`), else as its requester, else — for a caller without agent rights
    /// granted `unit` visibility of `unit_grant` — as the requester's unit or one above it.
    fn via(&self, user: &str, roles: &[String], unit_grant: Option<&str>) -> Option<String> {
        if let Some(via) = self.via_queue(user, roles) {
            return Some(via);
        }
        if self.requester_user_id.as_deref() == Some(user) {
            return Some("requester".to_owned());
        }
        let agent = roles
            .iter()
            .any(|role| AGENT_ROLES.contains(&role.as_str()));
        let (unit, requester_unit) = (unit_grant?, self.requester_unit.as_deref()?);
        (!agent && self.directory.is_within(requester_unit, unit)).then(|| format!("unit:{unit}"))
    }

    fn via_queue(&self, user: &str, roles: &[String]) -> Option<String> {
        let queue = self.queue.as_deref();
        if !scope(&self.directory, user, roles).may(QueueRight::Read, queue) {
            return None;
        }
        if let Some(role) = READ_EVERYWHERE_ROLES
            .iter()
            .find(|role| roles.iter().any(|held| held == *role))
        {
            return Some(format!("role:{role}"));
        }
        let owning = self.teams.iter().find(|(_, team)| {
            team.has_member(user) && queue.is_some_and(|queue| team.queues.contains_key(queue))
        });
        Some(owning.map_or_else(
            || "unowned_queue".to_owned(),
            |(name, _)| format!("team:{name}"),
        ))
    }
}

/// Who could read a ticket at a past moment (issue 6): every enabled user and every token of a
/// name without an account, each with the reason, from the events recorded until `at`.
#[utoipa::path(
    get,
    path = "/api/v1/audit/readers",
    tag = "audit",
    params(
        ("ticket" = String, Query, description = "Ticket id (UUID) or number (`2026-000123`)"),
        ("at" = Option<String>, Query, description = "The RFC 3339 moment asked about; default now"),
    ),
    responses(
        (status = 200, description = "The readers at `at`, each with the reason", body = ReadersView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an auditor or administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket at `at`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing, unknown or invalid parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn readers(
    State(state): State<AppState>,
    actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    require_auditor(&actor)?;
    params.allow_only(&["ticket", "at"])?;
    let auditing = auditing(&state)?;
    let text = params
        .one("ticket")?
        .ok_or_else(|| invalid("ticket", "required: a ticket id or number"))?;
    let at = instant(&params, "at")?.unwrap_or_else(Utc::now);
    let reference = TicketRef::parse(text).ok_or(ApiError::TicketNotFound)?;
    let stream = stream_of(&state, &reference)
        .await?
        .ok_or(ApiError::TicketNotFound)?;
    let events = projector::as_of::events_until(&state.pool, &auditing.vault, stream, Some(at))
        .await
        .map_err(|error| ApiError::Unexpected(anyhow::Error::new(error)))?;
    let past = projector::as_of::replay(&events, |_| {})
        .map_err(|error| ApiError::Unexpected(anyhow::Error::new(error)))?
        .ok_or(ApiError::TicketNotFound)?;
    let users = users_until(&state, at).await?;
    let requester_unit = past
        .row
        .requester_user_id
        .as_ref()
        .and_then(|requester| users.get(requester)?.org_unit.as_ref())
        .map(|unit| unit.as_str().to_owned());
    let mut rule = read_rule_until(&state, at, past.row.queue).await?;
    rule.requester_user_id = past.row.requester_user_id;
    rule.requester_unit = requester_unit;
    let body = ReadersView {
        ticket: stream,
        number: past.row.number,
        at,
        readers: user_readers(&rule, &users),
        tokens: token_readers(&state, &rule, &users, at).await?,
        queue: rule.queue,
        requester_user_id: rule.requester_user_id,
    };
    let details = json!({ "at": at, "readers": body.readers.len(), "tokens": body.tokens.len() });
    record(
        &state,
        &actor,
        Access {
            action: "readers",
            ticket: Some(stream),
            details,
        },
    )
    .await?;
    Ok(Json(body).into_response())
}

/// The teams and units of the configuration recorded until `at`, with the ticket's queue then.
async fn read_rule_until(
    state: &AppState,
    at: DateTime<Utc>,
    queue: Option<String>,
) -> Result<ReadRule, ApiError> {
    let configuration = command_service::config::load_until(&state.pool, at).await?;
    let active: Vec<(Kind, &str, &serde_json::Value)> = configuration
        .items
        .values()
        .filter(|stored| stored.item.is_active())
        .filter_map(|stored| {
            let definition = stored.item.definition.as_ref()?;
            Some((stored.kind, stored.name.as_str(), definition))
        })
        .collect();
    let directory =
        Directory::from_definitions(active.iter().copied()).map_err(ApiError::Config)?;
    // `from_definitions` has read every team already; this cannot fail where it succeeded.
    let teams = active
        .iter()
        .filter(|(kind, _, _)| *kind == Kind::Team)
        .filter_map(|(_, name, definition)| {
            let team = TeamDefinition::deserialize(*definition).ok()?;
            Some(((*name).to_owned(), team))
        })
        .collect();
    Ok(ReadRule {
        directory,
        teams,
        queue,
        requester_user_id: None,
        requester_unit: None,
    })
}

/// Every registered user, by name, as the `user` events recorded until `at` left them: one
/// ordered read over the partial index `events_user_idx` (migration 0011).
async fn users_until(
    state: &AppState,
    at: DateTime<Utc>,
) -> Result<BTreeMap<String, User>, ApiError> {
    let mut rows = sqlx::query(
        "SELECT global_position, stream_id, event_type, event_version, payload FROM events \
         WHERE stream_type = 'user' AND recorded_at <= $1 ORDER BY stream_id, stream_version",
    )
    .bind(at)
    .fetch(&state.pool);
    let mut streams: HashMap<Uuid, User> = HashMap::new();
    while let Some(row) = rows.try_next().await? {
        let position: i64 = row.try_get("global_position")?;
        let event_version: i32 = row.try_get("event_version")?;
        let event = users::decode(
            &row.try_get::<String, _>("event_type")?,
            u32::try_from(event_version).unwrap_or_default(),
            row.try_get("payload")?,
        )
        .map_err(|reason| StoreError::Corrupt { position, reason })?;
        let user = streams.entry(row.try_get("stream_id")?).or_default();
        *user = std::mem::take(user).apply(&event);
    }
    Ok(streams
        .into_values()
        .filter_map(|user| Some((user.user_name.clone()?.to_string(), user)))
        .collect())
}

fn role_names(user: &User) -> Vec<String> {
    user.roles
        .iter()
        .map(|role| role.as_str().to_owned())
        .collect()
}

/// The enabled users who could read the ticket, sorted by name.
fn user_readers(rule: &ReadRule, users: &BTreeMap<String, User>) -> Vec<ReaderView> {
    users
        .iter()
        .filter(|(_, user)| !user.disabled)
        .filter_map(|(name, user)| {
            let roles = role_names(user);
            let unit_grant = user
                .org_unit
                .as_ref()
                .filter(|_| user.ticket_visibility == TicketVisibility::Unit)
                .map(|unit| unit.as_str());
            let via = rule.via(name, &roles, unit_grant)?;
            Some(ReaderView {
                user: name.clone(),
                roles,
                via,
            })
        })
        .collect()
}

/// The tokens valid at `at` of names without an account then that could read the ticket,
/// sorted by name.
async fn token_readers(
    state: &AppState,
    rule: &ReadRule,
    users: &BTreeMap<String, User>,
    at: DateTime<Utc>,
) -> Result<Vec<TokenReaderView>, ApiError> {
    let rows: Vec<(Uuid, String, Vec<String>)> = sqlx::query_as(
        "SELECT token_id, user_name, roles FROM api_tokens WHERE created_at <= $1 \
         AND (revoked_at IS NULL OR revoked_at > $1) AND (expires_at IS NULL OR expires_at > $1) \
         ORDER BY user_name, token_id",
    )
    .bind(at)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, user, _)| !users.contains_key(user))
        .filter_map(|(token_id, user, roles)| {
            // A name without an account has no organisation unit, so no `unit` grant.
            let via = rule.via(&user, &roles, None)?;
            Some(TokenReaderView {
                token_id,
                user,
                roles,
                via,
            })
        })
        .collect())
}
