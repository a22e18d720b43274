//! Store-wide tamper evidence (DESIGN §7, ADR 0007).
//!
//! Each stream is hash-chained ([`crate::hash`]); that reveals an altered or removed event
//! inside a stream, not a stream's removed tail nor a reordering across streams. So a
//! checkpointer folds every event's hash, in cursor order, into a running root
//! (`root_n = SHA-256(root_(n-1) ‖ hash_n)`, `root_0` = 32 zero bytes) and periodically appends a
//! signed [`StoreCheckpoint`] (Ed25519, key derived from the master key) of the cursor, the count
//! and the root. [`verify_store`] recomputes everything in one pass and names the first broken
//! link exactly.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::crypto::MasterKey;
use crate::error::StoreError;
use crate::hash::{event_hash, hash_input, ChainError, GENESIS};
use crate::model::{Cursor, RecordedEvent};

/// The running root before the first event.
pub const ROOT_GENESIS: [u8; 32] = [0; 32];
/// Events read per round trip while checkpointing and verifying.
pub const BATCH: u32 = 10_000;
/// Most events one checkpoint covers beyond the previous one: a first checkpoint of a large
/// store is written in bounded steps.
pub const EVENTS_PER_CHECKPOINT_MAX: i64 = 1_000_000;
/// Most problems a verification lists (it counts all of them).
pub const PROBLEMS_LISTED_MAX: usize = 1_000;

const SIGNING_KEY_INFO: &[u8] = b"itsm/audit-checkpoint-signing/v1";

/// The running root after one more event.
pub fn fold_root(root: &[u8; 32], event_hash: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(root);
    hasher.update(event_hash);
    hasher.finalize().into()
}

/// The installation's checkpoint signing key, derived from the master key.
pub struct CheckpointKey(SigningKey);

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointKey({})", hex::encode(self.public_key()))
    }
}

impl CheckpointKey {
    /// The signing key of the installation with this master key.
    pub fn derive(master: &MasterKey) -> CheckpointKey {
        CheckpointKey(SigningKey::from_bytes(&master.derive(SIGNING_KEY_INFO)))
    }

    /// The public key an auditor verifies checkpoints with (`itsm audit public-key`).
    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }
}

/// A signed statement: "at `cursor`, the store held `event_count` events with this root".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoreCheckpoint {
    pub sequence: i64,
    pub transaction_id: i64,
    pub global_position: i64,
    pub event_count: i64,
    #[serde(with = "hex_array")]
    pub root_hash: [u8; 32],
    #[serde(serialize_with = "micros")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "hex_array")]
    pub public_key: [u8; 32],
    #[serde(with = "hex_array")]
    pub signature: [u8; 64],
}

impl StoreCheckpoint {
    /// The cursor of the last event covered.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            transaction_id: self.transaction_id,
            global_position: self.global_position,
        }
    }

    /// The bytes the signature covers: canonical JSON (keys sorted, no whitespace) of
    /// `sequence, transaction_id, global_position, event_count, root_hash (hex), created_at
    /// (RFC 3339, microseconds, Z)`.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let document = json!({
            "sequence": self.sequence,
            "transaction_id": self.transaction_id,
            "global_position": self.global_position,
            "event_count": self.event_count,
            "root_hash": hex::encode(self.root_hash),
            "created_at": self.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        });
        let mut out = Vec::with_capacity(256);
        crate::canonical::write(&document, &mut out);
        out
    }

    /// Whether the signature holds for the public key the record names.
    pub fn signature_holds(&self) -> bool {
        VerifyingKey::from_bytes(&self.public_key).is_ok_and(|key| {
            key.verify(
                &self.signed_bytes(),
                &Signature::from_bytes(&self.signature),
            )
            .is_ok()
        })
    }
}

