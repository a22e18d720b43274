//! Read-your-writes across the real pieces: commands through the command service, the ticket
//! projection running in the background, reads through the query service with `?after=`.

use std::sync::Arc;
use std::time::Duration;

use command_service::BODY_BYTES_MAX_DEFAULT;
use domain::ticket::TicketPolicy;
use event_store::crypto::{MasterKey, PersonalDataVault};
use event_store::testing::TestDatabase;
use projector::metrics::ProjectorMetrics;
use projector::runner::{Runner, RunnerSettings};
use projector::tickets::TicketProjection;
use query_service::{AppState, Settings};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use tokio::sync::{watch, Notify};

use crate::helpers::{issue_token, send, serve, AGENT, REQUESTER};

/// The three services on one fresh database: command API, projector, query API.
struct System {
    commands: String,
    queries: String,
    client: reqwest::Client,
    _db: TestDatabase,
    _shutdown: watch::Sender<bool>,
}

async fn start() -> System {
    let db = TestDatabase::create().await;
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(db.app_options.clone())
        .await
        .expect("connect as the application role");
    let master_key = MasterKey::generate();
    let command_state = command_service::AppState::new(command_service::Settings {
        pool: pool.clone(),
        master_key: master_key.clone(),
        policy: TicketPolicy::default(),
        body_bytes_max: BODY_BYTES_MAX_DEFAULT,
    });
    let projection = TicketProjection::new(pool.clone(), PersonalDataVault::new(&master_key));
    let settings = RunnerSettings {
        pool: pool.clone(),
        batch_size: 100,
        lease_ttl: Duration::from_secs(2),
        poll_interval: Duration::from_millis(20),
        worker: "test-worker".to_owned(),
    };
    let metrics = Arc::new(ProjectorMetrics::default());
    let runner = Runner::new(settings, Arc::new(projection), metrics)
        .await
        .expect("runner");
    let (shutdown, shutdown_receiver) = watch::channel(false);
    tokio::spawn(async move { runner.run(Arc::new(Notify::new()), shutdown_receiver).await });
    let mut query_settings = Settings::new(pool.clone());
    query_settings.consistency_wait = Duration::from_secs(10);
    System {
        commands: serve(command_service::app(command_state)).await,
        queries: serve(query_service::app(AppState::new(query_settings))).await,
        client: reqwest::Client::new(),
        _db: db,
        _shutdown: shutdown,
    }
}

impl System {
    async fn command(&self, token: &str, path: &str, body: Value) -> Value {
        let reply = send(
            self.client
                .post(format!("{}{path}", self.commands))
                .bearer_auth(token)
                .json(&body),
        )
        .await;
        assert!(reply.status.is_success(), "{reply:?}");
        reply.json()
    }

    async fn read(&self, token: &str, path: &str) -> crate::helpers::Reply {
        send(
            self.client
                .get(format!("{}{path}", self.queries))
                .bearer_auth(token),
        )
        .await
    }
}

#[tokio::test]
async fn a_read_after_a_commands_token_sees_the_command() {
    let system = start().await;
    let db_pool = &system._db.app_pool;
    let agent = issue_token(db_pool, AGENT, "agent").await;
    let requester = issue_token(db_pool, REQUESTER, "requester").await;
    let opened = system
        .command(
            &requester,
            "/api/v1/tickets",
            json!({
                "type": "incident",
                "title": "Drücker im 2. OG defekt",
                "description": "Papierstau, obwohl kein Papier feststeckt.",
                "requester": {"name": "Erika Mustermann", "email": "erika@example.org"},
                "impact": "medium",
                "urgency": "high"
            }),
        )
        .await;
    let id = opened["id"].as_str().unwrap().to_owned();
    let commands = format!("/api/v1/tickets/{id}/commands");
    system
        .command(
            &agent,
            &commands,
            json!({"type": "add_note", "body": "Toner prüfen"}),
        )
        .await;
    let assigned = system
        .command(
            &agent,
            &commands,
            json!({"type": "assign", "assignee": AGENT, "queue": "service-desk"}),
        )
        .await;
    let token = assigned["consistency_token"].as_str().unwrap();

    let view = system
        .read(&agent, &format!("/api/v1/tickets/{id}?after={token}"))
        .await;
    let own_view = system
        .read(&requester, &format!("/api/v1/tickets/{id}?after={token}"))
        .await;
    let history = system
        .read(
            &requester,
            &format!("/api/v1/tickets/{id}/history?after={token}"),
        )
        .await;
    let mine = system
        .read(&requester, &format!("/api/v1/tickets?after={token}"))
        .await;
    let found = system
        .read(&agent, &format!("/api/v1/search?q=Drucker&after={token}"))
        .await;

    let body = view.ok();
    assert_eq!(
        view.header("etag"),
        Some(format!("\"{}\"", assigned["version"]).as_str())
    );
    assert_eq!(body["status"], "assigned");
    assert_eq!(body["assignee"], AGENT);
    assert_eq!(body["requester"]["name"], "Erika Mustermann");
    assert_eq!(body["articles"][0]["kind"], "internal_note");
    assert_eq!(own_view.ok()["articles"], json!([]));
    let summaries: Vec<String> = history.ok()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["summary"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(summaries.len(), 2, "the note is hidden: {summaries:?}");
    assert_eq!(summaries[0], "Ticket eröffnet");
    assert!(
        summaries[1].starts_with("Zugewiesen an k.meier (vorher: niemand)"),
        "{summaries:?}"
    );
    assert_eq!(mine.ok()["items"][0]["id"], id.as_str());
    assert_eq!(found.ok()["items"][0]["id"], id.as_str());
}
