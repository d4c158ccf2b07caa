//! The KPI report of a date: the metrics over the published outcomes and the case ledger,
//! the document and its charts, published as `<out>/reports/<date>/`.

use crate::config::Pilot;
use crate::layout;
use crate::publish::{Manifest, RunFolder};
use crate::report::document::{self, Request};
use crate::report::{kpi_frame, metrics, render};
use chrono::NaiveDate;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Smallest count shown in a breakdown cell, unless asked otherwise.
pub const DEFAULT_MIN_CELL: u64 = 5;

/// Where a report was published.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    pub as_of: NaiveDate,
    pub folder: PathBuf,
}

/// The headline rows of the latest report before `as_of`, with its date.
fn previous(out: &Path, as_of: NaiveDate) -> Option<(NaiveDate, Vec<serde_json::Value>)> {
    let (d, file) = layout::previous_report(out, as_of).ok()??;
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    Some((d, v.as_array()?.clone()))
}

/// Builds and publishes the report of `as_of`.
pub fn report(
    out: &Path,
    as_of: NaiveDate,
    from: Option<NaiveDate>,
    min_cell: u64,
    pilots: &[Pilot],
) -> anyhow::Result<ReportSummary> {
    let started = chrono::Utc::now();
    let inputs = crate::report::load(out, as_of, pilots)?;
    let rows = metrics::compute(&inputs.events, &inputs.campaign, as_of, min_cell);

    let mut folder = RunFolder::new(&layout::report_dir(out, as_of))?;
    let mut frame = kpi_frame(&rows)?;
    folder.parquet(layout::KPI_PARQUET, &mut frame)?;
    folder.csv(layout::KPI_CSV, &frame)?;
    folder.json(layout::KPI_JSON, &rows, rows.len() as u64)?;

    let chart_dir = folder.dir().join(layout::CHARTS);
    std::fs::create_dir_all(&chart_dir)?;
    let request = Request { as_of, from, min_cell, previous: previous(out, as_of), chart_dir: &chart_dir };
    let blocks = document::build(&request, &inputs, &rows, pilots)?;

    let mut charts: Vec<String> = std::fs::read_dir(&chart_dir)?
        .flatten()
        .map(|e| format!("{}/{}", layout::CHARTS, e.file_name().to_string_lossy()))
        .collect();
    charts.sort();
    for f in &charts {
        folder.record_file(f)?;
    }
    let dir = folder.dir().to_path_buf();
    folder.text(layout::REPORT_MD, &render::markdown(&blocks))?;
    folder.text(layout::REPORT_HTML, &render::html(&blocks, &format!("SDU KPI report {as_of}"), &dir)?)?;
    let folder = folder.publish(Manifest::new(started, as_of.to_string(), None, String::new(), vec![]))?;
    Ok(ReportSummary { as_of, folder })
}
