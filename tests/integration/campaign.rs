//! The SMS campaign: deadline edges, every reply form's effect, duplicates and late replies,
//! routing, the ledger round trip, and (through the binary) the whole loop on a small world,
//! idempotent re-runs and a run killed between writes.

use crate::common::*;
use chrono::{Duration, NaiveDate, NaiveDateTime};
use polars::prelude::*;
use sdu::campaign::state::State;
use sdu::campaign::{
    log, message_id, short_hash, Campaign, CaseEvent, Checks, Clock, Delivery, DeliveryStatus, Inbox, Kind,
    Offer, Reply, ReplyCounts, Sms,
};
use sdu::config::load_pilots;
use std::collections::HashMap;
use std::path::Path;

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
}

fn offer(case: &str, pilot: &str, iin: &str) -> Offer {
    Offer {
        case_id: case.into(),
        pilot: pilot.into(),
        event_id: format!("RN-{case}"),
        bin: Some("940140000385".into()),
        iin: iin.into(),
        offered_on: NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
        changed_on: NaiveDate::from_ymd_opt(2026, 11, 2),
        old_name_kk: Some("«Ескі» ЖШС".into()),
        old_name_ru: Some("ТОО «Ескі»".into()),
        new_name_kk: Some("«Жаңа» ЖШС".into()),
        new_name_ru: Some("ТОО «Жаңа»".into()),
        // Each case its own permits: cases of the same permits supersede each other.
        permit_ids: vec![format!("{case}-P1"), format!("{case}-P2")],
        permit_services: vec!["san-epid-object-concl".into(), "san-normative-concl".into()],
    }
}

const T0: &str = "2026-11-10T09:00:00";
const PHONE: &str = "+77011234567";

/// One sanitary case texted at T0 (reply due T0 + 72 h).
fn texted() -> Campaign {
    let mut c =
        Campaign::load(vec![offer("c1", "sanitary", P1)], vec![], &load_pilots(None).unwrap()).unwrap();
    let phones = HashMap::from([(P1.to_string(), vec![PHONE.to_string()])]);
    let (events, sms, _) = c.dispatch(&phones, t(T0)).unwrap();
    assert_eq!((events.len(), sms.len()), (1, 1));
    assert_eq!(sms[0].due_by, t("2026-11-13T09:00:00"));
    c
}

fn reply(text: &str, at: &str, with_id: bool, c: &Campaign) -> Reply {
    Reply {
        message_id: with_id.then(|| c.cases["c1"].sms[0].message_id.clone()),
        phone: PHONE.into(),
        received_at: t(at),
        text: text.into(),
        source: None,
    }
}

/// An advance with no candidates to re-check against: events, SMS, reply counts.
fn adv(c: &mut Campaign, replies: &[Reply], at: NaiveDateTime) -> (Vec<CaseEvent>, Vec<Sms>, ReplyCounts) {
    let done = c.advance(replies, &Clock::at(at)).unwrap();
    (done.events, done.outbox, done.replies)
}

fn state(c: &Campaign) -> State {
    c.cases["c1"].state
}

#[test]
fn the_window_closes_exactly_at_72_hours() {
    let mut c = texted();
    let (_, sms, _) = adv(&mut c, &[], t("2026-11-13T08:59:59"));
    assert!(sms.is_empty());
    assert_eq!(state(&c), State::AwaitingReply);
    let (_, sms, _) = adv(&mut c, &[], t("2026-11-13T09:00:00"));
    assert_eq!(sms.len(), 1, "second SMS exactly at the deadline");
    assert_eq!(sms[0].send_no, 2);
    assert_eq!(state(&c), State::AwaitingSecondReply);
    let (events, _, _) = adv(&mut c, &[], t("2026-11-16T08:59:59"));
    assert!(events.is_empty());
    let (events, sms, _) = adv(&mut c, &[], t("2026-11-16T09:00:00"));
    assert!(sms.is_empty(), "never a third SMS");
    assert_eq!(events[0].kind, Kind::TimedOut);
    assert_eq!(state(&c), State::TimedOut);
    let (events, _, _) = adv(&mut c, &[], t("2026-11-30T09:00:00"));
    assert!(events.is_empty(), "terminal states are final");
}

#[test]
fn a_reply_exactly_on_the_deadline_decides_before_the_resend() {
    let mut c = texted();
    let r = reply("1", "2026-11-13T09:00:00", false, &c);
    let (events, sms, counts) = adv(&mut c, &[r], t("2026-11-13T09:00:00"));
    assert_eq!(counts.accept, 1);
    assert!(sms.is_empty(), "decided: no second SMS");
    assert_eq!(state(&c), State::Accepted);
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [Kind::ReplyAccept, Kind::ReissueRequested]
    );
    assert_eq!(events[1].permit_ids, ["c1-P1", "c1-P2"], "no candidates to re-check: the offer's permits");
}

#[test]
fn the_first_valid_reply_decides_and_later_ones_change_nothing() {
    let mut c = texted();
    let replies = [
        reply("кто это?", "2026-11-10T10:00:00", true, &c),
        reply("Иә!", "2026-11-10T10:05:00", true, &c),
        reply("2", "2026-11-10T10:06:00", true, &c),
    ];
    let (_, _, counts) = adv(&mut c, &replies, t("2026-11-11T09:00:00"));
    assert_eq!((counts.invalid, counts.accept, counts.late, counts.decline), (1, 1, 1, 0));
    assert_eq!(state(&c), State::Accepted);
    // The same replies again (the portal resends its file): recorded once.
    let (events, _, counts) = adv(&mut c, &replies, t("2026-11-12T09:00:00"));
    assert_eq!(counts.already_recorded, 3);
    assert!(events.is_empty());
}

#[test]
fn replies_match_by_phone_and_unknown_numbers_are_kept() {
    let mut c = texted();
    let by_phone = Reply {
        message_id: None,
        phone: "8 (701) 123-45-67".into(),
        received_at: t("2026-11-11T12:00:00"),
        text: "2".into(),
        source: None,
    };
    let stranger = Reply {
        message_id: None,
        phone: "+77770000000".into(),
        received_at: t("2026-11-11T12:00:00"),
        text: "1".into(),
        source: None,
    };
    let future = Reply {
        message_id: None,
        phone: PHONE.into(),
        received_at: t("2026-11-20T12:00:00"),
        text: "1".into(),
        source: None,
    };
    let (_, _, counts) = adv(&mut c, &[by_phone, stranger, future], t("2026-11-12T09:00:00"));
    assert_eq!((counts.decline, counts.unmatched, counts.not_yet_received), (1, 1, 1));
    assert_eq!(state(&c), State::Declined);
    assert_eq!(c.unmatched.len(), 1);
}

