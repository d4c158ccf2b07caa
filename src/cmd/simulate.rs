//! `sdu simulate-portal`: a stand-in for the portal's replies, clearly labelled as such, so
//! the whole loop runs without the portal (the model: [`crate::jobs::simulate`]).

use crate::jobs::simulate::{is_simulated, simulate};
use crate::jobs::UsageError;
use crate::outdir;
use crate::time::parse_time;
use chrono::NaiveDateTime;
use std::path::PathBuf;

/// Simulate the portal: replies to an outbox, as `sms_replies` (SIMULATED).
///
/// Example:
///   sdu simulate-portal --outbox out/2026-11-23/dispatch/sms_outbox.parquet --as-of 2026-11-26T09:00 --out replies.parquet
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Outbox files (sms_outbox.parquet) whose messages get replies.
    #[arg(long = "outbox", value_name = "FILE", num_args = 1..)]
    pub outbox: Vec<PathBuf>,
    /// Only replies received by then are written (and the file's sidecar says it is complete
    /// up to then): YYYY-MM-DDTHH:MM (Asia/Almaty), RFC 3339 with an offset, or a date (09:00).
    #[arg(long, value_parser = parse_time)]
    pub as_of: NaiveDateTime,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// The reply file to write.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(missing) = args.outbox.iter().find(|f| !f.is_file()) {
        return Err(UsageError::Argument(format!("{}: outbox file not found", missing.display())).into());
    }
    outdir::check_not_nested(&args.out).map_err(UsageError::Output)?;
    if args.out.exists() && !is_simulated(&args.out) {
        let msg = format!(
            "{}: exists and is not a reply file of the simulator; it is not replaced",
            args.out.display()
        );
        return Err(UsageError::Argument(msg).into());
    }
    let n = simulate(&args.outbox, args.as_of, args.seed, &args.out)?;
    println!(
        "SIMULATED portal (not real replies): {n} replies received by {} → {}",
        args.as_of,
        args.out.display()
    );
    Ok(())
}
