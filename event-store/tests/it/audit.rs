//! Store-wide tamper evidence (ADR 0007): signed checkpoints, a one-pass verification that names
//! exactly what was altered, removed or reordered, and the JSON Lines export checked by the
//! README's standalone Python script.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use event_store::audit::{
    checkpoints, event_record, fold_root, verify_store, write_checkpoint, CheckpointError,
    CheckpointKey, Exporter, Problem, Selection, StoreCheckpoint, VerifyReport, ROOT_GENESIS,
};
use event_store::crypto::MasterKey;
use event_store::hash::{canonical_bytes, event_hash, hash_input, ChainError, GENESIS};
use event_store::testing::TestDatabase;
use event_store::{append, read_after, read_stream, AppendRequest, Cursor, RecordedEvent};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{event, metadata};

/// How long to wait for other tests' open transactions (anywhere in the cluster) to finish, so
/// that the gap-free reader, and with it the checkpointer and the verifier, sees every event.
const SETTLE_WAIT_MAX: Duration = Duration::from_secs(30);
/// More than any test here stores.
const EVENTS_READ_MAX: u32 = 10_000;

/// A database, this installation's checkpoint key, and each stream's head for appending.
struct Store {
    db: TestDatabase,
    key: CheckpointKey,
    heads: HashMap<Uuid, (u64, [u8; 32])>,
}

impl Store {
    async fn create() -> Store {
        Store {
            db: TestDatabase::create().await,
            key: CheckpointKey::derive(&MasterKey::generate()),
            heads: HashMap::new(),
        }
    }

    /// Appends one command's events, one per payload, to `stream`.
    async fn append(&mut self, stream: Uuid, payloads: &[Value]) {
        let (version, previous_hash) = self.heads.get(&stream).copied().unwrap_or((0, GENESIS));
        let meta = metadata();
        let events = payloads
            .iter()
            .map(|payload| event("t.noted", payload.clone()))
            .collect();
        let request = AppendRequest {
            stream_type: "ticket",
            stream_id: stream,
            expected_version: version,
            previous_hash,
            metadata: &meta,
            events,
            result: json!({}),
        };
        let outcome = append(&self.db.app_pool, request).await.unwrap();
        self.heads
            .insert(stream, (outcome.stored.last_version, outcome.last_hash));
    }

    async fn checkpoint(&self) -> Option<StoreCheckpoint> {
        self.checkpoint_with(&self.key).await
    }

    async fn checkpoint_with(&self, key: &CheckpointKey) -> Option<StoreCheckpoint> {
        settle(&self.db).await;
        write_checkpoint(&self.db.app_pool, key, Utc::now())
            .await
            .unwrap()
    }

    /// Verifies against this installation's public key.
    async fn verify(&self) -> VerifyReport {
        settle(&self.db).await;
        verify_store(&self.db.app_pool, Some(&self.key.public_key()), |_| {})
            .await
            .unwrap()
    }

    async fn checkpoints(&self) -> Vec<StoreCheckpoint> {
        checkpoints(&self.db.app_pool).await.unwrap()
    }

    /// Every event in cursor order.
    async fn events(&self) -> Vec<RecordedEvent> {
        settle(&self.db).await;
        read_after(&self.db.app_pool, Cursor::START, EVENTS_READ_MAX)
            .await
            .unwrap()
    }

    async fn stored(&self, stream: Uuid, version: u64) -> RecordedEvent {
        read_stream(&self.db.app_pool, stream)
            .await
            .unwrap()
            .into_iter()
            .find(|event| event.stream_version == version)
            .expect("event is stored")
    }
}

