//! `sdu purge`: retention of personal data (law 94-V): phones, names and reply texts of
//! cases closed long enough ago go from the output folder; the counts the KPIs need stay.

use super::args::{JsonArg, OutArg, PilotsArg};
use crate::jobs::purge::{purge, Purge};
use crate::time::parse_date;
use chrono::NaiveDate;

/// Remove the phones, names and reply texts of cases closed more than their pilot's
/// `retention_days` (pilots file; 365 by default) before --as-of.
///
/// A case closed (decided, timed out, undeliverable, superseded, voided, or accepted with
/// its request out) before the cutoff loses its phones (case ledger, SMS outboxes), its
/// recipient's name (recipients, outcomes), the names of a holder who is a person (their own
/// old and new names) and its reply texts (case ledger); replies that matched no case and the
/// names of excluded events go by their own date. IINs, case ids, states, times, outcomes
/// and reasons stay: the KPI report reproduces. A cutoff is never later than a day before the
/// ledger's last run. Folders are rewritten whole and swapped in one step (manifest
/// `purged_on`); the purge is recorded in `<out>/audit/purges/<as-of>.json` (a `started`
/// entry first, a `finished` one at the end). Purging again changes no data. Schedule it
/// (weekly, say) after the day's run.
///
/// Example:
///   sdu purge --out out --as-of 2026-11-23
///   sdu purge --out out --as-of 2026-11-23 --older-than-days 180
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub out: OutArg,
    /// The purge date: cutoffs count back from its start (Asia/Almaty).
    #[arg(long, value_parser = parse_date, env = "SDU_AS_OF")]
    pub as_of: NaiveDate,
    /// Keep closed cases' data this many days instead of each pilot's `retention_days`.
    #[arg(long, value_name = "DAYS", env = "SDU_PURGE_OLDER_THAN_DAYS")]
    pub older_than_days: Option<u32>,
    #[command(flatten)]
    pub pilots: PilotsArg,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let pilots = args.pilots.load()?;
    let out = args.out.open_existing()?;
    let campaign = crate::jobs::load_all(&out.path, &pilots)?;
    let job = Purge { out: &out.path, as_of: args.as_of, days: args.older_than_days, pilots: &pilots };
    let summary = purge(&job, &campaign)?;
    args.json.print(&summary, |s| {
        let rows: Vec<String> = s.rows.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let mut lines = vec![format!(
            "purged as of {}: {} closed cases past their retention; rows cleared now: {}",
            s.as_of,
            s.cases,
            if rows.is_empty() { "none".to_string() } else { rows.join(", ") }
        )];
        lines.extend(s.closed_before.iter().map(|(p, t)| format!("  {p}: cases closed before {t}")));
        lines.push(format!("  rows of no case: before {}", s.uncased_before));
        lines.extend(s.rewritten.iter().map(|f| format!("  rewritten {f}")));
        if let Some(r) = &s.record {
            lines.push(format!("  recorded in {}", r.display()));
        }
        lines
    })
}
