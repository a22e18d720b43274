//! Business time: when a service desk is open, and how much open time lies between two instants.
//!
//! A calendar has a time zone (IANA, default Europe/Berlin), weekly hours with several intervals
//! per day in local time, the statutory holidays of one German state, the organisation's own
//! closing days every year (e.g. 24 and 31 December) and one-off closed days. Each interval's
//! ends are converted to UTC on their own date, so a day on which the clocks change has its real
//! length (an interval over 02:00–03:00 on the last Sunday of March is an hour shorter).
//!
//! Durations are whole seconds; SLA targets are business minutes (`60 ×`).

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::holidays::{is_holiday, State};

/// Longest span [`BusinessCalendar::add`] searches for open time (ten years), so a calendar that
/// is (almost) never open cannot loop forever.
pub const SEARCH_DAYS_MAX: i64 = 3_660;
/// The default time zone.
pub const DEFAULT_TIME_ZONE: &str = "Europe/Berlin";

/// The weekdays in calendar order, with the keys a definition uses.
pub const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "mon"),
    (Weekday::Tue, "tue"),
    (Weekday::Wed, "wed"),
    (Weekday::Thu, "thu"),
    (Weekday::Fri, "fri"),
    (Weekday::Sat, "sat"),
    (Weekday::Sun, "sun"),
];

/// An open interval of a day, in minutes after local midnight (`end` may be 1440 = 24:00).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    pub start: u16,
    pub end: u16,
}

impl Interval {
    /// Parses `HH:MM-HH:MM` (24:00 allowed as an end).
    pub fn parse(text: &str) -> Result<Interval, CalendarError> {
        let invalid = || CalendarError::InvalidInterval(text.to_owned());
        let (start, end) = text.split_once('-').ok_or_else(invalid)?;
        let minutes = |time: &str| -> Option<u16> {
            let (hours, minutes) = time.trim().split_once(':')?;
            if hours.len() != 2 || minutes.len() != 2 {
                return None;
            }
            let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
            (minutes < 60 && (hours < 24 || (hours == 24 && minutes == 0)))
                .then_some(hours * 60 + minutes)
        };
        let (start, end) = (
            minutes(start).ok_or_else(invalid)?,
            minutes(end).ok_or_else(invalid)?,
        );
        if start >= end {
            return Err(CalendarError::InvertedInterval(text.to_owned()));
        }
        Ok(Interval { start, end })
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// What an administrator submits (the payload of a calendar's events).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarDefinition {
    /// IANA time zone; default Europe/Berlin.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Weekday (`mon` … `sun`) → intervals `HH:MM-HH:MM`; a missing day is closed.
    pub weekly_hours: std::collections::BTreeMap<String, Vec<String>>,
    /// Whose statutory holidays close the desk (BW … TH), if any.
    #[serde(default)]
    pub state: Option<State>,
    /// Closed every year on these days, `MM-DD` (e.g. `12-24`).
    #[serde(default)]
    pub closing_days: Vec<String>,
    /// Closed once on these dates, `YYYY-MM-DD`.
    #[serde(default)]
    pub one_off_days: Vec<NaiveDate>,
}

fn default_time_zone() -> String {
    DEFAULT_TIME_ZONE.to_owned()
}

/// Why a calendar definition is refused (nothing of it is applied).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("unknown time zone {0:?} (expected an IANA name such as Europe/Berlin)")]
    UnknownTimeZone(String),
    #[error("unknown weekday {0:?} (expected mon, tue, wed, thu, fri, sat or sun)")]
    UnknownWeekday(String),
    #[error("invalid hours {0:?} (expected HH:MM-HH:MM, e.g. 08:00-12:30)")]
    InvalidInterval(String),
    #[error("hours {0:?} end before they start")]
    InvertedInterval(String),
    #[error("hours {first} and {second} on {weekday} overlap")]
    OverlappingIntervals {
        weekday: String,
        first: String,
        second: String,
    },
    #[error("the calendar is never open (no weekly hours)")]
    NeverOpen,
    #[error("invalid closing day {0:?} (expected MM-DD, e.g. 12-24)")]
    InvalidClosingDay(String),
}

impl CalendarError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CalendarError::UnknownTimeZone(_) => "unknown_time_zone",
            CalendarError::UnknownWeekday(_) => "unknown_weekday",
            CalendarError::InvalidInterval(_) => "invalid_hours",
            CalendarError::InvertedInterval(_) => "inverted_hours",
            CalendarError::OverlappingIntervals { .. } => "overlapping_hours",
            CalendarError::NeverOpen => "never_open",
            CalendarError::InvalidClosingDay(_) => "invalid_closing_day",
        }
    }
}

/// A validated business calendar.
#[derive(Clone, Debug, PartialEq)]
pub struct BusinessCalendar {
    time_zone: Tz,
    /// Monday first; each day's intervals sorted and disjoint.
    weekly: [Vec<Interval>; 7],
    state: Option<State>,
    closing_days: BTreeSet<(u32, u32)>,
    one_off_days: BTreeSet<NaiveDate>,
}

