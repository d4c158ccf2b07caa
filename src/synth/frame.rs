//! Turning the generator's vectors into typed polars columns.

use chrono::{NaiveDate, NaiveDateTime, TimeZone as _};
use polars::prelude::*;

pub const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();

/// Days since 1970-01-01 (the physical value of a polars `Date`).
pub fn days(d: NaiveDate) -> i32 {
    (d - EPOCH).num_days() as i32
}

pub fn date(days: i32) -> NaiveDate {
    // 719_163 days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
    NaiveDate::from_num_days_from_ce_opt(days + 719_163).expect("date within chrono's range")
}

/// A wall-clock time in Asia/Almaty as UTC microseconds (the physical value of
/// `Datetime(µs, "Asia/Almaty")`). Almaty has no DST, so every local time exists once.
pub fn almaty_micros(local: NaiveDateTime) -> i64 {
    chrono_tz::Asia::Almaty
        .from_local_datetime(&local)
        .earliest()
        .expect("Asia/Almaty has no gaps")
        .timestamp_micros()
}

/// A local time on day `days` at `seconds` after midnight, as UTC microseconds.
pub fn almaty_at(days: i32, seconds: u32) -> i64 {
    let local = date(days).and_hms_opt(0, 0, 0).unwrap() + chrono::Duration::seconds(i64::from(seconds));
    almaty_micros(local)
}

pub fn str_col(name: &str, v: Vec<String>) -> Column {
    Column::new(name.into(), v)
}

pub fn opt_str_col(name: &str, v: Vec<Option<String>>) -> Column {
    Column::new(name.into(), v)
}

pub fn date_col(name: &str, v: Vec<Option<i32>>) -> Column {
    Int32Chunked::from_iter_options(name.into(), v.into_iter()).into_date().into_column()
}

pub fn datetime_col(name: &str, v: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), v)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::from_chrono(&chrono_tz::Asia::Almaty)))
        .into_column()
}

pub fn frame(columns: Vec<Column>) -> DataFrame {
    DataFrame::new_infer_height(columns).expect("generator columns have equal lengths")
}
