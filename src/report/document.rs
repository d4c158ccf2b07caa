//! The report as a document: its sections built from the KPI rows (computed once in
//! [`super::metrics`]) and the charts drawn beside them. Rendering to Markdown and HTML is
//! [`super::render`]'s; publishing the folder is the workflow's.

use super::charts;
use super::metrics::{self, Kpi, ALL, TOTAL};
use super::render::{baseline_rows, show, Block, Lookup};
use super::{ReportInputs, BASELINE};
use crate::config::Pilot;
use crate::pipeline::outcome;
use chrono::NaiveDate;
use std::collections::BTreeSet;
use std::path::Path;

/// What a report is asked for.
pub struct Request<'a> {
    pub as_of: NaiveDate,
    /// First week shown in the weekly series.
    pub from: Option<NaiveDate>,
    /// Smallest count shown in a breakdown cell.
    pub min_cell: u64,
    /// The headline counts of the previous report, with its date.
    pub previous: Option<(NaiveDate, Vec<serde_json::Value>)>,
    /// Where the charts are drawn.
    pub chart_dir: &'a Path,
}

/// The KPI rows and what the sections share.
struct Ctx<'a> {
    req: &'a Request<'a>,
    inputs: &'a ReportInputs,
    rows: &'a [Kpi],
    lookup: Lookup<'a>,
    /// Pilots with data, in the pilots file's order.
    present: Vec<String>,
}

impl Ctx<'_> {
    /// Each pilot with data, then all pilots together.
    fn columns(&self) -> impl Iterator<Item = &str> {
        self.present.iter().map(String::as_str).chain([ALL])
    }

    fn header(&self) -> Vec<String> {
        let mut head = vec!["metric".to_string()];
        head.extend(self.columns().map(String::from));
        head
    }

    /// A table of metrics (rows) by pilot (columns).
    fn table(&self, metrics: &[String]) -> Block {
        let rows = metrics
            .iter()
            .map(|m| {
                let mut r = vec![m.clone()];
                r.extend(self.columns().map(|p| show(self.lookup.get(p, TOTAL, ALL, m), self.req.min_cell)));
                r
            })
            .collect();
        Block::Table(self.header(), rows)
    }

    fn chart(
        &self,
        stem: &str,
        title: &str,
        labels: &[String],
        values: &[f64],
        share: bool,
    ) -> anyhow::Result<()> {
        let title = format!("{title}{}", self.simulated_mark());
        charts::bar_chart(self.req.chart_dir, stem, &title, labels, values, share)?;
        Ok(())
    }

    /// What every chart title carries when the inputs were simulated.
    fn simulated_mark(&self) -> &'static str {
        if self.inputs.simulated.is_empty() {
            ""
        } else {
            " — SIMULATED / МОДЕЛЬ"
        }
    }
}

/// Builds the report's blocks and draws its charts.
pub fn build(
    req: &Request,
    inputs: &ReportInputs,
    rows: &[Kpi],
    pilots: &[Pilot],
) -> anyhow::Result<Vec<Block>> {
    let present =
        pilots.iter().map(|p| p.id.clone()).filter(|id| rows.iter().any(|k| &k.pilot == id)).collect();
    let ctx = Ctx { req, inputs, rows, lookup: Lookup::new(rows), present };
    let mut blocks = Vec::new();
    if !inputs.simulated.is_empty() {
        let labels: Vec<&str> = inputs.simulated.iter().map(String::as_str).collect();
        blocks.push(Block::Banner(format!(
            "SIMULATED — МОДЕЛЬДЕУ — СИМУЛЯЦИЯ: replies, delivery reports or e-license answers in this report come from the simulators ({}), not from people. The campaign's numbers describe the simulators' model, not the pilots.",
            labels.join(", ")
        )));
    }
    blocks.extend(summary(&ctx));
    blocks.extend(terms(pilots));
    blocks.extend(changes(&ctx));
    blocks.extend(funnel(&ctx)?);
    blocks.extend(exclusions(&ctx)?);
    blocks.extend(campaign(&ctx)?);
    blocks.extend(baseline(&ctx));
    blocks.extend(regions(&ctx));
    blocks.push(Block::Heading(2, "Definitions".into()));
    blocks.push(Block::Para("Every metric is defined once, in src/report/metrics.rs and docs/kpi.md: numerator, denominator, which cases count and at which date.".into()));
    Ok(blocks)
}

