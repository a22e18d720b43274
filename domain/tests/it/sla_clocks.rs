//! SLA clocks (DESIGN §6): given a configuration of business calendars and SLA policies, when a
//! ticket's events happen at these instants, then these clocks — states, segments, elapsed
//! business seconds, due and warning instants, breaches — through the public API only.
//!
//! All local times are Europe/Berlin. The desk of the Landesamt is open Monday to Friday
//! 08:00–12:00 and 13:00–16:00 (7 hours a day), closed on Bavarian holidays and on 24 and 31
//! December; its data centre runs round the clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use domain::calendar::{BusinessCalendar, CalendarDefinition};
use domain::config::sla::SlaPolicyDefinition;
use domain::sla::{
    Clock, ClockState, ConfigurationChange, Metric, Segment, SlaConfiguration, TargetChange,
    TicketClocks, DEFAULT_POLICY,
};
use domain::ticket::{Priority, TicketEvent, TicketType};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

/// The desk's calendar: Munich office hours.
const CALENDAR: &str = "servicezeiten-muenchen";
/// The data centre's calendar: always open.
const ROUND_THE_CLOCK: &str = "rechenzentrum-24-7";
/// The usual policy (a reopen continues the resolution clock).
const POLICY: &str = "standard";
/// The same targets, but a reopen restarts the resolution clock.
const RESTART_POLICY: &str = "standard-neustart";
/// The data centre's policy.
const DATA_CENTRE_POLICY: &str = "rechenzentrum";
/// A service with the usual policy.
const SERVICE: &str = "fachverfahren-zugang";
/// A service whose policy restarts on reopen.
const RESTART_SERVICE: &str = "e-akte";
/// A service of the data centre.
const DATA_CENTRE_SERVICE: &str = "server-betrieb";
/// A service without a policy.
const SERVICE_WITHOUT_POLICY: &str = "drucker";

/// Monday 23 November 2026 and the days after it (no holidays until Christmas).
const MONDAY: (i32, u32, u32) = (2026, 11, 23);
const TUESDAY: (i32, u32, u32) = (2026, 11, 24);
const WEDNESDAY: (i32, u32, u32) = (2026, 11, 25);
const FRIDAY: (i32, u32, u32) = (2026, 11, 27);
const NEXT_MONDAY: (i32, u32, u32) = (2026, 11, 30);

// ----------------------------------------------------------------------------------------------
// The configuration

/// An in-memory configuration: services name their policy; a policy keeps its current version;
/// a calendar keeps every version (version n at index n − 1), so a segment counted in an old
/// version can still be read.
#[derive(Clone, Debug, Default)]
struct Configuration {
    services: BTreeMap<String, String>,
    policies: BTreeMap<String, (u64, SlaPolicyDefinition)>,
    calendars: BTreeMap<String, Vec<BusinessCalendar>>,
}

impl Configuration {
    /// Defines the next version of a calendar.
    fn define_calendar(&mut self, name: &str, definition: Value) {
        let definition: CalendarDefinition =
            serde_json::from_value(definition).expect("calendar definition");
        let calendar = BusinessCalendar::new(&definition).expect("valid calendar");
        self.calendars
            .entry(name.to_owned())
            .or_default()
            .push(calendar);
    }

    /// Defines the next version of a policy.
    fn define_policy(&mut self, name: &str, definition: Value) {
        let definition: SlaPolicyDefinition =
            serde_json::from_value(definition).expect("policy definition");
        definition.validate().expect("valid policy");
        assert!(
            self.calendars.contains_key(&definition.calendar),
            "{name} names an unknown calendar"
        );
        let version = self
            .policies
            .get(name)
            .map_or(1, |(version, _)| version + 1);
        self.policies.insert(name.to_owned(), (version, definition));
    }

    fn assign_policy(&mut self, service: &str, policy: &str) {
        self.services.insert(service.to_owned(), policy.to_owned());
    }
}

impl SlaConfiguration for Configuration {
    fn policy_of_service(&self, service: &str) -> Option<String> {
        self.services.get(service).cloned()
    }

    fn policy(&self, name: &str) -> Option<(u64, &SlaPolicyDefinition)> {
        self.policies
            .get(name)
            .map(|(version, definition)| (*version, definition))
    }

    fn calendar(&self, name: &str) -> Option<(u64, &BusinessCalendar)> {
        let versions = self.calendars.get(name)?;
        let version = u64::try_from(versions.len()).expect("few versions");
        versions.last().map(|calendar| (version, calendar))
    }

    fn calendar_at(&self, name: &str, version: u64) -> Option<&BusinessCalendar> {
        let index = usize::try_from(version.checked_sub(1)?).ok()?;
        self.calendars.get(name)?.get(index)
    }
}

fn office_hours(day: Value) -> Value {
    json!({
        "time_zone": "Europe/Berlin",
        "weekly_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day},
        "state": "BY",
        "closing_days": ["12-24", "12-31"]
    })
}

/// Mon–Fri 08:00–12:00 and 13:00–16:00, Bavarian holidays, closed 24 and 31 December.
fn munich() -> Value {
    office_hours(json!(["08:00-12:00", "13:00-16:00"]))
}

/// The longer hours of a later version: Mon–Fri 07:00–17:00 without a lunch break.
fn munich_longer() -> Value {
    office_hours(json!(["07:00-17:00"]))
}

fn round_the_clock() -> Value {
    let day = json!(["00:00-24:00"]);
    json!({
        "weekly_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}
    })
}

/// Rows per priority (minutes): critical 30/240, high 60/480, medium 120/1200, else 480/2400.
fn standard(on_reopen: &str) -> Value {
    json!({
        "title": "Standard-SLA Landesverwaltung",
        "calendar": CALENDAR,
        "targets": [
            {"priorities": ["critical"], "first_response_minutes": 30, "resolution_minutes": 240},
            {"priorities": ["high"], "first_response_minutes": 60, "resolution_minutes": 480},
            {"priorities": ["medium"], "first_response_minutes": 120, "resolution_minutes": 1200},
            {"first_response_minutes": 480, "resolution_minutes": 2400}
        ],
        "on_reopen": on_reopen
    })
}

/// Version 2 of the standard policy: tighter for critical and high, warnings at 50 and 80 %.
fn standard_version_2() -> Value {
    json!({
        "title": "Standard-SLA Landesverwaltung (2027)",
        "calendar": CALENDAR,
        "targets": [
            {"priorities": ["critical"], "first_response_minutes": 15, "resolution_minutes": 120},
            {"priorities": ["high"], "first_response_minutes": 90, "resolution_minutes": 360},
            {"priorities": ["medium"], "first_response_minutes": 120, "resolution_minutes": 1200},
            {"first_response_minutes": 600, "resolution_minutes": 3000}
        ],
        "warning_percent": [50, 80]
    })
}

fn data_centre() -> Value {
    json!({
        "title": "Rechenzentrum 24/7",
        "calendar": ROUND_THE_CLOCK,
        "targets": [{"first_response_minutes": 15, "resolution_minutes": 1440}]
    })
}

/// The Landesamt's configuration, without a `default` policy.
fn landesamt() -> Configuration {
    let mut config = Configuration::default();
    config.define_calendar(CALENDAR, munich());
    config.define_calendar(ROUND_THE_CLOCK, round_the_clock());
    config.define_policy(POLICY, standard("continue"));
    config.define_policy(RESTART_POLICY, standard("restart"));
    config.define_policy(DATA_CENTRE_POLICY, data_centre());
    config.assign_policy(SERVICE, POLICY);
    config.assign_policy(RESTART_SERVICE, RESTART_POLICY);
    config.assign_policy(DATA_CENTRE_SERVICE, DATA_CENTRE_POLICY);
    config
}

// ----------------------------------------------------------------------------------------------
// Events and instants

/// Local time in Berlin as an instant (the earlier one when the clocks go back).
fn berlin(date: (i32, u32, u32), hour: u32, minute: u32) -> DateTime<Utc> {
    Berlin
        .with_ymd_and_hms(date.0, date.1, date.2, hour, minute, 0)
        .earliest()
        .expect("a local time that exists")
        .with_timezone(&Utc)
}

fn event(json: Value) -> TicketEvent {
    serde_json::from_value(json).expect("a valid event")
}

fn opened_as(ticket_type: &str, service: Option<&str>, priority: &str) -> TicketEvent {
    event(json!({
        "event_type": "ticket.opened",
        "id": "00000000-0000-0000-0000-000000001111",
        "number": "2026-000123",
        "ticket_type": ticket_type,
        "title": "Kein Zugang zur E-Akte",
        "description": "Seit heute früh.",
        "requester": {"name": "Erika Mustermann", "email": "erika@example.org"},
        "service_id": service,
        "category_id": null,
        "impact": "medium",
        "urgency": "medium",
        "priority": priority,
        "queue": null,
        "tags": [],
        "fields": {},
        "channel": "portal"
    }))
}

