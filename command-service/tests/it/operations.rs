//! Operational endpoints: health, readiness, metrics, the OpenAPI document.

use reqwest::StatusCode;

use crate::helpers::{send, spawn_app};

#[tokio::test]
async fn healthz_answers_without_a_token() {
    let app = spawn_app().await;

    let reply = send(app.client.get(app.url("/healthz"))).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text, "ok");
}

#[tokio::test]
async fn readyz_answers_when_the_database_is_reachable() {
    let app = spawn_app().await;

    let reply = send(app.client.get(app.url("/readyz"))).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text, "ready");
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.pool.close().await;

    let reply = send(app.client.get(app.url("/readyz"))).await;

    reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}

#[tokio::test]
async fn metrics_need_a_token() {
    let app = spawn_app().await;

    let reply = send(app.client.get(app.url("/metrics"))).await;

    reply.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn metrics_count_commands_by_name_and_outcome_in_prometheus_text() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let close = serde_json::json!({"type": "close"});
    app.command(&id, &close, None).await;

    let reply = send(app.get("/metrics")).await;

    assert_eq!(reply.status, StatusCode::OK);
    let content_type = reply.header("content-type").expect("content type");
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    for line in [
        "# TYPE itsm_command_commands counter",
        "itsm_command_commands_total{command=\"open\",outcome=\"ok\"} 1",
        "itsm_command_commands_total{command=\"close\",outcome=\"invalid_transition\"} 1",
        "itsm_command_events_appended_total 1",
        "itsm_command_duration_seconds_count 2",
    ] {
        assert!(
            reply.text.lines().any(|text| text == line),
            "{line:?} missing:\n{}",
            reply.text
        );
    }
}

#[tokio::test]
async fn the_openapi_document_needs_a_token() {
    let app = spawn_app().await;

    let reply = send(app.client.get(app.url("/api/v1/openapi.json"))).await;

    reply.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn the_served_openapi_document_is_the_checked_in_one() {
    let app = spawn_app().await;

    let reply = send(app.get("/api/v1/openapi.json")).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.text == command_service::openapi::document_json());
    // While UPDATE_SCHEMAS=1 rewrites the file, the snapshot test compares it instead.
    if !crate::schemas::updating() {
        let checked_in = crate::schemas::read_schema("openapi/command-service.json");
        assert!(
            reply.text == checked_in,
            "served document differs from schemas/"
        );
    }
}
