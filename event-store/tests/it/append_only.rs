//! The application role can append and read events but never rewrite them (DESIGN §7).

use event_store::testing::TestDatabase;
use event_store::{append, read_stream};
use serde_json::json;
use uuid::Uuid;

use crate::{event, metadata, new_stream};

async fn sql_error(pool: &sqlx::PgPool, sql: &str) -> String {
    let error = sqlx::query(sql)
        .execute(pool)
        .await
        .expect_err("statement must be refused");
    error
        .as_database_error()
        .map(|db| db.code().unwrap_or_default().into_owned())
        .unwrap_or_default()
}

/// A database holding one stream with one event `{"n": 1}`.
async fn one_event() -> (TestDatabase, Uuid) {
    let db = TestDatabase::create().await;
    let stream = Uuid::new_v4();
    let meta = metadata();
    append(
        &db.app_pool,
        new_stream(stream, &meta, vec![event("t.a", json!({"n": 1}))]),
    )
    .await
    .unwrap();
    (db, stream)
}

/// Asserts that UPDATE, DELETE and TRUNCATE on `events` are refused with 42501
/// (insufficient_privilege) to whoever `pool` connects as.
async fn assert_rewrites_refused(pool: &sqlx::PgPool) {
    for statement in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        assert_eq!(sql_error(pool, statement).await, "42501", "{statement}");
    }
}

#[tokio::test]
async fn the_application_role_cannot_update_delete_or_truncate_events() {
    let (db, stream) = one_event().await;

    assert_rewrites_refused(&db.app_pool).await;

    assert_eq!(
        read_stream(&db.app_pool, stream).await.unwrap()[0].payload,
        json!({"n": 1})
    );
}

#[tokio::test]
async fn even_the_owner_cannot_rewrite_events_while_the_guard_trigger_is_on() {
    let (db, stream) = one_event().await;

    assert_rewrites_refused(&db.owner_pool).await;

    assert_eq!(read_stream(&db.app_pool, stream).await.unwrap().len(), 1);
}
