//! One inventory import run (issue 5 §2): diff every delivered row against the asset's current
//! state, append events only for real changes (bounded concurrency), flag the source's assets it
//! has missed for `missing_runs_flag` runs, and record the run as `asset_import.completed`.
//!
//! Idempotent: an asset's id is derived from the source and its external id, and a row equal to
//! the stored state decides to no events — importing the same file twice appends only the second
//! run's record. Imports of one source are serialised by a PostgreSQL advisory lock.

use std::collections::{BTreeMap, HashMap, HashSet};

use domain::asset::{
    decide, Asset, AssetClassDefinition, AssetCommand, AssetContext, AssetError, AssetEvent,
    AssetId, ImportCompleted, Lifecycle, RejectedRow, SourceKey, SourceName, SourceRuns,
    REJECTED_LISTED_MAX,
};
use event_store::hash::GENESIS;
use event_store::{AppendRequest, StoreError};
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgPool, Row as _};
use utoipa::ToSchema;

use super::codec::{self, IMPORT_STREAM_TYPE};
use super::rows::{self, Cell, Format, Row};
use super::service::{class_of, LoadedAsset, Origin};
use crate::config::Configuration;
use crate::error::ApiError;

/// Appends in flight at once during a run.
pub const APPENDS_IN_FLIGHT_MAX: usize = 16;
/// The lifecycle state of an asset an import creates without a `lifecycle` column.
const LIFECYCLE_DEFAULT: Lifecycle = Lifecycle::Deployed;

/// How imports behave.
#[derive(Clone, Copy, Debug)]
pub struct ImportSettings {
    /// Runs in a row a source may miss an asset before it is flagged missing.
    pub missing_runs_flag: u32,
}

/// What a run did (the HTTP and CLI answer).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ImportReport {
    pub source: String,
    pub run: u64,
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Asset events appended (the run's own record not counted).
    pub events_written: u64,
    /// The source's assets this run did not deliver.
    pub missing: u64,
    /// Of those, the ones flagged missing by this run.
    pub flagged: u64,
    /// Why rows were refused (the first 1,000).
    #[schema(value_type = Vec<Object>)]
    pub rejected_rows: Vec<RejectedRow>,
}

impl From<&ImportCompleted> for ImportReport {
    fn from(run: &ImportCompleted) -> ImportReport {
        ImportReport {
            source: run.source.as_str().to_owned(),
            run: run.run,
            rows: run.rows,
            created: run.created,
            updated: run.updated,
            unchanged: run.unchanged,
            rejected: run.rejected_count,
            events_written: run.events_written,
            missing: run.missing.len() as u64,
            flagged: run.flagged.len() as u64,
            rejected_rows: run.rejected.clone(),
        }
    }
}

/// The source name of a request, or a problem.
pub fn source_name(text: &str) -> Result<SourceName, ApiError> {
    SourceName::try_from(text.to_owned()).map_err(|error| ApiError::Import {
        code: "invalid_source",
        reason: error.to_string(),
    })
}

/// Imports `bytes` (in `format`) as a run of `source`.
#[tracing::instrument(skip_all, fields(import.source = source.as_str(), import.bytes = bytes.len()))]
pub async fn run(
    pool: &PgPool,
    settings: ImportSettings,
    origin: &Origin,
    source: &SourceName,
    format: Format,
    bytes: &[u8],
) -> Result<ImportReport, ApiError> {
    let rows = rows::read(format, bytes)?;
    let mut lock = SourceLock::take(pool, source).await?;
    let result = run_locked(pool, settings, origin, source, format, rows).await;
    lock.release().await;
    result
}

/// A session-level advisory lock on one source, held for the run.
struct SourceLock {
    connection: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
    key: i64,
}

impl SourceLock {
    async fn take(pool: &PgPool, source: &SourceName) -> Result<SourceLock, ApiError> {
        let stream = codec::import_stream_id(source.as_str());
        let key = i64::from_be_bytes(stream.as_bytes()[..8].try_into().expect("8 bytes"));
        let mut connection = pool.acquire().await?;
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *connection)
            .await?;
        if !taken {
            return Err(ApiError::Import {
                code: "import_in_progress",
                reason: format!(
                    "an import of {} is running; try again when it is done",
                    source.as_str()
                ),
            });
        }
        Ok(SourceLock {
            connection: Some(connection),
            key,
        })
    }

    async fn release(&mut self) {
        let Some(mut connection) = self.connection.take() else {
            return;
        };
        let released = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut *connection)
            .await;
        if released.is_err() {
            // Closing the session releases the lock for sure.
            let _ = connection.close().await;
        }
    }
}

