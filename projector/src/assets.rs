//! The CMDB projection (issue 5): current assets (`rm_assets`, with search vectors), their
//! relations with validity (`rm_asset_relations`), every change (`rm_asset_history`), when each
//! source last delivered each asset (`rm_asset_sources`) and the import runs
//! (`rm_asset_imports`), from the `asset` and `asset_import` streams.
//!
//! Like the ticket projection, a batch loads the rows of the assets it touches, folds the events
//! in memory ([`fold`], pure, over `domain::asset::Asset::apply`) and writes each table with one
//! `jsonb_to_recordset` statement, guarded so a replay changes nothing (the asset row's version,
//! the import run number). An import record marks its source's rows seen or missed with two
//! set-based updates, after the source rows registered before it in the batch are written.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use command_service::assets::codec;
use domain::asset::{Asset, AssetEvent, AssetId, CoreField, ImportCompleted, Lifecycle};
use event_store::{RecordedEvent, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::runner::{ApplyError, Projection};
use crate::search::fold as fold_text;

/// Name of the projection (checkpoint key).
pub const ASSETS: &str = "assets";
/// Version of this projection's code: raise it when the fold or the tables change.
pub const VERSION: i32 = 1;

/// An asset as the read side shows it (one `rm_assets` row without `generation` and `search`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AssetRow {
    pub asset_id: Uuid,
    pub version: i64,
    pub class: String,
    pub name: String,
    pub inventory_number: Option<String>,
    pub serial_number: Option<String>,
    pub location: Option<String>,
    pub user_name: Option<String>,
    pub owner: Option<String>,
    pub cost_centre: Option<String>,
    /// Attribute key → value.
    pub attributes: Value,
    pub lifecycle: String,
    /// Source name → `{"external_id", "missing"}`.
    pub sources: Value,
    /// Whether any source has flagged the asset missing.
    pub missing: bool,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_tx: i64,
    pub last_position: i64,
}

/// A relation's row: the source asset holds it from `valid_from` until `valid_to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RelationRow {
    pub source_id: Uuid,
    pub relation: String,
    pub target_id: Uuid,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub from_version: i64,
}

/// One entry of an asset's history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryRow {
    pub asset_id: Uuid,
    pub version: i64,
    pub event_type: String,
    pub actor: String,
    pub occurred_at: DateTime<Utc>,
    pub change: Value,
}

/// What one asset event does beside the asset row.
#[derive(Clone, Debug, PartialEq)]
pub struct Effects {
    pub history: HistoryRow,
    /// A relation began (`true`) or ended (`false`): (relation, target).
    pub relation: Option<(String, Uuid, bool)>,
    /// The asset was registered by a source: (source, external id).
    pub source: Option<(String, String)>,
}

/// Why an event does not fit the row it should apply to.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    #[error("event {version} of an asset that was never registered")]
    NotRegistered { version: i64 },
    #[error("asset.registered on an asset that exists")]
    RegisteredTwice,
    #[error("stored asset row does not decode: {0}")]
    Row(String),
}

/// The asset state a row stands for (relations live in `rm_asset_relations`, not here).
fn state_of(row: &AssetRow) -> Result<Asset, FoldError> {
    let invalid = |error: serde_json::Error| FoldError::Row(error.to_string());
    let mut fields = BTreeMap::new();
    for (field, value) in [
        (CoreField::Name, Some(&row.name)),
        (CoreField::InventoryNumber, row.inventory_number.as_ref()),
        (CoreField::SerialNumber, row.serial_number.as_ref()),
        (CoreField::Location, row.location.as_ref()),
        (CoreField::User, row.user_name.as_ref()),
        (CoreField::Owner, row.owner.as_ref()),
        (CoreField::CostCentre, row.cost_centre.as_ref()),
    ] {
        if let Some(value) = value {
            fields.insert(field, value.clone());
        }
    }
    let sources: BTreeMap<String, StoredSource> =
        serde_json::from_value(row.sources.clone()).map_err(invalid)?;
    let mut state = Asset {
        id: Some(AssetId(row.asset_id)),
        class: row.class.clone(),
        fields,
        attributes: serde_json::from_value(row.attributes.clone()).map_err(invalid)?,
        lifecycle: Some(
            Lifecycle::parse(&row.lifecycle)
                .ok_or_else(|| FoldError::Row(format!("unknown lifecycle {:?}", row.lifecycle)))?,
        ),
        version: row.version as u64,
        ..Asset::default()
    };
    for (source, stored) in sources {
        let name = source
            .try_into()
            .map_err(|_| FoldError::Row("invalid source name".to_owned()))?;
        state.sources.insert(
            name,
            domain::asset::SourceStatus {
                external_id: stored.external_id,
                missing: stored.missing,
            },
        );
    }
    Ok(state)
}

