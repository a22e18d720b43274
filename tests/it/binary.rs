//! The whole path as a user walks it: serve, open a ticket over HTTP, inspect and verify its
//! events, detect tampering, shut down gracefully.

use serde_json::{json, Value};

use crate::{stderr, stdout, Installation, Server};

async fn post(url: &str, token: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_ticket_opened_over_http_shows_in_itsm_events_with_a_verified_chain() {
    let installation = Installation::new().await;
    let token =
        stdout(&installation.itsm(&["token", "issue", "--user", "k.meier", "--role", "agent"]))
            .trim()
            .to_owned();
    let server = Server::start(&installation).await;
    let base = installation.base_url();

    let ticket = json!({"type": "incident", "title": "Drucker im 2. OG druckt nicht", "description": "Papierstau in Fach 2",
        "requester": {"name": "Erika Mustermann", "email": "erika@example.org"}, "impact": "medium", "urgency": "high"});
    let (status, opened) = post(&format!("{base}/api/v1/tickets"), &token, ticket).await;
    assert_eq!(status, 201, "{opened}");
    let number = opened["number"].as_str().unwrap().to_owned();
    let (status, assigned) = post(
        &format!("{base}/api/v1/tickets/{number}/commands"),
        &token,
        json!({"type": "assign", "assignee": "k.meier"}),
    )
    .await;
    assert_eq!(
        (status, assigned["version"].as_u64()),
        (200, Some(2)),
        "{assigned}"
    );

    let output = installation.itsm(&["events", &number]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("ticket.opened")
            && text.contains("ticket.assigned")
            && text.contains("by k.meier"),
        "{text}"
    );
    assert!(
        !text.contains("Erika"),
        "personal data must be shown encrypted by default: {text}"
    );
    assert!(
        stderr(&output).contains("hash chain verified: 2 events"),
        "{}",
        stderr(&output)
    );

    let output = installation.itsm(&[
        "events",
        opened["id"].as_str().unwrap(),
        "--decrypt",
        "--format",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let first: Value = serde_json::from_str(stdout(&output).lines().next().unwrap()).unwrap();
    assert_eq!(first["payload"]["requester"]["name"], "Erika Mustermann");
    assert_eq!(first["metadata"]["actor"], "k.meier");

    assert!(
        server.stop().success(),
        "itsm serve must exit cleanly on SIGTERM"
    );
}

#[tokio::test]
async fn itsm_events_reports_a_tampered_event_and_exits_non_zero() {
    let installation = Installation::new().await;
    let token =
        stdout(&installation.itsm(&["token", "issue", "--user", "k.meier", "--role", "agent"]))
            .trim()
            .to_owned();
    let server = Server::start(&installation).await;
    let ticket = json!({"type": "service_request", "title": "Neuer Monitor", "requester": {"name": "Max"}, "impact": "low", "urgency": "low"});
    let (_, opened) = post(
        &format!("{}/api/v1/tickets", installation.base_url()),
        &token,
        ticket,
    )
    .await;
    drop(server);

    // Someone with owner rights switches the guard off and rewrites history.
    let owner = &installation.db.owner_pool;
    sqlx::query("ALTER TABLE events DISABLE TRIGGER events_no_update_delete")
        .execute(owner)
        .await
        .unwrap();
    sqlx::query("UPDATE events SET payload = jsonb_set(payload, '{title}', '\"Neuer Laptop\"')")
        .execute(owner)
        .await
        .unwrap();

    let output = installation.itsm(&["events", opened["number"].as_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("HASH CHAIN BROKEN") && stderr(&output).contains("version 1"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn serve_refuses_to_start_with_a_master_key_the_database_was_not_set_up_with() {
    let installation = Installation::new().await;
    event_store::crypto::MasterKey::generate()
        .check_against(&installation.db.app_pool)
        .await
        .unwrap();

    let output = installation.itsm(&["serve"]);

    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("crypto.master_key is not the key"),
        "{}",
        stderr(&output)
    );
}
