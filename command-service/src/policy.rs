//! The one access policy of every HTTP route of both services (issue 6 §3): a route is public
//! (health, login) or names who may call it, in [`ROUTES`]. The [`enforce`] middleware
//! authenticates the caller once, checks the route's rule before any handler runs, and refuses a
//! route that has no rule (fail closed: a new endpoint without a rule answers 500, and the
//! role × endpoint matrix test fails). Handlers narrow further per resource (a requester's own
//! tickets, the queues an agent may see); they never widen.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;

use crate::auth::{authenticate_headers, Actor};
use crate::error::ApiError;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, without credentials.
    Public,
    /// Any authenticated caller (the handler narrows what they see).
    Authenticated,
    /// A caller holding one of these roles.
    Roles(&'static [&'static str]),
}

impl Rule {
    /// Whether a caller with `roles` passes (authenticated callers only).
    pub fn permits(self, roles: &[String]) -> bool {
        match self {
            Rule::Public | Rule::Authenticated => true,
            Rule::Roles(allowed) => roles.iter().any(|role| allowed.contains(&role.as_str())),
        }
    }
}

/// Service-desk staff: work on any ticket (per-queue rights narrow this in the handlers); the
/// roles of `Actor::is_agent`.
pub const AGENTS: &[&str] = crate::auth::AGENT_ROLES;
/// Who may open tickets and write to them (requesters only their own).
pub const TICKET_WRITERS: &[&str] = &["requester", "agent", "supervisor", "admin"];
/// Who may change the configuration.
pub const ADMINS: &[&str] = &["admin"];
/// Who may change the CMDB.
pub const ASSET_WRITERS: &[&str] = &["asset_manager", "admin"];
/// Who may read the CMDB (everyone but requesters).
pub const ASSET_READERS: &[&str] = &["agent", "supervisor", "asset_manager", "auditor", "admin"];
/// Who may verify and export the history.
pub const AUDITORS: &[&str] = &["auditor", "admin"];
/// Who may read reports.
pub const REPORT_READERS: &[&str] = &["agent", "supervisor", "auditor", "admin"];

/// One route and its rule.
#[derive(Clone, Copy, Debug)]
pub struct RouteRule {
    pub method: &'static str,
    /// The path as registered (`/api/v1/tickets/{ticket}`).
    pub path: &'static str,
    pub rule: Rule,
}

const fn route(method: &'static str, path: &'static str, rule: Rule) -> RouteRule {
    RouteRule { method, path, rule }
}

use Rule::{Authenticated, Public, Roles};