impl BusinessCalendar {
    /// Validates `definition`: known time zone and weekdays, well-formed, non-overlapping hours,
    /// open at least once a week, well-formed closing days.
    pub fn new(definition: &CalendarDefinition) -> Result<BusinessCalendar, CalendarError> {
        let time_zone: Tz = definition
            .time_zone
            .parse()
            .map_err(|_| CalendarError::UnknownTimeZone(definition.time_zone.clone()))?;
        let mut weekly: [Vec<Interval>; 7] = Default::default();
        for (day, texts) in &definition.weekly_hours {
            let index = WEEKDAYS
                .iter()
                .position(|(_, key)| key == day)
                .ok_or_else(|| CalendarError::UnknownWeekday(day.clone()))?;
            let mut intervals = texts
                .iter()
                .map(|text| Interval::parse(text))
                .collect::<Result<Vec<_>, _>>()?;
            intervals.sort();
            for pair in intervals.windows(2) {
                if pair[1].start < pair[0].end {
                    return Err(CalendarError::OverlappingIntervals {
                        weekday: day.clone(),
                        first: pair[0].to_string(),
                        second: pair[1].to_string(),
                    });
                }
            }
            weekly[index] = intervals;
        }
        if weekly.iter().all(Vec::is_empty) {
            return Err(CalendarError::NeverOpen);
        }
        let closing_days = definition
            .closing_days
            .iter()
            .map(|text| {
                let invalid = || CalendarError::InvalidClosingDay(text.clone());
                let (month, day) = text.split_once('-').ok_or_else(invalid)?;
                let (month, day): (u32, u32) = (
                    month.parse().map_err(|_| invalid())?,
                    day.parse().map_err(|_| invalid())?,
                );
                // 2024 is a leap year: 02-29 is a valid closing day (in leap years).
                NaiveDate::from_ymd_opt(2024, month, day).ok_or_else(invalid)?;
                Ok((month, day))
            })
            .collect::<Result<BTreeSet<_>, CalendarError>>()?;
        Ok(BusinessCalendar {
            time_zone,
            weekly,
            state: definition.state,
            closing_days,
            one_off_days: definition.one_off_days.iter().copied().collect(),
        })
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// Whether the whole local `date` is closed (holiday, closing day, one-off day).
    pub fn is_closed_day(&self, date: NaiveDate) -> bool {
        self.one_off_days.contains(&date)
            || self.closing_days.contains(&(date.month(), date.day()))
            || self.state.is_some_and(|state| is_holiday(state, date))
    }

    /// The open intervals of local `date`, as UTC instants, in order.
    pub fn open_on(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.is_closed_day(date) {
            return Vec::new();
        }
        self.weekly[date.weekday().num_days_from_monday() as usize]
            .iter()
            .map(|interval| {
                (
                    self.instant(date, interval.start),
                    self.instant(date, interval.end),
                )
            })
            .filter(|(start, end)| start < end)
            .collect()
    }

    /// Local `date` plus `minutes` as an instant: the earlier of an ambiguous local time (autumn),
    /// the first instant after a skipped one (spring).
    fn instant(&self, date: NaiveDate, minutes: u16) -> DateTime<Utc> {
        let local: NaiveDateTime = date.and_hms_opt(0, 0, 0).expect("midnight exists")
            + Duration::minutes(i64::from(minutes));
        let mut probe = local;
        loop {
            if let Some(at) = self.time_zone.from_local_datetime(&probe).earliest() {
                return at.with_timezone(&Utc);
            }
            // In a gap (clocks jump forward): the first minute that exists.
            probe += Duration::minutes(1);
        }
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.time_zone).date_naive()
    }

    /// Open seconds in `[from, to)` (0 if `to` is not after `from`).
    pub fn seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let (first, last) = (self.local_date(from), self.local_date(to));
        let mut total = 0;
        let mut date = first;
        while date <= last {
            for (start, end) in self.open_on(date) {
                let (start, end) = (start.max(from), end.min(to));
                if start < end {
                    total += (end - start).num_seconds();
                }
            }
            date = date.succ_opt().expect("dates do not run out");
        }
        total
    }

    /// The instant at which `seconds` of open time have passed since `from`; `None` if the
    /// calendar is not open that long within [`SEARCH_DAYS_MAX`] days.
    pub fn add(&self, from: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
        if seconds <= 0 {
            return Some(from);
        }
        let mut left = seconds;
        let mut date = self.local_date(from) - Duration::days(1);
        for _ in 0..=SEARCH_DAYS_MAX {
            for (start, end) in self.open_on(date) {
                let start = start.max(from);
                if start >= end {
                    continue;
                }
                let open = (end - start).num_seconds();
                if left <= open {
                    return Some(start + Duration::seconds(left));
                }
                left -= open;
            }
            date = date.succ_opt()?;
        }
        None
    }
}