#[test]
fn trusted_software_routes_dead_ends_to_the_standard_procedure() {
    let pilots = load_pilots(None).unwrap();
    let mut c = Campaign::load(
        vec![offer("a", "trusted-software", P1), offer("b", "trusted-software", P2)],
        vec![],
        &pilots,
    )
    .unwrap();
    let phones = HashMap::from([(P1.to_string(), vec![PHONE.to_string()])]);
    c.dispatch(&phones, t(T0)).unwrap();
    assert_eq!(c.cases["b"].state, State::StandardProcedure, "no number (seed 003 §12)");
    let r = Reply {
        message_id: None,
        phone: PHONE.into(),
        received_at: t("2026-11-10T11:00:00"),
        text: "жоқ".into(),
        source: None,
    };
    adv(&mut c, &[r], t("2026-11-11T09:00:00"));
    assert_eq!(c.cases["a"].state, State::StandardProcedure, "declined (seed 003 §17)");
    let mut s = Campaign::load(vec![offer("x", "sanitary", P3)], vec![], &pilots).unwrap();
    s.dispatch(&HashMap::new(), t(T0)).unwrap();
    assert_eq!(s.cases["x"].state, State::NoMobile);
}

#[test]
fn the_ledger_round_trips_the_campaign() {
    let tmp = tempfile::tempdir().unwrap();
    let pilots = load_pilots(None).unwrap();
    let mut c = Campaign::load(vec![offer("c1", "sanitary", P1)], vec![], &pilots).unwrap();
    let phones = HashMap::from([(P1.to_string(), vec![PHONE.to_string()])]);
    let (mut all, _, _) = c.dispatch(&phones, t(T0)).unwrap();
    let r = reply("１", "2026-11-14T10:00:00", true, &c);
    let (more, _, _) = adv(&mut c, &[], t("2026-11-13T09:00:00"));
    all.extend(more);
    let (more, _, _) = adv(&mut c, &[r], t("2026-11-15T09:00:00"));
    all.extend(more);
    let path = log::file(tmp.path(), t(T0), log::Step::Advance);
    sdu::io::write_parquet_atomic(&mut log::frame(&all).unwrap(), &path).unwrap();
    let back = log::read_all(tmp.path()).unwrap();
    assert_eq!(back, all);
    let again = Campaign::load(vec![offer("c1", "sanitary", P1)], back, &pilots).unwrap();
    assert_eq!(again.cases["c1"].state, State::Accepted);
    assert_eq!(again.cases["c1"].sms.len(), 2);
}

// Through the binary: candidates → dispatch → simulate → advance, day by day.

