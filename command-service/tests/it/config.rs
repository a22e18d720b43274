//! Configuration over HTTP: administrators define queues, catalog, calendars and SLA policies;
//! every change is an event with who and when; bad definitions are refused by name and append
//! nothing; references must exist; what is in use cannot be retired.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{send, spawn_app, with_token, TestApp};

fn calendar() -> Value {
    let day = json!(["07:30-12:00", "13:00-16:30"]);
    json!({
        "time_zone": "Europe/Berlin",
        "weekly_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": ["07:30-12:00"]},
        "state": "NW",
        "closing_days": ["12-24", "12-31"],
    })
}

fn policy() -> Value {
    json!({
        "title": "Standard-SLA",
        "calendar": "rathaus",
        "targets": [
            {"priorities": ["critical"], "first_response_minutes": 30, "resolution_minutes": 240},
            {"first_response_minutes": 240, "resolution_minutes": 2400},
        ],
    })
}

fn service() -> Value {
    json!({
        "title": {"de": "Drucker", "en": "Printers"},
        "description": {"de": "Störungen an Druckern und Kopierern"},
        "category": "arbeitsplatz",
        "default_queue": "first-level",
        "default_ticket_type": "incident",
        "sla_policy": "standard",
        "form": [
            {"key": "device", "label": {"de": "Gerät"}, "kind": "select", "required": true,
             "options": ["Drucker", "Kopierer"]},
            {"key": "inventory_number", "label": {"de": "Inventarnummer"}, "kind": "text",
             "visible_if": {"field": "device", "equals": "Kopierer"}},
        ],
    })
}

async fn put(app: &TestApp, token: &str, path: &str, body: &Value) -> crate::helpers::Reply {
    send(with_token(app.client.put(app.url(path)), token).json(body)).await
}

#[tokio::test]
async fn an_administrator_builds_a_catalog_and_every_change_is_recorded() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    for (path, body) in [
        (
            "/api/v1/config/queues/first-level",
            json!({"title": {"de": "1st Level", "en": "First level"}}),
        ),
        (
            "/api/v1/config/categories/arbeitsplatz",
            json!({"title": {"de": "Arbeitsplatz"}}),
        ),
        ("/api/v1/config/calendars/rathaus", calendar()),
        ("/api/v1/config/sla-policies/standard", policy()),
        ("/api/v1/config/services/drucker", service()),
    ] {
        let reply = put(&app, &admin, path, &body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.text);
        assert_eq!(reply.json()["version"], 1);
        assert_eq!(reply.header("etag"), Some("\"1\""));
    }
    // The same definition again: nothing appended.
    let again = put(
        &app,
        &admin,
        "/api/v1/config/calendars/rathaus",
        &calendar(),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["events_appended"], 0);
    // A change on a stale version is refused; on the current one it is version 2.
    let mut longer = calendar();
    longer["weekly_hours"]["fri"] = json!(["07:30-12:00", "13:00-15:00"]);
    let stale = send(
        with_token(
            app.client.put(app.url("/api/v1/config/calendars/rathaus")),
            &admin,
        )
        .header("If-Match", "\"7\"")
        .json(&longer),
    )
    .await;
    stale.assert_problem(StatusCode::PRECONDITION_FAILED, "stale_version");
    let changed = send(
        with_token(
            app.client.put(app.url("/api/v1/config/calendars/rathaus")),
            &admin,
        )
        .header("If-Match", "\"1\"")
        .json(&longer),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(changed.json()["version"], 2);

    // Anyone signed in reads it back, with defaults filled in and who changed it.
    let shown = send(app.get("/api/v1/config/sla-policies/standard")).await;
    let shown = shown.json();
    assert_eq!(shown["definition"]["warning_percent"], json!([75, 90]));
    assert_eq!(shown["definition"]["on_reopen"], "continue");
    assert_eq!(shown["updated_by"], "admin");
    let services = send(app.get("/api/v1/config/services")).await.json();
    assert_eq!(services.as_array().unwrap().len(), 1);
    assert_eq!(services[0]["name"], "drucker");
    assert_eq!(app.events_of_type("calendar.defined").await, 2);

    // In use: the calendar cannot be retired; the service can, and then the policy.
    let in_use = send(with_token(
        app.client
            .delete(app.url("/api/v1/config/calendars/rathaus")),
        &admin,
    ))
    .await;
    let problem = in_use.assert_problem(StatusCode::CONFLICT, "config_in_use");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("sla_policy standard"),
        "{problem}"
    );
    for path in [
        "/api/v1/config/services/drucker",
        "/api/v1/config/sla-policies/standard",
    ] {
        let retired = send(with_token(app.client.delete(app.url(path)), &admin)).await;
        assert_eq!(retired.status, StatusCode::OK, "{path}: {}", retired.text);
    }
    let listed = send(app.get("/api/v1/config/services")).await.json();
    assert_eq!(listed[0]["retired"], true);
    assert_eq!(app.events_of_type("service.retired").await, 1);
}

