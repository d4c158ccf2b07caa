//! The readable report: one document model rendered as Markdown (`report.md`) and as a
//! self-contained HTML page (`report.html`, charts embedded as data URIs, no network).

use super::metrics::{Kpi, ALL, TOTAL};
use super::BASELINE;
use std::collections::BTreeMap;
use std::path::Path;

/// A block of the document.
pub enum Block {
    /// A warning that stands out (simulated inputs).
    Banner(String),
    Heading(u8, String),
    Para(String),
    Bullets(Vec<String>),
    /// Header row, then rows.
    Table(Vec<String>, Vec<Vec<String>>),
    /// Alt text, PNG file name relative to the report folder.
    Image(String, String),
}

/// KPI lookup by (pilot, period, region, metric).
pub struct Lookup<'a> {
    map: BTreeMap<(&'a str, &'a str, &'a str, &'a str), &'a Kpi>,
}

impl<'a> Lookup<'a> {
    pub fn new(rows: &'a [Kpi]) -> Self {
        Lookup {
            map: rows
                .iter()
                .map(|k| ((k.pilot.as_str(), k.period.as_str(), k.region.as_str(), k.metric.as_str()), k))
                .collect(),
        }
    }

    pub fn get(&self, pilot: &str, period: &str, region: &str, metric: &str) -> Option<&'a Kpi> {
        self.map.get(&(pilot, period, region, metric)).copied()
    }

    pub fn value(&self, pilot: &str, metric: &str) -> Option<f64> {
        self.get(pilot, TOTAL, ALL, metric).and_then(|k| k.value)
    }
}

/// A cell as shown: counts as integers, rates as percentages, small cells as `<5`.
pub fn show(k: Option<&Kpi>, min_cell: u64) -> String {
    match k {
        None => "–".into(),
        // A withheld rate or median is not a small count: "<5" there would read as "<5 %".
        Some(k) if k.suppressed && !super::metrics::additive(&k.metric) => "withheld".into(),
        Some(k) if k.suppressed => format!("<{min_cell}"),
        Some(k) => match k.value {
            None => "n/a".into(),
            Some(v) if super::metrics::is_rate(&k.metric) => {
                let (num, den) = (k.numerator.unwrap_or(0.0), k.denominator.unwrap_or(0.0));
                match (k.ci_low, k.ci_high) {
                    _ if den < super::metrics::MIN_N => format!("too few cases ({num:.0}/{den:.0})"),
                    (Some(lo), Some(hi)) => {
                        let open = if k.provisional { "; provisional" } else { "" };
                        format!(
                            "{:.1} % ({num:.0}/{den:.0}; {:.0}–{:.0} %{open})",
                            v * 100.0,
                            lo * 100.0,
                            hi * 100.0
                        )
                    }
                    _ => format!("{:.1} % ({num:.0}/{den:.0})", v * 100.0),
                }
            }
            Some(v) if super::metrics::is_estimate(&k.metric) => {
                let n = k.denominator.unwrap_or(0.0);
                match (k.ci_low, k.ci_high) {
                    _ if n < super::metrics::MIN_N => format!("too few cases (n {n:.0})"),
                    (Some(lo), Some(hi)) => {
                        let open = if k.provisional { "; provisional" } else { "" };
                        format!("{:.1} % (n {n:.0}; {:.0}–{:.0} %{open})", v * 100.0, lo * 100.0, hi * 100.0)
                    }
                    _ => format!("{:.1} % (n {n:.0})", v * 100.0),
                }
            }
            Some(v) if k.metric.ends_with("_h") || k.metric.ends_with("_days") => format!("{v:.1}"),
            Some(v) => format!("{v:.0}"),
        },
    }
}

pub fn markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for b in blocks {
        match b {
            Block::Banner(t) => out.push_str(&format!("> **{t}**\n\n")),
            Block::Heading(level, t) => out.push_str(&format!("{} {t}\n\n", "#".repeat(usize::from(*level)))),
            Block::Para(t) => out.push_str(&format!("{t}\n\n")),
            Block::Bullets(items) => {
                for i in items {
                    out.push_str(&format!("- {i}\n"));
                }
                out.push('\n');
            }
            Block::Table(head, rows) => {
                // A cell's own `|` (a pilots file's text) must not split the row; a line
                // break would end it.
                let cells = |r: &[String]| {
                    r.iter()
                        .map(|c| c.replace('|', "\\|").replace(['\n', '\r'], " "))
                        .collect::<Vec<_>>()
                        .join(" | ")
                };
                out.push_str(&format!("| {} |\n", cells(head)));
                out.push_str(&format!("|{}\n", head.iter().map(|_| "---|").collect::<String>()));
                for r in rows {
                    out.push_str(&format!("| {} |\n", cells(r)));
                }
                out.push('\n');
            }
            Block::Image(alt, file) => out.push_str(&format!("![{alt}]({file})\n\n")),
        }
    }
    out
}

