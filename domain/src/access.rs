//! Who may do what in which queue (issue 6 §3): one pure computation of a caller's access scope
//! from the teams and organisation units of the configuration, its user name and its roles.
//!
//! The rules, in order:
//! - `admin` and `supervisor` have every right on every queue; `auditor` may read every queue.
//! - An `agent` has, on each queue some team owns (names in its `queues`), exactly the rights of
//!   the teams the agent is a member of — none if it belongs to none of them.
//! - A queue no team owns, and a ticket without a queue, are open to every agent for every right,
//!   so an installation without teams behaves as before.
//! - Requesters have no queue rights; they see their own tickets (the handlers decide that).
//!
//! Roles add up: an agent who is also an auditor reads every queue and works where its teams may.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize as _;
use serde_json::Value;

pub use crate::config::access::QueueRight;
use crate::config::access::{OrgUnitDefinition, TeamDefinition};
use crate::config::{ConfigError, Kind};

/// The teams and organisation units in effect (the active configuration items).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    teams: Vec<(String, TeamDefinition)>,
    /// Unit name → its parent.
    units: BTreeMap<String, Option<String>>,
}

impl Directory {
    /// The directory of these active teams and units.
    pub fn new(
        teams: impl IntoIterator<Item = (String, TeamDefinition)>,
        units: impl IntoIterator<Item = (String, OrgUnitDefinition)>,
    ) -> Directory {
        Directory {
            teams: teams.into_iter().collect(),
            units: units
                .into_iter()
                .map(|(name, unit)| (name, unit.parent))
                .collect(),
        }
    }

    /// The directory of the active configuration items `(kind, name, definition)`; items of
    /// other kinds are skipped. A stored team or unit that does not read is an error.
    pub fn from_definitions<'a>(
        items: impl IntoIterator<Item = (Kind, &'a str, &'a Value)>,
    ) -> Result<Directory, ConfigError> {
        let (mut teams, mut units) = (Vec::new(), Vec::new());
        for (kind, name, definition) in items {
            let read = |error: serde_json::Error| ConfigError::Malformed {
                reason: format!("{} {name}: {error}", kind.stream_type()),
            };
            match kind {
                Kind::Team => teams.push((
                    name.to_owned(),
                    TeamDefinition::deserialize(definition).map_err(read)?,
                )),
                Kind::OrgUnit => units.push((
                    name.to_owned(),
                    OrgUnitDefinition::deserialize(definition).map_err(read)?,
                )),
                _ => {}
            }
        }
        Ok(Directory::new(teams, units))
    }

    /// The queues some team owns.
    pub fn owned_queues(&self) -> BTreeSet<&str> {
        self.teams
            .iter()
            .flat_map(|(_, team)| team.queues.keys().map(String::as_str))
            .collect()
    }

    /// `unit` and every unit below it, however deep (just `unit` if nothing is below it).
    pub fn unit_and_descendants(&self, unit: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::from([unit.to_owned()]);
        let mut frontier = vec![unit.to_owned()];
        while let Some(current) = frontier.pop() {
            for (child, parent) in &self.units {
                if parent.as_deref() == Some(current.as_str()) && found.insert(child.clone()) {
                    frontier.push(child.clone());
                }
            }
        }
        found
    }

    /// Whether `unit` is `ancestor` or lies below it.
    pub fn is_within(&self, unit: &str, ancestor: &str) -> bool {
        let mut visited = BTreeSet::new();
        let mut current = Some(unit);
        while let Some(name) = current {
            if name == ancestor {
                return true;
            }
            if !visited.insert(name) {
                return false;
            }
            current = self.units.get(name).and_then(Option::as_deref);
        }
        false
    }
}

/// What one caller may do in which queue; see the module documentation for the rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Rights on every queue and on tickets without one (admin, supervisor, auditor).
    everywhere: BTreeSet<QueueRight>,
    /// Rights on queues no team owns and on tickets without a queue (agents).
    unowned: BTreeSet<QueueRight>,
    /// Each owned queue with the rights the caller's teams give on it (empty if none).
    owned: BTreeMap<String, BTreeSet<QueueRight>>,
}

