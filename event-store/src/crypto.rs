//! Personal data encrypted per data subject (crypto-shredding, DESIGN §7).
//!
//! Each data subject (a requester, found by an HMAC of their user id or e-mail address) has an
//! AES-256 key, stored wrapped by a key-wrapping key. The wrapping key, the HMAC key and the
//! key fingerprint are derived from the configured master key with HKDF-SHA-256, one purpose
//! each, so the master key itself is never used directly. Fields that an event
//! type marks as personal are replaced in the stored payload by an envelope
//! `{"$enc": "aes256gcm.v1", "subject": <uuid>, "nonce": <base64>, "ciphertext": <base64>}` whose
//! associated data binds it to its event id and field. Deleting a subject's key erases those fields
//! everywhere while the events and their hash chain stay intact.

use std::collections::HashMap;
use std::sync::Mutex;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::StoreError;

/// Marker key and scheme of an encrypted field.
pub const ENVELOPE_KEY: &str = "$enc";
const SCHEME: &str = "aes256gcm.v1";
/// What an erased field reads as.
pub const ERASED: &str = "[gelöscht / erased]";
/// Bound on cached subject keys; the cache is cleared when full (keys are re-read on demand).
const KEY_CACHE_ENTRIES_MAX: usize = 100_000;
const NONCE_BYTES: usize = 12;