fn run(dir: &Path, args: &[&str]) -> String {
    let o = sdu(args, dir);
    assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

fn day(d: NaiveDate) -> String {
    d.to_string()
}

/// Runs the daily loop from `from` for `days` days into `out`; returns nothing, leaves files.
fn daily_loop(dir: &Path, out: &str, from: NaiveDate, days: i64) {
    for k in 0..days {
        let d = from + Duration::days(k);
        let at = format!("{}T09:00", day(d));
        if k < 2 {
            run(dir, &["candidates", "--snapshot", "w", "--as-of", &day(d), "--out", out]);
            run(dir, &["dispatch", "--snapshot", "w", "--as-of", &day(d), "--out", out]);
        }
        let outboxes: Vec<String> = glob(&dir.join(out), "sms_outbox.parquet");
        let mut args = vec!["simulate-portal", "--as-of", &at, "--seed", "3", "--out"];
        let replies = format!("{out}-replies-{k}.parquet");
        args.push(&replies);
        args.push("--outbox");
        let refs: Vec<&str> = outboxes.iter().map(|s| s.as_str()).collect();
        args.extend(refs);
        run(dir, &args);
        run(dir, &["advance", "--out", out, "--as-of", &at, "--replies", &replies]);
    }
}

fn glob(root: &Path, name: &str) -> Vec<String> {
    let named = |p: &std::path::PathBuf| p.file_name().is_some_and(|n| n == name);
    let mut found: Vec<String> =
        files(root).into_iter().filter(named).map(|p| p.display().to_string()).collect();
    found.sort();
    found
}

fn status(dir: &Path, out: &str) -> String {
    run(dir, &["campaign", "status", "--out", out])
}

#[test]
fn every_offered_case_ends_in_one_terminal_state_within_six_days_and_a_run() {
    // The tiny world (many cases) and the small one, at real rates (a few cases).
    for scale in ["tiny", "small"] {
        loop_ends_every_case(scale);
    }
}

fn loop_ends_every_case(scale: &str) {
    let tmp = tempfile::tempdir().unwrap();
    run(
        tmp.path(),
        &["synth", "--out", "w", "--scale", scale, "--seed", "3", "--as-of", "2026-11-23", "--clean"],
    );
    let from = NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();
    // Offers on days 0 and 1; day 1's last case times out on day 7 at the latest.
    daily_loop(tmp.path(), "out", from, 8);
    let pilots = load_pilots(None).unwrap();
    let out = tmp.path().join("out");
    let offers = sdu::ledger::to_offers(&sdu::ledger::offers_until(&out, NaiveDate::MAX).unwrap()).unwrap();
    assert!(!offers.is_empty(), "the {scale} world offers cases");
    let c = Campaign::load(offers.clone(), log::read_all(&out).unwrap(), &pilots).unwrap();
    for case in c.cases.values() {
        assert!(case.state.is_terminal(), "case {} is {:?}", case.offer.case_id, case.state);
        assert!(case.sms.len() <= 2);
        let decided = case.history.iter().filter(|e| e.state_after.is_some_and(|s| s.is_terminal())).count();
        assert_eq!(decided, 1, "exactly one terminal step");
        let last = case.history.iter().map(|e| e.at).max().unwrap();
        assert!(
            last <= case.offer.offered_on.and_hms_opt(9, 0, 0).unwrap() + Duration::days(6),
            "ended within 6 days"
        );
    }
    // Accepted cases became one e-license request per permit.
    let accepted: usize =
        c.cases.values().filter(|k| k.state == State::Accepted).map(|k| k.offer.permit_ids.len()).sum();
    let requests: usize = glob(&out, "elicense_requests.parquet")
        .iter()
        .map(|p| {
            LazyFrame::scan_parquet(PlRefPath::new(p.as_str()), Default::default())
                .unwrap()
                .collect()
                .unwrap()
                .height()
        })
        .sum();
    assert_eq!(requests, accepted);
    assert!(status(tmp.path(), "out").contains("sanitary"));
}

#[test]
fn re_runs_change_nothing_and_a_killed_run_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run(dir, &["synth", "--out", "w", "--scale", "tiny", "--seed", "3", "--as-of", "2026-11-23", "--clean"]);
    let d0 = "2026-11-10";
    // Uninterrupted.
    run(dir, &["candidates", "--snapshot", "w", "--as-of", d0, "--out", "a"]);
    run(dir, &["dispatch", "--snapshot", "w", "--as-of", d0, "--out", "a"]);
    let dispatched = status(dir, "a");
    // One pilot's column, by its exact id; a pilot nobody knows is a usage error, not an
    // empty table, and a prefix is not a pilot.
    let one = run(dir, &["campaign", "status", "--out", "a", "--pilot", "sanitary"]);
    assert!(one.lines().next().unwrap().trim_end().ends_with("sanitary"), "{one}");
    // A known pilot with no case yet: its column, zeros; --json shows the same one pilot.
    let eco = run(dir, &["campaign", "status", "--out", "a", "--pilot", "ecology"]);
    assert!(eco.lines().next().unwrap().trim_end().ends_with("ecology") && eco.contains("cases"), "{eco}");
    let json: serde_json::Value = serde_json::from_str(&run(
        dir,
        &["campaign", "status", "--out", "a", "--pilot", "ecology", "--json"],
    ))
    .unwrap();
    assert_eq!(json["cases"].as_object().unwrap().keys().collect::<Vec<_>>(), ["ecology"], "{json}");
    let o = sdu(&["campaign", "status", "--out", "a", "--pilot", "bogus", "--case", "nope"], dir);
    assert!(o.status.code() == Some(2) && stderr(&o).contains("unknown pilot"), "{}", stderr(&o));
    for wrong in ["nosuch", "sani"] {
        let o = sdu(&["campaign", "status", "--out", "a", "--pilot", wrong], dir);
        assert_eq!(o.status.code(), Some(2), "{wrong}: {}", stderr(&o));
        assert!(stderr(&o).contains("unknown pilot"), "{}", stderr(&o));
    }
    run(dir, &["candidates", "--snapshot", "w", "--as-of", d0, "--out", "a"]);
    run(dir, &["dispatch", "--snapshot", "w", "--as-of", d0, "--out", "a"]);
    assert_eq!(status(dir, "a"), dispatched, "a re-run dispatch changes nothing");
    let outbox = "a/2026-11-10/dispatch/sms_outbox.parquet";
    run(dir, &["simulate-portal", "--outbox", outbox, "--as-of", "2026-11-13T09:00", "--out", "r.parquet"]);
    run(dir, &["advance", "--out", "a", "--as-of", "2026-11-13T09:00", "--replies", "r.parquet"]);
    let before = status(dir, "a");
    // The same advance again: nothing changes.
    run(dir, &["advance", "--out", "a", "--as-of", "2026-11-13T09:00", "--replies", "r.parquet"]);
    assert_eq!(status(dir, "a"), before);
    // Rewriting the past is refused.
    let o = sdu(&["advance", "--out", "a", "--as-of", "2026-11-12T09:00"], dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // Killed between the publication and the ledger write at every step, then resumed.
    for point in ["candidates:before-ledger", "dispatch:before-ledger", "advance:before-ledger"] {
        let b = format!("b-{}", point.split(':').next().unwrap());
        let steps: [Vec<&str>; 3] = [
            vec!["candidates", "--snapshot", "w", "--as-of", d0, "--out", &b],
            vec!["dispatch", "--snapshot", "w", "--as-of", d0, "--out", &b],
            vec!["advance", "--out", &b, "--as-of", "2026-11-13T09:00", "--replies", "r.parquet"],
        ];
        for step in &steps {
            let failing = std::process::Command::new(env!("CARGO_BIN_EXE_sdu"))
                .args(step)
                .current_dir(dir)
                .env("SDU_FAIL_AT", point)
                .env("SDU_LOG", "error")
                .output()
                .unwrap();
            if !failing.status.success() {
                assert!(String::from_utf8_lossy(&failing.stderr).contains("failure injected"));
                run(dir, step);
            }
        }
        assert_eq!(status(dir, &b), before, "resumed after a kill at {point}");
    }
}

#[test]
fn a_reply_file_with_a_broken_schema_is_rejected_and_bad_rows_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("o")).unwrap();
    // An output folder (marked) with no case yet.
    std::fs::write(dir.join("o/.sdu-out"), "").unwrap();
    let mut broken = df!("message_id" => ["m"], "phone" => [PHONE], "text" => ["1"]).unwrap();
    sdu::io::write_parquet(&mut broken, &dir.join("broken.parquet")).unwrap();
    let o =
        sdu(&["advance", "--out", "o", "--as-of", "2026-11-13T09:00", "--replies", "broken.parquet"], dir);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("broken.parquet") && stderr(&o).contains("received_at"), "{}", stderr(&o));
    // A phone cell that is not a number (here holding an IIN) is quarantined, not published.
    let mut odd = df!(
        "message_id" => [None::<&str>, None, None],
        "phone" => [PHONE, PHONE, "abc+7 701 ИИН820701400068"],
        "received_at" => ["2026-11-12T10:00:00", "yesterday", "2026-11-12T11:00:00"],
        "text" => ["1", "2", "1"]
    )
    .unwrap();
    sdu::io::write_parquet(&mut odd, &dir.join("odd.parquet")).unwrap();
    let out = run(dir, &["advance", "--out", "o", "--as-of", "2026-11-13T09:00", "--replies", "odd.parquet"]);
    assert!(out.contains("2 input rows quarantined") && out.contains("1 unmatched"), "{out}");
    let folder = dir.join("o/2026-11-13/advance-0900");
    for f in ["replies_unmatched.csv", "replies_quarantine.csv"] {
        let text = std::fs::read_to_string(folder.join(f)).unwrap();
        assert!(!text.contains("820701400068"), "{f}: {text}");
    }
    let quarantine = std::fs::read_to_string(folder.join("replies_quarantine.csv")).unwrap();
    assert!(quarantine.contains("is not a phone number"), "{quarantine}");
}

/// Issue 12's attribution edges: a quoted message id sent to another number, a reply
/// received before the SMS it quotes, and a reply by phone after the case was decided.
#[test]
fn replies_are_attributed_only_where_they_can_be() {
    let mut c = texted();
    let id = c.cases["c1"].sms[0].message_id.clone();
    let other_phone = Reply {
        message_id: Some(id.clone()),
        phone: "+77019998877".into(),
        received_at: t("2026-11-10T10:00:00"),
        text: "1".into(),
        source: None,
    };
    let before_sms = Reply {
        message_id: Some(id),
        phone: PHONE.into(),
        received_at: t("2026-11-10T08:00:00"),
        text: "1".into(),
        source: None,
    };
    let (events, _, counts) = adv(&mut c, &[other_phone, before_sms], t("2026-11-10T12:00:00"));
    assert_eq!((counts.unmatched, counts.accept), (2, 0));
    assert!(events.iter().all(|e| e.kind == Kind::ReplyUnmatched && e.case_id.is_none()));
    assert_eq!(state(&c), State::AwaitingReply, "neither decides anything");
    let mut reasons: Vec<&str> = c.unmatched_now.iter().map(|(_, why)| *why).collect();
    reasons.sort();
    assert_eq!(reasons, ["message_id_of_another_number", "received_before_the_sms"]);
    // Decided by a "2"; a bare "1" by phone a day later is late for that case, not unmatched.
    let decide = reply("2", "2026-11-10T13:00:00", false, &c);
    let late = reply("1", "2026-11-11T13:00:00", false, &c);
    let (events, _, counts) = adv(&mut c, &[decide, late], t("2026-11-12T09:00:00"));
    assert_eq!((counts.decline, counts.late, counts.unmatched), (1, 1, 0));
    assert_eq!(events[1].kind, Kind::ReplyLate);
    assert_eq!(events[1].case_id.as_deref(), Some("c1"));
    assert_eq!(state(&c), State::Declined);
}

