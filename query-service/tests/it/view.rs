//! The ticket view: everything about one ticket, its SLA clocks in brief, its ETag, and who may
//! see it.

use chrono::{Duration, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{send, spawn_app, ClockSeed, TicketSeed, AGENT, OTHER_REQUESTER, REQUESTER};

#[tokio::test]
async fn the_view_shows_fields_requester_articles_links_and_merges() {
    let app = spawn_app().await;
    let mut seed = TicketSeed::new(1).title("Drucker defekt").assignee("anna");
    seed.version = 5;
    seed.fields = json!({"cost_centre": "4711", "affected_users": 25});
    seed.tags = vec!["drucker".into(), "og-2".into()];
    let ticket = app.insert_ticket(seed).await;
    let outgoing = app
        .insert_ticket(TicketSeed::new(2).title("Netzwerk"))
        .await;
    let incoming = app
        .insert_ticket(TicketSeed::new(3).title("Papierstau"))
        .await;
    let mut merged = TicketSeed::new(4).status("merged");
    merged.merged_into = Some(ticket.id);
    let merged = app.insert_ticket(merged).await;
    app.insert_link(ticket.id, "caused_by", outgoing.id, 10)
        .await;
    app.insert_link(incoming.id, "relates_to", ticket.id, 11)
        .await;
    app.insert_article(ticket.id, 1, "public_reply", "Wir kümmern uns.")
        .await;
    app.insert_article(ticket.id, 2, "internal_note", "Toner bestellt.")
        .await;

    let reply = send(app.get(&format!("/api/v1/tickets/{}", ticket.id))).await;

    let body = reply.ok();
    assert_eq!(reply.header("etag"), Some("\"5\""));
    assert_eq!(body["number"], "2026-000001");
    assert_eq!(body["version"], 5);
    assert_eq!(body["title"], "Drucker defekt");
    assert_eq!(body["status"], "new");
    assert_eq!(body["assignee"], "anna");
    assert_eq!(
        body["fields"],
        json!({"cost_centre": "4711", "affected_users": 25})
    );
    assert_eq!(body["tags"], json!(["drucker", "og-2"]));
    assert_eq!(body["requester"]["name"], "Erika Mustermann");
    assert_eq!(body["requester"]["email"], "erika@example.org");
    assert_eq!(body["requester"]["user_id"], REQUESTER);
    assert_eq!(body["consistency_token"], "900.5");
    let kinds: Vec<&str> = body["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|article| article["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["public_reply", "internal_note"]);
    assert_eq!(body["articles"][0]["body"], "Wir kümmern uns.");
    assert_eq!(body["articles"][0]["author"], AGENT);
    assert_eq!(body["articles_truncated"], false);
    assert_eq!(
        body["links"],
        json!([
            {"direction": "outgoing", "link_type": "caused_by", "created_by": AGENT,
             "created_at": "2026-11-02T08:10:00Z",
             "ticket": {"id": outgoing.id, "number": "2026-000002", "title": "Netzwerk", "status": "new"}},
            {"direction": "incoming", "link_type": "relates_to", "created_by": AGENT,
             "created_at": "2026-11-02T08:11:00Z",
             "ticket": {"id": incoming.id, "number": "2026-000003", "title": "Papierstau", "status": "new"}},
        ])
    );
    assert_eq!(body["merged_into"], json!(null));
    assert_eq!(
        body["merged_from"],
        json!([{"id": merged.id, "number": "2026-000004", "title": "Ticket 4", "status": "merged"}])
    );
    let merged_view = send(app.get("/api/v1/tickets/2026-000004")).await.ok();
    assert_eq!(
        merged_view["merged_into"],
        json!({"id": ticket.id, "number": "2026-000001"})
    );
}

#[tokio::test]
async fn the_view_is_found_by_number_and_answers_304_to_its_etag() {
    let app = spawn_app().await;
    let mut seed = TicketSeed::new(7);
    seed.version = 3;
    let ticket = app.insert_ticket(seed).await;

    let by_number = send(app.get("/api/v1/tickets/2026-000007")).await;
    let unchanged = send(
        app.get(&format!("/api/v1/tickets/{}", ticket.id))
            .header("If-None-Match", "\"3\""),
    )
    .await;
    let changed = send(
        app.get("/api/v1/tickets/2026-000007")
            .header("If-None-Match", "\"2\""),
    )
    .await;

    assert_eq!(by_number.ok()["id"], ticket.id.to_string());
    assert_eq!(by_number.header("etag"), Some("\"3\""));
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.header("etag"), Some("\"3\""));
    assert!(unchanged.text.is_empty());
    assert_eq!(changed.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_tickets_are_404_problems() {
    let app = spawn_app().await;

    for path in [
        "/api/v1/tickets/2026-000099",
        "/api/v1/tickets/0193e1a0-7c2b-7d40-9a61-3f0c2b8e41d7",
        "/api/v1/tickets/not-a-ticket",
        "/api/v1/tickets/2026-000099/history",
    ] {
        send(app.get(path))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "ticket_not_found");
    }
}

#[tokio::test]
async fn requesters_see_their_own_tickets_without_internal_notes_and_others_not_at_all() {
    let app = spawn_app().await;
    let own = app.insert_ticket(TicketSeed::new(1)).await;
    let others = app
        .insert_ticket(
            TicketSeed::new(2)
                .requester(OTHER_REQUESTER)
                .title("Geheim"),
        )
        .await;
    app.insert_article(own.id, 1, "public_reply", "Antwort")
        .await;
    app.insert_article(own.id, 2, "internal_note", "Nur intern")
        .await;
    app.insert_article(own.id, 3, "requester_message", "Danke")
        .await;
    app.insert_link(own.id, "relates_to", others.id, 5).await;
    let token = app.token(REQUESTER, "requester").await;

    let own_view = send(app.get_as(&format!("/api/v1/tickets/{}", own.id), &token)).await;
    let others_view = send(app.get_as(&format!("/api/v1/tickets/{}", others.id), &token)).await;
    let others_by_number = send(app.get_as("/api/v1/tickets/2026-000002", &token)).await;

    let body = own_view.ok();
    let bodies: Vec<&str> = body["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|article| article["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["Antwort", "Danke"]);
    assert_eq!(
        body["links"],
        json!([]),
        "links to others' tickets are hidden"
    );
    others_view.assert_problem(StatusCode::NOT_FOUND, "ticket_not_found");
    others_by_number.assert_problem(StatusCode::NOT_FOUND, "ticket_not_found");
    assert!(!others_view.text.contains("Geheim"));
}

#[tokio::test]
async fn the_view_summarises_the_sla_clocks_as_read_now() {
    let app = spawn_app().await;
    let ticket = app.insert_ticket(TicketSeed::new(1)).await;
    let overdue = app.insert_ticket(TicketSeed::new(2)).await;
    let without = app.insert_ticket(TicketSeed::new(3)).await;
    let due_at = Utc.with_ymd_and_hms(2100, 1, 4, 9, 30, 0).unwrap();
    app.insert_clocks(
        1,
        ticket.id,
        ClockSeed::halted("met", 1_830, 3_600),
        ClockSeed::running(due_at, 5_400, 28_800),
    )
    .await;
    app.insert_clocks(
        1,
        overdue.id,
        ClockSeed::halted("paused", 3_660, 3_600).late(),
        ClockSeed::running(Utc::now() - Duration::minutes(1), 28_000, 28_800),
    )
    .await;
    let view = |id: uuid::Uuid| send(app.get(&format!("/api/v1/tickets/{id}")));

    let before = view(ticket.id).await.ok();
    app.set_sla_projection(1).await;
    let body = view(ticket.id).await.ok();
    let overdue_body = view(overdue.id).await.ok();
    let without_body = view(without.id).await.ok();

    assert_eq!(before["sla"], json!([]), "no SLA projection yet");
    assert_eq!(
        body["sla"],
        json!([
            {"metric": "first_response", "state": "met", "target_minutes": 60,
             "elapsed_minutes": 30, "due_at": null},
            {"metric": "resolution", "state": "running", "target_minutes": 480,
             "elapsed_minutes": 90, "due_at": "2100-01-04T09:30:00Z"},
        ])
    );
    let states: Vec<&str> = overdue_body["sla"]
        .as_array()
        .unwrap()
        .iter()
        .map(|clock| clock["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["breached", "breached"]);
    assert_eq!(without_body["sla"], json!([]));
}

/// The `actions` of a view for the caller with `token`.
async fn actions_as(app: &crate::helpers::TestApp, ticket: &str, token: &str) -> Vec<String> {
    let body = send(app.get_as(&format!("/api/v1/tickets/{ticket}"), token))
        .await
        .ok();
    serde_json::from_value(body["actions"].clone()).unwrap()
}

#[tokio::test]
async fn the_view_offers_exactly_the_commands_the_caller_may_send_now() {
    let app = spawn_app().await;
    let new = app.insert_ticket(TicketSeed::new(1)).await;
    let assigned = app
        .insert_ticket(TicketSeed::new(2).status("assigned").assignee(AGENT))
        .await;
    let resolved = app
        .insert_ticket(TicketSeed::new(3).status("resolved").assignee(AGENT))
        .await;
    let closed = app.insert_ticket(TicketSeed::new(4).status("closed")).await;
    let agent = app.agent_token.clone();
    let requester = app.token(REQUESTER, "requester").await;
    let supervisor = app.token("s.leiter", "supervisor").await;

    let offered = actions_as(&app, &new.number, &agent).await;
    // New, unassigned: no start_work (no assignee), no set_pending (not from new), no close.
    assert_eq!(
        offered,
        [
            "assign",
            "resolve",
            "cancel",
            "merge",
            "add_reply",
            "add_note",
            "add_requester_message",
            "set_priority",
            "set_fields",
            "set_tags",
            "link",
            "unlink",
            "link_asset",
            "unlink_asset",
        ]
    );
    let offered = actions_as(&app, &assigned.number, &agent).await;
    assert!(
        offered.contains(&"start_work".to_owned()) && offered.contains(&"set_pending".to_owned())
    );

    // Resolved: close; reopen only within the window (this one has no resolution time).
    let offered = actions_as(&app, &resolved.number, &agent).await;
    assert!(offered.contains(&"close".to_owned()) && !offered.contains(&"reopen".to_owned()));
    sqlx::query(
        "UPDATE rm_tickets SET resolved_at = now() - interval '1 day' WHERE ticket_id = $1",
    )
    .bind(resolved.id)
    .execute(&app.db.app_pool)
    .await
    .unwrap();
    let offered = actions_as(&app, &resolved.number, &agent).await;
    assert!(offered.contains(&"reopen".to_owned()));
    sqlx::query(
        "UPDATE rm_tickets SET resolved_at = now() - interval '8 days' WHERE ticket_id = $1",
    )
    .bind(resolved.id)
    .execute(&app.db.app_pool)
    .await
    .unwrap();
    let offered = actions_as(&app, &resolved.number, &agent).await;
    assert!(
        !offered.contains(&"reopen".to_owned()),
        "the reopen window is 7 days"
    );

    assert!(actions_as(&app, &closed.number, &agent).await.is_empty());
    assert_eq!(
        actions_as(&app, &new.number, &requester).await,
        ["add_requester_message"]
    );
    assert!(actions_as(&app, &closed.number, &requester)
        .await
        .is_empty());
    assert_eq!(
        actions_as(&app, &assigned.number, &supervisor).await,
        actions_as(&app, &assigned.number, &agent).await
    );
}
