//! Every KPI, defined once: what counts, over what, at which date. The report, the tables and
//! the charts all read [`Kpi`] rows computed here from the published outcomes and the case
//! ledger as of the report date.
//!
//! | metric | numerator | denominator | cases |
//! |---|---|---|---|
//! | `events_in_scope` | events in the pilot's scope on the date | | latest published outcomes |
//! | `outcome.<code>` | events with that outcome | events in scope | |
//! | `first_reason.<c>` / `reason.<c>` | events excluded first by / meeting criterion c | events in scope | |
//! | `offered` | cases offered on or before the date | | offers ledger |
//! | `no_mobile` | offered cases without a number (ended or routed) | offered | campaign ledger |
//! | `sms1_sent`, `sms2_sent` | cases sent a first / second SMS | offered | |
//! | `open` | dispatched cases not yet decided or timed out | sms1_sent | |
//! | `accepted`, `declined`, `timed_out` | cases that ended so | | |
//! | `queued` | offered cases waiting for another question to the same phone | | |
//! | `superseded` | cases a newer case of the same permits took over (renamed again, new head) | | |
//! | `voided` | cases closed by the re-check (or every permit already requested): no request | | |
//! | `undeliverable` | cases no SMS reached (reported failed or expired, no other number) | | |
//! | `sms_delivered`, `sms_failed` | SMS the portal reported delivered / failed or expired | | delivery reports |
//! | `sms_resent_other_number` | SMS sent again to another number after a failed delivery | | |
//! | `undeliverable_rate_dispatched` | undeliverable | sms1_sent (open included) | |
//! | `sms_failure_rate` | sms_failed | sms_delivered + sms_failed | delivery reports |
//! | `acceptance_rate_decided` | accepted | accepted + declined + timed_out | |
//! | `decline_rate_decided`, `timeout_rate_decided` | declined / timed_out | same | |
//! | `acceptance_rate_dispatched` (and decline, timeout) | accepted | sms1_sent (open included) | |
//! | `invalid_replies` | replies that said neither 1 nor 2 | | |
//! | `decided_after_second_sms` | accepted + declined after their second SMS | accepted + declined | |
//! | `reply_latency_median_h`, `reply_latency_p90_h` | hours from the SMS answered to the deciding reply | | decided by reply |
//! | `reissue_requests` | permits named in the re-issue requests sent | | |
//! | `rename_to_request_median_days` | days from the rename (or name change) to the re-issue request | | requested |
//! | `permits_reissued`, `reissue_refused` | permits e-license re-issued / refused | | e-license answers |
//! | `rename_to_reissue_median_days` | days from the rename (or name change) to the re-issued permit | | re-issued |
//!
//! Weeks are ISO weeks of the offer date (campaign metrics) or of the change (funnel
//! metrics); regions are KATO's first two digits of the event.

use crate::campaign::state::State;
use crate::campaign::{Campaign, CaseEvent, Kind};
use crate::pipeline::outcome;
use chrono::{Datelike, NaiveDate};
use std::collections::BTreeMap;

/// One KPI value in one cell (pilot × period × region).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Kpi {
    pub pilot: String,
    /// `total` or an ISO week `2026-W47`.
    pub period: String,
    /// `all` or a KATO region (2 digits).
    pub region: String,
    pub metric: String,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub value: Option<f64>,
    /// The 95 % Wilson score interval of a rate (numerator of denominator), if it is one.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Withheld: the cell is too small to publish (a count below the threshold).
    pub suppressed: bool,
    /// The ledger events counted include simulated inputs (replies, delivery reports or
    /// e-license answers from the simulators): the number describes the simulators' model.
    pub simulated: bool,
    /// A campaign metric of a cell (a cohort of offers) with cases still undecided at the
    /// cut-off: it will change as they are decided.
    pub provisional: bool,
}

/// Whether a metric counts cases of the campaign (not events of the candidates).
fn of_the_campaign(metric: &str) -> bool {
    !(metric == "events_in_scope"
        || metric.starts_with("outcome.")
        || metric.starts_with("first_reason.")
        || metric.starts_with("reason."))
}