/// All checkpoints, oldest first.
pub async fn checkpoints(pool: &PgPool) -> Result<Vec<StoreCheckpoint>, StoreError> {
    let rows = sqlx::query(
        "SELECT sequence, transaction_id::text::bigint AS transaction_id, global_position, \
         event_count, root_hash, created_at, public_key, signature \
         FROM audit_checkpoints ORDER BY sequence",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let sequence: i64 = row.try_get("sequence")?;
            let bytes = |column: &str| -> Result<Vec<u8>, StoreError> { Ok(row.try_get(column)?) };
            let corrupt = |what: &str| StoreError::Corrupt {
                position: sequence,
                reason: format!("audit checkpoint {sequence}: {what} has the wrong length"),
            };
            Ok(StoreCheckpoint {
                sequence,
                transaction_id: row.try_get("transaction_id")?,
                global_position: row.try_get("global_position")?,
                event_count: row.try_get("event_count")?,
                root_hash: bytes("root_hash")?
                    .try_into()
                    .map_err(|_| corrupt("root_hash"))?,
                created_at: row.try_get("created_at")?,
                public_key: bytes("public_key")?
                    .try_into()
                    .map_err(|_| corrupt("public_key"))?,
                signature: bytes("signature")?
                    .try_into()
                    .map_err(|_| corrupt("signature"))?,
            })
        })
        .collect()
}

