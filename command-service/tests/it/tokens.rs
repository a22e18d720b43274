//! API tokens: administrators issue, list and revoke them; a revoked token stops working at
//! once; issuing and revoking are recorded as events without the secret.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{send, spawn_app, with_token};

#[tokio::test]
async fn a_revoked_token_stops_working_at_once_and_both_steps_are_recorded() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let issued = send(
        with_token(app.client.post(app.url("/api/v1/tokens")), &admin)
            .json(&json!({"user": "reporting-job", "roles": ["auditor"], "expires_in_days": 30})),
    )
    .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{issued:?}");
    let body = issued.json();
    let (id, secret) = (
        body["id"].as_str().unwrap().to_owned(),
        body["token"].as_str().unwrap().to_owned(),
    );
    let read = || with_token(app.client.get(app.url("/api/v1/config/queues")), &secret);
    assert_eq!(send(read()).await.status, StatusCode::OK);

    let listed = send(with_token(
        app.client.get(app.url("/api/v1/tokens")),
        &admin,
    ))
    .await
    .json();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (entry["user"].clone(), entry["roles"].clone()),
        (json!("reporting-job"), json!(["auditor"]))
    );
    assert!(!listed.to_string().contains(&secret), "a secret is listed");

    let revoked = send(with_token(
        app.client.delete(app.url(&format!("/api/v1/tokens/{id}"))),
        &admin,
    ))
    .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{revoked:?}");
    send(read())
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let again = send(with_token(
        app.client.delete(app.url(&format!("/api/v1/tokens/{id}"))),
        &admin,
    ))
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let events: Vec<(String, String, Value)> = sqlx::query_as(
        "SELECT event_type, actor, payload FROM events WHERE stream_type = 'api_token' AND stream_id = $1::uuid ORDER BY stream_version",
    )
    .bind(&id)
    .fetch_all(&app.db.owner_pool)
    .await
    .unwrap();
    let kinds: Vec<&str> = events.iter().map(|(kind, _, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["token.issued", "token.revoked"]);
    assert_eq!(events[0].1, "admin");
    assert_eq!(events[0].2["roles"], json!(["auditor"]));
    let all: Vec<String> = sqlx::query_scalar("SELECT payload::text FROM events")
        .fetch_all(&app.db.owner_pool)
        .await
        .unwrap();
    assert!(
        all.iter()
            .all(|payload| !payload.contains(&secret) && !payload.contains("itsm_")),
        "a secret was recorded"
    );
}

#[tokio::test]
async fn a_token_request_with_an_unknown_role_or_a_bad_validity_is_refused() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    for (body, field) in [
        (json!({"user": "job", "roles": ["kaiser"]}), "roles"),
        (
            json!({"user": "job", "roles": ["agent"], "expires_in_days": 0}),
            "expires_in_days",
        ),
        (json!({"user": "", "roles": ["agent"]}), "user"),
    ] {
        let reply = app
            .reject(with_token(app.client.post(app.url("/api/v1/tokens")), &admin).json(&body))
            .await;
        reply.assert_field_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", field);
    }
}
