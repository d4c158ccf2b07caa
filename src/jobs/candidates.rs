//! Steps 3–8 for every pilot of a run: evaluate the pipeline's plans, keep the rule "a case
//! is offered once" against the offers ledger, and publish each pilot's folder (the
//! organizations and recipients for the portal, every event's outcome, the funnel).

use super::stage::Inputs;
use super::UsageError;
use crate::campaign::log;
use crate::config::Pilot;
use crate::contract;
use crate::frames::collect_streaming;
use crate::io;
use crate::layout;
use crate::ledger::{self, OFFERED_ON};
use crate::pipeline::candidates::{events, judged, renames_of_quarantined_organizations, with_organizations};
use crate::pipeline::candidates::{Registries, Scope};
use crate::pipeline::columns as c;
use crate::pipeline::funnel::{self, Funnel, FunnelInputs};
use crate::pipeline::{event_kind, outcome};
use crate::publish::{read_manifest, InputEntry, Manifest, RunFolder, RunInfo};
use crate::registry::Snapshot;
use anyhow::Context;
use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A resolved candidates job.
pub struct Job {
    pub snapshot: Snapshot,
    pub as_of: NaiveDate,
    pub out: PathBuf,
    pub pilots: Vec<Pilot>,
    /// With a key, each pilot's outcomes are also published to the analysts' tier.
    pub pseudonym: Option<crate::pseudonym::Pseudonymizer>,
}

/// What one pilot's run produced, before publication.
pub struct PilotRun {
    pub pilot: Pilot,
    pub outcomes: DataFrame,
    pub organizations: DataFrame,
    pub recipients: DataFrame,
    pub funnel: Funnel,
}

/// One pilot's published run, as the command prints it.
#[derive(Debug, Clone, Serialize)]
pub struct PilotSummary {
    pub pilot: String,
    pub events_in_scope: u64,
    pub offered: u64,
    pub new: u64,
    pub excluded: u64,
    pub folder: PathBuf,
}

impl PilotSummary {
    /// A pilot's run as its funnel counts it.
    pub fn new(f: &Funnel, folder: &Path) -> PilotSummary {
        PilotSummary {
            pilot: f.pilot.clone(),
            events_in_scope: f.events_in_scope,
            offered: f.offers.offered,
            new: f.offers.new,
            excluded: f.excluded(),
            folder: folder.to_path_buf(),
        }
    }
}

/// What a candidates run published.
#[derive(Debug, Clone, Serialize)]
pub struct CandidatesSummary {
    pub as_of: NaiveDate,
    pub pilots: Vec<PilotSummary>,
}

/// The columns of `recipients.*` before the SMS texts, its last two (src/contract.rs).
fn recipient_columns() -> Vec<&'static str> {
    let all = contract::RECIPIENTS.columns();
    all[..all.len() - 2].to_vec()
}

/// Steps 3–6 for one pilot: every event in scope with its outcome, reasons and evidence.
/// The pipeline's three steps, each collected (streaming) before the next looks its keys up.
pub fn evaluate(r: &Registries, s: Scope) -> PolarsResult<DataFrame> {
    let clock = std::time::Instant::now();
    let lap = |step: &str, rows: usize| {
        tracing::debug!("{}: {step}: {rows} rows at {:.2} s", s.pilot.id, clock.elapsed().as_secs_f64())
    };
    let events = collect_streaming(events(r, s)?)?;
    lap("events", events.height());
    let with_org = collect_streaming(with_organizations(r, s, &events)?)?;
    lap("organizations, permits, heads", with_org.height());
    let judged = collect_streaming(judged(r, s, &with_org)?)?;
    lap("recipients and outcomes", judged.height());
    Ok(judged)
}

fn offered_now() -> Expr {
    col(c::OUTCOME).eq(lit(outcome::OFFERED))
}

/// Offered today and never before: a new case.
fn new_offer() -> Expr {
    offered_now().and(col(c::PREVIOUSLY_OFFERED_ON).is_null())
}

fn select(df: &DataFrame, filter: Expr, columns: &[&str]) -> PolarsResult<DataFrame> {
    df.clone().lazy().filter(filter).select(columns.iter().map(|n| col(*n)).collect::<Vec<_>>()).collect()
}

