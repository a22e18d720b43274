//! The application pool never hands on a connection left inside a transaction (sqlx 0.8
//! returns one whose `begin()` was cancelled in flight: transact-rs/sqlx#4393), which is what a
//! browser reloading a page mid-request does to a request's read transaction.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

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

/// Starts `pool.begin()`, polls it until the server has run its `BEGIN` (as `observer` sees),
/// and drops it before it reads the answer.
async fn cancel_a_begin_in_flight(pool: &PgPool, observer: &PgPool) {
    {
        let mut begin = pin!(pool.begin());
        let waker = futures_util::task::noop_waker();
        let mut context = Context::from_waker(&waker);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            if let Poll::Ready(transaction) = begin.as_mut().poll(&mut context) {
                drop(transaction);
                panic!("BEGIN answered before it could be cancelled");
            }
            // Time for the server to run what was sent; the answer stays unread.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let begun: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() \
                 AND state = 'idle in transaction' AND query = 'BEGIN')",
            )
            .fetch_one(observer)
            .await
            .unwrap();
            if begun {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "BEGIN never ran");
        }
    }
    // The connection goes back to the pool in a task of its own.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
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
async fn a_connection_whose_begin_was_cancelled_is_not_handed_on_in_that_transaction() {
    let database = TestDatabase::create().await;

    // Without the check the next borrower lands in the cancelled transaction (the sqlx bug).
    let observer = PgPool::connect(&database.owner_url).await.unwrap();
    let unchecked = pool_of_one(&database, false).await;
    cancel_a_begin_in_flight(&unchecked, &observer).await;
    let stale = in_a_stale_transaction(&unchecked).await;
    assert!(
        stale,
        "sqlx no longer leaves the transaction open: drop the after_release check"
    );

    // With it, the connection is closed instead, and the next borrower gets a clean one.
    let checked = pool_of_one(&database, true).await;
    cancel_a_begin_in_flight(&checked, &observer).await;
    let stale = in_a_stale_transaction(&checked).await;
    assert!(!stale);
}
