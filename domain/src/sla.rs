//! SLA clocks (issue 4 §3, DESIGN §6): for each ticket a first-response and a resolution clock,
//! made of running and paused segments derived from the ticket's events and timestamps only, so a
//! replay gives identical clocks. Each segment names the calendar version it is counted in; the
//! clock names the policy version and target row it uses, and records when and why that changed.
//!
//! Semantics (documented in ADR 0008):
//! - The policy is the ticket's service's (else the policy named `default`), chosen when the
//!   ticket opens; its first matching target row (type, priority) gives the targets. A priority
//!   change re-selects the row of the then-current policy version: elapsed time is kept.
//! - First response is met by the first public reply (or by resolving); resolution by resolving.
//!   A reopen resumes the resolution clock (or restarts it, per policy). Cancel and merge stop both.
//! - A pending reason the policy lists pauses running clocks; leaving pending resumes them.
//! - A calendar change splits each live clock's open segment at the change's instant, so the rest
//!   counts in the new version and nothing before it is recounted. A policy change re-selects
//!   the target row of live clocks under it (elapsed kept, the change recorded).
//! - The fold takes the configuration it is given as the one valid at each event: the projection
//!   folds configuration and ticket events in store order to give it exactly that.
//! - "Breached" is an instant: running past the due time, or met, paused or stopped after it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::BusinessCalendar;
use crate::config::sla::{OnReopen, SlaPolicyDefinition};
use crate::ticket::{ArticleKind, PendingReason, Priority, TicketEvent, TicketType};

/// The two clocks of a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    FirstResponse,
    Resolution,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::FirstResponse => "first_response",
            Metric::Resolution => "resolution",
        }
    }
}

/// Where a clock stands after its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    Running,
    Paused,
    Met,
    /// Cancelled or merged before it was met.
    Stopped,
}

/// A stretch of a clock: running (counted in business time) or paused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub from: DateTime<Utc>,
    /// `None` while the segment is open.
    pub to: Option<DateTime<Utc>>,
    pub running: bool,
    /// Why it began: `opened`, `resumed`, `reopened`, `priority_changed`, `pending:<reason>`.
    pub cause: String,
    pub calendar: String,
    pub calendar_version: u64,
    /// Business seconds of a closed running segment (0 for paused ones and open ones).
    pub business_seconds: i64,
}

/// A change of a clock's policy row or target, with the elapsed time it kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetChange {
    pub at: DateTime<Utc>,
    pub policy_version: u64,
    pub from_minutes: u32,
    pub to_minutes: u32,
    pub cause: String,
}

/// One SLA clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub metric: Metric,
    pub policy: String,
    pub policy_version: u64,
    pub target_minutes: u32,
    pub warning_percent: Vec<u8>,
    pub state: ClockState,
    pub segments: Vec<Segment>,
    /// Business seconds of the closed running segments.
    pub elapsed_seconds: i64,
    /// When it was met or stopped.
    pub stopped_at: Option<DateTime<Utc>>,
    pub target_changes: Vec<TargetChange>,
    /// Warning thresholds the SLA monitor recorded on the ticket (since the last restart).
    #[serde(default)]
    pub warnings_recorded: Vec<u8>,
    /// Whether the SLA monitor recorded the breach.
    #[serde(default)]
    pub breach_recorded: bool,
    /// Whether a running stretch ended after the due time (met, paused or stopped late): the
    /// clock stays breached (until a restart).
    #[serde(default)]
    pub late: bool,
}

/// Something the SLA monitor records when its instant has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Deadline {
    Warning { percent: u8 },
    Breach,
}

/// What the clocks need from the configuration: policies and calendars by name and version.
pub trait SlaConfiguration {
    /// The name of the service's policy (`None`: no such service or no policy).
    fn policy_of_service(&self, service: &str) -> Option<String>;
    /// The current version of a policy.
    fn policy(&self, name: &str) -> Option<(u64, &SlaPolicyDefinition)>;
    /// The current version of a calendar.
    fn calendar(&self, name: &str) -> Option<(u64, &BusinessCalendar)>;
    /// A calendar as it was at `version`.
    fn calendar_at(&self, name: &str, version: u64) -> Option<&BusinessCalendar>;
}

