//! The identity projection (issue 6 §1): one `rm_users` row per user account — organisation
//! unit, roles, disabled flag and ticket visibility — from the `user` streams, so a read resolves
//! "the users in these units" with one indexed lookup (`rm_users_org_unit_idx`).
//!
//! A batch maps its streams to user names (the stream id is a UUID v5 of the name, so the name
//! comes from each stream's `user.registered`), loads their rows, folds the events in memory
//! ([`fold`], pure) and writes the changed rows with one `jsonb_to_recordset` statement, guarded
//! by the row's version so a replay changes nothing. Display name and e-mail are not kept here.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use command_service::identity::users;
use domain::identity::{TicketVisibility, UserEvent};
use event_store::RecordedEvent;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::runner::{ApplyError, Projection};

/// Name of the projection (checkpoint key).
pub const IDENTITY: &str = "identity";
/// Version of this projection's code: raise it when the fold or the table changes.
pub const VERSION: i32 = 1;

/// A user as the read side keeps it (one `rm_users` row without `generation`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub user_name: String,
    pub org_unit: Option<String>,
    pub roles: Vec<String>,
    pub disabled: bool,
    /// `own` or `unit` ([`TicketVisibility::as_str`]).
    pub ticket_visibility: String,
    pub version: i64,
    pub last_tx: i64,
    pub last_position: i64,
}

/// Why an event does not fit the row it should apply to.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    #[error("event {version} of a user who was never registered")]
    NotRegistered { version: i64 },
    #[error("user.registered on a user who exists")]
    RegisteredTwice,
}

/// Applies one decoded event to a user's row (pure): the row after it.
pub fn fold(
    row: Option<UserRow>,
    event: &UserEvent,
    stored: &RecordedEvent,
) -> Result<UserRow, FoldError> {
    let version = stored.stream_version as i64;
    let mut row = match (row, event) {
        (None, UserEvent::Registered { user_name, .. }) => UserRow {
            user_name: user_name.to_string(),
            org_unit: None,
            roles: Vec::new(),
            disabled: false,
            ticket_visibility: TicketVisibility::default().as_str().to_owned(),
            version: 0,
            last_tx: 0,
            last_position: 0,
        },
        (Some(_), UserEvent::Registered { .. }) => return Err(FoldError::RegisteredTwice),
        (None, _) => return Err(FoldError::NotRegistered { version }),
        (Some(row), _) => row,
    };
    match event {
        UserEvent::Registered {
            roles, org_unit, ..
        } => {
            row.roles = roles.iter().map(|role| role.as_str().to_owned()).collect();
            row.org_unit = org_unit.as_ref().map(|unit| unit.as_str().to_owned());
        }
        UserEvent::RolesChanged { roles } => {
            row.roles = roles.iter().map(|role| role.as_str().to_owned()).collect();
        }
        UserEvent::ProfileChanged { org_unit, .. } => {
            if let Some(org_unit) = org_unit {
                row.org_unit = org_unit.as_ref().map(|unit| unit.as_str().to_owned());
            }
        }
        UserEvent::Disabled => row.disabled = true,
        UserEvent::Enabled => row.disabled = false,
        UserEvent::PasswordChanged => {}
        UserEvent::TicketVisibilityChanged { visibility } => {
            row.ticket_visibility = visibility.as_str().to_owned();
        }
    }
    row.version = version;
    row.last_tx = stored.transaction_id;
    row.last_position = stored.global_position;
    Ok(row)
}

const UPSERT_USERS: &str = "\
INSERT INTO rm_users (generation, user_name, org_unit, roles, disabled, ticket_visibility,
    version, last_tx, last_position)
SELECT $1, r.user_name, r.org_unit, r.roles, r.disabled, r.ticket_visibility, r.version,
    r.last_tx, r.last_position
FROM jsonb_to_recordset($2) AS r(user_name text, org_unit text, roles text[], disabled boolean,
    ticket_visibility text, version bigint, last_tx bigint, last_position bigint)
