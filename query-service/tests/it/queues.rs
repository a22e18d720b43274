//! Queue counts: open tickets per queue and status, for agents only.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{send, spawn_app, TicketSeed, REQUESTER};

#[tokio::test]
async fn queues_count_open_tickets_per_status_with_totals() {
    let app = spawn_app().await;
    let tickets = [
        TicketSeed::new(1),
        TicketSeed::new(2).status("assigned"),
        TicketSeed::new(3).status("pending"),
        TicketSeed::new(4)
            .queue(Some("network"))
            .status("in_progress"),
        TicketSeed::new(5).queue(Some("network")).status("resolved"),
        TicketSeed::new(6).queue(None),
        TicketSeed::new(7).queue(None).status("closed"),
    ];
    for ticket in tickets {
        app.insert_ticket(ticket).await;
    }

    let body = send(app.get("/api/v1/queues")).await.ok();

    assert_eq!(
        body,
        json!({
            "queues": [
                {"queue": "network",
                 "counts": {"new": 0, "assigned": 0, "in_progress": 1, "pending": 0},
                 "total": 1},
                {"queue": "service-desk",
                 "counts": {"new": 1, "assigned": 1, "in_progress": 0, "pending": 1},
                 "total": 3},
                {"queue": "unassigned",
                 "counts": {"new": 1, "assigned": 0, "in_progress": 0, "pending": 0},
                 "total": 1},
            ],
            "total": 5
        })
    );
}

#[tokio::test]
async fn requesters_may_not_read_queue_counts() {
    let app = spawn_app().await;
    let token = app.token(REQUESTER, "requester").await;

    let reply = send(app.get_as("/api/v1/queues", &token)).await;

    reply.assert_problem(StatusCode::FORBIDDEN, "missing_right");
}
