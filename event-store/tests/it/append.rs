//! Appending: versions, optimistic concurrency, idempotent retries, the hash chain.

use event_store::hash::verify_stream;
use event_store::testing::TestDatabase;
use event_store::{append, read_stream, stream_head, AppendRequest, StoreError};
use serde_json::json;
use uuid::Uuid;

use crate::{event, metadata, new_stream};

#[tokio::test]
async fn appended_events_get_consecutive_versions_and_a_verifiable_chain() {
    let db = TestDatabase::create().await;
    let stream = Uuid::new_v4();
    let meta = metadata();
    let first = append(
        &db.app_pool,
        new_stream(
            stream,
            &meta,
            vec![event("t.a", json!({"n": 1})), event("t.b", json!({"n": 2}))],
        ),
    )
    .await
    .unwrap();
    assert_eq!(first.stored.last_version, 2);
    let meta2 = metadata();
    let second = append(
        &db.app_pool,
        AppendRequest {
            expected_version: 2,
            previous_hash: first.last_hash,
            ..new_stream(stream, &meta2, vec![event("t.c", json!({}))])
        },
    )
    .await
    .unwrap();
    assert_eq!(second.stored.last_version, 3);
    assert!(second.stored.cursor > first.stored.cursor);

    let events = read_stream(&db.app_pool, stream).await.unwrap();
    let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(verify_stream(&events), Ok(3));
    assert_eq!(events[2].metadata, meta2);
    assert_eq!(
        stream_head(&db.app_pool, stream).await.unwrap(),
        Some((3, second.last_hash))
    );
}

#[tokio::test]
async fn appending_at_a_stale_version_is_a_conflict_and_appends_nothing() {
    let db = TestDatabase::create().await;
    let stream = Uuid::new_v4();
    let meta = metadata();
    let first = append(
        &db.app_pool,
        new_stream(stream, &meta, vec![event("t.a", json!({}))]),
    )
    .await
    .unwrap();
    let meta2 = metadata();
    append(
        &db.app_pool,
        AppendRequest {
            expected_version: 1,
            previous_hash: first.last_hash,
            ..new_stream(stream, &meta2, vec![event("t.b", json!({}))])
        },
    )
    .await
    .unwrap();

    let meta3 = metadata();
    let stale = AppendRequest {
        expected_version: 1,
        previous_hash: first.last_hash,
        ..new_stream(stream, &meta3, vec![event("t.c", json!({}))])
    };
    let error = append(&db.app_pool, stale).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::VersionConflict {
                expected_version: 1,
                ..
            }
        ),
        "{error:?}"
    );

    let meta4 = metadata();
    let recreate = new_stream(stream, &meta4, vec![event("t.d", json!({}))]);
    assert!(matches!(
        append(&db.app_pool, recreate).await.unwrap_err(),
        StoreError::VersionConflict { .. }
    ));
    assert_eq!(read_stream(&db.app_pool, stream).await.unwrap().len(), 2);
}

#[tokio::test]
async fn appending_with_a_previous_hash_that_is_not_the_head_is_a_conflict() {
    let db = TestDatabase::create().await;
    let stream = Uuid::new_v4();
    let meta = metadata();
    append(
        &db.app_pool,
        new_stream(stream, &meta, vec![event("t.a", json!({}))]),
    )
    .await
    .unwrap();
    let meta2 = metadata();
    let forged = AppendRequest {
        expected_version: 1,
        previous_hash: [7; 32],
        ..new_stream(stream, &meta2, vec![event("t.b", json!({}))])
    };
    assert!(matches!(
        append(&db.app_pool, forged).await.unwrap_err(),
        StoreError::VersionConflict { .. }
    ));
    let meta3 = metadata();
    let ahead = AppendRequest {
        expected_version: 5,
        previous_hash: [0; 32],
        ..new_stream(stream, &meta3, vec![event("t.b", json!({}))])
    };
    assert!(matches!(
        append(&db.app_pool, ahead).await.unwrap_err(),
        StoreError::VersionConflict { .. }
    ));
    assert_eq!(read_stream(&db.app_pool, stream).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_retried_command_appends_nothing_and_returns_the_first_result() {
    let db = TestDatabase::create().await;
    let stream = Uuid::new_v4();
    let meta = metadata();
    let request = || AppendRequest {
        result: json!({"number": "2026-000001"}),
        ..new_stream(stream, &meta, vec![event("t.a", json!({}))])
    };
    let first = append(&db.app_pool, request()).await.unwrap();

    let other_stream = Uuid::new_v4();
    let retry = AppendRequest {
        stream_id: other_stream,
        ..request()
    };
    match append(&db.app_pool, retry).await.unwrap_err() {
        StoreError::DuplicateCommand(stored) => assert_eq!(*stored, first.stored),
        other => panic!("expected a duplicate command, got {other:?}"),
    }
    assert!(read_stream(&db.app_pool, other_stream)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(read_stream(&db.app_pool, stream).await.unwrap().len(), 1);
}

#[tokio::test]
async fn verification_reports_an_altered_payload_and_a_missing_event() {
    let db = TestDatabase::create().await;
    let stream = Uuid::new_v4();
    let meta = metadata();
    append(
        &db.app_pool,
        new_stream(
            stream,
            &meta,
            vec![
                event("t.a", json!({"n": 1})),
                event("t.b", json!({"n": 2})),
                event("t.c", json!({"n": 3})),
            ],
        ),
    )
    .await
    .unwrap();
    let events = read_stream(&db.app_pool, stream).await.unwrap();

    let mut altered = events.clone();
    altered[1].payload = json!({"n": 20});
    let error = verify_stream(&altered).unwrap_err();
    assert!(
        matches!(
            error,
            event_store::hash::ChainError::HashMismatch { version: 2, .. }
        ),
        "{error}"
    );

    let mut missing = events.clone();
    missing.remove(1);
    let error = verify_stream(&missing).unwrap_err();
    assert!(
        matches!(
            error,
            event_store::hash::ChainError::VersionGap {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{error}"
    );
}
