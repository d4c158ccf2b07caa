//! `sdu demo`: the README's first command. Generates the small synthetic world (a generating
//! command, so it may call [`crate::synth`]), then the demo workflow ([`crate::jobs::demo`]):
//! validation against the planted defects, every day from 2025-01-23 to 2026-11-23 with the
//! labelled portal simulator, and the KPI report in `reports/`.

use super::args::JsonArg;
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
/// Writes `<dir>/world` (the snapshot), `<dir>/validation`, `<dir>/staged` (the staged
/// store), `<dir>/out` (published files and the case ledger) and copies the report to
/// `--reports`.
///
/// Example:
///   sdu demo
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Folder for the demo's world and outputs (replaced).
    #[arg(long, default_value = "data/demo", env = "SDU_DEMO_DIR")]
    pub dir: PathBuf,
    /// Where the final report is copied.
    #[arg(long, default_value = "reports", env = "SDU_DEMO_REPORTS")]
    pub reports: PathBuf,
    #[arg(long, value_parser = parse_date, default_value = "2025-01-23", env = "SDU_DEMO_FROM")]
    pub from: NaiveDate,
    #[arg(long, value_parser = parse_date, default_value = "2026-11-23", env = "SDU_DEMO_TO")]
    pub to: NaiveDate,
    #[arg(long, value_enum, default_value_t = Scale::Small, env = "SDU_DEMO_SCALE")]
    pub scale: Scale,
    /// Share of organizations renamed a year in the demo's world (the real rate is 0.006).
    #[arg(long, default_value_t = 0.1, env = "SDU_DEMO_RENAME_RATE")]
    pub rename_rate: f64,
    /// Multiplier on the shares of organizations holding pilot permits in the demo's world
    /// (a share times the multiplier above 1 means every organization holds it).
    #[arg(long, default_value_t = 125.0, env = "SDU_DEMO_PILOT_BOOST")]
    pub pilot_boost: f64,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let clock = std::time::Instant::now();
    let secs = || clock.elapsed().as_secs_f64();
    // Step lines go to people as the demo goes; under --json, one object at the end.
    let say = |line: String| {
        if !args.json.json {
            println!("{line}");
        }
    };
    // A small world shows a handful of cases at the real rates (a few thousand renames a year
    // nationwide, 1/100 of it here); the demo raises renames (0.1 a year, ×17) and makes pilot
    // permits common (×125) so every pilot has cases in every chart: hundreds for sanitary and
    // ecology, about 80 for trusted software (its permits run 3 years and the synthetic world
    // does not renew them, so most have expired). `sdu synth` keeps the real rates.
    if args.to < args.from {
        let msg = format!("--to {} is before --from {}", args.to, args.from);
        return Err(UsageError::Argument(msg).into());
    }
    let mut cfg = SynthConfig::new(args.scale, 7, args.to, 0.001);
    (cfg.rename_rate, cfg.pilot_boost) = (Some(args.rename_rate), Some(args.pilot_boost));
    let world = args.dir.join("world");
    outdir::check(&world, Kind::World).map_err(UsageError::Output)?;
    check_reports(&args.reports)?;
    let summary = synth::generate(&cfg, &world).with_context(|| format!("generating {}", world.display()))?;
    let (rows, scale): (u64, _) = (summary.rows.values().sum(), args.scale);
    say(format!(
        "1. generated the {scale:?} SYNTHETIC world (renames {:.2} a year, pilot permits ×{:.0} for the demo): {rows} rows in 7 registries → {} ({:.1} s)",
        args.rename_rate,
        args.pilot_boost,
        world.display(),
        secs()
    ));
    let demo = Demo {
        dir: &args.dir,
        world: &world,
        reports: &args.reports,
        from: args.from,
        to: args.to,
        planted: &summary.planted,
    };
    let planted = check_planted(&demo)?;
    say(format!("2. validated it: all {planted} planted defect rows found and left out ({:.1} s)", secs()));
    say(format!("3. replaying every day from {} to {} with the SIMULATED portal...", args.from, args.to));
    let done = replay(&demo, planted)?;
    say(format!("   done ({:.1} s)", secs()));
    let finished = Finished {
        simulated: true,
        world: world.clone(),
        world_rows: rows,
        planted_defects_found: planted,
        from: args.from,
        to: args.to,
        out: done.out.clone(),
        reports: args.reports.clone(),
        cases: done.status,
        seconds: secs(),
    };
    args.json.print(&finished, |f| f.lines())
}

/// What the demo made: the world, the replayed campaign's cases by pilot and state, where
/// the files and the report are.
#[derive(Debug, serde::Serialize)]
struct Finished {
    simulated: bool,
    world: PathBuf,
    world_rows: u64,
    planted_defects_found: u64,
    from: NaiveDate,
    to: NaiveDate,
    out: PathBuf,
    reports: PathBuf,
    cases: crate::jobs::status::Status,
    seconds: f64,
}

impl Finished {
    fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.cases.lines(None).iter().map(|l| format!("   {l}")).collect();
        lines.push(format!(
            "4. KPI report → {}/report.html (and report.md, kpi.parquet|csv|json, charts/)",
            self.reports.display()
        ));
        let out = self.out.display();
        lines.push(format!(
            "   published files and the case ledger → {out}; `sdu campaign status --out {out}`"
        ));
        lines.push(format!("done in {:.1} s", self.seconds));
        lines
    }
}
