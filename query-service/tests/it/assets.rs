//! The CMDB reads: asset events appended to the store and projected by the real asset
//! projection, then read through the API — list filters and paging, an asset with relations from
//! both ends and its tickets, impact analysis (depth, cycles, past relations), past states, and
//! the refusals (requester, unknown asset, bad parameters).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use command_service::assets::codec;
use domain::asset::{
    AssetEvent, AssetId, CoreField, ImportCompleted, Lifecycle, RelationType, SourceKey, SourceName,
};
use event_store::{AppendRequest, Metadata, NewEvent};
use projector::assets::{AssetProjection, ASSETS};
use projector::metrics::ProjectorMetrics;
use projector::runner::{Runner, RunnerSettings, Step};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{send, spawn_app, TestApp, TicketSeed};

/// Appends asset events and import records, and projects them with the asset projection.
struct Cmdb {
    heads: HashMap<Uuid, (u64, [u8; 32])>,
    runner: Runner,
}

/// One asset to register.
struct NewAsset<'a> {
    name: &'a str,
    class: &'a str,
    lifecycle: Lifecycle,
    location: Option<&'a str>,
    user: Option<&'a str>,
    attributes: Value,
    source: Option<(&'a str, &'a str)>,
}

impl<'a> NewAsset<'a> {
    fn new(name: &'a str) -> NewAsset<'a> {
        NewAsset {
            name,
            class: "server",
            lifecycle: Lifecycle::Deployed,
            location: None,
            user: None,
            attributes: json!({}),
            source: None,
        }
    }
}

fn source(name: &str) -> SourceName {
    SourceName::try_from(name.to_owned()).unwrap()
}

impl Cmdb {
    async fn new(app: &TestApp) -> Cmdb {
        let runner = Runner::new(
            RunnerSettings {
                pool: app.db.app_pool.clone(),
                batch_size: 100,
                lease_ttl: Duration::from_secs(2),
                poll_interval: Duration::from_millis(20),
                worker: "query-test".to_owned(),
            },
            Arc::new(AssetProjection::new()),
            Arc::new(ProjectorMetrics::default()),
        )
        .await
        .expect("runner");
        Cmdb {
            heads: HashMap::new(),
            runner,
        }
    }

