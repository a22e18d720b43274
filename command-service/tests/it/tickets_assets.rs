//! Tickets naming affected assets (`link_asset`, `unlink_asset`): the asset must exist as an
//! `asset` stream; linking twice and unlinking what is not linked are named refusals.

use command_service::assets::service::{self, LoadedAsset, Origin};
use domain::asset::{AssetEvent, AssetId};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app, with_token, TestApp};

/// Records an asset straight in the store (one `asset.registered` event); returns its id.
async fn register_asset(app: &TestApp, name: &str) -> Uuid {
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
        &app.pool,
        &origin,
        AssetId(id),
        &LoadedAsset::default(),
        &[event],
    )
    .await
    .expect("asset appended");
    id
}

fn link(asset: Uuid) -> Value {
    json!({"type": "link_asset", "asset_id": asset})
}

fn unlink(asset: Uuid) -> Value {
    json!({"type": "unlink_asset", "asset_id": asset})
}

#[tokio::test]
async fn linking_an_existing_asset_records_it_and_unlinking_removes_it() {
    let app = spawn_app().await;
    let ticket = app.open_ticket().await.id;
    let asset = register_asset(&app, "NB-0815").await;

    let linked = app.command_ok(&ticket.to_string(), &link(asset)).await;
    let unlinked = app.command_ok(&ticket.to_string(), &unlink(asset)).await;

    assert_eq!((linked.events_appended, linked.version), (1, 2));
    assert_eq!((unlinked.events_appended, unlinked.version), (1, 3));
    let stream = app.stream(ticket).await;
    let tail: Vec<(&str, &Value)> = stream[1..]
        .iter()
        .map(|event| (event.event_type.as_str(), &event.payload))
        .collect();
    let payload = json!({"asset_id": asset});
    assert_eq!(
        tail,
        [
            ("ticket.asset_linked", &payload),
            ("ticket.asset_unlinked", &payload)
        ]
    );
}

#[tokio::test]
async fn linking_an_asset_that_does_not_exist_is_422_naming_asset_id() {
    let app = spawn_app().await;
    let ticket = app.open_ticket().await.id.to_string();

    let reply = app
        .reject(
            app.command_request(&ticket, &link(Uuid::new_v4()), None)
                .header("Accept-Language", "en"),
        )
        .await;

    let body = reply.assert_field_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "asset_not_found",
        "asset_id",
    );
    assert_eq!(body["title"], "Asset not found");
}

#[tokio::test]
async fn a_ticket_is_not_an_asset() {
    let app = spawn_app().await;
    let ticket = app.open_ticket().await.id.to_string();
    let other = app.open_ticket().await.id;

    let reply = app
        .reject(app.command_request(&ticket, &link(other), None))
        .await;

    reply.assert_field_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "asset_not_found",
        "asset_id",
    );
}

#[tokio::test]
async fn linking_an_asset_twice_is_409_and_appends_nothing() {
    let app = spawn_app().await;
    let ticket = app.open_ticket().await.id.to_string();
    let asset = register_asset(&app, "NB-0815").await;
    app.command_ok(&ticket, &link(asset)).await;

    let reply = app
        .reject(app.command_request(&ticket, &link(asset), None))
        .await;

    let body = reply.assert_field_problem(StatusCode::CONFLICT, "asset_already_linked", "asset_id");
    assert_eq!(body["title"], "Asset ist bereits mit dem Ticket verknüpft");
}

#[tokio::test]
async fn unlinking_an_asset_not_linked_is_409_and_appends_nothing() {
    let app = spawn_app().await;
    let ticket = app.open_ticket().await.id.to_string();
    let asset = register_asset(&app, "NB-0815").await;

    let reply = app
        .reject(app.command_request(&ticket, &unlink(asset), None))
        .await;

    reply.assert_field_problem(StatusCode::CONFLICT, "asset_not_linked", "asset_id");
}

#[tokio::test]
async fn requesters_cannot_link_assets() {
    let app = spawn_app().await;
    let ticket = app.open_ticket().await.id.to_string();
    let asset = register_asset(&app, "NB-0815").await;
    let token = app.token("requester").await;

    let reply = app
        .reject(with_token(
            app.command_request(&ticket, &link(asset), None),
            &token,
        ))
        .await;

    reply.assert_problem(StatusCode::FORBIDDEN, "missing_right");
}
