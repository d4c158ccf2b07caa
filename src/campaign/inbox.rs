//! The files the portal and e-license give an advance, read into [`Reply`]s, [`Delivery`]
//! reports and [`Confirmation`]s (docs/outputs.md, "Inputs of `advance`"): a file whose
//! schema is broken is rejected whole; a row without a usable time, sender, status or id is
//! quarantined and counted, never dropped silently.

use super::{Confirmation, Delivery, DeliveryStatus, Reply};
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// The sidecar of an input file that states what it covers: `<stem>.manifest.json` beside
/// `<stem>.parquet`, `{"complete_until": "2026-03-05T09:00:00+05:00"}`: every reply received
/// up to that instant is in the file (or in an earlier one).
pub fn manifest_path(file: &Path) -> PathBuf {
    file.with_extension("manifest.json")
}

/// The `complete_until` watermark of a reply file, if its sidecar states one.
pub fn complete_until(file: &Path) -> Result<Option<chrono::NaiveDateTime>, RepliesError> {
    let path = manifest_path(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RepliesError::Manifest { file: path, problem: e.to_string() }),
    };
    let bad = |problem: String| RepliesError::Manifest { file: path.clone(), problem };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let value = json
        .get("complete_until")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("no `complete_until` string".into()))?;
    crate::time::parse_instant(value)
        .map(Some)
        .ok_or_else(|| bad(format!("`complete_until` {value:?} is not an RFC 3339 time")))
}

#[derive(Debug, thiserror::Error)]
pub enum RepliesError {
    #[error("{file}: {problem} (expected {{\"complete_until\": \"2026-03-05T09:00:00+05:00\"}})")]
    Manifest { file: PathBuf, problem: String },
    #[error("{file}: cannot read the file")]
    Unreadable {
        file: PathBuf,
        #[source]
        source: PolarsError,
    },
    #[error("{file}: column `{column}` is missing (expected {expected})")]
    Missing { file: PathBuf, column: &'static str, expected: &'static str },
    #[error("{file}: column `{column}` has type {found}, expected {expected}")]
    Type { file: PathBuf, column: &'static str, expected: &'static str, found: String },
}

/// The rows of one input file, and the rows that could not be read (row, reason).
pub struct InputFile<T> {
    pub rows: Vec<T>,
    pub quarantined: Vec<(usize, String)>,
}

/// Replies of one file.
pub type RepliesFile = InputFile<Reply>;

