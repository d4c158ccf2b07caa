//! The demo after its world is generated: validate it (checking that validation finds
//! exactly the defects planted), replay every day of the period with the labelled portal
//! simulator answering the SMS, and copy the last KPI report to a folder of its own.

use super::backfill::{backfill, Options, Snapshots};
use super::day::Runner;
use super::stage::{InputGuard, StagedSnapshot, DEFAULT_MAX_DROP};
use super::status::{status, Status};
use super::{Failed, UsageError};
use crate::layout;
use crate::outdir::{self, Kind, OutDir};
use crate::registry::Snapshot;
use anyhow::Context;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The seed of the demo's portal simulator.
pub const SIMULATOR_SEED: u64 = 7;

/// What the demo is given: its folders and period, and the defects its world was planted
/// with (rule → rows).
pub struct Demo<'a> {
    pub dir: &'a Path,
    pub world: &'a Path,
    pub reports: &'a Path,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub planted: &'a BTreeMap<String, u64>,
}

/// What the demo did.
pub struct DemoSummary {
    pub planted: u64,
    pub out: PathBuf,
    pub status: Status,
}

/// The demo's staged store: validation stages the world once, and the replay reads it.
fn store_dir(demo: &Demo) -> PathBuf {
    demo.dir.join(crate::registry::store::DEFAULT_DIR)
}

/// Validation found exactly the planted defects, or the demo fails.
pub fn check_planted(demo: &Demo) -> anyhow::Result<u64> {
    let snapshot = Snapshot::open(demo.world)?.with_store(&store_dir(demo));
    outdir::check(&demo.dir.join("validation"), Kind::Validation).map_err(UsageError::Output)?;
    let report = super::validate::validate(&snapshot, &demo.dir.join("validation"))?;
    let planted = |rule: &str| demo.planted.get(rule).copied().unwrap_or(0);
    let mismatched: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.failing_rows != planted(&r.rule))
        .map(|r| format!("{} (found {}, planted {})", r.rule, r.failing_rows, planted(&r.rule)))
        .collect();
    if !mismatched.is_empty() {
        let list = mismatched.join("; ");
        return Err(Failed(format!("validation disagrees with the planted defects: {list}")).into());
    }
    Ok(demo.planted.values().sum())
}

/// Replays the period into `<dir>/out` (replaced) and copies the last report to `reports`.
pub fn replay(demo: &Demo, planted: u64) -> anyhow::Result<DemoSummary> {
    let out = demo.dir.join("out");
    outdir::check(&out, Kind::Output).map_err(UsageError::Output)?;
    if out.exists() {
        // A demo replays from scratch: its own previous output folder goes (it is marked so).
        std::fs::remove_dir_all(&out).with_context(|| format!("clearing {}", out.display()))?;
    }
    let out_dir = OutDir::open(&out).map_err(anyhow::Error::from)?;
    let guard = InputGuard { out: out.clone(), max_drop: DEFAULT_MAX_DROP, accept: false, before: None };
    let staged =
        StagedSnapshot::open(Snapshot::open(demo.world)?.with_store(&store_dir(demo)), true, &guard)?;
    let pilots = crate::config::load_pilots(None)?;
    let runner = Runner::new(staged, pilots.clone(), &out);
    let options = Options { simulate: Some(SIMULATOR_SEED), portal: None, progress: true };
    let mut snapshots = Snapshots::One(Box::new(runner));
    let done = backfill(&mut snapshots, demo.from, demo.to, &options, |_| Ok(()))?;
    let report = done.report.context("the backfill wrote no report")?;
    replace_reports(&report.folder, demo.reports)?;
    let status = status(&out_dir.path, &pilots)?;
    Ok(DemoSummary { planted, out, status })
}

/// Whether a folder may take the demo's report: missing, empty but for `.gitkeep`, or a copy
/// of an earlier report (its `report.html` and `manifest.json` are there).
pub fn check_reports(reports: &Path) -> Result<(), UsageError> {
    let entries: Vec<String> = match std::fs::read_dir(reports) {
        Ok(d) => d
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".gitkeep")
            .collect(),
        Err(_) if !reports.exists() => return Ok(()),
        Err(e) => {
            return Err(UsageError::Output(outdir::OutDirError::Io {
                path: reports.to_path_buf(),
                source: e,
            }))
        }
    };
    let is_report =
        entries.iter().any(|n| n == layout::REPORT_HTML) && entries.iter().any(|n| n == layout::MANIFEST);
    if entries.is_empty() || is_report {
        return Ok(());
    }
    Err(UsageError::Output(outdir::OutDirError::Foreign {
        path: reports.to_path_buf(),
        example: entries[0].clone(),
        what: "a folder of an sdu report",
    }))
}

/// Empties the reports folder (but its `.gitkeep`) and copies the report into it.
fn replace_reports(report: &Path, reports: &Path) -> std::io::Result<()> {
    if reports.exists() {
        for e in std::fs::read_dir(reports)?.flatten() {
            if e.file_name() != ".gitkeep" {
                let p = e.path();
                if p.is_dir() {
                    std::fs::remove_dir_all(p)?
                } else {
                    std::fs::remove_file(p)?
                }
            }
        }
    }
    copy_dir(report, reports)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}