/// Evaluates one pilot: outcomes of every event, the new offers (a case offered on an
/// earlier date is not offered again), the funnel.
pub fn run_pilot(job: &Job, inputs: &Inputs, pilot: &Pilot) -> anyhow::Result<PilotRun> {
    let scope = Scope { pilot, as_of: job.as_of };
    let prior = ledger::offered_before(&job.out, &pilot.id, job.as_of)?;
    let plan = evaluate(&inputs.registries, scope)?
        .lazy()
        .join(prior, [col(c::CASE_ID)], [col(c::CASE_ID)], JoinArgs::new(JoinType::Left))
        .rename([OFFERED_ON], [c::PREVIOUSLY_OFFERED_ON], true)
        .sort([c::EVENT_ID], SortMultipleOptions::default());
    let outcomes = collect_streaming(plan)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("evaluating pilot {}", pilot.id))?;
    let organizations = select(
        &outcomes,
        new_offer().and(col(c::EVENT_KIND).eq(lit(event_kind::RENAME))),
        &contract::ORGANIZATIONS.columns(),
    )?;
    let mut recipients = select(&outcomes, new_offer(), &recipient_columns())?;
    for m in render_messages(pilot, &recipients)? {
        recipients.with_column(m)?;
    }
    let counts = funnel::counts(outcomes.clone().lazy())?.collect()?;
    let orphans = collect_streaming(
        renames_of_quarantined_organizations(&inputs.registries, scope).select([len().alias("rows")]),
    )?;
    // Offered today and already offered on an earlier date (a case whose recipient has since
    // met a criterion keeps its earlier date but is not offered today).
    let previously = outcomes
        .clone()
        .lazy()
        .filter(offered_now().and(col(c::PREVIOUSLY_OFFERED_ON).is_not_null()))
        .collect()?;
    let funnel = Funnel::new(
        &counts,
        FunnelInputs {
            pilot: &pilot.id,
            services: &pilot.services,
            as_of: job.as_of,
            events_in_scope: outcomes.height() as u64,
            previously_offered: previously.height() as u64,
            left_out: &inputs.left_out,
            renames_of_quarantined_organizations: orphans
                .column("rows")?
                .cast(&DataType::UInt64)?
                .u64()?
                .get(0)
                .unwrap_or(0),
        },
    )?;
    Ok(PilotRun { pilot: pilot.clone(), outcomes, organizations, recipients, funnel })
}

/// `message_kk` and `message_ru` of every recipient (seed 000, annex; seeds 002, 003 annex 1).
fn render_messages(pilot: &Pilot, recipients: &DataFrame) -> PolarsResult<[Column; 2]> {
    let bins = recipients.column(c::BIN)?.str()?;
    let kk = recipients.column(c::NEW_NAME_KK)?.str()?;
    let ru = recipients.column(c::NEW_NAME_RU)?.str()?;
    let render = |text: &str| -> Vec<String> {
        bins.iter()
            .zip(kk.iter().zip(ru.iter()))
            .map(|(b, (k, r))| pilot.render(text, b, k.unwrap_or(""), r.unwrap_or("")))
            .collect()
    };
    Ok([
        Column::new("message_kk".into(), render(&pilot.sms_kk)),
        Column::new("message_ru".into(), render(&pilot.sms_ru)),
    ])
}

/// The offers ledger's rows for a run's new offers (the recipients' rows of its outcomes).
fn offers(outcomes: &DataFrame, as_of: NaiveDate) -> PolarsResult<DataFrame> {
    outcomes
        .clone()
        .lazy()
        .filter(new_offer())
        .select([
            col(c::CASE_ID),
            col(c::PILOT),
            col(c::EVENT_ID),
            col(c::BIN),
            col(c::IIN),
            crate::pipeline::day(as_of).alias(OFFERED_ON),
            col(c::CHANGED_ON),
            col(c::OLD_NAME_KK),
            col(c::OLD_NAME_RU),
            col(c::NEW_NAME_KK),
            col(c::NEW_NAME_RU),
            col(c::PERMIT_IDS),
            col(c::PERMIT_SERVICES),
        ])
        .collect()
}

/// Publishes one pilot's folder and records its new offers in the ledger.
pub fn publish_pilot(
    job: &Job,
    inputs: &Inputs,
    run: &mut PilotRun,
    info: &RunInfo,
) -> anyhow::Result<PathBuf> {
    let target = layout::pilot_dir(&job.out, job.as_of, &run.pilot.id);
    let mut folder = RunFolder::new(&target)?;
    folder.table(&contract::ORGANIZATIONS, &mut run.organizations)?;
    folder.table(&contract::RECIPIENTS, &mut run.recipients)?;
    // Keys in alphabetical order, as published since schema version 1.
    let funnel = serde_json::to_value(&run.funnel)?;
    folder.json(layout::FUNNEL, &funnel, run.outcomes.height() as u64)?;
    let manifest = |info: &RunInfo| {
        Manifest::for_run(
            info.clone(),
            job.as_of.to_string(),
            Some(run.pilot.id.clone()),
            job.snapshot.dir().display().to_string(),
            inputs.entries.clone(),
        )
    };
    // The audit and analysts' tiers first: a run killed between them publishes them all
    // again, while the pilot's folder alone would be taken for a finished day.
    let mut audit = RunFolder::new(&layout::audit_dir(&job.out, job.as_of, &run.pilot.id))?;
    audit.table(&contract::OUTCOMES, &mut run.outcomes)?;
    audit.publish(manifest(info))?;
    if let Some(key) = &job.pseudonym {
        publish_analysts(job, &run.pilot.id, &run.outcomes, manifest(info), key)?;
    }
    let path = folder.publish(manifest(info))?;
    let mut offers = offers(&run.outcomes, job.as_of)?;
    io::fail_point("candidates:before-ledger")?;
    io::write_or_remove(&mut offers, &layout::offers_file(&job.out, &run.pilot.id, job.as_of))?;
    Ok(path)
}

