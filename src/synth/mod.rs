//! The synthetic world: a deterministic snapshot of the seven registries that follows
//! SCHEMA.md and looks like Kazakhstan.
//!
//! [`generate`] builds people first ([`people`]: ЖТ МДҚ, АХАЖ, МАБ), then organizations
//! ([`orgs`]: ЗТ МДҚ entities, renames and heads, e-license permits), choosing heads and
//! permit holders among the people. Every entity draws from its own keyed random stream
//! ([`crate::rng`]), so chunks are built in parallel and the files are byte-identical for a seed,
//! scale and date. With a dirty rate above zero a few defects of each class are planted and
//! counted in `_synth.json`, so `sdu validate` can be checked against the truth.

pub mod frame;
pub mod names;
pub mod orgs;
pub mod people;

use crate::io::{self, IoError};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The size of the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// About 1/10,000 of the country, with renames and pilot permits made common so a unit
    /// test sees every case.
    Tiny,
    /// About 1/100 of the country.
    Small,
    /// About 1/10 of the country.
    Medium,
    /// 20 M individuals, 600 k legal entities, 3 M permits, 16 M mobile numbers.
    Country,
    /// Three times the country: 60 M individuals (how the job grows past the country).
    #[value(name = "country3")]
    Country3,
}

/// Sizes and rates behind a scale.
#[derive(Debug, Clone, Serialize)]
pub struct Sizes {
    pub individuals: usize,
    pub legal_entities: usize,
    pub permits: usize,
    /// Share of organizations renamed per year (a few thousand a year at country scale).
    pub rename_rate: f64,
    /// Multiplier on the shares of organizations holding pilot permits.
    pub pilot_boost: f64,
    /// Share of specialist-certificate holders drawn among people who changed their name
    /// (0 = as they fall).
    pub holder_name_change_bias: f64,
}

impl Scale {
    pub fn sizes(self) -> Sizes {
        let (individuals, legal_entities, permits) = match self {
            Scale::Tiny => (3_000, 200, 1_000),
            Scale::Small => (200_000, 6_000, 30_000),
            Scale::Medium => (2_000_000, 60_000, 300_000),
            Scale::Country => (20_000_000, 600_000, 3_000_000),
            Scale::Country3 => (60_000_000, 1_800_000, 9_000_000),
        };
        let tiny = self == Scale::Tiny;
        Sizes {
            individuals,
            legal_entities,
            permits,
            rename_rate: if tiny { 0.25 } else { 0.006 },
            pilot_boost: if tiny { 4.0 } else { 1.0 },
            holder_name_change_bias: if tiny { 0.3 } else { 0.0 },
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    pub scale: Scale,
    pub seed: u64,
    pub as_of: NaiveDate,
    /// Share of rows given a planted defect, per defect class; 0 = clean.
    pub dirty_rate: f64,
    /// Overrides of the scale's rename rate (a year) and pilot-permit multiplier, for a world
    /// that must show many cases at a small size (the demo). None: the scale's own.
    pub rename_rate: Option<f64>,
    pub pilot_boost: Option<f64>,
}

impl SynthConfig {
    pub fn new(scale: Scale, seed: u64, as_of: NaiveDate, dirty_rate: f64) -> SynthConfig {
        SynthConfig { scale, seed, as_of, dirty_rate, rename_rate: None, pilot_boost: None }
    }

    /// The scale's sizes and rates with the overrides applied.
    pub fn sizes(&self) -> Sizes {
        let mut s = self.scale.sizes();
        if let Some(r) = self.rename_rate {
            s.rename_rate = r;
        }
        if let Some(b) = self.pilot_boost {
            s.pilot_boost = b;
        }
        s
    }
}

/// The world's history starts here (statuses, deaths, emigration).
pub fn world_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2015, 1, 1).unwrap()
}

/// АХАЖ acts are in the extract from this date (the electronic register).
pub fn acts_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2018, 1, 1).unwrap()
}

/// Rename events are generated from this date (before the first pilot).
pub fn renames_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
}

/// What was written, with the defects planted per validation rule id.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SynthSummary {
    pub scale: Option<Scale>,
    pub seed: u64,
    pub as_of: String,
    pub dirty_rate: f64,
    pub sizes: Option<Sizes>,
    pub rows: BTreeMap<String, u64>,
    /// Planted defects: rule id → failing rows that rule must report.
    pub planted: BTreeMap<String, u64>,
    /// Facts about the world worth checking against reality.
    pub facts: BTreeMap<String, f64>,
}

impl SynthSummary {
    pub fn plant(&mut self, rule: &str, n: u64) {
        if n > 0 {
            *self.planted.entry(rule.to_string()).or_default() += n;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("as-of date {0} is before {1}, where the world's history starts")]
    AsOfTooEarly(NaiveDate, NaiveDate),
}

/// Generates the world into `out` (a folder, created or replaced atomically).
pub fn generate(cfg: &SynthConfig, out: &Path) -> Result<SynthSummary, SynthError> {
    if cfg.as_of < renames_from() {
        return Err(SynthError::AsOfTooEarly(cfg.as_of, renames_from()));
    }
    let staging = io::Staging::new(out)?;
    let mut summary = SynthSummary {
        scale: Some(cfg.scale),
        seed: cfg.seed,
        as_of: cfg.as_of.to_string(),
        dirty_rate: cfg.dirty_rate,
        sizes: Some(cfg.sizes()),
        ..Default::default()
    };
    let world = people::generate(cfg, staging.dir(), &mut summary)?;
    orgs::generate(cfg, &world, staging.dir(), &mut summary)?;
    io::write_json(&summary, &staging.dir().join(crate::layout::SYNTH_SUMMARY))?;
    staging.publish()?;
    tracing::info!(rows = ?summary.rows, "synthetic world written to {}", out.display());
    Ok(summary)
}

/// Writes one registry file of the world and counts its rows.
pub(crate) fn write_table(
    dir: &Path,
    table: &crate::registry::TableSpec,
    mut df: polars::prelude::DataFrame,
    summary: &mut SynthSummary,
) -> Result<(), SynthError> {
    summary.rows.insert(table.name.into(), df.height() as u64);
    io::write_parquet(&mut df, &dir.join(table.file_name()))?;
    Ok(())
}

/// Years between two dates, as a fraction.
pub(crate) fn years_between(a: NaiveDate, b: NaiveDate) -> f64 {
    (b - a).num_days() as f64 / 365.25
}

pub(crate) fn age_on(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}