/// Why a checkpoint was not written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// An event's stored hash does not match its content: the store is not signed over that.
    #[error("not signing over a broken chain: {0}")]
    Broken(ChainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Appends the next checkpoint over the events committed since the last one (at most
/// [`EVENTS_PER_CHECKPOINT_MAX`]); `None` when there is nothing new, or another process wrote
/// the same sequence first. Refuses to sign over an event whose hash does not match its content.
pub async fn write_checkpoint(
    pool: &PgPool,
    key: &CheckpointKey,
    now: DateTime<Utc>,
) -> Result<Option<StoreCheckpoint>, CheckpointError> {
    let last = sqlx::query(
        "SELECT sequence, transaction_id::text::bigint AS transaction_id, global_position, \
         event_count, root_hash FROM audit_checkpoints ORDER BY sequence DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .map_err(StoreError::from)?;
    let (sequence, mut cursor, mut count, mut root) = match last {
        None => (0, Cursor::START, 0, ROOT_GENESIS),
        Some(row) => {
            let root: Vec<u8> = row.try_get("root_hash").map_err(StoreError::from)?;
            (
                row.try_get::<i64, _>("sequence")
                    .map_err(StoreError::from)?,
                Cursor {
                    transaction_id: row.try_get("transaction_id").map_err(StoreError::from)?,
                    global_position: row.try_get("global_position").map_err(StoreError::from)?,
                },
                row.try_get::<i64, _>("event_count")
                    .map_err(StoreError::from)?,
                root.try_into().map_err(|_| StoreError::Corrupt {
                    position: 0,
                    reason: "audit checkpoint root has the wrong length".into(),
                })?,
            )
        }
    };
    let start_count = count;
    while count - start_count < EVENTS_PER_CHECKPOINT_MAX {
        let room = (EVENTS_PER_CHECKPOINT_MAX - (count - start_count)).min(i64::from(BATCH));
        let events = crate::read_after(pool, cursor, room as u32).await?;
        let Some(last) = events.last() else { break };
        cursor = last.cursor();
        for event in &events {
            let recomputed = event_hash(&event.previous_hash, &hash_input(event));
            if recomputed != event.hash {
                return Err(CheckpointError::Broken(ChainError::HashMismatch {
                    stream_id: event.stream_id,
                    version: event.stream_version,
                    expected: hex::encode(recomputed),
                    found: hex::encode(event.hash),
                }));
            }
            root = fold_root(&root, &event.hash);
            count += 1;
        }
    }
    if count == start_count {
        return Ok(None);
    }
    let mut checkpoint = StoreCheckpoint {
        sequence: sequence + 1,
        transaction_id: cursor.transaction_id,
        global_position: cursor.global_position,
        event_count: count,
        root_hash: root,
        created_at: now.trunc_subsecs(6),
        public_key: key.public_key(),
        signature: [0; 64],
    };
    checkpoint.signature = key.0.sign(&checkpoint.signed_bytes()).to_bytes();
    let inserted = sqlx::query(
        "INSERT INTO audit_checkpoints (sequence, transaction_id, global_position, event_count, \
         root_hash, created_at, public_key, signature) \
         VALUES ($1, ($2::bigint)::text::xid8, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (sequence) DO NOTHING",
    )
    .bind(checkpoint.sequence)
    .bind(checkpoint.transaction_id)
    .bind(checkpoint.global_position)
    .bind(checkpoint.event_count)
    .bind(&checkpoint.root_hash[..])
    .bind(checkpoint.created_at)
    .bind(&checkpoint.public_key[..])
    .bind(&checkpoint.signature[..])
    .execute(pool)
    .await
    .map_err(StoreError::from)?;
    Ok((inserted.rows_affected() == 1).then_some(checkpoint))
}

/// One thing verification found wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// A stream's chain does not hold (altered, removed or reordered event).
    #[error("{0}")]
    Chain(#[serde(serialize_with = "chain_error")] ChainError),
    /// The events up to a checkpoint's cursor are not what it signed (a stream's tail removed,
    /// events reordered, or an event re-hashed after the checkpoint).
    #[error(
        "checkpoint {sequence} at {cursor}: expected {expected_count} events with root \
         {expected_root}, found {found_count} with root {found_root}"
    )]
    Checkpoint {
        sequence: i64,
        cursor: String,
        expected_count: i64,
        found_count: i64,
        expected_root: String,
        found_root: String,
    },
    /// A checkpoint's signature does not hold, or it was signed with another key.
    #[error("checkpoint {sequence}: {reason}")]
    Signature { sequence: i64, reason: String },
}

fn chain_error<S: serde::Serializer>(error: &ChainError, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(None)?;
    let (stream_id, version, expected, found) = match error {
        ChainError::VersionGap {
            stream_id,
            previous,
            expected,
            found,
        } => {
            map.serialize_entry("break", "version_gap")?;
            map.serialize_entry("previous_version", previous)?;
            (stream_id, found, expected.to_string(), found.to_string())
        }
        ChainError::BrokenLink {
            stream_id,
            version,
            expected,
            found,
        } => {
            map.serialize_entry("break", "broken_link")?;
            (stream_id, version, expected.clone(), found.clone())
        }
        ChainError::HashMismatch {
            stream_id,
            version,
            expected,
            found,
        } => {
            map.serialize_entry("break", "hash_mismatch")?;
            (stream_id, version, expected.clone(), found.clone())
        }
    };
    map.serialize_entry("stream_id", stream_id)?;
    map.serialize_entry("version", version)?;
    map.serialize_entry("expected", &expected)?;
    map.serialize_entry("found", &found)?;
    map.serialize_entry("message", &error.to_string())?;
    map.end()
}

/// What a verification found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub events: u64,
    pub streams: u64,
    pub checkpoints: u64,
    /// The last checkpoint's cursor; events after it are chained per stream only.
    pub anchored_through: Option<String>,
    /// Events after the last checkpoint.
    pub unanchored_events: u64,
    /// How many problems were found (only the first [`PROBLEMS_LISTED_MAX`] are listed).
    pub problem_count: u64,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing was found wrong.
    pub fn intact(&self) -> bool {
        self.problem_count == 0
    }

    fn push(&mut self, problem: Problem) {
        self.problem_count += 1;
        if self.problems.len() < PROBLEMS_LISTED_MAX {
            self.problems.push(problem);
        }
    }
}

/// Verifies one stream's chain against itself (a single ticket; the store-wide checkpoints need
/// [`verify_store`]).
pub fn verify_one_stream(events: &[RecordedEvent]) -> VerifyReport {
    let mut verifier = Walk::default();
    let mut report = VerifyReport::default();
    for event in events {
        verifier.event(event, &mut report);
    }
    report.streams = verifier.heads.len() as u64;
    report
}

/// The one-pass walk over events in cursor order.
#[derive(Default)]
struct Walk {
    heads: HashMap<Uuid, (u64, [u8; 32])>,
    root: [u8; 32],
    count: i64,
}

