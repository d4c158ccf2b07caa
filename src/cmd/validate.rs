//! `sdu validate`: checks a snapshot against the contract's row rules.

use crate::io;
use crate::registry::validation::{self, results_frame, Validation};
use crate::registry::{Severity, Snapshot};
use anyhow::Context;
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
    /// The snapshot folder (one Parquet file per registry).
    #[arg(long)]
    pub snapshot: PathBuf,
    /// Where to write the report and quarantine [default: <snapshot>.validation beside it].
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

pub fn run(args: Args) -> anyhow::Result<()> {
    let snapshot = Snapshot::open(&args.snapshot).map_err(|e| super::UsageError(e.to_string()))?;
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.snapshot));
    let report =
        validation::validate(&snapshot).with_context(|| format!("validating {}", args.snapshot.display()))?;
    print_table(&report, args.all);
    publish(&report, &out).with_context(|| format!("writing the report to {}", out.display()))?;
    let (errors, warnings) = (report.errors(), report.warnings());
    println!("\n{errors} error rows, {warnings} warning rows; report and quarantine in {}", out.display());
    if errors > 0 {
        return Err(super::Failed(format!("{errors} rows fail error-severity rules")).into());
    }
    Ok(())
}

pub(crate) fn print_table(report: &Validation, all: bool) {
    println!("{:<46} {:<8} {:>10}  examples", "rule", "severity", "failing");
    for r in &report.results {
        if r.failing_rows == 0 && !all {
            continue;
        }
        let sev = match r.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        println!("{:<46} {:<8} {:>10}  {}", r.rule, sev, r.failing_rows, r.examples.join(", "));
    }
    let passed = report.results.iter().filter(|r| r.failing_rows == 0).count();
    println!("{passed} of {} rules pass", report.results.len());
}

pub(crate) fn publish(report: &Validation, out: &Path) -> anyhow::Result<()> {
    let staging = io::Staging::new(out)?;
    let dir = staging.dir();
    io::write_parquet(&mut results_frame(&report.results)?, &dir.join("validation.parquet"))?;
    io::write_json(&report.results, &dir.join("validation.json"))?;
    std::fs::create_dir_all(dir.join("quarantine"))?;
    for (table, rows) in &report.quarantine {
        let mut rows = rows.clone();
        io::write_parquet(&mut rows, &dir.join("quarantine").join(table.file_name()))?;
    }
    staging.publish()?;
    Ok(())
}
