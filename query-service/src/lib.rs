//! The query service: the HTTP read API over the ticket projection, with read-your-writes
//! (`?after=<consistency token>`) and live updates (Server-Sent Events fed by NATS).
//!
//! `routes` gives the bare query routes (state applied, no layers) for the all-in-one binary to
//! merge with the command router; `app` adds the fallback, problem rendering, request spans,
//! health checks and the OpenAPI document for a standalone query process.
//!
//! **Invariant:** the query side writes no read model and no ticket: every statement is a SELECT
//! (multi-statement reads in READ ONLY transactions), except the one append of an auditor's
//! access record (`audit.accessed`, issue 8 §4) through `event_store::append`.

pub mod assets;
pub mod audit;
mod consistency;
mod csv;
mod extract;
mod history;
mod live;
pub mod openapi;
mod queues;
mod read_model;
mod search;
pub mod sla;
pub mod ui;
mod view;
mod worklist;

/// The SQL of the hottest reads, for the benchmark that runs them directly beside the HTTP API.
pub mod sql {
    /// Open tickets of the worklist sorted by priority (the default worklist page).
    pub const WORKLIST_OPEN_BY_PRIORITY: &str = crate::worklist::OPEN_SQL[0];
    /// The ranked full-text search.
    pub const SEARCH: &str = crate::search::SEARCH_SQL;
}

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use command_service::auth::Actor;
use command_service::error::{render_problems, ApiError};
use projector::checkpoint::{self, State as CheckpointState};
use sqlx::PgPool;
use tracing::Instrument;

use crate::consistency::Consistency;
use crate::live::Live;

/// How long a read with `?after=` waits for the projection by default.
pub const CONSISTENCY_WAIT_DEFAULT: Duration = Duration::from_secs(5);
/// The largest page a client may ask for by default.
pub const PAGE_SIZE_MAX_DEFAULT: u32 = 200;
/// The subject prefix the relay publishes under by default.
pub const SUBJECT_PREFIX_DEFAULT: &str = "itsm";
/// Bound on one request's handling time (an SSE stream only needs its headers within it).
const REQUEST_TIMEOUT_S: u64 = 30;

/// What the query service needs from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Connected as the application role; only ever used for SELECTs.
    pub pool: PgPool,
    /// The NATS connection live updates are fed from; without it `/api/v1/events/stream` is 503.
    pub nats: Option<async_nats::Client>,
    /// Events arrive on `<subject_prefix>.events.>`.
    pub subject_prefix: String,
    /// How long a read with `?after=` (and a live update) waits for the projection.
    pub consistency_wait: Duration,
    /// The largest `limit` a client may ask for.
    pub page_size_max: u32,
    /// The auditor functions' keys; without them those endpoints are 503.
    pub auditing: Option<Arc<audit::Auditing>>,
    /// How long after resolution a ticket can be reopened (the ticket policy's), for the
    /// commands a ticket view offers.
    pub reopen_window: chrono::Duration,
}

impl Settings {
    /// The documented defaults: no NATS, prefix `itsm`, a 5 s wait, pages of at most 200.
    pub fn new(pool: PgPool) -> Settings {
        Settings {
            pool,
            nats: None,
            subject_prefix: SUBJECT_PREFIX_DEFAULT.to_owned(),
            consistency_wait: CONSISTENCY_WAIT_DEFAULT,
            page_size_max: PAGE_SIZE_MAX_DEFAULT,
            auditing: None,
            reopen_window: domain::ticket::TicketPolicy::default().reopen_window,
        }
    }
}

/// Named limits enforced at the edge.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub consistency_wait: Duration,
    pub page_size_max: u32,
    pub reopen_window: chrono::Duration,
}

/// Shared state of the handlers (cheap to clone).
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) pool: PgPool,
    pub(crate) consistency: Arc<Consistency>,
    pub(crate) live: Arc<Live>,
    pub(crate) limits: Limits,
    pub(crate) auditing: Option<Arc<audit::Auditing>>,
    /// Teams and organisation units, for what each caller may see (issue 6).
    pub(crate) directory: Arc<command_service::access::DirectoryCache>,
    /// The SLA projection's calendars and policies, for the worklist's remaining minutes.
    pub(crate) sla_config: Arc<sla::ConfigCache>,
}

