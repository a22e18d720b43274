//! The timeline: entries with their changes and readable summaries in German and English.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{send, spawn_app, TestApp, TicketSeed, AGENT, REQUESTER};

/// A ticket with five entries: opened, assigned, internal note, public reply, resolved.
async fn seed(app: &TestApp) -> TicketSeed {
    let mut seed = TicketSeed::new(1).status("resolved");
    seed.version = 5;
    let ticket = app.insert_ticket(seed).await;
    let none = Value::Null;
    app.insert_history(
        ticket.id,
        1,
        "ticket.opened",
        json!([{"field": "status", "from": none, "to": "new"}]),
    )
    .await;
    app.insert_history(
        ticket.id,
        2,
        "ticket.assigned",
        json!([
            {"field": "assignee", "from": none, "to": "anna"},
            {"field": "queue", "from": "service-desk", "to": "2nd-level"},
            {"field": "status", "from": "new", "to": "assigned"},
        ]),
    )
    .await;
    app.insert_history(
        ticket.id,
        3,
        "ticket.article_added",
        json!([{"field": "articles", "from": none, "to": {"article_id": 1, "kind": "internal_note"}}]),
    )
    .await;
    app.insert_history(
        ticket.id,
        4,
        "ticket.article_added",
        json!([{"field": "articles", "from": none, "to": {"article_id": 2, "kind": "public_reply"}}]),
    )
    .await;
    app.insert_history(
        ticket.id,
        5,
        "ticket.resolved",
        json!([
            {"field": "status", "from": "assigned", "to": "resolved"},
            {"field": "resolution_code", "from": none, "to": "fixed"},
        ]),
    )
    .await;
    ticket
}

fn summaries(body: &Value) -> Vec<String> {
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["summary"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_timeline_lists_every_event_with_changes_and_german_summaries() {
    let app = spawn_app().await;
    let ticket = seed(&app).await;

    let reply = send(app.get(&format!("/api/v1/tickets/{}/history", ticket.id))).await;

    let body = reply.ok();
    assert_eq!(reply.header("etag"), Some("\"5\""));
    assert_eq!(reply.header("content-language"), Some("de"));
    assert_eq!(body["number"], "2026-000001");
    assert_eq!(body["next_from_version"], Value::Null);
    assert_eq!(
        summaries(&body),
        [
            "Ticket eröffnet",
            "Zugewiesen an anna (vorher: niemand); Warteschlange: 2nd-level (vorher: service-desk); \
             Status: Zugewiesen (vorher: Neu)",
            "Interne Notiz hinzugefügt",
            "Öffentliche Antwort hinzugefügt",
            "Gelöst (vorher: Zugewiesen); Lösungscode: fixed",
        ]
    );
    let assigned = &body["entries"][1];
    assert_eq!(assigned["version"], 2);
    assert_eq!(assigned["event_type"], "ticket.assigned");
    assert_eq!(assigned["actor"], AGENT);
    assert_eq!(assigned["channel"], "api");
    assert_eq!(assigned["occurred_at"], "2026-11-02T11:22:00Z");
    assert!(assigned["event_id"].is_string() && assigned["correlation_id"].is_string());
    assert_eq!(
        assigned["changes"][0],
        json!({"field": "assignee", "from": null, "to": "anna"})
    );
}

#[tokio::test]
async fn summaries_are_english_when_the_reader_prefers_english() {
    let app = spawn_app().await;
    let ticket = seed(&app).await;

    let reply = send(
        app.get("/api/v1/tickets/2026-000001/history")
            .header("Accept-Language", "en-GB,en;q=0.9,de;q=0.5"),
    )
    .await;

    let body = reply.ok();
    assert_eq!(reply.header("content-language"), Some("en"));
    assert_eq!(body["ticket"], ticket.id.to_string());
    assert_eq!(
        summaries(&body),
        [
            "Ticket opened",
            "Assigned to anna (before: nobody); Queue: 2nd-level (before: service-desk); \
             Status: Assigned (before: New)",
            "Internal note added",
            "Public reply added",
            "Resolved (before: Assigned); Resolution code: fixed",
        ]
    );
}

#[tokio::test]
async fn requesters_see_their_timeline_without_internal_notes() {
    let app = spawn_app().await;
    let ticket = seed(&app).await;
    let token = app.token(REQUESTER, "requester").await;
    let stranger = app.token("x.fremd", "requester").await;
    let path = format!("/api/v1/tickets/{}/history", ticket.id);

    let body = send(app.get_as(&path, &token)).await.ok();
    let refused = send(app.get_as(&path, &stranger)).await;

    let versions: Vec<i64> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 4, 5]);
    assert!(!body.to_string().contains("internal_note"));
    refused.assert_problem(StatusCode::NOT_FOUND, "ticket_not_found");
}

#[tokio::test]
async fn the_timeline_pages_by_version_and_answers_304_to_its_etag() {
    let app = spawn_app().await;
    seed(&app).await;

    let first = send(app.get("/api/v1/tickets/2026-000001/history?limit=2"))
        .await
        .ok();
    let next = first["next_from_version"].as_i64().expect("more entries");
    let rest = send(app.get(&format!(
        "/api/v1/tickets/2026-000001/history?from_version={next}"
    )))
    .await
    .ok();
    let unchanged = send(
        app.get("/api/v1/tickets/2026-000001/history")
            .header("If-None-Match", "W/\"5\""),
    )
    .await;

    assert_eq!(next, 2);
    assert_eq!(rest["entries"].as_array().unwrap().len(), 3);
    assert_eq!(rest["entries"][0]["version"], 3);
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
}
