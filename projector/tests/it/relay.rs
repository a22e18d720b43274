//! The relay against a real PostgreSQL and a real nats-server: every event reaches JetStream once,
//! restarts and a second relay publish nothing twice (or JetStream drops it), and the checkpoint
//! is never ahead of what JetStream acknowledged.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{Config, StorageType};
use chrono::{TimeZone, Utc};
use event_store::hash::GENESIS;
use event_store::testing::TestDatabase;
use event_store::{append, read_stream, AppendRequest, Cursor, Metadata, NewEvent, RecordedEvent};
use projector::checkpoint::{self, Checkpoint, State};
use projector::relay::{self, RelayMetrics, RelaySettings, DUPLICATE_WINDOW};
use projector::RELAY;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::nats::{self, TestStream};

/// The longest any wait in these tests may take.
const WAIT_MAX: Duration = Duration::from_secs(8);

#[tokio::test]
async fn every_event_reaches_jetstream_once_in_store_order() {
    let fixture = Fixture::new().await;
    let relay = fixture.start(fixture.settings("only"));

    let streams = append_concurrently(fixture.db.app_pool.clone(), 30, 10, 6).await;
    let events = all_events(&fixture.db.app_pool, &streams).await;
    assert_eq!(events.len(), 300);
    fixture
        .wait_for_cursor(events.last().unwrap().cursor())
        .await;

    let messages = fixture.stream.messages().await;
    assert_eq!(messages.len(), events.len());
    for (message, event) in messages.iter().zip(&events) {
        check_message(message, event, &fixture.stream.prefix);
    }
    assert_eq!(relay.metrics.events_published.get(), 300);
    relay.stop().await;
}

#[tokio::test]
async fn a_relay_aborted_mid_run_is_replaced_without_losing_or_doubling_events() {
    let fixture = Fixture::new().await;
    let streams = append_concurrently(fixture.db.app_pool.clone(), 30, 10, 6).await;
    let events = all_events(&fixture.db.app_pool, &streams).await;
    let first = fixture.start(RelaySettings {
        batch_size: 20,
        ..fixture.settings("first")
    });
    // The test's runtime has one thread: the relay runs only while this loop yields, so the
    // abort comes right after its first acknowledged batch, maybe before its checkpoint advance.
    let started = Instant::now();
    while first.metrics.events_published.get() == 0 {
        assert!(
            started.elapsed() < WAIT_MAX,
            "the first relay published nothing"
        );
        tokio::task::yield_now().await;
    }
    first.handle.abort();
    assert!(first.handle.await.unwrap_err().is_cancelled());
    assert!(fixture.checkpoint().await.cursor < events.last().unwrap().cursor());

    let second = fixture.start(fixture.settings("second"));
    fixture
        .wait_for_cursor(events.last().unwrap().cursor())
        .await;

    let message_ids = message_ids(&fixture.stream.messages().await);
    let event_ids: HashSet<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    assert_eq!(message_ids.len(), events.len(), "one message per event");
    assert_eq!(message_ids.into_iter().collect::<HashSet<_>>(), event_ids);
    assert_eq!(fixture.checkpoint().await.events_applied, 300);
    second.stop().await;
}

