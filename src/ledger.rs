//! The durable memory of cases under the output folder, shared by the candidate lists and
//! the campaign: `<out>/ledger/offers/<pilot>/<as-of>.parquet` holds the cases a run offered
//! for a pilot on that date. A case (pilot + event + recipient) offered on an earlier date is never offered
//! again; re-running a date rewrites that date's file with the same rows, so runs stay
//! idempotent.

use crate::pipeline::columns as c;
use chrono::NaiveDate;
use polars::prelude::*;
use std::path::{Path, PathBuf};

pub const OFFERED_ON: &str = "offered_on";

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{path}: cannot read the ledger")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: ledger file is unreadable or has another schema")]
    Scan {
        path: PathBuf,
        #[source]
        source: PolarsError,
    },
    #[error("{path}: ledger file name is not a date (YYYY-MM-DD.parquet)")]
    Name { path: PathBuf },
}

pub fn offers_dir(out: &Path, pilot: &str) -> PathBuf {
    out.join("ledger").join("offers").join(pilot)
}

pub fn offers_file(out: &Path, pilot: &str, as_of: NaiveDate) -> PathBuf {
    offers_dir(out, pilot).join(format!("{as_of}.parquet"))
}

/// The columns of an offers file.
pub fn offers_schema() -> Schema {
    Schema::from_iter([
        Field::new(c::CASE_ID.into(), DataType::String),
        Field::new(c::PILOT.into(), DataType::String),
        Field::new(c::EVENT_ID.into(), DataType::String),
        Field::new(c::BIN.into(), DataType::String),
        Field::new(c::IIN.into(), DataType::String),
        Field::new(OFFERED_ON.into(), DataType::Date),
    ])
}

/// Cases of a pilot offered before `as_of`: `case_id` and the first date it was offered on.
pub fn offered_before(out: &Path, pilot: &str, as_of: NaiveDate) -> Result<LazyFrame, LedgerError> {
    let dir = offers_dir(out, pilot);
    let mut frames = Vec::new();
    if dir.is_dir() {
        let entries =
            std::fs::read_dir(&dir).map_err(|source| LedgerError::Read { path: dir.clone(), source })?;
        let mut files: Vec<(NaiveDate, PathBuf)> = Vec::new();
        for entry in entries {
            let path = entry.map_err(|source| LedgerError::Read { path: dir.clone(), source })?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.starts_with('.') || !name.ends_with(".parquet") {
                continue;
            }
            let day = NaiveDate::parse_from_str(name.trim_end_matches(".parquet"), "%Y-%m-%d")
                .map_err(|_| LedgerError::Name { path: path.clone() })?;
            if day < as_of {
                files.push((day, path));
            }
        }
        files.sort();
        for (_, path) in files {
            let scan = |source| LedgerError::Scan { path: path.clone(), source };
            let pl = PlRefPath::try_from_path(&path).map_err(scan)?;
            let lf = LazyFrame::scan_parquet(pl, ScanArgsParquet::default()).map_err(scan)?;
            frames.push(lf.select([col(c::CASE_ID), col(OFFERED_ON)]));
        }
    }
    let all = if frames.is_empty() {
        DataFrame::empty_with_schema(&offers_schema()).lazy().select([col(c::CASE_ID), col(OFFERED_ON)])
    } else {
        concat(frames, UnionArgs::default())
            .map_err(|source| LedgerError::Scan { path: dir.clone(), source })?
    };
    Ok(all.group_by([col(c::CASE_ID)]).agg([col(OFFERED_ON).min()]))
}
