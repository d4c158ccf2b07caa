//! The campaign's part of the case ledger: `<out>/ledger/campaign/<time>-<step>.parquet`,
//! one file per run of `dispatch` or `advance`, written atomically (a run killed at any
//! moment leaves the ledger as before it or as after it). Nothing is updated in place; a run
//! for the same time and step (a re-run) replaces its own file with the same rows, since it
//! reads only what came before it.

use super::{state::State, CaseEvent, Kind};
use crate::layout;
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

    pub fn parse(s: &str) -> Option<Step> {
        [Step::Dispatch, Step::Advance].into_iter().find(|x| x.name() == s)
    }
}

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

/// The ledger file of the run of `step` at `at`.
pub fn file(out: &Path, at: NaiveDateTime, step: Step) -> PathBuf {
    layout::campaign_file(out, at, step.name())
}

fn parse_name(path: &Path) -> Result<(NaiveDateTime, Step), LogError> {
    layout::parse_campaign_file(path)
        .and_then(|(at, step)| Some((at, Step::parse(&step)?)))
        .ok_or_else(|| LogError::Name { path: path.to_path_buf() })
}

/// The ledger's files, in run order.
/// A ledger file: the run it records (time, step) and its path.
type LedgerFile = ((NaiveDateTime, Step), PathBuf);

fn files(out: &Path) -> Result<Vec<LedgerFile>, LogError> {
    let d = layout::campaign_dir(out);
    let mut files = Vec::new();
    for path in layout::visible_entries(&d).map_err(|source| LogError::Read { path: d.clone(), source })? {
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
    let mut paths = Vec::new();
    for (key, path) in files(out)? {
        if key > (at, step) {
            return Err(LogError::Later { at, later: key.0, path });
        }
        if key != (at, step) {
            paths.push(path);
        }
    }
    read_files(out, &paths)
}

/// Every event recorded so far.
pub fn read_all(out: &Path) -> Result<Vec<CaseEvent>, LogError> {
    let paths: Vec<PathBuf> = files(out)?.into_iter().map(|(_, p)| p).collect();
    read_files(out, &paths)
}

/// The events of these ledger files, in order: the compacted cache of the first ones
/// ([`crate::compact`]) and the files since, the cache rewritten when many files are beyond it.
fn read_files(out: &Path, paths: &[PathBuf]) -> Result<Vec<CaseEvent>, LogError> {
    let folder = layout::campaign_dir(out);
    let cached = crate::compact::lookup(&folder, "campaign", paths);
    let mut rows = cached.rows;
    let mut events = match cached.frame.map(|df| {
        df.sort(["seq"], SortMultipleOptions::default())
            .map_err(|source| LogError::Scan { path: folder.clone(), source })
            .and_then(|df| events_of(&df, &crate::compact::dir(&folder)))
    }) {
        Some(Ok(events)) => events,
        _ => {
            rows.clear();
            Vec::new()
        }
    };
    let covered = rows.len();
    for path in &paths[covered..] {
        let file = read_file(path)?;
        rows.push(file.len() as u64);
        events.extend(file);
    }
    crate::compact::store(&folder, "campaign", paths, &rows, covered, || frame(&events));
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
    events_of(&df, path)
}

/// The events of a ledger frame sorted by `seq` (`path`: where it was read, for errors).
fn events_of(df: &DataFrame, path: &Path) -> Result<Vec<CaseEvent>, LogError> {
    let scan = |source| LogError::Scan { path: path.to_path_buf(), source };
    let s = |name: &str| df.column(name).and_then(|c| c.str().cloned()).map_err(scan);
    // Columns added since the first ledgers (reason, other_case_id, permit_ids, next_phones,
    // new_permit_id): absent means empty.
    let added = |name: &str| -> Result<StringChunked, LogError> {
        match df.column(name) {
            Ok(c) => c.str().cloned().map_err(scan),
            Err(_) => Ok(StringChunked::full_null(name.into(), df.height())),
        }
    };
    let lists = |name: &str| -> Result<Vec<Vec<String>>, LogError> {
        let Ok(c) = df.column(name) else { return Ok(vec![vec![]; df.height()]) };
        let list = c.list().map_err(scan)?;
        let mut v = Vec::with_capacity(df.height());
        for i in 0..df.height() {
            v.push(match list.get_as_series(i) {
                Some(series) => series.str().map_err(scan)?.iter().flatten().map(String::from).collect(),
                None => vec![],
            });
        }
        Ok(v)
    };
    let (permits, next_phones) = (lists("permit_ids")?, lists("next_phones")?);
    let (reason, other, new_permit) = (added("reason")?, added("other_case_id")?, added("new_permit_id")?);
    let source = added("source")?;
    let t = |name: &str| -> Result<Vec<Option<NaiveDateTime>>, LogError> {
        crate::frames::wall_clock_times(df.column(name).map_err(scan)?).map_err(scan)
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
            at: at[i].ok_or_else(|| row("`at` is null".into()))?,
            send_no: send.get(i).map(|v| v as u8),
            message_id: message.get(i).map(String::from),
            phone: phone.get(i).map(String::from),
            due_by: due[i],
            reply_id: reply_id.get(i).map(String::from),
            reply_text: text.get(i).map(String::from),
            reason: reason.get(i).map(String::from),
            other_case_id: other.get(i).map(String::from),
            permit_ids: permits[i].clone(),
            next_phones: next_phones[i].clone(),
            new_permit_id: new_permit.get(i).map(String::from),
            source: source.get(i).map(String::from),
        });
    }
    Ok(out)
}

