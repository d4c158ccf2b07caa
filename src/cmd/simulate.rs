//! `sdu simulate-portal` and `sdu simulate-elicense`: stand-ins for the portal's replies and
//! delivery reports and for e-license's answers, clearly labelled as such, so the whole loop
//! runs without them (the models: [`crate::jobs::simulate`]).

use crate::jobs::simulate::{is_simulated, simulate, simulate_elicense};
use crate::jobs::UsageError;
use crate::outdir;
use crate::time::parse_time;
use chrono::NaiveDateTime;
use std::path::{Path, PathBuf};

/// Simulate the portal: replies to an outbox, as `sms_replies`, and its delivery reports,
/// as `sms_delivery` (SIMULATED).
///
/// Example:
///   sdu simulate-portal --outbox out/2026-11-23/dispatch/sms_outbox.parquet --as-of 2026-11-26T09:00 \
///     --out replies.parquet --delivery-out delivery.parquet
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Outbox files (sms_outbox.parquet) whose messages get replies.
    #[arg(long = "outbox", value_name = "FILE", num_args = 1..)]
    pub outbox: Vec<PathBuf>,
    /// Only replies received (and reports made) by then are written, and each file's
    /// sidecar says it is complete up to then: YYYY-MM-DDTHH:MM (Asia/Almaty), RFC 3339 with
    /// an offset, or a date (09:00).
    #[arg(long, value_parser = parse_time)]
    pub as_of: NaiveDateTime,
    /// The simulator's seed: the same seed and inputs give the same file.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// The reply file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The delivery report file to write (none without it).
    #[arg(long, value_name = "FILE")]
    pub delivery_out: Option<PathBuf>,
}

/// Simulate e-license: answers to re-issue requests, as `reissue_confirmations` (SIMULATED).
///
/// Example:
///   sdu simulate-elicense --requests out/2026-11-26/advance-0900/elicense_requests.parquet \
///     --as-of 2026-11-30T09:00 --out confirmations.parquet
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ElicenseArgs {
    /// Request files (elicense_requests.parquet) to answer.
    #[arg(long = "requests", value_name = "FILE", num_args = 1..)]
    pub requests: Vec<PathBuf>,
    /// Only answers made by then are written.
    #[arg(long, value_parser = parse_time)]
    pub as_of: NaiveDateTime,
    /// The simulator's seed: the same seed and inputs give the same file.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// The file of answers to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// Every input exists; every file to write is new or one the simulator wrote.
fn check(inputs: &[PathBuf], what: &str, outputs: &[&Path]) -> Result<(), UsageError> {
    if let Some(missing) = inputs.iter().find(|f| !f.is_file()) {
        return Err(UsageError::Argument(format!("{}: {what} file not found", missing.display())));
    }
    for out in outputs {
        outdir::check_not_nested(out).map_err(UsageError::Output)?;
        if out.exists() && !is_simulated(out) {
            let msg =
                format!("{}: exists and is not a file of the simulator; it is not replaced", out.display());
            return Err(UsageError::Argument(msg));
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut outputs = vec![args.out.as_path()];
    outputs.extend(args.delivery_out.as_deref());
    let same = |a: &Path, b: &Path| std::path::absolute(a).ok() == std::path::absolute(b).ok();
    if args.delivery_out.as_deref().is_some_and(|d| same(d, &args.out)) {
        return Err(UsageError::Argument("--delivery-out names the same file as --out".into()).into());
    }
    check(&args.outbox, "outbox", &outputs)?;
    let (n, reports) =
        simulate(&args.outbox, args.as_of, args.seed, &args.out, args.delivery_out.as_deref())?;
    println!(
        "SIMULATED portal (not real replies): {n} replies received by {} → {}",
        args.as_of,
        args.out.display()
    );
    if let Some(d) = &args.delivery_out {
        println!("SIMULATED portal (not real reports): {reports} delivery reports → {}", d.display());
    }
    Ok(())
}

pub fn run_elicense(args: ElicenseArgs) -> anyhow::Result<()> {
    check(&args.requests, "request", &[args.out.as_path()])?;
    let n = simulate_elicense(&args.requests, args.as_of, args.seed, &args.out)?;
    println!(
        "SIMULATED e-license (not real answers): {n} answers made by {} → {}",
        args.as_of,
        args.out.display()
    );
    Ok(())
}
