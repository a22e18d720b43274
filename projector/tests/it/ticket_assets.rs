//! The assets a ticket names (`rm_ticket_assets`) follow `ticket.asset_linked` and
//! `ticket.asset_unlinked`, batch by batch as in one rebuild, and the timeline records both.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use command_service::assets::service::{self, LoadedAsset, Origin};
use command_service::auth::Actor;
use command_service::tickets::{CommandRequest, TicketService};
use domain::asset::{AssetEvent, AssetId};
use domain::ticket::{TicketCommand, TicketId};
use event_store::crypto::{MasterKey, PersonalDataVault};
use event_store::testing::TestDatabase;
use projector::checkpoint;
use projector::tickets::TicketProjection;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::corpus;
use crate::support::{catch_up_all, runner_of};

/// Records an asset straight in the store (one `asset.registered` event); returns its id.
async fn register_asset(pool: &PgPool, name: &str) -> Uuid {
    let id = Uuid::new_v4();
    let event: AssetEvent = serde_json::from_value(json!({
        "event_type": "asset.registered",
        "id": id,
        "class": "laptop",
        "fields": {"name": name},
        "attributes": {},
        "lifecycle": "deployed",
    }))
    .expect("a registered event");
    let origin = Origin {
        actor: "admin".to_owned(),
        origin: "api",
        correlation_id: Uuid::new_v4(),
    };
    service::append(
        pool,
        &origin,
        AssetId(id),
        &LoadedAsset::default(),
        &[event],
    )
    .await
    .expect("asset appended");
    id
}

async fn execute(service: &TicketService, ticket: TicketId, command: Value) {
    let command: TicketCommand = serde_json::from_value(command).expect("command parses");
    service
        .execute(CommandRequest {
            ticket,
            command,
            actor: Actor {
                user: "a.agentin".to_owned(),
                roles: vec!["agent".to_owned()],
            },
            expected_version: None,
            idempotency_key: None,
            correlation_id: Uuid::new_v4(),
            origin: "api".to_owned(),
            scope: None,
        })
        .await
        .expect("command accepted");
}

async fn link(service: &TicketService, ticket: TicketId, asset: Uuid) {
    execute(
        service,
        ticket,
        json!({"type": "link_asset", "asset_id": asset}),
    )
    .await;
}

async fn unlink(service: &TicketService, ticket: TicketId, asset: Uuid) {
    execute(
        service,
        ticket,
        json!({"type": "unlink_asset", "asset_id": asset}),
    )
    .await;
}

/// `(ticket, asset, linked_at)` of `generation`, in key order.
async fn ticket_assets(pool: &PgPool, generation: i32) -> Vec<(Uuid, Uuid, DateTime<Utc>)> {
    sqlx::query_as(
        "SELECT ticket_id, asset_id, linked_at FROM rm_ticket_assets \
         WHERE generation = $1 ORDER BY ticket_id, asset_id",
    )
    .bind(generation)
    .fetch_all(pool)
    .await
    .expect("ticket assets")
}

/// When the last `ticket.asset_linked` of `ticket` naming `asset` was recorded.
async fn last_linked_at(pool: &PgPool, ticket: TicketId, asset: Uuid) -> DateTime<Utc> {
    sqlx::query_scalar(
        "SELECT occurred_at FROM events WHERE stream_id = $1 \
           AND event_type = 'ticket.asset_linked' AND payload->>'asset_id' = $2 \
         ORDER BY stream_version DESC LIMIT 1",
    )
    .bind(ticket.as_uuid())
    .bind(asset.to_string())
    .fetch_one(pool)
    .await
    .expect("linked event")
}

#[tokio::test]
async fn ticket_assets_follow_links_and_unlinks_and_a_rebuild_gives_the_same() {
    let db = TestDatabase::create().await;
    let pool = &db.app_pool;
    let master_key = MasterKey::generate();
    let service = corpus::service(pool, &master_key);
    let (first, _) = corpus::open(&service, 1).await;
    let (second, _) = corpus::open(&service, 2).await;
    let [laptop, printer, phone] = [
        register_asset(pool, "NB-0815").await,
        register_asset(pool, "PR-2OG").await,
        register_asset(pool, "TEL-4711").await,
    ];
    let projection = TicketProjection::new(pool.clone(), PersonalDataVault::new(&master_key));
    // Batches of two cut through the commands below.
    let live = runner_of(pool, Arc::new(projection), "live", 2).await;

    link(&service, first, laptop).await;
    link(&service, first, printer).await;
    unlink(&service, first, laptop).await;
    link(&service, first, laptop).await;
    link(&service, second, printer).await;
    link(&service, second, phone).await;
    unlink(&service, second, phone).await;
    catch_up_all(&live, pool).await;

    let mut expected = vec![
        (
            first.as_uuid(),
            laptop,
            last_linked_at(pool, first, laptop).await,
        ),
        (
            first.as_uuid(),
            printer,
            last_linked_at(pool, first, printer).await,
        ),
        (
            second.as_uuid(),
            printer,
            last_linked_at(pool, second, printer).await,
        ),
    ];
    expected.sort_by_key(|(ticket, asset, _)| (*ticket, *asset));
    assert_eq!(ticket_assets(pool, 1).await, expected);
    let history: Vec<(String, Value)> = sqlx::query_as(
        "SELECT event_type, changes FROM rm_history WHERE generation = 1 AND ticket_id = $1 \
         AND event_type LIKE 'ticket.asset_%' ORDER BY version",
    )
    .bind(first.as_uuid())
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(
        history[2],
        (
            "ticket.asset_unlinked".to_owned(),
            json!([{"field": "assets", "from": laptop, "to": null}])
        )
    );

    let live_digest = live.projection().digest(pool, 1).await.unwrap();
    let projection = TicketProjection::new(pool.clone(), PersonalDataVault::new(&master_key));
    // One batch holds every event: each link's last effect wins within it.
    let rebuilder = runner_of(pool, Arc::new(projection), "rebuilder", 1_000).await;
    let generation = rebuilder.rebuild(|_| {}).await.expect("rebuild");
    assert_eq!(generation, 2);
    assert_eq!(ticket_assets(pool, 2).await, expected);
    let rebuilt_digest = rebuilder.projection().digest(pool, 2).await.unwrap();
    assert_eq!(live_digest, rebuilt_digest, "incremental equals rebuilt");
    assert_eq!(
        checkpoint::active_generation(pool, projector::TICKETS)
            .await
            .unwrap(),
        Some(2)
    );
    assert!(
        ticket_assets(pool, 1).await.is_empty(),
        "the retired generation's rows are removed"
    );
}
