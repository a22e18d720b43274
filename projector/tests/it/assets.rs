//! The CMDB projection: applied in small batches it equals a rebuild, relations keep each
//! period they held, import runs count missed runs per source, and a past asset (state and
//! relations) is exactly what held at the instant.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use command_service::assets::codec;
use domain::asset::{
    AssetEvent, AssetId, CoreField, ImportCompleted, Lifecycle, RelationType, SourceKey, SourceName,
};
use event_store::testing::TestDatabase;
use event_store::{AppendRequest, Metadata};
use projector::assets::{asset_as_of, AssetProjection, RelationRow};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{catch_up_all, runner_of};

/// Appends asset events and import records with realistic metadata, chaining each stream.
#[derive(Debug)]
struct Store {
    pool: PgPool,
    heads: HashMap<Uuid, (u64, [u8; 32])>,
}

impl Store {
    fn new(pool: &PgPool) -> Store {
        Store {
            pool: pool.clone(),
            heads: HashMap::new(),
        }
    }

    async fn append(
        &mut self,
        stream_type: &str,
        stream_id: Uuid,
        events: Vec<event_store::NewEvent>,
    ) {
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
            .get(&stream_id)
            .copied()
            .unwrap_or((0, event_store::hash::GENESIS));
        let count = events.len() as u64;
        let outcome = event_store::append(
            &self.pool,
            AppendRequest {
                stream_type,
                stream_id,
                expected_version: version,
                previous_hash: hash,
                metadata: &metadata,
                events,
                result: json!({}),
            },
        )
        .await
        .expect("append");
        self.heads
            .insert(stream_id, (version + count, outcome.last_hash));
    }

    async fn asset(&mut self, id: Uuid, events: &[AssetEvent]) {
        let encoded = events.iter().map(codec::encode).collect();
        self.append(codec::STREAM_TYPE, id, encoded).await;
    }

    async fn import(&mut self, record: &ImportCompleted) {
        let stream = codec::import_stream_id(record.source.as_str());
        self.append(
            codec::IMPORT_STREAM_TYPE,
            stream,
            vec![codec::encode_import(record)],
        )
        .await;
    }
}

fn source(name: &str) -> SourceName {
    SourceName::try_from(name.to_owned()).unwrap()
}

fn registered(id: Uuid, name: &str, from: Option<(&str, &str)>) -> AssetEvent {
    let mut fields = BTreeMap::new();
    fields.insert(CoreField::Name, name.to_owned());
    fields.insert(
        CoreField::InventoryNumber,
        format!("INV-{}", &id.simple().to_string()[..6]),
    );
    fields.insert(CoreField::Location, "B-2.14".to_owned());
    let mut attributes = BTreeMap::new();
    attributes.insert("os".to_owned(), json!("Windows 11"));
    attributes.insert("ram_gb".to_owned(), json!(16));
    AssetEvent::Registered {
        id: AssetId(id),
        class: "notebook".to_owned(),
        fields,
        attributes,
        lifecycle: Lifecycle::InStock,
        source: from.map(|(name, external_id)| SourceKey {
            source: source(name),
            external_id: external_id.to_owned(),
        }),
    }
}

fn updated(location: &str, ram_gb: Option<i64>) -> AssetEvent {
    AssetEvent::Updated {
        fields: BTreeMap::from([(CoreField::Location, Some(location.to_owned()))]),
        attributes: BTreeMap::from([("ram_gb".to_owned(), ram_gb.map(|ram| json!(ram)))]),
        source: None,
    }
}

fn related(relation: RelationType, target: Uuid) -> AssetEvent {
    AssetEvent::Related {
        relation,
        target: AssetId(target),
    }
}

fn unrelated(relation: RelationType, target: Uuid) -> AssetEvent {
    AssetEvent::Unrelated {
        relation,
        target: AssetId(target),
    }
}

fn run(name: &str, run: u64, missing: &[Uuid], flagged: &[Uuid]) -> ImportCompleted {
    ImportCompleted {
        source: source(name),
        run,
        format: "csv".to_owned(),
        rows: 10,
        created: 0,
        updated: 1,
        unchanged: 9,
        rejected_count: 0,
        rejected: vec![],
        events_written: 1,
        missing: missing.iter().map(|id| AssetId(*id)).collect(),
        flagged: flagged.iter().map(|id| AssetId(*id)).collect(),
    }
}

