//! `sdu synth`: writes a synthetic snapshot of the seven registries.

use super::args::JsonArg;
use crate::jobs::UsageError;
use crate::outdir::{self, Kind};
use crate::synth::{self, Scale, SynthConfig};
use anyhow::Context;
use chrono::NaiveDate;
use std::path::PathBuf;

/// Generate a deterministic synthetic snapshot that follows SCHEMA.md.
///
/// The same seed, scale and date give byte-identical files. Country scale is 20 M people,
/// 600 k legal entities, 3 M permits and 16 M mobile numbers.
///
/// Example:
///   sdu synth --out data/worlds/small --scale small --seed 7 --as-of 2026-11-23
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Folder to write (created, or replaced atomically).
    #[arg(long, env = "SDU_SYNTH_OUT")]
    pub out: PathBuf,
    /// The size of the world (README, "The synthetic world"; docs/scaling.md).
    #[arg(long, value_enum, default_value_t = Scale::Small, env = "SDU_SYNTH_SCALE")]
    pub scale: Scale,
    #[arg(long, default_value_t = 7, env = "SDU_SYNTH_SEED")]
    pub seed: u64,
    /// The snapshot's date (YYYY-MM-DD): nothing in the world happens after it.
    #[arg(long, value_parser = crate::time::parse_date, default_value = "2026-11-23", env = "SDU_SYNTH_AS_OF")]
    pub as_of: NaiveDate,
    /// Share of rows given a planted defect, per defect class.
    #[arg(long, default_value_t = 0.001, env = "SDU_SYNTH_DIRTY_RATE")]
    pub dirty_rate: f64,
    /// Plant no defects (same as --dirty-rate 0).
    #[arg(long, env = "SDU_SYNTH_CLEAN", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub clean: bool,
    /// Share of organizations renamed a year [default: the scale's, 0.006].
    #[arg(long, env = "SDU_SYNTH_RENAME_RATE")]
    pub rename_rate: Option<f64>,
    /// Multiplier on the shares of organizations holding pilot permits [default: the scale's].
    #[arg(long, env = "SDU_SYNTH_PILOT_BOOST")]
    pub pilot_boost: Option<f64>,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let bad = [
        (
            args.rename_rate.is_some_and(|r| !(0.0..=1.0).contains(&r)),
            "--rename-rate must be in 0..1".to_string(),
        ),
        (
            args.pilot_boost.is_some_and(|b| !(0.0..=20.0).contains(&b)),
            "--pilot-boost must be in 0..20".into(),
        ),
        (
            !(0.0..=0.05).contains(&args.dirty_rate),
            format!("--dirty-rate must be in 0..0.05, got {}", args.dirty_rate),
        ),
        (
            args.as_of < synth::renames_from(),
            format!("--as-of must be on or after {}", synth::renames_from()),
        ),
    ];
    if let Some((_, msg)) = bad.into_iter().find(|(b, _)| *b) {
        return Err(UsageError::Argument(msg).into());
    }
    let dirty_rate = if args.clean { 0.0 } else { args.dirty_rate };
    let mut cfg = SynthConfig::new(args.scale, args.seed, args.as_of, dirty_rate);
    (cfg.rename_rate, cfg.pilot_boost) = (args.rename_rate, args.pilot_boost);
    outdir::check(&args.out, Kind::World).map_err(UsageError::Output)?;
    let started = std::time::Instant::now();
    let summary = synth::generate(&cfg, &args.out)
        .with_context(|| format!("generating the world into {}", args.out.display()))?;
    let done = Done { out: args.out.clone(), seconds: started.elapsed().as_secs_f64(), world: summary };
    args.json.print(&done, |d| d.lines())
}

/// What `synth` prints: the world's folder, how long it took, and its summary (the same as
/// `_synth.json`).
#[derive(Debug, serde::Serialize)]
struct Done {
    out: PathBuf,
    seconds: f64,
    #[serde(flatten)]
    world: synth::SynthSummary,
}

impl Done {
    fn lines(&self) -> Vec<String> {
        let w = &self.world;
        let scale = w.scale.map(|s| format!("{s:?}")).unwrap_or_default();
        let mut lines = vec![format!(
            "wrote {} ({scale} scale, seed {}, as of {}) in {:.1} s",
            self.out.display(),
            w.seed,
            w.as_of,
            self.seconds
        )];
        lines.extend(w.rows.iter().map(|(table, rows)| format!("  {table:<22} {rows:>12} rows")));
        let planted: u64 = w.planted.values().sum();
        if planted > 0 {
            lines.push(format!(
                "  planted defects: {planted} rows over {} rules (see _synth.json)",
                w.planted.len()
            ));
        }
        lines
    }
}
