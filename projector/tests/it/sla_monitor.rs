//! The SLA monitor records each warning and each breach once — across a second round before the
//! projection caught up (a restart in the middle of a run), a fresh service (a new process) and
//! after the clocks have seen the records — at the instant the clock computes.

use std::sync::Arc;

use chrono::Duration as Span;
use domain::config::Kind;
use event_store::crypto::MasterKey;
use event_store::testing::TestDatabase;
use projector::sla::SlaProjection;
use projector::sla_monitor::round;
use serde_json::json;
use sqlx::PgPool;

use crate::corpus;
use crate::support::{catch_up_all, define, runner_of};

async fn count(pool: &PgPool, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_warning_and_breach_is_recorded_once_at_the_clocks_instant() {
    let db = TestDatabase::create().await;
    let pool = &db.app_pool;
    let master_key = MasterKey::generate();
    master_key.check_against(pool).await.expect("record key");
    let day = json!(["00:00-24:00"]);
    define(
        pool,
        Kind::Calendar,
        "immer",
        json!({"weekly_hours": {
        "mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}}),
    )
    .await;
    define(
        pool,
        Kind::SlaPolicy,
        "default",
        json!({"title": "Standard", "calendar": "immer",
        "targets": [{"first_response_minutes": 10, "resolution_minutes": 100}],
        "warning_percent": [50, 90]}),
    )
    .await;
    let service = corpus::service(pool, &master_key);
    let (ticket, _) = corpus::open(&service, 1).await;
    let runner = runner_of(pool, Arc::new(SlaProjection::new()), "sla", 100).await;
    catch_up_all(&runner, pool).await;
    let opened_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT occurred_at FROM events WHERE event_type = 'ticket.opened'")
            .fetch_one(pool)
            .await
            .unwrap();

    // Before the first threshold: nothing.
    assert_eq!(
        round(&service, pool, opened_at + Span::minutes(4))
            .await
            .unwrap(),
        0
    );
    // 6 minutes in: the first response's 50 % (5 min) has come.
    assert_eq!(
        round(&service, pool, opened_at + Span::minutes(6))
            .await
            .unwrap(),
        1
    );
    // Three hours in: everything else — first response 90 % and breach, resolution 50 %, 90 %
    // and breach. A second round before the projection saw them (a restart in the middle of a
    // run) and a fresh service (another process) append nothing.
    let late = opened_at + Span::hours(3);
    assert_eq!(round(&service, pool, late).await.unwrap(), 5);
    assert_eq!(round(&service, pool, late).await.unwrap(), 0);
    let restarted = corpus::service(pool, &master_key);
    assert_eq!(round(&restarted, pool, late).await.unwrap(), 0);
    catch_up_all(&runner, pool).await;
    assert_eq!(round(&restarted, pool, late).await.unwrap(), 0);
    let next: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT next_deadline_at FROM rm_sla_clocks WHERE ticket_id = $1")
            .bind(ticket.as_uuid())
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(next, None, "nothing left to record");

    assert_eq!(count(pool, "ticket.sla_warning_reached").await, 4);
    assert_eq!(count(pool, "ticket.sla_breached").await, 2);
    let breaches: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT payload ->> 'metric', payload ->> 'due_at', actor FROM events \
         WHERE event_type = 'ticket.sla_breached' ORDER BY payload ->> 'metric'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let at = |minutes: i64| {
        (opened_at + Span::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    };
    assert_eq!(breaches[0].0, "first_response");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(&breaches[0].1).unwrap(),
        chrono::DateTime::parse_from_rfc3339(&at(10)).unwrap()
    );
    assert_eq!(breaches[1].0, "resolution");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(&breaches[1].1).unwrap(),
        chrono::DateTime::parse_from_rfc3339(&at(100)).unwrap()
    );
    assert_eq!(breaches[0].2, projector::sla_monitor::MONITOR_USER);
}
