//! `sdu candidates`: the candidate lists, exclusion statistics and files for the portal
//! (algorithm steps 3–8) for every pilot in force on the run date.

use crate::config::{load_pilots, Pilot};
use crate::io;
use crate::ledger::{self, OFFERED_ON};
use crate::pipeline::candidates::{events, judged, with_organizations, Registries, Scope};
use crate::pipeline::columns as c;
use crate::pipeline::funnel::{self, dimension, DIMENSION, EVENTS, KEY};
use crate::pipeline::{event_kind, outcome};
use crate::publish::{self, InputEntry, Manifest, RunFolder, RunInfo};
use crate::registry::{
    civil_acts, heads, individuals, legal_entities, permits, renames, Snapshot, TableSpec,
};
use anyhow::Context;
use chrono::NaiveDate;
use polars::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Find whom to offer the re-issue, for every pilot in force on the date.
///
/// Publishes `<out>/<as-of>/<pilot>/` atomically: organizations and recipients (Parquet and
/// CSV), outcomes (every event in scope), funnel.json, manifest.json and _SUCCESS. A case
/// offered on an earlier date is not offered again.
///
/// Example:
///   sdu candidates --snapshot data/worlds/small --as-of 2026-11-23 --out out
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub common: super::RunArgs,
    /// Where the run folders and the case ledger live.
    #[arg(long)]
    pub out: PathBuf,
}

/// A resolved candidates job.
pub struct Job {
    pub snapshot: Snapshot,
    pub as_of: NaiveDate,
    pub out: PathBuf,
    pub pilots: Vec<Pilot>,
}

/// What one pilot's run produced, before publication.
pub struct PilotRun {
    pub pilot: Pilot,
    pub outcomes: DataFrame,
    pub organizations: DataFrame,
    pub recipients: DataFrame,
    pub funnel: Value,
}

/// The registries the candidates read, staged, with their manifest entries.
pub struct Inputs {
    pub registries: Registries,
    pub entries: Vec<InputEntry>,
    pub left_out: BTreeMap<String, u64>,
}

const READS: [&TableSpec; 6] = [
    &legal_entities::SPEC,
    &renames::SPEC,
    &heads::SPEC,
    &permits::SPEC,
    &individuals::SPEC,
    &civil_acts::SPEC,
];

fn count(lf: LazyFrame, column: &str) -> PolarsResult<u64> {
    let df = crate::pipeline::collect_streaming(lf)?;
    Ok(df.column(column)?.cast(&DataType::UInt64)?.u64()?.get(0).unwrap_or(0))
}

/// Stages the registries (checking every file against the contract before reading a row),
/// counts what validation leaves out and, for the manifest, hashes the files.
pub fn stage_inputs(snapshot: &Snapshot, hash: bool) -> anyhow::Result<Inputs> {
    for t in READS {
        let _contract_checked = snapshot.scan(t)?;
    }
    let mut staged = BTreeMap::new();
    let mut entries = Vec::new();
    let mut left_out = BTreeMap::new();
    for t in READS {
        let clock = std::time::Instant::now();
        let s = snapshot.stage(t)?;
        let staged_in = clock.elapsed().as_secs_f64();
        let rows = s.rows;
        let out = s.left_out;
        if out > 0 {
            tracing::warn!("{}: {out} rows fail validation and are left out", t.file_name());
        }
        let path = snapshot.path(t);
        let clock = std::time::Instant::now();
        let sha256 = if hash { io::sha256_file(&path)? } else { String::new() };
        tracing::debug!(
            "{}: {rows} rows staged in {staged_in:.2} s, hashed in {:.2} s",
            t.file_name(),
            clock.elapsed().as_secs_f64()
        );
        entries.push(InputEntry { file: t.file_name(), sha256, rows, left_out: out });
        left_out.insert(t.name.to_string(), out);
        staged.insert(t.name, s.frame);
    }
    let mut take = |t: &TableSpec| staged.remove(t.name).expect("staged above");
    let registries = Registries {
        legal_entities: take(&legal_entities::SPEC),
        renames: take(&renames::SPEC),
        heads: take(&heads::SPEC),
        permits: take(&permits::SPEC),
        individuals: take(&individuals::SPEC),
        civil_acts: take(&civil_acts::SPEC),
    };
    Ok(Inputs { registries, entries, left_out })
}

