//! Identity over HTTP (issue 6 §2): administrators register users with passwords, users log in
//! and get an HttpOnly session cookie and a CSRF token; wrong, unknown and disabled all look the
//! same; five failures lock; sessions end idle, absolute and at logout; no secret is recorded.

use std::sync::Arc;

use axum::routing::post;
use chrono::{Duration, Utc};
use command_service::identity::login::{auth_stream_id, FAILURES_MAX, LOCKOUT_S};
use command_service::identity::sessions::{self, ABSOLUTE_TIMEOUT_S, COOKIE_NAME, IDLE_TIMEOUT_S};
use command_service::identity::{passwords, routes, users};
use command_service::{AppState, Settings, BODY_BYTES_MAX_DEFAULT};
use domain::identity::UserName;
use domain::ticket::TicketPolicy;
use event_store::crypto::MasterKey;
use event_store::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::helpers::{send, with_token, Reply};

const PASSWORD: &str = "Korrekt-Pferd-Batterie-7";
const USER: &str = "k.meier";

/// The identity handlers on a router of their own, served on port 0 over a fresh database.
#[derive(Debug)]
struct IdentityApp {
    address: String,
    /// Keeps the database alive for the test.
    _db: Arc<TestDatabase>,
    pool: PgPool,
    client: reqwest::Client,
    admin_token: String,
    /// The service's login limiter, so a test can fill it.
    logins: Arc<tokio::sync::Semaphore>,
}