/// An incident of [`SERVICE`].
fn opened(priority: &str) -> TicketEvent {
    opened_as("incident", Some(SERVICE), priority)
}

fn opened_for(service: Option<&str>, priority: &str) -> TicketEvent {
    opened_as("incident", service, priority)
}

fn assigned() -> TicketEvent {
    event(json!({
        "event_type": "ticket.assigned",
        "assignee": "k.meier",
        "queue": null,
        "previous_assignee": null
    }))
}

fn work_started() -> TicketEvent {
    event(json!({"event_type": "ticket.work_started", "from": "pending"}))
}

fn pending(reason: &str) -> TicketEvent {
    event(json!({"event_type": "ticket.pending_set", "reason": reason, "until": null}))
}

fn article(kind: &str) -> TicketEvent {
    event(json!({
        "event_type": "ticket.article_added",
        "article_id": 1,
        "kind": kind,
        "channel": "agent_ui",
        "body": "Wir kümmern uns darum.",
        "attachments": []
    }))
}

fn reply() -> TicketEvent {
    article("public_reply")
}

fn note() -> TicketEvent {
    article("internal_note")
}

fn requester_message() -> TicketEvent {
    article("requester_message")
}

fn resolved(at: DateTime<Utc>) -> TicketEvent {
    event(json!({
        "event_type": "ticket.resolved",
        "code": "fixed",
        "text": "Berechtigung neu gesetzt.",
        "resolved_at": at
    }))
}

fn reopened() -> TicketEvent {
    event(
        json!({"event_type": "ticket.reopened", "reason": "Geht wieder nicht.", "to": "assigned"}),
    )
}

fn cancelled() -> TicketEvent {
    event(json!({"event_type": "ticket.cancelled", "reason": "Hat sich erledigt."}))
}

fn merged() -> TicketEvent {
    event(json!({"event_type": "ticket.merged", "into": "00000000-0000-0000-0000-000000002222"}))
}

fn priority_changed(previous: &str, priority: &str) -> TicketEvent {
    event(json!({
        "event_type": "ticket.priority_changed",
        "impact": "high",
        "urgency": "high",
        "priority": priority,
        "previous": previous
    }))
}

// ----------------------------------------------------------------------------------------------
// Given / when / then

/// When these events happen (each at its instant, its `occurred_at`) on top of `clocks`.
fn apply(
    clocks: &mut TicketClocks,
    config: &Configuration,
    events: &[(DateTime<Utc>, TicketEvent)],
) {
    for (at, event) in events {
        clocks.apply(event, *at, config);
    }
}

/// Given `config`, when these events happen, then these clocks.
fn replay(config: &Configuration, events: &[(DateTime<Utc>, TicketEvent)]) -> TicketClocks {
    let mut clocks = TicketClocks::default();
    apply(&mut clocks, config, events);
    clocks
}

/// The one clock of `metric`.
#[track_caller]
fn clock(clocks: &TicketClocks, metric: Metric) -> &Clock {
    let found: Vec<&Clock> = clocks
        .clocks
        .iter()
        .filter(|clock| clock.metric == metric)
        .collect();
    assert_eq!(found.len(), 1, "one {} clock: {clocks:#?}", metric.name());
    found[0]
}

/// A running segment of [`CALENDAR`] version 1 (`to: None` while open).
fn running(
    from: DateTime<Utc>,
    to: impl Into<Option<DateTime<Utc>>>,
    cause: &str,
    business_seconds: i64,
) -> Segment {
    Segment {
        from,
        to: to.into(),
        running: true,
        cause: cause.to_owned(),
        calendar: CALENDAR.to_owned(),
        calendar_version: 1,
        business_seconds,
    }
}

/// A paused segment of [`CALENDAR`] version 1.
fn paused(from: DateTime<Utc>, to: impl Into<Option<DateTime<Utc>>>, cause: &str) -> Segment {
    Segment {
        running: false,
        ..running(from, to, cause, 0)
    }
}

/// The same segment counted in another calendar version.
fn in_version(segment: Segment, calendar_version: u64) -> Segment {
    Segment {
        calendar_version,
        ..segment
    }
}

/// The same segment in the data centre's calendar.
fn round_the_clock_segment(segment: Segment) -> Segment {
    Segment {
        calendar: ROUND_THE_CLOCK.to_owned(),
        ..segment
    }
}

/// Then the clock runs: due at `due_at`, warned at `warnings_at`.
#[track_caller]
fn assert_running(
    clock: &Clock,
    config: &Configuration,
    due_at: DateTime<Utc>,
    warnings_at: &[(u8, DateTime<Utc>)],
) {
    assert_eq!(clock.state, ClockState::Running, "{clock:#?}");
    assert_eq!(clock.stopped_at, None);
    assert_eq!(clock.due_at(config), Some(due_at), "due_at of {clock:#?}");
    assert_eq!(
        clock.warnings_at(config),
        warnings_at,
        "warnings_at of {clock:#?}"
    );
}

/// Then the clock is in `state` (not running): no due time, no warnings.
#[track_caller]
fn assert_not_running(clock: &Clock, config: &Configuration, state: ClockState) {
    assert_eq!(clock.state, state, "{clock:#?}");
    assert_eq!(clock.due_at(config), None);
    assert_eq!(clock.warnings_at(config), []);
}

/// Then the clock stopped (met or stopped) at `at` with `elapsed_seconds` used.
#[track_caller]
fn assert_finished(
    clock: &Clock,
    config: &Configuration,
    state: ClockState,
    at: DateTime<Utc>,
    elapsed_seconds: i64,
) {
    assert_not_running(clock, config, state);
    assert_eq!(clock.stopped_at, Some(at), "{clock:#?}");
    assert_eq!(clock.elapsed_seconds, elapsed_seconds, "{clock:#?}");
    // Later readings do not change what was used.
    let much_later = at + Duration::days(400);
    assert_eq!(clock.elapsed_at(much_later, config), elapsed_seconds);
}

const HOUR_S: i64 = 3_600;
const MINUTE_S: i64 = 60;

// ----------------------------------------------------------------------------------------------
// Opening

#[test]
fn opened_on_a_monday_morning_both_clocks_run_and_are_due_after_lunch_evening_and_weekend() {
    let config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);

    let clocks = replay(&config, &[(opened_at, opened("low"))]);

    assert_eq!(clocks.ticket_type, Some(TicketType::Incident));
    assert_eq!(clocks.priority, Some(Priority::Low));
    assert!(!clocks.pending);
    assert_eq!(clocks.clocks.len(), 2);
    // The catch-all row: 480 minutes to first response, 2400 to resolution.
    let first_response = clock(&clocks, Metric::FirstResponse);
    assert_eq!(
        (
            first_response.policy.as_str(),
            first_response.policy_version,
            first_response.target_minutes,
            first_response.warning_percent.as_slice()
        ),
        (POLICY, 1, 480, [75, 90].as_slice())
    );
    assert_eq!(
        first_response.segments,
        [running(opened_at, None, "opened", 0)]
    );
    assert_eq!(first_response.elapsed_seconds, 0);
    assert!(first_response.target_changes.is_empty());
    // Monday 09–12 and 13–16 are 6 hours, the 7th and 8th Tuesday 08–10 (not Monday 16–18).
    assert_running(
        first_response,
        &config,
        berlin(TUESDAY, 10, 0),
        &[(75, berlin(MONDAY, 16, 0)), (90, berlin(TUESDAY, 9, 12))],
    );
    assert_eq!(
        first_response.elapsed_at(berlin(MONDAY, 12, 30), &config),
        3 * HOUR_S
    );
    assert_eq!(
        first_response.elapsed_at(berlin(TUESDAY, 7, 0), &config),
        6 * HOUR_S
    );

    // 40 hours: Monday to Friday give 34 (6 + 4 × 7), the weekend none, Monday 30th the last 6.
    let resolution = clock(&clocks, Metric::Resolution);
    assert_eq!(
        (resolution.target_minutes, resolution.elapsed_seconds),
        (2400, 0)
    );
    assert_eq!(resolution.segments, [running(opened_at, None, "opened", 0)]);
    assert_running(
        resolution,
        &config,
        berlin(NEXT_MONDAY, 15, 0),
        &[
            (75, berlin(FRIDAY, 11, 0)),
            (90, berlin(NEXT_MONDAY, 10, 0)),
        ],
    );
    assert_eq!(
        resolution.elapsed_at(berlin(NEXT_MONDAY, 8, 0), &config),
        34 * HOUR_S
    );
}

