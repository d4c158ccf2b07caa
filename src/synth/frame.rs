//! Turning the generator's vectors into typed polars columns.

use polars::prelude::*;

pub use crate::time::{almaty_micros, date, days};

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
    crate::frames::almaty_datetimes(name, v)
}

pub fn frame(columns: Vec<Column>) -> DataFrame {
    DataFrame::new_infer_height(columns).expect("generator columns have equal lengths")
}
