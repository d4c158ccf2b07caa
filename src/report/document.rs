//! The report as a document: its sections built from the KPI rows (computed once in
//! [`super::metrics`]) and the charts drawn beside them. Rendering to Markdown and HTML is
//! [`super::render`]'s; publishing the folder is the workflow's.

use super::charts::{self, Axis, Bar, Figure, Key, Panel};
use super::labels::{labels, Labels};
use super::metrics::{self, Kpi, ALL, TOTAL};
use super::render::{baseline_rows, show, Block, Lookup};
use super::survival;
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
    pub previous: Option<(NaiveDate, super::Headline)>,
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
    labels: &'static Labels,
    /// Metrics the tables showed, in order (the definitions section explains them).
    shown: std::cell::RefCell<Vec<String>>,
}

impl Ctx<'_> {
    /// Each pilot with data, then all pilots together.
    fn columns(&self) -> impl Iterator<Item = &str> {
        self.present.iter().map(String::as_str).chain([ALL])
    }

    fn header(&self, first: &str) -> Vec<String> {
        let mut head = vec![first.to_string()];
        head.extend(self.columns().map(|p| self.labels.pilot_name(p)));
        head
    }

    /// A metric as a table row names it: its label, then its code.
    fn metric_cell(&self, m: &str) -> String {
        format!("{} ({m})", self.labels.metric_name(m))
    }

    /// A table of metrics (rows) by pilot (columns).
    fn table(&self, metrics: &[String]) -> Block {
        self.shown.borrow_mut().extend(metrics.iter().cloned());
        let rows = metrics
            .iter()
            .map(|m| {
                let mut r = vec![self.metric_cell(m)];
                r.extend(self.columns().map(|p| show(self.lookup.get(p, TOTAL, ALL, m), self.req.min_cell)));
                r
            })
            .collect();
        Block::Table(self.header("metric / көрсеткіш / показатель"), rows)
    }

    /// Draws a figure (its title marked when the inputs were simulated) and returns its block.
    fn chart(&self, stem: &str, alt: &str, mut figure: Figure) -> anyhow::Result<Block> {
        let mark = self.simulated_mark();
        match &mut figure {
            Figure::Bars { title, .. }
            | Figure::Stacked { title, .. }
            | Figure::Grouped { title, .. }
            | Figure::Panels { title, .. }
            | Figure::Steps { title, .. } => title.push_str(mark),
        }
        charts::save(self.req.chart_dir, stem, &figure)?;
        Ok(Block::Image(alt.to_string(), format!("charts/{stem}.png")))
    }

    /// What every chart title carries when the inputs were simulated.
    fn simulated_mark(&self) -> &'static str {
        if self.inputs.simulated.is_empty() {
            ""
        } else {
            " — SIMULATED / МОДЕЛЬ"
        }
    }

    fn pilot_key(&self, p: &str) -> Key {
        let position = self.present.iter().position(|x| x == p).unwrap_or(self.present.len());
        Key { label: self.labels.pilot_name(p), colour: self.labels.pilot_rgb(p, position) }
    }

    fn count(&self, p: &str, m: &str) -> f64 {
        self.lookup.value(p, m).unwrap_or(0.0)
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
    let ctx = Ctx {
        req,
        inputs,
        rows,
        lookup: Lookup::new(rows),
        present,
        labels: labels(),
        shown: Default::default(),
    };
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
    blocks.extend(time_to_decision(&ctx)?);
    blocks.extend(baseline(&ctx)?);
    blocks.extend(regions(&ctx));
    blocks.extend(definitions(&ctx));
    Ok(blocks)
}

