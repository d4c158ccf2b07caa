//! `sdu dispatch`: the first SMS of every offered case not yet dispatched (seed 000, §9–§11).

use super::args::{GuardArgs, JsonArg, OutArg, PilotsArg, SnapshotArg};
use crate::jobs::dispatch::dispatch;
use crate::time::parse_date;
use chrono::{NaiveDate, NaiveTime};

/// Put the first SMS of every offered case into the portal's outbox.
///
/// Looks up each recipient's latest active number in МАБ; a case without one ends as
/// `no_mobile` (or the pilot's routing). Publishes `<out>/<as-of>/dispatch/` atomically and
/// records every case's step in the ledger.
///
/// Example:
///   sdu dispatch --snapshot data/worlds/small --as-of 2026-11-23 --out out
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub snapshot: SnapshotArg,
    /// The day to send (YYYY-MM-DD); SMS go out at --send-at, Asia/Almaty.
    #[arg(long, value_parser = parse_date, env = "SDU_AS_OF")]
    pub as_of: NaiveDate,
    #[command(flatten)]
    pub out: OutArg,
    /// Local time the SMS go out.
    #[arg(long, default_value = "09:00", value_parser = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").map_err(|e| e.to_string()), env = "SDU_DISPATCH_SEND_AT")]
    pub send_at: NaiveTime,
    #[command(flatten)]
    pub pilots: PilotsArg,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let snapshot = args.snapshot.open_staged(&args.out.out)?;
    let pilots = args.pilots.load()?;
    let out = args.out.open_existing()?;
    let guard = args.guard.guard(&out.path)?;
    let summary = dispatch(&snapshot, &out.path, args.as_of.and_time(args.send_at), &pilots, &guard)?;
    args.json.print(&summary, |s| vec![s.to_string()])
}
