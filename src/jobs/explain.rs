//! Why one organization or person was or was not offered, pilot by pilot. Every verdict
//! shown is one the pipeline computed: the scope of each rename ([`rename_scope`]), each
//! permit's step-4 verdict ([`permit_verdicts`]), and the evaluated events with their
//! evidence columns ([`super::candidates::evaluate`]). Nothing is judged again here.
//!
//! Personal data appear only for the identifier asked: other IINs are masked.

use super::candidates::evaluate;
use super::stage::Inputs;
use crate::campaign::{Campaign, Kind};
use crate::config::Pilot;
use crate::ids::mask;
use crate::pipeline::candidates::{
    permit_verdict as pv, permit_verdicts, rename_scope, renames_of_quarantined_organizations, scope, Scope,
};
use crate::pipeline::columns as c;
use crate::pipeline::{event_kind, outcome};
use crate::registry::{civil_acts as ca, heads as hd, permits as pm, renames as rn};
use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;

/// The identifier asked about.
pub enum Who {
    Bin(String),
    Iin(String),
}

impl Who {
    /// Shows an IIN in full only when it is the one asked about.
    fn show(&self, iin: Option<&str>) -> String {
        match (self, iin) {
            (_, None) => "—".into(),
            (Who::Iin(me), Some(i)) if me == i => i.to_string(),
            (_, Some(i)) => mask(i),
        }
    }
}

/// One pilot's path for the identifier, as lines of evidence.
#[derive(Debug, Clone, Serialize)]
pub struct PilotExplanation {
    pub pilot: String,
    pub in_force: bool,
    pub in_force_from: NaiveDate,
    pub in_force_until: NaiveDate,
    pub title_ru: String,
    pub lines: Vec<String>,
}

impl std::fmt::Display for PilotExplanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let in_force = if self.in_force { "in force" } else { "not in force, evaluated as if it were" };
        writeln!(
            f,
            "\n{} — {in_force}: {} to {} ({})",
            self.pilot, self.in_force_from, self.in_force_until, self.title_ru
        )?;
        self.lines.iter().try_for_each(|l| writeln!(f, "{l}"))
    }
}

fn dates(df: &DataFrame, column: &str, i: usize) -> Option<NaiveDate> {
    df.column(column).ok()?.cast(&DataType::Int32).ok()?.i32().ok()?.get(i).map(crate::time::date)
}

fn text(df: &DataFrame, column: &str, i: usize) -> Option<String> {
    df.column(column).ok()?.str().ok()?.get(i).map(String::from)
}

fn list(df: &DataFrame, column: &str, i: usize) -> Vec<String> {
    df.column(column)
        .ok()
        .and_then(|c| c.list().ok().and_then(|l| l.get_as_series(i)))
        .map(|s| s.str().map(|s| s.iter().flatten().map(String::from).collect()).unwrap_or_default())
        .unwrap_or_default()
}

fn is_in(column: &str, values: &[String]) -> Expr {
    col(column).is_in(lit(Series::new("keys".into(), values.to_vec())).implode(false), false)
}

/// The organizations to look at: the one asked, or those the person headed.
fn bins_of(inputs: &Inputs, who: &Who) -> PolarsResult<Vec<String>> {
    Ok(match who {
        Who::Bin(b) => vec![b.clone()],
        Who::Iin(i) => {
            let heads = inputs.registries.heads.clone().filter(col(hd::IIN).eq(lit(i.as_str())));
            let df = heads.select([col(hd::BIN)]).unique_stable(None, UniqueKeepStrategy::First).collect()?;
            df.column(hd::BIN)?.str()?.iter().flatten().map(String::from).collect()
        }
    })
}