/// Publishes a pilot's day to the analysts' tier under `key`, refused when another day's tier
/// of the folder was made under another key (their pseudonyms would not join).
fn publish_analysts(
    job: &Job,
    pilot: &str,
    outcomes: &DataFrame,
    mut manifest: Manifest,
    key: &crate::pseudonym::Pseudonymizer,
) -> anyhow::Result<()> {
    let fingerprint = key.fingerprint();
    let root = job.out.join(layout::ANALYSTS);
    for (day, folder) in layout::days(&root)? {
        for tier in layout::visible_entries(&folder)? {
            let other = read_manifest(&tier).and_then(|m| m.pseudonym_key);
            if other.as_ref().is_some_and(|o| o != &fingerprint) {
                return Err(UsageError::Argument(format!(
                    "{}: the analysts' tier of {day} was made under another pseudonym key (fingerprint {}, this key's {fingerprint}); one output folder holds one key's pseudonyms: give that key, or use another --out",
                    tier.display(),
                    other.unwrap_or_default()
                ))
                .into());
            }
        }
    }
    let mut analysts = RunFolder::new(&layout::analysts_dir(&job.out, job.as_of, pilot))?;
    analysts.table(&contract::ANALYST_OUTCOMES, &mut analyst_outcomes(outcomes, key)?)?;
    manifest.pseudonym_key = Some(fingerprint);
    analysts.publish(manifest)?;
    Ok(())
}

/// Without the key, a day whose analysts' tier exists may be run again only with the
/// outcomes it had: other outcomes under the old tier would leave it stale. Checked for every
/// pilot before any is published.
fn keeps_analysts_fresh(job: &Job, run: &PilotRun) -> anyhow::Result<()> {
    let tier = layout::analysts_dir(&job.out, job.as_of, &run.pilot.id);
    if !layout::is_published(&tier) {
        return Ok(());
    }
    let published = layout::outcomes_file(&job.out, job.as_of, &run.pilot.id)
        .and_then(|path| io::read_parquet(&path).ok());
    if published.is_some_and(|p| p.equals_missing(&run.outcomes)) {
        return Ok(());
    }
    Err(UsageError::Argument(format!(
        "{}: this day's analysts' tier would go stale; give the pseudonym key (--pseudonym-key or SDU_PSEUDONYM_KEY) to run it again",
        tier.display()
    ))
    .into())
}

/// For a day published before without the key (or whose tier a killed run did not finish):
/// each pilot's analysts' tier, from the outcomes the pilot's folder holds.
fn complete_analysts(job: &Job, key: &crate::pseudonym::Pseudonymizer) -> anyhow::Result<()> {
    for p in &job.pilots {
        let (folder, tier) =
            (layout::pilot_dir(&job.out, job.as_of, &p.id), layout::analysts_dir(&job.out, job.as_of, &p.id));
        let Some(manifest) = read_manifest(&folder) else { continue };
        if layout::is_published(&tier) {
            continue;
        }
        let Some(path) = layout::outcomes_file(&job.out, job.as_of, &p.id) else { continue };
        let outcomes = io::read_parquet(&path)?;
        let manifest = Manifest { outputs: vec![], ..manifest };
        publish_analysts(job, &p.id, &outcomes, manifest, key)?;
    }
    Ok(())
}