/// A source's entry in `rm_assets.sources`.
#[derive(Debug, Serialize, Deserialize)]
struct StoredSource {
    external_id: String,
    missing: bool,
}

/// The row of `state` (registered), with the times and position kept by the caller.
fn row_of(state: &Asset, registered_at: DateTime<Utc>, stored: &RecordedEvent) -> AssetRow {
    let field = |field| state.field(field).map(str::to_owned);
    let sources: Map<String, Value> = state
        .sources
        .iter()
        .map(|(name, status)| {
            let entry = json!({"external_id": status.external_id, "missing": status.missing});
            (name.as_str().to_owned(), entry)
        })
        .collect();
    AssetRow {
        asset_id: state.id.map_or(stored.stream_id, |id| id.0),
        version: stored.stream_version as i64,
        class: state.class.clone(),
        name: field(CoreField::Name).unwrap_or_default(),
        inventory_number: field(CoreField::InventoryNumber),
        serial_number: field(CoreField::SerialNumber),
        location: field(CoreField::Location),
        user_name: field(CoreField::User),
        owner: field(CoreField::Owner),
        cost_centre: field(CoreField::CostCentre),
        attributes: json!(state.attributes),
        lifecycle: state.lifecycle.map_or("", Lifecycle::as_str).to_owned(),
        missing: state.sources.values().any(|status| status.missing),
        sources: Value::Object(sources),
        registered_at,
        updated_at: stored.metadata.occurred_at,
        last_tx: stored.transaction_id,
        last_position: stored.global_position,
    }
}

/// Applies one decoded event to an asset's row (pure): the new row and the other effects. The
/// state moves with `domain::asset::Asset::apply`, the aggregate's own rules.
pub fn fold(
    row: Option<AssetRow>,
    event: &AssetEvent,
    stored: &RecordedEvent,
) -> Result<(AssetRow, Effects), FoldError> {
    let version = stored.stream_version as i64;
    let at = stored.metadata.occurred_at;
    let (before, registered_at) = match (&row, event) {
        (None, AssetEvent::Registered { .. }) => (Asset::default(), at),
        (Some(_), AssetEvent::Registered { .. }) => return Err(FoldError::RegisteredTwice),
        (None, _) => return Err(FoldError::NotRegistered { version }),
        (Some(row), _) => (state_of(row)?, row.registered_at),
    };
    let change = change(&before, event);
    let after = before.apply(event);
    let effects = Effects {
        history: HistoryRow {
            asset_id: stored.stream_id,
            version,
            event_type: stored.event_type.clone(),
            actor: stored.metadata.actor.clone(),
            occurred_at: at,
            change,
        },
        relation: match event {
            AssetEvent::Related { relation, target } => {
                Some((relation.as_str().to_owned(), target.0, true))
            }
            AssetEvent::Unrelated { relation, target } => {
                Some((relation.as_str().to_owned(), target.0, false))
            }
            _ => None,
        },
        source: match event {
            AssetEvent::Registered {
                source: Some(source),
                ..
            } => Some((
                source.source.as_str().to_owned(),
                source.external_id.clone(),
            )),
            _ => None,
        },
    };
    Ok((row_of(&after, registered_at, stored), effects))
}