    async fn append(&mut self, app: &TestApp, stream_type: &str, id: Uuid, events: Vec<NewEvent>) {
        let metadata = Metadata::new(
            "c.asset".to_owned(),
            Utc::now(),
            "api".to_owned(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let (version, hash) = self
            .heads
            .get(&id)
            .copied()
            .unwrap_or((0, event_store::hash::GENESIS));
        let count = events.len() as u64;
        let outcome = event_store::append(
            &app.db.app_pool,
            AppendRequest {
                stream_type,
                stream_id: id,
                expected_version: version,
                previous_hash: hash,
                metadata: &metadata,
                events,
                result: json!({}),
            },
        )
        .await
        .expect("append");
        self.heads.insert(id, (version + count, outcome.last_hash));
    }

    async fn events(&mut self, app: &TestApp, id: Uuid, events: &[AssetEvent]) {
        let encoded = events.iter().map(codec::encode).collect();
        self.append(app, codec::STREAM_TYPE, id, encoded).await;
    }

    async fn register(&mut self, app: &TestApp, asset: NewAsset<'_>) -> Uuid {
        let id = Uuid::new_v4();
        let mut fields = BTreeMap::from([(CoreField::Name, asset.name.to_owned())]);
        if let Some(location) = asset.location {
            fields.insert(CoreField::Location, location.to_owned());
        }
        if let Some(user) = asset.user {
            fields.insert(CoreField::User, user.to_owned());
        }
        let event = AssetEvent::Registered {
            id: AssetId(id),
            class: asset.class.to_owned(),
            fields,
            attributes: serde_json::from_value(asset.attributes).unwrap(),
            lifecycle: asset.lifecycle,
            source: asset.source.map(|(name, external_id)| SourceKey {
                source: source(name),
                external_id: external_id.to_owned(),
            }),
        };
        self.events(app, id, &[event]).await;
        id
    }

    async fn relate(&mut self, app: &TestApp, from: Uuid, relation: RelationType, to: Uuid) {
        let event = AssetEvent::Related {
            relation,
            target: AssetId(to),
        };
        self.events(app, from, &[event]).await;
    }

    async fn import(&mut self, app: &TestApp, name: &str, run: u64, missing: &[Uuid]) {
        let record = ImportCompleted {
            source: source(name),
            run,
            format: "csv".to_owned(),
            rows: 2,
            created: 0,
            updated: 0,
            unchanged: 2,
            rejected_count: 0,
            rejected: vec![],
            events_written: 0,
            missing: missing.iter().map(|id| AssetId(*id)).collect(),
            flagged: vec![],
        };
        let stream = codec::import_stream_id(name);
        let encoded = vec![codec::encode_import(&record)];
        self.append(app, codec::IMPORT_STREAM_TYPE, stream, encoded)
            .await;
    }

    /// Applies everything stored to the asset projection's active generation (another test's
    /// open transaction may hold the store's horizon back for a moment).
    async fn project(&self, app: &TestApp) {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&app.db.app_pool)
            .await
            .unwrap();
        for _ in 0..3_000 {
            let applied = projector::checkpoint::active(&app.db.app_pool, ASSETS)
                .await
                .unwrap()
                .map_or(0, |checkpoint| checkpoint.events_applied);
            if applied == stored {
                return;
            }
            match self.runner.step(1, false).await.expect("step") {
                Step::Applied(_) => {}
                Step::Idle => tokio::time::sleep(Duration::from_millis(10)).await,
                other => panic!("the asset projection did not apply: {other:?}"),
            }
        }
        panic!("the asset projection did not catch up");
    }
}

/// Links `ticket` to `asset` as the ticket projection does (generation 1).
async fn link(app: &TestApp, ticket: Uuid, asset: Uuid) {
    sqlx::query(
        "INSERT INTO rm_ticket_assets (generation, ticket_id, asset_id, linked_at) \
         VALUES (1, $1, $2, now())",
    )
    .bind(ticket)
    .bind(asset)
    .execute(&app.db.owner_pool)
    .await
    .expect("link ticket and asset");
}

fn names(body: &Value, list: &str) -> Vec<String> {
    body[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list}: {body}"))
        .iter()
        .map(|item| item["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn list(app: &TestApp, query: &[(&str, &str)]) -> Vec<String> {
    let body = send(app.get("/api/v1/assets").query(query)).await.ok();
    names(&body, "items")
}

#[tokio::test]
async fn the_asset_list_filters_and_pages_by_name() {
    let app = spawn_app().await;
    let mut cmdb = Cmdb::new(&app).await;
    let printer = cmdb
        .register(
            &app,
            NewAsset {
                class: "printer",
                location: Some("B-2.14"),
                attributes: json!({"colour": true, "model": "Drucker Büro 3000"}),
                ..NewAsset::new("Etagendrucker")
            },
        )
        .await;
    cmdb.register(
        &app,
        NewAsset {
            class: "notebook",
            location: Some("B-2.14"),
            user: Some("k.meier"),
            attributes: json!({"ram_gb": 16, "os": "Windows 11"}),
            source: Some(("baramundi", "NB-1")),
            ..NewAsset::new("NB-Meier")
        },
    )
    .await;
    let lost = cmdb
        .register(
            &app,
            NewAsset {
                class: "notebook",
                lifecycle: Lifecycle::InStock,
                attributes: json!({"ram_gb": 32, "os": "Windows 11"}),
                source: Some(("baramundi", "NB-2")),
                ..NewAsset::new("NB-Lager")
            },
        )
        .await;
    for name in ["srv-app-01", "srv-db-01", "srv-web-01", "Ablage"] {
        cmdb.register(&app, NewAsset::new(name)).await;
    }
    cmdb.import(&app, "baramundi", 1, &[lost]).await;
    cmdb.events(
        &app,
        lost,
        &[AssetEvent::MissingFlagged {
            source: source("baramundi"),
            missed_runs: 1,
        }],
    )
    .await;
    cmdb.project(&app).await;

    assert_eq!(
        list(&app, &[]).await,
        [
            "Ablage",
            "Etagendrucker",
            "NB-Lager",
            "NB-Meier",
            "srv-app-01",
            "srv-db-01",
            "srv-web-01"
        ]
    );
    assert_eq!(
        list(&app, &[("class", "notebook")]).await,
        ["NB-Lager", "NB-Meier"]
    );
    assert_eq!(list(&app, &[("lifecycle", "in_stock")]).await, ["NB-Lager"]);
    assert_eq!(
        list(&app, &[("location", "B-2.14")]).await,
        ["Etagendrucker", "NB-Meier"]
    );
    assert_eq!(list(&app, &[("user", "k.meier")]).await, ["NB-Meier"]);
    assert_eq!(list(&app, &[("attr.ram_gb", "16")]).await, ["NB-Meier"]);
    assert_eq!(
        list(&app, &[("attr.os", "Windows 11"), ("attr.ram_gb", "32")]).await,
        ["NB-Lager"]
    );
    assert_eq!(
        list(&app, &[("attr.colour", "true")]).await,
        ["Etagendrucker"]
    );
    assert_eq!(list(&app, &[("missing", "true")]).await, ["NB-Lager"]);
    // Words of the name or a text attribute, umlauts optional, prefixes.
    assert_eq!(list(&app, &[("q", "buro")]).await, ["Etagendrucker"]);
    assert_eq!(list(&app, &[("q", "srv db")]).await, ["srv-db-01"]);
    assert_eq!(
        list(&app, &[("q", "meier"), ("class", "notebook")]).await,
        ["NB-Meier"]
    );
    // Pages of two, by name, until no cursor comes back.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "2".to_owned())];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.clone()));
        }
        let body = send(app.get("/api/v1/assets").query(&query)).await.ok();
        paged.extend(names(&body, "items"));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, list(&app, &[]).await);
    // The item carries what a list shows.
    let body = send(app.get("/api/v1/assets").query(&[("class", "printer")]))
        .await
        .ok();
    assert_eq!(body["items"][0]["id"], json!(printer));
    assert_eq!(body["items"][0]["attributes"]["colour"], true);
    assert_eq!(body["items"][0]["lifecycle"], "deployed");
}

#[tokio::test]
async fn an_asset_shows_relations_from_both_ends_sources_and_tickets() {
    let app = spawn_app().await;
    let mut cmdb = Cmdb::new(&app).await;
    let server = cmdb
        .register(
            &app,
            NewAsset {
                source: Some(("baramundi", "SRV-1")),
                ..NewAsset::new("srv-db-01")
            },
        )
        .await;
    let erp = cmdb
        .register(
            &app,
            NewAsset {
                class: "application",
                ..NewAsset::new("SAP ERP")
            },
        )
        .await;
    let room = cmdb
        .register(
            &app,
            NewAsset {
                class: "location",
                ..NewAsset::new("Rechenzentrum")
            },
        )
        .await;
    cmdb.relate(&app, erp, RelationType::RunsOn, server).await;
    cmdb.relate(&app, server, RelationType::LocatedIn, room)
        .await;
    cmdb.import(&app, "baramundi", 1, &[]).await;
    cmdb.project(&app).await;
    let incident = app
        .insert_ticket(TicketSeed::new(1).title("DB langsam"))
        .await;
    let closed = app
        .insert_ticket(TicketSeed::new(2).title("ERP Fehler").status("closed"))
        .await;
    link(&app, incident.id, server).await;
    link(&app, closed.id, erp).await;

    let body = send(app.get(&format!("/api/v1/assets/{server}")))
        .await
        .ok();
    assert_eq!(body["name"], "srv-db-01");
    assert_eq!(body["class"], "server");
    assert_eq!(body["lifecycle"], "deployed");
    assert_eq!(body["version"], 2);
    assert_eq!(
        body["relations"]["outgoing"],
        json!([{"relation": "located_in", "asset_id": room, "name": "Rechenzentrum",
                "since": body["relations"]["outgoing"][0]["since"]}])
    );
    assert_eq!(body["relations"]["incoming"][0]["relation"], "runs_on");
    assert_eq!(body["relations"]["incoming"][0]["asset_id"], json!(erp));
    assert_eq!(body["relations"]["incoming"][0]["name"], "SAP ERP");
    assert_eq!(body["sources"][0]["source"], "baramundi");
    assert_eq!(body["sources"][0]["external_id"], "SRV-1");
    assert_eq!(body["sources"][0]["last_seen_run"], 1);
    assert_eq!(body["sources"][0]["missed_runs"], 0);
    assert_eq!(body["sources"][0]["missing"], false);
    assert_eq!(body["tickets"][0]["number"], incident.number);
    assert_eq!(body["tickets"][0]["ticket_type"], "incident");
    assert_eq!(body["incident_state"], "affected");
    assert!(body.get("as_of").is_none());
    assert_eq!(
        body["tickets"][0]["title"], "DB langsam",
        "an agent reads the title"
    );
    let manager = app.token("a.verwalter", "asset_manager").await;
    let managed = send(app.get_as(&format!("/api/v1/assets/{server}"), &manager))
        .await
        .ok();
    assert_eq!(managed["tickets"][0]["number"], incident.number);
    assert_eq!(
        managed["tickets"][0]["title"],
        serde_json::Value::Null,
        "an asset manager does not read tickets: no title"
    );

    let body = send(app.get(&format!("/api/v1/assets/{erp}"))).await.ok();
    assert_eq!(body["relations"]["outgoing"][0]["asset_id"], json!(server));
    assert_eq!(body["relations"]["outgoing"][0]["name"], "srv-db-01");
    assert_eq!(body["relations"]["incoming"], json!([]));
    assert_eq!(body["tickets"][0]["status"], "closed");
    assert_eq!(body["incident_state"], "operational", "a closed incident");

    let history = send(app.get(&format!("/api/v1/assets/{server}/history")))
        .await
        .ok();
    let types: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["asset.registered", "asset.related"]);
    assert_eq!(
        history["items"][1]["change"],
        json!({"relation": "located_in", "target": room})
    );
    let imports = send(app.get("/api/v1/imports?source=baramundi")).await.ok();
    assert_eq!(imports["items"][0]["run"], 1);
    assert_eq!(imports["items"][0]["report"]["format"], "csv");
    let none = send(app.get("/api/v1/imports?source=sccm")).await.ok();
    assert_eq!(none["items"], json!([]));
}

#[tokio::test]
async fn impact_follows_dependants_to_the_depth_and_stops_at_cycles() {
    let app = spawn_app().await;
    let mut cmdb = Cmdb::new(&app).await;
    let mut ids = HashMap::new();
    for name in ["db", "erp", "portal", "client", "room"] {
        ids.insert(name, cmdb.register(&app, NewAsset::new(name)).await);
    }
    let before = Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    // client → portal → erp → db, and db → portal closes a cycle; room only locates.
    cmdb.relate(&app, ids["erp"], RelationType::RunsOn, ids["db"])
        .await;
    cmdb.relate(&app, ids["portal"], RelationType::DependsOn, ids["erp"])
        .await;
    cmdb.relate(
        &app,
        ids["client"],
        RelationType::UsesLicence,
        ids["portal"],
    )
    .await;
    cmdb.relate(&app, ids["db"], RelationType::DependsOn, ids["portal"])
        .await;
    cmdb.relate(&app, ids["db"], RelationType::LocatedIn, ids["room"])
        .await;
    cmdb.project(&app).await;
    let ticket = app
        .insert_ticket(TicketSeed::new(7).title("Portal down"))
        .await;
    link(&app, ticket.id, ids["portal"]).await;

    let impact = |query: &str| {
        let url = format!("/api/v1/assets/{}/impact{query}", ids["db"]);
        let request = app.get(&url);
        async move { send(request).await.ok() }
    };
    let body = impact("").await;
    let found: Vec<(String, i64, String)> = body["impacted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|asset| {
            (
                asset["name"].as_str().unwrap().to_owned(),
                asset["depth"].as_i64().unwrap(),
                asset["relation"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("erp".to_owned(), 1, "runs_on".to_owned()),
            ("portal".to_owned(), 2, "depends_on".to_owned()),
            ("client".to_owned(), 3, "uses_licence".to_owned()),
        ],
        "the cycle back to db ends there; room is not a dependant"
    );
    assert_eq!(body["impacted"][1]["via"], json!(ids["erp"]));
    assert_eq!(body["depth"], 3);
    assert_eq!(body["truncated"], false);
    assert_eq!(body["open_tickets"][0]["number"], ticket.number);
    assert_eq!(body["open_tickets"][0]["asset_id"], json!(ids["portal"]));

    assert_eq!(names(&impact("?depth=1").await, "impacted"), ["erp"]);
    assert_eq!(
        names(&impact("?depth=5").await, "impacted"),
        ["erp", "portal", "client"]
    );
    // From the portal, the cycle leads back through db.
    let url = format!("/api/v1/assets/{}/impact?depth=5", ids["portal"]);
    let body = send(app.get(&url)).await.ok();
    assert_eq!(names(&body, "impacted"), ["client", "db", "erp"]);
    // Before the relations existed, nothing depended on db.
    let auditor = app.token("r.pruefer", "auditor").await;
    let url = format!(
        "/api/v1/assets/{}/impact?as_of={}",
        ids["db"],
        before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    );
    let body = send(app.get_as(&url, &auditor)).await.ok();
    assert_eq!(body["impacted"], json!([]));
}

#[tokio::test]
async fn an_asset_as_of_a_past_moment_has_its_state_and_relations_then() {
    let app = spawn_app().await;
    let mut cmdb = Cmdb::new(&app).await;
    let notebook = cmdb
        .register(
            &app,
            NewAsset {
                class: "notebook",
                location: Some("B-2.14"),
                ..NewAsset::new("NB-Meier")
            },
        )
        .await;
    let dock = cmdb.register(&app, NewAsset::new("Dock-7")).await;
    cmdb.relate(&app, notebook, RelationType::ConnectedTo, dock)
        .await;
    let mark = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let connected = Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    cmdb.events(
        &app,
        notebook,
        &[
            AssetEvent::Unrelated {
                relation: RelationType::ConnectedTo,
                target: AssetId(dock),
            },
            AssetEvent::Updated {
                fields: BTreeMap::from([(CoreField::Location, Some("C-1".to_owned()))]),
                attributes: BTreeMap::new(),
                source: None,
            },
        ],
    )
    .await;
    cmdb.project(&app).await;

    let now = send(app.get(&format!("/api/v1/assets/{notebook}")))
        .await
        .ok();
    assert_eq!(now["location"], "C-1");
    assert_eq!(now["relations"]["outgoing"], json!([]));

    let manager = app.token("a.verwalter", "asset_manager").await;
    for (asset, direction) in [(notebook, "outgoing"), (dock, "incoming")] {
        let url = format!("/api/v1/assets/{asset}?as_of={}", mark(connected));
        let past = send(app.get_as(&url, &manager)).await.ok();
        let as_of = DateTime::parse_from_rfc3339(past["as_of"].as_str().unwrap()).unwrap();
        assert_eq!(as_of, connected.trunc_subsecs(6), "{past}");
        assert_eq!(past["relations"][direction][0]["relation"], "connected_to");
        assert_eq!(past["relations"][direction].as_array().unwrap().len(), 1);
        if asset == notebook {
            assert_eq!(past["location"], "B-2.14");
            assert_eq!(past["version"], 2);
            assert_eq!(past["relations"][direction][0]["name"], "Dock-7");
        }
    }
    let history = send(app.get(&format!("/api/v1/assets/{notebook}/history")))
        .await
        .ok();
    assert_eq!(
        history["items"][3]["change"]["changes"],
        json!([{"field": "location", "from": "B-2.14", "to": "C-1"}])
    );
    // Before its registration the asset did not exist.
    let url = format!("/api/v1/assets/{notebook}?as_of=2020-01-01T00:00:00Z");
    send(app.get_as(&url, &manager))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "asset_not_found");
    // An agent reads the present only.
    let url = format!("/api/v1/assets/{notebook}?as_of={}", mark(connected));
    send(app.get(&url))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "missing_right");
}

