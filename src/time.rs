//! Dates and times as the job counts them: Asia/Almaty wall clock (no DST, so every local
//! time exists once), polars' physical values (days since 1970 for `Date`, UTC microseconds
//! for zoned `Datetime`), and the argument formats of the command line. Every layer reads
//! time through here; nothing above it converts by hand.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _};

pub const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();

/// The hour the portal sends a day's SMS, and the time a date alone stands for.
pub const SEND_TIME: NaiveTime = NaiveTime::from_hms_opt(9, 0, 0).unwrap();

/// Days since 1970-01-01 (the physical value of a polars `Date`).
pub fn days(d: NaiveDate) -> i32 {
    (d - EPOCH).num_days() as i32
}

/// The date of a polars `Date` value.
pub fn date(days: i32) -> NaiveDate {
    // 719_163 days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
    NaiveDate::from_num_days_from_ce_opt(days + 719_163).expect("date within chrono's range")
}

/// The first instant after day `d`: a report or a snapshot "as of D" covers what happened
/// before it.
pub fn end_of_day(d: NaiveDate) -> NaiveDateTime {
    d.succ_opt().expect("date in range").and_hms_opt(0, 0, 0).expect("midnight")
}

/// A wall-clock time in Asia/Almaty as UTC microseconds (the physical value of
/// `Datetime(µs, "Asia/Almaty")`).
pub fn almaty_micros(local: NaiveDateTime) -> i64 {
    chrono_tz::Asia::Almaty
        .from_local_datetime(&local)
        .earliest()
        .expect("Asia/Almaty has no gaps")
        .timestamp_micros()
}

/// An Asia/Almaty wall-clock time as ISO 8601 with its offset (`2025-09-02T09:00:00+05:00`,
/// fractions of a second only when there are any): the one way a time is written in JSON and
/// in text (docs/outputs.md, "Times").
pub fn zoned(local: NaiveDateTime) -> String {
    let at = chrono_tz::Asia::Almaty.from_local_datetime(&local).earliest().expect("Asia/Almaty has no gaps");
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// Serializes a wall-clock time as [`zoned`] writes it (`#[serde(serialize_with)]`).
pub fn serialize_zoned<S: serde::Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&zoned(*t))
}

/// The same for an instant (the manifest's run times), in Asia/Almaty.
pub fn zoned_utc(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono_tz::Asia::Almaty).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// A naive time from its microseconds (the physical value of a naive `Datetime(µs)`).
pub fn from_micros(micros: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(micros).map(|d| d.naive_utc())
}

/// Parses a `YYYY-MM-DD` date argument.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    // chrono takes `2026-11-1`; a scheduler's typo should not pass for another date's form.
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !shaped {
        return Err(format!("expected a date as YYYY-MM-DD, got `{s}`"));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| format!("expected a date as YYYY-MM-DD: {e}"))
}

/// An instant written as RFC 3339 / ISO 8601 with its offset (`2026-03-03T05:00:00Z`,
/// `2026-06-16T12:00:00+05:00`, fractions of a second allowed), or as a wall-clock time
/// without one (`2026-03-03T10:00[:00[.f]]`, a space for the `T`), which is Asia/Almaty: the
/// Asia/Almaty wall-clock time it is.
pub fn parse_instant(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&chrono_tz::Asia::Almaty).naive_local());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// Parses a time argument: an instant of [`parse_instant`], or a date alone meaning
/// [`SEND_TIME`] that day.
pub fn parse_time(s: &str) -> Result<NaiveDateTime, String> {
    if let Some(t) = parse_instant(s) {
        return Ok(t);
    }
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map(|d| d.and_time(SEND_TIME)).map_err(|_| {
        format!(
            "expected YYYY-MM-DDTHH:MM (Asia/Almaty), an RFC 3339 time with its offset \
             (2026-06-16T12:00:00+05:00) or YYYY-MM-DD, got `{s}`"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_with_or_without_an_offset() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap();
        let ten = at("2026-03-03T10:00:00");
        for s in [
            "2026-03-03T05:00:00Z",
            "2026-03-03T05:00:00.000Z",
            "2026-03-03T10:00:00+05:00",
            "2026-03-03T08:00:00+03:00",
            "2026-03-03T10:00:00",
            "2026-03-03 10:00",
            " 2026-03-03T10:00 ",
        ] {
            assert_eq!(parse_instant(s), Some(ten), "{s}");
        }
        assert_eq!(parse_instant("2026-03-03"), None);
        assert!(parse_date("2026-11-01").is_ok());
        for bad in ["2026-11-1", "26-11-01", "2026/11/01", "2026-11-01 ", "2026-02-30", "２０２６-11-01"]
        {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_instant("yesterday"), None);
        assert_eq!(parse_time("2026-06-16T12:00:00+05:00"), Ok(at("2026-06-16T12:00:00")));
        assert_eq!(parse_time("2026-06-16"), Ok(at("2026-06-16T09:00:00")));
        assert!(parse_time("16.06.2026").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn times_are_written_with_their_offset_and_read_back() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").unwrap();
        assert_eq!(zoned(at("2025-09-02T09:00:00")), "2025-09-02T09:00:00+05:00");
        assert_eq!(zoned(at("2025-09-02T09:00:00.250")), "2025-09-02T09:00:00.250+05:00");
        // Asia/Almaty was UTC+6 until 2024-03-01.
        assert_eq!(zoned(at("2024-02-29T23:30:00")), "2024-02-29T23:30:00+06:00");
        let utc = chrono::DateTime::parse_from_rfc3339("2026-11-28T04:00:00Z").unwrap().to_utc();
        assert_eq!(zoned_utc(utc), "2026-11-28T09:00:00+05:00");
        for s in ["2025-09-02T09:00:00", "2024-02-29T23:30:00", "2026-01-01T00:00:00.000001"] {
            assert_eq!(parse_instant(&zoned(at(s))), Some(at(s)), "{s}");
        }
    }

    #[test]
    fn days_round_trip() {
        for d in [
            EPOCH,
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            NaiveDate::from_ymd_opt(1950, 2, 28).unwrap(),
        ] {
            assert_eq!(date(days(d)), d);
        }
        assert_eq!(days(EPOCH), 0);
    }

    #[test]
    fn a_date_alone_is_nine_in_the_morning() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        assert_eq!(parse_time("2026-11-26").unwrap(), d.and_time(SEND_TIME));
        assert_eq!(parse_time("2026-11-26T13:05").unwrap(), d.and_hms_opt(13, 5, 0).unwrap());
        assert!(parse_time("26.11.2026").is_err());
        assert_eq!(end_of_day(d), d.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap());
    }

    #[test]
    fn almaty_is_five_hours_ahead_of_utc() {
        let local = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap().and_hms_opt(9, 0, 0).unwrap();
        assert_eq!(from_micros(almaty_micros(local)).unwrap(), local - chrono::Duration::hours(5));
    }
}
