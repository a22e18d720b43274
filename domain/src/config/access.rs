//! Access configuration (issue 6 §1): teams with their rights per queue, and the organisation
//! units of an administration as a tree. Both are configuration items; what a caller may do
//! follows from them in [`crate::access`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::catalog::Localized;
use super::ConfigError;
use crate::identity::{UserName, USER_NAME_CHARS_MAX};

/// Most members one team has.
pub const TEAM_MEMBERS_MAX: usize = 500;
/// Most queues one team names.
pub const TEAM_QUEUES_MAX: usize = 500;

/// What a team may do with the tickets of a queue. Every right implies [`QueueRight::Read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueRight {
    /// See the queue's tickets.
    Read,
    /// Open tickets in the queue.
    Create,
    /// Work on them: reply, note, change fields, priority, links.
    Update,
    /// Assign them.
    Assign,
    /// Resolve, close, cancel, reopen or merge them.
    Close,
}

impl QueueRight {
    /// Every right, in canonical order.
    pub const ALL: [QueueRight; 5] = [
        QueueRight::Read,
        QueueRight::Create,
        QueueRight::Update,
        QueueRight::Assign,
        QueueRight::Close,
    ];
}

/// A team: who belongs to it and what it may do in which queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamDefinition {
    pub title: Localized,
    /// User names ([`UserName`]), distinct.
    pub members: Vec<String>,
    /// Queue name → rights (stored with `read` added and in canonical order).
    pub queues: BTreeMap<String, Vec<QueueRight>>,
}

impl TeamDefinition {
    /// Checks what the team alone can tell (that its queues exist is checked against the
    /// configuration) and answers it normalized: every right list with `read` and in the order
    /// of [`QueueRight::ALL`].
    pub fn validate(mut self) -> Result<TeamDefinition, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid { reason };
        self.title.check("title", 200)?;
        if self.members.is_empty() || self.members.len() > TEAM_MEMBERS_MAX {
            return Err(invalid(format!(
                "a team has 1 to {TEAM_MEMBERS_MAX} members"
            )));
        }
        let mut seen = BTreeSet::new();
        for (index, member) in self.members.iter().enumerate() {
            if UserName::parse(member).is_err() {
                return Err(invalid(format!(
                    "members[{index}] must be 1 to {USER_NAME_CHARS_MAX} of a-z, 0-9, ., _ and -"
                )));
            }
            if !seen.insert(member.as_str()) {
                return Err(invalid(format!(
                    "members[{index}] {member:?} is listed twice"
                )));
            }
        }
        if self.queues.len() > TEAM_QUEUES_MAX {
            return Err(invalid(format!(
                "a team names at most {TEAM_QUEUES_MAX} queues"
            )));
        }
        for (queue, rights) in &mut self.queues {
            *rights = normalized_rights(queue, rights)?;
        }
        Ok(self)
    }

    /// Whether `user` belongs to the team.
    pub fn has_member(&self, user: &str) -> bool {
        self.members.iter().any(|member| member == user)
    }
}

/// `rights` of `queue`, checked, with `read` added, in canonical order.
fn normalized_rights(queue: &str, rights: &[QueueRight]) -> Result<Vec<QueueRight>, ConfigError> {
    let distinct: BTreeSet<QueueRight> = rights.iter().copied().collect();
    if rights.is_empty() || distinct.len() != rights.len() {
        return Err(ConfigError::Invalid {
            reason: format!("queues.{queue} must list distinct rights, at least one"),
        });
    }
    Ok(QueueRight::ALL
        .into_iter()
        .filter(|right| *right == QueueRight::Read || distinct.contains(right))
        .collect())
}

/// An organisation unit (Behörde, Abteilung, Referat …), below its parent if it has one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgUnitDefinition {
    pub title: Localized,
    /// The unit it belongs to; must exist, and the unit must not become its own ancestor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

impl OrgUnitDefinition {
    /// A title in each language given.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.title.check("title", 200)
    }
}
