//! `sdu run`: the day's work in one process: candidates → dispatch → advance → report, for
//! every pilot in force, reading each registry once, under a lock on the output folder.

use super::args::{GuardArgs, JsonArg, KeyArg, OutArg, PilotsArg, RepliesArg, SnapshotArg};
use crate::jobs::day::Runner;
use crate::jobs::stage::StagedSnapshot;
use crate::time::parse_date;
use chrono::NaiveDate;

/// Do one day's work: candidates, dispatch, advance (with the day's replies) and the report.
///
/// A run interrupted at any step can be run again: finished steps are not repeated and
/// nothing is duplicated. Exit codes: 0 ok, 1 runtime failure (including a lock held by
/// another run), 2 usage or configuration error.
///
/// Example:
///   sdu run --snapshot data/worlds/small --as-of 2026-11-23 --out out --replies replies.parquet
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub snapshot: SnapshotArg,
    /// The day (YYYY-MM-DD, Asia/Almaty). SMS go out and replies are read up to 09:00.
    #[arg(long, value_parser = parse_date, env = "SDU_AS_OF")]
    pub as_of: NaiveDate,
    #[command(flatten)]
    pub out: OutArg,
    #[command(flatten)]
    pub replies: RepliesArg,
    /// Skip the KPI report.
    #[arg(long, env = "SDU_RUN_NO_REPORT", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub no_report: bool,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub json: JsonArg,
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub pilots: PilotsArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let pilots = args.pilots.load()?;
    // A portal file that has not arrived stops only the advance: the day's candidates and
    // first SMS do not depend on it, and deciding without it could time out a case whose
    // reply is in it. The run then fails (exit 1) so the scheduler says so.
    let missing = args.replies.missing();
    let replies = if missing.is_empty() { args.replies.resolve()? } else { Default::default() };
    let snapshot = args.snapshot.open_staged(&args.out.out)?;
    let out = args.out.open_beside(&args.snapshot)?;
    let guard = args.guard.guard(&out.path)?;
    let mut runner = Runner::new(StagedSnapshot::open(snapshot, false, &guard)?, pilots, &out.path);
    runner.replies = args.replies.options();
    runner.pseudonym = args.key.resolve()?;
    runner.defer_advance = (!missing.is_empty()).then(|| missing.join("; "));
    let summary = runner.day(args.as_of, &replies, !args.no_report)?;
    match &summary.advance_deferred {
        Some(why) => Err(args.json.fail(&summary, |s| s.lines(), format!(
            "{why}: candidates and dispatch ran; the advance waits for the portal's files (run the day again with them)"
        ))),
        None => args.json.print(&summary, |s| s.lines()),
    }
}