/// The HTML page's template (minijinja, auto-escaping: every text is escaped by the engine).
const TEMPLATE: &str = include_str!("report.html.j2");

/// A block as the template reads it.
#[derive(serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum View<'a> {
    Banner { text: &'a str },
    Heading { level: u8, text: &'a str },
    Para { text: &'a str },
    Bullets { items: &'a [String] },
    Table { head: &'a [String], rows: Vec<Vec<Cell<'a>>> },
    Image { alt: &'a str, data: String },
}

#[derive(serde::Serialize)]
struct Cell<'a> {
    text: &'a str,
    numeric: bool,
}

/// The HTML page from the template; images are read from `dir` and embedded as data URIs.
pub fn html(blocks: &[Block], title: &str, dir: &Path) -> anyhow::Result<String> {
    use base64::Engine;
    let mut views = Vec::with_capacity(blocks.len());
    for b in blocks {
        views.push(match b {
            Block::Banner(t) => View::Banner { text: t },
            Block::Heading(level, t) => View::Heading { level: *level, text: t },
            Block::Para(t) => View::Para { text: t },
            Block::Bullets(items) => View::Bullets { items },
            Block::Table(head, rows) => View::Table {
                head,
                rows: rows
                    .iter()
                    .map(|r| {
                        r.iter()
                            .enumerate()
                            .map(|(k, cell)| Cell { text: cell, numeric: k > 0 && numeric(cell) })
                            .collect()
                    })
                    .collect(),
            },
            Block::Image(alt, file) => {
                let path = dir.join(file);
                let bytes = std::fs::read(&path)
                    .map_err(|e| anyhow::anyhow!("{}: cannot embed the chart: {e}", path.display()))?;
                View::Image { alt, data: base64::engine::general_purpose::STANDARD.encode(bytes) }
            }
        });
    }
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("report.html", TEMPLATE)?;
    let page = env.get_template("report.html")?.render(minijinja::context! { title, blocks => views })?;
    Ok(page)
}

/// Whether a cell reads as a number (a count, a rate, `<5`, `n/a`, a date): those align right,
/// words align left.
fn numeric(cell: &str) -> bool {
    cell == "n/a" || cell.chars().all(|c| c.is_ascii_digit() || " .,%<–-".contains(c))
}

/// The baseline section's rows: proactive vs reactive.
pub fn baseline_rows(lookup: &Lookup, pilots: &[String]) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "reactive (ordinary way)".to_string(),
        format!(
            "{} working days (≈ {:.0} calendar days) after the application",
            BASELINE.working_days(),
            BASELINE.calendar_days()
        ),
        "1 application on the portal".into(),
    ]];
    for p in pilots.iter().map(String::as_str).chain([ALL]) {
        let n = |m: &str| lookup.get(p, TOTAL, ALL, m).and_then(|k| k.denominator).unwrap_or(0.0);
        let request = lookup
            .value(p, "rename_to_request_median_days")
            .map(|d| {
                format!(
                    "median {d:.0} days from the rename to the request (n {})",
                    n("rename_to_request_median_days")
                )
            })
            .unwrap_or_else(|| "no accepted case yet".into());
        let reissue = lookup
            .value(p, "rename_to_reissue_median_days")
            .map(|d| {
                format!(", {d:.0} days to the re-issued permit (n {})", n("rename_to_reissue_median_days"))
            })
            .unwrap_or_else(|| ", no permit re-issued yet".into());
        let days = format!("{request}{reissue}");
        let latency = lookup
            .value(p, "reply_latency_median_h")
            .map(|h| format!(", reply within {h:.1} h (median)"))
            .unwrap_or_default();
        rows.push(vec![format!("proactive: {p}"), format!("{days}{latency}"), "none: one SMS reply".into()]);
    }
    rows
}
