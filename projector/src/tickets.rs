//! The ticket projection: ticket view and worklist (`rm_tickets`), articles, links, the assets a
//! ticket names (`rm_ticket_assets`), the audit timeline (`rm_history`) and the search vectors,
//! all from one fold so that they agree at every checkpoint.
//!
//! A batch is applied with a handful of statements whatever its size: the rows of the tickets
//! it touches are loaded once, the events are folded in memory ([`fold`], pure), and the results
//! are written as JSON record sets (`jsonb_to_recordset`), guarded so a replay changes nothing
//! (`WHERE rm_tickets.version < EXCLUDED.version`, `ON CONFLICT DO NOTHING`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use command_service::codec;
use domain::ticket::{ArticleKind, TicketEvent};
use event_store::crypto::PersonalDataVault;
use event_store::RecordedEvent;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::runner::{ApplyError, Projection};
use crate::search::fold as fold_text;

/// Version of this projection's code: raise it when the fold or the tables change, and the
/// runner rebuilds blue-green on the next start.
pub const VERSION: i32 = 2;
const STREAM_TYPE: &str = codec::STREAM_TYPE;

/// A ticket as the read side shows it (one `rm_tickets` row without `generation` and `search`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketRow {
    pub ticket_id: Uuid,
    pub number: String,
    pub version: i64,
    pub ticket_type: String,
    pub title: String,
    pub description: String,
    pub requester_name: String,
    pub requester_email: Option<String>,
    pub requester_phone: Option<String>,
    pub requester_user_id: Option<String>,
    pub service_id: Option<String>,
    pub category_id: Option<String>,
    pub impact: String,
    pub urgency: String,
    pub priority: String,
    pub priority_rank: i16,
    pub queue: Option<String>,
    pub status: String,
    pub is_open: bool,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub fields: Value,
    pub channel: String,
    pub pending_reason: Option<String>,
    pub pending_until: Option<DateTime<Utc>>,
    pub resolution_code: Option<String>,
    pub resolution_text: Option<String>,
    pub merged_into: Option<Uuid>,
    pub article_count: i32,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub last_tx: i64,
    pub last_position: i64,
}

/// An article row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArticleRow {
    pub ticket_id: Uuid,
    pub article_id: i32,
    pub kind: String,
    pub channel: String,
    pub body: String,
    pub attachments: Value,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

/// An article row as written: the row plus its folded search text (computed only here, so a
/// past view that replays the fold does not pay for it).
#[derive(Serialize)]
struct ArticleRecord<'a> {
    #[serde(flatten)]
    row: &'a ArticleRow,
    search: String,
}

/// A link row (source ticket → target).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LinkKey {
    pub ticket_id: Uuid,
    pub link_type: String,
    pub target_id: Uuid,
}

/// An asset a ticket names (one `rm_ticket_assets` row without `linked_at`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TicketAssetKey {
    pub ticket_id: Uuid,
    pub asset_id: Uuid,
}

/// One audit timeline entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryRow {
    pub ticket_id: Uuid,
    pub version: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub actor: String,
    pub occurred_at: DateTime<Utc>,
    pub origin: String,
    pub correlation_id: Uuid,
    pub changes: Value,
}

/// What one event does to the read models beside the ticket row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Effects {
    pub article: Option<ArticleRow>,
    /// `Some(true)` = link added, `Some(false)` = removed.
    pub link: Option<(LinkKey, bool)>,
    /// `Some(true)` = asset linked, `Some(false)` = unlinked.
    pub asset: Option<(TicketAssetKey, bool)>,
    pub history: Option<HistoryRow>,
}

/// Why an event does not fit the row it should apply to.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    #[error("event {version} of a ticket that was never opened")]
    NotOpened { version: i64 },
    #[error("ticket.opened on a ticket that exists")]
    OpenedTwice,
}

fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn priority_rank(priority: &str) -> i16 {
    match priority {
        "critical" => 1,
        "high" => 2,
        "medium" => 3,
        "low" => 4,
        _ => 5,
    }
}

fn is_open(status: &str) -> bool {
    matches!(status, "new" | "assigned" | "in_progress" | "pending")
}

/// Applies one decoded event to a ticket's row (pure): the new row and the other effects.
pub fn fold(
    row: Option<TicketRow>,
    event: &TicketEvent,
    stored: &RecordedEvent,
) -> Result<(TicketRow, Effects), FoldError> {
    let version = stored.stream_version as i64;
    let at = stored.metadata.occurred_at;
    let before = row.clone();
    let mut effects = Effects::default();
    let mut row = match (row, event) {
        (None, TicketEvent::Opened { .. }) => opened(event, stored),
        (Some(_), TicketEvent::Opened { .. }) => return Err(FoldError::OpenedTwice),
        (None, _) => return Err(FoldError::NotOpened { version }),
        (Some(row), _) => row,
    };
    let mut extra_changes: Vec<Value> = Vec::new();
    match event {
        TicketEvent::Opened { .. } => {}
        TicketEvent::Assigned {
            assignee, queue, ..
        } => {
            row.assignee = Some(assignee.clone());
            row.queue.clone_from(queue);
            move_to(&mut row, "assigned");
        }
        TicketEvent::WorkStarted { .. } => move_to(&mut row, "in_progress"),
        TicketEvent::PendingSet { reason, until } => {
            move_to(&mut row, "pending");
            row.pending_reason = Some(name(reason));
            row.pending_until = until.map(as_stored);
        }
        TicketEvent::Resolved {
            code,
            text,
            resolved_at,
        } => {
            move_to(&mut row, "resolved");
            row.resolution_code = Some(code.clone());
            row.resolution_text = Some(text.as_str().to_owned());
            row.resolved_at = Some(as_stored(*resolved_at));
        }
        TicketEvent::Reopened { to, .. } => {
            move_to(&mut row, &name(to));
            row.resolution_code = None;
            row.resolution_text = None;
            row.resolved_at = None;
        }
        TicketEvent::Closed {} => {
            move_to(&mut row, "closed");
            row.closed_at = Some(at);
        }
        TicketEvent::Cancelled { .. } => {
            move_to(&mut row, "cancelled");
            row.closed_at = Some(at);
        }
        TicketEvent::Merged { into } => {
            move_to(&mut row, "merged");
            row.merged_into = Some(into.as_uuid());
            row.closed_at = Some(at);
        }
        TicketEvent::ArticleAdded {
            article_id,
            kind,
            channel,
            body,
            attachments,
        } => {
            row.article_count = *article_id as i32;
            let kind_name = name(kind);
            if *kind == ArticleKind::PublicReply && row.first_response_at.is_none() {
                row.first_response_at = Some(at);
            }
            extra_changes.push(json!({
                "field": "articles",
                "from": null,
                "to": {"article_id": article_id, "kind": kind_name},
            }));
            effects.article = Some(ArticleRow {
                ticket_id: row.ticket_id,
                article_id: *article_id as i32,
                kind: kind_name,
                channel: name(channel),
                body: body.as_str().to_owned(),
                attachments: serde_json::to_value(attachments).unwrap_or(Value::Null),
                author: stored.metadata.actor.clone(),
                created_at: at,
            });
        }
        TicketEvent::PriorityChanged {
            impact,
            urgency,
            priority,
            ..
        } => {
            row.impact = name(impact);
            row.urgency = name(urgency);
            row.priority = name(priority);
            row.priority_rank = priority_rank(&row.priority);
        }
        TicketEvent::FieldsChanged { set, removed } => {
            let mut fields = match row.fields.take() {
                Value::Object(map) => map,
                _ => serde_json::Map::new(),
            };
            for (key, value) in set {
                fields.insert(
                    key.clone(),
                    serde_json::to_value(value).unwrap_or(Value::Null),
                );
            }
            for key in removed {
                fields.remove(key);
            }
            row.fields = Value::Object(fields);
        }
        TicketEvent::TagsChanged { tags } => row.tags.clone_from(tags),
        TicketEvent::Linked { link_type, target } => {
            let key = LinkKey {
                ticket_id: row.ticket_id,
                link_type: name(link_type),
                target_id: target.as_uuid(),
            };
            extra_changes.push(json!({
                "field": "links", "from": null,
                "to": {"link_type": key.link_type, "target": key.target_id},
            }));
            effects.link = Some((key, true));
        }
        TicketEvent::Unlinked { link_type, target } => {
            let key = LinkKey {
                ticket_id: row.ticket_id,
                link_type: name(link_type),
                target_id: target.as_uuid(),
            };
            extra_changes.push(json!({
                "field": "links",
                "from": {"link_type": key.link_type, "target": key.target_id}, "to": null,
            }));
            effects.link = Some((key, false));
        }
        TicketEvent::AssetLinked { asset_id } => {
            extra_changes.push(json!({"field": "assets", "from": null, "to": asset_id}));
            effects.asset = Some((asset_key(&row, asset_id.0), true));
        }
        TicketEvent::AssetUnlinked { asset_id } => {
            extra_changes.push(json!({"field": "assets", "from": asset_id, "to": null}));
            effects.asset = Some((asset_key(&row, asset_id.0), false));
        }
        TicketEvent::SlaWarningReached {
            metric,
            percent,
            reached_at,
            policy,
        } => extra_changes.push(json!({
            "field": format!("sla.{}", metric.name()),
            "from": null,
            "to": {"warning_percent": percent, "reached_at": as_stored(*reached_at), "policy": policy},
        })),
        TicketEvent::SlaBreached {
            metric,
            due_at,
            policy,
        } => extra_changes.push(json!({
            "field": format!("sla.{}", metric.name()),
            "from": null,
            "to": {"breached": true, "due_at": as_stored(*due_at), "policy": policy},
        })),
    }
    row.version = version;
    row.updated_at = at;
    row.last_tx = stored.transaction_id;
    row.last_position = stored.global_position;
    let mut changes = diff(before.as_ref(), &row);
    changes.extend(extra_changes);
    effects.history = Some(HistoryRow {
        ticket_id: row.ticket_id,
        version,
        event_id: stored.event_id,
        event_type: stored.event_type.clone(),
        actor: stored.metadata.actor.clone(),
        occurred_at: at,
        origin: stored.metadata.origin.clone(),
        correlation_id: stored.metadata.correlation_id,
        changes: Value::Array(changes),
    });
    Ok((row, effects))
}