/// Every route of the command and query services, with its rule.
pub const ROUTES: &[RouteRule] = &[
    route("GET", "/healthz", Public),
    route("POST", "/api/v1/login", Public),
    route("POST", "/api/v1/logout", Public),
    route("POST", "/api/v1/users", Roles(ADMINS)),
    route("POST", "/api/v1/users/{name}/commands", Roles(ADMINS)),
    route("GET", "/readyz", Public),
    route("GET", "/metrics", Authenticated),
    route("GET", "/api/v1/openapi.json", Authenticated),
    // Commands.
    route("POST", "/api/v1/tickets", Roles(TICKET_WRITERS)),
    route(
        "POST",
        "/api/v1/tickets/{ticket}/commands",
        Roles(TICKET_WRITERS),
    ),
    route("GET", "/api/v1/config/{kind}", Authenticated),
    route("GET", "/api/v1/config/{kind}/{name}", Authenticated),
    route("PUT", "/api/v1/config/{kind}/{name}", Roles(ADMINS)),
    route("DELETE", "/api/v1/config/{kind}/{name}", Roles(ADMINS)),
    route("POST", "/api/v1/assets", Roles(ASSET_WRITERS)),
    route("POST", "/api/v1/assets/{id}/commands", Roles(ASSET_WRITERS)),
    route("POST", "/api/v1/imports", Roles(ASSET_WRITERS)),
    route("GET", "/api/v1/tokens", Roles(ADMINS)),
    route("POST", "/api/v1/tokens", Roles(ADMINS)),
    route("DELETE", "/api/v1/tokens/{id}", Roles(ADMINS)),
    // Reads.
    route("GET", "/api/v1/tickets", Authenticated),
    route("GET", "/api/v1/tickets/{ticket}", Authenticated),
    route("GET", "/api/v1/tickets/{ticket}/history", Authenticated),
    route("GET", "/api/v1/tickets/{ticket}/sla", Authenticated),
    route(
        "GET",
        "/api/v1/reports/sla-compliance",
        Roles(REPORT_READERS),
    ),
    route("GET", "/api/v1/queues", Roles(AGENTS)),
    route("GET", "/api/v1/search", Authenticated),
    route("GET", "/api/v1/events/stream", Authenticated),
    route("GET", "/api/v1/audit/verify", Roles(AUDITORS)),
    route("GET", "/api/v1/audit/export", Roles(AUDITORS)),
    route("GET", "/api/v1/audit/readers", Roles(AUDITORS)),
    route("GET", "/api/v1/assets", Roles(ASSET_READERS)),
    route("GET", "/api/v1/assets/{id}", Roles(ASSET_READERS)),
    route("GET", "/api/v1/assets/{id}/history", Roles(ASSET_READERS)),
    route("GET", "/api/v1/assets/{id}/impact", Roles(ASSET_READERS)),
    route("GET", "/api/v1/imports", Roles(ASSET_READERS)),
    route("GET", "/api/v1/me", Authenticated),
    // The web UI's static files: no data, and the login page is among them.
    route("GET", "/", Public),
    route("GET", "/ui/", Public),
    route("GET", "/ui/{file}", Public),
];

/// What the table says about a method on a registered path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The route's rule.
    Rule(Rule),
    /// The path has rules for other methods only (the router answers 405).
    OtherMethod,
    /// The path has no rule at all: refused (fail closed).
    Missing,
}

/// The rule of `method` on the registered `path`.
pub fn rule_for(method: &Method, path: &str) -> Lookup {
    let mut path_known = false;
    for entry in ROUTES.iter().filter(|entry| entry.path == path) {
        path_known = true;
        if entry.method == method.as_str() {
            return Lookup::Rule(entry.rule);
        }
    }
    if path_known {
        Lookup::OtherMethod
    } else {
        Lookup::Missing
    }
}

/// Middleware: checks the matched route's rule; puts the authenticated [`Actor`] into the
/// request's extensions so the handlers do not look it up again.
pub async fn enforce(State(pool): State<PgPool>, mut request: Request, next: Next) -> Response {
    let Some(path) = request.extensions().get::<MatchedPath>().cloned() else {
        // No route matched: the fallback answers 404.
        return next.run(request).await;
    };
    let rule = match rule_for(request.method(), path.as_str()) {
        Lookup::Rule(rule) => rule,
        Lookup::OtherMethod => return next.run(request).await,
        Lookup::Missing => {
            return ApiError::Unexpected(anyhow::anyhow!(
                "route {} has no access rule in command_service::policy::ROUTES",
                path.as_str()
            ))
            .into_response()
        }
    };
    if rule == Rule::Public {
        return next.run(request).await;
    }
    let actor = match caller(&pool, request.method(), request.headers()).await {
        Ok(actor) => actor,
        Err(error) => return error.into_response(),
    };
    if !rule.permits(&actor.roles) {
        return ApiError::Forbidden {
            command: "this route",
        }
        .into_response();
    }
    request.extensions_mut().insert(actor);
    next.run(request).await
}

async fn caller(pool: &PgPool, method: &Method, headers: &HeaderMap) -> Result<Actor, ApiError> {
    authenticate_headers(pool, method, headers)
        .await?
        .ok_or(ApiError::Unauthenticated)
}