fn summary(ctx: &Ctx) -> Vec<Block> {
    let (as_of, min_cell) = (ctx.req.as_of, ctx.req.min_cell);
    let runs = ctx.inputs.runs.iter().map(|(p, d, _)| format!("{p} of {d}")).collect::<Vec<_>>().join(", ");
    let mut bullets = Vec::new();
    for p in ctx.columns() {
        let v = |m: &str| show(ctx.lookup.get(p, TOTAL, ALL, m), min_cell);
        bullets.push(format!(
            "{p}: {} events in scope, {} offered, {} SMS sent, {} accepted (of decided cases: {}), {} declined, {} timed out, {} undeliverable, {} open, {} superseded, {} voided, {} permits re-issued",
            v("events_in_scope"),
            v("offered"),
            v("sms1_sent"),
            v("accepted"),
            v("acceptance_rate_decided"),
            v("declined"),
            v("timed_out"),
            v("undeliverable"),
            v("open"),
            v("superseded"),
            v("voided"),
            v("permits_reissued")
        ));
    }
    let (cutoff, min_n) = (ctx.inputs.cutoff, metrics::MIN_N);
    vec![
        Block::Heading(1, format!("SDU proactive re-registration pilots — KPI report as of {as_of}")),
        Block::Para(format!(
            "Бұл есеп / Этот отчёт: published candidate runs up to {as_of} and the case ledger's events up to {cutoff} \
             (Asia/Almaty; the time the day's last advance decided to, so the report made again later gives the same numbers). \
             Runs read: {runs}. Breakdown cells below {min_cell} are shown as <{min_cell} and their rates withheld. \
             Every rate shows its cases (numerator/denominator) and its 95 % Wilson interval; a rate on fewer than {min_n} \
             cases is shown as too few cases."
        )),
        Block::Heading(2, "Summary".into()),
        Block::Bullets(bullets),
    ]
}

/// The pilots' terms, each bound with how it was read from the order; an assumed bound
/// says so.
fn terms(pilots: &[Pilot]) -> Vec<Block> {
    let rows = pilots
        .iter()
        .map(|p| {
            let assumed = if p.in_force_from_assumed { " (assumed)" } else { "" };
            vec![
                p.id.clone(),
                p.order_numbers.join(", "),
                format!("{}{assumed}", p.in_force_from),
                p.in_force_until.to_string(),
                format!("first day — {}; last day — {}", p.in_force_from_basis, p.in_force_until_basis),
            ]
        })
        .collect();
    let head =
        ["pilot", "order", "first day", "last day", "how the term was read"].map(String::from).to_vec();
    vec![
        Block::Heading(2, "Pilots and their terms / Пилоттар мерзімі".into()),
        Block::Para(
            "Terms given in months or years end on the corresponding day of the last month or year \
             (Civil Code of the Republic of Kazakhstan, art. 173); both days are included."
                .into(),
        ),
        Block::Table(head, rows),
    ]
}

