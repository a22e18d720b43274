//! The test harness: `spawn_app()` serves the real query API on port 0 against a fresh, migrated
//! database of its own. The projector is not involved: tests seed the read model with SQL as the
//! database owner (generation 1 unless said otherwise), like a projector would leave it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use event_store::testing::TestDatabase;
use query_service::{AppState, Settings};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

/// The agent whose token most tests use.
pub const AGENT: &str = "k.meier";
/// The requester of the tests' "own" tickets.
pub const REQUESTER: &str = "e.mustermann";
/// Another requester.
pub const OTHER_REQUESTER: &str = "m.muster";
/// Connections of the served process's pool (the suite shares one PostgreSQL).
const PROCESS_POOL_CONNECTIONS_MAX: u32 = 5;

/// A running query service and its database.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub db: Arc<TestDatabase>,
    pub client: reqwest::Client,
    pub agent_token: String,
}

/// How to configure the served process.
#[derive(Debug)]
pub struct Options {
    pub consistency_wait: Duration,
    pub nats: Option<async_nats::Client>,
    pub subject_prefix: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            consistency_wait: Duration::from_secs(5),
            nats: None,
            subject_prefix: "itsm".to_owned(),
        }
    }
}

/// Serves a fresh query service (default options) against a fresh database with the ticket
/// projection at generation 1.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// Serves a fresh query service with `options`. Logs only with `TEST_LOG=1`.
pub async fn spawn_app_with(options: Options) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn")
            .with_test_writer()
            .try_init();
    }
    let db = Arc::new(TestDatabase::create().await);
    let pool = PgPoolOptions::new()
        .max_connections(PROCESS_POOL_CONNECTIONS_MAX)
        .connect_with(db.app_options.clone())
        .await
        .expect("connect as the application role");
    let mut settings = Settings::new(pool);
    settings.consistency_wait = options.consistency_wait;
    settings.nats = options.nats;
    settings.subject_prefix = options.subject_prefix;
    let master_key = event_store::crypto::MasterKey::generate();
    settings.auditing = Some(Arc::new(query_service::audit::Auditing {
        vault: event_store::crypto::PersonalDataVault::new(&master_key),
        public_key: event_store::audit::CheckpointKey::derive(&master_key).public_key(),
    }));
    let address = serve(query_service::app(AppState::new(settings))).await;
    let agent_token = issue_token(&db.app_pool, AGENT, "agent").await;
    let app = TestApp {
        address,
        db,
        client: reqwest::Client::new(),
        agent_token,
    };
    app.set_projection(1, 1, (1000, 1)).await;
    app
}

/// Serves `router` on a random port; returns its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a random port");
    let port = listener.local_addr().expect("local address").port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://127.0.0.1:{port}")
}

pub async fn issue_token(pool: &PgPool, user: &str, role: &str) -> String {
    command_service::auth::issue_token(pool, user, &[role.to_owned()], None)
        .await
        .expect("issue token")
}

