//! End to end for auditors (issue 8) through the all-in-one `itsm serve` and the operator
//! commands: a ticket as it was at a past moment, verification of one ticket and of the whole
//! store (also after tampering through a superuser connection), export, access rights, and the
//! record every use leaves.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::{stderr, stdout, Installation, Server};

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn accesses(installation: &Installation) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT jsonb_build_object('actor', actor, 'origin', origin, 'payload', payload) \
         FROM events WHERE event_type = 'audit.accessed' ORDER BY global_position",
    )
    .fetch_all(&installation.db.app_pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditors_see_the_past_verify_and_export_and_every_use_is_recorded() {
    let installation = Installation::new().await;
    let agent = installation.token("k.meier", "agent");
    let auditor = installation.token("r.pruefer", "auditor");
    let _server = Server::start(&installation).await;
    let base = installation.base_url();
    let client = reqwest::Client::new();

    let before_open = now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let opened: Value = crate::post_json(
        &client,
        &format!("{base}/api/v1/tickets"),
        &agent,
        &json!({"type": "incident", "title": "Fachverfahren startet nicht",
            "description": "Fehlermeldung beim Anmelden", "requester": {"name": "Erika Mustermann"},
            "impact": "medium", "urgency": "high", "queue": "first-level"}),
    )
    .await;
    let (id, number) = (
        opened["id"].as_str().unwrap().to_owned(),
        opened["number"].as_str().unwrap().to_owned(),
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    let while_new = now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let assigned = client
        .post(format!("{base}/api/v1/tickets/{number}/commands"))
        .bearer_auth(&agent)
        .header("If-Match", "\"1\"")
        .json(&json!({"type": "assign", "assignee": "k.meier"}))
        .send()
        .await
        .unwrap();
    assert_eq!(assigned.status(), 200);

    // The past, for auditors only.
    let past = |token: &str, at: &str| {
        client
            .get(format!("{base}/api/v1/tickets/{number}"))
            .query(&[("as_of", at)])
            .bearer_auth(token)
            .send()
    };
    let refused = past(&agent, &while_new).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let then: Value = past(&auditor, &while_new)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(then["ticket"]["status"], "new", "{then}");
    assert_eq!(then["ticket"]["version"], 1);
    assert_eq!(then["ticket"]["assignee"], Value::Null);
    assert_eq!(then["ticket"]["requester"]["name"], "Erika Mustermann");
    assert_eq!(then["last_event"]["event_type"], "ticket.opened");
    let today: Value = past(&auditor, &now()).await.unwrap().json().await.unwrap();
    assert_eq!(today["ticket"]["status"], "assigned", "{today}");
    assert_eq!(today["ticket"]["assignee"], "k.meier");
    assert_eq!(past(&auditor, &before_open).await.unwrap().status(), 404);
    assert_eq!(past(&auditor, "yesterday").await.unwrap().status(), 422);

    // One ticket's chain.
    let verdict: Value = crate::get_json(
        &client,
        &format!("{base}/api/v1/audit/verify?ticket={number}"),
        &auditor,
    )
    .await;
    assert_eq!(verdict["intact"], true, "{verdict}");
    assert_eq!(verdict["events"], 2);

    // Export of the ticket as JSON Lines.
    let export = client
        .get(format!("{base}/api/v1/audit/export?ticket={id}"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let text = export.text().await.unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // The server may already have signed a checkpoint over the default asset classes that
    // `itsm migrate` recorded; the export carries the checkpoints it covers.
    let records: Vec<Value> = records
        .into_iter()
        .filter(|record| record["record"] != "checkpoint")
        .collect();
    let kinds: Vec<&str> = records
        .iter()
        .map(|record| record["record"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["export", "event", "event", "end"], "{text}");
    assert_eq!(records[0]["complete"], false);
    assert_eq!(records[2]["previous_hash"], records[1]["hash"]);
    let agent_export = client
        .get(format!("{base}/api/v1/audit/export"))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(agent_export.status(), 403);

    // The same from the command line.
    let shown = installation.itsm(&["history", "show", &number, "--as-of", &while_new]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let shown = stdout(&shown);
    assert!(
        shown.contains("status     new") && shown.contains("v1"),
        "{shown}"
    );
    let steps = stdout(&installation.itsm(&["history", "show", &number, "--steps"]));
    assert!(
        steps.contains("#1 ticket.opened") && steps.contains("#2 ticket.assigned"),
        "{steps}"
    );
    assert!(steps.contains("assignee k.meier"), "{steps}");
    // The checkpointer reads below the cluster-wide horizon: another test's open transaction
    // may hold the new events back for a moment.
    let mut signed = installation.itsm(&["audit", "checkpoint"]);
    for _ in 0..100 {
        if stdout(&signed).contains("signed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        signed = installation.itsm(&["audit", "checkpoint"]);
    }
    // The server may have signed checkpoint 1 over the default asset classes at its start.
    let signed_text = stdout(&signed);
    let sequence: usize = signed_text
        .strip_prefix("checkpoint ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("{signed_text}{}", stderr(&signed)));
    assert!((1..=2).contains(&sequence), "{signed_text}");
    let verified = installation.itsm(&["audit", "verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(
        stdout(&verified).contains(&format!("{sequence} signed checkpoints")),
        "{}",
        stdout(&verified)
    );

    // Every use above left one record: as_of twice, verify, export, history twice, verify_store
    // (refusals, the 404 and the 422 left none; `audit checkpoint` is no auditor's read).
    let records = accesses(&installation).await;
    let actions: Vec<&str> = records
        .iter()
        .map(|record| record["payload"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "as_of",
            "as_of",
            "verify",
            "export",
            "as_of",
            "history",
            "verify_store"
        ],
        "{records:?}"
    );
    assert_eq!(records[0]["actor"], "r.pruefer");
    assert_eq!(records[0]["origin"], "api");
    assert_eq!(records[0]["payload"]["ticket"], id.as_str());
    assert!(records[4]["actor"].as_str().unwrap().starts_with("cli:"));

    // Tampering through a superuser connection is named exactly.
    sqlx::query("ALTER TABLE events DISABLE TRIGGER events_no_update_delete")
        .execute(&installation.db.owner_pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE events SET payload = jsonb_set(payload, '{queue}', '\"second-level\"') \
         WHERE stream_id = $1::uuid AND stream_version = 1",
    )
    .bind(&id)
    .execute(&installation.db.owner_pool)
    .await
    .unwrap();
    let broken = installation.itsm(&["audit", "verify"]);
    assert_eq!(broken.status.code(), Some(1), "{}", stdout(&broken));
    let report = stdout(&broken);
    assert!(
        report.contains(&format!("BROKEN: stream {id} version 1: stored hash")),
        "{report}"
    );
    let verdict: Value = crate::get_json(
        &client,
        &format!("{base}/api/v1/audit/verify?ticket={number}"),
        &auditor,
    )
    .await;
    assert_eq!(verdict["intact"], false, "{verdict}");
    assert_eq!(verdict["problems"][0]["break"], "hash_mismatch");
    assert_eq!(verdict["problems"][0]["version"], 1);
}
