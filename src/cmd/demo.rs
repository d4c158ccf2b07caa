//! `sdu demo`: the README's first command. Generates the small synthetic world (a generating
//! command, so it may call [`crate::synth`]), then the demo workflow ([`crate::jobs::demo`]):
//! validation against the planted defects, every day from 2025-01-23 to 2026-11-23 with the
//! labelled portal simulator, and the KPI report in `reports/`.

use crate::jobs::demo::{check_planted, check_reports, replay, Demo};
use crate::jobs::UsageError;
use crate::outdir::{self, Kind};
use crate::synth::{self, Scale, SynthConfig};
use crate::time::parse_date;
use anyhow::Context;
use chrono::NaiveDate;
use std::path::PathBuf;

/// Run the whole job on the embedded default: the small synthetic world, about 22 months of
/// daily runs, and the KPI report.
///
/// Writes `<dir>/world` (the snapshot), `<dir>/validation`, `<dir>/out` (published files and
/// the case ledger) and copies the report to `--reports`.
///
/// Example:
///   sdu demo
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Folder for the demo's world and outputs (replaced).
    #[arg(long, default_value = "data/demo")]
    pub dir: PathBuf,
    /// Where the final report is copied.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
    #[arg(long, value_parser = parse_date, default_value = "2025-01-23")]
    pub from: NaiveDate,
    #[arg(long, value_parser = parse_date, default_value = "2026-11-23")]
    pub to: NaiveDate,
    #[arg(long, value_enum, default_value_t = Scale::Small)]
    pub scale: Scale,
    /// Share of organizations renamed a year in the demo's world (the real rate is 0.006).
    #[arg(long, default_value_t = 0.1)]
    pub rename_rate: f64,
    /// Multiplier on the shares of organizations holding pilot permits in the demo's world
    /// (a share times the multiplier above 1 means every organization holds it).
    #[arg(long, default_value_t = 125.0)]
    pub pilot_boost: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let clock = std::time::Instant::now();
    let secs = || clock.elapsed().as_secs_f64();
    // A small world shows a handful of cases at the real rates (a few thousand renames a year
    // nationwide, 1/100 of it here); the demo raises renames (0.1 a year, ×17) and makes pilot
    // permits common (×125) so every pilot has cases in every chart: hundreds for sanitary and
    // ecology, about 80 for trusted software (its permits run 3 years and the synthetic world
    // does not renew them, so most have expired). `sdu synth` keeps the real rates.
    let mut cfg = SynthConfig::new(args.scale, 7, args.to, 0.001);
    (cfg.rename_rate, cfg.pilot_boost) = (Some(args.rename_rate), Some(args.pilot_boost));
    let world = args.dir.join("world");
    outdir::check(&world, Kind::World).map_err(UsageError::Output)?;
    check_reports(&args.reports)?;
    let summary = synth::generate(&cfg, &world).with_context(|| format!("generating {}", world.display()))?;
    let (rows, scale): (u64, _) = (summary.rows.values().sum(), args.scale);
    println!(
        "1. generated the {scale:?} SYNTHETIC world (renames {:.2} a year, pilot permits ×{:.0} for the demo): {rows} rows in 7 registries → {} ({:.1} s)",
        args.rename_rate,
        args.pilot_boost,
        world.display(),
        secs()
    );
    let demo = Demo {
        dir: &args.dir,
        world: &world,
        reports: &args.reports,
        from: args.from,
        to: args.to,
        planted: &summary.planted,
    };
    let planted = check_planted(&demo)?;
    println!("2. validated it: all {planted} planted defect rows found and left out ({:.1} s)", secs());
    println!("3. replaying every day from {} to {} with the SIMULATED portal...", args.from, args.to);
    let done = replay(&demo, planted)?;
    println!("   done ({:.1} s)", secs());
    done.status.lines(None).iter().for_each(|l| println!("   {l}"));
    println!(
        "4. KPI report → {}/report.html (and report.md, kpi.parquet|csv|json, charts/)",
        args.reports.display()
    );
    let out = done.out.display();
    println!("   published files and the case ledger → {out}; `sdu campaign status --out {out}`");
    println!("done in {:.1} s", secs());
    Ok(())
}
