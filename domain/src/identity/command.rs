//! What callers ask of a user, in the imperative. Values are parsed before they get here.

use std::collections::BTreeSet;

use super::values::{DisplayName, Email, OrgUnit, Role, TicketVisibility, UserName};

/// A command on one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserCommand {
    /// Create the account.
    Register {
        user_name: UserName,
        display_name: DisplayName,
        email: Option<Email>,
        roles: BTreeSet<Role>,
        org_unit: Option<OrgUnit>,
    },
    /// Replace the roles (at least one).
    ChangeRoles { roles: BTreeSet<Role> },
    /// Set profile fields: `None` leaves a field, `Some(None)` removes an optional one.
    ChangeProfile {
        display_name: Option<DisplayName>,
        email: Option<Option<Email>>,
        org_unit: Option<Option<OrgUnit>>,
    },
    /// Refuse every login from now on.
    Disable,
    /// Allow logins again.
    Enable,
    /// Record that the password was set (the hash is stored elsewhere, never in an event).
    RecordPasswordChange,
    /// Grant (or take back) the sight of the unit's tickets (issue 6 §1).
    SetTicketVisibility { visibility: TicketVisibility },
}