/// Explains one pilot for the identifier.
pub fn explain(
    inputs: &Inputs,
    pilot: &Pilot,
    as_of: NaiveDate,
    who: &Who,
) -> anyhow::Result<PilotExplanation> {
    let s = Scope { pilot, as_of };
    let bins = bins_of(inputs, who)?;
    let mut lines = Vec::new();
    // Every rename of those organizations that is not in scope, with why not.
    let renames = rename_scope(inputs.registries.renames.clone().filter(is_in(rn::BIN, &bins)), s)
        .filter(col(scope::COLUMN).neq(lit(scope::IN_SCOPE)))
        .sort([rn::CHANGED_ON], SortMultipleOptions::default())
        .collect()?;
    for i in 0..renames.height() {
        let (id, bin) = (text(&renames, rn::EVENT_ID, i).unwrap_or_default(), text(&renames, rn::BIN, i));
        let changed = dates(&renames, rn::CHANGED_ON, i).expect("staged non-null");
        let why = match text(&renames, scope::COLUMN, i).as_deref() {
            Some(scope::BEFORE_START) => {
                format!("changed on {changed}, before the pilot's start {}", pilot.in_force_from)
            }
            Some(scope::AFTER_AS_OF) => format!("changed on {changed}, after {as_of}"),
            _ => format!("ЗТ МДҚ recorded it after {as_of}"),
        };
        lines.push(format!("  rename {id} (ЗТ МДҚ, {}): not in scope: {why}", bin.unwrap_or_default()));
    }
    let mut regs = inputs.registries.clone();
    regs.renames = regs.renames.filter(is_in(rn::BIN, &bins));
    let me = match who {
        Who::Iin(i) => Some(i.clone()),
        Who::Bin(_) => None,
    };
    // Only this person's name changes are events; other acts stay (death evidence).
    let others = col(ca::ACT_TYPE).neq(lit(ca::NAME_CHANGE));
    regs.filter_civil_acts(match &me {
        Some(i) => others.or(col(ca::IIN).eq(lit(i.as_str()))),
        None => others,
    });
    let evaluated = evaluate(&regs, s)?;
    // In scope, but the organization's own row failed validation: counted, not evaluated.
    let orphans = renames_of_quarantined_organizations(&regs, s).collect()?;
    for i in 0..orphans.height() {
        lines.push(format!(
            "  rename {} (ЗТ МДҚ) of {}: in scope, but not evaluated: the organization's row in \
             legal_entities fails validation (see `sdu validate`); counted in funnel.json as \
             renames_of_quarantined_organizations",
            text(&orphans, rn::EVENT_ID, i).unwrap_or_default(),
            text(&orphans, rn::BIN, i).unwrap_or_default()
        ));
    }
    if evaluated.height() == 0 && orphans.height() == 0 {
        let whom = if me.is_some() { "person" } else { "organization" };
        lines.push(format!("  no event in scope for this {whom}"));
    }
    for i in 0..evaluated.height() {
        lines.extend(event(inputs, s, who, &evaluated, i)?);
    }
    Ok(PilotExplanation {
        pilot: pilot.id.clone(),
        in_force: pilot.in_force_on(as_of),
        in_force_from: pilot.in_force_from,
        in_force_until: pilot.in_force_until,
        title_ru: pilot.title_ru.clone(),
        lines,
    })
}

/// The first lines of an event: what changed, and the organization.
fn event_head(who: &Who, ev: &DataFrame, i: usize) -> Vec<String> {
    let id = text(ev, c::EVENT_ID, i).unwrap_or_default();
    let changed = dates(ev, c::CHANGED_ON, i).expect("non-null");
    if text(ev, c::EVENT_KIND, i).as_deref() != Some(event_kind::RENAME) {
        let holder = text(ev, c::IIN, i);
        let mut lines = vec![format!(
            "  name change {id} (АХАЖ civil_acts) of {}: act of {changed}; in scope",
            who.show(holder.as_deref())
        )];
        if let (Who::Iin(_), Some(name)) = (who, text(ev, c::RECIPIENT_NAME, i)) {
            let before = text(ev, c::OLD_NAME_RU, i).unwrap_or_default();
            lines.push(format!("    name (ЖТ МДҚ): {name}, before the change: {before}"));
        }
        return lines;
    }
    let status = text(ev, c::ORG_STATUS, i).unwrap_or_else(|| "not in ЗТ МДҚ (row quarantined)".into());
    let liq = dates(ev, c::ORG_LIQUIDATED_ON, i).map(|d| format!(", liquidated on {d}")).unwrap_or_default();
    vec![
        format!(
            "  rename {id} (ЗТ МДҚ) of {}: changed on {changed}; in scope",
            text(ev, c::BIN, i).unwrap_or_default()
        ),
        format!(
            "    name: {} → {}",
            text(ev, c::OLD_NAME_RU, i).unwrap_or_default(),
            text(ev, c::NEW_NAME_RU, i).unwrap_or_default()
        ),
        format!("    organization (ЗТ МДҚ legal_entities): status {status}{liq}"),
    ]
}

