//! `sdu validate`: checks a snapshot against the contract's row rules.

use super::args::SnapshotArg;
use crate::jobs::validate::validate;
use crate::jobs::{Failed, UsageError};
use crate::outdir::{self, Kind};
use crate::registry::validation::Validation;
use crate::registry::Severity;
use std::path::{Path, PathBuf};

/// Check every row of a snapshot against the registry contract.
///
/// Prints one line per rule (severity, failing rows, masked examples), writes the report as
/// `validation.parquet` and `validation.json` and the failing rows to
/// `quarantine/<registry>.parquet`. Exits 1 when an error-severity rule fails.
///
/// Example:
///   sdu validate --snapshot data/worlds/small --out data/worlds/small.validation
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub snapshot: SnapshotArg,
    /// Where to write the report and quarantine (default: `<snapshot>.validation` beside it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// List every rule, also those that pass.
    #[arg(long)]
    pub all: bool,
}

fn default_out(snapshot: &Path) -> PathBuf {
    let name =
        snapshot.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "snapshot".into());
    snapshot.with_file_name(format!("{name}.validation"))
}

fn print_table(report: &Validation, all: bool) {
    println!("{:<46} {:<8} {:>10}  examples", "rule", "severity", "failing");
    for r in report.results.iter().filter(|r| r.failing_rows > 0 || all) {
        let sev = match r.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        println!("{:<46} {:<8} {:>10}  {}", r.rule, sev, r.failing_rows, r.examples.join(", "));
    }
    let passed = report.results.iter().filter(|r| r.failing_rows == 0).count();
    println!("{passed} of {} rules pass", report.results.len());
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let snapshot = args.snapshot.open()?;
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.snapshot.snapshot));
    outdir::check_outside(&out, &args.snapshot.snapshot).map_err(UsageError::Output)?;
    outdir::check(&out, Kind::Validation).map_err(UsageError::Output)?;
    let report = validate(&snapshot, &out)?;
    print_table(&report, args.all);
    let (errors, warnings) = (report.errors(), report.warnings());
    println!("\n{errors} error rows, {warnings} warning rows; report and quarantine in {}", out.display());
    if errors > 0 {
        return Err(Failed(format!("{errors} rows fail error-severity rules")).into());
    }
    Ok(())
}
