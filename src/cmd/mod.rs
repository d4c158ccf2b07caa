//! The subcommands, one file each. Each has its `Args` (the clap derive struct whose doc
//! comments are the help text) and a `run` that resolves the arguments into a typed config,
//! calls the layers and prints a short summary.

pub mod demo;
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
    Demo(demo::Args),
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
        Command::Demo(args) => demo::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Validate(args) => validate::run(args),
    }
}

/// Parses a `YYYY-MM-DD` date argument.
pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("expected a date as YYYY-MM-DD: {e}"))
}