#[tokio::test]
async fn bad_configuration_is_refused_by_name_and_appends_nothing() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let overlapping = json!({"weekly_hours": {"mon": ["08:00-12:00", "11:30-16:00"]}});
    let mut zone = calendar();
    zone["time_zone"] = json!("Europe/Bonn");
    let mut zero = policy();
    zero["targets"][0]["first_response_minutes"] = json!(0);
    let mut threshold = policy();
    threshold["warning_percent"] = json!([75, 100]);
    let mut shadowed = policy();
    shadowed["targets"] = json!([
        {"first_response_minutes": 240, "resolution_minutes": 2400},
        {"priorities": ["critical"], "first_response_minutes": 30, "resolution_minutes": 240},
    ]);
    let cases = [
        (
            "/api/v1/config/calendars/rathaus",
            overlapping,
            StatusCode::UNPROCESSABLE_ENTITY,
            "overlapping_hours",
        ),
        (
            "/api/v1/config/calendars/rathaus",
            zone,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_time_zone",
        ),
        (
            "/api/v1/config/calendars/Rathaus",
            calendar(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
        ),
        (
            "/api/v1/config/calendars/rathaus",
            json!({"weekly_hours": {}, "colour": "blue"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_definition",
        ),
        (
            "/api/v1/config/sla-policies/standard",
            policy(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_reference",
        ),
        (
            "/api/v1/config/sla-policies/standard",
            zero,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_definition",
        ),
        (
            "/api/v1/config/sla-policies/standard",
            threshold,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_definition",
        ),
        (
            "/api/v1/config/sla-policies/standard",
            shadowed,
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy_never_matches",
        ),
        (
            "/api/v1/config/services/drucker",
            service(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_reference",
        ),
        (
            "/api/v1/config/widgets/x",
            json!({}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (path, body, status, code) in cases {
        let reply = app
            .reject(with_token(app.client.put(app.url(path)), &admin).json(&body))
            .await;
        let problem = reply.assert_problem(status, code);
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{problem}");
    }
    // The missing reference names its field, in English when asked.
    let reply = app
        .reject(
            with_token(
                app.client.put(app.url("/api/v1/config/services/drucker")),
                &admin,
            )
            .header("Accept-Language", "en")
            .json(&service()),
        )
        .await;
    let problem = reply.assert_field_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "missing_reference",
        "category",
    );
    assert_eq!(problem["title"], "Reference to missing configuration");
    // Only administrators change configuration; retiring what does not exist is 404.
    let agent = app.token("agent").await;
    app.reject(
        with_token(app.client.put(app.url("/api/v1/config/queues/q")), &agent)
            .json(&json!({"title": {"de": "Q"}})),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "missing_right");
    app.reject(with_token(
        app.client.delete(app.url("/api/v1/config/queues/q")),
        &admin,
    ))
    .await
    .assert_problem(StatusCode::NOT_FOUND, "config_not_found");
    send(app.get("/api/v1/config/queues/q"))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "config_not_found");
}

#[tokio::test]
async fn sla_records_are_the_monitors_alone_and_cannot_be_sent_over_http() {
    let app = spawn_app().await;
    let ticket = app.open_ticket().await;
    for body in [
        json!({"type": "record_sla_breach", "metric": "resolution", "due_at": "2026-11-23T10:00:00Z", "policy": "standard"}),
        json!({"type": "record_sla_warning", "metric": "resolution", "percent": 75, "reached_at": "2026-11-23T10:00:00Z", "policy": "standard"}),
    ] {
        let admin = app.token("admin").await;
        let reply = app
            .reject(with_token(
                app.command_request(&ticket.id.to_string(), &body, None),
                &admin,
            ))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.text
        );
    }
}