/// Whether a metric is a share of its denominator (it gets a Wilson interval).
pub fn is_rate(metric: &str) -> bool {
    metric.contains("rate") || metric == "decided_after_second_sms"
}

/// Fewer cases than this in a rate's denominator: the report shows "too few cases" and the
/// counts, not the rate (its interval would span most of 0–100 %).
pub const MIN_N: f64 = 10.0;

/// The 95 % Wilson score interval of `k` successes in `n` trials (None when n is 0).
pub fn wilson(k: f64, n: f64) -> Option<(f64, f64)> {
    if n <= 0.0 {
        return None;
    }
    let z = 1.959_963_984_540_054_f64;
    let p = k / n;
    let z2n = z * z / n;
    let centre = (p + z2n / 2.0) / (1.0 + z2n);
    let half = z * (p * (1.0 - p) / n + z2n / (4.0 * n)).sqrt() / (1.0 + z2n);
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// One evaluated event as the report needs it (from `outcomes.parquet`).
#[derive(Debug, Clone)]
pub struct EventRow {
    pub pilot: String,
    pub event_id: String,
    pub case_id: Option<String>,
    pub outcome: String,
    pub reasons: Vec<String>,
    pub changed_on: NaiveDate,
    /// KATO's first two digits; None where the registry gives no KATO (the event counts in
    /// the cells of all regions only).
    pub region: Option<String>,
}

pub const ALL: &str = "all";
pub const TOTAL: &str = "total";

pub fn iso_week(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// What one cell accumulates.
#[derive(Debug, Default, Clone)]
struct Cell {
    counts: BTreeMap<String, f64>,
    latencies_h: Vec<f64>,
    to_request_days: Vec<f64>,
    to_reissue_days: Vec<f64>,
}

impl Cell {
    fn add(&mut self, metric: &str, n: f64) {
        *self.counts.entry(metric.to_string()).or_default() += n;
    }

    fn get(&self, metric: &str) -> f64 {
        self.counts.get(metric).copied().unwrap_or(0.0)
    }
}

fn quantile(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

/// The cells an event or case falls in: every combination of (pilot | all) × (total | week)
/// × (all | region), the region only where it is known.
fn cells(pilot: &str, week: &str, region: Option<&str>) -> Vec<(String, String, String)> {
    let mut out = Vec::with_capacity(8);
    for p in [pilot, ALL] {
        for w in [TOTAL, week] {
            for r in std::iter::once(ALL).chain(region) {
                out.push((p.to_string(), w.to_string(), r.to_string()));
            }
        }
    }
    out
}

/// Cells by (pilot, period, region).
type Table = BTreeMap<(String, String, String), Cell>;

/// Counts every event and every case offered by `as_of` into the cells it falls in.
fn accumulate(events: &[EventRow], campaign: &Campaign, as_of: NaiveDate) -> Table {
    let mut table = Table::new();
    let end = crate::time::end_of_day(as_of);
    // A case's region and change date are its event's (by event id: a case offered to an
    // earlier recipient of the same event is still that event's).
    let mut region_of_event: BTreeMap<(&str, &str), (Option<&str>, NaiveDate)> = BTreeMap::new();
    for e in events {
        let week = iso_week(e.changed_on);
        for key in cells(&e.pilot, &week, e.region.as_deref()) {
            let c = table.entry(key).or_default();
            c.add("events_in_scope", 1.0);
            c.add(&format!("outcome.{}", e.outcome), 1.0);
            if outcome::CRITERIA.contains(&e.outcome.as_str()) {
                c.add(&format!("first_reason.{}", e.outcome), 1.0);
            }
            for r in e.reasons.iter().filter(|r| outcome::CRITERIA.contains(&r.as_str())) {
                c.add(&format!("reason.{r}"), 1.0);
            }
        }
        region_of_event.insert((&e.pilot, &e.event_id), (e.region.as_deref(), e.changed_on));
    }
    for case in campaign.cases.values() {
        let o = &case.offer;
        if o.offered_on > as_of {
            continue;
        }
        let (region, changed) = region_of_event
            .get(&(o.pilot.as_str(), o.event_id.as_str()))
            .copied()
            .unwrap_or((None, o.changed_on.unwrap_or(o.offered_on)));
        let history: Vec<&CaseEvent> = case.history.iter().filter(|e| e.at < end).collect();
        let invalid = history.iter().filter(|e| e.kind == Kind::ReplyInvalid).count() as f64;
        // A case's first and second SMS, however many numbers each went to.
        let sent = |n: u8| history.iter().any(|e| e.kind == Kind::SmsSent && e.send_no.unwrap_or(1) == n);
        let count = |k: Kind| history.iter().filter(|e| e.kind == k).count() as f64;
        let resent = history
            .iter()
            .filter(|e| e.kind == Kind::SmsSent)
            .filter(|e| {
                e.message_id.as_deref()
                    != Some(&crate::campaign::message_id(&o.case_id, e.send_no.unwrap_or(1)))
            })
            .count() as f64;
        let reissued: Vec<f64> = history
            .iter()
            .filter(|e| e.kind == Kind::PermitReissued)
            .map(|e| (e.at.date() - changed).num_days() as f64)
            .collect();
        let standing = standing(&history);
        // Superseded and voided cases count apart, in no rate.
        let closed = matches!(standing, Some(Standing::Superseded | Standing::Voided));
        let latency = decided_latency(&history);
        // The request as recorded, or (ledgers from before requests were recorded) the
        // acceptance that made it.
        let full: Vec<&CaseEvent> = case.history.iter().collect();
        let request = case
            .history
            .iter()
            .find(|e| e.kind == Kind::ReissueRequested)
            .map(|e| (e.at, e.permit_ids.len()))
            .or_else(|| case.requested.as_ref().and_then(|p| decision(&full).map(|d| (d.at, p.len()))))
            .filter(|(at, _)| *at < end);
        for key in cells(&o.pilot, &iso_week(o.offered_on), region) {
            let c = table.entry(key).or_default();
            c.add("offered", 1.0);
            c.add("invalid_replies", invalid);
            if history.iter().any(|e| e.kind == Kind::NoNumber) {
                c.add("no_mobile", 1.0);
            }
            if sent(1) {
                c.add("sms1_sent", 1.0);
                if !closed {
                    c.add("dispatched_not_closed", 1.0);
                }
            }
            if sent(2) {
                c.add("sms2_sent", 1.0);
            }
            c.add("sms_delivered", count(Kind::SmsDelivered));
            c.add("sms_failed", count(Kind::SmsFailed));
            c.add("sms_resent_other_number", resent);
            c.add("permits_reissued", reissued.len() as f64);
            if !reissued.is_empty() {
                c.add("cases_reissued", 1.0);
            }
            // A refusal that e-license later turned into a re-issue counts as re-issued only.
            let refused = history
                .iter()
                .filter(|e| e.kind == Kind::ReissueRefused)
                .filter(|e| {
                    !history.iter().any(|r| r.kind == Kind::PermitReissued && r.permit_ids == e.permit_ids)
                })
                .count();
            c.add("reissue_refused", refused as f64);
            c.to_reissue_days.extend(&reissued);
            if let Some(s) = standing {
                c.add(s.metric(), 1.0);
            }
            if case.state.is_open() {
                c.add("undecided", 1.0);
            }
            if let Some((hours, send_no)) = latency {
                c.latencies_h.push(hours);
                if send_no == Some(2) {
                    c.add("decided_after_second_sms", 1.0);
                }
            }
            if let Some((at, permits)) = request {
                c.to_request_days.push((at.date() - changed).num_days() as f64);
                c.add("reissue_requests", permits as f64);
            }
        }
    }
    table
}

/// Whether a metric is a count that adds up: its cells by region, by week and by pilot sum to
/// the cell of all regions, all weeks, all pilots.
pub fn additive(metric: &str) -> bool {
    !is_rate(metric) && !is_estimate(metric) && !metric.ends_with("_h") && !metric.ends_with("_days")
}

/// Whether a metric is an estimated share (time to decision): a value and an interval over
/// its denominator (the cases followed), with no numerator.
pub fn is_estimate(metric: &str) -> bool {
    metric.starts_with("accepted_within_")
}

/// The hours of the time-to-decision estimates: a day, the first SMS's window, both windows.
pub const WITHIN_HOURS: [u32; 3] = [24, 72, 144];

/// The seed of the bootstrap intervals (fixed: the same report gives the same intervals).
const BOOTSTRAP_SEED: u64 = 2026;

/// The time-to-decision rows (`accepted_within_<h>h`) of each pilot and of all pilots, whole
/// span and all regions: the share of dispatched cases accepted within h hours of the first
/// SMS, open cases followed up to `cutoff` (see [`super::survival`]). Provisional while a case
/// is still open short of the horizon.
pub fn time_to_decision(campaign: &Campaign, pilots: &[String], cutoff: chrono::NaiveDateTime) -> Vec<Kpi> {
    let horizons: Vec<f64> = WITHIN_HOURS.iter().map(|h| f64::from(*h)).collect();
    let mut out = Vec::new();
    for pilot in pilots.iter().map(|p| Some(p.as_str())).chain([None]) {
        let spells = super::survival::spells(campaign, pilot, cutoff);
        let open = |h: f64| {
            spells.iter().any(|s| s.end == super::survival::End::Censored && s.hours < h)
                && campaign
                    .cases
                    .values()
                    .any(|c| pilot.is_none_or(|p| c.offer.pilot == p) && c.state.is_open())
        };
        let Some(within) = super::survival::within(&spells, &horizons, BOOTSTRAP_SEED) else { continue };
        for w in within {
            out.push(Kpi {
                pilot: pilot.unwrap_or(ALL).to_string(),
                period: TOTAL.into(),
                region: ALL.into(),
                metric: format!("accepted_within_{}h", w.hours),
                numerator: None,
                denominator: Some(spells.len() as f64),
                value: Some(w.estimate),
                ci_low: Some(w.ci.0),
                ci_high: Some(w.ci.1),
                suppressed: false,
                simulated: false,
                provisional: open(w.hours),
            });
        }
    }
    out
}

/// The count a rate reveals (numerator), if it is published as a count.
fn numerator_of(rate: &str) -> Option<&'static str> {
    [
        ("acceptance_rate", "accepted"),
        ("decline_rate", "declined"),
        ("timeout_rate", "timed_out"),
        ("undeliverable_rate", "undeliverable"),
        ("sms_failure_rate", "sms_failed"),
    ]
    .into_iter()
    .find(|(prefix, _)| rate.starts_with(prefix))
    .map(|(_, count)| count)
}

/// The denominators rates and medians publish, as counts of their own (rows named `_…`,
/// withheld like counts and never published), with the counts of the cell they add up from
/// (or, for `_dispatched`, the counts it moves with).
const DENOMINATORS: [(&str, &[&str]); 5] = [
    ("_decided", &["accepted", "declined", "timed_out"]),
    ("_by_reply", &["accepted", "declined"]),
    (
        "_dispatched",
        &["sms1_sent", "accepted", "declined", "timed_out", "undeliverable", "open", "superseded", "voided"],
    ),
    ("_reported", &["sms_delivered", "sms_failed"]),
    ("_reissued", &["permits_reissued"]),
];

/// Every count of a cell that is the sum of others of the same cell (or equal to another):
/// the denominators above, the events in scope (the nine outcomes), the cases offered (where
/// they stand), and each criterion's first-reason count (its outcome's). With one part
/// withheld the total is withheld too, else the part is the total less the others.
fn sums() -> Vec<(String, Vec<String>)> {
    let own = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    let mut out: Vec<(String, Vec<String>)> =
        DENOMINATORS.iter().map(|(t, parts)| (t.to_string(), own(parts))).collect();
    out.push(("events_in_scope".into(), outcome::ALL.iter().map(|o| format!("outcome.{o}")).collect()));
    out.push((
        "offered".into(),
        own(&[
            "no_mobile",
            "queued",
            "open",
            "accepted",
            "declined",
            "timed_out",
            "undeliverable",
            "superseded",
            "voided",
        ]),
    ));
    for c in outcome::CRITERIA {
        out.push((format!("outcome.{c}"), vec![format!("first_reason.{c}")]));
        out.push((format!("first_reason.{c}"), vec![format!("outcome.{c}")]));
    }
    out
}

/// The denominator row a rate or median publishes as its `denominator` (or its n).
fn denominator_of(metric: &str) -> Option<&'static str> {
    match metric {
        m if m.ends_with("_rate_decided") => Some("_decided"),
        m if m.ends_with("_rate_dispatched") => Some("_dispatched"),
        "sms_failure_rate" => Some("_reported"),
        "decided_after_second_sms"
        | "reply_latency_median_h"
        | "reply_latency_p90_h"
        | "rename_to_request_median_days" => Some("_by_reply"),
        "rename_to_reissue_median_days" => Some("_reissued"),
        _ => None,
    }
}

/// Complementary (secondary) suppression: a suppressed count must not be derivable by one
/// subtraction from the published cells. Along every line of cells that sum to a published
/// cell (the regions of a pilot and week, the weeks of a pilot and region, the pilots of a
/// week and region), a line with exactly one suppressed cell gets a second one suppressed,
/// its smallest other cell (or, with none, its total when that is a breakdown cell), until no
/// line has one alone; then a rate whose numerator's count is suppressed is withheld too. A
/// line of one cell under a pilot's total is that total, published.
fn complement(rows: &mut [Kpi]) {
    use std::collections::HashMap;
    type Key = (String, String, String, String);
    let key = |k: &Kpi| (k.pilot.clone(), k.period.clone(), k.region.clone(), k.metric.clone());
    let index: HashMap<Key, usize> =
        rows.iter().enumerate().filter(|(_, k)| additive(&k.metric)).map(|(i, k)| (key(k), i)).collect();
    // Lines: (dimension, the other coordinates) → cells; the dimension's `all` is the total.
    // In a fixed order: which cell a line hides must not depend on hashing.
    let mut lines: BTreeMap<(u8, Key), Vec<usize>> = BTreeMap::new();
    for (k, &i) in &index {
        let (p, w, r, m) = k.clone();
        if r != ALL {
            lines.entry((0, (p.clone(), w.clone(), ALL.into(), m.clone()))).or_default().push(i);
        }
        if w != TOTAL {
            lines.entry((1, (p.clone(), TOTAL.into(), r.clone(), m.clone()))).or_default().push(i);
        }
        if p != ALL {
            lines.entry((2, (ALL.into(), w, r, m))).or_default().push(i);
        }
    }
    let sums = sums();
    loop {
        let mut changed = false;
        for ((_, total), cells) in &lines {
            let published = index.get(total).is_some_and(|&t| !rows[t].suppressed);
            let hidden = cells.iter().filter(|&&i| rows[i].suppressed).count();
            if !published || hidden != 1 {
                continue;
            }
            let next = cells
                .iter()
                .copied()
                .filter(|&i| !rows[i].suppressed)
                // The smallest count, a zero only when nothing else is left.
                .min_by(|&a, &b| {
                    let v = |i: usize| rows[i].value.unwrap_or(0.0);
                    ((v(a) == 0.0), v(a))
                        .partial_cmp(&((v(b) == 0.0), v(b)))
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then_with(|| key(&rows[a]).cmp(&key(&rows[b])))
                });
            match next {
                Some(i) => rows[i].suppressed = true,
                // Nothing else on the line: its total goes, if it is a breakdown cell (a
                // pilot's total is the headline; a line of one cell is that total).
                None => match index.get(total) {
                    Some(&t) if total.1 != TOTAL || total.2 != ALL => rows[t].suppressed = true,
                    _ => continue,
                },
            }
            changed = true;
        }
        // A denominator is a sum of the cell's counts: with one of them withheld, it is
        // withheld too (or the withheld count is the denominator less the others).
        for (total, parts) in &sums {
            for i in 0..rows.len() {
                if &rows[i].metric != total || rows[i].suppressed {
                    continue;
                }
                let (p, w, r) = (rows[i].pilot.clone(), rows[i].period.clone(), rows[i].region.clone());
                let part_hidden = parts.iter().any(|m| {
                    index
                        .get(&(p.clone(), w.clone(), r.clone(), m.clone()))
                        .is_some_and(|&j| rows[j].suppressed)
                });
                if part_hidden {
                    rows[i].suppressed = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let hidden: std::collections::HashSet<Key> = rows.iter().filter(|k| k.suppressed).map(key).collect();
    for k in rows.iter_mut() {
        let cell = |m: &str| (k.pilot.clone(), k.period.clone(), k.region.clone(), m.to_string());
        let revealing = numerator_of(&k.metric).into_iter().chain(denominator_of(&k.metric));
        if revealing.map(cell).any(|c| hidden.contains(&c)) {
            k.suppressed = true;
        }
    }
}

/// Computes every KPI as of `as_of` (end of day).
pub fn compute(events: &[EventRow], campaign: &Campaign, as_of: NaiveDate, min_cell: u64) -> Vec<Kpi> {
    let mut out = Vec::new();
    for ((pilot, period, region), mut cell) in accumulate(events, campaign, as_of) {
        let breakdown = period != TOTAL || region != ALL;
        let small = |n: f64| breakdown && n > 0.0 && n < min_cell as f64;
        let undecided = cell.get("undecided");
        let mut push =
            |metric: &str, num: Option<f64>, den: Option<f64>, value: Option<f64>, guard: &[f64]| {
                let suppressed = guard.iter().any(|n| small(*n));
                let ci = match (num, den) {
                    (Some(k), Some(n)) if is_rate(metric) => wilson(k, n),
                    _ => None,
                };
                // The true values are kept until the complementary suppression has run.
                out.push(Kpi {
                    pilot: pilot.clone(),
                    period: period.clone(),
                    region: region.clone(),
                    metric: metric.to_string(),
                    numerator: num,
                    denominator: den,
                    value,
                    ci_low: ci.map(|c| c.0),
                    ci_high: ci.map(|c| c.1),
                    suppressed,
                    simulated: false,
                    provisional: of_the_campaign(metric) && undecided > 0.0,
                });
            };
        let scope = cell.get("events_in_scope");
        let mut counts: Vec<(String, f64)> = vec![("events_in_scope".into(), scope)];
        for o in outcome::ALL {
            counts.push((format!("outcome.{o}"), cell.get(&format!("outcome.{o}"))));
        }
        for c in outcome::CRITERIA {
            counts.push((format!("first_reason.{c}"), cell.get(&format!("first_reason.{c}"))));
            counts.push((format!("reason.{c}"), cell.get(&format!("reason.{c}"))));
        }
        for m in [
            "offered",
            "no_mobile",
            "sms1_sent",
            "sms2_sent",
            "open",
            "queued",
            "accepted",
            "declined",
            "timed_out",
            "superseded",
            "voided",
            "undeliverable",
            "sms_delivered",
            "sms_failed",
            "sms_resent_other_number",
            "invalid_replies",
            "reissue_requests",
            "cases_reissued",
            "permits_reissued",
            "reissue_refused",
        ] {
            counts.push((m.to_string(), cell.get(m)));
        }
        for (m, n) in &counts {
            push(m, Some(*n), None, Some(*n), &[*n]);
        }
        let decided = cell.get("accepted") + cell.get("declined") + cell.get("timed_out");
        let dispatched = cell.get("dispatched_not_closed");
        let undeliverable = cell.get("undeliverable");
        push(
            "undeliverable_rate_dispatched",
            Some(undeliverable),
            Some(dispatched),
            (dispatched > 0.0).then(|| undeliverable / dispatched),
            &[undeliverable, dispatched],
        );
        let (failed, reported) = (cell.get("sms_failed"), cell.get("sms_failed") + cell.get("sms_delivered"));
        push(
            "sms_failure_rate",
            Some(failed),
            Some(reported),
            (reported > 0.0).then(|| failed / reported),
            &[failed, reported],
        );
        let n_reissued = cell.to_reissue_days.len() as f64;
        let (by_reply, reported) = (cell.get("accepted") + cell.get("declined"), reported);
        for (m, n) in [
            ("_decided", cell.get("accepted") + cell.get("declined") + cell.get("timed_out")),
            ("_by_reply", by_reply),
            ("_dispatched", cell.get("dispatched_not_closed")),
            ("_reported", reported),
            ("_reissued", n_reissued),
        ] {
            push(m, Some(n), None, Some(n), &[n]);
        }
        push(
            "rename_to_reissue_median_days",
            None,
            Some(n_reissued),
            quantile(&mut cell.to_reissue_days, 0.5),
            &[n_reissued],
        );
        for (name, num) in [("acceptance", "accepted"), ("decline", "declined"), ("timeout", "timed_out")] {
            let n = cell.get(num);
            let rate = |d: f64| if d > 0.0 { Some(n / d) } else { None };
            push(&format!("{name}_rate_decided"), Some(n), Some(decided), rate(decided), &[n, decided]);
            push(
                &format!("{name}_rate_dispatched"),
                Some(n),
                Some(dispatched),
                rate(dispatched),
                &[n, dispatched],
            );
        }
        let by_reply = cell.get("accepted") + cell.get("declined");
        let after = cell.get("decided_after_second_sms");
        push(
            "decided_after_second_sms",
            Some(after),
            Some(by_reply),
            (by_reply > 0.0).then(|| after / by_reply),
            &[after, by_reply],
        );
        let n_lat = cell.latencies_h.len() as f64;
        push("reply_latency_median_h", None, Some(n_lat), quantile(&mut cell.latencies_h, 0.5), &[n_lat]);
        push("reply_latency_p90_h", None, Some(n_lat), quantile(&mut cell.latencies_h, 0.9), &[n_lat]);
        let n_req = cell.to_request_days.len() as f64;
        push(
            "rename_to_request_median_days",
            None,
            Some(n_req),
            quantile(&mut cell.to_request_days, 0.5),
            &[n_req],
        );
    }
    complement(&mut out);
    for k in out.iter_mut().filter(|k| k.suppressed) {
        (k.numerator, k.denominator, k.value, k.ci_low, k.ci_high) = (None, None, None, None, None);
    }
    // The denominators' own rows only served the suppression.
    out.retain(|k| !k.metric.starts_with('_'));
    out
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&mut [], 0.5), None);
        assert_eq!(quantile(&mut [3.0], 0.9), Some(3.0));
        assert_eq!(quantile(&mut [4.0, 1.0, 3.0, 2.0], 0.5), Some(2.5));
        assert!(
            (quantile(&mut (1..=10).map(f64::from).collect::<Vec<_>>(), 0.9).unwrap() - 9.1).abs() < 1e-9
        );
    }

    /// The examples: 18 of 25 and 9 of 13 accepted cannot be told apart.
    #[test]
    fn wilson_intervals() {
        let pct = |c: Option<(f64, f64)>| {
            c.map(|(l, h)| ((l * 1000.0).round() / 10.0, (h * 1000.0).round() / 10.0))
        };
        assert_eq!(pct(super::wilson(18.0, 25.0)), Some((52.4, 85.7)));
        assert_eq!(pct(super::wilson(9.0, 13.0)), Some((42.4, 87.3)));
        assert_eq!(pct(super::wilson(0.0, 1.0)), Some((0.0, 79.3)));
        assert_eq!(pct(super::wilson(5.0, 5.0)), Some((56.6, 100.0)));
        assert_eq!(super::wilson(0.0, 0.0), None);
    }
}

/// Where a case stands at the report's cut-off, as every metric counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Accepted,
    /// Declined by reply, whether the pilot then ends the case or routes it to the standard
    /// procedure.
    Declined,
    TimedOut,
    /// Dispatched and waiting for a reply.
    Open,
    /// Waiting for another question to the same phone.
    Queued,
    /// A newer case of the same permits took over.
    Superseded,
    /// Closed by the re-check: no request.
    Voided,
    /// No SMS reached the recipient.
    Undeliverable,
}

impl Standing {
    /// The metric that counts cases standing so.
    pub fn metric(self) -> &'static str {
        match self {
            Standing::Accepted => "accepted",
            Standing::Declined => "declined",
            Standing::TimedOut => "timed_out",
            Standing::Open => "open",
            Standing::Queued => "queued",
            Standing::Superseded => "superseded",
            Standing::Voided => "voided",
            Standing::Undeliverable => "undeliverable",
        }
    }
}