#[test]
fn opened_on_a_sunday_evening_the_targets_count_from_monday_morning() {
    let config = landesamt();
    let opened_at = berlin((2026, 11, 22), 20, 0);

    let clocks = replay(&config, &[(opened_at, opened("high"))]);

    let first_response = clock(&clocks, Metric::FirstResponse);
    // The segment begins when the ticket was opened; the desk's hours decide what counts.
    assert_eq!(
        first_response.segments,
        [running(opened_at, None, "opened", 0)]
    );
    assert_running(
        first_response,
        &config,
        berlin(MONDAY, 9, 0),
        &[(75, berlin(MONDAY, 8, 45)), (90, berlin(MONDAY, 8, 54))],
    );
    assert_eq!(first_response.elapsed_at(berlin(MONDAY, 8, 0), &config), 0);
    assert_eq!(
        first_response.elapsed_at(berlin(MONDAY, 8, 30), &config),
        30 * MINUTE_S
    );
    // 8 hours from Monday 08:00: Monday 08–12 and 13–16, Tuesday 08–09.
    assert_running(
        clock(&clocks, Metric::Resolution),
        &config,
        berlin(TUESDAY, 9, 0),
        &[(75, berlin(MONDAY, 15, 0)), (90, berlin(TUESDAY, 8, 12))],
    );
}

#[test]
fn opened_at_six_in_the_morning_the_targets_count_from_eight() {
    let config = landesamt();

    let clocks = replay(&config, &[(berlin(MONDAY, 6, 0), opened("critical"))]);

    // 30 minutes: 75 % is 22.5 minutes, 90 % is 27.
    assert_running(
        clock(&clocks, Metric::FirstResponse),
        &config,
        berlin(MONDAY, 8, 30),
        &[
            (75, berlin(MONDAY, 8, 22) + Duration::seconds(30)),
            (90, berlin(MONDAY, 8, 27)),
        ],
    );
    // 4 hours: 75 % is 3 hours, 90 % is 3 h 36 min.
    assert_running(
        clock(&clocks, Metric::Resolution),
        &config,
        berlin(MONDAY, 12, 0),
        &[(75, berlin(MONDAY, 11, 0)), (90, berlin(MONDAY, 11, 36))],
    );
}

// ----------------------------------------------------------------------------------------------
// Met

#[test]
fn the_first_public_reply_meets_first_response_and_resolving_meets_resolution() {
    let config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let mut clocks = replay(
        &config,
        &[
            (opened_at, opened("high")),
            (berlin(MONDAY, 9, 20), note()),
            (berlin(MONDAY, 9, 25), requester_message()),
        ],
    );
    // Neither an internal note nor the requester's message is a response.
    assert_running(
        clock(&clocks, Metric::FirstResponse),
        &config,
        berlin(MONDAY, 10, 0),
        &[(75, berlin(MONDAY, 9, 45)), (90, berlin(MONDAY, 9, 54))],
    );

    let replied_at = berlin(MONDAY, 9, 40);
    apply(&mut clocks, &config, &[(replied_at, reply())]);

    let first_response = clock(&clocks, Metric::FirstResponse).clone();
    assert_finished(
        &first_response,
        &config,
        ClockState::Met,
        replied_at,
        40 * MINUTE_S,
    );
    assert_eq!(
        first_response.segments,
        [running(opened_at, replied_at, "opened", 40 * MINUTE_S)]
    );
    assert!(!first_response.breached_at(berlin(WEDNESDAY, 9, 0), &config));
    assert_running(
        clock(&clocks, Metric::Resolution),
        &config,
        berlin(TUESDAY, 10, 0),
        &[(75, berlin(MONDAY, 16, 0)), (90, berlin(TUESDAY, 9, 12))],
    );

    // A second reply changes nothing; resolving on Tuesday 09:00 meets resolution after 7 hours.
    let resolved_at = berlin(TUESDAY, 9, 0);
    apply(
        &mut clocks,
        &config,
        &[
            (berlin(MONDAY, 10, 30), reply()),
            (resolved_at, resolved(resolved_at)),
        ],
    );

    assert_eq!(clock(&clocks, Metric::FirstResponse), &first_response);
    let resolution = clock(&clocks, Metric::Resolution);
    assert_finished(
        resolution,
        &config,
        ClockState::Met,
        resolved_at,
        7 * HOUR_S,
    );
    assert_eq!(
        resolution.segments,
        [running(opened_at, resolved_at, "opened", 7 * HOUR_S)]
    );
    assert!(!resolution.breached_at(berlin(WEDNESDAY, 9, 0), &config));
}

#[test]
fn resolving_without_a_reply_meets_first_response_too() {
    let config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let resolved_at = berlin(MONDAY, 11, 15);

    let clocks = replay(
        &config,
        &[
            (opened_at, opened("high")),
            (resolved_at, resolved(resolved_at)),
        ],
    );

    for metric in [Metric::FirstResponse, Metric::Resolution] {
        let clock = clock(&clocks, metric);
        assert_finished(clock, &config, ClockState::Met, resolved_at, 135 * MINUTE_S);
        assert_eq!(
            clock.segments,
            [running(opened_at, resolved_at, "opened", 135 * MINUTE_S)]
        );
    }
    // 135 minutes against 60 for a first response; against 480 for resolution.
    let later = berlin(WEDNESDAY, 9, 0);
    assert!(clock(&clocks, Metric::FirstResponse).breached_at(later, &config));
    assert!(!clock(&clocks, Metric::Resolution).breached_at(later, &config));
}

// ----------------------------------------------------------------------------------------------
// Pending

#[test]
fn waiting_for_the_requester_pauses_both_clocks_and_starting_work_resumes_them() {
    let config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let paused_at = berlin(MONDAY, 9, 30);
    let mut clocks = replay(
        &config,
        &[
            (opened_at, opened("high")),
            (berlin(MONDAY, 9, 5), assigned()),
            (paused_at, pending("waiting_for_requester")),
        ],
    );

    assert!(clocks.pending);
    for metric in [Metric::FirstResponse, Metric::Resolution] {
        let clock = clock(&clocks, metric);
        assert_not_running(clock, &config, ClockState::Paused);
        assert_eq!(clock.stopped_at, None);
        // Assigning a running clock is no boundary; pausing is.
        assert_eq!(
            clock.segments,
            [
                running(opened_at, paused_at, "opened", 30 * MINUTE_S),
                paused(paused_at, None, "pending:waiting_for_requester"),
            ]
        );
        assert_eq!(clock.elapsed_seconds, 30 * MINUTE_S);
        assert_eq!(
            clock.elapsed_at(berlin(MONDAY, 15, 0), &config),
            30 * MINUTE_S
        );
        assert!(!clock.breached_at(berlin(WEDNESDAY, 9, 0), &config));
    }

    let resumed_at = berlin(MONDAY, 14, 0);
    apply(&mut clocks, &config, &[(resumed_at, work_started())]);

    assert!(!clocks.pending);
    for metric in [Metric::FirstResponse, Metric::Resolution] {
        assert_eq!(
            clock(&clocks, metric).segments,
            [
                running(opened_at, paused_at, "opened", 30 * MINUTE_S),
                paused(paused_at, resumed_at, "pending:waiting_for_requester"),
                running(resumed_at, None, "resumed", 0),
            ]
        );
    }
    // 30 of 60 minutes left: 14:30. 450 of 480 minutes left: Monday 14–16, Tuesday 08–12 and
    // 13:00–14:30.
    assert_running(
        clock(&clocks, Metric::FirstResponse),
        &config,
        berlin(MONDAY, 14, 30),
        &[(75, berlin(MONDAY, 14, 15)), (90, berlin(MONDAY, 14, 24))],
    );
    assert_running(
        clock(&clocks, Metric::Resolution),
        &config,
        berlin(TUESDAY, 14, 30),
        &[(75, berlin(TUESDAY, 11, 30)), (90, berlin(TUESDAY, 13, 42))],
    );
}

#[test]
fn waiting_for_a_third_party_does_not_pause_with_the_default_pause_reasons() {
    let config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);

    let clocks = replay(
        &config,
        &[
            (opened_at, opened("high")),
            (berlin(MONDAY, 9, 5), assigned()),
            (berlin(MONDAY, 9, 30), pending("waiting_for_third_party")),
        ],
    );

    assert!(clocks.pending);
    for metric in [Metric::FirstResponse, Metric::Resolution] {
        let clock = clock(&clocks, metric);
        assert_eq!(clock.segments, [running(opened_at, None, "opened", 0)]);
        assert_eq!(clock.elapsed_at(berlin(MONDAY, 10, 0), &config), HOUR_S);
    }
    assert_running(
        clock(&clocks, Metric::FirstResponse),
        &config,
        berlin(MONDAY, 10, 0),
        &[(75, berlin(MONDAY, 9, 45)), (90, berlin(MONDAY, 9, 54))],
    );
    assert_running(
        clock(&clocks, Metric::Resolution),
        &config,
        berlin(TUESDAY, 10, 0),
        &[(75, berlin(MONDAY, 16, 0)), (90, berlin(TUESDAY, 9, 12))],
    );
}

