//! Why a user command is refused: one variant per broken rule. Nothing is appended.

/// A refused user command (or a value that is not one).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("the user exists already")]
    UserExists,
    #[error("the user does not exist")]
    UserNotFound,
    #[error("the user is disabled")]
    UserDisabled,
    #[error("a user needs at least one role")]
    NoRoles,
    #[error("a user name must be 1 to 100 of a-z, 0-9, '.', '_' and '-'")]
    InvalidUserName,
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    #[error("a display name must be 1 to 200 characters without control characters")]
    InvalidDisplayName,
    #[error("not an e-mail address")]
    InvalidEmail,
    #[error("an organisational unit must be 1 to 100 characters without control characters")]
    InvalidOrgUnit,
}

impl UserError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            UserError::UserExists => "user_exists",
            UserError::UserNotFound => "user_not_found",
            UserError::UserDisabled => "user_disabled",
            UserError::NoRoles => "no_roles",
            UserError::InvalidUserName => "invalid_user_name",
            UserError::UnknownRole(_) => "unknown_role",
            UserError::InvalidDisplayName => "invalid_display_name",
            // The same rule as a ticket requester's address, so the same code.
            UserError::InvalidEmail => "email_invalid",
            UserError::InvalidOrgUnit => "invalid_org_unit",
        }
    }

    /// Whether the command itself is malformed (a value), rather than refused by the state.
    pub fn is_validation(&self) -> bool {
        !matches!(
            self,
            UserError::UserExists | UserError::UserNotFound | UserError::UserDisabled
        )
    }

    /// The request field concerned, if one is.
    pub fn field(&self) -> Option<String> {
        let field = match self {
            UserError::NoRoles | UserError::UnknownRole(_) => "roles",
            UserError::InvalidUserName => "user",
            UserError::InvalidDisplayName => "display_name",
            UserError::InvalidEmail => "email",
            UserError::InvalidOrgUnit => "org_unit",
            UserError::UserExists | UserError::UserNotFound | UserError::UserDisabled => {
                return None
            }
        };
        Some(field.to_owned())
    }
}
