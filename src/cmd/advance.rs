//! `sdu advance`: replies and deadlines up to a time (seed 000, §12–§15).

use super::campaign_common::{load, parse_time};
use crate::campaign::{files, log, log::Step, Kind, Reply};
use crate::config::load_pilots;
use crate::io;
use crate::publish::{InputEntry, Manifest, RunFolder};
use anyhow::Context;
use chrono::NaiveDateTime;
use polars::prelude::*;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Read the portal's replies and the clock: decisions, resends, timeouts.
///
/// Replies are matched by message id, or by phone to the open case texted last. The first
/// valid reply decides; invalid ones are counted, late ones recorded. 72 hours (the pilot's
/// window) after the first SMS without a decision the second goes out; 72 hours after it,
/// the case times out. Accepted cases become e-license re-issue requests.
///
/// Example:
///   sdu advance --out out --as-of 2026-11-26T09:00 --replies replies.parquet
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Where the run folders and the case ledger live.
    #[arg(long)]
    pub out: PathBuf,
    /// The time to advance to: YYYY-MM-DDTHH:MM (Asia/Almaty), or a date for 09:00.
    #[arg(long, value_parser = parse_time)]
    pub as_of: NaiveDateTime,
    /// Reply files from the portal (sms_replies.parquet, SCHEMA.md).
    #[arg(long = "replies", value_name = "FILE", num_args = 0..)]
    pub replies: Vec<PathBuf>,
    /// Pilots file [default: the embedded data/pilots.toml].
    #[arg(long, value_name = "FILE")]
    pub pilots: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum RepliesError {
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
        let time = times.get(i).and_then(|t| {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(t.trim(), f).ok())
        });
        match (time, phones.get(i)) {
            (None, _) => out
                .quarantined
                .push((i, format!("received_at `{}` is not a time", times.get(i).unwrap_or("null")))),
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

pub fn run(args: Args) -> anyhow::Result<()> {
    let pilots = load_pilots(args.pilots.as_deref()).map_err(|e| super::UsageError(format!("{e:#}")))?;
    for f in &args.replies {
        if !f.is_file() {
            return Err(super::UsageError(format!("{}: reply file not found", f.display())).into());
        }
    }
    println!("{}", execute(&args.out, args.as_of, &args.replies, &pilots)?);
    Ok(())
}

/// Advances to `at`; returns a one-line summary.
pub fn execute(
    out: &Path,
    at: NaiveDateTime,
    reply_files: &[PathBuf],
    pilots: &[crate::config::Pilot],
) -> anyhow::Result<String> {
    let started = chrono::Utc::now();
    let mut replies = Vec::new();
    let mut quarantine = Vec::new();
    let mut inputs = Vec::new();
    for f in reply_files {
        let r = read_replies(f).with_context(|| "reading replies".to_string())?;
        inputs.push(InputEntry {
            file: f.display().to_string(),
            sha256: io::sha256_file(f)?,
            rows: (r.replies.len() + r.quarantined.len()) as u64,
            left_out: r.quarantined.len() as u64,
        });
        for (row, why) in &r.quarantined {
            tracing::warn!("{}: row {row}: {why}; quarantined", f.display());
            quarantine.push((f.display().to_string(), *row as u32, why.clone()));
        }
        replies.extend(r.replies);
    }
    let mut campaign = load(out, pilots, at, Step::Advance)?;
    let (events, sms, counts) = campaign.advance(&replies, at)?;
    let mut outbox = files::outbox(&campaign, &sms, pilots)?;
    let (mut requests, mut writeback) = files::reissues(&campaign, &events)?;
    let mut quarantined = DataFrame::new(
        quarantine.len(),
        vec![
            Column::new("file".into(), quarantine.iter().map(|q| q.0.clone()).collect::<Vec<_>>()),
            Column::new("row_index".into(), quarantine.iter().map(|q| q.1).collect::<Vec<_>>()),
            Column::new("reason".into(), quarantine.iter().map(|q| q.2.clone()).collect::<Vec<_>>()),
        ],
    )?;
    let timed_out = events.iter().filter(|e| e.kind == Kind::TimedOut).count();
    let target = out.join(at.date().to_string()).join(format!("advance-{}", at.format("%H%M")));
    let mut folder = RunFolder::new(&target)?;
    folder.parquet("sms_outbox.parquet", &mut outbox)?;
    folder.csv("sms_outbox.csv", &outbox)?;
    folder.parquet("elicense_requests.parquet", &mut requests)?;
    folder.parquet("sdu_writeback.parquet", &mut writeback)?;
    folder.parquet("replies_quarantine.parquet", &mut quarantined)?;
    let summary = json!({
        "as_of": at.to_string(),
        "replies": counts,
        "quarantined": quarantine.len(),
        "second_sms": sms.len(),
        "timed_out": timed_out,
        "reissue_requests": requests.height(),
    });
    folder.json("advance.json", &summary, 1)?;
    folder.publish(Manifest::new(started, at.to_string(), None, String::new(), inputs))?;
    io::fail_point("advance:before-ledger")?;
    // A run that changed nothing leaves no file (and a re-run that now changes nothing
    // removes the one it wrote before).
    io::write_or_remove(&mut log::frame(&events)?, &log::file(out, at, Step::Advance))?;
    Ok(format!(
        "advanced to {at}: {} replies ({} accept, {} decline, {} invalid, {} late, {} unmatched, {} already recorded, {} quarantined), {} second SMS, {timed_out} timed out, {} re-issue requests → {}",
        counts.received,
        counts.accept,
        counts.decline,
        counts.invalid,
        counts.late,
        counts.unmatched,
        counts.already_recorded,
        quarantine.len(),
        sms.len(),
        requests.height(),
        target.display()
    ))
}
