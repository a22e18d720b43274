//! Prometheus metrics of the command side, served as text at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of a handled command.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandLabels {
    pub command: &'static str,
    pub outcome: &'static str,
}

/// The command side's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub commands: Family<CommandLabels, Counter>,
    pub command_duration_seconds: Histogram,
    pub events_appended: Counter,
    pub version_conflicts: Counter,
    pub cached_tickets: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("itsm_command");
        let commands = Family::<CommandLabels, Counter>::default();
        registry.register(
            "commands",
            "Commands handled, by command and outcome",
            commands.clone(),
        );
        let buckets = [
            0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ];
        let command_duration_seconds = Histogram::new(buckets);
        registry.register(
            "duration_seconds",
            "Time to decide and append a command",
            command_duration_seconds.clone(),
        );
        let events_appended = Counter::default();
        registry.register(
            "events_appended",
            "Events appended to the store",
            events_appended.clone(),
        );
        let version_conflicts = Counter::default();
        registry.register(
            "version_conflicts",
            "Appends that lost an optimistic-concurrency race and were retried",
            version_conflicts.clone(),
        );
        let cached_tickets = Gauge::default();
        registry.register(
            "cached_tickets",
            "Ticket states held in the command cache",
            cached_tickets.clone(),
        );
        Self {
            registry,
            commands,
            command_duration_seconds,
            events_appended,
            version_conflicts,
            cached_tickets,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
