//! Staging a snapshot for a run: every registry the day reads, checked against the contract
//! and its row rules (rows failing an error rule are left out and counted), with the
//! manifest's entries. A daily run or a backfill stages once and evaluates many times.

use crate::frames::collect_streaming;
use crate::io;
use crate::layout;
use crate::pipeline::candidates::{Registries, Slices};
use crate::publish::{read_manifest, InputEntry};
use crate::registry::{
    civil_acts, heads, individuals, legal_entities, mobile_base, permits, renames, Snapshot, Staged,
    TableSpec, TABLES,
};
use anyhow::Context;
use polars::prelude::{IntoLazy, LazyFrame};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The registries the candidates read: all but МАБ, which only dispatch reads.
fn reads() -> impl Iterator<Item = &'static TableSpec> {
    TABLES.iter().copied().filter(|t| t.name != mobile_base::SPEC.name)
}

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
    for t in reads() {
        let _contract_checked = snapshot.scan(t)?;
    }
    let mut staged = BTreeMap::new();
    let mut slices = BTreeMap::new();
    let mut entries = Vec::new();
    let mut left_out = BTreeMap::new();
    for t in reads() {
        let clock = std::time::Instant::now();
        let s = snapshot.stage(t)?;
        let staged_in = clock.elapsed().as_secs_f64();
        if s.left_out > 0 {
            tracing::warn!("{}: {} rows fail validation and are left out", t.file_name(), s.left_out);
        }
        let clock = std::time::Instant::now();
        let sha256 = if hash { input_sha256(snapshot, &s)? } else { String::new() };
        tracing::debug!(
            "{}: {} rows staged in {staged_in:.2} s, hashed in {:.2} s",
            t.file_name(),
            s.rows,
            clock.elapsed().as_secs_f64()
        );
        entries.push(InputEntry { file: t.file_name(), sha256, rows: s.rows, left_out: s.left_out });
        left_out.insert(t.name.to_string(), s.left_out);
        staged.insert(t.name, s.frame);
        slices.insert(t.name, s.slice);
    }
    let mut take = |t: &TableSpec| staged.remove(t.name).expect("staged above");
    let registries = Registries {
        legal_entities: take(&legal_entities::SPEC),
        renames: take(&renames::SPEC),
        heads: take(&heads::SPEC),
        permits: take(&permits::SPEC),
        individuals: take(&individuals::SPEC),
        civil_acts: take(&civil_acts::SPEC),
        slices: Slices::of(
            slices.remove(legal_entities::SPEC.name).flatten(),
            slices.remove(heads::SPEC.name).flatten(),
            slices.remove(permits::SPEC.name).flatten(),
            slices.remove(individuals::SPEC.name).flatten(),
            slices.remove(civil_acts::SPEC.name).flatten(),
        ),
    };
    Ok(Inputs { registries, entries, left_out })
}

/// A staged registry file's SHA-256, for the manifest: the store's (computed once, while
/// staging), else hashed now.
fn input_sha256(snapshot: &Snapshot, staged: &Staged) -> Result<String, io::IoError> {
    match &staged.sha256 {
        Some(known) => Ok(known.clone()),
        None => io::sha256_file(&snapshot.path(staged.table)),
    }
}

/// МАБ's manifest entry.
pub fn mobile_entry(snapshot: &Snapshot, mobile: &Staged) -> anyhow::Result<InputEntry> {
    Ok(InputEntry {
        file: mobile_base::SPEC.file_name(),
        sha256: input_sha256(snapshot, mobile)?,
        rows: mobile.rows,
        left_out: mobile.left_out,
    })
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
    /// looking up only the keys the day needs, so memory stays that of one day. With slices
    /// (staged through a store) the rows counted and held are the slices' (and the renames'),
    /// not the files', which stay on disk for a lookup outside the slices' domain: a country
    /// snapshot's 350 thousand rows are held instead of its 46 M read each day.
    pub fn open(snapshot: Snapshot, many_days: bool, guard: &InputGuard) -> anyhow::Result<StagedSnapshot> {
        let mut inputs = stage_inputs(&snapshot, true)
            .with_context(|| format!("reading snapshot {}", snapshot.dir().display()))?;
        let mut mobile = snapshot.stage(&mobile_base::SPEC)?;
        let mut entries = inputs.entries.clone();
        entries.push(mobile_entry(&snapshot, &mobile)?);
        guard.check(&entries)?;
        let r = &mut inputs.registries;
        let (rows, held): (u64, Vec<&mut LazyFrame>) = match (&mut r.slices, &mut mobile.slice) {
            // Sliced: the slices and the renames are held; the files stay on disk for a lookup
            // outside the domain.
            (Some(s), Some(m)) => {
                let rows = s.legal_entities.rows
                    + s.heads.rows
                    + s.permits.rows
                    + s.individuals.rows
                    + s.civil_acts.rows
                    + m.rows
                    + inputs
                        .entries
                        .iter()
                        .find(|e| e.file == renames::SPEC.file_name())
                        .map_or(0, |e| e.rows);
                let held = vec![
                    &mut r.renames,
                    &mut s.legal_entities.frame,
                    &mut s.heads.frame,
                    &mut s.permits.frame,
                    &mut s.individuals.frame,
                    &mut s.civil_acts.frame,
                    &mut m.frame,
                ];
                (rows, held)
            }
            _ => {
                let rows = mobile.rows + inputs.entries.iter().map(|e| e.rows).sum::<u64>();
                let held = vec![
                    &mut r.legal_entities,
                    &mut r.renames,
                    &mut r.heads,
                    &mut r.permits,
                    &mut r.individuals,
                    &mut r.civil_acts,
                    &mut mobile.frame,
                ];
                (rows, held)
            }
        };
        if many_days && rows <= KEEP_IN_MEMORY_ROWS {
            for lf in held {
                *lf = collect_streaming(lf.clone())?.lazy();
            }
            tracing::debug!("{rows} registry rows kept in memory for the days to come");
        }
        Ok(StagedSnapshot { snapshot, inputs, mobile })
    }
}

