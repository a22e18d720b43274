//! A ticket's whole life through the API, by id and by number.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{note, spawn_app};

#[tokio::test]
async fn a_ticket_goes_through_its_whole_lifecycle_by_id_and_by_number() {
    let app = spawn_app().await;
    let opened = app.open_ticket().await;
    let by_id = opened.id.to_string();
    let by_number = opened.number.clone().expect("number");
    let steps = [
        (
            &by_id,
            json!({"type": "assign", "assignee": "k.meier", "queue": "service-desk"}),
            "ticket.assigned",
        ),
        (
            &by_number,
            json!({"type": "start_work"}),
            "ticket.work_started",
        ),
        (
            &by_id,
            note("Treiber neu installiert, Test läuft."),
            "ticket.article_added",
        ),
        (
            &by_number,
            json!({"type": "add_reply", "body": "Bitte einmal neu starten.", "channel": "email"}),
            "ticket.article_added",
        ),
        (
            &by_id,
            json!({"type": "set_pending", "reason": "waiting_for_requester", "until": "2030-01-15T09:00:00Z"}),
            "ticket.pending_set",
        ),
        (
            &by_number,
            json!({"type": "start_work"}),
            "ticket.work_started",
        ),
        (
            &by_id,
            json!({"type": "resolve", "code": "fixed", "text": "Fixiereinheit getauscht."}),
            "ticket.resolved",
        ),
        (
            &by_number,
            json!({"type": "reopen", "reason": "Druckt wieder nicht."}),
            "ticket.reopened",
        ),
        (
            &by_id,
            json!({"type": "resolve", "code": "fixed", "text": "Papierführung justiert."}),
            "ticket.resolved",
        ),
        (&by_number, json!({"type": "close"}), "ticket.closed"),
    ];

    let mut expected_types = vec!["ticket.opened"];
    for (index, (ticket, command, event_type)) in steps.iter().enumerate() {
        let reply = app.command(ticket, command, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{command}: {}", reply.text);
        let accepted = reply.accepted();
        let version = index as u64 + 2;
        assert_eq!(accepted.version, version, "{command}");
        assert_eq!(accepted.id, opened.id);
        assert_eq!(accepted.number.as_deref(), Some(by_number.as_str()));
        assert_eq!(accepted.events_appended, 1);
        assert_eq!(
            reply.header("etag"),
            Some(format!("\"{version}\"").as_str())
        );
        assert_eq!(reply.header("location"), None);
        expected_types.push(event_type);
    }

    let stream = app.stream(opened.id).await;
    let types: Vec<_> = stream
        .iter()
        .map(|event| event.event_type.as_str())
        .collect();
    assert_eq!(types, expected_types);
    assert_eq!(
        stream[4].metadata.origin, "email",
        "a reply written by e-mail"
    );
    assert_eq!(stream[3].metadata.origin, "api");
    event_store::hash::verify_stream(&stream).expect("hash chain holds");
}

#[tokio::test]
async fn a_command_that_changes_nothing_succeeds_without_an_event() {
    let app = spawn_app().await;
    let opened = app.open_ticket().await;
    let id = opened.id.to_string();
    let assign = json!({"type": "assign", "assignee": "k.meier"});
    app.command_ok(&id, &assign).await;

    let again = app.command_ok(&id, &assign).await;

    assert_eq!(again.version, 2);
    assert_eq!(again.events_appended, 0);
    assert!(!again.replayed);
    assert_eq!(app.stream(opened.id).await.len(), 2);
}

#[tokio::test]
async fn a_closed_ticket_accepts_no_further_command() {
    let app = spawn_app().await;
    let id = app.open_ticket().await.id.to_string();
    let resolve = json!({"type": "resolve", "code": "fixed", "text": "Erledigt."});
    app.command_ok(&id, &resolve).await;
    app.command_ok(&id, &json!({"type": "close"})).await;

    let reply = app
        .reject(app.command_request(&id, &note("Noch etwas"), None))
        .await;

    reply.assert_problem(StatusCode::CONFLICT, "already_terminal");
}
