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
                out.push_str(&format!("| {} |\n", head.join(" | ")));
                out.push_str(&format!("|{}\n", head.iter().map(|_| "---|").collect::<String>()));
                for r in rows {
                    out.push_str(&format!("| {} |\n", r.join(" | ")));
                }
                out.push('\n');
            }
            Block::Image(alt, file) => out.push_str(&format!("![{alt}]({file})\n\n")),
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Standard base64, for embedding images.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The HTML page; images are read from `dir` and embedded.
pub fn html(blocks: &[Block], title: &str, dir: &Path) -> std::io::Result<String> {
    let mut body = String::new();
    for b in blocks {
        match b {
            Block::Banner(t) => body.push_str(&format!("<div class=\"banner\">{}</div>\n", escape(t))),
            Block::Heading(level, t) => body.push_str(&format!("<h{level}>{}</h{level}>\n", escape(t))),
            Block::Para(t) => body.push_str(&format!("<p>{}</p>\n", escape(t))),
            Block::Bullets(items) => {
                body.push_str("<ul>\n");
                for i in items {
                    body.push_str(&format!("<li>{}</li>\n", escape(i)));
                }
                body.push_str("</ul>\n");
            }
            Block::Table(head, rows) => {
                body.push_str("<table>\n<tr>");
                for h in head {
                    body.push_str(&format!("<th>{}</th>", escape(h)));
                }
                body.push_str("</tr>\n");
                for r in rows {
                    body.push_str("<tr>");
                    for (k, cell) in r.iter().enumerate() {
                        let class = if k > 0 && numeric(cell) { " class=\"n\"" } else { "" };
                        body.push_str(&format!("<td{class}>{}</td>", escape(cell)));
                    }
                    body.push_str("</tr>\n");
                }
                body.push_str("</table>\n");
            }
            Block::Image(alt, file) => {
                let bytes = std::fs::read(dir.join(file))?;
                body.push_str(&format!(
                    "<img alt=\"{}\" src=\"data:image/png;base64,{}\">\n",
                    escape(alt),
                    base64(&bytes)
                ));
            }
        }
    }
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"kk\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n\
         body {{ font-family: 'DejaVu Sans', Arial, sans-serif; max-width: 1080px; margin: 2em auto; color: #222; }}\n\
         table {{ border-collapse: collapse; margin: 1em 0; }} th, td {{ border: 1px solid #ccc; padding: 4px 8px; }}\n\
         th {{ background: #f0f0f0; }} .banner {{ background: #fff3cd; border: 2px solid #b58100; padding: 0.8em 1em; font-weight: bold; }} td.n {{ text-align: right; white-space: nowrap; }} img {{ max-width: 100%; }}\n</style>\n</head>\n<body>\n{}</body>\n</html>\n",
        escape(title),
        body
    ))
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
