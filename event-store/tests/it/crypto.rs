//! Personal data is stored encrypted per data subject and erasable by deleting the key.

use event_store::crypto::{MasterKey, PersonalDataVault, ERASED};
use event_store::hash::verify_stream;
use event_store::testing::TestDatabase;
use event_store::{append, read_stream};
use serde_json::json;
use uuid::Uuid;

use crate::{event, metadata, new_stream};

const POINTERS: &[&str] = &[
    "/requester/name",
    "/requester/email",
    "/description",
    "/missing",
];

#[tokio::test]
async fn personal_fields_are_stored_encrypted_and_read_back_in_plaintext() {
    let db = TestDatabase::create().await;
    let vault = PersonalDataVault::new(&MasterKey::generate());
    let subject = vault
        .subject_for(&db.app_pool, "Erika@Example.org")
        .await
        .unwrap();
    let same = vault
        .subject_for(&db.app_pool, "erika@example.org ")
        .await
        .unwrap();
    assert_eq!(subject.id, same.id, "identifiers are normalised");

    let plaintext = json!({"title": "Drucker", "description": "Büro 2.17", "requester": {"name": "Erika Mustermann", "email": "erika@example.org", "phone": null}});
    let mut stored = event("ticket.opened", plaintext.clone());
    vault
        .encrypt_fields(&mut stored.payload, POINTERS, &subject, stored.event_id)
        .unwrap();
    let text = stored.payload.to_string();
    assert!(
        !text.contains("Erika") && !text.contains("Büro"),
        "plaintext leaked: {text}"
    );
    assert_eq!(stored.payload["title"], "Drucker");
    assert_eq!(
        stored.payload["requester"]["phone"],
        serde_json::Value::Null
    );

    let stream = Uuid::new_v4();
    let meta = metadata();
    append(&db.app_pool, new_stream(stream, &meta, vec![stored]))
        .await
        .unwrap();
    let mut events = read_stream(&db.app_pool, stream).await.unwrap();
    assert_eq!(verify_stream(&events), Ok(1));
    let event_id = events[0].event_id;
    vault
        .decrypt_fields(&db.app_pool, &mut events[0].payload, POINTERS, event_id)
        .await
        .unwrap();
    assert_eq!(events[0].payload, plaintext);
}

#[tokio::test]
async fn an_envelope_moved_to_another_event_fails_authentication() {
    let db = TestDatabase::create().await;
    let vault = PersonalDataVault::new(&MasterKey::generate());
    let subject = vault
        .subject_for(&db.app_pool, "erika@example.org")
        .await
        .unwrap();
    let mut payload = json!({"description": "geheim"});
    vault
        .encrypt_fields(&mut payload, POINTERS, &subject, Uuid::new_v4())
        .unwrap();
    let error = vault
        .decrypt_fields(&db.app_pool, &mut payload, POINTERS, Uuid::new_v4())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("authentication"), "{error}");
}

#[tokio::test]
async fn after_the_subject_key_is_deleted_the_fields_read_as_erased_and_the_chain_still_holds() {
    let db = TestDatabase::create().await;
    let master = MasterKey::generate();
    let vault = PersonalDataVault::new(&master);
    let subject = vault
        .subject_for(&db.app_pool, "erika@example.org")
        .await
        .unwrap();
    let mut stored = event(
        "ticket.opened",
        json!({"description": "Büro 2.17", "requester": {"name": "Erika"}}),
    );
    vault
        .encrypt_fields(&mut stored.payload, POINTERS, &subject, stored.event_id)
        .unwrap();
    let stream = Uuid::new_v4();
    let meta = metadata();
    append(&db.app_pool, new_stream(stream, &meta, vec![stored]))
        .await
        .unwrap();

    sqlx::query("DELETE FROM data_subject_keys WHERE subject_id = $1")
        .bind(subject.id)
        .execute(&db.owner_pool)
        .await
        .unwrap();

    let fresh_vault = PersonalDataVault::new(&master);
    let mut events = read_stream(&db.app_pool, stream).await.unwrap();
    assert_eq!(verify_stream(&events), Ok(1));
    let event_id = events[0].event_id;
    fresh_vault
        .decrypt_fields(&db.app_pool, &mut events[0].payload, POINTERS, event_id)
        .await
        .unwrap();
    assert_eq!(
        events[0].payload,
        json!({"description": ERASED, "requester": {"name": ERASED}})
    );
}

#[tokio::test]
async fn the_first_master_key_is_recorded_and_another_one_is_refused() {
    let db = TestDatabase::create().await;
    let first = MasterKey::generate();
    first.check_against(&db.app_pool).await.unwrap();
    first.check_against(&db.app_pool).await.unwrap();

    let error = MasterKey::generate()
        .check_against(&db.app_pool)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("not the key this database was set up with"),
        "{error}"
    );
}