#[test]
fn assigning_a_waiting_ticket_resumes_its_clocks() {
    let config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let paused_at = berlin(MONDAY, 9, 45);
    let resumed_at = berlin(MONDAY, 11, 0);

    let clocks = replay(
        &config,
        &[
            (opened_at, opened("high")),
            (berlin(MONDAY, 9, 5), assigned()),
            (paused_at, pending("waiting_for_requester")),
            (resumed_at, assigned()),
        ],
    );

    assert!(!clocks.pending);
    for metric in [Metric::FirstResponse, Metric::Resolution] {
        let clock = clock(&clocks, metric);
        assert_eq!(
            clock.segments,
            [
                running(opened_at, paused_at, "opened", 45 * MINUTE_S),
                paused(paused_at, resumed_at, "pending:waiting_for_requester"),
                running(resumed_at, None, "resumed", 0),
            ]
        );
        assert_eq!(clock.elapsed_seconds, 45 * MINUTE_S);
    }
    // 15 minutes left; 435 minutes left: Monday 11–12 and 13–16, Tuesday 08:00–11:15.
    assert_running(
        clock(&clocks, Metric::FirstResponse),
        &config,
        berlin(MONDAY, 11, 15),
        &[(75, berlin(MONDAY, 11, 0)), (90, berlin(MONDAY, 11, 9))],
    );
    assert_running(
        clock(&clocks, Metric::Resolution),
        &config,
        berlin(TUESDAY, 11, 15),
        &[(75, berlin(TUESDAY, 9, 15)), (90, berlin(TUESDAY, 10, 27))],
    );
}

#[test]
fn a_pause_from_friday_afternoon_to_monday_morning_adds_nothing() {
    let config = landesamt();
    let opened_at = berlin(FRIDAY, 9, 0);
    let paused_at = berlin(FRIDAY, 15, 0);
    let resumed_at = berlin(NEXT_MONDAY, 10, 0);

    let clocks = replay(
        &config,
        &[
            (opened_at, opened("low")),
            (berlin(FRIDAY, 9, 5), assigned()),
            (paused_at, pending("waiting_for_requester")),
            (resumed_at, work_started()),
        ],
    );

    for metric in [Metric::FirstResponse, Metric::Resolution] {
        let clock = clock(&clocks, metric);
        // Friday 09–12 and 13–15; nothing for Friday 15–16 and Monday 08–10.
        assert_eq!(clock.elapsed_seconds, 5 * HOUR_S);
        assert_eq!(
            clock.segments,
            [
                running(opened_at, paused_at, "opened", 5 * HOUR_S),
                paused(paused_at, resumed_at, "pending:waiting_for_requester"),
                running(resumed_at, None, "resumed", 0),
            ]
        );
        assert_eq!(clock.elapsed_at(resumed_at, &config), 5 * HOUR_S);
        assert_eq!(
            clock.elapsed_at(berlin(NEXT_MONDAY, 11, 0), &config),
            6 * HOUR_S
        );
    }
    // 3 of 8 hours left: Monday 10–12 and 13–14 (without the pause: Monday 10:00).
    assert_running(
        clock(&clocks, Metric::FirstResponse),
        &config,
        berlin(NEXT_MONDAY, 14, 0),
        &[
            (75, berlin(NEXT_MONDAY, 11, 0)),
            (90, berlin(NEXT_MONDAY, 13, 12)),
        ],
    );
    // 35 of 40 hours left: Monday 30th 5, 1 to 4 December 28, Monday 7 December 08–10.
    assert_running(
        clock(&clocks, Metric::Resolution),
        &config,
        berlin((2026, 12, 7), 10, 0),
        &[
            (75, berlin((2026, 12, 3), 15, 0)),
            (90, berlin((2026, 12, 4), 14, 0)),
        ],
    );
}

// ----------------------------------------------------------------------------------------------
// Daylight saving time, midnight, holidays

#[test]
fn the_desk_counts_real_hours_across_the_change_to_summer_time() {
    let config = landesamt();
    let friday = (2026, 3, 27);
    let monday = (2026, 3, 30);
    let opened_at = berlin(friday, 15, 0);

    let mut clocks = replay(&config, &[(opened_at, opened("high"))]);

    assert_running(
        clock(&clocks, Metric::FirstResponse),
        &config,
        berlin(friday, 16, 0),
        &[(75, berlin(friday, 15, 45)), (90, berlin(friday, 15, 54))],
    );
    // Friday 15–16, Monday 08–12 and 13–16: due at 16:00 summer time, 14:00 UTC — 72 real
    // hours after 14:00 UTC on Friday, not 73.
    let resolution = clock(&clocks, Metric::Resolution);
    assert_eq!(
        resolution.due_at(&config),
        Some(Utc.with_ymd_and_hms(2026, 3, 30, 14, 0, 0).unwrap())
    );
    assert_running(
        resolution,
        &config,
        berlin(monday, 16, 0),
        &[(75, berlin(monday, 14, 0)), (90, berlin(monday, 15, 12))],
    );

    let resolved_at = berlin(monday, 11, 0);
    apply(
        &mut clocks,
        &config,
        &[(resolved_at, resolved(resolved_at))],
    );
    let resolution = clock(&clocks, Metric::Resolution);
    assert_finished(
        resolution,
        &config,
        ClockState::Met,
        resolved_at,
        4 * HOUR_S,
    );
    assert_eq!(
        resolution.segments,
        [running(opened_at, resolved_at, "opened", 4 * HOUR_S)]
    );
}

#[test]
fn the_desk_counts_real_hours_across_the_change_to_winter_time() {
    let config = landesamt();
    let friday = (2026, 10, 23);
    let monday = (2026, 10, 26);

    let clocks = replay(&config, &[(berlin(friday, 15, 30), opened("critical"))]);

    assert_running(
        clock(&clocks, Metric::FirstResponse),
        &config,
        berlin(friday, 16, 0),
        &[
            (75, berlin(friday, 15, 52) + Duration::seconds(30)),
            (90, berlin(friday, 15, 57)),
        ],
    );
    // Friday 15:30–16:00, Monday 08:00–11:30 winter time (10:30 UTC).
    let resolution = clock(&clocks, Metric::Resolution);
    assert_eq!(
        resolution.due_at(&config),
        Some(Utc.with_ymd_and_hms(2026, 10, 26, 10, 30, 0).unwrap())
    );
    assert_running(
        resolution,
        &config,
        berlin(monday, 11, 30),
        &[(75, berlin(monday, 10, 30)), (90, berlin(monday, 11, 6))],
    );
}

#[test]
fn round_the_clock_a_day_is_23_hours_in_spring_and_25_in_autumn() {
    let config = landesamt();
    let opened_at = berlin((2026, 3, 28), 12, 0);
    let mut clocks = replay(
        &config,
        &[(opened_at, opened_for(Some(DATA_CENTRE_SERVICE), "high"))],
    );

    let resolution = clock(&clocks, Metric::Resolution);
    assert_eq!(
        (resolution.policy.as_str(), resolution.target_minutes),
        (DATA_CENTRE_POLICY, 1440)
    );
    // 24 hours across midnight and the lost hour: Sunday 13:00 summer time.
    assert_running(
        resolution,
        &config,
        berlin((2026, 3, 29), 13, 0),
        &[
            (75, berlin((2026, 3, 29), 7, 0)),
            (90, berlin((2026, 3, 29), 10, 36)),
        ],
    );
    assert_eq!(
        resolution.elapsed_at(berlin((2026, 3, 29), 1, 0), &config),
        13 * HOUR_S
    );

    // Resolved at noon on Sunday: 24 hours on the wall clock, 23 real hours used.
    let resolved_at = berlin((2026, 3, 29), 12, 0);
    apply(
        &mut clocks,
        &config,
        &[(resolved_at, resolved(resolved_at))],
    );
    let resolution = clock(&clocks, Metric::Resolution);
    assert_finished(
        resolution,
        &config,
        ClockState::Met,
        resolved_at,
        23 * HOUR_S,
    );
    assert_eq!(
        resolution.segments,
        [round_the_clock_segment(running(
            opened_at,
            resolved_at,
            "opened",
            23 * HOUR_S
        ))]
    );
    assert!(!resolution.breached_at(resolved_at, &config));

    // In autumn 24 hours end at 11:00 winter time on Sunday.
    let clocks = replay(
        &config,
        &[(
            berlin((2026, 10, 24), 12, 0),
            opened_for(Some(DATA_CENTRE_SERVICE), "high"),
        )],
    );
    assert_eq!(
        clock(&clocks, Metric::Resolution).due_at(&config),
        Some(berlin((2026, 10, 25), 11, 0))
    );
}

