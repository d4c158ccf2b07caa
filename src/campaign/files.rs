//! The campaign's files for the portal and e-license, as frames: the SMS outbox, the
//! re-issue requests (one per permit of an accepted case, seed 000 §12) and, once e-license
//! re-issued a permit, the write-back of the updated holder data to SDU.

use super::{request_id, Campaign, CaseEvent, Kind, Offer, Sms};
use crate::config::Pilot;
use chrono::NaiveDateTime;
use polars::prelude::*;

/// A time column as every published file stores it: zoned Asia/Almaty.
fn datetime(name: &str, v: Vec<NaiveDateTime>) -> Column {
    crate::frames::wall_clock_column(name, v.into_iter().map(Some))
}

fn strings(name: &str, v: Vec<String>) -> Column {
    Column::new(name.into(), v)
}

fn opt_strings(name: &str, v: Vec<Option<String>>) -> Column {
    Column::new(name.into(), v)
}

/// `sms_outbox`: what the portal sends (§11, §13).
pub fn outbox(campaign: &Campaign, sms: &[Sms], pilots: &[Pilot]) -> PolarsResult<DataFrame> {
    let text = |s: &Sms, kk: bool| {
        let offer = &campaign.cases[&s.case_id].offer;
        let pilot = pilots.iter().find(|p| p.id == s.pilot).expect("campaign pilots are known");
        let t = if kk { &pilot.sms_kk } else { &pilot.sms_ru };
        pilot.render(
            t,
            offer.bin.as_deref(),
            offer.new_name_kk.as_deref().unwrap_or(""),
            offer.new_name_ru.as_deref().unwrap_or(""),
        )
    };
    DataFrame::new(
        sms.len(),
        vec![
            strings("message_id", sms.iter().map(|s| s.message_id.clone()).collect()),
            strings("case_id", sms.iter().map(|s| s.case_id.clone()).collect()),
            strings("pilot", sms.iter().map(|s| s.pilot.clone()).collect()),
            strings("phone", sms.iter().map(|s| s.phone.clone()).collect()),
            Column::new("send_no".into(), sms.iter().map(|s| i32::from(s.send_no)).collect::<Vec<_>>()),
            strings("text_kk", sms.iter().map(|s| text(s, true)).collect()),
            strings("text_ru", sms.iter().map(|s| text(s, false)).collect()),
            datetime("sent_at", sms.iter().map(|s| s.sent_at).collect()),
            datetime("reply_due_by", sms.iter().map(|s| s.due_by).collect()),
        ],
    )
}

/// `elicense_requests` for the requests these events made (seed 000 §12), one row per
/// permit, with the time of the acceptance and of the request.
pub fn requests(campaign: &Campaign, events: &[CaseEvent]) -> PolarsResult<DataFrame> {
    let mut rows = Vec::new();
    for e in events.iter().filter(|e| e.kind == Kind::ReissueRequested) {
        let case_id = e.case_id.as_deref().expect("a request has a case");
        let case = &campaign.cases[case_id];
        let accepted = case.history.iter().find(|h| h.kind == Kind::ReplyAccept).map_or(e.at, |h| h.at);
        for permit in &e.permit_ids {
            rows.push((&case.offer, permit.clone(), service(&case.offer, permit), accepted, e.at));
        }
    }
    DataFrame::new(
        rows.len(),
        vec![
            strings("request_id", rows.iter().map(|r| request_id(&r.0.case_id, &r.1)).collect()),
            strings("case_id", rows.iter().map(|r| r.0.case_id.clone()).collect()),
            strings("pilot", rows.iter().map(|r| r.0.pilot.clone()).collect()),
            strings("permit_id", rows.iter().map(|r| r.1.clone()).collect()),
            strings("service_code", rows.iter().map(|r| r.2.clone()).collect()),
            opt_strings("holder_bin", rows.iter().map(|r| r.0.bin.clone()).collect()),
            opt_strings("holder_iin", rows.iter().map(|r| holder_iin(r.0)).collect()),
            opt_strings("old_name_kk", rows.iter().map(|r| r.0.old_name_kk.clone()).collect()),
            opt_strings("old_name_ru", rows.iter().map(|r| r.0.old_name_ru.clone()).collect()),
            opt_strings("new_name_kk", rows.iter().map(|r| r.0.new_name_kk.clone()).collect()),
            opt_strings("new_name_ru", rows.iter().map(|r| r.0.new_name_ru.clone()).collect()),
            datetime("accepted_at", rows.iter().map(|r| r.3).collect()),
            datetime("requested_at", rows.iter().map(|r| r.4).collect()),
        ],
    )
}

