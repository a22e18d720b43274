//! Live updates: a relayed event on the real nats-server reaches the SSE clients that may see
//! its ticket, once the projection has passed it; agents also get queue counts.

use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app_with, Options, TestApp, TicketSeed, OTHER_REQUESTER, REQUESTER};

/// How long a test waits for an expected event.
const EVENT_WAIT: Duration = Duration::from_secs(10);

fn nats_url() -> String {
    std::env::var("ITSM_NATS__URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned())
}

async fn connect() -> async_nats::Client {
    async_nats::connect(nats_url())
        .await
        .expect("nats-server runs (deploy/quickstart.sh starts it)")
}

/// An open SSE response and the text read so far.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn open(app: &TestApp, token: &str) -> EventStream {
        let response = app
            .get_as("/api/v1/events/stream", token)
            .send()
            .await
            .expect("open stream");
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut stream = EventStream {
            response,
            buffer: String::new(),
        };
        stream.next_of("ready").await;
        stream
    }

    /// The data of the next event named `name` (others are skipped).
    async fn next_of(&mut self, name: &str) -> Value {
        tokio::time::timeout(EVENT_WAIT, async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    if let Some(data) = event_data(&block, name) {
                        return data;
                    }
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .expect("read stream")
                    .expect("stream open");
                self.buffer
                    .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no `event: {name}` within {EVENT_WAIT:?}"))
    }
}

fn event_data(block: &str, name: &str) -> Option<Value> {
    let mut event = None;
    let mut data = String::new();
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("event: ") {
            event = Some(value);
        } else if let Some(value) = line.strip_prefix("data: ") {
            data.push_str(value);
        }
    }
    (event == Some(name)).then(|| serde_json::from_str(&data).expect("JSON data"))
}

/// Publishes what the relay would for event `version` of `ticket` at `cursor`.
async fn publish(
    nats: &async_nats::Client,
    prefix: &str,
    ticket: Uuid,
    version: u64,
    cursor: (i64, i64),
) {
    let event_id = Uuid::new_v4();
    let body = json!({
        "global_position": cursor.1,
        "transaction_id": cursor.0,
        "event_id": event_id,
        "stream_type": "ticket",
        "stream_id": ticket,
        "stream_version": version,
        "event_type": "ticket.assigned",
        "event_version": 1,
        "payload": {"assignee": "k.meier", "queue": "network"},
        "metadata": {
            "actor": "k.meier", "occurred_at": "2026-11-02T09:00:00Z", "origin": "api",
            "correlation_id": Uuid::new_v4(), "causation_id": Uuid::new_v4(),
            "command_id": Uuid::new_v4()
        },
        "recorded_at": "2026-11-02T09:00:00Z",
        "previous_hash": "00",
        "hash": "11"
    });
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", event_id.to_string().as_str());
    headers.insert("Itsm-Cursor", format!("{}.{}", cursor.0, cursor.1).as_str());
    let subject = format!("{prefix}.events.ticket.{ticket}");
    let payload = serde_json::to_vec(&body).expect("JSON");
    nats.publish_with_headers(subject, headers, payload.into())
        .await
        .expect("publish");
    nats.flush().await.expect("flush");
}

async fn spawn_live_app(prefix: &str) -> TestApp {
    spawn_app_with(Options {
        nats: Some(connect().await),
        subject_prefix: prefix.to_owned(),
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn a_relayed_event_reaches_the_agent_once_projected_with_the_current_ticket() {
    let prefix = format!("test{}", Uuid::new_v4().simple());
    let app = spawn_live_app(&prefix).await;
    let mut seed = TicketSeed::new(1).status("assigned").assignee("k.meier");
    seed.version = 2;
    let ticket = app.insert_ticket(seed).await;
    app.set_projection(1, 1, (2000, 2)).await;
    let mut stream = EventStream::open(&app, &app.agent_token.clone()).await;
    let nats = connect().await;

    publish(&nats, &prefix, ticket.id, 2, (2000, 2)).await;
    let change = stream.next_of("ticket").await;
    let queues = stream.next_of("queues").await;

    assert_eq!(
        change,
        json!({
            "id": ticket.id, "number": "2026-000001", "version": 2,
            "event_type": "ticket.assigned", "status": "assigned", "queue": "service-desk",
            "priority": "medium", "assignee": "k.meier", "cursor": "2000.2"
        })
    );
    assert_eq!(queues["total"], 1);
    assert_eq!(queues["queues"][0]["counts"]["assigned"], 1);
}

#[tokio::test]
async fn an_event_ahead_of_the_projection_is_sent_once_the_projection_passes_it() {
    let prefix = format!("test{}", Uuid::new_v4().simple());
    let app = spawn_live_app(&prefix).await;
    let ticket = app.insert_ticket(TicketSeed::new(1)).await;
    let mut stream = EventStream::open(&app, &app.agent_token.clone()).await;
    let nats = connect().await;

    publish(&nats, &prefix, ticket.id, 2, (3000, 9)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::query("UPDATE rm_tickets SET status = 'assigned', version = 2 WHERE ticket_id = $1")
        .bind(ticket.id)
        .execute(&app.db.owner_pool)
        .await
        .unwrap();
    app.set_projection(1, 1, (3000, 9)).await;
    let change = stream.next_of("ticket").await;

    assert_eq!(change["id"], ticket.id.to_string());
    assert_eq!(
        change["status"], "assigned",
        "read after the projection passed it"
    );
}

#[tokio::test]
async fn requesters_get_only_their_own_tickets_and_no_queue_counts() {
    let prefix = format!("test{}", Uuid::new_v4().simple());
    let app = spawn_live_app(&prefix).await;
    let others = app
        .insert_ticket(TicketSeed::new(1).requester(OTHER_REQUESTER))
        .await;
    let own = app.insert_ticket(TicketSeed::new(2)).await;
    let token = app.token(REQUESTER, "requester").await;
    let mut stream = EventStream::open(&app, &token).await;
    let nats = connect().await;

    publish(&nats, &prefix, others.id, 2, (900, 1)).await;
    publish(&nats, &prefix, own.id, 2, (900, 2)).await;
    let change = stream.next_of("ticket").await;
    // The queue counts (debounced) would come within 500 ms; a later own event must come first.
    tokio::time::sleep(Duration::from_millis(800)).await;
    publish(&nats, &prefix, own.id, 3, (900, 3)).await;
    let mut events = Vec::new();
    loop {
        let block_end = loop {
            if let Some(end) = stream.buffer.find("\n\n") {
                break end;
            }
            let chunk = stream.response.chunk().await.unwrap().unwrap();
            stream.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        };
        let block: String = stream.buffer.drain(..block_end + 2).collect();
        if block.starts_with(':') {
            continue;
        }
        events.push(block.clone());
        if block.contains("\"version\":3") {
            break;
        }
    }

    assert_eq!(change["id"], own.id.to_string());
    assert_eq!(events.len(), 1, "only the own ticket's event: {events:?}");
    assert!(events[0].starts_with("event: ticket"));
}