#[test]
fn fronleichnam_is_skipped_in_bavaria() {
    let config = landesamt();
    // Wednesday 3 June 2026; Thursday 4 June is Fronleichnam.
    let wednesday = (2026, 6, 3);
    let friday = (2026, 6, 5);

    let clocks = replay(&config, &[(berlin(wednesday, 14, 30), opened("high"))]);

    assert_running(
        clock(&clocks, Metric::FirstResponse),
        &config,
        berlin(wednesday, 15, 30),
        &[
            (75, berlin(wednesday, 15, 15)),
            (90, berlin(wednesday, 15, 24)),
        ],
    );
    // Wednesday 1.5 hours, Thursday none, Friday 08–12 and 13:00–15:30.
    let resolution = clock(&clocks, Metric::Resolution);
    assert_running(
        resolution,
        &config,
        berlin(friday, 15, 30),
        &[(75, berlin(friday, 13, 30)), (90, berlin(friday, 14, 42))],
    );
    assert_eq!(
        resolution.elapsed_at(berlin(friday, 8, 0), &config),
        90 * MINUTE_S
    );
}

#[test]
fn christmas_and_new_year_are_skipped() {
    let config = landesamt();
    // Wednesday 23 December; 24 and 31 December are closing days, 25 and 26 December and
    // 1 January holidays.
    let clocks = replay(&config, &[(berlin((2026, 12, 23), 15, 30), opened("high"))]);
    assert_running(
        clock(&clocks, Metric::FirstResponse),
        &config,
        berlin((2026, 12, 28), 8, 30),
        &[
            (75, berlin((2026, 12, 28), 8, 15)),
            (90, berlin((2026, 12, 28), 8, 24)),
        ],
    );
    assert_running(
        clock(&clocks, Metric::Resolution),
        &config,
        berlin((2026, 12, 29), 8, 30),
        &[
            (75, berlin((2026, 12, 28), 14, 30)),
            (90, berlin((2026, 12, 28), 15, 42)),
        ],
    );

    // Wednesday 30 December 14:00, critical: 2 hours that day, the other 2 on Monday 4 January.
    let clocks = replay(
        &config,
        &[(berlin((2026, 12, 30), 14, 0), opened("critical"))],
    );
    assert_running(
        clock(&clocks, Metric::Resolution),
        &config,
        berlin((2027, 1, 4), 10, 0),
        &[
            (75, berlin((2027, 1, 4), 9, 0)),
            (90, berlin((2027, 1, 4), 9, 36)),
        ],
    );
}

// ----------------------------------------------------------------------------------------------
// Reopen, cancel, merge

/// Opened Monday 09:00 (high), replied 09:30, resolved 11:00, reopened Tuesday 09:00.
fn resolved_and_reopened(service: &str) -> Vec<(DateTime<Utc>, TicketEvent)> {
    let resolved_at = berlin(MONDAY, 11, 0);
    vec![
        (berlin(MONDAY, 9, 0), opened_for(Some(service), "high")),
        (berlin(MONDAY, 9, 5), assigned()),
        (berlin(MONDAY, 9, 30), reply()),
        (resolved_at, resolved(resolved_at)),
        (berlin(TUESDAY, 9, 0), reopened()),
    ]
}

#[track_caller]
fn assert_first_response_stays_met(clocks: &TicketClocks, config: &Configuration) {
    let first_response = clock(clocks, Metric::FirstResponse);
    assert_finished(
        first_response,
        config,
        ClockState::Met,
        berlin(MONDAY, 9, 30),
        30 * MINUTE_S,
    );
    assert_eq!(
        first_response.segments,
        [running(
            berlin(MONDAY, 9, 0),
            berlin(MONDAY, 9, 30),
            "opened",
            30 * MINUTE_S
        )]
    );
}

#[test]
fn a_reopen_continues_the_resolution_clock_with_the_time_already_used() {
    let config = landesamt();

    let clocks = replay(&config, &resolved_and_reopened(SERVICE));

    let resolution = clock(&clocks, Metric::Resolution);
    assert_eq!(resolution.elapsed_seconds, 2 * HOUR_S);
    assert_eq!(
        resolution.segments,
        [
            running(
                berlin(MONDAY, 9, 0),
                berlin(MONDAY, 11, 0),
                "opened",
                2 * HOUR_S
            ),
            running(berlin(TUESDAY, 9, 0), None, "reopened", 0),
        ]
    );
    // 6 of 8 hours left: Tuesday 09–12 and 13–16.
    assert_running(
        resolution,
        &config,
        berlin(TUESDAY, 16, 0),
        &[(75, berlin(TUESDAY, 14, 0)), (90, berlin(TUESDAY, 15, 12))],
    );
    assert_eq!(
        resolution.elapsed_at(berlin(TUESDAY, 10, 0), &config),
        3 * HOUR_S
    );
    assert_first_response_stays_met(&clocks, &config);
}

#[test]
fn a_reopen_restarts_the_resolution_clock_when_the_policy_says_so() {
    let config = landesamt();

    let clocks = replay(&config, &resolved_and_reopened(RESTART_SERVICE));

    let resolution = clock(&clocks, Metric::Resolution);
    assert_eq!(resolution.policy, RESTART_POLICY);
    assert_eq!(resolution.elapsed_seconds, 0);
    // The closed segment stays in the history; it no longer counts.
    assert_eq!(
        resolution.segments,
        [
            running(
                berlin(MONDAY, 9, 0),
                berlin(MONDAY, 11, 0),
                "opened",
                2 * HOUR_S
            ),
            running(berlin(TUESDAY, 9, 0), None, "reopened:restart", 0),
        ]
    );
    // 8 hours from Tuesday 09:00: Tuesday 6, Wednesday 08–10.
    assert_running(
        resolution,
        &config,
        berlin(WEDNESDAY, 10, 0),
        &[(75, berlin(TUESDAY, 16, 0)), (90, berlin(WEDNESDAY, 9, 12))],
    );
    assert_eq!(
        resolution.elapsed_at(berlin(TUESDAY, 10, 0), &config),
        HOUR_S
    );
    assert_first_response_stays_met(&clocks, &config);
}

#[test]
fn cancelling_stops_both_live_clocks_even_while_paused() {
    let config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let cancelled_at = berlin(MONDAY, 10, 30);

    let clocks = replay(
        &config,
        &[(opened_at, opened("high")), (cancelled_at, cancelled())],
    );

    for metric in [Metric::FirstResponse, Metric::Resolution] {
        let clock = clock(&clocks, metric);
        assert_finished(
            clock,
            &config,
            ClockState::Stopped,
            cancelled_at,
            90 * MINUTE_S,
        );
        assert_eq!(
            clock.segments,
            [running(opened_at, cancelled_at, "opened", 90 * MINUTE_S)]
        );
    }
    // Stopped late still counts as breached: 90 of 60 minutes.
    assert!(clock(&clocks, Metric::FirstResponse).breached_at(cancelled_at, &config));
    assert!(!clock(&clocks, Metric::Resolution).breached_at(cancelled_at, &config));

    let paused_at = berlin(MONDAY, 9, 30);
    let clocks = replay(
        &config,
        &[
            (opened_at, opened("high")),
            (berlin(MONDAY, 9, 5), assigned()),
            (paused_at, pending("waiting_for_requester")),
            (cancelled_at, cancelled()),
        ],
    );
    for metric in [Metric::FirstResponse, Metric::Resolution] {
        let clock = clock(&clocks, metric);
        assert_finished(
            clock,
            &config,
            ClockState::Stopped,
            cancelled_at,
            30 * MINUTE_S,
        );
        assert_eq!(
            clock.segments,
            [
                running(opened_at, paused_at, "opened", 30 * MINUTE_S),
                paused(paused_at, cancelled_at, "pending:waiting_for_requester"),
            ]
        );
    }
}

#[test]
fn merging_stops_the_live_clock_and_leaves_a_met_one_met() {
    let config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let replied_at = berlin(MONDAY, 9, 10);
    let merged_at = berlin(MONDAY, 9, 45);

    let clocks = replay(
        &config,
        &[
            (opened_at, opened("high")),
            (replied_at, reply()),
            (merged_at, merged()),
        ],
    );

    let first_response = clock(&clocks, Metric::FirstResponse);
    assert_finished(
        first_response,
        &config,
        ClockState::Met,
        replied_at,
        10 * MINUTE_S,
    );
    let resolution = clock(&clocks, Metric::Resolution);
    assert_finished(
        resolution,
        &config,
        ClockState::Stopped,
        merged_at,
        45 * MINUTE_S,
    );
    assert_eq!(
        resolution.segments,
        [running(opened_at, merged_at, "opened", 45 * MINUTE_S)]
    );
}

// ----------------------------------------------------------------------------------------------
// Priority and calendar changes

