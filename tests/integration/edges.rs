//! Issue 12: the campaign at its edges, through the binary, day by day on hand-built
//! registries (`sdu run` each morning with the portal's replies): an organization renamed
//! twice, a head replaced after the first SMS, a head dead between the SMS and the reply, a
//! permit re-issued the ordinary way meanwhile, one head of three organizations answering
//! 1, 2 and nothing, and one person with cases in two pilots. Every ledger row of every case
//! is checked, and every request. On the last morning the portal's delivery reports and
//! e-license's answers come too (issue 13): the SDU write-back follows the answers.

use crate::candidates::{bin, iin, World};
use crate::common::*;
use chrono::{Duration, NaiveDate, NaiveDateTime};
use polars::prelude::*;
use sdu::campaign::state::State;
use sdu::campaign::{log, message_id, request_id, Campaign, Kind};
use sdu::config::load_pilots;
use sdu::pipeline::candidates::case_id;
use sdu::synth::frame::{almaty_at, date_col, datetime_col, str_col};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const ECO: &str = "eco-permit-cat1";
const SOFT: &str = "trusted-sw-register";

fn phone(k: u32) -> String {
    format!("+7701{k:07}")
}

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
}

/// The world before and after a permit of organization 4 was re-issued the ordinary way.
fn worlds() -> (World, World) {
    let mut w = World::default();
    // 1: renamed twice, both renames in scope on the first day.
    w.org_with(1, "2025-05-20", ECO);
    w.renames.push(("RN001b".into(), bin(1), "2025-05-26", sdu_test_recorded("2025-05-27")));
    // 2: a new first head from the second day.
    w.org_with(2, "2025-05-20", ECO);
    w.heads[1].4 = Some("2025-06-03");
    w.heads.push((bin(2), iin(20), "first_head", "2025-06-03", None));
    w.people.push(crate::candidates::Person { iin: iin(20), ..Default::default() });
    // 3: the head dies the day after the first SMS.
    w.org_with(3, "2025-05-20", ECO);
    w.person(&iin(3)).death = Some("2025-06-03");
    let registered = almaty_at(crate::candidates::d("2025-06-03"), 18 * 3600);
    w.acts.push(("D3".into(), iin(3), "death", "2025-06-03", registered, None));
    // 4: its permit is revoked and re-issued the ordinary way (the second world).
    w.org_with(4, "2025-05-20", ECO);
    // 5, 6, 7: one head of three organizations, renamed in that order.
    for (k, day) in [(5, "2025-05-10"), (6, "2025-05-11"), (7, "2025-05-12")] {
        w.org_with(k, day, ECO);
    }
    for k in [6, 7] {
        w.heads.iter_mut().find(|h| h.0 == bin(k)).unwrap().1 = iin(5);
    }
    // 8 (ecology) and 9 (trusted software): one head, cases in two pilots.
    w.org_with(8, "2025-05-15", ECO);
    w.org_with(9, "2025-05-16", SOFT);
    w.heads.iter_mut().find(|h| h.0 == bin(9)).unwrap().1 = iin(8);
    for k in [1, 2, 20, 3, 4, 5, 8] {
        w.phones.push((iin(k), phone(k)));
    }
    let mut later = w.clone();
    let p4 = later.permits.iter_mut().find(|p| p.2.as_deref() == Some(bin(4).as_str())).unwrap();
    p4.6 = "revoked";
    later.permits.push(("P004-new".into(), ECO, Some(bin(4)), None, "2025-06-02", None, "active"));
    (w, later)
}

/// A timestamp in µs for "recorded the morning of `day`" (09:00 Almaty).
fn sdu_test_recorded(day: &str) -> i64 {
    almaty_at(crate::candidates::d(day), 9 * 3600)
}

/// The portal's replies: bare digits by phone (no message id), and three that quote a
/// message id: one sent to another phone, one received before its SMS went out, and one to
/// a case already decided.
fn replies(dir: &Path) {
    let eco = |event: &str, who: u32| case_id("ecology", event, &iin(who));
    let quoted = [
        (8, "2025-06-02T13:00", "1", message_id(&eco("RN005", 5), 1)),
        (1, "2025-06-02T08:00", "1", message_id(&eco("RN001b", 1), 1)),
        (1, "2025-06-05T12:00", "2", message_id(&eco("RN001b", 1), 1)),
    ];
    let rows = [
        (1, "2025-06-02T12:00", "1"),
        (2, "2025-06-03T08:00", "1"),
        (20, "2025-06-03T12:00", "1"),
        (3, "2025-06-02T20:00", "1"),
        (4, "2025-06-02T21:00", "1"),
        (5, "2025-06-02T10:00", "1"),
        (5, "2025-06-03T10:00", "2"),
        (8, "2025-06-02T11:00", "1"),
        (8, "2025-06-03T11:00", "2"),
    ];
    let rows = rows
        .iter()
        .map(|(p, at, text)| (*p, *at, *text, None))
        .chain(quoted.map(|(p, at, text, m)| (p, at, text, Some(m))));
    let rows: Vec<_> = rows.collect();
    let mut df = df!(
        "message_id" => rows.iter().map(|r| r.3.clone()).collect::<Vec<_>>(),
        "phone" => rows.iter().map(|r| phone(r.0)).collect::<Vec<_>>(),
        "received_at" => rows.iter().map(|r| format!("{}:00", r.1)).collect::<Vec<_>>(),
        "text" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
    )
    .unwrap();
    sdu::io::write_parquet(&mut df, &dir.join("replies.parquet")).unwrap();
    // The portal states that the file holds every reply of the period.
    sdu::jobs::simulate::write_complete_until(&dir.join("replies.parquet"), t("2025-06-12T09:00")).unwrap();
}