impl Walk {
    fn event(&mut self, event: &RecordedEvent, report: &mut VerifyReport) {
        let (previous_version, previous_hash) = self
            .heads
            .get(&event.stream_id)
            .copied()
            .unwrap_or((0, GENESIS));
        if event.stream_version != previous_version + 1 {
            report.push(Problem::Chain(ChainError::VersionGap {
                stream_id: event.stream_id,
                previous: previous_version,
                expected: previous_version + 1,
                found: event.stream_version,
            }));
        } else if event.previous_hash != previous_hash {
            report.push(Problem::Chain(ChainError::BrokenLink {
                stream_id: event.stream_id,
                version: event.stream_version,
                expected: hex::encode(previous_hash),
                found: hex::encode(event.previous_hash),
            }));
        }
        let recomputed = event_hash(&event.previous_hash, &hash_input(event));
        if recomputed != event.hash {
            report.push(Problem::Chain(ChainError::HashMismatch {
                stream_id: event.stream_id,
                version: event.stream_version,
                expected: hex::encode(recomputed),
                found: hex::encode(event.hash),
            }));
        }
        // An event that goes back in its stream (reordered) leaves the head where it was, so the
        // events after it are judged against the stream's real predecessor.
        if event.stream_version > previous_version {
            self.heads
                .insert(event.stream_id, (event.stream_version, event.hash));
        }
        self.root = fold_root(&self.root, &event.hash);
        self.count += 1;
        report.events += 1;
    }

    fn checkpoint(&self, checkpoint: &StoreCheckpoint, report: &mut VerifyReport) {
        if checkpoint.event_count != self.count || checkpoint.root_hash != self.root {
            report.push(Problem::Checkpoint {
                sequence: checkpoint.sequence,
                cursor: checkpoint.cursor().to_string(),
                expected_count: checkpoint.event_count,
                found_count: self.count,
                expected_root: hex::encode(checkpoint.root_hash),
                found_root: hex::encode(self.root),
            });
        }
        report.checkpoints += 1;
    }
}

fn check_signature(
    checkpoint: &StoreCheckpoint,
    public_key: Option<&[u8; 32]>,
    report: &mut VerifyReport,
) {
    if !checkpoint.signature_holds() {
        report.push(Problem::Signature {
            sequence: checkpoint.sequence,
            reason: "the signature does not hold".into(),
        });
    } else if public_key.is_some_and(|key| key != &checkpoint.public_key) {
        report.push(Problem::Signature {
            sequence: checkpoint.sequence,
            reason: format!(
                "signed by {}, not by this installation's key",
                hex::encode(checkpoint.public_key)
            ),
        });
    }
}

/// Verifies the whole store in one pass in cursor order: every event's hash, every stream's
/// chain, every checkpoint's count, root and signature (`public_key`: the installation's, if
/// known). `progress` is called after each batch with the events verified so far. The next batch
/// is fetched while the current one is hashed (on a blocking thread).
pub async fn verify_store(
    pool: &PgPool,
    public_key: Option<&[u8; 32]>,
    progress: impl Fn(u64),
) -> Result<VerifyReport, StoreError> {
    let checkpoints = checkpoints(pool).await?;
    let mut state = VerifyState {
        pending: checkpoints.clone().into(),
        report: VerifyReport::default(),
        walk: Walk::default(),
    };
    for checkpoint in &checkpoints {
        check_signature(checkpoint, public_key, &mut state.report);
    }
    let mut batch = crate::read_after(pool, Cursor::START, BATCH).await?;
    while let Some(last) = batch.last() {
        let cursor = last.cursor();
        let hashing = tokio::task::spawn_blocking(move || {
            state.batch(&batch);
            state
        });
        let (next, hashed) = tokio::join!(crate::read_after(pool, cursor, BATCH), hashing);
        state = hashed.map_err(|error| StoreError::Corrupt {
            position: cursor.global_position,
            reason: format!("verification stopped: {error}"),
        })?;
        batch = next?;
        progress(state.report.events);
    }
    let VerifyState {
        pending,
        mut report,
        walk,
    } = state;
    for checkpoint in &pending {
        walk.checkpoint(checkpoint, &mut report);
    }
    report.streams = walk.heads.len() as u64;
    if let Some(last) = checkpoints.last() {
        report.anchored_through = Some(last.cursor().to_string());
        report.unanchored_events = (walk.count - last.event_count).max(0) as u64;
    } else {
        report.unanchored_events = report.events;
    }
    Ok(report)
}