/// A file's string columns (the time column as text, converted to Asia/Almaty): its
/// schema checked, every column named present with the type expected (an `optional` one
/// may be absent: then null).
fn read_columns(
    file: &Path,
    strings: &[&'static str],
    optional: &[&'static str],
    time: &'static str,
) -> Result<DataFrame, RepliesError> {
    let unreadable = |source| RepliesError::Unreadable { file: file.to_path_buf(), source };
    let mut lf = LazyFrame::scan_parquet(
        PlRefPath::try_from_path(file).map_err(unreadable)?,
        ScanArgsParquet::default(),
    )
    .map_err(unreadable)?;
    let schema = lf.collect_schema().map_err(unreadable)?;
    let check = |column: &'static str,
                 ok: fn(&DataType) -> bool,
                 expected: &'static str|
     -> Result<(), RepliesError> {
        match schema.get(column) {
            None => Err(RepliesError::Missing { file: file.to_path_buf(), column, expected }),
            Some(dt) if !ok(dt) => {
                Err(RepliesError::Type { file: file.to_path_buf(), column, expected, found: dt.to_string() })
            }
            Some(_) => Ok(()),
        }
    };
    for c in strings.iter().chain(optional.iter().filter(|c| schema.contains(c))) {
        check(c, |d| matches!(d, DataType::String | DataType::Null), "str")?;
    }
    check(time, |d| matches!(d, DataType::Datetime(_, _) | DataType::String), "datetime or str")?;
    let at = match schema.get(time) {
        Some(DataType::Datetime(_, Some(_))) => col(time)
            .dt()
            .convert_time_zone(TimeZone::from_chrono(&chrono_tz::Asia::Almaty))
            .dt()
            .replace_time_zone(None, lit("raise"), NonExistent::Raise)
            .cast(DataType::Datetime(TimeUnit::Microseconds, None))
            .dt()
            .to_string("%Y-%m-%dT%H:%M:%S%.f"),
        Some(DataType::Datetime(_, None)) => col(time).dt().to_string("%Y-%m-%dT%H:%M:%S%.f"),
        _ => col(time),
    };
    let mut select: Vec<Expr> = strings.iter().map(|c| col(*c).cast(DataType::String)).collect();
    for c in optional {
        let e = if schema.contains(c) { col(*c) } else { lit(NULL) };
        select.push(e.cast(DataType::String).alias(*c));
    }
    select.push(at.alias(time));
    lf.select(select).collect().map_err(unreadable)
}

fn strs(file: &Path, df: &DataFrame, c: &str) -> Result<StringChunked, RepliesError> {
    df.column(c)
        .and_then(|c| c.str().cloned())
        .map_err(|source| RepliesError::Unreadable { file: file.to_path_buf(), source })
}

/// Reads a reply file (`sms_replies`): a broken schema rejects it whole; a row without a
/// usable time or sender is quarantined and counted.
pub fn read_replies(file: &Path) -> Result<RepliesFile, RepliesError> {
    let df = read_columns(file, &["message_id", "phone", "text"], &["source"], "received_at")?;
    let s = |c: &str| strs(file, &df, c);
    let (ids, phones, texts, times) = (s("message_id")?, s("phone")?, s("text")?, s("received_at")?);
    let sources = s("source")?;
    let mut out = InputFile { rows: vec![], quarantined: vec![] };
    for i in 0..df.height() {
        let time = times.get(i).and_then(crate::time::parse_instant);
        match (time, phones.get(i)) {
            (None, _) => {
                out.quarantined.push((i, format!("received_at {} is not a time", shape(times.get(i)))))
            }
            (Some(_), None) => out.quarantined.push((i, "phone is null".into())),
            // A cell that is not a number (letters, 12 digits and more) is not kept anywhere:
            // it may hold anything, an IIN included.
            (Some(_), Some(p)) if !is_phone_like(p) => {
                out.quarantined.push((i, format!("phone {} is not a phone number", shape(Some(p)))))
            }
            (Some(t), Some(p)) => out.rows.push(Reply {
                message_id: ids.get(i).map(String::from),
                phone: p.to_string(),
                received_at: t,
                text: texts.get(i).unwrap_or("").to_string(),
                source: sources.get(i).map(String::from),
            }),
        }
    }
    Ok(out)
}

/// Reads a delivery report file (`sms_delivery`: `message_id`, `status` delivered | failed |
/// expired, `reported_at`): a row without a message id, a known status or a time is
/// quarantined and counted.
pub fn read_deliveries(file: &Path) -> Result<InputFile<Delivery>, RepliesError> {
    let df = read_columns(file, &["message_id", "status"], &["source"], "reported_at")?;
    let s = |c: &str| strs(file, &df, c);
    let (ids, statuses, times, sources) = (s("message_id")?, s("status")?, s("reported_at")?, s("source")?);
    let mut out = InputFile { rows: vec![], quarantined: vec![] };
    for i in 0..df.height() {
        let time = times.get(i).and_then(crate::time::parse_instant);
        let status = statuses.get(i).and_then(DeliveryStatus::parse);
        match (ids.get(i), status, time) {
            (None, _, _) => out.quarantined.push((i, "message_id is null".into())),
            (_, None, _) => out
                .quarantined
                .push((i, format!("status {} is not delivered, failed or expired", shape(statuses.get(i))))),
            (_, _, None) => {
                out.quarantined.push((i, format!("reported_at {} is not a time", shape(times.get(i)))))
            }
            (Some(m), Some(status), Some(t)) => {
                let source = sources.get(i).map(String::from);
                out.rows.push(Delivery { message_id: m.to_string(), status, reported_at: t, source })
            }
        }
    }
    Ok(out)
}

/// Reads e-license's answers (`reissue_confirmations`: `request_id`, `status` reissued |
/// refused, `new_permit_id` when re-issued, `reason` when refused, `answered_at`): a row
/// without a request id, a known status, the new permit's number of a re-issue or a time is
/// quarantined and counted.
pub fn read_confirmations(file: &Path) -> Result<InputFile<Confirmation>, RepliesError> {
    let df =
        read_columns(file, &["request_id", "status"], &["new_permit_id", "reason", "source"], "answered_at")?;
    let s = |c: &str| strs(file, &df, c);
    let (ids, statuses, new, reasons, times) =
        (s("request_id")?, s("status")?, s("new_permit_id")?, s("reason")?, s("answered_at")?);
    let sources = s("source")?;
    let mut out = InputFile { rows: vec![], quarantined: vec![] };
    for i in 0..df.height() {
        let Some(time) = times.get(i).and_then(crate::time::parse_instant) else {
            out.quarantined.push((i, format!("answered_at {} is not a time", shape(times.get(i)))));
            continue;
        };
        let Some(id) = ids.get(i) else {
            out.quarantined.push((i, "request_id is null".into()));
            continue;
        };
        let result = match (statuses.get(i).map(|s| s.trim().to_lowercase()).as_deref(), new.get(i)) {
            (Some("reissued"), Some(n)) if !n.trim().is_empty() => Ok(n.trim().to_string()),
            (Some("reissued"), _) => {
                out.quarantined.push((i, "status reissued without a new_permit_id".into()));
                continue;
            }
            (Some("refused"), _) => Err(reasons.get(i).unwrap_or("not given").to_string()),
            _ => {
                out.quarantined
                    .push((i, format!("status {} is not reissued or refused", shape(statuses.get(i)))));
                continue;
            }
        };
        let source = sources.get(i).map(String::from);
        out.rows.push(Confirmation { request_id: id.to_string(), result, answered_at: time, source });
    }
    Ok(out)
}

/// A phone number as the portal may write it: digits with `+`, spaces, dashes or brackets,
/// 10 or 11 digits (`+7 701 123 45 67`, `87011234567`, `7011234567`).
fn is_phone_like(cell: &str) -> bool {
    let digits = cell.chars().filter(|c| c.is_ascii_digit()).count();
    cell.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)) && (10..=11).contains(&digits)
}

