//! `sdu demo`: the README's first command. Generates the small synthetic world, validates it
//! (checking that validation finds exactly the defects planted) and publishes the candidate
//! lists for every pilot in force on the demo date.

use crate::config::load_pilots;
use crate::registry::validation;
use crate::registry::Snapshot;
use crate::synth::{self, Scale, SynthConfig};
use anyhow::Context;
use chrono::NaiveDate;
use std::path::PathBuf;

/// Run the whole job on the embedded default: the small synthetic world.
///
/// Writes `<dir>/world` (the snapshot), `<dir>/validation` and `<dir>/out` (the published
/// candidate lists and the case ledger).
///
/// Example:
///   sdu demo --dir data/demo
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Folder for the demo's world and outputs.
    #[arg(long, default_value = "data/demo")]
    pub dir: PathBuf,
    /// The demo's date.
    #[arg(long, value_parser = super::parse_date, default_value = "2026-11-23")]
    pub as_of: NaiveDate,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = SynthConfig { scale: Scale::Small, seed: 7, as_of: args.as_of, dirty_rate: 0.001 };
    let world = args.dir.join("world");
    let started = std::time::Instant::now();
    let summary = synth::generate(&cfg, &world).with_context(|| format!("generating {}", world.display()))?;
    let rows: u64 = summary.rows.values().sum();
    println!(
        "1. generated the small world: {rows} rows in 7 registries in {} ({:.1} s)",
        world.display(),
        started.elapsed().as_secs_f64()
    );

    let snapshot = Snapshot::open(&world)?;
    let report = validation::validate(&snapshot).context("validating the demo world")?;
    let out = args.dir.join("validation");
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
    if !mismatched.is_empty() {
        return Err(super::Failed(format!(
            "validation disagrees with the planted defects: {}",
            mismatched.join("; ")
        ))
        .into());
    }
    let planted: u64 = summary.planted.values().sum();
    println!(
        "2. validated it: all {planted} planted defect rows found, over {} rules; report in {}",
        summary.planted.len(),
        out.display()
    );

    let pilots = load_pilots(None)?.into_iter().filter(|p| p.in_force_on(args.as_of)).collect();
    let job = super::candidates::Job { snapshot, as_of: args.as_of, out: args.dir.join("out"), pilots };
    let done = super::candidates::execute(&job)?;
    println!("3. candidate lists for {}:", args.as_of);
    for (run, path) in &done {
        let f = &run.funnel;
        println!(
            "     {:<18} {:>4} events in scope, {:>3} offered  → {}",
            run.pilot.id,
            f["events_in_scope"].as_u64().unwrap_or(0),
            f["offers"]["offered"].as_u64().unwrap_or(0),
            path.display()
        );
    }
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
