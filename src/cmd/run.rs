//! `sdu run`: the day's work in one process: candidates → dispatch → advance → report, for
//! every pilot in force, reading each registry once, under a lock on the output folder.

use super::campaign_common::SEND_TIME;
use super::candidates::{self, Inputs, Job};
use crate::campaign::log::{self, Step};
use crate::config::{load_pilots, Pilot};
use crate::io::Lock;
use crate::registry::{mobile_base as mb, Snapshot, Staged};
use anyhow::Context;
use chrono::NaiveDate;
use polars::prelude::{IntoLazy, LazyFrame};
use serde::Serialize;
use std::path::{Path, PathBuf};

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
    /// The snapshot folder (one Parquet file per registry).
    #[arg(long)]
    pub snapshot: PathBuf,
    /// The day (YYYY-MM-DD, Asia/Almaty). SMS go out and replies are read up to 09:00.
    #[arg(long, value_parser = super::parse_date)]
    pub as_of: NaiveDate,
    /// Where the run folders, reports and the case ledger live.
    #[arg(long)]
    pub out: PathBuf,
    /// Reply files from the portal.
    #[arg(long = "replies", value_name = "FILE", num_args = 0..)]
    pub replies: Vec<PathBuf>,
    /// Skip the KPI report.
    #[arg(long)]
    pub no_report: bool,
    /// Print the summary as JSON (for schedulers).
    #[arg(long)]
    pub json: bool,
    /// Pilots file [default: the embedded data/pilots.toml].
    #[arg(long, value_name = "FILE")]
    pub pilots: Option<PathBuf>,
}

/// What a day did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DaySummary {
    pub as_of: String,
    pub pilots: Vec<String>,
    pub events_in_scope: u64,
    pub offered_new: u64,
    pub dispatch: Option<String>,
    pub advance: Option<String>,
    pub report: Option<String>,
    /// Steps already done by an earlier, interrupted run of the same day.
    pub skipped: Vec<&'static str>,
    pub stale_lock_replaced: Option<String>,
}

/// Above this many registry rows (all files together) a backfill reads the staged files
/// each day instead of holding them: the medium world (4.7 M rows) takes about 1 GB held.
pub const KEEP_IN_MEMORY_ROWS: u64 = 10_000_000;

/// The registries of a snapshot, staged once for any number of days.
pub struct Runner {
    pub snapshot: Snapshot,
    pub inputs: Inputs,
    pub mobile: Staged,
    pub pilots: Vec<Pilot>,
    pub out: PathBuf,
}

impl Runner {
    /// Stages every registry once (the row rules run here). For many days (`many_days`, a
    /// backfill) a snapshot of at most [`KEEP_IN_MEMORY_ROWS`] rows is kept in memory, so
    /// each day evaluates without reading a file; a larger one is read again each day,
    /// looking up only the keys the day needs, so memory stays that of one day.
    pub fn open(snapshot: &Path, out: &Path, pilots: Vec<Pilot>, many_days: bool) -> anyhow::Result<Runner> {
        let snapshot = Snapshot::open(snapshot).map_err(|e| super::UsageError(e.to_string()))?;
        let mut inputs = candidates::stage_inputs(&snapshot, true)
            .with_context(|| format!("reading snapshot {}", snapshot.dir().display()))?;
        let mut mobile = snapshot.stage(&mb::SPEC)?;
        let rows = mobile.rows + inputs.entries.iter().map(|e| e.rows).sum::<u64>();
        if many_days && rows <= KEEP_IN_MEMORY_ROWS {
            let keep = |lf: &mut LazyFrame| -> anyhow::Result<()> {
                *lf = crate::pipeline::collect_streaming(lf.clone())?.lazy();
                Ok(())
            };
            let r = &mut inputs.registries;
            for lf in [
                &mut r.legal_entities,
                &mut r.renames,
                &mut r.heads,
                &mut r.permits,
                &mut r.individuals,
                &mut r.civil_acts,
                &mut mobile.frame,
            ] {
                keep(lf)?;
            }
            tracing::debug!("{rows} registry rows kept in memory for the days to come");
        }
        Ok(Runner { snapshot, inputs, mobile, pilots, out: out.to_path_buf() })
    }

    /// One day: candidates, dispatch at 09:00, advance to 09:00 with the replies, report.
    pub fn day(&self, as_of: NaiveDate, replies: &[PathBuf], report: bool) -> anyhow::Result<DaySummary> {
        let at = as_of.and_time(SEND_TIME);
        let in_force: Vec<Pilot> = self.pilots.iter().filter(|p| p.in_force_on(as_of)).cloned().collect();
        let mut s = DaySummary {
            as_of: as_of.to_string(),
            pilots: in_force.iter().map(|p| p.id.clone()).collect(),
            ..Default::default()
        };
        if !in_force.is_empty() {
            let job = Job { snapshot: self.snapshot.clone(), as_of, out: self.out.clone(), pilots: in_force };
            for (run, _) in candidates::execute_with(&job, &self.inputs)? {
                s.events_in_scope += run.funnel["events_in_scope"].as_u64().unwrap_or(0);
                s.offered_new += run.funnel["offers"]["new"].as_u64().unwrap_or(0);
            }
        }
        // A step is done when the ledger holds it or a later run (an earlier run of this day
        // was interrupted after it); a step that changed nothing left no file and simply
        // runs again, to the same result.
        let last = log::last_run(&self.out)?;
        if last.is_some_and(|l| l >= (at, Step::Dispatch)) {
            s.skipped.push("dispatch");
        } else {
            s.dispatch = Some(super::dispatch::execute_with(
                &self.snapshot,
                &self.mobile,
                &self.out,
                at,
                &self.pilots,
            )?);
        }
        if last.is_some_and(|l| l >= (at, Step::Advance)) {
            s.skipped.push("advance");
        } else {
            s.advance = Some(super::advance::execute(&self.out, at, replies, &self.pilots)?);
        }
        if report {
            let path = super::report::execute(&self.out, as_of, None, 5, &self.pilots)?;
            s.report = Some(path.display().to_string());
        }
        Ok(s)
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let pilots = load_pilots(args.pilots.as_deref()).map_err(|e| super::UsageError(format!("{e:#}")))?;
    for f in &args.replies {
        if !f.is_file() {
            return Err(super::UsageError(format!("{}: reply file not found", f.display())).into());
        }
    }
    let lock = Lock::acquire(&args.out)?;
    let ctx = Runner::open(&args.snapshot, &args.out, pilots, false)?;
    let mut s = ctx.day(args.as_of, &args.replies, !args.no_report)?;
    s.stale_lock_replaced = lock.replaced.clone();
    print_summary(&s, args.json)?;
    Ok(())
}

pub fn print_summary(s: &DaySummary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(s)?);
        return Ok(());
    }
    println!(
        "{}: pilots in force: {}",
        s.as_of,
        if s.pilots.is_empty() { "none".into() } else { s.pilots.join(", ") }
    );
    println!("  candidates: {} events in scope, {} newly offered", s.events_in_scope, s.offered_new);
    for (step, line) in [("dispatch", &s.dispatch), ("advance", &s.advance), ("report", &s.report)] {
        match line {
            Some(l) => println!("  {step}: {l}"),
            None if s.skipped.contains(&step) => {
                println!("  {step}: already done by an earlier run of this day")
            }
            None => {}
        }
    }
    if let Some(r) = &s.stale_lock_replaced {
        println!("  note: replaced a stale lock ({r})");
    }
    Ok(())
}