/// The service of one of an offer's permits.
fn service(offer: &Offer, permit: &str) -> String {
    let k = offer.permit_ids.iter().position(|p| p == permit);
    k.and_then(|k| offer.permit_services.get(k)).cloned().unwrap_or_default()
}

/// The holder's IIN, for a permit held by a person (none for an organization's).
fn holder_iin(offer: &Offer) -> Option<String> {
    offer.bin.is_none().then(|| offer.iin.clone())
}

/// `sdu_writeback` (seed 000 §12): the updated holder data of every permit e-license
/// re-issued in these events, with the new permit's number, stamped with e-license's answer.
pub fn writeback(campaign: &Campaign, events: &[CaseEvent]) -> PolarsResult<DataFrame> {
    let mut rows = Vec::new();
    for e in events.iter().filter(|e| e.kind == Kind::PermitReissued) {
        let case_id = e.case_id.as_deref().expect("an answer has a case");
        let offer = &campaign.cases[case_id].offer;
        for permit in &e.permit_ids {
            let new = e.new_permit_id.clone().unwrap_or_default();
            rows.push((offer, permit.clone(), service(offer, permit), new, e.at));
        }
    }
    DataFrame::new(
        rows.len(),
        vec![
            strings("permit_id", rows.iter().map(|r| r.1.clone()).collect()),
            strings("new_permit_id", rows.iter().map(|r| r.3.clone()).collect()),
            strings("service_code", rows.iter().map(|r| r.2.clone()).collect()),
            opt_strings("holder_bin", rows.iter().map(|r| r.0.bin.clone()).collect()),
            opt_strings("holder_iin", rows.iter().map(|r| holder_iin(r.0)).collect()),
            opt_strings("holder_name_kk", rows.iter().map(|r| r.0.new_name_kk.clone()).collect()),
            opt_strings("holder_name_ru", rows.iter().map(|r| r.0.new_name_ru.clone()).collect()),
            datetime("updated_at", rows.iter().map(|r| r.4).collect()),
            strings("request_id", rows.iter().map(|r| request_id(&r.0.case_id, &r.1)).collect()),
            strings("case_id", rows.iter().map(|r| r.0.case_id.clone()).collect()),
            strings("pilot", rows.iter().map(|r| r.0.pilot.clone()).collect()),
        ],
    )
}

/// `reports_unmatched`: the delivery reports and e-license answers of one advance that
/// applied to nothing (their id, time and why).
pub fn unknown_reports(unknown: &[(String, NaiveDateTime, &'static str)]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        unknown.len(),
        vec![
            strings("reason", unknown.iter().map(|u| u.2.to_string()).collect()),
            strings("id", unknown.iter().map(|u| u.0.clone()).collect()),
            datetime("at", unknown.iter().map(|u| u.1).collect()),
        ],
    )
}

/// `replies_unmatched`: the replies of one advance that matched no case, kept once and only
/// here (the ledger keeps their ids, not their phones or texts).
pub fn unmatched(unmatched: &[(super::Reply, &'static str)]) -> PolarsResult<DataFrame> {
    let replies: Vec<&super::Reply> = unmatched.iter().map(|(r, _)| r).collect();
    DataFrame::new(
        replies.len(),
        vec![
            strings("reason", unmatched.iter().map(|(_, why)| why.to_string()).collect()),
            strings("reply_id", replies.iter().map(|r| r.id()).collect()),
            opt_strings("message_id", replies.iter().map(|r| r.message_id.clone()).collect()),
            strings("phone", replies.iter().map(|r| super::normalize_phone(&r.phone)).collect()),
            datetime("received_at", replies.iter().map(|r| r.received_at).collect()),
            strings("text", replies.iter().map(|r| r.stored_text()).collect()),
        ],
    )
}
