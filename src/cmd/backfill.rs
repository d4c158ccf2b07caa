//! `sdu backfill`: replays each day of a period in order on one snapshot, optionally with the
//! portal simulator answering the SMS.

use super::args::{GuardArgs, JsonArg, OutArg, PilotsArg, SnapshotArg};
use crate::jobs::backfill::{backfill, check_range, Options};
use crate::jobs::day::Runner;
use crate::jobs::stage::StagedSnapshot;
use crate::time::parse_date;
use chrono::NaiveDate;

/// Replay every day from --from to --to: candidates, dispatch, advance (and, with
/// --simulate-portal, SIMULATED replies), then the KPI report of the last day.
///
/// Re-running a backfill, or resuming one that was interrupted, changes nothing that was
/// already done. With --json, each day's summary is a JSON line, and the last line is the
/// backfill's.
///
/// Example:
///   sdu backfill --snapshot data/worlds/small --from 2025-01-23 --to 2026-11-23 --out out --simulate-portal
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub snapshot: SnapshotArg,
    /// The first day (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    pub from: NaiveDate,
    /// The last day (YYYY-MM-DD); its KPI report is written.
    #[arg(long, value_parser = parse_date)]
    pub to: NaiveDate,
    #[command(flatten)]
    pub out: OutArg,
    /// Answer the SMS with the (labelled) portal simulator.
    #[arg(long)]
    pub simulate_portal: bool,
    /// Allow days outside every pilot's term (by default the range must fall within the
    /// earliest first day and the latest last day of the pilots).
    #[arg(long)]
    pub outside_pilots: bool,
    /// Seed of the portal simulator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub json: JsonArg,
    #[command(flatten)]
    pub pilots: PilotsArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let pilots = args.pilots.load()?;
    check_range(&pilots, args.from, args.to, args.outside_pilots)?;
    let snapshot = args.snapshot.open()?;
    let out = args.out.open_beside(&args.snapshot)?;
    let guard = args.guard.guard(&out.path)?;
    let runner = Runner::new(StagedSnapshot::open(snapshot, true, &guard)?, pilots, &out.path);
    let options = Options { simulate: args.simulate_portal.then_some(args.seed), progress: true };
    let to = args.to.to_string();
    let done = backfill(&runner, args.from, args.to, &options, |day| {
        // Days that offered nothing new are not shown (but with --json).
        let shown = args.json.json || day.offered_new > 0 || day.as_of == to;
        if shown {
            args.json.print(day, |d| d.lines())
        } else {
            Ok(())
        }
    })?;
    args.json.print(&done, |d| match &d.report {
        Some(r) => vec![format!("backfilled {} to {}; report: {}", d.from, d.to, r.folder.display())],
        None => vec![],
    })
}
