//! `sdu backfill`: replays each day of a period in order, on one snapshot or a folder of
//! snapshots by date, with the portal's real files by day or the labelled simulators.

use super::args::{GuardArgs, JsonArg, KeyArg, OutArg, PilotsArg, SnapshotArg};
use crate::jobs::backfill::{backfill, check_portal, check_range, dated_snapshots, Options, Snapshots};
use crate::jobs::day::Runner;
use crate::jobs::stage::StagedSnapshot;
use crate::jobs::UsageError;
use crate::time::parse_date;
use anyhow::Context;
use chrono::NaiveDate;

/// Replay every day from --from to --to: candidates, dispatch, advance (with the day's files
/// from --portal, or, with --simulate-portal, SIMULATED replies, delivery reports and
/// e-license answers), then the KPI report of the last day.
///
/// --snapshot is one snapshot, or a folder of snapshots by date (sub-folders YYYY-MM-DD):
/// each day then reads the latest snapshot of that day or before. With one snapshot, the
/// registries' dated histories serve every day, but a permit's status and a number's status
/// carry no date: they are as of the snapshot on every day replayed.
///
/// Re-running a backfill, or resuming one that was interrupted, changes nothing that was
/// already done. With --json, each day's summary is a JSON line, and the last line is the
/// backfill's.
///
/// Examples:
///   sdu backfill --snapshot data/worlds/small --from 2025-01-23 --to 2026-11-23 --out out --simulate-portal
///   sdu backfill --snapshot /data/sdu/snapshots --from 2026-09-01 --to 2026-11-23 --out out --portal /data/portal/inbox
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub snapshot: SnapshotArg,
    /// The first day (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date, env = "SDU_BACKFILL_FROM")]
    pub from: NaiveDate,
    /// The last day (YYYY-MM-DD); its KPI report is written.
    #[arg(long, value_parser = parse_date, env = "SDU_BACKFILL_TO")]
    pub to: NaiveDate,
    #[command(flatten)]
    pub out: OutArg,
    /// Answer the SMS with the (labelled) portal simulator, and the requests with the
    /// e-license simulator.
    #[arg(long, conflicts_with = "portal", env = "SDU_BACKFILL_SIMULATE_PORTAL", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub simulate_portal: bool,
    /// A folder of the portal's and e-license's files by day, as the daily run takes them:
    /// sms_replies-DAY.parquet, sms_delivery-DAY.parquet,
    /// reissue_confirmations-DAY.parquet, DAY being YYYY-MM-DD (each if present, with its
    /// sidecar).
    #[arg(long, value_name = "DIR", env = "SDU_BACKFILL_PORTAL")]
    pub portal: Option<std::path::PathBuf>,
    /// Allow days outside every pilot's term (by default the range must fall within the
    /// earliest first day and the latest last day of the pilots).
    #[arg(long, env = "SDU_BACKFILL_OUTSIDE_PILOTS", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub outside_pilots: bool,
    /// Seed of the portal simulator.
    #[arg(long, default_value_t = 7, env = "SDU_BACKFILL_SEED")]
    pub seed: u64,
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
    check_range(&pilots, args.from, args.to, args.outside_pilots)?;
    if let Some(p) = &args.portal {
        if !p.is_dir() {
            return Err(UsageError::Argument(format!("--portal {}: not a folder", p.display())).into());
        }
        check_portal(p, args.from, args.to)?;
    }
    let dated = dated_snapshots(&args.snapshot.snapshot)
        .with_context(|| format!("listing {}", args.snapshot.snapshot.display()))?;
    let out = args.out.open_beside(&args.snapshot)?;
    let guard = args.guard.guard(&out.path)?;
    let pseudonym = args.key.resolve()?;
    let mut snapshots = match dated {
        Some(dated) => {
            if dated[0].0 > args.from {
                return Err(UsageError::Argument(format!(
                    "{}: the first snapshot is of {}, after --from {}",
                    args.snapshot.snapshot.display(),
                    dated[0].0,
                    args.from
                ))
                .into());
            }
            Snapshots::Dated {
                dated,
                pilots,
                out: out.path.clone(),
                guard,
                current: None,
                pseudonym: pseudonym.clone(),
                store: args.snapshot.store(Some(&out.path))?,
            }
        }
        None => {
            let parquet = |p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "parquet");
            let files = crate::layout::visible_entries(&args.snapshot.snapshot).unwrap_or_default();
            if args.snapshot.snapshot.is_dir() && !files.iter().any(parquet) {
                return Err(UsageError::Argument(format!(
                    "{}: no snapshot (neither registry files nor snapshot folders named YYYY-MM-DD)",
                    args.snapshot.snapshot.display()
                ))
                .into());
            }
            let snapshot = args.snapshot.open_staged(&args.out.out)?;
            tracing::warn!(
                "one snapshot for every day: permit and МАБ statuses carry no date, so each day sees them as of the snapshot (a folder of snapshots by date avoids it)"
            );
            let mut runner = Runner::new(StagedSnapshot::open(snapshot, true, &guard)?, pilots, &out.path);
            runner.pseudonym = pseudonym.clone();
            Snapshots::One(Box::new(runner))
        }
    };
    let options = Options {
        simulate: args.simulate_portal.then_some(args.seed),
        portal: args.portal.clone(),
        progress: true,
    };
    let to = args.to.to_string();
    let done = backfill(&mut snapshots, args.from, args.to, &options, |day| {
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
