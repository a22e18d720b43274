//! Versions, retries and concurrent writers: `If-Match`, `Idempotency-Key`, a hot ticket, two
//! processes on one ticket, and a ticket with thousands of events.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::json;
use tokio::task::JoinSet;

use crate::helpers::{note, send, spawn_app, ticket_body, with_token, Accepted, TestApp};

/// Concurrent hot-ticket writers, as in the benchmark.
const HOT_TICKET_CLIENTS: usize = 16;
/// Notes appended to the long ticket.
const LONG_TICKET_NOTES: usize = 2_000;
/// Notes in flight at once while filling the long ticket.
const LONG_TICKET_BATCH: usize = 50;

#[tokio::test]
async fn if_match_with_the_current_version_applies_the_command() {
    let app = spawn_app().await;
    let opened = app.open_ticket().await;
    let id = opened.id.to_string();

    let reply = app
        .command(&id, &note("Geprüft"), Some(opened.version))
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.accepted().version, 2);
    assert_eq!(reply.header("etag"), Some("\"2\""));
}

#[tokio::test]
async fn a_weak_if_match_is_read_like_a_strong_one() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let request = app
        .command_request(&id, &note("Geprüft"), None)
        .header("If-Match", "W/\"1\"");

    let reply = send(request).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn a_stale_if_match_is_412_with_the_current_version_and_appends_nothing() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    app.command_ok(&id, &note("Erste Notiz")).await;

    let reply = app
        .reject(app.command_request(&id, &note("Zweite Notiz"), Some(1)))
        .await;

    let body = reply.assert_problem(StatusCode::PRECONDITION_FAILED, "stale_version");
    assert_eq!(body["current_version"], 2);
    let ahead = app
        .reject(app.command_request(&id, &note("Aus der Zukunft"), Some(9)))
        .await;
    let body = ahead.assert_problem(StatusCode::PRECONDITION_FAILED, "stale_version");
    assert_eq!(body["current_version"], 2);
}

#[tokio::test]
async fn an_if_match_on_an_unknown_ticket_is_404_not_412() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::new_v4().to_string();

    let reply = app
        .reject(app.command_request(&unknown, &note("Niemand da"), Some(1)))
        .await;

    reply.assert_problem(StatusCode::NOT_FOUND, "ticket_not_found");
}

#[tokio::test]
async fn a_malformed_if_match_is_400() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();

    for value in ["abc", "\"-1\"", "\"1\", \"2\""] {
        let request = app
            .command_request(&id, &note("x"), None)
            .header("If-Match", value);

        let reply = app.reject(request).await;

        reply.assert_field_problem(StatusCode::BAD_REQUEST, "invalid_header", "If-Match");
    }
}

#[tokio::test]
async fn opening_twice_with_one_idempotency_key_opens_one_ticket() {
    let app = spawn_app().await;
    let request = || {
        app.open_request(&ticket_body())
            .header("Idempotency-Key", "open-7f3a")
    };

    let first = send(request()).await;
    let second = send(request()).await;

    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let (first, second) = (first.accepted(), second.accepted());
    assert!(!first.replayed);
    assert!(second.replayed);
    assert_eq!(second.events_appended, 0);
    assert_eq!(
        (&second.id, &second.number, second.version),
        (&first.id, &first.number, first.version)
    );
    assert_eq!(second.consistency_token, first.consistency_token);
    assert_eq!(app.events_of_type("ticket.opened").await, 1);
}

#[tokio::test]
async fn concurrent_retries_of_an_open_with_one_idempotency_key_open_one_ticket() {
    let app = spawn_app().await;
    let request = || {
        app.open_request(&ticket_body())
            .header("Idempotency-Key", "open-race")
    };

    let replies = send_both(request(), request()).await;

    let accepted: Vec<Accepted> = replies.iter().map(|reply| reply.accepted()).collect();
    assert_eq!(accepted[0].id, accepted[1].id);
    assert_eq!(accepted[0].number, accepted[1].number);
    assert_eq!(
        accepted.iter().filter(|result| result.replayed).count(),
        1,
        "{accepted:?}"
    );
    assert_eq!(app.events_of_type("ticket.opened").await, 1);
}

async fn send_both(
    first: reqwest::RequestBuilder,
    second: reqwest::RequestBuilder,
) -> [crate::helpers::Reply; 2] {
    let (first, second) = tokio::join!(send(first), send(second));
    [first, second]
}

#[tokio::test]
async fn a_command_sent_twice_with_one_idempotency_key_is_applied_once() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let request = || {
        app.command_request(&id, &note("Nur einmal"), None)
            .header("Idempotency-Key", "note-1")
    };

    let first = send(request()).await.accepted();
    let second = send(request()).await.accepted();

    assert!(!first.replayed && second.replayed);
    assert_eq!(second.version, first.version);
    assert_eq!(second.consistency_token, first.consistency_token);
    assert_eq!(app.events_of_type("ticket.article_added").await, 1);
    let third = app.command_ok(&id, &note("Ohne Schlüssel")).await;
    assert_eq!(third.version, first.version + 1);
}

#[tokio::test]
async fn idempotency_keys_are_per_user() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let other_agent = app.token("supervisor").await;
    let request = || {
        app.command_request(&id, &note("Gleicher Schlüssel"), None)
            .header("Idempotency-Key", "k-1")
    };

    let first = send(request()).await.accepted();
    let second = send(with_token(request(), &other_agent)).await.accepted();

    assert!(!second.replayed);
    assert_eq!(second.version, first.version + 1);
}

