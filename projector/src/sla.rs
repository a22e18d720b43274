//! The SLA clock projection (issue 4 §3, ADR 0008): folds configuration events (calendars, SLA
//! policies, services) and ticket events in cursor order with `domain::sla`, so each clock is
//! computed with the configuration valid when its events happened, from event timestamps only.
//! A rebuild gives identical clocks.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use command_service::codec;
use domain::calendar::{BusinessCalendar, CalendarDefinition};
use domain::config::sla::SlaPolicyDefinition;
use domain::config::Kind;
use domain::sla::{Clock, ClockState, ConfigurationChange, Metric, SlaConfiguration, TicketClocks};
use event_store::RecordedEvent;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::runner::{ApplyError, Projection};

/// Name of the projection.
pub const SLA: &str = "sla";
/// Version of this projection's code (raise it when the fold or the tables change).
pub const VERSION: i32 = 1;

/// The configuration the clocks depend on, as the projection has seen it so far.
#[derive(Debug, Default)]
pub struct ProjectedConfig {
    /// Active services → their policy.
    services: HashMap<String, String>,
    /// Active policies, current version.
    policies: HashMap<String, (u64, SlaPolicyDefinition)>,
    /// Every version of every calendar, and the current (active) one.
    calendars: HashMap<String, BTreeMap<u64, BusinessCalendar>>,
    current_calendar: HashMap<String, u64>,
}

impl SlaConfiguration for ProjectedConfig {
    fn policy_of_service(&self, service: &str) -> Option<String> {
        self.services.get(service).cloned()
    }

    fn policy(&self, name: &str) -> Option<(u64, &SlaPolicyDefinition)> {
        self.policies
            .get(name)
            .map(|(version, policy)| (*version, policy))
    }

    fn calendar(&self, name: &str) -> Option<(u64, &BusinessCalendar)> {
        let version = *self.current_calendar.get(name)?;
        Some((version, self.calendar_at(name, version)?))
    }

    fn calendar_at(&self, name: &str, version: u64) -> Option<&BusinessCalendar> {
        self.calendars.get(name)?.get(&version)
    }
}

