//! The CMDB over HTTP: asset managers register and change assets, every refusal is a precise
//! problem that appends nothing, and inventory imports write events only for real changes.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{send, spawn_app, with_token, Reply, TestApp};

async fn cmdb() -> (TestApp, String) {
    let app = spawn_app().await;
    let defined = command_service::assets::seed_default_classes(&app.pool)
        .await
        .expect("seed classes");
    assert_eq!(defined, 11);
    let token = app.token("asset_manager").await;
    (app, token)
}

async fn register(app: &TestApp, token: &str, body: &Value) -> Reply {
    send(with_token(app.client.post(app.url("/api/v1/assets")), token).json(body)).await
}

fn asset_command(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::RequestBuilder {
    with_token(
        app.client
            .post(app.url(&format!("/api/v1/assets/{id}/commands"))),
        token,
    )
    .json(body)
}

async fn import(app: &TestApp, token: &str, source: &str, content_type: &str, file: &str) -> Reply {
    send(
        with_token(
            app.client
                .post(app.url(&format!("/api/v1/imports?source={source}"))),
            token,
        )
        .header("Content-Type", content_type)
        .body(file.to_owned()),
    )
    .await
}

fn server() -> Value {
    json!({
        "class": "server",
        "name": "srv-fach-01",
        "serial_number": "CZJ1234",
        "location": "RZ-1",
        "attributes": {"ram_gb": 64, "operating_system": "Debian 12"},
        "lifecycle": "deployed"
    })
}

async fn asset_events(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE stream_type = 'asset'")
        .fetch_one(&app.db.owner_pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_asset_manager_registers_and_changes_an_asset_and_only_changes_are_recorded() {
    let (app, token) = cmdb().await;
    let reply = register(&app, &token, &server()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.header("etag"), Some("\"1\""));

    let update = json!({"command": "update", "fields": {"location": "RZ-2", "name": "srv-fach-01"},
                        "attributes": {"ram_gb": "128", "operating_system": "Debian 12"}});
    let reply = send(asset_command(&app, &token, &id, &update)).await;
    assert_eq!(reply.json()["events_appended"], 1, "{reply:?}");
    let stream = app.stream(Uuid::parse_str(&id).unwrap()).await;
    assert_eq!(stream[1].event_type, "asset.updated");
    assert_eq!(
        stream[1].payload,
        json!({"fields": {"location": "RZ-2"}, "attributes": {"ram_gb": 128}})
    );
    assert_eq!(stream[1].metadata.actor, "admin");

    let reply = send(asset_command(&app, &token, &id, &update)).await;
    assert_eq!(
        reply.json()["events_appended"],
        0,
        "the same update again changes nothing"
    );
    assert_eq!(reply.json()["version"], 2);

    let repair =
        json!({"command": "change_lifecycle", "to": "in_repair", "reason": "Netzteil defekt"});
    let reply = send(asset_command(&app, &token, &id, &repair).header("If-Match", "\"2\"")).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(app.stream(Uuid::parse_str(&id).unwrap()).await.len(), 3);
}

#[tokio::test]
async fn every_refusal_is_a_precise_problem_and_appends_nothing() {
    let (app, token) = cmdb().await;
    let id = register(&app, &token, &server()).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str, Option<&str>)> = vec![
        (
            asset_command(
                &app,
                &token,
                &id,
                &json!({"command": "change_lifecycle", "to": "ordered"}),
            ),
            StatusCode::CONFLICT,
            "lifecycle_transition_not_allowed",
            None,
        ),
        (
            asset_command(
                &app,
                &token,
                &id,
                &json!({"command": "update", "attributes": {"ram_gb": "viel"}}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "attribute_type_mismatch",
            Some("attributes.ram_gb"),
        ),
        (
            asset_command(
                &app,
                &token,
                &id,
                &json!({"command": "update", "attributes": {"colour": "rot"}}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_attribute",
            Some("attributes.colour"),
        ),
        (
            asset_command(
                &app,
                &token,
                &id,
                &json!({"command": "update", "fields": {"name": ""}}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("name"),
        ),
        (
            asset_command(
                &app,
                &token,
                &id,
                &json!({"command": "update", "fields": {"colour": "rot"}}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("fields.colour"),
        ),
        (
            asset_command(
                &app,
                &token,
                &id,
                &json!({"command": "relate", "relation": "runs_on", "target": Uuid::new_v4()}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "relation_target_not_found",
            None,
        ),
        (
            asset_command(
                &app,
                &token,
                &id,
                &json!({"command": "relate", "relation": "runs_on", "target": id}),
            ),
            StatusCode::CONFLICT,
            "relation_to_itself",
            None,
        ),
        (
            asset_command(&app, &token, &id, &json!({"command": "update"}))
                .header("If-Match", "\"7\""),
            StatusCode::PRECONDITION_FAILED,
            "stale_version",
            None,
        ),
        (
            asset_command(
                &app,
                &token,
                &Uuid::new_v4().to_string(),
                &json!({"command": "change_lifecycle", "to": "retired"}),
            ),
            StatusCode::NOT_FOUND,
            "asset_not_found",
            None,
        ),
        (
            asset_command(&app, &token, &id, &json!({"command": "explode"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            None,
        ),
        (
            with_token(
                app.client
                    .post(app.url(&format!("/api/v1/assets/{id}/commands"))),
                &token,
            )
            .header("Content-Type", "application/json")
            .body("{\"command\": "),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            None,
        ),
        (
            with_token(app.client.post(app.url("/api/v1/assets")), &token)
                .json(&json!({"class": "raumschiff", "name": "Enterprise"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_asset_class",
            Some("class"),
        ),
        (
            with_token(app.client.post(app.url("/api/v1/assets")), &token)
                .json(&json!({"class": "computer", "name": "PC", "colour": "rot"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            None,
        ),
    ];
    for (request, status, code, field) in cases {
        let reply = app.reject(request).await;
        let problem = reply.assert_problem(status, code);
        if let Some(field) = field {
            assert_eq!(problem["field"], field, "{problem}");
        }
    }
}

#[tokio::test]
async fn only_asset_managers_and_administrators_change_the_cmdb() {
    let (app, _) = cmdb().await;
    for role in ["agent", "requester", "auditor", "supervisor"] {
        let token = app.token(role).await;
        let reply = app
            .reject(with_token(app.client.post(app.url("/api/v1/assets")), &token).json(&server()))
            .await;
        reply.assert_problem(StatusCode::FORBIDDEN, "missing_right");
        let reply = app
            .reject(
                with_token(
                    app.client.post(app.url("/api/v1/imports?source=baramundi")),
                    &token,
                )
                .header("Content-Type", "text/csv")
                .body("external_id,class,name\n1,computer,PC\n"),
            )
            .await;
        reply.assert_problem(StatusCode::FORBIDDEN, "missing_right");
    }
    let admin = app.token("admin").await;
    assert_eq!(
        register(&app, &admin, &server()).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_relation_is_recorded_on_its_source_and_ended_once() {
    let (app, token) = cmdb().await;
    let host = register(&app, &token, &server()).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let software = register(
        &app,
        &token,
        &json!({"class": "software", "name": "Fachverfahren X"}),
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let relate = json!({"command": "relate", "relation": "runs_on", "target": host});
    assert_eq!(
        send(asset_command(&app, &token, &software, &relate))
            .await
            .json()["events_appended"],
        1
    );
    app.reject(asset_command(&app, &token, &software, &relate))
        .await
        .assert_problem(StatusCode::CONFLICT, "relation_exists");
    let unrelate = json!({"command": "unrelate", "relation": "runs_on", "target": host});
    assert_eq!(
        send(asset_command(&app, &token, &software, &unrelate))
            .await
            .status,
        StatusCode::OK
    );
    app.reject(asset_command(&app, &token, &software, &unrelate))
        .await
        .assert_problem(StatusCode::CONFLICT, "relation_not_found");
}

const INVENTORY: &str =
    "external_id;class;name;serial_number;location;ram_gb;operating_system;encrypted\n\
PC-1;computer;PC-0001;S1;RH-1.01;16;Windows 11;ja\n\
PC-2;notebook;NB-0002;S2;RH-1.02;32;Windows 11;nein\n\
PC-3;computer;PC-0003;S3;RH-1.03;8;Windows 10;ja\n";

#[tokio::test]
async fn importing_the_same_file_twice_appends_only_the_second_runs_record() {
    let (app, token) = cmdb().await;
    let first = import(&app, &token, "baramundi", "text/csv", INVENTORY).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let report = first.json();
    assert_eq!(
        (
            &report["created"],
            &report["updated"],
            &report["unchanged"],
            &report["rejected"],
            &report["events_written"]
        ),
        (&json!(3), &json!(0), &json!(0), &json!(0), &json!(3))
    );
    let events_before = app.rows_written().await.0;
    let second = import(&app, &token, "baramundi", "text/csv", INVENTORY)
        .await
        .json();
    assert_eq!(
        (
            &second["created"],
            &second["unchanged"],
            &second["events_written"],
            &second["run"]
        ),
        (&json!(0), &json!(3), &json!(0), &json!(2))
    );
    assert_eq!(
        app.rows_written().await.0,
        events_before + 1,
        "only the run's record"
    );
    assert_eq!(app.events_of_type("asset_import.completed").await, 2);
}

#[tokio::test]
async fn a_changed_row_records_exactly_its_changed_values() {
    let (app, token) = cmdb().await;
    import(&app, &token, "baramundi", "text/csv", INVENTORY).await;
    let changed = INVENTORY
        .replace("PC-0001;S1;RH-1.01;16", "PC-0001;S1;RH-2.14;16")
        .replace(";8;Windows 10;ja", ";8;Windows 11;");
    let report = import(&app, &token, "baramundi", "text/csv", &changed)
        .await
        .json();
    assert_eq!(
        (
            &report["updated"],
            &report["unchanged"],
            &report["events_written"]
        ),
        (&json!(2), &json!(1), &json!(2))
    );
    let payloads: Vec<Value> = sqlx::query_scalar(
        "SELECT payload FROM events WHERE event_type = 'asset.updated' ORDER BY global_position",
    )
    .fetch_all(&app.db.owner_pool)
    .await
    .unwrap();
    assert!(
        payloads.contains(&json!({"fields": {"location": "RH-2.14"}, "source": "baramundi"})),
        "{payloads:?}"
    );
    assert!(
        payloads.contains(&json!({"attributes": {"operating_system": "Windows 11", "encrypted": null}, "source": "baramundi"})),
        "an empty cell removes the value the source owns: {payloads:?}"
    );
}

#[tokio::test]
async fn bad_rows_are_reported_with_line_and_reason_while_good_rows_are_applied() {
    let (app, token) = cmdb().await;
    let file = "external_id,class,name,ram_gb,lifecycle\n\
1,computer,PC-1,16,\n\
2,computer,PC-2,sechzehn,\n\
3,raumschiff,Enterprise,,\n\
,computer,PC-4,8,\n\
5,computer,,8,\n\
1,computer,PC-1 again,16,\n\
7,computer,PC-7,8,verschrottet\n\
8,computer,PC-8\n\
9,printer,Drucker-9,4,\n\
10,computer,PC-10,,in_stock\n";
    let report = import(&app, &token, "baramundi", "text/csv", file)
        .await
        .json();
    assert_eq!(
        (&report["created"], &report["rejected"], &report["rows"]),
        (&json!(2), &json!(8), &json!(10)),
        "{report}"
    );
    let rejected: Vec<(u64, String)> = report["rejected_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["line"].as_u64().unwrap(),
                row["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (3, "attribute_type_mismatch"),
            (4, "unknown_asset_class"),
            (5, "invalid_external_id"),
            (6, "invalid_field"),
            (7, "duplicate_external_id"),
            (8, "invalid_lifecycle"),
            (9, "malformed_row"),
            (10, "unknown_attribute"),
        ]
        .map(|(line, code)| (line, code.to_owned()))
    );
    assert_eq!(report["rejected_rows"][0]["field"], "attributes.ram_gb");
    assert_eq!(report["rejected_rows"][0]["external_id"], "2");
    assert_eq!(asset_events(&app).await, 2);
}

#[tokio::test]
async fn an_asset_missed_for_the_configured_runs_is_flagged_once_and_cleared_when_delivered_again()
{
    let (app, token) = cmdb().await;
    import(&app, &token, "baramundi", "text/csv", INVENTORY).await;
    let without_third: String = INVENTORY
        .lines()
        .take(3)
        .map(|line| format!("{line}\n"))
        .collect();
    let mut reports = Vec::new();
    for _ in 0..4 {
        reports.push(
            import(&app, &token, "baramundi", "text/csv", &without_third)
                .await
                .json(),
        );
    }
    let summary: Vec<(u64, u64, u64)> = reports
        .iter()
        .map(|report| {
            (
                report["missing"].as_u64().unwrap(),
                report["flagged"].as_u64().unwrap(),
                report["events_written"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [(1, 0, 0), (1, 0, 0), (1, 1, 1), (1, 0, 0)],
        "flagged on the third missed run, once"
    );
    assert_eq!(app.events_of_type("asset.missing_flagged").await, 1);
    let back = import(&app, &token, "baramundi", "text/csv", INVENTORY)
        .await
        .json();
    assert_eq!(
        (&back["missing"], &back["updated"], &back["events_written"]),
        (&json!(0), &json!(1), &json!(1))
    );
    assert_eq!(app.events_of_type("asset.missing_cleared").await, 1);
}

#[tokio::test]
async fn a_json_file_imports_like_csv_and_a_key_left_out_is_not_touched() {
    let (app, token) = cmdb().await;
    let file = json!([
        {"external_id": "S-1", "class": "server", "name": "srv-01", "location": "RZ-1",
         "attributes": {"ram_gb": 64, "encrypted": true}},
        {"external_id": "S-2", "class": "server", "name": "srv-02", "oops": 1}
    ]);
    let report = import(
        &app,
        &token,
        "vsphere",
        "application/json",
        &file.to_string(),
    )
    .await
    .json();
    assert_eq!(
        (&report["created"], &report["rejected"]),
        (&json!(1), &json!(1)),
        "{report}"
    );
    assert_eq!(report["rejected_rows"][0]["line"], 2);
    let again = json!([{"external_id": "S-1", "attributes": {"ram_gb": 64}}]);
    let report = import(
        &app,
        &token,
        "vsphere",
        "application/json",
        &again.to_string(),
    )
    .await
    .json();
    assert_eq!(
        (&report["unchanged"], &report["events_written"]),
        (&json!(1), &json!(0)),
        "{report}"
    );
}

#[tokio::test]
async fn an_import_that_cannot_be_read_is_refused_whole_and_appends_nothing() {
    let (app, token) = cmdb().await;
    let request = |query: &str, content_type: &str, body: &str| {
        with_token(
            app.client.post(app.url(&format!("/api/v1/imports{query}"))),
            &token,
        )
        .header("Content-Type", content_type)
        .body(body.to_owned())
    };
    app.reject(request(
        "?source=baramundi",
        "text/csv",
        "name,class\nPC,computer\n",
    ))
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "import_missing_column");
    app.reject(request(
        "?source=baramundi",
        "application/json",
        "{\"rows\": 1}",
    ))
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "import_unreadable");
    app.reject(request("?source=Bad Name", "text/csv", INVENTORY))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_source");
    app.reject(request("", "text/csv", INVENTORY))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_parameter");
    app.reject(request("?source=baramundi", "application/xml", "<assets/>"))
        .await
        .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

#[tokio::test]
async fn default_classes_are_defined_once_and_a_retired_one_stays_retired() {
    let (app, _) = cmdb().await;
    let admin = app.token("admin").await;
    let reply = send(with_token(
        app.client
            .delete(app.url("/api/v1/config/asset-classes/phone")),
        &admin,
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(
        command_service::assets::seed_default_classes(&app.pool)
            .await
            .unwrap(),
        0
    );
    let reply = send(with_token(
        app.client
            .get(app.url("/api/v1/config/asset-classes/phone")),
        &admin,
    ))
    .await;
    assert_eq!(reply.json()["retired"], true, "{reply:?}");
    let classes = send(with_token(
        app.client.get(app.url("/api/v1/config/asset-classes")),
        &admin,
    ))
    .await;
    assert!(classes.text.contains("\"computer\""), "{classes:?}");
}