/// A list-of-strings column, null where the row's list is empty (`permit_ids`: the permits
/// of a request or an answer; `next_phones`: the numbers to try after an SMS).
fn string_lists(name: &str, events: &[CaseEvent], field: impl Fn(&CaseEvent) -> &Vec<String>) -> Column {
    let mut list = ListChunked::from_iter(
        events
            .iter()
            .map(|e| (!field(e).is_empty()).then(|| Series::new(PlSmallStr::EMPTY, field(e).clone()))),
    );
    list.rename(name.into());
    list.into_column()
        .cast(&DataType::List(Box::new(DataType::String)))
        .expect("a list of strings casts to itself")
}

/// The events of one run as a frame (the ledger file's layout).
pub fn frame(events: &[CaseEvent]) -> PolarsResult<DataFrame> {
    // Zoned Asia/Almaty, as every time sdu writes (files before it are naive wall clock;
    // both read the same).
    let dt = |name: &str, v: Vec<Option<NaiveDateTime>>| crate::frames::wall_clock_column(name, v);
    let st = |name: &str, v: Vec<Option<String>>| Column::new(name.into(), v);
    DataFrame::new(
        events.len(),
        vec![
            Column::new("seq".into(), (0..events.len() as u32).collect::<Vec<_>>()),
            st("case_id", events.iter().map(|e| e.case_id.clone()).collect()),
            st("pilot", events.iter().map(|e| e.pilot.clone()).collect()),
            st("kind", events.iter().map(|e| Some(e.kind.code().to_string())).collect()),
            st("state_after", events.iter().map(|e| e.state_after.map(|s| s.code().to_string())).collect()),
            dt("at", events.iter().map(|e| Some(e.at)).collect()),
            Column::new(
                "send_no".into(),
                events.iter().map(|e| e.send_no.map(i32::from)).collect::<Vec<_>>(),
            ),
            st("message_id", events.iter().map(|e| e.message_id.clone()).collect()),
            st("phone", events.iter().map(|e| e.phone.clone()).collect()),
            dt("due_by", events.iter().map(|e| e.due_by).collect()),
            st("reply_id", events.iter().map(|e| e.reply_id.clone()).collect()),
            st("reply_text", events.iter().map(|e| e.reply_text.clone()).collect()),
            st("reason", events.iter().map(|e| e.reason.clone()).collect()),
            st("other_case_id", events.iter().map(|e| e.other_case_id.clone()).collect()),
            string_lists("permit_ids", events, |e| &e.permit_ids),
            string_lists("next_phones", events, |e| &e.next_phones),
            st("new_permit_id", events.iter().map(|e| e.new_permit_id.clone()).collect()),
            st("source", events.iter().map(|e| e.source.clone()).collect()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ledger files are written zoned (Asia/Almaty); files written before that hold naive
    /// wall-clock times. Both read as the same events.
    #[test]
    fn zoned_and_naive_ledger_files_read_the_same() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let mut sent = CaseEvent::new(Kind::SmsSent, at("2025-09-02 09:00:00"));
        sent.due_by = Some(at("2025-09-05 09:00:00"));
        let events = vec![sent, CaseEvent::new(Kind::TimedOut, at("2024-02-29 23:30:00"))];
        let zoned = frame(&events).unwrap();
        assert_eq!(zoned.column("at").unwrap().dtype().to_string(), "datetime[μs, Asia/Almaty]");
        // The older layout: the same wall-clock times, naive.
        let naive_of = |name: &str| {
            let times = crate::frames::wall_clock_times(zoned.column(name).unwrap()).unwrap();
            Int64Chunked::from_iter_options(
                name.into(),
                times.into_iter().map(|t| t.map(|t| t.and_utc().timestamp_micros())),
            )
            .into_datetime(TimeUnit::Microseconds, None)
            .into_column()
        };
        let mut naive = zoned.clone();
        naive.with_column(naive_of("at")).unwrap();
        naive.with_column(naive_of("due_by")).unwrap();
        let path = Path::new("ledger.parquet");
        let (a, b) = (events_of(&zoned, path).unwrap(), events_of(&naive, path).unwrap());
        assert!(a == events && b == events, "{a:?}\n{b:?}");
    }
}