fn asset_key(row: &TicketRow, asset_id: Uuid) -> TicketAssetKey {
    TicketAssetKey {
        ticket_id: row.ticket_id,
        asset_id,
    }
}

fn opened(event: &TicketEvent, stored: &RecordedEvent) -> TicketRow {
    let TicketEvent::Opened {
        id,
        number,
        ticket_type,
        title,
        description,
        requester,
        service_id,
        category_id,
        impact,
        urgency,
        priority,
        queue,
        tags,
        fields,
        channel,
    } = event
    else {
        unreachable!("called for ticket.opened only")
    };
    let priority = name(priority);
    TicketRow {
        ticket_id: id.as_uuid(),
        number: number.to_string(),
        version: 0,
        ticket_type: name(ticket_type),
        title: title.as_str().to_owned(),
        description: description.as_str().to_owned(),
        requester_name: requester.name.clone(),
        requester_email: requester.email.clone(),
        requester_phone: requester.phone.clone(),
        requester_user_id: requester.user_id.clone(),
        service_id: service_id.clone(),
        category_id: category_id.clone(),
        impact: name(impact),
        urgency: name(urgency),
        priority_rank: priority_rank(&priority),
        priority,
        queue: queue.clone(),
        status: "new".to_owned(),
        is_open: true,
        assignee: None,
        tags: tags.clone(),
        fields: serde_json::to_value(fields).unwrap_or_else(|_| json!({})),
        channel: name(channel),
        pending_reason: None,
        pending_until: None,
        resolution_code: None,
        resolution_text: None,
        merged_into: None,
        article_count: 0,
        opened_by: stored.metadata.actor.clone(),
        opened_at: stored.metadata.occurred_at,
        updated_at: stored.metadata.occurred_at,
        first_response_at: None,
        resolved_at: None,
        closed_at: None,
        last_tx: 0,
        last_position: 0,
    }
}

