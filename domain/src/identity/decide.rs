//! The user rules: state + command → events or a named refusal. A command that changes nothing
//! decides to no events.

use super::command::UserCommand;
use super::error::UserError;
use super::event::UserEvent;
use super::state::User;

/// Decides `command` on `user`.
pub fn decide(user: &User, command: UserCommand) -> Result<Vec<UserEvent>, UserError> {
    if let UserCommand::Register {
        user_name,
        display_name,
        email,
        roles,
        org_unit,
    } = command
    {
        if user.is_registered() {
            return Err(UserError::UserExists);
        }
        if roles.is_empty() {
            return Err(UserError::NoRoles);
        }
        return Ok(vec![UserEvent::Registered {
            user_name,
            display_name,
            email,
            roles,
            org_unit,
        }]);
    }
    if !user.is_registered() {
        return Err(UserError::UserNotFound);
    }
    let events = match command {
        UserCommand::Register { .. } => unreachable!("decided above"),
        UserCommand::ChangeRoles { roles } if roles.is_empty() => return Err(UserError::NoRoles),
        UserCommand::ChangeRoles { roles } if roles == user.roles => vec![],
        UserCommand::ChangeRoles { roles } => vec![UserEvent::RolesChanged { roles }],
        UserCommand::ChangeProfile {
            display_name,
            email,
            org_unit,
        } => {
            let display_name = display_name.filter(|name| Some(name) != user.display_name.as_ref());
            let email = email.filter(|email| *email != user.email);
            let org_unit = org_unit.filter(|unit| *unit != user.org_unit);
            let unchanged = display_name.is_none() && email.is_none() && org_unit.is_none();
            if unchanged {
                vec![]
            } else {
                vec![UserEvent::ProfileChanged {
                    display_name,
                    email,
                    org_unit,
                }]
            }
        }
        UserCommand::Disable if user.disabled => vec![],
        UserCommand::Disable => vec![UserEvent::Disabled],
        UserCommand::Enable if !user.disabled => vec![],
        UserCommand::Enable => vec![UserEvent::Enabled],
        // A disabled account's password stays as it is until the account is enabled again.
        UserCommand::RecordPasswordChange if user.disabled => return Err(UserError::UserDisabled),
        UserCommand::RecordPasswordChange => vec![UserEvent::PasswordChanged],
        UserCommand::SetTicketVisibility { visibility } if visibility == user.ticket_visibility => {
            vec![]
        }
        UserCommand::SetTicketVisibility { visibility } => {
            vec![UserEvent::TicketVisibilityChanged { visibility }]
        }
    };
    Ok(events)
}
