//! Values of the user aggregate, parsed once at the edge: user names, roles, profile fields.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::UserError;
use crate::ticket::values::check_email;
/// Longest e-mail address: the requester's limit (RFC 5321's path limit).
pub use crate::ticket::values::EMAIL_CHARS_MAX;

/// Longest user name.
pub const USER_NAME_CHARS_MAX: usize = 100;
/// Longest display name.
pub const DISPLAY_NAME_CHARS_MAX: usize = 200;
/// Longest organisational unit.
pub const ORG_UNIT_CHARS_MAX: usize = 100;

/// A login name: 1 to 100 of `a-z`, `0-9`, `.`, `_` and `-` (`k.meier`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct UserName(String);

impl UserName {
    /// `text` as a user name, if it is one (no trimming, no case folding).
    pub fn parse(text: &str) -> Result<UserName, UserError> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c);
        let length = text.chars().count();
        if length == 0 || length > USER_NAME_CHARS_MAX || !text.chars().all(allowed) {
            return Err(UserError::InvalidUserName);
        }
        Ok(UserName(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A role; what each may do is the access-control issue's (§3) business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    Requester,
    Agent,
    Supervisor,
    AssetManager,
    Auditor,
    Admin,
}

impl Role {
    /// Every role, in the order of `command_service::auth::ROLES`.
    pub const ALL: [Role; 6] = [
        Role::Requester,
        Role::Agent,
        Role::Supervisor,
        Role::AssetManager,
        Role::Auditor,
        Role::Admin,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::AssetManager => "asset_manager",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// The role of a wire name.
    pub fn parse(text: &str) -> Result<Role, UserError> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| UserError::UnknownRole(text.to_owned()))
    }
}

/// 1 to `max` characters after trimming, without control characters.
fn text(value: &str, max: usize) -> Option<String> {
    let trimmed = value.trim();
    let length = trimmed.chars().count();
    let clean = !trimmed.chars().any(char::is_control);
    (length > 0 && length <= max && clean).then(|| trimmed.to_owned())
}

/// How a user is shown (`Karin Meier`): 1 to 200 characters, trimmed, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// `value` as a display name, if it is one.
    pub fn parse(value: &str) -> Result<DisplayName, UserError> {
        text(value, DISPLAY_NAME_CHARS_MAX)
            .map(DisplayName)
            .ok_or(UserError::InvalidDisplayName)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address: a ticket requester's address (one `@` with text on both sides, no white
/// space, at most [`EMAIL_CHARS_MAX`] characters) whose domain has a dot inside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// `value` as an address, if it looks like one.
    pub fn parse(value: &str) -> Result<Email, UserError> {
        let address = text(value, EMAIL_CHARS_MAX).ok_or(UserError::InvalidEmail)?;
        // The requester's rule, and a domain with a dot inside.
        let valid = check_email(&address).is_ok()
            && address.split_once('@').is_some_and(|(_, domain)| {
                domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
            });
        valid
            .then_some(Email(address))
            .ok_or(UserError::InvalidEmail)
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The organisational unit a user belongs to (`Amt 10 / IT`): 1 to 100 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgUnit(String);

impl OrgUnit {
    /// `value` as an organisational unit, if it is one.
    pub fn parse(value: &str) -> Result<OrgUnit, UserError> {
        text(value, ORG_UNIT_CHARS_MAX)
            .map(OrgUnit)
            .ok_or(UserError::InvalidOrgUnit)
    }

    /// The unit as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whose tickets a requester sees (issue 6 §1): their own (the default), or also those of
/// every requester in their organisation unit or below it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TicketVisibility {
    /// Only the tickets they are the requester of.
    #[default]
    Own,
    /// Also the tickets of every requester in their unit and the units below it.
    Unit,
}

impl TicketVisibility {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketVisibility::Own => "own",
            TicketVisibility::Unit => "unit",
        }
    }
}

macro_rules! string_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = UserError;

            fn try_from(value: String) -> Result<$name, UserError> {
                $name::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    )*};
}

string_conversions!(UserName, DisplayName, Email, OrgUnit);

/// Serde for `Option<Option<T>>` fields: absent is `None`, `null` is `Some(None)`.
pub(super) mod present {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}