/// The history entry's `change` of `event` on `before`.
fn change(before: &Asset, event: &AssetEvent) -> Value {
    match event {
        AssetEvent::Registered {
            class,
            fields,
            attributes,
            lifecycle,
            source,
            ..
        } => json!({
            "class": class, "fields": fields, "attributes": attributes, "lifecycle": lifecycle,
            "source": source,
        }),
        AssetEvent::Updated {
            fields,
            attributes,
            source,
        } => {
            let mut changes: Vec<Value> = fields
                .iter()
                .map(|(field, to)| {
                    json!({"field": field.as_str(), "from": before.field(*field), "to": to})
                })
                .collect();
            changes.extend(attributes.iter().map(
                |(key, to)| json!({"attribute": key, "from": before.attributes.get(key), "to": to}),
            ));
            json!({"changes": changes, "source": source})
        }
        AssetEvent::LifecycleChanged { from, to, reason } => {
            json!({"from": from, "to": to, "reason": reason})
        }
        AssetEvent::Related { relation, target } | AssetEvent::Unrelated { relation, target } => {
            json!({"relation": relation, "target": target})
        }
        AssetEvent::MissingFlagged {
            source,
            missed_runs,
        } => json!({"source": source, "missed_runs": missed_runs}),
        AssetEvent::MissingCleared { source } => json!({"source": source}),
    }
}

/// An asset row as written: the row plus its folded search texts (name and numbers weigh A,
/// location, people and text attribute values B).
#[derive(Serialize)]
struct AssetRecord<'a> {
    #[serde(flatten)]
    row: &'a AssetRow,
    search_a: String,
    search_b: String,
}

impl<'a> AssetRecord<'a> {
    fn new(row: &'a AssetRow) -> Self {
        let numbers = [&row.inventory_number, &row.serial_number]
            .into_iter()
            .flatten()
            .map(|number| number.replace('-', " "))
            .collect::<Vec<_>>()
            .join(" ");
        let mut text: Vec<&str> = [&row.location, &row.user_name, &row.owner]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if let Value::Object(attributes) = &row.attributes {
            text.extend(attributes.values().filter_map(Value::as_str));
        }
        AssetRecord {
            row,
            search_a: fold_text(&format!("{} {numbers}", row.name)),
            search_b: fold_text(&text.join(" ")),
        }
    }
}

/// A source row registered in this batch.
#[derive(Debug, Serialize)]
struct SourceRow {
    source: String,
    asset_id: Uuid,
    external_id: String,
    last_seen_at: DateTime<Utc>,
}

/// An import run's row.
#[derive(Debug, Serialize)]
struct ImportRow {
    source: String,
    run: i64,
    actor: String,
    occurred_at: DateTime<Utc>,
    report: Value,
}

const UPSERT_ASSETS: &str = "\
INSERT INTO rm_assets (generation, asset_id, version, class, name, inventory_number,
    serial_number, location, user_name, owner, cost_centre, attributes, lifecycle, sources,
    missing, registered_at, updated_at, search, last_tx, last_position)
SELECT $1, r.asset_id, r.version, r.class, r.name, r.inventory_number, r.serial_number,
    r.location, r.user_name, r.owner, r.cost_centre, r.attributes, r.lifecycle, r.sources,
    r.missing, r.registered_at, r.updated_at,
    setweight(to_tsvector('german', r.search_a), 'A') || setweight(to_tsvector('german', r.search_b), 'B'),
    r.last_tx, r.last_position
FROM jsonb_to_recordset($2) AS r(asset_id uuid, version bigint, class text, name text,
    inventory_number text, serial_number text, location text, user_name text, owner text,
    cost_centre text, attributes jsonb, lifecycle text, sources jsonb, missing boolean,
    registered_at timestamptz, updated_at timestamptz, search_a text, search_b text,
    last_tx bigint, last_position bigint)
ON CONFLICT (generation, asset_id) DO UPDATE SET
    (version, class, name, inventory_number, serial_number, location, user_name, owner,
     cost_centre, attributes, lifecycle, sources, missing, registered_at, updated_at, search,
     last_tx, last_position)
  = (EXCLUDED.version, EXCLUDED.class, EXCLUDED.name, EXCLUDED.inventory_number,
     EXCLUDED.serial_number, EXCLUDED.location, EXCLUDED.user_name, EXCLUDED.owner,
     EXCLUDED.cost_centre, EXCLUDED.attributes, EXCLUDED.lifecycle, EXCLUDED.sources,
     EXCLUDED.missing, EXCLUDED.registered_at, EXCLUDED.updated_at, EXCLUDED.search,
     EXCLUDED.last_tx, EXCLUDED.last_position)
WHERE rm_assets.version < EXCLUDED.version";

const CLOSE_RELATIONS: &str = "\
UPDATE rm_asset_relations l SET valid_to = r.valid_to
FROM jsonb_to_recordset($2) AS r(source_id uuid, relation text, target_id uuid,
    valid_to timestamptz)
