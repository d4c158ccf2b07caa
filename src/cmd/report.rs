//! `sdu report`: KPI tables, charts and a readable report across pilots.

use crate::config::{load_pilots, Pilot};
use crate::pipeline::outcome;
use crate::publish::{Manifest, RunFolder};
use crate::report::metrics::{self, ALL, TOTAL};
use crate::report::render::{self, baseline_rows, show, Block, Lookup};
use crate::report::{charts, kpi_frame, load, BASELINE};
use chrono::NaiveDate;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// KPI report across pilots: tables (Parquet, CSV, JSON), charts (PNG, SVG), report.md and
/// a self-contained report.html.
///
/// Reads only the published candidate folders and the case ledger under --out. Cells of a
/// breakdown by week or region below --min-cell are shown as `<5` and their rates withheld.
///
/// Example:
///   sdu report --out out --as-of 2026-11-23
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Where the run folders and the case ledger live; the report goes to <out>/reports/<as-of>/.
    #[arg(long)]
    pub out: PathBuf,
    /// The report date (end of day, Asia/Almaty).
    #[arg(long, value_parser = super::parse_date)]
    pub as_of: NaiveDate,
    /// First week shown in the weekly series [default: the earliest data].
    #[arg(long, value_parser = super::parse_date)]
    pub from: Option<NaiveDate>,
    /// Smallest count shown in a breakdown cell.
    #[arg(long, default_value_t = 5)]
    pub min_cell: u64,
    /// Pilots file [default: the embedded data/pilots.toml].
    #[arg(long, value_name = "FILE")]
    pub pilots: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.min_cell == 0 {
        return Err(super::UsageError("--min-cell must be at least 1".into()).into());
    }
    let pilots = load_pilots(args.pilots.as_deref()).map_err(|e| super::UsageError(format!("{e:#}")))?;
    let path = execute(&args.out, args.as_of, args.from, args.min_cell, &pilots)?;
    println!("report for {} → {}", args.as_of, path.display());
    Ok(())
}

fn previous_report(out: &Path, as_of: NaiveDate) -> Option<(NaiveDate, Vec<serde_json::Value>)> {
    let dir = out.join("reports");
    let mut best: Option<NaiveDate> = None;
    for e in std::fs::read_dir(&dir).ok()?.flatten() {
        let Ok(d) = NaiveDate::parse_from_str(&e.file_name().to_string_lossy(), "%Y-%m-%d") else {
            continue;
        };
        if d < as_of && best.is_none_or(|b| b < d) && e.path().join("kpi.json").is_file() {
            best = Some(d);
        }
    }
    let d = best?;
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(d.to_string()).join("kpi.json")).ok()?).ok()?;
    Some((d, v.as_array()?.clone()))
}

