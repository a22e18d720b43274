//! User accounts in the event store: one stream of type `user` per account, its id the UUID v5
//! of the user name. Load, decide a command on the pure aggregate, append (retrying after a
//! concurrent change), like assets.

use chrono::Utc;
use domain::identity::{decide, User, UserCommand, UserError, UserEvent, UserName};
use event_store::hash::GENESIS;
use event_store::upcast::{upcast, Upcaster};
use event_store::{AppendRequest, Metadata, NewEvent, StoreError};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ApiError;

/// The stream type of user accounts.
pub const STREAM_TYPE: &str = "user";
/// Namespace of the user streams' ids: `uuid v5(USER_STREAMS, "<user name>")`.
pub const USER_STREAMS: Uuid = Uuid::from_u128(0x5f1c_8a2e_93d4_4b07_a6e1_3c9b_72d0_e845);
/// Upcasters of user events (none yet).
pub const UPCASTERS: &[Upcaster] = &[];
/// Appends retried after a concurrent change of the same user.
const ATTEMPTS_MAX: usize = 5;
const TYPE_KEY: &str = "event_type";

/// The stream of the account `name`.
pub fn stream_id(name: &UserName) -> Uuid {
    Uuid::new_v5(&USER_STREAMS, name.as_str().as_bytes())
}

/// A user as its stream leaves it, with the chain head to append after.
#[derive(Clone, Debug, Default)]
pub struct LoadedUser {
    pub state: User,
    pub last_hash: Option<[u8; 32]>,
}

/// What a command did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Executed {
    /// The stream version after the command.
    pub version: u64,
    /// 0 when the command changed nothing.
    pub events_appended: usize,
}

/// A user event ready to append: its JSON without the type (a column of its own).
pub fn encode(event: &UserEvent) -> NewEvent {
    let mut payload = serde_json::to_value(event).expect("user events serialize");
    payload
        .as_object_mut()
        .expect("user events are objects")
        .remove(TYPE_KEY);
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: event.event_type().to_owned(),
        event_version: 1,
        payload,
    }
}

/// The user event of a stored type, version and payload.
pub fn decode(event_type: &str, event_version: u32, payload: Value) -> Result<UserEvent, String> {
    let (_, mut payload) = upcast(UPCASTERS, event_type, event_version, payload);
    let object = payload.as_object_mut().ok_or("payload is not an object")?;
    object.insert(TYPE_KEY.to_owned(), Value::String(event_type.to_owned()));
    serde_json::from_value(payload).map_err(|error| error.to_string())
}

/// The account `name` as stored (the default state when it does not exist).
pub async fn load(pool: &PgPool, name: &UserName) -> Result<LoadedUser, StoreError> {
    let mut loaded = LoadedUser::default();
    for recorded in event_store::read_stream(pool, stream_id(name)).await? {
        if recorded.stream_type != STREAM_TYPE {
            return Ok(LoadedUser::default());
        }
        let event = decode(
            &recorded.event_type,
            recorded.event_version,
            recorded.payload,
        )
        .map_err(|reason| StoreError::Corrupt {
            position: recorded.global_position,
            reason,
        })?;
        loaded.state = std::mem::take(&mut loaded.state).apply(&event);
        loaded.last_hash = Some(recorded.hash);
    }
    Ok(loaded)
}

/// The roles of `name` and whether the account is disabled; `None` for an unknown user.
pub async fn roles_of(
    pool: &PgPool,
    name: &UserName,
) -> Result<Option<(Vec<String>, bool)>, StoreError> {
    let user = load(pool, name).await?.state;
    if !user.is_registered() {
        return Ok(None);
    }
    let roles = user.roles.iter().map(|role| role.as_str().to_owned());
    Ok(Some((roles.collect(), user.disabled)))
}

/// Decides `command` on the account `name` on behalf of `actor_name` and appends its events,
/// retrying after a concurrent change.
pub async fn execute(
    pool: &PgPool,
    actor_name: &str,
    correlation_id: Uuid,
    name: &UserName,
    command: UserCommand,
) -> Result<Executed, ApiError> {
    for _ in 0..ATTEMPTS_MAX {
        let loaded = load(pool, name).await?;
        let events = decide(&loaded.state, command.clone()).map_err(ApiError::Identity)?;
        match append(pool, actor_name, correlation_id, name, &loaded, &events).await {
            Ok(executed) => return Ok(executed),
            Err(StoreError::VersionConflict { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Contention)
}

async fn append(
    pool: &PgPool,
    actor_name: &str,
    correlation_id: Uuid,
    name: &UserName,
    loaded: &LoadedUser,
    events: &[UserEvent],
) -> Result<Executed, StoreError> {
    let version = loaded.state.version;
    if events.is_empty() {
        return Ok(Executed {
            version,
            events_appended: 0,
        });
    }
    let command_id = Uuid::new_v4();
    let metadata = Metadata::new(
        actor_name.to_owned(),
        Utc::now(),
        "api".to_owned(),
        correlation_id,
        command_id,
        command_id,
    );
    let outcome = event_store::append(
        pool,
        AppendRequest {
            stream_type: STREAM_TYPE,
            stream_id: stream_id(name),
            expected_version: version,
            previous_hash: loaded.last_hash.unwrap_or(GENESIS),
            metadata: &metadata,
            events: events.iter().map(encode).collect(),
            result: json!({}),
        },
    )
    .await?;
    Ok(Executed {
        version: outcome.stored.last_version,
        events_appended: events.len(),
    })
}

/// `text` as a user name, or the error of an unknown user (a name that cannot exist).
pub fn existing_name(text: &str) -> Result<UserName, ApiError> {
    UserName::parse(text).map_err(|_| ApiError::Identity(UserError::UserNotFound))
}

#[cfg(test)]
mod tests {
    use domain::identity::Role;

    use super::*;

    #[test]
    fn the_roles_are_the_tokens_roles() {
        let names: Vec<&str> = Role::ALL.iter().map(|role| role.as_str()).collect();
        assert_eq!(names, crate::auth::ROLES);
    }

    #[test]
    fn a_user_names_stream_is_stable() {
        let name = UserName::parse("k.meier").unwrap();
        assert_eq!(stream_id(&name), stream_id(&name.clone()));
        assert_ne!(
            stream_id(&name),
            stream_id(&UserName::parse("k.meie").unwrap())
        );
    }

    #[test]
    fn events_decode_from_their_stored_form() {
        let event = UserEvent::RolesChanged {
            roles: [Role::Admin].into(),
        };
        let stored = encode(&event);
        assert_eq!(stored.payload, json!({"roles": ["admin"]}));
        assert_eq!(
            decode(&stored.event_type, 1, stored.payload).unwrap(),
            event
        );
        let disabled = encode(&UserEvent::Disabled);
        assert_eq!(disabled.payload, json!({}));
        assert_eq!(
            decode("user.disabled", 1, disabled.payload).unwrap(),
            UserEvent::Disabled
        );
    }
}