/// What a verification carries from batch to batch.
struct VerifyState {
    /// Checkpoints not yet reached, oldest first.
    pending: std::collections::VecDeque<StoreCheckpoint>,
    report: VerifyReport,
    walk: Walk,
}

impl VerifyState {
    fn batch(&mut self, events: &[RecordedEvent]) {
        for event in events {
            while self
                .pending
                .front()
                .is_some_and(|next| next.cursor() < event.cursor())
            {
                let checkpoint = self.pending.pop_front().expect("checked above");
                self.walk.checkpoint(&checkpoint, &mut self.report);
            }
            self.walk.event(event, &mut self.report);
        }
    }
}

fn micros<S: serde::Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Micros, true))
}

mod hex_array {
    use serde::Serializer;
    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }
}

/// Which events an export holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// Whole streams (tickets), each in version order; empty: every stream.
    pub streams: Vec<Uuid>,
    /// Only events recorded at or after this instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Only events recorded before this instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
}

impl Selection {
    /// Everything: the export can be checked against the checkpoints' roots.
    pub fn is_complete(&self) -> bool {
        self.streams.is_empty() && self.from.is_none() && self.to.is_none()
    }
}

/// The name and version of the export format (`schemas/audit-export.schema.json`).
pub const EXPORT_FORMAT: &str = "itsm-audit-export";
pub const EXPORT_FORMAT_VERSION: u32 = 1;

/// One event as an export line: the stored columns, flat, with `occurred_at` exactly as hashed.
pub fn event_record(event: &RecordedEvent) -> serde_json::Value {
    let metadata = &event.metadata;
    json!({
        "record": "event",
        "global_position": event.global_position,
        "transaction_id": event.transaction_id,
        "event_id": event.event_id,
        "stream_type": event.stream_type,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "event_type": event.event_type,
        "event_version": event.event_version,
        "payload": event.payload,
        "actor": metadata.actor,
        "occurred_at": metadata.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "origin": metadata.origin,
        "correlation_id": metadata.correlation_id,
        "causation_id": metadata.causation_id,
        "command_id": metadata.command_id,
        "recorded_at": event.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "previous_hash": hex::encode(event.previous_hash),
        "hash": hex::encode(event.hash),
    })
}

fn checkpoint_record(checkpoint: &StoreCheckpoint) -> serde_json::Value {
    let mut record = serde_json::to_value(checkpoint).unwrap_or_default();
    record["record"] = json!("checkpoint");
    record
}

/// Produces an export as JSON Lines, one chunk per batch: a header, the events (a complete
/// export in cursor order with each checkpoint right after the last event it covers; a selection
/// stream by stream or in cursor order), the checkpoints a partial export cannot interleave, and
/// an `end` record with the counts (a truncated file lacks it).
#[derive(Debug)]
pub struct Exporter {
    pool: PgPool,
    selection: Selection,
    header: Option<serde_json::Value>,
    checkpoints: std::collections::VecDeque<StoreCheckpoint>,
    streams: std::collections::VecDeque<Uuid>,
    cursor: Cursor,
    root: [u8; 32],
    events: u64,
    checkpoints_written: u64,
    done: bool,
}