/// The name of the policy used for tickets without a service (or whose service has none).
pub const DEFAULT_POLICY: &str = "default";

/// A ticket's clocks and what they depend on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketClocks {
    pub ticket_type: Option<TicketType>,
    pub priority: Option<Priority>,
    pub pending: bool,
    pub clocks: Vec<Clock>,
}

impl Clock {
    fn open_segment(&self) -> Option<&Segment> {
        self.segments.last().filter(|segment| segment.to.is_none())
    }

    /// Whether it is running or paused.
    pub fn is_live(&self) -> bool {
        matches!(self.state, ClockState::Running | ClockState::Paused)
    }

    /// Closes the open segment at `at`, counting a running one in its calendar version.
    fn close(&mut self, at: DateTime<Utc>, config: &dyn SlaConfiguration) {
        let Some(segment) = self.segments.last().filter(|s| s.to.is_none()) else {
            return;
        };
        let at = at.max(segment.from);
        let business_seconds = if segment.running {
            config
                .calendar_at(&segment.calendar, segment.calendar_version)
                .map_or(0, |calendar| calendar.seconds_between(segment.from, at))
        } else {
            0
        };
        // Late only if the target is used up by `at`; only then is the due time worth the walk
        // through the calendar (below the target it is necessarily later than `at`).
        if segment.running
            && self.elapsed_seconds + business_seconds >= self.target_seconds()
            && self.due_at(config).is_some_and(|due| due < at)
        {
            self.late = true;
        }
        let segment = self.segments.last_mut().expect("checked above");
        segment.to = Some(at);
        segment.business_seconds = business_seconds;
        self.elapsed_seconds += business_seconds;
    }

    fn open(
        &mut self,
        at: DateTime<Utc>,
        running: bool,
        cause: String,
        config: &dyn SlaConfiguration,
    ) {
        let calendar_name = config
            .policy(&self.policy)
            .map(|(_, policy)| policy.calendar.clone())
            .or_else(|| self.segments.last().map(|s| s.calendar.clone()))
            .unwrap_or_default();
        let calendar_version = config.calendar(&calendar_name).map_or(0, |(v, _)| v);
        self.segments.push(Segment {
            from: at,
            to: None,
            running,
            cause,
            calendar: calendar_name,
            calendar_version,
            business_seconds: 0,
        });
        self.state = if running {
            ClockState::Running
        } else {
            ClockState::Paused
        };
    }

    fn finish(&mut self, at: DateTime<Utc>, state: ClockState, config: &dyn SlaConfiguration) {
        if self.is_live() {
            self.close(at, config);
            self.state = state;
            self.stopped_at = Some(at);
        }
    }

    /// Target in seconds.
    pub fn target_seconds(&self) -> i64 {
        i64::from(self.target_minutes) * 60
    }

    /// Business seconds used by `now` (the open running segment counted up to `now`).
    pub fn elapsed_at(&self, now: DateTime<Utc>, config: &dyn SlaConfiguration) -> i64 {
        match self.open_segment() {
            Some(segment) if segment.running => {
                self.elapsed_seconds
                    + config
                        .calendar_at(&segment.calendar, segment.calendar_version)
                        .map_or(0, |calendar| calendar.seconds_between(segment.from, now))
            }
            _ => self.elapsed_seconds,
        }
    }

    /// The instant at which `seconds` of business time will have been used, while running.
    pub fn instant_of(&self, seconds: i64, config: &dyn SlaConfiguration) -> Option<DateTime<Utc>> {
        let segment = self.open_segment().filter(|segment| segment.running)?;
        let calendar = config.calendar_at(&segment.calendar, segment.calendar_version)?;
        let left = seconds - self.elapsed_seconds;
        if left <= 0 {
            // Already used before this segment began.
            return Some(segment.from);
        }
        calendar.add(segment.from, left)
    }

    /// When the target is used up, while running.
    pub fn due_at(&self, config: &dyn SlaConfiguration) -> Option<DateTime<Utc>> {
        self.instant_of(self.target_seconds(), config)
    }

