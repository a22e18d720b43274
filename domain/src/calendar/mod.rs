//! Business calendars (issue 4): German public holidays per state, and business time — when a
//! service desk is open and how much open time lies between two instants. Pure: no clock, no I/O.

pub mod business;
pub mod holidays;

pub use business::{BusinessCalendar, CalendarDefinition, CalendarError, Interval};
pub use holidays::{holidays, Holiday, State};