impl Drop for SourceLock {
    /// A run abandoned half-way (its task cancelled) must not leave the lock on a pooled
    /// session: the session is closed instead, which releases it.
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            drop(connection.detach());
        }
    }
}

/// What the run decided for one asset.
struct Planned {
    line: Option<u64>,
    external_id: Option<String>,
    id: AssetId,
    /// What to decide again after a concurrent change; empty for a new asset (the source's
    /// lock keeps another run from creating it, and a registered asset refuses `Register`).
    commands: Vec<AssetCommand>,
    /// What `commands` decided on the state the run loaded (appended as they are unless a
    /// concurrent change makes the run decide again).
    events: Vec<AssetEvent>,
    created: bool,
}

struct Tally {
    run: ImportCompleted,
    rejected: Vec<RejectedRow>,
}

impl Tally {
    fn reject(&mut self, row: RejectedRow) {
        self.run.rejected_count += 1;
        if self.rejected.len() < REJECTED_LISTED_MAX {
            self.rejected.push(row);
        }
    }
}

async fn run_locked(
    pool: &PgPool,
    settings: ImportSettings,
    origin: &Origin,
    source: &SourceName,
    format: Format,
    rows: Vec<Result<Row, RejectedRow>>,
) -> Result<ImportReport, ApiError> {
    let configuration = crate::config::load(pool).await?;
    let (runs, runs_head) = load_runs(pool, source).await?;
    let mut assets = load_assets(pool).await?;
    let mut tally = Tally {
        run: ImportCompleted {
            source: source.clone(),
            run: runs.runs + 1,
            format: format.as_str().to_owned(),
            rows: rows.len() as u64,
            created: 0,
            updated: 0,
            unchanged: 0,
            rejected_count: 0,
            rejected: Vec::new(),
            events_written: 0,
            missing: Vec::new(),
            flagged: Vec::new(),
        },
        rejected: Vec::new(),
    };
    let mut classes = ClassCache::new(&configuration);
    let mut delivered = HashSet::new();
    let mut planned = Vec::new();
    for row in rows {
        let row = match row {
            Ok(row) => row,
            Err(rejected) => {
                tally.reject(rejected);
                continue;
            }
        };
        match plan_row(source, &assets, &mut classes, &mut delivered, row) {
            Ok(Some(plan)) => planned.push(plan),
            Ok(None) => tally.run.unchanged += 1,
            Err(rejected) => tally.reject(rejected),
        }
    }
    planned.extend(plan_missing(
        source,
        settings,
        &runs,
        &assets,
        &delivered,
        &mut tally.run,
    ));
    apply(pool, origin, &mut classes, &mut assets, planned, &mut tally).await;
    record(pool, origin, source, runs_head, tally).await
}

/// Asset class definitions, parsed once per run.
struct ClassCache<'a> {
    configuration: &'a Configuration,
    parsed: HashMap<String, Option<AssetClassDefinition>>,
}

