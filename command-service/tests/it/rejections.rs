//! Bad requests get RFC 9457 problem+json with a precise status and code, and append nothing.

use chrono::{Duration, Utc};
use command_service::auth::issue_token;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{note, send, spawn_app, ticket_body, with_token};

#[tokio::test]
async fn malformed_json_is_400_malformed_json() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id;

    let trailing = format!("{} trailing", ticket_body());
    for (path, body) in [
        ("/api/v1/tickets".to_owned(), trailing.as_str()),
        ("/api/v1/tickets".to_owned(), r#"{"type": "incident","#),
        (
            format!("/api/v1/tickets/{id}/commands"),
            r#"{"type": "add_note" "body": "x"}"#,
        ),
        (
            "/api/v1/tickets".to_owned(),
            "{\"type\": \"incident\", \"title\": \"Drucker\u{201d}}",
        ),
        ("/api/v1/tickets".to_owned(), ""),
    ] {
        let request = app
            .post(&path)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_owned());

        let reply = app.reject(request).await;

        reply.assert_problem(StatusCode::BAD_REQUEST, "malformed_json");
    }
}

#[tokio::test]
async fn an_unknown_field_of_the_requester_is_422_naming_the_field() {
    let app = spawn_app().await;
    let mut body = ticket_body();
    body["requester"]["nickname"] = "Eri".into();

    let reply = app.reject(app.open_request(&body)).await;

    reply.assert_field_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        "requester.nickname",
    );
}

#[tokio::test]
async fn an_unknown_top_level_field_is_422_naming_the_field() {
    let app = spawn_app().await;
    let mut body = ticket_body();
    body["colour"] = "red".into();

    let reply = app.reject(app.open_request(&body)).await;

    reply.assert_field_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "colour");
}

#[tokio::test]
async fn an_unknown_field_of_a_command_is_422_naming_the_field() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let mut body = note("Notiz");
    body["visibility"] = "public".into();

    let reply = app.reject(app.command_request(&id, &body, None)).await;

    reply.assert_field_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        "visibility",
    );
}

#[tokio::test]
async fn an_unknown_field_next_to_a_command_without_fields_is_422() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let body = json!({"type": "close", "force": true});

    let reply = app.reject(app.command_request(&id, &body, None)).await;

    reply.assert_field_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "force");
}

#[tokio::test]
async fn an_unknown_command_type_is_422_naming_the_type() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let body = json!({"type": "escalate"});

    let reply = app.reject(app.command_request(&id, &body, None)).await;

    reply.assert_field_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "type");
}

#[tokio::test]
async fn an_empty_title_is_422_naming_the_title() {
    let app = spawn_app().await;
    let mut body = ticket_body();
    body["title"] = "".into();

    let reply = app.reject(app.open_request(&body)).await;

    reply.assert_field_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "title");
}

#[tokio::test]
async fn a_value_of_the_wrong_type_is_422_naming_the_field() {
    let app = spawn_app().await;
    let mut body = ticket_body();
    body["impact"] = "enormous".into();

    let reply = app.reject(app.open_request(&body)).await;

    reply.assert_field_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "impact");
}

#[tokio::test]
async fn a_missing_required_field_is_422_naming_the_field() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let mut without_requester = ticket_body();
    without_requester
        .as_object_mut()
        .unwrap()
        .remove("requester");
    let mut without_name = ticket_body();
    without_name["requester"] = json!({"email": "erika@example.org"});

    let replies = [
        (
            app.reject(app.open_request(&without_requester)).await,
            "requester",
        ),
        (
            app.reject(app.open_request(&without_name)).await,
            "requester.name",
        ),
        (
            app.reject(app.command_request(&id, &json!({"type": "add_note"}), None))
                .await,
            "body",
        ),
    ];

    for (reply, field) in replies {
        reply.assert_field_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", field);
    }
}