#[tokio::test]
async fn of_two_relays_one_holds_the_lease_and_the_other_takes_over_when_it_stops() {
    let fixture = Fixture::new().await;
    let settings = |worker| RelaySettings {
        lease_ttl: Duration::from_secs(3),
        ..fixture.settings(worker)
    };
    let relays = [fixture.start(settings("a")), fixture.start(settings("b"))];
    let mut appending = tokio::spawn(append_concurrently(fixture.db.app_pool.clone(), 30, 10, 6));
    let mut leaders = HashSet::new();
    let mut last = None;
    let started = Instant::now();
    loop {
        let checkpoint = fixture.checkpoint().await;
        leaders.extend(checkpoint.leader);
        if last.is_none() && appending.is_finished() {
            let streams = (&mut appending).await.unwrap();
            last = all_events(&fixture.db.app_pool, &streams).await.pop();
        }
        if last
            .as_ref()
            .is_some_and(|last| last.cursor() == checkpoint.cursor)
        {
            break;
        }
        assert!(started.elapsed() < WAIT_MAX, "the relays did not catch up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let last = last.unwrap();
    assert_eq!(
        leaders.len(),
        1,
        "the lease moved while both ran: {leaders:?}"
    );
    let published = relays.each_ref().map(|r| r.metrics.events_published.get());
    assert_eq!(
        published.iter().sum::<u64>(),
        300,
        "one relay did all the work"
    );
    assert!(published.contains(&0));
    assert_eq!(fixture.checkpoint().await.cursor, last.cursor());

    let [a, b] = relays;
    let (leader, standby) = if leaders.contains("a") {
        (a, b)
    } else {
        (b, a)
    };
    leader.stop().await;
    let streams = append_concurrently(fixture.db.app_pool.clone(), 2, 10, 2).await;
    let events = all_events(&fixture.db.app_pool, &streams).await;
    fixture
        .wait_for_cursor(events.last().unwrap().cursor())
        .await;
    assert_eq!(standby.metrics.events_published.get(), 20);
    assert_eq!(
        fixture.checkpoint().await.leader.as_deref(),
        Some(standby.worker.as_str())
    );
    assert_eq!(fixture.stream.info().await.state.messages, 320);
    standby.stop().await;
}

#[tokio::test]
async fn the_checkpoint_is_never_ahead_of_what_jetstream_acknowledged() {
    let fixture = Fixture::new().await;
    let relay = fixture.start(RelaySettings {
        batch_size: 25,
        ..fixture.settings("only")
    });
    let mut appending = tokio::spawn(append_concurrently(fixture.db.app_pool.clone(), 30, 10, 6));
    let mut samples = 0;
    let mut last = None;
    let started = Instant::now();
    loop {
        let checkpoint = fixture.checkpoint().await;
        let relayed = count_events_up_to(&fixture.db.app_pool, checkpoint.cursor).await;
        let acknowledged = stream_messages(&fixture.stream).await;
        assert!(
            relayed <= acknowledged,
            "{relayed} relayed, {acknowledged} acknowledged"
        );
        samples += 1;
        if last.is_none() && appending.is_finished() {
            let streams = (&mut appending).await.unwrap();
            last = all_events(&fixture.db.app_pool, &streams).await.pop();
        }
        if last
            .as_ref()
            .is_some_and(|last| last.cursor() == checkpoint.cursor)
        {
            break;
        }
        assert!(started.elapsed() < WAIT_MAX, "the relay did not catch up");
    }
    let last = last.unwrap();
    assert!(samples > 1);
    let checkpoint = fixture.checkpoint().await;
    assert_eq!(checkpoint.cursor, last.cursor());
    assert_eq!(checkpoint.events_applied, 300);
    assert_eq!(checkpoint.last_event_at, Some(last.recorded_at));
    relay.stop().await;
}

#[tokio::test]
async fn a_wake_up_relays_new_events_without_waiting_for_the_poll_interval() {
    let fixture = Fixture::new().await;
    let relay = fixture.start(RelaySettings {
        poll_interval: Duration::from_secs(3600),
        ..fixture.settings("only")
    });
    eventually("the relay holds the lease", || async {
        relay.metrics.leader.get() == 1
    })
    .await;
    let streams = append_concurrently(fixture.db.app_pool.clone(), 1, 5, 1).await;
    let last = all_events(&fixture.db.app_pool, &streams)
        .await
        .pop()
        .unwrap();
    // Woken repeatedly: a transaction elsewhere in the cluster can hold the read horizon back.
    eventually("the woken relay caught up", || async {
        relay.wake.notify_one();
        fixture.checkpoint().await.cursor == last.cursor()
    })
    .await;
    relay.stop().await;
}

#[tokio::test]
async fn a_checkpoint_from_another_cluster_starts_a_new_epoch_from_the_first_event() {
    let fixture = Fixture::new().await;
    let streams = append_concurrently(fixture.db.app_pool.clone(), 2, 10, 2).await;
    let last = all_events(&fixture.db.app_pool, &streams)
        .await
        .pop()
        .unwrap();
    let first = fixture.start(fixture.settings("first"));
    fixture.wait_for_cursor(last.cursor()).await;
    first.stop().await;
    sqlx::query("UPDATE projection_checkpoints SET system_identifier = system_identifier + 1")
        .execute(&fixture.db.owner_pool)
        .await
        .unwrap();

    let second = fixture.start(fixture.settings("second"));
    eventually("the relay published every event again", || async {
        fixture.checkpoint().await.events_applied == 40
    })
    .await;
    let checkpoint = fixture.checkpoint().await;
    let current = checkpoint::system_identifier(&fixture.db.app_pool)
        .await
        .unwrap();
    assert_eq!(checkpoint.system_identifier, current);
    assert_eq!(checkpoint.cursor, last.cursor());
    assert_eq!(
        second.metrics.duplicates.get(),
        20,
        "JetStream dropped the repeats"
    );
    assert_eq!(fixture.stream.info().await.state.messages, 20);
    second.stop().await;
}

#[tokio::test]
async fn a_failed_publish_is_retried_from_the_checkpoint_after_recreating_the_stream() {
    let fixture = Fixture::new().await;
    let relay = fixture.start(fixture.settings("only"));
    let streams = append_concurrently(fixture.db.app_pool.clone(), 1, 5, 1).await;
    let before = all_events(&fixture.db.app_pool, &streams).await;
    fixture
        .wait_for_cursor(before.last().unwrap().cursor())
        .await;
    fixture
        .stream
        .js
        .delete_stream(&fixture.stream.name)
        .await
        .unwrap();

    let streams = append_concurrently(fixture.db.app_pool.clone(), 1, 5, 1).await;
    let after = all_events(&fixture.db.app_pool, &streams).await;
    fixture
        .wait_for_cursor(after.last().unwrap().cursor())
        .await;
    assert!(relay.metrics.batch_failures.get() >= 1);
    let messages = fixture.stream.messages().await;
    assert_eq!(
        messages.len(),
        after.len(),
        "the new stream has the new events"
    );
    for (message, event) in messages.iter().zip(&after) {
        check_message(message, event, &fixture.stream.prefix);
    }
    relay.stop().await;
}

#[tokio::test]
async fn an_event_that_cannot_be_published_stops_the_relay_instead_of_being_skipped() {
    let fixture = Fixture::new().await;
    append_concurrently(fixture.db.app_pool.clone(), 1, 3, 1).await;
    let poison = append_one(&fixture.db.app_pool, "not a token").await;
    append_concurrently(fixture.db.app_pool.clone(), 1, 2, 1).await;
    let relay = fixture.start(fixture.settings("only"));

    eventually("the relay stopped", || async {
        fixture.checkpoint().await.state == State::Failed
    })
    .await;
    let checkpoint = fixture.checkpoint().await;
    assert_eq!(checkpoint.failed_position, Some(poison.global_position));
    assert!(checkpoint.cursor < poison.cursor());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        fixture.stream.info().await.state.messages,
        3,
        "nothing after it"
    );
    relay.stop().await;
}

#[tokio::test]
async fn ensure_stream_creates_the_stream_and_updates_settings_that_differ() {
    let fixture = Fixture::new().await;
    let settings = fixture.settings("only");
    fixture
        .stream
        .create(Config {
            max_age: Duration::from_secs(60),
            duplicate_window: Duration::from_secs(10),
            storage: StorageType::File,
            ..Config::default()
        })
        .await;

    relay::ensure_stream(&fixture.stream.js, &settings)
        .await
        .unwrap();
    relay::ensure_stream(&fixture.stream.js, &settings)
        .await
        .unwrap();

    let config = fixture.stream.info().await.config;
    assert_eq!(
        config.subjects,
        [format!("{}.events.>", fixture.stream.prefix)]
    );
    assert_eq!(config.max_age, settings.max_age);
    assert_eq!(config.duplicate_window, DUPLICATE_WINDOW);
    assert_eq!(config.storage, StorageType::File);
    assert_eq!(config.num_replicas, 1);
}

#[tokio::test]
async fn the_settings_debug_output_leaves_out_the_connections() {
    let fixture = Fixture::new().await;
    let debug = format!("{:?}", fixture.settings("only"));
    assert!(debug.contains(&fixture.stream.name), "{debug}");
    assert!(!debug.contains(&fixture.db.name), "{debug}");
    assert!(!debug.contains("4222"), "{debug}");
}

/// A fresh database and a stream name and subject prefix of this test's own.
struct Fixture {
    db: TestDatabase,
    nats: async_nats::Client,
    stream: TestStream,
}

impl Fixture {
    async fn new() -> Fixture {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("info,sqlx=warn")
                .with_test_writer()
                .try_init();
        }
        let nats = nats::connect().await;
        Fixture {
            db: TestDatabase::create().await,
            stream: TestStream::new(&nats),
            nats,
        }
    }

    /// Short lease, short poll, several batches for 300 events.
    fn settings(&self, worker: &str) -> RelaySettings {
        RelaySettings {
            subject_prefix: self.stream.prefix.clone(),
            stream: self.stream.name.clone(),
            max_age: Duration::from_secs(3600),
            batch_size: 50,
            lease_ttl: Duration::from_secs(1),
            poll_interval: Duration::from_millis(20),
            worker: worker.to_owned(),
            ..RelaySettings::new(self.db.app_pool.clone(), self.nats.clone())
        }
    }

    fn start(&self, settings: RelaySettings) -> Running {
        let (shutdown, receiver) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let metrics = Arc::new(RelayMetrics::default());
        let worker = settings.worker.clone();
        let handle = tokio::spawn(relay::run(
            settings,
            wake.clone(),
            receiver,
            Some(metrics.clone()),
        ));
        Running {
            handle,
            shutdown,
            wake,
            metrics,
            worker,
        }
    }

    async fn checkpoint(&self) -> Checkpoint {
        let loaded = checkpoint::load(&self.db.app_pool, RELAY, 1).await.unwrap();
        loaded.unwrap_or_else(|| Checkpoint {
            name: RELAY.to_owned(),
            generation: 1,
            version: 1,
            system_identifier: 0,
            cursor: Cursor::START,
            events_applied: 0,
            state: State::Running,
            error: None,
            failed_position: None,
            leader: None,
            lease_until: None,
            last_event_at: None,
        })
    }

    async fn wait_for_cursor(&self, cursor: Cursor) {
        eventually("the checkpoint reached the last event", || async {
            self.checkpoint().await.cursor == cursor
        })
        .await;
    }
}

