//! The asset lifecycle: states and the declarative table of allowed transitions.

use serde::{Deserialize, Serialize};

/// Where an asset stands in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Lifecycle {
    /// Planned (geplant), not yet ordered.
    Planned,
    /// Ordered (bestellt), not yet delivered.
    Ordered,
    /// In stock (am Lager), ready to be deployed.
    InStock,
    /// Deployed (im Einsatz).
    Deployed,
    /// In repair (in Reparatur).
    InRepair,
    /// Retired (ausgemustert); can still be taken back into stock.
    Retired,
    /// Disposed of (entsorgt). Terminal.
    Disposed,
}

use Lifecycle::{Deployed, Disposed, InRepair, InStock, Ordered, Planned, Retired};

impl Lifecycle {
    pub const ALL: [Lifecycle; 7] = [
        Planned, Ordered, InStock, Deployed, InRepair, Retired, Disposed,
    ];

    /// A disposed asset accepts no command any more.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Disposed)
    }

    /// The wire name (`in_stock`).
    pub fn as_str(self) -> &'static str {
        match self {
            Planned => "planned",
            Ordered => "ordered",
            InStock => "in_stock",
            Deployed => "deployed",
            InRepair => "in_repair",
            Retired => "retired",
            Disposed => "disposed",
        }
    }

    /// The state of a wire name.
    pub fn parse(text: &str) -> Option<Lifecycle> {
        Lifecycle::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

/// The allowed transitions: from a state, the states it may change to.
///
/// | from        | to                               |
/// |-------------|----------------------------------|
/// | `planned`   | ordered, in_stock, retired       |
/// | `ordered`   | in_stock, retired                |
/// | `in_stock`  | deployed, in_repair, retired     |
/// | `deployed`  | in_stock, in_repair, retired     |
/// | `in_repair` | in_stock, deployed, retired      |
/// | `retired`   | in_stock, disposed               |
/// | `disposed`  | — (terminal)                     |
pub const TRANSITIONS: &[(Lifecycle, &[Lifecycle])] = &[
    (Planned, &[Ordered, InStock, Retired]),
    (Ordered, &[InStock, Retired]),
    (InStock, &[Deployed, InRepair, Retired]),
    (Deployed, &[InStock, InRepair, Retired]),
    (InRepair, &[InStock, Deployed, Retired]),
    (Retired, &[InStock, Disposed]),
    (Disposed, &[]),
];

/// Whether `from` may change to `to`.
pub fn allowed(from: Lifecycle, to: Lifecycle) -> bool {
    TRANSITIONS
        .iter()
        .find(|(state, _)| *state == from)
        .is_some_and(|(_, targets)| targets.contains(&to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_one_row_and_no_state_leads_to_itself() {
        for state in Lifecycle::ALL {
            let rows: Vec<_> = TRANSITIONS
                .iter()
                .filter(|(from, _)| *from == state)
                .collect();
            assert_eq!(rows.len(), 1, "{state:?}");
            assert!(!allowed(state, state), "{state:?}");
        }
    }

    #[test]
    fn every_state_but_disposed_can_reach_disposed() {
        for state in Lifecycle::ALL {
            let mut seen = vec![state];
            let mut index = 0;
            while index < seen.len() {
                for next in Lifecycle::ALL {
                    if allowed(seen[index], next) && !seen.contains(&next) {
                        seen.push(next);
                    }
                }
                index += 1;
            }
            assert!(seen.contains(&Disposed), "{state:?}");
        }
    }
}
