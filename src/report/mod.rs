//! KPI reports across pilots (SPEC §2.6). Reads only published files (the latest
//! `outcomes.parquet` of each pilot up to the report date) and the case ledger; computes
//! every metric once ([`metrics`]); renders tables, charts ([`charts`]) and a readable
//! report ([`render`]) in Markdown and self-contained HTML.

pub mod charts;
pub mod document;
pub mod labels;
pub mod metrics;
pub mod render;
pub mod survival;

use crate::campaign::{log, Campaign};
use crate::config::Pilot;
use crate::layout;
use crate::ledger;
use crate::pipeline::columns as c;
use chrono::NaiveDate;
use metrics::{EventRow, Kpi};
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// The reactive baseline (seed 001: the specialist certificate regulation of 2015): what a
/// re-issue takes the ordinary way, with the assumptions next to the figure.
pub struct Baseline {
    pub source: &'static str,
    pub steps_working_days: &'static [u32],
    pub assumptions: &'static [&'static str],
}

pub const BASELINE: Baseline = Baseline {
    source: "seed 001, regulation of the service «Клиникалық практикаға жіберу үшін маман сертификатын беру», §5: \
             registration and assignment 1 working day, check of completeness 2, check against the Standard 1, \
             result and signature 1",
    steps_working_days: &[1, 2, 1, 1],
    assumptions: &[
        "the holder learns of the need to re-issue and applies on the portal (one application, no visit: the \
         regulation's channel is www.elicense.kz / www.egov.kz); seed 004's e-service regulations likewise take \
         the application and a quality survey from the applicant",
        "5 working days are about 7 calendar days (a weekend in between)",
        "the days the holder takes to notice and apply are not counted (unknown), so the reactive figure is a \
         lower bound",
    ],
};

impl Baseline {
    pub fn working_days(&self) -> u32 {
        self.steps_working_days.iter().sum()
    }

