//! The two ways a job fails besides a runtime error, told apart by the exit code that
//! `main` gives them (0 ok, 1 failure, 2 usage): what the user asked cannot be done
//! ([`UsageError`], 2), or the run finished and found what must fail it ([`Failed`], 1).

use std::path::PathBuf;

/// An error in what the user asked for (exit code 2). Variants keep their source.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Pilots(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Snapshot(#[from] crate::registry::RegistryError),
    /// An output folder that may not be written, or is not there.
    #[error(transparent)]
    Output(#[from] crate::outdir::OutDirError),
    #[error("unknown pilot `{id}` (known: {known})")]
    UnknownPilot { id: String, known: String },
    #[error(
        "pilot `{id}` is not in force on {as_of} (in force {from} to {until}); pass --allow-expired to run it anyway"
    )]
    NotInForce { id: String, as_of: chrono::NaiveDate, from: chrono::NaiveDate, until: chrono::NaiveDate },
    #[error("{0}: {1} file not found (or not a file)")]
    RepliesNotFound(PathBuf, &'static str),
    /// A run dated before what the ledger already holds.
    #[error(transparent)]
    Past(crate::campaign::log::LogError),
    /// Candidates of a day a later step already used, from other inputs.
    #[error(
        "candidates of {day} for `{pilot}`: the ledger already holds this day's dispatch or a later day (up to \
         {last}), and this run would not publish exactly what was published for {day} (other inputs, or a day \
         that never ran); a published day is never rewritten, and none is added before the ledger's last. \
         Run the corrected snapshot for a later day: its new offers are appended (docs/operations.md, \"Corrections\")"
    )]
    Published { day: chrono::NaiveDate, pilot: String, last: chrono::NaiveDate },
    /// A dispatch or advance at the time of one already published, with other results.
    #[error(
        "{path}: already published with other results; a published folder is never rewritten. \
         Other inputs (more replies, other numbers) go to a later time (docs/operations.md)"
    )]
    Rewrite { path: PathBuf },
    #[error("no case {case} in {out}")]
    NoCase { case: String, out: PathBuf },
    #[error("--{flag} {value}")]
    Identifier {
        flag: &'static str,
        /// The value as given (masked for an IIN).
        value: String,
        #[source]
        source: crate::ids::IdError,
    },
    /// An argument out of its range.
    #[error("{0}")]
    Argument(String),
}

/// A run that completed but found what must fail it (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failed(pub String);

/// As [`Failed`], for a command that has a summary to give all the same (validation's
/// rules, a day whose advance waits): under `--json` the error object carries it, so a
/// script reads one JSON document either way.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FailedWith {
    pub message: String,
    pub summary: serde_json::Value,
}