/// An instant at PostgreSQL's precision, rounded the way it rounds on input (to the nearest
/// microsecond, ties to even): payload times may carry nanoseconds, and the row written and a row
/// replayed in memory (`as_of`) must agree.
pub fn as_stored(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.timestamp_subsec_nanos();
    let (micros, rest) = (nanos / 1_000, nanos % 1_000);
    let up = rest > 500 || (rest == 500 && micros % 2 == 1);
    let truncated = at - chrono::Duration::nanoseconds(i64::from(rest));
    if up {
        truncated + chrono::Duration::microseconds(1)
    } else {
        truncated
    }
}

/// Changes the status; leaving pending forgets why it waited (as the domain does).
fn move_to(row: &mut TicketRow, status: &str) {
    if status != "pending" {
        row.pending_reason = None;
        row.pending_until = None;
    }
    row.status = status.to_owned();
    row.is_open = is_open(status);
}

/// The fields an auditor sees change, from before to after (all from null when opened).
/// Compares the typed fields and builds JSON only for what changed.
fn diff(before: Option<&TicketRow>, after: &TicketRow) -> Vec<Value> {
    let mut changes = Vec::new();
    macro_rules! field {
        ($($name:ident),*) => {$(
            match before {
                Some(before) if before.$name != after.$name => changes.push(json!({
                    "field": stringify!($name), "from": before.$name, "to": after.$name,
                })),
                None => {
                    let to = json!(after.$name);
                    if !is_empty(&to) {
                        changes.push(json!({"field": stringify!($name), "from": null, "to": to}));
                    }
                }
                Some(_) => {}
            }
        )*};
    }
    field!(
        status,
        title,
        ticket_type,
        queue,
        assignee,
        service_id,
        category_id,
        impact,
        urgency,
        priority,
        tags,
        pending_reason,
        pending_until,
        resolution_code,
        merged_into
    );
    let empty = serde_json::Map::new();
    let old_fields = before
        .and_then(|row| row.fields.as_object())
        .unwrap_or(&empty);
    let new_fields = after.fields.as_object().unwrap_or(&empty);
    if old_fields != new_fields {
        let keys: std::collections::BTreeSet<&String> =
            old_fields.keys().chain(new_fields.keys()).collect();
        for key in keys {
            let (from, to) = (old_fields.get(key), new_fields.get(key));
            if from != to {
                changes.push(json!({"field": format!("fields.{key}"), "from": from, "to": to}));
            }
        }
    }
    changes
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// The ticket projection.
#[derive(Debug)]
pub struct TicketProjection {
    pool: PgPool,
    vault: PersonalDataVault,
}

impl TicketProjection {
    /// The projection; `pool` reads the per-person keys that decrypt personal data.
    pub fn new(pool: PgPool, vault: PersonalDataVault) -> TicketProjection {
        TicketProjection { pool, vault }
    }
}

/// A ticket row as written: the row plus its folded search texts.
#[derive(Serialize)]
struct TicketRecord<'a> {
    #[serde(flatten)]
    row: &'a TicketRow,
    search_a: String,
    search_b: String,
}

impl<'a> TicketRecord<'a> {
    fn new(row: &'a TicketRow) -> Self {
        let search_a = fold_text(&format!("{} {}", row.number.replace('-', " "), row.title));
        let search_b = fold_text(&format!("{} {}", row.description, row.tags.join(" ")));
        TicketRecord {
            row,
            search_a,
            search_b,
        }
    }
}