ON CONFLICT (generation, user_name) DO UPDATE SET
    (org_unit, roles, disabled, ticket_visibility, version, last_tx, last_position)
  = (EXCLUDED.org_unit, EXCLUDED.roles, EXCLUDED.disabled, EXCLUDED.ticket_visibility,
     EXCLUDED.version, EXCLUDED.last_tx, EXCLUDED.last_position)
WHERE rm_users.version < EXCLUDED.version";

/// The identity projection.
#[derive(Debug, Default)]
pub struct IdentityProjection;

impl IdentityProjection {
    /// The projection (user events carry no encrypted fields).
    pub fn new() -> IdentityProjection {
        IdentityProjection
    }
}

fn decode(events: &[RecordedEvent]) -> Result<Vec<(&RecordedEvent, UserEvent)>, ApplyError> {
    let mut decoded = Vec::new();
    for stored in events
        .iter()
        .filter(|stored| stored.stream_type == users::STREAM_TYPE)
    {
        let event = users::decode(
            &stored.event_type,
            stored.event_version,
            stored.payload.clone(),
        )
        .map_err(|reason| ApplyError::Poison {
            position: stored.global_position,
            reason,
        })?;
        decoded.push((stored, event));
    }
    Ok(decoded)
}

/// The user name of each of the streams `ids`, from its `user.registered` (version 1).
async fn user_names(
    connection: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, String>, sqlx::Error> {
    let rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(
        "SELECT stream_id, payload ->> 'user_name' FROM events \
         WHERE stream_type = $1 AND stream_id = ANY($2) AND stream_version = 1",
    )
    .bind(users::STREAM_TYPE)
    .bind(ids)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name)| name.map(|name| (id, name)))
        .collect())
}

async fn load_rows(
    connection: &mut PgConnection,
    generation: i32,
    names: &[&String],
    position: i64,
) -> Result<HashMap<String, UserRow>, ApplyError> {
    let loaded = sqlx::query(
        "SELECT to_jsonb(u) - 'generation' AS row FROM rm_users u \
         WHERE generation = $1 AND user_name = ANY($2)",
    )
    .bind(generation)
    .bind(names)
    .fetch_all(&mut *connection)
    .await?;
    let mut rows = HashMap::with_capacity(loaded.len());
    for record in loaded {
        let row: UserRow =
            serde_json::from_value(record.try_get("row")?).map_err(|error| ApplyError::Poison {
                position,
                reason: format!("stored user row does not decode: {error}"),
            })?;
        rows.insert(row.user_name.clone(), row);
    }
    Ok(rows)
}

#[async_trait]
impl Projection for IdentityProjection {
    fn name(&self) -> &'static str {
        IDENTITY
    }

    fn version(&self) -> i32 {
        VERSION
    }

    #[tracing::instrument(skip_all, fields(projection = IDENTITY, generation = generation, events.count = events.len()))]
    async fn apply(
        &self,
        connection: &mut PgConnection,
        generation: i32,
        events: &[RecordedEvent],
    ) -> Result<(), ApplyError> {
        let decoded = decode(events)?;
        let Some(first) = decoded.first().map(|(stored, _)| stored.global_position) else {
            return Ok(());
        };
        let mut ids: Vec<Uuid> = decoded.iter().map(|(stored, _)| stored.stream_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let names = user_names(connection, &ids)
            .await
            .map_err(|error| ApplyError::from_database(error, first))?;
        // One name per stream: the stream id is derived from the name.
        let unique: Vec<&String> = names.values().collect();
        let mut rows = load_rows(connection, generation, &unique, first).await?;
        let mut changed = BTreeSet::new();
        for (stored, event) in &decoded {
            let poison = |reason: String| ApplyError::Poison {
                position: stored.global_position,
                reason,
            };
            let name = names
                .get(&stored.stream_id)
                .ok_or_else(|| poison("the user stream has no user.registered".to_owned()))?;
            let version = stored.stream_version as i64;
            if rows.get(name).is_some_and(|row| row.version >= version) {
                continue;
            }
            let row = fold(rows.remove(name), event, stored)
                .map_err(|error| poison(error.to_string()))?;
            changed.insert(name.clone());
            rows.insert(name.clone(), row);
        }
        let written: Vec<&UserRow> = changed.iter().filter_map(|name| rows.get(name)).collect();
        if !written.is_empty() {
            sqlx::query(UPSERT_USERS)
                .bind(generation)
                .bind(sqlx::types::Json(&written))
                .execute(&mut *connection)
                .await
                .map_err(|error| ApplyError::from_database(error, first))?;
        }
        Ok(())
    }

    async fn clear(&self, pool: &PgPool, generation: i32, limit: i64) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(
            "DELETE FROM rm_users WHERE ctid = ANY(ARRAY(SELECT ctid FROM rm_users \
             WHERE generation = $1 LIMIT $2))",
        )
        .bind(generation)
        .bind(limit)
        .execute(pool)
        .await?
        .rows_affected())
    }

    async fn digest(&self, pool: &PgPool, generation: i32) -> Result<String, sqlx::Error> {
        digest(pool, generation).await
    }
}