fn changes(ctx: &Ctx) -> Vec<Block> {
    let mut blocks = vec![Block::Heading(2, "What changed since the previous report".into())];
    let Some((d, prev)) = &ctx.req.previous else {
        blocks.push(Block::Para("This is the first report in this output folder.".into()));
        return blocks;
    };
    let mut changes = Vec::new();
    for p in ctx.columns() {
        for m in ["events_in_scope", "offered", "accepted", "declined", "timed_out"] {
            let old = prev
                .iter()
                .find(|k| k["pilot"] == p && k["period"] == TOTAL && k["region"] == ALL && k["metric"] == m)
                .and_then(|k| k["value"].as_f64())
                .unwrap_or(0.0);
            let new = ctx.lookup.value(p, m).unwrap_or(0.0);
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
    blocks
}

fn funnel(ctx: &Ctx) -> anyhow::Result<Vec<Block>> {
    let mut blocks = vec![Block::Heading(2, "Funnel / Воронка".into())];
    let mut funnel_metrics: Vec<String> = vec!["events_in_scope".into()];
    funnel_metrics.extend(outcome::ALL.iter().map(|o| format!("outcome.{o}")));
    funnel_metrics.extend(
        ["offered", "superseded", "voided", "no_mobile", "queued", "sms1_sent", "sms2_sent"]
            .map(String::from),
    );
    blocks.push(Block::Para(
        "“outcome.offered” counts the events the latest candidates offer; “offered” counts the cases \
         offered since the pilot began. A case is “superseded” when a newer case of the same permits \
         took over (the organization renamed again, or a new first head), and “voided” when its \
         re-check against the latest candidates failed (the recipient now meets a criterion or is no \
         longer the first head, no permit still counts, or every permit was already requested): \
         neither gets a re-issue request. “queued” cases wait for the answer to another question sent \
         to the same phone."
            .into(),
    ));
    blocks.push(ctx.table(&funnel_metrics));
    let labels: Vec<String> = outcome::ALL.iter().map(|o| o.to_string()).collect();
    for p in &ctx.present {
        let values: Vec<f64> = outcome::ALL
            .iter()
            .map(|o| ctx.lookup.value(p, &format!("outcome.{o}")).unwrap_or(0.0))
            .collect();
        let stem = format!("funnel-{p}");
        ctx.chart(&stem, &format!("Воронка / Оқиғалар нәтижесі: {p}"), &labels, &values, false)?;
        blocks.push(Block::Image(format!("funnel of {p}"), format!("charts/{stem}.png")));
    }
    // Outcome shares side by side.
    let (mut labels, mut values) = (Vec::new(), Vec::new());
    for p in &ctx.present {
        let scope = ctx.lookup.value(p, "events_in_scope").unwrap_or(0.0);
        for o in outcome::ALL {
            let n = ctx.lookup.value(p, &format!("outcome.{o}")).unwrap_or(0.0);
            if n > 0.0 && scope > 0.0 {
                labels.push(format!("{p}: {o}"));
                values.push(n / scope);
            }
        }
    }
    ctx.chart("outcome-shares", "Нәтижелер үлесі / Доли исходов по пилотам", &labels, &values, true)?;
    blocks.push(Block::Image("outcome shares per pilot".into(), "charts/outcome-shares.png".into()));
    Ok(blocks)
}

fn exclusions(ctx: &Ctx) -> anyhow::Result<Vec<Block>> {
    let mut blocks = vec![Block::Heading(2, "Exclusion reasons / Шығару себептері".into())];
    let reason_metrics: Vec<String> =
        outcome::CRITERIA.iter().flat_map(|c| [format!("first_reason.{c}"), format!("reason.{c}")]).collect();
    blocks.push(ctx.table(&reason_metrics));
    let labels: Vec<String> = outcome::CRITERIA.iter().map(|c| c.to_string()).collect();
    let values: Vec<f64> = outcome::CRITERIA
        .iter()
        .map(|c| ctx.lookup.value(ALL, &format!("reason.{c}")).unwrap_or(0.0))
        .collect();
    let title = "Шығару себептері / Причины исключения (барлық себептер)";
    ctx.chart("exclusion-reasons", title, &labels, &values, false)?;
    blocks.push(Block::Image("exclusion reasons".into(), "charts/exclusion-reasons.png".into()));
    Ok(blocks)
}

/// The campaign's metrics in the table, in this order.
const CAMPAIGN_METRICS: [&str; 28] = [
    "accepted",
    "declined",
    "timed_out",
    "undeliverable",
    "open",
    "queued",
    "superseded",
    "voided",
    "acceptance_rate_decided",
    "decline_rate_decided",
    "timeout_rate_decided",
    "acceptance_rate_dispatched",
    "decline_rate_dispatched",
    "timeout_rate_dispatched",
    "undeliverable_rate_dispatched",
    "sms_delivered",
    "sms_failed",
    "sms_failure_rate",
    "sms_resent_other_number",
    "invalid_replies",
    "decided_after_second_sms",
    "reply_latency_median_h",
    "reply_latency_p90_h",
    "rename_to_request_median_days",
    "reissue_requests",
    "permits_reissued",
    "reissue_refused",
    "rename_to_reissue_median_days",
];

/// Bins of the reply-latency histogram, in hours.
const LATENCY_BINS: [f64; 9] = [0.0, 1.0, 3.0, 6.0, 12.0, 24.0, 48.0, 72.0, f64::INFINITY];

fn campaign(ctx: &Ctx) -> anyhow::Result<Vec<Block>> {
    let (as_of, min_cell) = (ctx.req.as_of, ctx.req.min_cell);
    let mut blocks = vec![Block::Heading(2, "SMS campaign / SMS науқаны".into())];
    blocks.push(ctx.table(&CAMPAIGN_METRICS.map(String::from)));
    let from_week = ctx.req.from.map(metrics::iso_week);
    let cumulative: Vec<_> = metrics::cumulative_by_week(&ctx.inputs.campaign, as_of)
        .into_iter()
        .filter(|w| from_week.as_ref().is_none_or(|f| w.week.as_str() >= f.as_str()))
        .collect();
    let weeks: Vec<String> = cumulative.iter().map(|c| c.week.clone()).collect();
    // Points resting on fewer than --min-cell decided cases are left out (gaps).
    let rate = |n: u64, d: u64| (d >= min_cell).then(|| n as f64 / d as f64);
    let series = vec![
        (
            "acceptance".to_string(),
            cumulative.iter().map(|c| rate(c.accepted, c.decided)).collect::<Vec<_>>(),
        ),
        ("timeout".to_string(), cumulative.iter().map(|c| rate(c.timed_out, c.decided)).collect::<Vec<_>>()),
    ];
    charts::line_chart(
        ctx.req.chart_dir,
        "weekly-rates",
        &format!(
            "Қабылдау мен мерзімі өту үлесі / Доля принятых и истёкших (нарастающим итогом по неделям){}",
            ctx.simulated_mark()
        ),
        &weeks,
        &series,
    )?;
    blocks.push(Block::Image("weekly acceptance and timeout rates".into(), "charts/weekly-rates.png".into()));
    let latencies = metrics::reply_latencies_h(&ctx.inputs.campaign, as_of);
    let labels: Vec<String> = LATENCY_BINS
        .windows(2)
        .map(|w| if w[1].is_infinite() { format!("≥ {} h", w[0]) } else { format!("{}–{} h", w[0], w[1]) })
        .collect();
    let values: Vec<f64> = LATENCY_BINS
        .windows(2)
        .map(|w| latencies.iter().filter(|l| **l >= w[0] && **l < w[1]).count() as f64)
        .collect();
    ctx.chart("reply-latency", "Жауап беру уақыты / Время ответа (сағат, часы)", &labels, &values, false)?;
    blocks.push(Block::Image("reply latency".into(), "charts/reply-latency.png".into()));
    Ok(blocks)
}

fn baseline(ctx: &Ctx) -> Vec<Block> {
    let mut blocks = vec![Block::Heading(2, "Against the reactive baseline (seeds 001, 004)".into())];
    blocks.push(Block::Table(
        vec!["way".into(), "time".into(), "what the holder does".into()],
        baseline_rows(&ctx.lookup, &ctx.present),
    ));
    blocks.push(Block::Para(format!("Source: {}.", BASELINE.source)));
    blocks.push(Block::Bullets(BASELINE.assumptions.iter().map(|a| format!("Assumption: {a}")).collect()));
    blocks
}

fn regions(ctx: &Ctx) -> Vec<Block> {
    let regions: BTreeSet<&str> = ctx
        .rows
        .iter()
        .filter(|k| k.region != ALL && k.pilot == ALL && k.period == TOTAL)
        .map(|k| k.region.as_str())
        .collect();
    let region_rows: Vec<Vec<String>> = regions
        .iter()
        .map(|r| {
            let v = |m: &str| show(ctx.lookup.get(ALL, TOTAL, r, m), ctx.req.min_cell);
            vec![
                r.to_string(),
                v("events_in_scope"),
                v("offered"),
                v("accepted"),
                v("acceptance_rate_decided"),
            ]
        })
        .collect();
    vec![
        Block::Heading(2, "By region (KATO) / Өңірлер бойынша".into()),
        Block::Table(
            ["region", "events", "offered", "accepted", "acceptance (decided)"].map(String::from).to_vec(),
            region_rows,
        ),
    ]
}
