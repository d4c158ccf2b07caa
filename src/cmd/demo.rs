//! `sdu demo`: the README's first command. For now: generate the small synthetic world and
//! validate it, checking that validation finds exactly the defects planted.

use crate::registry::validation;
use crate::registry::Snapshot;
use crate::synth::{self, Scale, SynthConfig};
use anyhow::Context;
use chrono::NaiveDate;
use std::path::PathBuf;

/// Run the whole job on the embedded default: the small synthetic world.
///
/// Example:
///   sdu demo --dir data/worlds
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Folder for the demo's world and outputs.
    #[arg(long, default_value = "data/worlds")]
    pub dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = SynthConfig {
        scale: Scale::Small,
        seed: 7,
        as_of: NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid date"),
        dirty_rate: 0.001,
    };
    let world = args.dir.join("demo");
    let started = std::time::Instant::now();
    let summary = synth::generate(&cfg, &world).with_context(|| format!("generating {}", world.display()))?;
    println!(
        "1. generated the small world in {} ({:.1} s)",
        world.display(),
        started.elapsed().as_secs_f64()
    );
    for (table, rows) in &summary.rows {
        println!("     {table:<22} {rows:>10} rows");
    }
    let snapshot = Snapshot::open(&world)?;
    let report = validation::validate(&snapshot).context("validating the demo world")?;
    let out = args.dir.join("demo.validation");
    super::validate::print_table(&report, false);
    super::validate::publish(&report, &out)?;
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
    let planted: u64 = summary.planted.values().sum();
    println!(
        "2. validated it: {} of {planted} planted defect rows found; report in {}",
        planted.min(report.errors() + report.warnings()),
        out.display()
    );
    if !mismatched.is_empty() {
        return Err(super::Failed(format!(
            "validation disagrees with the planted defects: {}",
            mismatched.join("; ")
        ))
        .into());
    }
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