async fn spawn() -> IdentityApp {
    let db = Arc::new(TestDatabase::create().await);
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(db.app_options.clone())
        .await
        .expect("connect as the application role");
    let state = AppState::new(Settings {
        pool: pool.clone(),
        master_key: MasterKey::generate(),
        policy: TicketPolicy::default(),
        body_bytes_max: BODY_BYTES_MAX_DEFAULT,
    });
    // The identity routes behind the layers every service has, the access policy among them.
    let router = command_service::edge(
        axum::Router::new()
            .route("/api/v1/login", post(routes::login))
            .route("/api/v1/logout", post(routes::logout))
            .route("/api/v1/users", post(routes::register_user))
            .route("/api/v1/users/{name}/commands", post(routes::execute))
            .with_state(state.clone()),
        pool.clone(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a random port");
    let port = listener.local_addr().expect("local address").port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let roles = ["admin".to_owned()];
    let admin_token = command_service::auth::issue_token(&pool, "admin", &roles, None)
        .await
        .expect("issue token");
    IdentityApp {
        address: format!("http://127.0.0.1:{port}"),
        _db: db,
        pool,
        client: reqwest::Client::new(),
        admin_token,
        logins: state.logins.clone(),
    }
}

impl IdentityApp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    async fn register(&self, body: &Value) -> Reply {
        let request = self.client.post(self.url("/api/v1/users")).json(body);
        send(with_token(request, &self.admin_token)).await
    }

    /// Registers `USER` as an agent with `PASSWORD`.
    async fn agent(&self) {
        let body = json!({
            "user": USER, "display_name": "Karin Meier", "roles": ["agent"], "password": PASSWORD
        });
        let reply = self.register(&body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    }

    async fn command(&self, user: &str, body: &Value) -> Reply {
        let path = format!("/api/v1/users/{user}/commands");
        let request = self.client.post(self.url(&path)).json(body);
        send(with_token(request, &self.admin_token)).await
    }

    async fn login(&self, user: &str, password: &str) -> Reply {
        let body = json!({"user": user, "password": password});
        send(self.client.post(self.url("/api/v1/login")).json(&body)).await
    }

    async fn authenticated(&self, session_id: &str) -> Option<sessions::SessionActor> {
        sessions::authenticate(&self.pool, session_id, Utc::now())
            .await
            .expect("authenticate")
    }

    /// `(event_type, payload)` of `user`'s login records.
    async fn auth_log(&self, user: &str) -> Vec<(String, Value)> {
        let name = UserName::parse(user).unwrap();
        event_store::read_stream(&self.pool, auth_stream_id(&name))
            .await
            .expect("read the login records")
            .into_iter()
            .map(|event| (event.event_type, event.payload))
            .collect()
    }
}

/// The session id in a login's `Set-Cookie`.
fn session_id(reply: &Reply) -> String {
    let cookie = reply.header("set-cookie").expect("a session cookie");
    let value = cookie.split(';').next().unwrap();
    let (name, id) = value.split_once('=').unwrap();
    assert_eq!(name, COOKIE_NAME);
    id.to_owned()
}

#[test]
fn a_password_hash_verifies_and_short_passwords_are_refused() {
    let phc = passwords::hash(PASSWORD);
    assert!(passwords::verify(PASSWORD, &phc));
    assert!(!passwords::verify("Korrekt-Pferd-Batterie-8", &phc));
    assert!(passwords::check("elf-zeichen").is_err());
}

#[tokio::test]
async fn a_short_initial_password_refuses_the_registration() {
    let app = spawn().await;
    let body = json!({"user": USER, "display_name": "K", "roles": ["agent"], "password": "kurz"});
    let reply = app.register(&body).await;
    reply.assert_field_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_password",
        "password",
    );
    let name = UserName::parse(USER).unwrap();
    assert_eq!(users::roles_of(&app.pool, &name).await.unwrap(), None);
}

#[tokio::test]
async fn only_administrators_manage_users() {
    let app = spawn().await;
    let roles = ["agent".to_owned()];
    let token = command_service::auth::issue_token(&app.pool, "x", &roles, None)
        .await
        .unwrap();
    let body = json!({"user": USER, "display_name": "K", "roles": ["agent"]});
    let request = app.client.post(app.url("/api/v1/users")).json(&body);
    let reply = send(with_token(request, &token)).await;
    reply.assert_problem(StatusCode::FORBIDDEN, "missing_right");
    let reply = app.register(&body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.header("location"), Some("/api/v1/users/k.meier"));
    app.register(&body)
        .await
        .assert_problem(StatusCode::CONFLICT, "user_exists");
    let reply = app.command("nobody", &json!({"command": "disable"})).await;
    reply.assert_problem(StatusCode::NOT_FOUND, "user_not_found");
    let no_roles = json!({"command": "change_roles", "roles": []});
    let reply = app.command(USER, &no_roles).await;
    reply.assert_field_problem(StatusCode::UNPROCESSABLE_ENTITY, "no_roles", "roles");
}

#[tokio::test]
async fn a_login_sets_a_strict_http_only_cookie_and_returns_a_csrf_token() {
    let app = spawn().await;
    app.agent().await;
    let reply = app.login(USER, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let cookie = reply.header("set-cookie").unwrap();
    assert!(
        cookie.ends_with(&format!(
            "; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={ABSOLUTE_TIMEOUT_S}"
        )),
        "{cookie}"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["user"], USER);
    assert_eq!(body["roles"], json!(["agent"]));
    assert!(body["expires_at"].is_string());
    let csrf_token = body["csrf_token"].as_str().unwrap();
    assert_eq!(csrf_token.len(), 43);
    let session = app.authenticated(&session_id(&reply)).await.unwrap();
    assert_eq!(session.user, USER);
    assert!(sessions::check_csrf(&session, csrf_token));
    assert!(!sessions::check_csrf(&session, &session_id(&reply)));
    let records = app.auth_log(USER).await;
    assert_eq!(
        records,
        [(
            "auth.login_succeeded".to_owned(),
            json!({"user_name": USER})
        )]
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_recorded() {
    let app = spawn().await;
    app.agent().await;
    let reply = app.login(USER, "Falsches-Passwort-1").await;
    reply.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(reply.header("set-cookie"), None);
    let records = app.auth_log(USER).await;
    let failed = json!({"user_name": USER, "reason": "invalid_credentials"});
    assert_eq!(records, [("auth.login_failed".to_owned(), failed)]);
}

#[tokio::test]
async fn five_failures_lock_the_account_even_for_the_right_password() {
    let app = spawn().await;
    app.agent().await;
    for _ in 0..FAILURES_MAX {
        let reply = app.login(USER, "Falsches-Passwort-1").await;
        reply.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let reply = app.login(USER, PASSWORD).await;
    reply.assert_problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    let retry_after_s: i64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!(retry_after_s > LOCKOUT_S - 60 && retry_after_s <= LOCKOUT_S);
    let records = app.auth_log(USER).await;
    let types: Vec<&str> = records.iter().map(|(kind, _)| kind.as_str()).collect();
    let mut expected = vec!["auth.login_failed"; 5];
    expected.extend(["auth.locked", "auth.login_failed"]);
    assert_eq!(types, expected);
    assert_eq!(records[6].1["reason"], "locked");
    assert!(records[5].1["until"].is_string());
}

#[tokio::test]
async fn an_unknown_user_gets_the_same_answer_as_a_wrong_password() {
    let app = spawn().await;
    app.agent().await;
    let wrong = app.login(USER, "Falsches-Passwort-1").await;
    let unknown = app.login("n.iemand", "Falsches-Passwort-1").await;
    let not_a_name = app.login("Not A Name", "Falsches-Passwort-1").await;
    for reply in [&wrong, &unknown, &not_a_name] {
        reply.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert_eq!(reply.text, wrong.text);
    }
    let records = app.auth_log("n.iemand").await;
    assert_eq!(records[0].1["reason"], "invalid_credentials");
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_and_loses_its_sessions() {
    let app = spawn().await;
    app.agent().await;
    let session = session_id(&app.login(USER, PASSWORD).await);
    let reply = app.command(USER, &json!({"command": "disable"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(app.authenticated(&session).await, None);
    let refused = app.login(USER, PASSWORD).await;
    refused.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let records = app.auth_log(USER).await;
    assert_eq!(records.last().unwrap().1["reason"], "disabled");
    let set = json!({"command": "set_password", "password": "Noch-ein-Passwort-2"});
    let reply = app.command(USER, &set).await;
    reply.assert_problem(StatusCode::CONFLICT, "user_disabled");
    app.command(USER, &json!({"command": "enable"})).await;
    assert_eq!(app.login(USER, PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_their_absolute_expiry() {
    let app = spawn().await;
    let now = Utc::now();
    let roles = ["agent".to_owned()];
    let idle = sessions::create(&app.pool, USER, &roles, now)
        .await
        .unwrap();
    let later = |seconds: i64| now + Duration::seconds(seconds);
    let authenticate = |id: String, at| {
        let pool = app.pool.clone();
        async move { sessions::authenticate(&pool, &id, at).await.unwrap() }
    };
    assert!(
        authenticate(idle.session_id.clone(), later(IDLE_TIMEOUT_S - 1))
            .await
            .is_some()
    );
    let idle_out = later(2 * IDLE_TIMEOUT_S);
    assert_eq!(authenticate(idle.session_id, idle_out).await, None);
    let busy = sessions::create(&app.pool, USER, &roles, now)
        .await
        .unwrap();
    for step in 1..ABSOLUTE_TIMEOUT_S / 1000 {
        let at = later(step * 1000);
        assert!(authenticate(busy.session_id.clone(), at).await.is_some());
    }
    let expired = later(ABSOLUTE_TIMEOUT_S);
    assert_eq!(busy.absolute_expires_at, expired);
    assert_eq!(authenticate(busy.session_id, expired).await, None);
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = spawn().await;
    app.agent().await;
    let session = session_id(&app.login(USER, PASSWORD).await);
    assert!(app.authenticated(&session).await.is_some());
    let request = app
        .client
        .post(app.url("/api/v1/logout"))
        .header("cookie", format!("{COOKIE_NAME}={session}"));
    let reply = send(request).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let cookie = reply.header("set-cookie").unwrap();
    assert!(cookie.starts_with("itsm_session=;") && cookie.ends_with("Max-Age=0"));
    assert_eq!(app.authenticated(&session).await, None);
}

#[tokio::test]
async fn role_changes_reach_live_sessions_and_a_new_password_ends_them() {
    let app = spawn().await;
    app.agent().await;
    let session = session_id(&app.login(USER, PASSWORD).await);
    let change = json!({"command": "change_roles", "roles": ["requester"]});
    let reply = app.command(USER, &change).await;
    assert_eq!(reply.json()["events_appended"], 1, "{reply:?}");
    let roles = app.authenticated(&session).await.unwrap().roles;
    assert_eq!(roles, ["requester"]);
    let profile =
        json!({"command": "change_profile", "display_name": "Karin Meier", "email": null});
    let reply = app.command(USER, &profile).await;
    assert_eq!(reply.json()["events_appended"], 0, "{reply:?}");
    let new_password = "Noch-ein-Passwort-2";
    let set = json!({"command": "set_password", "password": new_password});
    let reply = app.command(USER, &set).await;
    assert_eq!(reply.json()["events_appended"], 1, "{reply:?}");
    assert_eq!(app.authenticated(&session).await, None);
    let old = app.login(USER, PASSWORD).await;
    old.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(app.login(USER, new_password).await.status, StatusCode::OK);
}

#[tokio::test]
async fn no_password_hash_or_token_appears_in_any_event() {
    let app = spawn().await;
    app.agent().await;
    let granted = app.login(USER, PASSWORD).await;
    let csrf_token = granted.json()["csrf_token"].as_str().unwrap().to_owned();
    app.login(USER, "Falsches-Passwort-1").await;
    app.login("n.iemand", "Noch-ein-Passwort-2").await;
    let set = json!({"command": "set_password", "password": "Drittes-Passwort-3"});
    app.command(USER, &set).await;
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM user_credentials")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"));
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event_type || ' ' || payload::text || ' ' || actor FROM events")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert!(events
        .iter()
        .any(|event| event.starts_with("user.password_changed {}")));
    let secrets = [
        PASSWORD,
        "Falsches-Passwort-1",
        "Noch-ein-Passwort-2",
        "Drittes-Passwort-3",
        "argon2",
        &stored,
        &session_id(&granted),
        &csrf_token,
    ];
    for event in &events {
        for secret in secrets {
            assert!(!event.contains(secret), "{event} contains a secret");
        }
    }
}

#[tokio::test]
async fn logins_beyond_the_password_checks_in_flight_are_refused_with_retry_after() {
    let app = spawn().await;
    let held = app
        .logins
        .clone()
        .acquire_many_owned(routes::LOGINS_IN_FLIGHT_MAX as u32)
        .await
        .expect("the limiter is open");
    let login = || {
        app.client
            .post(app.url("/api/v1/login"))
            .json(&serde_json::json!({"user": USER, "password": "irgendein-Passwort"}))
            .send()
    };
    let refused = login().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "too_many_attempts");
    drop(held);
    let answered = login().await.unwrap();
    assert_eq!(answered.status(), 401, "checked again once a slot is free");
}
