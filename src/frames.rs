//! How the job runs a polars plan, and the typed columns it builds from Rust values. The
//! lowest layer beside [`crate::time`]: registries, the pipeline and the campaign use it.

use polars::prelude::*;

/// Collects a plan with polars' streaming engine: scans are read in morsels and the large
/// registries are filtered and joined on the way in, instead of being held whole.
pub fn collect_streaming(lf: LazyFrame) -> PolarsResult<DataFrame> {
    Ok(lf.collect_with_engine(Engine::Streaming)?.unwrap_single())
}

/// A boolean column without nulls from `values`, packed from a plain `Vec<bool>`: several
/// times faster than collecting `Option<bool>`s (what a row rule over 20 M rows would
/// otherwise spend most of its time on).
pub fn bool_column(name: PlSmallStr, values: impl Iterator<Item = bool>) -> Column {
    let v: Vec<bool> = values.collect();
    BooleanChunked::from_slice(name, &v).into_column()
}

/// The zone of every time sdu writes.
pub const ZONE: &str = "Asia/Almaty";

/// An `Asia/Almaty` zoned `Datetime(µs)` column from UTC microseconds.
pub fn almaty_datetimes(name: &str, v: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), v)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::from_chrono(&chrono_tz::Asia::Almaty)))
        .into_column()
}

/// A column of Asia/Almaty wall-clock times (null where `None`), stored zoned
/// (`Datetime(µs, "Asia/Almaty")`): how every time sdu writes is stored, so every reader sees
/// the instant and its offset.
pub fn wall_clock_column(name: &str, v: impl IntoIterator<Item = Option<chrono::NaiveDateTime>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), v.into_iter().map(|t| t.map(crate::time::almaty_micros)))
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::from_chrono(&chrono_tz::Asia::Almaty)))
        .into_column()
}

/// The Asia/Almaty wall-clock times of a datetime column: zoned (how sdu writes them), or
/// naive (files written before, and naive inputs, which are Asia/Almaty wall clock).
pub fn wall_clock_times(c: &Column) -> PolarsResult<Vec<Option<chrono::NaiveDateTime>>> {
    let tz = match c.dtype() {
        DataType::Datetime(_, tz) => tz.clone(),
        other => polars_bail!(SchemaMismatch: "`{}` is {other}, expected a datetime", c.name()),
    };
    let zoned = tz.is_some();
    // The physical values (UTC for a zoned column), in µs whatever the file's unit.
    let micros = c.cast(&DataType::Datetime(TimeUnit::Microseconds, tz))?.cast(&DataType::Int64)?;
    Ok(micros
        .i64()?
        .iter()
        .map(|v| {
            let v = v?;
            if zoned {
                chrono::DateTime::from_timestamp_micros(v)
                    .map(|t| t.with_timezone(&chrono_tz::Asia::Almaty).naive_local())
            } else {
                crate::time::from_micros(v)
            }
        })
        .collect())
}