mod many_cases {
    //! Property: cases of random people, phones, permits and renames, random replies, run
    //! day by day as the jobs run them (the campaign folded anew from the ledger each
    //! morning, only the offers made by then): a phone never has two questions open, no permit
    //! is requested twice, a superseded case has a newer case of its permits, a request names
    //! only permits of its offer, and every case ends.

    use super::*;
    use proptest::prelude::*;
    use sdu::campaign::state::State;

    #[derive(Debug, Clone)]
    struct Spec {
        person: u8,
        event: u8,
        permits: Vec<u8>,
        changed: u8,
        offered: u8,
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (0..3u8, 0..4u8, prop::collection::btree_set(0..4u8, 1..3), 0..6u8, 0..10u8).prop_map(
            |(person, event, permits, changed, offered)| Spec {
                person,
                event,
                permits: permits.into_iter().collect(),
                changed,
                offered,
            },
        )
    }

    fn replies() -> impl Strategy<Value = Vec<(u8, u8, u8, &'static str)>> {
        // (person, day, hour, text)
        prop::collection::vec(
            (0..3u8, 0..30u8, 0..24u8, prop::sample::select(vec!["1", "1", "2", "?"])),
            0..80,
        )
    }

    fn day0() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
    }

    fn offers(specs: &[Spec]) -> Vec<Offer> {
        let mut out: Vec<Offer> = Vec::new();
        for (k, s) in specs.iter().enumerate() {
            let iin = format!("person-{}", s.person);
            let event = format!("E{}", s.event);
            let case_id = format!("{event}|{iin}");
            if out.iter().any(|o| o.case_id == case_id) {
                continue;
            }
            out.push(Offer {
                case_id,
                pilot: "sanitary".into(),
                event_id: event,
                bin: Some(format!("org-{k}")),
                iin,
                offered_on: day0() + Duration::days(i64::from(s.offered)),
                changed_on: Some(day0() - Duration::days(10 - i64::from(s.changed))),
                old_name_kk: None,
                old_name_ru: None,
                new_name_kk: None,
                new_name_ru: None,
                permit_ids: s.permits.iter().map(|p| format!("P{p}")).collect(),
                permit_services: s.permits.iter().map(|_| "san-epid-object-concl".to_string()).collect(),
            });
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn the_campaign_keeps_its_cross_case_rules(specs in prop::collection::vec(spec(), 1..8), rs in replies()) {
            let pilots = load_pilots(None).unwrap();
            let offers = offers(&specs);
            let phone = |p: u8| format!("+7701000000{p}");
            let phones: HashMap<String, Vec<String>> =
                (0..3).map(|p| (format!("person-{p}"), vec![phone(p)])).collect();
            let replies: Vec<Reply> = rs
                .iter()
                .map(|(p, d, h, text)| Reply {
                    message_id: None,
                    phone: phone(*p),
                    received_at: (day0() + Duration::days(i64::from(*d))).and_hms_opt(u32::from(*h), 7, 0).unwrap(),
                    text: text.to_string(),
        source: None,
    })
                .collect();
            let mut ledger: Vec<CaseEvent> = Vec::new();
            let fold = |day: NaiveDate, ledger: &[CaseEvent]| {
                let known = offers.iter().filter(|o| o.offered_on <= day).cloned().collect();
                Campaign::load(known, ledger.to_vec(), &pilots).unwrap()
            };
            for k in 0..80 {
                let day = day0() + Duration::days(k);
                let at = day.and_hms_opt(9, 0, 0).unwrap();
                let (events, _, _) = fold(day, &ledger).dispatch(&phones, at).unwrap();
                ledger.extend(events);
                let done = fold(day, &ledger).advance(&replies, &Clock::at(at)).unwrap();
                ledger.extend(done.events);
            }
            let c = fold(NaiveDate::MAX, &ledger);
            // Every case ends.
            for case in c.cases.values() {
                prop_assert!(case.state.is_terminal(), "{} is {:?}", case.offer.case_id, case.state);
            }
            // No permit twice; a request names only permits of its offer, of an accepted case.
            let mut requested = std::collections::HashSet::new();
            for case in c.cases.values() {
                for e in case.history.iter().filter(|e| e.kind == Kind::ReissueRequested) {
                    prop_assert_eq!(case.state, State::Accepted);
                    for p in &e.permit_ids {
                        prop_assert!(case.offer.permit_ids.contains(p));
                        prop_assert!(requested.insert(p.clone()), "{} requested twice", p);
                    }
                }
            }
            // One question per phone at a time: [first SMS, end) intervals never overlap.
            let asked: Vec<(String, NaiveDateTime, NaiveDateTime, &str)> = c
                .cases
                .values()
                .filter_map(|case| {
                    let first = case.sms.first()?;
                    let end = case.history.iter().find(|e| e.state_after.is_some_and(|s| s.is_terminal()))?.at;
                    Some((first.phone.clone(), first.sent_at, end, case.offer.case_id.as_str()))
                })
                .collect();
            for a in &asked {
                for b in asked.iter().filter(|b| b.3 != a.3 && b.0 == a.0) {
                    prop_assert!(a.2 <= b.1 || b.2 <= a.1, "{} and {} both open on {}", a.3, b.3, a.0);
                }
            }
            // A superseded case has a newer case of its permits.
            for case in c.cases.values().filter(|k| k.state == State::Superseded) {
                let newer = c.cases.values().any(|o| {
                    o.offer.case_id != case.offer.case_id
                        && o.offer.order() > case.offer.order()
                        && o.offer.permit_ids.iter().any(|p| case.offer.permit_ids.contains(p))
                });
                prop_assert!(newer, "{} superseded by nothing newer", case.offer.case_id);
            }
        }
    }
}

