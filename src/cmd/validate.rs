//! `sdu validate`: checks a snapshot against the contract's row rules.

use super::args::{JsonArg, SnapshotArg};
use crate::jobs::validate::validate;
use crate::jobs::UsageError;
use crate::outdir::{self, Kind};
use crate::registry::validation::{RuleResult, Validation};
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
    #[arg(long, env = "SDU_VALIDATE_OUT")]
    pub out: Option<PathBuf>,
    /// List every rule, also those that pass.
    #[arg(long, env = "SDU_VALIDATE_ALL", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub all: bool,
    #[command(flatten)]
    pub json: JsonArg,
}

fn default_out(snapshot: &Path) -> PathBuf {
    let name =
        snapshot.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "snapshot".into());
    snapshot.with_file_name(format!("{name}.validation"))
}

/// What `validate` prints: every rule's result (those that fail, or all with `--all`; JSON
/// always has all), and the totals.
#[derive(Debug, serde::Serialize)]
struct Summary<'a> {
    snapshot: &'a Path,
    out: &'a Path,
    rules: usize,
    rules_passed: usize,
    error_rows: u64,
    warning_rows: u64,
    results: &'a [RuleResult],
    #[serde(skip)]
    all: bool,
}

impl Summary<'_> {
    fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("{:<46} {:<8} {:>10}  examples", "rule", "severity", "failing")];
        for r in self.results.iter().filter(|r| r.failing_rows > 0 || self.all) {
            let sev = match r.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            lines.push(format!(
                "{:<46} {:<8} {:>10}  {}",
                r.rule,
                sev,
                r.failing_rows,
                r.examples.join(", ")
            ));
        }
        lines.push(format!("{} of {} rules pass", self.rules_passed, self.rules));
        lines.push(format!(
            "\n{} error rows, {} warning rows; report and quarantine in {}",
            self.error_rows,
            self.warning_rows,
            self.out.display()
        ));
        lines
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let snapshot = match args.snapshot.store(None)? {
        Some(store) => args.snapshot.open()?.with_store(&store),
        None => args.snapshot.open()?,
    };
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.snapshot.snapshot));
    outdir::check_outside(&out, &args.snapshot.snapshot).map_err(UsageError::Output)?;
    outdir::check(&out, Kind::Validation).map_err(UsageError::Output)?;
    let report: Validation = validate(&snapshot, &out)?;
    let summary = Summary {
        snapshot: &args.snapshot.snapshot,
        out: &out,
        rules: report.results.len(),
        rules_passed: report.results.iter().filter(|r| r.failing_rows == 0).count(),
        error_rows: report.errors(),
        warning_rows: report.warnings(),
        results: &report.results,
        all: args.all,
    };
    if summary.error_rows > 0 {
        let message = format!("{} rows fail error-severity rules", summary.error_rows);
        return Err(args.json.fail(&summary, |s| s.lines(), message));
    }
    args.json.print(&summary, |s| s.lines())
}
