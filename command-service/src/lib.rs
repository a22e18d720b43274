//! The command service: HTTP command API over the ticket domain and the event store.
//!
//! `Application::build` wires configuration to a router; `app` is the router itself, so tests
//! drive it in-process or on port 0.

pub mod access;
pub mod aggregate;
pub mod assets;
pub mod audit_log;
pub mod auth;
pub mod codec;
pub mod config;
pub mod error;
mod extract;
pub mod i18n;
pub mod identity;
pub mod metrics;
pub mod openapi;
pub mod policy;
mod routes;
pub mod tickets;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use domain::ticket::TicketPolicy;
use event_store::crypto::{MasterKey, PersonalDataVault};
use sqlx::PgPool;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;

use crate::assets::import::ImportSettings;
use crate::auth::Actor;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::tickets::TicketService;

/// Bound on request bodies unless configured otherwise (a description may be 64 KiB).
pub const BODY_BYTES_MAX_DEFAULT: usize = 256 * 1024;
/// Bound on one request's handling time.
const REQUEST_TIMEOUT_S: u64 = 30;

/// What the service needs from the configuration.
#[derive(Debug)]
pub struct Settings {
    pub pool: PgPool,
    pub master_key: MasterKey,
    pub policy: TicketPolicy,
    pub body_bytes_max: usize,
}

/// Named limits enforced at the edge.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub body_bytes_max: usize,
}

/// Shared state of the handlers.
#[derive(Clone, Debug)]
pub struct AppState {
    pub pool: PgPool,
    pub tickets: Arc<TicketService>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    pub imports: ImportSettings,
    pub directory: Arc<access::DirectoryCache>,
    /// Password checks running at once (`identity::routes::LOGINS_IN_FLIGHT_MAX`): the login's
    /// rate limit, so a flood of guesses cannot eat the CPU Argon2 needs.
    pub logins: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// State built from `settings`.
    pub fn new(settings: Settings) -> AppState {
        let metrics = Arc::new(Metrics::default());
        let vault = PersonalDataVault::new(&settings.master_key);
        let tickets = Arc::new(TicketService::new(
            settings.pool.clone(),
            vault,
            settings.policy,
            metrics.clone(),
        ));
        let directory = Arc::new(access::DirectoryCache::new(settings.pool.clone()));
        AppState {
            pool: settings.pool,
            tickets,
            metrics,
            limits: Limits {
                body_bytes_max: settings.body_bytes_max,
            },
            imports: IMPORT_SETTINGS_DEFAULT,
            directory,
            logins: Arc::new(tokio::sync::Semaphore::new(
                identity::routes::LOGINS_IN_FLIGHT_MAX,
            )),
        }
    }

    /// The state with other import settings.
    pub fn with_imports(mut self, imports: ImportSettings) -> AppState {
        self.imports = imports;
        self
    }
}

/// Import settings unless configured otherwise: flag an asset its source missed 3 runs in a row.
pub const IMPORT_SETTINGS_DEFAULT: ImportSettings = ImportSettings {
    missing_runs_flag: 3,
};

impl axum::extract::FromRef<AppState> for PgPool {
    fn from_ref(state: &AppState) -> PgPool {
        state.pool.clone()
    }
}

/// The command API router: the command routes, health, metrics and the shared edge layers.
pub fn app(state: AppState) -> Router {
    let operations = Router::new()
        .route("/api/v1/openapi.json", get(openapi_document))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state.clone());
    let pool = state.pool.clone();
    edge(routes(state).merge(operations), pool)
}

/// The command routes alone (no health, metrics or layers), to merge with other services'.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/tickets", post(routes::open_ticket))
        .route(
            "/api/v1/tickets/{ticket}/commands",
            post(routes::execute_command),
        )
        .route("/api/v1/assets", post(assets::routes::register))
        .route(
            "/api/v1/assets/{id}/commands",
            post(assets::routes::execute),
        )
        .route("/api/v1/imports", post(assets::routes::import_file))
        .route("/api/v1/login", post(identity::routes::login))
        .route("/api/v1/logout", post(identity::routes::logout))
        .route("/api/v1/users", post(identity::routes::register_user))
        .route(
            "/api/v1/users/{name}/commands",
            post(identity::routes::execute),
        )
        .route("/api/v1/tokens", get(tokens::index).post(tokens::create))
        .route("/api/v1/tokens/{id}", axum::routing::delete(tokens::delete))
        .route("/api/v1/config/{kind}", get(config::list))
        .route(
            "/api/v1/config/{kind}/{name}",
            get(config::show).put(config::define).delete(config::retire),
        )
        .with_state(state)
}

/// The layers every HTTP service shares: the access policy of every route (`policy`),
/// problem+json for every error (including unknown routes and methods), the time limit, and
/// request tracing without bodies or query strings.
pub fn edge(router: Router, pool: PgPool) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(pool, policy::enforce))
        .layer(axum::middleware::from_fn(limit_time))
        .layer(axum::middleware::from_fn(error::render_problems))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(make_span)
                .on_response(
                    DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(LatencyUnit::Micros),
                ),
        )
}

/// Request spans carry method and route, never bodies, query strings or headers.
fn make_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .to_owned();
    tracing::info_span!("http", http.method = %request.method(), http.route = %route)
}

/// Abandons a request after `REQUEST_TIMEOUT_S` with a problem document. An append either
/// committed before or not at all (one statement), so nothing is half written.
async fn limit_time(request: Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(Duration::from_secs(REQUEST_TIMEOUT_S), next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers.
async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    sqlx::query("SELECT 1")
        .execute(&state.pool)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok("ready")
}

async fn metrics(State(state): State<AppState>, _actor: Actor) -> Response {
    let mut response = state.metrics.render().into_response();
    let content_type =
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8");
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
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

/// Serves `router` on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
