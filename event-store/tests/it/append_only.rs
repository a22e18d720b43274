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

#[tokio::test]
async fn the_application_role_cannot_update_delete_or_truncate_events() {
    let db = TestDatabase::create().await;
    let stream = Uuid::new_v4();
    let meta = metadata();
    append(
        &db.app_pool,
        new_stream(stream, &meta, vec![event("t.a", json!({"n": 1}))]),
    )
    .await
    .unwrap();

    // 42501 = insufficient_privilege
    assert_eq!(
        sql_error(&db.app_pool, "UPDATE events SET payload = '{}'").await,
        "42501"
    );
    assert_eq!(sql_error(&db.app_pool, "DELETE FROM events").await, "42501");
    assert_eq!(sql_error(&db.app_pool, "TRUNCATE events").await, "42501");
    assert_eq!(
        read_stream(&db.app_pool, stream).await.unwrap()[0].payload,
        json!({"n": 1})
    );
}

#[tokio::test]
async fn even_the_owner_cannot_rewrite_events_while_the_guard_trigger_is_on() {
    let db = TestDatabase::create().await;
    let stream = Uuid::new_v4();
    let meta = metadata();
    append(
        &db.app_pool,
        new_stream(stream, &meta, vec![event("t.a", json!({"n": 1}))]),
    )
    .await
    .unwrap();

    assert_eq!(
        sql_error(&db.owner_pool, "UPDATE events SET payload = '{}'").await,
        "42501"
    );
    assert_eq!(
        sql_error(&db.owner_pool, "DELETE FROM events").await,
        "42501"
    );
    assert_eq!(sql_error(&db.owner_pool, "TRUNCATE events").await, "42501");
    assert_eq!(read_stream(&db.app_pool, stream).await.unwrap().len(), 1);
}
