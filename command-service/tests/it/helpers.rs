//! The test harness: `spawn_app()` serves the real command API on port 0 against a fresh,
//! migrated database of its own (zero-to-production's pattern), plus request and assertion
//! helpers shared by every module.

use std::sync::Arc;

use command_service::{AppState, Settings, BODY_BYTES_MAX_DEFAULT};
use domain::ticket::TicketPolicy;
use event_store::crypto::MasterKey;
use event_store::testing::TestDatabase;
use event_store::RecordedEvent;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

/// The agent whose token most tests use; the actor of their events.
pub const AGENT: &str = "k.meier";
/// Connections of each served process's pool. Small, because the suite shares one PostgreSQL
/// (`max_connections` = 100 by default) with every other test run on the machine; commands on one
/// ticket are serialised in the process anyway.
const PROCESS_POOL_CONNECTIONS_MAX: u32 = 5;

/// A running command service and its database.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub db: Arc<TestDatabase>,
    /// The pool the service runs on (the application role, like production).
    pub pool: PgPool,
    pub client: reqwest::Client,
    master_key: MasterKey,
    agent_token: String,
}

/// The body of a successful command (`CommandAccepted`); unknown keys fail the test so that a
/// change of the wire format shows up here.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    pub id: Uuid,
    pub number: Option<String>,
    pub version: u64,
    pub consistency_token: Option<String>,
    pub events_appended: usize,
    pub replayed: bool,
}

/// A response read completely, so that assertions can look at it more than once.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

/// Serves a fresh command service against a fresh database. Logs only with `TEST_LOG=1`.
pub async fn spawn_app() -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn")
            .with_test_writer()
            .try_init();
    }
    let db = Arc::new(TestDatabase::create().await);
    let master_key = MasterKey::generate();
    let pool = process_pool(&db).await;
    let address = serve(pool.clone(), master_key.clone()).await;
    let agent_token = issue_token(&db, AGENT, "agent").await;
    TestApp {
        address,
        db,
        pool,
        client: reqwest::Client::new(),
        master_key,
        agent_token,
    }
}

/// A small pool of the application role, as a service process would open it.
async fn process_pool(db: &TestDatabase) -> PgPool {
    PgPoolOptions::new()
        .max_connections(PROCESS_POOL_CONNECTIONS_MAX)
        .connect_with(db.app_options.clone())
        .await
        .expect("connect as the application role")
}

/// Serves an `AppState` of its own over `pool` on a random port; returns its base URL.
async fn serve(pool: PgPool, master_key: MasterKey) -> String {
    let state = AppState::new(Settings {
        pool,
        master_key,
        policy: TicketPolicy::default(),
        body_bytes_max: BODY_BYTES_MAX_DEFAULT,
    });
    let router = command_service::app(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a random port");
    let port = listener.local_addr().expect("local address").port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://127.0.0.1:{port}")
}

async fn issue_token(db: &TestDatabase, user: &str, role: &str) -> String {
    command_service::auth::issue_token(&db.app_pool, user, &[role.to_owned()], None)
        .await
        .expect("issue token")
}

/// The user a test token of `role` belongs to.
pub fn user_of(role: &str) -> &'static str {
    match role {
        "agent" => AGENT,
        "requester" => "e.mustermann",
        "auditor" => "r.pruefer",
        "supervisor" => "s.schulz",
        _ => "admin",
    }
}

/// The minimal body of `POST /api/v1/tickets` from the issue.
pub fn ticket_body() -> Value {
    json!({
        "type": "incident",
        "title": "Drucker im 2. OG druckt nicht",
        "description": "Seit heute Morgen zeigt der Drucker Papierstau, obwohl kein Papier feststeckt.",
        "requester": {"name": "Erika Mustermann", "email": "erika@example.org"},
        "impact": "medium",
        "urgency": "high"
    })
}

/// An `add_note` command.
pub fn note(body: &str) -> Value {
    json!({"type": "add_note", "body": body})
}

impl TestApp {
    /// Another "process" on the same database: its own `AppState` (cache, locks), its own pool,
    /// the same master key and the same agent token.
    pub async fn another_process(&self) -> TestApp {
        let pool = process_pool(&self.db).await;
        TestApp {
            address: serve(pool.clone(), self.master_key.clone()).await,
            db: self.db.clone(),
            pool,
            client: reqwest::Client::new(),
            master_key: self.master_key.clone(),
            agent_token: self.agent_token.clone(),
        }
    }