impl Exporter {
    /// An exporter of `selection`, made by `exported_by` at `now`.
    pub async fn new(
        pool: PgPool,
        selection: Selection,
        exported_by: &str,
        public_key: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Exporter, StoreError> {
        let mut selection = selection;
        let mut seen = std::collections::HashSet::new();
        selection.streams.retain(|stream| seen.insert(*stream));
        let header = json!({
            "record": "export",
            "format": EXPORT_FORMAT,
            "format_version": EXPORT_FORMAT_VERSION,
            "exported_at": now.to_rfc3339_opts(SecondsFormat::Micros, true),
            "exported_by": exported_by,
            "selection": selection,
            "complete": selection.is_complete(),
            "public_key": hex::encode(public_key),
        });
        let checkpoints = checkpoints(&pool).await?.into();
        Ok(Exporter {
            streams: selection.streams.iter().copied().collect(),
            pool,
            selection,
            header: Some(header),
            checkpoints,
            cursor: Cursor::START,
            root: ROOT_GENESIS,
            events: 0,
            checkpoints_written: 0,
            done: false,
        })
    }

    /// How many events were written so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The next chunk of lines, `None` after the `end` record.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(1 << 16);
        if let Some(header) = self.header.take() {
            line(&mut out, &header);
        }
        let complete = self.selection.is_complete();
        let events = if !self.selection.streams.is_empty() {
            match self.streams.pop_front() {
                Some(stream) => {
                    let (from, to) = (self.selection.from, self.selection.to);
                    let mut events = crate::read_stream(&self.pool, stream).await?;
                    events.retain(|event| {
                        from.is_none_or(|from| event.recorded_at >= from)
                            && to.is_none_or(|to| event.recorded_at < to)
                    });
                    events
                }
                None => Vec::new(),
            }
        } else {
            crate::read_recorded_between_after(
                &self.pool,
                self.cursor,
                self.selection.from,
                self.selection.to,
                BATCH,
            )
            .await?
        };
        if let Some(last) = events.last() {
            self.cursor = last.cursor();
        }
        for event in &events {
            if complete {
                while let Some(checkpoint) = self
                    .checkpoints
                    .front()
                    .filter(|checkpoint| checkpoint.cursor() < event.cursor())
                {
                    line(&mut out, &checkpoint_record(checkpoint));
                    self.checkpoints.pop_front();
                    self.checkpoints_written += 1;
                }
            }
            line(&mut out, &event_record(event));
            self.root = fold_root(&self.root, &event.hash);
            self.events += 1;
        }
        let exhausted = if self.selection.streams.is_empty() {
            events.is_empty()
        } else {
            self.streams.is_empty()
        };
        if exhausted {
            // A complete export carries only the checkpoints its events reach (one written
            // meanwhile may cover events committed after the export's horizon).
            let reached =
                |checkpoint: &StoreCheckpoint| !complete || checkpoint.cursor() <= self.cursor;
            for checkpoint in self.checkpoints.drain(..).filter(reached) {
                line(&mut out, &checkpoint_record(&checkpoint));
                self.checkpoints_written += 1;
            }
            let mut end = json!({
                "record": "end",
                "events": self.events,
                "checkpoints": self.checkpoints_written,
            });
            if complete {
                end["root_hash"] = json!(hex::encode(self.root));
            }
            line(&mut out, &end);
            self.done = true;
        }
        Ok(Some(out))
    }
}

