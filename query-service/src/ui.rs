//! The web UI (issue 7): an agent workspace, the self-service portal and the CMDB pages, as
//! static files embedded in the binary and served under `/ui/`, plus `GET /api/v1/me` (who is
//! logged in). The UI is a client of the command and query APIs on the same origin and holds no
//! business rule of its own: what a ticket offers comes from the view's `actions`, what a form
//! asks from the service catalog, and every refusal from the API's problem+json.
//!
//! The files carry no data, so they are public like the login they lead to; a strict Content
//! Security Policy (scripts and styles from this origin only, no inline code, no framing) keeps
//! user content that slipped through escaping inert.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use command_service::auth::Actor;
use command_service::error::{ApiError, Problem};
use serde::Serialize;
use utoipa::ToSchema;

/// One embedded file: its name under `/ui/`, its media type and its bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static str,
}

/// Every file of the UI. `index.html` is also `/ui/`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        media_type: "text/html; charset=utf-8",
        body: include_str!("../ui/index.html"),
    },
    Asset {
        name: "app.js",
        media_type: "text/javascript; charset=utf-8",
        body: include_str!("../ui/app.js"),
    },
    Asset {
        name: "i18n.js",
        media_type: "text/javascript; charset=utf-8",
        body: include_str!("../ui/i18n.js"),
    },
    Asset {
        name: "app.css",
        media_type: "text/css; charset=utf-8",
        body: include_str!("../ui/app.css"),
    },
];

/// The policy every UI response carries.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// `GET /`: to the UI.
pub async fn root() -> Redirect {
    Redirect::to("/ui/")
}

/// `GET /ui/`: the single page.
pub async fn index() -> Response {
    serve("index.html")
}

/// `GET /ui/{file}`: one embedded file, or 404.
pub async fn file(Path(name): Path<String>) -> Response {
    serve(&name)
}

fn serve(name: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
        return ApiError::RouteNotFound.into_response();
    };
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.media_type),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::ETAG, etag()),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ];
    (StatusCode::OK, headers, asset.body).into_response()
}

/// One validator for all files: they change only with the binary.
fn etag() -> HeaderValue {
    static ETAG: OnceLock<HeaderValue> = OnceLock::new();
    ETAG.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for asset in ASSETS {
            asset.body.hash(&mut hasher);
        }
        HeaderValue::from_str(&format!("\"{:016x}\"", hasher.finish()))
            .expect("hex digits are a valid header")
    })
    .clone()
}

/// The caller, as the UI needs it to choose its pages.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The user name.
    pub user: String,
    /// Every role held.
    pub roles: Vec<String>,
}

/// Who is logged in (any authenticated caller).
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "identity",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Missing or invalid credentials", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn me(actor: Actor) -> Json<Me> {
    Json(Me {
        user: actor.user,
        roles: actor.roles,
    })
}
