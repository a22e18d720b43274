//! The query API's OpenAPI document, checked in under `schemas/openapi/query-service.json`.
//! `UPDATE_SCHEMAS=1 cargo test -p query-service` rewrites it.

use std::path::PathBuf;

use crate::helpers::{send, spawn_app};

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("schemas")
        .join("openapi")
        .join("query-service.json")
}

#[test]
fn the_checked_in_openapi_document_is_the_generated_one() {
    let generated = query_service::openapi::document_json();
    let path = schema_path();
    if std::env::var("UPDATE_SCHEMAS").is_ok_and(|value| value == "1") {
        std::fs::write(&path, &generated).expect("write schema");
    }

    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();

    assert!(
        checked_in == generated,
        "schemas/openapi/query-service.json differs from the code; review the change and run \
         UPDATE_SCHEMAS=1 cargo test -p query-service"
    );
}

#[tokio::test]
async fn the_service_serves_its_document() {
    let app = spawn_app().await;

    let reply = send(app.get("/api/v1/openapi.json")).await;

    let body = reply.ok();
    assert_eq!(body["info"]["title"], "ITSM query API");
    for path in [
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket}",
        "/api/v1/tickets/{ticket}/history",
        "/api/v1/queues",
        "/api/v1/search",
        "/api/v1/events/stream",
    ] {
        assert!(body["paths"][path]["get"].is_object(), "{path}");
    }
}