const UPSERT_TICKETS: &str = "\
INSERT INTO rm_tickets (generation, ticket_id, number, version, ticket_type, title, description,
    requester_name, requester_email, requester_phone, requester_user_id, service_id, category_id,
    impact, urgency, priority, priority_rank, queue, status, is_open, assignee, tags, fields,
    channel, pending_reason, pending_until, resolution_code, resolution_text, merged_into,
    article_count, opened_by, opened_at, updated_at, first_response_at, resolved_at, closed_at,
    last_tx, last_position, search)
SELECT $1, r.ticket_id, r.number, r.version, r.ticket_type, r.title, r.description,
    r.requester_name, r.requester_email, r.requester_phone, r.requester_user_id, r.service_id,
    r.category_id, r.impact, r.urgency, r.priority, r.priority_rank, r.queue, r.status, r.is_open,
    r.assignee, r.tags, r.fields, r.channel, r.pending_reason, r.pending_until, r.resolution_code,
    r.resolution_text, r.merged_into, r.article_count, r.opened_by, r.opened_at, r.updated_at,
    r.first_response_at, r.resolved_at, r.closed_at, r.last_tx, r.last_position,
    setweight(to_tsvector('german', r.search_a), 'A') || setweight(to_tsvector('german', r.search_b), 'B')
FROM jsonb_to_recordset($2) AS r(ticket_id uuid, number text, version bigint, ticket_type text,
    title text, description text, requester_name text, requester_email text,
    requester_phone text, requester_user_id text, service_id text, category_id text, impact text,
    urgency text, priority text, priority_rank smallint, queue text, status text,
    is_open boolean, assignee text, tags text[], fields jsonb, channel text, pending_reason text,
    pending_until timestamptz, resolution_code text, resolution_text text, merged_into uuid,
    article_count integer, opened_by text, opened_at timestamptz, updated_at timestamptz,
    first_response_at timestamptz, resolved_at timestamptz, closed_at timestamptz,
    last_tx bigint, last_position bigint, search_a text, search_b text)
ON CONFLICT (generation, ticket_id) DO UPDATE SET
    (number, version, ticket_type, title, description, requester_name, requester_email,
     requester_phone, requester_user_id, service_id, category_id, impact, urgency, priority,
     priority_rank, queue, status, is_open, assignee, tags, fields, channel, pending_reason,
     pending_until, resolution_code, resolution_text, merged_into, article_count, opened_by,
     opened_at, updated_at, first_response_at, resolved_at, closed_at, last_tx, last_position,
     search)
  = (EXCLUDED.number, EXCLUDED.version, EXCLUDED.ticket_type, EXCLUDED.title,
     EXCLUDED.description, EXCLUDED.requester_name, EXCLUDED.requester_email,
     EXCLUDED.requester_phone, EXCLUDED.requester_user_id, EXCLUDED.service_id,
     EXCLUDED.category_id, EXCLUDED.impact, EXCLUDED.urgency, EXCLUDED.priority,
     EXCLUDED.priority_rank, EXCLUDED.queue, EXCLUDED.status, EXCLUDED.is_open,
     EXCLUDED.assignee, EXCLUDED.tags, EXCLUDED.fields, EXCLUDED.channel,
     EXCLUDED.pending_reason, EXCLUDED.pending_until, EXCLUDED.resolution_code,
     EXCLUDED.resolution_text, EXCLUDED.merged_into, EXCLUDED.article_count, EXCLUDED.opened_by,
     EXCLUDED.opened_at, EXCLUDED.updated_at, EXCLUDED.first_response_at, EXCLUDED.resolved_at,
     EXCLUDED.closed_at, EXCLUDED.last_tx, EXCLUDED.last_position, EXCLUDED.search)
