//! The ticket projection under the runner: incremental equals rebuilt, exactly one of two
//! workers advances, a poison event stops it, blue-green rebuild swaps without a gap.

use std::sync::Arc;
use std::time::Duration;

use event_store::crypto::{MasterKey, PersonalDataVault};
use event_store::testing::TestDatabase;
use event_store::{Cursor, Metadata, NewEvent};
use projector::checkpoint::{self, State};
use projector::metrics::{ProjectionLabels, ProjectorMetrics};
use projector::runner::{Runner, RunnerSettings, Step};
use projector::tickets::TicketProjection;
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use crate::corpus;

fn settings(pool: &PgPool, worker: &str, batch_size: u32) -> RunnerSettings {
    RunnerSettings {
        pool: pool.clone(),
        batch_size,
        lease_ttl: Duration::from_secs(2),
        poll_interval: Duration::from_millis(20),
        worker: worker.to_owned(),
    }
}

async fn runner(
    pool: &PgPool,
    master_key: &MasterKey,
    worker: &str,
    batch_size: u32,
) -> (Runner, Arc<ProjectorMetrics>) {
    let metrics = Arc::new(ProjectorMetrics::default());
    let projection = TicketProjection::new(pool.clone(), PersonalDataVault::new(master_key));
    let runner = Runner::new(
        settings(pool, worker, batch_size),
        Arc::new(projection),
        metrics.clone(),
    )
    .await
    .expect("runner");
    (runner, metrics)
}

async fn last_cursor(pool: &PgPool) -> Cursor {
    let (transaction_id, global_position): (i64, i64) = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM events \
         ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .expect("last event");
    Cursor {
        transaction_id,
        global_position,
    }
}

/// Steps the active generation until it has applied everything stored.
async fn catch_up(runner: &Runner, pool: &PgPool) {
    let target = last_cursor(pool).await;
    for _ in 0..100_000 {
        let active = checkpoint::active(pool, projector::TICKETS)
            .await
            .expect("checkpoint")
            .expect("exists");
        if active.cursor >= target {
            return;
        }
        if runner.step(active.generation, false).await.expect("step") != Step::Applied(0) {
            tokio::task::yield_now().await;
        }
    }
    panic!("the projection did not catch up");
}

