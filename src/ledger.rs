//! The durable memory of cases under the output folder, shared by the candidate lists and
//! the campaign: `<out>/ledger/offers/<pilot>/<as-of>.parquet` ([`layout::offers_file`]) holds the cases a run offered
//! for a pilot on that date. A case (pilot + event + recipient) offered on an earlier date is never offered
//! again; re-running a date rewrites that date's file with the same rows, so runs stay
//! idempotent.

use crate::layout;
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

/// The columns of an offers file.
pub fn offers_schema() -> Schema {
    Schema::from_iter([
        Field::new(c::CASE_ID.into(), DataType::String),
        Field::new(c::PILOT.into(), DataType::String),
        Field::new(c::EVENT_ID.into(), DataType::String),
        Field::new(c::BIN.into(), DataType::String),
        Field::new(c::IIN.into(), DataType::String),
        Field::new(OFFERED_ON.into(), DataType::Date),
        Field::new(c::CHANGED_ON.into(), DataType::Date),
        Field::new(c::OLD_NAME_KK.into(), DataType::String),
        Field::new(c::OLD_NAME_RU.into(), DataType::String),
        Field::new(c::NEW_NAME_KK.into(), DataType::String),
        Field::new(c::NEW_NAME_RU.into(), DataType::String),
        Field::new(c::PERMIT_IDS.into(), DataType::List(Box::new(DataType::String))),
        Field::new(c::PERMIT_SERVICES.into(), DataType::List(Box::new(DataType::String))),
    ])
}

/// Every offer of every pilot on or before `as_of`, one row per case (its first offer).
pub fn offers_until(out: &Path, as_of: NaiveDate) -> Result<DataFrame, LedgerError> {
    let root = layout::offers_root(out);
    let mut frames = Vec::new();
    let pilots =
        layout::visible_entries(&root).map_err(|source| LedgerError::Read { path: root.clone(), source })?;
    for dir in pilots {
        let files: Vec<PathBuf> =
            dated_files(&dir)?.into_iter().filter(|(day, _)| *day <= as_of).map(|(_, p)| p).collect();
        frames.extend(pilot_offers(&dir, &files)?);
    }
    let all = if frames.is_empty() {
        DataFrame::empty_with_schema(&offers_schema()).lazy()
    } else {
        concat(frames, UnionArgs::default())
            .map_err(|source| LedgerError::Scan { path: root.clone(), source })?
    };
    all.sort([OFFERED_ON, c::CASE_ID], SortMultipleOptions::default())
        .unique_stable(Some(cols([c::CASE_ID])), UniqueKeepStrategy::First)
        .collect()
        .map_err(|source| LedgerError::Scan { path: root, source })
}

/// A pilot's offers files (its first files, in date order) as frames: the compacted cache of
/// the first ones ([`crate::compact`]) and the files since; the cache is rewritten when many
/// files are beyond it.
fn pilot_offers(dir: &Path, files: &[PathBuf]) -> Result<Vec<LazyFrame>, LedgerError> {
    let cached = crate::compact::lookup(dir, "offers", files);
    let mut rows = cached.rows;
    let covered = rows.len();
    let mut frames: Vec<LazyFrame> = cached.frame.map(DataFrame::lazy).into_iter().collect();
    for path in &files[covered..] {
        let df = scan(path)?.collect().map_err(|source| LedgerError::Scan { path: path.clone(), source })?;
        rows.push(df.height() as u64);
        frames.push(df.lazy());
    }
    if !frames.is_empty() {
        let all = frames.clone();
        crate::compact::store(dir, "offers", files, &rows, covered, || {
            concat(all, UnionArgs::default())?.collect()
        });
    }
    Ok(frames)
}

fn scan(path: &Path) -> Result<LazyFrame, LedgerError> {
    let err = |source| LedgerError::Scan { path: path.to_path_buf(), source };
    let pl = PlRefPath::try_from_path(path).map_err(err)?;
    let mut lf = LazyFrame::scan_parquet(pl, ScanArgsParquet::default()).map_err(err)?;
    // Offers recorded before `changed_on` was kept read as null there.
    if lf.collect_schema().map_err(err)?.get(c::CHANGED_ON).is_none() {
        lf = lf.with_column(lit(NULL).cast(DataType::Date).alias(c::CHANGED_ON));
    }
    let columns: Vec<Expr> = offers_schema().iter_names().map(|n| col(n.clone())).collect();
    Ok(lf.select(columns))
}