/// The deciding reply of a case (its first accept or decline), if any.
fn decision<'a>(history: &[&'a CaseEvent]) -> Option<&'a CaseEvent> {
    history.iter().copied().find(|e| matches!(e.kind, Kind::ReplyAccept | Kind::ReplyDecline))
}

/// Where a case stands after these events (its history up to the cut-off); None for a case
/// not dispatched or ended without an SMS.
pub fn standing(history: &[&CaseEvent]) -> Option<Standing> {
    match history.iter().rev().find_map(|e| e.state_after).unwrap_or(State::Offered) {
        State::Accepted => Some(Standing::Accepted),
        State::Declined => Some(Standing::Declined),
        State::TimedOut => Some(Standing::TimedOut),
        State::StandardProcedure if decision(history).is_some() => Some(Standing::Declined),
        State::AwaitingReply | State::AwaitingSecondReply => Some(Standing::Open),
        State::Queued => Some(Standing::Queued),
        State::Superseded => Some(Standing::Superseded),
        State::Voided => Some(Standing::Voided),
        State::Undeliverable => Some(Standing::Undeliverable),
        _ => None,
    }
}

/// Hours from the SMS answered to the deciding reply, and that SMS's number. The SMS
/// answered is the one the reply quotes by message id, else the last sent before the reply
/// (a reply received in the first window but read after the second SMS answers the first).
pub fn decision_latency(history: &[&CaseEvent]) -> Option<(f64, Option<u8>)> {
    let d = decision(history)?;
    let sms: Vec<&&CaseEvent> = history.iter().filter(|e| e.kind == Kind::SmsSent).collect();
    let quoted = d.message_id.as_ref().and_then(|m| sms.iter().find(|s| s.message_id.as_ref() == Some(m)));
    let answered = quoted
        .or_else(|| sms.iter().filter(|s| s.at <= d.at).max_by_key(|s| s.at))
        .or_else(|| sms.first())?;
    Some(((d.at - answered.at).num_seconds() as f64 / 3600.0, answered.send_no))
}

/// The reply latency of every case of a pilot (every pilot's with None) decided by reply by
/// the end of `as_of` (hours).
pub fn reply_latencies_h(campaign: &Campaign, pilot: Option<&str>, as_of: NaiveDate) -> Vec<f64> {
    let end = crate::time::end_of_day(as_of);
    campaign
        .cases
        .values()
        .filter(|case| pilot.is_none_or(|p| case.offer.pilot == p))
        .filter_map(|case| {
            let history: Vec<&CaseEvent> = case.history.iter().filter(|e| e.at < end).collect();
            decided_latency(&history).map(|(h, _)| h)
        })
        .collect()
}

/// [`decision_latency`] of a case that stands accepted or declined (not one superseded or
/// voided after its reply): the latency every metric and chart counts.
fn decided_latency(history: &[&CaseEvent]) -> Option<(f64, Option<u8>)> {
    matches!(standing(history), Some(Standing::Accepted | Standing::Declined))
        .then(|| decision_latency(history))
        .flatten()
}
