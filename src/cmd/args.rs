//! Argument groups that several commands share, flattened into each, and their resolution
//! into typed values (ripgrep's low-level → high-level arguments): a command's `run` never
//! reads a raw path or string twice.

use crate::config::{load_pilots, Pilot};
use crate::jobs::{select_pilots, UsageError};
use crate::registry::Snapshot;
use crate::time::parse_date;
use chrono::NaiveDate;
use std::path::PathBuf;

/// `--snapshot`: the registry snapshot a command reads.
#[derive(Debug, Clone, clap::Args)]
pub struct SnapshotArg {
    /// The snapshot folder (one Parquet file per registry).
    #[arg(long)]
    pub snapshot: PathBuf,
}

impl SnapshotArg {
    /// Opens the snapshot (a missing folder is a usage error).
    pub fn open(&self) -> Result<Snapshot, UsageError> {
        Ok(Snapshot::open(&self.snapshot)?)
    }
}

/// `--out`: where the run folders, reports and the case ledger live.
#[derive(Debug, Clone, clap::Args)]
pub struct OutArg {
    /// Where the run folders, reports and the case ledger live.
    #[arg(long)]
    pub out: PathBuf,
}

/// `--pilots`: the pilots file.
#[derive(Debug, Clone, clap::Args)]
pub struct PilotsArg {
    /// Pilots file [default: the embedded data/pilots.toml].
    #[arg(long, value_name = "FILE")]
    pub pilots: Option<PathBuf>,
}

impl PilotsArg {
    /// Every pilot of the file.
    pub fn load(&self) -> Result<Vec<Pilot>, UsageError> {
        Ok(load_pilots(self.pilots.as_deref())?)
    }
}

/// The run date and the pilots to run on it.
#[derive(Debug, Clone, clap::Args)]
pub struct PilotSelection {
    /// The run date (YYYY-MM-DD), Asia/Almaty.
    #[arg(long, value_parser = parse_date)]
    pub as_of: NaiveDate,
    /// Run only these pilots (repeatable) [default: every pilot in force on the date].
    #[arg(long = "pilot", value_name = "ID")]
    pub pilot: Vec<String>,
    /// Allow a named pilot that is not in force on the date.
    #[arg(long)]
    pub allow_expired: bool,
    #[command(flatten)]
    pub file: PilotsArg,
}

impl PilotSelection {
    /// The pilots to run: those named, or every pilot in force on the date.
    pub fn resolve(&self) -> Result<Vec<Pilot>, UsageError> {
        select_pilots(&self.file.load()?, &self.pilot, self.as_of, self.allow_expired)
    }
}

/// `--replies`: the portal's reply files; each must exist.
#[derive(Debug, Clone, clap::Args)]
pub struct RepliesArg {
    /// Reply files from the portal (sms_replies.parquet, SCHEMA.md).
    #[arg(long = "replies", value_name = "FILE", num_args = 0..)]
    pub replies: Vec<PathBuf>,
}

impl RepliesArg {
    pub fn resolve(&self) -> Result<&[PathBuf], UsageError> {
        match self.replies.iter().find(|f| !f.is_file()) {
            Some(f) => Err(UsageError::RepliesNotFound(f.clone())),
            None => Ok(&self.replies),
        }
    }
}

/// `--json`: print the summary as JSON instead of a table.
#[derive(Debug, Clone, clap::Args)]
pub struct JsonArg {
    /// Print the summary as JSON (for schedulers and scripts).
    #[arg(long)]
    pub json: bool,
}

impl JsonArg {
    /// Prints the summary as one JSON line, or as the lines people read.
    pub fn print<T: serde::Serialize>(
        &self,
        summary: &T,
        lines: impl FnOnce(&T) -> Vec<String>,
    ) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string(summary)?);
        } else {
            lines(summary).iter().for_each(|l| println!("{l}"));
        }
        Ok(())
    }
}
