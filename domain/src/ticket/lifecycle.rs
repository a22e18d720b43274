//! The ticket lifecycle: statuses and the declarative table of allowed transitions.

use serde::{Deserialize, Serialize};

use super::error::TicketError;

/// Where a ticket stands in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    /// Opened, nobody works on it yet.
    New,
    /// Someone is responsible.
    Assigned,
    /// The assignee works on it.
    InProgress,
    /// Waiting (Wartend) for the requester, a third party or a change.
    Pending,
    /// Solved (Gelöst); can be reopened within the reopen window.
    Resolved,
    /// Done for good (Geschlossen). Terminal.
    Closed,
    /// Withdrawn. Terminal.
    Cancelled,
    /// Merged into another ticket. Terminal.
    Merged,
}

impl Status {
    /// Closed, cancelled and merged tickets accept no command any more.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Closed | Self::Cancelled | Self::Merged)
    }
}

/// Where a transition leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Always this status.
    To(Status),
    /// Back to work: assigned if the ticket has an assignee, else new.
    ReopenTarget,
}

use Status::{Assigned, Closed, InProgress, New, Pending, Resolved};

const OPEN: &[Status] = &[New, Assigned, InProgress, Pending];

/// Commands that change the status, the statuses they are allowed in, and where they lead.
///
/// | command       | from                                   | to                            |
/// |---------------|----------------------------------------|-------------------------------|
/// | `assign`      | new, assigned, in_progress, pending    | assigned                      |
/// | `start_work`  | assigned, pending                      | in_progress                   |
/// | `set_pending` | assigned, in_progress                  | pending                       |
/// | `resolve`     | new, assigned, in_progress, pending    | resolved                      |
/// | `reopen`      | resolved (within the reopen window)    | assigned if assignee, else new|
/// | `close`       | resolved                               | closed                        |
/// | `cancel`      | new, assigned, in_progress, pending    | cancelled                     |
/// | `merge`       | new, assigned, in_progress, pending    | merged (not into itself)      |
///
/// Every other command (articles, priority, fields, tags, links, assets) keeps the status and is
/// allowed in every status that is not terminal. Closed, cancelled and merged are terminal: every
/// command there fails with [`TicketError::AlreadyTerminal`]. A status command from a status not
/// listed fails with [`TicketError::InvalidTransition`]. `start_work` on a ticket without an
/// assignee fails with [`TicketError::AssigneeRequired`] before the table is consulted.
pub const TRANSITIONS: &[(&str, &[Status], Target)] = &[
    ("assign", OPEN, Target::To(Assigned)),
    ("start_work", &[Assigned, Pending], Target::To(InProgress)),
    ("set_pending", &[Assigned, InProgress], Target::To(Pending)),
    ("resolve", OPEN, Target::To(Resolved)),
    ("reopen", &[Resolved], Target::ReopenTarget),
    ("close", &[Resolved], Target::To(Closed)),
    ("cancel", OPEN, Target::To(Status::Cancelled)),
    ("merge", OPEN, Target::To(Status::Merged)),
];

/// The status a command leads to from `from`, if the table allows it.
///
/// Commands missing from the table keep the status. Terminal statuses reject everything.
pub fn transition(
    command: &'static str,
    from: Status,
    has_assignee: bool,
) -> Result<Status, TicketError> {
    if from.is_terminal() {
        return Err(TicketError::AlreadyTerminal { status: from });
    }
    let Some((_, allowed, target)) = TRANSITIONS.iter().find(|(name, _, _)| *name == command)
    else {
        return Ok(from);
    };
    if !allowed.contains(&from) {
        return Err(TicketError::InvalidTransition { command, from });
    }
    Ok(match target {
        Target::To(status) => *status,
        Target::ReopenTarget if has_assignee => Assigned,
        Target::ReopenTarget => New,
    })
}

/// Every command a person issues on an existing ticket, in the order a workspace offers them
/// (the SLA records are the monitor's, not a person's).
pub const PERSON_COMMANDS: &[&str] = &[
    "assign",
    "start_work",
    "set_pending",
    "resolve",
    "reopen",
    "close",
    "cancel",
    "merge",
    "add_reply",
    "add_note",
    "add_requester_message",
    "set_priority",
    "set_fields",
    "set_tags",
    "link",
    "unlink",
    "link_asset",
    "unlink_asset",
];

/// The commands of [`PERSON_COMMANDS`] the lifecycle allows now on a ticket in `status`:
/// `start_work` only with an assignee, `reopen` only while `within_reopen_window`. What a
/// caller may do on top of that (roles, queue rights) is the access rule's.
pub fn allowed_commands(
    status: Status,
    has_assignee: bool,
    within_reopen_window: bool,
) -> Vec<&'static str> {
    PERSON_COMMANDS
        .iter()
        .copied()
        .filter(|command| *command != "start_work" || has_assignee)
        .filter(|command| *command != "reopen" || within_reopen_window)
        .filter(|command| transition(command, status, has_assignee).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_outside_the_table_keep_the_status() {
        assert_eq!(transition("add_note", Pending, false), Ok(Pending));
    }

    #[test]
    fn terminal_statuses_reject_every_command() {
        for status in [Closed, Status::Cancelled, Status::Merged] {
            let expected = Err(TicketError::AlreadyTerminal { status });
            assert_eq!(transition("add_note", status, true), expected);
            assert_eq!(transition("reopen", status, true), expected);
        }
    }

    #[test]
    fn reopening_returns_to_assigned_only_with_an_assignee() {
        assert_eq!(transition("reopen", Resolved, true), Ok(Assigned));
        assert_eq!(transition("reopen", Resolved, false), Ok(New));
    }

    #[test]
    fn allowed_commands_are_exactly_those_the_table_accepts() {
        let all = [
            New,
            Assigned,
            InProgress,
            Pending,
            Resolved,
            Closed,
            Status::Cancelled,
            Status::Merged,
        ];
        for status in all {
            for has_assignee in [false, true] {
                let allowed = allowed_commands(status, has_assignee, true);
                for command in PERSON_COMMANDS {
                    let accepted = transition(command, status, has_assignee).is_ok()
                        && (*command != "start_work" || has_assignee);
                    assert_eq!(
                        allowed.contains(command),
                        accepted,
                        "{command} from {status:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_resolved_ticket_offers_reopen_only_within_the_window() {
        assert!(allowed_commands(Resolved, true, true).contains(&"reopen"));
        assert!(!allowed_commands(Resolved, true, false).contains(&"reopen"));
        let outside = allowed_commands(Resolved, true, false);
        assert!(outside.contains(&"close") && !outside.contains(&"resolve"));
    }

    #[test]
    fn a_terminal_ticket_offers_nothing() {
        assert!(allowed_commands(Closed, true, true).is_empty());
    }
}
