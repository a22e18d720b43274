//! The HTTP handlers of the command API.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::config::catalog::ServiceDefinition;
use domain::config::Kind;
use domain::ticket::{NewTicket, TicketCommand, TicketId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::error::{ApiError, Problem};
use crate::extract::{CorrelationId, IdempotencyKey, IfMatch, JsonBody, TicketPath};
use crate::tickets::{find_ticket, CommandOutcome, CommandRequest};
use crate::AppState;

/// The result of a command.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandAccepted {
    /// The ticket's id.
    pub id: uuid::Uuid,
    /// The ticket's number, e.g. `2026-000123`.
    #[schema(example = "2026-000123")]
    pub number: Option<String>,
    /// The ticket's version after the command; send it back as `If-Match` to guard the next one.
    pub version: u64,
    /// Position of the command's last event (`<transaction>.<position>`); a reader that has
    /// reached it has seen the command's effect.
    pub consistency_token: Option<String>,
    /// Events this call appended (0 for a retried or no-op command).
    pub events_appended: usize,
    /// True when the `Idempotency-Key` matched a command applied before.
    pub replayed: bool,
}

impl From<CommandOutcome> for CommandAccepted {
    fn from(outcome: CommandOutcome) -> Self {
        CommandAccepted {
            id: outcome.ticket.as_uuid(),
            number: outcome.number.map(|number| number.to_string()),
            version: outcome.version,
            consistency_token: outcome.cursor.map(|cursor| cursor.to_string()),
            events_appended: outcome.events_appended,
            replayed: outcome.replayed,
        }
    }
}

fn accepted(status: StatusCode, outcome: CommandOutcome) -> Response {
    let version = outcome.version;
    let ticket = outcome.ticket;
    let mut response = (status, Json(CommandAccepted::from(outcome))).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header"),
    );
    if status == StatusCode::CREATED {
        let location = format!("/api/v1/tickets/{ticket}");
        headers.insert(
            header::LOCATION,
            HeaderValue::from_str(&location).expect("uuid is a valid header"),
        );
    }
    response
}

/// Commands a requester may send on a ticket: write to their own. (Who may open a ticket at all
/// is the route's rule, `crate::policy::TICKET_WRITERS`.)
const REQUESTER_COMMANDS: &[&str] = &["add_requester_message"];

fn authorize(actor: &Actor, command: &'static str) -> Result<(), ApiError> {
    let agent = actor.is_agent();
    let requester = actor.has_role("requester") && REQUESTER_COMMANDS.contains(&command);
    if agent || requester {
        Ok(())
    } else {
        Err(ApiError::Forbidden { command })
    }
}

/// Open a ticket.
#[utoipa::path(
    post,
    path = "/api/v1/tickets",
    tag = "tickets",
    request_body = NewTicket,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key open the ticket once"),
        ("X-Correlation-Id" = Option<uuid::Uuid>, Header, description = "Correlation id recorded with the events"),
    ),
    responses(
        (status = 201, description = "Ticket opened", body = CommandAccepted),
        (status = 200, description = "Retry of a ticket opened before with the same Idempotency-Key", body = CommandAccepted),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing right", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn open_ticket(
    State(state): State<AppState>,
    actor: Actor,
    CorrelationId(correlation_id): CorrelationId,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(mut ticket): JsonBody<NewTicket>,
) -> Result<Response, ApiError> {
    if !actor.is_agent() {
        // A requester reports for themselves; agents may open tickets on anyone's behalf.
        ticket.requester.user_id = Some(actor.user.clone());
    }
    apply_service(&state, &mut ticket).await?;
    let origin = channel_name(&ticket.channel);
    let id = TicketId::new(uuid::Uuid::new_v4());
    // A retry with the same Idempotency-Key burns a number (a gap) but gets the first result.
    let number = state.tickets.next_ticket_number().await?;
    let command = TicketCommand::Open { id, number, ticket };
    let scope = state.directory.scope_of(&actor).await?;
    let request = CommandRequest {
        ticket: id,
        command,
        actor,
        expected_version: None,
        idempotency_key,
        correlation_id,
        origin,
        scope: Some(scope),
    };
    let outcome = state.tickets.execute(request).await?;
    let status = if outcome.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(accepted(status, outcome))
}

/// A ticket for a service of the catalog: the service must be defined and not retired, the
/// answers (`fields`) must fit its request form, and a ticket without a queue goes to the
/// service's default queue. Checked here, before a number is drawn, because the ticket aggregate
/// does not read the configuration (the facts it needs come in the command). The configuration
/// is the one the access directory caches (`crate::access::DirectoryCache`), not a load per
/// ticket.
async fn apply_service(state: &AppState, ticket: &mut NewTicket) -> Result<(), ApiError> {
    let Some(service_id) = ticket.service_id.as_deref() else {
        return Ok(());
    };
    let configuration = state.directory.configuration().await?;
    let Some(definition) = configuration.definition(Kind::Service, service_id) else {
        return Err(ApiError::ServiceNotFound {
            service: service_id.to_owned(),
        });
    };
    // Stored definitions were validated when they were defined: one that does not read is ours.
    let service: ServiceDefinition = serde_json::from_value(definition.clone())
        .map_err(|error| anyhow::Error::new(error).context("stored service definition"))?;
    service
        .check_answers(&ticket.fields)
        .map_err(ApiError::Form)?;
    ticket.queue.get_or_insert(service.default_queue);
    Ok(())
}

/// Execute a command on a ticket.
#[utoipa::path(
    post,
    path = "/api/v1/tickets/{ticket}/commands",
    tag = "tickets",
    request_body = TicketCommand,
    params(
        ("ticket" = String, Path, description = "Ticket id (UUID) or number (`2026-000123`)"),
        ("If-Match" = Option<String>, Header, description = "The version the client saw, e.g. `\"3\"`; 412 if the ticket moved on"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key apply the command once"),
        ("X-Correlation-Id" = Option<uuid::Uuid>, Header, description = "Correlation id recorded with the events"),
    ),
    responses(
        (status = 200, description = "Command applied (or a no-op, or a retry)", body = CommandAccepted),
        (status = 400, description = "Malformed JSON or header", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing right", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Business rule broken (named in `code`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match version", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn execute_command(
    State(state): State<AppState>,
    TicketPath(ticket): TicketPath,
    actor: Actor,
    IfMatch(expected_version): IfMatch,
    CorrelationId(correlation_id): CorrelationId,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(command): JsonBody<TicketCommand>,
) -> Result<Response, ApiError> {
    authorize(&actor, command.name())?;
    let ticket = find_ticket(&state.pool, &ticket)
        .await?
        .ok_or(ApiError::TicketNotFound)?;
    let origin = command_channel(&command).unwrap_or_else(|| "api".to_owned());
    let scope = state.directory.scope_of(&actor).await?;
    let request = CommandRequest {
        ticket,
        command,
        actor,
        expected_version,
        idempotency_key,
        correlation_id,
        origin,
        scope: Some(scope),
    };
    let outcome = state.tickets.execute(request).await?;
    Ok(accepted(StatusCode::OK, outcome))
}

fn channel_name<T: Serialize>(channel: &T) -> String {
    serde_json::to_value(channel)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "api".to_owned())
}

fn command_channel(command: &TicketCommand) -> Option<String> {
    match command {
        TicketCommand::AddReply {
            channel: Some(channel),
            ..
        }
        | TicketCommand::AddNote {
            channel: Some(channel),
            ..
        }
        | TicketCommand::AddRequesterMessage {
            channel: Some(channel),
            ..
        } => Some(channel_name(channel)),
        _ => None,
    }
}
