//! KPI reports: every metric on a hand-built ledger with known answers (zero denominators and
//! open cases included), suppression of small cells, the charts, and a pinned report.md.

use crate::common::*;
use chrono::{NaiveDate, NaiveDateTime};
use sdu::campaign::state::State;
use sdu::campaign::{Campaign, CaseEvent, Kind, Offer};
use sdu::config::load_pilots;
use sdu::report::metrics::{compute, EventRow, Kpi, ALL, TOTAL};
use std::path::Path;

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn offer(case: &str, pilot: &str) -> Offer {
    Offer {
        case_id: case.into(),
        pilot: pilot.into(),
        event_id: format!("E-{case}"),
        bin: Some("940140000385".into()),
        iin: P1.into(),
        offered_on: d("2026-11-02"),
        changed_on: None,
        old_name_kk: None,
        old_name_ru: None,
        new_name_kk: None,
        new_name_ru: None,
        permit_ids: vec![format!("{case}-P1"), format!("{case}-P2")],
        permit_services: vec!["s".into(), "s".into()],
    }
}

fn ev(case: &str, kind: Kind, at: &str, state: Option<State>, send_no: Option<u8>) -> CaseEvent {
    CaseEvent {
        case_id: Some(case.into()),
        pilot: Some("sanitary".into()),
        kind,
        state_after: state,
        at: t(at),
        send_no,
        message_id: Some(format!("{case}-{send_no:?}")),
        phone: Some("+77011234567".into()),
        due_by: send_no.map(|_| t(at) + chrono::Duration::hours(72)),
        ..CaseEvent::new(kind, t(at))
    }
}

fn event(
    id: &str,
    pilot: &str,
    outcome: &str,
    reasons: &[&str],
    case: Option<&str>,
    region: &str,
) -> EventRow {
    EventRow {
        pilot: pilot.into(),
        event_id: id.into(),
        case_id: case.map(String::from),
        outcome: outcome.into(),
        reasons: reasons.iter().map(|s| s.to_string()).collect(),
        changed_on: d("2026-10-28"),
        region: Some(region.into()),
    }
}

/// Five sanitary cases: accepted after 2 h, declined after SMS 2, timed out, open, no number;
/// one ecology case offered but never dispatched (zero denominators).
fn world() -> (Vec<EventRow>, Campaign) {
    use Kind::*;
    use State::*;
    let offers = ["a", "b", "c", "o", "n"]
        .iter()
        .map(|c| offer(c, "sanitary"))
        .chain([offer("z", "ecology")])
        .collect();
    let events = vec![
        ev("a", SmsSent, "2026-11-02T09:00", Some(AwaitingReply), Some(1)),
        ev("a", ReplyAccept, "2026-11-02T11:00", Some(Accepted), None),
        ev("b", SmsSent, "2026-11-02T09:00", Some(AwaitingReply), Some(1)),
        ev("b", ReplyInvalid, "2026-11-02T10:00", None, None),
        ev("b", SmsSent, "2026-11-05T09:00", Some(AwaitingSecondReply), Some(2)),
        ev("b", ReplyDecline, "2026-11-05T13:00", Some(Declined), None),
        ev("c", SmsSent, "2026-11-02T09:00", Some(AwaitingReply), Some(1)),
        ev("c", SmsSent, "2026-11-05T09:00", Some(AwaitingSecondReply), Some(2)),
        ev("c", Kind::TimedOut, "2026-11-08T09:00", Some(State::TimedOut), None),
        ev("o", SmsSent, "2026-11-08T09:00", Some(AwaitingReply), Some(1)),
        ev("n", NoNumber, "2026-11-02T09:00", Some(NoMobile), None),
    ];
    let campaign = Campaign::load(offers, events, &load_pilots(None).unwrap()).unwrap();
    let mut rows = vec![
        event("E-a", "sanitary", "offered", &[], Some("a"), "75"),
        event("E-b", "sanitary", "offered", &[], Some("b"), "75"),
        event("E-c", "sanitary", "offered", &[], Some("c"), "75"),
        event("E-o", "sanitary", "offered", &[], Some("o"), "75"),
        event("E-n", "sanitary", "offered", &[], Some("n"), "71"),
        event(
            "X1",
            "sanitary",
            "recipient_dead_or_missing",
            &["recipient_dead_or_missing", "recipient_imprisoned"],
            None,
            "71",
        ),
        event("X2", "sanitary", "no_pilot_permit", &["no_pilot_permit"], None, "71"),
        event("E-z", "ecology", "offered", &[], Some("z"), "10"),
    ];
    rows.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    (rows, campaign)
}

