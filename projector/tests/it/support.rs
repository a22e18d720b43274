//! What several projector tests need: a runner for any projection, catching a runner up with
//! everything stored, and configuration defined through the command side.

use std::sync::Arc;
use std::time::Duration;

use command_service::auth::Actor;
use domain::config::{ConfigCommand, ConfigName, Kind};
use projector::checkpoint;
use projector::metrics::ProjectorMetrics;
use projector::runner::{Projection, Runner, RunnerSettings, Step};
use serde_json::Value;
use sqlx::PgPool;

/// A runner of `projection` as worker `worker`, in batches of `batch_size`.
pub async fn runner_of(
    pool: &PgPool,
    projection: Arc<dyn Projection>,
    worker: &str,
    batch_size: u32,
) -> Runner {
    Runner::new(
        RunnerSettings {
            pool: pool.clone(),
            batch_size,
            lease_ttl: Duration::from_secs(2),
            poll_interval: Duration::from_millis(20),
            worker: worker.to_owned(),
        },
        projection,
        Arc::new(ProjectorMetrics::default()),
    )
    .await
    .expect("runner")
}

/// Steps `runner`'s active generation until it has applied every stored event.
pub async fn catch_up_all(runner: &Runner, pool: &PgPool) {
    let name = runner.projection().name();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .unwrap();
    for _ in 0..3_000 {
        let active = checkpoint::active(pool, name)
            .await
            .unwrap()
            .expect("checkpoint");
        if active.events_applied == stored {
            return;
        }
        if !matches!(
            runner.step(active.generation, false).await.unwrap(),
            Step::Applied(applied) if applied > 0
        ) {
            // Another test's open transaction may hold the horizon back for a moment.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let active = checkpoint::active(pool, name).await.unwrap();
    panic!("projection {name} did not catch up: {active:?}");
}

/// Defines configuration item `name` of `kind` as an administrator.
pub async fn define(pool: &PgPool, kind: Kind, name: &str, definition: Value) {
    let admin = Actor {
        user: "admin".to_owned(),
        roles: vec!["admin".to_owned()],
    };
    command_service::config::execute(
        pool,
        &admin,
        kind,
        &ConfigName::try_from(name.to_owned()).unwrap(),
        ConfigCommand::Define { definition },
        None,
        uuid::Uuid::new_v4(),
    )
    .await
    .expect("configuration accepted");
}