/// The 32-byte master key that wraps every subject key. Never printed.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Parses the base64 form used in the configuration.
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|_| StoreError::Crypto("master key is not base64".into()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| StoreError::Crypto("master key must be 32 bytes".into()))?;
        Ok(Self(bytes))
    }

    /// A fresh random key (tests, first start).
    pub fn generate() -> Self {
        Self(Aes256Gcm::generate_key(OsRng).into())
    }

    /// The base64 form.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// A key for one purpose (`info`), derived with HKDF-SHA-256.
    pub(crate) fn derive(&self, info: &[u8]) -> [u8; 32] {
        derive(self, info)
    }

    /// A one-way fingerprint that identifies the key without revealing it.
    fn fingerprint(&self) -> [u8; 32] {
        derive(self, FINGERPRINT_INFO)
    }

    /// Records this key's fingerprint in a new database, or checks it against the recorded one:
    /// personal data encrypted under one master key cannot be read with another.
    pub async fn check_against(&self, pool: &PgPool) -> Result<(), StoreError> {
        let fingerprint = self.fingerprint();
        sqlx::query("INSERT INTO master_key_check (id, fingerprint) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(fingerprint.as_slice())
            .execute(pool)
            .await?;
        let recorded: Vec<u8> =
            sqlx::query_scalar("SELECT fingerprint FROM master_key_check WHERE id = 1")
                .fetch_one(pool)
                .await?;
        if recorded != fingerprint {
            return Err(StoreError::Crypto(
                "crypto.master_key is not the key this database was set up with; restore the original itsm.toml \
                 (personal data cannot be decrypted with another key)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A data subject and their key.
#[derive(Clone)]
pub struct DataSubject {
    pub id: Uuid,
    key: Aes256Gcm,
}

impl std::fmt::Debug for DataSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataSubject")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// HKDF `info` labels: one derived key per purpose.
const WRAPPING_KEY_INFO: &[u8] = b"itsm/key-wrapping/v1";
const SUBJECT_REF_KEY_INFO: &[u8] = b"itsm/subject-ref/v1";
const FINGERPRINT_INFO: &[u8] = b"itsm/master-key-fingerprint/v1";

fn derive(master: &MasterKey, info: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(None, &master.0)
        .expand(info, &mut key)
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    key
}

/// Encrypts and decrypts personal data fields; caches unwrapped subject keys.
pub struct PersonalDataVault {
    master: Aes256Gcm,
    subject_ref_key: [u8; 32],
    by_id: Mutex<HashMap<Uuid, Option<DataSubject>>>,
    by_ref: Mutex<HashMap<[u8; 32], DataSubject>>,
}

impl std::fmt::Debug for PersonalDataVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonalDataVault").finish_non_exhaustive()
    }
}

impl PersonalDataVault {
    /// A vault using `master` to wrap subject keys.
    pub fn new(master: &MasterKey) -> Self {
        Self {
            master: Aes256Gcm::new(&derive(master, WRAPPING_KEY_INFO).into()),
            subject_ref_key: derive(master, SUBJECT_REF_KEY_INFO),
            by_id: Mutex::new(HashMap::new()),
            by_ref: Mutex::new(HashMap::new()),
        }
    }

    /// HMAC of a subject's identifier, so the key table does not list e-mail addresses.
    pub fn subject_ref(&self, identifier: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.subject_ref_key)
            .expect("HMAC takes keys of any length");
        mac.update(identifier.trim().to_lowercase().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The subject with this identifier, creating their key on first use.
    pub async fn subject_for(
        &self,
        pool: &PgPool,
        identifier: &str,
    ) -> Result<DataSubject, StoreError> {
        let subject_ref = self.subject_ref(identifier);
        if let Some(subject) = self.by_ref.lock().expect("vault lock").get(&subject_ref) {
            return Ok(subject.clone());
        }
        let subject = self.load_or_create(pool, &subject_ref).await?;
        let mut by_ref = self.by_ref.lock().expect("vault lock");
        if by_ref.len() >= KEY_CACHE_ENTRIES_MAX {
            by_ref.clear();
        }
        by_ref.insert(subject_ref, subject.clone());
        Ok(subject)
    }

    async fn load_or_create(
        &self,
        pool: &PgPool,
        subject_ref: &[u8; 32],
    ) -> Result<DataSubject, StoreError> {
        let key = Aes256Gcm::generate_key(OsRng);
        sqlx::query(
            "INSERT INTO data_subject_keys (subject_id, subject_ref, wrapped_key) VALUES ($1, $2, $3) \
             ON CONFLICT (subject_ref) DO NOTHING",
        )
        .bind(Uuid::new_v4())
        .bind(subject_ref.as_slice())
        .bind(self.wrap(key.as_slice())?)
        .execute(pool)
        .await?;
        let row = sqlx::query(
            "SELECT subject_id, wrapped_key FROM data_subject_keys WHERE subject_ref = $1",
        )
        .bind(subject_ref.as_slice())
        .fetch_one(pool)
        .await?;
        let id: Uuid = row.try_get("subject_id")?;
        let wrapped: Option<Vec<u8>> = row.try_get("wrapped_key")?;
        let wrapped =
            wrapped.ok_or_else(|| StoreError::Crypto(format!("data subject {id} was erased")))?;
        Ok(DataSubject {
            id,
            key: self.unwrap(&wrapped)?,
        })
    }

    /// The subject's key by id; `None` when the subject was erased.
    async fn subject_by_id(
        &self,
        pool: &PgPool,
        id: Uuid,
    ) -> Result<Option<DataSubject>, StoreError> {
        if let Some(subject) = self.by_id.lock().expect("vault lock").get(&id) {
            return Ok(subject.clone());
        }
        let row = sqlx::query("SELECT wrapped_key FROM data_subject_keys WHERE subject_id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
        let wrapped: Option<Vec<u8>> = match row {
            Some(row) => row.try_get("wrapped_key")?,
            None => None,
        };
        let subject = wrapped
            .map(|wrapped| self.unwrap(&wrapped).map(|key| DataSubject { id, key }))
            .transpose()?;
        let mut by_id = self.by_id.lock().expect("vault lock");
        if by_id.len() >= KEY_CACHE_ENTRIES_MAX {
            by_id.clear();
        }
        by_id.insert(id, subject.clone());
        Ok(subject)
    }

    /// Replaces the fields at `pointers` (JSON pointers; absent or null fields are skipped) by
    /// envelopes encrypted with `subject`'s key, bound to `event_id`.
    pub fn encrypt_fields(
        &self,
        payload: &mut Value,
        pointers: &[&str],
        subject: &DataSubject,
        event_id: Uuid,
    ) -> Result<(), StoreError> {
        for pointer in pointers {
            let Some(field) = payload.pointer_mut(pointer) else {
                continue;
            };
            if field.is_null() {
                continue;
            }
            let plaintext =
                serde_json::to_vec(field).map_err(|error| StoreError::Crypto(error.to_string()))?;
            let nonce = Aes256Gcm::generate_nonce(OsRng);
            let aad = associated_data(event_id, pointer);
            let ciphertext = subject
                .key
                .encrypt(
                    &nonce,
                    Payload {
                        msg: &plaintext,
                        aad: &aad,
                    },
                )
                .map_err(|_| StoreError::Crypto("encryption failed".into()))?;
            *field = json!({
                ENVELOPE_KEY: SCHEME,
                "subject": subject.id,
                "nonce": BASE64.encode(nonce),
                "ciphertext": BASE64.encode(ciphertext),
            });
        }
        Ok(())
    }

    /// Replaces envelopes at `pointers` by their plaintext, or by [`ERASED`] when the subject's
    /// key was deleted.
    pub async fn decrypt_fields(
        &self,
        pool: &PgPool,
        payload: &mut Value,
        pointers: &[&str],
        event_id: Uuid,
    ) -> Result<(), StoreError> {
        for pointer in pointers {
            let Some(field) = payload.pointer_mut(pointer) else {
                continue;
            };
            let Some(envelope) = Envelope::parse(field)? else {
                continue;
            };
            *field = match self.subject_by_id(pool, envelope.subject).await? {
                Some(subject) => envelope.open(&subject, &associated_data(event_id, pointer))?,
                None => Value::String(ERASED.to_owned()),
            };
        }
        Ok(())
    }

    fn wrap(&self, key: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce = Aes256Gcm::generate_nonce(OsRng);
        let ciphertext = self
            .master
            .encrypt(&nonce, key)
            .map_err(|_| StoreError::Crypto("key wrap failed".into()))?;
        Ok([nonce.as_slice(), &ciphertext].concat())
    }

    fn unwrap(&self, wrapped: &[u8]) -> Result<Aes256Gcm, StoreError> {
        if wrapped.len() <= NONCE_BYTES {
            return Err(StoreError::Crypto("wrapped key too short".into()));
        }
        let (nonce, ciphertext) = wrapped.split_at(NONCE_BYTES);
        let key = self
            .master
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| StoreError::Crypto("key unwrap failed: wrong master key?".into()))?;
        Aes256Gcm::new_from_slice(&key)
            .map_err(|_| StoreError::Crypto("unwrapped key has the wrong length".into()))
    }
}

fn associated_data(event_id: Uuid, pointer: &str) -> Vec<u8> {
    [event_id.as_bytes().as_slice(), pointer.as_bytes()].concat()
}

struct Envelope {
    subject: Uuid,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl Envelope {
    fn parse(field: &Value) -> Result<Option<Envelope>, StoreError> {
        let Some(object) = field.as_object() else {
            return Ok(None);
        };
        if object.get(ENVELOPE_KEY).and_then(Value::as_str) != Some(SCHEME) {
            return Ok(None);
        }
        let text = |key: &str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| StoreError::Crypto(format!("envelope lacks {key}")))
        };
        let bytes = |key: &str| {
            text(key).and_then(|value| {
                BASE64
                    .decode(value)
                    .map_err(|_| StoreError::Crypto(format!("envelope {key} is not base64")))
            })
        };
        let subject = text("subject")?
            .parse()
            .map_err(|_| StoreError::Crypto("envelope subject is not a uuid".into()))?;
        let nonce = bytes("nonce")?;
        if nonce.len() != NONCE_BYTES {
            return Err(StoreError::Crypto(
                "envelope nonce has the wrong length".into(),
            ));
        }
        Ok(Some(Envelope {
            subject,
            nonce,
            ciphertext: bytes("ciphertext")?,
        }))
    }

    fn open(&self, subject: &DataSubject, aad: &[u8]) -> Result<Value, StoreError> {
        let plaintext = subject
            .key
            .decrypt(
                Nonce::from_slice(&self.nonce),
                Payload {
                    msg: &self.ciphertext,
                    aad,
                },
            )
            .map_err(|_| StoreError::Crypto("personal data failed authentication".into()))?;
        serde_json::from_slice(&plaintext).map_err(|error| StoreError::Crypto(error.to_string()))
    }
}
