//! Inventory import runs (issue 5 §2): the record of one run of a source, and the fold that
//! counts how many runs in a row a source has missed each of its assets.
//!
//! A run writes an event only for an asset that really changed; the run itself is one
//! `asset_import.completed` event on the source's stream (`asset_import`, one stream per source).
//! Instead of "seen" marks for the thousands of unchanged assets, it lists the few the source did
//! *not* deliver: last seen per source follows from that.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::values::{AssetId, SourceName};

/// Reasons listed per run; beyond this only the count grows.
pub const REJECTED_LISTED_MAX: usize = 1_000;

/// A row the import refused, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RejectedRow {
    /// 1-based line of the file (CSV: the header is line 1; JSON: the element's index + 1).
    pub line: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// A stable machine-readable code (`attribute_type_mismatch`, `missing_column`, …).
    pub code: String,
    /// The column or attribute concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What was wrong, in English.
    pub reason: String,
}

/// What happened in one run of a source: the `asset_import.completed` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type", rename = "asset_import.completed")]
pub struct ImportCompleted {
    pub source: SourceName,
    /// 1 for the source's first run.
    pub run: u64,
    /// `csv` or `json`.
    pub format: String,
    /// Data rows read.
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows refused (all of them, also beyond the listed ones).
    pub rejected_count: u64,
    /// The first [`REJECTED_LISTED_MAX`] refused rows.
    pub rejected: Vec<RejectedRow>,
    /// Asset events the run appended (this record not counted).
    pub events_written: u64,
    /// The source's assets this run did not deliver.
    pub missing: Vec<AssetId>,
    /// Of those, the ones flagged missing by this run.
    pub flagged: Vec<AssetId>,
}

/// A source's runs as their records leave them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceRuns {
    /// Runs recorded (the stream version).
    pub runs: u64,
    /// For each asset the last run missed: how many runs in a row have missed it.
    pub missed: BTreeMap<AssetId, u32>,
}

impl SourceRuns {
    /// The state after one more run.
    pub fn apply(mut self, run: &ImportCompleted) -> SourceRuns {
        self.runs += 1;
        self.missed = run
            .missing
            .iter()
            .map(|id| (*id, self.missed.get(id).copied().unwrap_or(0) + 1))
            .collect();
        self
    }

    /// How many runs in a row will have missed `id` if the next run misses it too.
    pub fn missed_after_next(&self, id: &AssetId) -> u32 {
        self.missed.get(id).copied().unwrap_or(0) + 1
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn run(missing: &[u128]) -> ImportCompleted {
        ImportCompleted {
            source: SourceName::try_from("baramundi".to_owned()).unwrap(),
            run: 1,
            format: "csv".into(),
            rows: 0,
            created: 0,
            updated: 0,
            unchanged: 0,
            rejected_count: 0,
            rejected: vec![],
            events_written: 0,
            missing: missing
                .iter()
                .map(|n| AssetId(Uuid::from_u128(*n)))
                .collect(),
            flagged: vec![],
        }
    }

    #[test]
    fn missed_runs_count_in_a_row_and_reset_when_delivered() {
        let runs = [run(&[1, 2]), run(&[1]), run(&[1, 2])]
            .iter()
            .fold(SourceRuns::default(), SourceRuns::apply);
        assert_eq!(runs.runs, 3);
        assert_eq!(runs.missed.get(&AssetId(Uuid::from_u128(1))), Some(&3));
        assert_eq!(runs.missed.get(&AssetId(Uuid::from_u128(2))), Some(&1));
        assert_eq!(runs.missed_after_next(&AssetId(Uuid::from_u128(3))), 1);
    }

    #[test]
    fn the_record_round_trips_with_its_type() {
        let record = run(&[7]);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["event_type"], "asset_import.completed");
        assert_eq!(
            serde_json::from_value::<ImportCompleted>(json).unwrap(),
            record
        );
    }
}