/// A ledger and offers written before issue 12 (no request rows, no `reason`,
/// `other_case_id`, `permit_ids` or `changed_on` columns) read as they were meant: an accepted
/// case's request went out with its acceptance, for every permit of its offer.
#[test]
fn ledgers_and_offers_from_before_requests_were_recorded_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let pilots = load_pilots(None).unwrap();
    let mut c = texted();
    let mut old: Vec<CaseEvent> = c.cases["c1"].history.clone();
    let accept = reply("1", "2026-11-10T10:00:00", true, &c);
    let (events, _, _) = adv(&mut c, &[accept], t("2026-11-11T09:00:00"));
    old.extend(events.into_iter().filter(|e| e.kind == Kind::ReplyAccept));
    let mut frame = log::frame(&old).unwrap().drop_many(["reason", "other_case_id", "permit_ids"]);
    sdu::io::write_parquet_atomic(&mut frame, &log::file(out, t(T0), log::Step::Advance)).unwrap();
    let back = log::read_all(out).unwrap();
    assert_eq!(back, old, "absent columns read as empty");

    let mut offers = df!(
        "case_id" => ["c1"], "pilot" => ["sanitary"], "event_id" => ["RN-c1"], "bin" => ["940140000385"],
        "iin" => [P1], "offered_on" => [NaiveDate::from_ymd_opt(2026, 11, 10).unwrap()],
        "old_name_kk" => ["«Ескі» ЖШС"], "old_name_ru" => ["ТОО «Ескі»"],
        "new_name_kk" => ["«Жаңа» ЖШС"], "new_name_ru" => ["ТОО «Жаңа»"],
    )
    .unwrap();
    let list = |v: &[&str]| Series::new("permit_ids".into(), [Series::new("".into(), v)]);
    offers.with_column(list(&["c1-P1", "c1-P2"]).into_column()).unwrap();
    offers.with_column(list(&["s1", "s2"]).with_name("permit_services".into()).into_column()).unwrap();
    let path = sdu::layout::offers_file(out, "sanitary", NaiveDate::from_ymd_opt(2026, 11, 10).unwrap());
    sdu::io::write_parquet_atomic(&mut offers, &path).unwrap();
    let read = sdu::ledger::to_offers(&sdu::ledger::offers_until(out, NaiveDate::MAX).unwrap()).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].changed_on, None);
    assert_eq!(read[0].permit_ids, ["c1-P1", "c1-P2"]);

    let mut newer = offer("c2", "sanitary", P2);
    newer.permit_ids = read[0].permit_ids.clone();
    newer.offered_on = read[0].offered_on + Duration::days(5);
    newer.changed_on = Some(newer.offered_on - Duration::days(1));
    let mut c = Campaign::load(vec![read[0].clone(), newer], back, &pilots).unwrap();
    assert_eq!(c.cases["c1"].requested.as_deref(), Some(&read[0].permit_ids[..]));
    let phones = HashMap::from([(P2.to_string(), vec!["+77015550000".to_string()])]);
    let (events, sms, _) = c.dispatch(&phones, t("2026-11-15T09:00:00")).unwrap();
    assert!(sms.is_empty(), "its permits were requested: no SMS");
    assert_eq!(events[0].kind, Kind::Voided);
    assert_eq!(events[0].reason.as_deref(), Some("already_requested"));
    assert_eq!(events[0].other_case_id.as_deref(), Some("c1"));
}

/// The re-check comes before supersession: a newer case whose event the day's candidates no
/// longer hold is voided and takes nothing over; the older case it shares permits with stays.
#[test]
fn a_newer_case_that_fails_its_recheck_supersedes_nothing() {
    let pilots = load_pilots(None).unwrap();
    let older = offer("old", "sanitary", P1);
    let mut newer = offer("new", "sanitary", P1);
    newer.permit_ids = older.permit_ids.clone();
    newer.changed_on = older.changed_on.map(|d| d + Duration::days(3));
    newer.offered_on = older.offered_on + Duration::days(1);
    let phones = HashMap::from([(P1.to_string(), vec![PHONE.to_string()])]);
    let mut c = Campaign::load(vec![older.clone()], vec![], &pilots).unwrap();
    let (mut ledger, _, _) = c.dispatch(&phones, t(T0)).unwrap();
    let mut c = Campaign::load(vec![older.clone(), newer.clone()], ledger.clone(), &pilots).unwrap();
    let (events, sms, _) = c.dispatch(&phones, t("2026-11-11T09:00:00")).unwrap();
    assert!(sms.is_empty());
    assert_eq!(events[0].kind, Kind::Queued, "the newer case waits for the open question");
    ledger.extend(events);
    // The day's candidates: the older rename is offered, the newer one is gone.
    let day = NaiveDate::from_ymd_opt(2026, 11, 11).unwrap();
    let check = sdu::campaign::EventCheck {
        outcome: "offered".into(),
        case_id: Some("old".into()),
        iin: Some(P1.into()),
        permit_ids: older.permit_ids.clone(),
    };
    let checks = Checks {
        pilots: HashMap::from([("sanitary".into(), (day, HashMap::from([(older.event_id.clone(), check)])))]),
    };
    let mut clock = Clock::at(t("2026-11-11T09:00:00"));
    clock.checks.insert(day, checks);
    let done = c.advance(&[], &clock).unwrap();
    let kinds: Vec<(String, Kind, Option<String>)> =
        done.events.iter().map(|e| (e.case_id.clone().unwrap(), e.kind, e.reason.clone())).collect();
    assert_eq!(kinds, [("new".to_string(), Kind::Voided, Some("event_not_in_scope".to_string()))]);
    assert_eq!(c.cases["old"].state, State::AwaitingReply, "the older case goes on");
}

mod event_time {
    //! Issue 13: decisions follow when things happened, not when `advance` runs.

    use super::*;

    fn kinds(c: &Campaign) -> Vec<(Kind, Option<State>, NaiveDateTime)> {
        c.cases["c1"].history.iter().map(|e| (e.kind, e.state_after, e.at)).collect()
    }

    fn by_phone(text: &str, at: &str) -> Reply {
        Reply { message_id: None, phone: PHONE.into(), received_at: t(at), text: text.into(), source: None }
    }

    /// One advance a week late decides both windows at their deadlines: the second SMS
    /// stamped at the first deadline, the time-out at the second; a reply after it is late.
    #[test]
    fn a_late_advance_closes_each_window_at_its_deadline() {
        let mut c = texted();
        let after = by_phone("1", "2026-11-16T09:00:01");
        let done = c.advance(&[after], &Clock::at(t("2026-11-20T09:00:00"))).unwrap();
        let counts = &done.replies;
        // Its window closed before this run: the second SMS is not published, and the
        // ledger says so.
        assert!(done.outbox.is_empty());
        assert_eq!(done.unpublished, 1);
        let second = &c.cases["c1"].history[1];
        assert_eq!((second.send_no, second.due_by), (Some(2), Some(t(LAST))));
        assert_eq!(second.reason.as_deref(), Some("window_over_before_publication"));
        assert_eq!((counts.accept, counts.late), (0, 1));
        assert_eq!(
            kinds(&c),
            [
                (Kind::SmsSent, Some(State::AwaitingReply), t(T0)),
                (Kind::SmsSent, Some(State::AwaitingSecondReply), t(SECOND)),
                (Kind::TimedOut, Some(State::TimedOut), t(LAST)),
                (Kind::ReplyLate, None, t("2026-11-16T09:00:01")),
            ]
        );
    }

    const SECOND: &str = "2026-11-13T09:00:00";
    const LAST: &str = "2026-11-16T09:00:00";