/// Builds and publishes the report; returns its folder.
pub fn execute(
    out: &Path,
    as_of: NaiveDate,
    from: Option<NaiveDate>,
    min_cell: u64,
    pilots: &[Pilot],
) -> anyhow::Result<PathBuf> {
    let started = chrono::Utc::now();
    let inputs = load(out, as_of, pilots)?;
    let rows = metrics::compute(&inputs.events, &inputs.campaign, as_of, min_cell);
    let lookup = Lookup::new(&rows);
    let present: Vec<String> =
        pilots.iter().map(|p| p.id.clone()).filter(|id| rows.iter().any(|k| &k.pilot == id)).collect();

    let target = out.join("reports").join(as_of.to_string());
    let mut folder = RunFolder::new(&target)?;
    let mut frame = kpi_frame(&rows)?;
    folder.parquet("kpi.parquet", &mut frame)?;
    folder.csv("kpi.csv", &frame)?;
    folder.json("kpi.json", &rows, rows.len() as u64)?;

    // Charts.
    let chart_dir = folder.dir().join("charts");
    std::fs::create_dir_all(&chart_dir)?;
    let mut blocks =
        vec![Block::Heading(1, format!("SDU proactive re-registration pilots — KPI report as of {as_of}"))];
    blocks.push(Block::Para(format!(
        "Бұл есеп / Этот отчёт: published candidate runs and the case ledger up to the end of {as_of} (Asia/Almaty). \
         Runs read: {}. Breakdown cells below {min_cell} are shown as <{min_cell} and their rates withheld.",
        inputs.runs.iter().map(|(p, d, _)| format!("{p} of {d}")).collect::<Vec<_>>().join(", ")
    )));
    blocks.push(Block::Heading(2, "Summary".into()));
    let mut bullets = Vec::new();
    for p in present.iter().map(String::as_str).chain([ALL]) {
        let v = |m: &str| show(lookup.get(p, TOTAL, ALL, m), min_cell);
        bullets.push(format!(
            "{p}: {} events in scope, {} offered, {} SMS sent, {} accepted ({} of decided cases), {} declined, {} timed out, {} open",
            v("events_in_scope"),
            v("offered"),
            v("sms1_sent"),
            v("accepted"),
            v("acceptance_rate_decided"),
            v("declined"),
            v("timed_out"),
            v("open")
        ));
    }
    blocks.push(Block::Bullets(bullets));

    blocks.push(Block::Heading(2, "What changed since the previous report".into()));
    match previous_report(out, as_of) {
        None => blocks.push(Block::Para("This is the first report in this output folder.".into())),
        Some((d, prev)) => {
            let mut changes = Vec::new();
            for p in present.iter().map(String::as_str).chain([ALL]) {
                for m in ["events_in_scope", "offered", "accepted", "declined", "timed_out"] {
                    let old = prev
                        .iter()
                        .find(|k| {
                            k["pilot"] == p && k["period"] == TOTAL && k["region"] == ALL && k["metric"] == m
                        })
                        .and_then(|k| k["value"].as_f64())
                        .unwrap_or(0.0);
                    let new = lookup.value(p, m).unwrap_or(0.0);
                    if (new - old).abs() > 0.0 {
                        changes.push(format!("{p}: {m} {old:.0} → {new:.0} ({:+.0})", new - old));
                    }
                }
            }
            if changes.is_empty() {
                changes.push("no change in the headline counts".into());
            }
            blocks.push(Block::Para(format!("Compared with the report of {d}:")));
            blocks.push(Block::Bullets(changes));
        }
    }

    // Funnel per pilot.
    blocks.push(Block::Heading(2, "Funnel / Воронка".into()));
    let mut funnel_metrics: Vec<String> = vec!["events_in_scope".into()];
    funnel_metrics.extend(outcome::ALL.iter().map(|o| format!("outcome.{o}")));
    funnel_metrics.extend(["offered", "no_mobile", "sms1_sent", "sms2_sent"].map(String::from));
    let mut head = vec!["metric".to_string()];
    head.extend(present.iter().cloned());
    head.push(ALL.into());
    let table = |metrics: &[String]| -> Vec<Vec<String>> {
        metrics
            .iter()
            .map(|m| {
                let mut r = vec![m.clone()];
                r.extend(
                    present
                        .iter()
                        .map(String::as_str)
                        .chain([ALL])
                        .map(|p| show(lookup.get(p, TOTAL, ALL, m), min_cell)),
                );
                r
            })
            .collect()
    };
    blocks.push(Block::Table(head.clone(), table(&funnel_metrics)));
    for p in &present {
        let labels: Vec<String> = outcome::ALL.iter().map(|o| o.to_string()).collect();
        let values: Vec<f64> =
            outcome::ALL.iter().map(|o| lookup.value(p, &format!("outcome.{o}")).unwrap_or(0.0)).collect();
        let stem = format!("funnel-{p}");
        charts::bar_chart(
            &chart_dir,
            &stem,
            &format!("Воронка / Оқиғалар нәтижесі: {p}"),
            &labels,
            &values,
            false,
        )?;
        blocks.push(Block::Image(format!("funnel of {p}"), format!("charts/{stem}.png")));
    }

    // Outcome shares side by side.
    let mut labels = Vec::new();
    let mut values = Vec::new();
    for p in &present {
        let scope = lookup.value(p, "events_in_scope").unwrap_or(0.0);
        for o in outcome::ALL {
            let n = lookup.value(p, &format!("outcome.{o}")).unwrap_or(0.0);
            if n > 0.0 && scope > 0.0 {
                labels.push(format!("{p}: {o}"));
                values.push(n / scope);
            }
        }
    }
    charts::bar_chart(
        &chart_dir,
        "outcome-shares",
        "Нәтижелер үлесі / Доли исходов по пилотам",
        &labels,
        &values,
        true,
    )?;
    blocks.push(Block::Image("outcome shares per pilot".into(), "charts/outcome-shares.png".into()));

    // Exclusion reasons.
    blocks.push(Block::Heading(2, "Exclusion reasons / Шығару себептері".into()));
    let mut reason_metrics = Vec::new();
    for c in outcome::CRITERIA {
        reason_metrics.push(format!("first_reason.{c}"));
        reason_metrics.push(format!("reason.{c}"));
    }
    blocks.push(Block::Table(head.clone(), table(&reason_metrics)));
    let labels: Vec<String> = outcome::CRITERIA.iter().map(|c| c.to_string()).collect();
    let values: Vec<f64> =
        outcome::CRITERIA.iter().map(|c| lookup.value(ALL, &format!("reason.{c}")).unwrap_or(0.0)).collect();
    charts::bar_chart(
        &chart_dir,
        "exclusion-reasons",
        "Шығару себептері / Причины исключения (барлық себептер)",
        &labels,
        &values,
        false,
    )?;
    blocks.push(Block::Image("exclusion reasons".into(), "charts/exclusion-reasons.png".into()));

    // Campaign.
    blocks.push(Block::Heading(2, "SMS campaign / SMS науқаны".into()));
    let campaign_metrics: Vec<String> = [
        "accepted",
        "declined",
        "timed_out",
        "open",
        "acceptance_rate_decided",
        "decline_rate_decided",
        "timeout_rate_decided",
        "acceptance_rate_dispatched",
        "decline_rate_dispatched",
        "timeout_rate_dispatched",
        "invalid_replies",
        "decided_after_second_sms",
        "reply_latency_median_h",
        "reply_latency_p90_h",
        "rename_to_request_median_days",
        "reissue_requests",
    ]
    .map(String::from)
    .to_vec();
    blocks.push(Block::Table(head.clone(), table(&campaign_metrics)));
    let cumulative: Vec<_> = metrics::cumulative_by_week(&inputs.campaign, as_of)
        .into_iter()
        .filter(|(w, ..)| from.is_none_or(|f| w.as_str() >= metrics::iso_week(f).as_str()))
        .collect();
    let weeks: Vec<String> = cumulative.iter().map(|c| c.0.clone()).collect();
    // Points resting on fewer than --min-cell decided cases are left out (gaps).
    let rate = |n: f64, d: f64| (d >= min_cell as f64).then(|| n / d);
    let series = vec![
        ("acceptance".to_string(), cumulative.iter().map(|c| rate(c.1, c.3)).collect::<Vec<_>>()),
        ("timeout".to_string(), cumulative.iter().map(|c| rate(c.2, c.3)).collect::<Vec<_>>()),
    ];
    charts::line_chart(
        &chart_dir,
        "weekly-rates",
        "Қабылдау мен мерзімі өту үлесі / Доля принятых и истёкших (нарастающим итогом по неделям)",
        &weeks,
        &series,
    )?;
    blocks.push(Block::Image("weekly acceptance and timeout rates".into(), "charts/weekly-rates.png".into()));
    let mut latencies: Vec<f64> = Vec::new();
    for case in inputs.campaign.cases.values() {
        if let Some(d) = case.history.iter().find(|e| {
            matches!(e.kind, crate::campaign::Kind::ReplyAccept | crate::campaign::Kind::ReplyDecline)
        }) {
            if let Some(s) = case.sms.iter().rev().find(|s| s.sent_at <= d.at) {
                latencies.push((d.at - s.sent_at).num_minutes() as f64 / 60.0);
            }
        }
    }
    let bins = [0.0, 1.0, 3.0, 6.0, 12.0, 24.0, 48.0, 72.0, f64::INFINITY];
    let labels: Vec<String> = bins
        .windows(2)
        .map(|w| if w[1].is_infinite() { format!("≥ {} h", w[0]) } else { format!("{}–{} h", w[0], w[1]) })
        .collect();
    let values: Vec<f64> = bins
        .windows(2)
        .map(|w| latencies.iter().filter(|l| **l >= w[0] && **l < w[1]).count() as f64)
        .collect();
    charts::bar_chart(
        &chart_dir,
        "reply-latency",
        "Жауап беру уақыты / Время ответа (сағат, часы)",
        &labels,
        &values,
        false,
    )?;
    blocks.push(Block::Image("reply latency".into(), "charts/reply-latency.png".into()));

    // Baseline.
    blocks.push(Block::Heading(2, "Against the reactive baseline (seeds 001, 004)".into()));
    blocks.push(Block::Table(
        vec!["way".into(), "time".into(), "what the holder does".into()],
        baseline_rows(&lookup, &present),
    ));
    blocks.push(Block::Para(format!("Source: {}.", BASELINE.source)));
    blocks.push(Block::Bullets(BASELINE.assumptions.iter().map(|a| format!("Assumption: {a}")).collect()));

    // Regions.
    blocks.push(Block::Heading(2, "By region (KATO) / Өңірлер бойынша".into()));
    let regions: BTreeSet<String> = rows
        .iter()
        .filter(|k| k.region != ALL && k.pilot == ALL && k.period == TOTAL)
        .map(|k| k.region.clone())
        .collect();
    let region_rows: Vec<Vec<String>> = regions
        .iter()
        .map(|r| {
            let v = |m: &str| show(lookup.get(ALL, TOTAL, r, m), min_cell);
            vec![r.clone(), v("events_in_scope"), v("offered"), v("accepted"), v("acceptance_rate_decided")]
        })
        .collect();
    blocks.push(Block::Table(
        ["region", "events", "offered", "accepted", "acceptance (decided)"].map(String::from).to_vec(),
        region_rows,
    ));

    blocks.push(Block::Heading(2, "Definitions".into()));
    blocks.push(Block::Para("Every metric is defined once, in src/report/metrics.rs and docs/kpi.md: numerator, denominator, which cases count and at which date.".into()));

    let dir = folder.dir().to_path_buf();
    let mut charts_written: Vec<String> = std::fs::read_dir(&chart_dir)?
        .flatten()
        .map(|e| format!("charts/{}", e.file_name().to_string_lossy()))
        .collect();
    charts_written.sort();
    for f in &charts_written {
        folder.record_file(f)?;
    }
    folder.text("report.md", &render::markdown(&blocks))?;
    folder.text("report.html", &render::html(&blocks, &format!("SDU KPI report {as_of}"), &dir)?)?;
    let path = folder.publish(Manifest::new(started, as_of.to_string(), None, String::new(), vec![]))?;
    Ok(path)
}