#[test]
fn a_priority_change_selects_the_row_of_the_current_policy_version_and_keeps_elapsed_time() {
    let mut config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let mut clocks = replay(&config, &[(opened_at, opened("medium"))]);
    assert_eq!(
        clocks
            .clocks
            .iter()
            .map(|clock| (clock.policy_version, clock.target_minutes))
            .collect::<Vec<_>>(),
        [(1, 120), (1, 1200)]
    );

    // Version 2 (high: 90 / 360, not version 1's 60 / 480) before the change at 10:00.
    config.define_policy(POLICY, standard_version_2());
    let changed_at = berlin(MONDAY, 10, 0);
    apply(
        &mut clocks,
        &config,
        &[(changed_at, priority_changed("medium", "high"))],
    );

    assert_eq!(clocks.priority, Some(Priority::High));
    for (metric, from_minutes, to_minutes) in [
        (Metric::FirstResponse, 120, 90),
        (Metric::Resolution, 1200, 360),
    ] {
        let clock = clock(&clocks, metric);
        assert_eq!(
            (
                clock.policy_version,
                clock.target_minutes,
                clock.elapsed_seconds
            ),
            (2, to_minutes, HOUR_S)
        );
        assert_eq!(clock.warning_percent, [50, 80]);
        assert_eq!(
            clock.target_changes,
            [TargetChange {
                at: changed_at,
                policy_version: 2,
                from_minutes,
                to_minutes,
                cause: "priority_changed".to_owned(),
            }]
        );
        assert_eq!(
            clock.segments,
            [
                running(opened_at, changed_at, "opened", HOUR_S),
                running(changed_at, None, "priority_changed", 0),
            ]
        );
    }
    // 30 of 90 minutes left. The 50 % mark (45 minutes) was passed before this segment began:
    // it reads as the segment's start.
    assert_running(
        clock(&clocks, Metric::FirstResponse),
        &config,
        berlin(MONDAY, 10, 30),
        &[(50, changed_at), (80, berlin(MONDAY, 10, 12))],
    );
    // 5 of 6 hours left: Monday 10–12 and 13–16.
    assert_running(
        clock(&clocks, Metric::Resolution),
        &config,
        berlin(MONDAY, 16, 0),
        &[(50, berlin(MONDAY, 12, 0)), (80, berlin(MONDAY, 14, 48))],
    );
}

#[test]
fn a_priority_change_within_the_same_row_changes_nothing() {
    let config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let events = [(opened_at, opened("low"))];
    let before = replay(&config, &events);
    let mut after = before.clone();

    apply(
        &mut after,
        &config,
        &[(berlin(MONDAY, 10, 0), priority_changed("low", "very_low"))],
    );

    // Low and very low share the catch-all row of the same policy version.
    assert_eq!(after.priority, Some(Priority::VeryLow));
    assert_eq!(after.clocks, before.clocks);
}

#[test]
fn a_priority_change_while_waiting_keeps_the_clocks_paused() {
    let config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let paused_at = berlin(MONDAY, 9, 30);
    let changed_at = berlin(MONDAY, 10, 0);

    let clocks = replay(
        &config,
        &[
            (opened_at, opened("high")),
            (berlin(MONDAY, 9, 5), assigned()),
            (paused_at, pending("waiting_for_requester")),
            (changed_at, priority_changed("high", "critical")),
        ],
    );

    let first_response = clock(&clocks, Metric::FirstResponse);
    assert_not_running(first_response, &config, ClockState::Paused);
    assert_eq!(first_response.target_minutes, 30);
    assert_eq!(
        first_response.target_changes,
        [TargetChange {
            at: changed_at,
            policy_version: 1,
            from_minutes: 60,
            to_minutes: 30,
            cause: "priority_changed".to_owned(),
        }]
    );
    assert_eq!(
        first_response.segments,
        [
            running(opened_at, paused_at, "opened", 30 * MINUTE_S),
            paused(paused_at, changed_at, "pending:waiting_for_requester"),
            // A paused stretch keeps its reason; the target change is recorded above.
            paused(changed_at, None, "pending:waiting_for_requester"),
        ]
    );
    // 30 of 30 minutes used: at the target, not beyond it.
    assert!(!first_response.breached_at(berlin(WEDNESDAY, 9, 0), &config));
}

#[test]
fn a_new_calendar_version_applies_from_the_next_segment_only() {
    let mut config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let mut clocks = replay(&config, &[(opened_at, opened("high"))]);

    // Version 2 (07:00–17:00, no lunch break) after the opening; the open segment keeps 1.
    config.define_calendar(CALENDAR, munich_longer());
    apply(&mut clocks, &config, &[(berlin(MONDAY, 9, 5), assigned())]);
    let resolution = clock(&clocks, Metric::Resolution);
    assert_eq!(resolution.segments, [running(opened_at, None, "opened", 0)]);
    assert_eq!(
        resolution.elapsed_at(berlin(MONDAY, 12, 30), &config),
        3 * HOUR_S
    );
    assert_eq!(resolution.due_at(&config), Some(berlin(TUESDAY, 10, 0)));

    let paused_at = berlin(MONDAY, 12, 30);
    let resumed_at = berlin(MONDAY, 13, 0);
    apply(
        &mut clocks,
        &config,
        &[
            (paused_at, pending("waiting_for_requester")),
            (resumed_at, work_started()),
        ],
    );

    let resolution = clock(&clocks, Metric::Resolution);
    // The closed segment was counted in version 1 (09–12: 3 hours, not version 2's 3.5).
    assert_eq!(resolution.elapsed_seconds, 3 * HOUR_S);
    assert_eq!(
        resolution.segments,
        [
            running(opened_at, paused_at, "opened", 3 * HOUR_S),
            in_version(
                paused(paused_at, resumed_at, "pending:waiting_for_requester"),
                2
            ),
            in_version(running(resumed_at, None, "resumed", 0), 2),
        ]
    );
    // 5 of 8 hours left in version 2: Monday 13–17, Tuesday 07–08 (version 1: Tuesday 10:00).
    assert_running(
        resolution,
        &config,
        berlin(TUESDAY, 8, 0),
        &[(75, berlin(MONDAY, 16, 0)), (90, berlin(TUESDAY, 7, 12))],
    );
    assert_eq!(
        resolution.elapsed_at(berlin(MONDAY, 17, 0), &config),
        7 * HOUR_S
    );
}

#[test]
fn a_status_change_without_a_pause_does_not_start_a_segment() {
    let mut config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let mut clocks = replay(&config, &[(opened_at, opened("high"))]);
    config.define_calendar(CALENDAR, munich_longer());

    apply(
        &mut clocks,
        &config,
        &[
            (berlin(MONDAY, 10, 0), assigned()),
            (berlin(MONDAY, 10, 30), work_started()),
        ],
    );

    // As documented in `domain::sla`: new → assigned → in progress is no segment boundary for a
    // running clock, so the segment and the due time stay in version 1 until the next pause,
    // resume, reopen or priority change.
    let resolution = clock(&clocks, Metric::Resolution);
    assert_eq!(resolution.segments, [running(opened_at, None, "opened", 0)]);
    assert_eq!(resolution.due_at(&config), Some(berlin(TUESDAY, 10, 0)));
}

// ----------------------------------------------------------------------------------------------
// Breaches

#[test]
fn a_running_clock_is_breached_once_past_its_due_time() {
    let config = landesamt();
    let clocks = replay(&config, &[(berlin(MONDAY, 9, 0), opened("high"))]);
    let first_response = clock(&clocks, Metric::FirstResponse);
    let due_at = berlin(MONDAY, 10, 0);
    assert_eq!(first_response.due_at(&config), Some(due_at));

    assert!(!first_response.breached_at(due_at - Duration::seconds(1), &config));
    assert!(!first_response.breached_at(due_at, &config));
    assert!(first_response.breached_at(due_at + Duration::seconds(1), &config));
    assert!(!clock(&clocks, Metric::Resolution).breached_at(due_at + Duration::seconds(1), &config));
}

#[test]
fn met_late_is_breached_and_met_in_time_is_not() {
    let config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let replied = |at: DateTime<Utc>| {
        let clocks = replay(&config, &[(opened_at, opened("high")), (at, reply())]);
        clock(&clocks, Metric::FirstResponse).clone()
    };
    let later = berlin(WEDNESDAY, 9, 0);

    assert!(replied(berlin(MONDAY, 10, 30)).breached_at(later, &config));
    assert!(replied(berlin(MONDAY, 10, 0) + Duration::seconds(1)).breached_at(later, &config));
    assert!(!replied(berlin(MONDAY, 10, 0)).breached_at(later, &config));
    assert!(!replied(berlin(MONDAY, 9, 59)).breached_at(later, &config));
}