    /// The same: a reply one second before the second deadline still decides, whenever the
    /// advance runs.
    #[test]
    fn a_reply_inside_the_second_window_counts_however_late_it_is_read() {
        let mut c = texted();
        let inside = by_phone("2", "2026-11-16T08:59:59");
        let (_, _, counts) = adv(&mut c, &[inside], t("2026-11-25T09:00:00"));
        assert_eq!(counts.decline, 1);
        assert_eq!(c.cases["c1"].state, State::Declined);
        assert_eq!(c.cases["c1"].history.last().unwrap().at, t("2026-11-16T08:59:59"));
    }

    /// A reply received in the first window but delivered after the second SMS went out is
    /// not lost: it decides, at its own time, and its latency counts from the SMS it answered.
    #[test]
    fn a_reply_delivered_late_but_received_in_time_decides() {
        let mut c = texted();
        adv(&mut c, &[], t(SECOND));
        assert_eq!(c.cases["c1"].state, State::AwaitingSecondReply);
        let in_time = by_phone("1", "2026-11-12T20:00:00");
        let (_, _, counts) = adv(&mut c, &[in_time], t("2026-11-14T09:00:00"));
        assert_eq!(counts.accept, 1);
        let history: Vec<&CaseEvent> = c.cases["c1"].history.iter().collect();
        let (hours, send_no) = sdu::report::metrics::decision_latency(&history).unwrap();
        assert_eq!((hours, send_no), (59.0, Some(1)), "from the first SMS, which it answered");
    }

    /// A reply quoting the message id of the SMS it answers is measured from that SMS.
    #[test]
    fn latency_counts_from_the_sms_quoted() {
        let mut c = texted();
        adv(&mut c, &[], t(SECOND));
        let first = c.cases["c1"].sms[0].message_id.clone();
        let quoting = Reply { message_id: Some(first), ..by_phone("1", "2026-11-14T10:00:00") };
        adv(&mut c, &[quoting], t("2026-11-15T09:00:00"));
        let history: Vec<&CaseEvent> = c.cases["c1"].history.iter().collect();
        assert_eq!(sdu::report::metrics::decision_latency(&history), Some((97.0, Some(1))));
    }

    /// Inputs known complete only up to `until`: no window closes after it, and replies
    /// received after it wait for a later advance (recorded then, not lost).
    #[test]
    fn nothing_is_decided_past_what_the_inputs_cover() {
        let mut c = texted();
        let before_deadline = by_phone("1", "2026-11-13T08:00:00");
        let done = c
            .advance(
                std::slice::from_ref(&before_deadline),
                &Clock { until: t("2026-11-13T06:00:00"), ..Clock::at(t(SECOND)) },
            )
            .unwrap();
        assert!(done.outbox.is_empty(), "the window is not closed while replies may still arrive");
        assert_eq!((done.replies.waiting, done.replies.accept), (1, 0));
        assert_eq!(c.cases["c1"].state, State::AwaitingReply);
        let done = c
            .advance(
                &[before_deadline],
                &Clock { until: t("2026-11-14T06:00:00"), ..Clock::at(t("2026-11-14T09:00:00")) },
            )
            .unwrap();
        assert_eq!(done.replies.accept, 1, "decided in its window, before the deadline");
        assert!(done.outbox.is_empty(), "no second SMS");
        assert_eq!(c.cases["c1"].state, State::Accepted);
    }

    #[test]
    fn the_next_send_time() {
        use sdu::campaign::next_send_slot;
        assert_eq!(next_send_slot(t("2026-11-10T09:00:00")), t("2026-11-10T09:00:00"));
        assert_eq!(next_send_slot(t("2026-11-10T08:59:59")), t("2026-11-10T09:00:00"));
        assert_eq!(next_send_slot(t("2026-11-10T09:00:01")), t("2026-11-11T09:00:00"));
    }
}

mod schedules {
    //! Property: the same offers and reply files give the same decisions whatever the
    //! advances' schedule — daily at 09:00, or at random hours, or rarely — when the inputs
    //! are complete up to each run. Requests are made by the run that sees the acceptance, so
    //! only what they request is compared, not when.

    use super::*;
    use proptest::prelude::*;

    type Decisions = Vec<(String, String, Option<String>, NaiveDateTime, Option<u8>, Option<String>)>;

    fn decisions(c: &Campaign) -> Decisions {
        let mut out: Decisions = c
            .cases
            .values()
            .flat_map(|k| {
                k.history.iter().filter(|e| e.kind != Kind::Queued).map(|e| {
                    let at = if e.kind == Kind::ReissueRequested { NaiveDateTime::MIN } else { e.at };
                    let detail = if e.kind == Kind::ReissueRequested {
                        Some(e.permit_ids.join(","))
                    } else {
                        e.reply_id.clone()
                    };
                    (
                        k.offer.case_id.clone(),
                        e.kind.code().to_string(),
                        e.state_after.map(|s| s.code().to_string()),
                        at,
                        e.send_no,
                        detail,
                    )
                })
            })
            .collect();
        out.sort();
        out
    }