    /// A new token of `role` for [`user_of`]`(role)`.
    pub async fn token(&self, role: &str) -> String {
        issue_token(&self.db, user_of(role), role).await
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `POST path` with the agent's token.
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.agent_token)
    }

    /// `GET path` with the agent's token.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.agent_token)
    }

    /// `POST /api/v1/tickets` with `body`, as the agent.
    pub fn open_request(&self, body: &Value) -> RequestBuilder {
        self.post("/api/v1/tickets").json(body)
    }

    /// `POST /api/v1/tickets/{ticket}/commands` with `body`, as the agent.
    pub fn command_request(
        &self,
        ticket: &str,
        body: &Value,
        if_match: Option<u64>,
    ) -> RequestBuilder {
        let request = self
            .post(&format!("/api/v1/tickets/{ticket}/commands"))
            .json(body);
        match if_match {
            Some(version) => request.header("If-Match", format!("\"{version}\"")),
            None => request,
        }
    }

    /// Opens the standard ticket; asserts it was created.
    pub async fn open_ticket(&self) -> Accepted {
        let reply = send(self.open_request(&ticket_body())).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.accepted()
    }

    /// Sends a command to `ticket` (an id or a number).
    pub async fn command(&self, ticket: &str, body: &Value, if_match: Option<u64>) -> Reply {
        send(self.command_request(ticket, body, if_match)).await
    }

    /// Sends a command that must succeed; returns its result.
    pub async fn command_ok(&self, ticket: &str, body: &Value) -> Accepted {
        let reply = self.command(ticket, body, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{body}: {}", reply.text);
        reply.accepted()
    }

    /// Sends a request that the service must refuse, and asserts that it appended nothing
    /// (no event, no processed command).
    pub async fn reject(&self, request: RequestBuilder) -> Reply {
        let before = self.rows_written().await;
        let reply = send(request).await;
        assert_eq!(
            self.rows_written().await,
            before,
            "a refused request appended something: {reply:?}"
        );
        reply
    }

    /// Rows in `events` and `processed_commands`, read as the owner.
    pub async fn rows_written(&self) -> (i64, i64) {
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM processed_commands)",
        )
        .fetch_one(&self.db.owner_pool)
        .await
        .expect("count rows")
    }

    /// Rows in `events` of `event_type`.
    pub async fn events_of_type(&self, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(&self.db.owner_pool)
            .await
            .expect("count events")
    }

    /// The stored events of a ticket, in version order.
    pub async fn stream(&self, ticket: Uuid) -> Vec<RecordedEvent> {
        event_store::read_stream(&self.db.owner_pool, ticket)
            .await
            .expect("read stream")
    }
}

/// `request` sent with `token` instead of the agent's.
pub fn with_token(request: RequestBuilder, token: &str) -> RequestBuilder {
    let (client, request) = request.build_split();
    let mut request = request.expect("a valid request");
    let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("token is a header");
    request.headers_mut().insert(AUTHORIZATION, value);
    RequestBuilder::from_parts(client, request)
}

/// Sends `request` and reads the whole response.
pub async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.expect("send request");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("read body"),
    }
}

impl Reply {
    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.text))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("header is text"))
    }

    /// The body of a successful command.
    #[track_caller]
    pub fn accepted(&self) -> Accepted {
        assert!(self.status.is_success(), "not a success: {self:?}");
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not a command result ({error}): {}", self.text))
    }

    /// Asserts an RFC 9457 problem with `status` and `code`; returns the body.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header(CONTENT_TYPE.as_str()),
            Some("application/problem+json"),
            "{self:?}"
        );
        let body = self.json();
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status.as_u16(), "{body}");
        let problem_type = body["type"].as_str().expect("type is a string");
        assert_eq!(problem_type, format!("urn:itsm:problem:{code}"), "{body}");
        assert!(body["title"]
            .as_str()
            .is_some_and(|title| !title.is_empty()));
        assert!(body["detail"].is_string(), "{body}");
        body
    }

    /// Asserts a problem about `field`.
    #[track_caller]
    pub fn assert_field_problem(&self, status: StatusCode, code: &str, field: &str) -> Value {
        let body = self.assert_problem(status, code);
        assert_eq!(body["field"], field, "{body}");
        body
    }
}