fn summary(ctx: &Ctx) -> Vec<Block> {
    let (as_of, min_cell) = (ctx.req.as_of, ctx.req.min_cell);
    let runs = ctx
        .inputs
        .runs
        .iter()
        .map(|(p, d, _)| format!("{} of {d}", ctx.labels.pilot_name(p)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut bullets = Vec::new();
    for p in ctx.columns() {
        let v = |m: &str| show(ctx.lookup.get(p, TOTAL, ALL, m), min_cell);
        bullets.push(format!(
            "{}: {} events in scope, {} offered, {} SMS sent, {} accepted, {} declined, {} timed out, {} undeliverable, {} open, {} superseded, {} voided, {} permits re-issued; acceptance among decided cases {}",
            ctx.labels.pilot_name(p),
            v("events_in_scope"),
            v("offered"),
            v("sms1_sent"),
            v("accepted"),
            v("declined"),
            v("timed_out"),
            v("undeliverable"),
            v("open"),
            v("superseded"),
            v("voided"),
            v("permits_reissued"),
            v("acceptance_rate_decided")
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
                format!("{} ({})", labels().pilot_name(&p.id), p.id),
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
            let old = prev.get(&(p.to_string(), m.to_string())).copied().unwrap_or(0.0);
            let new = ctx.lookup.value(p, m).unwrap_or(0.0);
            if (new - old).abs() > 0.0 {
                let (pilot, metric) = (ctx.labels.pilot_name(p), ctx.labels.metric_name(m));
                changes.push(format!("{pilot}: {metric} {old:.0} → {new:.0} ({:+.0})", new - old));
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

/// The funnel's steps: (label, count) from the events in scope to the re-issued cases.
fn funnel_steps(ctx: &Ctx, p: &str) -> Vec<(String, f64)> {
    let l = ctx.labels;
    let step = |m: &str| l.metric_name(m);
    vec![
        (step("events_in_scope"), ctx.count(p, "events_in_scope")),
        ("Шарттарға сай / Соответствуют условиям".into(), ctx.count(p, "outcome.offered")),
        (step("offered"), ctx.count(p, "offered")),
        (step("sms1_sent"), ctx.count(p, "sms1_sent")),
        ("Жауап берді / Ответили".into(), ctx.count(p, "accepted") + ctx.count(p, "declined")),
        (step("accepted"), ctx.count(p, "accepted")),
        (step("cases_reissued"), ctx.count(p, "cases_reissued")),
    ]
}

fn funnel(ctx: &Ctx) -> anyhow::Result<Vec<Block>> {
    let mut blocks = vec![Block::Heading(2, "Funnel / Воронка".into())];
    blocks.push(Block::Para(
        "From the renames in each pilot's scope to the permits re-issued: the events in scope, \
         those whose recipient passed every check of the latest candidate list (eligible), the \
         cases offered since the pilot began, those sent an SMS, those who replied 1 or 2, those \
         who agreed, and the cases with a permit re-issued. Each bar says how many of the step \
         before it carried on. A case is superseded when a newer case of the same permits took \
         over (renamed again, a new first head), and voided when its re-check failed: neither gets \
         a request."
            .into(),
    ));
    let mut funnel_metrics: Vec<String> = vec!["events_in_scope".into()];
    funnel_metrics.extend(outcome::ALL.iter().map(|o| format!("outcome.{o}")));
    funnel_metrics.extend(
        [
            "offered",
            "superseded",
            "voided",
            "no_mobile",
            "queued",
            "sms1_sent",
            "sms2_sent",
            "cases_reissued",
        ]
        .map(String::from),
    );
    blocks.push(ctx.table(&funnel_metrics));
    for p in &ctx.present {
        let colour = ctx.pilot_key(p).colour;
        let steps = funnel_steps(ctx, p);
        let bars = steps
            .iter()
            .enumerate()
            .map(|(i, (label, n))| {
                let text = match i.checked_sub(1).map(|j| steps[j].1) {
                    // Cases offered since the pilot began include events the latest list no
                    // longer finds eligible (the recipient died, the head changed).
                    Some(before) if *n > before => {
                        format!("{n:.0} (incl. cases since no longer eligible)")
                    }
                    Some(before) if before > 0.0 => {
                        format!("{n:.0} ({:.0} % of the step before)", 100.0 * n / before)
                    }
                    _ => format!("{n:.0}"),
                };
                Bar { label: label.clone(), value: *n, colour, text }
            })
            .collect();
        let title = format!("Воронка: {}", ctx.labels.pilot_name(p));
        let figure = Figure::Bars { title, bars, axis: Axis::Count };
        blocks.push(ctx.chart(&format!("funnel-{p}"), &format!("funnel of {p}"), figure)?);
    }
    // Outcome shares of the events in scope, a bar per pilot, one colour per outcome.
    let segments: Vec<Key> = outcome::ALL
        .iter()
        .map(|o| Key {
            label: ctx.labels.outcome_name(o),
            colour: ctx.labels.outcome.get(*o).and_then(|l| l.rgb()).unwrap_or((128, 128, 128)),
        })
        .collect();
    let rows: Vec<String> = ctx
        .present
        .iter()
        .map(|p| format!("{} (n {:.0})", ctx.labels.pilot_name(p), ctx.count(p, "events_in_scope")))
        .collect();
    let shares = ctx
        .present
        .iter()
        .map(|p| {
            let scope = ctx.count(p, "events_in_scope");
            outcome::ALL
                .iter()
                .map(|o| if scope > 0.0 { ctx.count(p, &format!("outcome.{o}")) / scope } else { 0.0 })
                .collect()
        })
        .collect();
    let title = "Оқиғалар нәтижесі / Исходы событий (үлес / доля)".to_string();
    blocks.push(ctx.chart(
        "outcome-shares",
        "outcome shares per pilot",
        Figure::Stacked { title, rows, segments, shares },
    )?);
    Ok(blocks)
}

fn exclusions(ctx: &Ctx) -> anyhow::Result<Vec<Block>> {
    let mut blocks = vec![Block::Heading(2, "Exclusion reasons / Шығару себептері".into())];
    let reason_metrics: Vec<String> =
        outcome::CRITERIA.iter().flat_map(|c| [format!("first_reason.{c}"), format!("reason.{c}")]).collect();
    blocks.push(ctx.table(&reason_metrics));
    let groups: Vec<String> = outcome::CRITERIA.iter().map(|c| ctx.labels.outcome_name(c)).collect();
    let series: Vec<Key> = ctx.present.iter().map(|p| ctx.pilot_key(p)).collect();
    let values = ctx
        .present
        .iter()
        .map(|p| outcome::CRITERIA.iter().map(|c| ctx.count(p, &format!("reason.{c}"))).collect())
        .collect();
    let title = "Шығару себептері / Причины исключения (барлық себептер / все причины)".to_string();
    blocks.push(ctx.chart(
        "exclusion-reasons",
        "exclusion reasons per pilot",
        Figure::Grouped { title, groups, series, values, axis: Axis::Count },
    )?);
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
    let as_of = ctx.req.as_of;
    let mut blocks = vec![Block::Heading(2, "SMS campaign / SMS науқаны".into())];
    blocks.push(ctx.table(&CAMPAIGN_METRICS.map(String::from)));
    // Weekly cohorts of offers: the weeks each pilot has a cohort in, from --from.
    let from_week = ctx.req.from.map(metrics::iso_week);
    // Every week from the pilot's first cohort to its last, weeks without offers included,
    // so the axis is time.
    let weeks_of = |p: &str| -> Vec<String> {
        let with_offers: BTreeSet<String> = ctx
            .rows
            .iter()
            .filter(|k| k.period != TOTAL && k.region == ALL && k.metric == "offered" && k.pilot == p)
            .filter(|k| k.suppressed || k.value.is_some_and(|v| v > 0.0))
            .map(|k| k.period.clone())
            .filter(|w| from_week.as_ref().is_none_or(|f| w >= f))
            .collect();
        let monday = |w: &String| {
            let (y, n) = w.split_once("-W")?;
            NaiveDate::from_isoywd_opt(y.parse().ok()?, n.parse().ok()?, chrono::Weekday::Mon)
        };
        match (with_offers.first().and_then(monday), with_offers.last().and_then(monday)) {
            (Some(first), Some(last)) => {
                first.iter_weeks().take_while(|d| *d <= last).map(metrics::iso_week).collect()
            }
            _ => with_offers.into_iter().collect(),
        }
    };
    let min_cell = ctx.req.min_cell as f64;
    let case_key = |c: &str| Key {
        label: ctx.labels.case.get(c).map_or_else(|| c.to_string(), |l| l.both()),
        colour: ctx.labels.case.get(c).and_then(|l| l.rgb()).unwrap_or((0, 0, 0)),
    };
    // A week's point: its published rate with its interval; withheld or on fewer decided
    // cases than a cell may show, a gap (the band says how little the others rest on).
    let point = |p: &str, w: &str, m: &str| {
        let k = ctx.lookup.get(p, w, ALL, m)?;
        let enough = k.denominator.is_some_and(|d| d >= min_cell);
        (!k.suppressed && enough).then_some((k.value?, k.ci_low?, k.ci_high?))
    };
    let panels = ctx
        .present
        .iter()
        .map(|p| {
            let weeks = weeks_of(p);
            let series: Vec<_> =
                [("accepted", "acceptance_rate_decided"), ("timed_out", "timeout_rate_decided")]
                    .iter()
                    .map(|(c, m)| (case_key(c), weeks.iter().map(|w| point(p, w, m)).collect::<Vec<_>>()))
                    .collect();
            let empty = series.iter().all(|(_, v)| v.iter().all(Option::is_none));
            let note = empty.then(|| {
                format!("әр аптада < {min_cell:.0} шешілген іс\nв каждой неделе < {min_cell:.0} решённых дел")
            });
            Panel { title: ctx.labels.pilot_name(p), weeks, series, note }
        })
        .collect();
    blocks.push(Block::Para(format!(
        "Weekly cohorts (the ISO week of the offer): the share of decided cases accepted and timed \
         out, each with its 95 % Wilson band. A week with fewer than {min_cell:.0} decided cases, or \
         withheld, is a gap (a panel says so when every week is); rates on fewer than {} cases rest \
         on little, and their bands are wide; a cohort with cases still open is provisional and its \
         rate will change. The table's weekly rows are in kpi.parquet.",
        metrics::MIN_N
    )));
    let title = "Апталық когорталар / Недельные когорты (шешілгендер / решённые)".to_string();
    blocks.push(ctx.chart(
        "weekly-rates",
        "weekly acceptance and timeout rates per pilot",
        Figure::Panels { title, panels },
    )?);
    // Reply latency by pilot.
    let groups: Vec<String> = LATENCY_BINS
        .windows(2)
        .map(|w| {
            if w[1].is_infinite() {
                format!("≥ {} сағ/ч", w[0])
            } else {
                format!("{}–{} сағ/ч", w[0], w[1])
            }
        })
        .collect();
    let series: Vec<Key> = ctx.present.iter().map(|p| ctx.pilot_key(p)).collect();
    let values = ctx
        .present
        .iter()
        .map(|p| {
            let latencies = metrics::reply_latencies_h(&ctx.inputs.campaign, Some(p), as_of);
            LATENCY_BINS
                .windows(2)
                .map(|w| latencies.iter().filter(|l| **l >= w[0] && **l < w[1]).count() as f64)
                .collect()
        })
        .collect();
    let title = "Жауап беру уақыты / Время ответа (шешуші жауаптар / решающие ответы)".to_string();
    blocks.push(ctx.chart(
        "reply-latency",
        "reply latency per pilot",
        Figure::Grouped { title, groups, series, values, axis: Axis::Count },
    )?);
    Ok(blocks)
}

/// How soon people agree: the share accepted within hours of the first SMS, open cases used.
fn time_to_decision(ctx: &Ctx) -> anyhow::Result<Vec<Block>> {
    let mut blocks = vec![Block::Heading(2, "Time to decision / Шешім уақыты / Время до решения".into())];
    blocks.push(Block::Para(
        "The share of dispatched cases accepted within 24, 72 and 144 hours of their first SMS. \
         Cases still open count for as long as they have been open (an Aalen–Johansen estimate, \
         the competing-risks form of Kaplan–Meier: a decline, a timeout or an undeliverable end \
         stops a case from being accepted), so recent cohorts are used, not dropped; the 95 % \
         interval is a bootstrap over cases."
            .into(),
    ));
    let within: Vec<String> = metrics::WITHIN_HOURS.iter().map(|h| format!("accepted_within_{h}h")).collect();
    blocks.push(ctx.table(&within));
    let hours = 168.0;
    let series = ctx
        .present
        .iter()
        .map(|p| {
            let spells = survival::spells(&ctx.inputs.campaign, Some(p), ctx.inputs.cutoff);
            let mut key = ctx.pilot_key(p);
            key.label = format!("{} (n {})", key.label, spells.len());
            (key, survival::curve(&spells, hours))
        })
        .collect();
    let title = "1-SMS-тен кейін келісу үлесі / Доля согласий после 1-го SMS".to_string();
    blocks.push(ctx.chart(
        "time-to-decision",
        "share accepted by hours since the first SMS",
        Figure::Steps { title, series, hours },
    )?);
    Ok(blocks)
}

fn baseline(ctx: &Ctx) -> anyhow::Result<Vec<Block>> {
    let mut blocks = vec![Block::Heading(2, "Against the reactive baseline (seeds 001, 004)".into())];
    blocks.push(Block::Table(
        vec!["way".into(), "time".into(), "what the holder does".into()],
        baseline_rows(&ctx.lookup, &ctx.present),
    ));
    blocks.push(Block::Para(format!("Source: {}.", BASELINE.source)));
    blocks.push(Block::Bullets(BASELINE.assumptions.iter().map(|a| format!("Assumption: {a}")).collect()));
    let mut bars = vec![Bar {
        label: "Реактивті: өтінімнен / Реактивный: от заявления".into(),
        value: BASELINE.calendar_days(),
        colour: (150, 150, 150),
        text: format!(
            "{} working days ≈ {:.0} days after the application; + the unknown days from the rename to it",
            BASELINE.working_days(),
            BASELINE.calendar_days()
        ),
    }];
    for p in &ctx.present {
        let colour = ctx.pilot_key(p).colour;
        for (m, what, unit) in [
            ("rename_to_request_median_days", "→ сұрау / запрос", "cases"),
            ("rename_to_reissue_median_days", "→ қайта рәсімдеу / переоформление", "permits"),
        ] {
            let k = ctx.lookup.get(p, TOTAL, ALL, m);
            let n = k.and_then(|k| k.denominator).unwrap_or(0.0);
            let (value, text) = match k.and_then(|k| k.value) {
                Some(d) => (d, format!("median {d:.0} days (n {n:.0} {unit})")),
                None => (0.0, "none yet".to_string()),
            };
            bars.push(Bar { label: format!("{} {what}", ctx.labels.pilot_name(p)), value, colour, text });
        }
    }
    let title = "Атау өзгеруінен бастап күндер / Дней от переименования (медиана)".to_string();
    blocks.push(ctx.chart(
        "rename-to-reissue",
        "days from the rename to the request and the re-issue, beside the reactive baseline",
        Figure::Bars { title, bars, axis: Axis::Days },
    )?);
    Ok(blocks)
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
                format!("{} ({r})", ctx.labels.region_name(r)),
                v("events_in_scope"),
                v("offered"),
                v("accepted"),
                v("acceptance_rate_decided"),
            ]
        })
        .collect();
    vec![
        Block::Heading(2, "By region / Өңірлер бойынша / По регионам".into()),
        Block::Table(
            ["region (KATO)", "events", "offered", "accepted", "acceptance (decided)"]
                .map(String::from)
                .to_vec(),
            region_rows,
        ),
    ]
}

/// What each metric shown counts, for readers (from `data/labels.toml`; docs/kpi.md says the
/// same at length).
fn definitions(ctx: &Ctx) -> Vec<Block> {
    let mut seen = BTreeSet::new();
    let rows: Vec<Vec<String>> = ctx
        .shown
        .borrow()
        .iter()
        .filter(|m| seen.insert(m.to_string()))
        .map(|m| {
            vec![
                ctx.metric_cell(m),
                ctx.labels.definition(m).unwrap_or("(no definition: see docs/kpi.md)").to_string(),
            ]
        })
        .collect();
    vec![
        Block::Heading(2, "Definitions / Анықтамалар / Определения".into()),
        Block::Para(format!(
            "Counts are as of the cut-off; rates show numerator/denominator and a 95 % Wilson interval; \
             breakdown cells below {} are withheld. docs/kpi.md gives each metric's cases and dates at length.",
            ctx.req.min_cell
        )),
        Block::Table(vec!["metric".into(), "what it counts".into()], rows),
    ]
}
