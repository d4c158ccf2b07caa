//! `sdu simulate-portal` and `sdu simulate-elicense`: stand-ins for the portal's replies and
//! delivery reports and for e-license's answers, clearly labelled as such, so the whole loop
//! runs without them (the models: [`crate::jobs::simulate`]).

use super::args::JsonArg;
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
    #[arg(long = "outbox", value_name = "FILE", num_args = 1.., env = "SDU_SIMULATE_OUTBOX", value_delimiter = ',')]
    pub outbox: Vec<PathBuf>,
    /// Only replies received (and reports made) by then are written, and each file's
    /// sidecar says it is complete up to then: YYYY-MM-DDTHH:MM (Asia/Almaty), RFC 3339 with
    /// an offset, or a date (09:00).
    #[arg(long, value_parser = parse_time, env = "SDU_SIMULATE_AS_OF")]
    pub as_of: NaiveDateTime,
    /// The simulator's seed: the same seed and inputs give the same file.
    #[arg(long, default_value_t = 7, env = "SDU_SIMULATE_SEED")]
    pub seed: u64,
    /// The reply file to write.
    #[arg(long, env = "SDU_SIMULATE_OUT")]
    pub out: PathBuf,
    /// The delivery report file to write (none without it).
    #[arg(long, value_name = "FILE", env = "SDU_SIMULATE_DELIVERY_OUT")]
    pub delivery_out: Option<PathBuf>,
    #[command(flatten)]
    pub json: JsonArg,
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
    #[arg(long = "requests", value_name = "FILE", num_args = 1.., env = "SDU_ELICENSE_REQUESTS", value_delimiter = ',')]
    pub requests: Vec<PathBuf>,
    /// Only answers made by then are written.
    #[arg(long, value_parser = parse_time, env = "SDU_ELICENSE_AS_OF")]
    pub as_of: NaiveDateTime,
    /// The simulator's seed: the same seed and inputs give the same file.
    #[arg(long, default_value_t = 7, env = "SDU_ELICENSE_SEED")]
    pub seed: u64,
    /// The file of answers to write.
    #[arg(long, env = "SDU_ELICENSE_OUT")]
    pub out: PathBuf,
    #[command(flatten)]
    pub json: JsonArg,
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
    let (replies, reports) =
        simulate(&args.outbox, args.as_of, args.seed, &args.out, args.delivery_out.as_deref())?;
    let done = Simulated {
        simulated: true,
        of: "portal",
        as_of: crate::time::zoned(args.as_of),
        replies: Some((replies, args.out.clone())),
        delivery_reports: args.delivery_out.map(|d| (reports, d)),
        answers: None,
    };
    args.json.print(&done, |d| d.lines())
}

pub fn run_elicense(args: ElicenseArgs) -> anyhow::Result<()> {
    check(&args.requests, "request", &[args.out.as_path()])?;
    let answers = simulate_elicense(&args.requests, args.as_of, args.seed, &args.out)?;
    let done = Simulated {
        simulated: true,
        of: "elicense",
        as_of: crate::time::zoned(args.as_of),
        replies: None,
        delivery_reports: None,
        answers: Some((answers, args.out)),
    };
    args.json.print(&done, |d| d.lines())
}

/// What a simulator wrote: each file with its row count; `simulated` is always true, so a
/// script cannot take these for the portal's or e-license's own files.
#[derive(Debug, serde::Serialize)]
struct Simulated {
    simulated: bool,
    of: &'static str,
    as_of: String,
    #[serde(serialize_with = "file_rows")]
    replies: Option<(usize, PathBuf)>,
    #[serde(serialize_with = "file_rows")]
    delivery_reports: Option<(usize, PathBuf)>,
    #[serde(serialize_with = "file_rows")]
    answers: Option<(usize, PathBuf)>,
}

/// `{"rows": n, "file": path}`, or null.
fn file_rows<S: serde::Serializer>(v: &Option<(usize, PathBuf)>, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    v.as_ref().map(|(rows, file)| serde_json::json!({ "rows": rows, "file": file })).serialize(s)
}

impl Simulated {
    fn lines(&self) -> Vec<String> {
        let line = |who: &str, not: &str, what: &str, (n, f): &(usize, PathBuf)| {
            format!("SIMULATED {who} (not real {not}): {n} {what} by {} → {}", self.as_of, f.display())
        };
        let mut lines = Vec::new();
        lines.extend(self.replies.as_ref().map(|r| line("portal", "replies", "replies received", r)));
        lines
            .extend(self.delivery_reports.as_ref().map(|r| line("portal", "reports", "delivery reports", r)));
        lines.extend(self.answers.as_ref().map(|r| line("e-license", "answers", "answers made", r)));
        lines
    }
}