fn get<'a>(rows: &'a [Kpi], pilot: &str, period: &str, region: &str, metric: &str) -> &'a Kpi {
    rows.iter()
        .find(|k| k.pilot == pilot && k.period == period && k.region == region && k.metric == metric)
        .unwrap_or_else(|| panic!("no {pilot}/{period}/{region}/{metric}"))
}

fn value(rows: &[Kpi], pilot: &str, metric: &str) -> Option<f64> {
    get(rows, pilot, TOTAL, ALL, metric).value
}

#[test]
fn every_metric_has_its_known_answer() {
    let (events, campaign) = world();
    let rows = compute(&events, &campaign, d("2026-11-09"), 5);
    let v = |m: &str| value(&rows, "sanitary", m);
    assert_eq!(v("events_in_scope"), Some(7.0));
    assert_eq!(v("outcome.offered"), Some(5.0));
    assert_eq!(v("first_reason.recipient_dead_or_missing"), Some(1.0));
    assert_eq!(v("reason.recipient_imprisoned"), Some(1.0));
    assert_eq!(v("offered"), Some(5.0));
    assert_eq!(v("no_mobile"), Some(1.0));
    assert_eq!(v("sms1_sent"), Some(4.0));
    assert_eq!(v("sms2_sent"), Some(2.0));
    assert_eq!(
        (v("accepted"), v("declined"), v("timed_out"), v("open")),
        (Some(1.0), Some(1.0), Some(1.0), Some(1.0))
    );
    assert_eq!(v("acceptance_rate_decided"), Some(1.0 / 3.0));
    assert_eq!(v("timeout_rate_decided"), Some(1.0 / 3.0));
    assert_eq!(v("acceptance_rate_dispatched"), Some(0.25), "open cases count in the dispatched denominator");
    assert_eq!(v("invalid_replies"), Some(1.0));
    assert_eq!(v("decided_after_second_sms"), Some(0.5));
    assert_eq!(v("reply_latency_median_h"), Some(3.0), "2 h and 4 h");
    assert!((v("reply_latency_p90_h").unwrap() - 3.8).abs() < 1e-9);
    assert_eq!(v("rename_to_request_median_days"), Some(5.0));
    assert_eq!(v("reissue_requests"), Some(2.0));
    // Ecology: offered, never dispatched: every rate has a zero denominator.
    assert_eq!(value(&rows, "ecology", "offered"), Some(1.0));
    assert_eq!(value(&rows, "ecology", "acceptance_rate_decided"), None);
    assert_eq!(value(&rows, "ecology", "acceptance_rate_dispatched"), None);
    assert_eq!(value(&rows, "ecology", "reply_latency_median_h"), None);
    // All pilots together.
    assert_eq!(value(&rows, ALL, "offered"), Some(6.0));
}

