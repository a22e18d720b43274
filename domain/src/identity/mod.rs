//! The user aggregate (issue 6 §2): an account with a profile, roles and an enabled flag. Pure,
//! like the other aggregates: `decide` and `User::apply`. Passwords never enter the domain; only
//! the fact that one was changed does (`user.password_changed`, without a hash).

mod command;
mod decide;
mod error;
mod event;
mod state;
mod values;

#[cfg(test)]
mod tests;

pub use command::UserCommand;
pub use decide::decide;
pub use error::UserError;
pub use event::UserEvent;
pub use state::User;
pub use values::{
    DisplayName, Email, OrgUnit, Role, TicketVisibility, UserName, DISPLAY_NAME_CHARS_MAX,
    EMAIL_CHARS_MAX, ORG_UNIT_CHARS_MAX, USER_NAME_CHARS_MAX,
};
