//! The auditor's reads (issue 8): a ticket exactly as it was at a past moment
//! (`GET /api/v1/tickets/{ticket}?as_of=`), verification of one ticket's hash chain
//! (`GET /api/v1/audit/verify?ticket=`) and the export of history as JSON Lines
//! (`GET /api/v1/audit/export`). Only auditors and administrators may use them, and every use is
//! recorded as an `audit.accessed` event — the one append the query side makes.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use command_service::audit_log::{self, Access};
use command_service::auth::Actor;
use command_service::error::{ApiError, Problem};
use event_store::audit::{self as store_audit, Exporter, Problem as ChainProblem, Selection};
use event_store::crypto::PersonalDataVault;
use serde::Serialize;
use serde_json::json;
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