#[test]
fn paused_with_more_than_the_target_used_is_breached() {
    let config = landesamt();
    let clocks = replay(
        &config,
        &[
            (berlin(MONDAY, 9, 0), opened("high")),
            (berlin(MONDAY, 9, 5), assigned()),
            (berlin(MONDAY, 10, 30), pending("waiting_for_requester")),
        ],
    );
    let later = berlin(WEDNESDAY, 9, 0);

    let first_response = clock(&clocks, Metric::FirstResponse);
    assert_eq!(first_response.state, ClockState::Paused);
    assert!(first_response.breached_at(later, &config));
    let resolution = clock(&clocks, Metric::Resolution);
    assert_eq!(resolution.state, ClockState::Paused);
    assert!(!resolution.breached_at(later, &config));
}

#[test]
fn a_priority_change_to_a_target_already_used_up_is_breached_and_due_at_once() {
    let config = landesamt();
    let changed_at = berlin(MONDAY, 10, 0);
    let clocks = replay(
        &config,
        &[
            (berlin(MONDAY, 9, 0), opened("high")),
            (changed_at, priority_changed("high", "critical")),
        ],
    );

    // 60 minutes used of a new 30-minute target.
    let first_response = clock(&clocks, Metric::FirstResponse);
    assert_running(
        first_response,
        &config,
        changed_at,
        &[(75, changed_at), (90, changed_at)],
    );
    assert!(first_response.breached_at(changed_at, &config));
}

#[test]
fn met_in_the_lunch_break_after_the_due_time_is_breached() {
    let config = landesamt();
    let opened_at = berlin(MONDAY, 11, 0);
    let during_lunch = berlin(MONDAY, 12, 30);
    let clocks = replay(&config, &[(opened_at, opened("high"))]);
    let running_clock = clock(&clocks, Metric::FirstResponse);
    assert_eq!(running_clock.due_at(&config), Some(berlin(MONDAY, 12, 0)));
    // Read while running at 12:30, it is breached (running past its due time) ...
    assert!(running_clock.breached_at(during_lunch, &config));

    let clocks = replay(
        &config,
        &[(opened_at, opened("high")), (during_lunch, reply())],
    );

    // ... and met at 12:30, after its due time of 12:00, it stays breached (late), although
    // 11:00–12:30 holds exactly the 60 business minutes of the target: due time and breach are
    // instants, the same one the SLA monitor records.
    let first_response = clock(&clocks, Metric::FirstResponse);
    assert_finished(
        first_response,
        &config,
        ClockState::Met,
        during_lunch,
        HOUR_S,
    );
    assert!(first_response.late);
    assert!(first_response.breached_at(during_lunch, &config));
    assert!(first_response.breached_at(berlin(WEDNESDAY, 9, 0), &config));
    // Met at 11:59 would have been in time.
    let in_time = replay(
        &config,
        &[
            (opened_at, opened("high")),
            (berlin(MONDAY, 11, 59), reply()),
        ],
    );
    let first_response = clock(&in_time, Metric::FirstResponse);
    assert!(!first_response.late);
    assert!(!first_response.breached_at(berlin(WEDNESDAY, 9, 0), &config));
}

// ----------------------------------------------------------------------------------------------
// Which policy

#[test]
fn without_a_policy_for_the_service_and_without_a_default_policy_there_are_no_clocks() {
    let config = landesamt();
    assert!(config.policy(DEFAULT_POLICY).is_none());

    for service in [Some(SERVICE_WITHOUT_POLICY), Some("unbekannt"), None] {
        let resolved_at = berlin(MONDAY, 11, 0);
        let clocks = replay(
            &config,
            &[
                (berlin(MONDAY, 9, 0), opened_for(service, "high")),
                (berlin(MONDAY, 9, 30), reply()),
                (berlin(MONDAY, 10, 0), priority_changed("high", "critical")),
                (resolved_at, resolved(resolved_at)),
                (berlin(MONDAY, 11, 30), reopened()),
            ],
        );
        assert!(clocks.clocks.is_empty(), "{service:?}: {clocks:#?}");
        assert_eq!(clocks.priority, Some(Priority::Critical));
    }
}

#[test]
fn the_default_policy_applies_without_a_service_or_a_service_policy() {
    let mut config = landesamt();
    config.define_policy(
        DEFAULT_POLICY,
        json!({
            "title": "Grundversorgung",
            "calendar": CALENDAR,
            "targets": [{"first_response_minutes": 240, "resolution_minutes": 4800}]
        }),
    );
    let opened_at = berlin(MONDAY, 9, 0);

    for (service, policy, first_response_minutes) in [
        (None, DEFAULT_POLICY, 240),
        (Some(SERVICE_WITHOUT_POLICY), DEFAULT_POLICY, 240),
        (Some(SERVICE), POLICY, 60),
    ] {
        let clocks = replay(&config, &[(opened_at, opened_for(service, "high"))]);
        let first_response = clock(&clocks, Metric::FirstResponse);
        assert_eq!(
            (
                first_response.policy.as_str(),
                first_response.target_minutes
            ),
            (policy, first_response_minutes),
            "{service:?}"
        );
        assert_eq!(
            first_response.segments,
            [running(opened_at, None, "opened", 0)]
        );
    }
    let clocks = replay(&config, &[(opened_at, opened_for(None, "high"))]);
    // 4 hours: Monday 09–12 and 13–14.
    assert_eq!(
        clock(&clocks, Metric::FirstResponse).due_at(&config),
        Some(berlin(MONDAY, 14, 0))
    );
}

#[test]
fn without_a_matching_row_there_are_no_clocks() {
    let mut config = landesamt();
    config.define_policy(
        "nur-stoerungen",
        json!({
            "title": "Nur Störungen",
            "calendar": CALENDAR,
            "targets": [{"ticket_types": ["incident"], "first_response_minutes": 60, "resolution_minutes": 480}]
        }),
    );
    config.assign_policy("netz", "nur-stoerungen");
    let opened_at = berlin(MONDAY, 9, 0);

    let request = replay(
        &config,
        &[(
            opened_at,
            opened_as("service_request", Some("netz"), "high"),
        )],
    );
    let incident = replay(
        &config,
        &[(opened_at, opened_as("incident", Some("netz"), "high"))],
    );

    assert!(request.clocks.is_empty());
    assert_eq!(request.ticket_type, Some(TicketType::ServiceRequest));
    assert_eq!(incident.clocks.len(), 2);
}

// ----------------------------------------------------------------------------------------------
// Replay

/// A ticket's whole life: waiting, a reply, a priority change, resolved, reopened, resolved.
fn a_whole_life() -> Vec<(DateTime<Utc>, TicketEvent)> {
    let resolved_at = berlin(TUESDAY, 11, 0);
    let resolved_again_at = berlin(FRIDAY, 10, 0);
    vec![
        (berlin(MONDAY, 9, 0), opened("medium")),
        (berlin(MONDAY, 9, 5), assigned()),
        (berlin(MONDAY, 9, 10), note()),
        (berlin(MONDAY, 10, 0), pending("waiting_for_requester")),
        (berlin(MONDAY, 14, 0), requester_message()),
        (berlin(MONDAY, 14, 5), work_started()),
        (berlin(MONDAY, 14, 30), reply()),
        (berlin(MONDAY, 15, 0), priority_changed("medium", "high")),
        (berlin(MONDAY, 15, 30), pending("waiting_for_third_party")),
        (resolved_at, resolved(resolved_at)),
        (berlin(WEDNESDAY, 9, 0), reopened()),
        (resolved_again_at, resolved(resolved_again_at)),
    ]
}

#[test]
fn replaying_the_same_events_gives_the_same_clocks() {
    let config = landesamt();
    let events = a_whole_life();

    let first = replay(&config, &events);
    let second = replay(&config, &events);

    assert_eq!(first, second);
    // And they are the clocks this life should give: 09–10, 14:05–14:30 for the first
    // response; for resolution 09–10, 14:05–16, Tuesday 08–11, Wednesday 09–16, Thursday 7
    // hours, Friday 08–10 (= 1 + 1h55 + 3 + 6 + 7 + 2 hours).
    let first_response = clock(&first, Metric::FirstResponse);
    assert_finished(
        first_response,
        &config,
        ClockState::Met,
        berlin(MONDAY, 14, 30),
        85 * MINUTE_S,
    );
    let resolution = clock(&first, Metric::Resolution);
    assert_finished(
        resolution,
        &config,
        ClockState::Met,
        berlin(FRIDAY, 10, 0),
        20 * HOUR_S + 55 * MINUTE_S,
    );
    assert_eq!(
        resolution
            .segments
            .iter()
            .map(|segment| segment.cause.as_str())
            .collect::<Vec<_>>(),
        [
            "opened",
            "pending:waiting_for_requester",
            "resumed",
            "priority_changed",
            "reopened"
        ]
    );
    assert_eq!(
        resolution
            .segments
            .iter()
            .map(|s| s.business_seconds)
            .sum::<i64>(),
        resolution.elapsed_seconds
    );
    // 1255 minutes against the high row's 480: breached.
    assert!(resolution.breached_at(berlin(FRIDAY, 10, 0), &config));
}

