//! The auditor endpoints' edges: who may use them, and what a bad request gets. (The past state,
//! verification and export of real events are tested end to end in `tests/it/audit.rs` and
//! `event-store/tests/it/audit.rs`.)

use reqwest::StatusCode;

use crate::helpers::{send, spawn_app};

const AUDIT_URLS: [&str; 3] = [
    "/api/v1/audit/verify?ticket=2026-000001",
    "/api/v1/audit/export",
    "/api/v1/tickets/2026-000001?as_of=2026-11-23T10:00:00Z",
];

#[tokio::test]
async fn only_auditors_and_administrators_may_use_the_audit_functions() {
    let app = spawn_app().await;
    for role in ["requester", "agent", "supervisor", "asset_manager"] {
        let token = app.token(&format!("someone.{role}"), role).await;
        for url in AUDIT_URLS {
            send(app.get_as(url, &token))
                .await
                .assert_problem(StatusCode::FORBIDDEN, "missing_right");
        }
    }
    for (exports, role) in [(1, "auditor"), (2, "admin")] {
        let token = app.token(&format!("someone.{role}"), role).await;
        let export = send(app.get_as("/api/v1/audit/export", &token)).await;
        assert_eq!(export.status, StatusCode::OK, "{role}: {export:?}");
        assert_eq!(export.header("content-type"), Some("application/x-ndjson"));
        let records: Vec<serde_json::Value> = export
            .text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        // A store holding nothing but the records of the tokens issued and the access records
        // of the exports so far (the newest one may or may not be visible to the export's own
        // read yet): header, those, end.
        assert_eq!(records[0]["record"], "export");
        assert_eq!(records[0]["complete"], true);
        assert_eq!(records.last().unwrap()["record"], "end");
        let events: Vec<&serde_json::Value> = records[1..records.len() - 1]
            .iter()
            .filter(|event| event["event_type"] != "token.issued")
            .collect();
        assert!(events.len() <= exports, "{records:?}");
        for event in events {
            assert_eq!(event["event_type"], "audit.accessed", "{event}");
            assert_eq!(event["payload"]["action"], "export", "{event}");
        }
        // No ticket 2026-000001 exists.
        send(app.get_as(AUDIT_URLS[0], &token))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "ticket_not_found");
        send(app.get_as(AUDIT_URLS[2], &token))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "ticket_not_found");
    }
    // Without a token, nothing.
    for url in AUDIT_URLS {
        send(app.client.get(app.url(url)))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
}

#[tokio::test]
async fn bad_audit_requests_name_the_parameter() {
    let app = spawn_app().await;
    let auditor = app.token("r.pruefer", "auditor").await;
    for (url, field) in [
        ("/api/v1/audit/verify", "ticket"),
        ("/api/v1/audit/verify?ticket=2026-000001&deep=1", "deep"),
        ("/api/v1/audit/export?from=gestern", "from"),
        (
            "/api/v1/audit/export?from=2026-11-23T10:00:00Z&to=2026-11-23T09:00:00Z",
            "to",
        ),
        ("/api/v1/audit/export?format=csv", "format"),
        ("/api/v1/tickets/2026-000001?as_of=2026-11-23", "as_of"),
    ] {
        let problem = send(app.get_as(url, &auditor)).await.json();
        assert_eq!(problem["status"], 422, "{url}: {problem}");
        assert_eq!(problem["field"], field, "{url}: {problem}");
    }
}