    pub fn calendar_days(&self) -> f64 {
        f64::from(self.working_days()) * 7.0 / 5.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: cannot read the published file")]
    Read {
        path: PathBuf,
        #[source]
        source: PolarsError,
    },
    #[error("{path}: cannot list the output folder")]
    List {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The latest published run of each pilot on or before `as_of` (with `_SUCCESS`): its
/// outcomes file.
pub fn latest_runs(out: &Path, as_of: NaiveDate) -> Result<Vec<(String, NaiveDate, PathBuf)>, ReportError> {
    layout::latest_pilot_runs(out, as_of)
        .map_err(|source| ReportError::List { path: out.to_path_buf(), source })
}

fn read_events(path: &Path) -> Result<Vec<EventRow>, ReportError> {
    let err = |source| ReportError::Read { path: path.to_path_buf(), source };
    let df =
        LazyFrame::scan_parquet(PlRefPath::try_from_path(path).map_err(err)?, ScanArgsParquet::default())
            .map_err(err)?
            .select([
                col(c::PILOT),
                col(c::EVENT_ID),
                col(c::CASE_ID),
                col(c::OUTCOME),
                col(c::REASONS),
                col(c::CHANGED_ON).cast(DataType::Int32),
                col(c::REGION),
            ])
            .collect()
            .map_err(err)?;
    let s = |n: &str| df.column(n).and_then(|c| c.str().cloned()).map_err(err);
    let (pilot, event, case, outcome, region) =
        (s(c::PILOT)?, s(c::EVENT_ID)?, s(c::CASE_ID)?, s(c::OUTCOME)?, s(c::REGION)?);
    let changed = df.column(c::CHANGED_ON).and_then(|c| c.i32().cloned()).map_err(err)?;
    let reasons = df.column(c::REASONS).and_then(|c| c.list().cloned()).map_err(err)?;
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let rs = reasons
            .get_as_series(i)
            .map(|s| s.str().map(|s| s.iter().flatten().map(String::from).collect()).unwrap_or_default())
            .unwrap_or_default();
        out.push(EventRow {
            pilot: pilot.get(i).unwrap_or_default().to_string(),
            event_id: event.get(i).unwrap_or_default().to_string(),
            case_id: case.get(i).map(String::from),
            outcome: outcome.get(i).unwrap_or_default().to_string(),
            reasons: rs,
            changed_on: crate::time::date(changed.get(i).unwrap_or(0)),
            region: region.get(i).filter(|r| !r.is_empty()).map(String::from),
        });
    }
    Ok(out)
}

/// Everything the report reads, as of its cut-off.
pub struct ReportInputs {
    pub runs: Vec<(String, NaiveDate, PathBuf)>,
    pub events: Vec<EventRow>,
    pub campaign: Campaign,
    /// Ledger events up to this time count: what the last advance of the day decided to.
    pub cutoff: chrono::NaiveDateTime,
    /// The labels of simulated inputs among the events counted (`simulated-portal`, …).
    pub simulated: std::collections::BTreeSet<String>,
}

/// The report's inputs: the latest published outcomes of each pilot on or before `as_of`,
/// and the ledger's events up to `cutoff` (at most the end of `as_of`): the same numbers
/// whenever the report is made again.
pub fn load(
    out: &Path,
    as_of: NaiveDate,
    cutoff: Option<chrono::NaiveDateTime>,
    pilots: &[Pilot],
) -> anyhow::Result<ReportInputs> {
    let runs = latest_runs(out, as_of)?;
    let mut events = Vec::new();
    for (_, _, outcomes) in &runs {
        events.extend(read_events(outcomes)?);
    }
    let offers = ledger::to_offers(&ledger::offers_until(out, as_of)?)?;
    let end = crate::time::end_of_day(as_of);
    let cutoff = cutoff.map_or(end - chrono::Duration::microseconds(1), |c| c.min(end));
    let ledger_events: Vec<_> = log::read_all(out)?.into_iter().filter(|e| e.at <= cutoff).collect();
    let mut simulated: std::collections::BTreeSet<String> = ledger_events
        .iter()
        .filter_map(|e| e.source.clone())
        .filter(|s| s.starts_with("simulated"))
        .collect();
    // Ledgers written before rows kept their source: the simulators' folder in the output
    // says the same.
    if out.join(layout::SIMULATED_DIR).is_dir() && simulated.is_empty() && !ledger_events.is_empty() {
        simulated.insert(format!("{}/ in the output folder", layout::SIMULATED_DIR));
    }
    let campaign = Campaign::load(offers, ledger_events, pilots)?;
    Ok(ReportInputs { runs, events, campaign, cutoff, simulated })
}

/// Whether a KPI row is published: every headline row (a pilot or all pilots, the whole
/// span, all regions) is; a breakdown row (a week or a region) only when it is withheld or has
/// a count, a denominator or a value other than zero. A breakdown cell with no row is zero.
pub fn published(k: &Kpi) -> bool {
    let headline = k.period == metrics::TOTAL && k.region == metrics::ALL;
    let nonzero = |v: Option<f64>| v.is_some_and(|v| v != 0.0);
    headline || k.suppressed || nonzero(k.numerator) || nonzero(k.denominator) || nonzero(k.value)
}

/// The published columns, in order (docs/kpi.md): a null pilot, period or region is the
/// total over that dimension; counts are integers.
pub const KPI_COLUMNS: [&str; 12] = [
    "pilot",
    "period",
    "region",
    "metric",
    "numerator",
    "denominator",
    "value",
    "ci_low",
    "ci_high",
    "suppressed",
    "provisional",
    "simulated",
];

/// A dimension's value as published: None for the total over it.
fn dimension<'a>(v: &'a str, total: &str) -> Option<&'a str> {
    (v != total).then_some(v)
}

fn count(v: Option<f64>) -> Option<u64> {
    v.map(|v| v.round().max(0.0) as u64)
}