impl ProjectedConfig {
    /// The configuration of `generation` as stored so far.
    pub async fn load(connection: &mut PgConnection, generation: i32) -> Result<Self, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT kind, name, version, definition, retired FROM rm_sla_config \
             WHERE generation = $1 ORDER BY kind, name, version",
        )
        .bind(generation)
        .fetch_all(connection)
        .await?;
        let mut config = ProjectedConfig::default();
        for row in rows {
            let kind: String = row.try_get("kind")?;
            config.apply(
                &kind,
                row.try_get("name")?,
                row.try_get::<i64, _>("version")? as u64,
                row.try_get("definition")?,
                row.try_get("retired")?,
            );
        }
        Ok(config)
    }

    /// One more version of an item. A definition that does not parse (it was validated when
    /// stored, so only a future format could) leaves the item as it was.
    fn apply(
        &mut self,
        kind: &str,
        name: String,
        version: u64,
        definition: Option<Value>,
        retired: bool,
    ) {
        match kind {
            "service" => {
                let policy = definition
                    .as_ref()
                    .and_then(|definition| definition.get("sla_policy"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                match (retired, policy) {
                    (false, Some(policy)) => {
                        self.services.insert(name, policy);
                    }
                    _ => {
                        self.services.remove(&name);
                    }
                }
            }
            "sla_policy" => {
                let policy = definition.and_then(|definition| {
                    serde_json::from_value::<SlaPolicyDefinition>(definition).ok()
                });
                match (retired, policy) {
                    (false, Some(policy)) => {
                        self.policies.insert(name, (version, policy));
                    }
                    _ => {
                        self.policies.remove(&name);
                    }
                }
            }
            "calendar" => {
                if retired {
                    self.current_calendar.remove(&name);
                    return;
                }
                let calendar = definition
                    .and_then(|definition| {
                        serde_json::from_value::<CalendarDefinition>(definition).ok()
                    })
                    .and_then(|definition| BusinessCalendar::new(&definition).ok());
                if let Some(calendar) = calendar {
                    self.calendars
                        .entry(name.clone())
                        .or_default()
                        .insert(version, calendar);
                    self.current_calendar.insert(name, version);
                }
            }
            _ => {}
        }
    }
}

/// A configuration event's row.
#[derive(Debug, Serialize)]
struct ConfigRow {
    kind: &'static str,
    name: String,
    version: i64,
    definition: Option<Value>,
    retired: bool,
}

/// A clock row as written.
#[derive(Debug, Serialize)]
struct ClockRow {
    ticket_id: Uuid,
    version: i64,
    policy: String,
    clocks: Value,
    first_response_state: String,
    first_response_due_at: Option<DateTime<Utc>>,
    first_response_elapsed_s: i64,
    first_response_target_s: i64,
    first_response_late: bool,
    resolution_state: String,
    resolution_due_at: Option<DateTime<Utc>>,
    resolution_elapsed_s: i64,
    resolution_target_s: i64,
    resolution_late: bool,
    resolution_stopped_at: Option<DateTime<Utc>>,
    next_deadline_at: Option<DateTime<Utc>>,
    last_tx: i64,
    last_position: i64,
}

fn state_name(state: ClockState) -> String {
    match state {
        ClockState::Running => "running",
        ClockState::Paused => "paused",
        ClockState::Met => "met",
        ClockState::Stopped => "stopped",
    }
    .to_owned()
}

impl ClockRow {
    fn new(
        ticket_id: Uuid,
        version: i64,
        clocks: &TicketClocks,
        cursor: (i64, i64),
        config: &ProjectedConfig,
    ) -> Option<ClockRow> {
        let clock = |metric| {
            clocks
                .clocks
                .iter()
                .find(|clock: &&Clock| clock.metric == metric)
        };
        let (first, resolution) = (clock(Metric::FirstResponse)?, clock(Metric::Resolution)?);
        // Unrecorded deadlines, past ones included: the monitor has yet to record them.
        let next_deadline_at = clocks
            .clocks
            .iter()
            .flat_map(|clock| clock.pending_deadlines(config))
            .map(|(deadline, _)| deadline)
            .min();
        Some(ClockRow {
            ticket_id,
            version,
            policy: resolution.policy.clone(),
            clocks: serde_json::to_value(clocks).unwrap_or(Value::Null),
            first_response_state: state_name(first.state),
            first_response_due_at: first.due_at(config),
            first_response_elapsed_s: first.elapsed_seconds,
            first_response_target_s: first.target_seconds(),
            first_response_late: first.late,
            resolution_state: state_name(resolution.state),
            resolution_due_at: resolution.due_at(config),
            resolution_elapsed_s: resolution.elapsed_seconds,
            resolution_target_s: resolution.target_seconds(),
            resolution_late: resolution.late,
            resolution_stopped_at: resolution.stopped_at,
            next_deadline_at,
            last_tx: cursor.0,
            last_position: cursor.1,
        })
    }
}

const INSERT_CONFIG: &str = "\
INSERT INTO rm_sla_config (generation, kind, name, version, definition, retired)
SELECT $1, r.kind, r.name, r.version, r.definition, r.retired
FROM jsonb_to_recordset($2) AS r(kind text, name text, version bigint, definition jsonb,
    retired boolean)
ON CONFLICT DO NOTHING";

const UPSERT_CLOCKS: &str = "\
INSERT INTO rm_sla_clocks (generation, ticket_id, version, policy, clocks, first_response_state,
    first_response_due_at, first_response_elapsed_s, first_response_target_s, first_response_late,
    resolution_state, resolution_due_at, resolution_elapsed_s, resolution_target_s,
    resolution_late, resolution_stopped_at, next_deadline_at, last_tx, last_position)
SELECT $1, r.ticket_id, r.version, r.policy, r.clocks, r.first_response_state,
    r.first_response_due_at, r.first_response_elapsed_s, r.first_response_target_s,
    r.first_response_late, r.resolution_state, r.resolution_due_at, r.resolution_elapsed_s,
    r.resolution_target_s, r.resolution_late, r.resolution_stopped_at, r.next_deadline_at,
    r.last_tx, r.last_position