WHERE rm_tickets.version < EXCLUDED.version";

const INSERT_ARTICLES: &str = "\
INSERT INTO rm_articles (generation, ticket_id, article_id, kind, channel, body, attachments,
    author, created_at, search)
SELECT $1, r.ticket_id, r.article_id, r.kind, r.channel, r.body, r.attachments, r.author,
    r.created_at, to_tsvector('german', r.search)
FROM jsonb_to_recordset($2) AS r(ticket_id uuid, article_id integer, kind text, channel text,
    body text, attachments jsonb, author text, created_at timestamptz, search text)
ON CONFLICT DO NOTHING";

const INSERT_LINKS: &str = "\
INSERT INTO rm_links (generation, ticket_id, link_type, target_id, created_by, created_at)
SELECT $1, r.ticket_id, r.link_type, r.target_id, r.created_by, r.created_at
FROM jsonb_to_recordset($2) AS r(ticket_id uuid, link_type text, target_id uuid,
    created_by text, created_at timestamptz)
ON CONFLICT DO NOTHING";

const DELETE_LINKS: &str = "\
DELETE FROM rm_links l USING jsonb_to_recordset($2) AS r(ticket_id uuid, link_type text,
    target_id uuid)
WHERE l.generation = $1 AND l.ticket_id = r.ticket_id AND l.link_type = r.link_type
  AND l.target_id = r.target_id";

const INSERT_TICKET_ASSETS: &str = "\
INSERT INTO rm_ticket_assets (generation, ticket_id, asset_id, linked_at)
SELECT $1, r.ticket_id, r.asset_id, r.linked_at
FROM jsonb_to_recordset($2) AS r(ticket_id uuid, asset_id uuid, linked_at timestamptz)
ON CONFLICT DO NOTHING";

const DELETE_TICKET_ASSETS: &str = "\
DELETE FROM rm_ticket_assets a USING jsonb_to_recordset($2) AS r(ticket_id uuid, asset_id uuid)
WHERE a.generation = $1 AND a.ticket_id = r.ticket_id AND a.asset_id = r.asset_id";

const INSERT_HISTORY: &str = "\
INSERT INTO rm_history (generation, ticket_id, version, event_id, event_type, actor,
    occurred_at, origin, correlation_id, changes)
SELECT $1, r.ticket_id, r.version, r.event_id, r.event_type, r.actor, r.occurred_at, r.origin,
    r.correlation_id, r.changes
FROM jsonb_to_recordset($2) AS r(ticket_id uuid, version bigint, event_id uuid,
    event_type text, actor text, occurred_at timestamptz, origin text, correlation_id uuid,
    changes jsonb)
ON CONFLICT DO NOTHING";