    /// The instants of the warning thresholds, while running: `(percent, at)`.
    pub fn warnings_at(&self, config: &dyn SlaConfiguration) -> Vec<(u8, DateTime<Utc>)> {
        self.warning_percent
            .iter()
            .filter_map(|percent| {
                let seconds = (self.target_seconds() * i64::from(*percent) + 99) / 100;
                self.instant_of(seconds, config).map(|at| (*percent, at))
            })
            .collect()
    }

    /// The warnings and the breach not yet recorded, with their instants, while running:
    /// what the SLA monitor waits for.
    pub fn pending_deadlines(
        &self,
        config: &dyn SlaConfiguration,
    ) -> Vec<(DateTime<Utc>, Deadline)> {
        if self.state != ClockState::Running {
            return Vec::new();
        }
        let mut deadlines: Vec<(DateTime<Utc>, Deadline)> = self
            .warnings_at(config)
            .into_iter()
            .filter(|(percent, _)| !self.warnings_recorded.contains(percent))
            .map(|(percent, at)| (at, Deadline::Warning { percent }))
            .collect();
        if !self.breach_recorded {
            deadlines.extend(self.due_at(config).map(|at| (at, Deadline::Breach)));
        }
        deadlines.sort_by_key(|(at, _)| *at);
        deadlines
    }

    /// Whether the clock is breached as read at `now`: running past its due time, or a running
    /// stretch ended after the due time (met, paused or stopped late). Due time and breach are
    /// instants, so a reply in the lunch break after a 12:00 due time is late although the
    /// business minutes used equal the target; the SLA monitor records the breach at the same
    /// instant.
    pub fn breached_at(&self, now: DateTime<Utc>, config: &dyn SlaConfiguration) -> bool {
        self.late
            || (self.state == ClockState::Running
                && self.due_at(config).is_some_and(|due| due < now))
    }
}

impl TicketClocks {
    /// The clocks after one more event of the ticket, recorded at `at` (its `occurred_at`).
    pub fn apply(&mut self, event: &TicketEvent, at: DateTime<Utc>, config: &dyn SlaConfiguration) {
        match event {
            TicketEvent::Opened {
                ticket_type,
                priority,
                service_id,
                ..
            } => {
                self.ticket_type = Some(*ticket_type);
                self.priority = Some(*priority);
                let policy = service_id
                    .as_deref()
                    .and_then(|service| config.policy_of_service(service))
                    .or_else(|| {
                        config
                            .policy(DEFAULT_POLICY)
                            .map(|_| DEFAULT_POLICY.to_owned())
                    });
                let Some(name) = policy else { return };
                let Some((version, definition)) = config.policy(&name) else {
                    return;
                };
                let Some(target) = definition.target(*ticket_type, *priority) else {
                    return;
                };
                for (metric, minutes) in [
                    (Metric::FirstResponse, target.first_response_minutes),
                    (Metric::Resolution, target.resolution_minutes),
                ] {
                    let mut clock = Clock {
                        metric,
                        policy: name.clone(),
                        policy_version: version,
                        target_minutes: minutes,
                        warning_percent: definition.warning_percent.clone(),
                        state: ClockState::Running,
                        segments: Vec::new(),
                        elapsed_seconds: 0,
                        stopped_at: None,
                        target_changes: Vec::new(),
                        warnings_recorded: Vec::new(),
                        breach_recorded: false,
                        late: false,
                    };
                    clock.open(at, true, "opened".to_owned(), config);
                    self.clocks.push(clock);
                }
            }
            TicketEvent::ArticleAdded {
                kind: ArticleKind::PublicReply,
                ..
            } => self.finish(Metric::FirstResponse, at, ClockState::Met, config),
            TicketEvent::PendingSet { reason, .. } => {
                self.pending = true;
                if self.pauses(*reason, config) {
                    for clock in self
                        .clocks
                        .iter_mut()
                        .filter(|c| c.state == ClockState::Running)
                    {
                        clock.close(at, config);
                        clock.open(
                            at,
                            false,
                            format!("pending:{}", reason_name(*reason)),
                            config,
                        );
                    }
                }
            }
            TicketEvent::Assigned { .. } | TicketEvent::WorkStarted { .. } => {
                self.pending = false;
                self.resume(at, "resumed", config);
            }
            TicketEvent::Resolved { .. } => {
                self.pending = false;
                self.finish(Metric::FirstResponse, at, ClockState::Met, config);
                self.finish(Metric::Resolution, at, ClockState::Met, config);
            }
            TicketEvent::Reopened { .. } => {
                let restart = self
                    .clocks
                    .first()
                    .and_then(|clock| config.policy(&clock.policy))
                    .is_some_and(|(_, policy)| policy.on_reopen == OnReopen::Restart);
                if let Some(clock) = self.clock_mut(Metric::Resolution) {
                    if clock.state == ClockState::Met {
                        if restart {
                            clock.elapsed_seconds = 0;
                            clock.warnings_recorded.clear();
                            clock.breach_recorded = false;
                            clock.late = false;
                        }
                        clock.stopped_at = None;
                        let cause = if restart {
                            "reopened:restart"
                        } else {
                            "reopened"
                        };
                        clock.open(at, true, cause.to_owned(), config);
                    }
                }
            }
            TicketEvent::Cancelled { .. } | TicketEvent::Merged { .. } => {
                self.finish(Metric::FirstResponse, at, ClockState::Stopped, config);
                self.finish(Metric::Resolution, at, ClockState::Stopped, config);
            }
            TicketEvent::PriorityChanged { priority, .. } => {
                self.priority = Some(*priority);
                self.retarget(at, config);
            }
            TicketEvent::SlaWarningReached {
                metric, percent, ..
            } => {
                if let Some(clock) = self.clock_mut(*metric) {
                    if !clock.warnings_recorded.contains(percent) {
                        clock.warnings_recorded.push(*percent);
                    }
                }
            }
            TicketEvent::SlaBreached { metric, .. } => {
                if let Some(clock) = self.clock_mut(*metric) {
                    clock.breach_recorded = true;
                }
            }
            _ => {}
        }
    }

