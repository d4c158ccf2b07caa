//! `sdu explain`: why one organization or person was or was not offered, pilot by pilot,
//! with the evidence (registry, row, date) that decided each step.

use super::args::{JsonArg, PilotSelection, SnapshotArg};
use crate::ids::{check_bin, check_iin, mask};
use crate::jobs::explain::{campaign_lines, explain, Who};
use crate::jobs::stage::stage_inputs;
use crate::jobs::UsageError;

/// Explain the funnel for one BIN or IIN: each pilot's path with its evidence.
///
/// Personal data appear only for the identifier asked: other IINs are masked.
///
/// Example:
///   sdu explain --snapshot data/worlds/small --as-of 2026-11-23 --bin 940140000385 --out out
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment, group(clap::ArgGroup::new("who").required(true).args(["bin", "iin"])))]
pub struct Args {
    #[command(flatten)]
    pub snapshot: SnapshotArg,
    #[command(flatten)]
    pub select: PilotSelection,
    /// The organization to explain.
    #[arg(long, env = "SDU_EXPLAIN_BIN")]
    pub bin: Option<String>,
    /// The person to explain (as head of organizations, or as a permit holder).
    #[arg(long, env = "SDU_EXPLAIN_IIN")]
    pub iin: Option<String>,
    /// An output folder: also show where each of its cases for the identifier stands
    /// (queued, superseded, voided and why, the permits requested).
    #[arg(long, env = "SDU_OUT")]
    pub out: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub json: JsonArg,
}

fn who(args: &Args) -> Result<Who, UsageError> {
    let bad = |flag, value, source| UsageError::Identifier { flag, value, source };
    match (&args.bin, &args.iin) {
        (Some(b), _) => check_bin(b).map(|_| Who::Bin(b.clone())).map_err(|e| bad("bin", b.clone(), e)),
        (_, Some(i)) => check_iin(i).map(|_| Who::Iin(i.clone())).map_err(|e| bad("iin", mask(i), e)),
        _ => unreachable!("clap requires one of --bin, --iin"),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let who = who(&args)?;
    let snapshot = args.snapshot.open()?;
    let (as_of, pilots) = (args.select.as_of, args.select.resolve()?);
    if pilots.is_empty() && !args.json.json {
        println!("no pilot is in force on {as_of} (name one with --pilot ID --allow-expired)");
    }
    let inputs = stage_inputs(&snapshot, false)?;
    let mut explained =
        pilots.iter().map(|p| explain(&inputs, p, as_of, &who)).collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(out) = &args.out {
        crate::outdir::existing(out).map_err(UsageError::Output)?;
        let campaign = crate::jobs::load_all(out, &args.select.file.load()?)?;
        for e in &mut explained {
            e.lines.extend(campaign_lines(&campaign, &e.pilot, &who, as_of, out));
        }
    }
    args.json.print(&explained, |e| {
        // Pilots are set apart by a blank line; none before the first.
        e.iter().flat_map(|p| p.to_string().lines().map(String::from).collect::<Vec<_>>()).skip(1).collect()
    })
}