    /// Dispatch every morning at 09:00 (the day's offers), advances at `runs`. Every person
    /// has two numbers (the second is tried when an SMS is not delivered).
    fn run(offers: &[Offer], replies: &[Reply], reports: &[Delivery], runs: &[NaiveDateTime]) -> Campaign {
        let pilots = load_pilots(None).unwrap();
        let phones: HashMap<String, Vec<String>> = (0..4)
            .map(|p| (format!("person-{p}"), vec![format!("+7701000000{p}"), format!("+7702000000{p}")]))
            .collect();
        let mut c = Campaign::load(offers.to_vec(), vec![], &pilots).unwrap();
        let mut runs = runs.iter().peekable();
        let mut since = None;
        for d in 0..=40 {
            let morning = t(T0) + Duration::days(d);
            c.dispatch(&phones, morning).unwrap();
            while let Some(at) = runs.next_if(|at| **at < morning + Duration::days(1)) {
                let inbox = Inbox { replies, deliveries: reports, ..Inbox::default() };
                c.advance_with(inbox, &Clock { since, ..Clock::at(*at) }).unwrap();
                since = Some(*at);
            }
        }
        c
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]
        #[test]
        fn any_schedule_gives_the_same_decisions(
            people in prop::collection::vec((0..4u8, 0..3u8, prop::collection::btree_set(0..4u8, 1..3), 0..5u8), 1..7),
            rs in prop::collection::vec((0..4u8, 0..400u32, prop::sample::select(vec!["1", "2", "?"])), 0..30),
            hours in prop::collection::btree_set(1..600u32, 1..40),
            failures in prop::collection::vec((0..7usize, 1..3u8, any::<bool>(), 0..3u8, 0..400u32), 0..12),
        ) {
            let offers: Vec<Offer> = people.iter().enumerate().map(|(k, (p, event, permits, day))| {
                let mut o = offer(&format!("c{k}"), "sanitary", &format!("person-{p}"));
                o.event_id = format!("E{event}");
                o.permit_ids = permits.iter().map(|x| format!("P{x}")).collect();
                o.permit_services = permits.iter().map(|_| "s".to_string()).collect();
                o.offered_on += Duration::days(i64::from(*day));
                o.changed_on = Some(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap() + Duration::days(k as i64));
                o
            }).collect();
            let replies: Vec<Reply> = rs.iter().map(|(p, h, text)| Reply {
                message_id: None,
                phone: format!("+7701000000{p}"),
                received_at: t(T0) + Duration::hours(i64::from(*h)) + Duration::minutes(7),
                text: text.to_string(),
        source: None,
    }).collect();
            // Delivery reports on the cases' SMS (to the first number, or sent again to the
            // second), some failed or expired; those on SMS never sent apply to nothing.
            let statuses = [DeliveryStatus::Delivered, DeliveryStatus::Failed, DeliveryStatus::Expired];
            let reports: Vec<Delivery> = failures.iter().filter(|f| f.0 < people.len()).map(|(k, send_no, again, status, h)| {
                let case = format!("c{k}");
                let message_id = if *again {
                    short_hash(&format!("{case}|sms|{send_no}|+7702000000{}", people[*k].0))
                } else {
                    message_id(&case, *send_no)
                };
                Delivery {
                    message_id,
                    status: statuses[usize::from(*status)],
                    reported_at: t(T0) + Duration::hours(i64::from(*h)) + Duration::minutes(3),
                    source: None,
                }
            }).collect();
            let end = t(T0) + Duration::days(40);
            let daily: Vec<NaiveDateTime> = (1..=40).map(|d| t(T0) + Duration::days(d)).collect();
            let mut random: Vec<NaiveDateTime> = hours.iter().map(|h| t(T0) + Duration::hours(i64::from(*h))).collect();
            random.push(end);
            let reference = decisions(&run(&offers, &replies, &reports, &daily));
            prop_assert_eq!(&decisions(&run(&offers, &replies, &reports, &random)), &reference, "random hours");
            prop_assert_eq!(&decisions(&run(&offers, &replies, &reports, &[end])), &reference, "one run at the end");
        }
    }
}

mod delivery {
    //! Issue 13: delivery reports and e-license's answers, by the time they happened.

    use super::*;
    use sdu::campaign::{request_id, Confirmation};

    const OTHER: &str = "+77071234567";

    /// One sanitary case texted at T0 to the first of `numbers`.
    fn texted_to(numbers: &[&str]) -> Campaign {
        let mut c =
            Campaign::load(vec![offer("c1", "sanitary", P1)], vec![], &load_pilots(None).unwrap()).unwrap();
        let phones = HashMap::from([(P1.to_string(), numbers.iter().map(|n| n.to_string()).collect())]);
        c.dispatch(&phones, t(T0)).unwrap();
        c
    }

    fn report(c: &Campaign, k: usize, status: DeliveryStatus, at: &str) -> Delivery {
        Delivery {
            message_id: c.cases["c1"].sms[k].message_id.clone(),
            status,
            reported_at: t(at),
            source: None,
        }
    }

    fn advance(
        c: &mut Campaign,
        deliveries: &[Delivery],
        confirmations: &[Confirmation],
        at: &str,
    ) -> sdu::campaign::Advanced {
        let inbox = Inbox { deliveries, confirmations, ..Inbox::default() };
        c.advance_with(inbox, &Clock::at(t(at))).unwrap()
    }

    /// The case texted at T0, accepted an hour later, its request made at the next send time.
    fn requested() -> Campaign {
        let mut c = texted_to(&[PHONE]);
        let yes = Reply {
            message_id: None,
            phone: PHONE.into(),
            received_at: t("2026-11-10T10:00:00"),
            text: "1".into(),
            source: None,
        };
        let done = c.advance(&[yes], &Clock::at(t("2026-11-11T09:00:00"))).unwrap();
        assert_eq!(done.cases.requested, 1);
        c
    }

    /// e-license's answer to a request: the new permit's number, or why it refused.
    fn answer(request: &str, result: Result<&str, &str>, at: &str) -> Confirmation {
        let result = result.map(String::from).map_err(String::from);
        Confirmation { request_id: request.to_string(), result, answered_at: t(at), source: None }
    }

    fn kinds(c: &Campaign) -> Vec<(Kind, Option<State>, Option<String>, NaiveDateTime)> {
        c.cases["c1"].history.iter().map(|e| (e.kind, e.state_after, e.reason.clone(), e.at)).collect()
    }

    /// A failed first SMS goes again to the next number at the next send time, with a fresh
    /// window; when that fails too and no number is left, the case is undeliverable at once.
    #[test]
    fn a_failed_sms_tries_the_next_number_then_closes_undeliverable() {
        let mut c = texted_to(&[PHONE, OTHER]);
        assert_eq!(c.cases["c1"].fallback, [OTHER]);
        let failed = report(&c, 0, DeliveryStatus::Failed, "2026-11-10T09:01:00");
        let done = advance(&mut c, std::slice::from_ref(&failed), &[], "2026-11-11T09:00:00");
        assert_eq!(done.outbox.len(), 1);
        let again = &done.outbox[0];
        assert_eq!((again.phone.as_str(), again.send_no), (OTHER, 1));
        assert_eq!((again.sent_at, again.due_by), (t("2026-11-11T09:00:00"), t("2026-11-14T09:00:00")));
        assert_ne!(again.message_id, c.cases["c1"].sms[0].message_id, "its own message id");
        assert_eq!((done.deliveries.failed, done.deliveries.retried), (1, 1));
        // The same report again, in a later file: recorded once.
        let expired = report(&c, 1, DeliveryStatus::Expired, "2026-11-12T09:00:00");
        let done = advance(&mut c, &[failed, expired], &[], "2026-11-12T10:00:00");
        assert_eq!(
            (done.deliveries.already_recorded, done.deliveries.expired, done.deliveries.undeliverable),
            (1, 1, 1)
        );
        assert_eq!(
            kinds(&c),
            [
                (Kind::SmsSent, Some(State::AwaitingReply), None, t(T0)),
                (Kind::SmsFailed, None, Some("failed".into()), t("2026-11-10T09:01:00")),
                (Kind::SmsSent, Some(State::AwaitingReply), None, t("2026-11-11T09:00:00")),
                (Kind::SmsFailed, None, Some("expired".into()), t("2026-11-12T09:00:00")),
                (
                    Kind::Undeliverable,
                    Some(State::Undeliverable),
                    Some("expired".into()),
                    t("2026-11-12T09:00:00")
                ),
            ]
        );
        // Nothing more happens to it: no second SMS, no time-out.
        let done = advance(&mut c, &[], &[], "2026-11-20T09:00:00");
        assert!(done.events.is_empty() && done.outbox.is_empty());
    }

