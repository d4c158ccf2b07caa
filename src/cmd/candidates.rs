//! `sdu candidates`: the candidate lists, exclusion statistics and files for the portal
//! (algorithm steps 3–8) for every pilot in force on the run date.

use super::args::{GuardArgs, JsonArg, KeyArg, OutArg, PilotSelection, SnapshotArg};
use crate::jobs::candidates::{candidates, CandidatesSummary, Job};

/// Find whom to offer the re-issue, for every pilot in force on the date.
///
/// Publishes `<out>/<as-of>/<pilot>/` atomically: organizations and recipients (Parquet and
/// CSV), outcomes (every event in scope), funnel.json, manifest.json and _SUCCESS. A case
/// offered on an earlier date is not offered again.
///
/// Example:
///   sdu candidates --snapshot data/worlds/small --as-of 2026-11-23 --out out
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub snapshot: SnapshotArg,
    #[command(flatten)]
    pub select: PilotSelection,
    #[command(flatten)]
    pub out: OutArg,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub json: JsonArg,
    #[command(flatten)]
    pub key: KeyArg,
}

fn lines(s: &CandidatesSummary) -> Vec<String> {
    let mut lines = vec![format!(
        "{:<18} {:>7} {:>8} {:>5} {:>9}  folder",
        "pilot", "events", "offered", "new", "excluded"
    )];
    for p in &s.pilots {
        let (events, offered, new, excluded) = (p.events_in_scope, p.offered, p.new, p.excluded);
        lines.push(format!(
            "{:<18} {events:>7} {offered:>8} {new:>5} {excluded:>9}  {}",
            p.pilot,
            p.folder.display()
        ));
    }
    lines
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (snapshot, pilots) = (args.snapshot.open_staged(&args.out.out)?, args.select.resolve()?);
    if pilots.is_empty() && !args.json.json {
        println!("no pilot is in force on {}: nothing to do", args.select.as_of);
        return Ok(());
    }
    let out = args.out.open_beside(&args.snapshot)?;
    let (as_of, pseudonym) = (args.select.as_of, args.key.resolve()?);
    let job = Job { snapshot, as_of, out: out.path.clone(), pilots, pseudonym };
    let guard = args.guard.guard(&job.out)?;
    args.json.print(&candidates(&job, &guard)?, lines)
}
