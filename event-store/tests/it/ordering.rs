//! The ordering proof (DESIGN §3): concurrent writers, some delayed before COMMIT, some rolled
//! back, while a reader tails the store. The gap-free reader's fold equals the fold over all
//! committed events, every run; the naive `global_position > checkpoint` reader provably misses
//! events in the same scenario.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use event_store::testing::TestDatabase;
use event_store::{read_after, read_after_naive, Cursor, RecordedEvent};
use sqlx::PgPool;
use uuid::Uuid;

const WRITERS: usize = 8;
const TRANSACTIONS_PER_WRITER: usize = 30;
const READ_BATCH_EVENTS: u32 = 16;
/// How long the gap-free reader may wait for other transactions in the cluster to finish.
const DRAIN_WAIT_GAP_FREE: Duration = Duration::from_secs(30);
/// The naive reader sees every committed row at once; waiting longer cannot help it.
const DRAIN_WAIT_NAIVE: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Reader {
    GapFree,
    Naive,
}

/// The fold: per stream, the versions seen in reading order.
type Fold = BTreeMap<Uuid, Vec<i64>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gap_free_reader_sees_every_committed_event_exactly_once_in_stream_order() {
    let db = TestDatabase::create().await;
    let (seen, committed) = run_scenario(&db.app_pool, Reader::GapFree).await;
    assert_eq!(
        seen, committed,
        "the reader's fold must equal the fold over all committed events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_naive_position_reader_misses_events_committed_out_of_order() {
    let db = TestDatabase::create().await;
    let (seen, committed) = run_scenario(&db.app_pool, Reader::Naive).await;
    let seen_count: usize = seen.values().map(Vec::len).sum();
    let committed_count: usize = committed.values().map(Vec::len).sum();
    assert!(
        seen_count < committed_count,
        "naive reader saw {seen_count} of {committed_count}"
    );
}

async fn run_scenario(pool: &PgPool, reader: Reader) -> (Fold, Fold) {
    let writers_done = Arc::new(AtomicUsize::new(0));
    let polls = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let slow = tokio::spawn(slow_writer(
        pool.clone(),
        writers_done.clone(),
        polls.clone(),
    ));
    let mut writers = Vec::new();
    for seed in 0..WRITERS {
        let (pool, done) = (pool.clone(), writers_done.clone());
        writers.push(tokio::spawn(async move {
            writer(&pool, seed as u64).await;
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    let tail = tokio::spawn(tail(pool.clone(), reader, polls.clone(), stop.clone()));
    for writer in writers {
        writer.await.unwrap();
    }
    slow.await.unwrap();
    let committed = committed_fold(pool).await;
    stop.store(true, Ordering::SeqCst);
    let seen = tail.await.unwrap();
    (seen, committed)
}

/// Writes short transactions into its own stream; one in five rolls back, one in three sleeps
/// before COMMIT so later positions become visible first.
async fn writer(pool: &PgPool, seed: u64) {
    let stream = Uuid::new_v4();
    let mut next_version = 1;
    for round in 0..TRANSACTIONS_PER_WRITER as u64 {
        let mut transaction = pool.begin().await.unwrap();
        let events_in_transaction = 1 + (seed + round) % 2;
        for offset in 0..events_in_transaction {
            insert(&mut transaction, stream, next_version + offset as i64).await;
        }
        if (seed * 7 + round) % 3 == 0 {
            tokio::time::sleep(Duration::from_millis((seed + round) % 7 * 3)).await;
        }
        if (seed + round * 3) % 5 == 0 {
            transaction.rollback().await.unwrap();
        } else {
            transaction.commit().await.unwrap();
            next_version += events_in_transaction as i64;
        }
    }
}

/// Holds one transaction open (an early position) until every other writer has committed and
/// the reader has polled past them, then commits: the case a naive reader cannot survive.
async fn slow_writer(pool: PgPool, writers_done: Arc<AtomicUsize>, polls: Arc<AtomicUsize>) {
    let mut transaction = pool.begin().await.unwrap();
    insert(&mut transaction, Uuid::new_v4(), 1).await;
    while writers_done.load(Ordering::SeqCst) < WRITERS {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let polls_then = polls.load(Ordering::SeqCst);
    while polls.load(Ordering::SeqCst) < polls_then + 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    transaction.commit().await.unwrap();
}

async fn insert(transaction: &mut sqlx::PgConnection, stream: Uuid, version: i64) {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO events (event_id, stream_type, stream_id, stream_version, event_type, event_version, payload, \
         actor, occurred_at, origin, correlation_id, causation_id, command_id, previous_hash, hash) \
         VALUES ($1, 'test', $2, $3, 'test.happened', 1, '{}', 'test', now(), 'test', $1, $1, $1, $4, $4)",
    )
    .bind(id)
    .bind(stream)
    .bind(version)
    .bind([0u8; 32].as_slice())
    .execute(transaction)
    .await
    .unwrap();
}

/// Tails until told to stop (every writer has finished), then keeps polling until it has read
/// as many events as were committed or the deadline passes. The transaction horizon is
/// cluster-wide, so other tests' open transactions may delay (never hide) events for the
/// gap-free reader; an event it skipped would never arrive and the test fails at the deadline.
async fn tail(
    pool: PgPool,
    reader: Reader,
    polls: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> Fold {
    let mut fold = Fold::new();
    let mut cursor = Cursor::START;
    let mut deadline = None;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if stopping && deadline.is_none() {
            let wait = match reader {
                Reader::GapFree => DRAIN_WAIT_GAP_FREE,
                Reader::Naive => DRAIN_WAIT_NAIVE,
            };
            deadline = Some(tokio::time::Instant::now() + wait);
        }
        loop {
            let batch = read_batch(&pool, reader, cursor).await;
            let Some(last) = batch.last() else { break };
            cursor = last.cursor();
            for event in &batch {
                fold.entry(event.stream_id)
                    .or_default()
                    .push(event.stream_version as i64);
            }
        }
        polls.fetch_add(1, Ordering::SeqCst);
        if let Some(deadline) = deadline {
            let expected = committed_fold(&pool)
                .await
                .values()
                .map(Vec::len)
                .sum::<usize>();
            if fold.values().map(Vec::len).sum::<usize>() >= expected
                || tokio::time::Instant::now() > deadline
            {
                return fold;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn read_batch(pool: &PgPool, reader: Reader, cursor: Cursor) -> Vec<RecordedEvent> {
    match reader {
        Reader::GapFree => read_after(pool, cursor, READ_BATCH_EVENTS).await.unwrap(),
        Reader::Naive => read_after_naive(pool, cursor.global_position, READ_BATCH_EVENTS)
            .await
            .unwrap(),
    }
}

async fn committed_fold(pool: &PgPool) -> Fold {
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT stream_id, stream_version FROM events ORDER BY stream_id, stream_version",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut fold = Fold::new();
    for (stream, version) in rows {
        fold.entry(stream).or_default().push(version);
    }
    fold
}