/// A corpus of `assets` assets: registrations (half from a source), updates, lifecycle
/// changes, relations made and ended, import runs with missing assets and their flags.
async fn corpus(store: &mut Store, assets: usize, round: u64) -> Vec<Uuid> {
    let ids: Vec<Uuid> = (0..assets).map(|_| Uuid::new_v4()).collect();
    for (index, id) in ids.iter().enumerate() {
        let from = (index % 2 == 0).then(|| ("baramundi", format!("PC-{round}-{index}")));
        let event = registered(
            *id,
            &format!("Notebook {round}-{index}"),
            from.as_ref()
                .map(|(name, external)| (*name, external.as_str())),
        );
        store.asset(*id, &[event]).await;
    }
    for (index, id) in ids.iter().enumerate() {
        let target = ids[(index + 1) % ids.len()];
        let mut events = vec![updated(&format!("C-{index}"), Some(32))];
        if index % 3 == 0 {
            events.push(AssetEvent::LifecycleChanged {
                from: Lifecycle::InStock,
                to: Lifecycle::Deployed,
                reason: Some("Ausgabe an Mitarbeiterin".to_owned()),
            });
        }
        events.push(related(RelationType::ConnectedTo, target));
        if index % 4 == 0 {
            events.push(unrelated(RelationType::ConnectedTo, target));
        }
        store.asset(*id, &events).await;
    }
    let sourced: Vec<Uuid> = ids.iter().step_by(2).copied().collect();
    store
        .import(&run("baramundi", 2 * round - 1, &sourced[..1], &[]))
        .await;
    store
        .asset(
            sourced[0],
            &[AssetEvent::MissingFlagged {
                source: source("baramundi"),
                missed_runs: 2,
            }],
        )
        .await;
    store
        .import(&run("baramundi", 2 * round, &sourced[..1], &sourced[..1]))
        .await;
    for id in ids.iter().skip(1).step_by(4) {
        store
            .asset(
                *id,
                &[
                    updated("Lager", None),
                    related(RelationType::DependsOn, ids[0]),
                ],
            )
            .await;
    }
    ids
}