/// The analysts' view of a pilot's outcomes (`analyst_outcomes`, src/contract.rs): the
/// event, the organization, the recipient and the case as keyed pseudonyms; no names, permit
/// numbers or dates of the criteria; the outcome and its reasons as they are.
pub fn analyst_outcomes(
    outcomes: &DataFrame,
    key: &crate::pseudonym::Pseudonymizer,
) -> PolarsResult<DataFrame> {
    let pseudonyms = |name: &str, kind: &str| -> PolarsResult<Column> {
        let values: Vec<Option<String>> =
            outcomes.column(name)?.str()?.iter().map(|v| v.map(|v| key.of(kind, v))).collect();
        Ok(Column::new(name.into(), values))
    };
    let mut df = outcomes.clone();
    for (name, kind, alias) in [
        (c::EVENT_ID, "event", "event"),
        (c::BIN, "bin", "organization"),
        (c::IIN, "iin", "person"),
        (c::CASE_ID, "case", "case"),
    ] {
        df.with_column(pseudonyms(name, kind)?.with_name(alias.into()))?;
    }
    df.lazy().select(contract::ANALYST_OUTCOMES.columns().into_iter().map(col).collect::<Vec<_>>()).collect()
}

/// Stages the snapshot (its row counts checked by the guard), then as [`candidates_with`].
pub fn candidates(job: &Job, guard: &super::stage::InputGuard) -> anyhow::Result<CandidatesSummary> {
    let inputs = super::stage::stage_inputs(&job.snapshot, true)
        .with_context(|| format!("reading snapshot {}", job.snapshot.dir().display()))?;
    guard.check(&inputs.entries)?;
    candidates_with(job, &inputs)
}

/// Whether a later step used the candidates of `day`: a campaign run on or after it (the
/// day's dispatch read them), or offers of a later day. Then the latest day the ledger holds.
fn used_since(out: &Path, day: NaiveDate) -> anyhow::Result<Option<NaiveDate>> {
    let offers = ledger::last_offer_day(out)?;
    let campaign = log::last_run(out)?.map(|(at, _)| at.date());
    let used = offers.is_some_and(|d| d > day) || campaign.is_some_and(|d| d >= day);
    Ok(used.then(|| offers.max(campaign).unwrap_or(day)))
}

/// The published folder of a pilot's day, if its manifest names exactly these inputs (the
/// same files by content): its summary.
fn same_run(folder: &Path, inputs: &Inputs) -> Option<PilotSummary> {
    let hashes = |entries: &[InputEntry]| {
        let mut h: Vec<(&str, &str)> = entries.iter().map(|e| (e.file.as_str(), e.sha256.as_str())).collect();
        h.sort();
        h.into_iter().map(|(f, s)| (f.to_string(), s.to_string())).collect::<Vec<_>>()
    };
    if hashes(&read_manifest(folder)?.inputs) != hashes(&inputs.entries) {
        return None;
    }
    let funnel: Funnel = serde_json::from_slice(&std::fs::read(folder.join(layout::FUNNEL)).ok()?).ok()?;
    Some(PilotSummary::new(&funnel, folder))
}

/// A day that a later step already used (its offers dispatched, or a later day offered) is
/// never published again: an exact re-run (the same inputs) changes nothing, anything else is
/// refused. Returns the pilots already published, by id.
fn published_before(job: &Job, inputs: &Inputs) -> anyhow::Result<Vec<PilotSummary>> {
    let Some(last) = used_since(&job.out, job.as_of)? else { return Ok(vec![]) };
    let mut done = Vec::new();
    for p in &job.pilots {
        let folder = layout::pilot_dir(&job.out, job.as_of, &p.id);
        match same_run(&folder, inputs) {
            Some(s) => done.push(s),
            None => {
                return Err(UsageError::Published { day: job.as_of, pilot: p.id.clone(), last }.into());
            }
        }
    }
    Ok(done)
}

/// Computes every pilot, then publishes them all: an error before publication publishes
/// nothing. A day a later step used is not published again (see `published_before`).
pub fn candidates_with(job: &Job, inputs: &Inputs) -> anyhow::Result<CandidatesSummary> {
    let done = published_before(job, inputs)?;
    if !done.is_empty() {
        tracing::info!("candidates of {}: already published with the same inputs; nothing to do", job.as_of);
        if let Some(key) = &job.pseudonym {
            complete_analysts(job, key)?;
        }
        return Ok(CandidatesSummary { as_of: job.as_of, pilots: done });
    }
    let started = chrono::Utc::now();
    let mut runs = Vec::new();
    for pilot in &job.pilots {
        runs.push(run_pilot(job, inputs, pilot)?);
    }
    if job.pseudonym.is_none() {
        runs.iter().try_for_each(|run| keeps_analysts_fresh(job, run))?;
    }
    let info = RunInfo::since(started);
    let mut pilots = Vec::new();
    for mut run in runs {
        let folder = publish_pilot(job, inputs, &mut run, &info)
            .with_context(|| format!("publishing pilot {}", run.pilot.id))?;
        pilots.push(PilotSummary::new(&run.funnel, &folder));
    }
    Ok(CandidatesSummary { as_of: job.as_of, pilots })
}