    fn clock_mut(&mut self, metric: Metric) -> Option<&mut Clock> {
        self.clocks.iter_mut().find(|clock| clock.metric == metric)
    }

    fn finish(
        &mut self,
        metric: Metric,
        at: DateTime<Utc>,
        state: ClockState,
        config: &dyn SlaConfiguration,
    ) {
        if let Some(clock) = self.clock_mut(metric) {
            clock.finish(at, state, config);
        }
    }

    fn pauses(&self, reason: PendingReason, config: &dyn SlaConfiguration) -> bool {
        self.clocks
            .first()
            .and_then(|clock| config.policy(&clock.policy))
            .is_some_and(|(_, policy)| policy.pause_when_pending.contains(&reason))
    }

    fn resume(&mut self, at: DateTime<Utc>, cause: &str, config: &dyn SlaConfiguration) {
        for clock in self
            .clocks
            .iter_mut()
            .filter(|c| c.state == ClockState::Paused)
        {
            clock.close(at, config);
            clock.open(at, true, cause.to_owned(), config);
        }
    }

    /// A priority change: the current policy version's row for the new priority; elapsed kept.
    fn retarget(&mut self, at: DateTime<Utc>, config: &dyn SlaConfiguration) {
        self.retarget_where(at, "priority_changed", |_| true, config);
    }

    fn retarget_where(
        &mut self,
        at: DateTime<Utc>,
        cause: &str,
        applies: impl Fn(&Clock) -> bool,
        config: &dyn SlaConfiguration,
    ) {
        let (Some(ticket_type), Some(priority)) = (self.ticket_type, self.priority) else {
            return;
        };
        for clock in self
            .clocks
            .iter_mut()
            .filter(|clock| clock.is_live() && applies(clock))
        {
            let Some((version, policy)) = config.policy(&clock.policy) else {
                continue;
            };
            let Some(target) = policy.target(ticket_type, priority) else {
                continue;
            };
            let minutes = match clock.metric {
                Metric::FirstResponse => target.first_response_minutes,
                Metric::Resolution => target.resolution_minutes,
            };
            if minutes == clock.target_minutes && version == clock.policy_version {
                continue;
            }
            clock.target_changes.push(TargetChange {
                at,
                policy_version: version,
                from_minutes: clock.target_minutes,
                to_minutes: minutes,
                cause: cause.to_owned(),
            });
            clock.target_minutes = minutes;
            clock.policy_version = version;
            clock.warning_percent = policy.warning_percent.clone();
            // A segment boundary, so the rest is counted in the current calendar version.
            clock.split(at, cause, config);
        }
    }

