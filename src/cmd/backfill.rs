//! `sdu backfill`: replays each day of a period in order on one snapshot (statuses in the
//! registries are dated, so one snapshot serves every day), optionally with the portal
//! simulator answering the SMS.

use super::run::{print_summary, Runner};
use crate::config::load_pilots;
use crate::io::Lock;
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

/// Replay every day from --from to --to: candidates, dispatch, advance (and, with
/// --simulate-portal, SIMULATED replies), then the KPI report of the last day.
///
/// Re-running a backfill, or resuming one that was interrupted, changes nothing that was
/// already done.
///
/// Example:
///   sdu backfill --snapshot data/worlds/small --from 2025-01-23 --to 2026-11-23 --out out --simulate-portal
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[arg(long)]
    pub snapshot: PathBuf,
    #[arg(long, value_parser = super::parse_date)]
    pub from: NaiveDate,
    #[arg(long, value_parser = super::parse_date)]
    pub to: NaiveDate,
    #[arg(long)]
    pub out: PathBuf,
    /// Answer the SMS with the (labelled) portal simulator.
    #[arg(long)]
    pub simulate_portal: bool,
    /// Seed of the portal simulator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print each day's summary as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Pilots file [default: the embedded data/pilots.toml].
    #[arg(long, value_name = "FILE")]
    pub pilots: Option<PathBuf>,
}

/// Every `sms_outbox.parquet` published under `out` in the week before `day`: older SMS belong
/// to cases closed by now (a case times out 6 days after its first SMS), and the day's own
/// SMS (09:00) cannot be answered by 09:00.
fn outboxes(out: &Path, day: NaiveDate) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(days) = std::fs::read_dir(out) else { return found };
    for d in days.flatten() {
        let Ok(date) = NaiveDate::parse_from_str(&d.file_name().to_string_lossy(), "%Y-%m-%d") else {
            continue;
        };
        if date >= day || date < day - chrono::Days::new(7) {
            continue;
        }
        for step in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            let f = step.path().join("sms_outbox.parquet");
            if f.is_file() && step.path().join("_SUCCESS").is_file() {
                found.push(f);
            }
        }
    }
    found.sort();
    found
}

/// Replays the period; returns the last day's report folder.
pub fn execute(
    runner: &Runner,
    from: NaiveDate,
    to: NaiveDate,
    simulate: Option<u64>,
    json: bool,
    quiet: bool,
) -> anyhow::Result<Option<String>> {
    let bar = crate::synth::progress((to - from).num_days() as u64 + 1, "days");
    let mut report = None;
    let mut day = from;
    while day <= to {
        let mut replies = Vec::new();
        if let Some(seed) = simulate {
            let boxes = outboxes(&runner.out, day);
            if !boxes.is_empty() {
                let file = runner.out.join("simulated-replies").join(format!("{day}.parquet"));
                std::fs::create_dir_all(file.parent().expect("has a parent"))?;
                super::simulate::execute(
                    &boxes,
                    day.and_time(super::campaign_common::SEND_TIME),
                    seed,
                    &file,
                )?;
                replies.push(file);
            }
        }
        let s = runner.day(day, &replies, day == to)?;
        if json {
            println!("{}", serde_json::to_string(&s)?);
        } else if !quiet && (s.offered_new > 0 || day == to) {
            bar.suspend(|| print_summary(&s, false))?;
        }
        report = s.report.clone().or(report);
        bar.inc(1);
        day = day.succ_opt().expect("date in range");
    }
    bar.finish_and_clear();
    Ok(report)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.to < args.from {
        return Err(super::UsageError(format!("--to {} is before --from {}", args.to, args.from)).into());
    }
    let pilots = load_pilots(args.pilots.as_deref()).map_err(|e| super::UsageError(format!("{e:#}")))?;
    let _lock = Lock::acquire(&args.out)?;
    let runner = Runner::open(&args.snapshot, &args.out, pilots, true)?;
    let report =
        execute(&runner, args.from, args.to, args.simulate_portal.then_some(args.seed), args.json, false)?;
    if let Some(r) = report {
        println!("backfilled {} to {}; report: {r}", args.from, args.to);
    }
    Ok(())
}