#[async_trait]
impl Projection for TicketProjection {
    fn name(&self) -> &'static str {
        crate::TICKETS
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
        let ticket_events: Vec<&RecordedEvent> = events
            .iter()
            .filter(|event| event.stream_type == STREAM_TYPE)
            .collect();
        if ticket_events.is_empty() {
            return Ok(());
        }
        // Decode (and decrypt, which may read keys through the pool) before the first statement
        // of the transaction.
        let mut decoded = Vec::with_capacity(ticket_events.len());
        for stored in &ticket_events {
            let event = codec::decode(&self.pool, &self.vault, stored)
                .await
                .map_err(|error| match error {
                    event_store::StoreError::Database(error) => ApplyError::Transient(error),
                    other => ApplyError::Poison {
                        position: stored.global_position,
                        reason: other.to_string(),
                    },
                })?;
            decoded.push(event);
        }
        let mut ids: Vec<Uuid> = ticket_events.iter().map(|event| event.stream_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut rows: HashMap<Uuid, TicketRow> = HashMap::with_capacity(ids.len());
        let loaded = sqlx::query(
            "SELECT to_jsonb(t) - 'generation' - 'search' AS row FROM rm_tickets t \
             WHERE generation = $1 AND ticket_id = ANY($2)",
        )
        .bind(generation)
        .bind(&ids)
        .fetch_all(&mut *connection)
        .await?;
        for record in loaded {
            let value: Value = record.try_get("row")?;
            let row: TicketRow =
                serde_json::from_value(value).map_err(|error| ApplyError::Poison {
                    position: ticket_events[0].global_position,
                    reason: format!("stored ticket row does not decode: {error}"),
                })?;
            rows.insert(row.ticket_id, row);
        }
        let mut changed: BTreeSet<Uuid> = BTreeSet::new();
        let mut articles = Vec::new();
        let mut links: BTreeMap<LinkKey, Option<(String, DateTime<Utc>)>> = BTreeMap::new();
        // The last effect per (ticket, asset) in the batch: linked at, or unlinked (None).
        let mut assets: BTreeMap<TicketAssetKey, Option<DateTime<Utc>>> = BTreeMap::new();
        let mut history = Vec::with_capacity(ticket_events.len());
        for (stored, event) in ticket_events.into_iter().zip(decoded) {
            let position = stored.global_position;
            let current = rows.remove(&stored.stream_id);
            if current
                .as_ref()
                .is_some_and(|row| row.version >= stored.stream_version as i64)
            {
                // Already applied (a replay): keep the row as it is.
                rows.insert(stored.stream_id, current.expect("checked above"));
                continue;
            }
            let (row, effects) =
                fold(current, &event, stored).map_err(|error| ApplyError::Poison {
                    position,
                    reason: error.to_string(),
                })?;
            if let Some(article) = effects.article {
                articles.push(article);
            }
            if let Some((key, added)) = effects.link {
                let value = added.then(|| (stored.metadata.actor.clone(), row.updated_at));
                links.insert(key, value);
            }
            if let Some((key, added)) = effects.asset {
                assets.insert(key, added.then_some(row.updated_at));
            }
            if let Some(entry) = effects.history {
                history.push(entry);
            }
            changed.insert(row.ticket_id);
            rows.insert(row.ticket_id, row);
        }
        let first = events[0].global_position;
        let records: Vec<TicketRecord> = changed
            .iter()
            .filter_map(|id| rows.get(id))
            .map(TicketRecord::new)
            .collect();
        let write = |error| ApplyError::from_database(error, first);
        sqlx::query(UPSERT_TICKETS)
            .bind(generation)
            .bind(sqlx::types::Json(&records))
            .execute(&mut *connection)
            .await
            .map_err(write)?;
        if !articles.is_empty() {
            sqlx::query(INSERT_ARTICLES)
                .bind(generation)
                .bind(sqlx::types::Json(
                    articles
                        .iter()
                        .map(|row| ArticleRecord {
                            row,
                            search: fold_text(&row.body),
                        })
                        .collect::<Vec<_>>(),
                ))
                .execute(&mut *connection)
                .await
                .map_err(write)?;
        }
        if !links.is_empty() {
            let removed: Vec<&LinkKey> = links.keys().collect();
            sqlx::query(DELETE_LINKS)
                .bind(generation)
                .bind(sqlx::types::Json(&removed))
                .execute(&mut *connection)
                .await
                .map_err(write)?;
            let added: Vec<Value> = links
                .iter()
                .filter_map(|(key, value)| {
                    value.as_ref().map(|(actor, at)| {
                        json!({"ticket_id": key.ticket_id, "link_type": key.link_type,
                           "target_id": key.target_id, "created_by": actor, "created_at": at})
                    })
                })
                .collect();
            if !added.is_empty() {
                sqlx::query(INSERT_LINKS)
                    .bind(generation)
                    .bind(sqlx::types::Json(&added))
                    .execute(&mut *connection)
                    .await
                    .map_err(write)?;
            }
        }
        if !assets.is_empty() {
            write_ticket_assets(connection, generation, &assets)
                .await
                .map_err(write)?;
        }
        sqlx::query(INSERT_HISTORY)
            .bind(generation)
            .bind(sqlx::types::Json(&history))
            .execute(&mut *connection)
            .await
            .map_err(write)?;
        Ok(())
    }

