//! The subcommands, one file each. Each has its `Args` (the clap derive struct whose doc
//! comments are the help text; shared groups in `args`) and a `run` that resolves the
//! arguments into typed values, calls one workflow function ([`crate::jobs`]) and prints its
//! summary (lines for people, or `--json`). No command calls another.

pub mod advance;
mod args;
pub mod backfill;
pub mod campaign;
pub mod candidates;
pub mod demo;
pub mod dispatch;
pub mod explain;
pub mod purge;
pub mod report;
pub mod run;
pub mod schema;
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
    /// Log lines as text for people, or as JSON objects (one a line) for a log shipper.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SDU_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Candidates(candidates::Args),
    Dispatch(dispatch::Args),
    Advance(advance::Args),
    Campaign(campaign::Args),
    SimulatePortal(simulate::Args),
    SimulateElicense(simulate::ElicenseArgs),
    Report(report::Args),
    Run(run::Args),
    Backfill(backfill::Args),
    Demo(demo::Args),
    Explain(explain::Args),
    Purge(purge::Args),
    Synth(synth::Args),
    Validate(validate::Args),
    Schema(schema::Args),
}

impl Cli {
    /// Whether the command prints its summary as JSON (and so its failure).
    pub fn wants_json(&self) -> bool {
        match &self.command {
            Command::Candidates(a) => a.json.json,
            Command::Dispatch(a) => a.json.json,
            Command::Advance(a) => a.json.json,
            Command::Campaign(a) => {
                let campaign::Sub::Status(s) = &a.command;
                s.json.json
            }
            Command::Report(a) => a.json.json,
            Command::Run(a) => a.json.json,
            Command::Backfill(a) => a.json.json,
            Command::Explain(a) => a.json.json,
            Command::Purge(a) => a.json.json,
            Command::SimulatePortal(a) => a.json.json,
            Command::SimulateElicense(a) => a.json.json,
            Command::Demo(a) => a.json.json,
            Command::Synth(a) => a.json.json,
            Command::Validate(a) => a.json.json,
            Command::Schema(a) => a.json.json,
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Candidates(args) => candidates::run(args),
        Command::Dispatch(args) => dispatch::run(args),
        Command::Advance(args) => advance::run(args),
        Command::Campaign(args) => campaign::run(args),
        Command::SimulatePortal(args) => simulate::run(args),
        Command::SimulateElicense(args) => simulate::run_elicense(args),
        Command::Report(args) => report::run(args),
        Command::Run(args) => run::run(args),
        Command::Backfill(args) => backfill::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Purge(args) => purge::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Schema(args) => schema::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every option of every command can be set from the environment (a scheduler's unit
    /// file), under a name that says which command reads it when two mean different things.
    #[test]
    fn every_option_has_an_environment_variable() {
        // The log level has its own variable (SDU_LOG, an EnvFilter), which -v and -q set.
        let exempt = ["help", "version", "verbose", "quiet"];
        let mut missing = Vec::new();
        let mut names: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let root = Cli::command();
        let mut commands: Vec<(String, &clap::Command)> = vec![("sdu".into(), &root)];
        while let Some((path, command)) = commands.pop() {
            for sub in command.get_subcommands() {
                commands.push((format!("{path} {}", sub.get_name()), sub));
            }
            for arg in command.get_arguments().filter(|a| !exempt.contains(&a.get_id().as_str())) {
                match arg.get_env() {
                    Some(env) => names
                        .entry(env.to_string_lossy().into_owned())
                        .or_default()
                        .push(format!("{path} --{}", arg.get_id())),
                    None => missing.push(format!("{path} --{}", arg.get_id())),
                }
            }
        }
        assert!(missing.is_empty(), "options without an environment variable: {missing:?}");
        for (env, uses) in &names {
            assert!(env.starts_with("SDU_"), "{env}: {uses:?}");
            // A variable two commands share names the same option in both.
            let options: std::collections::BTreeSet<&str> =
                uses.iter().map(|u| u.rsplit(' ').next().unwrap()).collect();
            assert_eq!(options.len(), 1, "{env} names different options: {uses:?}");
        }
        assert!(names.len() > 50, "{} variables", names.len());
    }
}
