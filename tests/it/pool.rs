//! The application pool never hands on a connection left inside a transaction (sqlx 0.8
//! returns one whose `begin()` was cancelled in flight: transact-rs/sqlx#4393), which is what a
//! browser reloading a page mid-request does to a request's read transaction.

use std::time::Duration;

use event_store::testing::TestDatabase;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// Whether the pool's next statement runs in a transaction begun before it (a simple query:
/// in the extended protocol every message restarts the statement's clock).
async fn in_a_stale_transaction(pool: &PgPool) -> bool {
    let row = sqlx::Executor::fetch_one(
        pool,
        "SELECT transaction_timestamp() <> statement_timestamp() AS stale",
    )
    .await
    .unwrap();
    sqlx::Row::get(&row, "stale")
}

/// Leaves the pool's connection inside a transaction sqlx does not know of: the state a
/// `begin()` cancelled after its `BEGIN` reached the server leaves behind (transact-rs/sqlx#4393),
/// made without depending on when the cancellation lands.
async fn return_a_connection_inside_a_transaction(pool: &PgPool) {
    let mut connection = pool.acquire().await.unwrap();
    sqlx::Executor::execute(&mut *connection, "BEGIN")
        .await
        .unwrap();
    drop(connection);
    // The connection goes back to the pool in a task of its own.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

async fn pool_of_one(database: &TestDatabase, checked: bool) -> PgPool {
    let mut options = PgPoolOptions::new().max_connections(1);
    if checked {
        options = options.after_release(|connection, _| {
            Box::pin(itsm::config::outside_any_transaction(connection))
        });
    }
    let pool = options.connect(&database.app_url).await.unwrap();
    sqlx::query("SELECT 1").execute(&pool).await.unwrap();
    pool
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_returned_inside_a_transaction_is_not_handed_on_in_it() {
    let database = TestDatabase::create().await;

    // Without the check the next borrower lands in the cancelled transaction (the sqlx bug).
    let unchecked = pool_of_one(&database, false).await;
    return_a_connection_inside_a_transaction(&unchecked).await;
    let stale = in_a_stale_transaction(&unchecked).await;
    assert!(
        stale,
        "sqlx no longer leaves the transaction open: drop the after_release check"
    );

    // With it, the connection is closed instead, and the next borrower gets a clean one.
    let checked = pool_of_one(&database, true).await;
    return_a_connection_inside_a_transaction(&checked).await;
    let stale = in_a_stale_transaction(&checked).await;
    assert!(!stale);
}
