//! Rules that need more than the ticket at hand: idempotency keys bound to one request, targets
//! of merges and links, requesters limited to their own tickets, and decisions on a state that
//! another process changed meanwhile.

use reqwest::StatusCode;
use serde_json::json;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::helpers::{note, send, spawn_app, ticket_body, user_of, with_token};

#[tokio::test]
async fn one_idempotency_key_on_two_tickets_is_two_commands() {
    let app = spawn_app().await;
    let first = app.open_ticket().await.id.to_string();
    let second = app.open_ticket().await.id.to_string();
    let keyed = |ticket: &str| {
        app.command_request(ticket, &note("Gleiche Notiz"), None)
            .header("Idempotency-Key", "k1")
    };

    let on_first = send(keyed(&first)).await.accepted();
    let on_second = send(keyed(&second)).await.accepted();

    assert_eq!((on_first.replayed, on_second.replayed), (false, false));
    assert_eq!(on_second.id.to_string(), second);
    assert_eq!(app.events_of_type("ticket.article_added").await, 2);
}

#[tokio::test]
async fn one_idempotency_key_for_a_different_request_is_422_and_appends_nothing() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    send(
        app.command_request(&id, &note("Erste"), None)
            .header("Idempotency-Key", "k2"),
    )
    .await
    .accepted();

    let reply = app
        .reject(
            app.command_request(&id, &note("Andere"), None)
                .header("Idempotency-Key", "k2"),
        )
        .await;

    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
}

#[tokio::test]
async fn concurrent_retries_of_a_state_change_all_get_the_first_result() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let resolve = json!({"type": "resolve", "code": "solved", "text": "Treiber neu installiert"});
    let mut retries = JoinSet::new();
    for _ in 0..3 {
        retries.spawn(send(
            app.command_request(&id, &resolve, None)
                .header("Idempotency-Key", "resolve-1"),
        ));
    }

    let versions: Vec<u64> = retries
        .join_all()
        .await
        .into_iter()
        .map(|reply| reply.accepted().version)
        .collect();

    assert_eq!(versions, [2, 2, 2]);
    assert_eq!(app.events_of_type("ticket.resolved").await, 1);
}

#[tokio::test]
async fn merging_into_a_ticket_that_does_not_exist_is_422_naming_into() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let merge = json!({"type": "merge", "into": Uuid::new_v4()});

    let reply = app.reject(app.command_request(&id, &merge, None)).await;

    reply.assert_field_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "target_ticket_not_found",
        "into",
    );
}

#[tokio::test]
async fn merging_into_a_closed_ticket_is_409() {
    let app = spawn_app().await;
    let source = app.open_ticket().await.id.to_string();
    let target = app.open_ticket().await.id.to_string();
    app.command_ok(
        &target,
        &json!({"type": "cancel", "reason": "Doppelt erfasst"}),
    )
    .await;

    let reply = app
        .reject(app.command_request(&source, &json!({"type": "merge", "into": target}), None))
        .await;

    reply.assert_problem(StatusCode::CONFLICT, "merge_target_finished");
}

#[tokio::test]
async fn linking_to_a_ticket_that_does_not_exist_is_422_naming_target() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let link = json!({"type": "link", "link_type": "relates_to", "target": Uuid::new_v4()});

    let reply = app.reject(app.command_request(&id, &link, None)).await;

    reply.assert_field_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "target_ticket_not_found",
        "target",
    );
}

#[tokio::test]
async fn a_requester_writes_only_to_their_own_tickets() {
    let app = spawn_app().await;
    let requester = app.token("requester").await;
    let someone_elses = app.open_ticket().await.id.to_string();
    let message = json!({"type": "add_requester_message", "body": "Gibt es Neuigkeiten?"});

    let foreign = app
        .reject(with_token(
            app.command_request(&someone_elses, &message, None),
            &requester,
        ))
        .await;
    foreign.assert_problem(StatusCode::FORBIDDEN, "missing_right");

    let own = send(with_token(app.open_request(&ticket_body()), &requester))
        .await
        .accepted()
        .id;
    let stream = app.stream(own).await;
    assert_eq!(stream[0].metadata.actor, user_of("requester"));
    let reply = send(with_token(
        app.command_request(&own.to_string(), &message, None),
        &requester,
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn a_refusal_decided_on_a_stale_cache_is_decided_again_on_the_current_state() {
    let first = spawn_app().await;
    let second = first.another_process().await;
    let id = first.open_ticket().await.id.to_string();
    first
        .command_ok(&id, &json!({"type": "assign", "assignee": "k.meier"}))
        .await;
    first
        .command_ok(
            &id,
            &json!({"type": "resolve", "code": "solved", "text": "Erledigt"}),
        )
        .await;
    second
        .command_ok(
            &id,
            &json!({"type": "reopen", "reason": "Tritt wieder auf"}),
        )
        .await;

    let reply = first
        .command(&id, &json!({"type": "start_work"}), None)
        .await;

    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the first process still believed the ticket resolved: {}",
        reply.text
    );
    assert_eq!(reply.accepted().version, 5);
}

#[tokio::test]
async fn a_path_that_does_not_decode_is_a_404_problem() {
    let app = spawn_app().await;

    let reply = app
        .reject(app.post("/api/v1/tickets/%FF%FE/commands").json(&note("x")))
        .await;

    reply.assert_problem(StatusCode::NOT_FOUND, "ticket_not_found");
}