/// Time to decision on the same ledger: a accepted after 2 h, b declined at 76 h, c timed out
/// at 144 h, o open since 11-08 09:00 (followed 39 h to the cut-off), n never sent an SMS.
/// The open case counts while it was open: 1 of 4 accepted within 24 h, not 1 of 3.
#[test]
fn time_to_decision_uses_open_cases() {
    let (_, campaign) = world();
    let cutoff = t("2026-11-10T00:00");
    let rows = sdu::report::metrics::time_to_decision(&campaign, &["sanitary".to_string()], cutoff);
    let at = |h: u32| {
        rows.iter()
            .find(|k| k.pilot == "sanitary" && k.metric == format!("accepted_within_{h}h"))
            .unwrap_or_else(|| panic!("{h} h"))
    };
    for h in [24, 72, 144] {
        assert_eq!((at(h).value, at(h).denominator), (Some(0.25), Some(4.0)), "{h} h");
        let (lo, hi) = (at(h).ci_low.unwrap(), at(h).ci_high.unwrap());
        assert!(lo <= 0.25 && 0.25 <= hi && hi - lo > 0.1, "{h} h: {lo}–{hi}");
    }
    assert!(!at(24).provisional, "o was followed past 24 h");
    assert!(at(72).provisional && at(144).provisional, "o may still accept");
    assert!(rows.iter().any(|k| k.pilot == ALL), "all pilots together");
    // Every metric the report computes has a label in both languages and a definition.
    let (events, campaign) = world();
    let labels = sdu::report::labels::labels();
    for k in compute(&events, &campaign, d("2026-11-09"), 5).iter().chain(&rows) {
        assert!(labels.definition(&k.metric).is_some(), "{} has no definition", k.metric);
        assert_ne!(labels.metric_name(&k.metric), k.metric, "{} has no label", k.metric);
    }
}

#[test]
fn the_date_cuts_the_ledger() {
    let (events, campaign) = world();
    let rows = compute(&events, &campaign, d("2026-11-04"), 5);
    let v = |m: &str| value(&rows, "sanitary", m);
    assert_eq!(v("accepted"), Some(1.0));
    assert_eq!(v("open"), Some(2.0), "b and c still wait on 4 November");
    assert_eq!(v("sms2_sent"), Some(0.0));
}

/// A cohort with a case still open is provisional in every campaign metric, not in the
/// candidates' counts; with every case decided it is final.
#[test]
fn open_cases_make_their_cohort_provisional() {
    let (events, campaign) = world();
    let rows = compute(&events, &campaign, d("2026-11-09"), 5);
    assert!(get(&rows, "sanitary", TOTAL, ALL, "acceptance_rate_decided").provisional, "case o is open");
    assert!(get(&rows, "sanitary", "2026-W45", ALL, "accepted").provisional);
    assert!(!get(&rows, "sanitary", TOTAL, ALL, "events_in_scope").provisional);
    let offers: Vec<Offer> =
        campaign.cases.values().filter(|c| c.offer.case_id != "o").map(|c| c.offer.clone()).collect();
    let ledger: Vec<CaseEvent> =
        campaign.cases.values().filter(|c| c.offer.case_id != "o").flat_map(|c| c.history.clone()).collect();
    let decided = Campaign::load(offers, ledger, &load_pilots(None).unwrap()).unwrap();
    let rows = compute(&events, &decided, d("2026-11-09"), 5);
    assert!(!get(&rows, "sanitary", TOTAL, ALL, "acceptance_rate_decided").provisional);
    assert!(get(&rows, "ecology", TOTAL, ALL, "offered").provisional, "z was never dispatched");
}

#[test]
fn small_cells_are_suppressed_in_breakdowns_only() {
    let (events, campaign) = world();
    let rows = compute(&events, &campaign, d("2026-11-09"), 5);
    let region = get(&rows, "sanitary", TOTAL, "75", "accepted");
    assert!(region.suppressed && region.value.is_none() && region.numerator.is_none());
    let rate = get(&rows, "sanitary", TOTAL, "75", "acceptance_rate_decided");
    assert!(rate.suppressed, "a rate on a small count is withheld");
    let total = get(&rows, "sanitary", TOTAL, ALL, "accepted");
    assert!(!total.suppressed, "pilot totals are never suppressed");
    let rows = compute(&events, &campaign, d("2026-11-09"), 1);
    assert!(rows.iter().all(|k| !k.suppressed), "--min-cell 1 suppresses nothing");
}