/// Waits until the gap-free reader sees every stored event.
async fn settle(db: &TestDatabase) {
    let deadline = Instant::now() + SETTLE_WAIT_MAX;
    loop {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&db.app_pool)
            .await
            .unwrap();
        let visible = read_after(&db.app_pool, Cursor::START, EVENTS_READ_MAX)
            .await
            .unwrap()
            .len();
        if visible as i64 == stored {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{visible} of {stored} events visible"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A payload whose canonical JSON needs every escaping rule: umlauts, ß, quotes, backslashes,
/// a newline, a tab, other control characters, U+2028, non-ASCII keys (sorted by code point).
fn payload(n: u32) -> Value {
    json!({
        "n": n,
        "title": "Drucker im 2. OG druckt nicht – Grüße an Jörg Müller, Straße 5",
        "note": "Er sagte: \"Pfad C:\\Temp\\ß\"\nZeile 2\tmit Tab / Ende",
        "control": "\u{1}\u{8}\u{c}\r\u{1f}\u{7f}",
        "ä": true,
        "z": null,
        "nested": {"Ü": [1, "ß", {"é": "€😀"}], "a": "\u{2028}", "B": -7},
    })
}

fn payloads(first: u32, count: u32) -> Vec<Value> {
    (first..first + count).map(payload).collect()
}

/// Streams `a` (versions 1–3) and `b` (1–2) anchored by checkpoint 1 (5 events, its cursor at
/// `a` 3), then `a` 4 and `c` 1–3 after it.
async fn anchored_store() -> (Store, [Uuid; 3]) {
    let mut store = Store::create().await;
    let [a, b, c] = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    store.append(a, &payloads(1, 2)).await;
    store.append(b, &payloads(3, 2)).await;
    store.append(a, &payloads(5, 1)).await;
    let first = store.checkpoint().await.expect("checkpoint 1");
    assert_eq!((first.sequence, first.event_count), (1, 5));
    store.append(a, &payloads(6, 1)).await;
    store.append(c, &payloads(7, 3)).await;
    (store, [a, b, c])
}

/// Lets the owner rewrite events, as a malicious administrator could (a superuser here).
async fn allow_rewrites(db: &TestDatabase) {
    sqlx::query("ALTER TABLE events DISABLE TRIGGER events_no_update_delete")
        .execute(&db.owner_pool)
        .await
        .unwrap();
}

async fn alter_payload(db: &TestDatabase, stream: Uuid, version: u64) {
    allow_rewrites(db).await;
    let updated = sqlx::query(
        "UPDATE events SET payload = jsonb_set(payload, '{n}', '999') \
         WHERE stream_id = $1 AND stream_version = $2",
    )
    .bind(stream)
    .bind(version as i64)
    .execute(&db.owner_pool)
    .await
    .unwrap();
    assert_eq!(updated.rows_affected(), 1);
}

/// Alters an event's payload and stores its recomputed hash: the event verifies on its own.
async fn forge(store: &Store, stream: Uuid, version: u64) -> (RecordedEvent, RecordedEvent) {
    let original = store.stored(stream, version).await;
    alter_payload(&store.db, stream, version).await;
    let altered = store.stored(stream, version).await;
    sqlx::query("UPDATE events SET hash = $1 WHERE event_id = $2")
        .bind(&recompute(&altered)[..])
        .bind(altered.event_id)
        .execute(&store.db.owner_pool)
        .await
        .unwrap();
    (original, store.stored(stream, version).await)
}

async fn delete(db: &TestDatabase, stream: Uuid, version: u64) {
    allow_rewrites(db).await;
    let deleted = sqlx::query("DELETE FROM events WHERE stream_id = $1 AND stream_version = $2")
        .bind(stream)
        .bind(version as i64)
        .execute(&db.owner_pool)
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected(), 1);
}

fn recompute(event: &RecordedEvent) -> [u8; 32] {
    event_hash(&event.previous_hash, &hash_input(event))
}

fn hash_mismatch(event: &RecordedEvent) -> Problem {
    Problem::Chain(ChainError::HashMismatch {
        stream_id: event.stream_id,
        version: event.stream_version,
        expected: hex::encode(recompute(event)),
        found: hex::encode(event.hash),
    })
}

fn version_gap(stream_id: Uuid, previous: u64, found: u64) -> Problem {
    Problem::Chain(ChainError::VersionGap {
        stream_id,
        previous,
        expected: previous + 1,
        found,
    })
}

/// The problem verification reports for `checkpoint` when the store now holds `events` (in
/// cursor order).
fn checkpoint_problem(checkpoint: &StoreCheckpoint, events: &[RecordedEvent]) -> Problem {
    let covered: Vec<_> = events
        .iter()
        .filter(|event| event.cursor() <= checkpoint.cursor())
        .cloned()
        .collect();
    let root = running_root(&covered);
    Problem::Checkpoint {
        sequence: checkpoint.sequence,
        cursor: checkpoint.cursor().to_string(),
        expected_count: checkpoint.event_count,
        found_count: covered.len() as i64,
        expected_root: hex::encode(checkpoint.root_hash),
        found_root: hex::encode(root),
    }
}

/// `root_n` over `events` in the given order.
fn running_root(events: &[RecordedEvent]) -> [u8; 32] {
    events
        .iter()
        .fold(ROOT_GENESIS, |root, event| fold_root(&root, &event.hash))
}

#[track_caller]
fn assert_problems(report: &VerifyReport, expected: &[Problem]) {
    assert_eq!(report.problems, expected, "{report:#?}");
    assert_eq!(report.problem_count, expected.len() as u64);
}

// --- an intact store -------------------------------------------------------------------------

#[tokio::test]
async fn an_intact_store_verifies_clean_and_counts_the_events_after_the_last_checkpoint() {
    let mut store = Store::create().await;
    let [a, b, c] = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    store.append(a, &payloads(1, 2)).await;
    store.append(b, &payloads(3, 1)).await;
    let report = store.verify().await;
    assert_eq!((report.events, report.checkpoints), (3, 0));
    assert_eq!(report.unanchored_events, 3);
    assert_eq!(report.anchored_through, None);

    let first = store.checkpoint().await.expect("checkpoint 1");
    assert_eq!((first.sequence, first.event_count), (1, 3));
    assert_eq!(store.checkpoint().await, None, "nothing new to sign");
    store.append(a, &payloads(4, 1)).await;
    store.append(c, &payloads(5, 2)).await;
    let second = store.checkpoint().await.expect("checkpoint 2");
    assert_eq!((second.sequence, second.event_count), (2, 6));
    assert_eq!(store.checkpoint().await, None, "nothing new to sign");
    store.append(b, &payloads(7, 1)).await;

    let report = store.verify().await;
    assert!(report.intact(), "{report:#?}");
    assert_problems(&report, &[]);
    assert_eq!(
        (report.events, report.streams, report.checkpoints),
        (7, 3, 2)
    );
    assert_eq!(report.unanchored_events, 1);
    assert_eq!(report.anchored_through, Some(second.cursor().to_string()));
    assert_eq!(store.checkpoints().await, [first.clone(), second.clone()]);
    assert!(first.signature_holds() && second.signature_holds());
    assert_eq!(second.public_key, store.key.public_key());
    let events = store.events().await;
    assert_eq!(second.cursor(), events[5].cursor());
    assert_eq!(running_root(&events[..6]), second.root_hash);
}

// --- tampering, through the owner with the guard trigger disabled ----------------------------

#[tokio::test]
async fn an_altered_payload_is_a_hash_mismatch_of_exactly_that_event_and_its_checkpoint_holds() {
    let (store, [a, ..]) = anchored_store().await;

    alter_payload(&store.db, a, 2).await;

    let altered = store.stored(a, 2).await;
    // The stored hash did not change, so the checkpoint's root still recomputes.
    assert_problems(&store.verify().await, &[hash_mismatch(&altered)]);
}

#[tokio::test]
async fn a_rehashed_forgery_breaks_the_next_link_and_the_checkpoint_covering_it() {
    let (store, [a, ..]) = anchored_store().await;

    let (original, forged) = forge(&store, a, 2).await;

    let checkpoint = &store.checkpoints().await[0];
    let broken_link = Problem::Chain(ChainError::BrokenLink {
        stream_id: a,
        version: 3,
        expected: hex::encode(forged.hash),
        found: hex::encode(original.hash),
    });
    let events = store.events().await;
    assert_problems(
        &store.verify().await,
        &[broken_link, checkpoint_problem(checkpoint, &events)],
    );
}

#[tokio::test]
async fn a_rehashed_forgery_of_a_streams_anchored_last_event_is_a_checkpoint_problem() {
    let (store, [_, b, _]) = anchored_store().await;

    forge(&store, b, 2).await;

    let checkpoint = &store.checkpoints().await[0];
    let events = store.events().await;
    let problem = checkpoint_problem(checkpoint, &events);
    assert!(matches!(
        problem,
        Problem::Checkpoint {
            expected_count: 5,
            found_count: 5,
            ..
        }
    ));
    assert_problems(&store.verify().await, &[problem]);
}

#[tokio::test]
async fn a_rehashed_forgery_of_an_unanchored_last_event_goes_unnoticed_until_checkpointed() {
    let (store, [_, _, c]) = anchored_store().await;

    forge(&store, c, 3).await;

    // Today's limit (module docs of `audit`): events after the last checkpoint are protected by
    // their stream's chain only, and the forged event is the end of its chain.
    let report = store.verify().await;
    assert!(report.intact(), "{report:#?}");
    assert_eq!(report.unanchored_events, 4);
}

#[tokio::test]
async fn deleting_a_middle_event_is_a_version_gap_at_the_next_version() {
    let (store, [a, ..]) = anchored_store().await;

    delete(&store.db, a, 2).await;

    let checkpoint = &store.checkpoints().await[0];
    let events = store.events().await;
    assert_problems(
        &store.verify().await,
        &[
            version_gap(a, 1, 3),
            checkpoint_problem(checkpoint, &events),
        ],
    );
}

#[tokio::test]
async fn deleting_an_unanchored_middle_event_is_only_a_version_gap() {
    let (store, [_, _, c]) = anchored_store().await;

    delete(&store.db, c, 2).await;

    assert_problems(&store.verify().await, &[version_gap(c, 1, 3)]);
}

#[tokio::test]
async fn deleting_the_anchored_last_event_of_a_stream_is_a_checkpoint_problem_one_event_short() {
    let (store, [_, b, _]) = anchored_store().await;

    delete(&store.db, b, 2).await;

    let checkpoint = &store.checkpoints().await[0];
    let events = store.events().await;
    let problem = checkpoint_problem(checkpoint, &events);
    let Problem::Checkpoint {
        expected_count,
        found_count,
        ..
    } = problem
    else {
        unreachable!()
    };
    assert_eq!((expected_count, found_count), (5, 4));
    assert_problems(&store.verify().await, &[problem]);
}

#[tokio::test]
async fn swapping_two_events_of_a_stream_is_reported_at_both_and_at_the_next_link() {
    let (store, [a, ..]) = anchored_store().await;
    allow_rewrites(&store.db).await;
    let mut transaction = store.db.owner_pool.begin().await.unwrap();
    for (from, to) in [(2, 1000), (3, 2), (1000, 3)] {
        sqlx::query(
            "UPDATE events SET stream_version = $3 WHERE stream_id = $1 AND stream_version = $2",
        )
        .bind(a)
        .bind(from as i64)
        .bind(to as i64)
        .execute(&mut *transaction)
        .await
        .unwrap();
    }
    transaction.commit().await.unwrap();

    // In cursor order `a` now reads 1, 3, 2, 4. The stored hashes did not change (so checkpoint 1
    // holds), but each swapped event's version is hashed.
    let (now_third, now_second) = (store.stored(a, 3).await, store.stored(a, 2).await);
    assert!(now_third.cursor() < now_second.cursor());
    assert_problems(
        &store.verify().await,
        &[
            version_gap(a, 1, 3),
            hash_mismatch(&now_third),
            version_gap(a, 3, 2),
            hash_mismatch(&now_second),
            // Going back to 2 left the head at the event that claims 3: the untouched version 4
            // links to the real version 3, whose row now claims 2.
            Problem::Chain(ChainError::BrokenLink {
                stream_id: a,
                version: 4,
                expected: hex::encode(now_third.hash),
                found: hex::encode(now_second.hash),
            }),
        ],
    );
}

#[tokio::test]
async fn a_checkpoint_signed_with_another_key_is_a_signature_problem() {
    let (mut store, [a, ..]) = anchored_store().await;
    store.append(a, &payloads(10, 1)).await;
    let stranger = CheckpointKey::derive(&MasterKey::generate());

    let foreign = store
        .checkpoint_with(&stranger)
        .await
        .expect("checkpoint 2");

    assert!(foreign.signature_holds());
    assert_problems(
        &store.verify().await,
        &[Problem::Signature {
            sequence: 2,
            reason: format!(
                "signed by {}, not by this installation's key",
                hex::encode(stranger.public_key())
            ),
        }],
    );
    // Without the installation's key only the signatures themselves can be checked.
    settle(&store.db).await;
    let unkeyed = verify_store(&store.db.app_pool, None, |_| {})
        .await
        .unwrap();
    assert!(unkeyed.intact(), "{unkeyed:#?}");
}

#[tokio::test]
async fn an_edited_checkpoint_fails_its_signature_and_its_root() {
    let (store, _) = anchored_store().await;
    sqlx::query("ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_no_update_delete")
        .execute(&store.db.owner_pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_checkpoints SET root_hash = $1 WHERE sequence = 1")
        .bind(&[7u8; 32][..])
        .execute(&store.db.owner_pool)
        .await
        .unwrap();

    let edited = &store.checkpoints().await[0];
    let events = store.events().await;
    assert_problems(
        &store.verify().await,
        &[
            Problem::Signature {
                sequence: 1,
                reason: "the signature does not hold".into(),
            },
            checkpoint_problem(edited, &events),
        ],
    );
}

#[tokio::test]
async fn no_checkpoint_is_signed_over_an_event_whose_hash_does_not_match() {
    let (store, [_, _, c]) = anchored_store().await;
    alter_payload(&store.db, c, 1).await;
    settle(&store.db).await;

    let error = write_checkpoint(&store.db.app_pool, &store.key, Utc::now())
        .await
        .unwrap_err();

    let altered = store.stored(c, 1).await;
    let CheckpointError::Broken(broken) = error else {
        panic!("{error:?}")
    };
    assert_eq!(Problem::Chain(broken), hash_mismatch(&altered));
    assert_eq!(store.checkpoints().await.len(), 1);
}

// --- the export and the README's standalone check ---------------------------------------------

/// An export written to a file of its own in the temporary directory, removed on drop.
struct ExportFile {
    path: PathBuf,
}

impl ExportFile {
    async fn write(store: &Store, selection: Selection) -> ExportFile {
        settle(&store.db).await;
        let mut exporter = Exporter::new(
            store.db.app_pool.clone(),
            selection,
            "a.auditor",
            &store.key.public_key(),
            Utc::now(),
        )
        .await
        .unwrap();
        let mut bytes = Vec::new();
        while let Some(chunk) = exporter.next_chunk().await.unwrap() {
            bytes.extend(chunk);
        }
        ExportFile::with_text(&String::from_utf8(bytes).unwrap())
    }

    fn with_text(text: &str) -> ExportFile {
        let path = std::env::temp_dir().join(format!("itsm-audit-export-{}.jsonl", Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        ExportFile { path }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap()
    }

    fn records(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn event_ids(&self) -> Vec<String> {
        self.records()
            .iter()
            .filter(|record| record["record"] == "event")
            .map(|record| record["event_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for ExportFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The README's Python check, as an auditor would copy it.
fn readme_check() -> String {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(readme_path).unwrap();
    let (_, rest) = readme
        .split_once("<!-- verify-export:start -->")
        .expect("start marker");
    let (block, _) = rest
        .split_once("<!-- verify-export:end -->")
        .expect("end marker");
    let block = block.trim();
    assert!(block.starts_with("```python"), "a python fence: {block}");
    let code: Vec<&str> = block
        .lines()
        .filter(|line| !line.starts_with("```"))
        .collect();
    code.join("\n") + "\n"
}

/// Runs the README's check on `export` with `python3`.
fn run_readme_check(export: &ExportFile) -> Output {
    let script = ExportFile::with_text(&readme_check());
    Command::new("python3")
        .arg(&script.path)
        .arg(&export.path)
        .output()
        .expect("python3 runs")
}

#[track_caller]
fn assert_check_passes(export: &ExportFile, events: usize) {
    let output = run_readme_check(export);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("ok {events}\n")
    );
}

#[track_caller]
fn assert_check_fails(export: &ExportFile, message: &str) {
    let output = run_readme_check(export);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the check passed a bad export");
    assert!(stderr.contains("AssertionError"), "{stderr}");
    assert!(stderr.contains(message), "expected {message:?} in {stderr}");
}

/// Store of [`anchored_store`] with a second checkpoint covering everything: 9 events.
async fn fully_anchored_store() -> (Store, [Uuid; 3]) {
    let (store, streams) = anchored_store().await;
    let second = store.checkpoint().await.expect("checkpoint 2");
    assert_eq!(second.event_count, 9);
    (store, streams)
}

#[tokio::test]
async fn a_complete_export_interleaves_the_checkpoints_and_passes_the_readmes_check() {
    let (store, _) = fully_anchored_store().await;

    let export = ExportFile::write(&store, Selection::default()).await;

    let records = export.records();
    let kinds: Vec<&str> = records
        .iter()
        .map(|record| record["record"].as_str().unwrap())
        .collect();
    let mut expected = vec!["export"];
    expected.extend(["event"; 5]);
    expected.push("checkpoint");
    expected.extend(["event"; 4]);
    expected.extend(["checkpoint", "end"]);
    assert_eq!(kinds, expected);
    for (index, record) in records.iter().enumerate() {
        if record["record"] == "checkpoint" {
            let before = &records[index - 1];
            assert_eq!(
                (&before["transaction_id"], &before["global_position"]),
                (&record["transaction_id"], &record["global_position"]),
                "a checkpoint follows the last event it covers"
            );
        }
    }
    assert_eq!(records[0]["complete"], true);
    assert_eq!(
        records[0]["public_key"],
        hex::encode(store.key.public_key())
    );
    let end = records.last().unwrap();
    assert_eq!(
        (&end["events"], &end["checkpoints"]),
        (&json!(9), &json!(2))
    );
    assert_eq!(end["root_hash"], records[11]["root_hash"]);
    assert_check_passes(&export, 9);
}

#[tokio::test]
async fn the_readmes_check_rejects_an_export_with_one_character_changed_or_its_end_cut_off() {
    let (store, _) = fully_anchored_store().await;
    let export = ExportFile::write(&store, Selection::default()).await;
    let text = export.text();
    let line = text.lines().nth(4).unwrap();
    let event_id = serde_json::from_str::<Value>(line).unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let flipped = ExportFile::with_text(&text.replacen(line, &line.replacen("Jörg", "Jürg", 1), 1));
    let truncated = ExportFile::with_text(&text[..text.trim_end().rfind('\n').unwrap() + 1]);

    assert_ne!(flipped.text(), text);
    assert_check_fails(&flipped, &format!("hash mismatch at event {event_id}"));
    assert_check_fails(&truncated, "no end record");
}

#[tokio::test]
async fn an_export_of_one_stream_holds_it_in_version_order_and_passes_the_readmes_check() {
    let (store, [a, ..]) = fully_anchored_store().await;

    let export = ExportFile::write(
        &store,
        Selection {
            streams: vec![a],
            ..Selection::default()
        },
    )
    .await;

    let records = export.records();
    assert_eq!(records[0]["complete"], false);
    let versions: Vec<_> = records
        .iter()
        .filter(|record| record["record"] == "event")
        .map(|record| {
            assert_eq!(record["stream_id"], a.to_string());
            record["stream_version"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(versions, [1, 2, 3, 4]);
    assert_eq!(records.last().unwrap().get("root_hash"), None);
    assert_check_passes(&export, 4);
}

#[tokio::test]
async fn a_time_range_export_holds_exactly_the_events_recorded_in_the_range() {
    let mut store = Store::create().await;
    let [a, b, c] = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    store.append(a, &payloads(1, 2)).await;
    store.append(b, &payloads(3, 1)).await;
    store.checkpoint().await.expect("checkpoint 1");
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.append(a, &payloads(4, 1)).await;
    store.append(c, &payloads(5, 2)).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.append(b, &payloads(7, 1)).await;
    let events = store.events().await;
    let mut by_position = events.clone();
    by_position.sort_by_key(|event| event.global_position);
    // The second phase's first event opens the range, the third phase's closes it.
    let (from, to) = (by_position[3].recorded_at, by_position[6].recorded_at);

    let export = ExportFile::write(
        &store,
        Selection {
            streams: Vec::new(),
            from: Some(from),
            to: Some(to),
        },
    )
    .await;

    let expected: Vec<String> = events
        .iter()
        .filter(|event| from <= event.recorded_at && event.recorded_at < to)
        .map(|event| event.event_id.to_string())
        .collect();
    assert_eq!(expected.len(), 3);
    assert_eq!(export.event_ids(), expected);
    assert_eq!(export.records()[0]["complete"], false);
    // `a` starts at version 3 here: a partial export may start a stream anywhere.
    assert_check_passes(&export, 3);
}

#[tokio::test]
async fn an_export_of_one_stream_honours_the_time_range() {
    let mut store = Store::create().await;
    let a = Uuid::new_v4();
    store.append(a, &payloads(1, 2)).await;
    settle(&store.db).await;
    let future = Utc.with_ymd_and_hms(2999, 1, 1, 0, 0, 0).unwrap();

    let export = ExportFile::write(
        &store,
        Selection {
            streams: vec![a],
            from: Some(future),
            to: None,
        },
    )
    .await;

    assert_eq!(export.event_ids().len(), 0, "no event lies in the range");
    assert_eq!(
        export.records()[0]["selection"]["from"],
        "2999-01-01T00:00:00Z"
    );
}

// --- canonical JSON: Python's json.dumps reproduces it --------------------------------------

#[test]
fn pythons_json_dumps_reproduces_the_canonical_bytes_of_an_exported_event() {
    let meta = metadata();
    let mut tricky = payload(1);
    tricky["all_control_characters"] = Value::String((0u8..0x20).map(char::from).collect());
    tricky["quotes and backslashes"] = json!(["\"", "\\", "\\\"", "\\\\n", "/"]);
    tricky["keys"] =
        json!({"b": 1, "a": 2, "B": 3, "ä": 4, "Ä": 5, "😀": 6, "\u{fffd}": 7, "é": 8});
    let event = RecordedEvent {
        global_position: 1,
        transaction_id: 1,
        event_id: Uuid::new_v4(),
        stream_type: "ticket".into(),
        stream_id: Uuid::new_v4(),
        stream_version: 1,
        event_type: "ticket.noted – Grüße".into(),
        event_version: 1,
        payload: tricky,
        metadata: meta,
        recorded_at: Utc::now(),
        previous_hash: GENESIS,
        hash: GENESIS,
    };
    let line = serde_json::to_string(&event_record(&event)).unwrap();
    let script = r#"
import json, sys
KEYS = ("event_id", "stream_type", "stream_id", "stream_version", "event_type", "event_version",
        "payload", "actor", "occurred_at", "origin", "correlation_id", "causation_id", "command_id")
r = json.loads(sys.stdin.buffer.read().decode("utf-8"))
canonical = json.dumps({k: r[k] for k in KEYS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
sys.stdout.buffer.write(canonical.encode("utf-8"))
"#;
    let mut python = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    python
        .stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let output = python.wait_with_output().unwrap();

    assert!(output.status.success());
    let canonical = canonical_bytes(&hash_input(&event));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(canonical).unwrap()
    );
}

#[tokio::test]
async fn a_stream_named_twice_is_exported_once() {
    let mut store = Store::create().await;
    let a = Uuid::new_v4();
    store.append(a, &payloads(1, 3)).await;
    settle(&store.db).await;

    let export = ExportFile::write(
        &store,
        Selection {
            streams: vec![a, a],
            from: None,
            to: None,
        },
    )
    .await;

    assert_eq!(export.event_ids().len(), 3);
    assert_eq!(export.records()[0]["selection"]["streams"], json!([a]));
    assert_check_passes(&export, 3);
}
