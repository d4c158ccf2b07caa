//! `sdu schema`: the published files' contract, as the code defines it.

use super::args::JsonArg;
use crate::contract::{self, TABLES};
use crate::jobs::UsageError;

/// Print the contract of the files sdu publishes: a Frictionless Data Package with a Table
/// Schema for each table (column names, types, the 12-digit pattern of IINs and BINs, which
/// columns are never null), generated from the definitions the writers check every frame
/// against. Each published folder carries its own `datapackage.json`; this is all of them.
///
/// Example:
///   sdu schema > datapackage.json
///   sdu schema --table recipients
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Only this table's resource (organizations, recipients, outcomes, sms_outbox, …).
    #[arg(long, value_name = "NAME", env = "SDU_SCHEMA_TABLE")]
    pub table: Option<String>,
    /// Accepted for uniformity: the schema is always JSON.
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let whole = contract::contract();
    let value = match &args.table {
        None => whole,
        Some(name) => {
            let Some(i) = TABLES.iter().position(|t| t.name == name) else {
                let known: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
                return Err(UsageError::Argument(format!(
                    "--table {name}: no such table (known: {})",
                    known.join(", ")
                ))
                .into());
            };
            whole["resources"][i].clone()
        }
    };
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}
