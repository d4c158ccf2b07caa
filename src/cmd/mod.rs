//! The subcommands, one file each. Each has its `Args` (the clap derive struct whose doc
//! comments are the help text) and a `run` that resolves the arguments into a typed config,
//! calls the layers and prints a short summary.

pub mod advance;
pub mod backfill;
pub mod campaign;
mod campaign_common;
pub mod candidates;
pub mod demo;
pub mod dispatch;
pub mod explain;
pub mod report;
pub mod run;
pub mod simulate;
pub mod synth;
pub mod validate;

use clap::{Parser, Subcommand};

/// sdu: Smart Data Ukimet proactive re-registration pilots.
///
/// Reads registry snapshots (Parquet), finds whom to offer the re-issue of permits after an
/// organization's rename, and reports on the pilots.
///
/// Example:
///   sdu synth --out data/worlds/small --scale small --seed 7 --as-of 2026-11-23
///   sdu validate --snapshot data/worlds/small
#[derive(Debug, Parser)]
#[command(name = "sdu", version, about, long_about, verbatim_doc_comment)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace). Logs go to stderr.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Candidates(candidates::Args),
    Dispatch(dispatch::Args),
    Advance(advance::Args),
    Campaign(campaign::Args),
    SimulatePortal(simulate::Args),
    Report(report::Args),
    Run(run::Args),
    Backfill(backfill::Args),
    Demo(demo::Args),
    Explain(explain::Args),
    Synth(synth::Args),
    Validate(validate::Args),
}

/// An error in what the user asked for (exit code 2), as opposed to a failure while doing it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A run that completed but found what must fail it (exit code 1, message already printed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failed(pub String);

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Candidates(args) => candidates::run(args),
        Command::Dispatch(args) => dispatch::run(args),
        Command::Advance(args) => advance::run(args),
        Command::Campaign(args) => campaign::run(args),
        Command::SimulatePortal(args) => simulate::run(args),
        Command::Report(args) => report::run(args),
        Command::Run(args) => run::run(args),
        Command::Backfill(args) => backfill::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Validate(args) => validate::run(args),
    }
}

/// Parses a `YYYY-MM-DD` date argument.
pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("expected a date as YYYY-MM-DD: {e}"))
}

/// Arguments shared by the commands that run pilots on a snapshot and a date.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The snapshot folder (one Parquet file per registry).
    #[arg(long)]
    pub snapshot: std::path::PathBuf,
    /// The run date (YYYY-MM-DD), Asia/Almaty.
    #[arg(long, value_parser = parse_date)]
    pub as_of: chrono::NaiveDate,
    /// Run only these pilots (repeatable) [default: every pilot in force on the date].
    #[arg(long = "pilot", value_name = "ID")]
    pub pilot: Vec<String>,
    /// Allow a named pilot that is not in force on the date.
    #[arg(long)]
    pub allow_expired: bool,
    /// Pilots file [default: the embedded data/pilots.toml].
    #[arg(long, value_name = "FILE")]
    pub pilots: Option<std::path::PathBuf>,
}

/// The pilots to run: those named (each must exist, and be in force unless allowed), or
/// every pilot in force on the date.
pub fn select_pilots(
    all: &[crate::config::Pilot],
    named: &[String],
    as_of: chrono::NaiveDate,
    allow_expired: bool,
) -> Result<Vec<crate::config::Pilot>, UsageError> {
    if named.is_empty() {
        return Ok(all.iter().filter(|p| p.in_force_on(as_of)).cloned().collect());
    }
    let mut out = Vec::new();
    for id in named {
        let p = all.iter().find(|p| &p.id == id).ok_or_else(|| {
            let known: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
            UsageError(format!("unknown pilot `{id}` (known: {})", known.join(", ")))
        })?;
        if !p.in_force_on(as_of) && !allow_expired {
            return Err(UsageError(format!(
                "pilot `{id}` is not in force on {as_of} (in force {} to {}); pass --allow-expired to run it anyway",
                p.in_force_from, p.in_force_until
            )));
        }
        if !out.iter().any(|o: &crate::config::Pilot| &o.id == id) {
            out.push(p.clone());
        }
    }
    Ok(out)
}
