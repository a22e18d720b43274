//! The identity projection: `rm_users` follows each account's unit, roles, disabled flag and
//! ticket visibility; applied in small batches it equals a rebuild.

use std::sync::Arc;

use command_service::identity::users;
use domain::identity::{DisplayName, OrgUnit, Role, TicketVisibility, UserCommand, UserName};
use event_store::testing::TestDatabase;
use projector::identity::IdentityProjection;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{catch_up_all, runner_of};

async fn execute(pool: &PgPool, name: &str, command: UserCommand) {
    let name = UserName::parse(name).unwrap();
    users::execute(pool, "admin", Uuid::new_v4(), &name, command)
        .await
        .expect("user command accepted");
}

fn register(name: &str, unit: Option<&str>) -> UserCommand {
    UserCommand::Register {
        user_name: UserName::parse(name).unwrap(),
        display_name: DisplayName::parse(name).unwrap(),
        email: None,
        roles: [Role::Requester].into(),
        org_unit: unit.map(|unit| OrgUnit::parse(unit).unwrap()),
    }
}

fn visibility(visibility: TicketVisibility) -> UserCommand {
    UserCommand::SetTicketVisibility { visibility }
}

/// Accounts registered, moved, granted, disabled: `round` keeps names apart.
async fn corpus(pool: &PgPool, round: usize) {
    for index in 0..6 {
        let name = format!("u{round}.{index}");
        let unit = ["bauamt", "ordnungsamt"][index % 2];
        execute(pool, &name, register(&name, Some(unit))).await;
        if index % 3 == 0 {
            execute(pool, &name, visibility(TicketVisibility::Unit)).await;
        }
    }
    let first = format!("u{round}.0");
    execute(
        pool,
        &first,
        UserCommand::ChangeProfile {
            display_name: None,
            email: None,
            org_unit: Some(Some(OrgUnit::parse("landratsamt").unwrap())),
        },
    )
    .await;
    execute(pool, &first, UserCommand::Disable).await;
    execute(
        pool,
        &format!("u{round}.3"),
        visibility(TicketVisibility::Own),
    )
    .await;
    execute(
        pool,
        &format!("u{round}.5"),
        UserCommand::ChangeRoles {
            roles: [Role::Requester, Role::Agent].into(),
        },
    )
    .await;
}

type Row = (String, Option<String>, Vec<String>, bool, String);

async fn rows(pool: &PgPool, generation: i32) -> Vec<Row> {
    sqlx::query_as(
        "SELECT user_name, org_unit, roles, disabled, ticket_visibility FROM rm_users \
         WHERE generation = $1 ORDER BY user_name",
    )
    .bind(generation)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_rows_follow_their_accounts_and_incremental_equals_rebuilt() {
    let db = TestDatabase::create().await;
    let pool = &db.app_pool;
    let live = runner_of(pool, Arc::new(IdentityProjection::new()), "live", 2).await;
    corpus(pool, 1).await;
    catch_up_all(&live, pool).await;
    corpus(pool, 2).await;
    catch_up_all(&live, pool).await;

    let users = rows(pool, 1).await;
    assert_eq!(users.len(), 12);
    let row = |name: &str| users.iter().find(|row| row.0 == name).unwrap().clone();
    let text = |value: &str| value.to_owned();
    assert_eq!(
        row("u1.0"),
        (
            text("u1.0"),
            Some(text("landratsamt")),
            vec![text("requester")],
            true,
            text("unit")
        )
    );
    assert_eq!(row("u1.3").4, "own", "the grant was taken back");
    assert_eq!(row("u2.4").1.as_deref(), Some("bauamt"));
    assert_eq!(row("u2.4").4, "own");
    assert_eq!(row("u2.5").2, ["requester", "agent"]);
    let in_bauamt: Vec<String> = sqlx::query_scalar(
        "SELECT user_name FROM rm_users WHERE generation = 1 AND org_unit = ANY($1) \
         ORDER BY user_name",
    )
    .bind(vec!["bauamt"])
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(in_bauamt, ["u1.2", "u1.4", "u2.2", "u2.4"]);
    let live_digest = projector::identity::digest(pool, 1).await.unwrap();

    let rebuilder = runner_of(
        pool,
        Arc::new(IdentityProjection::new()),
        "rebuilder",
        1_000,
    )
    .await;
    let generation = rebuilder.rebuild(|_| {}).await.expect("rebuild");
    assert_eq!(generation, 2);
    assert_eq!(rows(pool, 2).await, users);
    assert_eq!(
        projector::identity::digest(pool, 2).await.unwrap(),
        live_digest,
        "incremental equals rebuilt"
    );
}