impl<'a> ClassCache<'a> {
    fn new(configuration: &'a Configuration) -> ClassCache<'a> {
        ClassCache {
            configuration,
            parsed: HashMap::new(),
        }
    }

    fn get(&mut self, name: &str) -> Option<&AssetClassDefinition> {
        self.parsed
            .entry(name.to_owned())
            .or_insert_with(|| class_of(self.configuration, name))
            .as_ref()
    }
}

fn rejected(row: &Row, code: &str, field: Option<String>, reason: String) -> RejectedRow {
    RejectedRow {
        line: row.line,
        external_id: (!row.external_id.is_empty()).then(|| row.external_id.clone()),
        code: code.to_owned(),
        field,
        reason,
    }
}

fn rejected_by(row: &Row, error: AssetError) -> RejectedRow {
    rejected(row, error.code(), error.field(), error.to_string())
}

/// The commands one row asks for (none when it changes nothing), or why it is refused.
fn plan_row(
    source: &SourceName,
    assets: &HashMap<AssetId, LoadedAsset>,
    classes: &mut ClassCache<'_>,
    delivered: &mut HashSet<AssetId>,
    row: Row,
) -> Result<Option<Planned>, RejectedRow> {
    let external_id = row.external_id.trim().to_owned();
    if external_id.is_empty() || external_id.chars().count() > domain::asset::EXTERNAL_ID_CHARS_MAX
    {
        return Err(rejected_by(&row, AssetError::InvalidExternalId));
    }
    let id = AssetId::imported(source, &external_id);
    if !delivered.insert(id) {
        let reason = "the file delivers this external id twice; the first row applies".to_owned();
        return Err(rejected(
            &row,
            "duplicate_external_id",
            Some("external_id".into()),
            reason,
        ));
    }
    let current = assets
        .get(&id)
        .filter(|loaded| loaded.state.is_registered());
    let class_name = match (current, &row.class) {
        (Some(loaded), Some(class)) if *class != loaded.state.class => {
            let reason = format!(
                "the asset is of class {}; a source cannot change it",
                loaded.state.class
            );
            return Err(rejected(
                &row,
                "class_mismatch",
                Some("class".into()),
                reason,
            ));
        }
        (Some(loaded), _) => loaded.state.class.clone(),
        (None, Some(class)) => class.clone(),
        (None, None) => {
            let reason = "a new asset needs its class".to_owned();
            return Err(rejected(
                &row,
                "missing_value",
                Some("class".into()),
                reason,
            ));
        }
    };
    let class = classes
        .get(&class_name)
        .ok_or_else(|| rejected_by(&row, AssetError::UnknownClass(class_name.clone())))?;
    let attributes = attribute_values(class, &row)?;
    let context = AssetContext {
        class: Some(class),
        relation_target: None,
    };
    let mut commands = Vec::new();
    let state = current.map(|loaded| &loaded.state);
    match state {
        None => commands.push(register(
            source,
            id,
            &external_id,
            class_name,
            &row,
            attributes,
        )?),
        Some(state) => {
            commands.push(AssetCommand::Update {
                fields: row.fields.clone(),
                attributes,
                source: Some(source.clone()),
            });
            if state
                .sources
                .get(source)
                .is_some_and(|status| status.missing)
            {
                commands.push(AssetCommand::ClearMissing {
                    source: source.clone(),
                });
            }
        }
    }
    let unregistered = Asset::default();
    let events = decide_all(state.unwrap_or(&unregistered), &commands, &context)
        .map_err(|error| rejected_by(&row, error))?;
    let created = state.is_none();
    Ok((!events.is_empty()).then(|| Planned {
        line: Some(row.line),
        external_id: Some(external_id),
        id,
        // A new asset's command is its event again: not kept twice.
        commands: if created { Vec::new() } else { commands },
        events,
        created,
    }))
}

fn register(
    source: &SourceName,
    id: AssetId,
    external_id: &str,
    class: String,
    row: &Row,
    attributes: BTreeMap<String, Option<Value>>,
) -> Result<AssetCommand, RejectedRow> {
    let lifecycle = match &row.lifecycle {
        None => LIFECYCLE_DEFAULT,
        Some(text) => Lifecycle::parse(text).ok_or_else(|| {
            let reason = format!("{text:?} is not a lifecycle state");
            rejected(row, "invalid_lifecycle", Some("lifecycle".into()), reason)
        })?,
    };
    Ok(AssetCommand::Register {
        id,
        class,
        fields: row
            .fields
            .iter()
            .filter_map(|(field, value)| value.clone().map(|value| (*field, value)))
            .collect(),
        attributes: attributes
            .into_iter()
            .filter_map(|(key, value)| value.map(|value| (key, value)))
            .collect(),
        lifecycle,
        source: Some(SourceKey {
            source: source.clone(),
            external_id: external_id.to_owned(),
        }),
    })
}

/// The row's attribute values, typed by the class. A CSV column the class lacks is fine while
/// its cell is empty (files mix classes).
fn attribute_values(
    class: &AssetClassDefinition,
    row: &Row,
) -> Result<BTreeMap<String, Option<Value>>, RejectedRow> {
    let mut values = BTreeMap::new();
    for (key, cell) in &row.attributes {
        let known = class.attribute(key).is_some();
        let value = match cell {
            None if !known => continue,
            None => None,
            Some(Cell::Text(text)) => Some(class.parse_text(key, text)),
            Some(Cell::Json(value)) => Some(class.check_value(key, value)),
        };
        let value = value
            .transpose()
            .map_err(|error| rejected_by(row, AssetError::Attribute(error)))?;
        values.insert(key.clone(), value);
    }
    Ok(values)
}

/// The events of `commands` decided one after the other on `state`; the state is copied only
/// when a later command must see an earlier one's events (the unchanged rows of a run decide
/// on the loaded state as it is).
fn decide_all(
    state: &Asset,
    commands: &[AssetCommand],
    context: &AssetContext<'_>,
) -> Result<Vec<AssetEvent>, AssetError> {
    let mut events = Vec::new();
    let mut evolved: Option<Asset> = None;
    for (index, command) in commands.iter().enumerate() {
        let decided = decide(evolved.as_ref().unwrap_or(state), command.clone(), context)?;
        if !decided.is_empty() && index + 1 < commands.len() {
            let mut next = evolved.take().unwrap_or_else(|| state.clone());
            for event in &decided {
                next = next.apply(event);
            }
            evolved = Some(next);
        }
        events.extend(decided);
    }
    Ok(events)
}

/// The source's assets this run did not deliver, and the flags that come due.
fn plan_missing(
    source: &SourceName,
    settings: ImportSettings,
    runs: &SourceRuns,
    assets: &HashMap<AssetId, LoadedAsset>,
    delivered: &HashSet<AssetId>,
    run: &mut ImportCompleted,
) -> Vec<Planned> {
    let mut planned = Vec::new();
    let mut missing: Vec<(&AssetId, &Asset)> = assets
        .iter()
        .map(|(id, loaded)| (id, &loaded.state))
        .filter(|(id, state)| state.sources.contains_key(source) && !delivered.contains(id))
        .filter(|(_, state)| {
            state
                .lifecycle
                .is_some_and(|lifecycle| !lifecycle.is_terminal())
        })
        .collect();
    missing.sort_by_key(|(id, _)| **id);
    for (id, state) in missing {
        run.missing.push(*id);
        let missed_runs = runs.missed_after_next(id);
        let already = state
            .sources
            .get(source)
            .is_some_and(|status| status.missing);
        if missed_runs >= settings.missing_runs_flag && !already {
            let commands = vec![AssetCommand::FlagMissing {
                source: source.clone(),
                missed_runs,
            }];
            let Ok(events) = decide_all(state, &commands, &AssetContext::default()) else {
                continue;
            };
            planned.push(Planned {
                line: None,
                external_id: state
                    .sources
                    .get(source)
                    .map(|status| status.external_id.clone()),
                id: *id,
                commands,
                events,
                created: false,
            });
        }
    }
    planned
}

/// Appends the planned commands, [`APPENDS_IN_FLIGHT_MAX`] at a time; a command that meets a
/// concurrent change is decided again on the new state, once.
async fn apply(
    pool: &PgPool,
    origin: &Origin,
    classes: &mut ClassCache<'_>,
    assets: &mut HashMap<AssetId, LoadedAsset>,
    planned: Vec<Planned>,
    tally: &mut Tally,
) {
    let jobs: Vec<_> = planned
        .into_iter()
        .map(|plan| {
            let loaded = assets.remove(&plan.id).unwrap_or_default();
            let class_name = match plan.commands.first() {
                Some(AssetCommand::Register { class, .. }) => class.clone(),
                _ => loaded.state.class.clone(),
            };
            let class = classes.get(&class_name).cloned();
            (plan, loaded, class)
        })
        .collect();
    let results: Vec<_> = futures_util::stream::iter(jobs)
        .map(|(plan, loaded, class)| async move {
            let outcome = append_planned(pool, origin, &plan, loaded, class.as_ref()).await;
            (plan, outcome)
        })
        .buffer_unordered(APPENDS_IN_FLIGHT_MAX)
        .collect()
        .await;
    for (plan, outcome) in results {
        match outcome {
            Ok(0) => tally.run.unchanged += u64::from(plan.line.is_some()),
            Ok(events) => {
                tally.run.events_written += events as u64;
                if plan
                    .commands
                    .iter()
                    .any(|command| matches!(command, AssetCommand::FlagMissing { .. }))
                {
                    tally.run.flagged.push(plan.id);
                } else if plan.created {
                    tally.run.created += 1;
                } else {
                    tally.run.updated += 1;
                }
            }
            Err(error) => tally.reject(RejectedRow {
                line: plan.line.unwrap_or(0),
                external_id: plan.external_id.clone(),
                code: error.code().to_owned(),
                field: None,
                reason: error.to_string(),
            }),
        }
    }
    tally.run.flagged.sort();
}

async fn append_planned(
    pool: &PgPool,
    origin: &Origin,
    plan: &Planned,
    mut loaded: LoadedAsset,
    class: Option<&AssetClassDefinition>,
) -> Result<usize, ApiError> {
    let context = AssetContext {
        class,
        relation_target: None,
    };
    let mut events = plan.events.clone();
    for attempt in 0..2 {
        if attempt > 0 {
            if plan.created {
                return Err(ApiError::Asset(AssetError::AlreadyRegistered));
            }
            loaded = super::service::load(pool, plan.id).await?;
            events =
                decide_all(&loaded.state, &plan.commands, &context).map_err(ApiError::Asset)?;
        }
        match super::service::append(pool, origin, plan.id, &loaded, &events).await {
            Ok(executed) => return Ok(executed.events_appended),
            Err(StoreError::VersionConflict { .. }) if attempt == 0 => continue,
            Err(StoreError::VersionConflict { .. }) => return Err(ApiError::Contention),
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Contention)
}

/// The source's earlier runs and the head of its stream `(version, hash)`.
async fn load_runs(
    pool: &PgPool,
    source: &SourceName,
) -> Result<(SourceRuns, [u8; 32]), StoreError> {
    let mut runs = SourceRuns::default();
    let mut head = GENESIS;
    for recorded in event_store::read_stream(pool, codec::import_stream_id(source.as_str())).await?
    {
        let run =
            codec::import_from(recorded.event_version, recorded.payload).map_err(|reason| {
                StoreError::Corrupt {
                    position: recorded.global_position,
                    reason,
                }
            })?;
        runs = runs.apply(&run);
        head = recorded.hash;
    }
    Ok((runs, head))
}

/// Every asset's current state, folded from the store in one pass over the asset streams.
pub async fn load_assets(pool: &PgPool) -> Result<HashMap<AssetId, LoadedAsset>, StoreError> {
    // The literal stream type matches the partial index `events_asset_idx` (migration 0007).
    let mut rows = sqlx::query(
        "SELECT global_position, stream_id, event_type, event_version, payload, hash FROM events \
         WHERE stream_type = 'asset' ORDER BY stream_id, stream_version",
    )
    .fetch(pool);
    let mut assets: HashMap<AssetId, LoadedAsset> = HashMap::new();
    while let Some(row) = rows.try_next().await? {
        let position: i64 = row.try_get("global_position")?;
        let event_type: String = row.try_get("event_type")?;
        let event_version: i32 = row.try_get("event_version")?;
        let corrupt = |reason: String| StoreError::Corrupt { position, reason };
        let event = codec::event_from(&event_type, event_version as u32, row.try_get("payload")?)
            .map_err(corrupt)?;
        let hash: Vec<u8> = row.try_get("hash")?;
        let loaded = assets
            .entry(AssetId(row.try_get("stream_id")?))
            .or_default();
        loaded.state = std::mem::take(&mut loaded.state).apply(&event);
        loaded.last_hash = Some(
            hash.try_into()
                .map_err(|_| corrupt("hash has the wrong length".into()))?,
        );
    }
    Ok(assets)
}

async fn record(
    pool: &PgPool,
    origin: &Origin,
    source: &SourceName,
    head: [u8; 32],
    mut tally: Tally,
) -> Result<ImportReport, ApiError> {
    tally.run.rejected = std::mem::take(&mut tally.rejected);
    let metadata = origin.metadata();
    event_store::append(
        pool,
        AppendRequest {
            stream_type: IMPORT_STREAM_TYPE,
            stream_id: codec::import_stream_id(source.as_str()),
            expected_version: tally.run.run - 1,
            previous_hash: head,
            metadata: &metadata,
            events: vec![codec::encode_import(&tally.run)],
            result: json!({}),
        },
    )
    .await?;
    let report = ImportReport::from(&tally.run);
    tracing::info!(
        import.run = report.run,
        import.created = report.created,
        import.updated = report.updated,
        import.unchanged = report.unchanged,
        import.rejected = report.rejected,
        import.events_written = report.events_written,
        "import recorded"
    );
    Ok(report)
}
