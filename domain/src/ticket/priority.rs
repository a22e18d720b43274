//! Impact and urgency levels and the configurable matrix that turns them into a priority.

use serde::{Deserialize, Serialize};

/// A level of impact (how much is affected) or urgency (how soon it hurts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Level {
    /// Little.
    Low,
    /// Some.
    Medium,
    /// Much.
    High,
    /// All of it, now.
    Critical,
}

/// Priority of a ticket, derived from impact and urgency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Priority {
    /// Whenever there is time.
    VeryLow,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Drop everything.
    Critical,
}

/// One row of the matrix: the priority for each urgency at a fixed impact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrgencyRow {
    /// Priority at low urgency.
    pub low: Priority,
    /// Priority at medium urgency.
    pub medium: Priority,
    /// Priority at high urgency.
    pub high: Priority,
    /// Priority at critical urgency.
    pub critical: Priority,
}

impl UrgencyRow {
    const fn get(&self, urgency: Level) -> Priority {
        match urgency {
            Level::Low => self.low,
            Level::Medium => self.medium,
            Level::High => self.high,
            Level::Critical => self.critical,
        }
    }
}

/// Impact × urgency → priority. Outer keys are the impact, inner keys the urgency:
///
/// ```json
/// {"high": {"low": "low", "medium": "medium", "high": "high", "critical": "critical"}, ...}
/// ```
///
/// The default follows common ITIL practice:
///
/// | impact \ urgency | low      | medium | high     | critical |
/// |------------------|----------|--------|----------|----------|
/// | low              | very_low | low    | low      | medium   |
/// | medium           | low      | medium | medium   | high     |
/// | high             | low      | medium | high     | critical |
/// | critical         | medium   | high   | critical | critical |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityMatrix {
    low: UrgencyRow,
    medium: UrgencyRow,
    high: UrgencyRow,
    critical: UrgencyRow,
}

impl PriorityMatrix {
    /// Builds a matrix from rows indexed `[impact][urgency]`, both from low to critical.
    pub const fn from_rows(rows: [[Priority; 4]; 4]) -> Self {
        const fn row(cells: [Priority; 4]) -> UrgencyRow {
            UrgencyRow {
                low: cells[0],
                medium: cells[1],
                high: cells[2],
                critical: cells[3],
            }
        }
        Self {
            low: row(rows[0]),
            medium: row(rows[1]),
            high: row(rows[2]),
            critical: row(rows[3]),
        }
    }

    /// The priority for an impact and an urgency.
    pub const fn priority(&self, impact: Level, urgency: Level) -> Priority {
        let row = match impact {
            Level::Low => &self.low,
            Level::Medium => &self.medium,
            Level::High => &self.high,
            Level::Critical => &self.critical,
        };
        row.get(urgency)
    }
}

impl Default for PriorityMatrix {
    fn default() -> Self {
        use Priority::{Critical, High, Low, Medium, VeryLow};
        Self::from_rows([
            [VeryLow, Low, Low, Medium],
            [Low, Medium, Medium, High],
            [Low, Medium, High, Critical],
            [Medium, High, Critical, Critical],
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEVELS: [Level; 4] = [Level::Low, Level::Medium, Level::High, Level::Critical];

    #[test]
    fn default_matrix_rises_with_impact_and_urgency() {
        let matrix = PriorityMatrix::default();
        for pair in LEVELS.windows(2) {
            for other in LEVELS {
                assert!(matrix.priority(pair[0], other) <= matrix.priority(pair[1], other));
                assert!(matrix.priority(other, pair[0]) <= matrix.priority(other, pair[1]));
            }
        }
        assert_eq!(matrix.priority(Level::Low, Level::Low), Priority::VeryLow);
        assert_eq!(
            matrix.priority(Level::Critical, Level::Critical),
            Priority::Critical
        );
        assert_eq!(
            matrix.priority(Level::Medium, Level::High),
            Priority::Medium
        );
    }

    #[test]
    fn matrix_comes_from_configuration_keyed_by_impact_then_urgency() {
        let row =
            |p: &str| format!(r#"{{"low":"{p}","medium":"{p}","high":"{p}","critical":"{p}"}}"#);
        let json = format!(
            r#"{{"low":{},"medium":{},"high":{},"critical":{}}}"#,
            row("very_low"),
            row("low"),
            row("high"),
            row("critical")
        );
        let matrix: PriorityMatrix = serde_json::from_str(&json).unwrap();
        assert_eq!(matrix.priority(Level::High, Level::Low), Priority::High);
        assert_eq!(
            matrix.priority(Level::Medium, Level::Critical),
            Priority::Low
        );
        let round_trip = serde_json::to_value(matrix).unwrap();
        assert_eq!(
            round_trip,
            serde_json::from_str::<serde_json::Value>(&json).unwrap()
        );
    }
}