#[tokio::test]
async fn an_empty_idempotency_key_is_400() {
    let app = spawn_app().await;

    let reply = app
        .reject(
            app.open_request(&ticket_body())
                .header("Idempotency-Key", " "),
        )
        .await;

    reply.assert_field_problem(StatusCode::BAD_REQUEST, "invalid_header", "Idempotency-Key");
}

/// Sends `count` notes to `ticket` at once through `app`; returns their results.
async fn notes_at_once(app: &TestApp, ticket: &str, count: usize) -> Vec<Accepted> {
    let mut requests = JoinSet::new();
    for index in 0..count {
        requests.spawn(send(app.command_request(
            ticket,
            &note(&format!("Notiz {index}")),
            None,
        )));
    }
    let mut results = Vec::with_capacity(count);
    while let Some(reply) = requests.join_next().await {
        let reply = reply.expect("request task");
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        results.push(reply.accepted());
    }
    results
}

#[tokio::test]
async fn sixteen_agents_updating_one_hot_ticket_all_succeed() {
    let app = spawn_app().await;
    let opened = app.open_ticket().await;

    let results = notes_at_once(&app, &opened.id.to_string(), HOT_TICKET_CLIENTS).await;

    let versions: BTreeSet<u64> = results.iter().map(|result| result.version).collect();
    let expected: BTreeSet<u64> = (2..=1 + HOT_TICKET_CLIENTS as u64).collect();
    assert_eq!(versions, expected);
    let stream = app.stream(opened.id).await;
    assert_eq!(stream.len(), 1 + HOT_TICKET_CLIENTS);
    event_store::hash::verify_stream(&stream).expect("hash chain holds");
}

#[tokio::test]
async fn two_processes_appending_to_one_ticket_without_if_match_all_succeed() {
    let first = spawn_app().await;
    let second = first.another_process().await;
    let opened = first.open_ticket().await;
    let id = opened.id.to_string();
    // Both processes have the ticket cached before the race starts.
    second.command_ok(&id, &note("Zweiter Prozess")).await;
    first.command_ok(&id, &note("Erster Prozess")).await;

    let (from_first, from_second) = tokio::join!(
        notes_at_once(&first, &id, HOT_TICKET_CLIENTS),
        notes_at_once(&second, &id, HOT_TICKET_CLIENTS),
    );

    let versions: BTreeSet<u64> = from_first
        .iter()
        .chain(&from_second)
        .map(|result| result.version)
        .collect();
    let expected: BTreeSet<u64> = (4..=3 + 2 * HOT_TICKET_CLIENTS as u64).collect();
    assert_eq!(versions, expected, "every command got its own version");
    let stream = first.stream(opened.id).await;
    assert_eq!(stream.len(), 3 + 2 * HOT_TICKET_CLIENTS);
    event_store::hash::verify_stream(&stream).expect("versions contiguous, hash chain holds");
}

#[tokio::test]
async fn a_process_whose_cached_ticket_is_stale_reloads_it_after_the_conflict() {
    let first = spawn_app().await;
    let second = first.another_process().await;
    let id = first.open_ticket().await.id.to_string();
    first
        .command_ok(&id, &note("Ersten Prozess aufwärmen"))
        .await;
    second.command_ok(&id, &note("Vom zweiten Prozess")).await;

    let accepted = first.command_ok(&id, &note("Mit veraltetem Cache")).await;

    assert_eq!(accepted.version, 4);
    let metrics = send(first.get("/metrics")).await.text;
    let conflicts = "itsm_command_version_conflicts_total 1";
    assert!(metrics.lines().any(|line| line == conflicts), "{metrics}");
}

#[tokio::test]
async fn if_match_with_a_version_written_by_another_process_is_accepted() {
    let first = spawn_app().await;
    let second = first.another_process().await;
    let id = first.open_ticket().await.id.to_string();
    first
        .command_ok(&id, &note("Ersten Prozess aufwärmen"))
        .await;
    let written = second.command_ok(&id, &note("Vom zweiten Prozess")).await;

    let reply = first
        .command(&id, &note("Gesehen"), Some(written.version))
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.accepted().version, written.version + 1);
}

#[tokio::test]
async fn a_ticket_with_thousands_of_events_still_takes_commands_and_its_chain_verifies() {
    let app = spawn_app().await;
    let opened = app.open_ticket().await;
    let id = opened.id.to_string();
    for _ in 0..LONG_TICKET_NOTES / LONG_TICKET_BATCH {
        notes_at_once(&app, &id, LONG_TICKET_BATCH).await;
    }

    let warm = app
        .command_ok(&id, &json!({"type": "assign", "assignee": "k.meier"}))
        .await;
    // A process that has never seen the ticket rebuilds it from all its events.
    let cold = app.another_process().await;
    let rebuilt = cold.command_ok(&id, &json!({"type": "start_work"})).await;

    let notes = LONG_TICKET_NOTES as u64;
    assert_eq!(warm.version, 1 + notes + 1);
    assert_eq!(rebuilt.version, 1 + notes + 2);
    let stream = app.stream(opened.id).await;
    let verified = event_store::hash::verify_stream(&stream).expect("hash chain holds");
    assert_eq!(verified as u64, rebuilt.version);
}
