//! Holidays of every state against the hand-checked fixtures in `tests/fixtures/holidays.txt`,
//! and the rules' edges (effective years, one-off days, Easter and Buß- und Bettag).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};
use domain::calendar::holidays::{
    buss_und_bettag, easter_sunday, holidays, is_holiday, State, YearOutOfRange, FIRST_YEAR,
    LAST_YEAR,
};

/// `(year, state) → ["YYYY-MM-DD name", …]` from the fixture file.
fn fixtures() -> BTreeMap<(i32, State), Vec<String>> {
    let text = include_str!("../fixtures/holidays.txt");
    let mut expected: BTreeMap<(i32, State), Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (holiday, states) = line.split_once(" | ").expect("`date name | states`");
        let year: i32 = holiday[..4].parse().expect("year");
        let states: Vec<State> = if states.trim() == "ALL" {
            State::ALL.to_vec()
        } else {
            states
                .split_whitespace()
                .map(|code| code.parse().expect("state code"))
                .collect()
        };
        for state in State::ALL {
            let entry = expected.entry((year, state)).or_default();
            if states.contains(&state) {
                entry.push(holiday.to_owned());
            }
        }
    }
    expected
}

#[test]
fn every_state_in_every_fixture_year_has_exactly_the_hand_checked_holidays() {
    let expected = fixtures();
    assert_eq!(expected.len(), 8 * 16, "eight years × sixteen states");
    for ((year, state), want) in expected {
        let got: Vec<String> = holidays(state, year)
            .unwrap()
            .iter()
            .map(|holiday| format!("{} {}", holiday.date, holiday.name))
            .collect();
        assert_eq!(got, want, "{state} {year}");
    }
}

#[test]
fn the_counts_per_state_match_the_published_figures_for_2026() {
    // Bavaria 13 with Mariä Himmelfahrt where it holds locally; statewide 12.
    let counts: Vec<(State, usize)> = State::ALL
        .into_iter()
        .map(|state| (state, holidays(state, 2026).unwrap().len()))
        .collect();
    let expected = [
        (State::BW, 12),
        (State::BY, 12),
        (State::BE, 10),
        (State::BB, 12), // 10 working-day holidays plus Ostersonntag and Pfingstsonntag
        (State::HB, 10),
        (State::HH, 10),
        (State::HE, 10),
        (State::MV, 11),
        (State::NI, 10),
        (State::NW, 11),
        (State::RP, 11),
        (State::SL, 12),
        (State::SN, 11),
        (State::ST, 11),
        (State::SH, 10),
        (State::TH, 11),
    ];
    assert_eq!(counts, expected);
}

#[test]
fn easter_falls_on_known_sundays() {
    for (year, month, day) in [
        (1991, 3, 31),
        (2000, 4, 23),
        (2008, 3, 23),
        (2011, 4, 24),
        (2038, 4, 25),
        (2285, 3, 22),
    ] {
        let easter = easter_sunday(year);
        assert_eq!(easter, NaiveDate::from_ymd_opt(year, month, day).unwrap());
        assert_eq!(easter.weekday(), Weekday::Sun);
    }
}

#[test]
fn buss_und_bettag_is_the_wednesday_before_the_23rd_of_november() {
    for year in FIRST_YEAR..=LAST_YEAR {
        let day = buss_und_bettag(year);
        assert_eq!(day.weekday(), Weekday::Wed, "{year}");
        assert_eq!(day.month(), 11);
        assert!((16..=22).contains(&day.day()), "{day}");
    }
}

#[test]
fn buss_und_bettag_held_everywhere_until_1994() {
    for state in State::ALL {
        assert!(is_holiday(state, buss_und_bettag(1994)), "{state}");
        assert_eq!(
            is_holiday(state, buss_und_bettag(1995)),
            state == State::SN,
            "{state}"
        );
    }
}

#[test]
fn state_codes_parse_in_any_case_and_unknown_ones_are_named() {
    assert_eq!("by".parse::<State>().unwrap(), State::BY);
    let error = "XX".parse::<State>().unwrap_err();
    assert!(error.to_string().contains("\"XX\""), "{error}");
    assert_eq!(holidays(State::BY, 1990), Err(YearOutOfRange(1990)));
    assert_eq!(holidays(State::BY, 2400), Err(YearOutOfRange(2400)));
}
