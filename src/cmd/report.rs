//! `sdu report`: KPI tables, charts and a readable report across pilots.

use super::args::{JsonArg, OutArg, PilotsArg};
use crate::jobs::report::{report, DEFAULT_MIN_CELL};
use crate::jobs::UsageError;
use crate::time::parse_date;
use chrono::NaiveDate;

/// KPI report across pilots: tables (Parquet, CSV, JSON), charts (PNG, SVG), report.md and
/// a self-contained report.html.
///
/// Reads only the published candidate folders and the case ledger under --out (the report
/// goes to `<out>/reports/<as-of>/`). Cells of a breakdown by week or region below --min-cell
/// are shown as `<5` and their rates withheld.
///
/// Example:
///   sdu report --out out --as-of 2026-11-23
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub out: OutArg,
    /// The report date (end of day, Asia/Almaty).
    #[arg(long, value_parser = parse_date, env = "SDU_AS_OF")]
    pub as_of: NaiveDate,
    /// First week shown in the weekly series [default: the earliest data].
    #[arg(long, value_parser = parse_date, env = "SDU_REPORT_FROM")]
    pub from: Option<NaiveDate>,
    /// Smallest count shown in a breakdown cell.
    #[arg(long, default_value_t = DEFAULT_MIN_CELL, env = "SDU_REPORT_MIN_CELL")]
    pub min_cell: u64,
    #[command(flatten)]
    pub pilots: PilotsArg,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.min_cell == 0 {
        return Err(UsageError::Argument("--min-cell must be at least 1".into()).into());
    }
    if let Some(from) = args.from.filter(|f| *f > args.as_of) {
        let msg = format!("--from {from} is after --as-of {}", args.as_of);
        return Err(UsageError::Argument(msg).into());
    }
    let pilots = args.pilots.load()?;
    let out = args.out.open_existing()?;
    let summary = report(&out.path, args.as_of, args.from, args.min_cell, &pilots)?;
    args.json.print(&summary, |s| vec![format!("report for {} → {}", s.as_of, s.folder.display())])
}