#[tokio::test]
async fn an_invalid_email_address_is_422_naming_the_rule_and_field() {
    let app = spawn_app().await;
    let mut body = ticket_body();
    body["requester"]["email"] = "erika.example.org".into();

    let reply = app.reject(app.open_request(&body)).await;

    reply.assert_field_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "email_invalid",
        "requester.email",
    );
}

#[tokio::test]
async fn an_unknown_dynamic_field_is_422_naming_the_field() {
    let app = spawn_app().await;
    let mut body = ticket_body();
    body["fields"] = json!({"favourite_colour": "blue"});

    let reply = app.reject(app.open_request(&body)).await;

    reply.assert_field_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_field",
        "fields.favourite_colour",
    );
}

#[tokio::test]
async fn a_ticket_type_that_cannot_be_opened_yet_is_422_naming_the_type() {
    let app = spawn_app().await;
    let mut body = ticket_body();
    body["type"] = "problem".into();

    let reply = app.reject(app.open_request(&body)).await;

    reply.assert_field_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "ticket_type_not_supported",
        "type",
    );
}

#[tokio::test]
async fn a_malformed_correlation_id_is_400() {
    let app = spawn_app().await;
    let request = app
        .open_request(&ticket_body())
        .header("X-Correlation-Id", "not-a-uuid");

    let reply = app.reject(request).await;

    reply.assert_field_problem(
        StatusCode::BAD_REQUEST,
        "invalid_header",
        "X-Correlation-Id",
    );
}

#[tokio::test]
async fn an_empty_note_is_422_naming_the_body() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();

    let reply = app
        .reject(app.command_request(&id, &note("  "), None))
        .await;

    reply.assert_field_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "body");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let body = ticket_body().to_string();

    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app.post("/api/v1/tickets").body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }

        let reply = app.reject(request).await;

        reply.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
}