#[test]
fn a_replay_gives_the_same_clocks_only_with_the_configuration_as_it_was_at_each_event() {
    let before = [
        (berlin(MONDAY, 9, 0), opened("high")),
        (berlin(MONDAY, 9, 5), assigned()),
    ];
    // The calendar's version 2 (07:00–17:00) is defined here, at 09:30.
    let after = [
        (berlin(MONDAY, 12, 30), pending("waiting_for_requester")),
        (berlin(MONDAY, 13, 0), work_started()),
        (berlin(TUESDAY, 11, 0), resolved(berlin(TUESDAY, 11, 0))),
    ];
    let with_history = || {
        let mut config = landesamt();
        let mut clocks = replay(&config, &before);
        config.define_calendar(CALENDAR, munich_longer());
        apply(&mut clocks, &config, &after);
        (clocks, config)
    };

    let (live, config) = with_history();
    let (replayed, _) = with_history();

    // With the configuration's history in its place (as the projection folds configuration
    // and ticket events in cursor order): the same clocks. 09:00–12:30 in version 1, then
    // Monday 13–17 and Tuesday 07–11 in version 2.
    assert_eq!(replayed, live);
    let resolution = clock(&live, Metric::Resolution);
    assert_eq!(resolution.elapsed_seconds, 11 * HOUR_S);
    let versions =
        |clock: &Clock| -> Vec<u64> { clock.segments.iter().map(|s| s.calendar_version).collect() };
    assert_eq!(versions(resolution), [1, 2, 2]);

    // The fold takes the configuration it is given as the one valid at each event: replayed
    // with today's, 09:00–12:30 is counted in version 2 as well (3.5 hours, not 3).
    let events: Vec<_> = before.iter().chain(&after).cloned().collect();
    let recounted = replay(&config, &events);
    let resolution = clock(&recounted, Metric::Resolution);
    assert_eq!(resolution.elapsed_seconds, 11 * HOUR_S + 30 * MINUTE_S);
    assert_eq!(versions(resolution), [2, 2, 2]);
}

// ----------------------------------------------------------------------------------------------
// Properties

/// One thing that can happen to a ticket after it was opened.
#[derive(Clone, Debug)]
enum Step {
    Pending(&'static str),
    Assign,
    StartWork,
    Reply,
    Note,
    Resolve,
    Reopen,
    ChangePriority(&'static str),
    /// An administrator defines the next version of the desk's calendar (the other hours).
    NewCalendarVersion,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        select(vec!["waiting_for_requester", "waiting_for_third_party"]).prop_map(Step::Pending),
        Just(Step::Assign),
        Just(Step::StartWork),
        Just(Step::Reply),
        Just(Step::Note),
        Just(Step::Resolve),
        Just(Step::Reopen),
        select(vec!["very_low", "low", "medium", "high", "critical"])
            .prop_map(Step::ChangePriority),
        Just(Step::NewCalendarVersion),
    ]
}

/// A start in 2026 and steps at strictly increasing instants, up to four days apart.
fn life() -> impl Strategy<Value = (DateTime<Utc>, Vec<(i64, Step)>)> {
    (
        1_767_225_600i64..1_798_761_600,
        proptest::collection::vec((1i64..4 * 24 * 3600, step()), 0..40),
    )
        .prop_map(|(start, steps)| (Utc.timestamp_opt(start, 0).unwrap(), steps))
}

/// After an event at this instant, the business seconds each clock has used by then.
type Reading = (DateTime<Utc>, Vec<i64>);

/// Replays a life on a fresh configuration and fresh clocks; after each event, the business
/// seconds each clock has used by then.
fn live(start: DateTime<Utc>, steps: &[(i64, Step)]) -> (TicketClocks, Vec<Reading>) {
    let mut config = landesamt();
    let mut clocks = TicketClocks::default();
    let mut readings = Vec::new();
    let mut at = start;
    let mut priority = "medium";
    clocks.apply(&opened(priority), at, &config);
    for (gap_s, step) in steps {
        at += Duration::seconds(*gap_s);
        let event = match step {
            Step::Pending(reason) => pending(reason),
            Step::Assign => assigned(),
            Step::StartWork => work_started(),
            Step::Reply => reply(),
            Step::Note => note(),
            Step::Resolve => resolved(at),
            Step::Reopen => reopened(),
            Step::ChangePriority(to) => {
                let event = priority_changed(priority, to);
                priority = to;
                event
            }
            Step::NewCalendarVersion => {
                let version = config.calendar(CALENDAR).map_or(0, |(version, _)| version);
                let hours = if version % 2 == 0 {
                    munich()
                } else {
                    munich_longer()
                };
                config.define_calendar(CALENDAR, hours);
                continue;
            }
        };
        clocks.apply(&event, at, &config);
        let used = clocks
            .clocks
            .iter()
            .map(|clock| clock.elapsed_at(at, &config))
            .collect();
        readings.push((at, used));
    }
    (clocks, readings)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_life_replays_the_same_and_uses_no_more_time_than_passed((start, steps) in life()) {
        let (clocks, readings) = live(start, &steps);
        let (again, readings_again) = live(start, &steps);
        prop_assert_eq!(&clocks, &again);
        prop_assert_eq!(&readings, &readings_again);
        prop_assert_eq!(clocks.clocks.len(), 2);

        let mut previous = vec![0; 2];
        for (at, used) in &readings {
            for (metric, (now, before)) in used.iter().zip(&previous).enumerate() {
                prop_assert!(now >= before, "clock {} went back at {}: {} < {}", metric, at, now, before);
                prop_assert!(*now <= (*at - start).num_seconds());
            }
            previous.clone_from(used);
        }
        for clock in &clocks.clocks {
            // Segments follow each other, only the last may be open, and the closed running ones
            // add up to the elapsed time (the policy continues on reopen).
            for pair in clock.segments.windows(2) {
                prop_assert!(pair[0].to.is_some_and(|to| to <= pair[1].from), "{:#?}", clock);
            }
            prop_assert_eq!(
                clock.segments.iter().map(|segment| segment.business_seconds).sum::<i64>(),
                clock.elapsed_seconds
            );
        }
    }
}

#[test]
fn a_calendar_change_splits_the_open_segment_at_its_instant() {
    let mut config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let mut clocks = replay(&config, &[(opened_at, opened("high"))]);
    // At 10:00 the hours become 07:00–17:00 without a lunch break (version 2).
    let changed_at = berlin(MONDAY, 10, 0);
    config.define_calendar(CALENDAR, munich_longer());
    clocks.configuration_changed(changed_at, ConfigurationChange::Calendar(CALENDAR), &config);
    let resolution = clock(&clocks, Metric::Resolution);
    assert_eq!(
        resolution.segments,
        [
            running(opened_at, changed_at, "opened", HOUR_S),
            in_version(running(changed_at, None, "calendar_changed", 0), 2),
        ]
    );
    // 8 hours target: 1 h used by 10:00, 7 more in version 2's 10:00–17:00.
    assert_eq!(resolution.due_at(&config), Some(berlin(MONDAY, 17, 0)));
    // The first response (60 min, due 10:00 in version 1) is due at the change: nothing lost.
    let first = clock(&clocks, Metric::FirstResponse);
    assert_eq!(first.elapsed_seconds, HOUR_S);
}

#[test]
fn a_policy_change_retargets_live_clocks_and_records_it() {
    let mut config = landesamt();
    let opened_at = berlin(MONDAY, 9, 0);
    let mut clocks = replay(&config, &[(opened_at, opened("high"))]);
    let changed_at = berlin(MONDAY, 9, 30);
    config.define_policy(POLICY, standard_version_2());
    clocks.configuration_changed(changed_at, ConfigurationChange::Policy(POLICY), &config);
    let first = clock(&clocks, Metric::FirstResponse);
    assert_eq!(first.target_minutes, 90);
    assert_eq!(first.policy_version, 2);
    assert_eq!(
        first.target_changes,
        [TargetChange {
            at: changed_at,
            policy_version: 2,
            from_minutes: 60,
            to_minutes: 90,
            cause: "policy_changed".to_owned(),
        }]
    );
    assert_eq!(first.warning_percent, [50, 80]);
    // Elapsed kept: 30 minutes of 90 used, due an hour later.
    assert_eq!(first.due_at(&config), Some(berlin(MONDAY, 10, 30)));
    // Another policy's change touches nothing.
    let before = clocks.clone();
    clocks.configuration_changed(changed_at, ConfigurationChange::Policy("andere"), &config);
    assert_eq!(clocks, before);
}
