//! The KPI report of a date: the metrics over the published outcomes and the case ledger,
//! the document and its charts, published as `<out>/reports/<date>/`.

use crate::config::Pilot;
use crate::layout;
use crate::publish::{InputEntry, Manifest, RunFolder};
use crate::report::document::{self, Request};
use crate::report::{headline_values, kpi_frame, kpi_json, metrics, render, Headline};
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

/// The headline values of the latest report before `as_of`, with its date.
fn previous(out: &Path, as_of: NaiveDate) -> Option<(NaiveDate, Headline)> {
    let (d, file) = layout::previous_report(out, as_of).ok()??;
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    Some((d, headline_values(&v)))
}

/// The files a report read, with their hashes: each pilot's outcomes and the ledger's files
/// up to the report's date (offers) and cut-off (the campaign's runs).
fn report_inputs(
    out: &Path,
    as_of: NaiveDate,
    inputs: &crate::report::ReportInputs,
) -> anyhow::Result<Vec<InputEntry>> {
    let mut files: Vec<PathBuf> = inputs.runs.iter().map(|(_, _, outcomes)| outcomes.clone()).collect();
    for pilot in layout::visible_entries(&layout::offers_root(out)).unwrap_or_default() {
        for p in layout::visible_entries(&pilot).unwrap_or_default() {
            let day =
                p.file_stem().and_then(|s| NaiveDate::parse_from_str(&s.to_string_lossy(), "%Y-%m-%d").ok());
            if day.is_some_and(|d| d <= as_of) {
                files.push(p);
            }
        }
    }
    for p in layout::visible_entries(&layout::campaign_dir(out)).unwrap_or_default() {
        if layout::parse_campaign_file(&p).is_some_and(|(at, _)| at <= inputs.cutoff) {
            files.push(p);
        }
    }
    files.sort();
    let mut entries = Vec::new();
    for f in files {
        entries.push(InputEntry {
            file: f.display().to_string(),
            sha256: crate::io::sha256_file(&f)?,
            rows: 0,
            left_out: 0,
        });
    }
    Ok(entries)
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
    // What the last advance of the day decided to: a report made again later counts the same.
    let cutoff = super::advance::previous_decided_until(out, crate::time::end_of_day(as_of))?;
    let inputs = crate::report::load(out, as_of, cutoff, pilots)?;
    // A report of nothing is a mistake (a date before the first run, a wrong --out), not a
    // report of zeros.
    if inputs.runs.is_empty() {
        return Err(super::UsageError::Argument(format!(
            "--as-of {as_of}: {} holds no published candidate run on or before that date",
            out.display()
        ))
        .into());
    }
    let last_run = inputs.runs.iter().map(|(_, d, _)| *d).max().unwrap_or(as_of);
    if last_run < as_of {
        tracing::warn!(
            "report as of {as_of}: the latest candidate run is of {last_run}; the ledger counts to {}",
            inputs.cutoff
        );
    }
    let mut rows = metrics::compute(&inputs.events, &inputs.campaign, as_of, min_cell);
    let present: Vec<String> =
        pilots.iter().map(|p| p.id.clone()).filter(|id| rows.iter().any(|k| &k.pilot == id)).collect();
    rows.extend(metrics::time_to_decision(&inputs.campaign, &present, inputs.cutoff));
    for k in &mut rows {
        k.simulated = !inputs.simulated.is_empty();
    }

    let mut folder = RunFolder::new(&layout::report_dir(out, as_of))?;
    let mut frame = kpi_frame(&rows)?;
    folder.table(&crate::contract::KPI, &mut frame)?;
    folder.table_text(layout::KPI_JSON, &kpi_json(&rows), frame.height() as u64)?;

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
    let inputs_read = report_inputs(out, as_of, &inputs)?;
    let folder =
        folder.publish(Manifest::new(started, as_of.to_string(), None, String::new(), inputs_read))?;
    Ok(ReportSummary { as_of, folder })
}