WHERE l.generation = $1 AND l.source_id = r.source_id AND l.relation = r.relation
  AND l.target_id = r.target_id AND l.valid_to IS NULL";

const INSERT_RELATIONS: &str = "\
INSERT INTO rm_asset_relations (generation, source_id, relation, target_id, valid_from,
    valid_to, from_version)
SELECT $1, r.source_id, r.relation, r.target_id, r.valid_from, r.valid_to, r.from_version
FROM jsonb_to_recordset($2) AS r(source_id uuid, relation text, target_id uuid,
    valid_from timestamptz, valid_to timestamptz, from_version bigint)
ON CONFLICT DO NOTHING";

const INSERT_HISTORY: &str = "\
INSERT INTO rm_asset_history (generation, asset_id, version, event_type, actor, occurred_at,
    change)
SELECT $1, r.asset_id, r.version, r.event_type, r.actor, r.occurred_at, r.change
FROM jsonb_to_recordset($2) AS r(asset_id uuid, version bigint, event_type text, actor text,
    occurred_at timestamptz, change jsonb)
ON CONFLICT DO NOTHING";

// A source row starts at run 0 ("before its first completed run") and is marked seen by the
// record of the run that delivered it.
const INSERT_SOURCES: &str = "\
INSERT INTO rm_asset_sources (generation, source, asset_id, external_id, last_seen_at,
    last_seen_run, missed_runs)
SELECT $1, r.source, r.asset_id, r.external_id, r.last_seen_at, 0, 0
FROM jsonb_to_recordset($2) AS r(source text, asset_id uuid, external_id text,
    last_seen_at timestamptz)
ON CONFLICT DO NOTHING";

const MARK_MISSED: &str = "\
UPDATE rm_asset_sources SET missed_runs = missed_runs + 1
WHERE generation = $1 AND source = $2 AND asset_id = ANY($3)";

const MARK_SEEN: &str = "\
UPDATE rm_asset_sources SET last_seen_at = $4, last_seen_run = $5, missed_runs = 0
WHERE generation = $1 AND source = $2 AND NOT (asset_id = ANY($3))";

const INSERT_IMPORTS: &str = "\
INSERT INTO rm_asset_imports (generation, source, run, actor, occurred_at, report)
SELECT $1, r.source, r.run, r.actor, r.occurred_at, r.report
FROM jsonb_to_recordset($2) AS r(source text, run bigint, actor text, occurred_at timestamptz,
    report jsonb)
ON CONFLICT DO NOTHING";

/// The CMDB projection.
#[derive(Debug, Default)]
pub struct AssetProjection;

impl AssetProjection {
    /// The projection (it decodes payloads only; asset events carry no encrypted fields).
    pub fn new() -> AssetProjection {
        AssetProjection
    }
}

/// One decoded event of the batch.
enum Decoded<'a> {
    Asset(&'a RecordedEvent, AssetEvent),
    Import(&'a RecordedEvent, ImportCompleted),
}

fn decode(events: &[RecordedEvent]) -> Result<Vec<Decoded<'_>>, ApplyError> {
    let mut decoded = Vec::new();
    for stored in events {
        let poison = |reason: String| ApplyError::Poison {
            position: stored.global_position,
            reason,
        };
        if stored.stream_type == codec::STREAM_TYPE {
            let event = codec::event_from(
                &stored.event_type,
                stored.event_version,
                stored.payload.clone(),
            )
            .map_err(poison)?;
            decoded.push(Decoded::Asset(stored, event));
        } else if stored.stream_type == codec::IMPORT_STREAM_TYPE {
            let record =
                codec::import_from(stored.event_version, stored.payload.clone()).map_err(poison)?;
            decoded.push(Decoded::Import(stored, record));
        }
    }
    Ok(decoded)
}

/// What a batch writes, gathered in cursor order.
#[derive(Default)]
struct Batch {
    rows: HashMap<Uuid, AssetRow>,
    changed: BTreeSet<Uuid>,
    history: Vec<HistoryRow>,
    /// Relations opened in this batch (some also closed in it).
    opened: Vec<RelationRow>,
    /// Index in `opened` of the relations still open, by key.
    open_index: HashMap<(Uuid, String, Uuid), usize>,
    /// Relations opened before this batch and closed in it.
    closed: Vec<Value>,
    /// Source rows registered since the last import record written.
    sources: Vec<SourceRow>,
    imports: Vec<ImportRow>,
}

