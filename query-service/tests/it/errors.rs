//! Error paths: authentication, unknown and invalid parameters, unknown routes, readiness — all
//! problem+json, German by default and English on request.

use reqwest::StatusCode;

use crate::helpers::{send, spawn_app};

#[tokio::test]
async fn reads_without_a_valid_token_are_401_problems() {
    let app = spawn_app().await;

    for path in [
        "/api/v1/tickets",
        "/api/v1/tickets/2026-000001",
        "/api/v1/tickets/2026-000001/history",
        "/api/v1/queues",
        "/api/v1/search?q=x",
        "/api/v1/events/stream",
        "/api/v1/openapi.json",
    ] {
        let anonymous = send(app.client.get(app.url(path))).await;
        let wrong = send(app.client.get(app.url(path)).bearer_auth("itsm_wrong")).await;
        anonymous.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
        assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
        wrong.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
}

#[tokio::test]
async fn unknown_parameters_are_named() {
    let app = spawn_app().await;

    for (path, parameter) in [
        ("/api/v1/tickets?queue=a&colour=red", "colour"),
        ("/api/v1/tickets/2026-000001?expand=all", "expand"),
        ("/api/v1/tickets/2026-000001/history?page=2", "page"),
        ("/api/v1/queues?status=new", "status"),
        ("/api/v1/search?q=x&sort=age", "sort"),
    ] {
        send(app.get(path)).await.assert_field_problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_parameter",
            parameter,
        );
    }
}

#[tokio::test]
async fn invalid_worklist_parameters_are_named() {
    let app = spawn_app().await;

    for (query, parameter) in [
        ("limit=201", "limit"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=7a7a", "cursor"),
        ("status=done", "status"),
        ("priority=urgent", "priority"),
        ("sort=title", "sort"),
        ("queue=a&queue=b", "queue"),
    ] {
        send(app.get(&format!("/api/v1/tickets?{query}")))
            .await
            .assert_field_problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_parameter",
                parameter,
            );
    }
}

#[tokio::test]
async fn a_cursor_of_another_sort_order_is_refused() {
    let app = spawn_app().await;
    for sequence in 1..=3 {
        app.insert_ticket(crate::helpers::TicketSeed::new(sequence))
            .await;
    }
    let page = send(app.get("/api/v1/tickets?limit=1")).await.ok();
    let cursor = page["next_cursor"].as_str().expect("a next page");

    let reply = send(app.get(&format!("/api/v1/tickets?sort=age&cursor={cursor}"))).await;

    reply.assert_field_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_parameter",
        "cursor",
    );
}

#[tokio::test]
async fn problems_are_german_by_default_and_english_on_request() {
    let app = spawn_app().await;

    let german = send(app.get("/api/v1/tickets?colour=red")).await;
    let english = send(
        app.get("/api/v1/tickets?colour=red")
            .header("Accept-Language", "en"),
    )
    .await;

    let german = german.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_parameter");
    let english = english.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_parameter");
    assert_eq!(german["title"], "Unbekannter Abfrageparameter");
    assert_eq!(english["title"], "Unknown query parameter");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app().await;

    send(app.get("/api/v1/nothing"))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    send(
        app.client
            .delete(app.url("/api/v1/queues"))
            .bearer_auth(&app.agent_token),
    )
    .await
    .assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn live_updates_without_nats_are_503() {
    let app = spawn_app().await;

    send(app.get("/api/v1/events/stream"))
        .await
        .assert_problem(StatusCode::SERVICE_UNAVAILABLE, "live_updates_unavailable");
}

#[tokio::test]
async fn readiness_names_a_failed_projection() {
    let app = spawn_app().await;

    let ready = send(app.client.get(app.url("/readyz"))).await;
    sqlx::query("UPDATE projection_checkpoints SET state = 'failed', error = 'poison' WHERE name = 'tickets'")
        .execute(&app.db.owner_pool)
        .await
        .unwrap();
    let failed = send(app.client.get(app.url("/readyz"))).await;

    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.text, "ready");
    let body = failed.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "projection_failed");
    assert!(body["detail"].as_str().unwrap().contains("tickets"));
    assert_eq!(send(app.client.get(app.url("/healthz"))).await.text, "ok");
}