/// Steps 3–6 for one pilot: every event in scope with its outcome, reasons and evidence.
/// The pipeline's three steps, each collected (streaming) before the next looks its keys up.
pub fn evaluate(r: &Registries, s: Scope) -> PolarsResult<DataFrame> {
    let collect = crate::pipeline::collect_streaming;
    let clock = std::time::Instant::now();
    let lap = |step: &str, rows: usize| {
        tracing::debug!("{}: {step}: {rows} rows at {:.2} s", s.pilot.id, clock.elapsed().as_secs_f64())
    };
    let events = collect(events(r, s)?)?;
    lap("events", events.height());
    let with_org = collect(with_organizations(r, s, &events)?)?;
    lap("organizations, permits, heads", with_org.height());
    let judged = collect(judged(r, s, &with_org)?)?;
    lap("recipients and outcomes", judged.height());
    Ok(judged)
}

/// Evaluates one pilot: outcomes of every event, the new offers, the funnel.
pub fn run_pilot(job: &Job, inputs: &Inputs, pilot: &Pilot) -> anyhow::Result<PilotRun> {
    let scope = Scope { pilot, as_of: job.as_of };
    let prior = ledger::offered_before(&job.out, &pilot.id, job.as_of)?;
    let plan = evaluate(&inputs.registries, scope)?
        .lazy()
        .join(prior, [col(c::CASE_ID)], [col(c::CASE_ID)], JoinArgs::new(JoinType::Left))
        .rename([OFFERED_ON], [c::PREVIOUSLY_OFFERED_ON], true)
        .sort([c::EVENT_ID], SortMultipleOptions::default());
    let outcomes = crate::pipeline::collect_streaming(plan)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("evaluating pilot {}", pilot.id))?;
    let new_offer = col(c::OUTCOME).eq(lit(outcome::OFFERED)).and(col(c::PREVIOUSLY_OFFERED_ON).is_null());
    let organizations = outcomes
        .clone()
        .lazy()
        .filter(new_offer.clone().and(col(c::EVENT_KIND).eq(lit(event_kind::RENAME))))
        .select([
            col(c::PILOT),
            col(c::BIN),
            col(c::NEW_NAME_KK),
            col(c::NEW_NAME_RU),
            col(c::EVENT_ID),
            col(c::CASE_ID),
            col(c::OLD_NAME_KK),
            col(c::OLD_NAME_RU),
            col(c::CHANGED_ON),
            col(c::REGION),
            col(c::PERMIT_IDS),
            col(c::SERVICES),
        ])
        .collect()?;
    let mut recipients = outcomes
        .clone()
        .lazy()
        .filter(new_offer)
        .select([
            col(c::PILOT),
            col(c::CASE_ID),
            col(c::EVENT_ID),
            col(c::IIN),
            col(c::BIN),
            col(c::RECIPIENT_NAME),
            col(c::NEW_NAME_KK),
            col(c::NEW_NAME_RU),
            col(c::OLD_NAME_KK),
            col(c::OLD_NAME_RU),
            col(c::REGION),
            col(c::PERMIT_IDS),
            col(c::PERMIT_SERVICES),
            col(c::SERVICES),
        ])
        .collect()?;
    let messages = render_messages(pilot, &recipients)?;
    for m in messages {
        recipients.with_column(m)?;
    }
    let counts = funnel::counts(outcomes.clone().lazy())?.collect()?;
    let orphans = count(
        crate::pipeline::candidates::renames_of_quarantined_organizations(&inputs.registries, scope)
            .select([len().alias("rows")]),
        "rows",
    )?;
    let mut funnel = funnel_json(pilot, job.as_of, &outcomes, &counts, &inputs.left_out)?;
    funnel["renames_of_quarantined_organizations"] = serde_json::json!(orphans);
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