/// The scope of `user` with `roles` in `directory`.
pub fn scope(directory: &Directory, user: &str, roles: &[String]) -> Scope {
    let has = |role: &str| roles.iter().any(|held| held == role);
    let mut everywhere = BTreeSet::new();
    if has("admin") || has("supervisor") {
        everywhere.extend(QueueRight::ALL);
    } else if has("auditor") {
        everywhere.insert(QueueRight::Read);
    }
    let agent = has("agent");
    let unowned = if agent {
        QueueRight::ALL.into_iter().collect()
    } else {
        BTreeSet::new()
    };
    let mut owned: BTreeMap<String, BTreeSet<QueueRight>> = directory
        .owned_queues()
        .into_iter()
        .map(|queue| (queue.to_owned(), BTreeSet::new()))
        .collect();
    let teams = directory.teams.iter().map(|(_, team)| team);
    for team in teams.filter(|team| agent && team.has_member(user)) {
        for (queue, rights) in &team.queues {
            let granted = owned.entry(queue.clone()).or_default();
            granted.extend(rights);
            // Stored teams are normalized; read is implied all the same.
            granted.insert(QueueRight::Read);
        }
    }
    Scope {
        everywhere,
        unowned,
        owned,
    }
}

impl Scope {
    /// Whether the caller may do `right` on a ticket in `queue` (`None`: a ticket without one).
    pub fn may(&self, right: QueueRight, queue: Option<&str>) -> bool {
        if self.everywhere.contains(&right) {
            return true;
        }
        match queue.and_then(|queue| self.owned.get(queue)) {
            Some(granted) => granted.contains(&right),
            None => self.unowned.contains(&right),
        }
    }

    /// The owned queues on which the caller lacks `right`, sorted. A handler's SQL filter keeps
    /// tickets without a queue: `(queue IS NULL OR NOT (queue = ANY($denied)))`. Meaningful for
    /// handlers; requesters have no queue rights at all and are filtered to their own tickets.
    pub fn denied_queues(&self, right: QueueRight) -> Vec<String> {
        self.owned
            .keys()
            .filter(|queue| !self.may(right, Some(queue)))
            .cloned()
            .collect()
    }

    /// Whether the caller reads every ticket in every queue, and without one (no filter needed).
    pub fn sees_all(&self) -> bool {
        self.may(QueueRight::Read, None) && self.denied_queues(QueueRight::Read).is_empty()
    }
}