impl AppState {
    /// State built from `settings`. Spawns nothing: the live-update subscription starts with the
    /// first stream client.
    pub fn new(settings: Settings) -> AppState {
        let consistency = Arc::new(Consistency::new(settings.pool.clone()));
        let limits = Limits {
            consistency_wait: settings.consistency_wait,
            page_size_max: settings.page_size_max.max(1),
            reopen_window: settings.reopen_window,
        };
        let live = Arc::new(Live::new(settings.nats, settings.subject_prefix));
        let directory = Arc::new(command_service::access::DirectoryCache::new(
            settings.pool.clone(),
        ));
        AppState {
            directory,
            sla_config: Arc::default(),
            pool: settings.pool,
            consistency,
            live,
            limits,
            auditing: settings.auditing,
        }
    }
}

/// The query routes with their state, without fallback or layers (the caller adds them):
/// `GET /api/v1/tickets`, `/api/v1/tickets/{ticket}`, `/api/v1/tickets/{ticket}/history`,
/// `/api/v1/queues`, `/api/v1/search`, `/api/v1/events/stream`, `/api/v1/audit/verify`,
/// `/api/v1/audit/export`, `/api/v1/audit/readers` (who could read a ticket at a time), and the CMDB's `/api/v1/assets`, `/api/v1/assets/{id}`,
/// `/api/v1/assets/{id}/history`, `/api/v1/assets/{id}/impact` and `/api/v1/imports`.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/tickets", get(worklist::list))
        .route("/api/v1/tickets/{ticket}", get(view::show))
        .route("/api/v1/tickets/{ticket}/history", get(history::show))
        .route("/api/v1/tickets/{ticket}/sla", get(sla::show))
        .route("/api/v1/reports/sla-compliance", get(sla::compliance))
        .route("/api/v1/queues", get(queues::show))
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/events/stream", get(live::stream))
        .route("/api/v1/audit/verify", get(audit::verify))
        .route("/api/v1/audit/export", get(audit::export))
        .route("/api/v1/audit/readers", get(audit::readers))
        .route("/api/v1/assets", get(assets::list))
        .route("/api/v1/assets/{id}", get(assets::show))
        .route("/api/v1/assets/{id}/history", get(assets::history))
        .route("/api/v1/assets/{id}/impact", get(assets::impact))
        .route("/api/v1/imports", get(assets::imports))
        .route("/api/v1/me", get(ui::me))
        .route("/", get(ui::root))
        .route("/ui/", get(ui::index))
        .route("/ui/{file}", get(ui::file))
        .with_state(state)
}

/// The standalone query API: [`routes`] plus `/api/v1/openapi.json`, `/healthz`, `/readyz`, a
/// problem+json fallback, problem rendering, a time limit and request spans.
pub fn app(state: AppState) -> Router {
    let service = Router::new()
        .route("/api/v1/openapi.json", get(openapi_document))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state.clone());
    let pool = state.pool.clone();
    routes(state)
        .merge(service)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            pool,
            command_service::policy::enforce,
        ))
        .layer(axum::middleware::from_fn(limit_time))
        .layer(axum::middleware::from_fn(render_problems))
        .layer(axum::middleware::from_fn(trace_requests))
}

/// Request spans carry method, route, status and latency: never query strings, headers or bodies.
async fn trace_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .to_owned();
    let span = tracing::info_span!("http", http.method = %request.method(), http.route = %route);
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| {
        tracing::info!(
            http.status = response.status().as_u16(),
            latency_us,
            "finished processing request"
        );
    });
    response
}

/// Abandons a request after `REQUEST_TIMEOUT_S` with a problem document.
async fn limit_time(request: Request, next: Next) -> Response {
    let limit = Duration::from_secs(REQUEST_TIMEOUT_S);
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers and the ticket projection has not stopped at a poison event.
async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    let active = checkpoint::active(&state.pool, projector::TICKETS)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    match active {
        Some(checkpoint) if checkpoint.state == CheckpointState::Failed => {
            Err(ApiError::ProjectionFailed {
                name: projector::TICKETS.to_owned(),
            })
        }
        _ => Ok("ready"),
    }
}

async fn openapi_document(_actor: Actor) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::document_json(),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