fn funnel_json(
    pilot: &Pilot,
    as_of: NaiveDate,
    outcomes: &DataFrame,
    counts: &DataFrame,
    left_out: &BTreeMap<String, u64>,
) -> PolarsResult<Value> {
    let dims = counts.column(DIMENSION)?.str()?;
    let keys = counts.column(KEY)?.str()?;
    let outs = counts.column(c::OUTCOME)?.str()?;
    let ns = counts.column(EVENTS)?.cast(&DataType::UInt64)?;
    let ns = ns.u64()?;
    let mut by: BTreeMap<&str, BTreeMap<String, BTreeMap<String, u64>>> = BTreeMap::new();
    for i in 0..counts.height() {
        let (d, k, o, n) = (
            dims.get(i).unwrap_or(""),
            keys.get(i).unwrap_or(""),
            outs.get(i).unwrap_or(""),
            ns.get(i).unwrap_or(0),
        );
        *by.entry(d).or_default().entry(k.to_string()).or_default().entry(o.to_string()).or_default() += n;
    }
    let total =
        |d: &str, k: &str| -> u64 { by.get(d).and_then(|m| m.get(k)).map(|m| m.values().sum()).unwrap_or(0) };
    let flat = |d: &str, keys: &[&str]| -> Value {
        Value::Object(keys.iter().map(|k| (k.to_string(), json!(total(d, k)))).collect::<Map<_, _>>())
    };
    let nested = |d: &str| -> Value {
        let mut m = Map::new();
        for (k, per) in by.get(d).into_iter().flatten() {
            let events: u64 = per.values().sum();
            m.insert(k.clone(), json!({"events": events, "offered": per.get(outcome::OFFERED).copied().unwrap_or(0), "by_outcome": per}));
        }
        Value::Object(m)
    };
    let mut by_service = nested(dimension::SERVICE);
    if let Value::Object(m) = &mut by_service {
        for s in &pilot.services {
            m.entry(s.clone()).or_insert_with(|| json!({"events": 0, "offered": 0, "by_outcome": {}}));
        }
    }
    let offered = total(dimension::OUTCOME, outcome::OFFERED);
    // Offered today and already offered on an earlier date (a case whose recipient has since
    // met a criterion keeps its earlier date but is not offered today).
    let offered_now = outcomes.column(c::OUTCOME)?.str()?.equal(outcome::OFFERED);
    let previously =
        (offered_now & outcomes.column(c::PREVIOUSLY_OFFERED_ON)?.is_not_null()).sum().unwrap_or(0) as u64;
    Ok(json!({
        "pilot": pilot.id,
        "as_of": as_of.to_string(),
        "events_in_scope": outcomes.height(),
        "by_outcome": flat(dimension::OUTCOME, &outcome::ALL),
        "by_reason": flat(dimension::REASON, &outcome::CRITERIA),
        "by_first_reason": flat(dimension::FIRST_REASON, &outcome::CRITERIA),
        "by_service": by_service,
        "by_region": nested(dimension::REGION),
        "offers": {"offered": offered, "new": offered - previously, "previously_offered": previously},
        "left_out_by_validation": left_out,
    }))
}