async fn digest(pool: &PgPool, generation: i32) -> String {
    projector::assets::digest(pool, generation).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_equals_rebuilt() {
    let db = TestDatabase::create().await;
    let pool = &db.app_pool;
    let mut store = Store::new(pool);
    let live = runner_of(pool, Arc::new(AssetProjection::new()), "live", 3).await;
    corpus(&mut store, 12, 1).await;
    catch_up_all(&live, pool).await;
    corpus(&mut store, 9, 2).await;
    catch_up_all(&live, pool).await;

    let assets: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_assets WHERE generation = 1")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(assets, 21);
    let history: i64 =
        sqlx::query_scalar("SELECT count(*) FROM rm_asset_history WHERE generation = 1")
            .fetch_one(pool)
            .await
            .unwrap();
    let asset_events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE stream_type = 'asset'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(history, asset_events, "one history row per asset event");
    let imports: i64 =
        sqlx::query_scalar("SELECT count(*) FROM rm_asset_imports WHERE generation = 1")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(imports, 4);
    let live_digest = digest(pool, 1).await;

    let rebuilder = runner_of(pool, Arc::new(AssetProjection::new()), "rebuilder", 1_000).await;
    let generation = rebuilder.rebuild(|_| {}).await.expect("rebuild");
    assert_eq!(generation, 2);
    assert_eq!(
        digest(pool, 2).await,
        live_digest,
        "incremental equals rebuilt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relation_made_ended_and_made_again_keeps_both_periods() {
    let db = TestDatabase::create().await;
    let pool = &db.app_pool;
    let mut store = Store::new(pool);
    let (server, app, other_app) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for (id, name) in [(server, "srv-db-01"), (app, "SAP ERP"), (other_app, "DMS")] {
        store.asset(id, &[registered(id, name, None)]).await;
    }
    // One pair across batches of one event, the other within one batch.
    let step = runner_of(pool, Arc::new(AssetProjection::new()), "step", 1).await;
    store
        .asset(app, &[related(RelationType::RunsOn, server)])
        .await;
    store
        .asset(app, &[unrelated(RelationType::RunsOn, server)])
        .await;
    store
        .asset(app, &[related(RelationType::RunsOn, server)])
        .await;
    catch_up_all(&step, pool).await;
    let batch = runner_of(pool, Arc::new(AssetProjection::new()), "batch", 1_000).await;
    store
        .asset(
            other_app,
            &[
                related(RelationType::RunsOn, server),
                unrelated(RelationType::RunsOn, server),
                related(RelationType::RunsOn, server),
            ],
        )
        .await;
    catch_up_all(&batch, pool).await;

    for source_id in [app, other_app] {
        let rows: Vec<RelationRow> = sqlx::query_as(
            "SELECT source_id, relation, target_id, valid_from, valid_to, from_version \
             FROM rm_asset_relations WHERE generation = 1 AND source_id = $1 \
             ORDER BY from_version",
        )
        .bind(source_id)
        .fetch_all(pool)
        .await
        .unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        let key = |row: &RelationRow| (row.relation.clone(), row.target_id, row.from_version);
        assert_eq!(key(&rows[0]), ("runs_on".to_owned(), server, 2));
        assert_eq!(key(&rows[1]), ("runs_on".to_owned(), server, 4));
        let ended = rows[0].valid_to.expect("the first period ended");
        assert!(
            rows[0].valid_from <= ended && ended <= rows[1].valid_from,
            "{rows:?}"
        );
        assert_eq!(rows[1].valid_to, None, "the second period holds");
    }
    let changes: Vec<(String, Value)> = sqlx::query_as(
        "SELECT event_type, change FROM rm_asset_history WHERE generation = 1 AND asset_id = $1 \
         ORDER BY version",
    )
    .bind(app)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(changes[1].0, "asset.related");
    assert_eq!(
        changes[2].1,
        json!({"relation": "runs_on", "target": server})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_runs_count_missed_runs_per_source_and_mark_the_others_seen() {
    let db = TestDatabase::create().await;
    let pool = &db.app_pool;
    let mut store = Store::new(pool);
    let runner = runner_of(pool, Arc::new(AssetProjection::new()), "imports", 2).await;
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    for (index, id) in ids.iter().enumerate() {
        let external = format!("PC-{index}");
        store
            .asset(
                *id,
                &[registered(
                    *id,
                    &format!("PC {index}"),
                    Some(("baramundi", &external)),
                )],
            )
            .await;
    }
    let manual = Uuid::new_v4();
    store
        .asset(manual, &[registered(manual, "Handeingabe", None)])
        .await;
    store.import(&run("baramundi", 1, &[], &[])).await;
    store.import(&run("baramundi", 2, &ids[..1], &[])).await;
    catch_up_all(&runner, pool).await;
    store
        .import(&run("baramundi", 3, &ids[..1], &ids[..1]))
        .await;
    store
        .asset(
            ids[0],
            &[AssetEvent::MissingFlagged {
                source: source("baramundi"),
                missed_runs: 2,
            }],
        )
        .await;
    catch_up_all(&runner, pool).await;

    let sources = |pool: PgPool| async move {
        let rows: Vec<(Uuid, i64, i32)> = sqlx::query_as(
            "SELECT asset_id, last_seen_run, missed_runs FROM rm_asset_sources \
             WHERE generation = 1 AND source = 'baramundi'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        rows.into_iter()
            .map(|(id, run, missed)| (id, (run, missed)))
            .collect::<HashMap<_, _>>()
    };
    let seen = sources(pool.clone()).await;
    assert_eq!(seen.len(), 3, "only the source's assets have rows");
    assert_eq!(seen[&ids[0]], (1, 2), "missed by runs 2 and 3");
    assert_eq!(seen[&ids[1]], (3, 0));
    assert_eq!(seen[&ids[2]], (3, 0));
    let missing: Vec<(Uuid, bool)> = sqlx::query_as(
        "SELECT asset_id, missing FROM rm_assets WHERE generation = 1 ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(missing.iter().filter(|(_, missing)| *missing).count(), 1);
    assert!(missing.contains(&(ids[0], true)));

    // Delivered again: seen, count reset, the flag cleared by its event.
    store.import(&run("baramundi", 4, &[], &[])).await;
    store
        .asset(
            ids[0],
            &[AssetEvent::MissingCleared {
                source: source("baramundi"),
            }],
        )
        .await;
    catch_up_all(&runner, pool).await;
    let seen = sources(pool.clone()).await;
    assert!(seen.values().all(|state| *state == (4, 0)), "{seen:?}");
    let flagged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM rm_assets WHERE generation = 1 AND missing")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(flagged, 0);
    let reports: Vec<(i64, Value)> = sqlx::query_as(
        "SELECT run, report FROM rm_asset_imports WHERE generation = 1 ORDER BY run",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(reports.len(), 4);
    assert_eq!(reports[2].1["missing"], json!([ids[0]]));
    assert_eq!(reports[2].1["format"], "csv");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_past_asset_has_the_state_and_relations_of_its_instant() {
    let db = TestDatabase::create().await;
    let pool = &db.app_pool;
    let mut store = Store::new(pool);
    let runner = runner_of(pool, Arc::new(AssetProjection::new()), "as-of", 1_000).await;
    let (notebook, dock, licence) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let mut instants = Vec::new();
    let mark = || async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let at = Utc::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        at
    };
    instants.push(mark().await); // 0: nothing yet
    store
        .asset(dock, &[registered(dock, "Dockingstation", None)])
        .await;
    store
        .asset(licence, &[registered(licence, "Office-Lizenz", None)])
        .await;
    store
        .asset(notebook, &[registered(notebook, "NB-Meier", None)])
        .await;
    instants.push(mark().await); // 1: registered, no relations
    store
        .asset(
            notebook,
            &[
                related(RelationType::ConnectedTo, dock),
                updated("C-1", Some(32)),
            ],
        )
        .await;
    store
        .asset(licence, &[related(RelationType::InstalledOn, notebook)])
        .await;
    instants.push(mark().await); // 2: connected, licence installed on it, moved
    store
        .asset(notebook, &[unrelated(RelationType::ConnectedTo, dock)])
        .await;
    store
        .asset(
            notebook,
            &[AssetEvent::LifecycleChanged {
                from: Lifecycle::InStock,
                to: Lifecycle::InRepair,
                reason: None,
            }],
        )
        .await;
    instants.push(mark().await); // 3: disconnected, in repair
    catch_up_all(&runner, pool).await;

    assert_eq!(
        asset_as_of(pool, notebook, instants[0]).await.unwrap(),
        None
    );
    let first = asset_as_of(pool, notebook, instants[1])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.row.version, 1);
    assert_eq!(first.row.location.as_deref(), Some("B-2.14"));
    assert!(first.outgoing.is_empty() && first.incoming.is_empty());

    let second = asset_as_of(pool, notebook, instants[2])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.row.version, 3);
    assert_eq!(second.row.location.as_deref(), Some("C-1"));
    assert_eq!(second.row.attributes["ram_gb"], 32);
    assert_eq!(second.state.lifecycle, Some(Lifecycle::InStock));
    assert_eq!(
        second
            .outgoing
            .iter()
            .map(|relation| (relation.relation.as_str(), relation.target_id))
            .collect::<Vec<_>>(),
        [("connected_to", dock)]
    );
    assert_eq!(
        second
            .incoming
            .iter()
            .map(|relation| (relation.relation.as_str(), relation.source_id))
            .collect::<Vec<_>>(),
        [("installed_on", licence)]
    );

    let third = asset_as_of(pool, notebook, instants[3])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.row.lifecycle, "in_repair");
    assert!(third.outgoing.is_empty(), "{:?}", third.outgoing);
    assert_eq!(third.incoming.len(), 1);

    // The replay equals the projected row.
    let projected: Value = sqlx::query_scalar(
        "SELECT to_jsonb(a) - 'generation' - 'search' FROM rm_assets a \
         WHERE generation = 1 AND asset_id = $1",
    )
    .bind(notebook)
    .fetch_one(pool)
    .await
    .unwrap();
    let projected: projector::assets::AssetRow = serde_json::from_value(projected).unwrap();
    assert_eq!(third.row, projected);
}
