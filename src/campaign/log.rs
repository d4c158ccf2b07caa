//! The campaign's part of the case ledger: `<out>/ledger/campaign/<time>-<step>.parquet`,
//! one file per run of `dispatch` or `advance`, written atomically (a run killed at any
//! moment leaves the ledger as before it or as after it). Nothing is updated in place; a run
//! for the same time and step (a re-run) replaces its own file with the same rows, since it
//! reads only what came before it.

use super::{state::State, CaseEvent, Kind};
use chrono::NaiveDateTime;
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// The steps that write the ledger, in the order they run at one time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Dispatch,
    Advance,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Dispatch => "dispatch",
            Step::Advance => "advance",
        }
    }

    fn parse(s: &str) -> Option<Step> {
        [Step::Dispatch, Step::Advance].into_iter().find(|x| x.name() == s)
    }
}

const STAMP: &str = "%Y-%m-%dT%H-%M-%S";

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{path}: cannot read the campaign ledger")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: campaign ledger file is unreadable or has another schema")]
    Scan {
        path: PathBuf,
        #[source]
        source: PolarsError,
    },
    #[error("{path}: row {row}: {problem}")]
    Row { path: PathBuf, row: usize, problem: String },
    #[error("{path}: not a campaign ledger file name (<YYYY-MM-DDTHH-MM-SS>-<dispatch|advance>.parquet)")]
    Name { path: PathBuf },
    #[error("the ledger already has a run at {later} ({path}); a run at {at} would rewrite the past")]
    Later { at: NaiveDateTime, later: NaiveDateTime, path: PathBuf },
}

pub fn dir(out: &Path) -> PathBuf {
    out.join("ledger").join("campaign")
}

pub fn file(out: &Path, at: NaiveDateTime, step: Step) -> PathBuf {
    dir(out).join(format!("{}-{}.parquet", at.format(STAMP), step.name()))
}

fn parse_name(path: &Path) -> Result<(NaiveDateTime, Step), LogError> {
    let bad = || LogError::Name { path: path.to_path_buf() };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(bad)?;
    let stem = name.strip_suffix(".parquet").ok_or_else(bad)?;
    let (stamp, step) = stem.rsplit_once('-').ok_or_else(bad)?;
    let at = NaiveDateTime::parse_from_str(stamp, STAMP).map_err(|_| bad())?;
    Ok((at, Step::parse(step).ok_or_else(bad)?))
}

/// The ledger's files, in run order.
fn files(out: &Path) -> Result<Vec<((NaiveDateTime, Step), PathBuf)>, LogError> {
    let d = dir(out);
    let mut files = Vec::new();
    if !d.is_dir() {
        return Ok(files);
    }
    for entry in std::fs::read_dir(&d).map_err(|source| LogError::Read { path: d.clone(), source })? {
        let path = entry.map_err(|source| LogError::Read { path: d.clone(), source })?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        files.push((parse_name(&path)?, path));
    }
    files.sort();
    Ok(files)
}

/// The latest run the ledger holds, if any.
pub fn last_run(out: &Path) -> Result<Option<(NaiveDateTime, Step)>, LogError> {
    Ok(files(out)?.last().map(|(k, _)| *k))
}

/// Every event recorded by runs before (`at`, `step`). A later run in the ledger is an
/// error: the past is not rewritten.
pub fn read_before(out: &Path, at: NaiveDateTime, step: Step) -> Result<Vec<CaseEvent>, LogError> {
    let mut events = Vec::new();
    for (key, path) in files(out)? {
        if key > (at, step) {
            return Err(LogError::Later { at, later: key.0, path });
        }
        if key == (at, step) {
            continue;
        }
        events.extend(read_file(&path)?);
    }
    Ok(events)
}

/// Every event recorded so far.
pub fn read_all(out: &Path) -> Result<Vec<CaseEvent>, LogError> {
    let mut events = Vec::new();
    for (_, path) in files(out)? {
        events.extend(read_file(&path)?);
    }
    Ok(events)
}