/// The `YYYY-MM-DD.parquet` files of a folder, by date.
fn dated_files(dir: &Path) -> Result<Vec<(NaiveDate, PathBuf)>, LedgerError> {
    let mut files = Vec::new();
    let entries = layout::visible_entries(dir)
        .map_err(|source| LedgerError::Read { path: dir.to_path_buf(), source })?;
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !name.ends_with(".parquet") {
            continue;
        }
        let day = NaiveDate::parse_from_str(name.trim_end_matches(".parquet"), "%Y-%m-%d")
            .map_err(|_| LedgerError::Name { path: path.clone() })?;
        files.push((day, path));
    }
    files.sort();
    Ok(files)
}

/// The latest date any pilot's offers file holds, if any.
pub fn last_offer_day(out: &Path) -> Result<Option<NaiveDate>, LedgerError> {
    let root = layout::offers_root(out);
    let pilots =
        layout::visible_entries(&root).map_err(|source| LedgerError::Read { path: root.clone(), source })?;
    let mut last = None;
    for dir in pilots {
        last = last.max(dated_files(&dir)?.last().map(|(d, _)| *d));
    }
    Ok(last)
}

/// Cases of a pilot offered before `as_of`: `case_id` and the first date it was offered on.
pub fn offered_before(out: &Path, pilot: &str, as_of: NaiveDate) -> Result<LazyFrame, LedgerError> {
    let dir = layout::offers_dir(out, pilot);
    let files: Vec<PathBuf> =
        dated_files(&dir)?.into_iter().filter(|(day, _)| *day < as_of).map(|(_, p)| p).collect();
    let frames: Vec<LazyFrame> = pilot_offers(&dir, &files)?
        .into_iter()
        .map(|f| f.select([col(c::CASE_ID), col(OFFERED_ON)]))
        .collect();
    let all = if frames.is_empty() {
        DataFrame::empty_with_schema(&offers_schema()).lazy().select([col(c::CASE_ID), col(OFFERED_ON)])
    } else {
        concat(frames, UnionArgs::default())
            .map_err(|source| LedgerError::Scan { path: dir.clone(), source })?
    };
    Ok(all.group_by([col(c::CASE_ID)]).agg([col(OFFERED_ON).min()]))
}

/// The offers frame as cases for the campaign.
pub fn to_offers(df: &DataFrame) -> PolarsResult<Vec<crate::campaign::Offer>> {
    let s = |name: &str| df.column(name).and_then(|c| c.str().cloned());
    let l = |name: &str, i: usize| -> PolarsResult<Vec<String>> {
        Ok(match df.column(name)?.list()?.get_as_series(i) {
            Some(series) => series.str()?.iter().flatten().map(String::from).collect(),
            None => vec![],
        })
    };
    let (case, pilot, event, bin, iin) =
        (s(c::CASE_ID)?, s(c::PILOT)?, s(c::EVENT_ID)?, s(c::BIN)?, s(c::IIN)?);
    let (okk, oru, nkk, nru) =
        (s(c::OLD_NAME_KK)?, s(c::OLD_NAME_RU)?, s(c::NEW_NAME_KK)?, s(c::NEW_NAME_RU)?);
    let on = df.column(OFFERED_ON)?.cast(&DataType::Int32)?;
    let on = on.i32()?;
    let changed = df.column(c::CHANGED_ON)?.cast(&DataType::Int32)?;
    let changed = changed.i32()?;
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        out.push(crate::campaign::Offer {
            case_id: case.get(i).unwrap_or_default().to_string(),
            pilot: pilot.get(i).unwrap_or_default().to_string(),
            event_id: event.get(i).unwrap_or_default().to_string(),
            bin: bin.get(i).map(String::from),
            iin: iin.get(i).unwrap_or_default().to_string(),
            offered_on: crate::time::date(on.get(i).unwrap_or(0)),
            changed_on: changed.get(i).map(crate::time::date),
            old_name_kk: okk.get(i).map(String::from),
            old_name_ru: oru.get(i).map(String::from),
            new_name_kk: nkk.get(i).map(String::from),
            new_name_ru: nru.get(i).map(String::from),
            permit_ids: l(c::PERMIT_IDS, i)?,
            permit_services: l(c::PERMIT_SERVICES, i)?,
        });
    }
    Ok(out)
}