FROM jsonb_to_recordset($2) AS r(ticket_id uuid, version bigint, policy text, clocks jsonb,
    first_response_state text, first_response_due_at timestamptz, first_response_elapsed_s bigint,
    first_response_target_s bigint, first_response_late boolean, resolution_state text,
    resolution_due_at timestamptz, resolution_elapsed_s bigint, resolution_target_s bigint,
    resolution_late boolean, resolution_stopped_at timestamptz, next_deadline_at timestamptz,
    last_tx bigint, last_position bigint)
ON CONFLICT (generation, ticket_id) DO UPDATE SET
    (version, policy, clocks, first_response_state, first_response_due_at,
     first_response_elapsed_s, first_response_target_s, first_response_late, resolution_state,
     resolution_due_at, resolution_elapsed_s, resolution_target_s, resolution_late,
     resolution_stopped_at, next_deadline_at, last_tx, last_position)
  = (EXCLUDED.version, EXCLUDED.policy, EXCLUDED.clocks, EXCLUDED.first_response_state,
     EXCLUDED.first_response_due_at, EXCLUDED.first_response_elapsed_s,
     EXCLUDED.first_response_target_s, EXCLUDED.first_response_late, EXCLUDED.resolution_state,
     EXCLUDED.resolution_due_at, EXCLUDED.resolution_elapsed_s, EXCLUDED.resolution_target_s,
     EXCLUDED.resolution_late, EXCLUDED.resolution_stopped_at, EXCLUDED.next_deadline_at,
     EXCLUDED.last_tx, EXCLUDED.last_position)
WHERE rm_sla_clocks.version <= EXCLUDED.version";

/// The SLA clock projection. Needs no keys: clocks use no personal data.
#[derive(Debug, Default)]
pub struct SlaProjection;

impl SlaProjection {
    /// The projection.
    pub fn new() -> SlaProjection {
        SlaProjection
    }
}

fn config_kind(stream_type: &str) -> Option<&'static str> {
    match Kind::from_stream_type(stream_type)? {
        Kind::Calendar => Some("calendar"),
        Kind::SlaPolicy => Some("sla_policy"),
        Kind::Service => Some("service"),
        Kind::Queue | Kind::Category | Kind::AssetClass | Kind::OrgUnit | Kind::Team => None,
    }
}

