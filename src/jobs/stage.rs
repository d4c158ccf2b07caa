//! Staging a snapshot for a run: every registry the day reads, checked against the contract
//! and its row rules (rows failing an error rule are left out and counted), with the
//! manifest's entries. A daily run or a backfill stages once and evaluates many times.

use crate::frames::collect_streaming;
use crate::io;
use crate::pipeline::candidates::Registries;
use crate::publish::InputEntry;
use crate::registry::{
    civil_acts, heads, individuals, legal_entities, mobile_base, permits, renames, Snapshot, Staged,
    TableSpec,
};
use anyhow::Context;
use polars::prelude::IntoLazy;
use std::collections::BTreeMap;

/// The registries the candidates read.
const READS: [&TableSpec; 6] = [
    &legal_entities::SPEC,
    &renames::SPEC,
    &heads::SPEC,
    &permits::SPEC,
    &individuals::SPEC,
    &civil_acts::SPEC,
];

/// Above this many registry rows (all files together) a backfill reads the staged files
/// each day instead of holding them: the medium world (4.7 M rows) takes about 1 GB held.
pub const KEEP_IN_MEMORY_ROWS: u64 = 10_000_000;

/// The registries the candidates read, staged, with their manifest entries.
pub struct Inputs {
    pub registries: Registries,
    pub entries: Vec<InputEntry>,
    pub left_out: BTreeMap<String, u64>,
}

/// Stages the registries (checking every file against the contract before reading a row),
/// counts what validation leaves out and, for the manifest, hashes the files (`hash`).
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
        if s.left_out > 0 {
            tracing::warn!("{}: {} rows fail validation and are left out", t.file_name(), s.left_out);
        }
        let clock = std::time::Instant::now();
        let sha256 = if hash { io::sha256_file(&snapshot.path(t))? } else { String::new() };
        tracing::debug!(
            "{}: {} rows staged in {staged_in:.2} s, hashed in {:.2} s",
            t.file_name(),
            s.rows,
            clock.elapsed().as_secs_f64()
        );
        entries.push(InputEntry { file: t.file_name(), sha256, rows: s.rows, left_out: s.left_out });
        left_out.insert(t.name.to_string(), s.left_out);
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

/// Every registry a day reads, staged once for any number of days.
pub struct StagedSnapshot {
    pub snapshot: Snapshot,
    pub inputs: Inputs,
    pub mobile: Staged,
}

impl StagedSnapshot {
    /// Stages every registry once (the row rules run here). For many days (`many_days`, a
    /// backfill) a snapshot of at most [`KEEP_IN_MEMORY_ROWS`] rows is kept in memory, so
    /// each day evaluates without reading a file; a larger one is read again each day,
    /// looking up only the keys the day needs, so memory stays that of one day.
    pub fn open(snapshot: Snapshot, many_days: bool) -> anyhow::Result<StagedSnapshot> {
        let mut inputs = stage_inputs(&snapshot, true)
            .with_context(|| format!("reading snapshot {}", snapshot.dir().display()))?;
        let mut mobile = snapshot.stage(&mobile_base::SPEC)?;
        let rows = mobile.rows + inputs.entries.iter().map(|e| e.rows).sum::<u64>();
        if many_days && rows <= KEEP_IN_MEMORY_ROWS {
            let r = &mut inputs.registries;
            for lf in [
                &mut r.legal_entities,
                &mut r.renames,
                &mut r.heads,
                &mut r.permits,
                &mut r.individuals,
                &mut r.civil_acts,
                &mut mobile.frame,
            ] {
                *lf = collect_streaming(lf.clone())?.lazy();
            }
            tracing::debug!("{rows} registry rows kept in memory for the days to come");
        }
        Ok(StagedSnapshot { snapshot, inputs, mobile })
    }
}