#[tokio::test]
async fn json_with_a_charset_parameter_is_accepted() {
    let app = spawn_app().await;

    let reply = send(
        app.post("/api/v1/tickets")
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(ticket_body().to_string()),
    )
    .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id;
    let text = "x".repeat(command_service::BODY_BYTES_MAX_DEFAULT + 1);
    let mut open = ticket_body();
    open["description"] = text.clone().into();

    let replies = [
        app.reject(app.open_request(&open)).await,
        app.reject(app.command_request(&id.to_string(), &note(&text), None))
            .await,
    ];

    for reply in replies {
        let body = reply.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
        assert!(
            body["detail"].as_str().unwrap().contains("262144"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_command_to_an_unknown_ticket_is_404() {
    let app = spawn_app().await;
    app.open_ticket().await;

    for ticket in [
        Uuid::new_v4().to_string(),
        "2020-999999".to_owned(),
        "no-such-ticket".to_owned(),
    ] {
        let reply = app
            .reject(app.command_request(&ticket, &note("Hallo?"), None))
            .await;

        reply.assert_problem(StatusCode::NOT_FOUND, "ticket_not_found");
    }
}

#[tokio::test]
async fn closing_a_new_ticket_is_409_invalid_transition() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();

    let reply = app
        .reject(app.command_request(&id, &json!({"type": "close"}), None))
        .await;

    let body = reply.assert_problem(StatusCode::CONFLICT, "invalid_transition");
    assert!(body.get("field").is_none(), "{body}");
}

#[tokio::test]
async fn starting_work_without_an_assignee_is_409_assignee_required() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();

    let reply = app
        .reject(app.command_request(&id, &json!({"type": "start_work"}), None))
        .await;

    reply.assert_problem(StatusCode::CONFLICT, "assignee_required");
}

#[tokio::test]
async fn a_request_without_a_valid_token_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/tickets");
    let anonymous = || app.client.post(&url).json(&ticket_body());
    let unknown = format!("itsm_{}", "A".repeat(43));
    let yesterday = Some(Utc::now() - Duration::days(1));
    let expired = issue_token(&app.db.app_pool, "k.meier", &["agent".into()], yesterday)
        .await
        .expect("issue token");

    for request in [
        anonymous(),
        anonymous().bearer_auth("not-a-token"),
        anonymous().bearer_auth(unknown),
        anonymous().bearer_auth(expired),
        anonymous().basic_auth("k.meier", Some("secret")),
    ] {
        let reply = app.reject(request).await;

        reply.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
}

#[tokio::test]
async fn a_command_without_a_token_is_401_even_for_an_unknown_ticket() {
    let app = spawn_app().await;
    let url = app.url(&format!("/api/v1/tickets/{}/commands", Uuid::new_v4()));

    let reply = app.reject(app.client.post(url).json(&note("x"))).await;

    reply.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn an_auditor_may_not_issue_commands() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let auditor = app.token("auditor").await;

    let replies = [
        app.reject(with_token(app.open_request(&ticket_body()), &auditor))
            .await,
        app.reject(with_token(
            app.command_request(&id, &note("Prüfung"), None),
            &auditor,
        ))
        .await,
    ];

    for reply in replies {
        reply.assert_problem(StatusCode::FORBIDDEN, "missing_right");
    }
}

#[tokio::test]
async fn a_requester_may_open_and_write_messages_but_not_assign() {
    let app = spawn_app().await;
    let requester = app.token("requester").await;

    let opened = send(with_token(app.open_request(&ticket_body()), &requester)).await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text);
    let ticket = opened.accepted().id;
    let id = ticket.to_string();
    let message = json!({"type": "add_requester_message", "body": "Es ist dringend!"});
    let written = send(with_token(
        app.command_request(&id, &message, None),
        &requester,
    ))
    .await;
    assert_eq!(written.status, StatusCode::OK, "{}", written.text);
    let assign = json!({"type": "assign", "assignee": "e.mustermann"});

    let reply = app
        .reject(with_token(
            app.command_request(&id, &assign, None),
            &requester,
        ))
        .await;

    reply.assert_problem(StatusCode::FORBIDDEN, "missing_right");
    let stream = app.stream(ticket).await;
    let actors: Vec<_> = stream
        .iter()
        .map(|event| event.metadata.actor.as_str())
        .collect();
    assert_eq!(actors, ["e.mustermann", "e.mustermann"]);
}

#[tokio::test]
async fn an_unknown_route_is_404_problem_json() {
    let app = spawn_app().await;

    for request in [app.get("/api/v1/nothing-here"), app.post("/api/v2/tickets")] {
        let reply = app.reject(request).await;

        reply.assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn get_on_a_post_route_is_405_problem_json() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id;

    for path in [
        "/api/v1/tickets".to_owned(),
        format!("/api/v1/tickets/{id}/commands"),
    ] {
        let reply = app.reject(app.get(&path)).await;

        reply.assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
}

#[tokio::test]
async fn problems_are_german_by_default() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();

    let reply = app
        .reject(app.command_request(&id, &json!({"type": "close"}), None))
        .await;

    let body = reply.assert_problem(StatusCode::CONFLICT, "invalid_transition");
    assert_eq!(reply.header("content-language"), Some("de"));
    assert_eq!(body["title"], "Statuswechsel nicht erlaubt");
}

#[tokio::test]
async fn problems_are_english_when_asked_for() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();

    let request = app
        .command_request(&id, &json!({"type": "close"}), None)
        .header("Accept-Language", "en-GB,en;q=0.9,de;q=0.5");
    let reply = app.reject(request).await;

    let body = reply.assert_problem(StatusCode::CONFLICT, "invalid_transition");
    assert_eq!(reply.header("content-language"), Some("en"));
    assert_eq!(body["title"], "Status change not allowed");
}

#[tokio::test]
async fn problems_raised_before_the_handler_are_translated_too() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .post(app.url("/api/v1/tickets"))
        .json(&ticket_body());

    let german = app.reject(anonymous.try_clone().unwrap()).await;
    let english = app.reject(anonymous.header("Accept-Language", "en")).await;

    let german_body = german.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let english_body = english.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(german_body["title"], "Anmeldung erforderlich");
    assert_eq!(english_body["title"], "Authentication required");
    assert_eq!(english.header("content-language"), Some("en"));
}