/// Permits of the pilot's services held by the event's holder, each with its verdict.
fn permits(inputs: &Inputs, s: Scope, ev: &DataFrame, i: usize) -> anyhow::Result<Vec<String>> {
    let holder = text(ev, c::BIN, i).or_else(|| text(ev, c::IIN, i)).unwrap_or_default();
    let changed = dates(ev, c::CHANGED_ON, i).expect("non-null");
    let permits = permit_verdicts(&inputs.registries, s, &holder, changed).collect()?;
    if permits.height() == 0 {
        return Ok(vec![format!("    permits (e-license): none for {}", s.pilot.services.join(", "))]);
    }
    let mut lines = Vec::new();
    for p in 0..permits.height() {
        let issued = dates(&permits, pm::ISSUED_ON, p).expect("non-null");
        let until = dates(&permits, pm::VALID_UNTIL, p);
        let verdict = match text(&permits, pv::COLUMN, p).as_deref() {
            Some(pv::NOT_ACTIVE) => {
                format!("does not count: {}", text(&permits, pm::STATUS, p).unwrap_or_default())
            }
            Some(pv::EXPIRED) => format!("does not count: expired on {}", until.expect("expired has a date")),
            Some(pv::ISSUED_AFTER_CHANGE) => format!("does not count: issued on {issued}, after the change"),
            _ => "still carries the old name".into(),
        };
        lines.push(format!(
            "    permit {} ({}, issued {issued}, valid until {}): {verdict}",
            text(&permits, pm::PERMIT_ID, p).unwrap_or_default(),
            text(&permits, pm::SERVICE_CODE, p).unwrap_or_default(),
            until.map(|u| u.to_string()).unwrap_or_else(|| "indefinite".into())
        ));
    }
    Ok(lines)
}

/// The evidence columns of the four criteria, with how to read them.
const EVIDENCE: [(&str, &str); 7] = [
    (c::DEATH_DATE, "dead or missing: ЖТ МДҚ death date"),
    (c::DEATH_ACT_DATE, "dead or missing: АХАЖ death act"),
    (c::DECLARED_DEAD_ON, "dead or missing: declared dead by a court (ЖТ МДҚ)"),
    (c::MISSING_DECLARED_ON, "dead or missing: declared missing by a court (ЖТ МДҚ)"),
    (c::EMIGRATED_ON, "abroad: left for permanent residence (ЖТ МДҚ)"),
    (c::INCAPABLE_FROM, "incapable: declared by a court (ЖТ МДҚ), from"),
    (c::IMPRISONED_FROM, "imprisoned: in a place of deprivation of liberty (ЖТ МДҚ), from"),
];

/// One evaluated event: what changed, its permits, its recipient, the criteria, the outcome.
fn event(inputs: &Inputs, s: Scope, who: &Who, ev: &DataFrame, i: usize) -> anyhow::Result<Vec<String>> {
    let mut lines = event_head(who, ev, i);
    lines.extend(permits(inputs, s, ev, i)?);
    let recipient = text(ev, c::IIN, i);
    if text(ev, c::EVENT_KIND, i).as_deref() == Some(event_kind::RENAME) {
        let heads = format!("    first head on {} (ЗТ МДҚ legal_entity_heads)", s.as_of);
        lines.push(match dates(ev, c::HEAD_FROM, i) {
            Some(from) => format!(
                "{heads}: {}, in office since {from}",
                who.show(recipient.as_deref()).replace('—', "not in ЖТ МДҚ")
            ),
            None => format!("{heads}: none in office"),
        });
    }
    let met: Vec<String> = EVIDENCE
        .iter()
        .filter_map(|(column, label)| {
            let d = dates(ev, column, i)?;
            let act = if *column == c::DEATH_ACT_DATE {
                format!(" {}", text(ev, c::DEATH_ACT_ID, i).unwrap_or_default())
            } else {
                String::new()
            };
            Some(format!("    criterion met — {label}{act} of {d}"))
        })
        .collect();
    if met.is_empty() && recipient.is_some() {
        lines.push(format!("    criteria: none of the four met on {}", s.as_of));
    }
    lines.extend(met);
    let code = text(ev, c::OUTCOME, i).unwrap_or_default();
    let reasons = list(ev, c::REASONS, i);
    let shown = if reasons.is_empty() || (reasons.len() == 1 && reasons[0] == code) {
        String::new()
    } else {
        format!(" (reasons: {})", reasons.join(", "))
    };
    lines.push(format!("    outcome: {code}{shown}"));
    if code == outcome::OFFERED {
        lines.push(format!("    case {}", text(ev, c::CASE_ID, i).unwrap_or_default()));
    }
    Ok(lines)
}

