//! The SLA clock projection: clocks after live projection (with configuration changing while
//! tickets flow) equal the clocks after a rebuild, and the clocks follow the tickets' lifecycles.

use std::sync::Arc;

use domain::config::Kind;
use event_store::crypto::MasterKey;
use event_store::testing::TestDatabase;
use projector::sla::SlaProjection;
use serde_json::json;

use crate::corpus;
use crate::support::{catch_up_all, define, runner_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_clocks_equal_rebuilt_clocks_with_configuration_changing_midway() {
    let db = TestDatabase::create().await;
    let pool = &db.app_pool;
    let master_key = MasterKey::generate();
    master_key.check_against(pool).await.expect("record key");
    let day = json!(["00:00-24:00"]);
    define(
        pool,
        Kind::Calendar,
        "rund-um-die-uhr",
        json!({"weekly_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}}),
    )
    .await;
    define(
        pool,
        Kind::SlaPolicy,
        "default",
        json!({"title": "Standard", "calendar": "rund-um-die-uhr", "targets": [
            {"priorities": ["critical"], "first_response_minutes": 15, "resolution_minutes": 120},
            {"first_response_minutes": 60, "resolution_minutes": 480},
        ]}),
    )
    .await;
    let live = runner_of(pool, Arc::new(SlaProjection::new()), "live", 7).await;
    let service = corpus::service(pool, &master_key);
    corpus::generate(service.clone(), 40, 2).await;
    catch_up_all(&live, pool).await;
    // Configuration changes while tickets flow: new hours, new targets.
    let weekday = json!(["07:00-19:00"]);
    define(
        pool,
        Kind::Calendar,
        "rund-um-die-uhr",
        json!({"weekly_hours": {"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday}, "state": "BE"}),
    )
    .await;
    define(
        pool,
        Kind::SlaPolicy,
        "default",
        json!({"title": "Standard", "calendar": "rund-um-die-uhr", "on_reopen": "restart", "targets": [
            {"priorities": ["critical", "high"], "first_response_minutes": 30, "resolution_minutes": 240},
            {"first_response_minutes": 90, "resolution_minutes": 600},
        ]}),
    )
    .await;
    corpus::generate(service, 40, 2).await;
    catch_up_all(&live, pool).await;

    let tickets: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT stream_id) FROM events WHERE stream_type = 'ticket'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let clocks: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_sla_clocks WHERE generation = 1")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(
        clocks, tickets,
        "every ticket has clocks under the default policy"
    );
    let states: Vec<(String, i64)> = sqlx::query_as(
        "SELECT resolution_state, count(*) FROM rm_sla_clocks WHERE generation = 1 \
         GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let states: std::collections::BTreeMap<String, i64> = states.into_iter().collect();
    // The corpus resolves a quarter (and closes it), cancels a quarter, reopens a quarter and
    // leaves a quarter pending-then-answered (running or paused).
    assert!(states.get("met").copied().unwrap_or(0) > 0, "{states:?}");
    assert!(
        states.get("stopped").copied().unwrap_or(0) > 0,
        "{states:?}"
    );
    assert!(
        states.get("running").copied().unwrap_or(0) + states.get("paused").copied().unwrap_or(0)
            > 0,
        "{states:?}"
    );
    let versions: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT (s ->> 'calendar_version')::bigint FROM rm_sla_clocks, \
         jsonb_array_elements(clocks -> 'clocks') c, jsonb_array_elements(c -> 'segments') s \
         WHERE generation = 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        versions,
        [1, 2],
        "segments counted in both calendar versions"
    );
    let live_digest = projector::sla::digest(pool, 1).await.unwrap();

    let rebuilder = runner_of(pool, Arc::new(SlaProjection::new()), "rebuilder", 1_000).await;
    let generation = rebuilder.rebuild(|_| {}).await.expect("rebuild");
    assert_eq!(generation, 2);
    assert_eq!(
        projector::sla::digest(pool, 2).await.unwrap(),
        live_digest,
        "incremental equals rebuilt"
    );
}