/// The KPI table as a frame (`kpi.parquet` / `kpi.csv`): the published rows, tidy.
pub fn kpi_frame(rows: &[Kpi]) -> PolarsResult<DataFrame> {
    let rows: Vec<&Kpi> = rows.iter().filter(|k| published(k)).collect();
    let text = |f: &dyn Fn(&Kpi) -> Option<&str>| rows.iter().map(|k| f(k)).collect::<Vec<_>>();
    let float = |f: &dyn Fn(&Kpi) -> Option<f64>| rows.iter().map(|k| f(k)).collect::<Vec<_>>();
    let flag = |f: &dyn Fn(&Kpi) -> bool| rows.iter().map(|k| f(k)).collect::<Vec<_>>();
    let [pilot, period, region, metric, numerator, denominator, value, ci_low, ci_high, suppressed, provisional, simulated] =
        KPI_COLUMNS.map(PlSmallStr::from);
    DataFrame::new(
        rows.len(),
        vec![
            Column::new(pilot, text(&|k| dimension(&k.pilot, metrics::ALL))),
            Column::new(period, text(&|k| dimension(&k.period, metrics::TOTAL))),
            Column::new(region, text(&|k| dimension(&k.region, metrics::ALL))),
            Column::new(metric, text(&|k| Some(&k.metric))),
            Column::new(numerator, rows.iter().map(|k| count(k.numerator)).collect::<Vec<_>>()),
            Column::new(denominator, rows.iter().map(|k| count(k.denominator)).collect::<Vec<_>>()),
            Column::new(value, float(&|k| k.value)),
            Column::new(ci_low, float(&|k| k.ci_low)),
            Column::new(ci_high, float(&|k| k.ci_high)),
            Column::new(suppressed, flag(&|k| k.suppressed)),
            Column::new(provisional, flag(&|k| k.provisional)),
            Column::new(simulated, flag(&|k| k.simulated)),
        ],
    )
}

/// `kpi.json`: the published rows in the "split" layout dashboards and `pandas.read_json(f,
/// orient="split")` load, `{"columns": [...], "data": [[...], ...]}`, a row per line.
pub fn kpi_json(rows: &[Kpi]) -> String {
    let lines: Vec<String> = rows
        .iter()
        .filter(|k| published(k))
        .map(|k| {
            serde_json::json!([
                dimension(&k.pilot, metrics::ALL),
                dimension(&k.period, metrics::TOTAL),
                dimension(&k.region, metrics::ALL),
                k.metric,
                count(k.numerator),
                count(k.denominator),
                k.value,
                k.ci_low,
                k.ci_high,
                k.suppressed,
                k.provisional,
                k.simulated
            ])
            .to_string()
        })
        .collect();
    format!("{{\"columns\": {},\n\"data\": [\n{}\n]}}\n", serde_json::json!(KPI_COLUMNS), lines.join(",\n"))
}

/// Headline values by (pilot or `all`, metric).
pub type Headline = std::collections::BTreeMap<(String, String), f64>;

/// The headline values of a published `kpi.json` (either layout: the split one, or the array
/// of objects with `all`/`total` that reports wrote before): (pilot or `all`, metric) → value.
pub fn headline_values(json: &serde_json::Value) -> Headline {
    let mut out = Headline::new();
    let text = |v: &serde_json::Value| v.as_str().map(String::from);
    if let Some(rows) = json.as_array() {
        for k in rows {
            if k["period"] == metrics::TOTAL && k["region"] == metrics::ALL {
                if let (Some(p), Some(m), Some(v)) =
                    (text(&k["pilot"]), text(&k["metric"]), k["value"].as_f64())
                {
                    out.insert((p, m), v);
                }
            }
        }
    } else if let (Some(cols), Some(data)) = (json["columns"].as_array(), json["data"].as_array()) {
        let at = |name: &str| cols.iter().position(|c| c == name);
        let (Some(p), Some(w), Some(r), Some(m), Some(v)) =
            (at("pilot"), at("period"), at("region"), at("metric"), at("value"))
        else {
            return out;
        };
        for row in data {
            if row[w].is_null() && row[r].is_null() {
                if let (Some(metric), Some(v)) = (text(&row[m]), row[v].as_f64()) {
                    out.insert((text(&row[p]).unwrap_or_else(|| metrics::ALL.into()), metric), v);
                }
            }
        }
    }
    out
}
