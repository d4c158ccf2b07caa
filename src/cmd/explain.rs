//! `sdu explain`: why one organization or person was or was not offered, pilot by pilot,
//! with the evidence (registry, row, date) that decided each step.

use super::args::{JsonArg, PilotSelection, SnapshotArg};
use crate::ids::{check_bin, check_iin, mask};
use crate::jobs::explain::{campaign_lines, explain, Who};
use crate::jobs::stage::stage_inputs;
use crate::jobs::UsageError;

/// Explain the funnel for one BIN or IIN: each pilot's path with its evidence.
///
/// Personal data appear only for the identifier asked: other IINs are masked. The evidence
/// (deaths, court declarations, incapacity, imprisonment) is the restricted audit tier's:
/// explain works only for those who may read the audit tier of the output folder given with
/// --out (`<out>/audit`, `<out>/ledger`), and says so otherwise.
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
    /// The output folder whose audit tier you may read; explain also shows where each of its
    /// cases for the identifier stands (queued, superseded, voided and why, the permits
    /// requested).
    #[arg(long, env = "SDU_OUT")]
    pub out: std::path::PathBuf,
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

/// Whether this user may read the output folder's restricted tier (the outcomes with their
/// evidence, the case ledger): explain shows the same evidence.
fn audit_access(out: &std::path::Path) -> Result<(), UsageError> {
    let denied = |path: &std::path::Path, e: std::io::Error| {
        UsageError::Argument(format!(
            "{}: {e}. explain shows the criteria's evidence (deaths, court declarations, incapacity, imprisonment), which only readers of the restricted audit tier may see: ask for the output folder's audit group (--group of its runs)",
            path.display()
        ))
    };
    match std::fs::read_dir(out) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(denied(out, e)),
        _ => crate::outdir::existing(out).map_err(UsageError::Output)?,
    };
    for tier in [out.join(crate::layout::AUDIT), out.join(crate::layout::LEDGER)] {
        if tier.exists() {
            std::fs::read_dir(&tier).map_err(|e| denied(&tier, e))?;
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let who = who(&args)?;
    audit_access(&args.out)?;
    let snapshot = args.snapshot.open_staged(&args.out)?;
    let (as_of, pilots) = (args.select.as_of, args.select.resolve()?);
    if pilots.is_empty() && !args.json.json {
        println!("no pilot is in force on {as_of} (name one with --pilot ID --allow-expired)");
    }
    let inputs = stage_inputs(&snapshot, false)?;
    let mut explained =
        pilots.iter().map(|p| explain(&inputs, p, as_of, &who)).collect::<anyhow::Result<Vec<_>>>()?;
    let campaign = crate::jobs::load_all(&args.out, &args.select.file.load()?)?;
    for e in &mut explained {
        e.lines.extend(campaign_lines(&campaign, &e.pilot, &who, as_of, &args.out));
    }
    args.json.print(&explained, |e| {
        // Pilots are set apart by a blank line; none before the first.
        e.iter().flat_map(|p| p.to_string().lines().map(String::from).collect::<Vec<_>>()).skip(1).collect()
    })
}
