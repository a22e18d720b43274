//! Statutory public holidays of the 16 German states, computed (not downloaded, not typed in per
//! year): fixed dates, Easter-based dates, Buß- und Bettag, and the year each state-specific rule
//! took effect.
//!
//! Only holidays that hold in the whole state are listed. Left to a calendar's own closing days:
//! Mariä Himmelfahrt in Bavaria (only municipalities with a Catholic majority), the Augsburger
//! Friedensfest (the city of Augsburg), Fronleichnam in parts of Saxony and Thuringia. Sundays are
//! not listed even where a state's law names them (Ostersonntag and Pfingstsonntag are listed for
//! Brandenburg, whose law names them explicitly).

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// A German state (Bundesland), by its official two-letter code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum State {
    BW,
    BY,
    BE,
    BB,
    HB,
    HH,
    HE,
    MV,
    NI,
    NW,
    RP,
    SL,
    SN,
    ST,
    SH,
    TH,
}

impl State {
    /// Every state, in the order of their codes' customary listing.
    pub const ALL: [State; 16] = [
        State::BW,
        State::BY,
        State::BE,
        State::BB,
        State::HB,
        State::HH,
        State::HE,
        State::MV,
        State::NI,
        State::NW,
        State::RP,
        State::SL,
        State::SN,
        State::ST,
        State::SH,
        State::TH,
    ];

    /// The two-letter code.
    pub fn code(self) -> &'static str {
        match self {
            State::BW => "BW",
            State::BY => "BY",
            State::BE => "BE",
            State::BB => "BB",
            State::HB => "HB",
            State::HH => "HH",
            State::HE => "HE",
            State::MV => "MV",
            State::NI => "NI",
            State::NW => "NW",
            State::RP => "RP",
            State::SL => "SL",
            State::SN => "SN",
            State::ST => "ST",
            State::SH => "SH",
            State::TH => "TH",
        }
    }

    /// The German name.
    pub fn name(self) -> &'static str {
        match self {
            State::BW => "Baden-Württemberg",
            State::BY => "Bayern",
            State::BE => "Berlin",
            State::BB => "Brandenburg",
            State::HB => "Bremen",
            State::HH => "Hamburg",
            State::HE => "Hessen",
            State::MV => "Mecklenburg-Vorpommern",
            State::NI => "Niedersachsen",
            State::NW => "Nordrhein-Westfalen",
            State::RP => "Rheinland-Pfalz",
            State::SL => "Saarland",
            State::SN => "Sachsen",
            State::ST => "Sachsen-Anhalt",
            State::SH => "Schleswig-Holstein",
            State::TH => "Thüringen",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A text that names no German state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown state code {0:?}; known: BW BY BE BB HB HH HE MV NI NW RP SL SN ST SH TH")]
pub struct UnknownState(pub String);

impl FromStr for State {
    type Err = UnknownState;
    fn from_str(text: &str) -> Result<State, UnknownState> {
        State::ALL
            .into_iter()
            .find(|state| state.code().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownState(text.to_owned()))
    }
}

impl From<State> for String {
    fn from(state: State) -> String {
        state.code().to_owned()
    }
}

impl TryFrom<String> for State {
    type Error = UnknownState;
    fn try_from(text: String) -> Result<State, UnknownState> {
        text.parse()
    }
}

/// The years the rules are known for: from the first full year after reunification.
pub const FIRST_YEAR: i32 = 1991;
pub const LAST_YEAR: i32 = 2399;

/// A year outside [`FIRST_YEAR`]..=[`LAST_YEAR`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("holidays are known for the years {FIRST_YEAR} to {LAST_YEAR}, not {0}")]
pub struct YearOutOfRange(pub i32);

/// One public holiday.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Holiday {
    pub date: NaiveDate,
    /// The German name, e.g. "Tag der Deutschen Einheit".
    pub name: &'static str,
}

/// Easter Sunday of `year` (Gregorian; the anonymous algorithm of Meeus, Jones and Butcher).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("Easter is a valid date")
}

/// Buß- und Bettag: the Wednesday before 23 November (16 to 22 November).
pub fn buss_und_bettag(year: i32) -> NaiveDate {
    let mut day = NaiveDate::from_ymd_opt(year, 11, 22).expect("22 November exists");
    while day.weekday() != Weekday::Wed {
        day -= Duration::days(1);
    }
    day
}

/// The statutory public holidays of `state` in `year`, in date order.
pub fn holidays(state: State, year: i32) -> Result<Vec<Holiday>, YearOutOfRange> {
    use State::*;
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Err(YearOutOfRange(year));
    }
    let date = |month: u32, day: u32| NaiveDate::from_ymd_opt(year, month, day).expect("valid");
    let easter = easter_sunday(year);
    let after_easter = |days: i64| easter + Duration::days(days);
    let is = |states: &[State]| states.contains(&state);
    let mut list: Vec<Holiday> = Vec::with_capacity(16);
    let mut add = |holds: bool, date: NaiveDate, name: &'static str| {
        if holds {
            list.push(Holiday { date, name });
        }
    };
    add(true, date(1, 1), "Neujahr");
    add(is(&[BW, BY, ST]), date(1, 6), "Heilige Drei Könige");
    add(
        (state == BE && year >= 2019) || (state == MV && year >= 2023),
        date(3, 8),
        "Internationaler Frauentag",
    );
    add(true, after_easter(-2), "Karfreitag");
    add(is(&[BB]), easter, "Ostersonntag");
    add(true, after_easter(1), "Ostermontag");
    add(true, date(5, 1), "Tag der Arbeit");
    // One-off: the 75th and 80th anniversaries of the end of the Second World War in Europe.
    add(
        state == BE && (year == 2020 || year == 2025),
        date(5, 8),
        "Tag der Befreiung",
    );
    add(true, after_easter(39), "Christi Himmelfahrt");
    add(is(&[BB]), after_easter(49), "Pfingstsonntag");
    add(true, after_easter(50), "Pfingstmontag");
    add(
        is(&[BW, BY, HE, NW, RP, SL]),
        after_easter(60),
        "Fronleichnam",
    );
    add(is(&[SL]), date(8, 15), "Mariä Himmelfahrt");
    add(state == TH && year >= 2019, date(9, 20), "Weltkindertag");
    add(true, date(10, 3), "Tag der Deutschen Einheit");
    add(
        is(&[BB, MV, SN, ST, TH])
            || (is(&[HB, HH, NI, SH]) && year >= 2018)
            // One-off: the 500th anniversary of the Reformation, in every state.
            || year == 2017,
        date(10, 31),
        "Reformationstag",
    );
    add(is(&[BW, BY, NW, RP, SL]), date(11, 1), "Allerheiligen");
    // Abolished everywhere but Saxony from 1995 (to finance the long-term care insurance).
    add(
        state == SN || year < 1995,
        buss_und_bettag(year),
        "Buß- und Bettag",
    );
    add(true, date(12, 25), "1. Weihnachtstag");
    add(true, date(12, 26), "2. Weihnachtstag");
    list.sort_by_key(|holiday| holiday.date);
    Ok(list)
}

/// Whether `date` is a statutory public holiday in `state` (false outside the known years).
pub fn is_holiday(state: State, date: NaiveDate) -> bool {
    holidays(state, date.year())
        .map(|list| list.iter().any(|holiday| holiday.date == date))
        .unwrap_or(false)
}
