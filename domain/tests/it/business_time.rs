//! Business time: named cases (lunch breaks, weekends, holidays, closing days, both DST
//! changes) and properties over random calendars (adding then measuring gives the duration back;
//! measuring is additive and monotonic; a closed day never counts).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use domain::calendar::business::WEEKDAYS;
use domain::calendar::{BusinessCalendar, CalendarDefinition, CalendarError, State};
use proptest::prelude::*;
use serde_json::json;

fn calendar(definition: serde_json::Value) -> BusinessCalendar {
    let definition: CalendarDefinition = serde_json::from_value(definition).expect("definition");
    BusinessCalendar::new(&definition).expect("valid calendar")
}

/// Mon–Fri 08:00–12:00 and 13:00–16:00 in Munich, Bavarian holidays, closed 24 and 31 December.
fn munich() -> BusinessCalendar {
    let day = json!(["08:00-12:00", "13:00-16:00"]);
    calendar(json!({
        "weekly_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day},
        "state": "BY",
        "closing_days": ["12-24", "12-31"],
    }))
}

fn always_open() -> BusinessCalendar {
    let day = json!(["00:00-24:00"]);
    calendar(json!({
        "time_zone": "Europe/Berlin",
        "weekly_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day},
    }))
}

fn berlin(date: (i32, u32, u32), hour: u32, minute: u32) -> DateTime<Utc> {
    Berlin
        .with_ymd_and_hms(date.0, date.1, date.2, hour, minute, 0)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn minutes(calendar: &BusinessCalendar, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let seconds = calendar.seconds_between(from, to);
    assert_eq!(seconds % 60, 0);
    seconds / 60
}

#[test]
fn a_morning_counts_its_open_minutes_and_skips_lunch() {
    let desk = munich();
    // Monday 23 November 2026.
    assert_eq!(
        minutes(
            &desk,
            berlin((2026, 11, 23), 9, 0),
            berlin((2026, 11, 23), 11, 0)
        ),
        120
    );
    assert_eq!(
        minutes(
            &desk,
            berlin((2026, 11, 23), 11, 30),
            berlin((2026, 11, 23), 13, 30)
        ),
        60
    );
    assert_eq!(
        minutes(
            &desk,
            berlin((2026, 11, 23), 7, 0),
            berlin((2026, 11, 23), 20, 0)
        ),
        420
    );
    assert_eq!(
        desk.add(berlin((2026, 11, 23), 11, 30), 60 * 60),
        Some(berlin((2026, 11, 23), 13, 30))
    );
    // Not before business hours: a ticket opened at 06:00 is due 2 h after 08:00.
    assert_eq!(
        desk.add(berlin((2026, 11, 23), 6, 0), 2 * 60 * 60),
        Some(berlin((2026, 11, 23), 10, 0))
    );
}

#[test]
fn a_pause_over_the_weekend_counts_only_friday_and_monday() {
    let desk = munich();
    // Friday 27 November 15:00 to Monday 30 November 09:00.
    assert_eq!(
        minutes(
            &desk,
            berlin((2026, 11, 27), 15, 0),
            berlin((2026, 11, 30), 9, 0)
        ),
        120
    );
    assert_eq!(
        desk.add(berlin((2026, 11, 27), 15, 30), 60 * 60),
        Some(berlin((2026, 11, 30), 8, 30))
    );
}

#[test]
fn holidays_and_closing_days_never_count() {
    let desk = munich();
    // Wednesday 23 December 15:00 → Monday 28 December 09:00: 24th closed (organisation),
    // 25th and 26th holidays, 27th a Sunday.
    assert_eq!(
        minutes(
            &desk,
            berlin((2026, 12, 23), 15, 0),
            berlin((2026, 12, 28), 9, 0)
        ),
        120
    );
    // Allerheiligen (1 November) is a Bavarian holiday but a Sunday in 2026; Fronleichnam
    // (Thursday 4 June 2026) is a weekday holiday.
    assert_eq!(
        minutes(
            &desk,
            berlin((2026, 6, 4), 0, 0),
            berlin((2026, 6, 5), 0, 0)
        ),
        0
    );
    // Reformationstag is no holiday in Bavaria: Friday 31 October 2025 counts fully.
    assert_eq!(
        minutes(
            &desk,
            berlin((2025, 10, 31), 0, 0),
            berlin((2025, 11, 1), 0, 0)
        ),
        420
    );
    assert!(desk.is_closed_day(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()));
}

#[test]
fn the_days_the_clocks_change_have_their_real_length() {
    let always = always_open();
    // Sunday 29 March 2026: 23 hours. Sunday 25 October 2026: 25 hours.
    assert_eq!(
        minutes(
            &always,
            berlin((2026, 3, 29), 0, 0),
            berlin((2026, 3, 30), 0, 0)
        ),
        23 * 60
    );
    assert_eq!(
        minutes(
            &always,
            berlin((2026, 10, 25), 0, 0),
            berlin((2026, 10, 26), 0, 0)
        ),
        25 * 60
    );
    // Across midnight.
    assert_eq!(
        minutes(
            &always,
            berlin((2026, 11, 23), 23, 0),
            berlin((2026, 11, 24), 1, 0)
        ),
        120
    );
    // An interval over the skipped hour is an hour shorter.
    let night = json!(["01:00-04:00"]);
    let night_shift = calendar(json!({"weekly_hours": {"sun": night}}));
    assert_eq!(
        minutes(
            &night_shift,
            berlin((2026, 3, 29), 0, 0),
            berlin((2026, 3, 30), 0, 0)
        ),
        120
    );
    assert_eq!(
        minutes(
            &night_shift,
            berlin((2026, 10, 25), 0, 0),
            berlin((2026, 10, 26), 0, 0)
        ),
        240
    );
}

#[test]
fn bad_definitions_are_refused_with_a_named_error() {
    let refused = |definition: serde_json::Value| -> CalendarError {
        let definition: CalendarDefinition = serde_json::from_value(definition).unwrap();
        BusinessCalendar::new(&definition).unwrap_err()
    };
    let cases = [
        (
            json!({"weekly_hours": {"mon": ["08:00-12:00", "11:00-14:00"]}}),
            "overlapping_hours",
        ),
        (
            json!({"weekly_hours": {"mon": ["12:00-08:00"]}}),
            "inverted_hours",
        ),
        (json!({"weekly_hours": {"mon": ["8-12"]}}), "invalid_hours"),
        (
            json!({"weekly_hours": {"mon": ["08:00-24:30"]}}),
            "invalid_hours",
        ),
        (
            json!({"weekly_hours": {"monday": ["08:00-12:00"]}}),
            "unknown_weekday",
        ),
        (json!({"weekly_hours": {}}), "never_open"),
        (json!({"weekly_hours": {"mon": []}}), "never_open"),
        (
            json!({"time_zone": "Europe/Bonn", "weekly_hours": {"mon": ["08:00-12:00"]}}),
            "unknown_time_zone",
        ),
        (
            json!({"weekly_hours": {"mon": ["08:00-12:00"]}, "closing_days": ["02-30"]}),
            "invalid_closing_day",
        ),
    ];
    for (definition, code) in cases {
        let error = refused(definition.clone());
        assert_eq!(error.code(), code, "{definition}: {error}");
    }
    // An unknown state code or field does not even parse.
    assert!(serde_json::from_value::<CalendarDefinition>(
        json!({"weekly_hours": {"mon": ["08:00-12:00"]}, "state": "XX"})
    )
    .is_err());
    assert!(serde_json::from_value::<CalendarDefinition>(
        json!({"weekly_hours": {"mon": ["08:00-12:00"]}, "holidays": "BY"})
    )
    .is_err());
}

/// A random valid calendar: each weekday gets up to three disjoint intervals on a 15-minute
/// grid, a random state, a random time zone with DST.
fn calendars() -> impl Strategy<Value = BusinessCalendar> {
    let day = proptest::collection::btree_set(0u16..=96, 0..=6).prop_map(|points| {
        let points: Vec<u16> = points.into_iter().collect();
        points
            .chunks_exact(2)
            .map(|pair| {
                format!(
                    "{:02}:{:02}-{:02}:{:02}",
                    pair[0] * 15 / 60,
                    pair[0] * 15 % 60,
                    pair[1] * 15 / 60,
                    pair[1] * 15 % 60
                )
            })
            .collect::<Vec<_>>()
    });
    (
        proptest::array::uniform7(day),
        proptest::option::of(proptest::sample::select(State::ALL.to_vec())),
        proptest::sample::select(vec!["Europe/Berlin", "Europe/London", "America/New_York"]),
    )
        .prop_filter_map("open at least once a week", |(days, state, zone)| {
            let weekly: serde_json::Map<String, serde_json::Value> = WEEKDAYS
                .iter()
                .zip(days)
                .filter(|(_, intervals)| !intervals.is_empty())
                .map(|((_, key), intervals)| ((*key).to_owned(), json!(intervals)))
                .collect();
            let definition: CalendarDefinition = serde_json::from_value(json!({
                "time_zone": zone, "weekly_hours": weekly, "state": state,
                "closing_days": ["12-24", "12-31"],
            }))
            .ok()?;
            BusinessCalendar::new(&definition).ok()
        })
}

/// Instants in 2025–2027 (both DST changes, many holidays), to the second.
fn instants() -> impl Strategy<Value = DateTime<Utc>> {
    (1_735_689_600i64..1_830_297_600).prop_map(|seconds| Utc.timestamp_opt(seconds, 0).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn adding_then_measuring_gives_the_duration_back(
        calendar in calendars(),
        from in instants(),
        seconds in 0i64..(30 * 24 * 3600),
    ) {
        let due = calendar.add(from, seconds).expect("open within ten years");
        prop_assert!(due >= from);
        prop_assert_eq!(calendar.seconds_between(from, due), seconds);
        // The due time is the first instant at which that much open time has passed.
        if seconds > 0 {
            prop_assert!(calendar.seconds_between(from, due - Duration::seconds(1)) < seconds);
        }
    }

    #[test]
    fn measuring_is_additive_and_monotonic(
        calendar in calendars(),
        a in instants(),
        b in instants(),
        c in instants(),
    ) {
        let mut points = [a, b, c];
        points.sort();
        let [a, b, c] = points;
        let (ab, bc, ac) = (
            calendar.seconds_between(a, b),
            calendar.seconds_between(b, c),
            calendar.seconds_between(a, c),
        );
        prop_assert_eq!(ab + bc, ac);
        prop_assert!(ab >= 0 && bc >= 0);
        prop_assert!(ac <= (c - a).num_seconds());
        prop_assert_eq!(calendar.seconds_between(c, a), 0);
    }

    #[test]
    fn a_closed_day_never_counts(calendar in calendars(), from in instants()) {
        let zone = calendar.time_zone();
        let mut date = from.with_timezone(&zone).date_naive();
        for _ in 0..400 {
            if calendar.is_closed_day(date) {
                let start = zone.from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap()).earliest().unwrap();
                let end = start + Duration::hours(23);
                prop_assert_eq!(calendar.seconds_between(start.with_timezone(&Utc), end.with_timezone(&Utc)), 0);
                break;
            }
            date = date.succ_opt().unwrap();
        }
    }
}
