//! Western Indonesia Time (WIB, UTC+7): the clock both providers speak.

use time::format_description::FormatItem;
use time::macros::{format_description, offset};
use time::{OffsetDateTime, UtcOffset};

/// UTC+07:00.
pub(crate) const OFFSET: UtcOffset = offset!(+7);

const SPACED: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
const ISO: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
);
const DATE: &[FormatItem<'static>] = format_description!("[year][month][day]");
const TIME: &[FormatItem<'static>] = format_description!("[hour][minute][second]");
const STAMP: &[FormatItem<'static>] =
    format_description!("[year][month][day][hour][minute][second]");

/// The current instant, in WIB.
pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().to_offset(OFFSET)
}

fn format(at: OffsetDateTime, items: &[FormatItem<'_>]) -> String {
    // Formatting a valid date with a fixed, literal description cannot fail.
    at.to_offset(OFFSET).format(items).unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM:SS` in WIB.
pub(crate) fn spaced(at: OffsetDateTime) -> String {
    format(at, SPACED)
}

/// `YYYY-MM-DDTHH:MM:SS+07:00`.
pub(crate) fn iso(at: OffsetDateTime) -> String {
    format(at, ISO)
}

/// `YYYYMMDD` in WIB.
pub(crate) fn date(at: OffsetDateTime) -> String {
    format(at, DATE)
}

/// `HHMMSS` in WIB.
pub(crate) fn time_of_day(at: OffsetDateTime) -> String {
    format(at, TIME)
}

/// `yyyyMMddHHmmss` in WIB.
pub(crate) fn stamp(at: OffsetDateTime) -> String {
    format(at, STAMP)
}

/// Parses `YYYY-MM-DD HH:MM:SS` (taken as WIB) or an RFC 3339 / ISO 8601 date-time with an
/// offset.
pub(crate) fn parse_spaced_or_iso(text: &str) -> Option<OffsetDateTime> {
    if let Ok(at) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Some(at);
    }
    if let Ok(at) = OffsetDateTime::parse(text, ISO) {
        return Some(at);
    }
    time::PrimitiveDateTime::parse(text, SPACED)
        .ok()
        .map(|at| at.assume_offset(OFFSET))
}

/// Parses `YYYYMMDD` + `HHMMSS` as WIB.
pub(crate) fn parse_date_time(date: &str, time_of_day: &str) -> Option<OffsetDateTime> {
    let date = time::Date::parse(date, DATE).ok()?;
    let time_of_day = time::Time::parse(time_of_day, TIME).ok()?;
    Some(time::PrimitiveDateTime::new(date, time_of_day).assume_offset(OFFSET))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bni_expiry_forms_parse_to_the_same_instant() {
        let spaced = parse_spaced_or_iso("2023-11-15 23:59:59");
        let iso = parse_spaced_or_iso("2023-11-15T23:59:59+07:00");
        let utc = parse_spaced_or_iso("2023-11-15T16:59:59Z");
        assert!(spaced.is_some());
        assert_eq!(spaced, iso);
        assert_eq!(spaced, utc);
        assert_eq!(parse_spaced_or_iso("2023-13-15 23:59:59"), None);
        assert_eq!(parse_spaced_or_iso("tomorrow"), None);
    }

    #[test]
    fn formats_are_in_wib() {
        let at = OffsetDateTime::from_unix_timestamp(1_700_017_200).expect("valid timestamp");
        assert_eq!(spaced(at), "2023-11-15 10:00:00");
        assert_eq!(iso(at), "2023-11-15T10:00:00+07:00");
        assert_eq!(date(at), "20231115");
        assert_eq!(time_of_day(at), "100000");
        assert_eq!(stamp(at), "20231115100000");
        assert_eq!(parse_date_time("20231115", "100000"), Some(at));
        assert_eq!(parse_date_time("2023111", "100000"), None);
    }
}