/// A relay task and its handles.
struct Running {
    handle: JoinHandle<anyhow::Result<()>>,
    shutdown: watch::Sender<bool>,
    wake: Arc<Notify>,
    metrics: Arc<RelayMetrics>,
    worker: String,
}

impl Running {
    async fn stop(self) {
        self.shutdown.send(true).unwrap();
        self.handle.await.unwrap().unwrap();
    }
}

/// Waits until `condition` holds, polling; fails the test after [`WAIT_MAX`].
async fn eventually<F, Fut>(what: &str, condition: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < WAIT_MAX, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn check_message(message: &StreamMessage, event: &RecordedEvent, prefix: &str) {
    let header = |name: &str| message.headers.get(name).map(|v| v.as_str().to_owned());
    let event_id = event.event_id.to_string();
    let subject = format!("{prefix}.events.ticket.{}", event.stream_id);
    assert_eq!(message.subject.as_str(), subject);
    assert_eq!(header("Nats-Msg-Id"), Some(event_id.clone()));
    assert_eq!(header("Itsm-Cursor"), Some(event.cursor().to_string()));
    assert_eq!(header("Itsm-Event-Type"), Some(event.event_type.clone()));
    let body: Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(body, serde_json::to_value(event).unwrap());
}

fn message_ids(messages: &[StreamMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.headers.get("Nats-Msg-Id").unwrap().as_str().to_owned())
        .collect()
}

/// Appends `events_per_stream` events, one command each, to each of `streams` new ticket streams,
/// from `tasks` concurrent tasks (each task takes turns among its streams); gives the stream ids.
async fn append_concurrently(
    pool: PgPool,
    streams: usize,
    events_per_stream: u64,
    tasks: usize,
) -> Vec<Uuid> {
    let appenders: Vec<_> = (0..tasks)
        .map(|task| {
            let pool = pool.clone();
            let count = (streams + tasks - 1 - task) / tasks;
            tokio::spawn(async move {
                let mut heads: Vec<_> = (0..count).map(|_| (Uuid::new_v4(), GENESIS)).collect();
                for version in 0..events_per_stream {
                    for (stream_id, previous_hash) in &mut heads {
                        *previous_hash =
                            append_at(&pool, "ticket", *stream_id, version, *previous_hash).await;
                    }
                }
                heads.into_iter().map(|(stream_id, _)| stream_id)
            })
        })
        .collect();
    let mut ids = Vec::with_capacity(streams);
    for appender in appenders {
        ids.extend(appender.await.unwrap());
    }
    ids
}

/// Appends one event to a new stream of type `stream_type`.
async fn append_one(pool: &PgPool, stream_type: &str) -> RecordedEvent {
    let stream_id = Uuid::new_v4();
    append_at(pool, stream_type, stream_id, 0, GENESIS).await;
    read_stream(pool, stream_id).await.unwrap().pop().unwrap()
}

async fn append_at(
    pool: &PgPool,
    stream_type: &str,
    stream_id: Uuid,
    expected_version: u64,
    previous_hash: [u8; 32],
) -> [u8; 32] {
    let id = Uuid::new_v4();
    let occurred_at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0).unwrap();
    let metadata = Metadata::new("k.meier".into(), occurred_at, "api".into(), id, id, id);
    let event = NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "ticket.noted".into(),
        event_version: 1,
        payload: json!({ "n": expected_version + 1 }),
    };
    let request = AppendRequest {
        stream_type,
        stream_id,
        expected_version,
        previous_hash,
        metadata: &metadata,
        events: vec![event],
        result: json!({}),
    };
    append(pool, request).await.unwrap().last_hash
}

/// The events of `streams`, in cursor order. Read stream by stream, not with `read_after`: a
/// transaction of another test anywhere in the cluster may hold its read horizon back.
async fn all_events(pool: &PgPool, streams: &[Uuid]) -> Vec<RecordedEvent> {
    let mut events = Vec::new();
    for stream_id in streams {
        events.extend(read_stream(pool, *stream_id).await.unwrap());
    }
    events.sort_by_key(RecordedEvent::cursor);
    events
}

async fn stream_messages(stream: &TestStream) -> u64 {
    stream.info().await.state.messages
}

async fn count_events_up_to(pool: &PgPool, cursor: Cursor) -> u64 {
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events \
         WHERE (transaction_id, global_position) <= (($1::bigint)::text::xid8, $2)",
    )
    .bind(cursor.transaction_id)
    .bind(cursor.global_position)
    .fetch_one(pool)
    .await
    .unwrap();
    count as u64
}
