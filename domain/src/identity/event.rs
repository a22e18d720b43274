//! Events of the user aggregate, in the past tense. Type strings are written by hand and never
//! renamed; all are at version 1. No event ever carries a password or a password hash.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::values::{present, DisplayName, Email, OrgUnit, Role, TicketVisibility, UserName};

/// Something that happened to a user account. Who and when are in the event metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type")]
pub enum UserEvent {
    /// The account was created.
    #[serde(rename = "user.registered")]
    Registered {
        user_name: UserName,
        display_name: DisplayName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<Email>,
        roles: BTreeSet<Role>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        org_unit: Option<OrgUnit>,
    },
    /// The roles are now `roles`.
    #[serde(rename = "user.roles_changed")]
    RolesChanged { roles: BTreeSet<Role> },
    /// Profile fields changed: only those that changed, `null` for a value removed.
    #[serde(rename = "user.profile_changed")]
    ProfileChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display_name: Option<DisplayName>,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
        email: Option<Option<Email>>,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
        org_unit: Option<Option<OrgUnit>>,
    },
    /// Logins are refused.
    #[serde(rename = "user.disabled")]
    Disabled,
    /// Logins are allowed again.
    #[serde(rename = "user.enabled")]
    Enabled,
    /// The password was set or changed (nothing about it is recorded).
    #[serde(rename = "user.password_changed")]
    PasswordChanged,
    /// The user now sees the tickets `visibility` names (their own, or also their unit's).
    #[serde(rename = "user.ticket_visibility_changed")]
    TicketVisibilityChanged { visibility: TicketVisibility },
}

impl UserEvent {
    /// Every event type with its current version.
    pub const TYPES: &'static [(&'static str, u32)] = &[
        ("user.registered", 1),
        ("user.roles_changed", 1),
        ("user.profile_changed", 1),
        ("user.disabled", 1),
        ("user.enabled", 1),
        ("user.password_changed", 1),
        ("user.ticket_visibility_changed", 1),
    ];

    /// JSON pointers to personal data, per event type (for crypto-shredding, like tickets').
    pub const PERSONAL_DATA: &'static [(&'static str, &'static [&'static str])] = &[
        ("user.registered", &["/display_name", "/email", "/org_unit"]),
        (
            "user.profile_changed",
            &["/display_name", "/email", "/org_unit"],
        ),
    ];

    /// The event's type string.
    pub fn event_type(&self) -> &'static str {
        match self {
            UserEvent::Registered { .. } => "user.registered",
            UserEvent::RolesChanged { .. } => "user.roles_changed",
            UserEvent::ProfileChanged { .. } => "user.profile_changed",
            UserEvent::Disabled => "user.disabled",
            UserEvent::Enabled => "user.enabled",
            UserEvent::PasswordChanged => "user.password_changed",
            UserEvent::TicketVisibilityChanged { .. } => "user.ticket_visibility_changed",
        }
    }
}
