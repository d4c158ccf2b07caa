//! How the job runs a polars plan, and the typed columns it builds from Rust values. The
//! lowest layer beside [`crate::time`]: registries, the pipeline and the campaign use it.

use polars::prelude::*;

/// Collects a plan with polars' streaming engine: scans are read in morsels and the large
/// registries are filtered and joined on the way in, instead of being held whole.
pub fn collect_streaming(lf: LazyFrame) -> PolarsResult<DataFrame> {
    Ok(lf.collect_with_engine(Engine::Streaming)?.unwrap_single())
}

/// An `Asia/Almaty` zoned `Datetime(µs)` column from UTC microseconds.
pub fn almaty_datetimes(name: &str, v: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), v)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::from_chrono(&chrono_tz::Asia::Almaty)))
        .into_column()
}