/// A digest of every `rm_users` row of `generation` (every column but `generation`, in
/// user-name order): equal digests mean equal read models.
pub async fn digest(pool: &PgPool, generation: i32) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT md5(coalesce(string_agg(md5((to_jsonb(u) - 'generation')::text), ',' \
         ORDER BY user_name), '')) FROM rm_users u WHERE generation = $1",
    )
    .bind(generation)
    .fetch_one(pool)
    .await
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use domain::identity::{DisplayName, OrgUnit, Role, UserName};
    use event_store::Metadata;
    use serde_json::json;

    use super::*;

    fn stored(version: u64) -> RecordedEvent {
        RecordedEvent {
            global_position: 10 + version as i64,
            transaction_id: 7,
            event_id: Uuid::new_v4(),
            stream_type: users::STREAM_TYPE.to_owned(),
            stream_id: Uuid::nil(),
            stream_version: version,
            event_type: String::new(),
            event_version: 1,
            payload: json!({}),
            metadata: Metadata::new(
                "admin".to_owned(),
                Utc::now(),
                "api".to_owned(),
                Uuid::nil(),
                Uuid::nil(),
                Uuid::nil(),
            ),
            recorded_at: Utc::now(),
            previous_hash: [0; 32],
            hash: [0; 32],
        }
    }

    fn registered() -> UserEvent {
        UserEvent::Registered {
            user_name: UserName::parse("k.meier").unwrap(),
            display_name: DisplayName::parse("Karin Meier").unwrap(),
            email: None,
            roles: [Role::Requester].into(),
            org_unit: Some(OrgUnit::parse("bauamt").unwrap()),
        }
    }

    #[test]
    fn a_users_row_follows_unit_roles_flag_and_visibility() {
        let row = fold(None, &registered(), &stored(1)).unwrap();
        assert_eq!(row.org_unit.as_deref(), Some("bauamt"));
        assert_eq!(row.roles, ["requester"]);
        assert_eq!(row.ticket_visibility, "own");
        let granted = UserEvent::TicketVisibilityChanged {
            visibility: TicketVisibility::Unit,
        };
        let row = fold(Some(row), &granted, &stored(2)).unwrap();
        assert_eq!(row.ticket_visibility, "unit");
        let moved = UserEvent::ProfileChanged {
            display_name: None,
            email: None,
            org_unit: Some(None),
        };
        let row = fold(Some(row), &moved, &stored(3)).unwrap();
        assert_eq!(row.org_unit, None);
        let row = fold(Some(row), &UserEvent::Disabled, &stored(4)).unwrap();
        assert!(row.disabled);
        assert_eq!((row.version, row.last_position), (4, 14));
    }

    #[test]
    fn events_of_an_unregistered_user_or_a_second_registration_do_not_fold() {
        assert_eq!(
            fold(None, &UserEvent::Disabled, &stored(1)),
            Err(FoldError::NotRegistered { version: 1 })
        );
        let row = fold(None, &registered(), &stored(1)).unwrap();
        assert_eq!(
            fold(Some(row), &registered(), &stored(2)),
            Err(FoldError::RegisteredTwice)
        );
    }
}