impl Batch {
    fn relation(
        &mut self,
        stored: &RecordedEvent,
        (relation, target, began): (String, Uuid, bool),
    ) {
        let key = (stored.stream_id, relation, target);
        let at = stored.metadata.occurred_at;
        if began {
            self.open_index.insert(key.clone(), self.opened.len());
            self.opened.push(RelationRow {
                source_id: key.0,
                relation: key.1,
                target_id: key.2,
                valid_from: at,
                valid_to: None,
                from_version: stored.stream_version as i64,
            });
        } else if let Some(index) = self.open_index.remove(&key) {
            self.opened[index].valid_to = Some(at);
        } else {
            self.closed.push(json!({
                "source_id": key.0, "relation": key.1, "target_id": key.2, "valid_to": at,
            }));
        }
    }

    /// Folds one asset event (skipped when its row is already at or past it: a replay).
    fn asset(&mut self, stored: &RecordedEvent, event: &AssetEvent) -> Result<(), ApplyError> {
        let current = self.rows.remove(&stored.stream_id);
        if let Some(row) = current
            .as_ref()
            .filter(|row| row.version >= stored.stream_version as i64)
        {
            self.rows.insert(stored.stream_id, row.clone());
            return Ok(());
        }
        let (row, effects) = fold(current, event, stored).map_err(|error| ApplyError::Poison {
            position: stored.global_position,
            reason: error.to_string(),
        })?;
        if let Some(relation) = effects.relation {
            self.relation(stored, relation);
        }
        if let Some((source, external_id)) = effects.source {
            self.sources.push(SourceRow {
                source,
                asset_id: row.asset_id,
                external_id,
                last_seen_at: row.updated_at,
            });
        }
        self.history.push(effects.history);
        self.changed.insert(row.asset_id);
        self.rows.insert(row.asset_id, row);
        Ok(())
    }
}

async fn load_rows(
    connection: &mut PgConnection,
    generation: i32,
    ids: &[Uuid],
    position: i64,
) -> Result<HashMap<Uuid, AssetRow>, ApplyError> {
    let loaded = sqlx::query(
        "SELECT to_jsonb(a) - 'generation' - 'search' AS row FROM rm_assets a \
         WHERE generation = $1 AND asset_id = ANY($2)",
    )
    .bind(generation)
    .bind(ids)
    .fetch_all(&mut *connection)
    .await?;
    let mut rows = HashMap::with_capacity(loaded.len());
    for record in loaded {
        let row: AssetRow =
            serde_json::from_value(record.try_get("row")?).map_err(|error| ApplyError::Poison {
                position,
                reason: format!("stored asset row does not decode: {error}"),
            })?;
        rows.insert(row.asset_id, row);
    }
    Ok(rows)
}

/// The last run recorded per source among `sources`.
async fn last_runs(
    connection: &mut PgConnection,
    generation: i32,
    sources: &[String],
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT source, max(run) FROM rm_asset_imports \
         WHERE generation = $1 AND source = ANY($2) GROUP BY source",
    )
    .bind(generation)
    .bind(sources)
    .fetch_all(connection)
    .await?;
    Ok(rows.into_iter().collect())
}

async fn write_json<T: Serialize>(
    connection: &mut PgConnection,
    sql: &'static str,
    generation: i32,
    rows: &[T],
) -> Result<(), sqlx::Error> {
    if !rows.is_empty() {
        sqlx::query(sql)
            .bind(generation)
            .bind(sqlx::types::Json(rows))
            .execute(connection)
            .await?;
    }
    Ok(())
}

/// Marks `record`'s source rows missed or seen, after writing the source rows registered before
/// it (so the run sees them).
async fn complete_run(
    connection: &mut PgConnection,
    generation: i32,
    batch: &mut Batch,
    stored: &RecordedEvent,
    record: &ImportCompleted,
) -> Result<(), sqlx::Error> {
    write_json(connection, INSERT_SOURCES, generation, &batch.sources).await?;
    batch.sources.clear();
    let missing: Vec<Uuid> = record.missing.iter().map(|id| id.0).collect();
    let source = record.source.as_str();
    sqlx::query(MARK_MISSED)
        .bind(generation)
        .bind(source)
        .bind(&missing)
        .execute(&mut *connection)
        .await?;
    sqlx::query(MARK_SEEN)
        .bind(generation)
        .bind(source)
        .bind(&missing)
        .bind(stored.metadata.occurred_at)
        .bind(record.run as i64)
        .execute(&mut *connection)
        .await?;
    let mut report = stored.payload.clone();
    if let Value::Object(object) = &mut report {
        object.remove("event_type");
    }
    batch.imports.push(ImportRow {
        source: source.to_owned(),
        run: record.run as i64,
        actor: stored.metadata.actor.clone(),
        occurred_at: stored.metadata.occurred_at,
        report,
    });
    Ok(())
}