/// Where each case of the identifier stood in an output folder's campaign at the end of
/// `as_of`, for one pilot: its state, its SMS and deciding replies, and how it was closed
/// without its recipient's decision (superseded, voided) or what its request named. Other
/// IINs are masked; phones are.
pub fn campaign_lines(
    campaign: &Campaign,
    pilot: &str,
    who: &Who,
    as_of: NaiveDate,
    out: &std::path::Path,
) -> Vec<String> {
    let end = crate::time::end_of_day(as_of);
    let mine = |o: &crate::campaign::Offer| match who {
        Who::Bin(b) => o.bin.as_deref() == Some(b.as_str()),
        Who::Iin(i) => &o.iin == i,
    };
    let mut cases: Vec<_> = campaign
        .cases
        .values()
        .filter(|c| c.offer.pilot == pilot && c.offer.offered_on <= as_of && mine(&c.offer))
        .collect();
    cases.sort_by(|a, b| a.offer.order().cmp(&b.offer.order()));
    let mut lines = vec![format!("  campaign in {} at the end of {as_of}:", out.display())];
    if cases.is_empty() {
        lines.push("    no case".into());
    }
    for case in cases {
        let o = &case.offer;
        let history: Vec<_> = case.history.iter().filter(|e| e.at < end).collect();
        let state = history
            .iter()
            .rev()
            .find_map(|e| e.state_after)
            .unwrap_or(crate::campaign::state::State::Offered);
        lines.push(format!(
            "    case {} (event {}, offered on {}, recipient {}): {}",
            o.case_id,
            o.event_id,
            o.offered_on,
            who.show(Some(&o.iin)),
            state.code()
        ));
        for e in history {
            let detail = match e.kind {
                Kind::SmsSent => {
                    format!(" {} to {}", e.send_no.unwrap_or(1), mask(e.phone.as_deref().unwrap_or("")))
                }
                Kind::ReplyAccept | Kind::ReplyDecline | Kind::ReplyLate => {
                    format!(
                        " {:?}",
                        e.reply_text.as_deref().unwrap_or("").chars().take(20).collect::<String>()
                    )
                }
                Kind::Superseded | Kind::Voided | Kind::Queued => {
                    let other = e.other_case_id.as_deref().map(|c| match e.kind {
                        Kind::Superseded => format!(", by case {c}"),
                        Kind::Queued => format!(", behind case {c} (when queued)"),
                        _ => format!(", requested by case {c}"),
                    });
                    let reason = e.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
                    format!("{reason}{}", other.unwrap_or_default())
                }
                Kind::ReissueRequested => format!(": {}", e.permit_ids.join(", ")),
                Kind::SmsDelivered | Kind::SmsFailed => {
                    let what = e.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                    format!(" {}{what}", mask(e.phone.as_deref().unwrap_or("")))
                }
                Kind::Undeliverable => format!(": {}", e.reason.as_deref().unwrap_or("")),
                Kind::PermitReissued => {
                    format!(": {} → {}", e.permit_ids.join(", "), e.new_permit_id.as_deref().unwrap_or(""))
                }
                // e-license's reason is free text: shown only when it is a code.
                Kind::ReissueRefused => {
                    let reason = e.reason.as_deref().unwrap_or("");
                    let digits = reason.chars().filter(char::is_ascii_digit).count();
                    let code = !reason.is_empty()
                        && digits < 5
                        && reason.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                    format!(
                        ": {} ({})",
                        e.permit_ids.join(", "),
                        if code { reason } else { "reason in the ledger" }
                    )
                }
                Kind::NoNumber | Kind::TimedOut => String::new(),
                Kind::ReplyInvalid | Kind::ReplyUnmatched => continue,
            };
            lines.push(format!("      {} {}{detail}", e.at, e.kind.code()));
        }
    }
    lines
}