/// One step that applies something: the read horizon is cluster-wide, so another session's open
/// transaction (another test) may hold a just-committed event back for a moment.
async fn step_applying(runner: &Runner, generation: i32, rebuilding: bool) -> Step {
    for _ in 0..500 {
        let step = runner.step(generation, rebuilding).await.expect("step");
        if step != Step::Idle {
            return step;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Step::Idle
}

async fn count(pool: &PgPool, sql: &str, generation: i32) -> i64 {
    sqlx::query_scalar(sql)
        .bind(generation)
        .fetch_one(pool)
        .await
        .expect("count")
}

async fn events_of_type(pool: &PgPool, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(pool)
        .await
        .expect("count events")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn incremental_equals_rebuilt_on_ten_thousand_events() {
    let db = TestDatabase::create().await;
    let master_key = MasterKey::generate();
    master_key
        .check_against(&db.app_pool)
        .await
        .expect("record key");
    let (live, _) = runner(&db.app_pool, &master_key, "live", 100).await;
    let live = Arc::new(live);
    let (stop, stopped) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let running = {
        let (live, wake) = (live.clone(), wake.clone());
        tokio::spawn(async move { live.run(wake, stopped).await })
    };
    // Commands flow while the projection runs: batches cut through tickets at random places.
    let service = corpus::service(&db.app_pool, &master_key);
    let events = corpus::generate(service, 1_000, 8).await;
    assert!(events >= 10_000, "corpus has {events} events");
    let target = last_cursor(&db.app_pool).await;
    for _ in 0..600 {
        let active = checkpoint::active(&db.app_pool, projector::TICKETS)
            .await
            .unwrap()
            .unwrap();
        if active.cursor >= target {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    running.await.unwrap();

    let live_checkpoint = checkpoint::active(&db.app_pool, projector::TICKETS)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live_checkpoint.cursor, target, "live projection caught up");
    assert_eq!(
        live_checkpoint.events_applied, events as i64,
        "every event once"
    );
    let pool = &db.app_pool;
    let tickets = events_of_type(pool, "ticket.opened").await;
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM rm_tickets WHERE generation = $1",
            1
        )
        .await,
        tickets
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM rm_articles WHERE generation = $1",
            1
        )
        .await,
        events_of_type(pool, "ticket.article_added").await,
        "no missing or doubled article"
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM rm_history WHERE generation = $1",
            1
        )
        .await,
        events as i64,
        "one history entry per event"
    );
    assert_eq!(
        count(
            pool,
            "SELECT sum(article_count) FROM rm_tickets WHERE generation = $1",
            1
        )
        .await,
        events_of_type(pool, "ticket.article_added").await
    );
    let live_digest = live.projection().digest(pool, 1).await.unwrap();

    // Rebuild into generation 2 (another worker, another batch size) and compare.
    let (rebuilder, _) = runner(pool, &master_key, "rebuilder", 1_000).await;
    let generation = rebuilder.rebuild(|_| {}).await.expect("rebuild");
    assert_eq!(generation, 2);
    assert_eq!(
        checkpoint::active_generation(pool, projector::TICKETS)
            .await
            .unwrap(),
        Some(2)
    );
    let rebuilt_digest = rebuilder.projection().digest(pool, 2).await.unwrap();
    assert_eq!(live_digest, rebuilt_digest, "incremental equals rebuilt");
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM rm_tickets WHERE generation = $1",
            1
        )
        .await,
        0,
        "the retired generation's rows are removed"
    );
    let retired = checkpoint::load(pool, projector::TICKETS, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retired.state, State::Retired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_at_once_exactly_one_advances() {
    let db = TestDatabase::create().await;
    let master_key = MasterKey::generate();
    let (first, first_metrics) = runner(&db.app_pool, &master_key, "first", 50).await;
    let (second, second_metrics) = runner(&db.app_pool, &master_key, "second", 50).await;
    let (stop, stopped) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let tasks: Vec<_> = [first, second]
        .into_iter()
        .map(|runner| {
            let (wake, stopped) = (wake.clone(), stopped.clone());
            tokio::spawn(async move {
                runner.run(wake, stopped).await;
                runner
            })
        })
        .collect();
    let service = corpus::service(&db.app_pool, &master_key);
    let events = corpus::generate(service, 100, 4).await;
    let target = last_cursor(&db.app_pool).await;
    for _ in 0..300 {
        let active = checkpoint::active(&db.app_pool, projector::TICKETS)
            .await
            .unwrap()
            .unwrap();
        if active.cursor >= target {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    let mut runners = Vec::new();
    for task in tasks {
        runners.push(task.await.unwrap());
    }
    let labels = ProjectionLabels {
        projection: projector::TICKETS.to_owned(),
        mode: "live",
    };
    let applied = [
        first_metrics.events_applied.get_or_create(&labels).get(),
        second_metrics.events_applied.get_or_create(&labels).get(),
    ];
    assert_eq!(
        applied.iter().sum::<u64>(),
        events as u64,
        "together exactly once"
    );
    assert!(
        applied.contains(&0),
        "only the lease holder advanced: {applied:?}"
    );
    let checkpoint = checkpoint::active(&db.app_pool, projector::TICKETS)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(checkpoint.events_applied, events as i64);
    assert_eq!(checkpoint.cursor, target);
}

#[tokio::test]
async fn a_worker_takes_over_when_the_lease_holder_stops_renewing() {
    let db = TestDatabase::create().await;
    let master_key = MasterKey::generate();
    let service = corpus::service(&db.app_pool, &master_key);
    corpus::open(&service, 1).await;
    let (first, _) = runner(&db.app_pool, &master_key, "first", 10).await;
    let (second, _) = runner(&db.app_pool, &master_key, "second", 10).await;
    assert_eq!(step_applying(&first, 1, false).await, Step::Applied(1));
    corpus::open(&service, 2).await;
    assert_eq!(second.step(1, false).await.unwrap(), Step::Standby);
    // The first worker dies (stops renewing); after the lease expires the second takes over.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(step_applying(&second, 1, false).await, Step::Applied(1));
    assert_eq!(first.step(1, false).await.unwrap(), Step::Standby);
}

#[tokio::test]
async fn a_poison_event_stops_the_projection_and_is_never_skipped() {
    let db = TestDatabase::create().await;
    let master_key = MasterKey::generate();
    let service = corpus::service(&db.app_pool, &master_key);
    corpus::open(&service, 1).await;
    // An event the projection cannot apply: an assignment on a ticket that was never opened.
    let stream = Uuid::new_v4();
    let poison = event_store::append(
        &db.app_pool,
        event_store::AppendRequest {
            stream_type: "ticket",
            stream_id: stream,
            expected_version: 0,
            previous_hash: event_store::hash::GENESIS,
            metadata: &Metadata::new(
                "a.agentin".into(),
                chrono::Utc::now(),
                "api".into(),
                Uuid::new_v4(),
                Uuid::new_v4(),
                Uuid::new_v4(),
            ),
            events: vec![NewEvent {
                event_id: Uuid::new_v4(),
                event_type: "ticket.assigned".into(),
                event_version: 1,
                payload: json!({"assignee": "x", "queue": null, "previous_assignee": null}),
            }],
            result: json!({}),
        },
    )
    .await
    .expect("append poison");
    corpus::open(&service, 2).await;
    let (runner, metrics) = runner(&db.app_pool, &master_key, "worker", 1).await;
    assert_eq!(step_applying(&runner, 1, false).await, Step::Applied(1));
    assert_eq!(step_applying(&runner, 1, false).await, Step::Stopped);
    assert_eq!(
        runner.step(1, false).await.unwrap(),
        Step::Stopped,
        "stays stopped"
    );
    let checkpoint = checkpoint::load(&db.app_pool, projector::TICKETS, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(checkpoint.state, State::Failed);
    assert_eq!(
        checkpoint.failed_position,
        Some(poison.stored.cursor.global_position)
    );
    assert!(checkpoint.error.unwrap().contains("never opened"));
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_tickets")
        .fetch_one(&db.app_pool)
        .await
        .unwrap();
    assert_eq!(tickets, 1, "nothing after the poison event was applied");
    let failed = metrics
        .failed
        .get_or_create(&projector::metrics::NameLabels {
            projection: projector::TICKETS.to_owned(),
        })
        .get();
    assert_eq!(failed, 1);
    // Resuming retries the same event (and stops again: it is still poison).
    assert!(checkpoint::resume(&db.app_pool, projector::TICKETS, 1)
        .await
        .unwrap());
    assert_eq!(runner.step(1, false).await.unwrap(), Step::Stopped);
}

#[tokio::test]
async fn a_rebuild_serves_the_old_generation_until_it_swaps() {
    let db = TestDatabase::create().await;
    let master_key = MasterKey::generate();
    let service = corpus::service(&db.app_pool, &master_key);
    for index in 0..5 {
        corpus::open(&service, index).await;
    }
    let (live, _) = runner(&db.app_pool, &master_key, "live", 2).await;
    catch_up(&live, &db.app_pool).await;
    let cluster = checkpoint::system_identifier(&db.app_pool).await.unwrap();
    let generation = checkpoint::start_rebuild(&db.app_pool, projector::TICKETS, 1, cluster)
        .await
        .unwrap();
    assert_eq!(generation, 2);
    // One batch of the rebuild: generation 1 still active and complete.
    assert_eq!(step_applying(&live, 2, true).await, Step::Applied(2));
    assert_eq!(
        checkpoint::active_generation(&db.app_pool, projector::TICKETS)
            .await
            .unwrap(),
        Some(1)
    );
    let serving: i64 = count(
        &db.app_pool,
        "SELECT count(*) FROM rm_tickets WHERE generation = $1",
        1,
    )
    .await;
    assert_eq!(serving, 5);
    let mut steps = 0;
    while !matches!(live.step(2, true).await.unwrap(), Step::Swapped { .. }) {
        steps += 1;
        assert!(steps < 1_000, "the rebuild swaps in once caught up");
    }
    assert_eq!(
        checkpoint::active_generation(&db.app_pool, projector::TICKETS)
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        count(
            &db.app_pool,
            "SELECT count(*) FROM rm_tickets WHERE generation = $1",
            2
        )
        .await,
        5
    );
}

#[tokio::test]
async fn reporting_views_serve_the_active_generation_read_only() {
    let db = TestDatabase::create().await;
    let master_key = MasterKey::generate();
    let service = corpus::service(&db.app_pool, &master_key);
    let (first, _) = corpus::open(&service, 0).await;
    let (second, _) = corpus::open(&service, 2).await;
    corpus::work(&service, first, 0, second).await;
    let (live, _) = runner(&db.app_pool, &master_key, "live", 100).await;
    catch_up(&live, &db.app_pool).await;

    // A rebuild's rows (generation 2) stay invisible until it is the active generation.
    sqlx::query(
        "INSERT INTO rm_tickets SELECT (jsonb_populate_record(NULL::rm_tickets, \
         to_jsonb(t) || '{\"generation\": 2}')).* FROM rm_tickets t",
    )
    .execute(&db.owner_pool)
    .await
    .unwrap();
    let mut reporting = db.owner_pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE itsm_reporting")
        .execute(&mut *reporting)
        .await
        .expect("the owner may act as the reporting role");
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM reporting.tickets")
        .fetch_one(&mut *reporting)
        .await
        .unwrap();
    assert_eq!(tickets, 2);
    let opened: i64 =
        sqlx::query_scalar("SELECT sum(opened)::bigint FROM reporting.tickets_opened_per_day")
            .fetch_one(&mut *reporting)
            .await
            .unwrap();
    assert_eq!(opened, 2);
    let resolved: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM reporting.tickets WHERE resolution_seconds IS NOT NULL",
    )
    .fetch_one(&mut *reporting)
    .await
    .unwrap();
    assert_eq!(resolved, 1, "ticket 0 was resolved and closed");
    sqlx::query("SELECT count(*) FROM reporting.backlog_by_age")
        .execute(&mut *reporting)
        .await
        .unwrap();
    for forbidden in [
        "SELECT count(*) FROM events",
        "SELECT count(*) FROM rm_tickets",
        "DELETE FROM rm_tickets",
    ] {
        let mut savepoint = sqlx::Connection::begin(&mut *reporting).await.unwrap();
        let error = sqlx::query(forbidden)
            .execute(&mut *savepoint)
            .await
            .expect_err(forbidden);
        assert!(error.to_string().contains("permission denied"), "{error}");
        savepoint.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn the_fence_lets_only_one_of_two_advances_from_the_same_cursor_commit() {
    let db = TestDatabase::create().await;
    let master_key = MasterKey::generate();
    let (_runner, _) = runner(&db.app_pool, &master_key, "first", 10).await;
    let to = Cursor {
        transaction_id: 1,
        global_position: 1,
    };
    let lease = Duration::from_secs(5);
    let mut first = db.app_pool.begin().await.unwrap();
    let mut second = db.app_pool.begin().await.unwrap();
    let now = chrono::Utc::now();
    assert!(checkpoint::advance(
        &mut first,
        projector::TICKETS,
        1,
        "first",
        Cursor::START,
        to,
        1,
        now,
        lease
    )
    .await
    .unwrap());
    // The second waits for the first's row lock, then finds the cursor moved: no row updated.
    let racing = tokio::spawn(async move {
        let advanced = checkpoint::advance(
            &mut second,
            projector::TICKETS,
            1,
            "second",
            Cursor::START,
            to,
            1,
            now,
            lease,
        )
        .await
        .unwrap();
        second.rollback().await.unwrap();
        advanced
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    first.commit().await.unwrap();
    assert!(!racing.await.unwrap(), "the second advance is fenced off");
    let checkpoint = checkpoint::load(&db.app_pool, projector::TICKETS, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((checkpoint.cursor, checkpoint.events_applied), (to, 1));
}

#[tokio::test]
async fn a_checkpoint_of_another_cluster_is_rebuilt_not_continued() {
    let db = TestDatabase::create().await;
    let master_key = MasterKey::generate();
    let service = corpus::service(&db.app_pool, &master_key);
    for index in 0..3 {
        corpus::open(&service, index).await;
    }
    let (live, _) = runner(&db.app_pool, &master_key, "live", 100).await;
    catch_up(&live, &db.app_pool).await;
    // As after a logical dump and restore: the cursor's transaction ids belong to another cluster.
    sqlx::query(
        "UPDATE projection_checkpoints SET system_identifier = system_identifier + 1 \
         WHERE name = 'tickets'",
    )
    .execute(&db.app_pool)
    .await
    .unwrap();
    corpus::open(&service, 3).await;
    assert_eq!(live.step(1, false).await.unwrap(), Step::Stopped);
    assert_eq!(
        checkpoint::pending_rebuild(&db.app_pool, projector::TICKETS)
            .await
            .unwrap(),
        Some(2),
        "a rebuild started"
    );
    let generation = live.rebuild(|_| {}).await.unwrap();
    assert_eq!(generation, 2);
    // The retired generation no longer serves, so the rebuild swaps at the visible head; another
    // test's open transaction may hold the fourth event back for a moment, and the new active
    // generation picks it up from there.
    catch_up(&live, &db.app_pool).await;
    assert_eq!(
        count(
            &db.app_pool,
            "SELECT count(*) FROM rm_tickets WHERE generation = $1",
            2
        )
        .await,
        4
    );
}