/// The right a ticket command (by its name, `TicketCommand::name`) needs on the ticket's queue:
///
/// | command                                          | right    |
/// |--------------------------------------------------|----------|
/// | `open`                                           | `create` |
/// | `assign`                                         | `assign` |
/// | `resolve`, `close`, `cancel`, `reopen`, `merge`  | `close`  |
/// | every other command                              | `update` |
pub fn right_for_command(command_name: &str) -> QueueRight {
    match command_name {
        "open" => QueueRight::Create,
        "assign" => QueueRight::Assign,
        "resolve" | "close" | "cancel" | "reopen" | "merge" => QueueRight::Close,
        _ => QueueRight::Update,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::catalog::Localized;
    use proptest::prelude::*;
    use QueueRight::{Assign, Close, Create, Read, Update};

    fn title() -> Localized {
        Localized {
            de: "Titel".into(),
            en: None,
        }
    }

    fn team(members: &[&str], queues: &[(&str, &[QueueRight])]) -> TeamDefinition {
        TeamDefinition {
            title: title(),
            members: members.iter().map(|member| (*member).to_owned()).collect(),
            queues: queues
                .iter()
                .map(|(queue, rights)| ((*queue).to_owned(), rights.to_vec()))
                .collect(),
        }
    }

    fn unit(parent: Option<&str>) -> OrgUnitDefinition {
        OrgUnitDefinition {
            title: title(),
            parent: parent.map(str::to_owned),
        }
    }

    /// Team `servicedesk` (k.meier, a.schulz) works `it-servicedesk` fully and reads `fachverfahren`;
    /// team `fachverfahren` (b.wolf) owns `fachverfahren`; `poststelle` is owned by no team.
    fn landesamt() -> Directory {
        Directory::new(
            [
                (
                    "servicedesk".to_owned(),
                    team(
                        &["k.meier", "a.schulz"],
                        &[
                            ("it-servicedesk", &[Read, Create, Update, Assign, Close]),
                            ("fachverfahren", &[Read]),
                        ],
                    ),
                ),
                (
                    "fachverfahren".to_owned(),
                    team(&["b.wolf"], &[("fachverfahren", &[Read, Update, Close])]),
                ),
            ],
            [
                ("ministerium".to_owned(), unit(None)),
                ("abteilung-1".to_owned(), unit(Some("ministerium"))),
                ("referat-11".to_owned(), unit(Some("abteilung-1"))),
                ("referat-12".to_owned(), unit(Some("abteilung-1"))),
                ("abteilung-2".to_owned(), unit(Some("ministerium"))),
            ],
        )
    }

    fn roles(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn of(user: &str, held: &[&str]) -> Scope {
        scope(&landesamt(), user, &roles(held))
    }

    #[test]
    fn an_agent_has_the_rights_of_its_team_on_the_team_s_queue() {
        let scope = of("k.meier", &["agent"]);
        for right in QueueRight::ALL {
            assert!(scope.may(right, Some("it-servicedesk")), "{right:?}");
        }
        assert!(scope.may(Read, Some("fachverfahren")));
        assert!(!scope.may(Update, Some("fachverfahren")));
        assert_eq!(scope.denied_queues(Read), Vec::<String>::new());
        assert_eq!(scope.denied_queues(Close), vec!["fachverfahren"]);
    }

    #[test]
    fn an_agent_outside_the_owning_team_has_no_rights_on_its_queue() {
        let scope = of("b.wolf", &["agent"]);
        for right in QueueRight::ALL {
            assert!(!scope.may(right, Some("it-servicedesk")), "{right:?}");
        }
        assert_eq!(scope.denied_queues(Read), vec!["it-servicedesk"]);
        assert!(!scope.sees_all());
        let outsider = of("p.neu", &["agent"]);
        assert_eq!(
            outsider.denied_queues(Read),
            vec!["fachverfahren", "it-servicedesk"]
        );
    }

    #[test]
    fn a_queue_no_team_owns_is_open_to_every_agent() {
        let scope = of("p.neu", &["agent"]);
        for right in QueueRight::ALL {
            assert!(scope.may(right, Some("poststelle")), "{right:?}");
        }
    }

    #[test]
    fn a_ticket_without_a_queue_is_open_to_every_agent() {
        let scope = of("b.wolf", &["agent"]);
        for right in QueueRight::ALL {
            assert!(scope.may(right, None), "{right:?}");
        }
    }

    #[test]
    fn without_teams_every_agent_sees_and_does_everything() {
        let scope = scope(&Directory::default(), "k.meier", &roles(&["agent"]));
        assert!(scope.sees_all());
        assert!(scope.may(Close, Some("it-servicedesk")));
        assert_eq!(scope.denied_queues(Close), Vec::<String>::new());
    }

    #[test]
    fn supervisors_and_admins_have_every_right_on_every_queue() {
        for role in ["supervisor", "admin"] {
            let scope = of("chefin", &[role]);
            assert!(scope.sees_all(), "{role}");
            for queue in [
                Some("it-servicedesk"),
                Some("fachverfahren"),
                Some("x"),
                None,
            ] {
                for right in QueueRight::ALL {
                    assert!(scope.may(right, queue), "{role} {right:?} {queue:?}");
                }
            }
            assert_eq!(scope.denied_queues(Close), Vec::<String>::new());
        }
    }

    #[test]
    fn an_auditor_reads_every_queue_and_changes_nothing() {
        let scope = of("pruefer", &["auditor"]);
        assert!(scope.sees_all());
        for queue in [Some("it-servicedesk"), Some("poststelle"), None] {
            assert!(scope.may(Read, queue));
            for right in [Create, Update, Assign, Close] {
                assert!(!scope.may(right, queue), "{right:?} {queue:?}");
            }
        }
        assert_eq!(
            scope.denied_queues(Update),
            vec!["fachverfahren", "it-servicedesk"]
        );
    }

    #[test]
    fn an_agent_who_audits_reads_everything_and_works_where_its_team_may() {
        let scope = of("b.wolf", &["agent", "auditor"]);
        assert!(scope.sees_all());
        assert!(!scope.may(Update, Some("it-servicedesk")));
        assert!(scope.may(Update, Some("fachverfahren")));
    }

    #[test]
    fn a_requester_has_no_queue_rights_even_in_a_team() {
        for user in ["k.meier", "buerger"] {
            let scope = of(user, &["requester"]);
            assert!(!scope.sees_all());
            for queue in [Some("it-servicedesk"), Some("poststelle"), None] {
                for right in QueueRight::ALL {
                    assert!(!scope.may(right, queue), "{user} {right:?} {queue:?}");
                }
            }
        }
    }

    #[test]
    fn any_right_implies_read() {
        let directory = Directory::new(
            [(
                "technik".to_owned(),
                team(&["k.meier"], &[("technik", &[Close])]),
            )],
            [],
        );
        let scope = scope(&directory, "k.meier", &roles(&["agent"]));
        assert!(scope.may(Read, Some("technik")));
        assert!(scope.may(Close, Some("technik")));
        assert!(!scope.may(Update, Some("technik")));
    }

    #[test]
    fn a_unit_includes_every_unit_below_it() {
        let directory = landesamt();
        let set = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect();
        assert_eq!(
            directory.unit_and_descendants("abteilung-1"),
            set(&["abteilung-1", "referat-11", "referat-12"])
        );
        assert_eq!(directory.unit_and_descendants("ministerium").len(), 5);
        assert_eq!(
            directory.unit_and_descendants("referat-11"),
            set(&["referat-11"])
        );
        assert!(directory.is_within("referat-12", "ministerium"));
        assert!(directory.is_within("referat-12", "referat-12"));
        assert!(!directory.is_within("abteilung-2", "abteilung-1"));
        assert!(!directory.is_within("ministerium", "referat-11"));
    }

    #[test]
    fn a_directory_reads_teams_and_units_from_the_configuration() {
        let team = serde_json::json!({"title": {"de": "Technik"}, "members": ["k.meier"],
                                      "queues": {"technik": ["read", "close"]}});
        let unit = serde_json::json!({"title": {"de": "Referat 11"}, "parent": "abteilung-1"});
        let queue = serde_json::json!({"title": {"de": "Technik"}});
        let directory = Directory::from_definitions([
            (Kind::Team, "technik", &team),
            (Kind::OrgUnit, "referat-11", &unit),
            (Kind::Queue, "technik", &queue),
        ])
        .unwrap();
        assert_eq!(directory.owned_queues(), BTreeSet::from(["technik"]));
        assert!(directory.is_within("referat-11", "abteilung-1"));
        let broken = serde_json::json!({"title": "Technik"});
        let error = Directory::from_definitions([(Kind::Team, "technik", &broken)]).unwrap_err();
        assert_eq!(error.code(), "invalid_definition");
    }

    #[test]
    fn commands_need_the_right_of_the_table() {
        for (command, right) in [
            ("open", Create),
            ("assign", Assign),
            ("resolve", Close),
            ("close", Close),
            ("cancel", Close),
            ("reopen", Close),
            ("merge", Close),
            ("start_work", Update),
            ("add_reply", Update),
            ("set_priority", Update),
            ("link_asset", Update),
        ] {
            assert_eq!(right_for_command(command), right, "{command}");
        }
    }

    const USERS: [&str; 4] = ["k.meier", "a.schulz", "b.wolf", "p.neu"];
    const QUEUES: [&str; 4] = ["it-servicedesk", "fachverfahren", "poststelle", "technik"];
    const ROLES: [&str; 6] = [
        "requester",
        "agent",
        "supervisor",
        "admin",
        "auditor",
        "asset_manager",
    ];

    fn any_team() -> impl Strategy<Value = TeamDefinition> {
        let rights = proptest::sample::subsequence(QueueRight::ALL.to_vec(), 1..=5);
        (
            proptest::sample::subsequence(USERS.to_vec(), 1..=4),
            proptest::collection::btree_map(
                proptest::sample::select(QUEUES.to_vec()),
                rights,
                0..4,
            ),
        )
            .prop_map(|(members, queues)| TeamDefinition {
                title: title(),
                members: members.into_iter().map(str::to_owned).collect(),
                queues: queues
                    .into_iter()
                    .map(|(queue, rights)| (queue.to_owned(), rights))
                    .collect(),
            })
    }

    proptest! {
        #[test]
        fn any_right_on_a_queue_implies_reading_it(
            teams in proptest::collection::vec(any_team(), 0..4),
            user in proptest::sample::select(USERS.to_vec()),
            held in proptest::sample::subsequence(ROLES.to_vec(), 0..=3),
        ) {
            let directory = Directory::new(
                teams.into_iter().enumerate().map(|(index, team)| (format!("team-{index}"), team)),
                [],
            );
            let scope = scope(&directory, user, &roles(&held));
            let queues = QUEUES.iter().map(|queue| Some(*queue)).chain([None, Some("unbekannt")]);
            for queue in queues {
                for right in QueueRight::ALL {
                    if scope.may(right, queue) {
                        prop_assert!(scope.may(Read, queue), "{right:?} without read on {queue:?}");
                    }
                }
            }
        }
    }
}