/// The share of rows a registry may lose against the previous run, unless told otherwise.
pub const DEFAULT_MAX_DROP: f64 = 0.2;

/// How much a registry may shrink against the previous run before a run stops, before
/// anything is decided from it: an empty or truncated snapshot must not make every case
/// `no_mobile` or every event vanish without a word.
#[derive(Debug, Clone)]
pub struct InputGuard {
    /// The output folder whose published manifests give the previous row counts.
    pub out: PathBuf,
    /// The largest share of rows a registry may lose (0.2: 20 %).
    pub max_drop: f64,
    /// Run anyway, with a warning (an empty registry or a drop that is real).
    pub accept: bool,
    /// Compare only with runs of days before this one (a backfill's snapshot of a day, a
    /// day run again): later days may have read a later, larger snapshot.
    pub before: Option<chrono::NaiveDate>,
}

/// A registry that is empty, or shrank past the guard.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{file}: has no rows; nothing is decided from an empty registry (pass --accept-drop if it is really empty)")]
    Empty { file: String },
    #[error(
        "{file}: {now} rows against {before} in the previous run ({manifest}), {pct:.1} % fewer, more than the \
         {max:.0} % allowed (--max-drop); nothing is decided from a truncated registry (pass --accept-drop if the \
         drop is real)"
    )]
    Dropped { file: String, now: u64, before: u64, pct: f64, max: f64, manifest: PathBuf },
}

/// The row count of each input file in the latest published manifest that lists it (a
/// manifest that does not read is passed over: an older one serves).
fn previous_rows(out: &Path, before: Option<chrono::NaiveDate>) -> BTreeMap<String, (u64, PathBuf)> {
    let mut found = BTreeMap::new();
    let days = layout::days(out).unwrap_or_default();
    for (_, day) in days.iter().rev().filter(|(d, _)| before.is_none_or(|b| *d < b)) {
        for folder in layout::visible_entries(day).unwrap_or_default() {
            let Some(manifest) = read_manifest(&folder) else { continue };
            for i in manifest.inputs {
                found.entry(i.file).or_insert((i.rows, folder.join(layout::MANIFEST)));
            }
        }
        if found.len() >= TABLES.len() {
            break;
        }
    }
    found
}

impl InputGuard {
    /// Checks the staged row counts: none empty, none shrunk past `max_drop`.
    pub fn check(&self, entries: &[InputEntry]) -> Result<(), InputError> {
        let previous = previous_rows(&self.out, self.before);
        for e in entries {
            let problem = if e.rows == 0 {
                Some(InputError::Empty { file: e.file.clone() })
            } else {
                previous.get(&e.file).and_then(|(before, manifest)| {
                    let pct = 100.0 * (*before as f64 - e.rows as f64) / *before as f64;
                    (pct > 100.0 * self.max_drop).then(|| InputError::Dropped {
                        file: e.file.clone(),
                        now: e.rows,
                        before: *before,
                        pct,
                        max: 100.0 * self.max_drop,
                        manifest: manifest.clone(),
                    })
                })
            };
            match problem {
                Some(p) if self.accept => tracing::warn!("{p} — accepted (--accept-drop)"),
                Some(p) => return Err(p),
                None => {}
            }
        }
        Ok(())
    }
}
