//! Who could read a ticket at a past moment (`GET /api/v1/audit/readers`, issue 6): users,
//! teams, queues and the ticket are real events appended through the command side's functions,
//! so the answer is rebuilt from the store exactly as a data-protection officer would get it.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use command_service::auth::Actor;
use domain::config::{ConfigCommand, ConfigName, Kind};
use domain::identity::{DisplayName, OrgUnit, Role, TicketVisibility, UserCommand, UserName};
use event_store::{AppendRequest, Metadata, NewEvent};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{send, spawn_app, TestApp, AGENT, REQUESTER};

const NUMBER: &str = "2026-000042";
const SERVICEDESK: &str = "it-servicedesk";

async fn execute(pool: &PgPool, name: &str, command: UserCommand) {
    let user_name = UserName::parse(name).unwrap();
    command_service::identity::users::execute(pool, "a.admin", Uuid::new_v4(), &user_name, command)
        .await
        .expect("user command");
}

async fn register(pool: &PgPool, name: &str, role: Role, org_unit: Option<&str>) {
    let command = UserCommand::Register {
        user_name: UserName::parse(name).unwrap(),
        display_name: DisplayName::parse("Erika Beispiel").unwrap(),
        email: None,
        roles: BTreeSet::from([role]),
        org_unit: org_unit.map(|unit| OrgUnit::parse(unit).unwrap()),
    };
    execute(pool, name, command).await;
}

async fn define(pool: &PgPool, kind: Kind, name: &str, definition: Value) {
    let actor = Actor {
        user: "a.admin".to_owned(),
        roles: vec!["admin".to_owned()],
    };
    let name = ConfigName::try_from(name.to_owned()).unwrap();
    let command = ConfigCommand::Define { definition };
    command_service::config::execute(pool, &actor, kind, &name, command, None, Uuid::new_v4())
        .await
        .expect("define configuration item");
}

fn team(members: &[&str], queue: &str) -> Value {
    json!({"title": {"de": "Team"}, "members": members, "queues": {queue: ["read", "update"]}})
}

/// Appends `ticket.opened` of ticket [`NUMBER`] in `queue`, requested by [`REQUESTER`].
async fn open_ticket(pool: &PgPool, queue: &str) -> Uuid {
    let id = Uuid::new_v4();
    let command_id = Uuid::new_v4();
    let metadata = Metadata::new(
        AGENT.to_owned(),
        Utc::now(),
        "api".to_owned(),
        Uuid::new_v4(),
        command_id,
        command_id,
    );
    let payload = json!({
        "id": id, "number": NUMBER, "ticket_type": "incident", "title": "Drucker defekt",
        "description": "Seit heute früh.",
        "requester": {"name": "Erika Mustermann", "email": null, "phone": null, "user_id": REQUESTER},
        "service_id": null, "category_id": null, "impact": "medium", "urgency": "high",
        "priority": "high", "queue": queue, "tags": [], "fields": {}, "channel": "portal"
    });
    event_store::append(
        pool,
        AppendRequest {
            stream_type: command_service::codec::STREAM_TYPE,
            stream_id: id,
            expected_version: 0,
            previous_hash: event_store::hash::GENESIS,
            metadata: &metadata,
            events: vec![NewEvent {
                event_id: Uuid::new_v4(),
                event_type: "ticket.opened".to_owned(),
                event_version: 1,
                payload,
            }],
            result: json!({ "number": NUMBER }),
        },
    )
    .await
    .expect("append ticket.opened");
    id
}

