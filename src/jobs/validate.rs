//! Validation of a snapshot against the contract's row rules, published as a report
//! (`validation.parquet`/`.json`) and the failing rows (`quarantine/<registry>.parquet`).

use crate::io;
use crate::layout::validation as names;
use crate::registry::validation::{self, results_frame, Validation};
use crate::registry::Snapshot;
use anyhow::Context;
use std::path::Path;

/// Validates every registry of the snapshot and publishes the report to `out`.
pub fn validate(snapshot: &Snapshot, out: &Path) -> anyhow::Result<Validation> {
    let report =
        validation::validate(snapshot).with_context(|| format!("validating {}", snapshot.dir().display()))?;
    publish(&report, out).with_context(|| format!("writing the report to {}", out.display()))?;
    Ok(report)
}

/// Publishes a validation report atomically.
pub fn publish(report: &Validation, out: &Path) -> anyhow::Result<()> {
    let staging = io::Staging::new(out)?;
    let dir = staging.dir();
    io::write_parquet(&mut results_frame(&report.results)?, &dir.join(names::RESULTS_PARQUET))?;
    io::write_json(&report.results, &dir.join(names::RESULTS_JSON))?;
    std::fs::create_dir_all(dir.join(names::QUARANTINE))?;
    for (table, rows) in &report.quarantine {
        let mut rows = rows.clone();
        io::write_parquet(&mut rows, &dir.join(names::QUARANTINE).join(table.file_name()))?;
    }
    staging.publish()?;
    Ok(())
}
