//! `sdu demo`: the README's first command. Generates the small synthetic world, validates it
//! (checking that validation finds exactly the defects planted), backfills every day from
//! 2025-01-23 to 2026-11-23 across the three pilots' periods in force with the (labelled)
//! portal simulator answering the SMS, and leaves the KPI report in `reports/`.

use crate::config::load_pilots;
use crate::io::Lock;
use crate::registry::validation;
use crate::registry::Snapshot;
use crate::synth::{self, Scale, SynthConfig};
use anyhow::Context;
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

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
    #[arg(long, value_parser = super::parse_date, default_value = "2025-01-23")]
    pub from: NaiveDate,
    #[arg(long, value_parser = super::parse_date, default_value = "2026-11-23")]
    pub to: NaiveDate,
    #[arg(long, value_enum, default_value_t = Scale::Small)]
    pub scale: Scale,
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    // A small world shows a handful of cases at the real rates (a few thousand renames a year
    // nationwide, 1/100 of it here); the demo raises renames ×7 and pilot permits ×4 so every
    // pilot has cases to show. `sdu synth` keeps the real rates unless asked.
    let mut cfg = SynthConfig::new(args.scale, 7, args.to, 0.001);
    cfg.rename_rate = Some(0.04);
    cfg.pilot_boost = Some(4.0);
    let world = args.dir.join("world");
    let summary = synth::generate(&cfg, &world).with_context(|| format!("generating {}", world.display()))?;
    let rows: u64 = summary.rows.values().sum();
    println!(
        "1. generated the {:?} world (renames ×7, pilot permits ×4 for the demo): {rows} rows in 7 registries → {} ({:.1} s)",
        args.scale,
        world.display(),
        started.elapsed().as_secs_f64()
    );

    let snapshot = Snapshot::open(&world)?;
    let report = validation::validate(&snapshot).context("validating the demo world")?;
    super::validate::publish(&report, &args.dir.join("validation"))?;
    let mismatched: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.failing_rows != summary.planted.get(&r.rule).copied().unwrap_or(0))
        .map(|r| {
            format!(
                "{} (found {}, planted {})",
                r.rule,
                r.failing_rows,
                summary.planted.get(&r.rule).copied().unwrap_or(0)
            )
        })
        .collect();
    if !mismatched.is_empty() {
        return Err(super::Failed(format!(
            "validation disagrees with the planted defects: {}",
            mismatched.join("; ")
        ))
        .into());
    }
    let planted: u64 = summary.planted.values().sum();
    println!(
        "2. validated it: all {planted} planted defect rows found and left out ({:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let out = args.dir.join("out");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("clearing {}", out.display()))?;
    }
    let _lock = Lock::acquire(&out)?;
    let runner = super::run::Runner::open(&world, &out, load_pilots(None)?, true)?;
    println!("3. replaying every day from {} to {} with the SIMULATED portal...", args.from, args.to);
    let report = super::backfill::execute(&runner, args.from, args.to, Some(7), false, true)?
        .context("the backfill wrote no report")?;
    println!("   done ({:.1} s)", started.elapsed().as_secs_f64());
    for line in super::campaign::status_lines(&out, &runner.pilots)? {
        println!("   {line}");
    }

    if args.reports.exists() {
        for e in std::fs::read_dir(&args.reports)?.flatten() {
            if e.file_name() != ".gitkeep" {
                let p = e.path();
                if p.is_dir() {
                    std::fs::remove_dir_all(p)?
                } else {
                    std::fs::remove_file(p)?
                }
            }
        }
    }
    copy_dir(Path::new(&report), &args.reports)?;
    println!(
        "4. KPI report → {}/report.html (and report.md, kpi.parquet|csv|json, charts/)",
        args.reports.display()
    );
    println!(
        "   published files and the case ledger → {}; `sdu campaign status --out {}`",
        out.display(),
        out.display()
    );
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
