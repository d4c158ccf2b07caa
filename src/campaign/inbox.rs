//! The portal's reply files (`sms_replies`, SCHEMA.md) read into [`Reply`]s: a file whose
//! schema is broken is rejected whole; a row without a usable time or sender is
//! quarantined and counted, never dropped silently.

use super::Reply;
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// The sidecar of a reply file that states what it covers: `<stem>.manifest.json` beside
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
    #[error("{file}: cannot read the reply file")]
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

/// Replies of one file, and the rows that could not be read (row, reason).
pub struct RepliesFile {
    pub replies: Vec<Reply>,
    pub quarantined: Vec<(usize, String)>,
}

/// Reads a reply file: a broken schema rejects it whole; a row without a usable time or
/// sender is quarantined and counted.
pub fn read_replies(file: &Path) -> Result<RepliesFile, RepliesError> {
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
    let is_str = |d: &DataType| matches!(d, DataType::String);
    check("message_id", is_str, "str")?;
    check("phone", is_str, "str")?;
    check("text", is_str, "str")?;
    check("received_at", |d| matches!(d, DataType::Datetime(_, _) | DataType::String), "datetime or str")?;
    let received = match schema.get("received_at") {
        Some(DataType::Datetime(_, Some(_))) => col("received_at")
            .dt()
            .convert_time_zone(TimeZone::from_chrono(&chrono_tz::Asia::Almaty))
            .dt()
            .replace_time_zone(None, lit("raise"), NonExistent::Raise)
            .cast(DataType::Datetime(TimeUnit::Microseconds, None))
            .dt()
            .to_string("%Y-%m-%dT%H:%M:%S%.f"),
        Some(DataType::Datetime(_, None)) => col("received_at").dt().to_string("%Y-%m-%dT%H:%M:%S%.f"),
        _ => col("received_at"),
    };
    let df = lf
        .select([col("message_id"), col("phone"), col("text"), received.alias("received_at")])
        .collect()
        .map_err(unreadable)?;
    let s = |c: &str| df.column(c).and_then(|c| c.str().cloned()).map_err(unreadable);
    let (ids, phones, texts, times) = (s("message_id")?, s("phone")?, s("text")?, s("received_at")?);
    let mut out = RepliesFile { replies: vec![], quarantined: vec![] };
    for i in 0..df.height() {
        let time = times.get(i).and_then(crate::time::parse_instant);
        match (time, phones.get(i)) {
            (None, _) => {
                out.quarantined.push((i, format!("received_at {} is not a time", shape(times.get(i)))))
            }
            (Some(_), None) => out.quarantined.push((i, "phone is null".into())),
            (Some(t), Some(p)) => out.replies.push(Reply {
                message_id: ids.get(i).map(String::from),
                phone: p.to_string(),
                received_at: t,
                text: texts.get(i).unwrap_or("").to_string(),
            }),
        }
    }
    Ok(out)
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
    fn a_bad_cell_is_described_not_shown() {
        let s = super::shape(Some("+77011234567"));
        assert_eq!(s, "(a text of 12 characters: digits, other characters)");
        assert!(!s.contains("7011234567"));
        assert_eq!(super::shape(None), "(null)");
    }
}
