//! The user as its events leave it.

use std::collections::BTreeSet;

use super::event::UserEvent;
use super::values::{DisplayName, Email, OrgUnit, Role, TicketVisibility, UserName};

/// A user account; the default is the account before it was registered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    /// Events applied so far (the stream version).
    pub version: u64,
    /// `None` until registered.
    pub user_name: Option<UserName>,
    pub display_name: Option<DisplayName>,
    pub email: Option<Email>,
    pub roles: BTreeSet<Role>,
    pub org_unit: Option<OrgUnit>,
    pub disabled: bool,
    /// Whether a password was ever set.
    pub has_password: bool,
    /// Whose tickets the user sees as a requester.
    pub ticket_visibility: TicketVisibility,
}

impl User {
    /// The state after `events`.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a UserEvent>) -> User {
        events.into_iter().fold(User::default(), User::apply)
    }

    /// Whether the account exists.
    pub fn is_registered(&self) -> bool {
        self.user_name.is_some()
    }

    /// Whether the account may log in (given the right password).
    pub fn may_log_in(&self) -> bool {
        self.is_registered() && !self.disabled
    }

    /// The state after one more event.
    pub fn apply(mut self, event: &UserEvent) -> User {
        self.version += 1;
        match event {
            UserEvent::Registered {
                user_name,
                display_name,
                email,
                roles,
                org_unit,
            } => {
                self.user_name = Some(user_name.clone());
                self.display_name = Some(display_name.clone());
                self.email = email.clone();
                self.roles = roles.clone();
                self.org_unit = org_unit.clone();
            }
            UserEvent::RolesChanged { roles } => self.roles = roles.clone(),
            UserEvent::ProfileChanged {
                display_name,
                email,
                org_unit,
            } => {
                if let Some(display_name) = display_name {
                    self.display_name = Some(display_name.clone());
                }
                if let Some(email) = email {
                    self.email = email.clone();
                }
                if let Some(org_unit) = org_unit {
                    self.org_unit = org_unit.clone();
                }
            }
            UserEvent::Disabled => self.disabled = true,
            UserEvent::Enabled => self.disabled = false,
            UserEvent::PasswordChanged => self.has_password = true,
            UserEvent::TicketVisibilityChanged { visibility } => {
                self.ticket_visibility = *visibility;
            }
        }
        self
    }
}