    async fn clear(&self, pool: &PgPool, generation: i32, limit: i64) -> Result<u64, sqlx::Error> {
        let mut deleted = 0;
        for sql in [
            "DELETE FROM rm_history WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_history WHERE generation = $1 LIMIT $2))",
            "DELETE FROM rm_articles WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_articles WHERE generation = $1 LIMIT $2))",
            "DELETE FROM rm_links WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_links WHERE generation = $1 LIMIT $2))",
            "DELETE FROM rm_ticket_assets WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_ticket_assets WHERE generation = $1 LIMIT $2))",
            "DELETE FROM rm_tickets WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_tickets WHERE generation = $1 LIMIT $2))",
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

/// Writes the batch's last asset effect per (ticket, asset): every touched pair is deleted, the
/// linked ones inserted again (as `rm_links`).
async fn write_ticket_assets(
    connection: &mut PgConnection,
    generation: i32,
    assets: &BTreeMap<TicketAssetKey, Option<DateTime<Utc>>>,
) -> Result<(), sqlx::Error> {
    let touched: Vec<&TicketAssetKey> = assets.keys().collect();
    sqlx::query(DELETE_TICKET_ASSETS)
        .bind(generation)
        .bind(sqlx::types::Json(&touched))
        .execute(&mut *connection)
        .await?;
    let linked: Vec<Value> = assets
        .iter()
        .filter_map(|(key, linked_at)| {
            linked_at.map(
                |at| json!({"ticket_id": key.ticket_id, "asset_id": key.asset_id, "linked_at": at}),
            )
        })
        .collect();
    if !linked.is_empty() {
        sqlx::query(INSERT_TICKET_ASSETS)
            .bind(generation)
            .bind(sqlx::types::Json(&linked))
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// A digest of every row of the ticket read models of `generation` (every column but
/// `generation`, each table in key order): equal digests mean equal read models.
pub async fn digest(pool: &PgPool, generation: i32) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
            "SELECT md5(concat_ws('|', \
               (SELECT string_agg(md5((to_jsonb(t) - 'generation')::text), ',' ORDER BY ticket_id) FROM rm_tickets t WHERE generation = $1), \
               (SELECT string_agg(md5((to_jsonb(a) - 'generation')::text), ',' ORDER BY ticket_id, article_id) FROM rm_articles a WHERE generation = $1), \
               (SELECT string_agg(md5((to_jsonb(l) - 'generation')::text), ',' ORDER BY ticket_id, link_type, target_id) FROM rm_links l WHERE generation = $1), \
               (SELECT string_agg(md5((to_jsonb(x) - 'generation')::text), ',' ORDER BY ticket_id, asset_id) FROM rm_ticket_assets x WHERE generation = $1), \
               (SELECT string_agg(md5((to_jsonb(h) - 'generation')::text), ',' ORDER BY ticket_id, version) FROM rm_history h WHERE generation = $1)))",
        )
        .bind(generation)
        .fetch_one(pool)
        .await
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn payload_times_are_rounded_like_postgresql_rounds_them() {
        // psql: SELECT '…00.0000005Z'::timestamptz → .000000, '…0000015Z' → .000002,
        // '…0000025Z' → .000002, '…364858909Z' → .364859 (nearest, ties to even).
        let at = |nanos: u32| Utc.timestamp_opt(1_800_000_000, nanos).unwrap();
        for (given, stored) in [
            (500, 0),
            (1_500, 2_000),
            (2_500, 2_000),
            (2_501, 3_000),
            (364_858_909, 364_859_000),
            (999_999_600, 1_000_000_000),
        ] {
            assert_eq!(
                as_stored(at(given)),
                at(0) + chrono::Duration::nanoseconds(stored)
            );
        }
    }
}