/// Publishes one pilot's folder and records its new offers in the ledger.
pub fn publish_pilot(
    job: &Job,
    inputs: &Inputs,
    run: &mut PilotRun,
    info: &RunInfo,
) -> anyhow::Result<PathBuf> {
    let target = job.out.join(job.as_of.to_string()).join(&run.pilot.id);
    let mut folder = RunFolder::new(&target)?;
    folder.parquet("organizations.parquet", &mut run.organizations)?;
    folder.csv("organizations.csv", &run.organizations)?;
    folder.parquet("recipients.parquet", &mut run.recipients)?;
    folder.csv("recipients.csv", &run.recipients)?;
    folder.parquet("outcomes.parquet", &mut run.outcomes)?;
    let events = run.outcomes.height() as u64;
    folder.json("funnel.json", &run.funnel, events)?;
    let path = folder.publish(Manifest {
        schema_version: publish::SCHEMA_VERSION,
        tool: "sdu",
        tool_version: env!("CARGO_PKG_VERSION"),
        run: info.clone(),
        as_of: job.as_of.to_string(),
        pilot: Some(run.pilot.id.clone()),
        snapshot: job.snapshot.dir().display().to_string(),
        inputs: inputs.entries.clone(),
        outputs: vec![],
    })?;
    let mut offers = run
        .recipients
        .clone()
        .lazy()
        .select([
            col(c::CASE_ID),
            col(c::PILOT),
            col(c::EVENT_ID),
            col(c::BIN),
            col(c::IIN),
            crate::pipeline::day(job.as_of).alias(OFFERED_ON),
            col(c::OLD_NAME_KK),
            col(c::OLD_NAME_RU),
            col(c::NEW_NAME_KK),
            col(c::NEW_NAME_RU),
            col(c::PERMIT_IDS),
            col(c::PERMIT_SERVICES),
        ])
        .collect()?;
    io::fail_point("candidates:before-ledger")?;
    io::write_or_remove(&mut offers, &ledger::offers_file(&job.out, &run.pilot.id, job.as_of))?;
    Ok(path)
}

/// Resolves the arguments: the snapshot, the date, the pilots to run.
pub fn resolve(common: &super::RunArgs, out: &Path) -> anyhow::Result<Job> {
    let snapshot = Snapshot::open(&common.snapshot).map_err(|e| super::UsageError(e.to_string()))?;
    let all = load_pilots(common.pilots.as_deref()).map_err(|e| super::UsageError(format!("{e:#}")))?;
    let pilots = super::select_pilots(&all, &common.pilot, common.as_of, common.allow_expired)?;
    Ok(Job { snapshot, as_of: common.as_of, out: out.to_path_buf(), pilots })
}

/// Computes every pilot, then publishes them all: an error before publication publishes
/// nothing.
pub fn execute(job: &Job) -> anyhow::Result<Vec<(PilotRun, PathBuf)>> {
    let inputs = stage_inputs(&job.snapshot, true)
        .with_context(|| format!("reading snapshot {}", job.snapshot.dir().display()))?;
    execute_with(job, &inputs)
}

/// As [`execute`], on registries already staged (a daily run or a backfill reads them once).
pub fn execute_with(job: &Job, inputs: &Inputs) -> anyhow::Result<Vec<(PilotRun, PathBuf)>> {
    let started = chrono::Utc::now();
    let mut runs = Vec::new();
    for pilot in &job.pilots {
        runs.push(run_pilot(job, inputs, pilot)?);
    }
    let info = RunInfo {
        id: publish::run_id(started),
        started_at: started.to_rfc3339(),
        finished_at: chrono::Utc::now().to_rfc3339(),
    };
    let mut done = Vec::new();
    for mut run in runs {
        let path = publish_pilot(job, inputs, &mut run, &info)
            .with_context(|| format!("publishing pilot {}", run.pilot.id))?;
        done.push((run, path));
    }
    Ok(done)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let job = resolve(&args.common, &args.out)?;
    if job.pilots.is_empty() {
        println!("no pilot is in force on {}: nothing to do", job.as_of);
        return Ok(());
    }
    let done = execute(&job)?;
    println!("{:<18} {:>7} {:>8} {:>5} {:>9}  folder", "pilot", "events", "offered", "new", "excluded");
    for (run, path) in done {
        let f = &run.funnel;
        let events = f["events_in_scope"].as_u64().unwrap_or(0);
        let offered = f["offers"]["offered"].as_u64().unwrap_or(0);
        println!(
            "{:<18} {:>7} {:>8} {:>5} {:>9}  {}",
            run.pilot.id,
            events,
            offered,
            f["offers"]["new"].as_u64().unwrap_or(0),
            events - offered,
            path.display()
        );
    }
    Ok(())
}
