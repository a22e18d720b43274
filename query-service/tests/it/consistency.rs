//! Read-your-writes (`?after=<token>`) and blue-green generations: the query side reads only the
//! active generation, and waits for the projection to pass a command's token.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{numbers, send, spawn_app, spawn_app_with, Options, TicketSeed};

#[tokio::test]
async fn only_the_active_generation_is_read() {
    let app = spawn_app().await;
    app.insert_ticket(TicketSeed::new(1).title("Alt")).await;
    let rebuilt = app
        .insert_ticket(TicketSeed::new(2).title("Neu").generation(2))
        .await;
    let path = format!("/api/v1/tickets/{}", rebuilt.id);

    let before_list = numbers(&send(app.get("/api/v1/tickets")).await.ok());
    let before_view = send(app.get(&path)).await;
    let before_search = numbers(&send(app.get("/api/v1/search?q=Neu")).await.ok());
    app.set_projection(2, 2, (1000, 1)).await;
    let after_list = numbers(&send(app.get("/api/v1/tickets")).await.ok());
    let after_view = send(app.get(&path)).await;

    assert_eq!(before_list, ["2026-000001"]);
    before_view.assert_problem(StatusCode::NOT_FOUND, "ticket_not_found");
    assert!(before_search.is_empty());
    assert_eq!(after_list, ["2026-000002"]);
    assert_eq!(after_view.ok()["title"], "Neu");
}

#[tokio::test]
async fn a_token_the_projection_has_passed_is_answered_at_once() {
    let app = spawn_app().await;
    app.insert_ticket(TicketSeed::new(1)).await;

    for token in ["1000.1", "999.5000", "0.0"] {
        let started = Instant::now();
        let reply = send(app.get(&format!("/api/v1/tickets/2026-000001?after={token}"))).await;
        assert_eq!(reply.status, StatusCode::OK, "{token}: {reply:?}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

#[tokio::test]
async fn a_token_beyond_the_projection_waits_and_then_is_503_with_retry_after() {
    let app = spawn_app_with(Options {
        consistency_wait: Duration::from_millis(300),
        ..Options::default()
    })
    .await;

    let started = Instant::now();
    let reply = send(app.get("/api/v1/tickets?after=1000.2")).await;

    assert!(started.elapsed() >= Duration::from_millis(300));
    let body = reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "not_yet_consistent");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(body["detail"].as_str().unwrap().contains("ms"));
}

#[tokio::test]
async fn a_read_waiting_for_a_token_is_answered_once_the_projection_passes_it() {
    let app = spawn_app().await;
    let ticket = app.insert_ticket(TicketSeed::new(1)).await;
    let request = app.get(&format!("/api/v1/tickets/{}?after=1001.7", ticket.id));

    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        (send(request).await, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.set_projection(1, 1, (1001, 7)).await;
    let (reply, waited) = waiting.await.expect("request task");

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
}

#[tokio::test]
async fn every_read_route_waits_for_its_token() {
    let app = spawn_app_with(Options {
        consistency_wait: Duration::from_millis(100),
        ..Options::default()
    })
    .await;
    app.insert_ticket(TicketSeed::new(1)).await;

    for path in [
        "/api/v1/tickets",
        "/api/v1/tickets/2026-000001",
        "/api/v1/tickets/2026-000001/history",
        "/api/v1/queues",
        "/api/v1/search?q=Ticket",
    ] {
        let separator = if path.contains('?') { '&' } else { '?' };
        send(app.get(&format!("{path}{separator}after=5000.1")))
            .await
            .assert_problem(StatusCode::SERVICE_UNAVAILABLE, "not_yet_consistent");
    }
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let app = spawn_app().await;

    for token in ["abc", "12", "1.x", "-1.5", "1.2.3", "1.2&after=1.3"] {
        send(app.get(&format!("/api/v1/tickets?after={token}")))
            .await
            .assert_field_problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_parameter",
                "after",
            );
    }
}
