//! The OpenAPI document of the command API, generated from the handlers and types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::assets::import::ImportReport;
use crate::assets::routes::{self as asset_routes, AssetAccepted};
use crate::config::{self, ConfigChanged, ConfigView};
use crate::error::Problem;
use crate::identity::routes::{
    self as identity_routes, LoginRequest, LoginResponse, NewUser, UserAccepted, UserCommandRequest,
};
use crate::routes::{self, CommandAccepted};
use crate::tokens::{self, IssuedToken, TokenInfo};

/// The command API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ITSM command API",
        description = "Commands that change tickets. Every change is an immutable event. Errors are RFC 9457 problem+json, German by default (`Accept-Language: en` for English).",
        version = "1"
    ),
    paths(
        routes::open_ticket,
        routes::execute_command,
        config::list,
        config::show,
        config::define,
        config::retire,
        asset_routes::register,
        asset_routes::execute,
        asset_routes::import_file,
        tokens::index,
        tokens::create,
        tokens::delete,
        identity_routes::login,
        identity_routes::logout,
        identity_routes::register_user,
        identity_routes::execute
    ),
    components(schemas(CommandAccepted, ConfigChanged, ConfigView, Problem, AssetAccepted, ImportReport, TokenInfo, IssuedToken, LoginRequest, LoginResponse, NewUser, UserCommandRequest, UserAccepted)),
    modifiers(&BearerAuth),
    tags(
        (name = "tickets", description = "Open tickets and execute commands on them"),
        (name = "configuration", description = "Queues, service catalog, business calendars, SLA policies and asset classes (changes: administrators)"),
        (name = "access", description = "API tokens for integrations and reporting jobs (administrators)"),
        (name = "identity", description = "Login and logout (browser sessions), user accounts (administrators)"),
        (name = "assets", description = "The CMDB: register assets, change them, relate them, import inventory files (asset managers and administrators)")
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as pretty JSON with a trailing newline (the form checked in under `schemas/`).
pub fn document_json() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .expect("OpenAPI serializes");
    text.push('\n');
    text
}