#[async_trait]
impl Projection for SlaProjection {
    fn name(&self) -> &'static str {
        SLA
    }

    fn version(&self) -> i32 {
        VERSION
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        generation: i32,
        events: &[RecordedEvent],
    ) -> Result<(), ApplyError> {
        let relevant: Vec<&RecordedEvent> = events
            .iter()
            .filter(|event| {
                event.stream_type == codec::STREAM_TYPE || config_kind(&event.stream_type).is_some()
            })
            .collect();
        if relevant.is_empty() {
            return Ok(());
        }
        let first = events[0].global_position;
        // Clocks need no personal data: decode without decrypting it (no key lookups).
        let mut decoded = Vec::with_capacity(relevant.len());
        for stored in &relevant {
            if stored.stream_type != codec::STREAM_TYPE {
                decoded.push(None);
                continue;
            }
            let event = codec::decode_without_personal_data(stored).map_err(|error| {
                ApplyError::Poison {
                    position: stored.global_position,
                    reason: error.to_string(),
                }
            })?;
            decoded.push(Some(event));
        }
        let write = |error| ApplyError::from_database(error, first);
        let mut config = ProjectedConfig::load(&mut *connection, generation)
            .await
            .map_err(write)?;
        let mut ids: Vec<Uuid> = relevant
            .iter()
            .filter(|event| event.stream_type == codec::STREAM_TYPE)
            .map(|event| event.stream_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut clocks: HashMap<Uuid, (i64, TicketClocks)> = HashMap::with_capacity(ids.len());
        for row in sqlx::query(
            "SELECT ticket_id, version, clocks FROM rm_sla_clocks \
             WHERE generation = $1 AND ticket_id = ANY($2)",
        )
        .bind(generation)
        .bind(&ids)
        .fetch_all(&mut *connection)
        .await
        .map_err(write)?
        {
            let ticket: Uuid = row.try_get("ticket_id").map_err(write)?;
            let value: Value = row.try_get("clocks").map_err(write)?;
            let state: TicketClocks =
                serde_json::from_value(value).map_err(|error| ApplyError::Poison {
                    position: first,
                    reason: format!("stored clocks do not decode: {error}"),
                })?;
            clocks.insert(ticket, (row.try_get("version").map_err(write)?, state));
        }
        let mut config_rows = Vec::new();
        // Tickets whose clocks this batch changed, with the cursor of the last event that did:
        // their rows are computed once, from the final state (the row costs far more than the
        // fold).
        let mut touched: BTreeMap<Uuid, (i64, i64)> = BTreeMap::new();
        for (stored, event) in relevant.iter().zip(decoded) {
            let Some(event) = event else {
                let kind = config_kind(&stored.stream_type).expect("filtered above");
                let retired = stored.event_type.ends_with(".retired");
                let name = stored
                    .payload
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let definition = stored.payload.get("definition").cloned();
                let version = stored.stream_version;
                config.apply(kind, name.clone(), version, definition.clone(), retired);
                let change = match kind {
                    "calendar" => Some(ConfigurationChange::Calendar(&name)),
                    "sla_policy" => Some(ConfigurationChange::Policy(&name)),
                    _ => None,
                };
                if let Some(change) = change {
                    // Every live clock follows from this instant: load the ones not in hand.
                    let live = sqlx::query(
                        "SELECT ticket_id, version, clocks FROM rm_sla_clocks \
                         WHERE generation = $1 \
                           AND (first_response_state IN ('running', 'paused') \
                                OR resolution_state IN ('running', 'paused'))",
                    )
                    .bind(generation)
                    .fetch_all(&mut *connection)
                    .await
                    .map_err(write)?;
                    for row in live {
                        let ticket: Uuid = row.try_get("ticket_id").map_err(write)?;
                        if clocks.contains_key(&ticket) {
                            continue;
                        }
                        let value: Value = row.try_get("clocks").map_err(write)?;
                        let state: TicketClocks =
                            serde_json::from_value(value).map_err(|error| ApplyError::Poison {
                                position: stored.global_position,
                                reason: format!("stored clocks do not decode: {error}"),
                            })?;
                        clocks.insert(ticket, (row.try_get("version").map_err(write)?, state));
                    }
                    let at = stored.metadata.occurred_at;
                    for (ticket, (_, state)) in clocks.iter_mut() {
                        if !state.is_live() {
                            continue;
                        }
                        state.configuration_changed(at, change, &config);
                        touched.insert(*ticket, (stored.transaction_id, stored.global_position));
                    }
                }
                config_rows.push(ConfigRow {
                    kind,
                    name,
                    version: version as i64,
                    definition,
                    retired,
                });
                continue;
            };
            let version = stored.stream_version as i64;
            let (applied, state) = clocks
                .entry(stored.stream_id)
                .or_insert_with(|| (0, TicketClocks::default()));
            if *applied >= version {
                continue; // a replay
            }
            *applied = version;
            let at = stored.metadata.occurred_at;
            state.apply(&event, at, &config);
            touched.insert(
                stored.stream_id,
                (stored.transaction_id, stored.global_position),
            );
        }
        let rows: Vec<ClockRow> = touched
            .iter()
            .filter_map(|(ticket, cursor)| {
                let (version, state) = clocks.get(ticket)?;
                ClockRow::new(*ticket, *version, state, *cursor, &config)
            })
            .collect();
        if !config_rows.is_empty() {
            sqlx::query(INSERT_CONFIG)
                .bind(generation)
                .bind(sqlx::types::Json(&config_rows))
                .execute(&mut *connection)
                .await
                .map_err(write)?;
        }
        if !rows.is_empty() {
            sqlx::query(UPSERT_CLOCKS)
                .bind(generation)
                .bind(sqlx::types::Json(&rows))
                .execute(&mut *connection)
                .await
                .map_err(write)?;
        }
        Ok(())
    }

    async fn clear(&self, pool: &PgPool, generation: i32, limit: i64) -> Result<u64, sqlx::Error> {
        let mut deleted = 0;
        for sql in [
            "DELETE FROM rm_sla_clocks WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_sla_clocks WHERE generation = $1 LIMIT $2))",
            "DELETE FROM rm_sla_config WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_sla_config WHERE generation = $1 LIMIT $2))",
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

/// A digest of every SLA row of `generation` (every column but `generation`, in key order).
pub async fn digest(pool: &PgPool, generation: i32) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT md5(concat_ws('|', \
           (SELECT string_agg(md5((to_jsonb(c) - 'generation')::text), ',' ORDER BY ticket_id) FROM rm_sla_clocks c WHERE generation = $1), \
           (SELECT string_agg(md5((to_jsonb(k) - 'generation')::text), ',' ORDER BY kind, name, version) FROM rm_sla_config k WHERE generation = $1)))",
    )
    .bind(generation)
    .fetch_one(pool)
    .await
}

/// A ticket's clocks as they stood at `as_of`: its events (recorded until then, decoded, in
/// version order) and the configuration events recorded until then, folded in store order
/// exactly as the projection folds them. Also answers the configuration, to explain the clocks.
pub async fn clocks_as_of(
    pool: &PgPool,
    ticket_events: &[(RecordedEvent, domain::ticket::TicketEvent)],
    as_of: DateTime<Utc>,
) -> Result<(TicketClocks, ProjectedConfig), sqlx::Error> {
    // The literal list is implied by the partial index `events_config_v3_idx` (migration 0009).
    let rows = sqlx::query(
        "SELECT transaction_id::text::bigint AS transaction_id, global_position, stream_type, \
         event_type, stream_version, payload, occurred_at FROM events \
         WHERE stream_type IN ('calendar', 'sla_policy', 'service') AND recorded_at <= $1 \
         ORDER BY transaction_id, global_position",
    )
    .bind(as_of)
    .fetch_all(pool)
    .await?;
    let mut config_events = Vec::with_capacity(rows.len());
    for row in rows {
        let stream_type: String = row.try_get("stream_type")?;
        let Some(kind) = config_kind(&stream_type) else {
            continue;
        };
        let payload: Value = row.try_get("payload")?;
        let event_type: String = row.try_get("event_type")?;
        config_events.push(PastConfigEvent {
            cursor: (
                row.try_get("transaction_id")?,
                row.try_get("global_position")?,
            ),
            kind,
            name: payload
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            version: row.try_get::<i64, _>("stream_version")? as u64,
            definition: payload.get("definition").cloned(),
            retired: event_type.ends_with(".retired"),
            at: row.try_get("occurred_at")?,
        });
    }
    let mut config = ProjectedConfig::default();
    let mut clocks = TicketClocks::default();
    let mut pending = config_events.into_iter().peekable();
    for (stored, event) in ticket_events {
        let cursor = (stored.transaction_id, stored.global_position);
        while let Some(next) = pending.next_if(|next| next.cursor < cursor) {
            apply_past_config(next, &mut config, &mut clocks);
        }
        clocks.apply(event, stored.metadata.occurred_at, &config);
    }
    for next in pending {
        apply_past_config(next, &mut config, &mut clocks);
    }
    Ok((clocks, config))
}

/// A configuration event as [`clocks_as_of`] replays it.
struct PastConfigEvent {
    cursor: (i64, i64),
    kind: &'static str,
    name: String,
    version: u64,
    definition: Option<Value>,
    retired: bool,
    at: DateTime<Utc>,
}

fn apply_past_config(
    event: PastConfigEvent,
    config: &mut ProjectedConfig,
    clocks: &mut TicketClocks,
) {
    config.apply(
        event.kind,
        event.name.clone(),
        event.version,
        event.definition,
        event.retired,
    );
    let change = match event.kind {
        "calendar" => Some(ConfigurationChange::Calendar(&event.name)),
        "sla_policy" => Some(ConfigurationChange::Policy(&event.name)),
        _ => None,
    };
    if let Some(change) = change {
        if clocks.is_live() {
            clocks.configuration_changed(event.at, change, config);
        }
    }
}