    /// A change of configuration at `at` (the instant of its event): live clocks whose open
    /// segment counts in `calendar` start a new segment, so the rest counts in the new version;
    /// live clocks under `policy` re-select their target row of the new version (elapsed kept,
    /// the change recorded).
    pub fn configuration_changed(
        &mut self,
        at: DateTime<Utc>,
        change: ConfigurationChange<'_>,
        config: &dyn SlaConfiguration,
    ) {
        match change {
            ConfigurationChange::Calendar(name) => {
                for clock in self.clocks.iter_mut().filter(|clock| {
                    clock.is_live()
                        && clock
                            .open_segment()
                            .is_some_and(|segment| segment.calendar == name)
                }) {
                    clock.split(at, "calendar_changed", config);
                }
            }
            ConfigurationChange::Policy(name) => {
                self.retarget_where(at, "policy_changed", |clock| clock.policy == name, config);
            }
        }
    }

    /// Whether any clock is running or paused.
    pub fn is_live(&self) -> bool {
        self.clocks.iter().any(Clock::is_live)
    }
}

/// A configuration change the clocks follow from the instant it happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigurationChange<'a> {
    Calendar(&'a str),
    Policy(&'a str),
}

impl Clock {
    /// Ends the open segment at `at` and starts the same kind again (a paused one keeps its
    /// pending cause), now counted in the policy's current calendar version.
    fn split(&mut self, at: DateTime<Utc>, cause: &str, config: &dyn SlaConfiguration) {
        let running = self.state == ClockState::Running;
        let cause = match self.open_segment() {
            Some(segment) if !running => segment.cause.clone(),
            _ => cause.to_owned(),
        };
        self.close(at, config);
        self.open(at, running, cause, config);
    }
}

fn reason_name(reason: PendingReason) -> String {
    match serde_json::to_value(reason) {
        Ok(serde_json::Value::String(name)) => name,
        _ => "unknown".to_owned(),
    }
}

/// Seconds as whole minutes, rounded down (what the API shows as business minutes).
pub fn minutes(seconds: i64) -> i64 {
    seconds.div_euclid(60)
}

/// `Duration` of business seconds, for display.
pub fn duration(seconds: i64) -> Duration {
    Duration::seconds(seconds)
}

#[cfg(test)]
mod tests {
    //! The fold fed with what `ticket::decide` answers, so a rule that changes the status through
    //! another command (a requester's message) is seen to move the clocks too.

    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::calendar::CalendarDefinition;
    use crate::ticket::{
        decide, ArticleBody, DecisionContext, Ticket, TicketCommand, TicketPolicy,
    };

    const CALENDAR: &str = "rund-um-die-uhr";

    /// A calendar open round the clock (business seconds are wall-clock seconds) and the default
    /// policy over it, pausing for `pauses`.
    struct RoundTheClock {
        calendar: BusinessCalendar,
        policy: SlaPolicyDefinition,
    }

    impl RoundTheClock {
        fn pausing_for(pauses: &[&str]) -> Self {
            let day = json!(["00:00-24:00"]);
            let definition: CalendarDefinition = serde_json::from_value(json!({"weekly_hours": {
                "mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day
            }}))
            .unwrap();
            let policy = serde_json::from_value(json!({
                "title": "Standard",
                "calendar": CALENDAR,
                "targets": [{"first_response_minutes": 240, "resolution_minutes": 2400}],
                "pause_when_pending": pauses,
            }))
            .unwrap();
            Self {
                calendar: BusinessCalendar::new(&definition).unwrap(),
                policy,
            }
        }
    }

    impl SlaConfiguration for RoundTheClock {
        fn policy_of_service(&self, _service: &str) -> Option<String> {
            None
        }

        fn policy(&self, name: &str) -> Option<(u64, &SlaPolicyDefinition)> {
            (name == DEFAULT_POLICY).then_some((1, &self.policy))
        }

        fn calendar(&self, name: &str) -> Option<(u64, &BusinessCalendar)> {
            (name == CALENDAR).then_some((1, &self.calendar))
        }

        fn calendar_at(&self, name: &str, version: u64) -> Option<&BusinessCalendar> {
            (name == CALENDAR && version == 1).then_some(&self.calendar)
        }
    }

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, hour, 0, 0).unwrap()
    }

    fn event(json: serde_json::Value) -> TicketEvent {
        serde_json::from_value(json).unwrap()
    }

    /// Opened at 08:00 (no service: the default policy), assigned, waiting for `reason` at 09:00.
    fn waiting_for(reason: &str) -> Vec<(DateTime<Utc>, TicketEvent)> {
        let opened = event(json!({
            "event_type": "ticket.opened",
            "id": "00000000-0000-0000-0000-000000001111",
            "number": "2026-000123",
            "ticket_type": "incident",
            "title": "Kein Zugang zur E-Akte",
            "description": "Seit heute früh.",
            "requester": {"name": "Erika Mustermann"},
            "service_id": null, "category_id": null,
            "impact": "medium", "urgency": "medium", "priority": "medium",
            "queue": null, "tags": [], "fields": {}, "channel": "portal"
        }));
        let assigned = event(json!({
            "event_type": "ticket.assigned", "assignee": "k.meier",
            "queue": null, "previous_assignee": null
        }));
        let pending =
            event(json!({"event_type": "ticket.pending_set", "reason": reason, "until": null}));
        vec![(at(8), opened), (at(8), assigned), (at(9), pending)]
    }

    /// Given the events, when the requester writes at 12:00 (decided by the ticket), then the
    /// clocks after every event.
    fn after_requester_message(
        config: &RoundTheClock,
        given: Vec<(DateTime<Utc>, TicketEvent)>,
    ) -> TicketClocks {
        let policy = TicketPolicy::default();
        let ticket = Ticket::from_events(given.iter().map(|(_, event)| event));
        let message = TicketCommand::AddRequesterMessage {
            body: ArticleBody::parse("Jetzt geht es wieder.").unwrap(),
            channel: None,
            attachments: vec![],
        };
        let context = DecisionContext {
            now: at(12),
            policy: &policy,
        };
        let decided = decide(&ticket, message, &context).unwrap();
        let mut clocks = TicketClocks::default();
        let timed = given
            .into_iter()
            .chain(decided.into_iter().map(|e| (at(12), e)));
        for (instant, event) in timed {
            clocks.apply(&event, instant, config);
        }
        clocks
    }

    #[test]
    fn a_requester_message_resumes_the_clocks_paused_for_the_requester() {
        let config = RoundTheClock::pausing_for(&["waiting_for_requester"]);

        let clocks = after_requester_message(&config, waiting_for("waiting_for_requester"));

        assert!(!clocks.pending);
        for clock in &clocks.clocks {
            assert_eq!(clock.state, ClockState::Running, "{clock:#?}");
            let causes: Vec<&str> = clock.segments.iter().map(|s| s.cause.as_str()).collect();
            assert_eq!(
                causes,
                ["opened", "pending:waiting_for_requester", "resumed"]
            );
            // An hour before the pause, the three hours paused not counted, an hour after.
            assert_eq!(clock.elapsed_at(at(13), &config), 2 * 3_600);
        }
    }

    #[test]
    fn a_requester_message_leaves_the_clocks_paused_for_a_third_party() {
        let pauses = ["waiting_for_requester", "waiting_for_third_party"];
        let config = RoundTheClock::pausing_for(&pauses);

        let clocks = after_requester_message(&config, waiting_for("waiting_for_third_party"));

        assert!(clocks.pending);
        for clock in &clocks.clocks {
            assert_eq!(clock.state, ClockState::Paused, "{clock:#?}");
            assert_eq!(clock.elapsed_at(at(13), &config), 3_600);
        }
    }
}