fn line(out: &mut Vec<u8>, record: &serde_json::Value) {
    // Serializing a `Value` into a Vec cannot fail.
    serde_json::to_writer(&mut *out, record).expect("JSON serializes");
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::hash::HashInput;
    use crate::model::Metadata;

    fn chain(stream_id: Uuid, length: u64, first_position: i64) -> Vec<RecordedEvent> {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let metadata = Metadata::new(
            "k.meier".into(),
            at,
            "api".into(),
            Uuid::nil(),
            Uuid::nil(),
            Uuid::nil(),
        );
        let mut previous_hash = GENESIS;
        (1..=length)
            .map(|version| {
                let payload = json!({ "text": format!("Eintrag {version}: Größe \"A4\"\n") });
                let event_id = Uuid::from_u128(u128::from(version) + stream_id.as_u128());
                let hash = event_hash(
                    &previous_hash,
                    &HashInput {
                        event_id,
                        stream_type: "ticket",
                        stream_id,
                        stream_version: version,
                        event_type: "ticket.note_added",
                        event_version: 1,
                        payload: &payload,
                        metadata: &metadata,
                    },
                );
                let event = RecordedEvent {
                    global_position: first_position + version as i64,
                    transaction_id: first_position + version as i64,
                    event_id,
                    stream_type: "ticket".into(),
                    stream_id,
                    stream_version: version,
                    event_type: "ticket.note_added".into(),
                    event_version: 1,
                    payload,
                    metadata: metadata.clone(),
                    recorded_at: at,
                    previous_hash,
                    hash,
                };
                previous_hash = hash;
                event
            })
            .collect()
    }

    fn kinds(report: &VerifyReport) -> Vec<String> {
        report
            .problems
            .iter()
            .map(|problem| match problem {
                Problem::Chain(ChainError::VersionGap { found, .. }) => format!("gap@{found}"),
                Problem::Chain(ChainError::BrokenLink { version, .. }) => format!("link@{version}"),
                Problem::Chain(ChainError::HashMismatch { version, .. }) => {
                    format!("hash@{version}")
                }
                other => other.to_string(),
            })
            .collect()
    }

    #[test]
    fn the_running_root_is_sha256_of_root_and_hash() {
        // Computed independently: python3 -c "import hashlib;
        // print(hashlib.sha256(bytes(32)+bytes([1])*32).hexdigest())"
        assert_eq!(
            hex::encode(fold_root(&ROOT_GENESIS, &[1; 32])),
            "5c85955f709283ecce2b74f1b1552918819f390911816e7bb466805a38ab87f3"
        );
    }

    #[test]
    fn an_intact_stream_verifies_and_each_kind_of_damage_is_named() {
        let stream = Uuid::from_u128(7 << 64);
        let events = chain(stream, 4, 0);
        let report = verify_one_stream(&events);
        assert!(report.intact(), "{report:?}");
        assert_eq!((report.events, report.streams), (4, 1));

        let mut altered = events.clone();
        altered[1].payload = json!({ "text": "geändert" });
        assert_eq!(kinds(&verify_one_stream(&altered)), ["hash@2"]);

        let mut removed = events.clone();
        removed.remove(1);
        assert_eq!(kinds(&verify_one_stream(&removed)), ["gap@3"]);

        let reordered = vec![
            events[0].clone(),
            events[2].clone(),
            events[1].clone(),
            events[3].clone(),
        ];
        assert_eq!(kinds(&verify_one_stream(&reordered)), ["gap@3", "gap@2"]);

        // A forger who re-hashes the altered event still breaks the next link.
        let mut rehashed = events.clone();
        rehashed[1].payload = json!({ "text": "geändert" });
        rehashed[1].hash = event_hash(&rehashed[1].previous_hash, &hash_input(&rehashed[1]));
        assert_eq!(kinds(&verify_one_stream(&rehashed)), ["link@3"]);
    }

    #[test]
    fn a_signature_covers_every_signed_field() {
        let key = CheckpointKey::derive(&MasterKey::generate());
        let mut checkpoint = StoreCheckpoint {
            sequence: 3,
            transaction_id: 812,
            global_position: 4_711,
            event_count: 4_000,
            root_hash: [9; 32],
            created_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
            public_key: key.public_key(),
            signature: [0; 64],
        };
        checkpoint.signature = key.0.sign(&checkpoint.signed_bytes()).to_bytes();
        assert!(checkpoint.signature_holds());
        let tampered: [fn(&mut StoreCheckpoint); 6] = [
            |c| c.sequence += 1,
            |c| c.transaction_id += 1,
            |c| c.global_position -= 1,
            |c| c.event_count -= 1,
            |c| c.root_hash[0] ^= 1,
            |c| c.created_at += chrono::Duration::microseconds(1),
        ];
        for change in tampered {
            let mut copy = checkpoint.clone();
            change(&mut copy);
            assert!(!copy.signature_holds(), "{copy:?}");
        }
        let other = CheckpointKey::derive(&MasterKey::generate());
        let mut foreign = checkpoint.clone();
        foreign.public_key = other.public_key();
        assert!(!foreign.signature_holds());
    }

    #[test]
    fn the_signing_key_is_stable_for_a_master_key() {
        let master = MasterKey::generate();
        assert_eq!(
            CheckpointKey::derive(&master).public_key(),
            CheckpointKey::derive(&master.clone()).public_key()
        );
        assert_ne!(
            CheckpointKey::derive(&master).public_key(),
            CheckpointKey::derive(&MasterKey::generate()).public_key()
        );
    }
}