#[async_trait]
impl Projection for AssetProjection {
    fn name(&self) -> &'static str {
        ASSETS
    }

    fn version(&self) -> i32 {
        VERSION
    }

    #[tracing::instrument(skip_all, fields(projection = ASSETS, generation = generation, events.count = events.len()))]
    async fn apply(
        &self,
        connection: &mut PgConnection,
        generation: i32,
        events: &[RecordedEvent],
    ) -> Result<(), ApplyError> {
        let decoded = decode(events)?;
        let Some(first) = events.first().map(|event| event.global_position) else {
            return Ok(());
        };
        if decoded.is_empty() {
            return Ok(());
        }
        let write = |error| ApplyError::from_database(error, first);
        let mut ids: Vec<Uuid> = Vec::new();
        let mut sources: Vec<String> = Vec::new();
        for item in &decoded {
            match item {
                Decoded::Asset(stored, _) => ids.push(stored.stream_id),
                Decoded::Import(_, record) => sources.push(record.source.as_str().to_owned()),
            }
        }
        ids.sort_unstable();
        ids.dedup();
        sources.sort_unstable();
        sources.dedup();
        let mut batch = Batch {
            rows: load_rows(connection, generation, &ids, first).await?,
            ..Batch::default()
        };
        let mut runs = last_runs(connection, generation, &sources).await?;
        for item in &decoded {
            match item {
                Decoded::Asset(stored, event) => batch.asset(stored, event)?,
                Decoded::Import(stored, record) => {
                    let last = runs.entry(record.source.as_str().to_owned()).or_insert(0);
                    if (record.run as i64) <= *last {
                        continue;
                    }
                    *last = record.run as i64;
                    complete_run(connection, generation, &mut batch, stored, record)
                        .await
                        .map_err(write)?;
                }
            }
        }
        let records: Vec<AssetRecord> = batch
            .changed
            .iter()
            .filter_map(|id| batch.rows.get(id))
            .map(AssetRecord::new)
            .collect();
        let connection = &mut *connection;
        write_json(connection, UPSERT_ASSETS, generation, &records)
            .await
            .map_err(write)?;
        write_json(connection, CLOSE_RELATIONS, generation, &batch.closed)
            .await
            .map_err(write)?;
        write_json(connection, INSERT_RELATIONS, generation, &batch.opened)
            .await
            .map_err(write)?;
        write_json(connection, INSERT_HISTORY, generation, &batch.history)
            .await
            .map_err(write)?;
        write_json(connection, INSERT_SOURCES, generation, &batch.sources)
            .await
            .map_err(write)?;
        write_json(connection, INSERT_IMPORTS, generation, &batch.imports)
            .await
            .map_err(write)?;
        Ok(())
    }

    async fn clear(&self, pool: &PgPool, generation: i32, limit: i64) -> Result<u64, sqlx::Error> {
        let mut deleted = 0;
        for sql in [
            "DELETE FROM rm_asset_history WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_asset_history WHERE generation = $1 LIMIT $2))",
            "DELETE FROM rm_asset_relations WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_asset_relations WHERE generation = $1 LIMIT $2))",
            "DELETE FROM rm_asset_sources WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_asset_sources WHERE generation = $1 LIMIT $2))",
            "DELETE FROM rm_asset_imports WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_asset_imports WHERE generation = $1 LIMIT $2))",
            "DELETE FROM rm_assets WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_assets WHERE generation = $1 LIMIT $2))",
        ] {
            deleted += sqlx::query(sql)
                .bind(generation)
                .bind(limit)
                .execute(pool)
                .await?
                .rows_affected();
        }
        Ok(deleted)
    }

    async fn digest(&self, pool: &PgPool, generation: i32) -> Result<String, sqlx::Error> {
        digest(pool, generation).await
    }
}

