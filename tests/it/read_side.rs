//! End to end through the all-in-one `itsm serve`: a command's consistency token makes the next
//! read see the write; the worklist, history and search show it; the live stream (SSE, fed by
//! the relay through NATS) announces it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{stdout, Installation, Server};

/// Reads the SSE body until `needle` shows up (or panics after `within`).
async fn read_until(response: &mut reqwest::Response, needle: &str, within: Duration) -> String {
    let mut seen = String::new();
    let deadline = Instant::now() + within;
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} on the stream; got {seen:?}"))
            .expect("stream chunk")
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_readable_with_its_token_and_announced_live() {
    let installation = Installation::new().await;
    let token =
        stdout(&installation.itsm(&["token", "issue", "--user", "k.meier", "--role", "agent"]))
            .trim()
            .to_owned();
    let _server = Server::start(&installation).await;
    let base = installation.base_url();
    let client = reqwest::Client::new();

    let mut live = client
        .get(format!("{base}/api/v1/events/stream"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    assert!(live.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    read_until(&mut live, "event: ready", Duration::from_secs(10)).await;

    let opened: Value = crate::post_json(&client, &format!("{base}/api/v1/tickets"), &token, &json!({"type": "incident", "title": "Drücker im Bürgerbüro defekt",
            "description": "Kein Ausdruck seit heute früh", "requester": {"name": "Erika Mustermann"},
            "impact": "high", "urgency": "high", "queue": "first-level"})).await;
    let (id, number) = (
        opened["id"].as_str().unwrap().to_owned(),
        opened["number"].as_str().unwrap().to_owned(),
    );
    let consistency = opened["consistency_token"].as_str().unwrap().to_owned();

    // Read your write: with the token the view has the ticket at once.
    let view = client
        .get(format!(
            "{base}/api/v1/tickets/{number}?after={consistency}"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(view.status(), 200);
    assert_eq!(view.headers()["etag"], "\"1\"");
    let view: Value = view.json().await.unwrap();
    assert_eq!(view["title"], "Drücker im Bürgerbüro defekt");
    assert_eq!(view["status"], "new");

    let assigned: Value = client
        .post(format!("{base}/api/v1/tickets/{number}/commands"))
        .bearer_auth(&token)
        .header("If-Match", "\"1\"")
        .json(&json!({"type": "assign", "assignee": "k.meier"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let after = assigned["consistency_token"].as_str().unwrap();
    let worklist: Value = crate::get_json(
        &client,
        &format!("{base}/api/v1/tickets?queue=first-level&assignee=me&after={after}"),
        &token,
    )
    .await;
    let items = worklist["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{worklist}");
    assert_eq!(items[0]["number"], number.as_str());
    assert_eq!(items[0]["status"], "assigned");

    let history: Value = client
        .get(format!("{base}/api/v1/tickets/{number}/history"))
        .bearer_auth(&token)
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = history["entries"]
        .as_array()
        .or_else(|| history.as_array())
        .expect("history entries");
    assert_eq!(entries.len(), 2, "{history}");
    assert_eq!(entries[1]["event_type"], "ticket.assigned");
    assert_eq!(entries[1]["actor"], "k.meier");

    let found: Value =
        crate::get_json(&client, &format!("{base}/api/v1/search?q=drucker"), &token).await;
    assert!(
        found.to_string().contains(&id),
        "umlaut-folded search: {found}"
    );

    // The live stream announced the ticket (relay → JetStream → query service → SSE).
    let seen = read_until(&mut live, &id, Duration::from_secs(15)).await;
    assert!(seen.contains("event: ticket"), "{seen}");

    // Operators see both consumers caught up.
    let status = stdout(&installation.itsm(&["projection", "status"]));
    assert!(
        status.contains("tickets") && status.contains("relay"),
        "{status}"
    );
}