/// A ticket row as the projector would write it.
#[derive(Clone, Debug)]
pub struct TicketSeed {
    pub generation: i32,
    pub id: Uuid,
    pub number: String,
    pub version: i64,
    pub ticket_type: String,
    pub title: String,
    pub description: String,
    pub requester_name: String,
    pub requester_email: Option<String>,
    pub requester_user_id: Option<String>,
    pub service_id: Option<String>,
    pub priority: String,
    pub queue: Option<String>,
    pub status: String,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub fields: Value,
    pub merged_into: Option<Uuid>,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// 2026-11-02 08:00 UTC plus `minutes`.
pub fn at_minute(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

impl TicketSeed {
    /// Ticket `2026-<sequence>`: a new, medium incident in `service-desk`, opened at minute
    /// `sequence`, reported by [`REQUESTER`].
    pub fn new(sequence: u32) -> TicketSeed {
        TicketSeed {
            generation: 1,
            id: Uuid::new_v4(),
            number: format!("2026-{sequence:06}"),
            version: 1,
            ticket_type: "incident".to_owned(),
            title: format!("Ticket {sequence}"),
            description: "Beschreibung".to_owned(),
            requester_name: "Erika Mustermann".to_owned(),
            requester_email: Some("erika@example.org".to_owned()),
            requester_user_id: Some(REQUESTER.to_owned()),
            service_id: None,
            priority: "medium".to_owned(),
            queue: Some("service-desk".to_owned()),
            status: "new".to_owned(),
            assignee: None,
            tags: Vec::new(),
            fields: json!({}),
            merged_into: None,
            opened_at: at_minute(i64::from(sequence)),
            updated_at: at_minute(i64::from(sequence)),
        }
    }

    pub fn title(mut self, title: &str) -> Self {
        self.title = title.to_owned();
        self
    }

    pub fn status(mut self, status: &str) -> Self {
        self.status = status.to_owned();
        self
    }

    pub fn priority(mut self, priority: &str) -> Self {
        self.priority = priority.to_owned();
        self
    }

    pub fn queue(mut self, queue: Option<&str>) -> Self {
        self.queue = queue.map(str::to_owned);
        self
    }

    pub fn assignee(mut self, assignee: &str) -> Self {
        self.assignee = Some(assignee.to_owned());
        self
    }

    pub fn requester(mut self, user_id: &str) -> Self {
        self.requester_user_id = Some(user_id.to_owned());
        self
    }

    pub fn generation(mut self, generation: i32) -> Self {
        self.generation = generation;
        self
    }
}

/// One clock of an `rm_sla_clocks` row, as the SLA projection stores it: the state, the due
/// time (only while running), elapsed and target business seconds, and whether a running
/// stretch ended after the due time (`late`).
#[derive(Clone, Copy, Debug)]
pub struct ClockSeed {
    pub state: &'static str,
    pub due_at: Option<DateTime<Utc>>,
    pub elapsed_s: i64,
    pub target_s: i64,
    pub late: bool,
}

impl ClockSeed {
    /// Running, due at `due_at`.
    pub fn running(due_at: DateTime<Utc>, elapsed_s: i64, target_s: i64) -> ClockSeed {
        ClockSeed {
            state: "running",
            due_at: Some(due_at),
            elapsed_s,
            target_s,
            late: false,
        }
    }

    /// `state` (paused, met or stopped) in time: no due time.
    pub fn halted(state: &'static str, elapsed_s: i64, target_s: i64) -> ClockSeed {
        ClockSeed {
            state,
            due_at: None,
            elapsed_s,
            target_s,
            late: false,
        }
    }

    /// The same clock, halted after its due time.
    pub fn late(self) -> ClockSeed {
        ClockSeed { late: true, ..self }
    }
}

fn priority_rank(priority: &str) -> i16 {
    match priority {
        "critical" => 1,
        "high" => 2,
        "medium" => 3,
        "low" => 4,
        _ => 5,
    }
}

impl TestApp {
    /// `projections.active_generation` and that generation's checkpoint at `(tx, position)`.
    pub async fn set_projection(&self, active: i32, generation: i32, cursor: (i64, i64)) {
        sqlx::query(
            "INSERT INTO projections (name, active_generation) VALUES ('tickets', $1) \
             ON CONFLICT (name) DO UPDATE SET active_generation = excluded.active_generation",
        )
        .bind(active)
        .execute(&self.db.owner_pool)
        .await
        .expect("set projection");
        sqlx::query(
            "INSERT INTO projection_checkpoints \
               (name, generation, version, system_identifier, last_tx, last_position) \
             VALUES ('tickets', $1, 1, 0, $2, $3) \
             ON CONFLICT (name, generation) DO UPDATE \
               SET last_tx = excluded.last_tx, last_position = excluded.last_position",
        )
        .bind(generation)
        .bind(cursor.0)
        .bind(cursor.1)
        .execute(&self.db.owner_pool)
        .await
        .expect("set checkpoint");
    }

    /// `projections.active_generation` of the SLA projection (independent of the tickets').
    pub async fn set_sla_projection(&self, active: i32) {
        sqlx::query(
            "INSERT INTO projections (name, active_generation) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET active_generation = excluded.active_generation",
        )
        .bind(projector::sla::SLA)
        .bind(active)
        .execute(&self.db.owner_pool)
        .await
        .expect("set SLA projection");
    }

    /// Inserts the `rm_sla_clocks` row of `ticket` in `generation` with these two clocks. The
    /// `clocks` document holds no clocks: the explanation endpoint shows none for these rows.
    pub async fn insert_clocks(
        &self,
        generation: i32,
        ticket: Uuid,
        first_response: ClockSeed,
        resolution: ClockSeed,
    ) {
        let stopped_at =
            (resolution.state != "running" && resolution.state != "paused").then(|| at_minute(300));
        sqlx::query(
            "INSERT INTO rm_sla_clocks (generation, ticket_id, version, policy, clocks, \
               first_response_state, first_response_due_at, first_response_elapsed_s, \
               first_response_target_s, first_response_late, resolution_state, \
               resolution_due_at, resolution_elapsed_s, resolution_target_s, resolution_late, \
               resolution_stopped_at, next_deadline_at, last_tx, last_position) \
             VALUES ($1, $2, 1, 'standard', \
               '{\"ticket_type\": null, \"priority\": null, \"pending\": false, \"clocks\": []}', \
               $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, 900, 1)",
        )
        .bind(generation)
        .bind(ticket)
        .bind(first_response.state)
        .bind(first_response.due_at)
        .bind(first_response.elapsed_s)
        .bind(first_response.target_s)
        .bind(first_response.late)
        .bind(resolution.state)
        .bind(resolution.due_at)
        .bind(resolution.elapsed_s)
        .bind(resolution.target_s)
        .bind(resolution.late)
        .bind(stopped_at)
        .execute(&self.db.owner_pool)
        .await
        .expect("insert SLA clocks");
    }

    /// Inserts `seed` into `rm_tickets`; returns it.
    pub async fn insert_ticket(&self, seed: TicketSeed) -> TicketSeed {
        let is_open = ["new", "assigned", "in_progress", "pending"].contains(&seed.status.as_str());
        // As the projector builds it: number and title weigh A, description and tags B.
        let search_a =
            projector::search::fold(&format!("{} {}", seed.number.replace('-', " "), seed.title));
        let search_b =
            projector::search::fold(&format!("{} {}", seed.description, seed.tags.join(" ")));
        sqlx::query(
            "INSERT INTO rm_tickets (generation, ticket_id, number, version, ticket_type, title, \
               description, requester_name, requester_email, requester_phone, requester_user_id, \
               service_id, category_id, impact, urgency, priority, priority_rank, queue, status, \
               is_open, assignee, tags, fields, channel, pending_reason, pending_until, \
               resolution_code, resolution_text, merged_into, article_count, opened_by, opened_at, \
               updated_at, last_tx, last_position, search) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11, NULL, 'medium', 'high', \
               $12, $13, $14, $15, $16, $17, $18, $19, 'portal', NULL, NULL, NULL, NULL, $20, 0, \
               $21, $22, $23, 900, $4, \
               setweight(to_tsvector('german', $24), 'A') \
               || setweight(to_tsvector('german', $25), 'B'))",
        )
        .bind(seed.generation)
        .bind(seed.id)
        .bind(&seed.number)
        .bind(seed.version)
        .bind(&seed.ticket_type)
        .bind(&seed.title)
        .bind(&seed.description)
        .bind(&seed.requester_name)
        .bind(&seed.requester_email)
        .bind(&seed.requester_user_id)
        .bind(&seed.service_id)
        .bind(&seed.priority)
        .bind(priority_rank(&seed.priority))
        .bind(&seed.queue)
        .bind(&seed.status)
        .bind(is_open)
        .bind(&seed.assignee)
        .bind(&seed.tags)
        .bind(&seed.fields)
        .bind(seed.merged_into)
        .bind(seed.requester_user_id.as_deref().unwrap_or(AGENT))
        .bind(seed.opened_at)
        .bind(seed.updated_at)
        .bind(search_a)
        .bind(search_b)
        .execute(&self.db.owner_pool)
        .await
        .expect("insert ticket");
        seed
    }

    /// Inserts an article of `kind` (generation 1).
    pub async fn insert_article(&self, ticket: Uuid, article_id: i32, kind: &str, body: &str) {
        sqlx::query(
            "INSERT INTO rm_articles (generation, ticket_id, article_id, kind, channel, body, \
               attachments, author, created_at, search) \
             VALUES (1, $1, $2, $3, 'agent_ui', $4, '[]', $5, $6, to_tsvector('german', $7))",
        )
        .bind(ticket)
        .bind(article_id)
        .bind(kind)
        .bind(body)
        .bind(AGENT)
        .bind(at_minute(100 + i64::from(article_id)))
        .bind(projector::search::fold(body))
        .execute(&self.db.owner_pool)
        .await
        .expect("insert article");
    }

    /// Inserts a link stored on `source` (generation 1).
    pub async fn insert_link(&self, source: Uuid, link_type: &str, target: Uuid, minute: i64) {
        sqlx::query(
            "INSERT INTO rm_links (generation, ticket_id, link_type, target_id, created_by, \
               created_at) VALUES (1, $1, $2, $3, $4, $5)",
        )
        .bind(source)
        .bind(link_type)
        .bind(target)
        .bind(AGENT)
        .bind(at_minute(minute))
        .execute(&self.db.owner_pool)
        .await
        .expect("insert link");
    }

    /// Inserts history entry `version` of `ticket` (generation 1).
    pub async fn insert_history(
        &self,
        ticket: Uuid,
        version: i64,
        event_type: &str,
        changes: Value,
    ) -> Uuid {
        let event_id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO rm_history (generation, ticket_id, version, event_id, event_type, actor, \
               occurred_at, origin, correlation_id, changes) \
             VALUES (1, $1, $2, $3, $4, $5, $6, 'api', $7, $8)",
        )
        .bind(ticket)
        .bind(version)
        .bind(event_id)
        .bind(event_type)
        .bind(AGENT)
        .bind(at_minute(200 + version))
        .bind(Uuid::new_v4())
        .bind(changes)
        .execute(&self.db.owner_pool)
        .await
        .expect("insert history");
        event_id
    }

    /// A new token of `role` for `user`.
    pub async fn token(&self, user: &str, role: &str) -> String {
        issue_token(&self.db.app_pool, user, role).await
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path` with the agent's token.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.get_as(path, &self.agent_token)
    }

    /// `GET path` with `token`.
    pub fn get_as(&self, path: &str, token: &str) -> RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(token)
    }
}

/// A response read completely.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
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

    /// Asserts `200 OK`; returns the body as JSON.
    #[track_caller]
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        self.json()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("header is text"))
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
        assert_eq!(body["type"], format!("urn:itsm:problem:{code}"), "{body}");
        assert!(body["title"]
            .as_str()
            .is_some_and(|title| !title.is_empty()));
        body
    }

    /// Asserts a problem about parameter `field`.
    #[track_caller]
    pub fn assert_field_problem(&self, status: StatusCode, code: &str, field: &str) -> Value {
        let body = self.assert_problem(status, code);
        assert_eq!(body["field"], field, "{body}");
        body
    }
}

/// The `number`s of a worklist or search body's `items`.
#[track_caller]
pub fn numbers(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {body}"))
        .iter()
        .map(|item| item["number"].as_str().expect("number").to_owned())
        .collect()
}