fn read_file(path: &Path) -> Result<Vec<CaseEvent>, LogError> {
    let scan = |source| LogError::Scan { path: path.to_path_buf(), source };
    let df =
        LazyFrame::scan_parquet(PlRefPath::try_from_path(path).map_err(scan)?, ScanArgsParquet::default())
            .map_err(scan)?
            .sort(["seq"], SortMultipleOptions::default())
            .collect()
            .map_err(scan)?;
    let s = |name: &str| df.column(name).and_then(|c| c.str().cloned()).map_err(scan);
    let t = |name: &str| -> Result<Vec<Option<i64>>, LogError> {
        let c = df.column(name).map_err(scan)?.cast(&DataType::Int64).map_err(scan)?;
        Ok(c.i64().map_err(scan)?.iter().collect())
    };
    let (case, pilot, kind, state, message, phone, reply_id, text) = (
        s("case_id")?,
        s("pilot")?,
        s("kind")?,
        s("state_after")?,
        s("message_id")?,
        s("phone")?,
        s("reply_id")?,
        s("reply_text")?,
    );
    let (at, due) = (t("at")?, t("due_by")?);
    let send = df.column("send_no").map_err(scan)?.cast(&DataType::Int32).map_err(scan)?;
    let send = send.i32().map_err(scan)?;
    let time = |v: Option<i64>| v.and_then(chrono::DateTime::from_timestamp_micros).map(|d| d.naive_utc());
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let row = |problem: String| LogError::Row { path: path.to_path_buf(), row: i, problem };
        let k = kind.get(i).unwrap_or("");
        out.push(CaseEvent {
            case_id: case.get(i).map(String::from),
            pilot: pilot.get(i).map(String::from),
            kind: Kind::parse(k).ok_or_else(|| row(format!("unknown kind `{k}`")))?,
            state_after: match state.get(i) {
                None => None,
                Some(st) => Some(State::parse(st).ok_or_else(|| row(format!("unknown state `{st}`")))?),
            },
            at: time(at[i]).ok_or_else(|| row("`at` is null".into()))?,
            send_no: send.get(i).map(|v| v as u8),
            message_id: message.get(i).map(String::from),
            phone: phone.get(i).map(String::from),
            due_by: time(due[i]),
            reply_id: reply_id.get(i).map(String::from),
            reply_text: text.get(i).map(String::from),
        });
    }
    Ok(out)
}

/// The events of one run as a frame (the ledger file's layout).
pub fn frame(events: &[CaseEvent]) -> PolarsResult<DataFrame> {
    let micros = |t: NaiveDateTime| t.and_utc().timestamp_micros();
    let dt = |name: &str, v: Vec<Option<i64>>| {
        Int64Chunked::from_iter_options(name.into(), v.into_iter())
            .into_datetime(TimeUnit::Microseconds, None)
            .into_column()
    };
    let st = |name: &str, v: Vec<Option<String>>| Column::new(name.into(), v);
    DataFrame::new(
        events.len(),
        vec![
            Column::new("seq".into(), (0..events.len() as u32).collect::<Vec<_>>()),
            st("case_id", events.iter().map(|e| e.case_id.clone()).collect()),
            st("pilot", events.iter().map(|e| e.pilot.clone()).collect()),
            st("kind", events.iter().map(|e| Some(e.kind.code().to_string())).collect()),
            st("state_after", events.iter().map(|e| e.state_after.map(|s| s.code().to_string())).collect()),
            dt("at", events.iter().map(|e| Some(micros(e.at))).collect()),
            Column::new(
                "send_no".into(),
                events.iter().map(|e| e.send_no.map(i32::from)).collect::<Vec<_>>(),
            ),
            st("message_id", events.iter().map(|e| e.message_id.clone()).collect()),
            st("phone", events.iter().map(|e| e.phone.clone()).collect()),
            dt("due_by", events.iter().map(|e| e.due_by.map(micros)).collect()),
            st("reply_id", events.iter().map(|e| e.reply_id.clone()).collect()),
            st("reply_text", events.iter().map(|e| e.reply_text.clone()).collect()),
        ],
    )
}
