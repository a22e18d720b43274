//! Opening tickets: the response, the number, and what lands in the store.

use chrono::{Datelike, Duration, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{send, spawn_app, ticket_body, AGENT};

#[tokio::test]
async fn opening_a_ticket_returns_201_with_id_number_version_token_etag_and_location() {
    let app = spawn_app().await;

    let reply = send(app.open_request(&ticket_body())).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let opened = reply.accepted();
    assert_eq!(opened.version, 1);
    assert_eq!(opened.events_appended, 1);
    assert!(!opened.replayed);
    let token = opened
        .consistency_token
        .as_deref()
        .expect("consistency token");
    let (transaction, position) = token.split_once('.').expect("<transaction>.<position>");
    assert!(transaction.parse::<u64>().is_ok() && position.parse::<u64>().is_ok());
    assert_eq!(reply.header("etag"), Some("\"1\""));
    let location = format!("/api/v1/tickets/{}", opened.id);
    assert_eq!(reply.header("location"), Some(location.as_str()));
    let stream = app.stream(opened.id).await;
    assert_eq!(stream.len(), 1);
    assert_eq!(token, stream[0].cursor().to_string());
}

#[tokio::test]
async fn ticket_numbers_have_the_form_year_dash_six_digits_and_increase_per_ticket() {
    let app = spawn_app().await;

    let mut numbers = Vec::new();
    for _ in 0..3 {
        numbers.push(app.open_ticket().await.number.expect("number"));
    }

    // The year is the one in Germany, which may differ from UTC's around New Year.
    let years = [Utc::now().year(), (Utc::now() + Duration::hours(1)).year()];
    for (index, number) in numbers.iter().enumerate() {
        let (year, sequence) = number.split_once('-').expect("year-sequence");
        assert!(
            years.contains(&year.parse().expect("year digits")),
            "{number}"
        );
        assert_eq!(sequence, format!("{:06}", index + 1), "{number}");
    }
}

#[tokio::test]
async fn the_opened_event_records_actor_origin_and_correlation_id() {
    let app = spawn_app().await;
    let correlation_id = Uuid::new_v4();

    let reply = send(
        app.open_request(&ticket_body())
            .header("X-Correlation-Id", correlation_id.to_string()),
    )
    .await;

    let opened = reply.accepted();
    let stream = app.stream(opened.id).await;
    let event = &stream[0];
    assert_eq!(event.event_type, "ticket.opened");
    assert_eq!(event.event_version, 1);
    assert_eq!(event.stream_type, "ticket");
    assert_eq!(event.stream_version, 1);
    assert_eq!(event.metadata.actor, AGENT);
    assert_eq!(event.metadata.origin, "api");
    assert_eq!(event.metadata.correlation_id, correlation_id);
    assert_eq!(event.payload["number"], opened.number.unwrap().as_str());
    assert_eq!(event.payload["title"], "Drucker im 2. OG druckt nicht");
    assert_eq!(event.payload["priority"], "medium");
    event_store::hash::verify_stream(&stream).expect("hash chain holds");
}

#[tokio::test]
async fn the_channel_of_a_new_ticket_is_recorded_as_the_events_origin() {
    let app = spawn_app().await;
    let mut body = ticket_body();
    body["channel"] = "portal".into();

    let opened = send(app.open_request(&body)).await.accepted();

    let stream = app.stream(opened.id).await;
    assert_eq!(stream[0].metadata.origin, "portal");
    assert_eq!(stream[0].payload["channel"], "portal");
}

#[tokio::test]
async fn personal_data_is_not_stored_in_plaintext() {
    let app = spawn_app().await;
    let mut body = ticket_body();
    body["requester"]["phone"] = "+49 30 1234567".into();

    let opened = send(app.open_request(&body)).await.accepted();

    let stored: Value = sqlx::query_scalar("SELECT payload FROM events WHERE stream_id = $1")
        .bind(opened.id)
        .fetch_one(&app.db.owner_pool)
        .await
        .expect("stored payload");
    let text = stored.to_string();
    for secret in [
        "Erika",
        "Mustermann",
        "erika@example.org",
        "1234567",
        "Papierstau",
    ] {
        assert!(!text.contains(secret), "{secret:?} in plaintext: {text}");
    }
    for pointer in [
        "/requester/name",
        "/requester/email",
        "/requester/phone",
        "/description",
    ] {
        let envelope = stored.pointer(pointer).expect(pointer);
        assert_eq!(envelope["$enc"], "aes256gcm.v1", "{pointer}: {envelope}");
        assert!(envelope["ciphertext"].is_string(), "{pointer}: {envelope}");
    }
}