/// What a cell that failed looks like, without its value (a malformed cell may hold a phone
/// number or a message): its length and the kinds of characters in it.
fn shape(cell: Option<&str>) -> String {
    let Some(v) = cell else { return "(null)".into() };
    let kinds: Vec<&str> = [
        (v.chars().any(|c| c.is_ascii_digit()), "digits"),
        (v.chars().any(|c| c.is_alphabetic()), "letters"),
        (v.chars().any(|c| !c.is_alphanumeric()), "other characters"),
    ]
    .into_iter()
    .filter_map(|(has, kind)| has.then_some(kind))
    .collect();
    format!(
        "(a text of {} characters: {})",
        v.chars().count(),
        if kinds.is_empty() { "empty".into() } else { kinds.join(", ") }
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_phone_numbers_are_phones() {
        for ok in ["+77011234567", "8 701 123 45 67", "7011234567", "+7 (701) 123-45-67"] {
            assert!(super::is_phone_like(ok), "{ok}");
        }
        for bad in
            ["abc+7 701 ИИН820701400068", "820701400068", "+7701123456789", "", "701-12", "+7701123456x"]
        {
            assert!(!super::is_phone_like(bad), "{bad}");
        }
    }

    #[test]
    fn a_bad_cell_is_described_not_shown() {
        let s = super::shape(Some("+77011234567"));
        assert_eq!(s, "(a text of 12 characters: digits, other characters)");
        assert!(!s.contains("7011234567"));
        assert_eq!(super::shape(None), "(null)");
    }
}