/// A digest of every row of the CMDB read models of `generation` (every column but
/// `generation`, each table in key order): equal digests mean equal read models.
pub async fn digest(pool: &PgPool, generation: i32) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT md5(concat_ws('|', \
           (SELECT string_agg(md5((to_jsonb(a) - 'generation')::text), ',' ORDER BY asset_id) FROM rm_assets a WHERE generation = $1), \
           (SELECT string_agg(md5((to_jsonb(r) - 'generation')::text), ',' ORDER BY source_id, relation, target_id, from_version) FROM rm_asset_relations r WHERE generation = $1), \
           (SELECT string_agg(md5((to_jsonb(h) - 'generation')::text), ',' ORDER BY asset_id, version) FROM rm_asset_history h WHERE generation = $1), \
           (SELECT string_agg(md5((to_jsonb(s) - 'generation')::text), ',' ORDER BY source, asset_id) FROM rm_asset_sources s WHERE generation = $1), \
           (SELECT string_agg(md5((to_jsonb(i) - 'generation')::text), ',' ORDER BY source, run) FROM rm_asset_imports i WHERE generation = $1)))",
    )
    .bind(generation)
    .fetch_one(pool)
    .await
}

/// An asset as the store knew it at a past moment, with the relations that held then.
#[derive(Clone, Debug, PartialEq)]
pub struct AssetAsOf {
    /// The row the projection had written after the same events.
    pub row: AssetRow,
    /// The aggregate's state after those events (`Asset::apply`).
    pub state: Asset,
    /// Relations from this asset that held at the instant.
    pub outgoing: Vec<RelationRow>,
    /// Relations from other assets to this one that held at the instant.
    pub incoming: Vec<RelationRow>,
}

/// Why a past asset could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum AssetAsOfError {
    /// A stored event does not decode or does not fit the asset (the store is damaged).
    #[error("event {version} of the asset cannot be replayed: {reason}")]
    Corrupt { version: u64, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The asset's events recorded until `at`, folded with [`fold`] (and so `Asset::apply`); its
/// relations at `at`, from both ends, from the active generation's `rm_asset_relations`. `None`
/// when the asset was not registered by then.
pub async fn asset_as_of(
    pool: &PgPool,
    asset_id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<AssetAsOf>, AssetAsOfError> {
    let stored = event_store::read_stream(pool, asset_id).await?;
    let mut row: Option<AssetRow> = None;
    let mut state = Asset::default();
    for event in stored
        .iter()
        .take_while(|event| event.stream_type == codec::STREAM_TYPE && event.recorded_at <= at)
    {
        let corrupt = |reason: String| AssetAsOfError::Corrupt {
            version: event.stream_version,
            reason,
        };
        let decoded = codec::event_from(
            &event.event_type,
            event.event_version,
            event.payload.clone(),
        )
        .map_err(corrupt)?;
        let (next, _) =
            fold(row.take(), &decoded, event).map_err(|error| corrupt(error.to_string()))?;
        state = state.apply(&decoded);
        row = Some(next);
    }
    let Some(row) = row else {
        return Ok(None);
    };
    let (outgoing, incoming) = relations_at(pool, asset_id, at).await?;
    Ok(Some(AssetAsOf {
        row,
        state,
        outgoing,
        incoming,
    }))
}

/// The relations of `asset_id` (outgoing, incoming) that held at `at`, oldest first.
async fn relations_at(
    pool: &PgPool,
    asset_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(Vec<RelationRow>, Vec<RelationRow>), sqlx::Error> {
    let Some(generation) = crate::checkpoint::active_generation(pool, ASSETS).await? else {
        return Ok((Vec::new(), Vec::new()));
    };
    let rows: Vec<RelationRow> = sqlx::query_as(
        "SELECT source_id, relation, target_id, valid_from, valid_to, from_version \
         FROM rm_asset_relations \
         WHERE generation = $1 AND (source_id = $2 OR target_id = $2) \
           AND valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3) \
         ORDER BY valid_from, source_id, relation, target_id",
    )
    .bind(generation)
    .bind(asset_id)
    .bind(at)
    .fetch_all(pool)
    .await?;
    let (outgoing, incoming) = rows
        .into_iter()
        .partition(|relation| relation.source_id == asset_id);
    Ok((outgoing, incoming))
}