/// The same days replayed by one `backfill` over a folder of snapshots by date and a folder
/// of the portal's and e-license's files by day (the names the daily run takes) give the same
/// ledger, event for event.
fn the_same_days_as_a_backfill(dir: &Path, out: &Path) {
    let copy = |from: &Path, to: &Path| {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    };
    for (date, world) in [(day(0), "w1"), (day(1), "w2")] {
        for f in files(&dir.join(world)) {
            copy(&f, &dir.join("snapshots").join(date.to_string()).join(f.file_name().unwrap()));
        }
    }
    let portal = dir.join("portal");
    let with_sidecar = |from: &str, to: String| {
        let to = portal.join(to);
        copy(&dir.join(from), &to);
        let sidecar = sdu::campaign::inbox::manifest_path(&dir.join(from));
        if sidecar.is_file() {
            copy(&sidecar, &sdu::campaign::inbox::manifest_path(&to));
        }
    };
    for k in 0..DAYS {
        with_sidecar("replies.parquet", format!("sms_replies-{}.parquet", day(k)));
    }
    with_sidecar("delivery.parquet", format!("sms_delivery-{}.parquet", day(DAYS - 1)));
    with_sidecar("confirmations.parquet", format!("reissue_confirmations-{}.parquet", day(DAYS - 1)));
    let (from, to) = (day(0).to_string(), day(DAYS - 1).to_string());
    let args = [
        "backfill",
        "--snapshot",
        "snapshots",
        "--from",
        &from,
        "--to",
        &to,
        "--out",
        "out2",
        "--portal",
        "portal",
    ];
    let o = sdu(&args, dir);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(!stderr(&o).contains("one snapshot for every day"), "{}", stderr(&o));
    let (run, backfill) = (log::read_all(out).unwrap(), log::read_all(&dir.join("out2")).unwrap());
    assert_eq!(run.len(), backfill.len());
    assert!(run == backfill, "the backfill's ledger differs from the daily runs'");
    // Run again: nothing changes (each snapshot is compared with the runs before its day,
    // not with later days that read a later snapshot).
    let o = sdu(&args, dir);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(log::read_all(&dir.join("out2")).unwrap() == backfill);
    // A portal folder with no file of any day of the period: refused, exit 2.
    std::fs::create_dir_all(dir.join("empty-portal")).unwrap();
    std::fs::write(dir.join("empty-portal/replies.parquet"), b"").unwrap();
    let none = [
        "backfill",
        "--snapshot",
        "snapshots",
        "--from",
        &from,
        "--to",
        &to,
        "--out",
        "out5",
        "--portal",
        "empty-portal",
    ];
    let o = sdu(&none, dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a file of the portal by day"), "{}", stderr(&o));
    // One snapshot for every day: said.
    let one = ["backfill", "--snapshot", "w2", "--from", &from, "--to", &from, "--out", "out3"];
    let o = sdu(&one, dir);
    assert!(o.status.success() && stderr(&o).contains("one snapshot for every day"), "{}", stderr(&o));
    // A first snapshot after --from: refused, exit 2.
    let late =
        ["backfill", "--snapshot", "snapshots", "--from", "2025-06-01", "--to", &from, "--out", "out4"];
    assert_eq!(sdu(&late, dir).status.code(), Some(2));
}

/// The portal's delivery reports, given on the last morning only (a late file): the first
/// SMS of one case delivered, a report about no SMS of ours, and a row with a status the
/// contract does not know (quarantined).
fn deliveries(dir: &Path) {
    let first = message_id(&case_id("ecology", "RN001b", &iin(1)), 1);
    let mut df = df!(
        "message_id" => [first.as_str(), "not-ours", first.as_str()],
        "status" => ["DELIVERED", "failed", "read"],
        "reported_at" => ["2025-06-02T09:01:00+05:00", "2025-06-02T09:02:00Z", "2025-06-02T09:03:00"],
    )
    .unwrap();
    let file = dir.join("delivery.parquet");
    sdu::io::write_parquet(&mut df, &file).unwrap();
    sdu::jobs::simulate::write_complete_until(&file, t("2025-06-12T09:00")).unwrap();
}

/// e-license's answers to the requests made so far: the first permits re-issued, the last
/// refused; one answer twice, one to a request of nobody's.
fn confirmations(dir: &Path, out: &Path) -> Vec<(String, String)> {
    let requests = all(out, "elicense_requests.parquet");
    let mut pairs: Vec<(String, String)> =
        strings(&requests, "case_id").into_iter().zip(strings(&requests, "permit_id")).collect();
    pairs.sort();
    let mut ids: Vec<String> = pairs.iter().map(|(c, p)| request_id(c, p)).collect();
    let n = ids.len();
    let mut status = vec!["reissued"; n];
    status[n - 1] = "refused";
    let mut new: Vec<Option<String>> = (0..n).map(|k| Some(format!("KZ00NEW{k:07}"))).collect();
    new[n - 1] = None;
    ids.extend(["nobodys".to_string(), ids[0].clone()]);
    status.extend(["reissued", "reissued"]);
    new.extend([Some("KZ00NEW9999998".into()), Some("KZ00NEW9999999".into())]);
    let mut reason: Vec<Option<&str>> = vec![None; n + 2];
    reason[n - 1] = Some("holder_data_mismatch");
    let mut df = df!(
        "request_id" => ids,
        "status" => status,
        "new_permit_id" => new,
        "reason" => reason,
        "answered_at" => vec!["2025-06-09T15:00:00"; n + 2],
    )
    .unwrap();
    sdu::io::write_parquet(&mut df, &dir.join("confirmations.parquet")).unwrap();
    pairs
}

const FIRST: &str = "2025-06-02";
const DAYS: i64 = 9;

fn day(k: i64) -> NaiveDate {
    NaiveDate::parse_from_str(FIRST, "%Y-%m-%d").unwrap() + Duration::days(k)
}

/// (kind, state after, reason, at) of every ledger row of a case.
type Rows = Vec<(Kind, Option<State>, Option<String>, NaiveDateTime)>;

fn rows(c: &Campaign, case: &str) -> Rows {
    let case = c.cases.get(case).unwrap_or_else(|| panic!("no case {case}"));
    // e-license's answers are checked apart (which request gets which answer is by id).
    let answer = |k: Kind| matches!(k, Kind::PermitReissued | Kind::ReissueRefused);
    case.history
        .iter()
        .filter(|e| !answer(e.kind))
        .map(|e| (e.kind, e.state_after, e.reason.clone(), e.at))
        .collect()
}

fn row(
    kind: Kind,
    state: Option<State>,
    reason: Option<&str>,
    at: &str,
) -> (Kind, Option<State>, Option<String>, NaiveDateTime) {
    (kind, state, reason.map(String::from), t(at))
}

/// Every published `name` under `root`, as one frame.
fn all(root: &Path, name: &str) -> DataFrame {
    let mut frames = Vec::new();
    for f in files(root).into_iter().filter(|p| p.file_name().is_some_and(|n| n == name)) {
        frames.push(
            LazyFrame::scan_parquet(PlRefPath::try_from_path(&f).unwrap(), Default::default()).unwrap(),
        );
    }
    concat(frames, UnionArgs::default()).unwrap().collect().unwrap()
}

fn strings(df: &DataFrame, column: &str) -> Vec<String> {
    df.column(column).unwrap().str().unwrap().iter().map(|v| v.unwrap_or("").to_string()).collect()
}

/// Each morning's open cases and new requests, against the same morning's candidates: a case
/// still open, or requested, is one the day's outcomes offer to its recipient.
pub fn ledger_agrees_with_the_outcomes(out: &Path, c: &Campaign) {
    for (date, day_dir) in sdu::layout::days(out).unwrap() {
        let at = date.and_hms_opt(9, 0, 0).unwrap();
        let mut offered: BTreeSet<String> = BTreeSet::new();
        for pilot in sdu::layout::visible_entries(&day_dir).unwrap() {
            let id = pilot.file_name().unwrap().to_string_lossy().into_owned();
            let Some(f) = sdu::layout::outcomes_file(out, date, &id) else { continue };
            let df = LazyFrame::scan_parquet(PlRefPath::try_from_path(&f).unwrap(), Default::default())
                .unwrap()
                .filter(col("outcome").eq(lit("offered")))
                .collect()
                .unwrap();
            offered.extend(strings(&df, "case_id"));
        }
        for case in c.cases.values().filter(|k| k.offer.offered_on <= date) {
            let history: Vec<_> = case.history.iter().filter(|e| e.at <= at).collect();
            let state = history.iter().rev().find_map(|e| e.state_after).unwrap_or(State::Offered);
            let requested_now = history.iter().any(|e| e.kind == Kind::ReissueRequested && e.at == at);
            if state.is_open() || requested_now {
                assert!(
                    offered.contains(&case.offer.case_id),
                    "{date}: case {} is {} but the day's candidates do not offer it",
                    case.offer.case_id,
                    state.code()
                );
            }
        }
    }
}

#[test]
fn one_permit_one_request_one_phone_one_question() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (before, after) = worlds();
    write_snapshot(&dir.join("w1"), &before.tables());
    write_snapshot(&dir.join("w2"), &after.tables());
    replies(dir);
    deliveries(dir);
    let out = dir.join("out");
    let mut answered = vec![];
    for k in 0..DAYS {
        let snapshot = if k == 0 { "w1" } else { "w2" };
        let last = k == DAYS - 1;
        if last {
            answered = confirmations(dir, &out);
        }
        let portal: &[&str] = if last {
            &["--delivery", "delivery.parquet", "--confirmations", "confirmations.parquet"]
        } else {
            &[]
        };
        let o = sdu(
            &["run", "--snapshot", snapshot, "--as-of", &day(k).to_string(), "--out", "out", "--no-report"]
                .into_iter()
                .chain(["--replies", "replies.parquet"])
                .chain(portal.iter().copied())
                .collect::<Vec<_>>(),
            dir,
        );
        assert!(o.status.success(), "day {k}: {}{}", stdout(&o), stderr(&o));
        if last {
            let said = stdout(&o);
            assert!(
                said.contains("delivery: 1 delivered, 0 failed, 0 expired, 0 sent again to another number, 0 undeliverable, 1 unknown")
                    && said.contains("e-license: 3 re-issued, 1 refused, 1 unknown"),
                "{said}"
            );
        }
    }
    let pilots = load_pilots(None).unwrap();
    let offers = sdu::ledger::to_offers(&sdu::ledger::offers_until(&out, NaiveDate::MAX).unwrap()).unwrap();
    let c = Campaign::load(offers, log::read_all(&out).unwrap(), &pilots).unwrap();
    let eco = |event: &str, who: u32| case_id("ecology", event, &iin(who));
    use Kind::*;
    use State::*;

    // Renamed twice: the older rename's case is superseded before any SMS.
    assert_eq!(
        rows(&c, &eco("RN001", 1)),
        [row(Kind::Superseded, Some(State::Superseded), Some("renamed_again"), "2025-06-02T09:00")]
    );
    assert_eq!(c.cases[&eco("RN001", 1)].history[0].other_case_id, Some(eco("RN001b", 1)));
    assert_eq!(
        rows(&c, &eco("RN001b", 1)),
        [
            row(SmsSent, Some(AwaitingReply), None, "2025-06-02T09:00"),
            row(ReplyAccept, Some(Accepted), None, "2025-06-02T12:00"),
            row(ReissueRequested, None, None, "2025-06-03T09:00"),
            row(ReplyLate, None, None, "2025-06-05T12:00"),
            // Reported on the last morning, recorded at the time it happened.
            row(SmsDelivered, None, None, "2025-06-02T09:01"),
        ]
    );
    // A quoted message id sent to another phone, and one quoted before its SMS went out:
    // neither decides anything.
    let unmatched = all(&out, "replies_unmatched.parquet");
    let mut reasons = strings(&unmatched, "reason");
    reasons.sort();
    assert_eq!(reasons, ["message_id_of_another_number", "received_before_the_sms"]);
    // A new head: the old head's "1" comes before the takeover and requests nothing.
    assert_eq!(
        rows(&c, &eco("RN002", 2)),
        [
            row(SmsSent, Some(AwaitingReply), None, "2025-06-02T09:00"),
            row(ReplyAccept, Some(Accepted), None, "2025-06-03T08:00"),
            row(Kind::Superseded, Some(State::Superseded), Some("head_replaced"), "2025-06-03T09:00"),
        ]
    );
    assert_eq!(
        rows(&c, &eco("RN002", 20)),
        [
            row(Kind::Queued, Some(State::Queued), None, "2025-06-03T09:00"),
            row(SmsSent, Some(AwaitingReply), None, "2025-06-03T09:00"),
            row(ReplyAccept, Some(Accepted), None, "2025-06-03T12:00"),
            row(ReissueRequested, None, None, "2025-06-04T09:00"),
        ]
    );
    // Dead after the SMS; a permit re-issued the ordinary way: accepted, then voided.
    assert_eq!(
        rows(&c, &eco("RN003", 3)),
        [
            row(SmsSent, Some(AwaitingReply), None, "2025-06-02T09:00"),
            row(ReplyAccept, Some(Accepted), None, "2025-06-02T20:00"),
            row(Kind::Voided, Some(State::Voided), Some("recipient_dead_or_missing"), "2025-06-03T09:00"),
        ]
    );
    assert_eq!(
        rows(&c, &eco("RN004", 4)),
        [
            row(SmsSent, Some(AwaitingReply), None, "2025-06-02T09:00"),
            row(ReplyAccept, Some(Accepted), None, "2025-06-02T21:00"),
            row(Kind::Voided, Some(State::Voided), Some("no_pilot_permit"), "2025-06-03T09:00"),
        ]
    );
    // One head, three organizations, one question at a time: 1, 2, silence.
    assert_eq!(
        rows(&c, &eco("RN005", 5)),
        [
            row(SmsSent, Some(AwaitingReply), None, "2025-06-02T09:00"),
            row(ReplyAccept, Some(Accepted), None, "2025-06-02T10:00"),
            row(ReissueRequested, None, None, "2025-06-03T09:00"),
        ]
    );
    assert_eq!(
        rows(&c, &eco("RN006", 5)),
        [
            row(Kind::Queued, Some(State::Queued), None, "2025-06-02T09:00"),
            row(SmsSent, Some(AwaitingReply), None, "2025-06-03T09:00"),
            row(ReplyDecline, Some(Declined), None, "2025-06-03T10:00"),
        ]
    );
    assert_eq!(
        rows(&c, &eco("RN007", 5)),
        [
            row(Kind::Queued, Some(State::Queued), None, "2025-06-02T09:00"),
            row(SmsSent, Some(AwaitingReply), None, "2025-06-04T09:00"),
            row(SmsSent, Some(AwaitingSecondReply), None, "2025-06-07T09:00"),
            row(Kind::TimedOut, Some(State::TimedOut), None, "2025-06-10T09:00"),
        ]
    );
    // Two pilots, one phone: ecology's question first (the earlier rename).
    assert_eq!(
        rows(&c, &eco("RN008", 8)),
        [
            row(SmsSent, Some(AwaitingReply), None, "2025-06-02T09:00"),
            row(ReplyAccept, Some(Accepted), None, "2025-06-02T11:00"),
            row(ReissueRequested, None, None, "2025-06-03T09:00"),
        ]
    );
    assert_eq!(
        rows(&c, &case_id("trusted-software", "RN009", &iin(8))),
        [
            row(Kind::Queued, Some(State::Queued), None, "2025-06-02T09:00"),
            row(SmsSent, Some(AwaitingReply), None, "2025-06-03T09:00"),
            row(ReplyDecline, Some(StandardProcedure), None, "2025-06-03T11:00"),
        ]
    );
    assert_eq!(c.cases.len(), 11, "every case is checked above");

    // Requests: one per permit, for the cases that hold.
    let requests = all(&out, "elicense_requests.parquet");
    let mut cases = strings(&requests, "case_id");
    cases.sort();
    let mut expected = vec![eco("RN001b", 1), eco("RN002", 20), eco("RN005", 5), eco("RN008", 8)];
    expected.sort();
    assert_eq!(cases, expected);
    let permits: BTreeSet<String> = strings(&requests, "permit_id").into_iter().collect();
    assert_eq!(permits.len(), requests.height(), "no permit requested twice");
    // The SDU write-back: only the permits e-license re-issued, with their new numbers.
    let writeback = all(&out, "sdu_writeback.parquet");
    let mut written: Vec<(String, String)> =
        strings(&writeback, "permit_id").into_iter().zip(strings(&writeback, "new_permit_id")).collect();
    written.sort();
    let expected: Vec<(String, String)> =
        answered[..3].iter().enumerate().map(|(k, (_, p))| (p.clone(), format!("KZ00NEW{k:07}"))).collect();
    let expected: Vec<(String, String)> = expected.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    assert_eq!(written, expected);
    for (k, (case, permit)) in answered.iter().enumerate() {
        let e = c.cases[case]
            .history
            .iter()
            .find(|e| e.permit_ids == [permit.clone()] && e.kind != ReissueRequested);
        let e = e.unwrap_or_else(|| panic!("no answer recorded for {case} {permit}"));
        assert_eq!(e.at, t("2025-06-09T15:00"));
        if k < 3 {
            assert_eq!((e.kind, e.new_permit_id.clone()), (PermitReissued, Some(format!("KZ00NEW{k:07}"))));
        } else {
            assert_eq!((e.kind, e.reason.as_deref()), (ReissueRefused, Some("holder_data_mismatch")));
        }
    }
    let quarantine = all(&out, "replies_quarantine.parquet");
    assert_eq!(
        strings(&quarantine, "reason"),
        ["status (a text of 4 characters: letters) is not delivered, failed or expired"]
    );
    let unknown = all(&out, "reports_unmatched.parquet");
    assert_eq!(strings(&unknown, "reason"), ["unknown_message_id", "unknown_request_id"]);

    // Each phone had one question at a time: no SMS 1 while another case's window is open.
    let outbox = all(&out, "sms_outbox.parquet");
    let by_phone = outbox
        .column("phone")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .filter(|p| *p == Some(phone(1).as_str()))
        .count();
    assert_eq!(by_phone, 1, "the organization renamed twice gets one SMS");
    for case in c.cases.values() {
        for sms in case.sms.iter().filter(|s| s.send_no == 1) {
            for other in c.cases.values().filter(|o| o.offer.case_id != case.offer.case_id) {
                let decided = other
                    .history
                    .iter()
                    .find(|e| e.state_after.is_some_and(|s| s.is_terminal()))
                    .map(|e| e.at);
                let asked = other.sms.first().filter(|s| s.phone == sms.phone).map(|s| s.sent_at);
                if let Some(from) = asked {
                    let open = from < sms.sent_at && decided.is_none_or(|d| d > sms.sent_at);
                    assert!(
                        !open,
                        "case {} texted {} while case {} was open",
                        case.offer.case_id, sms.phone, other.offer.case_id
                    );
                }
            }
        }
    }
    ledger_agrees_with_the_outcomes(&out, &c);
    the_same_days_as_a_backfill(dir, &out);

    // `explain` shows how each case ended, with the reason.
    let explain = |who: &str, id: &str| {
        let o = sdu(&["explain", "--snapshot", "w2", "--as-of", "2025-06-10", who, id, "--out", "out"], dir);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let dead = explain("--bin", &bin(3));
    assert!(dead.contains("voided: recipient_dead_or_missing"), "{dead}");
    assert!(!dead.contains(&iin(3)), "other IINs masked: {dead}");
    let replaced = explain("--bin", &bin(2));
    let superseded = format!("superseded: head_replaced, by case {}", eco("RN002", 20));
    assert!(replaced.contains(&superseded), "{replaced}");
    let three = explain("--iin", &iin(5));
    assert_eq!(three.matches(", offered on ").count(), 3, "{three}");
    assert!(three.contains(&format!("behind case {}", eco("RN005", 5))), "{three}");

    // The KPIs count the new ends apart.
    let o = sdu(&["report", "--out", "out", "--as-of", &day(DAYS - 1).to_string()], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let kpi = LazyFrame::scan_parquet(
        PlRefPath::try_from_path(&out.join(format!("reports/{}/kpi.parquet", day(DAYS - 1)))).unwrap(),
        Default::default(),
    )
    .unwrap()
    .filter(col("pilot").is_null().and(col("period").is_null()).and(col("region").is_null()))
    .collect()
    .unwrap();
    let metrics: BTreeMap<String, f64> = strings(&kpi, "metric")
        .into_iter()
        .zip(kpi.column("value").unwrap().f64().unwrap().iter())
        .filter_map(|(m, v)| Some((m, v?)))
        .collect();
    for (m, v) in [
        ("offered", 11.0),
        ("superseded", 2.0),
        ("voided", 2.0),
        ("accepted", 4.0),
        ("declined", 2.0),
        ("timed_out", 1.0),
        ("reissue_requests", 4.0),
        ("queued", 0.0),
    ] {
        assert_eq!(metrics.get(m), Some(&v), "{m}: {metrics:?}");
    }
}

/// A synthetic world made hostile at its edges: of the organizations that hold a pilot
/// permit and were renamed during the pilots, every second is renamed again the day after
/// the first rename was recorded (its case offered), every third gets a new first head that
/// day, every fifth loses its head to death that day.
fn hostile_world(dir: &Path) {
    let w = dir.join("w");
    let read = |name: &str| {
        LazyFrame::scan_parquet(
            PlRefPath::try_from_path(&w.join(format!("{name}.parquet"))).unwrap(),
            Default::default(),
        )
        .unwrap()
    };
    let services: Vec<String> = load_pilots(None).unwrap().into_iter().flat_map(|p| p.services).collect();
    let holders = read("permits")
        .filter(
            col("service_code")
                .is_in(lit(Series::new("s".into(), services)).implode(false), false)
                .and(col("status").eq(lit("active")))
                .and(col("holder_bin").is_not_null()),
        )
        .select([col("holder_bin").alias("bin")])
        .unique(None, UniqueKeepStrategy::Any);
    let renames = read("legal_entity_renames").collect().unwrap();
    let since = crate::candidates::d("2025-01-23");
    let targets = renames
        .clone()
        .lazy()
        .filter(col("changed_on").cast(DataType::Int32).gt_eq(lit(since)))
        .join(holders, [col("bin")], [col("bin")], JoinArgs::new(JoinType::Semi))
        .sort(["event_id"], Default::default())
        .unique_stable(Some(cols(["bin"])), UniqueKeepStrategy::First)
        .collect()
        .unwrap();
    let bins = strings(&targets, "bin");
    // The day ЗТ МДҚ recorded each rename (Asia/Almaty, UTC+5), when its case is offered;
    // the edges happen the day after.
    let changed: Vec<i32> = targets
        .column("recorded_at")
        .unwrap()
        .cast(&DataType::Int64)
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .map(|us| ((us.unwrap() / 1_000_000 + 5 * 3600).div_euclid(86_400)) as i32 + 1)
        .collect();
    let last = crate::candidates::d("2026-11-20");
    let pick = |every: usize| -> Vec<usize> {
        (0..bins.len()).filter(|i| i % every == 0 && changed[*i] + 2 <= last).collect()
    };

    // Renamed again.
    let again = pick(2);
    let new_names = |i: &usize| format!("«Қайта {i}» ЖШС");
    let extra = DataFrame::new_infer_height(vec![
        str_col("event_id", again.iter().map(|i| format!("RN-AGAIN-{i}")).collect()),
        str_col("bin", again.iter().map(|i| bins[*i].clone()).collect()),
        date_col("changed_on", again.iter().map(|i| Some(changed[*i])).collect()),
        datetime_col("recorded_at", again.iter().map(|i| almaty_at(changed[*i] + 1, 10 * 3600)).collect()),
        str_col("old_name_kk", again.iter().map(|_| "«Ескі» ЖШС".to_string()).collect()),
        str_col("old_name_ru", again.iter().map(|_| "ТОО «Ескі»".to_string()).collect()),
        str_col("new_name_kk", again.iter().map(new_names).collect()),
        str_col("new_name_ru", again.iter().map(new_names).collect()),
    ])
    .unwrap();
    let mut renames = renames;
    renames.vstack_mut(&extra).unwrap();
    sdu::io::write_parquet(&mut renames, &w.join("legal_entity_renames.parquet")).unwrap();

    // New first heads, from people with a number in МАБ who head nothing.
    let heads = read("legal_entity_heads").collect().unwrap();
    let taken: BTreeSet<String> = strings(&heads, "iin").into_iter().collect();
    let phones = read("mobile_base").filter(col("status").eq(lit("active"))).collect().unwrap();
    let mut spare = strings(&phones, "iin")
        .into_iter()
        .filter(|i| !taken.contains(i))
        .collect::<BTreeSet<_>>()
        .into_iter();
    let replaced = pick(3);
    let cut = DataFrame::new_infer_height(vec![
        str_col("bin", replaced.iter().map(|i| bins[*i].clone()).collect()),
        date_col("cut", replaced.iter().map(|i| Some(changed[*i])).collect()),
    ])
    .unwrap();
    let current =
        col("role").eq(lit("first_head")).and(col("to_date").is_null()).and(col("cut").is_not_null());
    let mut heads = heads
        .lazy()
        .join(cut.clone().lazy(), [col("bin")], [col("bin")], JoinArgs::new(JoinType::Left))
        .with_column(when(current).then(col("cut")).otherwise(col("to_date")).alias("to_date"))
        .drop(cols(["cut"]))
        .collect()
        .unwrap();
    let successors = DataFrame::new_infer_height(vec![
        str_col("bin", replaced.iter().map(|i| bins[*i].clone()).collect()),
        str_col("iin", replaced.iter().map(|_| spare.next().unwrap()).collect()),
        str_col("role", replaced.iter().map(|_| "first_head".to_string()).collect()),
        date_col("from_date", replaced.iter().map(|i| Some(changed[*i])).collect()),
        date_col("to_date", replaced.iter().map(|_| None).collect()),
    ])
    .unwrap();
    heads.vstack_mut(&successors).unwrap();

    // Heads who die after the change (those not replaced).
    let dying: Vec<usize> = pick(5).into_iter().filter(|i| i % 3 != 0).collect();
    let first_heads = heads
        .clone()
        .lazy()
        .filter(col("role").eq(lit("first_head")).and(col("to_date").is_null()))
        .collect()
        .unwrap();
    let (hb, hi) = (strings(&first_heads, "bin"), strings(&first_heads, "iin"));
    let deaths = DataFrame::new_infer_height(vec![
        str_col(
            "iin",
            dying.iter().map(|i| hi[hb.iter().position(|b| b == &bins[*i]).unwrap()].clone()).collect(),
        ),
        date_col("died", dying.iter().map(|i| Some(changed[*i])).collect()),
    ])
    .unwrap()
    .lazy()
    .group_by([col("iin")])
    .agg([col("died").min()]);
    let mut people = read("individuals")
        .join(deaths, [col("iin")], [col("iin")], JoinArgs::new(JoinType::Left))
        .with_column(coalesce(&[col("death_date"), col("died")]).alias("death_date"))
        .drop(cols(["died"]))
        .collect()
        .unwrap();
    sdu::io::write_parquet(&mut heads, &w.join("legal_entity_heads.parquet")).unwrap();
    sdu::io::write_parquet(&mut people, &w.join("individuals.parquet")).unwrap();

    // Everyone with one active number gets an older second one (the first texted stays the
    // latest): an SMS the portal reports not delivered is sent again to it.
    let single = read("mobile_base")
        .filter(col("status").eq(lit("active")))
        .group_by([col("iin")])
        .agg([len().alias("n")])
        .filter(col("n").eq(lit(1u32)))
        .sort(["iin"], Default::default())
        .collect()
        .unwrap();
    let iins = strings(&single, "iin");
    let older = DataFrame::new_infer_height(vec![
        str_col("iin", iins.clone()),
        str_col("phone", iins.iter().map(|i| format!("+7778{}", &i[5..])).collect()),
        datetime_col(
            "registered_at",
            iins.iter().map(|_| almaty_at(crate::candidates::d("2014-06-01"), 12 * 3600)).collect(),
        ),
        str_col("status", iins.iter().map(|_| "active".to_string()).collect()),
    ])
    .unwrap();
    let mut mobile = read("mobile_base").collect().unwrap();
    let names: Vec<String> = mobile.get_column_names().iter().map(|n| n.to_string()).collect();
    mobile.vstack_mut(&older.select(names).unwrap()).unwrap();
    sdu::io::write_parquet(&mut mobile, &w.join("mobile_base.parquet")).unwrap();
}

/// 22 months of daily runs on a hostile world (the simulator answering): no permit is ever
/// requested twice, every morning's open and requested cases are the ones that morning's
/// candidates offer, every case ends, and each edge happened.
#[test]
fn twenty_two_months_never_request_a_permit_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let synth = [
        "synth",
        "--out",
        "w",
        "--scale",
        "tiny",
        "--seed",
        "7",
        "--as-of",
        "2026-11-23",
        "--clean",
        "--rename-rate",
        "0.3",
        "--pilot-boost",
        "8",
    ];
    let o = sdu(&synth, dir);
    assert!(o.status.success(), "{}", stderr(&o));
    hostile_world(dir);
    // To compare other builds on the same world (bench/RESULTS.md): keep a copy.
    if let Some(keep) = std::env::var_os("SDU_KEEP_HOSTILE_WORLD") {
        std::fs::create_dir_all(&keep).unwrap();
        for f in files(&dir.join("w")) {
            std::fs::copy(&f, Path::new(&keep).join(f.file_name().unwrap())).unwrap();
        }
    }
    let backfill = [
        "backfill",
        "--snapshot",
        "w",
        "--from",
        "2025-01-23",
        "--to",
        "2026-11-23",
        "--out",
        "out",
        "--simulate-portal",
    ];
    let o = sdu(&backfill, dir);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = dir.join("out");
    let offers = sdu::ledger::to_offers(&sdu::ledger::offers_until(&out, NaiveDate::MAX).unwrap()).unwrap();
    let c = Campaign::load(offers, log::read_all(&out).unwrap(), &load_pilots(None).unwrap()).unwrap();

    let requests = all(&out, "elicense_requests.parquet");
    let permits = strings(&requests, "permit_id");
    let distinct: BTreeSet<&String> = permits.iter().collect();
    assert_eq!(distinct.len(), permits.len(), "a permit requested twice");
    assert!(requests.height() >= 10, "{} requests", requests.height());
    ledger_agrees_with_the_outcomes(&out, &c);
    let end = NaiveDate::from_ymd_opt(2026, 11, 17).unwrap();
    for case in c.cases.values().filter(|k| k.offer.offered_on <= end) {
        assert!(case.state.is_terminal(), "case {} is still {}", case.offer.case_id, case.state.code());
    }
    let mut ends: BTreeMap<(Kind, String), usize> = BTreeMap::new();
    for e in c.cases.values().flat_map(|k| &k.history).filter(|e| e.reason.is_some()) {
        *ends.entry((e.kind, e.reason.clone().unwrap())).or_default() += 1;
    }
    for (kind, reason) in [
        (Kind::Superseded, "renamed_again"),
        (Kind::Superseded, "head_replaced"),
        (Kind::Voided, "recipient_dead_or_missing"),
        (Kind::Voided, "already_requested"),
    ] {
        assert!(ends.contains_key(&(kind, reason.to_string())), "no case {} {reason}: {ends:?}", kind.code());
    }
    // The simulated portal reports some SMS not delivered: the next number is tried, and a
    // case with none left is undeliverable; the simulated e-license answers every request
    // older than a week, and only the re-issued permits are written back to SDU.
    let events: Vec<&sdu::campaign::CaseEvent> = c.cases.values().flat_map(|k| &k.history).collect();
    let count = |k: Kind| events.iter().filter(|e| e.kind == k).count();
    let resent = events
        .iter()
        .filter(|e| e.kind == Kind::SmsSent)
        .filter(|e| {
            e.message_id.as_deref() != Some(&message_id(e.case_id.as_deref().unwrap(), e.send_no.unwrap()))
        })
        .count();
    let (delivered, failed) = (count(Kind::SmsDelivered), count(Kind::SmsFailed));
    assert!(delivered > 5 * failed, "mostly delivered: {delivered} delivered, {failed} not");
    assert!(count(Kind::SmsFailed) > 0 && resent > 0 && count(Kind::Undeliverable) > 0, "{ends:?}");
    let requested_before = NaiveDate::from_ymd_opt(2026, 11, 10).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let answered: BTreeSet<String> = events
        .iter()
        .filter(|e| matches!(e.kind, Kind::PermitReissued | Kind::ReissueRefused))
        .map(|e| e.permit_ids[0].clone())
        .collect();
    for e in events.iter().filter(|e| e.kind == Kind::ReissueRequested && e.at < requested_before) {
        for p in &e.permit_ids {
            assert!(answered.contains(p), "request of {p} at {} never answered", e.at);
        }
    }
    assert_eq!(all(&out, "sdu_writeback.parquet").height(), count(Kind::PermitReissued));
}

/// The re-check never falls back to older candidates in silence: a later day's candidates
/// folder that is not a complete publication stops the advance, naming it; an advance with no
/// candidates at all says its cases were not re-checked.
#[test]
fn the_recheck_refuses_a_gap_in_the_candidates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (before, _) = worlds();
    write_snapshot(&dir.join("w1"), &before.tables());
    let ok = |args: &[&str]| {
        let o = sdu(args, dir);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout(&o)
    };
    ok(&["run", "--snapshot", "w1", "--as-of", FIRST, "--out", "out", "--no-report"]);
    ok(&["candidates", "--snapshot", "w1", "--as-of", "2025-06-03", "--out", "out"]);
    std::fs::remove_file(dir.join("out/audit/2025-06-03/ecology/outcomes.parquet")).unwrap();
    let o = sdu(&["advance", "--out", "out", "--as-of", "2025-06-03T09:00"], dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("2025-06-03/ecology") && err.contains("incomplete") && err.contains("2025-06-02"),
        "{err}"
    );

    // A folder of cases and no candidates (the ledger copied alone): said, not hidden.
    std::fs::create_dir_all(dir.join("bare")).unwrap();
    std::fs::write(dir.join("bare/.sdu-out"), "").unwrap();
    let copy = |from: &Path, to: &Path| {
        for f in files(from) {
            let target = to.join(f.strip_prefix(from).unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&f, target).unwrap();
        }
    };
    copy(&dir.join("out/ledger"), &dir.join("bare/ledger"));
    let line = ok(&["advance", "--out", "bare", "--as-of", "2025-06-03T09:00"]);
    assert!(line.contains("no published candidates: open cases were not re-checked"), "{line}");
    // The day's candidates published again: the advance goes on, and names them.
    ok(&["candidates", "--snapshot", "w1", "--as-of", "2025-06-03", "--out", "out"]);
    let line = ok(&["advance", "--out", "out", "--as-of", "2025-06-03T09:00"]);
    assert!(line.contains("re-checked against the candidates of ecology of 2025-06-03"), "{line}");
}
