//! SLA policies: targets for first response and resolution in business minutes, chosen by ticket
//! type and priority (a service names its policy), warning thresholds, which pending reasons pause
//! the clocks and what a reopen does.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::ticket::{PendingReason, Priority, TicketType};

/// Longest target: a year of business minutes at 24/7.
pub const TARGET_MINUTES_MAX: u32 = 525_600;

/// One row of a policy: which tickets it applies to (an empty list: any) and its targets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(default)]
    pub ticket_types: Vec<TicketType>,
    #[serde(default)]
    pub priorities: Vec<Priority>,
    pub first_response_minutes: u32,
    pub resolution_minutes: u32,
}

impl Target {
    /// Whether the row applies to a ticket of this type and priority.
    pub fn matches(&self, ticket_type: TicketType, priority: Priority) -> bool {
        (self.ticket_types.is_empty() || self.ticket_types.contains(&ticket_type))
            && (self.priorities.is_empty() || self.priorities.contains(&priority))
    }

    /// Whether every ticket this row applies to is already taken by `earlier`.
    fn shadowed_by(&self, earlier: &Target) -> bool {
        covers(&earlier.ticket_types, &self.ticket_types)
            && covers(&earlier.priorities, &self.priorities)
    }
}

/// Whether every value `later` admits is admitted by `earlier` (an empty list admits all).
fn covers<T: PartialEq>(earlier: &[T], later: &[T]) -> bool {
    earlier.is_empty() || (!later.is_empty() && later.iter().all(|x| earlier.contains(x)))
}

/// What a reopen does to the resolution clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnReopen {
    /// The clock runs on from the time already used (default).
    #[default]
    Continue,
    /// The clock starts again from zero.
    Restart,
}

/// An SLA policy as an administrator defines it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyDefinition {
    pub title: String,
    /// The business calendar the minutes are counted in.
    pub calendar: String,
    /// The first row that matches a ticket's type and priority applies.
    pub targets: Vec<Target>,
    /// Warnings when this share of a target is used, in percent, ascending (default 75, 90).
    #[serde(default = "default_warnings")]
    pub warning_percent: Vec<u8>,
    /// Pending reasons that pause both clocks (default: waiting for the requester).
    #[serde(default = "default_pauses")]
    pub pause_when_pending: Vec<PendingReason>,
    #[serde(default)]
    pub on_reopen: OnReopen,
}

fn default_warnings() -> Vec<u8> {
    vec![75, 90]
}

fn default_pauses() -> Vec<PendingReason> {
    vec![PendingReason::WaitingForRequester]
}

impl SlaPolicyDefinition {
    /// Checks what the policy alone can tell: a title, at least one target, no target of zero or
    /// beyond a year, no row that could never apply (taken entirely by an earlier row),
    /// thresholds strictly between 0 and 100 and ascending. (That the calendar exists is checked
    /// against the configuration.)
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid { reason };
        if self.title.trim().is_empty() || self.title.chars().count() > 200 {
            return Err(invalid("title must be 1 to 200 characters".into()));
        }
        if self.targets.is_empty() {
            return Err(invalid("a policy needs at least one target".into()));
        }
        for (index, target) in self.targets.iter().enumerate() {
            for (name, minutes) in [
                ("first_response_minutes", target.first_response_minutes),
                ("resolution_minutes", target.resolution_minutes),
            ] {
                if minutes == 0 || minutes > TARGET_MINUTES_MAX {
                    return Err(invalid(format!(
                        "targets[{index}].{name} must be 1 to {TARGET_MINUTES_MAX}"
                    )));
                }
            }
            if let Some(earlier) = self.targets[..index]
                .iter()
                .position(|earlier| target.shadowed_by(earlier))
            {
                return Err(ConfigError::NeverMatches {
                    reason: format!(
                        "targets[{index}] can never apply: targets[{earlier}] takes every ticket it names"
                    ),
                });
            }
        }
        let mut previous = 0;
        for percent in &self.warning_percent {
            if *percent == 0 || *percent >= 100 {
                return Err(invalid(format!(
                    "warning_percent {percent} is outside 1 to 99"
                )));
            }
            if *percent <= previous {
                return Err(invalid("warning_percent must ascend".into()));
            }
            previous = *percent;
        }
        Ok(())
    }

    /// The targets for a ticket of this type and priority, if a row applies.
    pub fn target(&self, ticket_type: TicketType, priority: Priority) -> Option<&Target> {
        self.targets
            .iter()
            .find(|target| target.matches(ticket_type, priority))
    }
}