#[tokio::test]
async fn requesters_unknown_assets_and_bad_parameters_are_refused() {
    let app = spawn_app().await;
    let mut cmdb = Cmdb::new(&app).await;
    let server = cmdb.register(&app, NewAsset::new("srv-01")).await;
    cmdb.project(&app).await;
    let requester = app.token("e.mustermann", "requester").await;
    for url in [
        "/api/v1/assets".to_owned(),
        format!("/api/v1/assets/{server}"),
        format!("/api/v1/assets/{server}/history"),
        format!("/api/v1/assets/{server}/impact"),
        "/api/v1/imports".to_owned(),
    ] {
        send(app.get_as(&url, &requester))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "missing_right");
        send(app.client.get(app.url(&url)))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
        let supervisor = app.token("s.leiter", "supervisor").await;
        assert_eq!(
            send(app.get_as(&url, &supervisor)).await.status,
            StatusCode::OK
        );
    }
    let unknown = Uuid::new_v4();
    for url in [
        format!("/api/v1/assets/{unknown}"),
        format!("/api/v1/assets/{unknown}/history"),
        format!("/api/v1/assets/{unknown}/impact"),
        "/api/v1/assets/not-a-uuid".to_owned(),
    ] {
        send(app.get(&url))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "asset_not_found");
    }
    // Unknown parameters are refused by name, invalid ones too (422, as every read refuses).
    for (url, code, field) in [
        (
            "/api/v1/assets?colour=red".to_owned(),
            "unknown_parameter",
            "colour",
        ),
        (
            "/api/v1/assets?lifecycle=lost".to_owned(),
            "invalid_parameter",
            "lifecycle",
        ),
        (
            "/api/v1/assets?missing=ja".to_owned(),
            "invalid_parameter",
            "missing",
        ),
        (
            "/api/v1/assets?limit=201".to_owned(),
            "invalid_parameter",
            "limit",
        ),
        (
            "/api/v1/assets?cursor=abc".to_owned(),
            "invalid_parameter",
            "cursor",
        ),
        (
            "/api/v1/assets?attr.RAM=16".to_owned(),
            "invalid_parameter",
            "attr.RAM",
        ),
        (
            "/api/v1/assets?q=%26%7C".to_owned(),
            "invalid_parameter",
            "q",
        ),
        (
            format!("/api/v1/assets/{server}?as_of=gestern"),
            "invalid_parameter",
            "as_of",
        ),
        (
            format!("/api/v1/assets/{server}?deep=1"),
            "unknown_parameter",
            "deep",
        ),
        (
            format!("/api/v1/assets/{server}/impact?depth=6"),
            "invalid_parameter",
            "depth",
        ),
        (
            format!("/api/v1/assets/{server}/impact?depth=0"),
            "invalid_parameter",
            "depth",
        ),
        (
            format!("/api/v1/assets/{server}/history?cursor=x"),
            "invalid_parameter",
            "cursor",
        ),
        (
            "/api/v1/imports?limit=5".to_owned(),
            "unknown_parameter",
            "limit",
        ),
    ] {
        send(app.get(&url)).await.assert_field_problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            field,
        );
    }
}
