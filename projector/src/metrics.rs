//! Prometheus metrics of the projections: lag, batch sizes and durations, state, and the age of
//! the oldest writing transaction (which holds back every gap-free reader, DESIGN §3).

use std::time::Duration;

use chrono::Utc;
use event_store::RecordedEvent;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::checkpoint::State;

/// Labels of a projection's metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProjectionLabels {
    pub projection: String,
    /// "live" for the active generation, "rebuild" for one being built beside it.
    pub mode: &'static str,
}

/// Labels of per-projection gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabels {
    pub projection: String,
}

/// The projector's metrics.
#[derive(Debug)]
pub struct ProjectorMetrics {
    pub events_applied: Family<ProjectionLabels, Counter>,
    pub batch_events: Family<ProjectionLabels, Histogram>,
    pub batch_seconds: Family<ProjectionLabels, Histogram>,
    /// Seconds from an event's insert to its batch's commit (the last event of each batch).
    pub lag_seconds: Family<NameLabels, Gauge<f64, AtomicU64>>,
    pub visible_seconds: Family<NameLabels, Histogram>,
    /// 1 while the projection is stopped at a poison event.
    pub failed: Family<NameLabels, Gauge>,
    pub oldest_writing_transaction_seconds: Gauge<f64, AtomicU64>,
}

impl Default for ProjectorMetrics {
    fn default() -> Self {
        Self {
            events_applied: Family::default(),
            batch_events: Family::new_with_constructor(|| {
                Histogram::new([1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0])
            }),
            batch_seconds: Family::new_with_constructor(|| {
                Histogram::new([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0])
            }),
            lag_seconds: Family::default(),
            visible_seconds: Family::new_with_constructor(|| {
                Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0])
            }),
            failed: Family::default(),
            oldest_writing_transaction_seconds: Gauge::default(),
        }
    }
}

impl ProjectorMetrics {
    /// Adds the metrics to `registry` (prefix `itsm_projector`).
    pub fn register(&self, registry: &mut Registry) {
        let registry = registry.sub_registry_with_prefix("itsm_projector");
        registry.register(
            "events_applied",
            "Events applied, by projection and mode",
            self.events_applied.clone(),
        );
        registry.register(
            "batch_events",
            "Events per applied batch",
            self.batch_events.clone(),
        );
        registry.register(
            "batch_seconds",
            "Time to read, apply and commit a batch",
            self.batch_seconds.clone(),
        );
        registry.register(
            "lag_seconds",
            "Seconds between the last applied event's insert and its projection (0 when caught up)",
            self.lag_seconds.clone(),
        );
        registry.register(
            "visible_seconds",
            "Seconds from an event's insert until its batch committed to the read model",
            self.visible_seconds.clone(),
        );
        registry.register(
            "failed",
            "1 while a projection is stopped at a poison event",
            self.failed.clone(),
        );
        registry.register(
            "oldest_writing_transaction_seconds",
            "Age of the oldest open transaction that holds a transaction id (delays every reader)",
            self.oldest_writing_transaction_seconds.clone(),
        );
    }

    pub(crate) fn observe_batch(
        &self,
        projection: &str,
        events: usize,
        duration: Duration,
        last: &RecordedEvent,
        rebuilding: bool,
    ) {
        let labels = ProjectionLabels {
            projection: projection.to_owned(),
            mode: if rebuilding { "rebuild" } else { "live" },
        };
        self.events_applied
            .get_or_create(&labels)
            .inc_by(events as u64);
        self.batch_events
            .get_or_create(&labels)
            .observe(events as f64);
        self.batch_seconds
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
        if !rebuilding {
            let lag = (Utc::now() - last.recorded_at)
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1e6;
            let name = NameLabels {
                projection: projection.to_owned(),
            };
            self.lag_seconds.get_or_create(&name).set(lag.max(0.0));
            self.visible_seconds
                .get_or_create(&name)
                .observe(lag.max(0.0));
        }
    }

    pub(crate) fn observe_caught_up(&self, projection: &str) {
        let name = NameLabels {
            projection: projection.to_owned(),
        };
        self.lag_seconds.get_or_create(&name).set(0.0);
    }

    pub(crate) fn observe_state(&self, projection: &str, state: State) {
        let name = NameLabels {
            projection: projection.to_owned(),
        };
        self.failed
            .get_or_create(&name)
            .set(i64::from(state == State::Failed));
    }
}
