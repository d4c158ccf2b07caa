//! `sdu explain`: why one organization or person was or was not offered, pilot by pilot,
//! with the evidence (registry, row, date) that decided each step.

use super::candidates::evaluate;
use super::candidates::{self, Inputs};
use crate::config::{load_pilots, Pilot};
use crate::ids::{check_bin, check_iin, mask};
use crate::pipeline::candidates::{renames_of_quarantined_organizations, Scope};
use crate::pipeline::columns as c;
use crate::pipeline::{day, end_of_day, event_kind, outcome};
use crate::registry::{civil_acts as ca, heads as hd, permits as pm, renames as rn, Snapshot};
use crate::synth::frame::date;
use chrono::NaiveDate;
use polars::prelude::*;
use std::fmt::Write as _;

/// Explain the funnel for one BIN or IIN: each pilot's path with its evidence.
///
/// Personal data appear only for the identifier asked: other IINs are masked.
///
/// Example:
///   sdu explain --snapshot data/worlds/small --as-of 2026-11-23 --bin 940140000385
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment, group(clap::ArgGroup::new("who").required(true).args(["bin", "iin"])))]
pub struct Args {
    #[command(flatten)]
    pub common: super::RunArgs,
    /// The organization to explain.
    #[arg(long)]
    pub bin: Option<String>,
    /// The person to explain (as head of organizations, or as a permit holder).
    #[arg(long)]
    pub iin: Option<String>,
}