/// The rows of a published `kpi.json` (split layout) as objects.
fn kpi_records(path: &Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let cols: Vec<String> =
        v["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(cols, sdu::report::KPI_COLUMNS.map(String::from).to_vec());
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let row = row.as_array().unwrap();
            assert_eq!(row.len(), cols.len());
            serde_json::Value::Object(cols.iter().cloned().zip(row.iter().cloned()).collect())
        })
        .collect()
}

fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    (u32::from_be_bytes(b[16..20].try_into().unwrap()), u32::from_be_bytes(b[20..24].try_into().unwrap()))
}

fn ok(dir: &Path, args: &[&str]) {
    let o = sdu(args, dir);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

/// The tiny world of seed 3, its candidates of 2026-11-10 and their first SMS.
fn dispatched_tiny_world(dir: &Path) {
    ok(dir, &["synth", "--out", "w", "--scale", "tiny", "--seed", "3", "--as-of", "2026-11-23", "--clean"]);
    ok(dir, &["candidates", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out"]);
    ok(dir, &["dispatch", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out"]);
}

#[test]
fn the_report_pins_its_text_and_draws_every_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = |args: &[&str]| ok(dir, args);
    dispatched_tiny_world(dir);
    for day in ["2026-11-13T09:00", "2026-11-16T09:00"] {
        run(&[
            "simulate-portal",
            "--outbox",
            "out/2026-11-10/dispatch/sms_outbox.parquet",
            "--as-of",
            day,
            "--out",
            "r.parquet",
        ]);
        run(&["advance", "--out", "out", "--as-of", day, "--replies", "r.parquet"]);
    }
    run(&["report", "--out", "out", "--as-of", "2026-11-15"]);
    run(&["report", "--out", "out", "--as-of", "2026-11-16"]);
    // The report of 11-15 names the ledger files it read, not the later advance's.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/reports/2026-11-15/manifest.json")).unwrap())
            .unwrap();
    let inputs: Vec<&str> =
        manifest["inputs"].as_array().unwrap().iter().map(|i| i["file"].as_str().unwrap()).collect();
    assert!(inputs.iter().any(|f| f.contains("2026-11-13T09-00-00-advance")), "{inputs:?}");
    assert!(!inputs.iter().any(|f| f.contains("2026-11-16T09-00-00")), "{inputs:?}");
    // A date before any run: no report of zeros.
    let o = sdu(&["report", "--out", "out", "--as-of", "2026-11-01"], dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no published candidate run"), "{}", stderr(&o));
    let report = dir.join("out/reports/2026-11-16");
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    let pinned = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/snapshots/report.md");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(&pinned, &md).unwrap();
    }
    assert_eq!(
        md,
        std::fs::read_to_string(&pinned).unwrap(),
        "report.md changed; rerun with UPDATE_SNAPSHOTS=1 and review"
    );
    assert!(md.contains("Compared with the report of 2026-11-15"));
    let charts = [
        "funnel-sanitary",
        "outcome-shares",
        "exclusion-reasons",
        "weekly-rates",
        "reply-latency",
        "time-to-decision",
        "rename-to-reissue",
    ];
    let labels = sdu::report::labels::labels();
    for chart in charts {
        let (w, h) = png_size(&report.join(format!("charts/{chart}.png")));
        assert!(w == 1100 && h >= 300, "{chart}: {w}×{h}");
        let svg = std::fs::read_to_string(report.join(format!("charts/{chart}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{chart}");
        // People read labels, not codes.
        for code in sdu::pipeline::outcome::ALL.iter().chain(&["acceptance", "timed_out", "sanitary"]) {
            assert!(
                !svg.contains(&format!(">{code}<")) && !svg.contains(&format!(">{code}:")),
                "{chart} shows {code}"
            );
        }
    }
    // The funnel: events in scope → eligible → offered → SMS → replied → accepted → re-issued.
    let funnel = std::fs::read_to_string(report.join("charts/funnel-sanitary.svg")).unwrap();
    for step in ["Қамтылған оқиғалар / События в охвате", "Соответствуют условиям", "Жауап берді / Ответили"]
    {
        assert!(funnel.contains(step), "{step}");
    }
    assert!(funnel.contains("% of the step before"));
    // One colour per outcome, with a legend naming every outcome.
    let shares = std::fs::read_to_string(report.join("charts/outcome-shares.svg")).unwrap();
    for o in sdu::pipeline::outcome::ALL {
        let label = &labels.outcome[o];
        assert!(shares.contains(&label.kk) && shares.contains(&label.ru), "legend names {o}");
    }
    let weekly = std::fs::read_to_string(report.join("charts/weekly-rates.svg")).unwrap();
    assert!(weekly.contains("Келісті / Согласие") && weekly.contains("Нет ответа"), "the legend");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("data:image/png;base64,iVBORw0KGgo"), "charts embedded");
    assert!(!html.contains("http://") && !html.contains("https://"), "no network needed");
    let kpi = kpi_records(&report.join("kpi.json"));
    assert!(kpi.iter().any(|k| k["suppressed"] == true), "tiny breakdowns are suppressed");
    // Tidy: counts are integers, totals are nulls (no `all`/`total`/`unknown` placeholders),
    // and a breakdown row says something.
    for k in &kpi {
        for dim in ["pilot", "period", "region"] {
            assert!(!["all", "total", "unknown"].contains(&k[dim].as_str().unwrap_or("")), "{k}");
        }
        for n in ["numerator", "denominator"] {
            assert!(k[n].is_null() || k[n].is_u64(), "{k}");
        }
        let breakdown = !k["period"].is_null() || !k["region"].is_null();
        let zero = |f: &str| k[f].is_null() || k[f].as_f64() == Some(0.0);
        assert!(
            !breakdown
                || k["suppressed"] == true
                || !(zero("numerator") && zero("denominator") && zero("value")),
            "{k}"
        );
    }
    assert!(
        report.join("kpi.parquet").is_file()
            && report.join("kpi.csv").is_file()
            && report.join("_SUCCESS").is_file()
    );
}

/// A report made again later gives the same numbers: it counts the ledger's events up to the
/// time the day's last advance decided to, not those a later advance recorded at earlier
/// times (replies received that afternoon). Simulated replies put a banner on it, mark every
/// KPI row and every chart title.
#[test]
fn a_report_made_again_later_is_the_same_and_says_it_is_simulated() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = |args: &[&str]| ok(dir, args);
    dispatched_tiny_world(dir);
    let outbox = "out/2026-11-10/dispatch/sms_outbox.parquet";
    run(&["simulate-portal", "--outbox", outbox, "--as-of", "2026-11-13T09:00", "--out", "r1.parquet"]);
    run(&["advance", "--out", "out", "--as-of", "2026-11-13T09:00", "--replies", "r1.parquet"]);
    run(&["report", "--out", "out", "--as-of", "2026-11-13"]);
    let kpi = dir.join("out/reports/2026-11-13/kpi.json");
    let first = std::fs::read(&kpi).unwrap();
    // The person texted a second time answers "1" that afternoon; the next advance records it.
    let second = polars::prelude::LazyFrame::scan_parquet(
        polars::prelude::PlRefPath::try_from_path(
            &dir.join("out/2026-11-13/advance-0900/sms_outbox.parquet"),
        )
        .unwrap(),
        Default::default(),
    )
    .unwrap()
    .collect()
    .unwrap();
    let phone = second.column("phone").unwrap().str().unwrap().get(0).expect("a second SMS").to_string();
    let mut r2 = polars::df!(
        "message_id" => [None::<&str>],
        "phone" => [phone.as_str()],
        "received_at" => ["2026-11-13T15:00:00"],
        "text" => ["1"],
    )
    .unwrap();
    sdu::io::write_parquet(&mut r2, &dir.join("r2.parquet")).unwrap();
    run(&["advance", "--out", "out", "--as-of", "2026-11-16T09:00", "--replies", "r2.parquet"]);
    // The later advance recorded events of the afternoon of 11-13 (the old cut-off, the end
    // of the day, would count them).
    let events = sdu::campaign::log::read_all(&dir.join("out")).unwrap();
    let afternoon = |e: &&sdu::campaign::CaseEvent| {
        e.at > d("2026-11-13").and_hms_opt(9, 0, 0).unwrap()
            && e.at < d("2026-11-14").and_hms_opt(0, 0, 0).unwrap()
    };
    assert!(
        events.iter().any(|e| afternoon(&e)),
        "no event on the afternoon of 11-13: the test proves nothing"
    );
    run(&["report", "--out", "out", "--as-of", "2026-11-13"]);
    assert!(std::fs::read(&kpi).unwrap() == first, "the report of 11-13 changed when made again");
    let md = std::fs::read_to_string(dir.join("out/reports/2026-11-13/report.md")).unwrap();
    assert!(md.starts_with("> **SIMULATED"), "{}", &md[..200]);
    assert!(md.contains("events up to 2026-11-13 09:00:00"), "the cut-off is stated");
    let rows = kpi_records(&kpi);
    assert!(rows.iter().all(|r| r["simulated"] == true));
    let rate = rows
        .iter()
        .find(|r| {
            r["metric"] == "acceptance_rate_dispatched"
                && r["pilot"].is_null()
                && r["period"].is_null()
                && r["region"].is_null()
        })
        .unwrap();
    assert!(rate["ci_low"].as_f64().unwrap() <= rate["value"].as_f64().unwrap());
}

/// The subtraction attack: along every line of cells that add up to a published cell (the
/// regions of a pilot, the weeks, the pilots), no suppressed cell is alone, so none can be
/// read off as the total less the published others.
fn one_subtraction_recovers(rows: &[Kpi]) -> Vec<String> {
    use std::collections::BTreeMap;
    let additive = sdu::report::metrics::additive;
    let mut lines: BTreeMap<(u8, [String; 4]), Vec<&Kpi>> = BTreeMap::new();
    for k in rows.iter().filter(|k| additive(&k.metric)) {
        let (p, w, r, m) = (k.pilot.clone(), k.period.clone(), k.region.clone(), k.metric.clone());
        if r != ALL {
            lines.entry((0, [p.clone(), w.clone(), ALL.into(), m.clone()])).or_default().push(k);
        }
        if w != TOTAL {
            lines.entry((1, [p.clone(), TOTAL.into(), r.clone(), m.clone()])).or_default().push(k);
        }
        if p != ALL {
            lines.entry((2, [ALL.into(), w, r, m])).or_default().push(k);
        }
    }
    let mut found = vec![];
    for ((_, [p, w, r, m]), cells) in lines {
        let Some(total) =
            rows.iter().find(|k| k.pilot == p && k.period == w && k.region == r && k.metric == m)
        else {
            continue;
        };
        let hidden: Vec<&&Kpi> = cells.iter().filter(|k| k.suppressed).collect();
        // A line of one cell is its total: nothing to protect it with but the total itself,
        // which for a pilot's headline is published on purpose.
        if let (Some(t), [one], true) = (total.value, hidden.as_slice(), cells.len() > 1) {
            let rest: f64 = cells.iter().filter_map(|k| k.value).sum();
            found.push(format!("{} {} {} {} = {t} - {rest}", one.pilot, one.period, one.region, one.metric));
        }
    }
    found
}

/// Withheld counts a published rate's denominator gives away: the denominator less the
/// cell's other published counts it adds up from.
fn denominator_less_the_others(rows: &[Kpi]) -> Vec<String> {
    let sums: [(&str, &[&str]); 3] = [
        ("_rate_decided", &["accepted", "declined", "timed_out"]),
        ("decided_after_second_sms", &["accepted", "declined"]),
        ("sms_failure_rate", &["sms_delivered", "sms_failed"]),
    ];
    let mut found = vec![];
    // Counts that are sums of the cell's other counts: the events in scope (the nine
    // outcomes), the offered cases (where they stand), a criterion's first reason (its outcome).
    let outcomes: Vec<String> = sdu::pipeline::outcome::ALL.iter().map(|o| format!("outcome.{o}")).collect();
    let standings: Vec<String> = [
        "no_mobile",
        "queued",
        "open",
        "accepted",
        "declined",
        "timed_out",
        "undeliverable",
        "superseded",
        "voided",
    ]
    .map(String::from)
    .to_vec();
    let mut totals: Vec<(String, Vec<String>)> =
        vec![("events_in_scope".into(), outcomes), ("offered".into(), standings)];
    for c in sdu::pipeline::outcome::CRITERIA {
        totals.push((format!("first_reason.{c}"), vec![format!("outcome.{c}")]));
    }
    for k in rows.iter().filter(|k| !k.suppressed) {
        for (total, parts) in totals.iter().filter(|(t, _)| *t == k.metric) {
            let cells: Vec<&Kpi> =
                parts.iter().map(|m| get(rows, &k.pilot, &k.period, &k.region, m)).collect();
            if let [one] = cells.iter().filter(|c| c.suppressed).collect::<Vec<_>>().as_slice() {
                found
                    .push(format!("{} {} {} {} from {total}", one.pilot, one.period, one.region, one.metric));
            }
        }
    }
    for k in rows.iter().filter(|k| !k.suppressed) {
        let Some(d) = k.denominator else { continue };
        for (suffix, parts) in sums.iter().filter(|(s, _)| k.metric.ends_with(s)) {
            let cells: Vec<&Kpi> =
                parts.iter().map(|m| get(rows, &k.pilot, &k.period, &k.region, m)).collect();
            if let [one] = cells.iter().filter(|c| c.suppressed).collect::<Vec<_>>().as_slice() {
                let rest: f64 = cells.iter().filter_map(|c| c.value).sum();
                found.push(format!(
                    "{} {} {} {} = {d} - {rest} ({suffix})",
                    one.pilot, one.period, one.region, one.metric
                ));
            }
        }
    }
    found
}

/// The reviewer's attack: 9 accepted, 0 declined and 3 timed out (withheld) of 12 decided in
/// one region would give the 3 away through the acceptance rate's denominator. The region's
/// decided-case rates are withheld with it.
#[test]
fn no_withheld_count_is_a_denominator_less_the_others() {
    use Kind::*;
    use State::*;
    let (mut offers, mut log, mut events) = (vec![], vec![], vec![]);
    for i in 0..24 {
        let case = format!("k{i:02}");
        offers.push(offer(&case, "sanitary"));
        log.push(ev(&case, SmsSent, "2026-11-02T09:00", Some(AwaitingReply), Some(1)));
        if (9..12).contains(&i) {
            log.push(ev(&case, SmsSent, "2026-11-05T09:00", Some(AwaitingSecondReply), Some(2)));
            log.push(ev(&case, Kind::TimedOut, "2026-11-08T09:00", Some(State::TimedOut), None));
        } else {
            log.push(ev(&case, ReplyAccept, "2026-11-02T11:00", Some(Accepted), None));
        }
        let region = if i < 12 { "15" } else { "16" };
        events.push(event(&format!("E-{case}"), "sanitary", "offered", &[], Some(&case), region));
    }
    let campaign = Campaign::load(offers, log, &load_pilots(None).unwrap()).unwrap();
    let rows = compute(&events, &campaign, d("2026-11-09"), 5);
    assert!(get(&rows, "sanitary", TOTAL, "15", "timed_out").suppressed, "3 timed out is withheld");
    assert!(!get(&rows, "sanitary", TOTAL, "15", "accepted").suppressed, "9 accepted is published");
    assert_eq!(denominator_less_the_others(&rows), Vec::<String>::new());
    assert_eq!(one_subtraction_recovers(&rows), Vec::<String>::new());
    assert!(get(&rows, "sanitary", TOTAL, "15", "acceptance_rate_decided").suppressed);
    // The reply latency's n is accepted + declined, both published: it gives nothing away.
    assert!(!get(&rows, "sanitary", TOTAL, "15", "reply_latency_median_h").suppressed);
    // The pilot's headline keeps every rate.
    assert_eq!(value(&rows, "sanitary", "acceptance_rate_decided"), Some(21.0 / 24.0));
}

#[test]
fn no_suppressed_cell_is_one_subtraction_away() {
    // Regions of 1, 7 and 8 events: the 1 is suppressed, and 7 with it.
    let mut events: Vec<EventRow> = (0..16)
        .map(|i| {
            let region = if i == 0 {
                "10"
            } else if i < 8 {
                "11"
            } else {
                "12"
            };
            event(&format!("E{i}"), "sanitary", "no_pilot_permit", &["no_pilot_permit"], None, region)
        })
        .collect();
    events.push(event("F0", "ecology", "no_pilot_permit", &["no_pilot_permit"], None, "10"));
    let (_, campaign) = world();
    let rows = compute(&events, &campaign, d("2026-11-09"), 5);
    assert_eq!(one_subtraction_recovers(&rows), Vec::<String>::new());
    let one = get(&rows, "sanitary", TOTAL, "10", "events_in_scope");
    let seven = get(&rows, "sanitary", TOTAL, "11", "events_in_scope");
    assert!(one.suppressed && seven.suppressed, "the smallest other region goes with it");
    assert!(!get(&rows, "sanitary", TOTAL, "12", "events_in_scope").suppressed);
    // The report's own world too.
    let (events, campaign) = world();
    assert_eq!(
        one_subtraction_recovers(&compute(&events, &campaign, d("2026-11-09"), 5)),
        Vec::<String>::new()
    );
}

/// For schedulers: `--json` failures are a JSON object on stdout with the exit code, options
/// come from `SDU_*` variables, and `--log-format json` writes one JSON object a log line.
#[test]
fn machines_get_json_errors_env_options_and_json_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dispatched_tiny_world(dir);
    let o = sdu(&["report", "--out", "out", "--as-of", "2026-11-01", "--json"], dir);
    assert_eq!(o.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(err["exit_code"], 2);
    assert!(err["error"].as_str().unwrap().contains("no published candidate run"), "{err}");
    // An argument that does not parse is a JSON error too.
    let o = sdu(&["report", "--out", "out", "--as-of", "2026-13-45", "--json"], dir);
    assert_eq!(o.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(err["error"].as_str().unwrap().contains("2026-13-45"), "{err}");
    // --out from SDU_OUT, --json from SDU_JSON (1, yes, true…).
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sdu"))
        .args(["campaign", "status", "--pilot", "sanitary"])
        .current_dir(dir)
        .env("SDU_OUT", "out")
        .env("SDU_JSON", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let status: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(status["cases"]["sanitary"]["awaiting_reply"].as_u64().unwrap() > 0, "{status}");
    // JSON logs: every stderr line but the final error parses.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sdu"))
        .args([
            "--log-format",
            "json",
            "-v",
            "candidates",
            "--snapshot",
            "w",
            "--as-of",
            "2026-11-10",
            "--out",
            "out",
        ])
        .current_dir(dir)
        .env_remove("SDU_LOG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<String> = stderr(&o).lines().map(String::from).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert!(v["level"].is_string() && v["fields"]["message"].is_string(), "{l}");
    }
}
