//! SLA end to end through `itsm serve`: an administrator defines a calendar and the default
//! policy over HTTP; a ticket's clocks run, pause while it waits for the requester, and are met;
//! the explanation and the compliance report show it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{Installation, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tickets_clocks_run_pause_and_are_met_and_the_report_counts_them() {
    let installation = Installation::new().await;
    let (admin, agent) = (
        installation.token("admin", "admin"),
        installation.token("k.meier", "agent"),
    );
    let _server = Server::start(&installation).await;
    let base = installation.base_url();
    let client = reqwest::Client::new();
    let day = json!(["00:00-24:00"]);
    for (path, body) in [
        (
            "calendars/immer",
            json!({"weekly_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}}),
        ),
        (
            "sla-policies/default",
            json!({"title": "Standard", "calendar": "immer", "targets": [
                {"first_response_minutes": 60, "resolution_minutes": 480}]}),
        ),
    ] {
        let (status, text) = crate::put_config(&client, &base, &admin, path, &body).await;
        assert_eq!(status, 201, "{path}: {text}");
    }

    let opened: Value = crate::post_json(
        &client,
        &format!("{base}/api/v1/tickets"),
        &agent,
        &json!({"type": "incident", "title": "Scanner im Einwohnermeldeamt defekt",
            "requester": {"name": "Erika Mustermann"}, "impact": "medium", "urgency": "medium",
            "queue": "first-level"}),
    )
    .await;
    let number = opened["number"].as_str().unwrap().to_owned();
    let url = format!("{base}/api/v1/tickets/{number}/sla");
    let running = crate::until(&client, &url, &agent, |view| {
        view["clocks"]
            .as_array()
            .is_some_and(|clocks| clocks.len() == 2)
    })
    .await;
    let resolution = &running["clocks"][1];
    assert_eq!(resolution["metric"], "resolution");
    assert_eq!(resolution["state"], "running");
    assert_eq!(resolution["target_minutes"], 480);
    assert_eq!(resolution["policy"], "default");
    assert_eq!(resolution["segments"][0]["cause"], "opened");
    assert_eq!(resolution["segments"][0]["calendar"], "immer");
    assert_eq!(
        resolution["thresholds"],
        json!([
            {"percent": 75, "at": resolution["thresholds"][0]["at"], "reached": false},
            {"percent": 90, "at": resolution["thresholds"][1]["at"], "reached": false},
        ])
    );
    assert!(resolution["due_at"].is_string());
    // The worklist shows the same clock with the business minutes left and when it warns.
    let worklist: Value =
        crate::get_json(&client, &format!("{base}/api/v1/tickets?sort=due"), &agent).await;
    let item = &worklist["items"][0];
    assert_eq!(item["number"], number.as_str());
    assert_eq!(item["sla_state"], "running");
    let left = item["remaining_minutes"].as_i64().unwrap();
    assert!((478..=480).contains(&left), "{item}");
    let due = chrono::DateTime::parse_from_rfc3339(item["due_at"].as_str().unwrap()).unwrap();
    let warns = chrono::DateTime::parse_from_rfc3339(item["warning_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        due - warns,
        chrono::Duration::minutes(120),
        "a quarter of 480 minutes"
    );

    let command = |body: Value| {
        let client = client.clone();
        let url = format!("{base}/api/v1/tickets/{number}/commands");
        let agent = agent.clone();
        async move {
            let reply = client
                .post(url)
                .bearer_auth(agent)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                reply.status(),
                200,
                "{body}: {}",
                reply.text().await.unwrap()
            );
        }
    };
    command(json!({"type": "assign", "assignee": "k.meier"})).await;
    command(json!({"type": "set_pending", "reason": "waiting_for_requester"})).await;
    let paused = crate::until(&client, &url, &agent, |view| {
        view["clocks"][1]["state"] == "paused"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let while_paused = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(paused["clocks"][0]["state"], "paused");
    assert!(
        paused["clocks"][1]["due_at"].is_null(),
        "no due time while paused"
    );
    let segments = paused["clocks"][1]["segments"].as_array().unwrap();
    assert_eq!(
        segments.last().unwrap()["cause"],
        "pending:waiting_for_requester"
    );
    command(json!({"type": "start_work"})).await;
    command(json!({"type": "add_reply", "body": "Der Scanner ist getauscht."})).await;
    command(json!({"type": "resolve", "code": "fixed", "text": "Gerät getauscht"})).await;
    let met = crate::until(&client, &url, &agent, |view| {
        view["clocks"][1]["state"] == "met"
    })
    .await;
    assert_eq!(met["clocks"][0]["state"], "met");
    let causes: Vec<&str> = met["clocks"][1]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|segment| segment["cause"].as_str().unwrap())
        .collect();
    assert_eq!(
        causes,
        ["opened", "pending:waiting_for_requester", "resumed"]
    );

    // An auditor sees the clocks as they stood while the ticket waited.
    let auditor = installation.token("r.pruefer", "auditor");
    let then: Value = client
        .get(format!("{base}/api/v1/tickets/{number}"))
        .query(&[("as_of", while_paused.as_str())])
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(then["ticket"]["status"], "pending", "{then}");
    let clocks = then["sla"].as_array().expect("clocks as of then");
    assert_eq!(clocks.len(), 2, "{then}");
    assert_eq!(clocks[0]["state"], "paused");
    assert_eq!(clocks[1]["state"], "paused");
    assert_eq!(clocks[1]["segments"].as_array().unwrap().len(), 2);
    assert_eq!(clocks[1]["policy"], "default");

    let report: Value = crate::get_json(
        &client,
        &format!("{base}/api/v1/reports/sla-compliance"),
        &agent,
    )
    .await;
    let rows = report.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{report}");
    for row in rows {
        assert_eq!(
            (row["met"].as_i64(), row["met_in_time"].as_i64()),
            (Some(1), Some(1)),
            "{row}"
        );
        assert_eq!(row["compliance_percent"], 100.0);
        assert_eq!(row["queue"], "first-level");
    }
    let requester = installation.token("e.mustermann", "requester");
    let refused = client
        .get(format!("{base}/api/v1/reports/sla-compliance"))
        .bearer_auth(&requester)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let bad = client
        .get(format!(
            "{base}/api/v1/reports/sla-compliance?month=2026-13"
        ))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}