async fn database_now(pool: &PgPool) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn mark(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `(user, via)` of each entry of `list` (`readers` or `tokens`), in answer order.
fn entries(body: &Value, list: &str) -> Vec<(String, String)> {
    body[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} missing: {body}"))
        .iter()
        .map(|entry| {
            let field = |name: &str| entry[name].as_str().unwrap().to_owned();
            (field("user"), field("via"))
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(user, via)| ((*user).to_owned(), (*via).to_owned()))
        .collect()
}

/// The installation of the main test: two queues each owned by a team, staff of every kind, a
/// disabled agent, and an integration token of a name without an account.
async fn landesamt(app: &TestApp) {
    let pool = &app.db.app_pool;
    for (name, role) in [
        (AGENT, Role::Agent),
        ("b.wolf", Role::Agent),
        ("n.spaet", Role::Agent),
        ("d.weg", Role::Agent),
        (REQUESTER, Role::Requester),
        ("c.chefin", Role::Supervisor),
        ("a.admin", Role::Admin),
        ("r.pruefer", Role::Auditor),
        ("i.inventar", Role::AssetManager),
    ] {
        register(pool, name, role, None).await;
    }
    execute(pool, "d.weg", UserCommand::Disable).await;
    for queue in [SERVICEDESK, "fachverfahren"] {
        define(pool, Kind::Queue, queue, json!({"title": {"de": "Queue"}})).await;
    }
    let servicedesk = team(&[AGENT, "d.weg"], SERVICEDESK);
    define(pool, Kind::Team, "servicedesk", servicedesk).await;
    let fachverfahren = team(&["b.wolf"], "fachverfahren");
    define(pool, Kind::Team, "fachverfahren", fachverfahren).await;
    app.token("ldap-sync", "admin").await;
    app.token("x.fremd", "requester").await;
}

#[tokio::test]
async fn the_readers_of_a_ticket_are_those_the_rules_let_read_it_then() {
    let app = spawn_app().await;
    let pool = &app.db.app_pool;
    landesamt(&app).await;
    let before_open = database_now(pool).await;
    let ticket = open_ticket(pool, SERVICEDESK).await;
    let at = database_now(pool).await;
    // After `at`: n.spaet joins the owning team, and another integration token is issued.
    let grown = team(&[AGENT, "d.weg", "n.spaet"], SERVICEDESK);
    define(pool, Kind::Team, "servicedesk", grown).await;
    app.token("late-sync", "admin").await;
    let auditor = app.token("r.pruefer", "auditor").await;

    let url = format!("/api/v1/audit/readers?ticket={NUMBER}&at={}", mark(at));
    let then = send(app.get_as(&url, &auditor)).await.ok();
    assert_eq!(then["ticket"], ticket.to_string(), "{then}");
    assert_eq!(then["number"], NUMBER);
    assert_eq!(then["queue"], SERVICEDESK);
    assert_eq!(then["requester_user_id"], REQUESTER);
    let at_answered = DateTime::parse_from_rfc3339(then["at"].as_str().unwrap()).unwrap();
    assert_eq!(at_answered, at);
    // Not b.wolf (another team's queue), d.weg (disabled), n.spaet (joined later), i.inventar.
    let expected_then = [
        ("a.admin", "role:admin"),
        ("c.chefin", "role:supervisor"),
        (REQUESTER, "requester"),
        (AGENT, "team:servicedesk"),
        ("r.pruefer", "role:auditor"),
    ];
    assert_eq!(entries(&then, "readers"), pairs(&expected_then), "{then}");
    assert_eq!(then["readers"][1]["roles"], json!(["supervisor"]));
    // Registered users' tokens (k.meier's, r.pruefer's) are covered by their entries; the
    // requester token of a name without an account is not its ticket.
    assert_eq!(
        entries(&then, "tokens"),
        pairs(&[("ldap-sync", "role:admin")]),
        "{then}"
    );
    assert!(then["tokens"][0]["token_id"].as_str().is_some(), "{then}");
    assert_eq!(then["tokens"][0]["roles"], json!(["admin"]));

    let admin = app.token("a.admin", "admin").await;
    let url = format!("/api/v1/audit/readers?ticket={ticket}");
    let now = send(app.get_as(&url, &admin)).await.ok();
    let readers = entries(&now, "readers");
    assert!(readers.contains(&("n.spaet".to_owned(), "team:servicedesk".to_owned())));
    assert_eq!(readers.len(), expected_then.len() + 1, "{now}");
    let tokens = entries(&now, "tokens");
    assert_eq!(
        tokens,
        pairs(&[("late-sync", "role:admin"), ("ldap-sync", "role:admin")])
    );

    // Before the ticket was opened it did not exist.
    let url = format!(
        "/api/v1/audit/readers?ticket={NUMBER}&at={}",
        mark(before_open)
    );
    send(app.get_as(&url, &auditor))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "ticket_not_found");

    let accesses: Vec<Value> = sqlx::query_scalar(
        "SELECT payload FROM events WHERE event_type = 'audit.accessed' ORDER BY global_position",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let readers_accesses: Vec<&Value> = accesses
        .iter()
        .filter(|access| access["action"] == "readers")
        .collect();
    assert_eq!(readers_accesses.len(), 2, "{accesses:?}");
    assert_eq!(readers_accesses[0]["ticket"], ticket.to_string());
    assert_eq!(readers_accesses[0]["details"]["readers"], 5);
    assert_eq!(readers_accesses[0]["details"]["tokens"], 1);
}

#[tokio::test]
async fn a_queue_no_team_owns_is_read_by_every_agent() {
    let app = spawn_app().await;
    let pool = &app.db.app_pool;
    landesamt(&app).await;
    define(
        pool,
        Kind::Queue,
        "poststelle",
        json!({"title": {"de": "Post"}}),
    )
    .await;
    open_ticket(pool, "poststelle").await;
    let auditor = app.token("r.pruefer", "auditor").await;
    let url = format!("/api/v1/audit/readers?ticket={NUMBER}");
    let body = send(app.get_as(&url, &auditor)).await.ok();
    let expected = [
        ("a.admin", "role:admin"),
        ("b.wolf", "unowned_queue"),
        ("c.chefin", "role:supervisor"),
        (REQUESTER, "requester"),
        (AGENT, "unowned_queue"),
        ("n.spaet", "unowned_queue"),
        ("r.pruefer", "role:auditor"),
    ];
    assert_eq!(entries(&body, "readers"), pairs(&expected), "{body}");
}

#[tokio::test]
async fn only_auditors_and_administrators_ask_who_could_read_a_ticket() {
    let app = spawn_app().await;
    let pool = &app.db.app_pool;
    let ticket = open_ticket(pool, SERVICEDESK).await;
    let url = format!("/api/v1/audit/readers?ticket={ticket}");
    for (user, role) in [(REQUESTER, "requester"), (AGENT, "agent")] {
        let token = app.token(user, role).await;
        send(app.get_as(&url, &token))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "missing_right");
    }
    send(app.client.get(app.url(&url)))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let auditor = app.token("r.pruefer", "auditor").await;
    let unknown = format!("/api/v1/audit/readers?ticket={}", Uuid::new_v4());
    for url in [
        unknown.as_str(),
        "/api/v1/audit/readers?ticket=2026-999999",
        "/api/v1/audit/readers?ticket=drucker",
    ] {
        send(app.get_as(url, &auditor))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "ticket_not_found");
    }
    for (url, field) in [
        ("/api/v1/audit/readers", "ticket"),
        ("/api/v1/audit/readers?ticket=2026-000042&at=gestern", "at"),
        ("/api/v1/audit/readers?ticket=2026-000042&as_of=x", "as_of"),
    ] {
        let problem = send(app.get_as(url, &auditor)).await.json();
        assert_eq!(problem["status"], 422, "{url}: {problem}");
        assert_eq!(problem["field"], field, "{url}: {problem}");
    }
}