    /// A failure reported within a day of the deadline: the second SMS, at the deadline, goes
    /// to the next number, not to the one that failed.
    #[test]
    fn the_second_sms_is_not_sent_to_a_number_that_failed() {
        let mut c = texted_to(&[PHONE, OTHER]);
        let failed = report(&c, 0, DeliveryStatus::Failed, "2026-11-12T20:00:00");
        let done = advance(&mut c, &[failed], &[], "2026-11-13T09:00:00");
        assert_eq!(done.outbox.len(), 1);
        assert_eq!((done.outbox[0].send_no, done.outbox[0].phone.as_str()), (2, OTHER));
        assert!(c.cases["c1"].fallback.is_empty());
    }

    /// A re-issue after a refusal is recorded (the permit is written back); at one instant a
    /// re-issue wins whatever the rows' order.
    #[test]
    fn a_reissue_after_a_refusal_counts() {
        let mut c = requested();
        let id = |p: &str| request_id("c1", p);
        let first = [
            answer(&id("c1-P1"), Err("holder_data_mismatch"), "2026-11-12T10:00:00"),
            answer(&id("c1-P2"), Err("permit_suspended"), "2026-11-12T10:00:00"),
            answer(&id("c1-P2"), Ok("KZ99NEW0000002"), "2026-11-12T10:00:00"),
        ];
        let done = advance(&mut c, &[], &first, "2026-11-13T09:00:00");
        assert_eq!(
            (done.confirmations.reissued, done.confirmations.refused, done.confirmations.already_recorded),
            (1, 1, 1)
        );
        let later = [answer(&id("c1-P1"), Ok("KZ99NEW0000001"), "2026-11-14T10:00:00")];
        let done = advance(&mut c, &[], &later, "2026-11-15T09:00:00");
        assert_eq!(done.confirmations.reissued, 1);
        assert_eq!(done.events[0].new_permit_id.as_deref(), Some("KZ99NEW0000001"));
    }

    /// A failed SMS with no other number closes the case at the report, not three days later.
    #[test]
    fn without_another_number_a_failed_sms_closes_the_case_at_the_report() {
        let mut c = texted_to(&[PHONE]);
        let failed = report(&c, 0, DeliveryStatus::Failed, "2026-11-10T09:00:40");
        let done = advance(&mut c, &[failed], &[], "2026-11-17T09:00:00");
        assert!(done.outbox.is_empty(), "no second SMS to a number that failed");
        assert_eq!(c.cases["c1"].state, State::Undeliverable);
        assert_eq!(c.cases["c1"].history.last().unwrap().at, t("2026-11-10T09:00:40"));
    }

    /// A recipient reached by the first SMS whose second one fails keeps the window: the case
    /// times out at its deadline (it was asked), it is not undeliverable.
    #[test]
    fn a_recipient_reached_before_times_out_as_usual() {
        let mut c = texted_to(&[PHONE]);
        let delivered = report(&c, 0, DeliveryStatus::Delivered, "2026-11-10T09:00:05");
        advance(&mut c, &[delivered], &[], "2026-11-13T09:00:00");
        assert_eq!(c.cases["c1"].state, State::AwaitingSecondReply);
        let failed = report(&c, 1, DeliveryStatus::Failed, "2026-11-13T09:00:30");
        advance(&mut c, &[failed], &[], "2026-11-17T09:00:00");
        assert_eq!(c.cases["c1"].state, State::TimedOut);
    }

    /// Reports about no SMS of ours, or timed before their SMS, apply to nothing; a reply
    /// after a failed SMS still counts (the report was wrong), and no SMS goes again then.
    #[test]
    fn reports_that_apply_to_nothing_are_counted_and_kept_apart() {
        let mut c = texted_to(&[PHONE, OTHER]);
        let unknown = Delivery {
            message_id: "nosuch".into(),
            status: DeliveryStatus::Failed,
            reported_at: t(T0),
            source: None,
        };
        let early = report(&c, 0, DeliveryStatus::Failed, "2026-11-10T08:59:00");
        let done = advance(&mut c, &[unknown, early], &[], "2026-11-10T12:00:00");
        assert_eq!(done.deliveries.unknown, 2);
        let reasons: Vec<&str> = c.unknown_now.iter().map(|u| u.2).collect();
        assert_eq!(reasons, ["reported_before_the_sms", "unknown_message_id"]);
        assert!(done.events.is_empty(), "nothing recorded in the ledger");
        let failed = report(&c, 0, DeliveryStatus::Failed, "2026-11-10T12:30:00");
        let answer = Reply {
            message_id: None,
            phone: PHONE.into(),
            received_at: t("2026-11-10T14:00:00"),
            text: "1".into(),
            source: None,
        };
        let inbox = Inbox { replies: &[answer], deliveries: &[failed], ..Inbox::default() };
        let done = c.advance_with(inbox, &Clock::at(t("2026-11-11T09:00:00"))).unwrap();
        assert_eq!(c.cases["c1"].state, State::Accepted);
        assert!(done.outbox.is_empty(), "a case decided before the send time is not texted again");
    }

    /// e-license's answers: recorded once on the request's case, with the new permit's number
    /// or the refusal; an answer to no request, or before it, applies to nothing.
    #[test]
    fn confirmations_record_the_reissued_permits() {
        let mut c = requested();
        let (p1, p2) = ("c1-P1", "c1-P2");
        let answers = [
            answer(&request_id("c1", p1), Ok("KZ99NEW0000001"), "2026-11-12T11:00:00"),
            answer(&request_id("c1", p2), Err("permit_suspended"), "2026-11-12T12:00:00"),
            answer(&request_id("c1", p1), Ok("KZ99NEW0000002"), "2026-11-12T13:00:00"),
            answer("nosuch", Ok("X"), "2026-11-12T13:00:00"),
            answer(&request_id("c1", p2), Ok("X"), "2026-11-11T08:00:00"),
            answer(&request_id("c1", p1), Ok("X"), "2026-11-20T08:00:00"),
        ];
        let done = advance(&mut c, &[], &answers, "2026-11-13T09:00:00");
        let k = &done.confirmations;
        assert_eq!(
            (k.received, k.reissued, k.refused, k.already_recorded, k.unknown, k.not_yet_received),
            (6, 1, 1, 1, 2, 1)
        );
        type Answer = (Kind, Vec<String>, Option<String>, Option<String>);
        let rows: Vec<Answer> = done
            .events
            .iter()
            .map(|e| (e.kind, e.permit_ids.clone(), e.new_permit_id.clone(), e.reason.clone()))
            .collect();
        assert_eq!(
            rows,
            [
                (Kind::PermitReissued, vec![p1.to_string()], Some("KZ99NEW0000001".into()), None),
                (Kind::ReissueRefused, vec![p2.to_string()], None, Some("permit_suspended".into())),
            ]
        );
        // The answer timed before the request went out (08:00 < 09:00) applies to nothing.
        let reasons: Vec<&str> = c.unknown_now.iter().map(|u| u.2).collect();
        assert_eq!(reasons, ["answered_before_the_request", "unknown_request_id"]);
    }
}