enum Who {
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

fn dates(df: &DataFrame, column: &str, i: usize) -> Option<NaiveDate> {
    df.column(column).ok()?.cast(&DataType::Int32).ok()?.i32().ok()?.get(i).map(date)
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

pub fn run(args: Args) -> anyhow::Result<()> {
    let who = match (&args.bin, &args.iin) {
        (Some(b), _) => {
            check_bin(b).map_err(|e| super::UsageError(format!("--bin {b}: {e}")))?;
            Who::Bin(b.clone())
        }
        (_, Some(i)) => {
            check_iin(i).map_err(|e| super::UsageError(format!("--iin {}: {e}", mask(i))))?;
            Who::Iin(i.clone())
        }
        _ => unreachable!("clap requires one of --bin, --iin"),
    };
    let common = &args.common;
    let snapshot = Snapshot::open(&common.snapshot).map_err(|e| super::UsageError(e.to_string()))?;
    let all = load_pilots(common.pilots.as_deref()).map_err(|e| super::UsageError(format!("{e:#}")))?;
    let pilots = super::select_pilots(&all, &common.pilot, common.as_of, common.allow_expired)?;
    if pilots.is_empty() {
        println!("no pilot is in force on {} (name one with --pilot ID --allow-expired)", common.as_of);
    }
    let inputs = candidates::stage_inputs(&snapshot, false)?;
    let mut out = String::new();
    for pilot in &pilots {
        explain_pilot(&mut out, &inputs, pilot, common.as_of, &who)?;
    }
    print!("{out}");
    Ok(())
}

/// The organizations to look at: the one asked, or those the person headed.
fn bins_of(inputs: &Inputs, who: &Who) -> PolarsResult<Vec<String>> {
    Ok(match who {
        Who::Bin(b) => vec![b.clone()],
        Who::Iin(i) => {
            let df = inputs
                .registries
                .heads
                .clone()
                .filter(col(hd::IIN).eq(lit(i.as_str())))
                .select([col(hd::BIN)])
                .unique_stable(None, UniqueKeepStrategy::First)
                .collect()?;
            df.column(hd::BIN)?.str()?.iter().flatten().map(String::from).collect()
        }
    })
}

fn explain_pilot(
    out: &mut String,
    inputs: &Inputs,
    pilot: &Pilot,
    as_of: NaiveDate,
    who: &Who,
) -> anyhow::Result<()> {
    let in_force =
        if pilot.in_force_on(as_of) { "in force" } else { "not in force, evaluated as if it were" };
    writeln!(
        out,
        "\n{} — {in_force}: {} to {} ({})",
        pilot.id, pilot.in_force_from, pilot.in_force_until, pilot.title_ru
    )?;
    let bins = bins_of(inputs, who)?;
    let bin_list = Series::new("bins".into(), bins.clone());
    // Every rename of those organizations, in scope or not, with why not.
    let renames = inputs
        .registries
        .renames
        .clone()
        .filter(col(rn::BIN).is_in(lit(bin_list.clone()).implode(false), false))
        .sort([rn::CHANGED_ON], SortMultipleOptions::default())
        .collect()?;
    for i in 0..renames.height() {
        let changed = dates(&renames, rn::CHANGED_ON, i).expect("staged non-null");
        let id = text(&renames, rn::EVENT_ID, i).unwrap_or_default();
        let why_not = if changed < pilot.in_force_from {
            Some(format!("changed on {changed}, before the pilot's start {}", pilot.in_force_from))
        } else if changed > as_of {
            Some(format!("changed on {changed}, after {as_of}"))
        } else {
            None
        };
        if let Some(w) = why_not {
            writeln!(
                out,
                "  rename {id} (ЗТ МДҚ, {}): not in scope: {w}",
                text(&renames, rn::BIN, i).unwrap_or_default()
            )?;
        }
    }
    let mut regs = inputs.registries.clone();
    regs.renames = regs.renames.filter(col(rn::BIN).is_in(lit(bin_list).implode(false), false));
    let me = match who {
        Who::Iin(i) => Some(i.clone()),
        Who::Bin(_) => None,
    };
    regs.civil_acts = match &me {
        // Only this person's name changes are events; other acts stay (death evidence).
        Some(i) => regs
            .civil_acts
            .filter(col(ca::ACT_TYPE).neq(lit(ca::NAME_CHANGE)).or(col(ca::IIN).eq(lit(i.as_str())))),
        None => regs.civil_acts.filter(col(ca::ACT_TYPE).neq(lit(ca::NAME_CHANGE))),
    };
    let evaluated = evaluate(&regs, Scope { pilot, as_of })?;
    let recorded_late = inputs
        .registries
        .renames
        .clone()
        .filter(col(rn::RECORDED_AT).gt_eq(end_of_day(as_of)).and(col(rn::CHANGED_ON).lt_eq(day(as_of))))
        .select([col(rn::EVENT_ID)])
        .collect()?;
    let late: Vec<String> =
        recorded_late.column(rn::EVENT_ID)?.str()?.iter().flatten().map(String::from).collect();
    for i in 0..renames.height() {
        let id = text(&renames, rn::EVENT_ID, i).unwrap_or_default();
        let changed = dates(&renames, rn::CHANGED_ON, i).expect("staged non-null");
        if late.contains(&id) && changed >= pilot.in_force_from {
            writeln!(out, "  rename {id}: not in scope: ЗТ МДҚ recorded it after {as_of}")?;
        }
    }
    // In scope, but the organization's own row failed validation: counted, not evaluated.
    let orphans = renames_of_quarantined_organizations(&regs, Scope { pilot, as_of }).collect()?;
    for i in 0..orphans.height() {
        writeln!(
            out,
            "  rename {} (ЗТ МДҚ) of {}: in scope, but not evaluated: the organization's row in \
             legal_entities fails validation (see `sdu validate`); counted in funnel.json as \
             renames_of_quarantined_organizations",
            text(&orphans, rn::EVENT_ID, i).unwrap_or_default(),
            text(&orphans, rn::BIN, i).unwrap_or_default()
        )?;
    }
    if evaluated.height() == 0 && orphans.height() == 0 {
        writeln!(
            out,
            "  no event in scope for this {}",
            if me.is_some() { "person" } else { "organization" }
        )?;
    }
    for i in 0..evaluated.height() {
        explain_event(out, inputs, pilot, as_of, who, &evaluated, i)?;
    }
    Ok(())
}

fn explain_event(
    out: &mut String,
    inputs: &Inputs,
    pilot: &Pilot,
    as_of: NaiveDate,
    who: &Who,
    ev: &DataFrame,
    i: usize,
) -> anyhow::Result<()> {
    let kind = text(ev, c::EVENT_KIND, i).unwrap_or_default();
    let id = text(ev, c::EVENT_ID, i).unwrap_or_default();
    let changed = dates(ev, c::CHANGED_ON, i).expect("non-null");
    let bin = text(ev, c::BIN, i);
    let outcome_code = text(ev, c::OUTCOME, i).unwrap_or_default();
    if kind == event_kind::RENAME {
        writeln!(
            out,
            "  rename {id} (ЗТ МДҚ) of {}: changed on {changed}; in scope",
            bin.clone().unwrap_or_default()
        )?;
        writeln!(
            out,
            "    name: {} → {}",
            text(ev, c::OLD_NAME_RU, i).unwrap_or_default(),
            text(ev, c::NEW_NAME_RU, i).unwrap_or_default()
        )?;
        let status = text(ev, c::ORG_STATUS, i).unwrap_or_else(|| "not in ЗТ МДҚ (row quarantined)".into());
        let liq =
            dates(ev, c::ORG_LIQUIDATED_ON, i).map(|d| format!(", liquidated on {d}")).unwrap_or_default();
        writeln!(out, "    organization (ЗТ МДҚ legal_entities): status {status}{liq}")?;
    } else {
        let holder = text(ev, c::IIN, i);
        writeln!(
            out,
            "  name change {id} (АХАЖ civil_acts) of {}: act of {changed}; in scope",
            who.show(holder.as_deref())
        )?;
        if let (Who::Iin(_), Some(name)) = (who, text(ev, c::RECIPIENT_NAME, i)) {
            writeln!(
                out,
                "    name (ЖТ МДҚ): {name}, before the change: {}",
                text(ev, c::OLD_NAME_RU, i).unwrap_or_default()
            )?;
        }
    }
    // Permits of the pilot's services held by this holder, and whether each counts.
    let holder = match (&bin, kind.as_str()) {
        (Some(b), _) => col(pm::HOLDER_BIN).eq(lit(b.as_str())),
        (None, _) => col(pm::HOLDER_IIN).eq(lit(text(ev, c::IIN, i).unwrap_or_default())),
    };
    let services = Series::new("s".into(), pilot.services.clone());
    let permits = inputs
        .registries
        .permits
        .clone()
        .filter(holder.and(col(pm::SERVICE_CODE).is_in(lit(services).implode(false), false)))
        .sort([pm::PERMIT_ID], SortMultipleOptions::default())
        .collect()?;
    if permits.height() == 0 {
        writeln!(out, "    permits (e-license): none for {}", pilot.services.join(", "))?;
    }
    for p in 0..permits.height() {
        let issued = dates(&permits, pm::ISSUED_ON, p).expect("non-null");
        let until = dates(&permits, pm::VALID_UNTIL, p);
        let status = text(&permits, pm::STATUS, p).unwrap_or_default();
        let verdict = if status != pm::ACTIVE {
            format!("does not count: {status}")
        } else if until.is_some_and(|u| u < as_of) {
            format!("does not count: expired on {}", until.unwrap())
        } else if issued >= changed {
            format!("does not count: issued on {issued}, after the change")
        } else {
            "still carries the old name".into()
        };
        writeln!(
            out,
            "    permit {} ({}, issued {issued}, valid until {}): {verdict}",
            text(&permits, pm::PERMIT_ID, p).unwrap_or_default(),
            text(&permits, pm::SERVICE_CODE, p).unwrap_or_default(),
            until.map(|u| u.to_string()).unwrap_or_else(|| "indefinite".into())
        )?;
    }
    let recipient = text(ev, c::IIN, i);
    if kind == event_kind::RENAME {
        match dates(ev, c::HEAD_FROM, i) {
            Some(from) => writeln!(
                out,
                "    first head on {as_of} (ЗТ МДҚ legal_entity_heads): {}, in office since {from}",
                who.show(recipient.as_deref()).replace('—', "not in ЖТ МДҚ")
            )?,
            None => writeln!(out, "    first head on {as_of} (ЗТ МДҚ legal_entity_heads): none in office")?,
        }
    }
    let evidence = [
        (c::DEATH_DATE, "dead or missing: ЖТ МДҚ death date"),
        (c::DEATH_ACT_DATE, "dead or missing: АХАЖ death act"),
        (c::DECLARED_DEAD_ON, "dead or missing: declared dead by a court (ЖТ МДҚ)"),
        (c::MISSING_DECLARED_ON, "dead or missing: declared missing by a court (ЖТ МДҚ)"),
        (c::EMIGRATED_ON, "abroad: left for permanent residence (ЖТ МДҚ)"),
        (c::INCAPABLE_FROM, "incapable: declared by a court (ЖТ МДҚ), from"),
        (c::IMPRISONED_FROM, "imprisoned: in a place of deprivation of liberty (ЖТ МДҚ), from"),
    ];
    let mut any = false;
    for (column, label) in evidence {
        if let Some(d) = dates(ev, column, i) {
            let act = if column == c::DEATH_ACT_DATE {
                format!(" {}", text(ev, c::DEATH_ACT_ID, i).unwrap_or_default())
            } else {
                String::new()
            };
            writeln!(out, "    criterion met — {label}{act} of {d}")?;
            any = true;
        }
    }
    if !any && recipient.is_some() {
        writeln!(out, "    criteria: none of the four met on {as_of}")?;
    }
    let reasons = list(ev, c::REASONS, i);
    writeln!(
        out,
        "    outcome: {outcome_code}{}",
        if reasons.is_empty() || (reasons.len() == 1 && reasons[0] == outcome_code) {
            String::new()
        } else {
            format!(" (reasons: {})", reasons.join(", "))
        }
    )?;
    if outcome_code == outcome::OFFERED {
        writeln!(out, "    case {}", text(ev, c::CASE_ID, i).unwrap_or_default())?;
    }
    Ok(())
}