#[tokio::test]
async fn a_requester_granted_unit_visibility_reads_the_tickets_of_the_unit_below() {
    let app = spawn_app().await;
    let pool = &app.db.app_pool;
    define(
        pool,
        Kind::OrgUnit,
        "abteilung-1",
        json!({"title": {"de": "Abteilung 1"}}),
    )
    .await;
    let referat = json!({"title": {"de": "Referat 11"}, "parent": "abteilung-1"});
    define(pool, Kind::OrgUnit, "referat-11", referat).await;
    register(pool, REQUESTER, Role::Requester, Some("referat-11")).await;
    // Granted: the unit above the requester's. Not granted, or granted elsewhere: nothing.
    let granted = [
        ("l.leitung", Some("abteilung-1")),
        ("n.nachbar", Some("referat-11")),
        ("o.anders", Some("referat-12")),
        ("p.ohne", None),
    ];
    for (name, unit) in granted {
        register(pool, name, Role::Requester, unit).await;
        let visibility = TicketVisibility::Unit;
        execute(pool, name, UserCommand::SetTicketVisibility { visibility }).await;
    }
    register(pool, "s.kollege", Role::Requester, Some("referat-11")).await;
    let ticket = open_ticket(pool, SERVICEDESK).await;
    let auditor = app.token("r.pruefer", "auditor").await;
    let url = format!("/api/v1/audit/readers?ticket={ticket}");
    let body = send(app.get_as(&url, &auditor)).await.ok();
    let expected = [
        (REQUESTER, "requester"),
        ("l.leitung", "unit:abteilung-1"),
        ("n.nachbar", "unit:referat-11"),
    ];
    assert_eq!(entries(&body, "readers"), pairs(&expected), "{body}");
}
