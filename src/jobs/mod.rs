//! The workflow: the day's work as functions over typed inputs, each returning a typed,
//! `Serialize` summary. This is the only layer that sequences steps: staging a snapshot
//! ([`stage`]), candidates ([`candidates`]), the campaign's [`dispatch`] and [`advance`],
//! the KPI [`report`], a whole [`day`], a [`backfill`], the [`demo`]; and the questions
//! asked of them ([`explain`], [`status`], [`validate`]). Commands (`crate::cmd`) resolve
//! their arguments, call one of these and print the summary.
//!
//! Layers, bottom up (imports point down only): `time`, `frames`, `rng`, `ids`, `layout`,
//! `io`/`publish` → `registry` → `pipeline` → `ledger`, `campaign` → `report` → `jobs` →
//! `cmd`. `synth` (the generator of test worlds) sits beside them and only the commands that
//! generate import it.

pub mod advance;
pub mod backfill;
pub mod candidates;
pub mod day;
pub mod demo;
pub mod dispatch;
mod error;
pub mod explain;
pub mod purge;
pub mod report;
pub mod simulate;
pub mod stage;
pub mod status;
pub mod validate;

pub use error::{Failed, FailedWith, UsageError};

use crate::campaign::log::{self, LogError, Step};
use crate::campaign::{Campaign, CaseEvent};
use crate::config::Pilot;
use crate::publish::{Manifest, PublishError, RunFolder};
use crate::{io, ledger};
use chrono::{NaiveDate, NaiveDateTime};
use std::path::Path;

/// The pilots to run: those named (each must exist, and be in force unless allowed), or
/// every pilot in force on the date.
pub fn select_pilots(
    all: &[Pilot],
    named: &[String],
    as_of: NaiveDate,
    allow_expired: bool,
) -> Result<Vec<Pilot>, UsageError> {
    if named.is_empty() {
        return Ok(all.iter().filter(|p| p.in_force_on(as_of)).cloned().collect());
    }
    let mut out: Vec<Pilot> = Vec::new();
    for id in named {
        let p = all.iter().find(|p| &p.id == id).ok_or_else(|| UsageError::UnknownPilot {
            id: id.clone(),
            known: all.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", "),
        })?;
        if !p.in_force_on(as_of) && !allow_expired {
            return Err(UsageError::NotInForce {
                id: id.clone(),
                as_of,
                from: p.in_force_from,
                until: p.in_force_until,
            });
        }
        if !out.iter().any(|o| &o.id == id) {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Every case offered by `at`, folded with the ledger's events before this run. A ledger
/// that already holds a later run is a usage error: the past is not rewritten.
pub fn load_campaign(
    out: &Path,
    pilots: &[Pilot],
    at: NaiveDateTime,
    step: Step,
) -> anyhow::Result<Campaign> {
    let offers = ledger::to_offers(&ledger::offers_until(out, at.date())?)?;
    let events = log::read_before(out, at, step).map_err(|e| match e {
        later @ LogError::Later { .. } => anyhow::Error::from(UsageError::Past(later)),
        other => other.into(),
    })?;
    Ok(Campaign::load(offers, events, pilots)?)
}

/// Every case and every event the ledger holds.
pub fn load_all(out: &Path, pilots: &[Pilot]) -> anyhow::Result<Campaign> {
    let offers = ledger::to_offers(&ledger::offers_until(out, NaiveDate::MAX)?)?;
    Ok(Campaign::load(offers, log::read_all(out)?, pilots)?)
}

/// Publishes a dispatch's or an advance's folder once: a re-run at the same time that would
/// publish other contents is refused (exit 2), since the portal may have read the first.
fn publish_once(folder: RunFolder, manifest: Manifest) -> anyhow::Result<std::path::PathBuf> {
    folder.publish_once(manifest).map_err(|e| match e {
        PublishError::Differs { path } => UsageError::Rewrite { path }.into(),
        PublishError::Io(e) => e.into(),
    })
}

/// Appends a run's events to the case ledger. A run that changed nothing leaves no file (and
/// a re-run that now changes nothing removes the one it wrote before).
fn record(out: &Path, at: NaiveDateTime, step: Step, events: &[CaseEvent]) -> anyhow::Result<()> {
    io::write_or_remove(&mut log::frame(events)?, &log::file(out, at, step))?;
    Ok(())
}
